//! Expectations on what etcd clients saw and what members applied.

use super::{not, Fields, Judged, Kind};
use crate::client::HistoryOp;
use crate::node::kv::KvResult;
use crate::node::rpc::{ReplyBody, ServerOp};
use crate::scenario::ScenarioError;
use crate::sim::ids::NodeId;
use crate::sim::time::SimDuration;
use crate::sim::trace::{Outcome, TraceEvent};
use serde::Serialize;
use std::fmt;

type R<T> = Result<T, ScenarioError>;

/// Every operation of the command(s) with this id (optionally only those routed to some
/// members) ended this way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CommandCheck {
    /// The command id.
    pub id: String,
    /// Only operations whose last attempt went to one of these members.
    pub routed_to: Option<Vec<NodeId>>,
    /// `ok`, `timeout` or `error`.
    pub outcome: Option<String>,
    /// Exactly this long from invoke to completion.
    pub latency: Option<SimDuration>,
    /// At most this long.
    pub latency_max: Option<SimDuration>,
    /// `Some(Some(v))`: found with value v; `Some(None)`: not found.
    pub value: Option<Option<String>>,
    /// The error message contains this.
    pub error_contains: Option<String>,
}

/// The operations a passed command check saw, as `ok@4.5ms` each: every one when there are at
/// most [`OPS_LISTED`], else the first ones and the slowest.
fn outcomes_in_short(ops: &[&HistoryOp]) -> String {
    let took = |h: &HistoryOp| h.completed.map(|c| c.since(h.invoked));
    let show = |h: &HistoryOp| {
        let t = took(h).map_or("-".into(), |t| t.to_string());
        format!("{}@{t}", h.outcome.name())
    };
    let listed: Vec<String> = ops.iter().take(OPS_LISTED).map(|h| show(h)).collect();
    let n = ops.len();
    if n <= OPS_LISTED {
        return format!("{n} op(s): {}", listed.join(", "));
    }
    let slowest = ops
        .iter()
        .max_by_key(|h| took(h))
        .expect("more than OPS_LISTED ops");
    format!(
        "{n} op(s): {}, ... {} more; slowest op {} ({})",
        listed.join(", "),
        n - OPS_LISTED,
        slowest.op.0,
        show(slowest)
    )
}

/// How many operations a passed command check lists one by one.
const OPS_LISTED: usize = 8;

impl Kind for CommandCheck {
    const NAME: &'static str = "command";
    const FIELDS: &'static [&'static str] = &[
        "id",
        "routed_to",
        "outcome",
        "latency",
        "latency_max",
        "value",
        "found",
        "error_contains",
    ];

    fn parse(f: &Fields) -> R<Self> {
        let found = f.bool_opt("found")?;
        let value = f.string_opt("value")?;
        if value.is_some() && found == Some(false) {
            return Err(f.err(
                "found",
                "`value` and `found = false` contradict each other".into(),
            ));
        }
        Ok(CommandCheck {
            id: f.command_id("id")?,
            routed_to: f.nodes_opt("routed_to")?,
            outcome: f
                .choice_opt("outcome", &["ok", "timeout", "error"])?
                .map(str::to_string),
            latency: f.duration_opt("latency")?,
            latency_max: f.duration_opt("latency_max")?,
            value: match (value, found) {
                (Some(x), _) => Some(Some(x)),
                (None, Some(false)) => Some(None),
                _ => None,
            },
            error_contains: f.string_opt("error_contains")?,
        })
    }

    fn evaluate(&self, r: &Judged<'_>) -> (bool, String) {
        let routed = self.routed_to.as_deref();
        let ops: Vec<&HistoryOp> = r
            .ops(&self.id)
            .into_iter()
            .filter(|h| {
                routed.is_none_or(|set| h.routed_to.last().is_some_and(|n| set.contains(n)))
            })
            .collect();
        if ops.is_empty() {
            let id = &self.id;
            return (
                false,
                format!("no operation of `{id}` matched (routed_to {routed:?})"),
            );
        }
        for h in &ops {
            if let Some(problem) = self.problem(h) {
                let (op, what, at) = (h.op.0, h.kind.summary(), h.invoked);
                return (false, format!("op {op} ({what} at {at}): {problem}"));
            }
        }
        (true, outcomes_in_short(&ops))
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "command `{}`", self.id)?;
        if let Some(r) = &self.routed_to {
            let names: Vec<String> = r.iter().map(|n| n.to_string()).collect();
            write!(f, " routed to {}", names.join("/"))?;
        }
        if let Some(o) = &self.outcome {
            write!(f, " ends {o}")?;
        }
        if let Some(l) = self.latency {
            write!(f, " after exactly {l}")?;
        }
        if let Some(l) = self.latency_max {
            write!(f, " within {l}")?;
        }
        match &self.value {
            Some(Some(v)) => write!(f, " reading {v:?}")?,
            Some(None) => write!(f, " finding nothing")?,
            None => {}
        }
        if let Some(e) = &self.error_contains {
            write!(f, " with an error containing {e:?}")?;
        }
        Ok(())
    }
}

