//! The event queue: a min-heap ordered by (time, sequence number).
//!
//! Contract: events pop in time order; events scheduled for the same instant pop in the order they
//! were scheduled (FIFO), so the run never depends on heap internals. Time never goes backwards:
//! scheduling into the past is a bug and panics.

use super::time::SimTime;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// The event queue: events ordered by (time, scheduling order).
pub struct EventQueue<E> {
    /// Only small keys move during heap operations; payloads stay put in `slots`.
    heap: BinaryHeap<Reverse<(SimTime, u64, u32)>>,
    slots: Vec<Option<E>>,
    free: Vec<u32>,
    next_seq: u64,
    now: SimTime,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            next_seq: 0,
            now: SimTime::ZERO,
        }
    }
}

impl<E> EventQueue<E> {
    /// The current simulated time.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` at `at` (not before now).
    pub fn schedule(&mut self, at: SimTime, event: E) {
        assert!(
            at >= self.now,
            "event scheduled in the past: at {at} < now {}",
            self.now
        );
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(event);
                i
            }
            None => {
                self.slots.push(Some(event));
                u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 pending events")
            }
        };
        self.heap.push(Reverse((at, seq, slot)));
    }

    /// Pops the next event if it is due at or before `limit`, advancing `now` to its time.
    pub fn pop_until(&mut self, limit: SimTime) -> Option<(SimTime, E)> {
        let Reverse((at, _, _)) = *self.heap.peek()?;
        if at > limit {
            return None;
        }
        let Reverse((_, _, slot)) = self.heap.pop().expect("peeked");
        self.now = at;
        self.free.push(slot);
        let e = self.slots[slot as usize]
            .take()
            .expect("every heap entry has a payload");
        Some((at, e))
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether there are none.
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
