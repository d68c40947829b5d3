//! Expectations on the Raft cluster itself: elections, roles, progress.

use super::{Fields, Judged, Kind};
use crate::scenario::ScenarioError;
use crate::sim::ids::NodeId;
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::trace::{Role, TraceEvent};
use serde::Serialize;
use std::fmt;

type R<T> = Result<T, ScenarioError>;

/// No member changed term or campaigned between `from` and `until` (with `expected = false`:
/// some member did).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NoElection {
    /// Window start.
    pub from: SimTime,
    /// Window end.
    pub until: SimTime,
    /// Whether the window is free of elections (default true).
    pub expected: bool,
}

impl Kind for NoElection {
    const NAME: &'static str = "no_election";
    const FIELDS: &'static [&'static str] = &["from", "until", "expected"];

    fn parse(f: &Fields) -> R<Self> {
        let (from, until) = f.window()?;
        let expected = f.bool_opt("expected")?.unwrap_or(true);
        Ok(NoElection {
            from,
            until,
            expected,
        })
    }

    fn evaluate(&self, r: &Judged<'_>) -> (bool, String) {
        let (from, until) = (self.from, self.until);
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
            Some(b) => (!self.expected, b),
            None => (
                self.expected,
                format!("term stayed {term_before} from {from} to {until}"),
            ),
        }
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.expected {
            "no election"
        } else {
            "an election"
        };
        write!(f, "{what} from {} to {}", self.from, self.until)
    }
}

/// A role a scenario can expect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RoleName {
    /// The leader.
    Leader,
    /// A follower.
    Follower,
}

/// `node` had this role at time `at`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RoleAt {
    /// The member.
    pub node: NodeId,
    /// When.
    pub at: SimTime,
    /// Which role.
    pub role: RoleName,
}

impl Kind for RoleAt {
    const NAME: &'static str = "role";
    const FIELDS: &'static [&'static str] = &["node", "at", "role"];

    fn parse(f: &Fields) -> R<Self> {
        let role = match f.choice_opt("role", &["leader", "follower"])? {
            Some("leader") => RoleName::Leader,
            Some(_) => RoleName::Follower,
            None => return Err(f.err("role", "check = \"role\" needs `role`".into())),
        };
        Ok(RoleAt {
            node: f.node("node")?,
            at: f.time("at")?,
            role,
        })
    }

    fn evaluate(&self, r: &Judged<'_>) -> (bool, String) {
        let (node, at) = (self.node, self.at);
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
        let want = match self.role {
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

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let role = format!("{:?}", self.role).to_lowercase();
        write!(f, "{} is {role} at {}", self.node, self.at)
    }
}

/// `node` applied as far as the most advanced member by `by`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CaughtUp {
    /// The member.
    pub node: NodeId,
    /// By when.
    pub by: SimTime,
}

impl Kind for CaughtUp {
    const NAME: &'static str = "caught_up";
    const FIELDS: &'static [&'static str] = &["node", "by"];

    fn parse(f: &Fields) -> R<Self> {
        Ok(CaughtUp {
            node: f.node("node")?,
            by: f.time("by")?,
        })
    }

    fn evaluate(&self, r: &Judged<'_>) -> (bool, String) {
        let (node, by) = (self.node, self.by);
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

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} caught up by {}", self.node, self.by)
    }

    fn probe_time(&self) -> Option<SimTime> {
        Some(self.by)
    }
}

/// After `from` (typically when a fault ends), `node` applies the highest index any other
/// member had applied at `from`, taking between `min` (default 0) and `max`: how long catching
/// up takes, measured as on a real cluster (`docs/reference/etcd-observed.md`, row 12).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CatchUp {
    /// The member.
    pub node: NodeId,
    /// From when.
    pub from: SimTime,
    /// At least this long.
    pub min: SimDuration,
    /// At most this long.
    pub max: SimDuration,
}

