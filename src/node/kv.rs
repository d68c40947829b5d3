//! The replicated state machine: an etcd-like key-value store with revisions.
//!
//! Models etcd's MVCC surface that clients observe: one store-wide `revision` incremented by every
//! mutating operation, and per key `create_revision`, `mod_revision` and `version`. A transaction
//! compares a key's value or its mod revision (kube-apiserver's GuaranteedUpdate compares the mod
//! revision) and puts a new value when the comparison holds.
//!
//! Durability: none of its own. The store lives in memory and is rebuilt after a restart by
//! replaying the durable raft log (the disk module's durability model).
//!
//! Invariants: `revision` never decreases; applying the same sequence of operations gives the same
//! store on every member (checked by the run's convergence expectation).

use crate::sim::ids::RequestId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A mutating operation, as carried inside a raft entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum KvOp {
    /// A put.
    Put {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// A delete.
    Delete {
        /// The key.
        key: String,
    },
    /// A compare-and-swap transaction.
    Txn {
        /// The key.
        key: String,
        /// The condition.
        compare: Compare,
        /// The value written when the comparison holds.
        then_put: String,
    },
}

/// The comparison of a compare-and-swap transaction.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Compare {
    /// The key's value equals this (an absent key never matches).
    Value(String),
    /// The key's mod revision equals this; 0 means "the key does not exist".
    ModRevision(u64),
}

impl KvOp {
    /// The key.
    pub fn key(&self) -> &str {
        match self {
            KvOp::Put { key, .. } | KvOp::Delete { key } | KvOp::Txn { key, .. } => key,
        }
    }

    /// The value this operation writes, if any.
    pub fn written_value(&self) -> Option<&str> {
        match self {
            KvOp::Put { value, .. } => Some(value),
            KvOp::Txn { then_put, .. } => Some(then_put),
            KvOp::Delete { .. } => None,
        }
    }

    /// A short description, for reports.
    pub fn summary(&self) -> String {
        match self {
            KvOp::Put { key, value } => format!("put {key} {value}"),
            KvOp::Delete { key } => format!("del {key}"),
            KvOp::Txn {
                key,
                compare,
                then_put,
            } => match compare {
                Compare::Value(v) => format!("txn {key} if value={v} then put {then_put}"),
                Compare::ModRevision(r) => {
                    format!("txn {key} if mod_revision={r} then put {then_put}")
                }
            },
        }
    }
}

/// The payload of a raft entry proposed by a client request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// The client request.
    pub request: RequestId,
    /// The operation.
    pub op: KvOp,
}

