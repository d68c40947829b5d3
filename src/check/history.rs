//! Client histories as data: taken from a run, or read from / written to a JSON-lines file
//! (`raftsim check-history FILE`, `raftsim run --history FILE`). One operation per line:
//!
//! ```json
//! {"client":1,"key":"k","op":"put","value":"v","invoke_us":0,"complete_us":900,"outcome":"ok","revision":7}
//! {"client":2,"key":"k","op":"get","invoke_us":50,"complete_us":800,"outcome":"ok","found":true,"value":"v","mod_revision":7}
//! {"client":3,"key":"k","op":"txn","if_mod_rev":7,"then_put":"w","invoke_us":60,"outcome":"timeout"}
//! {"client":1,"key":"k","op":"del","invoke_us":1000,"complete_us":1500,"outcome":"ok","deleted":true}
//! ```
//!
//! `outcome` is `ok`, `timeout` or `error`; `complete_us` is required for `ok`. A txn compares
//! `if_value` or `if_mod_rev` (0: absent) and reports `succeeded` and `revision`. A get may say
//! `"serializable":true`: such reads are checked as stale reads, not for linearizability.

use super::linearizability::{LinKind, LinOp, LinResult};
use crate::client::{HistoryOp, Outcome};
use crate::node::kv::{Compare, KvOp, KvResult};
use crate::node::rpc::{ReplyBody, ServerOp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
/// One operation as a line of a history file (JSON lines, format in docs/exploration.md).
pub struct HistoryLine {
    /// The client.
    pub client: u64,
    /// The key.
    pub key: String,
    /// The operation: `put`, `get`, `del` or `txn`.
    pub op: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The value.
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// For a transaction: the value it compares against.
    pub if_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// For a transaction: the mod revision it compares against.
    pub if_mod_rev: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The value written when the comparison holds.
    pub then_put: Option<String>,
    /// When it was invoked, in simulated microseconds.
    pub invoke_us: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// When it completed, in simulated microseconds (`None`: unknown).
    pub complete_us: Option<u64>,
    /// How it ended: `ok`, `timeout` or `error`.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The store's revision.
    pub revision: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The key's last modification revision.
    pub mod_revision: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Whether the key was found.
    pub found: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// For a delete: whether a key was deleted.
    pub deleted: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Whether the comparison held.
    pub succeeded: Option<bool>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    /// Served from local state, without ReadIndex.
    pub serializable: bool,
}

/// A bad history line, at `file:line:column` (column 1 when the whole line is at fault).
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct HistoryError {
    /// The file, as named.
    pub file: String,
    /// 1-based line in the file.
    pub line: usize,
    /// 1-based column in that line.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// A parsed history: the linearizable part and the serializable reads.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// The operations.
    pub ops: Vec<LinOp>,
    /// Serializable reads, checked separately (they may be stale by design).
    pub serializable_reads: Vec<LinOp>,
}

/// Parses JSON-lines history text.
pub fn parse(text: &str, file: &str) -> Result<History, HistoryError> {
    let mut h = History::default();
    for (i, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let err = |column: usize, message: String| HistoryError {
            file: file.to_string(),
            line: i + 1,
            column: column.max(1),
            message,
        };
        let l: HistoryLine = serde_json::from_str(raw).map_err(|e| {
            // serde_json counts lines within this one line: keep its column, drop its position.
            let text = e.to_string();
            let message = text
                .rsplit_once(" at line ")
                .map_or(text.as_str(), |(m, _)| m);
            err(e.column(), message.to_string())
        })?;
        let serializable = l.serializable;
        if let Some(op) = to_op(l).map_err(|m| err(1, m))? {
            if serializable {
                h.serializable_reads.push(op);
            } else {
                h.ops.push(op);
            }
        }
    }
    Ok(h)
}

fn need<T: Clone>(v: &Option<T>, what: &str, op: &str) -> Result<T, String> {
    v.clone()
        .ok_or_else(|| format!("`{op}` with outcome ok needs `{what}`"))
}

/// One line to an operation; `None` for a read that failed (it tells nothing).
fn to_op(l: HistoryLine) -> Result<Option<LinOp>, String> {
    let known = outcome_known(&l)?;
    let Some((kind, result)) = kind_and_result(&l, known)? else {
        return Ok(None);
    };
    Ok(Some(LinOp {
        client: l.client,
        key: l.key,
        kind,
        result,
        invoke_us: l.invoke_us,
        complete_us: if known { l.complete_us } else { None },
    }))
}

/// Whether the line's outcome is known (`ok`), after checking its outcome and times.
fn outcome_known(l: &HistoryLine) -> Result<bool, String> {
    let known = match l.outcome.as_str() {
        "ok" => true,
        "timeout" | "error" => false,
        o => return Err(format!("unknown outcome `{o}`: allowed ok, timeout, error")),
    };
    if known && l.complete_us.is_none() {
        return Err("outcome ok needs complete_us".into());
    }
    if let Some(c) = l.complete_us {
        if c < l.invoke_us {
            return Err(format!(
                "complete_us {c} is before invoke_us {}",
                l.invoke_us
            ));
        }
    }
    Ok(known)
}

/// What the line asked and, when its outcome is known, what it got; `None` for a read that
/// failed.
fn kind_and_result(
    l: &HistoryLine,
    known: bool,
) -> Result<Option<(LinKind, Option<LinResult>)>, String> {
    let op = l.op.as_str();
    Ok(Some(match op {
        "put" => {
            let r = if known {
                Some(LinResult::Put {
                    revision: need(&l.revision, "revision", op)?,
                })
            } else {
                None
            };
            (
                LinKind::Put {
                    value: need(&l.value, "value", op)
                        .map_err(|_| "`put` needs `value`".to_string())?,
                },
                r,
            )
        }
        "get" if !known => return Ok(None),
        "get" => (LinKind::Get, Some(get_result(l)?)),
        "del" => {
            let r = if known {
                Some(LinResult::Delete {
                    deleted: need(&l.deleted, "deleted", op)?,
                })
            } else {
                None
            };
            (LinKind::Delete, r)
        }
        "txn" => {
            let compare = match (&l.if_value, l.if_mod_rev) {
                (Some(v), None) => Compare::Value(v.clone()),
                (None, Some(r)) => Compare::ModRevision(r),
                _ => return Err("`txn` needs exactly one of `if_value`, `if_mod_rev`".into()),
            };
            let then_put = l.then_put.clone().ok_or("`txn` needs `then_put`")?;
            let r = if known {
                Some(LinResult::Txn {
                    succeeded: need(&l.succeeded, "succeeded", op)?,
                    revision: need(&l.revision, "revision", op)?,
                })
            } else {
                None
            };
            (LinKind::Txn { compare, then_put }, r)
        }
        other => return Err(format!("unknown op `{other}`: allowed put, get, del, txn")),
    }))
}

/// What an acknowledged `get` line read.
fn get_result(l: &HistoryLine) -> Result<LinResult, String> {
    let found = need(&l.found, "found", "get")?;
    if !found {
        return Ok(LinResult::Get {
            value: None,
            mod_revision: 0,
        });
    }
    Ok(LinResult::Get {
        value: Some(need(&l.value, "value", "get")?),
        mod_revision: need(&l.mod_revision, "mod_revision", "get")?,
    })
}

/// The history of a run, as lines: key-value operations only. Left out: `endpoint status`, lease
/// operations (grant, revoke, keep-alive, time-to-live), watches, and every operation on a key
/// that any operation attached to a lease, because a lease's expiry deletes such a key without
/// a client operation the register model could place.
pub fn lines_of(history: &[HistoryOp]) -> Vec<HistoryLine> {
    lines(history).collect()
}

/// [`lines_of`], one line at a time (a long run's history is not copied whole).
fn lines(history: &[HistoryOp]) -> impl Iterator<Item = HistoryLine> + '_ {
    let leased = keys_on_leases(history);
    history
        .iter()
        .filter(move |h| !kv_key(h).is_some_and(|k| leased.contains(k)))
        .filter_map(line_of)
}

