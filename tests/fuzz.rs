//! Fuzzing the inputs users hand raftsim: mutated built-in scenario files, random `--set`
//! overrides and mutated history lines. Whatever comes in, the answer is a value (a scenario or
//! a positioned error, a verdict) and never a panic; a scenario that parses runs (briefly) without
//! panicking too. CI runs a bounded number of cases; `RAFTSIM_FUZZ_CASES=5000 cargo test --release
//! --test fuzz` runs a longer campaign. Failing cases are saved in `proptest-regressions/`.

use proptest::prelude::*;
use raftsim::check::{history, linearizability};
use raftsim::scenario::builtin;
use raftsim::{run, RunOptions, Scenario};

fn cases() -> u32 {
    std::env::var("RAFTSIM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24)
}

/// One edit of a text.
#[derive(Clone, Debug)]
enum Edit {
    Delete { at: usize, len: usize },
    Insert { at: usize, text: String },
    DuplicateLine { line: usize },
    DropLine { line: usize },
    ReplaceNumber { nth: usize, with: String },
}

fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\"".to_string()),
        Just("[[fault]]\n".to_string()),
        Just("[[expect]]\ncheck = \"converged\"\n".to_string()),
        Just("é".to_string()),
        Just("\\u00e9".to_string()),
        Just("18446744073709551615".to_string()),
        Just("-1".to_string()),
        Just("0".to_string()),
        Just("\n".to_string()),
        Just("{i}".to_string()),
        "[ -~]{0,12}",
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0usize..40).prop_map(|(at, len)| Edit::Delete { at, len }),
        (any::<usize>(), fragment()).prop_map(|(at, text)| Edit::Insert { at, text }),
        any::<usize>().prop_map(|line| Edit::DuplicateLine { line }),
        any::<usize>().prop_map(|line| Edit::DropLine { line }),
        (
            any::<usize>(),
            prop_oneof![
                Just("0".to_string()),
                Just("18446744073709551615".to_string()),
                Just("9223372036854775807".to_string()),
                Just("4294967296".to_string()),
                "[0-9]{1,6}",
            ]
        )
            .prop_map(|(nth, with)| Edit::ReplaceNumber { nth, with }),
    ]
}

