//! The bytes of a client proposal in a raft entry.
//!
//! etcd proposes a protobuf `InternalRaftRequest` (`server/etcdserver/v3_server.go`:
//! `processInternalRaftRequestOnce` sets the header's request ID, marshals the request and hands
//! the bytes to raft; the message is in `api/etcdserverpb/raft_internal.proto`): a few bytes of
//! tags and lengths around the key and value (`docs/reference/etcd-kubernetes-defaults.md`). raftsim writes the same information the same way, a tag byte, varints and
//! length-prefixed strings, so an entry is about as large as etcd's (what raft-rs's
//! `max_size_per_msg` counts), and every member decodes every entry it applies without a parser
//! or an allocation beyond the operation's own strings.
//!
//! Layout: `request` (varint), the operation's tag (one byte), then its fields in declaration
//! order: a string is its length (varint) and UTF-8 bytes; a number a varint; a lease a presence
//! byte (0 or 1) and then the varint; a comparison a tag byte (0 value, 1 mod revision) and its
//! operand.
//!
//! Contract: `decode(encode(p)) == p` for every proposal (a property test), and `decode` refuses,
//! never misreads, bytes it did not write (trailing bytes, a short buffer, an unknown tag,
//! invalid UTF-8).

use super::kv::{Compare, KvOp, Proposal};
use crate::sim::ids::{LeaseId, RequestId};

/// Why bytes are not a proposal.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The bytes ended inside a field.
    #[error("the entry ends inside a field")]
    Short,
    /// An operation or comparison tag this version does not write.
    #[error("unknown tag {0}")]
    Tag(u8),
    /// A string that is not UTF-8.
    #[error("a string is not UTF-8")]
    Utf8,
    /// Bytes after the proposal.
    #[error("{0} bytes after the proposal")]
    Trailing(usize),
}

const PUT: u8 = 0;
const DELETE: u8 = 1;
const TXN: u8 = 2;
const LEASE_GRANT: u8 = 3;
const LEASE_REVOKE: u8 = 4;
const MACHINE: u8 = 5;

/// The entry data of the proposal of `op` by `request`, in a buffer of exactly its length
/// (raft-rs keeps the buffer as the entry's payload for as long as the entry lives).
pub fn encode(request: RequestId, op: &KvOp) -> Vec<u8> {
    let mut w = Vec::with_capacity(encoded_len_hint(op));
    varint(&mut w, request.0);
    match op {
        KvOp::Put { key, value, lease } => {
            w.push(PUT);
            text(&mut w, key);
            text(&mut w, value);
            opt_lease(&mut w, *lease);
        }
        KvOp::Delete { key } => {
            w.push(DELETE);
            text(&mut w, key);
        }
        KvOp::Txn {
            key,
            compare,
            then_put,
            lease,
        } => {
            w.push(TXN);
            text(&mut w, key);
            match compare {
                Compare::Value(v) => {
                    w.push(0);
                    text(&mut w, v);
                }
                Compare::ModRevision(r) => {
                    w.push(1);
                    varint(&mut w, *r);
                }
            }
            text(&mut w, then_put);
            opt_lease(&mut w, *lease);
        }
        KvOp::LeaseGrant { id, ttl_s } => {
            w.push(LEASE_GRANT);
            varint(&mut w, id.0);
            varint(&mut w, *ttl_s);
        }
        KvOp::LeaseRevoke { id } => {
            w.push(LEASE_REVOKE);
            varint(&mut w, id.0);
        }
        KvOp::Machine { command } => {
            w.push(MACHINE);
            text(&mut w, command);
        }
    }
    w.shrink_to_fit();
    w
}

/// The proposal `data` holds.
pub fn decode(data: &[u8]) -> Result<Proposal, WireError> {
    let mut r = Reader(data);
    let request = RequestId(r.varint()?);
    let op = match r.byte()? {
        PUT => KvOp::Put {
            key: r.text()?,
            value: r.text()?,
            lease: r.opt_lease()?,
        },
        DELETE => KvOp::Delete { key: r.text()? },
        TXN => KvOp::Txn {
            key: r.text()?,
            compare: match r.byte()? {
                0 => Compare::Value(r.text()?),
                1 => Compare::ModRevision(r.varint()?),
                t => return Err(WireError::Tag(t)),
            },
            then_put: r.text()?,
            lease: r.opt_lease()?,
        },
        LEASE_GRANT => KvOp::LeaseGrant {
            id: LeaseId(r.varint()?),
            ttl_s: r.varint()?,
        },
        LEASE_REVOKE => KvOp::LeaseRevoke {
            id: LeaseId(r.varint()?),
        },
        MACHINE => KvOp::Machine { command: r.text()? },
        t => return Err(WireError::Tag(t)),
    };
    match r.0.len() {
        0 => Ok(Proposal { request, op }),
        n => Err(WireError::Trailing(n)),
    }
}

