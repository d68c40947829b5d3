//! Expectations on the Kubernetes layer: node conditions, lease renewals, controller leadership,
//! and etcd's health as the availability report sees it.

use super::{Fields, Judged, Kind};
use crate::record::kubernetes::longest_gap;
use crate::record::Record;
use crate::scenario::ScenarioError;
use crate::sim::time::{SimDuration, SimTime};
use serde::Serialize;
use std::fmt;

type R<T> = Result<T, ScenarioError>;

/// Each node went Ready=Unknown between `min` and `max` after the last renewal of its lease that
/// took effect in etcd (acknowledged to the kubelet or not).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeNotReady {
    /// Kubernetes node names.
    pub nodes: Vec<String>,
    /// Earliest, after the last effective renewal.
    pub min: SimDuration,
    /// Latest.
    pub max: SimDuration,
}

impl Kind for NodeNotReady {
    const NAME: &'static str = "node_not_ready";
    const FIELDS: &'static [&'static str] =
        &["nodes", "after_last_renewal_min", "after_last_renewal_max"];

    fn parse(f: &Fields) -> R<Self> {
        let nodes = f.k8s_nodes("nodes")?;
        let min = f.duration("after_last_renewal_min")?;
        let max = f.duration("after_last_renewal_max")?;
        if max < min {
            return Err(f.err(
                "after_last_renewal_max",
                "after_last_renewal_max is smaller than after_last_renewal_min".into(),
            ));
        }
        Ok(NodeNotReady { nodes, min, max })
    }

    fn evaluate(&self, r: &Judged<'_>) -> (bool, String) {
        let mut parts = Vec::new();
        let effective = r.effective_writes_by_key();
        let renewals = r.renewals_by_node();
        for n in &self.nodes {
            let lease = crate::k8s::api::lease_key(n);
            let writes = effective.get(lease.as_str()).map_or(&[][..], Vec::as_slice);
            match self.one(r, n, &renewals.of(n).ok, writes) {
                Ok(p) => parts.push(p),
                Err(e) => return (false, e),
            }
        }
        (true, parts.join("; "))
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} go NotReady {}..{} after their last lease renewal that took effect",
            self.nodes.join(", "),
            self.min,
            self.max
        )
    }
}

impl NodeNotReady {
    /// `acked`: `n`'s successful renewals; `effective`: when writes to `n`'s lease took
    /// effect; both in time order.
    fn one(
        &self,
        r: &Record,
        n: &str,
        acked: &[SimTime],
        effective: &[SimTime],
    ) -> Result<String, String> {
        let (min, max) = (self.min, self.max);
        let Some(&unknown) = r.condition_changes(n, "Unknown").first() else {
            return Err(format!("{n} never went NotReady"));
        };
        let acked = acked.iter().copied().rfind(|t| *t <= unknown);
        let effective = effective.iter().copied().rfind(|t| *t <= unknown);
        let Some(last) = acked.max(effective) else {
            return Err(format!(
                "{n} went NotReady at {unknown} without ever renewing its lease"
            ));
        };
        let after = unknown.since(last);
        if after < min || after > max {
            return Err(format!("{n}: NotReady at {unknown}, {after} after its last renewal at {last} (expected {min}..{max})"));
        }
        let how = if effective > acked {
            " (one its kubelet saw fail, committed anyway)"
        } else {
            ""
        };
        Ok(format!(
            "{n}: last renewal {last}{how}, NotReady at {unknown} (+{after})"
        ))
    }
}

/// Nodes and a window, shared by the window checks on kubelets.
fn nodes_window(f: &Fields) -> R<(Vec<String>, SimTime, SimTime)> {
    let nodes = f.k8s_nodes("nodes")?;
    let (from, until) = f.window()?;
    Ok((nodes, from, until))
}

/// None of these nodes went Ready=Unknown between `from` and `until`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodesReady {
    /// Kubernetes node names.
    pub nodes: Vec<String>,
    /// Window start.
    pub from: SimTime,
    /// Window end.
    pub until: SimTime,
}

