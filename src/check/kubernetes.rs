//! Kubernetes-level checks, evaluated on the trace (lease renewals, node conditions, leadership)
//! and the once-a-second cluster probes.

use crate::node::rpc::ServerOp;
use crate::run::RunResult;
use crate::sim::ids::RequestId;
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::trace::TraceEvent;
use std::collections::{BTreeMap, BTreeSet};

/// Times of successful lease renewals of `node`.
pub fn renewals(r: &RunResult, node: &str) -> Vec<SimTime> {
    r.trace
        .iter()
        .filter_map(|t| match &t.event {
            TraceEvent::LeaseRenewed { node: n, .. } if n == node => Some(t.at),
            _ => None,
        })
        .collect()
}

/// Times of failed lease requests of `node`.
pub fn renewal_failures(r: &RunResult, node: &str) -> Vec<SimTime> {
    r.trace
        .iter()
        .filter_map(|t| match &t.event {
            TraceEvent::LeaseRenewFailed { node: n, .. } if n == node => Some(t.at),
            _ => None,
        })
        .collect()
}

/// Times at which the node-lifecycle controller set `node`'s Ready condition to `ready`.
pub fn condition_changes(r: &RunResult, node: &str, ready: &str) -> Vec<SimTime> {
    r.trace
        .iter()
        .filter_map(|t| match &t.event {
            TraceEvent::NodeCondition {
                node: n, ready: x, ..
            } if n == node && x == ready => Some(t.at),
            _ => None,
        })
        .collect()
}

/// When writes to `node`'s lease first took effect in etcd, whether or not the kubelet was told:
/// a renewal that timed out at the kubelet can still commit, and the controller then sees it.
pub fn lease_writes_effective(r: &RunResult, node: &str) -> Vec<SimTime> {
    let key = crate::k8s::api::lease_key(node);
    let ops: BTreeMap<RequestId, usize> = r
        .trace
        .iter()
        .filter_map(|t| match t.event {
            TraceEvent::RequestSent { request, op, .. } => Some((request, op.0 as usize)),
            _ => None,
        })
        .collect();
    let mut seen = BTreeSet::new();
    r.trace
        .iter()
        .filter_map(|t| match t.event {
            TraceEvent::Applied {
                request: Some(q),
                effective: true,
                ..
            } if seen.insert(q) => {
                let h = &r.history[*ops.get(&q)?];
                matches!(&h.kind, ServerOp::Write { op } if op.key() == key).then_some(t.at)
            }
            _ => None,
        })
        .collect()
}

/// Each node went NotReady between `min` and `max` after the last renewal of its lease that
/// took effect (acknowledged to the kubelet or not).
pub fn node_not_ready(
    r: &RunResult,
    nodes: &[String],
    min: SimDuration,
    max: SimDuration,
) -> (bool, String) {
    let mut parts = Vec::new();
    for n in nodes {
        let Some(&unknown) = condition_changes(r, n, "Unknown").first() else {
            return (false, format!("{n} never went NotReady"));
        };
        let acked = renewals(r, n).into_iter().rfind(|t| *t <= unknown);
        let effective = lease_writes_effective(r, n)
            .into_iter()
            .rfind(|t| *t <= unknown);
        let Some(last) = acked.max(effective) else {
            return (
                false,
                format!("{n} went NotReady at {unknown} without ever renewing its lease"),
            );
        };
        let after = unknown.since(last);
        if after < min || after > max {
            return (false, format!("{n}: NotReady at {unknown}, {after} after its last renewal at {last} (expected {min}..{max})"));
        }
        let how = if effective > acked {
            " (one its kubelet saw fail, committed anyway)"
        } else {
            ""
        };
        parts.push(format!(
            "{n}: last renewal {last}{how}, NotReady at {unknown} (+{after})"
        ));
    }
    (true, parts.join("; "))
}

pub fn nodes_ready(
    r: &RunResult,
    nodes: &[String],
    from: SimTime,
    until: SimTime,
) -> (bool, String) {
    for n in nodes {
        if let Some(t) = condition_changes(r, n, "Unknown")
            .into_iter()
            .find(|t| *t >= from && *t <= until)
        {
            return (false, format!("{n} went NotReady at {t}"));
        }
    }
    (true, format!("{} node(s) Ready throughout", nodes.len()))
}

pub fn renewals_fail(
    r: &RunResult,
    nodes: &[String],
    from: SimTime,
    until: SimTime,
) -> (bool, String) {
    let mut parts = Vec::new();
    for n in nodes {
        if let Some(t) = renewals(r, n)
            .into_iter()
            .find(|t| *t > from && *t <= until)
        {
            return (false, format!("{n} renewed its lease at {t}"));
        }
        let failed = renewal_failures(r, n)
            .into_iter()
            .filter(|t| *t > from && *t <= until)
            .count();
        if failed == 0 {
            return (false, format!("{n} attempted no renewal in the window"));
        }
        parts.push(format!("{n}: {failed} failed request(s), no success"));
    }
    (true, parts.join("; "))
}

