//! Running a scenario: the loop, then every check, in one call.

use crate::check::{self, OracleViolation, Unknown, Verdict};
use crate::node::Bug;
use crate::record::Record;
use crate::scenario::Scenario;
use crate::world::Sim;
use serde::Serialize;

pub use crate::record::NodeSummary;

/// Options of one run besides the scenario.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// Sends raft-rs's own log lines to stderr at this level or above.
    pub log_level: Option<slog::Level>,
    /// Runs with a deliberately wrong driver behaviour from the bug zoo.
    pub bug: Option<Bug>,
    /// Stops after this many events: the run then judges nothing it cannot (see
    /// [`check::Undecided::EventBudget`]). `None`: no limit.
    pub max_events: Option<u64>,
    /// Called now and then with (simulated now, simulated end), for a progress line.
    pub progress: Option<crate::world::Progress>,
    /// Your own state machine, replicated by every member next to the key-value store
    /// ([`crate::node::machine`]).
    pub machine: Option<crate::node::machine::MachineFactory>,
    /// Keep every record in the record's trace (the default): views that draw everything
    /// (`--messages`, pictures, JSON output) need them. `false` hashes the kinds only those views
    /// read (`TraceEvent::only_for_full_views`: messages sent, requests read and answered,
    /// operations completed, WAL writes submitted) without storing them, which keeps about a
    /// sixth of a long run's records; checks and the timeline do not read them (the timeline's
    /// election explanations read `Record::campaigns`, kept either way). It also leaves out of
    /// `Record::history` an apiserver's reads that no check reads (serializable or failed: three
    /// in five operations of a Kubernetes run), and checks linearizability as the run goes so
    /// that the apiserver's other reads leave it once checked (`Record::linearized`).
    pub full_trace: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            seed: None,
            log_level: None,
            bug: None,
            max_events: None,
            progress: None,
            machine: None,
            full_trace: true,
        }
    }
}

/// Everything a run produced and what the checks concluded. It reads as its [`Record`]
/// (`r.trace`, `r.history`, `r.nodes`, ...).
#[derive(Clone, Debug, Serialize)]
pub struct RunResult {
    /// The scenario as run.
    pub scenario: Scenario,
    /// What happened.
    #[serde(flatten)]
    pub record: Record,
    /// The verdict on each of the scenario's expectations.
    pub verdicts: Vec<Verdict>,
    /// What the always-on oracles found; empty for a correct run.
    pub violations: Vec<OracleViolation>,
    /// Oracles that could not decide within their budget (neither a pass nor a failure).
    pub unknown: Vec<Unknown>,
    /// The bug-zoo entry the run used, if any.
    pub bug: Option<Bug>,
}

impl std::ops::Deref for RunResult {
    type Target = Record;
    fn deref(&self) -> &Record {
        &self.record
    }
}

impl RunResult {
    /// Whether every expectation held and no oracle fired that the scenario did not expect to
    /// (an oracle may still have said Unknown: see [`RunResult::unknown`]).
    pub fn passed(&self) -> bool {
        self.verdicts.iter().all(|v| v.passed) && self.unexpected_violations().next().is_none()
    }

    /// Whether the scenario expects `v`'s oracle to fire (an `oracle` expectation with
    /// `fires = true`), so `v` does not fail the run.
    pub fn is_expected(&self, v: &OracleViolation) -> bool {
        self.scenario
            .expects
            .iter()
            .any(|e| e.oracle_expected_to_fire() == Some(v.oracle))
    }

    /// The violations that fail the run: those of oracles the scenario did not expect to fire.
    pub fn unexpected_violations(&self) -> impl Iterator<Item = &OracleViolation> {
        self.violations.iter().filter(|v| !self.is_expected(v))
    }

    /// The expectations that failed.
    pub fn failed_verdicts(&self) -> impl Iterator<Item = &Verdict> {
        self.verdicts.iter().filter(|v| !v.passed)
    }

