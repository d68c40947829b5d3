//! What one `explore` run (one shard) found, as JSON (`explore --summary FILE`), and the merge of
//! many shards' summaries (`raftsim explore merge DIR...`): seeds covered, gaps and overlaps,
//! failures by oracle, undecided seeds. A sweep that outgrows one machine runs shards anywhere
//! (a Kubernetes Indexed Job, a CI matrix: `deploy/`) and merges what they wrote.

use super::SeedOutcome;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One failing or undecided seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The seed.
    pub seed: u64,
    /// What failed (oracle names, `liveness`, `panic`).
    pub failures: Vec<String>,
    /// What could not decide.
    pub undecided: Vec<String>,
    /// The first finding, in words.
    pub detail: Option<String>,
}

/// What one shard ran and found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardSummary {
    /// First seed of the whole sweep.
    pub start: u64,
    /// Seeds in the whole sweep.
    pub count: u64,
    /// This shard: (i, n), 1-based.
    pub shard: (u64, u64),
    /// The bug-zoo entry explored with, if any.
    pub bug: Option<String>,
    /// Seeds this shard ran.
    pub seeds_run: u64,
    /// Failing and undecided seeds.
    pub findings: Vec<Finding>,
    /// Faults injected, by kind.
    pub faults: BTreeMap<String, u64>,
    /// Leaders elected.
    pub elections: u64,
    /// Simulated seconds.
    pub simulated_s: f64,
}

impl ShardSummary {
    /// The summary of one shard's outcomes.
    pub fn new(
        start: u64,
        count: u64,
        shard: (u64, u64),
        bug: Option<String>,
        results: &[SeedOutcome],
    ) -> ShardSummary {
        let mut faults = BTreeMap::new();
        for o in results {
            for (k, v) in &o.faults {
                *faults.entry(k.to_string()).or_insert(0) += v;
            }
        }
        let findings = results
            .iter()
            .filter(|o| !o.failures.is_empty() || !o.undecided.is_empty())
            .map(|o| Finding {
                seed: o.seed,
                failures: o.failures.iter().map(|f| f.name().to_string()).collect(),
                undecided: o.undecided.iter().map(|u| u.name().to_string()).collect(),
                detail: o
                    .detail
                    .as_ref()
                    .map(|d| d.lines().next().unwrap_or("").to_string()),
            })
            .collect();
        ShardSummary {
            start,
            count,
            shard,
            bug,
            seeds_run: results.len() as u64,
            findings,
            faults,
            elections: results.iter().map(|o| o.elections).sum(),
            simulated_s: results.iter().map(|o| o.simulated_s).sum(),
        }
    }

    /// The seeds this shard was meant to cover.
    pub fn seeds(&self) -> impl Iterator<Item = u64> + '_ {
        let (i, n) = self.shard;
        (self.start..self.start + self.count).filter(move |s| (s - self.start) % n == i - 1)
    }
}

/// Many shards' summaries, merged.
#[derive(Clone, Debug, Default)]
pub struct Merged {
    /// Shards merged.
    pub shards: usize,
    /// Distinct seeds covered.
    pub covered: u64,
    /// The lowest and highest seed covered.
    pub span: Option<(u64, u64)>,
    /// Ranges inside the span that no shard covered.
    pub gaps: Vec<(u64, u64)>,
    /// Seeds more than one shard covered.
    pub overlaps: u64,
    /// Failing seeds by what failed.
    pub failures: BTreeMap<String, Vec<u64>>,
    /// Undecided seeds by what could not decide.
    pub undecided: BTreeMap<String, Vec<u64>>,
    /// Every finding, by seed.
    pub findings: BTreeMap<u64, Finding>,
    /// Seeds run in all.
    pub seeds_run: u64,
}

/// The largest span of seeds a merge checks for gaps.
pub const MAX_SPAN: u64 = 100_000_000;

