//! Checkers: the scenario's stated expectations and the always-on durability and convergence
//! checks, evaluated on a finished run's record (trace, history, final member states).

pub mod history;
pub mod kubernetes;
pub mod linearizability;
pub mod safety;

use crate::client::{HistoryOp, Outcome};
use crate::node::kv::KvResult;
use crate::node::rpc::{ReplyBody, ServerOp};
use crate::node::NodeStatus;
use crate::run::{NodeSummary, RunResult};
use crate::scenario::expect::{Check, Expect, ExpectedOutcome};
use crate::scenario::file::RoleName;
use crate::sim::ids::{NodeId, OpId, RequestId};
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::trace::{Role, TraceEvent};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// The verdict on one expectation.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub check: Check,
    pub why: Option<String>,
    pub passed: bool,
    /// What was observed, in a sentence.
    pub detail: String,
}

pub fn evaluate(r: &RunResult, e: &Expect) -> Verdict {
    let (passed, detail) = match &e.check {
        Check::Command {
            id,
            routed_to,
            outcome,
            latency,
            latency_max,
            value,
            error_contains,
        } => command(
            r,
            id,
            routed_to.as_deref(),
            CommandExpect {
                outcome: outcome.as_ref(),
                latency: *latency,
                latency_max: *latency_max,
                value,
                error_contains,
            },
        ),
        Check::Status {
            id,
            node,
            answered,
            index_behind_leader,
            is_leader,
        } => status(r, id, *node, *answered, *index_behind_leader, *is_leader),
        Check::WriteApplied { id, applied } => write_applied(r, id, *applied),
        Check::TimedOutWriteOverwrote { key, expected } => overwrote(r, key, *expected),
        Check::NoElection { from, until } => no_election(r, *from, *until),
        Check::Role { node, at, role } => role_at(r, *node, *at, *role),
        Check::CaughtUp { node, by } => caught_up(r, *node, *by),
        Check::NoLostAcknowledgedWrites => no_lost_writes(r),
        Check::Converged => converged(r),
        Check::NodeNotReady { nodes, min, max } => kubernetes::node_not_ready(r, nodes, *min, *max),
        Check::NodesReady { nodes, from, until } => {
            kubernetes::nodes_ready(r, nodes, *from, *until)
        }
        Check::RenewalsFail { nodes, from, until } => {
            kubernetes::renewals_fail(r, nodes, *from, *until)
        }
        Check::RenewalsSucceed {
            nodes,
            from,
            until,
            max_gap,
        } => kubernetes::renewals_succeed(r, nodes, *from, *until, *max_gap),
        Check::QuorumKept { from, until } => kubernetes::quorum_kept(r, *from, *until),
        Check::KcmLeader { master, at } => kubernetes::kcm_leader(r, *master, *at),
        Check::RenewalsDegraded { nodes, from, until } => {
            kubernetes::renewals_degraded(r, nodes, *from, *until)
        }
        Check::KcmLeadershipLost {
            from,
            until,
            expected,
        } => kubernetes::kcm_leadership_lost(r, *from, *until, *expected),
        Check::ClaimedLeaders { at, count } => claimed_leaders(r, *at, *count),
        Check::ReadLiveness { id, within } => read_liveness(r, id, *within),
    };
    Verdict {
        check: e.check.clone(),
        why: e.why.clone(),
        passed,
        detail,
    }
}

struct CommandExpect<'a> {
    outcome: Option<&'a ExpectedOutcome>,
    latency: Option<crate::sim::time::SimDuration>,
    latency_max: Option<crate::sim::time::SimDuration>,
    value: &'a Option<Option<String>>,
    error_contains: &'a Option<String>,
}

fn ops_of<'a>(r: &'a RunResult, id: &str) -> Vec<&'a HistoryOp> {
    r.history
        .iter()
        .filter(|h| {
            h.command
                .is_some_and(|c| r.scenario.commands[c].id.as_deref() == Some(id))
        })
        .collect()
}

fn command(r: &RunResult, id: &str, routed: Option<&[NodeId]>, x: CommandExpect) -> (bool, String) {
    let ops: Vec<&HistoryOp> = ops_of(r, id)
        .into_iter()
        .filter(|h| routed.is_none_or(|set| h.routed_to.last().is_some_and(|n| set.contains(n))))
        .collect();
    if ops.is_empty() {
        return (
            false,
            format!("no operation of `{id}` matched (routed_to {routed:?})"),
        );
    }
    for h in &ops {
        if let Some(problem) = command_problem(h, &x) {
            return (
                false,
                format!(
                    "op {} ({} at {}): {problem}",
                    h.op.0,
                    h.kind.summary(),
                    h.invoked
                ),
            );
        }
    }
    let lat: Vec<String> = ops
        .iter()
        .map(|h| {
            format!(
                "{}@{}",
                h.outcome.name(),
                h.completed
                    .map_or("-".into(), |c| c.since(h.invoked).to_string())
            )
        })
        .collect();
    (true, format!("{} op(s): {}", ops.len(), lat.join(", ")))
}

