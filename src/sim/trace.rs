//! The record of what happened.
//!
//! Contract: every component reports what it did as a [`TraceEvent`] stamped with simulated
//! time. The trace is the single source for every view (timeline, tables, JSON lines) and for the
//! trace hash, so the views cannot disagree. The hash is a word-at-a-time multiplicative hash over each
//! record's `Hash` encoding, fed in order: the same seed and scenario give the same hash on every run and
//! in debug and release builds (on the same target architecture).

use super::ids::{ClientId, LeaseId, NodeId, OpId, RequestId};
use super::time::SimTime;
use serde::Serialize;
use std::hash::{Hash, Hasher};

/// A node's Raft role, as raft-rs's `StateRole`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Following.
    Follower,
    /// Pre-campaigning (pre-vote).
    PreCandidate,
    /// Campaigning.
    Candidate,
    /// Leading.
    Leader,
}

impl Role {
    /// From raft-rs's role.
    pub fn from_raft(r: raft::StateRole) -> Role {
        match r {
            raft::StateRole::Follower => Role::Follower,
            raft::StateRole::PreCandidate => Role::PreCandidate,
            raft::StateRole::Candidate => Role::Candidate,
            raft::StateRole::Leader => Role::Leader,
        }
    }
}

/// The name of a raft message type (`MsgAppend`, ...), for the trace.
pub fn msg_kind(t: raft::eraftpb::MessageType) -> &'static str {
    use raft::eraftpb::MessageType::*;
    match t {
        MsgHup => "MsgHup",
        MsgBeat => "MsgBeat",
        MsgPropose => "MsgPropose",
        MsgAppend => "MsgAppend",
        MsgAppendResponse => "MsgAppendResponse",
        MsgRequestVote => "MsgRequestVote",
        MsgRequestVoteResponse => "MsgRequestVoteResponse",
        MsgSnapshot => "MsgSnapshot",
        MsgHeartbeat => "MsgHeartbeat",
        MsgHeartbeatResponse => "MsgHeartbeatResponse",
        MsgUnreachable => "MsgUnreachable",
        MsgSnapStatus => "MsgSnapStatus",
        MsgCheckQuorum => "MsgCheckQuorum",
        MsgTransferLeader => "MsgTransferLeader",
        MsgTimeoutNow => "MsgTimeoutNow",
        MsgReadIndex => "MsgReadIndex",
        MsgReadIndexResp => "MsgReadIndexResp",
        MsgRequestPreVote => "MsgRequestPreVote",
        MsgRequestPreVoteResponse => "MsgRequestPreVoteResponse",
    }
}

impl TraceEvent {
    /// Whether only views that show everything (`--messages`, pictures, JSON output) read this
    /// kind as a record: a message sent, a request sent by a client (each history operation
    /// lists its requests), read or answered by a member, an operation completed (its outcome is
    /// in the history), a WAL write submitted, an entry applied (checks read the compact
    /// [`Trace::applied`] table instead). No check, expectation or timeline line reads them, so
    /// a run keeps them only with `RunOptions::full_trace`; they are hashed and streamed either
    /// way.
    pub fn only_for_full_views(&self) -> bool {
        matches!(
            self,
            TraceEvent::MsgSent { .. }
                | TraceEvent::RequestSent { .. }
                | TraceEvent::RequestRead { .. }
                | TraceEvent::Replied { .. }
                | TraceEvent::OpCompleted { .. }
                | TraceEvent::WalSubmitted { .. }
                | TraceEvent::Applied { .. }
        )
    }
}

/// Whether a message kind (as [`msg_kind`] names it) is a heartbeat or its response.
pub fn msg_kind_is_heartbeat(kind: &str) -> bool {
    matches!(kind, "MsgHeartbeat" | "MsgHeartbeatResponse")
}

/// How an operation ended, as the client saw it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "outcome", content = "error", rename_all = "kebab-case")]
pub enum Outcome {
    /// Not finished (yet).
    Pending,
    /// Acknowledged.
    Ok,
    /// The client's deadline passed: for a write, it may or may not take effect.
    Timeout,
    /// The server answered with an error (for a write: outcome still unknown).
    Failed(String),
}