/// Merges shard summaries; refuses a span too large to check.
pub fn merge(summaries: &[ShardSummary]) -> Result<Merged, String> {
    let mut m = Merged {
        shards: summaries.len(),
        ..Default::default()
    };
    let lo = summaries.iter().map(|s| s.start).min();
    let hi = summaries.iter().map(|s| s.start + s.count.max(1) - 1).max();
    let (Some(lo), Some(hi)) = (lo, hi) else {
        return Ok(m);
    };
    if hi - lo >= MAX_SPAN {
        return Err(format!(
            "the summaries span seeds {lo}..={hi}, more than {MAX_SPAN}"
        ));
    }
    let mut count = vec![0u8; (hi - lo + 1) as usize];
    for s in summaries {
        m.seeds_run += s.seeds_run;
        for seed in s.seeds() {
            let c = &mut count[(seed - lo) as usize];
            *c = c.saturating_add(1);
        }
        for f in &s.findings {
            for x in &f.failures {
                m.failures.entry(x.clone()).or_default().push(f.seed);
            }
            for x in &f.undecided {
                m.undecided.entry(x.clone()).or_default().push(f.seed);
            }
            m.findings.insert(f.seed, f.clone());
        }
    }
    m.covered = count.iter().filter(|c| **c > 0).count() as u64;
    m.overlaps = count.iter().filter(|c| **c > 1).count() as u64;
    m.span = Some((lo, hi));
    m.gaps = gaps(&count, lo);
    for v in m.failures.values_mut().chain(m.undecided.values_mut()) {
        v.sort();
        v.dedup();
    }
    Ok(m)
}

fn gaps(count: &[u8], lo: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in count.iter().enumerate() {
        match (*c == 0, start) {
            (true, None) => start = Some(i as u64),
            (false, Some(s)) => {
                out.push((lo + s, lo + i as u64 - 1));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((lo + s, lo + count.len() as u64 - 1));
    }
    out
}

impl Merged {
    /// The merge report, in words.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let span = self
            .span
            .map_or("none".into(), |(a, b)| format!("{a}..={b}"));
        let _ = writeln!(s, "shards              {}", self.shards);
        let _ = writeln!(
            s,
            "seeds covered       {} (span {span}, {} run)",
            self.covered, self.seeds_run
        );
        let gaps: Vec<String> = self
            .gaps
            .iter()
            .take(10)
            .map(|(a, b)| format!("{a}..={b}"))
            .collect();
        let more = if self.gaps.len() > 10 { ", ..." } else { "" };
        let gaps = if gaps.is_empty() {
            "none".to_string()
        } else {
            gaps.join(", ") + more
        };
        let _ = writeln!(s, "gaps                {gaps}");
        let _ = writeln!(s, "overlaps            {} seed(s)", self.overlaps);
        let by = |m: &BTreeMap<String, Vec<u64>>| {
            if m.is_empty() {
                return "none".to_string();
            }
            m.iter()
                .map(|(k, v)| format!("{k} {}", v.len()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(s, "violations          {}", by(&self.failures));
        let _ = writeln!(s, "undecided           {}", by(&self.undecided));
        for f in self.findings.values() {
            let _ = writeln!(s, "seed {}: {}", f.seed, f.detail.as_deref().unwrap_or("?"));
        }
        s
    }

    /// Whether any seed failed.
    pub fn failed(&self) -> bool {
        !self.failures.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(shard: (u64, u64), failing: &[u64]) -> ShardSummary {
        ShardSummary {
            start: 10,
            count: 10,
            shard,
            bug: None,
            seeds_run: 10 / shard.1,
            findings: failing
                .iter()
                .map(|s| Finding {
                    seed: *s,
                    failures: vec!["liveness".into()],
                    undecided: vec![],
                    detail: None,
                })
                .collect(),
            faults: BTreeMap::new(),
            elections: 0,
            simulated_s: 0.0,
        }
    }

    #[test]
    fn merging_finds_gaps_overlaps_and_failures() {
        let m = merge(&[summary((1, 2), &[12]), summary((2, 2), &[])]).unwrap();
        assert_eq!((m.covered, m.overlaps), (10, 0));
        assert!(m.gaps.is_empty());
        assert_eq!(m.failures["liveness"], vec![12]);
        let m = merge(&[summary((1, 2), &[]), summary((1, 2), &[])]).unwrap();
        assert_eq!(m.overlaps, 5);
        assert_eq!(
            m.gaps.len(),
            5,
            "the odd seeds were never run: {:?}",
            m.gaps
        );
    }
}
