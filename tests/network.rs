//! Peer links are ordered streams (etcd's rafthttp keeps one TCP stream per peer): over explore's
//! random fault schedules, no message overtakes an earlier one on the same stream, unless a
//! `degrade` fault that reorders or duplicates was active, or the stream broke in between.

use raftsim::net::NetFault;
use raftsim::scenario::FaultKind;
use raftsim::sim::trace::TraceEvent;
use raftsim::{explore, NodeId, SimTime};
use std::collections::BTreeMap;

#[test]
fn no_message_overtakes_an_earlier_one_on_its_stream() {
    let mut checked = 0;
    for seed in 0..150 {
        // explore::run_case keeps no `msg-sent` records; this test reads them.
        let case = explore::case_for_seed(seed);
        let s = raftsim::Scenario::parse(&case.to_scenario_toml(seed, ""), "x.toml").unwrap();
        let opts = raftsim::RunOptions {
            seed: Some(seed),
            ..Default::default()
        };
        let r = raftsim::run(&s, &opts);
        // Windows of faults that break the transport on purpose.
        let broken: Vec<(SimTime, SimTime)> = r
            .scenario
            .faults
            .iter()
            .filter(|f| {
                matches!(&f.kind, FaultKind::Network(NetFault::Degrade(d))
                    if d.reorder.num > 0 || d.duplicate.num > 0)
            })
            .map(|f| (f.at, f.until.unwrap_or(r.sim_end)))
            .collect();
        let mut last: BTreeMap<(NodeId, NodeId), SimTime> = BTreeMap::new();
        for t in &r.trace {
            match &t.event {
                // A crash or a partition breaks streams: the next message starts a new one.
                TraceEvent::Crashed { node, .. } => last.retain(|(a, b), _| a != node && b != node),
                TraceEvent::FaultStarted { .. } => last.clear(),
                TraceEvent::MsgSent {
                    from,
                    to,
                    latency_us,
                    ..
                } => {
                    if broken.iter().any(|(a, b)| t.at >= *a && t.at <= *b) {
                        last.remove(&(*from, *to));
                        continue;
                    }
                    let arrival = SimTime(t.at.0 + latency_us);
                    if let Some(prev) = last.insert((*from, *to), arrival) {
                        assert!(
                            arrival >= prev,
                            "seed {seed}: a message {from}->{to} sent at {} arrives at {arrival}, before one sent earlier ({prev})",
                            t.at
                        );
                        checked += 1;
                    }
                }
                _ => {}
            }
        }
    }
    assert!(
        checked > 100_000,
        "only {checked} consecutive pairs checked"
    );
}
