//! The lessons cannot rot: every `raftsim` command a lesson shows is run, and every line it
//! quotes in the `text` block after it must be a line of that output. The lesson table in the
//! binary lists exactly the files in `docs/lessons/`.

use std::collections::BTreeSet;
use std::process::Command;

/// (commands of an `sh` block, the quoted lines of the `text` blocks after it).
fn blocks(md: &str) -> Vec<(Vec<String>, Vec<String>)> {
    let mut out: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    let mut lines = md.lines();
    while let Some(l) = lines.next() {
        let kind = match l.trim() {
            "```sh" => "sh",
            "```text" => "text",
            _ => continue,
        };
        let body: Vec<String> = lines
            .by_ref()
            .take_while(|l| l.trim() != "```")
            .map(String::from)
            .collect();
        match (kind, out.last_mut()) {
            ("sh", _) => out.push((body, vec![])),
            ("text", Some(last)) => last.1.extend(body),
            ("text", None) => panic!("a text block before any command"),
            _ => unreachable!(),
        }
    }
    out
}

fn run(command: &str) -> String {
    let command = command.split('#').next().unwrap().trim();
    let args: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(
        args[0], "raftsim",
        "lesson commands start with `raftsim`: {command}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_raftsim"))
        .args(&args[1..])
        .env("NO_COLOR", "1")
        .output()
        .expect("runs");
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "`{command}` exited {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_lesson_command_runs_and_prints_what_the_lesson_quotes() {
    let mut checked = 0;
    for entry in std::fs::read_dir("docs/lessons").unwrap() {
        let path = entry.unwrap().path();
        let md = std::fs::read_to_string(&path).unwrap();
        for (commands, quoted) in blocks(&md) {
            let output: String = commands
                .iter()
                .filter(|c| !c.trim().is_empty())
                .map(|c| run(c))
                .collect();
            let printed: BTreeSet<&str> = output.lines().map(|l| l.trim()).collect();
            for q in quoted
                .iter()
                .map(|q| q.trim())
                .filter(|q| !q.is_empty() && *q != "...")
            {
                assert!(
                    printed.contains(q),
                    "{}: the output of {commands:?} has no line\n{q}",
                    path.display()
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 40, "only {checked} quoted lines checked");
}

#[test]
fn the_binary_lists_exactly_the_lesson_files() {
    let files: BTreeSet<String> = std::fs::read_dir("docs/lessons")
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let listed: BTreeSet<String> = raftsim::report::lessons::LESSONS
        .iter()
        .map(|l| l.0.to_string())
        .collect();
    assert_eq!(files, listed);
}

/// The pictures the lessons show are what raftsim draws today (`RAFTSIM_UPDATE_PICTURES=1`
/// redraws them after a deliberate change).
#[test]
fn lesson_pictures_are_current() {
    let update = std::env::var_os("RAFTSIM_UPDATE_PICTURES").is_some();
    let mut checked = 0;
    for entry in std::fs::read_dir("docs/img").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "svg") {
            continue;
        }
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let s = raftsim::Scenario::builtin(&name).expect("a picture is named by its scenario");
        let r = raftsim::run(&s, &Default::default());
        let now =
            raftsim::report::picture::svg(&r, raftsim::report::picture::Messages::NoHeartbeats);
        if update {
            std::fs::write(&path, &now).unwrap();
        } else {
            assert!(
                std::fs::read_to_string(&path).unwrap() == now,
                "{} is stale: rerun with RAFTSIM_UPDATE_PICTURES=1",
                path.display()
            );
        }
        checked += 1;
    }
    assert!(checked >= 4);
}