fn command_problem(h: &HistoryOp, x: &CommandExpect) -> Option<String> {
    let name = h.outcome.name();
    if let Some(o) = x.outcome {
        let want = match o {
            ExpectedOutcome::Ok => "ok",
            ExpectedOutcome::Timeout => "timeout",
            ExpectedOutcome::Error => "error",
        };
        if name != want {
            return Some(format!("outcome {name}, expected {want} ({:?})", h.outcome));
        }
    }
    let took = h.completed.map(|c| c.since(h.invoked));
    if let Some(l) = x.latency {
        if took != Some(l) {
            return Some(format!("took {took:?}, expected exactly {l}"));
        }
    }
    if let Some(l) = x.latency_max {
        if took.is_none_or(|t| t > l) {
            return Some(format!("took {took:?}, expected at most {l}"));
        }
    }
    if let Some(want) = x.value {
        let got = match &h.reply {
            Some(ReplyBody::Kv {
                result: KvResult::Get { kv, .. },
                ..
            }) => kv.as_ref().map(|kv| kv.value.clone()),
            _ => return Some("no get result".into()),
        };
        if &got != want {
            return Some(format!("value {got:?}, expected {want:?}"));
        }
    }
    if let Some(s) = x.error_contains {
        match &h.outcome {
            Outcome::Failed(m) if m.contains(s.as_str()) => {}
            Outcome::Timeout if "context deadline exceeded".contains(s.as_str()) => {}
            o => return Some(format!("error {o:?} does not contain {s:?}")),
        }
    }
    None
}