impl CommandCheck {
    fn problem(&self, h: &HistoryOp) -> Option<String> {
        let name = h.outcome.name();
        if let Some(want) = &self.outcome {
            if name != want {
                return Some(format!("outcome {name}, expected {want} ({:?})", h.outcome));
            }
        }
        let took = h.completed.map(|c| c.since(h.invoked));
        if let Some(l) = self.latency {
            if took != Some(l) {
                return Some(format!("took {took:?}, expected exactly {l}"));
            }
        }
        if let Some(l) = self.latency_max {
            if took.is_none_or(|t| t > l) {
                return Some(format!("took {took:?}, expected at most {l}"));
            }
        }
        if let Some(want) = &self.value {
            let got = match &h.reply {
                Some(ReplyBody::Kv {
                    result: KvResult::Get { kv, .. },
                    ..
                }) => kv.as_ref().map(|kv| kv.value.to_string()),
                _ => return Some("no get result".into()),
            };
            if &got != want {
                return Some(format!("value {got:?}, expected {want:?}"));
            }
        }
        if let Some(s) = &self.error_contains {
            match &h.outcome {
                Outcome::Failed(m) if m.contains(s.as_str()) => {}
                Outcome::Timeout if "context deadline exceeded".contains(s.as_str()) => {}
                o => return Some(format!("error {o:?} does not contain {s:?}")),
            }
        }
        None
    }
}

/// One member's row of an `endpoint status` command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusCheck {
    /// The command id.
    pub id: String,
    /// The member whose row is checked.
    pub node: NodeId,
    /// Whether it answered.
    pub answered: bool,
    /// Whether its raft index is behind the highest in the table.
    pub index_behind_leader: Option<bool>,
    /// Whether it says it is the leader.
    pub is_leader: Option<bool>,
}

impl Kind for StatusCheck {
    const NAME: &'static str = "status";
    const FIELDS: &'static [&'static str] =
        &["id", "node", "answered", "index_behind_leader", "is_leader"];

    fn parse(f: &Fields) -> R<Self> {
        Ok(StatusCheck {
            answered: f.bool("answered")?,
            id: f.command_id("id")?,
            node: f.node("node")?,
            index_behind_leader: f.bool_opt("index_behind_leader")?,
            is_leader: f.bool_opt("is_leader")?,
        })
    }

    fn evaluate(&self, r: &Judged<'_>) -> (bool, String) {
        let (id, node) = (&self.id, self.node);
        let ops = r.ops(id);
        let Some(h) = ops
            .iter()
            .find(|h| *h.endpoints == [node] && matches!(h.kind, ServerOp::Status))
        else {
            return (
                false,
                format!("command `{id}` has no status row for {node}"),
            );
        };
        let got = h.outcome == Outcome::Ok;
        if got != self.answered {
            let want = self.answered;
            return (
                false,
                format!(
                    "{node} answered={got} ({:?}), expected answered={want}",
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
        if let Some(b) = self.index_behind_leader {
            if (s.raft_index < max_index) != b {
                let idx = s.raft_index;
                return (
                    false,
                    format!(
                        "{node} raft index {idx} vs highest {max_index}: behind={}, expected {b}",
                        !b
                    ),
                );
            }
        }
        if let Some(l) = self.is_leader {
            if (s.leader == node.0) != l {
                return (false, format!("{node} is_leader={}, expected {l}", !l));
            }
        }
        let (t, i, a) = (s.raft_term, s.raft_index, s.raft_applied_index);
        (
            true,
            format!("{node}: term {t} index {i} applied {a} (highest index {max_index})"),
        )
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let answers = if self.answered {
            "answers"
        } else {
            "does not answer"
        };
        write!(f, "`{}`: {} {answers}", self.id, self.node)?;
        if let Some(b) = self.index_behind_leader {
            write!(f, ", raft index {}behind the highest", not(b))?;
        }
        if let Some(l) = self.is_leader {
            write!(f, ", {}the leader", not(l))?;
        }
        Ok(())
    }
}

/// Whether the write(s) of command `id` ever took effect on any member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WriteApplied {
    /// The command id.
    pub id: String,
    /// Whether they must have been applied.
    pub applied: bool,
}

impl Kind for WriteApplied {
    const NAME: &'static str = "write_applied";
    const FIELDS: &'static [&'static str] = &["id", "applied"];

    fn parse(f: &Fields) -> R<Self> {
        Ok(WriteApplied {
            applied: f.bool("applied")?,
            id: f.command_id("id")?,
        })
    }

    fn evaluate(&self, r: &Judged<'_>) -> (bool, String) {
        let ops = r.ops(&self.id);
        let seen: Vec<String> = ops
            .iter()
            .filter_map(|h| {
                let (index, at) = r.first_applied.get(&h.op)?;
                Some(format!("op {} applied at index {index}, {at}", h.op.0))
            })
            .collect();
        let any = !seen.is_empty();
        let detail = if any {
            seen.join("; ")
        } else {
            format!("none of {} op(s) was applied by any member", ops.len())
        };
        (any == self.applied, detail)
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let is = if self.applied { "is" } else { "is never" };
        write!(f, "write `{}` {is} applied", self.id)
    }
}

