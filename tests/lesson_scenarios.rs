//! The catalogue's Raft failure modes, asserted on the run's structured result: a split vote
//! without randomised timeouts, leadership flapping over a one-way link, and acknowledged writes
//! lost when every disk's fsync lies; and the expectation kinds they need (`leader_elections`,
//! `oracle`).

use raftsim::scenario::builtin;
use raftsim::scenario::expect::Check;
use raftsim::sim::trace::{Oracle, Role, TraceEvent};
use raftsim::{run, RunOptions, RunResult, Scenario};

fn load(name: &str, sets: &[(&str, &str)]) -> Scenario {
    let text = builtin_text(name);
    let sets: Vec<(String, String)> = sets
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Scenario::parse_with_overrides(text, name, &sets).expect("valid")
}

/// Runs `s` with a bug from the zoo.
fn run_with_bug(s: &Scenario, bug: raftsim::node::Bug) -> RunResult {
    run(
        s,
        &RunOptions {
            bug: Some(bug),
            ..Default::default()
        },
    )
}

/// A built-in scenario's file text.
fn builtin_text(name: &str) -> &'static str {
    builtin::BUILTIN
        .iter()
        .find(|b| b.0 == name)
        .expect("built-in")
        .2
}

#[test]
fn fixed_timeouts_split_the_vote_forever_and_randomised_ones_elect() {
    let fixed = run(&load("raft-split-vote", &[]), &RunOptions::default());
    assert!(
        fixed.passed(),
        "{:?}",
        fixed.failed_verdicts().collect::<Vec<_>>()
    );
    assert_eq!(fixed.elections(), 1, "only the initial leader");
    let random = run(
        &load(
            "raft-split-vote",
            &[("cluster.randomize_election_timeout", "true")],
        ),
        &RunOptions::default(),
    );
    assert_eq!(random.elections(), 2, "a new leader after the crash");
    assert!(!random.passed(), "its expectations describe the split");
}

#[test]
fn a_one_way_link_flaps_leadership_unless_pre_vote() {
    let r = run(&load("raft-one-way-link", &[]), &RunOptions::default());
    assert!(r.passed(), "{:?}", r.failed_verdicts().collect::<Vec<_>>());
    assert!(r.elections() >= 6);
    let pv = run(
        &load("raft-one-way-link", &[("cluster.pre_vote", "true")]),
        &RunOptions::default(),
    );
    assert_eq!(pv.elections(), 1, "etcd-1 keeps leading");
}

#[test]
fn lying_fsync_loses_an_acknowledged_write_and_every_oracle_fires() {
    let s = load("etcd-fsync-lies-power-loss", &[]);
    let r = run(&s, &RunOptions::default());
    assert!(r.passed(), "{:?}", r.failed_verdicts().collect::<Vec<_>>());
    for o in [
        Oracle::RaftSafety,
        Oracle::ReadyContract,
        Oracle::Linearizability,
        Oracle::Durability,
    ] {
        assert!(r.violations.iter().any(|v| v.oracle == o), "{o} fired");
    }
    assert_eq!(r.unexpected_violations().count(), 0);

    // Without the expectations that ask for them, the same violations fail the run.
    let mut bare = s.clone();
    bare.expects
        .retain(|e| !matches!(e.check, Check::Oracle(_)));
    let r = run(&bare, &RunOptions::default());
    assert!(!r.passed());
    assert_eq!(r.unexpected_violations().count(), r.violations.len());
}

#[test]
fn honest_disks_on_a_majority_keep_the_write() {
    let s = load(
        "etcd-fsync-lies-power-loss",
        &[("fault.1.until", "6s"), ("fault.2.until", "6s")],
    );
    let r = run(&s, &RunOptions::default());
    assert!(!r.violations.iter().any(|v| v.oracle == Oracle::Durability));
    assert!(!r.violations.iter().any(|v| v.oracle == Oracle::RaftSafety));
}

/// An `oracle` expectation only excuses the oracle it names, and `fires = false` fails when the
/// oracle does fire.
#[test]
fn an_oracle_expectation_excuses_only_its_own_oracle() {
    let text = builtin_text("etcd-fsync-lies-power-loss");
    let only_durability = text
        .split("[[expect]]")
        .filter(|part| !part.contains("check = \"oracle\"") || part.contains("\"durability\""))
        .collect::<Vec<_>>()
        .join("[[expect]]");
    let s = Scenario::parse(&only_durability, "x.toml").unwrap();
    let r = run(&s, &RunOptions::default());
    assert!(!r.passed(), "raft-safety and the others still fail it");
    assert!(r
        .unexpected_violations()
        .all(|v| v.oracle != Oracle::Durability));

    let quiet = text.replace(
        "oracle = \"durability\"\nfires = true",
        "oracle = \"durability\"\nfires = false",
    );
    let s = Scenario::parse(&quiet, "x.toml").unwrap();
    let r = run(&s, &RunOptions::default());
    let v = r
        .verdicts
        .iter()
        .find(|v| matches!(&v.check, Check::Oracle(o) if o.oracle == Oracle::Durability))
        .unwrap();
    assert!(!v.passed, "{}", v.detail);
}

