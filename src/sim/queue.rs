//! The event queue: a min-heap ordered by (time, sequence number).
//!
//! Contract: events pop in time order; events scheduled for the same instant pop in the order they
//! were scheduled (FIFO), so the run never depends on heap internals. Time never goes backwards:
//! scheduling into the past is a bug and panics.

use super::time::SimTime;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

pub struct EventQueue<E> {
    heap: BinaryHeap<Reverse<Keyed<E>>>,
    next_seq: u64,
    now: SimTime,
}

/// A payload ordered by its key only, so `E` needs no `Ord`.
struct Keyed<E> {
    key: (SimTime, u64),
    event: E,
}

impl<E> PartialEq for Keyed<E> {
    fn eq(&self, o: &Self) -> bool {
        self.key == o.key
    }
}
impl<E> Eq for Keyed<E> {}
impl<E> PartialOrd for Keyed<E> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<E> Ord for Keyed<E> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.key.cmp(&o.key)
    }
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            next_seq: 0,
            now: SimTime::ZERO,
        }
    }
}

impl<E> EventQueue<E> {
    pub fn now(&self) -> SimTime {
        self.now
    }

    pub fn schedule(&mut self, at: SimTime, event: E) {
        assert!(
            at >= self.now,
            "event scheduled in the past: at {at} < now {}",
            self.now
        );
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Reverse(Keyed {
            key: (at, seq),
            event,
        }));
    }

    /// Pops the next event if it is due at or before `limit`, advancing `now` to its time.
    pub fn pop_until(&mut self, limit: SimTime) -> Option<(SimTime, E)> {
        let at = self.heap.peek()?.0.key.0;
        if at > limit {
            return None;
        }
        let Reverse(k) = self.heap.pop().expect("peeked");
        self.now = at;
        Some((at, k.event))
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_by_time_then_fifo() {
        let mut q = EventQueue::default();
        q.schedule(SimTime(5), "c");
        q.schedule(SimTime(1), "a");
        q.schedule(SimTime(5), "d");
        q.schedule(SimTime(1), "b");
        let mut out = vec![];
        while let Some((t, e)) = q.pop_until(SimTime(10)) {
            out.push((t.0, e));
        }
        assert_eq!(out, vec![(1, "a"), (1, "b"), (5, "c"), (5, "d")]);
        assert_eq!(q.now(), SimTime(5));
    }

    #[test]
    fn stops_at_limit() {
        let mut q = EventQueue::default();
        q.schedule(SimTime(20), ());
        assert!(q.pop_until(SimTime(10)).is_none());
        assert_eq!(q.len(), 1);
    }

    #[test]
    #[should_panic(expected = "in the past")]
    fn refuses_the_past() {
        let mut q = EventQueue::default();
        q.schedule(SimTime(5), ());
        q.pop_until(SimTime(10));
        q.schedule(SimTime(1), ());
    }
}
