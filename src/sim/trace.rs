//! The record of what happened.
//!
//! Contract: every component reports what it did as a [`TraceEvent`] stamped with simulated
//! time. The trace is the single source for every view (timeline, tables, JSON lines) and for the
//! trace hash, so the views cannot disagree. The hash is a word-at-a-time multiplicative hash over each
//! record's `Hash` encoding, fed in order: the same seed and scenario give the same hash on every run and
//! in debug and release builds (on the same target architecture).

use super::ids::{ClientId, NodeId, OpId, RequestId};
use super::time::SimTime;
use serde::Serialize;
use std::hash::{Hash, Hasher};

/// A node's Raft role, as raft-rs's `StateRole`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Follower,
    PreCandidate,
    Candidate,
    Leader,
}

impl Role {
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
}

impl Oracle {
    /// Every oracle, in report order.
    pub const ALL: [Oracle; 4] = [
        Oracle::RaftSafety,
        Oracle::ReadyContract,
        Oracle::Linearizability,
        Oracle::Durability,
    ];

    /// The oracle's name in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Oracle::RaftSafety => "raft-safety",
            Oracle::ReadyContract => "ready-contract",
            Oracle::Linearizability => "linearizability",
            Oracle::Durability => "durability",
        }
    }
}

impl std::fmt::Display for Oracle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Hashed as its name, so trace hashes do not depend on the enum's layout.
impl Hash for Oracle {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name().hash(state)
    }
}

impl Serialize for Oracle {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
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
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum TraceEvent {
    // ---- cluster ----
    RoleChanged {
        node: NodeId,
        role: Role,
        term: u64,
        leader: u64,
    },
    /// A message left `from`; it arrives after `latency_us` (and a duplicate after
    /// `duplicate_latency_us`) unless a later `MsgDropped` says otherwise.
    MsgSent {
        from: NodeId,
        to: NodeId,
        kind: &'static str,
        term: u64,
        index: u64,
        latency_us: u64,
        duplicate_latency_us: Option<u64>,
    },
    MsgDropped {
        from: NodeId,
        to: NodeId,
        kind: &'static str,
        reason: DropReason,
    },
    WalSubmitted {
        node: NodeId,
        ready: u64,
        entries: u64,
        last_index: u64,
        fsync: bool,
    },
    WalSynced {
        node: NodeId,
        ready: u64,
        last_index: u64,
        held_msgs: u64,
    },
    DiskParked {
        node: NodeId,
        io: &'static str,
    },
    FsyncFailed {
        node: NodeId,
        ready: u64,
    },
    Applied {
        node: NodeId,
        index: u64,
        term: u64,
        request: Option<RequestId>,
        /// False when the operation changed nothing (a transaction whose comparison failed,
        /// a delete of an absent key).
        effective: bool,
    },
    Crashed {
        node: NodeId,
        lost_writes: u64,
        durable_last_index: u64,
        reason: String,
    },
    Restarted {
        node: NodeId,
        term: u64,
        durable_last_index: u64,
        election_ticks: u64,
    },
    Paused {
        node: NodeId,
    },
    Resumed {
        node: NodeId,
        inbox: u64,
    },
    FaultStarted {
        fault: usize,
        what: String,
    },
    FaultEnded {
        fault: usize,
        what: String,
    },
    // ---- members serving clients ----
    RequestRead {
        node: NodeId,
        request: RequestId,
    },
    RequestExpired {
        node: NodeId,
        request: RequestId,
        op: String,
    },
    ServerTimeout {
        node: NodeId,
        request: RequestId,
    },
    ReadIndexRetry {
        node: NodeId,
        request: RequestId,
    },
    Replied {
        node: NodeId,
        request: RequestId,
        ok: bool,
    },
    // ---- clients ----
    /// Scenario command number `command` started (its text is in the scenario).
    CommandStarted {
        command: usize,
    },
    CommandOutput {
        command: usize,
        lines: Vec<String>,
        took_us: u64,
    },
    ConnReady {
        client: ClientId,
        node: NodeId,
    },
    RequestSent {
        client: ClientId,
        op: OpId,
        request: RequestId,
        to: NodeId,
    },
    OpCompleted {
        client: ClientId,
        op: OpId,
        outcome: Outcome,
    },
    LateReply {
        client: ClientId,
        request: RequestId,
    },
    /// An oracle found a broken invariant.
    Violation {
        oracle: Oracle,
        nodes: Vec<NodeId>,
        detail: String,
    },
    // ---- kubernetes ----
    LeaseRenewed {
        node: String,
        apiserver: u64,
        took_us: u64,
    },
    /// A lease request of a kubelet failed: the path is kubelet -> apiserver -> etcd members.
    LeaseRenewFailed {
        node: String,
        apiserver: u64,
        etcd: Vec<u64>,
        request: String,
        error: String,
        attempt: u32,
        took_us: u64,
    },
    KubeletReconnect {
        node: String,
        apiserver: u64,
    },
    KcmLeadership {
        kcm: u64,
        acquired: bool,
        reason: String,
    },
    NodeCondition {
        node: String,
        ready: String,
        reason: String,
        kcm: u64,
    },
    NodeTaint {
        node: String,
        taint: String,
        added: bool,
    },
    PodsEvicted {
        node: String,
        tainted_for_us: u64,
    },
    LbBackend {
        apiserver: u64,
        healthy: bool,
    },
    /// A write whose client saw it fail or time out took effect later (derived at the end).
    TimedOutWriteApplied {
        op: OpId,
        node: NodeId,
        key: String,
        value: String,
        overwrote_acknowledged: bool,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct TraceRecord {
    pub at: SimTime,
    #[serde(flatten)]
    pub event: TraceEvent,
}

/// Append-only trace with a running hash.
#[derive(Default)]
pub struct Trace {
    pub records: Vec<TraceRecord>,
    hasher: TraceHasher,
}

impl Trace {
    pub fn push(&mut self, at: SimTime, event: TraceEvent) {
        let rec = TraceRecord { at, event };
        rec.hash(&mut self.hasher);
        self.records.push(rec);
    }

    pub fn hash(&self) -> u64 {
        self.hasher.finish()
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
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(b) ^ ((rest.len() as u64) << 56));
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
