//! raft-rs's own log lines, carried by slog and stamped with simulated time and node.
//!
//! Off by default (a `Discard` drain costs nothing); `--log-level` turns it on. The clock is a
//! shared atomic that only the event loop writes, so log lines never read the wall clock.

use slog::{Drain, Level, OwnedKVList, Record, KV};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Simulated "now" as seen by log lines.
#[derive(Clone, Default)]
pub struct LogClock(Arc<AtomicU64>);

impl LogClock {
    /// Sets the time log lines are stamped with.
    pub fn set(&self, micros: u64) {
        self.0.store(micros, Ordering::Relaxed);
    }
    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

struct SimDrain {
    clock: LogClock,
    level: Level,
}

struct KvLine(String);

impl slog::Serializer for KvLine {
    fn emit_arguments(&mut self, key: slog::Key, val: &std::fmt::Arguments) -> slog::Result {
        let _ = write!(self.0, " {key}={val}");
        Ok(())
    }
}

impl Drain for SimDrain {
    type Ok = ();
    type Err = slog::Never;
    fn log(&self, r: &Record, values: &OwnedKVList) -> Result<(), slog::Never> {
        if !r.level().is_at_least(self.level) {
            return Ok(());
        }
        let us = self.clock.get();
        let mut kv = KvLine(String::new());
        let _ = r.kv().serialize(r, &mut kv);
        let _ = values.serialize(r, &mut kv);
        eprintln!(
            "[{:>4}.{:03}s] raft {} {}{}",
            us / 1_000_000,
            (us / 1_000) % 1_000,
            r.level().as_short_str(),
            r.msg(),
            kv.0
        );
        Ok(())
    }
}

/// A root logger: discards everything when `level` is `None`.
pub fn logger(clock: &LogClock, level: Option<Level>) -> slog::Logger {
    match level {
        None => slog::Logger::root(slog::Discard, slog::o!()),
        Some(level) => slog::Logger::root(
            SimDrain {
                clock: clock.clone(),
                level,
            }
            .fuse(),
            slog::o!(),
        ),
    }
}