#[test]
fn figure_8_overwrites_an_uncommitted_majority_entry_and_catches_commit_by_counting() {
    let s = load("raft-figure-8", &[]);
    let r = run(&s, &RunOptions::default());
    assert!(r.passed(), "{:?}", r.failed_verdicts().collect::<Vec<_>>());
    let bug = run_with_bug(&s, raftsim::node::Bug::CommitByCounting);
    assert!(bug
        .violations
        .iter()
        .any(|v| v.oracle == Oracle::RaftSafety && v.detail.contains("leader completeness")));
    // With etcd's 1 MiB appends the old entry travels with the term-3 entry: no window.
    let batched = load("raft-figure-8", &[("cluster.max_size_per_msg", "1048576")]);
    let r = run_with_bug(&batched, raftsim::node::Bug::CommitByCounting);
    assert!(r.violations.is_empty(), "{:?}", r.violations);
}

#[test]
fn a_slow_leader_clock_keeps_its_lease_and_serves_a_stale_read() {
    let r = run(
        &load("raft-lease-read-clock-drift", &[]),
        &RunOptions::default(),
    );
    assert!(r.passed(), "{:?}", r.failed_verdicts().collect::<Vec<_>>());
    let stepped_down = |r: &RunResult| {
        r.trace.iter().find_map(|t| match t.event {
            TraceEvent::RoleChanged {
                node: raftsim::NodeId(1),
                role: Role::Follower,
                term: 1,
                ..
            } => Some(t.at),
            _ => None,
        })
    };
    let slow = stepped_down(&r).expect("etcd-1 steps down");
    // An honest clock: CheckQuorum fires within two election timeouts of the partition.
    let honest = run(
        &load("raft-lease-read-clock-drift", &[("fault.0.until", "6s")]),
        &RunOptions::default(),
    );
    let fast = stepped_down(&honest).expect("etcd-1 steps down");
    assert!(fast.0 <= 12_000_000, "{fast}");
    assert!(slow.0 >= 18_000_000, "{slow}");
    assert!(!honest
        .violations
        .iter()
        .any(|v| v.oracle == Oracle::Linearizability));
}

#[test]
fn a_drifting_leader_sends_heartbeats_on_its_own_clock() {
    let text = "name = \"d\"\ndescription = \"d\"\nduration = \"12s\"\n[cluster]\ninitial_leader = 1\n\
        [[fault]]\nkind = \"clock_drift\"\nnode = 1\nspeed_permille = 500\nat = \"2s\"\nuntil = \"8s\"\n\
        [[fault]]\nkind = \"clock_drift\"\nnode = 2\nspeed_permille = 3000\nat = \"2s\"\nuntil = \"8s\"\n";
    let s = Scenario::parse(text, "d.toml").unwrap();
    let r = run(&s, &RunOptions::default());
    assert!(r.passed());
    let beats: Vec<u64> = r
        .trace
        .iter()
        .filter(|t| {
            matches!(
                t.event,
                TraceEvent::MsgSent {
                    from: raftsim::NodeId(1),
                    to: raftsim::NodeId(3),
                    kind: "MsgHeartbeat",
                    ..
                }
            )
        })
        .map(|t| t.at.0)
        .collect();
    let gaps_in = |from_s: u64, to_s: u64| -> Vec<u64> {
        beats
            .windows(2)
            .filter(|w| w[0] >= from_s * 1_000_000 && w[1] <= to_s * 1_000_000)
            .map(|w| w[1] - w[0])
            .collect()
    };
    assert!(
        gaps_in(3, 7).iter().all(|g| *g == 200_000),
        "{:?}",
        gaps_in(3, 7)
    );
    assert!(
        gaps_in(9, 12).iter().all(|g| *g == 100_000),
        "{:?}",
        gaps_in(9, 12)
    );
    // A follower whose clock runs three times fast still hears the leader every 200 ms, well
    // inside its (now 333-667 ms) election timeout: no election.
    let campaigns = r
        .trace
        .iter()
        .filter(|t| {
            matches!(
                t.event,
                TraceEvent::RoleChanged {
                    role: Role::Candidate,
                    ..
                }
            )
        })
        .count();
    assert_eq!(campaigns, 1, "only the initial campaign");
}

