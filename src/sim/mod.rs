//! The foundation: simulated time, typed ids, seeded random streams, the event queue, the trace,
//! the effect type every actor returns and the facts the oracles are told. Nothing here imports
//! anything above it (a test checks it); the loop that uses all of this is `world/`.

pub mod actor;
pub mod heard;
pub mod ids;
pub mod log;
pub mod observe;
pub mod queue;
pub mod rng;
pub mod time;
pub mod trace;

/// Implements `Display` and `Serialize` for a type with a `name(self) -> &'static str`: the type
/// is shown and serialized as its name (oracles, failures, undecided checks).
macro_rules! shown_as_name {
    ($t:ty) => {
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }
    };
}
pub(crate) use shown_as_name;

/// Appends `x` to a log that grows for the whole run (the client history, the kept trace
/// records). Once the log is long, its capacity grows by an eighth when full instead of
/// doubling: a long run's memory then rises with its length instead of in steps of twice the
/// log (ten simulated hours of the default scenario kept a history of 254,000 operations in
/// room for 262,144; an hour more made that room 524,288, a hundred MiB at once). "Long" is
/// 4,096 items, as for the raft log: once the history kept only what checks read, ten hours
/// held 50,801 operations in room for 65,536, 4 MiB of room. A short log still doubles, so
/// short runs copy no more than before; appends stay amortised O(1).
pub(crate) fn push_gently<T>(log: &mut Vec<T>, x: T) {
    reserve_gently(log, 1, 4096);
    log.push(x);
}

/// Makes room for `additional` more items in a log that grows for a long time, as
/// [`push_gently`] does, once it holds `long` items or more: an eighth of its length at a
/// time (or `additional`, if more). The raft log and the simulated WAL use it from a few
/// thousand entries on: between etcd's snapshots a member's log reaches tens of thousands.
pub(crate) fn reserve_gently<T>(log: &mut Vec<T>, additional: usize, long: usize) {
    if log.len() + additional > log.capacity() && log.len() >= long {
        log.reserve_exact(additional.max(log.len() / 8));
    }
}

#[cfg(test)]
mod tests {
    /// A long log's room stays within an eighth of its length; a short one doubles as usual.
    #[test]
    fn long_logs_grow_by_an_eighth() {
        let mut log = Vec::new();
        for i in 0..400_000u32 {
            super::push_gently(&mut log, i);
            if log.len() > 1 << 16 {
                assert!(
                    log.capacity() <= log.len() + log.len() / 8 + 1,
                    "at {}",
                    log.len()
                );
            }
        }
        assert!(log.iter().copied().eq(0..400_000));
    }
}
