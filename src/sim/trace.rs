//! The record of what happened.
//!
//! Contract: every component reports what it did as a [`TraceEvent`] stamped with simulated
//! time. The trace is the single source for every view (timeline, tables, JSON lines) and for the
//! trace hash, so the views cannot disagree. The hash is FNV-1a (64 bit) over each record's
//! `Hash` encoding, fed in order: the same seed and scenario give the same hash on every run and
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
    MsgSent {
        from: NodeId,
        to: NodeId,
        kind: &'static str,
        term: u64,
        index: u64,
        copies: u8,
    },
    MsgDelivered {
        from: NodeId,
        to: NodeId,
        kind: &'static str,
        term: u64,
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
        summary: String,
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
        op: String,
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
    CommandStarted {
        command: usize,
        text: String,
    },
    CommandOutput {
        command: usize,
        text: String,
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
        outcome: String,
    },
    LateReply {
        client: ClientId,
        request: RequestId,
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
    hasher: Fnv64,
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

/// FNV-1a, 64 bit: tiny, fast, and stable across builds (unlike `DefaultHasher`).
#[derive(Clone)]
pub struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv64 {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= *b as u64;
            self.0 = self.0.wrapping_mul(0x100_0000_01b3);
        }
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