impl Outcome {
    /// The outcome's name in reports and scenario files.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Pending => "pending",
            Outcome::Ok => "ok",
            Outcome::Timeout => "timeout",
            Outcome::Failed(_) => "error",
        }
    }
}

/// The always-on oracles, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Oracle {
    /// Raft's safety properties (one leader per term, log matching, leader completeness,
    /// monotonic terms and commit indexes), checked after every event (`check::safety`).
    RaftSafety,
    /// The driver's Ready contract (persist before send, apply only committed entries, one
    /// Ready persisted atomically, nothing applied forgotten), `check::ready_contract`.
    ReadyContract,
    /// Linearizability of the client history (`check::linearizability`).
    Linearizability,
    /// Acknowledged writes survive once faults heal (`check::durability`).
    Durability,
    /// Watch streams deliver the store's events in order without gaps (`check::watch`).
    Watch,
}

impl Oracle {
    /// Every oracle, in report order.
    pub const ALL: [Oracle; 5] = [
        Oracle::RaftSafety,
        Oracle::ReadyContract,
        Oracle::Linearizability,
        Oracle::Durability,
        Oracle::Watch,
    ];

    /// The oracle's name in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Oracle::RaftSafety => "raft-safety",
            Oracle::ReadyContract => "ready-contract",
            Oracle::Linearizability => "linearizability",
            Oracle::Durability => "durability",
            Oracle::Watch => "watch",
        }
    }
}

crate::sim::shown_as_name!(Oracle);

/// Hashed as its name, so trace hashes do not depend on the enum's layout.
impl Hash for Oracle {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name().hash(state)
    }
}

/// Why the network or a node discarded a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DropReason {
    /// Random loss on the link.
    Lost,
    /// The link is cut by a partition.
    Partitioned,
    /// The destination is crashed.
    DestinationDown,
    /// The destination is paused and its receive buffer is full.
    InboxFull,
    /// Held until persistence, then the node crashed.
    CrashedBeforeSend,
    /// Its stream broke while it was in flight (a partition or a crash of either end), as a
    /// reset TCP connection loses what it carried.
    StreamBroken,
    /// The sender was removed from the cluster: the receiver's transport refuses it.
    SenderRemoved,
    /// The receiver was frozen for longer than the peer streams' read timeout (5 s): on resume
    /// its stream readers close their timed-out connections, losing what they buffered.
    StreamTimedOut,
}

/// What a watch reports: one key's change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventKind {
    /// A put.
    Put,
    /// A delete (by `del` or by a revoked lease).
    Delete,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