/// Applies an edit at char boundaries (the mutated text stays a `String`).
fn apply(text: &str, e: &Edit) -> String {
    let boundary = |at: usize| {
        let mut i = at % (text.len() + 1);
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let lines: Vec<&str> = text.lines().collect();
    match e {
        Edit::Delete { at, len } => {
            let a = boundary(*at);
            let b = boundary((a + len).min(text.len()));
            format!("{}{}", &text[..a], &text[b.max(a)..])
        }
        Edit::Insert { at, text: t } => {
            let a = boundary(*at);
            format!("{}{t}{}", &text[..a], &text[a..])
        }
        Edit::DuplicateLine { line } | Edit::DropLine { line } if !lines.is_empty() => {
            let i = line % lines.len();
            let mut out: Vec<&str> = lines.clone();
            if matches!(e, Edit::DuplicateLine { .. }) {
                out.insert(i, lines[i]);
            } else {
                out.remove(i);
            }
            out.join("\n")
        }
        Edit::ReplaceNumber { nth, with } => {
            let spans: Vec<(usize, usize)> = number_spans(text);
            match spans.get(nth % spans.len().max(1)) {
                Some((a, b)) => format!("{}{with}{}", &text[..*a], &text[*b..]),
                None => text.to_string(),
            }
        }
        _ => text.to_string(),
    }
}

fn number_spans(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_ascii_digit(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// Parses, and runs what parses under an event budget: neither may panic.
fn parse_and_run(text: &str, sets: &[(String, String)]) -> Result<(), TestCaseError> {
    let outcome = std::panic::catch_unwind(|| {
        match Scenario::parse_with_overrides(text, "fuzz.toml", sets) {
            Err(e) => {
                let msg = e.to_string();
                assert!(
                    msg.starts_with("fuzz.toml"),
                    "an error names the file: {msg}"
                );
            }
            Ok(s) => {
                let opts = RunOptions {
                    max_events: Some(20_000),
                    ..Default::default()
                };
                let _ = run(&s, &opts);
            }
        }
    });
    prop_assert!(outcome.is_ok(), "panicked on:\n{text}\nwith {sets:?}");
    Ok(())
}

fn builtin_text() -> impl Strategy<Value = &'static str> {
    (0..builtin::BUILTIN.len()).prop_map(|i| builtin::BUILTIN[i].2)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn mutated_scenario_files_never_panic(
        text in builtin_text(),
        edits in proptest::collection::vec(edit(), 1..4),
    ) {
        let mutated = edits.iter().fold(text.to_string(), |t, e| apply(&t, e));
        parse_and_run(&mutated, &[])?;
    }

    #[test]
    fn random_overrides_never_panic(
        text in builtin_text(),
        key in prop_oneof![
            Just("duration".to_string()), Just("seed".to_string()), Just("cluster.nodes".to_string()), Just("cluster.election_timeout".to_string()),
            Just("cluster.heartbeat_interval".to_string()), Just("cluster.persist".to_string()), Just("cluster.read_only".to_string()),
            Just("network.latency_max".to_string()), Just("network.drop".to_string()), Just("disk.wal_latency_max".to_string()),
            Just("fault.0.until".to_string()), Just("fault.0.node".to_string()), Just("fault.0.kind".to_string()), Just("command.0.repeat".to_string()),
            Just("command.0.every".to_string()), Just("command.0.run".to_string()), Just("expect.0.check".to_string()),
            Just("kubernetes.workers".to_string()), Just("kubelet.renew_interval".to_string()), Just("apiserver.etcd_servers".to_string()),
            "[a-z_.0-9]{1,20}",
        ],
        value in prop_oneof![
            Just("0".to_string()), Just("1".to_string()), Just("-1".to_string()),
            Just("18446744073709551615us".to_string()), Just("8760h".to_string()),
            Just("1us".to_string()), Just("leader".to_string()), Just("all".to_string()),
            Just("\"é\"".to_string()), Just("[]".to_string()), Just("[[]]".to_string()),
            "[ -~]{0,10}",
        ],
    ) {
        parse_and_run(text, &[(key, value)])?;
    }

    #[test]
    fn mutated_history_lines_never_panic(edits in proptest::collection::vec(edit(), 1..4)) {
        let base = r#"{"client":1,"key":"k","op":"put","value":"v","invoke_us":0,"complete_us":900,"outcome":"ok","revision":7}
{"client":2,"key":"k","op":"get","invoke_us":50,"complete_us":800,"outcome":"ok","found":true,"value":"v","mod_revision":7}
{"client":3,"key":"k","op":"txn","if_mod_rev":7,"then_put":"w","invoke_us":60,"outcome":"timeout"}
{"client":1,"key":"k","op":"del","invoke_us":1000,"complete_us":1500,"outcome":"ok","deleted":true}
{"client":2,"key":"k","op":"get","invoke_us":1600,"complete_us":1601,"outcome":"ok","found":false,"serializable":true}"#;
        let mutated = edits.iter().fold(base.to_string(), |t, e| apply(&t, e));
        let outcome = std::panic::catch_unwind(|| {
            if let Ok(h) = history::parse(&mutated, "h.jsonl") {
                let budget = linearizability::Budget { steps: 100_000, memo_entries: 100_000 };
                let _ = linearizability::check_with(&h.ops, budget);
                let _ = history::stale_reads(&h);
            }
        });
        prop_assert!(outcome.is_ok(), "panicked on:\n{mutated}");
    }
}

#[test]
fn the_mutations_do_change_the_text() {
    let t = "a = 12\nb = \"x\"\n";
    assert_eq!(
        apply(
            t,
            &Edit::ReplaceNumber {
                nth: 0,
                with: "99".into()
            }
        ),
        "a = 99\nb = \"x\"\n"
    );
    assert_eq!(apply(t, &Edit::DropLine { line: 0 }), "b = \"x\"");
    assert_eq!(
        apply(
            "é",
            &Edit::Insert {
                at: 1,
                text: "z".into()
            }
        ),
        "zé"
    );
}
