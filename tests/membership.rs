//! Membership changes: the built-in reconfiguration scenarios, their counterfactuals, faults
//! during a change, a restart after one, the `apply-confchange-early` bug caught by the
//! configuration oracle (bad membership input: `tests/bad_input.rs`).

use raftsim::node::{Bug, NodeStatus};
use raftsim::scenario::builtin;
use raftsim::sim::trace::{Oracle, TraceEvent};
use raftsim::{run, RunOptions, RunResult, Scenario};

fn load(name: &str, sets: &[(&str, &str)]) -> Scenario {
    let text = builtin::find(name).expect("built-in").1;
    let sets: Vec<(String, String)> = sets
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Scenario::parse_with_overrides(text, name, &sets).expect("valid")
}

fn passes(r: &RunResult) {
    assert!(
        r.passed() && r.violations.is_empty(),
        "{:?} {:?}",
        r.failed_verdicts().collect::<Vec<_>>(),
        r.violations
    );
}

fn elections_after(r: &RunResult, from_s: u64) -> usize {
    r.record
        .trace
        .iter()
        .filter(|t| t.at.as_micros() >= from_s * 1_000_000)
        .filter(|t| {
            matches!(
                t.event,
                TraceEvent::RoleChanged {
                    role: raftsim::sim::trace::Role::Leader,
                    ..
                }
            )
        })
        .count()
}

#[test]
fn the_reconfiguration_scenarios_pass() {
    for name in [
        "etcd-replace-member",
        "etcd-learner-promote",
        "raft-grow-shrink",
        "raft-removed-member-disruption",
    ] {
        passes(&run(&load(name, &[]), &RunOptions::default()));
    }
}

#[test]
fn a_removed_member_disrupts_only_without_a_guard() {
    let raw = run(
        &load("raft-removed-member-disruption", &[]),
        &RunOptions::default(),
    );
    assert!(elections_after(&raw, 12) >= 3);
    for set in [
        ("cluster.reject_removed_members", "true"),
        ("cluster.pre_vote", "true"),
        ("cluster.check_quorum", "true"),
    ] {
        let r = run(
            &load("raft-removed-member-disruption", &[set]),
            &RunOptions::default(),
        );
        assert!(
            elections_after(&r, 12) <= 1,
            "{set:?}: {}",
            elections_after(&r, 12)
        );
        assert!(r.violations.is_empty(), "{set:?}: {:?}", r.violations);
    }
    let guarded = run(
        &load(
            "raft-removed-member-disruption",
            &[("cluster.reject_removed_members", "true")],
        ),
        &RunOptions::default(),
    );
    let etcd3 = &guarded.record.nodes[2];
    assert_eq!(etcd3.status, NodeStatus::Removed, "410 Gone stops it");
}

#[test]
fn a_member_restarted_after_changes_rebuilds_its_configuration() {
    // etcd-1 crashes after both changes and a snapshot, and restarts from its snapshot and WAL.
    let mut s = load("etcd-replace-member", &[]);
    let crash = Scenario::parse(
        "name = \"x\"\ndescription = \"d\"\nduration = \"40s\"\n[cluster]\nnodes = 3\nspares = 1\n\
         [[fault]]\nkind = \"crash\"\nnode = 1\nat = \"26s\"\nuntil = \"28s\"\n",
        "x.toml",
    )
    .unwrap()
    .faults;
    s.faults.extend(crash);
    let r = run(&s, &RunOptions::default());
    passes(&r);
    assert!(r.record.nodes[0].members.ends_with("voters 1,2,4"));
}

#[test]
fn the_leader_crashing_mid_change_keeps_every_oracle_quiet() {
    // The leader crashes 2 ms after `member add etcd-4` reaches it: the change may or may not
    // commit; whatever happened, members agree and nothing acknowledged is lost.
    for at_ms in [11_002, 11_004, 11_006] {
        let mut s = load("raft-grow-shrink", &[]);
        let text = format!(
            "name = \"x\"\ndescription = \"d\"\nduration = \"40s\"\n[cluster]\nnodes = 3\nspares = 2\n\
             [[fault]]\nkind = \"crash\"\nnode = 1\nat = \"{at_ms}ms\"\nuntil = \"13s\"\n"
        );
        s.faults
            .extend(Scenario::parse(&text, "x.toml").unwrap().faults);
        let r = run(&s, &RunOptions::default());
        assert!(r.violations.is_empty(), "{at_ms}: {:?}", r.violations);
    }
}

#[test]
fn applying_a_change_before_it_commits_is_caught() {
    let r = run(
        &load("etcd-replace-member", &[]),
        &RunOptions {
            bug: Some(Bug::ApplyConfChangeEarly),
            ..Default::default()
        },
    );
    let v = r
        .violations
        .iter()
        .find(|v| v.oracle == Oracle::RaftSafety)
        .expect("the configuration oracle fires");
    assert!(v.detail.contains("before it was committed"), "{}", v.detail);
}

#[test]
fn removing_the_leader_is_safe_on_every_seed() {
    // raft-rs panics when a leader that removed itself handles one more append response; the
    // member must stop before that (seed 3 did, before the fix).
    let s = load("raft-grow-shrink", &[]);
    for seed in 1..=20 {
        let r = run(
            &s,
            &RunOptions {
                seed: Some(seed),
                ..Default::default()
            },
        );
        assert!(r.violations.is_empty(), "seed {seed}: {:?}", r.violations);
    }
}
