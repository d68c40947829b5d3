//! Running a scenario and the structured result of a run.

use crate::check::{self, Verdict};
use crate::client::HistoryOp;
use crate::node::{NodeStats, NodeStatus, Published};
use crate::scenario::Scenario;
use crate::sim::ids::{NodeId, OpId, RequestId};
use crate::sim::time::SimTime;
use crate::sim::trace::{Role, TraceEvent, TraceRecord};
use crate::sim::world::{CommandRun, Probe, Sim};
use serde::Serialize;
use std::collections::BTreeMap;

/// Options of one run besides the scenario.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// Sends raft-rs's own log lines to stderr at this level or above.
    pub log_level: Option<slog::Level>,
    /// Runs with a deliberately wrong driver behaviour from the bug zoo.
    pub bug: Option<crate::node::Bug>,
}

/// A member at the end of the run.
#[derive(Clone, Debug, Serialize)]
pub struct NodeSummary {
    pub id: NodeId,
    pub status: NodeStatus,
    pub role: Option<Role>,
    pub term: u64,
    pub commit: u64,
    pub applied: u64,
    pub last_index: u64,
    pub durable_last_index: u64,
    pub published: Published,
    pub kv: Vec<(String, String)>,
    /// Client requests applied by this incarnation, in log order.
    pub applied_requests: Vec<RequestId>,
    pub stats: NodeStats,
    pub election_timeout_ticks: u64,
}

/// Everything a run produced; every view is derived from it.
#[derive(Clone, Debug, Serialize)]
pub struct RunResult {
    pub scenario: Scenario,
    pub seed: u64,
    pub sim_end: SimTime,
    pub trace_hash: String,
    pub events_handled: u64,
    pub trace: Vec<TraceRecord>,
    pub history: Vec<HistoryOp>,
    pub commands: Vec<CommandRun>,
    pub nodes: Vec<NodeSummary>,
    pub probes: Vec<Probe>,
    /// Each member's progress and role, once a second.
    pub cluster_probes: Vec<Probe>,
    /// Kubernetes nodes (masters, then workers) and the apiserver each kubelet uses at the end.
    pub kubelets: Vec<(String, u64)>,
    pub first_applied: BTreeMap<OpId, (u64, SimTime)>,
    pub verdicts: Vec<Verdict>,
    /// What the always-on oracles found (Raft safety, Ready contract, linearizability,
    /// durability); empty for a correct run.
    pub violations: Vec<crate::check::OracleViolation>,
    /// The bug-zoo entry the run used, if any.
    pub bug: Option<crate::node::Bug>,
}

impl RunResult {
    pub fn passed(&self) -> bool {
        self.verdicts.iter().all(|v| v.passed) && self.violations.is_empty()
    }

    pub fn failed_verdicts(&self) -> impl Iterator<Item = &Verdict> {
        self.verdicts.iter().filter(|v| !v.passed)
    }

    /// The run of the command with this id (the first, if repeated).
    pub fn command_run(&self, id: &str) -> Option<&CommandRun> {
        self.commands
            .iter()
            .find(|c| self.scenario.commands[c.index].id.as_deref() == Some(id))
    }

    /// All history operations issued by commands with this id.
    pub fn ops(&self, id: &str) -> Vec<&HistoryOp> {
        self.history
            .iter()
            .filter(|h| {
                h.command
                    .is_some_and(|c| self.scenario.commands[c].id.as_deref() == Some(id))
            })
            .collect()
    }

    pub fn replay_command(&self) -> String {
        let file = self
            .scenario
            .source
            .as_ref()
            .map_or_else(|| self.scenario.name.clone(), |p| p.display().to_string());
        let bug = self
            .bug
            .map_or(String::new(), |b| format!(" --bug {}", b.name()));
        format!("raftsim run {file} --seed {}{bug}", self.seed)
    }
}

/// Runs a scenario to its end and evaluates its expectations.
pub fn run(scenario: &Scenario, opts: &RunOptions) -> RunResult {
    let seed = opts.seed.unwrap_or(scenario.seed);
    // A panic inside the simulation is a bug (of raftsim, or one injected from the bug zoo):
    // re-raise it with what is needed to replay it.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut sim = Sim::new(scenario.clone(), seed, opts.log_level, opts.bug);
        sim.run_to_end();
        finish(sim)
    }));
    match outcome {
        Ok(mut r) => {
            r.bug = opts.bug;
            r
        }
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "(no message)".into());
            let bug = opts
                .bug
                .map_or(String::new(), |b| format!(" --bug {}", b.name()));
            panic!(
                "simulation of `{}` with seed {seed}{bug} panicked: {msg}",
                scenario.name
            )
        }
    }
}

fn applied_requests(trace: &[TraceRecord], node: NodeId) -> Vec<RequestId> {
    // Only the current incarnation counts: start after the node's last restart.
    let start = trace
        .iter()
        .rposition(|t| matches!(t.event, TraceEvent::Restarted { node: n, .. } if n == node))
        .map_or(0, |i| i + 1);
    trace[start..]
        .iter()
        .filter_map(|t| match t.event {
            TraceEvent::Applied {
                node: n,
                request: Some(r),
                ..
            } if n == node => Some(r),
            _ => None,
        })
        .collect()
}

fn finish(sim: Sim) -> RunResult {
    let nodes = sim
        .nodes
        .iter()
        .map(|n| NodeSummary {
            id: n.id,
            status: n.status,
            role: n.role(),
            term: n.term(),
            commit: n.commit_index(),
            applied: n.applied(),
            last_index: n.last_index(),
            durable_last_index: n.disk.durable.last_index(),
            published: n.published,
            kv: n.kv.snapshot(),
            applied_requests: applied_requests(&sim.trace.records, n.id),
            stats: n.stats,
            election_timeout_ticks: n.election_timeout_ticks,
        })
        .collect();
    let mut r = RunResult {
        seed: sim.seed,
        sim_end: sim.now(),
        trace_hash: format!("{:016x}", sim.trace.hash()),
        events_handled: sim.events_handled,
        first_applied: sim.first_applied().clone(),
        history: sim.history,
        commands: sim.commands,
        probes: sim.probes,
        cluster_probes: sim.cluster_probes,
        kubelets: sim
            .k8s
            .as_ref()
            .map(|k| k.kubelet_apiservers())
            .unwrap_or_default(),
        trace: sim.trace.records,
        nodes,
        verdicts: vec![],
        violations: vec![],
        bug: None,
        scenario: sim.scenario,
    };
    r.sim_end = SimTime::ZERO + r.scenario.duration;
    r.verdicts = r
        .scenario
        .expects
        .iter()
        .map(|e| check::evaluate(&r, e))
        .collect();
    r.violations = check::oracle_violations(&r);
    r
}
