//! Linearizability against a model of your own (porcupine's `Model`, in Rust).
//!
//! A [`Model`] says what one operation does to a state: [`Model::step`] returns every state the
//! operation can lead to from a state, given what its client observed (empty: it cannot have
//! happened there). An operation whose client never learnt its outcome (timed out, failed
//! ambiguously) has no completion time: it may take effect at any point after its call, or never.
//! [`Model::partition`] splits a history into independent parts (one per key for a key-value
//! store), each checked on its own (P-compositionality).
//!
//! The search is Wing & Gong's with Lowe's memoisation of visited (linearized set, state) pairs,
//! over a doubly linked list of call and return entries; identical operations of unknown outcome
//! are interchangeable, so only orders that place the earlier first are searched. It stops at a
//! [`Budget`] and then says Unknown: it may say Unknown, never something false. raftsim's own
//! key-value checker (`check::linearizability`) is this search with the key-value model.
//!
//! ```
//! use raftsim::check::model::{check_operations, Model, Operation, Outcome};
//! use raftsim::check::linearizability::Budget;
//!
//! /// A counter: `Add(n)` answers the new total; `Read` answers the total.
//! struct Counter;
//! #[derive(Clone, Debug, PartialEq)]
//! enum Op { Add(u64, Option<u64>), Read(Option<u64>) }
//!
//! impl Model for Counter {
//!     type State = u64;
//!     type Op = Op;
//!     fn init(&self) -> u64 { 0 }
//!     fn step(&self, s: &u64, op: &Op) -> Vec<u64> {
//!         match op {
//!             Op::Add(n, seen) if seen.is_none_or(|t| t == s + n) => vec![s + n],
//!             Op::Read(seen) if seen.is_none_or(|t| t == *s) => vec![*s],
//!             _ => vec![],
//!         }
//!     }
//! }
//!
//! let ok = |client, op, from, to| Operation { client, op, invoke_us: from, complete_us: Some(to) };
//! let history = vec![ok(1, Op::Add(2, Some(2)), 0, 10), ok(2, Op::Read(Some(2)), 11, 12)];
//! assert!(matches!(check_operations(&Counter, &history, Budget::default()), Outcome::Linearizable));
//! let stale = vec![ok(1, Op::Add(2, Some(2)), 0, 10), ok(2, Op::Read(Some(0)), 11, 12)];
//! assert!(matches!(check_operations(&Counter, &stale, Budget::default()), Outcome::NotLinearizable { .. }));
//! ```

use super::linearizability::Budget;
use crate::sim::trace::TraceHasher;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::hash::Hash;

/// A sequential specification of a service.
pub trait Model {
    /// The service's state.
    type State: Clone + Eq + Hash + Debug;
    /// One operation: what was asked and, when its client learnt it, what was answered.
    type Op: Clone + Debug + PartialEq;

    /// The state before any operation.
    fn init(&self) -> Self::State;

    /// Every state `op` can lead to from `state`, given what its client saw (empty: `op` cannot
    /// take effect here).
    fn step(&self, state: &Self::State, op: &Self::Op) -> Vec<Self::State>;

    /// The independent part of the history `op` belongs to (default: one part).
    fn partition(&self, op: &Self::Op) -> String {
        let _ = op;
        String::new()
    }
}

/// One operation of a history.
#[derive(Clone, Debug, PartialEq)]
pub struct Operation<O> {
    /// The client (operations of one client never overlap).
    pub client: u64,
    /// What it did and saw.
    pub op: O,
    /// When it was invoked (any unit, e.g. simulated microseconds).
    pub invoke_us: u64,
    /// When it completed; `None` when its client never learnt the outcome.
    pub complete_us: Option<u64>,
}

/// The answer of [`check_operations`].
#[derive(Clone, Debug)]
pub enum Outcome<O> {
    /// Some order of the operations explains every result.
    Linearizable,
    /// No order does, in partition `partition`.
    NotLinearizable {
        /// The partition.
        partition: String,
        /// The last few operations of the longest order found.
        ordered_tail: Vec<Operation<O>>,
        /// The operations none of which could come next.
        stuck: Vec<Operation<O>>,
    },
    /// The budget ran out first.
    Unknown {
        /// The partition whose search ran out.
        partition: String,
        /// Which limit was reached.
        limit: &'static str,
    },
}

/// Checks a history against `model`, partition by partition: the first violation, else Unknown if
/// some partition ran out of budget, else linearizable.
pub fn check_operations<M: Model>(
    model: &M,
    history: &[Operation<M::Op>],
    budget: Budget,
) -> Outcome<M::Op> {
    let mut parts: BTreeMap<String, Vec<&Operation<M::Op>>> = BTreeMap::new();
    for o in history {
        parts.entry(model.partition(&o.op)).or_default().push(o);
    }
    let mut steps_left = budget.steps;
    let mut unknown = None;
    for (partition, ops) in parts {
        match search(model, &ops, &mut steps_left, budget.memo_entries) {
            Found::Order => {}
            Found::Exhausted(limit) => {
                unknown.get_or_insert(Outcome::Unknown {
                    partition: partition.clone(),
                    limit,
                });
            }
            Found::None { best, stuck } => {
                let tail = best.len().saturating_sub(5);
                return Outcome::NotLinearizable {
                    partition,
                    ordered_tail: best[tail..].iter().map(|i| ops[*i].clone()).collect(),
                    stuck: stuck.iter().map(|i| ops[*i].clone()).collect(),
                };
            }
        }
    }
    unknown.unwrap_or(Outcome::Linearizable)
}

