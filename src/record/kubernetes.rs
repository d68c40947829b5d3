//! Questions about the Kubernetes layer, answered from the record: lease renewals, node
//! conditions, controller-manager leadership.

use super::Record;
use crate::node::rpc::ServerOp;
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::trace::TraceEvent;
use std::collections::{BTreeMap, BTreeSet};

/// One node's lease renewals, in time order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Renewals {
    /// When a renewal succeeded.
    pub ok: Vec<SimTime>,
    /// When a lease request failed.
    pub failed: Vec<SimTime>,
}

/// Every node's lease renewals ([`Record::renewals_by_node`]).
#[derive(Clone, Debug, Default)]
pub struct RenewalsByNode<'a>(BTreeMap<&'a str, Renewals>);

impl RenewalsByNode<'_> {
    /// `node`'s renewals (none for a node that never asked).
    pub fn of(&self, node: &str) -> &Renewals {
        static NONE: Renewals = Renewals {
            ok: Vec::new(),
            failed: Vec::new(),
        };
        self.0.get(node).unwrap_or(&NONE)
    }
}

/// Which node's lease request `e` records, and whether it renewed the lease: the one
/// definition every renewal question reads.
fn lease_request(e: &TraceEvent) -> Option<(&str, bool)> {
    match e {
        TraceEvent::LeaseRenewed { node, .. } => Some((node, true)),
        TraceEvent::LeaseRenewFailed(f) => Some((&f.node, false)),
        _ => None,
    }
}

impl Record {
    /// Every node's lease renewals ([`Record::renewals`] and [`Record::renewal_failures`] of
    /// each), from one pass over the trace: a report about every node asks once instead of
    /// reading the trace twice per node.
    pub fn renewals_by_node(&self) -> RenewalsByNode<'_> {
        let mut out: BTreeMap<&str, Renewals> = BTreeMap::new();
        for t in &self.trace {
            if let Some((node, ok)) = lease_request(&t.event) {
                let r = out.entry(node).or_default();
                if ok { &mut r.ok } else { &mut r.failed }.push(t.at);
            }
        }
        RenewalsByNode(out)
    }

    /// Each node's Ready condition as the node-lifecycle controller last set it (nodes it
    /// never changed are absent), from one pass over the trace.
    pub fn last_conditions(&self) -> BTreeMap<&str, &str> {
        let mut out = BTreeMap::new();
        for t in &self.trace {
            if let TraceEvent::NodeCondition(c) = &t.event {
                out.insert(c.node.as_str(), c.ready.as_str());
            }
        }
        out
    }

    /// Times of successful lease renewals of `node`.
    pub fn renewals(&self, node: &str) -> Vec<SimTime> {
        self.times(|e| lease_request(e) == Some((node, true)))
    }

    /// Times of failed lease requests of `node`.
    pub fn renewal_failures(&self, node: &str) -> Vec<SimTime> {
        self.times(|e| lease_request(e) == Some((node, false)))
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

    /// When writes to each key first took effect in etcd, whether or not their clients were
    /// told, in time order: a lease renewal that timed out at the kubelet can still commit, and
    /// the controller then sees it ([`crate::k8s::lease_key`] names a node's lease). One pass over
    /// the trace for every key, so a check about many nodes asks once.
    pub fn effective_writes_by_key(&self) -> BTreeMap<&str, Vec<SimTime>> {
        let ops = self.write_of_request();
        let mut seen = BTreeSet::new();
        let mut out: BTreeMap<&str, Vec<SimTime>> = BTreeMap::new();
        for a in &self.applied {
            let (Some(q), true) = (a.request(), a.effective()) else {
                continue;
            };
            if !seen.insert(q) {
                continue; // a duplicate's second entry changes nothing
            }
            let Some(op) = ops.get(&q) else { continue };
            if let Some(ServerOp::Write { op }) = self.op(*op).map(|h| &h.kind) {
                if let Some(key) = op.key() {
                    out.entry(key).or_default().push(a.at);
                }
            }
        }
        out
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
