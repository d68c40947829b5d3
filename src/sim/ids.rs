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

/// An etcd lease, shown as etcd shows it: 16 hex digits. etcd lets a client choose the ID of a
/// lease it grants (`LeaseGrantRequest.ID`; the server picks one only when it is 0); raftsim's
/// clients derive it from the name of the command that grants it, so a scenario can refer to it.
/// Serialized as its 16 hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct LeaseId(pub u64);

impl Serialize for LeaseId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for LeaseId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        u64::from_str_radix(&s, 16)
            .map(LeaseId)
            .map_err(|_| serde::de::Error::custom(format!("`{s}` is not a lease ID (hex)")))
    }
}

impl LeaseId {
    /// The lease a scenario names `name` (an FNV-1a hash, positive as etcd's IDs are).
    pub fn named(name: &str) -> LeaseId {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in name.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x100_0000_01b3);
        }
        LeaseId((h & ((1 << 63) - 1)).max(1))
    }
}

impl fmt::Display for LeaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}
