//! Lock holdings, for the lock check (`check = "lock"`): did two clients ever believe, at the
//! same instant, that they held the same lock?
//!
//! A client believes it holds a lock from the answer that gave it the lock (`lock-acquired`)
//! until it learns otherwise (`lock-released`, when its session's keep-alive gives up), or to
//! the end of the run. This is the belief an application acts on (etcd's `concurrency.Mutex`
//! and its session's `Done` channel), so two overlapping beliefs are the split brain a
//! lease-based lock exists to prevent, whatever the store says at that instant.

use super::Record;
use crate::sim::time::SimTime;
use crate::sim::trace::TraceEvent;
use std::collections::BTreeMap;

/// One client's belief that it held a lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holding {
    /// The scenario command that held it.
    pub command: usize,
    /// From when.
    pub from: SimTime,
    /// Until when (the end of the run if it never let go).
    pub until: SimTime,
}

/// Every holding of lock `name`, in the order they began.
pub fn holdings(r: &Record, name: &str) -> Vec<Holding> {
    let mut open: BTreeMap<usize, SimTime> = BTreeMap::new();
    let mut out = Vec::new();
    for t in &r.trace {
        match &t.event {
            TraceEvent::LockAcquired { command, lock } if lock == name => {
                open.insert(*command, t.at);
            }
            TraceEvent::LockReleased { command, lock, .. } if lock == name => {
                if let Some(from) = open.remove(command) {
                    out.push(Holding {
                        command: *command,
                        from,
                        until: t.at,
                    });
                }
            }
            _ => {}
        }
    }
    out.extend(open.into_iter().map(|(command, from)| Holding {
        command,
        from,
        until: r.sim_end,
    }));
    out.sort_by_key(|h| (h.from, h.command));
    out
}

/// The first instant two holdings overlap: (the earlier, the later, when both held it).
pub fn first_overlap(hs: &[Holding]) -> Option<(&Holding, &Holding, SimTime)> {
    hs.iter()
        .enumerate()
        .flat_map(|(i, a)| hs[i + 1..].iter().map(move |b| (a, b)))
        .filter(|(a, b)| a.command != b.command && b.from < a.until && a.from < b.until)
        .map(|(a, b)| (a, b, a.from.max(b.from)))
        .min_by_key(|(_, _, at)| *at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(command: usize, from: u64, until: u64) -> Holding {
        Holding {
            command,
            from: SimTime(from),
            until: SimTime(until),
        }
    }

    #[test]
    fn overlapping_beliefs_are_found_and_back_to_back_ones_are_not() {
        let hs = vec![h(0, 0, 10), h(1, 10, 20), h(2, 30, 40)];
        assert_eq!(
            first_overlap(&hs),
            None,
            "10 is released before 10 is taken"
        );
        let hs = vec![h(0, 0, 25), h(1, 10, 20), h(2, 15, 40)];
        let (a, b, at) = first_overlap(&hs).unwrap();
        assert_eq!((a.command, b.command, at), (0, 1, SimTime(10)));
    }
}