/// The key whose linearizable history `h` belongs to: a key-value write's or read's, but not a
/// serializable read's (checked separately, as stale reads). The end-of-run check
/// ([`op_groups`]) and the online one select operations with this one rule.
pub(crate) fn checked_key(h: &HistoryOp) -> Option<&str> {
    match &h.kind {
        ServerOp::Get {
            serializable: true, ..
        } => None,
        _ => kv_key(h),
    }
}

/// The key a key-value write or read names (`None` for every other operation).
fn kv_key(h: &HistoryOp) -> Option<&str> {
    match &h.kind {
        ServerOp::Write { op } => op.key(),
        ServerOp::Get { key, .. } => Some(key),
        _ => None,
    }
}

/// Keys some operation of the history attached to a lease (the linearizability check leaves
/// them out).
pub fn keys_on_leases(history: &[HistoryOp]) -> std::collections::BTreeSet<&str> {
    history
        .iter()
        .filter_map(|h| match &h.kind {
            ServerOp::Write { op } if op.lease().is_some() => op.key(),
            _ => None,
        })
        .collect()
}

fn line_of(h: &HistoryOp) -> Option<HistoryLine> {
    let outcome = match h.outcome {
        Outcome::Ok => "ok",
        Outcome::Timeout => "timeout",
        Outcome::Failed(_) => "error",
        Outcome::Pending => return None,
    };
    let result = match &h.reply {
        Some(ReplyBody::Kv { result, .. }) if h.outcome == Outcome::Ok => Some(result),
        _ => None,
    };
    let mut l = HistoryLine {
        client: h.client.0,
        invoke_us: h.invoked.as_micros(),
        complete_us: h
            .completed
            .filter(|_| h.outcome == Outcome::Ok)
            .map(|c| c.as_micros()),
        outcome: outcome.into(),
        ..Default::default()
    };
    match &h.kind {
        ServerOp::Status
        | ServerOp::LeaseKeepAlive { .. }
        | ServerOp::LeaseTimeToLive { .. }
        | ServerOp::Watch { .. }
        | ServerOp::Member { .. } => return None,
        ServerOp::Write { op }
            if matches!(
                **op,
                KvOp::LeaseGrant { .. } | KvOp::LeaseRevoke { .. } | KvOp::Machine { .. }
            ) =>
        {
            return None
        }
        ServerOp::MachineQuery { .. } => return None,
        ServerOp::Get { key, serializable } => {
            l.key = key.to_string();
            l.op = "get".into();
            l.serializable = *serializable;
            if let Some(KvResult::Get { kv, .. }) = result {
                l.found = Some(kv.is_some());
                l.value = kv.as_ref().map(|kv| kv.value.to_string());
                l.mod_revision = kv.as_ref().map(|kv| kv.mod_revision);
            }
        }
        ServerOp::Write { op } => write_line(&mut l, op, result),
    }
    Some(l)
}

