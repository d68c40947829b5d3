//! The record of a run: everything the loop produced, in one value that the oracles, the
//! expectations and every view read. Nothing here runs a simulation or judges one; it holds the
//! facts and answers questions about them (which operations a command issued, who led when, how
//! many elections, which values a key took, when a node went NotReady).
//!
//! Data flows one way: scenario -> loop (`world/`) -> [`Record`] -> checks (`check/`,
//! `scenario::expect`) and views (`report/`).

mod first_applied;
pub mod kubernetes;
pub mod linearized;
pub mod locks;

pub use first_applied::FirstApplied;

use crate::client::HistoryOp;
use crate::node::{NodeStats, NodeStatus, Published};
use crate::sim::ids::{NodeId, OpId, RequestId};
use crate::sim::time::SimTime;
use crate::sim::trace::{Role, TraceEvent, TraceRecord};
use serde::Serialize;
use std::collections::BTreeMap;

/// One value per member, in member-id order: held inline for up to three members (a record
/// keeps a probe a second, 36,000 of them in ten simulated hours; three small allocations each
/// were most of what they cost).
pub type PerMember<T> = smallvec::SmallVec<[T; 3]>;

/// Every member's raft progress at one instant.
#[derive(Clone, Debug, Serialize)]
pub struct Probe {
    /// When it was taken.
    pub at: SimTime,
    /// Each member's applied index (index 0 is member 1).
    pub applied: PerMember<u64>,
    /// Each member's commit index.
    pub committed: PerMember<u64>,
    /// Each member's role and term as it believes them (`None`: crashed).
    pub roles: PerMember<Option<(Role, u64)>>,
}

impl Probe {
    /// The member that leads with the highest term, if any (a stale leader does not count).
    pub fn leader(&self) -> Option<NodeId> {
        let top = self.roles.iter().flatten().map(|(_, t)| *t).max()?;
        self.roles
            .iter()
            .position(|r| matches!(r, Some((Role::Leader, t)) if *t == top))
            .map(|i| NodeId(i as u64 + 1))
    }
}

/// Progress of one scenario command.
#[derive(Clone, Debug, Serialize)]
pub struct CommandRun {
    /// The command's index in the scenario.
    pub index: usize,
    /// The operations it issued (one per endpoint for `endpoint` commands).
    pub ops: Vec<OpId>,
    /// Operations not finished yet.
    pub remaining: usize,
    /// When it started.
    pub started: SimTime,
    /// When its last operation finished.
    pub finished: Option<SimTime>,
    /// What etcdctl printed.
    pub output: Vec<String>,
}

/// A member at the end of the run.
#[derive(Clone, Debug, Serialize)]
pub struct NodeSummary {
    /// The member.
    pub id: NodeId,
    /// Running, paused or crashed.
    pub status: NodeStatus,
    /// Its role (`None`: crashed).
    pub role: Option<Role>,
    /// Its term.
    pub term: u64,
    /// Its commit index.
    pub commit: u64,
    /// Its applied index.
    pub applied: u64,
    /// The last index of its log.
    pub last_index: u64,
    /// The last index its disk holds durably.
    pub durable_last_index: u64,
    /// What its raft loop last published (what `endpoint status` shows).
    pub published: Published,
    /// Its key-value contents.
    pub kv: Vec<(String, String)>,
    /// The fingerprint of the user's state machine, if the run has one.
    pub machine: Option<String>,
    /// Its store's event history (kept when the scenario watches), for the watch oracle.
    pub events: Vec<crate::node::kv::WatchEvent>,
    /// Client requests its state machine applied (this incarnation, or carried by the snapshot
    /// it restored), in ascending request order (see [`NodeSummary::applied_request`]).
    pub applied_requests: Vec<RequestId>,
    /// Counters.
    pub stats: NodeStats,
    /// Its current randomized election timeout, in ticks.
    pub election_timeout_ticks: u64,
    /// The member list it applied (`voters 1,2,3`; empty for a spare never started).
    pub members: String,
    /// Whether it is in the cluster's final member list (as the running member that applied
    /// the most has it).
    pub in_cluster: bool,
    /// Whether it is a voter in the cluster's final member list.
    pub voter: bool,
}

