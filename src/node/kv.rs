//! The replicated state machine: an etcd-like key-value store with revisions.
//!
//! Models etcd's MVCC surface that clients observe: one store-wide `revision` incremented by every
//! mutating operation, and per key `create_revision`, `mod_revision` and `version`. A transaction
//! compares a key's value or its mod revision (kube-apiserver's GuaranteedUpdate compares the mod
//! revision) and puts a new value when the comparison holds.
//!
//! Leases (etcd's `lease` package, the part that goes through raft): a grant records the lease
//! and its TTL (raised to the minimum TTL, as `lessor.Grant` does), a put or a transaction may
//! attach its key to a lease (and a later put without one detaches it), and a revoke deletes
//! every attached key in one revision (`lessor.Revoke` runs one write transaction). A put on a
//! lease that does not exist fails with "requested lease not found", decided at apply time as
//! etcd's applier does. Expiry is not here: it is each member's volatile lessor (`lease.rs`),
//! which proposes a revoke through raft.
//!
//! Watch history: when asked (`keep_events`), the store keeps every PUT and DELETE event with
//! its revision, so a watch can start from an old revision and resume after a broken stream
//! (etcd keeps the MVCC history until compaction; raftsim never compacts it).
//!
//! Durability: none of its own. The store lives in memory and is rebuilt after a restart by
//! replaying the durable raft log (the disk module's durability model).
//!
//! Invariants: `revision` never decreases; applying the same sequence of operations gives the same
//! store on every member (checked by the run's convergence expectation); every key attached to a
//! lease is in that lease's key set, and the other way round.

