//! Virtual time.
//!
//! Contract: simulated time is an integer count of microseconds since the start of a run. Nothing
//! in a simulation reads the wall clock; the event loop is the only owner of "now" and hands it to
//! components. `SimTime` is a point, `SimDuration` a span; arithmetic between them is explicit so a
//! point can never be added to a point. Durations are written and parsed as `500us`, `100ms`,
//! `5s`, `2m`, `1h` (see [`SimDuration::parse`]).

use serde::{Deserialize, Serialize};
use std::fmt;

/// A point in simulated time, in microseconds since the run started.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct SimTime(pub u64);

/// A span of simulated time, in microseconds.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct SimDuration(pub u64);

impl SimTime {
    /// Zero.
    pub const ZERO: SimTime = SimTime(0);

    /// In microseconds.
    pub fn as_micros(self) -> u64 {
        self.0
    }

    /// Time elapsed since `earlier`; zero if `earlier` is later (never negative).
    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }

    /// In seconds.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
}

impl std::ops::Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.checked_add(d.0).expect("simulated time overflow"))
    }
}

impl SimDuration {
    /// Zero.
    pub const ZERO: SimDuration = SimDuration(0);

    /// From microseconds.
    pub const fn from_micros(us: u64) -> Self {
        SimDuration(us)
    }
    /// From milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms * 1_000)
    }
    /// From seconds.
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s * 1_000_000)
    }
    /// In microseconds.
    pub fn as_micros(self) -> u64 {
        self.0
    }
    /// In milliseconds.
    pub fn as_millis(self) -> u64 {
        self.0 / 1_000
    }
    /// In seconds.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }

    /// Parses a human duration: an unsigned integer followed by one unit of
    /// `us`, `ms`, `s`, `m` or `h` (`100ms`, `5s`, `2m`). Fractions are not accepted; write
    /// `1500ms` for one and a half seconds.
    pub fn parse(text: &str) -> Result<SimDuration, String> {
        let t = text.trim();
        if t.starts_with('-') {
            return Err(format!(
                "negative duration `{text}`: durations must be >= 0"
            ));
        }
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        if num.is_empty() {
            return Err(format!(
                "invalid duration `{text}`: expected a whole number and a unit, e.g. `100ms`, `5s`, `2m`"
            ));
        }
        let n: u64 = num
            .parse()
            .map_err(|_| format!("invalid duration `{text}`: number too large"))?;
        let scale = match unit {
            "us" => 1,
            "ms" => 1_000,
            "s" => 1_000_000,
            "m" => 60_000_000,
            "h" => 3_600_000_000,
            "" => {
                return Err(format!(
                    "duration `{text}` has no unit: allowed units are us, ms, s, m, h"
                ))
            }
            _ => {
                return Err(format!(
                    "duration `{text}` has unknown unit `{unit}`: allowed units are us, ms, s, m, h"
                ))
            }
        };
        n.checked_mul(scale)
            .map(SimDuration)
            .filter(|d| *d <= SimDuration::MAX_WRITTEN)
            .ok_or_else(|| {
                format!("duration `{text}` is too large: durations are at most 8760h (one year)")
            })
    }

    /// The longest duration a scenario may write (one year). Every sum and product the
    /// simulation forms from written durations then stays far inside `u64` microseconds.
    pub const MAX_WRITTEN: SimDuration = SimDuration(365 * 24 * 3_600_000_000);
}

impl std::ops::Add for SimDuration {
    type Output = SimDuration;
    fn add(self, o: SimDuration) -> SimDuration {
        SimDuration(self.0 + o.0)
    }
}

impl std::ops::Mul<u64> for SimDuration {
    type Output = SimDuration;
    fn mul(self, k: u64) -> SimDuration {
        SimDuration(self.0 * k)
    }
}

impl fmt::Display for SimTime {
    /// Seconds with millisecond precision, e.g. `12.345s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}s", self.0 / 1_000_000, (self.0 / 1_000) % 1_000)
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = self.0;
        if us.is_multiple_of(1_000_000) {
            write!(f, "{}s", us / 1_000_000)
        } else if us >= 1_000_000 {
            write!(f, "{}.{:03}s", us / 1_000_000, (us / 1_000) % 1_000)
        } else if us.is_multiple_of(1_000) {
            write!(f, "{}ms", us / 1_000)
        } else if us >= 1_000 {
            write!(f, "{}.{:03}ms", us / 1_000, us % 1_000)
        } else {
            write!(f, "{}us", us)
        }
    }
}

impl<'de> Deserialize<'de> for SimDurationText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        SimDuration::parse(&s)
            .map(SimDurationText)
            .map_err(serde::de::Error::custom)
    }
}

/// A duration as written in a scenario file (`"100ms"`); parsing errors carry the file position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SimDurationText(pub SimDuration);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(SimDuration::parse("500us"), Ok(SimDuration(500)));
        assert_eq!(SimDuration::parse("100ms"), Ok(SimDuration(100_000)));
        assert_eq!(SimDuration::parse("5s"), Ok(SimDuration(5_000_000)));
        assert_eq!(SimDuration::parse("2m"), Ok(SimDuration(120_000_000)));
        assert_eq!(SimDuration::parse("0s"), Ok(SimDuration(0)));
    }

    #[test]
    fn rejects_bad_durations() {
        assert!(SimDuration::parse("-5s").unwrap_err().contains("negative"));
        assert!(SimDuration::parse("5").unwrap_err().contains("no unit"));
        assert!(SimDuration::parse("5 parsecs")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(SimDuration::parse("1.5s")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(SimDuration::parse("ms")
            .unwrap_err()
            .contains("whole number"));
        assert!(SimDuration::parse("18446744073709551615us")
            .unwrap_err()
            .contains("at most 8760h"));
        assert!(SimDuration::parse("8761h")
            .unwrap_err()
            .contains("too large"));
        assert_eq!(SimDuration::parse("8760h"), Ok(SimDuration::MAX_WRITTEN));
    }

    #[test]
    fn displays() {
        assert_eq!(SimTime(12_345_678).to_string(), "12.345s");
        assert_eq!(SimDuration::from_secs(5).to_string(), "5s");
        assert_eq!(SimDuration::from_millis(100).to_string(), "100ms");
        assert_eq!(SimDuration::from_millis(5_010).to_string(), "5.010s");
        assert_eq!(SimDuration::from_micros(5_481).to_string(), "5.481ms");
        assert_eq!(SimDuration::from_micros(481).to_string(), "481us");
    }
}