    /// The command line that replays this run, from any directory for a built-in scenario.
    pub fn replay_command(&self) -> String {
        let what = self
            .scenario
            .origin
            .run_args()
            .unwrap_or_else(|| format!("{}.toml", self.scenario.name));
        format!(
            "raftsim run {what} --seed {}{}",
            self.seed,
            bug_flag(self.bug)
        )
    }
}

/// ` --bug NAME`, or nothing.
pub fn bug_flag(bug: Option<Bug>) -> String {
    bug.map_or(String::new(), |b| format!(" --bug {}", b.name()))
}

/// The message of a caught panic.
pub fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(no message)".into())
}

/// Runs a scenario to its end and checks it: its expectations and every oracle.
pub fn run(scenario: &Scenario, opts: &RunOptions) -> RunResult {
    run_streaming(scenario, opts, None).expect("a run without a trace output writes nothing")
}

/// Runs like [`run`] and, with `trace_out`, writes every trace record there as a JSON line as
/// it is produced (the `--trace` file format, `docs/trace-format.md`), every record
/// included whatever [`RunOptions::full_trace`] says: the output is the same as a full trace's
/// records written afterwards, while memory holds only what the checks and views read. A write
/// error stops the run and is returned.
pub fn run_streaming(
    scenario: &Scenario,
    opts: &RunOptions,
    trace_out: Option<&mut dyn std::io::Write>,
) -> std::io::Result<RunResult> {
    let seed = opts.seed.unwrap_or(scenario.seed);
    // A panic inside the simulation is a bug (of raftsim, or one injected from the bug zoo):
    // re-raise it with what is needed to replay it.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let machine = opts.machine.clone();
        let mut sim = Sim::new(
            scenario.clone(),
            seed,
            opts.log_level,
            opts.bug,
            machine,
            opts.full_trace,
        );
        sim.run_to_end(opts.max_events, opts.progress, trace_out)
            .map(|()| sim.finish())
    }));
    let (record, ran) = match outcome {
        Ok(r) => r?,
        Err(p) => panic!(
            "simulation of `{}` with seed {seed}{} panicked: {}",
            scenario.name,
            bug_flag(opts.bug),
            panic_message(p.as_ref())
        ),
    };
    Ok(judge(ran, opts, record))
}

/// Runs every check on a finished run's record.
fn judge(scenario: Scenario, opts: &RunOptions, record: Record) -> RunResult {
    let (verdicts, findings) = match record.stopped_at {
        None => {
            let lin = linearizability_in_full(&scenario, opts, &record);
            let findings = check::findings_given_linearizability(&scenario, &record, lin);
            (check::verdicts(&scenario, &record, &findings), findings)
        }
        Some(at) => (vec![], check::stopped_early(&record, at)),
    };
    RunResult {
        scenario,
        record,
        verdicts,
        violations: findings.violations,
        unknown: findings.unknown,
        bug: opts.bug,
    }
}

/// The linearizability oracle's answer on a finished run. A run that checked part of its
/// history online may have dropped reads it checked; then, when the rest has no order (or the
/// search runs out), the report would name only the operations from the last cut on: the run is
/// replayed keeping every operation, and the answer is the replay's, the same as a run that
/// kept everything gives.
fn linearizability_in_full(
    scenario: &Scenario,
    opts: &RunOptions,
    record: &Record,
) -> Result<Option<check::OracleViolation>, check::Unknown> {
    let answer = check::linearizability::oracle(record);
    let dropped = record
        .linearized
        .as_ref()
        .is_some_and(check::linearizability::Progress::dropped_any);
    if !dropped || matches!(answer, Ok(None)) {
        return answer;
    }
    let full = RunOptions {
        full_trace: true,
        progress: None,
        ..opts.clone()
    };
    let replay = run(scenario, &full);
    let lin = crate::sim::trace::Oracle::Linearizability;
    if let Some(u) = replay
        .unknown
        .iter()
        .find(|u| u.what == check::Undecided::Oracle(lin))
    {
        return Err(u.clone());
    }
    Ok(replay.violations.iter().find(|v| v.oracle == lin).cloned())
}

