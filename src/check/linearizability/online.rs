//! Linearizability checked as a run goes, so that a long run need not keep every read.
//!
//! Model: the same as the end-of-run check, key by key. Each key's history is cut wherever
//! every operation called so far had returned before the next call (the cut the search of a
//! long partition makes, [`crate::check::model`]). When a key's next operation is called after
//! such a cut, the segment before it is searched at once, from every state the key could be in
//! after the segments before, for every state it can end in ([`Carried`]). What its reads told
//! is then in those states, so the run may drop them: the apiserver's reads, which nothing else
//! reads ([`Online::invoked`] returns them). The end-of-run check goes on from the carried
//! states with the operations called from the last cut on ([`Progress`], in the record).
//!
//! Invariants: a segment is searched only when all its operations have returned with a known
//! outcome (an operation of unknown outcome never returns, so its key is never cut again);
//! the states carried are exactly those the operations before the cut can end in, so the
//! verdict is the whole history's. A segment with no order, or one that runs out of budget,
//! stops the key's online check: the end-of-run check searches that segment again (with the
//! budget the online search had used given back) and says what it finds. From the cut, a report
//! would name only the operations after it: when the run dropped nothing, the oracle searches
//! the record's whole history for its report; when it dropped reads, `run` replays the run
//! keeping every operation. Either way the report is the one a run that keeps everything gives.

use super::super::history::checked_key;
use super::{search_segment_kv, Budget, Progress};
use crate::client::{find_op, HistoryOp};
use crate::node::rpc::ServerOp;
use crate::record::linearized::{Carried, Values, EMPTY};
use crate::sim::ids::OpId;
use crate::sim::trace::Outcome;
use std::collections::BTreeMap;

/// One key's online check.
#[derive(Debug)]
struct KeyOnline {
    carried: Carried,
    /// Operations called before this (in simulated microseconds) are checked.
    cut_us: u64,
    /// Operations called from the cut on, in call order.
    open: Vec<OpId>,
    /// Of those, how many have not returned.
    unfinished: usize,
    /// When the last of them returned (`u64::MAX` once one has an unknown outcome).
    returned_by: u64,
    /// A segment had no order or ran out of budget: nothing more is checked online.
    stopped: bool,
}

impl KeyOnline {
    fn new() -> KeyOnline {
        KeyOnline {
            carried: Carried {
                values: Values::default(),
                starts: vec![EMPTY],
            },
            cut_us: 0,
            open: Vec::new(),
            unfinished: 0,
            returned_by: 0,
            stopped: false,
        }
    }
}

/// The online check of one run.
#[derive(Debug)]
pub struct Online {
    keys: BTreeMap<String, KeyOnline>,
    steps_left: u64,
    memo_max: usize,
    /// Whether some operation was handed back to be dropped.
    dropped: bool,
}

impl Default for Online {
    fn default() -> Self {
        let budget = Budget::default();
        Online {
            keys: BTreeMap::new(),
            steps_left: budget.steps,
            memo_max: budget.memo_entries,
            dropped: false,
        }
    }
}

impl Online {
    /// Operation `h` was called. If that cuts its key's history, searches the segment before
    /// and returns the operations the run may now drop (an apiserver's reads in it).
    /// `history` is the run's, in op order, holding every operation called from the key's last
    /// cut on.
    pub fn invoked(&mut self, h: &HistoryOp, history: &[HistoryOp]) -> Vec<OpId> {
        let Some(key) = checked_key(h) else {
            return Vec::new();
        };
        let k = match self.keys.get_mut(key) {
            Some(k) => k,
            None => self
                .keys
                .entry(key.to_string())
                .or_insert_with(KeyOnline::new),
        };
        let at = h.invoked.as_micros();
        let cut = !k.stopped && !k.open.is_empty() && k.unfinished == 0 && k.returned_by < at;
        let mut dropped = Vec::new();
        if cut {
            dropped = check_segment(k, at, history, &mut self.steps_left, self.memo_max);
        }
        k.open.push(h.op);
        k.unfinished += 1;
        self.dropped |= !dropped.is_empty();
        dropped
    }

    /// Operation `h` returned (or gave up: a write whose client was not told has an unknown
    /// outcome).
    pub fn finished(&mut self, h: &HistoryOp) {
        let Some(k) = checked_key(h).and_then(|key| self.keys.get_mut(key)) else {
            return;
        };
        k.unfinished -= 1;
        match (h.outcome == Outcome::Ok, h.completed, &h.kind) {
            (true, Some(at), _) => k.returned_by = k.returned_by.max(at.as_micros()),
            (false, _, ServerOp::Write { .. }) => k.returned_by = u64::MAX,
            // A read that failed tells the check nothing: it leaves it out.
            _ => {}
        }
    }

    /// What the end-of-run check goes on from.
    pub fn into_progress(self) -> Progress {
        let keys = self
            .keys
            .into_iter()
            .filter(|(_, k)| k.cut_us > 0)
            .map(|(key, k)| (key, (k.cut_us, k.carried)))
            .collect();
        Progress {
            keys,
            steps_left: self.steps_left,
            dropped: self.dropped,
        }
    }
}

/// Searches key `k`'s open segment, cut before a call at `at`: on success carries its end
/// states, moves the cut and returns the apiserver reads in it; else stops the key's online
/// check, giving back the steps it used.
fn check_segment(
    k: &mut KeyOnline,
    at: u64,
    history: &[HistoryOp],
    steps_left: &mut u64,
    memo_max: usize,
) -> Vec<OpId> {
    // An operation called since the cut is in the history, unless it was a read that failed:
    // the run drops those when they finish (they tell the check nothing).
    let op = |o: OpId| find_op(history, o);
    let steps: Vec<_> = k
        .open
        .iter()
        .filter_map(|&o| op(o).and_then(|h| super::step_of(h, &mut k.carried.values)))
        .collect();
    let before = *steps_left;
    match search_segment_kv(&steps, &k.carried.starts, steps_left, memo_max) {
        Some(ends) => {
            k.carried.values.keep_only(&ends);
            k.carried.starts = ends;
            k.cut_us = at;
            k.returned_by = 0;
            let open = std::mem::take(&mut k.open);
            open.into_iter()
                .filter(|&o| {
                    op(o).is_some_and(|h| {
                        h.command.is_none() && matches!(h.kind, ServerOp::Get { .. })
                    })
                })
                .collect()
        }
        None => {
            k.stopped = true;
            *steps_left = before;
            Vec::new()
        }
    }
}