/// Whether a write whose client saw a timeout or error took effect after a later write to the
/// same key had been acknowledged, overwriting it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TimedOutWriteOverwrote {
    /// The key.
    pub key: String,
    /// Whether it must happen.
    pub expected: bool,
}

impl Kind for TimedOutWriteOverwrote {
    const NAME: &'static str = "timed_out_write_overwrote";
    const FIELDS: &'static [&'static str] = &["key", "expected"];

    fn parse(f: &Fields) -> R<Self> {
        Ok(TimedOutWriteOverwrote {
            key: f.string("key")?,
            expected: f.bool("expected")?,
        })
    }

    fn evaluate(&self, r: &Judged<'_>) -> (bool, String) {
        let key = &self.key;
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
        (hits.is_empty() != self.expected, detail)
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.expected {
            "overwrites"
        } else {
            "never overwrites"
        };
        write!(
            f,
            "a timed-out write to `{}` {verb} an acknowledged value",
            self.key
        )
    }
}

/// Every acknowledged write is reflected in every live member's final state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NoLostAcknowledgedWrites;

impl Kind for NoLostAcknowledgedWrites {
    const NAME: &'static str = "no_lost_acknowledged_writes";
    const FIELDS: &'static [&'static str] = &[];

    fn parse(_: &Fields) -> R<Self> {
        Ok(NoLostAcknowledgedWrites)
    }

    fn evaluate(&self, r: &Judged<'_>) -> (bool, String) {
        match r.lost_acknowledged_write() {
            Ok(detail) => (true, detail),
            Err(detail) => (false, detail),
        }
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no acknowledged write lost")
    }
}

/// All live members end with the same applied index and key-value contents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Converged;

impl Kind for Converged {
    const NAME: &'static str = "converged";
    const FIELDS: &'static [&'static str] = &[];

    fn parse(_: &Fields) -> R<Self> {
        Ok(Converged)
    }

    fn evaluate(&self, r: &Judged<'_>) -> (bool, String) {
        let nodes = r.live_nodes();
        let Some(first) = nodes.first() else {
            return (false, "no live member".into());
        };
        for n in &nodes[1..] {
            let differ = n.kv != first.kv || n.machine != first.machine;
            if n.applied != first.applied || differ {
                return (
                    false,
                    format!(
                        "{} applied {} vs {} applied {}, contents differ: {differ}",
                        n.id, n.applied, first.id, first.applied
                    ),
                );
            }
        }
        let (count, applied) = (nodes.len(), first.applied);
        (
            true,
            format!("{count} live member(s) at applied index {applied} with identical contents"),
        )
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "all live members converge")
    }
}

/// Every read of command `id` completed, or ran out of time less than `within` after the cluster
/// had a leader again (a read a member drops must be retried once a leader exists).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReadLiveness {
    /// The command id.
    pub id: String,
    /// How long after a leader exists the read must complete.
    pub within: SimDuration,
}

impl Kind for ReadLiveness {
    const NAME: &'static str = "read_liveness";
    const FIELDS: &'static [&'static str] = &["id", "within"];

    fn parse(f: &Fields) -> R<Self> {
        Ok(ReadLiveness {
            within: f.duration("within")?,
            id: f.command_id("id")?,
        })
    }

    fn evaluate(&self, r: &Judged<'_>) -> (bool, String) {
        // A read sent only to members that end outside the voters (removed, or a learner that
        // refuses linearizable reads) has no leader to wait for.
        let voter = |n: &NodeId| r.nodes.iter().any(|s| s.id == *n && s.voter);
        let ops: Vec<_> = r
            .ops(&self.id)
            .into_iter()
            .filter(|h| h.endpoints.iter().any(voter))
            .collect();
        for h in ops.iter().filter(|h| h.outcome != Outcome::Ok) {
            let end = h.completed.unwrap_or(r.sim_end);
            // A leader counts only if it stayed leader for `within` before the read gave up.
            let lasting = r
                .leaderships(h.invoked, end)
                .into_iter()
                .find(|l| l.from + self.within < l.until);
            if let Some(l) = lasting {
                let (to, at, o) = (&h.endpoints, h.invoked, &h.outcome);
                let (n, term, from, until) = (l.leader, l.term, l.from, l.until);
                let lasted = until.since(from);
                return (false, format!("read to {to:?} issued at {at} failed ({o:?}) although {n} led (term {term}) from {from} to {until}, {lasted} without a change of leader"));
            }
        }
        let ok = ops.iter().filter(|h| h.outcome == Outcome::Ok).count();
        let n = ops.len();
        let within = self.within;
        (
            true,
            format!("{ok}/{n} read(s) completed; for the rest no leader lasted {within}"),
        )
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "reads of `{}` complete within {} once there is a leader",
            self.id, self.within
        )
    }
}
