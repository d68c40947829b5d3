//! The command line: exit codes 0 (expectations hold), 1 (one failed), 2 (bad input), and the
//! trace file.

use std::process::Command;

fn raftsim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_raftsim"))
        .args(args)
        .output()
        .expect("runs")
}

fn temp(name: &str, text: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("raftsim-cli-{}-{name}", std::process::id()));
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn default_run_passes_and_ends_with_a_summary_line() {
    let out = raftsim(&["run"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let last = text.lines().last().unwrap();
    assert!(
        last.starts_with("summary: scenario=k8s-local-etcd-follower-stall seed=1 trace="),
        "{last}"
    );
    assert!(last.ends_with("PASS"), "{last}");
    assert!(text.contains("$ kubectl get nodes"));
    assert!(text.contains("the cluster had quorum"));
    assert!(text.contains(
        "worker-1: update lease failed (attempt 1, after 7.001s): kubelet -> apiserver-1 -> etcd-1: etcdserver: request timed out"
    ));
}

#[test]
fn no_arguments_runs_the_default_scenario() {
    let a = raftsim(&[]);
    let b = raftsim(&["run", "k8s-local-etcd-follower-stall"]);
    assert_eq!(a.status.code(), Some(0));
    assert!(
        a.stdout == b.stdout,
        "no-argument run differs from the named default"
    );
}

#[test]
fn failing_expectation_exits_1_naming_it_and_the_seed() {
    let p = temp(
        "fail.toml",
        "name = \"f\"\ndescription = \"d\"\nduration = \"5s\"\n[[command]]\nid = \"p\"\nat = \"2s\"\nrun = \"put a b\"\n\
         [[expect]]\ncheck = \"command\"\nid = \"p\"\noutcome = \"timeout\"\n",
    );
    let out = raftsim(&["run", p.to_str().unwrap(), "--seed", "7"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("expectation failed") && err.contains("seed 7") && err.contains("--seed 7"),
        "{err}"
    );
}

#[test]
fn bad_input_exits_2_with_position() {
    let p = temp(
        "bad.toml",
        "name = \"b\"\ndescription = \"d\"\nduration = \"5s\"\n[cluster]\nnodes = 9\n",
    );
    let out = raftsim(&["run", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains(":5:9: nodes = 9 is out of range"), "{err}");
    let out = raftsim(&["run", "no-such-scenario"]);
    assert_eq!(out.status.code(), Some(2));
    let out = raftsim(&["run", "--format", "yaml"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn list_shows_builtins() {
    let out = raftsim(&["list"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("etcd-follower-frozen") && text.contains("(default)"));
    assert!(text.contains("etcd-follower-fsync-stall"));
}

#[test]
fn trace_file_is_json_lines_and_json_format_parses() {
    let p = std::env::temp_dir().join(format!("raftsim-cli-{}-trace.jsonl", std::process::id()));
    let out = raftsim(&[
        "run",
        "etcd-leader-crash",
        "--trace",
        p.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["scenario"]["name"], "etcd-leader-crash");
    let text = std::fs::read_to_string(&p).unwrap();
    let n = text.lines().count();
    assert!(n > 100);
    for l in text.lines() {
        let e: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(e["at"].is_u64() && e["event"].is_string(), "{l}");
    }
    assert_eq!(n as u64, v["trace"].as_array().unwrap().len() as u64);
}

#[test]
fn check_determinism_runs_twice_and_says_so() {
    let out = raftsim(&["run", "etcd-leader-crash", "--check-determinism"]);
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("deterministic: two runs gave the same"),
        "{err}"
    );
}

#[test]
fn a_failing_builtin_names_a_replay_that_works_from_any_directory() {
    // Seed 2 with a deadline too short for this scenario's status commands: an expectation fails.
    let args = [
        "run",
        "etcd-follower-frozen",
        "--seed",
        "2",
        "--set",
        "client.command_timeout=1ms",
    ];
    let out = raftsim(&args);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    let replay = err
        .lines()
        .find_map(|l| l.split("replay: ").nth(1))
        .expect("a replay hint")
        .trim_end_matches(')');
    assert_eq!(
        replay,
        "raftsim run etcd-follower-frozen --set client.command_timeout=1ms --seed 2"
    );
    let words: Vec<&str> = replay.split_whitespace().skip(1).collect();
    let again = Command::new(env!("CARGO_BIN_EXE_raftsim"))
        .args(&words)
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert_eq!(
        again.status.code(),
        Some(1),
        "the replay reproduces the failure"
    );
}

/// Every hostile input the robustness review found gets exit 2 and a message naming what is
/// wrong, at once: no panic, no abort, no wrap-around, no run that never ends.
#[test]
fn hostile_arguments_get_exit_2_with_a_message() {
    let deep_key = format!("{}=1", vec!["a"; 5000].join("."));
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["run", "/dev/zero"], "larger than the 16 MiB"),
        (
            vec!["check-history", "/dev/zero"],
            "larger than the 256 MiB",
        ),
        (
            vec!["explore", "--jobs", "18446744073709551615"],
            "--jobs must be between 1 and 256",
        ),
        (vec!["explore", "--seeds", "10000000000"], "split the sweep"),
        (
            vec!["explore", "--seeds", "0"],
            "--seeds must be at least 1",
        ),
        (
            vec!["explore", "--start", "9223372036854775808", "--seeds", "1"],
            "largest seed",
        ),
        (
            vec!["explore", "--start", "18446744073709551615", "--seeds", "2"],
            "largest seed",
        ),
        (
            vec![
                "run",
                "etcd-leader-crash",
                "--set",
                "network.latency_min=18446744073709551615us",
            ],
            "at most 8760h",
        ),
        (
            vec![
                "run",
                "etcd-leader-crash",
                "--set",
                "fault.0.until=18446744073709551615us",
            ],
            "at most 8760h",
        ),
        (
            vec![
                "run",
                "etcd-leader-crash",
                "--set",
                "client.command_timeout=18446744073709551615us",
            ],
            "at most 8760h",
        ),
        (
            vec![
                "run",
                "etcd-leader-crash",
                "--set",
                "disk.wal_latency_min=18446744073709551615us",
            ],
            "at most 8760h",
        ),
        (
            vec![
                "run",
                "etcd-leader-crash",
                "--set",
                "cluster.election_timeout=9223372036854775807us",
            ],
            "at most 8760h",
        ),
        (
            vec![
                "run",
                "k8s-local-etcd-follower-stall",
                "--set",
                "controller_manager.leader_retry_period=1537228672809129302us",
            ],
            "at most 8760h",
        ),
        (
            vec![
                "run",
                "k8s-local-etcd-follower-stall",
                "--set",
                "kubelet.heartbeat_timeout=18446744073709551615us",
            ],
            "at most 8760h",
        ),
        (
            vec!["run", "etcd-leader-crash", "--set", "duration=200h"],
            "at most 86400s",
        ),
        (
            vec!["run", "etcd-leader-crash", "--set", &deep_key],
            "at most 8 deep",
        ),
        (
            vec!["run", "etcd-leader-crash", "--trace", "/dev/full"],
            "cannot write the trace to /dev/full",
        ),
        (
            vec!["run", "etcd-leader-crash", "--trace", "/"],
            "cannot write the trace to /",
        ),
    ];
    for (args, want) in cases {
        let out = raftsim(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn show_prints_a_builtin_that_parses_back() {
    let out = raftsim(&["show", "etcd-leader-fsync-stall"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let s = raftsim::Scenario::parse(&text, "shown.toml").unwrap();
    assert_eq!(s.name, "etcd-leader-fsync-stall");
    let out = raftsim(&["show", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the built-ins are"));
}

#[test]
fn many_seeds_are_summarised_by_failure() {
    let out = raftsim(&[
        "run",
        "k8s-all-endpoints-follower-stall",
        "--seeds",
        "27..29",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.starts_with(
            "k8s-all-endpoints-follower-stall: 2 seeds, 1 passed, 1 failed, 0 undecided"
        ),
        "{text}"
    );
    assert!(
        text.contains("1 of 2 seeds: expectation: master-1, master-2"),
        "{text}"
    );
    assert!(text.contains("(seeds 28)"), "{text}");
    let out = raftsim(&["run", "etcd-leader-crash", "--seeds", "1..4"]);
    assert_eq!(out.status.code(), Some(0));
    let out = raftsim(&["run", "--seeds", "5..2"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn timeline_filters_keep_only_what_they_name() {
    let out = raftsim(&[
        "run", "--node", "worker-4", "--from", "60s", "--to", "100s", "--grep", "lease",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let timeline: Vec<&str> = text.lines().filter(|l| l.starts_with('[')).collect();
    assert!(!timeline.is_empty());
    for l in &timeline {
        assert!(l.contains("worker-4") && l.contains("lease"), "{l}");
        let t: f64 = l[1..l.find('s').unwrap()].trim().parse().unwrap();
        assert!((60.0..=100.0).contains(&t), "{l}");
    }
}

#[test]
fn check_history_reads_jepsen_logs_and_edn() {
    let log = "INFO  jepsen.util - 0   :invoke :write  3\nINFO  jepsen.util - 0   :ok     :write  3\nINFO  jepsen.util - 1   :invoke :read   nil\nINFO  jepsen.util - 1   :ok     :read   3\n";
    let p = temp("history.log", log);
    let out = raftsim(&["check-history", p.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("linearizable: yes"));
    let stale = format!("{log}INFO  jepsen.util - 1   :invoke :read   nil\nINFO  jepsen.util - 1   :ok     :read   nil\n");
    let p = temp("stale.log", &stale);
    assert_eq!(
        raftsim(&["check-history", p.to_str().unwrap()])
            .status
            .code(),
        Some(1)
    );
    let edn = "{:type :invoke, :f :write, :value 1, :process 0, :time 10}\n{:type :info, :f :write, :value 1, :process 0, :time 20}\n{:type :invoke, :f :read, :value nil, :process 1, :time 30}\n{:type :ok, :f :read, :value 1, :process 1, :time 40}\n";
    let p = temp("history.edn", edn);
    let out = raftsim(&["check-history", p.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "an :info write may have happened"
    );
    let p = temp("bad.edn", "{:type :ok, :f :read\n");
    let out = raftsim(&["check-history", p.to_str().unwrap(), "--format", "edn"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.edn:1:1:"));
}

#[test]
fn stderr_names_the_first_violations_of_an_oracle_and_counts_the_rest() {
    let out = raftsim(&[
        "run",
        "etcd-follower-frozen",
        "--bug",
        "send-before-persist",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    let named = err.matches("oracle ready-contract failed at").count();
    assert_eq!(named, 5, "{err}");
    assert!(err.contains("--bug send-before-persist"), "{err}");
    let more = err
        .lines()
        .find_map(|l| l.strip_prefix("oracle ready-contract: "))
        .expect("a count of the rest");
    let n: usize = more.split(' ').next().unwrap().parse().unwrap();
    // The timeline lists every violation, the five named ones included.
    let timeline = String::from_utf8(out.stdout).unwrap();
    let listed = timeline.matches("VIOLATION [ready-contract]").count();
    assert_eq!(listed, n + 5);
}

#[test]
fn the_message_view_shows_a_window_of_raft_messages_and_drops() {
    let out = raftsim(&[
        "run",
        "etcd-leader-crash",
        "--messages",
        "--from",
        "4s",
        "--to",
        "7s",
        "--node",
        "etcd-2",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with(
            "raft messages of etcd-leader-crash (seed 1), 4.000s..7.000s, to or from etcd-2"
        ),
        "{}",
        lines[0]
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains(" -> ") && l.contains("MsgHeartbeat ")),
        "{text}"
    );
    assert!(lines.iter().skip(1).all(|l| l.contains("etcd-2")), "{text}");
    assert!(
        !text.contains("summary:"),
        "the message view replaces the timeline"
    );
}

#[test]
fn an_election_says_why_it_happened() {
    let out = raftsim(&[
        "run",
        "etcd-leader-fsync-stall",
        "--grep",
        "election (term 2)",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("started an election (term 2)"))
        .unwrap();
    assert!(
        line.contains(": no message from leader etcd-1 for 1.1"),
        "{line}"
    );
    assert!(
        line.contains("(etcd-1 WAL write blocked since 10.1"),
        "{line}"
    );
}

#[test]
fn html_and_svg_pictures_are_written_and_self_contained() {
    let dir = std::env::temp_dir().join(format!("raftsim-pic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (html, svg) = (dir.join("run.html"), dir.join("run.svg"));
    let out = raftsim(&[
        "run",
        "etcd-lease-leader-stall",
        "--html",
        html.to_str().unwrap(),
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg") && page.contains("<script>") && page.contains("PASS"));
    assert!(
        !page.contains("src=\"http") && !page.contains("href=\"http"),
        "no network"
    );
    let pic = std::fs::read_to_string(&svg).unwrap();
    assert!(pic.starts_with("<svg") && pic.contains("walblock") && !pic.contains("msg hb"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_violating_history_is_drawn_as_porcupine_draws_it() {
    let history = temp(
        "stale.jsonl",
        concat!(
            r#"{"client":1,"key":"k","op":"put","value":"v","invoke_us":0,"complete_us":900,"outcome":"ok","revision":7}"#,
            "\n",
            r#"{"client":2,"key":"k","op":"get","invoke_us":1000,"complete_us":1100,"outcome":"ok","found":false}"#,
            "\n"
        ),
    );
    let page = std::env::temp_dir().join(format!("raftsim-cli-{}-stale.html", std::process::id()));
    let out = raftsim(&[
        "check-history",
        history.to_str().unwrap(),
        "--html",
        page.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains(">#1</text>") && html.contains(">stuck</text>"),
        "{html}"
    );
}
