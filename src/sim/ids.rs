//! Identifier newtypes shared by every component.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A cluster member, numbered from 1 as raft-rs requires. Shown as `etcd-N`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
pub struct NodeId(pub u64);

/// A Raft term.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
pub struct Term(pub u64);

/// A position in the Raft log.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
pub struct LogIndex(pub u64);

/// A simulated client process (one etcdctl invocation or one long-lived session).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
pub struct ClientId(pub u64);

/// One client operation in the history (an invocation and its completion).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
pub struct OpId(pub u64);

/// One request attempt sent to a member; unique over the run. Carried inside proposals so the
/// member that received the request can answer when the entry is applied.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
pub struct RequestId(pub u64);

impl NodeId {
    /// The member's name, as etcd's `--name`.
    pub fn name(self) -> String {
        format!("etcd-{}", self.0)
    }
    /// The member's client URL as etcdctl shows it (`localhost:12379` for member 1).
    pub fn endpoint(self) -> String {
        format!("localhost:{}2379", self.0)
    }
    /// The 16-hex-digit member ID etcd would show, derived deterministically from the id.
    pub fn member_hex(self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.name().bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x100_0000_01b3);
        }
        format!("{h:016x}")
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "etcd-{}", self.0)
    }
}