/// The longest stretch without a successful renewal inside `[from, until]`.
pub fn longest_gap(times: &[SimTime], from: SimTime, until: SimTime) -> SimDuration {
    let mut prev = from;
    let mut gap = SimDuration::ZERO;
    for t in times.iter().filter(|t| **t >= from && **t <= until) {
        gap = gap.max(t.since(prev));
        prev = *t;
    }
    gap.max(until.since(prev))
}

pub fn renewals_succeed(
    r: &RunResult,
    nodes: &[String],
    from: SimTime,
    until: SimTime,
    max_gap: SimDuration,
) -> (bool, String) {
    let mut parts = Vec::new();
    for n in nodes {
        let gap = longest_gap(&renewals(r, n), from, until);
        if gap > max_gap {
            return (
                false,
                format!("{n} went {gap} without a successful renewal (allowed {max_gap})"),
            );
        }
        parts.push(format!("{n}: longest gap {gap}"));
    }
    (true, parts.join("; "))
}

pub fn quorum_kept(r: &RunResult, from: SimTime, until: SimTime) -> (bool, String) {
    let probes: Vec<_> = r
        .cluster_probes
        .iter()
        .filter(|p| p.at >= from && p.at <= until)
        .collect();
    if let Some(p) = probes.iter().find(|p| p.leader().is_none()) {
        return (
            false,
            format!("no member led with the highest term at {}", p.at),
        );
    }
    for w in probes.chunks(10).filter(|w| w.len() == 10) {
        let first = w[0].committed.iter().max().copied().unwrap_or(0);
        let last = w[9].committed.iter().max().copied().unwrap_or(0);
        if last <= first {
            return (
                false,
                format!(
                    "commit index stuck at {first} from {} to {}",
                    w[0].at, w[9].at
                ),
            );
        }
    }
    let leaders: std::collections::BTreeSet<u64> = probes
        .iter()
        .filter_map(|p| p.leader())
        .map(|l| l.0)
        .collect();
    (
        true,
        format!(
            "{} probes, leader(s) {:?}, commit index advanced in every 10s window",
            probes.len(),
            leaders
        ),
    )
}

pub fn kcm_leader(r: &RunResult, master: u64, at: SimTime) -> (bool, String) {
    let mut holder = None;
    for t in r.trace.iter().take_while(|t| t.at <= at) {
        if let TraceEvent::KcmLeadership { kcm, acquired, .. } = t.event {
            if acquired {
                holder = Some(kcm);
            } else if holder == Some(kcm) {
                holder = None;
            }
        }
    }
    match holder {
        Some(h) => (
            h == master,
            format!("kube-controller-manager on master-{h} led at {at}"),
        ),
        None => (false, format!("no kube-controller-manager led at {at}")),
    }
}

/// Across these kubelets some lease requests failed in the window, yet every one of them still
/// renewed: degraded, not down.
pub fn renewals_degraded(
    r: &RunResult,
    nodes: &[String],
    from: SimTime,
    until: SimTime,
) -> (bool, String) {
    let inside = |ts: Vec<SimTime>| ts.into_iter().filter(|t| *t > from && *t <= until).count();
    let mut failed = 0;
    let mut parts = Vec::new();
    for n in nodes {
        let (ok, bad) = (inside(renewals(r, n)), inside(renewal_failures(r, n)));
        if ok == 0 {
            return (
                false,
                format!("{n} renewed not once in the window ({bad} failed request(s))"),
            );
        }
        failed += bad;
        parts.push(format!("{n} {ok}/{bad}"));
    }
    (
        failed > 0,
        format!(
            "{failed} failed request(s); ok/failed: {}",
            parts.join(", ")
        ),
    )
}

pub fn kcm_leadership_lost(
    r: &RunResult,
    from: SimTime,
    until: SimTime,
    expected: bool,
) -> (bool, String) {
    let lost: Vec<String> = r
        .trace
        .iter()
        .filter(|t| t.at >= from && t.at <= until)
        .filter_map(|t| match t.event {
            TraceEvent::KcmLeadership {
                kcm,
                acquired: false,
                ..
            } => Some(format!("master-{kcm} at {}", t.at)),
            _ => None,
        })
        .collect();
    let detail = if lost.is_empty() {
        "no controller-manager lost leadership".to_string()
    } else {
        format!("lost: {}", lost.join(", "))
    };
    (lost.is_empty() != expected, detail)
}
