//! The catalogue's Raft failure modes, asserted on the run's structured result: a split vote
//! without randomised timeouts, leadership flapping over a one-way link, and acknowledged writes
//! lost when every disk's fsync lies; and the expectation kinds they need (`leader_elections`,
//! `oracle`).

use raftsim::scenario::builtin;
use raftsim::scenario::expect::Check;
use raftsim::sim::trace::{Oracle, Role, TraceEvent};
use raftsim::{run, RunOptions, RunResult, Scenario};

fn load(name: &str, sets: &[(&str, &str)]) -> Scenario {
    let text = builtin::BUILTIN
        .iter()
        .find(|b| b.0 == name)
        .expect("built-in")
        .2;
    let sets: Vec<(String, String)> = sets
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Scenario::parse_with_overrides(text, name, &sets).expect("valid")
}

fn leaders_won(r: &RunResult) -> usize {
    r.trace
        .iter()
        .filter(|t| {
            matches!(
                t.event,
                TraceEvent::RoleChanged {
                    role: Role::Leader,
                    ..
                }
            )
        })
        .count()
}

#[test]
fn fixed_timeouts_split_the_vote_forever_and_randomised_ones_elect() {
    let fixed = run(&load("raft-split-vote", &[]), &RunOptions::default());
    assert!(
        fixed.passed(),
        "{:?}",
        fixed.failed_verdicts().collect::<Vec<_>>()
    );
    assert_eq!(leaders_won(&fixed), 1, "only the initial leader");
    let random = run(
        &load(
            "raft-split-vote",
            &[("cluster.randomize_election_timeout", "true")],
        ),
        &RunOptions::default(),
    );
    assert_eq!(leaders_won(&random), 2, "a new leader after the crash");
    assert!(!random.passed(), "its expectations describe the split");
}

#[test]
fn a_one_way_link_flaps_leadership_unless_pre_vote() {
    let r = run(&load("raft-one-way-link", &[]), &RunOptions::default());
    assert!(r.passed(), "{:?}", r.failed_verdicts().collect::<Vec<_>>());
    assert!(leaders_won(&r) >= 6);
    let pv = run(
        &load("raft-one-way-link", &[("cluster.pre_vote", "true")]),
        &RunOptions::default(),
    );
    assert_eq!(leaders_won(&pv), 1, "etcd-1 keeps leading");
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
    let text = builtin::BUILTIN
        .iter()
        .find(|b| b.0 == "etcd-fsync-lies-power-loss")
        .unwrap()
        .2;
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
    let bug = run(
        &s,
        &RunOptions {
            bug: Some(raftsim::node::Bug::CommitByCounting),
            ..Default::default()
        },
    );
    assert!(bug
        .violations
        .iter()
        .any(|v| v.oracle == Oracle::RaftSafety && v.detail.contains("leader completeness")));
    // With etcd's 1 MiB appends the old entry travels with the term-3 entry: no window.
    let batched = load("raft-figure-8", &[("cluster.max_size_per_msg", "1048576")]);
    let r = run(
        &batched,
        &RunOptions {
            bug: Some(raftsim::node::Bug::CommitByCounting),
            ..Default::default()
        },
    );
    assert!(r.violations.is_empty(), "{:?}", r.violations);
}
