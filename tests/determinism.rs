//! The product is determinism: the same scenario and seed give the same trace, bit for bit.

use raftsim::scenario::builtin;
use raftsim::sim::trace::{Role, TraceEvent};
use raftsim::{run, RunOptions, Scenario, SimTime};

#[test]
fn every_scenario_twice_gives_the_same_trace_hash() {
    for (name, _, _) in builtin::BUILTIN {
        let s = builtin::load(name).unwrap().unwrap();
        let a = run(&s, &RunOptions::default());
        let b = run(&s, &RunOptions::default());
        assert_eq!(a.trace_hash, b.trace_hash, "{name}");
        assert_eq!(a.trace.len(), b.trace.len(), "{name}");
        assert!(a.trace == b.trace, "{name}: traces differ");
    }
}

fn first_leader(seed: u64) -> (SimTime, u64) {
    let s = builtin::load("etcd-leader-crash").unwrap().unwrap();
    let r = run(
        &s,
        &RunOptions {
            seed: Some(seed),
            ..Default::default()
        },
    );
    r.trace
        .iter()
        .find_map(|t| match t.event {
            TraceEvent::RoleChanged {
                node,
                role: Role::Leader,
                ..
            } => Some((t.at, node.0)),
            _ => None,
        })
        .expect("a leader is elected")
}

#[test]
fn different_seeds_give_different_election_timings() {
    let timings: std::collections::BTreeSet<SimTime> = (1..=6).map(|s| first_leader(s).0).collect();
    assert!(
        timings.len() >= 4,
        "election times barely vary across seeds: {timings:?}"
    );
    assert_eq!(first_leader(3), first_leader(3));
}

#[test]
fn seeds_change_the_hash_but_not_the_outcome_of_the_stall_story() {
    let s = builtin::load("etcd-follower-fsync-stall").unwrap().unwrap();
    let mut hashes = std::collections::BTreeSet::new();
    for seed in 1..=5 {
        let r = run(
            &s,
            &RunOptions {
                seed: Some(seed),
                ..Default::default()
            },
        );
        hashes.insert(r.trace_hash.clone());
        let failed: Vec<_> = r
            .failed_verdicts()
            .map(|v| format!("{:?}: {}", v.check, v.detail))
            .collect();
        assert!(failed.is_empty(), "seed {seed}: {failed:?}");
    }
    assert_eq!(hashes.len(), 5);
}

static PROGRESS_CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn count_progress(now: SimTime, end: SimTime) {
    assert!(now <= end);
    PROGRESS_CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// A progress callback (what `raftsim run` shows on a terminal for long runs) only observes.
#[test]
fn progress_reports_do_not_change_the_run() {
    let s = Scenario::parse_with_overrides(
        builtin::find("etcd-follower-frozen").unwrap().1,
        "frozen.toml",
        &[("duration".into(), "3h".into())],
    )
    .unwrap();
    let plain = run(&s, &RunOptions::default());
    let watched = run(
        &s,
        &RunOptions {
            progress: Some(count_progress),
            ..Default::default()
        },
    );
    assert_eq!(plain.trace_hash, watched.trace_hash);
    assert!(PROGRESS_CALLS.load(std::sync::atomic::Ordering::Relaxed) >= 2);
}
