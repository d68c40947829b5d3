//! Crash safety: what survives a crash, checked by the oracles. A torn WAL write (a crash in the
//! middle of a write leaves a prefix of its records, truncated by checksum on restart) is safe;
//! a disk whose fsync lies loses acknowledged writes, and the oracles say so, whether or not the
//! faults heal.

use raftsim::check::Undecided;
use raftsim::sim::trace::{Oracle, TraceEvent};
use raftsim::{run, RunOptions, RunResult, Scenario};

fn run_text(text: &str, seed: u64) -> RunResult {
    let s = Scenario::parse(text, "crash.toml").unwrap_or_else(|e| panic!("{e}"));
    run(
        &s,
        &RunOptions {
            seed: Some(seed),
            ..Default::default()
        },
    )
}

const WRITES: &str = r#"
[[command]]
id = "writes"
at = "2s"
run = "put k v{i}"
repeat = 400
every = "25ms"
session = "writer"
timeout = "2s"
quiet = true

[[command]]
id = "final"
at = "25s"
run = "put k done"
"#;

fn torn_scenario() -> String {
    let mut s = String::from(
        "name = \"torn\"\ndescription = \"d\"\nduration = \"40s\"\n\n[disk]\nwal_latency_min = \"5ms\"\nwal_latency_max = \"60ms\"\n",
    );
    for n in 1..=3 {
        s.push_str(&format!(
            "\n[[fault]]\nkind = \"torn_write\"\nnode = {n}\nat = \"1s\"\nuntil = \"20s\"\n"
        ));
    }
    for (i, t) in [3, 6, 9, 12, 15].iter().enumerate() {
        let n = i % 3 + 1;
        s.push_str(&format!(
            "\n[[fault]]\nkind = \"crash\"\nnode = {n}\nat = \"{t}s\"\nuntil = \"{}s\"\n",
            t + 1
        ));
    }
    s.push_str(WRITES);
    s.push_str("\n[[expect]]\ncheck = \"command\"\nid = \"final\"\noutcome = \"ok\"\n\n[[expect]]\ncheck = \"converged\"\n\n[[expect]]\ncheck = \"no_lost_acknowledged_writes\"\n");
    s
}

#[test]
fn torn_wal_writes_are_truncated_on_restart_and_lose_nothing_acknowledged() {
    let text = torn_scenario();
    let mut torn_with_entries = 0;
    for seed in 1..=12 {
        let r = run_text(&text, seed);
        assert!(
            r.passed(),
            "seed {seed}: {:?} {:?}",
            r.violations,
            r.failed_verdicts().collect::<Vec<_>>()
        );
        assert!(r.unknown.is_empty(), "seed {seed}: {:?}", r.unknown);
        torn_with_entries += r
            .trace
            .iter()
            .filter(|t| matches!(t.event, TraceEvent::WalTornTail { kept_entries, .. } if kept_entries > 0))
            .count();
    }
    assert!(
        torn_with_entries > 0,
        "no crash tore a write with entries in 12 seeds"
    );
}

/// fsync lies on two members (a majority, the first leader among them) until 10 s; both crash at
/// 8 s while the third is cut off (7 s to 14 s), so they elect a leader among themselves from
/// what their disks really kept, and the writes they had acknowledged are gone for good.
fn lying_scenario(third_stays_down: bool) -> String {
    let mut s = String::from(
        "name = \"lies\"\ndescription = \"d\"\nduration = \"40s\"\n\n[cluster]\ninitial_leader = 1\n",
    );
    for n in 1..=2 {
        s.push_str(&format!(
            "\n[[fault]]\nkind = \"fsync_lies\"\nnode = {n}\nat = \"1s\"\nuntil = \"10s\"\n\n[[fault]]\nkind = \"crash\"\nnode = {n}\nat = \"8s\"\nuntil = \"9s\"\n"
        ));
    }
    s.push_str(
        "\n[[fault]]\nkind = \"partition\"\ngroups = [[3], [1, 2]]\nat = \"7s\"\nuntil = \"14s\"\n",
    );
    if third_stays_down {
        s.push_str("\n[[fault]]\nkind = \"crash\"\nnode = 3\nat = \"20s\"\n");
    }
    s.push_str(WRITES);
    s
}

#[test]
fn a_lying_fsync_then_a_crash_loses_acknowledged_writes_and_the_oracles_say_so() {
    let r = run_text(&lying_scenario(false), 1);
    let oracles: Vec<Oracle> = r.violations.iter().map(|v| v.oracle).collect();
    assert!(
        oracles.contains(&Oracle::ReadyContract),
        "an entry applied before the crash is gone from the disk: {oracles:?}"
    );
    assert!(
        oracles.contains(&Oracle::Durability),
        "acknowledged writes vanished: {oracles:?}"
    );
}

#[test]
fn durability_is_checked_even_when_faults_never_heal() {
    let r = run_text(&lying_scenario(true), 1);
    let d: Vec<_> = r
        .violations
        .iter()
        .filter(|v| v.oracle == Oracle::Durability)
        .collect();
    assert_eq!(d.len(), 1, "{:?}", r.violations);
    assert_eq!(
        r.nodes[2].status,
        raftsim::node::NodeStatus::Crashed,
        "etcd-3 is down at the end"
    );
    assert!(
        d[0].detail.contains("applied past it without it"),
        "{}",
        d[0].detail
    );
    assert!(!r.unknown.iter().any(|u| u.what == Undecided::EventBudget));
}

#[test]
fn crashes_with_an_honest_disk_lose_nothing_acknowledged_even_unhealed() {
    let text = lying_scenario(true).replace("fsync_lies", "disk_stall");
    let r = run_text(&text, 1);
    assert!(r.violations.is_empty(), "{:?}", r.violations);
}