/// What the search of one partition found.
pub(crate) enum Found {
    /// An order.
    Order,
    /// No order: the longest order found (operation indices) and the operations stuck after it.
    None { best: Vec<usize>, stuck: Vec<usize> },
    /// The named limit ran out.
    Exhausted(&'static str),
}

#[derive(Clone, Copy)]
struct Entry {
    op: usize,
    is_call: bool,
    prev: usize,
    next: usize,
}

const NIL: usize = usize::MAX;

/// The memo of visited (linearized set, state) pairs. A set is stored as its words from the first
/// that is not all ones to the last that is not zero (ops are mostly linearized in call order, so
/// a long history would otherwise store a full bitset per pair), all sets in one arena; a lookup
/// hashes the borrowed set and state, so visiting a pair again allocates nothing. Lookups only,
/// never iterated: hash order cannot leak into a result.
struct Memo<S> {
    table: hashbrown::HashTable<MemoEntry<S>>,
    words: Vec<u64>,
}

struct MemoEntry<S> {
    hash: u64,
    first: usize,
    start: usize,
    len: usize,
    state: S,
}

impl<S: Clone + Eq + Hash> Memo<S> {
    fn new() -> Memo<S> {
        Memo {
            table: hashbrown::HashTable::new(),
            words: Vec::new(),
        }
    }

    /// Records (`bits`, `state`); false if it was already there.
    fn insert(&mut self, bits: &[u64], state: &S) -> bool {
        let first = bits
            .iter()
            .position(|w| *w != u64::MAX)
            .unwrap_or(bits.len());
        let last = bits
            .iter()
            .rposition(|w| *w != 0)
            .map_or(first, |l| l + 1)
            .max(first);
        let key = &bits[first..last];
        let mut h = TraceHasher::default();
        (first, key, state).hash(&mut h);
        let hash = std::hash::Hasher::finish(&h);
        let words = &self.words;
        let seen = self.table.find(hash, |e| {
            e.hash == hash
                && e.first == first
                && words[e.start..e.start + e.len] == *key
                && e.state == *state
        });
        if seen.is_some() {
            return false;
        }
        let start = self.words.len();
        self.words.extend_from_slice(key);
        let entry = MemoEntry {
            hash,
            first,
            start,
            len: key.len(),
            state: state.clone(),
        };
        self.table.insert_unique(hash, entry, |e| e.hash);
        true
    }

    fn len(&self) -> usize {
        self.table.len()
    }
}

/// The search's state: Lowe's doubly linked list of call/return entries, the linearized set, the
/// memo of visited (set, state) pairs, and the stack of placed calls.
struct Search<S> {
    entries: Vec<Entry>,
    head: usize,
    ret_of: Vec<usize>,
    /// For an operation of unknown outcome, the identical one invoked just before it.
    twin_before: Vec<Option<usize>>,
    linearized: Vec<u64>,
    seen: Memo<S>,
    /// (call entry, state before it, other states still to try).
    stack: Vec<(usize, S, Vec<S>)>,
    state: S,
}

impl<S: Clone + Eq + Hash> Search<S> {
    fn new<O: PartialEq>(ops: &[&Operation<O>], init: S) -> Search<S> {
        // Entries sorted by time; calls before returns at equal times (touching ops overlap).
        let mut times: Vec<(u64, u8, usize)> = Vec::new();
        for (i, o) in ops.iter().enumerate() {
            times.push((o.invoke_us, 0, i));
            times.push((o.complete_us.unwrap_or(u64::MAX), 1, i));
        }
        times.sort();
        let n = times.len();
        let entries: Vec<Entry> = times
            .iter()
            .enumerate()
            .map(|(i, (_, kind, op))| Entry {
                op: *op,
                is_call: *kind == 0,
                prev: if i == 0 { NIL } else { i - 1 },
                next: if i + 1 == n { NIL } else { i + 1 },
            })
            .collect();
        let mut ret_of = vec![0usize; ops.len()];
        for (i, e) in entries.iter().enumerate().filter(|(_, e)| !e.is_call) {
            ret_of[e.op] = i;
        }
        Search {
            entries,
            head: if n == 0 { NIL } else { 0 },
            ret_of,
            twin_before: twins(ops),
            linearized: vec![0u64; ops.len().div_ceil(64)],
            seen: Memo::new(),
            stack: Vec::new(),
            state: init,
        }
    }

