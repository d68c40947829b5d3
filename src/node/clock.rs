//! A member's own clock: what its timers measure.
//!
//! Models a crystal that runs fast or slow (a `clock_drift` fault): the member's clock advances
//! `speed_permille / 1000` local microseconds per simulated one. Everything the member times by
//! itself runs on it: raft ticks (heartbeats, election timeouts, CheckQuorum and the lease that
//! lease-based reads trust), the lessor's expiry loop and lease deadlines (etcd's lessor uses the
//! leader's monotonic clock, `server/lease/lessor.go`), server-side request timeouts. Network
//! latency, disk latency and client deadlines are other machines' time and do not drift.
//!
//! A speed change applies to every timer set after it; a timer already set keeps the deadline
//! it was given (at most one tick or one lessor loop late or early).
//!
//! Survives a crash: the drift belongs to the hardware, not the process. Invariant: local time
//! never goes backwards, and a rate change keeps it continuous (the anchor moves to the change).

use crate::sim::time::{SimDuration, SimTime};

/// Real time.
pub const NOMINAL_PERMILLE: u64 = 1000;

/// A piecewise-linear map from simulated time to this member's local time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalClock {
    speed_permille: u64,
    /// Simulated time of the last rate change.
    anchor_sim: SimTime,
    /// Local time at that moment.
    anchor_local: SimTime,
}

impl Default for LocalClock {
    fn default() -> Self {
        LocalClock {
            speed_permille: NOMINAL_PERMILLE,
            anchor_sim: SimTime::ZERO,
            anchor_local: SimTime::ZERO,
        }
    }
}

impl LocalClock {
    /// The local time at simulated time `now` (which must not precede the last rate change).
    pub fn local(&self, now: SimTime) -> SimTime {
        assert!(
            now >= self.anchor_sim,
            "clock read before its last rate change"
        );
        let elapsed = now.since(self.anchor_sim).as_micros() as u128;
        let local = elapsed * self.speed_permille as u128 / NOMINAL_PERMILLE as u128;
        self.anchor_local + SimDuration(local as u64)
    }

    /// From `now` on, the clock runs at `speed_permille / 1000` of real time (> 0).
    pub fn set_speed(&mut self, now: SimTime, speed_permille: u64) {
        assert!(
            speed_permille > 0,
            "a stopped clock is a pause, not a drift"
        );
        self.anchor_local = self.local(now);
        self.anchor_sim = now;
        self.speed_permille = speed_permille;
    }

    /// The current speed.
    pub fn speed_permille(&self) -> u64 {
        self.speed_permille
    }

    /// How much simulated time passes while this clock measures `local` at its current speed
    /// (rounded up, and at least 1 us for a non-zero span, so a timer never fires early).
    pub fn sim_span(&self, local: SimDuration) -> SimDuration {
        if self.speed_permille == NOMINAL_PERMILLE {
            return local;
        }
        let us = local.as_micros() as u128 * NOMINAL_PERMILLE as u128;
        SimDuration(us.div_ceil(self.speed_permille as u128) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> SimDuration {
        SimDuration::from_millis(n)
    }

    #[test]
    fn a_slow_clock_measures_less_and_its_timers_take_longer() {
        let mut c = LocalClock::default();
        assert_eq!(c.local(SimTime::ZERO + ms(500)), SimTime::ZERO + ms(500));
        c.set_speed(SimTime::ZERO + ms(1000), 200);
        assert_eq!(c.local(SimTime::ZERO + ms(2000)), SimTime::ZERO + ms(1200));
        assert_eq!(c.sim_span(ms(100)), ms(500));
        c.set_speed(SimTime::ZERO + ms(3000), 1000);
        // Continuous at the change, then real time again.
        assert_eq!(c.local(SimTime::ZERO + ms(3000)), SimTime::ZERO + ms(1400));
        assert_eq!(c.local(SimTime::ZERO + ms(4000)), SimTime::ZERO + ms(2400));
    }

    #[test]
    fn a_fast_clock_rounds_timers_up() {
        let mut c = LocalClock::default();
        c.set_speed(SimTime::ZERO, 3000);
        assert_eq!(c.sim_span(SimDuration(10)), SimDuration(4));
        assert_eq!(c.local(SimTime::ZERO + ms(1)), SimTime::ZERO + ms(3));
    }
}
