//! The client-facing API of a member (etcd's KV and Maintenance.Status RPCs, simplified).

use super::kv::{KvOp, KvResult};
use crate::sim::ids::{ClientId, NodeId, RequestId};
use crate::sim::time::SimTime;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "rpc", rename_all = "kebab-case")]
/// What a client asks a member.
pub enum ServerOp {
    /// A write (Put, DeleteRange, Txn) that goes through raft.
    Write {
        /// The operation.
        op: KvOp,
    },
    /// A Range on one key; `serializable` reads are served from local state without ReadIndex.
    Get {
        /// The key.
        key: String,
        /// Served from local state, without ReadIndex.
        serializable: bool,
    },
    /// Maintenance.Status: answered from the member's last published raft state.
    Status,
}

impl ServerOp {
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
        }
    }
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
    /// The answer to a Status RPC.
    Status(StatusInfo),
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
}

impl ServerError {
    /// What is wrong.
    pub fn message(self) -> &'static str {
        match self {
            ServerError::RequestTimedOut => "etcdserver: request timed out",
            ServerError::Unavailable => "rpc error: code = Unavailable desc = transport is closing",
            ServerError::DeadlineExceeded => "context deadline exceeded",
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
