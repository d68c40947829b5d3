//! Expected outcomes a scenario states (`[[expect]]`), validated. Evaluation against a run lives
//! in `check::expect`.

use super::file::{CheckName, FileExpect, OutcomeName, RoleName};
use super::{Positions, ScenarioError};
use crate::sim::ids::NodeId;
use crate::sim::time::{SimDuration, SimTime};
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectedOutcome {
    Ok,
    Timeout,
    Error,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum Check {
    /// Every operation of the command(s) with this id (optionally only those routed to some
    /// members) ended this way.
    Command {
        id: String,
        routed_to: Option<Vec<NodeId>>,
        outcome: Option<ExpectedOutcome>,
        latency: Option<SimDuration>,
        latency_max: Option<SimDuration>,
        /// `Some(Some(v))`: found with value v; `Some(None)`: not found.
        value: Option<Option<String>>,
        error_contains: Option<String>,
    },
    /// One member's row of an `endpoint status` command.
    Status {
        id: String,
        node: NodeId,
        answered: bool,
        index_behind_leader: Option<bool>,
        is_leader: Option<bool>,
    },
    /// Whether the write(s) of command `id` ever took effect on any member.
    WriteApplied { id: String, applied: bool },
    /// Whether a write whose client saw a timeout or error took effect after a later write to
    /// the same key had been acknowledged, overwriting it.
    TimedOutWriteOverwrote { key: String, expected: bool },
    /// No member changed term between `from` and `until`.
    NoElection { from: SimTime, until: SimTime },
    /// `node` had this role at time `at`.
    Role {
        node: NodeId,
        at: SimTime,
        role: RoleName,
    },
    /// `node` applied as far as the most advanced member by `by`, and stayed caught up.
    CaughtUp { node: NodeId, by: SimTime },
    /// Every acknowledged write is reflected in every member's final state (or overwritten later).
    NoLostAcknowledgedWrites,
    /// All members end with the same applied index and key-value contents.
    Converged,
    /// Each node went Ready=Unknown, between `min` and `max` after the last renewal of its lease
    /// that took effect in etcd (acknowledged to the kubelet or not).
    NodeNotReady {
        nodes: Vec<String>,
        min: SimDuration,
        max: SimDuration,
    },
    /// None of these nodes went Ready=Unknown between `from` and `until`.
    NodesReady {
        nodes: Vec<String>,
        from: SimTime,
        until: SimTime,
    },
    /// Every lease renewal these kubelets attempted between `from` and `until` failed (and they
    /// attempted at least one).
    RenewalsFail {
        nodes: Vec<String>,
        from: SimTime,
        until: SimTime,
    },
    /// These kubelets renewed at least every `max_gap` between `from` and `until`.
    RenewalsSucceed {
        nodes: Vec<String>,
        from: SimTime,
        until: SimTime,
        max_gap: SimDuration,
    },
    /// At every one-second probe between `from` and `until` some member led with the highest
    /// term, and the commit index advanced in every 10 s window.
    QuorumKept { from: SimTime, until: SimTime },
    /// The controller-manager of this master held leadership at `at`.
    KcmLeader { master: u64, at: SimTime },
    /// Across these kubelets some lease requests failed in the window, yet each of them still
    /// renewed: degraded, not down.
    RenewalsDegraded {
        nodes: Vec<String>,
        from: SimTime,
        until: SimTime,
    },
    /// Whether any controller-manager lost its leadership in the window.
    KcmLeadershipLost {
        from: SimTime,
        until: SimTime,
        expected: bool,
    },
    /// How many etcd members believed they were leader at `at` (a member whose loop is blocked
    /// keeps its last belief).
    ClaimedLeaders { at: SimTime, count: u64 },
    /// Every read of command `id` completed, or ran out of time less than `within` after the
    /// cluster had a leader again (a read a member drops must be retried once a leader exists).
    ReadLiveness { id: String, within: SimDuration },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Expect {
    pub check: Check,
    /// The author's explanation, shown with the verdict.
    pub why: Option<String>,
}

impl Serialize for RoleName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            RoleName::Leader => "leader",
            RoleName::Follower => "follower",
        })
    }
}

/// What expectation validation needs to know about the rest of the scenario.
pub(crate) struct Context<'a> {
    pub nodes: u64,
    pub end: SimTime,
    pub ids: &'a [String],
    pub k8s_nodes: &'a [String],
}