impl CatchUp {
    /// How long `node` took to apply what the others had applied at `from` (`None`: never).
    fn took(&self, r: &Judged<'_>) -> Option<SimDuration> {
        let applied = &r.applied;
        let target = applied
            .iter()
            .take_while(|a| a.at <= self.from)
            .filter(|a| a.node() != self.node)
            .map(|a| a.index)
            .max()?;
        let reached = applied
            .iter()
            .find(|a| a.at >= self.from && a.node() == self.node && a.index >= target)?;
        Some(reached.at.since(self.from))
    }
}

impl Kind for CatchUp {
    const NAME: &'static str = "catch_up";
    const FIELDS: &'static [&'static str] = &["node", "from", "min", "max"];

    fn parse(f: &Fields) -> R<Self> {
        let min = f.duration_opt("min")?.unwrap_or(SimDuration::ZERO);
        let max = f.duration("max")?;
        if min > max {
            return Err(f.err(
                "min",
                format!("`min` ({min}) must not exceed `max` ({max})"),
            ));
        }
        Ok(CatchUp {
            node: f.node("node")?,
            from: f.time("from")?,
            min,
            max,
        })
    }

    fn evaluate(&self, r: &Judged<'_>) -> (bool, String) {
        match self.took(r) {
            Some(took) => (
                (self.min..=self.max).contains(&took),
                format!("{} caught up {took} after {}", self.node, self.from),
            ),
            None => (
                false,
                format!(
                    "{} never applied what the others had at {}",
                    self.node, self.from
                ),
            ),
        }
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} catches up {}..{} after {}",
            self.node, self.min, self.max, self.from
        )
    }
}

/// How many members believed they were leader at `at` (a member whose loop is blocked keeps its
/// last belief).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClaimedLeaders {
    /// When.
    pub at: SimTime,
    /// How many.
    pub count: u64,
}

impl Kind for ClaimedLeaders {
    const NAME: &'static str = "claimed_leaders";
    const FIELDS: &'static [&'static str] = &["at", "count"];

    fn parse(f: &Fields) -> R<Self> {
        let count = f.u64("count")?;
        if count > f.members() {
            return Err(f.err(
                "count",
                format!("count {count} is more than the {} members", f.members()),
            ));
        }
        Ok(ClaimedLeaders {
            at: f.time("at")?,
            count,
        })
    }

    fn evaluate(&self, r: &Judged<'_>) -> (bool, String) {
        let leaders: Vec<String> = r
            .roles_at(self.at)
            .iter()
            .filter(|(_, (role, _))| *role == Role::Leader)
            .map(|(n, (_, term))| format!("{n} (term {term})"))
            .collect();
        (
            leaders.len() as u64 == self.count,
            format!(
                "at {} leadership claimed by: {}",
                self.at,
                leaders.join(", ")
            ),
        )
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} etcd member(s) claim leadership at {}",
            self.count, self.at
        )
    }
}

/// How many times some member became leader in a window: `min` and `max` bound it (a split vote
/// that never resolves elects nobody; a flapping leadership elects again and again).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LeaderElections {
    /// Window start.
    pub from: SimTime,
    /// Window end.
    pub until: SimTime,
    /// At least this many (default 0).
    pub min: u64,
    /// At most this many (default: no bound).
    pub max: Option<u64>,
}