impl NodeSummary {
    /// Whether its state machine applied client request `q` (a binary search: the end-of-run
    /// checks ask this for every acknowledged write).
    pub fn applied_request(&self, q: RequestId) -> bool {
        self.applied_requests.binary_search(&q).is_ok()
    }
}

/// Everything one run produced.
#[derive(Clone, Debug, Serialize)]
pub struct Record {
    /// The seed it ran with.
    pub seed: u64,
    /// When it ended (the scenario's duration).
    pub sim_end: SimTime,
    /// The trace hash, as 16 hex digits.
    pub trace_hash: String,
    /// How many events the loop handled.
    pub events_handled: u64,
    /// Where the run stopped at its event budget, if it did (the record ends there).
    pub stopped_at: Option<SimTime>,
    /// Every trace event, in order (the kinds only full views read, `msg-sent` and `applied`
    /// among them, only when the run was asked for a full trace, `RunOptions::full_trace`).
    pub trace: Vec<TraceRecord>,
    /// Every entry application (each `applied` record), in order, however the run was asked to
    /// keep records: read these, not `applied` records in [`Record::trace`]. Not in the JSON
    /// output, whose `trace` has the records.
    #[serde(skip)]
    pub applied: Vec<crate::sim::trace::Application>,
    /// Each campaign start and what the member had last heard from each peer by then (always
    /// kept; the timeline's election explanations read it).
    #[serde(skip)]
    pub campaigns: Vec<crate::sim::heard::Campaign>,
    /// Every client operation, in op order; when the run kept only what checks read
    /// ([`crate::RunOptions::full_trace`] off), an apiserver's reads that no check reads are left
    /// out, so look an operation up with [`Record::op`], not by its id as an index.
    pub history: Vec<HistoryOp>,
    /// The `id` of each scenario command, by command index (what expectations name).
    pub command_ids: Vec<Option<String>>,
    /// Each scenario command's run, in start order.
    pub commands: Vec<CommandRun>,
    /// Each member at the end.
    pub nodes: Vec<NodeSummary>,
    /// Probes taken where an expectation needs one.
    pub probes: Vec<Probe>,
    /// Each member's progress and role, once a second.
    pub cluster_probes: Vec<Probe>,
    /// Kubernetes nodes (masters, then workers) and the apiserver each kubelet uses at the end.
    pub kubelets: Vec<(String, u64)>,
    /// When each client write first took effect anywhere: (log index, time).
    pub first_applied: FirstApplied,
    /// How far linearizability was checked as the run went (a run that keeps only what checks
    /// read): the end-of-run check goes on from there. `None`: nothing was checked online.
    #[serde(skip)]
    pub linearized: Option<linearized::Linearized>,
}

impl Record {
    /// Client operation `op`, if the record holds it (see [`Record::history`]).
    pub fn op(&self, op: OpId) -> Option<&HistoryOp> {
        crate::client::find_op(&self.history, op)
    }

    /// The history operations issued by commands with this id.
    pub fn ops(&self, id: &str) -> Vec<&HistoryOp> {
        self.history
            .iter()
            .filter(|h| h.command.is_some_and(|c| self.command_is(c, id)))
            .collect()
    }

    /// The run of the command with this id (the first, if repeated).
    pub fn command_run(&self, id: &str) -> Option<&CommandRun> {
        self.commands.iter().find(|c| self.command_is(c.index, id))
    }

    /// The scenario indices of the commands with this id (repetitions share it).
    pub fn command_indices(&self, id: &str) -> Vec<usize> {
        (0..self.command_ids.len())
            .filter(|&i| self.command_is(i, id))
            .collect()
    }

    fn command_is(&self, index: usize, id: &str) -> bool {
        self.command_ids.get(index).and_then(|c| c.as_deref()) == Some(id)
    }

    /// How many times some member became leader.
    pub fn elections(&self) -> usize {
        self.trace
            .iter()
            .filter(|t| {
                matches!(
                    t.event,
                    TraceEvent::RoleChanged {
                        role: Role::Leader,
                        ..
                    }
                )
            })
            .count()
    }

