//! Questions about the Kubernetes layer, answered from the record: lease renewals, node
//! conditions, controller-manager leadership.

use super::Record;
use crate::node::rpc::ServerOp;
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::trace::TraceEvent;
use std::collections::BTreeSet;

impl Record {
    /// Times of successful lease renewals of `node`.
    pub fn renewals(&self, node: &str) -> Vec<SimTime> {
        self.times(|e| matches!(e, TraceEvent::LeaseRenewed { node: n, .. } if n == node))
    }

    /// Times of failed lease requests of `node`.
    pub fn renewal_failures(&self, node: &str) -> Vec<SimTime> {
        self.times(|e| matches!(e, TraceEvent::LeaseRenewFailed(f) if f.node == node))
    }

    /// Times at which the node-lifecycle controller set `node`'s Ready condition to `ready`.
    pub fn condition_changes(&self, node: &str, ready: &str) -> Vec<SimTime> {
        self.times(
            |e| matches!(e, TraceEvent::NodeCondition(c) if c.node == node && c.ready == ready),
        )
    }

    /// Times at which a controller-manager lost its leadership.
    pub fn kcm_losses(&self) -> Vec<SimTime> {
        self.times(|e| {
            matches!(
                e,
                TraceEvent::KcmLeadership {
                    acquired: false,
                    ..
                }
            )
        })
    }

    fn times(&self, f: impl Fn(&TraceEvent) -> bool) -> Vec<SimTime> {
        self.trace
            .iter()
            .filter(|t| f(&t.event))
            .map(|t| t.at)
            .collect()
    }

    /// When writes to `node`'s lease first took effect in etcd, whether or not the kubelet was
    /// told: a renewal that timed out at the kubelet can still commit, and the controller then
    /// sees it.
    pub fn lease_writes_effective(&self, node: &str) -> Vec<SimTime> {
        let key = crate::k8s::api::lease_key(node);
        let ops = self.op_of_request();
        let mut seen = BTreeSet::new();
        self.trace
            .iter()
            .filter_map(|t| match t.event {
                TraceEvent::Applied {
                    request: Some(q),
                    effective: true,
                    ..
                } if seen.insert(q) => {
                    let h = &self.history[ops.get(&q)?.0 as usize];
                    matches!(&h.kind, ServerOp::Write { op } if op.key() == Some(key.as_str()))
                        .then_some(t.at)
                }
                _ => None,
            })
            .collect()
    }

    /// Intervals during which `node` was NotReady (Ready=Unknown), as `[from, until)`.
    pub fn not_ready_intervals(&self, node: &str) -> Vec<(SimTime, Option<SimTime>)> {
        let mut out: Vec<(SimTime, Option<SimTime>)> = Vec::new();
        for t in &self.trace {
            let TraceEvent::NodeCondition(c) = &t.event else {
                continue;
            };
            let (n, ready) = (&c.node, &c.ready);
            if n != node {
                continue;
            }
            match (ready.as_str(), out.last_mut()) {
                ("Unknown", Some((_, None))) => {}
                ("Unknown", _) => out.push((t.at, None)),
                (_, Some((_, end @ None))) => *end = Some(t.at),
                _ => {}
            }
        }
        out
    }

    /// The controller-manager holding leadership at `at`, if any.
    pub fn kcm_leader_at(&self, at: SimTime) -> Option<u64> {
        let mut holder = None;
        for t in self.trace.iter().take_while(|t| t.at <= at) {
            if let TraceEvent::KcmLeadership { kcm, acquired, .. } = t.event {
                if acquired {
                    holder = Some(kcm);
                } else if holder == Some(kcm) {
                    holder = None;
                }
            }
        }
        holder
    }
}

/// The longest stretch without an event of `times` inside `[from, until]`.
pub fn longest_gap(times: &[SimTime], from: SimTime, until: SimTime) -> SimDuration {
    let mut prev = from;
    let mut gap = SimDuration::ZERO;
    for t in times.iter().filter(|t| **t >= from && **t <= until) {
        gap = gap.max(t.since(prev));
        prev = *t;
    }
    gap.max(until.since(prev))
}