/// A write's fields: what it asked, and what its client saw (`result`: when acknowledged).
fn write_line(l: &mut HistoryLine, op: &KvOp, result: Option<&KvResult>) {
    l.key = op
        .key()
        .expect("lease and machine operations are left out before")
        .to_string();
    match op {
        KvOp::Put { value, .. } => {
            l.op = "put".into();
            l.value = Some(value.clone());
        }
        KvOp::Delete { .. } => l.op = "del".into(),
        KvOp::Txn {
            compare, then_put, ..
        } => {
            l.op = "txn".into();
            l.then_put = Some(then_put.clone());
            match compare {
                Compare::Value(v) => l.if_value = Some(v.clone()),
                Compare::ModRevision(r) => l.if_mod_rev = Some(*r),
            }
        }
        KvOp::LeaseGrant { .. } | KvOp::LeaseRevoke { .. } | KvOp::Machine { .. } => {
            unreachable!("left out before")
        }
    }
    match result {
        Some(KvResult::Put { revision }) => l.revision = Some(*revision),
        Some(KvResult::Delete { deleted, .. }) => l.deleted = Some(*deleted > 0),
        Some(KvResult::Txn {
            succeeded,
            revision,
        }) => {
            l.succeeded = Some(*succeeded);
            l.revision = Some(*revision);
        }
        _ => {}
    }
}