pub(crate) fn validate(
    v: &impl Positions,
    e: &FileExpect,
    cx: &Context,
) -> Result<Expect, ScenarioError> {
    let (n, end, ids) = (cx.nodes, cx.end, cx.ids);
    let kind = &e.check;
    let name = format!("check = {:?}", kind.get_ref()).to_lowercase();
    let need = |present: bool, field: &str| -> Result<(), ScenarioError> {
        if present {
            Ok(())
        } else {
            Err(v.err_span(kind, format!("{name} needs `{field}`")))
        }
    };
    let id = || -> Result<String, ScenarioError> {
        let s =
            e.id.as_ref()
                .ok_or_else(|| v.err_span(kind, format!("{name} needs `id` (a command id)")))?;
        if !ids.contains(s.get_ref()) {
            let mut known: Vec<&String> = ids.iter().collect();
            known.dedup();
            return Err(v.err_span(
                s,
                format!("no command has id `{}`; known ids: {known:?}", s.get_ref()),
            ));
        }
        Ok(s.get_ref().clone())
    };
    let node = || -> Result<NodeId, ScenarioError> {
        let s = e
            .node
            .as_ref()
            .ok_or_else(|| v.err_span(kind, format!("{name} needs `node`")))?;
        v.node_id(s, n)
    };
    let time =
        |d: &Option<crate::scenario::file::Dur>, field: &str| -> Result<SimTime, ScenarioError> {
            let s = d
                .as_ref()
                .ok_or_else(|| v.err_span(kind, format!("{name} needs `{field}`")))?;
            v.time(s, end, field)
        };
    let check = match kind.get_ref() {
        CheckName::Command => {
            if e.value.is_some() && e.found == Some(false) {
                return Err(v.err_span(
                    kind,
                    "`value` and `found = false` contradict each other".into(),
                ));
            }
            let value = match (&e.value, e.found) {
                (Some(x), _) => Some(Some(x.clone())),
                (None, Some(false)) => Some(None),
                _ => None,
            };
            Check::Command {
                id: id()?,
                routed_to: e
                    .routed_to
                    .as_ref()
                    .map(|r| v.node_list(r, n))
                    .transpose()?,
                outcome: e.outcome.map(|o| match o {
                    OutcomeName::Ok => ExpectedOutcome::Ok,
                    OutcomeName::Timeout => ExpectedOutcome::Timeout,
                    OutcomeName::Error => ExpectedOutcome::Error,
                }),
                latency: e.latency.as_ref().map(|d| d.get_ref().0),
                latency_max: e.latency_max.as_ref().map(|d| d.get_ref().0),
                value,
                error_contains: e.error_contains.clone(),
            }
        }
        CheckName::Status => {
            need(e.answered.is_some(), "answered")?;
            Check::Status {
                id: id()?,
                node: node()?,
                answered: e.answered.unwrap_or(true),
                index_behind_leader: e.index_behind_leader,
                is_leader: e.is_leader,
            }
        }
        CheckName::WriteApplied => {
            need(e.applied.is_some(), "applied")?;
            Check::WriteApplied {
                id: id()?,
                applied: e.applied.unwrap_or(false),
            }
        }
        CheckName::TimedOutWriteOverwrote => {
            need(e.key.is_some(), "key")?;
            need(e.expected.is_some(), "expected")?;
            Check::TimedOutWriteOverwrote {
                key: e.key.clone().unwrap_or_default(),
                expected: e.expected.unwrap_or(false),
            }
        }
        CheckName::NoElection => {
            let from = time(&e.from, "from")?;
            let until = time(&e.until, "until")?;
            if until <= from {
                return Err(v.err_span(
                    e.until.as_ref().expect("checked"),
                    format!("window ends ({until}) before it starts ({from})"),
                ));
            }
            Check::NoElection { from, until }
        }
        CheckName::Role => {
            need(e.role.is_some(), "role")?;
            Check::Role {
                node: node()?,
                at: time(&e.at, "at")?,
                role: e.role.unwrap_or(RoleName::Follower),
            }
        }
        CheckName::CaughtUp => Check::CaughtUp {
            node: node()?,
            by: time(&e.by, "by")?,
        },
        CheckName::NoLostAcknowledgedWrites => Check::NoLostAcknowledgedWrites,
        CheckName::Converged => Check::Converged,
        CheckName::NodeNotReady => {
            let nodes = k8s_names(v, e, cx, &name)?;
            let min = e.after_last_renewal_min.as_ref().ok_or_else(|| {
                v.err_span(kind, format!("{name} needs `after_last_renewal_min`"))
            })?;
            let max = e.after_last_renewal_max.as_ref().ok_or_else(|| {
                v.err_span(kind, format!("{name} needs `after_last_renewal_max`"))
            })?;
            if max.get_ref().0 < min.get_ref().0 {
                return Err(v.err_span(
                    max,
                    "after_last_renewal_max is smaller than after_last_renewal_min".into(),
                ));
            }
            Check::NodeNotReady {
                nodes,
                min: min.get_ref().0,
                max: max.get_ref().0,
            }
        }
        CheckName::NodesReady
        | CheckName::RenewalsFail
        | CheckName::RenewalsSucceed
        | CheckName::RenewalsDegraded => {
            let nodes = k8s_names(v, e, cx, &name)?;
            let from = time(&e.from, "from")?;
            let until = time(&e.until, "until")?;
            if until <= from {
                return Err(v.err_span(
                    e.until.as_ref().expect("checked"),
                    format!("window ends ({until}) before it starts ({from})"),
                ));
            }
            match kind.get_ref() {
                CheckName::NodesReady => Check::NodesReady { nodes, from, until },
                CheckName::RenewalsFail => Check::RenewalsFail { nodes, from, until },
                CheckName::RenewalsDegraded => Check::RenewalsDegraded { nodes, from, until },
                _ => {
                    let gap = e
                        .max_gap
                        .as_ref()
                        .ok_or_else(|| v.err_span(kind, format!("{name} needs `max_gap`")))?;
                    Check::RenewalsSucceed {
                        nodes,
                        from,
                        until,
                        max_gap: gap.get_ref().0,
                    }
                }
            }
        }
        CheckName::QuorumKept => {
            let from = time(&e.from, "from")?;
            let until = time(&e.until, "until")?;
            if until <= from {
                return Err(v.err_span(
                    e.until.as_ref().expect("checked"),
                    format!("window ends ({until}) before it starts ({from})"),
                ));
            }
            Check::QuorumKept { from, until }
        }
        CheckName::KcmLeadershipLost => {
            need(e.expected.is_some(), "expected")?;
            if cx.k8s_nodes.is_empty() {
                return Err(v.err_span(kind, format!("{name} needs a [kubernetes] table")));
            }
            let from = time(&e.from, "from")?;
            let until = time(&e.until, "until")?;
            Check::KcmLeadershipLost {
                from,
                until,
                expected: e.expected.unwrap_or(false),
            }
        }
        CheckName::ReadLiveness => {
            let w = e
                .within
                .as_ref()
                .ok_or_else(|| v.err_span(kind, format!("{name} needs `within`")))?;
            Check::ReadLiveness {
                id: id()?,
                within: w.get_ref().0,
            }
        }
        CheckName::ClaimedLeaders => {
            let c = e
                .count
                .as_ref()
                .ok_or_else(|| v.err_span(kind, format!("{name} needs `count`")))?;
            if *c.get_ref() > n {
                return Err(v.err_span(
                    c,
                    format!("count {} is more than the {n} members", c.get_ref()),
                ));
            }
            Check::ClaimedLeaders {
                at: time(&e.at, "at")?,
                count: *c.get_ref(),
            }
        }
        CheckName::KcmLeader => {
            let m = e
                .master
                .as_ref()
                .ok_or_else(|| v.err_span(kind, format!("{name} needs `master`")))?;
            if cx.k8s_nodes.is_empty() {
                return Err(v.err_span(kind, format!("{name} needs a [kubernetes] table")));
            }
            if *m.get_ref() == 0 || *m.get_ref() > n {
                return Err(v.err_span(
                    m,
                    format!("master {} does not exist: masters are 1..={n}", m.get_ref()),
                ));
            }
            Check::KcmLeader {
                master: *m.get_ref(),
                at: time(&e.at, "at")?,
            }
        }
    };
    Ok(Expect {
        check,
        why: e.why.clone(),
    })
}

