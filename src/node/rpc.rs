//! The client-facing API of a member (etcd's KV and Maintenance.Status RPCs, simplified).

use super::kv::{KvOp, KvResult, WatchEvent};
use crate::sim::ids::{ClientId, LeaseId, NodeId, RequestId};
use crate::sim::time::SimTime;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "rpc", rename_all = "kebab-case")]
/// What a client asks a member.
pub enum ServerOp {
    /// A write (Put, DeleteRange, Txn) that goes through raft.
    Write {
        /// The operation, behind a pointer (a write is one request in five in a Kubernetes run,
        /// and inline it made every read, reply and history operation as large as a
        /// transaction) that is shared: the command's plan, the client's request and its
        /// retries, and the history operation hold the same one.
        op: std::sync::Arc<KvOp>,
    },
    /// A Range on one key; `serializable` reads are served from local state without ReadIndex.
    Get {
        /// The key (shared: a Kubernetes layer reads the same few keys hundreds of thousands
        /// of times, and the history keeps every read).
        key: std::sync::Arc<str>,
        /// Served from local state, without ReadIndex.
        serializable: bool,
    },
    /// Maintenance.Status: answered from the member's last published raft state.
    Status,
    /// One LeaseKeepAlive request (a renewal; not through raft: the leader's lessor answers, a
    /// follower forwards it to the leader over the peer connection).
    LeaseKeepAlive {
        /// The lease.
        id: LeaseId,
    },
    /// LeaseTimeToLive: the lease's TTL and remaining time, from the leader's lessor.
    LeaseTimeToLive {
        /// The lease.
        id: LeaseId,
    },
    /// A query of the user's own state machine (`node::machine`), as JSON; `serializable`
    /// ones are served from local state without ReadIndex.
    MachineQuery {
        /// The query.
        query: String,
        /// Served from local state, without ReadIndex.
        serializable: bool,
    },
    /// Cluster.MemberAdd / MemberRemove / MemberPromote / MemberList ([`MemberOp`]).
    Member {
        /// Which change (or the list).
        change: MemberOp,
    },
    /// Watch.Create: a long-lived stream of the events on `key` (or its prefix) from revision
    /// `start_revision` on (0: from the next change); answered at once with the member's
    /// revision, then events follow as the member applies them.
    Watch {
        /// The key, or the prefix.
        key: String,
        /// Watch every key that starts with `key`.
        prefix: bool,
        /// The first revision to report (0: the next one).
        start_revision: u64,
    },
}

impl ServerOp {
    /// A write of `op`.
    pub fn write(op: KvOp) -> ServerOp {
        ServerOp::Write {
            op: std::sync::Arc::new(op),
        }
    }

    /// The operation, if this is a write.
    pub fn write_op(&self) -> Option<&KvOp> {
        match self {
            ServerOp::Write { op } => Some(op),
            _ => None,
        }
    }

    /// A short description, for reports.
    pub fn summary(&self) -> String {
        match self {
            ServerOp::Write { op } => op.summary(),
            ServerOp::Get { key, serializable } => {
                format!(
                    "get {key}{}",
                    if *serializable { " (serializable)" } else { "" }
                )
            }
            ServerOp::Status => "status".into(),
            ServerOp::LeaseKeepAlive { id } => format!("lease keep-alive {id}"),
            ServerOp::MachineQuery { query, .. } => format!("query {query}"),
            ServerOp::LeaseTimeToLive { id } => format!("lease timetolive {id}"),
            ServerOp::Watch { key, prefix, .. } => {
                format!("watch {key}{}", if *prefix { " --prefix" } else { "" })
            }
            ServerOp::Member { change } => change.summary(),
        }
    }
}

/// A request of etcd's Cluster service (`etcdctl member ...`); members are named by their
/// machine (etcd names them by a random 64-bit ID, which is never reused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "member_op", rename_all = "kebab-case")]
pub enum MemberOp {
    /// `member add NAME [--learner]`: a voter (or a learner) joins.
    Add {
        /// The machine that joins.
        member: NodeId,
        /// As a learner (a non-voting member).
        learner: bool,
    },
    /// `member remove NAME`.
    Remove {
        /// The member.
        member: NodeId,
    },
    /// `member promote NAME`: a learner becomes a voter.
    Promote {
        /// The learner.
        member: NodeId,
    },
    /// `member list`: the member list the serving member has applied.
    List,
}

impl MemberOp {
    /// A short description, for reports.
    pub fn summary(&self) -> String {
        match self {
            MemberOp::Add {
                member,
                learner: false,
            } => format!("member add {member}"),
            MemberOp::Add {
                member,
                learner: true,
            } => format!("member add {member} --learner"),
            MemberOp::Remove { member } => format!("member remove {member}"),
            MemberOp::Promote { member } => format!("member promote {member}"),
            MemberOp::List => "member list".into(),
        }
    }
}

/// One entry of a member list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct MemberInfo {
    /// The member.
    pub id: NodeId,
    /// Whether it is a learner.
    pub is_learner: bool,
    /// Whether it has started (the serving member has heard from it; etcd: it published its
    /// name).
    pub started: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
/// A client request to a member.
pub struct ServerRequest {
    /// The client.
    pub client: ClientId,
    /// The client request.
    pub request: RequestId,
    /// What it asks.
    pub op: ServerOp,
    /// The client's deadline (gRPC propagates it); a member that reads the request after it
    /// drops the request unanswered.
    pub deadline: SimTime,
}

/// etcd's response header.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Header {
    /// The member.
    pub member: NodeId,
    /// The store's revision.
    pub revision: u64,
    /// The raft term.
    pub raft_term: u64,
}