/// What happened: every kind of trace record (the JSON-lines format is in docs/trace-format.md).
pub enum TraceEvent {
    // ---- cluster ----
    /// A member's role, term or known leader changed.
    RoleChanged {
        /// The member.
        node: NodeId,
        /// The role.
        role: Role,
        /// The term.
        term: u64,
        /// The leader it knows (raft id, 0: none).
        leader: u64,
    },
    /// A message left `from`; it arrives after `latency_us` (and a duplicate after
    /// `duplicate_latency_us`) unless a later `msg-dropped` says otherwise.
    MsgSent {
        /// Sender side.
        from: NodeId,
        /// Receiver side.
        to: NodeId,
        /// The raft message type (`MsgAppend`, ...).
        kind: &'static str,
        /// The term.
        term: u64,
        /// The log index.
        index: u64,
        /// Its one-way latency, in microseconds.
        latency_us: u64,
        /// The duplicate's latency, if duplicated.
        duplicate_latency_us: Option<u64>,
    },
    /// A message was dropped.
    MsgDropped {
        /// Sender side.
        from: NodeId,
        /// Receiver side.
        to: NodeId,
        /// The raft message type (`MsgAppend`, ...).
        kind: &'static str,
        /// Why.
        reason: DropReason,
    },
    /// A WAL write was queued.
    WalSubmitted {
        /// The member.
        node: NodeId,
        /// The Ready number.
        ready: u64,
        /// How many entries.
        entries: u64,
        /// The last log index.
        last_index: u64,
        /// Whether it needs an fsync.
        fsync: bool,
    },
    /// A WAL write completed and is durable.
    WalSynced {
        /// The member.
        node: NodeId,
        /// The Ready number.
        ready: u64,
        /// The last log index.
        last_index: u64,
        /// Messages that were waiting for this write.
        held_msgs: u64,
    },
    /// A disk operation parked on a stall.
    DiskParked {
        /// The member.
        node: NodeId,
        /// The I/O class.
        io: &'static str,
    },
    /// A WAL fsync failed with EIO.
    FsyncFailed {
        /// The member.
        node: NodeId,
        /// The Ready number.
        ready: u64,
    },
    /// A member applied an entry.
    Applied {
        /// The member.
        node: NodeId,
        /// The log index.
        index: u64,
        /// The term.
        term: u64,
        /// The client request.
        request: Option<RequestId>,
        /// False when the operation changed nothing (a transaction whose comparison failed,
        /// a delete of an absent key).
        effective: bool,
    },
    /// Down; restarts from its durable state.
    Crashed {
        /// The member.
        node: NodeId,
        /// Queued WAL writes lost.
        lost_writes: u64,
        /// The last index the disk holds durably.
        durable_last_index: u64,
        /// Why.
        reason: String,
    },
    /// A crashed member restarted from its durable state.
    Restarted {
        /// The member.
        node: NodeId,
        /// The term.
        term: u64,
        /// The last index the disk holds durably.
        durable_last_index: u64,
        /// Election timeout in ticks.
        election_ticks: u64,
    },
    /// Frozen whole (SIGSTOP).
    Paused {
        /// The member.
        node: NodeId,
    },
    /// A paused member resumed.
    Resumed {
        /// The member.
        node: NodeId,
        /// Messages and requests queued while paused.
        inbox: u64,
    },
    /// A fault started.
    FaultStarted {
        /// The fault's index in the scenario.
        fault: usize,
        /// The fault in words.
        what: String,
    },
    /// A fault ended.
    FaultEnded {
        /// The fault's index in the scenario.
        fault: usize,
        /// The fault in words.
        what: String,
    },
    // ---- members serving clients ----
    /// A member read a request.
    RequestRead {
        /// The member.
        node: NodeId,
        /// The client request.
        request: RequestId,
    },
    /// A member read a request whose deadline had passed and dropped it.
    RequestExpired {
        /// The member.
        node: NodeId,
        /// The client request.
        request: RequestId,
        /// The operation, summarised.
        op: String,
    },
    /// A member gave up on a request: at etcd's request timeout, or at the client's deadline if that came first.
    ServerTimeout {
        /// The member.
        node: NodeId,
        /// The client request.
        request: RequestId,
        /// The client's deadline passed first (DeadlineExceeded), not etcd's request timeout.
        deadline: bool,
    },
    /// A member retried a ReadIndex.
    ReadIndexRetry {
        /// The member.
        node: NodeId,
        /// The client request.
        request: RequestId,
    },
    /// A member answered a request.
    Replied {
        /// The member.
        node: NodeId,
        /// The client request.
        request: RequestId,
        /// Whether it was a success.
        ok: bool,
    },
    // ---- clients ----
    /// Scenario command number `command` started (its text is in the scenario).
    CommandStarted {
        /// The scenario command's index.
        command: usize,
    },
    /// A scenario command finished and printed this.
    CommandOutput {
        /// The scenario command's index.
        command: usize,
        /// The lines printed.
        lines: Vec<String>,
        /// How long it took, in microseconds.
        took_us: u64,
    },
    /// A client's connection to a member completed its handshake.
    ConnReady {
        /// The client.
        client: ClientId,
        /// The member.
        node: NodeId,
    },
    /// A client sent a request.
    RequestSent {
        /// The client.
        client: ClientId,
        /// The history operation.
        op: OpId,
        /// The client request.
        request: RequestId,
        /// Receiver side.
        to: NodeId,
    },
    /// A client operation completed.
    OpCompleted {
        /// The client.
        client: ClientId,
        /// The history operation.
        op: OpId,
        /// How it ended.
        outcome: Outcome,
    },
    /// A reply arrived after its operation completed.
    LateReply {
        /// The client.
        client: ClientId,
        /// The client request.
        request: RequestId,
    },
    /// An oracle found a broken invariant.
    Violation {
        /// Which oracle.
        oracle: Oracle,
        /// The members.
        nodes: Vec<NodeId>,
        /// What broke.
        detail: String,
    },
    // ---- kubernetes ----
    /// A kubelet renewed its lease.
    LeaseRenewed {
        /// The Kubernetes node.
        node: String,
        /// Which apiserver (1-based).
        apiserver: u64,
        /// How long it took, in microseconds.
        took_us: u64,
    },
    /// A lease request of a kubelet failed: the path is kubelet -> apiserver -> etcd members.
    LeaseRenewFailed(Box<LeaseRenewFailed>),
    /// A kubelet closed its connections and re-dialed.
    KubeletReconnect {
        /// The Kubernetes node.
        node: String,
        /// Which apiserver (1-based).
        apiserver: u64,
    },
    /// A controller-manager acquired or lost leadership.
    KcmLeadership {
        /// Which controller-manager (master number).
        kcm: u64,
        /// Acquired (true) or lost.
        acquired: bool,
        /// Why.
        reason: String,
    },
    /// The node-lifecycle controller set a node's Ready condition.
    NodeCondition(Box<NodeCondition>),
    /// A taint was added or removed.
    NodeTaint {
        /// The Kubernetes node.
        node: String,
        /// The taint.
        taint: String,
        /// Added (true) or removed.
        added: bool,
    },
    /// The node's pods were evicted.
    PodsEvicted {
        /// The Kubernetes node.
        node: String,
        /// How long the node had been tainted, in microseconds.
        tainted_for_us: u64,
    },
    /// The load balancer moved an apiserver in or out of rotation.
    LbBackend {
        /// Which apiserver (1-based).
        apiserver: u64,
        /// Whether it is in the rotation.
        healthy: bool,
    },
    /// A write whose client saw it fail or time out took effect later (derived at the end).
    TimedOutWriteApplied {
        /// The history operation.
        op: OpId,
        /// The member.
        node: NodeId,
        /// The key.
        key: String,
        /// The value.
        value: String,
        /// Whether it overwrote a value acknowledged after this write was issued.
        overwrote_acknowledged: bool,
    },
    /// A line etcd itself would log, the ones SREs search for (`slow fdatasync`, `leader failed
    /// to send out heartbeat on time`, `apply request took too long`), with etcd's thresholds.
    EtcdLog {
        /// The member.
        node: NodeId,
        /// The message, as etcd writes it.
        msg: &'static str,
        /// How long the operation took, in microseconds.
        took_us: u64,
        /// etcd's threshold for the warning, in microseconds.
        expected_us: u64,
    },
    // ---- etcd leases and watches ----
    /// A member's lessor became primary: every lease it holds now expires at TTL + `extend_us`
    /// from now.
    EtcdLessorPromoted {
        /// The member.
        node: NodeId,
        /// How many leases it holds.
        leases: u64,
        /// The extension (the election timeout), in microseconds.
        extend_us: u64,
    },
    /// The primary lessor found a lease expired and proposed its revocation through raft.
    EtcdLeaseExpired {
        /// The member.
        node: NodeId,
        /// The lease.
        lease: LeaseId,
    },
    /// A member applied a lease's revocation and deleted its keys.
    EtcdLeaseRevoked {
        /// The member.
        node: NodeId,
        /// The lease.
        lease: LeaseId,
        /// How many keys it deleted.
        deleted_keys: u64,
    },
    /// A watching command received an event.
    WatchSaw {
        /// The scenario command.
        command: usize,
        /// The member whose stream carried it.
        node: NodeId,
        /// PUT or DELETE.
        kind: EventKind,
        /// The key.
        key: String,
        /// The value (empty for a delete).
        value: String,
        /// The event's revision.
        revision: u64,
    },
    /// A keep-alive command's lease ended, as its client saw it: no answer for a whole TTL
    /// (clientv3's deadline loop), or the server said it was gone (TTL 0).
    KeepAliveEnded {
        /// The scenario command.
        command: usize,
        /// The lease.
        lease: LeaseId,
        /// Why.
        reason: String,
    },
    /// A lock command's client began to believe it holds the lock.
    LockAcquired {
        /// The scenario command.
        command: usize,
        /// The lock's key.
        lock: String,
    },
    /// A lock command's client stopped believing it holds the lock.
    LockReleased {
        /// The scenario command.
        command: usize,
        /// The lock's key.
        lock: String,
        /// Why: its hold time ended, or its session's lease ended.
        reason: String,
    },
    /// A crash tore the WAL write in progress (a `torn_write` fault); restart truncates the torn
    /// record by its checksum.
    WalTornTail {
        /// The member.
        node: NodeId,
        /// Whole entries of the torn write that survived.
        kept_entries: u64,
    },
    /// A member took a snapshot of its state machine at its applied index (etcd's
    /// `triggerSnapshot` after `snapshot_count` applied entries) and began saving it.
    SnapshotTaken {
        /// The member.
        node: NodeId,
        /// The index it covers.
        index: u64,
        /// Its size.
        bytes: u64,
    },
    /// The snapshot became durable; the member compacted its raft log, keeping
    /// `snapshot_catchup_entries` entries behind it.
    SnapshotSaved {
        /// The member.
        node: NodeId,
        /// The index it covers.
        index: u64,
        /// The raft log now starts after this index.
        compacted_through: u64,
    },
    /// A spare machine's etcd started, empty, to join the cluster.
    Started {
        /// The member.
        node: NodeId,
    },
    /// A member stopped for good: it was removed from the cluster.
    Stopped {
        /// The member.
        node: NodeId,
        /// Why, as etcd logs it.
        reason: String,
    },
    /// A member applied a configuration change (`member add`, `promote`, `remove`).
    MemberChanged {
        /// The member that applied it.
        node: NodeId,
        /// The entry's index.
        index: u64,
        /// `add`, `add-learner`, `promote` or `remove`.
        change: &'static str,
        /// The member it changes.
        member: NodeId,
        /// The member list after it (`voters 1,2,3 learners 4`).
        members: String,
    },
    /// A member restored its state machine from a snapshot: one received from the leader, or its
    /// own durable one at restart.
    SnapshotRestored {
        /// The member.
        node: NodeId,
        /// The index it covers.
        index: u64,
        /// Received from the leader (`false`: read from its own disk at restart).
        received: bool,
    },
}