/// Where two runs of the same scenario and seed first differ.
#[derive(Clone, Debug)]
pub struct Divergence {
    /// The index of the first differing trace record.
    pub index: usize,
    /// That record in the first run (`None`: the first run's trace ended there).
    pub first: Option<crate::sim::trace::TraceRecord>,
    /// That record in the second run.
    pub second: Option<crate::sim::trace::TraceRecord>,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |r: &Option<crate::sim::trace::TraceRecord>| match r {
            Some(r) => format!("[{}] {:?}", r.at, r.event),
            None => "(the trace ended)".to_string(),
        };
        write!(
            f,
            "the runs diverge at trace record {}:\n  first run:  {}\n  second run: {}",
            self.index,
            show(&self.first),
            show(&self.second)
        )
    }
}

/// Runs the scenario twice with the same seed and compares the traces record by record (the
/// madsim-style determinism check). `Ok` holds the first run, which streams its trace to
/// `trace_out` if given (as [`run_streaming`]).
pub fn check_determinism(
    scenario: &Scenario,
    opts: &RunOptions,
    trace_out: Option<&mut dyn std::io::Write>,
) -> std::io::Result<Result<RunResult, Box<Divergence>>> {
    let a = run_streaming(scenario, opts, trace_out)?;
    let b = run(scenario, opts);
    Ok(match first_divergence(&a.trace, &b.trace) {
        None if a.trace_hash == b.trace_hash => Ok(a),
        None => Err(Box::new(Divergence {
            index: a.trace.len(),
            first: None,
            second: None,
        })),
        Some(d) => Err(Box::new(d)),
    })
}

/// The first record where two traces differ, if they do.
pub fn first_divergence(
    a: &[crate::sim::trace::TraceRecord],
    b: &[crate::sim::trace::TraceRecord],
) -> Option<Divergence> {
    let index = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .or((a.len() != b.len()).then(|| a.len().min(b.len())))?;
    Some(Divergence {
        index,
        first: a.get(index).cloned(),
        second: b.get(index).cloned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::ids::NodeId;
    use crate::sim::time::SimTime;
    use crate::sim::trace::{TraceEvent, TraceRecord};

    /// A run holds the scenario it ran without copying its commands (a file's `repeat` can
    /// make a hundred thousand), and a change to the copy's commands leaves the caller's alone.
    #[test]
    fn a_run_shares_its_scenario_commands() {
        let s = crate::scenario::builtin::load("etcd-leader-crash")
            .expect("a built-in")
            .expect("it parses");
        let r = run(&s, &RunOptions::default());
        assert!(std::sync::Arc::ptr_eq(&r.scenario.commands, &s.commands));
        let mut copy = r.scenario.clone();
        std::sync::Arc::make_mut(&mut copy.commands).clear();
        assert!(!s.commands.is_empty() && !r.scenario.commands.is_empty());
    }

    fn rec(us: u64, node: u64) -> TraceRecord {
        TraceRecord {
            at: SimTime(us),
            event: TraceEvent::Paused { node: NodeId(node) },
        }
    }

    #[test]
    fn divergence_names_the_first_differing_record() {
        let a = vec![rec(1, 1), rec(2, 1), rec(3, 1)];
        assert!(first_divergence(&a, &a).is_none());
        let b = vec![rec(1, 1), rec(2, 2), rec(3, 1)];
        let d = first_divergence(&a, &b).expect("they differ");
        assert_eq!(d.index, 1);
        assert_eq!(d.second, Some(rec(2, 2)));
        assert!(d.to_string().contains("trace record 1"), "{d}");
        let short = &a[..2];
        let d = first_divergence(&a, short).expect("one is longer");
        assert_eq!((d.index, d.second), (2, None));
    }
}
