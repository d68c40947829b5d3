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
//! [`Budget`] and then says Unknown: it may say Unknown, never something false. A long partition
//! is searched in segments, cut wherever every operation called so far has returned before the
//! next call, each segment from every state the one before can end in: the same answer, holding
//! one segment's search at a time. raftsim's own
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
        match search_partition(model, &ops, &mut steps_left, budget.memo_entries) {
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

/// Searches one partition for an order that explains every result, from the model's initial
/// state, all its operations at once.
pub(crate) fn search<M: Model>(
    model: &M,
    ops: &[&Operation<M::Op>],
    steps_left: &mut u64,
    memo_max: usize,
) -> Found {
    search_from(
        model,
        ops,
        model.init(),
        Goal::AnyOrder,
        steps_left,
        memo_max,
    )
    .0
}

/// What a search looks for.
#[derive(Clone, Copy, PartialEq)]
enum Goal {
    /// One order: stop at the first.
    AnyOrder,
    /// Every state an order can end in (the search goes on past each order it finds).
    AllEnds,
}

/// The search from `init`: what it found and, for [`Goal::AllEnds`], every state an order of all
/// of `ops` can end in (empty for [`Goal::AnyOrder`]).
fn search_from<M: Model>(
    model: &M,
    ops: &[&Operation<M::Op>],
    init: M::State,
    goal: Goal,
    steps_left: &mut u64,
    memo_max: usize,
) -> (Found, Vec<M::State>) {
    let mut s = Search::new(ops, init);
    let (mut best, mut best_stuck): (Vec<usize>, Vec<usize>) = (vec![], vec![]);
    let mut ends = Vec::new();
    let mut cur = s.head;
    loop {
        if *steps_left == 0 {
            return (Found::Exhausted("step limit"), ends);
        }
        if s.seen.len() > memo_max {
            return (Found::Exhausted("memory limit"), ends);
        }
        *steps_left -= 1;
        if s.head == NIL {
            if goal == Goal::AnyOrder {
                return (Found::Order, ends);
            }
            // Every operation is placed: note where this order ends, then look for others
            // (the memo keeps the search from reaching the same (set, state) twice).
            ends.push(s.state.clone());
        } else {
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
            // A return whose call could not be placed: backtrack, trying the other outcomes of
            // the last placed op before moving past it.
            if s.stack.len() >= best.len() {
                best = s.stack.iter().map(|(c, _, _)| s.entries[*c].op).collect();
                best_stuck = pending_at(&s.entries, s.head);
            }
        }
        let Some((call, options)) = s.undo() else {
            if ends.is_empty() {
                let none = Found::None {
                    best,
                    stuck: best_stuck,
                };
                return (none, ends);
            }
            return (Found::Order, ends);
        };
        cur = if s.try_place(call, options) {
            s.head
        } else {
            s.entries[call].next
        };
    }
}

/// Partitions of at least this many operations are searched in segments
/// ([`search_in_segments`]); shorter ones whole ([`search`]). Segments bound the memory a long
/// partition's search holds, but a partition with no order is then searched a second time for
/// its report, which on short histories doubles the work for nothing.
pub(crate) const SEGMENTS_FROM_OPS: usize = 4096;

/// Searches one partition: whole when short, in segments when long ([`SEGMENTS_FROM_OPS`]).
/// Either way the same answer.
pub(crate) fn search_partition<M: Model>(
    model: &M,
    ops: &[&Operation<M::Op>],
    steps_left: &mut u64,
    memo_max: usize,
) -> Found {
    if ops.len() < SEGMENTS_FROM_OPS {
        search(model, ops, steps_left, memo_max)
    } else {
        search_in_segments(model, ops, steps_left, memo_max)
    }
}

/// Searches one partition segment by segment: wherever every operation called so far has
/// returned before the next call ([`segments`]), the operations before that point and those
/// after it are ordered on their own, the later ones from every state the earlier ones can end
/// in. A long history is mostly such segments, so the search holds one segment's list and memo
/// at a time instead of the whole partition's. The answer is the whole search's: when no order
/// exists, the whole partition is searched again so that the longest order and the stuck
/// operations reported are the same as [`search`]'s.
pub(crate) fn search_in_segments<M: Model>(
    model: &M,
    ops: &[&Operation<M::Op>],
    steps_left: &mut u64,
    memo_max: usize,
) -> Found {
    segmented(model, ops, vec![model.init()], true, steps_left, memo_max)
}

/// [`search_in_segments`] from `starts`, the states an earlier part of the partition, already
/// searched, can end in (every operation here was called after every one there returned). When
/// no order exists, the longest order and stuck operations reported are the failing segment's
/// own (the whole search's would need the earlier part).
pub(crate) fn search_in_segments_from<M: Model>(
    model: &M,
    ops: &[&Operation<M::Op>],
    starts: Vec<M::State>,
    steps_left: &mut u64,
    memo_max: usize,
) -> Found {
    segmented(model, ops, starts, false, steps_left, memo_max)
}

fn segmented<M: Model>(
    model: &M,
    ops: &[&Operation<M::Op>],
    mut starts: Vec<M::State>,
    whole_report: bool,
    steps_left: &mut u64,
    memo_max: usize,
) -> Found {
    let segments = segments(ops);
    for (k, segment) in segments.iter().enumerate() {
        let part: Vec<&Operation<M::Op>> = segment.iter().map(|&i| ops[i]).collect();
        let last = k + 1 == segments.len();
        let (best, stuck) = match search_segment(model, &part, &starts, last, steps_left, memo_max)
        {
            Segment::Ends(ends) => {
                starts = ends;
                continue;
            }
            Segment::Order => return Found::Order,
            Segment::Exhausted(limit) => return Found::Exhausted(limit),
            Segment::None { best, stuck } => (best, stuck),
        };
        // The whole search never gets past this segment: searching the operations up to its
        // end gives the whole search's report.
        let local = |v: Vec<usize>| v.into_iter().map(|i| segment[i]).collect();
        let (best, stuck) = if k == 0 || !whole_report {
            (local(best), local(stuck))
        } else {
            let mut upto: Vec<usize> = segments[..=k].iter().flatten().copied().collect();
            upto.sort_unstable();
            report_violation(model, ops, &upto, steps_left, memo_max)
                .unwrap_or_else(|| (local(best), local(stuck)))
        };
        return Found::None { best, stuck };
    }
    // No operations at all.
    Found::Order
}

/// What the search of one segment from some states found.
pub(crate) enum Segment<S> {
    /// Every state an order of it can end in, from any of the states (never empty).
    Ends(Vec<S>),
    /// An order (the segment was the last: its end states were not wanted).
    Order,
    /// No order from any of the states: the longest order and the stuck operations (indices
    /// into the segment) of the last state searched.
    None { best: Vec<usize>, stuck: Vec<usize> },
    /// The named limit ran out.
    Exhausted(&'static str),
}

/// Searches one segment (`part`: operations none of which was called after all the others
/// returned) from each of `starts`: for `last`, until one order is found; else for every state
/// it can end in.
pub(crate) fn search_segment<M: Model>(
    model: &M,
    part: &[&Operation<M::Op>],
    starts: &[M::State],
    last: bool,
    steps_left: &mut u64,
    memo_max: usize,
) -> Segment<M::State> {
    let goal = if last { Goal::AnyOrder } else { Goal::AllEnds };
    let mut ends = Ends::default();
    let mut none = None;
    if let [only] = part {
        // One operation (most segments of a long history): its steps from each state are its
        // orders' ends; the search would find the same, at the cost of building its lists.
        for start in starts {
            if *steps_left == 0 {
                return Segment::Exhausted("step limit");
            }
            *steps_left -= 1;
            let states = model.step(start, &only.op);
            if last && !states.is_empty() {
                return Segment::Order;
            }
            states.into_iter().for_each(|s| ends.add(s));
        }
        return match ends.states.is_empty() {
            // As the search reports it: nothing ordered, the one operation stuck.
            true => Segment::None {
                best: vec![],
                stuck: vec![0],
            },
            false => Segment::Ends(ends.states),
        };
    }
    for start in starts {
        match search_from(model, part, start.clone(), goal, steps_left, memo_max) {
            (Found::Exhausted(limit), _) => return Segment::Exhausted(limit),
            (Found::Order, _) if last => return Segment::Order,
            (Found::Order, states) => states.into_iter().for_each(|s| ends.add(s)),
            (Found::None { best, stuck }, _) => none = Some((best, stuck)),
        }
    }
    match none {
        Some((best, stuck)) if ends.states.is_empty() => Segment::None { best, stuck },
        _ if ends.states.is_empty() => panic!("a segment was searched from no state"),
        _ => Segment::Ends(ends.states),
    }
}

/// The states segments can end in, each once, in the order found.
struct Ends<S> {
    states: Vec<S>,
    /// Asked for membership only, never iterated (`states` keeps the order); filled only once
    /// there are more than [`ENDS_SCANNED`] states (a segment usually ends in one or two).
    seen: hashbrown::HashSet<S, std::hash::BuildHasherDefault<TraceHasher>>, // determinism: ok
}

/// Up to this many states, asking whether a state is among them is a scan of the list, not a
/// set to build (end states here, the values carried states hold in the linearizability check).
pub(crate) const ENDS_SCANNED: usize = 8;

impl<S> Default for Ends<S> {
    fn default() -> Self {
        Ends {
            states: Vec::new(),
            seen: hashbrown::HashSet::default(),
        }
    }
}

impl<S: Clone + Eq + Hash> Ends<S> {
    fn add(&mut self, s: S) {
        if self.states.len() < ENDS_SCANNED {
            if !self.states.contains(&s) {
                self.states.push(s);
            }
            return;
        }
        if self.seen.is_empty() {
            self.seen.extend(self.states.iter().cloned());
        }
        if self.seen.insert(s.clone()) {
            self.states.push(s);
        }
    }
}

/// A segment proved that no order exists: search the operations `upto` (indices into `ops`,
/// ascending: every segment up to that one) for [`search`]'s longest order and stuck operations,
/// as indices into `ops`; `None` if that search runs out of budget.
fn report_violation<M: Model>(
    model: &M,
    ops: &[&Operation<M::Op>],
    upto: &[usize],
    steps_left: &mut u64,
    memo_max: usize,
) -> Option<(Vec<usize>, Vec<usize>)> {
    let part: Vec<&Operation<M::Op>> = upto.iter().map(|&i| ops[i]).collect();
    let global = |v: Vec<usize>| v.into_iter().map(|i| upto[i]).collect();
    match search(model, &part, steps_left, memo_max) {
        Found::None { best, stuck } => Some((global(best), global(stuck))),
        Found::Exhausted(_) => None,
        Found::Order => panic!(
            "the linearizability search is inconsistent: a segment has no order but the operations up to its end have one ({} operations)",
            part.len()
        ),
    }
}

/// The operations' indices cut into segments, in call order, before each call made after every
/// operation called before it had returned. Such cuts are all the real-time order needs:
/// everything before a cut precedes everything after it. An operation of unknown outcome never
/// returns, so nothing after its call is cut. Each segment lists its indices in ascending order,
/// the order the whole search lists operations in, so that ties are broken as there.
fn segments<O>(ops: &[&Operation<O>]) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..ops.len()).collect();
    order.sort_by_key(|&i| (ops[i].invoke_us, i));
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut returned_by = 0u64;
    for i in order {
        let o = ops[i];
        match out.last_mut() {
            Some(segment) if returned_by >= o.invoke_us => segment.push(i),
            _ => out.push(vec![i]),
        }
        returned_by = returned_by.max(o.complete_us.unwrap_or(u64::MAX));
    }
    out.iter_mut().for_each(|segment| segment.sort_unstable());
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    /// End states stay in the order first found, each once, below and past the length up to
    /// which membership is a scan.
    #[test]
    fn ends_keep_each_state_once_in_the_order_found() {
        let mut ends = Ends::default();
        let found: Vec<u32> = (0..40).map(|i| (i * 7) % 23).collect();
        for &s in &found {
            ends.add(s);
        }
        let mut want: Vec<u32> = Vec::new();
        for s in found {
            if !want.contains(&s) {
                want.push(s);
            }
        }
        assert!(want.len() > ENDS_SCANNED);
        assert_eq!(ends.states, want);
    }
}
