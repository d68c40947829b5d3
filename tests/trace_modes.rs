//! A run that keeps no `msg-sent` records (what `raftsim run` does unless a view draws messages,
//! and what exploration does) is the same run: the same trace hash, the same timeline, the same
//! verdicts; it holds fewer records, and every message it did not keep is in its compact
//! arrivals table.

use raftsim::report::timeline;
use raftsim::scenario::builtin;
use raftsim::sim::trace::TraceEvent;
use raftsim::{run, RunOptions};

#[test]
fn a_lean_trace_is_the_same_run_with_fewer_records() {
    for name in [
        "k8s-local-etcd-follower-stall",
        "etcd-leader-fsync-stall",
        "raft-one-way-link",
        "etcd-replace-member",
    ] {
        let s = builtin::load(name).unwrap().unwrap();
        let full = run(&s, &RunOptions::default());
        let lean = run(
            &s,
            &RunOptions {
                full_trace: false,
                ..Default::default()
            },
        );
        assert_eq!(full.trace_hash, lean.trace_hash, "{name}");
        assert_eq!(timeline::render(&full), timeline::render(&lean), "{name}");
        let sent = full
            .trace
            .iter()
            .filter(|t| matches!(t.event, TraceEvent::MsgSent { .. }))
            .count();
        assert!(sent > 0, "{name}");
        assert_eq!(lean.trace.len() + sent, full.trace.len(), "{name}");
        assert_eq!(lean.arrivals, full.arrivals, "{name}");
        assert_eq!(lean.arrivals.len(), sent, "{name}");
    }
}
