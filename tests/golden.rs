//! Golden trace hashes: the behaviour of every built-in scenario and of a range of explore seeds,
//! pinned. A change that alters behaviour must update `tests/golden/trace-hashes.txt` on purpose
//! (run with `RAFTSIM_UPDATE_GOLDEN=1`) and say why in its commit; a refactoring must leave it
//! alone.
//!
//! `explore 0..N` lines pin one combined hash over the trace hashes of explore seeds `0..N`.
//! `cargo test` checks the ranges up to 200 seeds; `RAFTSIM_GOLDEN_SEEDS=2000 cargo test --release
//! --test golden` checks the longer ones too.

use raftsim::scenario::builtin;
use raftsim::{explore, run, RunOptions};
use std::fmt::Write as _;

const FILE: &str = "tests/golden/trace-hashes.txt";

fn builtin_lines() -> Vec<String> {
    builtin::BUILTIN
        .iter()
        .map(|(name, _, _)| {
            let s = builtin::load(name).unwrap().unwrap();
            let r = run(&s, &RunOptions::default());
            format!("scenario {name} seed {} {}", r.seed, r.trace_hash)
        })
        .collect()
}

/// One hash over the trace hashes of explore seeds `0..n`, in order (FNV-1a over their text).
fn explore_hash(n: u64) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for seed in 0..n {
        let r = explore::run_case(&explore::case_for_seed(seed), seed, None);
        for b in r.trace_hash.bytes().chain([b'\n']) {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

fn explore_limit() -> u64 {
    std::env::var("RAFTSIM_GOLDEN_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

#[test]
fn trace_hashes_match_the_golden_file() {
    let golden = std::fs::read_to_string(FILE).unwrap_or_default();
    if std::env::var_os("RAFTSIM_UPDATE_GOLDEN").is_some() {
        let mut out = String::from(
            "# Golden trace hashes (tests/golden.rs). Update only for a deliberate change of behaviour.\n",
        );
        for l in builtin_lines() {
            let _ = writeln!(out, "{l}");
        }
        for n in [200, 2000] {
            if n <= explore_limit() {
                let _ = writeln!(out, "explore 0..{n} {}", explore_hash(n));
            } else if let Some(old) = golden
                .lines()
                .find(|l| l.starts_with(&format!("explore 0..{n} ")))
            {
                let _ = writeln!(out, "{old}");
            }
        }
        std::fs::write(FILE, out).unwrap();
        return;
    }
    let want: Vec<&str> = golden
        .lines()
        .filter(|l| l.starts_with("scenario "))
        .collect();
    let got = builtin_lines();
    assert_eq!(
        got, want,
        "built-in scenario trace hashes changed; if deliberate, rerun with RAFTSIM_UPDATE_GOLDEN=1 and say why in the commit"
    );
    let mut checked = 0;
    for l in golden.lines().filter(|l| l.starts_with("explore 0..")) {
        let (range, hash) = l["explore 0..".len()..].split_once(' ').unwrap();
        let n: u64 = range.parse().unwrap();
        if n > explore_limit() {
            continue;
        }
        assert_eq!(
            explore_hash(n),
            hash,
            "explore seeds 0..{n} changed behaviour"
        );
        checked += 1;
    }
    assert!(
        checked >= 1,
        "no explore range checked: {FILE} needs an `explore 0..200` line"
    );
}