impl Kind for LeaderElections {
    const NAME: &'static str = "leader_elections";
    const FIELDS: &'static [&'static str] = &["from", "until", "min", "max"];

    fn parse(f: &Fields) -> R<Self> {
        let (from, until) = f.window()?;
        let min = if f.has("min") { f.u64("min")? } else { 0 };
        let max = if f.has("max") {
            Some(f.u64("max")?)
        } else {
            None
        };
        if !f.has("min") && !f.has("max") {
            return Err(f.err("min", "leader_elections needs `min`, `max` or both".into()));
        }
        if max.is_some_and(|m| m < min) {
            return Err(f.err("max", format!("`max` is below `min` ({min})")));
        }
        Ok(LeaderElections {
            from,
            until,
            min,
            max,
        })
    }

    fn evaluate(&self, r: &Judged<'_>) -> (bool, String) {
        let won: Vec<String> = r
            .trace
            .iter()
            .filter(|t| t.at > self.from && t.at <= self.until)
            .filter_map(|t| match t.event {
                TraceEvent::RoleChanged {
                    node,
                    role: Role::Leader,
                    term,
                    ..
                } => Some(format!("{node} in term {term} at {}", t.at)),
                _ => None,
            })
            .collect();
        let n = won.len() as u64;
        let held = n >= self.min && self.max.is_none_or(|m| n <= m);
        let detail = match won.as_slice() {
            [] => format!(
                "no member became leader from {} to {}",
                self.from, self.until
            ),
            [one] => format!("1 election won: {one}"),
            [first, .., last] => format!("{n} elections won, the first {first}, the last {last}"),
        };
        (held, detail)
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bound = match self.max {
            Some(max) if max == self.min => format!("exactly {max}"),
            Some(max) if self.min == 0 => format!("at most {max}"),
            Some(max) => format!("{}..={max}", self.min),
            None => format!("at least {}", self.min),
        };
        write!(
            f,
            "{bound} leader election(s) won from {} to {}",
            self.from, self.until
        )
    }
}

/// Whether a member restored a snapshot the leader sent it (its log had fallen behind the
/// leader's first index).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SnapshotReceived {
    /// The member.
    pub node: NodeId,
    /// Whether it did.
    pub expected: bool,
}

impl Kind for SnapshotReceived {
    const NAME: &'static str = "snapshot_received";
    const FIELDS: &'static [&'static str] = &["node", "expected"];

    fn parse(f: &Fields) -> R<Self> {
        Ok(SnapshotReceived {
            node: f.node("node")?,
            expected: f.bool("expected")?,
        })
    }

    fn evaluate(&self, r: &Judged<'_>) -> (bool, String) {
        let got = r.trace.iter().find_map(|t| match t.event {
            TraceEvent::SnapshotRestored {
                node,
                index,
                received: true,
            } if node == self.node => Some((t.at, index)),
            _ => None,
        });
        match got {
            Some((at, index)) => (
                self.expected,
                format!(
                    "{} restored the leader's snapshot at index {index} at {at}",
                    self.node
                ),
            ),
            None => (
                !self.expected,
                format!("{} never received a snapshot", self.node),
            ),
        }
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = if self.expected { "is" } else { "is not" };
        write!(f, "{} {how} sent a snapshot", self.node)
    }
}

/// The cluster's member list at the end: every running member of it applied exactly these
/// voters and learners.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MembersAtEnd {
    /// The voters.
    pub voters: Vec<NodeId>,
    /// The learners.
    pub learners: Vec<NodeId>,
}

impl MembersAtEnd {
    fn expected(&self) -> String {
        crate::node::membership::Members {
            voters: self.voters.iter().copied().collect(),
            learners: self.learners.iter().copied().collect(),
            ..Default::default()
        }
        .describe()
    }
}

impl Kind for MembersAtEnd {
    const NAME: &'static str = "members";
    const FIELDS: &'static [&'static str] = &["voters", "learners"];

    fn parse(f: &Fields) -> R<Self> {
        let voters = f.nodes_opt("voters")?;
        let voters = f.required("voters", voters)?;
        Ok(MembersAtEnd {
            voters,
            learners: f.nodes_opt("learners")?.unwrap_or_default(),
        })
    }

    fn evaluate(&self, r: &Judged<'_>) -> (bool, String) {
        let want = self.expected();
        let running: Vec<String> = r
            .nodes
            .iter()
            .filter(|n| n.in_cluster && n.status == crate::node::NodeStatus::Running)
            .map(|n| format!("{}: {}", n.id, n.members))
            .collect();
        let ok = !running.is_empty() && running.iter().all(|l| l.ends_with(&format!(": {want}")));
        let seen = if running.is_empty() {
            "no member of the final list is running".to_string()
        } else {
            running.join("; ")
        };
        (ok, seen)
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the member list ends as {}", self.expected())
    }
}
