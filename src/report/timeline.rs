//! The human-readable timeline of a run, derived from the trace.

use crate::client::Outcome;
use crate::run::RunResult;
use crate::sim::ids::RequestId;
use crate::sim::trace::{Role, TraceEvent};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Renders the timeline, the final member table, the verdicts and the summary line.
pub fn render(r: &RunResult) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "raftsim: {} (seed {})", r.scenario.name, r.seed);
    let _ = writeln!(s, "{}", r.scenario.description.trim());
    let _ = writeln!(
        s,
        "cluster: {} members, persist={}, heartbeat {}, election timeout {}, pre_vote={}, check_quorum={}",
        r.scenario.cluster.nodes,
        format!("{:?}", r.scenario.cluster.persist).to_lowercase(),
        r.scenario.cluster.heartbeat_interval,
        r.scenario.cluster.election_timeout,
        r.scenario.cluster.pre_vote,
        r.scenario.cluster.check_quorum
    );
    s.push('\n');
    let mut requests: BTreeMap<RequestId, String> = BTreeMap::new();
    for t in &r.trace {
        if let TraceEvent::RequestSent { request, op, .. } = &t.event {
            requests.insert(*request, r.history[op.0 as usize].kind.summary());
        }
        if let Some(line) = describe(&t.event, r, &requests) {
            for (i, l) in line.lines().enumerate() {
                if i == 0 {
                    let _ = writeln!(s, "[{:>9}] {l}", t.at.to_string());
                } else {
                    let _ = writeln!(s, "{:12}{l}", "");
                }
            }
        }
    }
    s.push('\n');
    s.push_str(&members_table(r));
    s.push('\n');
    for v in &r.verdicts {
        let _ = writeln!(s, "{} {}", if v.passed { "PASS" } else { "FAIL" }, v.check);
        let _ = writeln!(s, "     {}", v.detail);
        if let Some(w) = &v.why {
            let _ = writeln!(s, "     why: {w}");
        }
    }
    s.push('\n');
    s.push_str(&summary_line(r));
    s.push('\n');
    s
}

/// The one-line summary: scenario, seed, trace hash, verdict.
pub fn summary_line(r: &RunResult) -> String {
    let passed = r.verdicts.iter().filter(|v| v.passed).count();
    format!(
        "summary: scenario={} seed={} trace={} events={} simulated={} expectations={}/{} {}",
        r.scenario.name,
        r.seed,
        r.trace_hash,
        r.events_handled,
        r.sim_end,
        passed,
        r.verdicts.len(),
        if r.passed() { "PASS" } else { "FAIL" }
    )
}

fn describe(
    e: &TraceEvent,
    r: &RunResult,
    requests: &BTreeMap<RequestId, String>,
) -> Option<String> {
    if let TraceEvent::CommandStarted { command } | TraceEvent::CommandOutput { command, .. } = e {
        if r.scenario.commands[*command].quiet {
            return None;
        }
    }
    let req = |q: &RequestId| {
        requests
            .get(q)
            .cloned()
            .unwrap_or_else(|| format!("request #{:x}", q.0))
    };
    Some(match e {
        TraceEvent::RoleChanged { node, role: Role::Leader, term, .. } => format!("{node} became leader (term {term})"),
        TraceEvent::RoleChanged { node, role: Role::Candidate, term, .. } => {
            format!("{node} started an election (term {term})")
        }
        TraceEvent::FaultStarted { what, .. } => format!("FAULT {what}"),
        TraceEvent::FaultEnded { what, .. } => format!("FAULT END {what}"),
        TraceEvent::Crashed { node, reason, lost_writes, durable_last_index } => format!(
            "{node} crashed ({reason}); {lost_writes} unsynced write(s) lost, durable log ends at {durable_last_index}"
        ),
        TraceEvent::Restarted { node, term, durable_last_index, .. } => {
            format!("{node} restarted from its durable state (term {term}, log to {durable_last_index})")
        }
        TraceEvent::Resumed { node, inbox } => format!("{node} handles the {inbox} message(s) and request(s) queued while paused"),
        TraceEvent::DiskParked { node, io } => format!("{node} {io} write blocked by the stall; raft loop waits"),
        TraceEvent::FsyncFailed { node, .. } => format!("{node} WAL fsync failed: EIO"),
        TraceEvent::RequestExpired { node, op, .. } => {
            format!("{node} reads `{op}` only now, after its deadline: dropped unanswered, not applied")
        }
        TraceEvent::ServerTimeout { node, request } => {
            format!("{node} gives up on `{}`: etcdserver: request timed out", req(request))
        }
        TraceEvent::CommandStarted { command } => format!("$ {}", r.scenario.commands[*command].display()),
        TraceEvent::CommandOutput { command, lines, took_us, .. } => {
            let spec = &r.scenario.commands[*command];
            let took = crate::sim::time::SimDuration(*took_us);
            let mut out = format!("-> `{}` finished after {took}:", spec.text);
            if lines.is_empty() {
                out.push_str(" (no output)");
            }
            for l in lines {
                let _ = write!(out, "\n   {l}");
            }
            let never_sent = r
                .history
                .iter()
                .any(|h| h.command == *command && h.outcome == Outcome::Timeout && h.routed_to.is_empty());
            if never_sent {
                out.push_str("\n   (never sent: no endpoint completed the connection handshake in time)");
            }
            out
        }
        TraceEvent::TimedOutWriteApplied { node, key, value, overwrote_acknowledged, .. } => format!(
            "{node} applied `{key}={value}`, a write its client saw fail{}",
            if *overwrote_acknowledged { "; it OVERWROTE a value acknowledged later" } else { "" }
        ),
        _ => return None,
    })
}

fn members_table(r: &RunResult) -> String {
    let header = [
        "MEMBER",
        "STATUS",
        "ROLE",
        "TERM",
        "COMMIT",
        "APPLIED",
        "DURABLE LAST",
        "TICKS SKIPPED",
    ];
    let rows: Vec<Vec<String>> = r
        .nodes
        .iter()
        .map(|n| {
            vec![
                n.id.name(),
                format!("{:?}", n.status).to_lowercase(),
                n.role
                    .map_or("-".into(), |x| format!("{x:?}").to_lowercase()),
                n.term.to_string(),
                n.commit.to_string(),
                n.applied.to_string(),
                n.durable_last_index.to_string(),
                n.stats.ticks_skipped.to_string(),
            ]
        })
        .collect();
    let mut s = String::from("members at the end of the run:\n");
    for l in super::etcdctl::table(&header, &rows) {
        s.push_str(&l);
        s.push('\n');
    }
    s
}