/// A run's linearizable operations, one key at a time in key order (serializable reads left
/// out): the same operations as [`of_run`]'s `ops`, but only one key's are converted at once,
/// so checking a long run does not hold a second copy of its whole history.
pub fn ops_by_key(history: &[HistoryOp]) -> impl Iterator<Item = (&str, Vec<LinOp>)> + '_ {
    op_groups(history).map(|(k, hs)| (k, hs.into_iter().filter_map(lin_op).collect()))
}

/// A run's key-value operations by key, in key order, serializable reads and keys on leases
/// left out; [`lin_op`] converts each (and leaves out some more: failed reads).
pub(crate) fn op_groups(
    history: &[HistoryOp],
) -> impl Iterator<Item = (&str, Vec<&HistoryOp>)> + '_ {
    let mut by_key: BTreeMap<&str, Vec<&HistoryOp>> = BTreeMap::new();
    for h in history {
        if let Some(k) = checked_key(h) {
            by_key.entry(k).or_default().push(h);
        }
    }
    let leased = keys_on_leases(history);
    by_key.into_iter().filter(move |(k, _)| !leased.contains(k))
}

/// One operation of a run as the checker reads it (`None`: it tells the checker nothing).
pub(crate) fn lin_op(h: &HistoryOp) -> Option<LinOp> {
    to_op(line_of(h)?).expect("a run's own history is well formed")
}

/// A run's history, ready for the checker.
pub fn of_run(history: &[HistoryOp]) -> History {
    let mut h = History::default();
    for l in lines(history) {
        let serializable = l.serializable;
        match to_op(l).expect("a run's own history is well formed") {
            Some(op) if serializable => h.serializable_reads.push(op),
            Some(op) => h.ops.push(op),
            None => {}
        }
    }
    h
}

/// A serializable read is stale when some write to its key was acknowledged before the read was
/// issued and the read returned an older value. Returns (read, the newer acknowledged write:
/// the first such in the history).
pub fn stale_reads(h: &History) -> Vec<(LinOp, LinOp)> {
    let keys = key_index(h);
    let mut out = Vec::new();
    for r in &h.serializable_reads {
        let Some(LinResult::Get {
            value,
            mod_revision,
        }) = &r.result
        else {
            continue;
        };
        let Some(k) = keys.get(r.key.as_str()) else {
            continue; // nothing else touched the key
        };
        if k.newest_acknowledged_before(r.invoke_us) <= *mod_revision {
            continue; // no newer write was acknowledged before the read began
        }
        let newer = k
            .ops
            .iter()
            .copied()
            .filter(|w| w.complete_us.is_some_and(|c| c < r.invoke_us))
            .filter(|w| write_revision(w).is_some_and(|rev| rev > *mod_revision))
            // An absent result is stale only if no delete can have come after that write.
            .find(|w| value.is_some() || !deleted_after(&k.ops, w, r));
        if let Some(w) = newer {
            out.push((r.clone(), w.clone()));
        }
    }
    out
}

/// One key's operations (not serializable reads), in history order, and the highest revision
/// its writes had created by each acknowledgement: built in one pass, so that judging a read
/// does not scan the whole history (a ten-hour run has a hundred thousand operations).
struct KeyOps<'a> {
    ops: Vec<&'a LinOp>,
    /// (acknowledged at, highest revision created by a write acknowledged by then), by time.
    acknowledged: Vec<(u64, u64)>,
}

impl KeyOps<'_> {
    /// The highest revision created by a write acknowledged strictly before `t` (0: none).
    fn newest_acknowledged_before(&self, t: u64) -> u64 {
        let i = self.acknowledged.partition_point(|&(at, _)| at < t);
        i.checked_sub(1).map_or(0, |i| self.acknowledged[i].1)
    }
}

