//! The client-facing API of a member (etcd's KV and Maintenance.Status RPCs, simplified).

use super::kv::{KvOp, KvResult};
use crate::sim::ids::{ClientId, NodeId, RequestId};
use crate::sim::time::SimTime;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "rpc", rename_all = "kebab-case")]
pub enum ServerOp {
    /// A write (Put, DeleteRange, Txn) that goes through raft.
    Write { op: KvOp },
    /// A Range on one key; `serializable` reads are served from local state without ReadIndex.
    Get { key: String, serializable: bool },
    /// Maintenance.Status: answered from the member's last published raft state.
    Status,
}

impl ServerOp {
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
pub struct ServerRequest {
    pub client: ClientId,
    pub request: RequestId,
    pub op: ServerOp,
    /// The client's deadline (gRPC propagates it); a member that reads the request after it
    /// drops the request unanswered.
    pub deadline: SimTime,
}

/// etcd's response header.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Header {
    pub member: NodeId,
    pub revision: u64,
    pub raft_term: u64,
}

/// What `endpoint status` shows for one member.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct StatusInfo {
    pub member: NodeId,
    pub db_size_bytes: u64,
    pub leader: u64,
    pub is_learner: bool,
    pub raft_term: u64,
    pub raft_index: u64,
    pub raft_applied_index: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "body", rename_all = "kebab-case")]
pub enum ReplyBody {
    Kv { header: Header, result: KvResult },
    Status(StatusInfo),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServerError {
    /// etcd's own request timeout (5 s + 2 x election timeout): "etcdserver: request timed out".
    RequestTimedOut,
    /// The connection broke (member crashed): gRPC `Unavailable`.
    Unavailable,
}

impl ServerError {
    pub fn message(self) -> &'static str {
        match self {
            ServerError::RequestTimedOut => "etcdserver: request timed out",
            ServerError::Unavailable => "rpc error: code = Unavailable desc = transport is closing",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reply {
    pub client: ClientId,
    pub request: RequestId,
    pub from: NodeId,
    pub result: Result<ReplyBody, ServerError>,
}