#[test]
fn a_lagging_follower_is_caught_up_by_snapshot_and_without_compaction_by_the_log() {
    let r = run(&load("raft-snapshot-catch-up", &[]), &RunOptions::default());
    assert!(r.passed(), "{:?}", r.failed_verdicts().collect::<Vec<_>>());
    let sent = r
        .trace
        .iter()
        .filter(|t| {
            matches!(
                t.event,
                TraceEvent::MsgSent {
                    kind: "MsgSnapshot",
                    ..
                }
            )
        })
        .count();
    assert!(sent >= 1);
    let plain = run(
        &load("raft-snapshot-catch-up", &[("cluster.snapshot_count", "0")]),
        &RunOptions::default(),
    );
    assert!(!plain
        .trace
        .iter()
        .any(|t| matches!(t.event, TraceEvent::SnapshotSaved { .. })));
    assert_eq!(plain.nodes[2].kv, r.nodes[2].kv, "same store either way");
}

/// A member that saved a snapshot and crashed restarts from it plus the WAL after it, and a
/// restarted member whose WAL starts after its snapshot still converges.
#[test]
fn a_restart_restores_the_durable_snapshot_then_replays_the_wal() {
    let text = "name = \"s\"\ndescription = \"d\"\nduration = \"30s\"\n\
        [cluster]\ninitial_leader = 1\nsnapshot_count = 10\nsnapshot_catchup_entries = 2\n\
        [[command]]\nat = \"1s\"\nrun = \"put k{i} v{i}\"\nrepeat = 40\nevery = \"100ms\"\nquiet = true\n\
        [[fault]]\nkind = \"crash\"\nnode = 2\nat = \"6s\"\nuntil = \"8s\"\n\
        [[expect]]\ncheck = \"converged\"\n[[expect]]\ncheck = \"no_lost_acknowledged_writes\"\n";
    let s = Scenario::parse(text, "s.toml").unwrap();
    let r = run(&s, &RunOptions::default());
    assert!(
        r.passed(),
        "{:?} {:?}",
        r.failed_verdicts().collect::<Vec<_>>(),
        r.violations
    );
    let restored_own = r.trace.iter().any(|t| {
        matches!(
            t.event,
            TraceEvent::SnapshotRestored {
                node: raftsim::NodeId(2),
                received: false,
                ..
            }
        )
    });
    assert!(restored_own, "etcd-2 restarts from its own snapshot");
    // The forget-snapshot-on-restart bug is caught on this very schedule.
    let bug = run_with_bug(&s, raftsim::node::Bug::ForgetSnapshotOnRestart);
    assert!(bug
        .violations
        .iter()
        .any(|v| v.detail.contains("state machine safety")));
}

/// The variant with a stalled `snap` disk on the leader: its newest snapshot is not durable, so
/// it keeps its log from the previous one; what it sends is not a saved snapshot at all but, as
/// etcd's `createMergedSnapshotMessage` does, its state at its applied index, newer than
/// anything it saved.
#[test]
fn a_leader_whose_snapshot_save_stalls_sends_its_applied_state() {
    let text = builtin_text("raft-snapshot-catch-up");
    let slow = "kind = \"disk_slow\"\nnode = 3\nio = \"wal\"\nlatency_min = \"300ms\"\nlatency_max = \"500ms\"\nat = \"24s\"\nuntil = \"32s\"";
    assert!(text.contains(slow));
    let stalled = text.replace(
        slow,
        "kind = \"disk_stall\"\nnode = 1\nio = \"snap\"\nat = \"18s\"\nuntil = \"30s\"",
    );
    let s = Scenario::parse(&stalled, "x.toml").unwrap();
    let r = run(&s, &RunOptions::default());
    assert!(r.passed(), "{:?}", r.failed_verdicts().collect::<Vec<_>>());
    let restored = r.trace.iter().find_map(|t| match t.event {
        TraceEvent::SnapshotRestored {
            node: raftsim::NodeId(3),
            index,
            received: true,
        } => Some(index),
        _ => None,
    });
    let restored = restored.expect("etcd-3 restores the leader's snapshot");
    assert!(
        restored > 200,
        "newer than the last saved snapshot: {restored}"
    );
    assert!(
        !r.trace.iter().any(|t| matches!(
            t.event,
            TraceEvent::SnapshotSaved { node: raftsim::NodeId(1), index, .. } if index > 200
        ) && t.at.as_micros() < 25_000_000),
        "the leader saved nothing newer before it sent"
    );
}