/// What `endpoint status` shows for one member.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct StatusInfo {
    /// The member.
    pub member: NodeId,
    /// Approximate size of its store.
    pub db_size_bytes: u64,
    /// The leader it knows (raft id, 0: none).
    pub leader: u64,
    /// Whether it is a learner.
    pub is_learner: bool,
    /// The raft term.
    pub raft_term: u64,
    /// Its commit index (etcd shows it as RAFT INDEX).
    pub raft_index: u64,
    /// Its applied index.
    pub raft_applied_index: u64,
    /// The etcd release it runs.
    pub version: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "body", rename_all = "kebab-case")]
/// What a member answered.
pub enum ReplyBody {
    /// The answer to a key-value operation.
    Kv {
        /// etcd's response header.
        header: Header,
        /// The result.
        result: KvResult,
    },
    /// The answer to a Status RPC (boxed: rare, and every history operation keeps its reply).
    Status(Box<StatusInfo>),
    /// The answer to LeaseKeepAlive or LeaseTimeToLive, from the leader's lessor.
    Lease {
        /// The lease.
        id: LeaseId,
        /// Seconds left (a renewal answers the full TTL; 0 or less: not found or expired).
        ttl_s: i64,
        /// The TTL it was granted with (LeaseTimeToLive only; 0 otherwise).
        granted_ttl_s: u64,
    },
    /// The member list after a membership change, or as `member list` asked.
    Members {
        /// The members, by id.
        members: Vec<MemberInfo>,
    },
    /// The watch was created; events follow.
    WatchCreated {
        /// The member's revision when it was created.
        revision: u64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
/// Why a member failed a request.
pub enum ServerError {
    /// etcd's own request timeout (5 s + 2 x election timeout): "etcdserver: request timed out".
    RequestTimedOut,
    /// The connection broke (member crashed): gRPC `Unavailable`.
    Unavailable,
    /// The client's deadline passed while the server waited: gRPC `DeadlineExceeded`.
    DeadlineExceeded,
    /// The operation named a lease that does not exist.
    LeaseNotFound,
    /// `lease grant` of a lease that exists.
    LeaseExists,
    /// A leader that could not confirm its leadership refused a renewal (etcd 3.5.13+).
    NotPrimary,
    /// `member add` of a member already in the cluster (`membership.ErrIDExists`).
    MemberExists,
    /// A change naming a removed member: etcd never reuses an ID (`membership.ErrIDRemoved`).
    IdRemoved,
    /// A change naming no member (`membership.ErrIDNotFound`).
    MemberNotFound,
    /// `member promote` of a voter (`membership.ErrMemberNotLearner`).
    MemberNotLearner,
    /// A second learner (`membership.ErrTooManyLearners`; etcd allows one).
    TooManyLearners,
    /// The learner's log is behind 90% of the leader's (`ErrLearnerNotReady`).
    LearnerNotReady,
    /// The change would leave fewer started members than a quorum (`--strict-reconfig-check`).
    NotEnoughStartedMembers,
    /// The change would break the active quorum (`ErrUnhealthy`).
    Unhealthy,
    /// A learner serves only serializable reads, status and the member list.
    NotSupportedForLearner,
}

impl ServerError {
    /// What is wrong.
    pub fn message(self) -> &'static str {
        match self {
            ServerError::RequestTimedOut => "etcdserver: request timed out",
            ServerError::Unavailable => "rpc error: code = Unavailable desc = transport is closing",
            ServerError::DeadlineExceeded => "context deadline exceeded",
            ServerError::LeaseNotFound => "etcdserver: requested lease not found",
            ServerError::LeaseExists => "etcdserver: lease already exists",
            ServerError::NotPrimary => "etcdserver: not primary",
            ServerError::MemberExists => "etcdserver: member ID already exist",
            ServerError::IdRemoved => "etcdserver: ID removed",
            ServerError::MemberNotFound => "etcdserver: member not found",
            ServerError::MemberNotLearner => "etcdserver: can only promote a learner member",
            ServerError::TooManyLearners => "etcdserver: too many learner members in cluster",
            ServerError::LearnerNotReady => {
                "etcdserver: can only promote a learner member which is in sync with leader"
            }
            ServerError::NotEnoughStartedMembers => {
                "etcdserver: re-configuration failed due to not enough started members"
            }
            ServerError::Unhealthy => "etcdserver: unhealthy cluster",
            ServerError::NotSupportedForLearner => "etcdserver: rpc not supported for learner",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
/// A member's answer to one request.
pub struct Reply {
    /// The client.
    pub client: ClientId,
    /// The client request.
    pub request: RequestId,
    /// The member that answered.
    pub from: NodeId,
    /// The result.
    pub result: Result<ReplyBody, ServerError>,
}

/// Events a member pushes on an open watch stream, or the news that the stream broke.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WatchPush {
    /// The watching client.
    pub client: ClientId,
    /// The request that created the watch.
    pub request: RequestId,
    /// The member.
    pub from: NodeId,
    /// The events, in revision order (empty when the stream broke).
    pub events: Vec<WatchEvent>,
    /// The stream broke (the member crashed): the client re-creates the watch.
    pub broken: bool,
}

/// A member-to-member request outside raft, over the peer HTTP connection, not through the log:
/// etcd forwards lease renewals and TTL lookups from a follower to the leader (`leasehttp`), and
/// a learner's promotion (`promoteMemberHTTP`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PeerForward {
    /// The member that forwards.
    pub from: NodeId,
    /// The leader it believes in.
    pub to: NodeId,
    /// The client request being served.
    pub request: RequestId,
    /// What the client asked (`LeaseKeepAlive`, `LeaseTimeToLive` or a `member promote`).
    pub op: ServerOp,
    /// The leader's answer, on the way back; `None` on the way there.
    pub answer: Option<Result<ReplyBody, ServerError>>,
}