/// Room for the key, the value written and a few bytes of tags and lengths: enough for the
/// writes a run makes (a transaction comparing values or a machine command may grow once);
/// `shrink_to_fit` trims it to the exact length.
fn encoded_len_hint(op: &KvOp) -> usize {
    let len = |s: Option<&str>| s.map_or(0, str::len);
    len(op.key()) + len(op.written_value()) + 48
}

/// Protobuf's base-128 varint: seven bits a byte, low bits first, the high bit set on every
/// byte but the last.
fn varint(w: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        w.push((v as u8) | 0x80);
        v >>= 7;
    }
    w.push(v as u8);
}

fn text(w: &mut Vec<u8>, s: &str) {
    varint(w, s.len() as u64);
    w.extend_from_slice(s.as_bytes());
}

fn opt_lease(w: &mut Vec<u8>, lease: Option<LeaseId>) {
    match lease {
        None => w.push(0),
        Some(l) => {
            w.push(1);
            varint(w, l.0);
        }
    }
}

/// What is left to read.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, WireError> {
        let (&b, rest) = self.0.split_first().ok_or(WireError::Short)?;
        self.0 = rest;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, WireError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(WireError::Tag(0x80)) // more than ten bytes: not a varint this writes
    }

    fn text(&mut self) -> Result<String, WireError> {
        let len = usize::try_from(self.varint()?).map_err(|_| WireError::Short)?;
        if self.0.len() < len {
            return Err(WireError::Short);
        }
        let (s, rest) = self.0.split_at(len);
        self.0 = rest;
        std::str::from_utf8(s)
            .map(str::to_owned)
            .map_err(|_| WireError::Utf8)
    }

    fn opt_lease(&mut self) -> Result<Option<LeaseId>, WireError> {
        match self.byte()? {
            0 => Ok(None),
            1 => Ok(Some(LeaseId(self.varint()?))),
            t => Err(WireError::Tag(t)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_text() -> impl Strategy<Value = String> {
        // Empty, long (a length past one varint byte), quotes, non-ASCII.
        prop_oneof![
            proptest::string::string_regex("[a-z/\"\\\\é\n{}:,]{0,12}").unwrap(),
            proptest::string::string_regex("[a-zé]{120,300}").unwrap(),
        ]
    }

    fn any_op() -> impl Strategy<Value = KvOp> {
        let lease = proptest::option::of(any::<u64>().prop_map(LeaseId));
        let compare = prop_oneof![
            any_text().prop_map(Compare::Value),
            any::<u64>().prop_map(Compare::ModRevision)
        ];
        prop_oneof![
            (any_text(), any_text(), lease.clone()).prop_map(|(key, value, lease)| KvOp::Put {
                key,
                value,
                lease
            }),
            any_text().prop_map(|key| KvOp::Delete { key }),
            (any_text(), compare, any_text(), lease).prop_map(|(key, compare, then_put, lease)| {
                KvOp::Txn {
                    key,
                    compare,
                    then_put,
                    lease,
                }
            }),
            (any::<u64>(), any::<u64>()).prop_map(|(id, ttl_s)| KvOp::LeaseGrant {
                id: LeaseId(id),
                ttl_s
            }),
            any::<u64>().prop_map(|id| KvOp::LeaseRevoke { id: LeaseId(id) }),
            any_text().prop_map(|command| KvOp::Machine { command }),
        ]
    }

    proptest! {
        #[test]
        fn every_proposal_reads_back(op in any_op(), request in any::<u64>()) {
            let p = Proposal { request: RequestId(request), op };
            let data = encode(p.request, &p.op);
            prop_assert_eq!(data.len(), data.capacity());
            prop_assert_eq!(decode(&data), Ok(p));
        }

        /// Cut anywhere, an entry is refused, never misread.
        #[test]
        fn a_cut_entry_is_refused(op in any_op(), request in any::<u64>(), cut in any::<prop::sample::Index>()) {
            let data = encode(RequestId(request), &op);
            let at = cut.index(data.len());
            prop_assert!(decode(&data[..at]).is_err());
        }
    }

    #[test]
    fn foreign_bytes_are_refused() {
        let mut data = encode(RequestId(300), &KvOp::put("k", "v"));
        assert_eq!(data, [0xac, 0x02, PUT, 1, b'k', 1, b'v', 0]);
        data.push(7);
        assert_eq!(decode(&data), Err(WireError::Trailing(1)));
        assert_eq!(decode(&[1, 9]), Err(WireError::Tag(9)));
        assert_eq!(decode(&[1, DELETE, 1, 0xff]), Err(WireError::Utf8));
        assert_eq!(decode(&[]), Err(WireError::Short));
    }
}