impl Proposal {
    /// Encodes the proposal as entry data.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("proposal encodes")
    }
    /// Decodes an entry written by `encode`.
    pub fn decode(data: &[u8]) -> Proposal {
        serde_json::from_slice(data).expect("entry data is a proposal written by this simulator")
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
/// A key with its value and revisions.
pub struct KeyValue {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
    /// The revision that created the key.
    pub create_revision: u64,
    /// The key's last modification revision.
    pub mod_revision: u64,
    /// How many times the key was written since created.
    pub version: u64,
}

/// The result of applying or serving one operation.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum KvResult {
    /// A put took effect.
    Put {
        /// The store's revision after it.
        revision: u64,
    },
    /// A delete ran.
    Delete {
        /// The store's revision after it.
        revision: u64,
        /// How many keys it deleted (0 or 1).
        deleted: u64,
    },
    /// A transaction ran.
    Txn {
        /// The store's revision after it.
        revision: u64,
        /// Whether its comparison held (and so it wrote).
        succeeded: bool,
    },
    /// A read.
    Get {
        /// The store's revision when read.
        revision: u64,
        /// The key, if present.
        kv: Option<KeyValue>,
    },
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
/// The member's key-value state machine (etcd's mvcc, simplified).
pub struct KvStore {
    revision: u64,
    data: BTreeMap<String, KeyValue>,
    bytes: u64,
}

impl KvStore {
    /// The store's revision.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Approximate size of the backend file, as etcd's DB SIZE column shows it.
    pub fn db_size_bytes(&self) -> u64 {
        // bbolt starts at 20 KiB-ish and grows by pages; keep that shape.
        20_480 + self.bytes.div_ceil(4_096) * 4_096
    }

    /// Reads a key.
    pub fn get(&self, key: &str) -> KvResult {
        KvResult::Get {
            revision: self.revision,
            kv: self.data.get(key).cloned(),
        }
    }

    /// Applies a committed operation.
    pub fn apply(&mut self, op: &KvOp) -> KvResult {
        match op {
            KvOp::Put { key, value } => {
                self.put(key, value);
                KvResult::Put {
                    revision: self.revision,
                }
            }
            KvOp::Delete { key } => {
                let deleted = self.data.remove(key).is_some() as u64;
                if deleted > 0 {
                    self.revision += 1;
                }
                KvResult::Delete {
                    revision: self.revision,
                    deleted,
                }
            }
            KvOp::Txn {
                key,
                compare,
                then_put,
            } => {
                let cur = self.data.get(key);
                let succeeded = match compare {
                    Compare::Value(v) => cur.is_some_and(|kv| &kv.value == v),
                    Compare::ModRevision(r) => cur.map_or(0, |kv| kv.mod_revision) == *r,
                };
                if succeeded {
                    self.put(key, then_put);
                }
                KvResult::Txn {
                    revision: self.revision,
                    succeeded,
                }
            }
        }
    }

    fn put(&mut self, key: &str, value: &str) {
        self.revision += 1;
        self.bytes += (key.len() + value.len()) as u64;
        let rev = self.revision;
        let e = self.data.entry(key.to_string()).or_insert(KeyValue {
            key: key.to_string(),
            value: String::new(),
            create_revision: rev,
            mod_revision: rev,
            version: 0,
        });
        e.value = value.to_string();
        e.mod_revision = rev;
        e.version += 1;
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Every key and value, in key order (for convergence checks).
    pub fn snapshot(&self) -> Vec<(String, String)> {
        self.data
            .values()
            .map(|kv| (kv.key.clone(), kv.value.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(k: &str, v: &str) -> KvOp {
        KvOp::Put {
            key: k.into(),
            value: v.into(),
        }
    }

    #[test]
    fn revisions_advance() {
        let mut s = KvStore::default();
        assert_eq!(s.apply(&put("a", "1")), KvResult::Put { revision: 1 });
        assert_eq!(s.apply(&put("a", "2")), KvResult::Put { revision: 2 });
        match s.get("a") {
            KvResult::Get { kv: Some(kv), .. } => {
                assert_eq!(
                    (
                        kv.value.as_str(),
                        kv.create_revision,
                        kv.mod_revision,
                        kv.version
                    ),
                    ("2", 1, 2, 2)
                );
            }
            r => panic!("{r:?}"),
        }
        assert_eq!(
            s.apply(&KvOp::Delete { key: "a".into() }),
            KvResult::Delete {
                revision: 3,
                deleted: 1
            }
        );
        assert_eq!(
            s.apply(&KvOp::Delete { key: "a".into() }),
            KvResult::Delete {
                revision: 3,
                deleted: 0
            }
        );
    }

    #[test]
    fn txn_compares_value_and_mod_revision() {
        let mut s = KvStore::default();
        let cas = |c: Compare, v: &str| KvOp::Txn {
            key: "k".into(),
            compare: c,
            then_put: v.into(),
        };
        // Create only if absent.
        assert_eq!(
            s.apply(&cas(Compare::ModRevision(0), "x")),
            KvResult::Txn {
                revision: 1,
                succeeded: true
            }
        );
        assert_eq!(
            s.apply(&cas(Compare::ModRevision(0), "y")),
            KvResult::Txn {
                revision: 1,
                succeeded: false
            }
        );
        assert_eq!(
            s.apply(&cas(Compare::ModRevision(1), "y")),
            KvResult::Txn {
                revision: 2,
                succeeded: true
            }
        );
        assert_eq!(
            s.apply(&cas(Compare::Value("x".into()), "z")),
            KvResult::Txn {
                revision: 2,
                succeeded: false
            }
        );
        assert_eq!(
            s.apply(&cas(Compare::Value("y".into()), "z")),
            KvResult::Txn {
                revision: 3,
                succeeded: true
            }
        );
    }

    #[test]
    fn proposal_roundtrip() {
        let p = Proposal {
            request: RequestId(9),
            op: put("hello", "world"),
        };
        assert_eq!(Proposal::decode(&p.encode()), p);
    }
}
