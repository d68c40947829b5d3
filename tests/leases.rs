//! etcd leases, watches and locks: the lease scenarios hold on many seeds, in the version
//! profiles they claim, and the lock check tells a split brain from an exclusive lock.

use raftsim::record::locks::{first_overlap, holdings};
use raftsim::scenario::builtin;
use raftsim::sim::trace::TraceEvent;
use raftsim::{run, RunOptions, RunResult, Scenario, SimDuration, SimTime};

fn load(name: &str, sets: &[(&str, &str)]) -> Scenario {
    let sets: Vec<(String, String)> = sets
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    builtin::load_with_overrides(name, &sets).unwrap().unwrap()
}

fn run_seed(s: &Scenario, seed: u64) -> RunResult {
    run(
        s,
        &RunOptions {
            seed: Some(seed),
            ..Default::default()
        },
    )
}

fn failed(r: &RunResult) -> Vec<String> {
    r.failed_verdicts().map(|v| v.detail.clone()).collect()
}

#[test]
fn lease_scenarios_hold_on_twenty_seeds() {
    for name in [
        "etcd-lease-follower-stall",
        "etcd-lease-frozen-member",
        "etcd-lease-leader-stall",
        "etcd-lock-leader-stall",
    ] {
        let s = load(name, &[]);
        for seed in 0..20 {
            let r = run_seed(&s, seed);
            assert!(
                failed(&r).is_empty(),
                "{name} seed {seed}: {:?}",
                failed(&r)
            );
        }
    }
}

#[test]
fn the_leader_stall_is_the_same_in_3_4_and_3_5_and_fixed_in_3_6() {
    // LeaseRenew on a leader is the same code in 3.4.23 and 3.5.6; 3.6 confirms leadership.
    for version in ["3.4", "3.5"] {
        let s = load(
            "etcd-lease-leader-stall",
            &[("cluster.etcd_version", version)],
        );
        let r = run_seed(&s, 3);
        assert!(failed(&r).is_empty(), "{version}: {:?}", failed(&r));
    }
    let s = load(
        "etcd-lease-leader-stall",
        &[("cluster.etcd_version", "3.6")],
    );
    let r = run_seed(&s, 3);
    let ended = r.trace.iter().find_map(|t| match &t.event {
        TraceEvent::KeepAliveEnded { .. } => Some(t.at),
        _ => None,
    });
    let ended = ended.expect("3.6: the pinned keep-alive gives the lease up");
    let revoked = r.trace.iter().find_map(|t| match &t.event {
        TraceEvent::EtcdLeaseRevoked { .. } => Some(t.at),
        _ => None,
    });
    assert!(
        ended < revoked.expect("the new leader revokes it"),
        "3.6: the client lets go before the cluster deletes the key"
    );
}

#[test]
fn the_lock_has_two_holders_in_3_5_and_one_in_3_6() {
    let split = run_seed(&load("etcd-lock-leader-stall", &[]), 5);
    let hs = holdings(&split, "leader-election");
    let (a, b, at) = first_overlap(&hs).expect("3.5.6: two holders at once");
    assert!(at > SimTime::ZERO + SimDuration::from_secs(20), "{at}");
    assert!(a.until > b.from && b.until > a.from);
    let fixed = run_seed(
        &load("etcd-lock-leader-stall", &[("cluster.etcd_version", "3.6")]),
        5,
    );
    let hs = holdings(&fixed, "leader-election");
    assert_eq!(hs.len(), 2, "app-b takes the lock once app-a let it go");
    assert!(first_overlap(&hs).is_none(), "{hs:?}");
}

#[test]
fn keepalives_through_a_stalled_follower_are_answered_by_the_leaders_lessor() {
    let r = run_seed(&load("etcd-lease-follower-stall", &[]), 1);
    let during_stall = r
        .ops("keepalive")
        .into_iter()
        .filter(|h| h.invoked > SimTime::ZERO + SimDuration::from_secs(11))
        .filter(|h| h.invoked < SimTime::ZERO + SimDuration::from_secs(39))
        .collect::<Vec<_>>();
    assert!(during_stall.len() >= 8, "{}", during_stall.len());
    for h in during_stall {
        assert_eq!(h.outcome, raftsim::client::Outcome::Ok);
        assert!(h.completed.unwrap().since(h.invoked) < SimDuration::from_millis(20));
    }
}

#[test]
fn a_lease_nobody_grants_is_an_error_with_its_position() {
    let text = r#"
name = "x"
description = "x"
duration = "10s"
[[command]]
id = "grant"
at = "1s"
run = "lease grant 10"
[[command]]
at = "2s"
run = "put k v --lease=grnat"
"#;
    let e = Scenario::parse(text, "x.toml").unwrap_err().to_string();
    assert!(e.starts_with("x.toml:11:7"), "{e}");
    assert!(e.contains("granted here: grant"), "{e}");
    let no_id = text.replace("id = \"grant\"\n", "");
    let e = Scenario::parse(&no_id, "x.toml").unwrap_err().to_string();
    assert!(e.contains("need an `id`"), "{e}");
}