/// Every key's operations and acknowledged writes.
fn key_index(h: &History) -> BTreeMap<&str, KeyOps<'_>> {
    let mut keys: BTreeMap<&str, KeyOps<'_>> = BTreeMap::new();
    for op in &h.ops {
        let k = keys.entry(op.key.as_str()).or_insert_with(|| KeyOps {
            ops: Vec::new(),
            acknowledged: Vec::new(),
        });
        k.ops.push(op);
        if let (Some(at), Some(rev)) = (op.complete_us, write_revision(op)) {
            k.acknowledged.push((at, rev));
        }
    }
    for k in keys.values_mut() {
        k.acknowledged.sort_unstable();
        let mut highest = 0;
        for (_, rev) in &mut k.acknowledged {
            highest = highest.max(*rev);
            *rev = highest;
        }
    }
    keys
}

/// The revision an acknowledged write created.
fn write_revision(w: &LinOp) -> Option<u64> {
    match &w.result {
        Some(LinResult::Put { revision })
        | Some(LinResult::Txn {
            succeeded: true,
            revision,
        }) => Some(*revision),
        _ => None,
    }
}

/// Whether a delete of the key may have taken effect after write `w` and before read `r` ended:
/// one that did not complete before `w` began, began before `r` ended, and either deleted the key
/// or has an unknown outcome.
/// `key_ops`: the operations on the read's key.
fn deleted_after(key_ops: &[&LinOp], w: &LinOp, r: &LinOp) -> bool {
    let read_end = r.complete_us.unwrap_or(u64::MAX);
    key_ops.iter().any(|d| {
        matches!(d.kind, LinKind::Delete)
            && !matches!(d.result, Some(LinResult::Delete { deleted: false }))
            && d.invoke_us < read_end
            && d.complete_us.is_none_or(|c| c > w.invoke_us)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_of_absent_after_an_acknowledged_delete_is_not_stale() {
        let text = r#"{"client":1,"key":"k","op":"put","value":"v","invoke_us":0,"complete_us":900,"outcome":"ok","revision":7}
{"client":1,"key":"k","op":"del","invoke_us":1000,"complete_us":1500,"outcome":"ok","deleted":true}
{"client":2,"key":"k","op":"get","invoke_us":1600,"complete_us":1601,"outcome":"ok","found":false,"serializable":true}"#;
        assert!(stale_reads(&parse(text, "h").unwrap()).is_empty());
        let no_delete = r#"{"client":1,"key":"k","op":"put","value":"v","invoke_us":0,"complete_us":900,"outcome":"ok","revision":7}
{"client":2,"key":"k","op":"get","invoke_us":1600,"complete_us":1601,"outcome":"ok","found":false,"serializable":true}"#;
        assert_eq!(stale_reads(&parse(no_delete, "h").unwrap()).len(), 1);
        let old_value = r#"{"client":1,"key":"k","op":"put","value":"a","invoke_us":0,"complete_us":10,"outcome":"ok","revision":3}
{"client":1,"key":"k","op":"put","value":"b","invoke_us":20,"complete_us":30,"outcome":"ok","revision":4}
{"client":2,"key":"k","op":"get","invoke_us":40,"complete_us":41,"outcome":"ok","found":true,"value":"a","mod_revision":3,"serializable":true}"#;
        assert_eq!(stale_reads(&parse(old_value, "h").unwrap()).len(), 1);
    }

    #[test]
    fn parses_and_rejects_with_line_numbers() {
        let ok = r#"{"client":1,"key":"k","op":"put","value":"v","invoke_us":0,"complete_us":9,"outcome":"ok","revision":1}
{"client":2,"key":"k","op":"get","invoke_us":10,"complete_us":19,"outcome":"ok","found":true,"value":"v","mod_revision":1}
{"client":3,"key":"k","op":"txn","if_mod_rev":1,"then_put":"w","invoke_us":20,"outcome":"timeout"}"#;
        let h = parse(ok, "h.jsonl").unwrap();
        assert_eq!(h.ops.len(), 3);
        assert!(super::super::linearizability::check(&h.ops).is_linearizable());
        let e = parse("{\"client\":1,\"key\":\"k\",\"op\":\"frob\",\"invoke_us\":0,\"outcome\":\"ok\",\"complete_us\":1}", "h.jsonl").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("unknown op `frob`"), "{e}");
        let e = parse("\n{\"client\":1,\"key\":\"k\",\"op\":\"put\",\"value\":\"v\",\"invoke_us\":0,\"outcome\":\"ok\"}", "h.jsonl").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("needs complete_us"), "{e}");
        let e = parse("{\"client\":1,\"key\":\"k\",\"op\":\"get\",\"invoke_us\":0,\"outcome\":\"ok\",\"complete_us\":1,\"colour\":1}", "h.jsonl").unwrap_err();
        assert!(e.message.contains("unknown field `colour`"), "{e}");
        let good = r#"{"client":1,"key":"k","op":"get","invoke_us":0,"complete_us":1,"outcome":"timeout"}"#;
        let e = parse(
            &format!("{good}\n{{\"client\":1, \"key\" \"k\"}}"),
            "h.jsonl",
        )
        .unwrap_err();
        assert_eq!((e.line, e.column), (2, 20));
        assert_eq!(e.to_string(), "h.jsonl:2:20: expected `:`");
    }

    /// The first definition, scanning the whole history for every read (and every delete for
    /// every candidate write): the indexed `stale_reads` must find exactly what it finds.
    fn stale_reads_by_scan(h: &History) -> Vec<(LinOp, LinOp)> {
        let deleted_after = |w: &LinOp, r: &LinOp| {
            let read_end = r.complete_us.unwrap_or(u64::MAX);
            h.ops.iter().any(|d| {
                d.key == r.key
                    && matches!(d.kind, LinKind::Delete)
                    && !matches!(d.result, Some(LinResult::Delete { deleted: false }))
                    && d.invoke_us < read_end
                    && d.complete_us.is_none_or(|c| c > w.invoke_us)
            })
        };
        let mut out = Vec::new();
        for r in &h.serializable_reads {
            let Some(LinResult::Get {
                value,
                mod_revision,
            }) = &r.result
            else {
                continue;
            };
            let newer = h
                .ops
                .iter()
                .filter(|w| w.key == r.key && w.complete_us.is_some_and(|c| c < r.invoke_us))
                .filter(|w| write_revision(w).is_some_and(|rev| rev > *mod_revision))
                .find(|w| value.is_some() || !deleted_after(w, r));
            if let Some(w) = newer {
                out.push((r.clone(), w.clone()));
            }
        }
        out
    }

    fn arb_op() -> impl proptest::strategy::Strategy<Value = LinOp> {
        use proptest::prelude::*;
        let kind = prop_oneof![
            Just(LinKind::Put { value: "v".into() }),
            Just(LinKind::Delete),
            Just(LinKind::Get),
        ];
        (
            0..3u64,
            0..2usize,
            kind,
            0..50u64,
            prop::option::of(0..20u64),
            0..8u64,
            any::<bool>(),
        )
            .prop_map(|(client, key, kind, invoke_us, took, revision, flag)| {
                let result = took.map(|_| match &kind {
                    LinKind::Put { .. } => LinResult::Put { revision },
                    LinKind::Delete => LinResult::Delete { deleted: flag },
                    _ => LinResult::Get {
                        value: flag.then(|| "v".into()),
                        mod_revision: if flag { revision } else { 0 },
                    },
                });
                LinOp {
                    client,
                    key: ["a", "b"][key].into(),
                    kind,
                    result,
                    invoke_us,
                    complete_us: took.map(|t| invoke_us + t),
                }
            })
    }

    proptest::proptest! {
        #[test]
        fn indexed_stale_reads_find_what_a_full_scan_finds(
            ops in proptest::collection::vec(arb_op(), 0..40),
            reads in proptest::collection::vec(arb_op(), 0..20),
        ) {
            let h = History {
                ops,
                serializable_reads: reads
                    .into_iter()
                    .filter(|r| matches!(r.kind, LinKind::Get))
                    .collect(),
            };
            proptest::prop_assert_eq!(stale_reads(&h), stale_reads_by_scan(&h));
        }
    }
}
