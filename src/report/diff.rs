//! Counterfactual comparison: the same scenario and seed with one or more settings changed, and
//! what changed in the outcome.

use crate::check::kubernetes::{longest_gap, renewal_failures, renewals};
use crate::run::RunResult;
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::trace::{Role, TraceEvent};
use std::fmt::Write as _;

/// Intervals during which `node` was NotReady (Ready=Unknown), as `[from, until)`.
pub fn not_ready_intervals(r: &RunResult, node: &str) -> Vec<(SimTime, Option<SimTime>)> {
    let mut out: Vec<(SimTime, Option<SimTime>)> = Vec::new();
    for t in &r.trace {
        if let TraceEvent::NodeCondition { node: n, ready, .. } = &t.event {
            if n != node {
                continue;
            }
            match (ready.as_str(), out.last_mut()) {
                ("Unknown", Some((_, None))) => {}
                ("Unknown", _) => out.push((t.at, None)),
                (_, Some((_, end @ None))) => *end = Some(t.at),
                _ => {}
            }
        }
    }
    out
}

fn intervals_text(iv: &[(SimTime, Option<SimTime>)]) -> String {
    if iv.is_empty() {
        return "never".into();
    }
    iv.iter()
        .map(|(a, b)| match b {
            Some(b) => format!("NotReady {a}..{b}"),
            None => format!("NotReady from {a}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn elections(r: &RunResult) -> usize {
    r.trace
        .iter()
        .filter(|t| {
            matches!(
                t.event,
                TraceEvent::RoleChanged {
                    role: Role::Leader,
                    ..
                }
            )
        })
        .count()
}

fn kcm_losses(r: &RunResult) -> usize {
    r.trace
        .iter()
        .filter(|t| {
            matches!(
                t.event,
                TraceEvent::KcmLeadership {
                    acquired: false,
                    ..
                }
            )
        })
        .count()
}

/// The side-by-side report of a baseline run and a counterfactual run.
pub fn render(base: &RunResult, alt: &RunResult, change: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "raftsim diff: {} (seed {})",
        base.scenario.name, base.seed
    );
    let pass = |r: &RunResult| {
        let p = r.verdicts.iter().filter(|v| v.passed).count();
        format!(
            "trace={} expectations {p}/{}",
            r.trace_hash,
            r.verdicts.len()
        )
    };
    let _ = writeln!(s, "  baseline:       as written  {}", pass(base));
    let _ = writeln!(s, "  counterfactual: {change}  {}", pass(alt));
    s.push('\n');
    if let Some(k) = &base.scenario.kubernetes {
        s.push_str("nodes that went NotReady\n");
        let _ = writeln!(s, "  {:<10} {:<40} COUNTERFACTUAL", "NODE", "BASELINE");
        for n in k.node_names() {
            let (a, b) = (
                intervals_text(&not_ready_intervals(base, &n)),
                intervals_text(&not_ready_intervals(alt, &n)),
            );
            let mark = if a != b { "  <- changed" } else { "" };
            let _ = writeln!(s, "  {n:<10} {a:<40} {b}{mark}");
        }
        s.push_str("\nlease renewals: ok / failed requests, longest gap without a renewal\n");
        let from = SimTime::ZERO + SimDuration::from_secs(5);
        for n in k.node_names() {
            let f = |r: &RunResult| {
                let ok = renewals(r, &n);
                format!(
                    "{:>3} / {:>3}, gap {}",
                    ok.len(),
                    renewal_failures(r, &n).len(),
                    longest_gap(&ok, from, r.sim_end)
                )
            };
            let _ = writeln!(s, "  {n:<10} {:<40} {}", f(base), f(alt));
        }
        let _ = writeln!(
            s,
            "\nkube-controller-manager leadership losses: {} -> {}",
            kcm_losses(base),
            kcm_losses(alt)
        );
    }
    let _ = writeln!(
        s,
        "etcd leader elections: {} -> {}",
        elections(base),
        elections(alt)
    );
    s.push_str("\ncommand outcomes that changed\n");
    let mut any = false;
    for (a, b) in base
        .history
        .iter()
        .filter(|h| h.command.is_some())
        .zip(alt.history.iter().filter(|h| h.command.is_some()))
    {
        if a.outcome != b.outcome {
            any = true;
            let _ = writeln!(
                s,
                "  {} at {}: {} -> {}",
                a.kind.summary(),
                a.invoked,
                a.outcome.name(),
                b.outcome.name()
            );
        }
    }
    if !any {
        s.push_str("  none\n");
    }
    s.push_str("\nexpectations whose verdict changed\n");
    let mut changed = false;
    for (a, b) in base.verdicts.iter().zip(&alt.verdicts) {
        if a.passed != b.passed {
            changed = true;
            let word = |p: bool| if p { "PASS" } else { "FAIL" };
            let _ = writeln!(
                s,
                "  {} -> {}  {}\n      now: {}",
                word(a.passed),
                word(b.passed),
                a.check,
                b.detail
            );
        }
    }
    if !changed {
        s.push_str("  none\n");
    }
    s
}