    fn lift(&mut self, i: usize) {
        let (p, nx) = (self.entries[i].prev, self.entries[i].next);
        if p == NIL {
            self.head = nx;
        } else {
            self.entries[p].next = nx;
        }
        if nx != NIL {
            self.entries[nx].prev = p;
        }
    }

    fn unlift(&mut self, i: usize) {
        let (p, nx) = (self.entries[i].prev, self.entries[i].next);
        if p == NIL {
            self.head = i;
        } else {
            self.entries[p].next = i;
        }
        if nx != NIL {
            self.entries[nx].prev = i;
        }
    }

    /// Whether `op` must wait for an identical operation of unknown outcome invoked before it:
    /// two such operations are interchangeable, and the earlier one can go wherever the later
    /// one can, so only orders that place the earlier first need to be searched.
    fn waits_for_twin(&self, op: usize) -> bool {
        self.twin_before[op].is_some_and(|t| self.linearized[t / 64] & (1 << (t % 64)) == 0)
    }

    fn flip(&mut self, op: usize, on: bool) {
        if on {
            self.linearized[op / 64] |= 1 << (op % 64);
        } else {
            self.linearized[op / 64] &= !(1 << (op % 64));
        }
    }

    /// Places the call at entry `call` with the first of `options` not yet visited.
    fn try_place(&mut self, call: usize, mut options: Vec<S>) -> bool {
        let op = self.entries[call].op;
        while let Some(next_state) = options.pop() {
            self.flip(op, true);
            if self.seen.insert(&self.linearized, &next_state) {
                let before = std::mem::replace(&mut self.state, next_state);
                self.stack.push((call, before, options));
                self.lift(call);
                self.lift(self.ret_of[op]);
                return true;
            }
            self.flip(op, false);
        }
        false
    }

    /// Takes back the last placed call; returns it with its untried options.
    fn undo(&mut self) -> Option<(usize, Vec<S>)> {
        let (call, before, options) = self.stack.pop()?;
        let op = self.entries[call].op;
        self.unlift(self.ret_of[op]);
        self.unlift(call);
        self.flip(op, false);
        self.state = before;
        Some((call, options))
    }
}

/// For each operation of unknown outcome, the identical one (also unknown) invoked just before
/// it, if any.
fn twins<O: PartialEq>(ops: &[&Operation<O>]) -> Vec<Option<usize>> {
    let mut order: Vec<usize> = (0..ops.len()).collect();
    order.sort_by_key(|&i| (ops[i].invoke_us, i));
    let mut last: Vec<(&O, usize)> = Vec::new();
    let mut out = vec![None; ops.len()];
    for i in order.into_iter().filter(|&i| ops[i].complete_us.is_none()) {
        match last.iter_mut().find(|(k, _)| **k == ops[i].op) {
            Some((_, prev)) => {
                out[i] = Some(*prev);
                *prev = i;
            }
            None => last.push((&ops[i].op, i)),
        }
    }
    out
}

/// Searches one partition for an order that explains every result.
pub(crate) fn search<M: Model>(
    model: &M,
    ops: &[&Operation<M::Op>],
    steps_left: &mut u64,
    memo_max: usize,
) -> Found {
    let mut s = Search::new(ops, model.init());
    let (mut best, mut best_stuck): (Vec<usize>, Vec<usize>) = (vec![], vec![]);
    let mut cur = s.head;
    while s.head != NIL {
        if *steps_left == 0 {
            return Found::Exhausted("step limit");
        }
        if s.seen.len() > memo_max {
            return Found::Exhausted("memory limit");
        }
        *steps_left -= 1;
        if cur == NIL {
            cur = s.head;
        }
        let e = s.entries[cur];
        if e.is_call && s.waits_for_twin(e.op) {
            cur = e.next;
            continue;
        }
        if e.is_call {
            let options = model.step(&s.state, &ops[e.op].op);
            cur = if s.try_place(cur, options) {
                s.head
            } else {
                e.next
            };
            continue;
        }
        // A return whose call could not be placed: backtrack, trying the other outcomes of the
        // last placed op before moving past it.
        if s.stack.len() >= best.len() {
            best = s.stack.iter().map(|(c, _, _)| s.entries[*c].op).collect();
            best_stuck = pending_at(&s.entries, s.head);
        }
        let Some((call, options)) = s.undo() else {
            return Found::None {
                best,
                stuck: best_stuck,
            };
        };
        cur = if s.try_place(call, options) {
            s.head
        } else {
            s.entries[call].next
        };
    }
    Found::Order
}

/// Calls still in the list before the first return: the operations that were candidates.
fn pending_at(entries: &[Entry], head: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut i = head;
    while i != NIL && entries[i].is_call {
        out.push(entries[i].op);
        i = entries[i].next;
    }
    // The return that ended the run of calls: its operation, unless it is one of those calls.
    if i != NIL && !out.contains(&entries[i].op) {
        out.push(entries[i].op);
    }
    out
}
