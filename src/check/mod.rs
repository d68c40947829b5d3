//! The oracles: one file each, fed by one observer during the run and judged on the record at
//! its end. An oracle may say nothing; it never says something false.
//!
//! | oracle | file | when |
//! |---|---|---|
//! | Raft safety | [`safety`] | after every event a member handles ([`observer`]) |
//! | Ready contract | [`ready_contract`] | on the facts the driver reports ([`observer`]) |
//! | state digests | [`snapshot`] | on each member's applied-state digest ([`observer`]): equal at equal indexes, snapshots included |
//! | configuration | [`config`] | on each configuration change as it takes effect ([`observer`]): only committed, the same on every member |
//! | linearizability | [`linearizability`] | as a lean run goes, segment by segment ([`linearizability::Online`], fed by [`observer`]), then on the rest of the client history |
//! | durability | [`durability`] | on the finished record, when every fault healed |
//! | watch | [`watch`] | on what each `watch` command saw, against the store's event history |
//!
//! [`generate`] is not an oracle either: porcupine-style register histories for tests and the
//! bench.
//! [`applied`] is not an oracle: it derives, as the run goes, when each client write first took
//! effect and which timed-out writes took effect later (the record's `first_applied` and the
//! `TimedOutWriteApplied` trace events). The scenario's own `[[expect]]` checks are judged by
//! `scenario::expect`.

pub mod applied;
pub mod config;
pub mod durability;
pub mod generate;
pub mod history;
pub mod jepsen;
pub mod linearizability;
pub mod machine;
pub mod model;
pub mod observer;
pub mod ready_contract;
pub mod safety;
pub mod snapshot;
pub mod watch;

use crate::record::Record;
use crate::scenario::expect::{Check, Judged};
use crate::scenario::Scenario;
use crate::sim::ids::NodeId;
use crate::sim::time::SimTime;
use crate::sim::trace::{Oracle, TraceEvent};
use serde::Serialize;

/// The verdict on one expectation.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    /// The expectation.
    pub check: Check,
    /// The author's explanation.
    pub why: Option<String>,
    /// Whether it held.
    pub passed: bool,
    /// What was observed, in a sentence.
    pub detail: String,
}

/// Judges every expectation of the scenario on the record and what the oracles found.
pub fn verdicts(s: &Scenario, r: &Record, found: &Findings) -> Vec<Verdict> {
    let mut fired = std::collections::BTreeMap::new();
    for v in &found.violations {
        *fired.entry(v.oracle).or_insert(0) += 1;
    }
    let judged = Judged { record: r, fired };
    s.expects
        .iter()
        .map(|e| {
            let (passed, detail) = e.check.evaluate(&judged);
            Verdict {
                check: e.check.clone(),
                why: e.why.clone(),
                passed,
                detail,
            }
        })
        .collect()
}

/// A broken invariant found by an always-on oracle.
#[derive(Clone, Debug, Serialize)]
pub struct OracleViolation {
    /// Which oracle.
    pub oracle: Oracle,
    /// When (for end-of-run oracles: the earliest operation involved, or the end).
    pub at: SimTime,
    /// The members involved, if any.
    pub nodes: Vec<NodeId>,
    /// What broke.
    pub detail: String,
}

/// What could not decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Undecided {
    /// An oracle ran out of its budget.
    Oracle(Oracle),
    /// The run itself stopped at its event budget, so its expectations and end-of-run oracles
    /// were not judged (violations found while it ran still stand).
    EventBudget,
}

impl Undecided {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Undecided::Oracle(o) => o.name(),
            Undecided::EventBudget => "event-budget",
        }
    }
}

crate::sim::shown_as_name!(Undecided);

/// A check that could not decide within its budget: neither a pass nor a failure.
#[derive(Clone, Debug, Serialize)]
pub struct Unknown {
    /// What could not decide.
    pub what: Undecided,
    /// Why.
    pub detail: String,
}

/// What every oracle found in a finished run: violations, and oracles that could not decide.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Findings {
    /// Broken invariants.
    pub violations: Vec<OracleViolation>,
    /// Oracles that ran out of budget.
    pub unknown: Vec<Unknown>,
}

/// The findings of a run stopped at its event budget: the violations found while it ran (they
/// stand), and an Unknown for everything that needs the whole run.
pub fn stopped_early(r: &Record, at: SimTime) -> Findings {
    let mut f = Findings {
        violations: online_violations(r),
        unknown: vec![],
    };
    let n = r.events_handled;
    f.unknown.push(Unknown {
        what: Undecided::EventBudget,
        detail: format!("the run stopped at {at} after {n} events (its event budget); expectations, linearizability and durability were not judged"),
    });
    f
}

/// Violations the online oracles recorded in the trace.
fn online_violations(r: &Record) -> Vec<OracleViolation> {
    r.trace
        .iter()
        .filter_map(|t| match &t.event {
            TraceEvent::Violation {
                oracle,
                nodes,
                detail,
            } => Some(OracleViolation {
                oracle: *oracle,
                at: t.at,
                nodes: nodes.clone(),
                detail: detail.clone(),
            }),
            _ => None,
        })
        .collect()
}

/// Every oracle's findings for a finished run: the online ones recorded in the trace (Raft
/// safety, Ready contract), then linearizability of the client history, then durability of
/// acknowledged writes.
pub fn oracle_findings(s: &Scenario, r: &Record) -> Findings {
    findings_given_linearizability(s, r, linearizability::oracle(r))
}

/// [`oracle_findings`] with the linearizability oracle's answer given (`run` takes it from a
/// replay that keeps every operation, when the run checked part of its history online and
/// dropped it: see [`linearizability::Progress`]).
pub fn findings_given_linearizability(
    s: &Scenario,
    r: &Record,
    linearizability: Result<Option<OracleViolation>, Unknown>,
) -> Findings {
    let mut out = online_violations(r);
    let mut unknown = Vec::new();
    match linearizability {
        Ok(v) => out.extend(v),
        Err(u) => unknown.push(u),
    }
    out.extend(durability::oracle(s, r));
    out.extend(watch::oracle(s, r));
    Findings {
        violations: out,
        unknown,
    }
}