use crate::sim::ids::{LeaseId, RequestId};
pub use crate::sim::trace::EventKind;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

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
        /// The lease the key is attached to (`put --lease`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lease: Option<LeaseId>,
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
        /// The lease the written key is attached to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lease: Option<LeaseId>,
    },
    /// `lease grant`: records a lease with its TTL.
    LeaseGrant {
        /// The lease.
        id: LeaseId,
        /// The TTL asked for, in seconds.
        ttl_s: u64,
    },
    /// `lease revoke`, or a revocation the leader's lessor proposes when a lease expired.
    LeaseRevoke {
        /// The lease.
        id: LeaseId,
    },
    /// A command of the user's own state machine (`node::machine`), as JSON.
    Machine {
        /// The command.
        command: String,
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
    /// A plain put without a lease.
    pub fn put(key: &str, value: &str) -> KvOp {
        KvOp::Put {
            key: key.into(),
            value: value.into(),
            lease: None,
        }
    }

    /// The key (`None` for lease operations, which name no key).
    pub fn key(&self) -> Option<&str> {
        match self {
            KvOp::Put { key, .. } | KvOp::Delete { key } | KvOp::Txn { key, .. } => Some(key),
            KvOp::LeaseGrant { .. } | KvOp::LeaseRevoke { .. } | KvOp::Machine { .. } => None,
        }
    }

    /// The value this operation writes, if any.
    pub fn written_value(&self) -> Option<&str> {
        match self {
            KvOp::Put { value, .. } => Some(value),
            KvOp::Txn { then_put, .. } => Some(then_put),
            _ => None,
        }
    }

    /// The lease the written key is attached to, if any.
    pub fn lease(&self) -> Option<LeaseId> {
        match self {
            KvOp::Put { lease, .. } | KvOp::Txn { lease, .. } => *lease,
            _ => None,
        }
    }

    /// A short description, for reports.
    pub fn summary(&self) -> String {
        let with = |l: &Option<LeaseId>| l.map(|l| format!(" --lease={l}")).unwrap_or_default();
        match self {
            KvOp::Put { key, value, lease } => format!("put {key} {value}{}", with(lease)),
            KvOp::Delete { key } => format!("del {key}"),
            KvOp::Txn {
                key,
                compare,
                then_put,
                lease,
            } => match compare {
                Compare::Value(v) => {
                    format!("txn {key} if value={v} then put {then_put}{}", with(lease))
                }
                Compare::ModRevision(r) => {
                    format!(
                        "txn {key} if mod_revision={r} then put {then_put}{}",
                        with(lease)
                    )
                }
            },
            KvOp::LeaseGrant { id, ttl_s } => format!("lease grant {ttl_s} ({id})"),
            KvOp::LeaseRevoke { id } => format!("lease revoke {id}"),
            KvOp::Machine { command } => format!("command {command}"),
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
    /// Encodes the proposal as entry data, about as large as etcd's protobuf request
    /// ([`super::wire`]), in a buffer of exactly its length.
    pub fn encode(&self) -> Vec<u8> {
        super::wire::encode(self.request, &self.op)
    }

    /// Decodes an entry written by `encode`.
    pub fn decode(data: &[u8]) -> Proposal {
        super::wire::decode(data)
            .unwrap_or_else(|e| panic!("entry data is a proposal written by this simulator: {e}"))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
/// A key with its value and revisions.
///
/// The key and value are shared (`Arc<str>`) between the store and every reply that carries
/// them: a long Kubernetes run keeps hundreds of thousands of `Get` replies in its history,
/// and copying both strings into each was a fifth of what the history cost.
pub struct KeyValue {
    /// The key.
    pub key: Arc<str>,
    /// The value.
    pub value: Arc<str>,
    /// The revision that created the key.
    pub create_revision: u64,
    /// The key's last modification revision.
    pub mod_revision: u64,
    /// How many times the key was written since created.
    pub version: u64,
    /// The lease it is attached to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<LeaseId>,
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
        /// The key, if present (boxed: a result is kept in every read's history operation,
        /// and most results are not reads).
        kv: Option<Box<KeyValue>>,
    },
    /// A lease was granted.
    LeaseGrant {
        /// The store's revision.
        revision: u64,
        /// The lease.
        id: LeaseId,
        /// Its TTL in seconds, after raising it to the minimum.
        ttl_s: u64,
    },
    /// A lease was revoked and its keys deleted.
    LeaseRevoke {
        /// The store's revision after it.
        revision: u64,
        /// How many keys it deleted.
        deleted: u64,
    },
    /// The operation named a lease that does not exist: etcd answers "requested lease not
    /// found" and nothing changes.
    LeaseNotFound,
    /// `lease grant` of an ID that exists: "lease already exists"; nothing changes.
    LeaseExists,
    /// The user's state machine answered (JSON).
    Machine {
        /// The response.
        response: String,
    },
}

impl KvResult {
    /// Whether the operation changed the store (a failed comparison, a delete of nothing and a
    /// lease error did not).
    pub fn changed(&self) -> bool {
        !matches!(
            self,
            KvResult::Txn {
                succeeded: false,
                ..
            } | KvResult::Delete { deleted: 0, .. }
                | KvResult::LeaseNotFound
                | KvResult::LeaseExists
                | KvResult::Get { .. }
        )
    }
}

/// A lease as the state machine records it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRecord {
    /// Its TTL in seconds.
    pub ttl_s: u64,
    /// The keys attached to it.
    pub keys: BTreeSet<String>,
}

/// One event of the store's history, as a watch sees it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WatchEvent {
    /// PUT or DELETE.
    pub kind: EventKind,
    /// The key.
    pub key: String,
    /// The value written (empty for a delete).
    pub value: String,
    /// The revision of the change.
    pub revision: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
/// The member's key-value state machine (etcd's mvcc, simplified). A snapshot carries it whole
/// (serialized), as etcd's snapshot carries its backend database.
pub struct KvStore {
    revision: u64,
    data: BTreeMap<String, KeyValue>,
    bytes: u64,
    leases: BTreeMap<LeaseId, LeaseRecord>,
    /// etcd's minimum lease TTL in seconds (`lessor.minLeaseTTL`).
    min_lease_ttl_s: u64,
    /// The event history watches read, when kept.
    events: Option<Vec<WatchEvent>>,
}

impl KvStore {
    /// An empty store that raises lease TTLs to `min_lease_ttl_s` and keeps its event history
    /// for watches when `keep_events`.
    pub fn new(min_lease_ttl_s: u64, keep_events: bool) -> KvStore {
        KvStore {
            min_lease_ttl_s,
            events: keep_events.then(Vec::new),
            ..Default::default()
        }
    }

    /// The leases, with their TTLs and keys.
    pub fn leases(&self) -> &BTreeMap<LeaseId, LeaseRecord> {
        &self.leases
    }

    /// Events with a revision of at least `from`, matching `key` (or any key starting with it
    /// when `prefix`); empty when the store keeps no history.
    pub fn events_from(&self, from: u64, key: &str, prefix: bool) -> Vec<WatchEvent> {
        let Some(ev) = &self.events else {
            return vec![];
        };
        let start = ev.partition_point(|e| e.revision < from);
        ev[start..]
            .iter()
            .filter(|e| matches_key(&e.key, key, prefix))
            .cloned()
            .collect()
    }

    fn record(&mut self, kind: EventKind, key: &str, value: &str) {
        if let Some(ev) = &mut self.events {
            ev.push(WatchEvent {
                kind,
                key: key.into(),
                value: value.into(),
                revision: self.revision,
            });
        }
    }
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
            kv: self.data.get(key).cloned().map(Box::new),
        }
    }

    /// Applies a committed operation.
    pub fn apply(&mut self, op: &KvOp) -> KvResult {
        if op.lease().is_some_and(|l| !self.leases.contains_key(&l)) {
            return KvResult::LeaseNotFound;
        }
        match op {
            KvOp::Put { key, value, lease } => {
                self.put(key, value, *lease);
                KvResult::Put {
                    revision: self.revision,
                }
            }
            KvOp::Delete { key } => {
                let deleted = self.delete_keys(std::slice::from_ref(key));
                KvResult::Delete {
                    revision: self.revision,
                    deleted,
                }
            }
            KvOp::Txn {
                key,
                compare,
                then_put,
                lease,
            } => {
                let cur = self.data.get(key);
                let succeeded = match compare {
                    Compare::Value(v) => cur.is_some_and(|kv| *kv.value == **v),
                    Compare::ModRevision(r) => cur.map_or(0, |kv| kv.mod_revision) == *r,
                };
                if succeeded {
                    self.put(key, then_put, *lease);
                }
                KvResult::Txn {
                    revision: self.revision,
                    succeeded,
                }
            }
            KvOp::LeaseGrant { id, ttl_s } => self.grant(*id, *ttl_s),
            KvOp::Machine { .. } => unreachable!("the member applies machine commands itself"),
            KvOp::LeaseRevoke { id } => match self.leases.remove(id) {
                None => KvResult::LeaseNotFound,
                Some(l) => {
                    let keys: Vec<String> = l.keys.into_iter().collect();
                    let deleted = self.delete_keys(&keys);
                    KvResult::LeaseRevoke {
                        revision: self.revision,
                        deleted,
                    }
                }
            },
        }
    }

    fn grant(&mut self, id: LeaseId, ttl_s: u64) -> KvResult {
        if self.leases.contains_key(&id) {
            return KvResult::LeaseExists;
        }
        let ttl_s = ttl_s.max(self.min_lease_ttl_s);
        let keys = BTreeSet::new();
        self.leases.insert(id, LeaseRecord { ttl_s, keys });
        KvResult::LeaseGrant {
            revision: self.revision,
            id,
            ttl_s,
        }
    }

    /// Deletes the keys that exist, all in one new revision (etcd deletes a revoked lease's
    /// keys in one write transaction); returns how many it deleted.
    fn delete_keys(&mut self, keys: &[String]) -> u64 {
        let present: Vec<&String> = keys.iter().filter(|k| self.data.contains_key(*k)).collect();
        if present.is_empty() {
            return 0;
        }
        self.revision += 1;
        for k in &present {
            let kv = self.data.remove(*k).expect("present");
            self.detach(k, kv.lease);
            self.record(EventKind::Delete, k, "");
        }
        present.len() as u64
    }

    fn detach(&mut self, key: &str, lease: Option<LeaseId>) {
        if let Some(l) = lease.and_then(|l| self.leases.get_mut(&l)) {
            l.keys.remove(key);
        }
    }

    fn put(&mut self, key: &str, value: &str, lease: Option<LeaseId>) {
        self.revision += 1;
        self.bytes += (key.len() + value.len()) as u64;
        let rev = self.revision;
        // Look the key up before making an owned copy of it: most puts overwrite a key.
        if !self.data.contains_key(key) {
            let created = KeyValue {
                key: key.into(),
                value: "".into(),
                create_revision: rev,
                mod_revision: rev,
                version: 0,
                lease: None,
            };
            self.data.insert(key.to_string(), created);
        }
        let e = self.data.get_mut(key).expect("inserted above");
        e.value = value.into();
        e.mod_revision = rev;
        e.version += 1;
        let old = std::mem::replace(&mut e.lease, lease);
        if old != lease {
            self.detach(key, old);
        }
        if let Some(l) = lease.and_then(|l| self.leases.get_mut(&l)) {
            l.keys.insert(key.to_string());
        }
        self.record(EventKind::Put, key, value);
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
            .map(|kv| (kv.key.to_string(), kv.value.to_string()))
            .collect()
    }
}

