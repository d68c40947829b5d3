//! When each client write first took effect, and which writes took effect after their client
//! had been told they timed out or failed. Not an oracle: a fact derived as the run goes, from
//! the trace's `Applied` events, for the record (`first_applied`), the timeline and the
//! `timed_out_write_overwrote` expectation.

use crate::client::HistoryOp;
use crate::node::kv::KvResult;
use crate::node::rpc::{ReplyBody, ServerOp};
use crate::record::FirstApplied;
use crate::sim::ids::{OpId, RequestId};
use crate::sim::time::SimTime;
use crate::sim::trace::{Application, Outcome, TraceEvent};
use std::collections::BTreeMap;

/// The applied-writes tracker.
#[derive(Default)]
pub struct AppliedWrites {
    /// Which operation sent each request not applied yet (a request's later applications, on
    /// other members or as a duplicate entry, tell nothing new).
    request_op: BTreeMap<RequestId, OpId>,
    /// When each write first took effect: (log index, time).
    first_applied: FirstApplied,
}

impl AppliedWrites {
    /// A client sent `request` for operation `op`.
    pub fn request_sent(&mut self, request: RequestId, op: OpId) {
        self.request_op.insert(request, op);
    }

    /// When each write first took effect.
    pub fn into_first_applied(self) -> FirstApplied {
        self.first_applied
    }

    /// Notes an applied entry; returns the trace event to record when it was a write whose client
    /// had already been told it timed out or failed.
    pub fn applied(&mut self, e: &Application, history: &[HistoryOp]) -> Option<TraceEvent> {
        let op = self.request_op.remove(&e.request()?)?;
        if !self.first_applied.insert(op, (e.index, e.at)) {
            return None;
        }
        let h = crate::client::find_op(history, op)?;
        let ServerOp::Write { op: kv } = &h.kind else {
            return None;
        };
        if !e.effective() || matches!(h.outcome, Outcome::Pending | Outcome::Ok) {
            return None;
        }
        let Some(key) = kv.key() else {
            return None; // a lease operation writes no key
        };
        let overwrote = history
            .iter()
            .any(|o| self.overwritten_by(o, key, h.invoked, e.at, e.index));
        Some(TraceEvent::TimedOutWriteApplied {
            op,
            node: e.node(),
            key: key.to_string(),
            value: kv.written_value().unwrap_or("").to_string(),
            overwrote_acknowledged: overwrote,
        })
    }

    /// Whether `o` is an acknowledged, effective write to `key`, acknowledged after the failed
    /// write was issued (`invoked`) and by `at`, that took effect before `index`.
    fn overwritten_by(
        &self,
        o: &HistoryOp,
        key: &str,
        invoked: SimTime,
        at: SimTime,
        index: u64,
    ) -> bool {
        let failed_txn = matches!(
            &o.reply,
            Some(ReplyBody::Kv {
                result: KvResult::Txn {
                    succeeded: false,
                    ..
                },
                ..
            })
        );
        matches!(&o.kind, ServerOp::Write { op } if op.key() == Some(key))
            && o.outcome == Outcome::Ok
            && !failed_txn
            && o.completed.is_some_and(|c| c > invoked && c <= at)
            && self
                .first_applied
                .get(&o.op)
                .is_some_and(|(i, _)| *i < index)
    }
}