fn status(
    r: &RunResult,
    id: &str,
    node: NodeId,
    answered: bool,
    behind: Option<bool>,
    leader: Option<bool>,
) -> (bool, String) {
    let ops = ops_of(r, id);
    let Some(h) = ops
        .iter()
        .find(|h| h.endpoints == [node] && matches!(h.kind, ServerOp::Status))
    else {
        return (
            false,
            format!("command `{id}` has no status row for {node}"),
        );
    };
    let got = h.outcome == Outcome::Ok;
    if got != answered {
        return (
            false,
            format!(
                "{node} answered={got} ({:?}), expected answered={answered}",
                h.outcome
            ),
        );
    }
    let Some(ReplyBody::Status(s)) = &h.reply else {
        return (true, format!("{node} did not answer ({:?})", h.outcome));
    };
    let max_index = ops
        .iter()
        .filter_map(|o| match &o.reply {
            Some(ReplyBody::Status(s)) => Some(s.raft_index),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    if let Some(b) = behind {
        if (s.raft_index < max_index) != b {
            return (
                false,
                format!(
                    "{node} raft index {} vs highest {max_index}: behind={}, expected {b}",
                    s.raft_index, !b
                ),
            );
        }
    }
    if let Some(l) = leader {
        if (s.leader == node.0) != l {
            return (false, format!("{node} is_leader={}, expected {l}", !l));
        }
    }
    (
        true,
        format!(
            "{node}: term {} index {} applied {} (highest index {max_index})",
            s.raft_term, s.raft_index, s.raft_applied_index
        ),
    )
}

/// The requests each operation sent, in one pass over the trace.
fn requests_by_op(r: &RunResult) -> BTreeMap<OpId, Vec<RequestId>> {
    let mut m: BTreeMap<OpId, Vec<RequestId>> = BTreeMap::new();
    for t in &r.trace {
        if let TraceEvent::RequestSent { op, request, .. } = t.event {
            m.entry(op).or_default().push(request);
        }
    }
    m
}

fn write_applied(r: &RunResult, id: &str, applied: bool) -> (bool, String) {
    let ops = ops_of(r, id);
    let mut seen = Vec::new();
    for h in &ops {
        if let Some((index, at)) = r.first_applied.get(&h.op) {
            seen.push(format!("op {} applied at index {index}, {at}", h.op.0));
        }
    }
    let any = !seen.is_empty();
    let detail = if any {
        seen.join("; ")
    } else {
        format!("none of {} op(s) was applied by any member", ops.len())
    };
    (any == applied, detail)
}

fn overwrote(r: &RunResult, key: &str, expected: bool) -> (bool, String) {
    let hits: Vec<String> = r
        .trace
        .iter()
        .filter_map(|t| match &t.event {
            TraceEvent::TimedOutWriteApplied {
                key: k,
                value,
                overwrote_acknowledged: true,
                node,
                ..
            } if k == key => Some(format!(
                "{} applied timed-out write {key}={value} on {node}",
                t.at
            )),
            _ => None,
        })
        .collect();
    let detail = if hits.is_empty() {
        format!("no timed-out write to `{key}` overwrote an acknowledged one")
    } else {
        hits.join("; ")
    };
    (hits.is_empty() != expected, detail)
}

fn no_election(r: &RunResult, from: SimTime, until: SimTime) -> (bool, String) {
    let term_before = r
        .trace
        .iter()
        .take_while(|t| t.at <= from)
        .filter_map(|t| match t.event {
            TraceEvent::RoleChanged { term, .. } => Some(term),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let bad = r
        .trace
        .iter()
        .filter(|t| t.at > from && t.at <= until)
        .find_map(|t| match t.event {
            TraceEvent::RoleChanged {
                node, role, term, ..
            } if term > term_before || matches!(role, Role::Candidate | Role::PreCandidate) => {
                Some(format!("{node} became {role:?} in term {term} at {}", t.at))
            }
            _ => None,
        });
    match bad {
        Some(b) => (false, b),
        None => (
            true,
            format!("term stayed {term_before} from {from} to {until}"),
        ),
    }
}

fn role_at(r: &RunResult, node: NodeId, at: SimTime, role: RoleName) -> (bool, String) {
    let last = r
        .trace
        .iter()
        .take_while(|t| t.at <= at)
        .filter_map(|t| match t.event {
            TraceEvent::RoleChanged {
                node: n,
                role,
                term,
                ..
            } if n == node => Some((role, term)),
            _ => None,
        })
        .last();
    let want = match role {
        RoleName::Leader => Role::Leader,
        RoleName::Follower => Role::Follower,
    };
    match last {
        Some((got, term)) => (
            got == want,
            format!("{node} was {got:?} (term {term}) at {at}"),
        ),
        None => (false, format!("{node} had no role yet at {at}")),
    }
}

fn caught_up(r: &RunResult, node: NodeId, by: SimTime) -> (bool, String) {
    let Some(p) = r.probes.iter().find(|p| p.at == by) else {
        return (false, format!("no probe at {by}"));
    };
    let mine = p.applied[(node.0 - 1) as usize];
    let max = p.applied.iter().copied().max().unwrap_or(0);
    (
        mine == max && mine > 0,
        format!("at {by} {node} had applied {mine}; the most advanced member {max}"),
    )
}

fn live(r: &RunResult) -> Vec<&NodeSummary> {
    r.nodes
        .iter()
        .filter(|n| n.status != NodeStatus::Crashed)
        .collect()
}

fn no_lost_writes(r: &RunResult) -> (bool, String) {
    let acked: Vec<&HistoryOp> = r
        .history
        .iter()
        .filter(|h| h.outcome == Outcome::Ok && matches!(h.kind, ServerOp::Write { .. }))
        .collect();
    let mut applied: BTreeMap<NodeId, BTreeSet<RequestId>> = BTreeMap::new();
    for n in live(r) {
        applied.insert(n.id, n.applied_requests.iter().copied().collect());
    }
    let by_op = requests_by_op(r);
    for h in &acked {
        let reqs = by_op.get(&h.op).map(Vec::as_slice).unwrap_or(&[]);
        for (node, set) in &applied {
            if !reqs.iter().any(|q| set.contains(q)) {
                return (
                    false,
                    format!(
                        "acknowledged write op {} ({}) is missing on {node}",
                        h.op.0,
                        h.kind.summary()
                    ),
                );
            }
        }
    }
    (
        true,
        format!(
            "{} acknowledged write(s) present on all {} live member(s)",
            acked.len(),
            applied.len()
        ),
    )
}

fn converged(r: &RunResult) -> (bool, String) {
    let nodes = live(r);
    let Some(first) = nodes.first() else {
        return (false, "no live member".into());
    };
    for n in &nodes[1..] {
        if n.applied != first.applied || n.kv != first.kv {
            return (
                false,
                format!(
                    "{} applied {} vs {} applied {}, contents differ: {}",
                    n.id,
                    n.applied,
                    first.id,
                    first.applied,
                    n.kv != first.kv
                ),
            );
        }
    }
    (
        true,
        format!(
            "{} live member(s) at applied index {} with identical contents",
            nodes.len(),
            first.applied
        ),
    )
}

/// Convenience for callers holding an `OpId` of a write: did it take effect?
pub fn was_applied(r: &RunResult, op: OpId) -> bool {
    r.first_applied.contains_key(&op)
}

/// Whether the op's outcome is unknown to its client (a write that timed out or errored).
pub fn indefinite(h: &HistoryOp) -> bool {
    matches!(h.kind, ServerOp::Write { .. })
        && matches!(h.outcome, Outcome::Timeout | Outcome::Failed(_))
}

fn claimed_leaders(r: &RunResult, at: SimTime, count: u64) -> (bool, String) {
    let mut last: BTreeMap<NodeId, (Role, u64)> = BTreeMap::new();
    for t in r.trace.iter().take_while(|t| t.at <= at) {
        match t.event {
            TraceEvent::RoleChanged {
                node, role, term, ..
            } => {
                last.insert(node, (role, term));
            }
            TraceEvent::Crashed { node, .. } => {
                last.remove(&node);
            }
            _ => {}
        }
    }
    let leaders: Vec<String> = last
        .iter()
        .filter(|(_, (r, _))| *r == Role::Leader)
        .map(|(n, (_, term))| format!("{n} (term {term})"))
        .collect();
    (
        leaders.len() as u64 == count,
        format!("at {at} leadership claimed by: {}", leaders.join(", ")),
    )
}

/// A broken invariant found by an always-on oracle.
#[derive(Clone, Debug, Serialize)]
pub struct OracleViolation {
    pub oracle: String,
    pub at: SimTime,
    pub nodes: Vec<NodeId>,
    pub detail: String,
}

/// Every oracle's findings for a finished run: the online ones recorded in the trace (Raft
/// safety, Ready contract), then linearizability of the client history, then durability of
/// acknowledged writes (only when every fault healed at least 10 s before the end).
pub fn oracle_violations(r: &RunResult) -> Vec<OracleViolation> {
    let mut out: Vec<OracleViolation> = r
        .trace
        .iter()
        .filter_map(|t| match &t.event {
            TraceEvent::Violation {
                oracle,
                nodes,
                detail,
            } => Some(OracleViolation {
                oracle: oracle.clone(),
                at: t.at,
                nodes: nodes.clone(),
                detail: detail.clone(),
            }),
            _ => None,
        })
        .collect();
    let h = history::of_run(&r.history);
    if let Err(v) = linearizability::check(&h.ops) {
        let at = v.stuck.iter().map(|o| o.invoke_us).min().unwrap_or(0);
        out.push(OracleViolation {
            oracle: "linearizability".into(),
            at: SimTime(at),
            nodes: vec![],
            detail: v.to_string(),
        });
    }
    if faults_healed(r) {
        let (ok, detail) = no_lost_writes(r);
        if !ok {
            out.push(OracleViolation {
                oracle: "durability".into(),
                at: r.sim_end,
                nodes: vec![],
                detail,
            });
        }
    }
    out
}

/// Whether every fault ended at least 10 s before the run did (so members could converge).
pub fn faults_healed(r: &RunResult) -> bool {
    let settle = SimDuration::from_secs(10);
    r.scenario
        .faults
        .iter()
        .all(|f| f.until.is_some_and(|u| u + settle <= r.sim_end))
        && r.nodes.iter().all(|n| n.status == NodeStatus::Running)
}

/// The first time at or after `t` when some member led in the highest term any member had
/// (a leader of an older term is not one the others follow), from the role changes.
fn leader_from(r: &RunResult, t: SimTime) -> Option<SimTime> {
    let mut roles: BTreeMap<NodeId, (Role, u64)> = BTreeMap::new();
    let led = |roles: &BTreeMap<NodeId, (Role, u64)>| {
        let top = roles.values().map(|(_, t)| *t).max().unwrap_or(0);
        roles
            .values()
            .any(|(role, term)| *role == Role::Leader && *term == top)
    };
    let mut checked_t = false;
    for x in &r.trace {
        if x.at >= t && !checked_t {
            checked_t = true;
            if led(&roles) {
                return Some(t);
            }
        }
        match x.event {
            TraceEvent::RoleChanged {
                node, role, term, ..
            } => {
                roles.insert(node, (role, term));
            }
            TraceEvent::Crashed { node, .. } => {
                roles.remove(&node);
            }
            _ => continue,
        }
        if checked_t && led(&roles) {
            return Some(x.at);
        }
    }
    None
}

fn read_liveness(r: &RunResult, id: &str, within: SimDuration) -> (bool, String) {
    let ops = ops_of(r, id);
    for h in &ops {
        if h.outcome == Outcome::Ok {
            continue;
        }
        let end = h.completed.unwrap_or(r.sim_end);
        match leader_from(r, h.invoked) {
            Some(l) if l + within < end => {
                return (false, format!("read to {:?} issued at {} failed ({:?}) although a leader existed from {l}", h.endpoints, h.invoked, h.outcome));
            }
            _ => {}
        }
    }
    let ok = ops.iter().filter(|h| h.outcome == Outcome::Ok).count();
    (
        true,
        format!(
            "{ok}/{} read(s) completed; the rest had no leader in time",
            ops.len()
        ),
    )
}