    /// Each member's (role, term) as last recorded at or before `at`; crashed members absent.
    pub fn roles_at(&self, at: SimTime) -> BTreeMap<NodeId, (Role, u64)> {
        let mut roles = BTreeMap::new();
        for t in self.trace.iter().take_while(|t| t.at <= at) {
            track_role(&mut roles, &t.event);
        }
        roles
    }

    /// Which write operation sent each request: only writes go through raft, so these are
    /// the requests an applied entry can carry (a Kubernetes history holds four reads for
    /// every write, and the map was most of what the end-of-run checks allocated).
    pub fn write_of_request(&self) -> BTreeMap<RequestId, OpId> {
        self.history
            .iter()
            .filter(|h| h.kind.write_op().is_some())
            .flat_map(|h| h.requests.iter().map(move |&q| (q, h.op)))
            .collect()
    }

    /// Members of the final member list whose process is up (running or paused) at the end.
    pub fn live_nodes(&self) -> Vec<&NodeSummary> {
        self.nodes
            .iter()
            .filter(|n| n.status.is_up() && n.in_cluster)
            .collect()
    }
}

/// One value a key took, as the cluster applied it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedValue {
    /// The log index of the entry that set it.
    pub index: u64,
    /// When a member first applied it.
    pub at: SimTime,
    /// The client operation that wrote it.
    pub op: OpId,
    /// The value (`None`: the key was deleted).
    pub value: Option<String>,
}

impl Record {
    /// The client operations by how they ended (`ok`, `timeout`, `error`, `pending`), each list
    /// in invocation order (of the operations the record holds: see [`Record::history`]).
    pub fn ops_by_outcome(&self) -> BTreeMap<&'static str, Vec<&HistoryOp>> {
        let mut m: BTreeMap<&'static str, Vec<&HistoryOp>> = BTreeMap::new();
        for h in &self.history {
            m.entry(h.outcome.name()).or_default().push(h);
        }
        m
    }

    /// The values `key` took, in log order: every write to it that changed something (a put, a
    /// delete of a present key, a compare-and-swap whose comparison held), whatever its client
    /// was told. Safety makes every member apply the same entry at an index, so the first member
    /// to apply each index speaks for all of them.
    pub fn applied_values(&self, key: &str) -> Vec<AppliedValue> {
        use crate::node::kv::KvOp;
        use crate::node::rpc::ServerOp;
        let op_of = self.write_of_request();
        let mut by_index: BTreeMap<u64, AppliedValue> = BTreeMap::new();
        for a in &self.applied {
            let (index, Some(request), true) = (a.index, a.request(), a.effective()) else {
                continue;
            };
            let Some(&op) = op_of.get(&request) else {
                continue;
            };
            let Some(ServerOp::Write { op: kv }) = self.op(op).map(|h| &h.kind) else {
                continue;
            };
            if kv.key() != Some(key) || by_index.contains_key(&index) {
                continue;
            }
            let value = match &**kv {
                KvOp::Put { value, .. } => Some(value.clone()),
                KvOp::Txn { then_put, .. } => Some(then_put.clone()),
                _ => None,
            };
            let at = a.at;
            by_index.insert(
                index,
                AppliedValue {
                    index,
                    at,
                    op,
                    value,
                },
            );
        }
        by_index.into_values().collect()
    }
}

/// Updates a map of each member's (role, term) with one trace event (a crash removes it).
pub fn track_role(roles: &mut BTreeMap<NodeId, (Role, u64)>, e: &TraceEvent) -> bool {
    match *e {
        TraceEvent::RoleChanged {
            node, role, term, ..
        } => {
            roles.insert(node, (role, term));
            true
        }
        TraceEvent::Crashed { node, .. } => {
            roles.remove(&node);
            true
        }
        _ => false,
    }
}

/// One stretch of time during which one member led in the highest term any member had.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leadership {
    /// The leader.
    pub leader: NodeId,
    /// Its term.
    pub term: u64,
    /// From when.
    pub from: SimTime,
    /// Until when (the end of the window asked for, if it still led then).
    pub until: SimTime,
}

