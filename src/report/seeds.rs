//! Many seeds of one scenario, summarised: how many passed, failed or stayed undecided, and which
//! expectations and oracles failed on how many seeds. A claim like "2 of 100 seeds" in a lesson
//! is one command (`raftsim run NAME --seeds 1..101`).

use crate::run::RunResult;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// What failed across seeds: each failure, the seeds it failed on.
#[derive(Clone, Debug, Default)]
pub struct Sweep {
    /// Seeds run.
    pub seeds: u64,
    /// Seeds where everything held.
    pub passed: Vec<u64>,
    /// Seeds with a failed expectation or a violation.
    pub failed: Vec<u64>,
    /// Seeds where nothing failed but something could not decide.
    pub undecided: Vec<u64>,
    /// Each failed expectation (in words) or oracle, and its seeds.
    pub failures: BTreeMap<String, Vec<u64>>,
}

impl Sweep {
    /// Adds one seed's run.
    pub fn add(&mut self, r: &RunResult) {
        self.seeds += 1;
        for v in r.failed_verdicts() {
            self.failures
                .entry(format!("expectation: {}", v.check))
                .or_default()
                .push(r.seed);
        }
        for v in r.unexpected_violations() {
            let seeds = self
                .failures
                .entry(format!("oracle: {}", v.oracle))
                .or_default();
            if seeds.last() != Some(&r.seed) {
                seeds.push(r.seed);
            }
        }
        match (r.passed(), r.unknown.is_empty()) {
            (true, true) => self.passed.push(r.seed),
            (true, false) => self.undecided.push(r.seed),
            (false, _) => self.failed.push(r.seed),
        }
    }

    /// The summary, in words.
    pub fn render(&self, scenario: &str) -> String {
        let mut s = String::new();
        let (p, f, u) = (self.passed.len(), self.failed.len(), self.undecided.len());
        let _ = writeln!(
            s,
            "{scenario}: {} seeds, {p} passed, {f} failed, {u} undecided",
            self.seeds
        );
        for (what, seeds) in &self.failures {
            let shown: Vec<String> = seeds.iter().take(10).map(|x| x.to_string()).collect();
            let more = if seeds.len() > 10 { ", ..." } else { "" };
            let (n, total) = (seeds.len(), self.seeds);
            let _ = writeln!(
                s,
                "  {n} of {total} seeds: {what} (seeds {}{more})",
                shown.join(", ")
            );
        }
        s
    }
}

/// Parses `A..B` (seeds A up to B, B excluded) for `--seeds`.
pub fn parse_range(text: &str) -> Result<std::ops::Range<u64>, String> {
    let bad = || format!("`{text}` is not a seed range: write A..B (B excluded), e.g. 1..101");
    let (a, b) = text.split_once("..").ok_or_else(bad)?;
    let (a, b): (u64, u64) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    );
    if b <= a {
        return Err(format!(
            "seed range {text} is empty: B must be greater than A"
        ));
    }
    if b - a > 1_000_000 {
        return Err(format!("seed range {text} has more than 1,000,000 seeds"));
    }
    Ok(a..b)
}

/// The progress line of a many-seed run on a terminal: seeds done, rate, time left and failures
/// so far. `elapsed_s` is wall time, measured by the caller outside every simulation.
pub fn progress_line(done: usize, total: usize, failed: usize, elapsed_s: f64) -> String {
    let rate = done as f64 / elapsed_s.max(1e-9);
    let eta = if done == 0 {
        "?".to_string()
    } else {
        let left_s = total.saturating_sub(done) as f64 / rate;
        match left_s.round() as u64 {
            s if s >= 3600 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
            s if s >= 60 => format!("{}m{:02}s", s / 60, s % 60),
            s => format!("{s}s"),
        }
    };
    format!("[{done}/{total}] {rate:.0} seeds/s, ETA {eta}, failures so far: {failed}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_says_rate_time_left_and_failures() {
        assert_eq!(
            progress_line(50, 200, 2, 2.0),
            "[50/200] 25 seeds/s, ETA 6s, failures so far: 2"
        );
        assert_eq!(
            progress_line(1, 7_201, 0, 1.0),
            "[1/7201] 1 seeds/s, ETA 2h00m, failures so far: 0"
        );
        assert_eq!(
            progress_line(10, 100, 0, 10.0),
            "[10/100] 1 seeds/s, ETA 1m30s, failures so far: 0"
        );
        assert!(progress_line(0, 10, 0, 0.0).contains("ETA ?"));
    }

    #[test]
    fn ranges_parse_and_refuse() {
        assert_eq!(parse_range("1..4"), Ok(1..4));
        assert!(parse_range("4..1").unwrap_err().contains("empty"));
        assert!(parse_range("x").unwrap_err().contains("A..B"));
    }
}