impl Kind for NodesReady {
    const NAME: &'static str = "nodes_ready";
    const FIELDS: &'static [&'static str] = &["nodes", "from", "until"];

    fn parse(f: &Fields) -> R<Self> {
        let (nodes, from, until) = nodes_window(f)?;
        Ok(NodesReady { nodes, from, until })
    }

    fn evaluate(&self, r: &Judged<'_>) -> (bool, String) {
        for n in &self.nodes {
            let changes = r.condition_changes(n, "Unknown");
            if let Some(t) = changes
                .into_iter()
                .find(|t| *t >= self.from && *t <= self.until)
            {
                return (false, format!("{n} went NotReady at {t}"));
            }
        }
        (
            true,
            format!("{} node(s) Ready throughout", self.nodes.len()),
        )
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} stay Ready from {} to {}",
            self.nodes.join(", "),
            self.from,
            self.until
        )
    }
}

/// Every lease renewal these kubelets attempted between `from` and `until` failed (and they
/// attempted at least one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RenewalsFail {
    /// Kubernetes node names.
    pub nodes: Vec<String>,
    /// Window start.
    pub from: SimTime,
    /// Window end.
    pub until: SimTime,
}

impl Kind for RenewalsFail {
    const NAME: &'static str = "renewals_fail";
    const FIELDS: &'static [&'static str] = &["nodes", "from", "until"];

    fn parse(f: &Fields) -> R<Self> {
        let (nodes, from, until) = nodes_window(f)?;
        Ok(RenewalsFail { nodes, from, until })
    }

    fn evaluate(&self, r: &Judged<'_>) -> (bool, String) {
        let inside = |t: &&SimTime| **t > self.from && **t <= self.until;
        let by_node = r.renewals_by_node();
        let mut parts = Vec::new();
        for n in &self.nodes {
            let of = by_node.of(n);
            if let Some(t) = of.ok.iter().find(inside) {
                return (false, format!("{n} renewed its lease at {t}"));
            }
            let failed = of.failed.iter().filter(inside).count();
            if failed == 0 {
                return (false, format!("{n} attempted no renewal in the window"));
            }
            parts.push(format!("{n}: {failed} failed request(s), no success"));
        }
        (true, parts.join("; "))
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nodes = self.nodes.join(", ");
        write!(
            f,
            "every lease renewal of {nodes} fails from {} to {}",
            self.from, self.until
        )
    }
}

/// These kubelets renewed at least every `max_gap` between `from` and `until`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RenewalsSucceed {
    /// Kubernetes node names.
    pub nodes: Vec<String>,
    /// Window start.
    pub from: SimTime,
    /// Window end.
    pub until: SimTime,
    /// The longest allowed stretch without a successful renewal.
    pub max_gap: SimDuration,
}

impl Kind for RenewalsSucceed {
    const NAME: &'static str = "renewals_succeed";
    const FIELDS: &'static [&'static str] = &["nodes", "from", "until", "max_gap"];

    fn parse(f: &Fields) -> R<Self> {
        let (nodes, from, until) = nodes_window(f)?;
        let max_gap = f.duration("max_gap")?;
        Ok(RenewalsSucceed {
            nodes,
            from,
            until,
            max_gap,
        })
    }

    fn evaluate(&self, r: &Judged<'_>) -> (bool, String) {
        let by_node = r.renewals_by_node();
        let mut parts = Vec::new();
        for n in &self.nodes {
            let gap = longest_gap(&by_node.of(n).ok, self.from, self.until);
            if gap > self.max_gap {
                let max = self.max_gap;
                return (
                    false,
                    format!("{n} went {gap} without a successful renewal (allowed {max})"),
                );
            }
            parts.push(format!("{n}: longest gap {gap}"));
        }
        (true, parts.join("; "))
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (nodes, gap) = (self.nodes.join(", "), self.max_gap);
        write!(
            f,
            "{nodes} renew their leases at least every {gap} from {} to {}",
            self.from, self.until
        )
    }
}

/// Across these kubelets some lease requests failed in the window, yet each of them still renewed:
/// degraded, not down.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RenewalsDegraded {
    /// Kubernetes node names.
    pub nodes: Vec<String>,
    /// Window start.
    pub from: SimTime,
    /// Window end.
    pub until: SimTime,
}