impl Record {
    /// The stretches between `from` and `until` during which a member led in the highest term
    /// any member had (a stale leader of an older term does not count), in time order.
    pub fn leaderships(&self, from: SimTime, until: SimTime) -> Vec<Leadership> {
        let mut roles: BTreeMap<NodeId, (Role, u64)> = BTreeMap::new();
        let mut out: Vec<Leadership> = Vec::new();
        let mut current: Option<(NodeId, u64, SimTime)> = None;
        let mut close = |cur: &mut Option<(NodeId, u64, SimTime)>, at: SimTime| {
            if let Some((leader, term, start)) = cur.take() {
                if at > from {
                    out.push(Leadership {
                        leader,
                        term,
                        from: start.max(from),
                        until: at,
                    });
                }
            }
        };
        for t in self.trace.iter().take_while(|t| t.at <= until) {
            if !track_role(&mut roles, &t.event) {
                continue;
            }
            let now = top_term_leader(&roles);
            if now != current.map(|(l, term, _)| (l, term)) {
                close(&mut current, t.at);
                current = now.map(|(l, term)| (l, term, t.at));
            }
        }
        close(&mut current, until);
        out
    }
}

/// The member leading in the highest term any member has, with that term.
fn top_term_leader(roles: &BTreeMap<NodeId, (Role, u64)>) -> Option<(NodeId, u64)> {
    let top = roles.values().map(|(_, t)| *t).max()?;
    roles
        .iter()
        .find(|(_, (role, term))| *role == Role::Leader && *term == top)
        .map(|(n, _)| (*n, top))
}

impl Record {
    /// For runs whose faults never all healed: `Ok(summary)` when every acknowledged write is
    /// present on every running member that has applied up to the index where it first took
    /// effect (such a member must have it, healed or not), else `Err(the first one missing)`.
    pub fn acknowledged_write_missing_where_applied(&self) -> Result<String, String> {
        use crate::node::rpc::ServerOp;
        use crate::sim::trace::Outcome;
        let running: Vec<&NodeSummary> = self
            .nodes
            .iter()
            .filter(|n| n.status == NodeStatus::Running)
            .collect();
        let mut checked = 0;
        for h in self.history.iter().filter(|h| h.outcome == Outcome::Ok) {
            let (ServerOp::Write { .. }, Some((index, _))) =
                (&h.kind, self.first_applied.get(&h.op))
            else {
                continue;
            };
            for n in running.iter().filter(|n| n.applied >= *index) {
                checked += 1;
                if !h.requests.iter().any(|&q| n.applied_request(q)) {
                    let (op, what, id) = (h.op.0, h.kind.summary(), n.id);
                    return Err(format!("acknowledged write op {op} ({what}) took effect at index {index}, but {id} applied past it without it"));
                }
            }
        }
        Ok(format!(
            "{checked} (write, member) pairs checked on members that applied past the write"
        ))
    }

    /// `Ok(summary)` when every acknowledged write is present on every live member, else
    /// `Err(the first one missing)`.
    pub fn lost_acknowledged_write(&self) -> Result<String, String> {
        use crate::node::rpc::ServerOp;
        use crate::sim::trace::Outcome;
        let acked: Vec<&HistoryOp> = self
            .history
            .iter()
            .filter(|h| h.outcome == Outcome::Ok && matches!(h.kind, ServerOp::Write { .. }))
            .collect();
        let applied = self.live_nodes();
        for h in &acked {
            if let Some(node) = applied
                .iter()
                .find(|n| !h.requests.iter().any(|&q| n.applied_request(q)))
                .map(|n| n.id)
            {
                let (op, what) = (h.op.0, h.kind.summary());
                return Err(format!(
                    "acknowledged write op {op} ({what}) is missing on {node}"
                ));
            }
        }
        let (a, n) = (acked.len(), applied.len());
        Ok(format!(
            "{a} acknowledged write(s) present on all {n} live member(s)"
        ))
    }
}
