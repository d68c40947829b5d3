//! Running a scenario: the loop, then every check, in one call.

use crate::check::{self, OracleViolation, Verdict};
use crate::node::Bug;
use crate::record::Record;
use crate::scenario::Scenario;
use crate::world::Sim;
use serde::Serialize;

pub use crate::record::NodeSummary;

/// Options of one run besides the scenario.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// Sends raft-rs's own log lines to stderr at this level or above.
    pub log_level: Option<slog::Level>,
    /// Runs with a deliberately wrong driver behaviour from the bug zoo.
    pub bug: Option<Bug>,
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
    /// Whether every expectation held and no oracle fired.
    pub fn passed(&self) -> bool {
        self.verdicts.iter().all(|v| v.passed) && self.violations.is_empty()
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
    let seed = opts.seed.unwrap_or(scenario.seed);
    // A panic inside the simulation is a bug (of raftsim, or one injected from the bug zoo):
    // re-raise it with what is needed to replay it.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut sim = Sim::new(scenario.clone(), seed, opts.log_level, opts.bug);
        sim.run_to_end();
        sim.into_record()
    }));
    let record = match outcome {
        Ok(r) => r,
        Err(p) => panic!(
            "simulation of `{}` with seed {seed}{} panicked: {}",
            scenario.name,
            bug_flag(opts.bug),
            panic_message(p.as_ref())
        ),
    };
    let verdicts = check::verdicts(scenario, &record);
    let violations = check::oracle_violations(scenario, &record);
    RunResult {
        scenario: scenario.clone(),
        record,
        verdicts,
        violations,
        bug: opts.bug,
    }
}