/// Whether `key` is what a watch on `watched` (a prefix when `prefix`) sees.
pub fn matches_key(key: &str, watched: &str, prefix: bool) -> bool {
    if prefix {
        key.starts_with(watched)
    } else {
        key == watched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(k: &str, v: &str) -> KvOp {
        KvOp::put(k, v)
    }

    #[test]
    fn a_revoked_lease_deletes_its_keys_in_one_revision() {
        let mut s = KvStore::new(2, true);
        let l = LeaseId(7);
        let put_on = |k: &str, lease| KvOp::Put {
            key: k.into(),
            value: "v".into(),
            lease,
        };
        assert_eq!(s.apply(&put_on("a", Some(l))), KvResult::LeaseNotFound);
        assert_eq!(
            s.apply(&KvOp::LeaseGrant { id: l, ttl_s: 1 }),
            KvResult::LeaseGrant {
                revision: 0,
                id: l,
                ttl_s: 2
            },
            "a TTL below the minimum is raised to it"
        );
        assert_eq!(
            s.apply(&KvOp::LeaseGrant { id: l, ttl_s: 5 }),
            KvResult::LeaseExists
        );
        s.apply(&put_on("a", Some(l)));
        s.apply(&put_on("b", Some(l)));
        s.apply(&put_on("c", Some(l)));
        s.apply(&put_on("c", None)); // detached again
        assert_eq!(s.revision(), 4);
        assert_eq!(
            s.apply(&KvOp::LeaseRevoke { id: l }),
            KvResult::LeaseRevoke {
                revision: 5,
                deleted: 2
            }
        );
        assert_eq!(s.snapshot(), vec![("c".to_string(), "v".to_string())]);
        let deletes: Vec<(EventKind, String, u64)> = s
            .events_from(5, "", true)
            .into_iter()
            .map(|e| (e.kind, e.key, e.revision))
            .collect();
        assert_eq!(
            deletes,
            vec![
                (EventKind::Delete, "a".into(), 5),
                (EventKind::Delete, "b".into(), 5)
            ]
        );
        assert_eq!(
            s.apply(&KvOp::LeaseRevoke { id: l }),
            KvResult::LeaseNotFound
        );
    }

    #[test]
    fn revisions_advance() {
        let mut s = KvStore::default();
        assert_eq!(s.apply(&put("a", "1")), KvResult::Put { revision: 1 });
        assert_eq!(s.apply(&put("a", "2")), KvResult::Put { revision: 2 });
        match s.get("a") {
            KvResult::Get { kv: Some(kv), .. } => {
                assert_eq!(
                    (&*kv.value, kv.create_revision, kv.mod_revision, kv.version),
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
            lease: None,
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