/// A kubelet's lease renewal failed (boxed in [`TraceEvent`]: its largest record).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct LeaseRenewFailed {
    /// The Kubernetes node.
    pub node: String,
    /// Which apiserver (1-based).
    pub apiserver: u64,
    /// The etcd members the apiserver used.
    pub etcd: Vec<u64>,
    /// What the kubelet asked.
    pub request: String,
    /// The error.
    pub error: String,
    /// Which attempt of the renewal.
    pub attempt: u32,
    /// How long it took, in microseconds.
    pub took_us: u64,
}

/// The node-lifecycle controller set a node's Ready condition (boxed in [`TraceEvent`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct NodeCondition {
    /// The Kubernetes node.
    pub node: String,
    /// The Ready condition: `True`, `False` or `Unknown`.
    pub ready: String,
    /// Why.
    pub reason: String,
    /// Which controller-manager (master number).
    pub kcm: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
/// One trace record: when and what.
pub struct TraceRecord {
    /// When.
    pub at: SimTime,
    #[serde(flatten)]
    /// What happened.
    pub event: TraceEvent,
}

/// Append-only trace with a running hash. Every record is hashed; records only views that draw
/// everything read ([`TraceEvent::only_for_full_views`]: `msg-sent` and the per-request and
/// per-write steps, about 85% of a long run's) and WAL syncs that end no stall are stored only
/// when `keep_all` ([`LeanFilter`]); the checks and the timeline read the rest, and
/// [`Trace::hearing`] for messages. A streamed trace also writes
/// every record, kept or not, as one JSON line into a buffer that the loop drains into a file
/// as the run goes ([`Trace::stream`], [`Trace::drain_stream`]): the file is the whole trace
/// and memory holds only what the checks and views read.
pub struct Trace {
    /// The records kept, in order.
    pub records: Vec<TraceRecord>,
    /// Every entry application (each `applied` record), in order, whether or not the records
    /// keep it: what the checks read about applications, at 40 bytes each instead of a
    /// record's 88 (a long run applies every entry on every member).
    pub applied: Vec<Application>,
    /// What each member had heard from each peer when it began campaigning (for the
    /// timeline's explanations of elections).
    pub hearing: super::heard::Hearing,
    /// What a lean record keeps (`None`: every record).
    lean: Option<LeanFilter>,
    hasher: TraceHasher,
    stream: Option<Vec<u8>>,
}