impl Expect {
    /// The instant at which the run must sample every member's progress for this check.
    pub fn probe_time(&self) -> Option<SimTime> {
        match self.check {
            Check::CaughtUp { by, .. } => Some(by),
            _ => None,
        }
    }
}

impl std::fmt::Display for Check {
    /// The expectation in words, as the timeline and error messages show it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Check::Command {
                id,
                routed_to,
                outcome,
                latency,
                latency_max,
                value,
                error_contains,
            } => {
                write!(f, "command `{id}`")?;
                if let Some(r) = routed_to {
                    let names: Vec<String> = r.iter().map(|n| n.to_string()).collect();
                    write!(f, " routed to {}", names.join("/"))?;
                }
                if let Some(o) = outcome {
                    write!(f, " ends {}", format!("{o:?}").to_lowercase())?;
                }
                if let Some(l) = latency {
                    write!(f, " after exactly {l}")?;
                }
                if let Some(l) = latency_max {
                    write!(f, " within {l}")?;
                }
                match value {
                    Some(Some(v)) => write!(f, " reading {v:?}")?,
                    Some(None) => write!(f, " finding nothing")?,
                    None => {}
                }
                if let Some(e) = error_contains {
                    write!(f, " with an error containing {e:?}")?;
                }
                Ok(())
            }
            Check::Status {
                id,
                node,
                answered,
                index_behind_leader,
                is_leader,
            } => {
                write!(
                    f,
                    "`{id}`: {node} {}",
                    if *answered {
                        "answers"
                    } else {
                        "does not answer"
                    }
                )?;
                if let Some(b) = index_behind_leader {
                    write!(
                        f,
                        ", raft index {}behind the highest",
                        if *b { "" } else { "not " }
                    )?;
                }
                if let Some(l) = is_leader {
                    write!(f, ", {}the leader", if *l { "" } else { "not " })?;
                }
                Ok(())
            }
            Check::WriteApplied { id, applied } => {
                write!(
                    f,
                    "write `{id}` {} applied",
                    if *applied { "is" } else { "is never" }
                )
            }
            Check::TimedOutWriteOverwrote { key, expected } => write!(
                f,
                "a timed-out write to `{key}` {} an acknowledged value",
                if *expected {
                    "overwrites"
                } else {
                    "never overwrites"
                }
            ),
            Check::NoElection { from, until } => write!(f, "no election from {from} to {until}"),
            Check::Role { node, at, role } => write!(
                f,
                "{node} is {} at {at}",
                format!("{role:?}").to_lowercase()
            ),
            Check::CaughtUp { node, by } => write!(f, "{node} caught up by {by}"),
            Check::NoLostAcknowledgedWrites => write!(f, "no acknowledged write lost"),
            Check::Converged => write!(f, "all live members converge"),
            Check::NodeNotReady { nodes, min, max } => write!(
                f,
                "{} go NotReady {min}..{max} after their last lease renewal that took effect",
                nodes.join(", ")
            ),
            Check::NodesReady { nodes, from, until } => {
                write!(f, "{} stay Ready from {from} to {until}", nodes.join(", "))
            }
            Check::RenewalsFail { nodes, from, until } => {
                write!(
                    f,
                    "every lease renewal of {} fails from {from} to {until}",
                    nodes.join(", ")
                )
            }
            Check::RenewalsSucceed {
                nodes,
                from,
                until,
                max_gap,
            } => write!(
                f,
                "{} renew their leases at least every {max_gap} from {from} to {until}",
                nodes.join(", ")
            ),
            Check::QuorumKept { from, until } => {
                write!(f, "etcd keeps a leader and commits from {from} to {until}")
            }
            Check::KcmLeader { master, at } => write!(
                f,
                "kube-controller-manager on master-{master} leads at {at}"
            ),
            Check::RenewalsDegraded { nodes, from, until } => write!(
                f,
                "{} see failed lease requests yet keep renewing from {from} to {until}",
                nodes.join(", ")
            ),
            Check::KcmLeadershipLost {
                from,
                until,
                expected,
            } => write!(
                f,
                "a kube-controller-manager {} leadership from {from} to {until}",
                if *expected { "loses" } else { "never loses" }
            ),
            Check::ReadLiveness { id, within } => {
                write!(
                    f,
                    "reads of `{id}` complete within {within} once there is a leader"
                )
            }
            Check::ClaimedLeaders { at, count } => {
                write!(f, "{count} etcd member(s) claim leadership at {at}")
            }
        }
    }
}

fn k8s_names(
    v: &impl Positions,
    e: &FileExpect,
    cx: &Context,
    name: &str,
) -> Result<Vec<String>, ScenarioError> {
    let s = e.nodes.as_ref().ok_or_else(|| {
        v.err_span(
            &e.check,
            format!("{name} needs `nodes` (Kubernetes node names)"),
        )
    })?;
    if cx.k8s_nodes.is_empty() {
        return Err(v.err_span(s, format!("{name} needs a [kubernetes] table")));
    }
    if s.get_ref().is_empty() {
        return Err(v.err_span(s, "nodes must list at least one node".into()));
    }
    for x in s.get_ref() {
        if !cx.k8s_nodes.contains(x) {
            return Err(v.err_span(
                s,
                format!("no node named `{x}`; nodes are {}", cx.k8s_nodes.join(", ")),
            ));
        }
    }
    Ok(s.get_ref().clone())
}
