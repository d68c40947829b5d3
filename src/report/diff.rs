//! Counterfactual comparison: the same scenario and seed with one or more settings changed, and
//! what changed in the outcome.

use crate::record::kubernetes::{longest_gap, Renewals, RenewalsByNode};
use crate::run::RunResult;
use crate::sim::time::{SimDuration, SimTime};
use std::fmt::Write as _;

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
    kubernetes(&mut s, base, alt);
    let _ = writeln!(
        s,
        "etcd leader elections: {} -> {}",
        base.elections(),
        alt.elections()
    );
    commands(&mut s, base, alt);
    verdicts(&mut s, base, alt);
    s
}

/// Which nodes went NotReady, renewals, controller-manager leadership: baseline vs counterfactual.
fn kubernetes(s: &mut String, base: &RunResult, alt: &RunResult) {
    let Some(k) = &base.scenario.kubernetes else {
        return;
    };
    s.push_str("nodes that went NotReady\n");
    let _ = writeln!(s, "  {:<10} {:<40} COUNTERFACTUAL", "NODE", "BASELINE");
    for n in k.node_names() {
        let (a, b) = (
            intervals_text(&base.not_ready_intervals(&n)),
            intervals_text(&alt.not_ready_intervals(&n)),
        );
        let mark = if a != b { "  <- changed" } else { "" };
        let _ = writeln!(s, "  {n:<10} {a:<40} {b}{mark}");
    }
    s.push_str("\nlease renewals: ok / failed requests, longest gap without a renewal\n");
    let from = SimTime::ZERO + SimDuration::from_secs(5);
    let (base_renewals, alt_renewals) = (base.renewals_by_node(), alt.renewals_by_node());
    for n in k.node_names() {
        let f = |r: &RunResult, by_node: &RenewalsByNode<'_>| {
            let Renewals { ok, failed } = by_node.of(&n);
            format!(
                "{:>3} / {:>3}, gap {}",
                ok.len(),
                failed.len(),
                longest_gap(ok, from, r.sim_end)
            )
        };
        let _ = writeln!(
            s,
            "  {n:<10} {:<40} {}",
            f(base, &base_renewals),
            f(alt, &alt_renewals)
        );
    }
    let _ = writeln!(
        s,
        "\nkube-controller-manager leadership losses: {} -> {}",
        base.kcm_losses().len(),
        alt.kcm_losses().len()
    );
}

/// Command operations whose outcome changed.
fn commands(s: &mut String, base: &RunResult, alt: &RunResult) {
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
            let (what, at) = (a.kind.summary(), a.invoked);
            let (x, y) = (a.outcome.name(), b.outcome.name());
            let _ = writeln!(s, "  {what} at {at}: {x} -> {y}");
        }
    }
    if !any {
        s.push_str("  none\n");
    }
}

/// Expectations whose verdict changed.
fn verdicts(s: &mut String, base: &RunResult, alt: &RunResult) {
    s.push_str("\nexpectations whose verdict changed\n");
    let mut changed = false;
    for (a, b) in base.verdicts.iter().zip(&alt.verdicts) {
        if a.passed != b.passed {
            changed = true;
            let word = |p: bool| if p { "PASS" } else { "FAIL" };
            let (x, y) = (word(a.passed), word(b.passed));
            let _ = writeln!(s, "  {x} -> {y}  {}\n      now: {}", a.check, b.detail);
        }
    }
    if !changed {
        s.push_str("  none\n");
    }
}