impl Default for Trace {
    fn default() -> Self {
        Trace::new(true)
    }
}

impl Trace {
    /// An empty trace; `keep_all = false` hashes the records only full views read (see
    /// [`LeanFilter`]) without storing them.
    pub fn new(keep_all: bool) -> Trace {
        Trace {
            records: Vec::new(),
            applied: Vec::new(),
            hearing: super::heard::Hearing::default(),
            lean: (!keep_all).then(LeanFilter::default),
            hasher: TraceHasher::default(),
            stream: None,
        }
    }

    /// From now on, also writes every record as a JSON line (the `--trace` file format, see
    /// `docs/trace-format.md`) into the stream buffer.
    pub fn stream(&mut self) {
        self.stream = Some(Vec::new());
    }

    /// Writes the stream buffer to `out` and empties it, once at least `min_bytes` are waiting
    /// (nothing when the trace does not stream).
    pub fn drain_stream(
        &mut self,
        min_bytes: usize,
        out: &mut dyn std::io::Write,
    ) -> std::io::Result<()> {
        match self.stream.as_mut() {
            Some(buf) if buf.len() >= min_bytes => {
                out.write_all(buf)?;
                buf.clear();
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Appends a record.
    pub fn push(&mut self, at: SimTime, event: TraceEvent) {
        let rec = TraceRecord { at, event };
        rec.hash(&mut self.hasher);
        if let Some(buf) = &mut self.stream {
            serde_json::to_writer(&mut *buf, &rec).expect("a trace record serializes to JSON");
            buf.push(b'\n');
        }
        self.hearing.note(at, &rec.event);
        if let Some(a) = Application::of(at, &rec.event) {
            super::push_gently(&mut self.applied, a);
        }
        if self.lean.as_mut().is_none_or(|f| f.keeps(&rec.event)) {
            super::push_gently(&mut self.records, rec);
        }
    }

    /// The running hash of every record so far.
    pub fn hash(&self) -> u64 {
        self.hasher.finish()
    }
}

/// One entry a member applied (an `applied` record), as the checks read it: packed, because a
/// run applies every entry once on every member and keeps them all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Application {
    /// When.
    pub at: SimTime,
    /// The log index.
    pub index: u64,
    /// The entry's term.
    pub term: u64,
    request: u64,
    node: u16,
    /// Bit 0: the entry carried a client request; bit 1: it changed something.
    flags: u8,
}

impl Application {
    /// The application an `applied` record says, if `event` is one.
    pub fn of(at: SimTime, event: &TraceEvent) -> Option<Application> {
        let TraceEvent::Applied {
            node,
            index,
            term,
            request,
            effective,
        } = *event
        else {
            return None;
        };
        Some(Application {
            at,
            index,
            term,
            request: request.map_or(0, |r| r.0),
            node: u16::try_from(node.0).expect("member ids fit in 16 bits"),
            flags: request.is_some() as u8 | (effective as u8) << 1,
        })
    }

    /// The member.
    pub fn node(&self) -> NodeId {
        NodeId(self.node as u64)
    }

    /// The client request in the entry (`None`: an empty or configuration entry).
    pub fn request(&self) -> Option<RequestId> {
        (self.flags & 1 != 0).then_some(RequestId(self.request))
    }

    /// False when the operation changed nothing (a transaction whose comparison failed, a
    /// delete of an absent key).
    pub fn effective(&self) -> bool {
        self.flags & 2 != 0
    }
}

/// Which records a lean run keeps (`RunOptions::full_trace` off): none of the kinds only full
/// views read ([`TraceEvent::only_for_full_views`]), and a `wal-synced` record only when it
/// ends a WAL stall, that is when a `disk-parked` record of its member's WAL is unmatched. The
/// timeline's explanations read `wal-synced` only to close a stall window (`report/why.rs`), so
/// the ones dropped change nothing there; they were half of what a long run kept.
#[derive(Clone, Debug, Default)]
pub struct LeanFilter {
    /// Per member (index: raft id), `disk-parked` WAL records not yet matched by a `wal-synced`.
    wal_parks: Vec<u32>,
}

impl LeanFilter {
    /// Whether a lean record keeps `event`, the next record in trace order.
    pub fn keeps(&mut self, event: &TraceEvent) -> bool {
        match event {
            TraceEvent::DiskParked { node, io: "wal" } => {
                *self.parks(*node) += 1;
                true
            }
            TraceEvent::WalSynced { node, .. } => {
                let parks = self.parks(*node);
                let ends_a_stall = *parks > 0;
                *parks = parks.saturating_sub(1);
                ends_a_stall
            }
            e => !e.only_for_full_views(),
        }
    }

    fn parks(&mut self, node: NodeId) -> &mut u32 {
        let i = node.0 as usize;
        if self.wal_parks.len() <= i {
            self.wal_parks.resize(i + 1, 0);
        }
        &mut self.wal_parks[i]
    }
}

/// A word-at-a-time multiplicative hash (the FxHash mixing step): fast, and stable across runs
/// and builds (unlike `DefaultHasher`, which is randomly keyed). Bytes are read little-endian,
/// so the value is the same on every platform of the same pointer width.
#[derive(Clone, Default)]
pub struct TraceHasher(u64);

const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl TraceHasher {
    #[inline]
    fn mix(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
    }
}

impl Hasher for TraceHasher {
    fn finish(&self) -> u64 {
        // One final avalanche so nearby inputs give distant hashes.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.mix(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            // The rest as a little-endian word (what copying it into eight zero bytes gives),
            // assembled in registers: a copy of a variable length is a call to `memcpy`.
            let w = rest
                .iter()
                .enumerate()
                .fold(0u64, |w, (i, &b)| w | (b as u64) << (8 * i));
            self.mix(w ^ ((rest.len() as u64) << 56));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.mix(i as u64);
    }
    fn write_u32(&mut self, i: u32) {
        self.mix(i as u64);
    }
    fn write_u64(&mut self, i: u64) {
        self.mix(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.mix(i as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_application_packs_what_its_record_says() {
        for (request, effective) in [(None, false), (Some(RequestId(7 << 32 | 3)), true)] {
            let ev = TraceEvent::Applied {
                node: NodeId(5),
                index: 42,
                term: 3,
                request,
                effective,
            };
            let a = Application::of(SimTime(9), &ev).expect("an applied record");
            assert_eq!((a.at, a.index, a.term), (SimTime(9), 42, 3));
            assert_eq!(
                (a.node(), a.request(), a.effective()),
                (NodeId(5), request, effective)
            );
        }
        assert!(Application::of(SimTime(1), &TraceEvent::Paused { node: NodeId(1) }).is_none());
        assert!(std::mem::size_of::<Application>() <= 40);
    }

    #[test]
    fn hash_depends_on_content_and_order() {
        let a = TraceEvent::Paused { node: NodeId(1) };
        let b = TraceEvent::Paused { node: NodeId(2) };
        let mut t1 = Trace::default();
        t1.push(SimTime(1), a.clone());
        t1.push(SimTime(2), b.clone());
        let mut t2 = Trace::default();
        t2.push(SimTime(1), a.clone());
        t2.push(SimTime(2), b.clone());
        let mut t3 = Trace::default();
        t3.push(SimTime(1), b);
        t3.push(SimTime(2), a);
        assert_eq!(t1.hash(), t2.hash());
        assert_ne!(t1.hash(), t3.hash());
    }
}