impl Kind for RenewalsDegraded {
    const NAME: &'static str = "renewals_degraded";
    const FIELDS: &'static [&'static str] = &["nodes", "from", "until"];

    fn parse(f: &Fields) -> R<Self> {
        let (nodes, from, until) = nodes_window(f)?;
        Ok(RenewalsDegraded { nodes, from, until })
    }

    fn evaluate(&self, r: &Judged<'_>) -> (bool, String) {
        let inside = |ts: &[SimTime]| {
            ts.iter()
                .filter(|t| **t > self.from && **t <= self.until)
                .count()
        };
        let by_node = r.renewals_by_node();
        let mut failed = 0;
        let mut parts = Vec::new();
        for n in &self.nodes {
            let of = by_node.of(n);
            let (ok, bad) = (inside(&of.ok), inside(&of.failed));
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

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nodes = self.nodes.join(", ");
        write!(
            f,
            "{nodes} see failed lease requests yet keep renewing from {} to {}",
            self.from, self.until
        )
    }
}

/// At every one-second probe between `from` and `until` some member led with the highest term,
/// and the commit index advanced in every 10 s window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QuorumKept {
    /// Window start.
    pub from: SimTime,
    /// Window end.
    pub until: SimTime,
}

impl Kind for QuorumKept {
    const NAME: &'static str = "quorum_kept";
    const FIELDS: &'static [&'static str] = &["from", "until"];

    fn parse(f: &Fields) -> R<Self> {
        let (from, until) = f.window()?;
        Ok(QuorumKept { from, until })
    }

    fn evaluate(&self, r: &Judged<'_>) -> (bool, String) {
        let probes: Vec<_> = r
            .cluster_probes
            .iter()
            .filter(|p| p.at >= self.from && p.at <= self.until)
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
        let n = probes.len();
        (
            true,
            format!("{n} probes, leader(s) {leaders:?}, commit index advanced in every 10s window"),
        )
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "etcd keeps a leader and commits from {} to {}",
            self.from, self.until
        )
    }
}

/// The controller-manager of this master held leadership at `at`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KcmLeader {
    /// Master number (1-based).
    pub master: u64,
    /// When.
    pub at: SimTime,
}

impl Kind for KcmLeader {
    const NAME: &'static str = "kcm_leader";
    const FIELDS: &'static [&'static str] = &["master", "at"];

    fn parse(f: &Fields) -> R<Self> {
        let master = f.u64("master")?;
        f.need_kubernetes("master")?;
        let n = f.members();
        if master == 0 || master > n {
            return Err(f.err(
                "master",
                format!("master {master} does not exist: masters are 1..={n}"),
            ));
        }
        Ok(KcmLeader {
            master,
            at: f.time("at")?,
        })
    }

    fn evaluate(&self, r: &Judged<'_>) -> (bool, String) {
        let at = self.at;
        match r.kcm_leader_at(at) {
            Some(h) => (
                h == self.master,
                format!("kube-controller-manager on master-{h} led at {at}"),
            ),
            None => (false, format!("no kube-controller-manager led at {at}")),
        }
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "kube-controller-manager on master-{} leads at {}",
            self.master, self.at
        )
    }
}

/// Whether any controller-manager lost its leadership in the window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KcmLeadershipLost {
    /// Window start.
    pub from: SimTime,
    /// Window end.
    pub until: SimTime,
    /// Whether a loss must happen.
    pub expected: bool,
}

impl Kind for KcmLeadershipLost {
    const NAME: &'static str = "kcm_leadership_lost";
    const FIELDS: &'static [&'static str] = &["from", "until", "expected"];

    fn parse(f: &Fields) -> R<Self> {
        let expected = f.bool("expected")?;
        f.need_kubernetes("expected")?;
        let (from, until) = (f.time("from")?, f.time("until")?);
        Ok(KcmLeadershipLost {
            from,
            until,
            expected,
        })
    }

    fn evaluate(&self, r: &Judged<'_>) -> (bool, String) {
        let lost: Vec<String> = r
            .trace
            .iter()
            .filter(|t| t.at >= self.from && t.at <= self.until)
            .filter_map(|t| match t.event {
                crate::sim::trace::TraceEvent::KcmLeadership {
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
        (lost.is_empty() != self.expected, detail)
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.expected {
            "loses"
        } else {
            "never loses"
        };
        write!(
            f,
            "a kube-controller-manager {verb} leadership from {} to {}",
            self.from, self.until
        )
    }
}
