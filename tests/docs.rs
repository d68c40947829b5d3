//! Docs that cannot rot: every trace event kind the code can write is described in
//! `docs/trace-format.md`, and every `[[expect]]` kind in `docs/scenario-format.md`.

use raftsim::scenario::expect::Check;

/// `TraceEvent` variant names, read from the source, in kebab case (as JSON lines write them).
fn trace_event_kinds() -> Vec<String> {
    let src = std::fs::read_to_string("src/sim/trace.rs").unwrap();
    let start = src.find("pub enum TraceEvent {").unwrap();
    let body = &src[start..start + src[start..].find("\n}\n").unwrap()];
    body.lines()
        .filter(|l| l.starts_with("    ") && !l.starts_with("     "))
        .filter_map(|l| l.trim().strip_suffix(" {"))
        .map(|name| {
            let mut out = String::new();
            for (i, c) in name.chars().enumerate() {
                if c.is_ascii_uppercase() && i > 0 {
                    out.push('-');
                }
                out.push(c.to_ascii_lowercase());
            }
            out
        })
        .collect()
}

#[test]
fn every_trace_event_kind_is_documented() {
    let doc = std::fs::read_to_string("docs/trace-format.md").unwrap();
    let kinds = trace_event_kinds();
    assert!(kinds.len() >= 30, "read {} kinds: {kinds:?}", kinds.len());
    for k in kinds {
        assert!(
            doc.contains(&format!("### `{k}`")),
            "docs/trace-format.md lacks `{k}`"
        );
    }
}

#[test]
fn every_expect_kind_is_documented() {
    let doc = std::fs::read_to_string("docs/scenario-format.md").unwrap();
    for k in Check::NAMES {
        assert!(
            doc.contains(&format!("`{k}`")),
            "docs/scenario-format.md lacks check `{k}`"
        );
    }
}

/// The README's first-screen excerpt of `cargo run --release` is real output: every line it
/// quotes appears in the default run's output (a line ending in `; ...` by its beginning).
#[test]
fn the_readme_excerpt_is_what_the_default_run_prints() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let start = readme.find("```text\n[  60.000s]").expect("the excerpt") + "```text\n".len();
    let excerpt = &readme[start..start + readme[start..].find("```").unwrap()];
    let s = raftsim::scenario::builtin::load(raftsim::scenario::builtin::DEFAULT)
        .unwrap()
        .unwrap();
    let out = raftsim::report::timeline::render(&raftsim::run(&s, &Default::default()));
    let mut quoted = 0;
    for line in excerpt
        .lines()
        .filter(|l| !l.trim().is_empty() && l.trim() != "...")
    {
        let found = match line.strip_suffix("; ...") {
            Some(prefix) => out.lines().any(|o| o.starts_with(prefix)),
            // The availability statement is wrapped in the README: compare words.
            None if line.starts_with("  From ") || line.starts_with("  clients were") => {
                let words = out.split_whitespace().collect::<Vec<_>>().join(" ");
                words.contains(&line.split_whitespace().collect::<Vec<_>>().join(" "))
            }
            None => out.lines().any(|o| o == line),
        };
        assert!(
            found,
            "README quotes a line the default run does not print:\n{line}"
        );
        quoted += 1;
    }
    assert!(quoted >= 20, "only {quoted} lines checked");
}

/// The README's library example is the crate-level doc example, which `cargo test` runs.
#[test]
fn the_readme_library_example_is_the_tested_doc_example() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let lib = std::fs::read_to_string("src/lib.rs").unwrap();
    let start = readme.find("```rust\n").expect("a rust block") + "```rust\n".len();
    let block = &readme[start..start + readme[start..].find("```").unwrap()];
    for line in block.lines().filter(|l| !l.trim_start().starts_with("//")) {
        assert!(
            lib.contains(&format!("//! {line}")),
            "README line not in the tested example: {line}"
        );
    }
}
