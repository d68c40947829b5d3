//! The human-readable timeline of a run, derived from the trace.

use crate::client::Outcome;
use crate::run::RunResult;
use crate::sim::ids::RequestId;
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::trace::{LeaseRenewFailed, NodeCondition, Role, TraceEvent};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Renders the timeline, the final member table, the verdicts and the summary line.
pub fn render(r: &RunResult) -> String {
    render_with(r, &Filter::default())
}

/// Which timeline lines to show (the summary sections after the timeline are always shown).
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only lines that name this member or Kubernetes node (`etcd-1`, `worker-4`, `apiserver-1`).
    pub node: Option<String>,
    /// Only events at or after this time.
    pub from: Option<SimTime>,
    /// Only events at or before this time.
    pub to: Option<SimTime>,
    /// Only lines containing this text.
    pub grep: Option<String>,
}

impl Filter {
    /// Whether a line at `at` passes every given filter.
    pub fn keeps(&self, at: SimTime, line: &str) -> bool {
        let named = |name: &str| {
            line.match_indices(name).any(|(i, _)| {
                let after = line[i + name.len()..].chars().next();
                !after.is_some_and(|c| c.is_ascii_alphanumeric())
            })
        };
        self.from.is_none_or(|f| at >= f)
            && self.to.is_none_or(|t| at <= t)
            && self.node.as_deref().is_none_or(named)
            && self.grep.as_deref().is_none_or(|g| line.contains(g))
    }
}

/// The timeline with only the lines `filter` keeps.
pub fn render_with(r: &RunResult, filter: &Filter) -> String {
    let mut s = String::new();
    header(&mut s, r);
    s.push('\n');
    events(&mut s, r, filter);
    s.push('\n');
    if r.scenario.kubernetes.is_some() {
        s.push_str("$ kubectl get nodes\n");
        for l in crate::report::kubernetes::get_nodes(r) {
            let _ = writeln!(s, "{l}");
        }
        s.push('\n');
        s.push_str(&crate::report::kubernetes::availability(r));
        s.push('\n');
    }
    s.push_str(&members_table(r));
    s.push('\n');
    verdicts(&mut s, r);
    s.push('\n');
    s.push_str(&summary_line(r));
    s.push('\n');
    s
}

/// The scenario's name, seed, description and cluster settings.
fn header(s: &mut String, r: &RunResult) {
    let _ = writeln!(s, "raftsim: {} (seed {})", r.scenario.name, r.seed);
    let _ = writeln!(s, "{}", r.scenario.description.trim());
    let _ = writeln!(
        s,
        "cluster: {} members, etcd {}, persist={}, heartbeat {}, election timeout {}{}, pre_vote={}, check_quorum={}",
        r.scenario.cluster.nodes,
        r.scenario.cluster.etcd_version.release(),
        format!("{:?}", r.scenario.cluster.persist).to_lowercase(),
        r.scenario.cluster.heartbeat_interval,
        r.scenario.cluster.election_timeout,
        if r.scenario.cluster.randomize_election_timeout {
            ""
        } else {
            " (fixed, not randomised)"
        },
        r.scenario.cluster.pre_vote,
        r.scenario.cluster.check_quorum
    );
}

/// What the event lines look up in the history, gathered in one pass over it (a scenario
/// command repeated 100,000 times prints as many lines: no line may scan the history).
struct Lookups {
    /// Requests of scenario commands, by id (apiservers' requests are shown through their
    /// callers: kubelets, controllers).
    requests: BTreeMap<RequestId, String>,
    /// Scenario commands with an operation that timed out before any endpoint took it.
    never_sent: std::collections::BTreeSet<usize>,
}

impl Lookups {
    fn of(r: &RunResult) -> Lookups {
        let mut l = Lookups {
            requests: BTreeMap::new(),
            never_sent: std::collections::BTreeSet::new(),
        };
        for h in &r.history {
            let Some(command) = h.command else { continue };
            l.requests
                .extend(h.requests.iter().map(|&q| (q, h.kind.summary())));
            if h.outcome == Outcome::Timeout && h.routed_to.is_empty() {
                l.never_sent.insert(command);
            }
        }
        l
    }
}

/// Every trace event a reader needs, one timestamped line (or more) each.
fn events(s: &mut String, r: &RunResult, filter: &Filter) {
    let lookups = Lookups::of(r);
    let mut failing_since: BTreeMap<String, SimTime> = BTreeMap::new();
    let blocked = super::why::Blocked::of(r);
    let mut conf_shown = std::collections::BTreeSet::new();
    for (i, t) in r.trace.iter().enumerate() {
        if let TraceEvent::MemberChanged { index, .. } = &t.event {
            if !conf_shown.insert(*index) {
                continue; // one line per change: the first member to apply it
            }
        }
        let k8s_line = kubernetes_line(&t.event, t.at, &mut failing_since);
        let line = k8s_line
            .or_else(|| describe(&t.event, r, &lookups))
            .or_else(|| super::why::step_down(r, i))
            .map(|l| l + &cause(r, &blocked, i));
        if let Some(line) = line.filter(|l| filter.keeps(t.at, l)) {
            for (i, l) in line.lines().enumerate() {
                if i == 0 {
                    let _ = writeln!(s, "[{:>9}] {l}", t.at.to_string());
                } else {
                    let _ = writeln!(s, "{:12}{l}", "");
                }
            }
        }
    }
}

/// The expectations' verdicts, the undecided checks and the oracles' findings.
fn verdicts(s: &mut String, r: &RunResult) {
    for v in &r.verdicts {
        let _ = writeln!(s, "{} {}", if v.passed { "PASS" } else { "FAIL" }, v.check);
        let _ = writeln!(s, "     {}", v.detail);
        if let Some(w) = &v.why {
            let _ = writeln!(s, "     why: {w}");
        }
    }
    for u in &r.unknown {
        let _ = writeln!(s, "UNKNOWN [{}] {}", u.what, u.detail.trim_end());
    }
    if r.violations.is_empty() && r.unknown.is_empty() {
        s.push_str("oracles: raft safety, Ready contract, linearizability");
        if r.scenario.commands.iter().any(|c| c.command.watches()) {
            s.push_str(", watch streams");
        }
        s.push_str(if crate::check::durability::faults_healed(&r.scenario, r) {
            ", durability: no violation\n"
        } else {
            ": no violation (durability not checked: faults did not all heal)\n"
        });
    }
    for v in &r.violations {
        let word = if r.is_expected(v) {
            "EXPECTED VIOLATION"
        } else {
            "VIOLATION"
        };
        let _ = writeln!(
            s,
            "{word} [{}] at {}: {}",
            v.oracle,
            v.at,
            v.detail.trim_end()
        );
    }
}

/// The one-line summary: scenario, seed, trace hash, verdict.
pub fn summary_line(r: &RunResult) -> String {
    let passed = r.verdicts.iter().filter(|v| v.passed).count();
    format!(
        "summary: scenario={} seed={}{} trace={} events={} simulated={} expectations={}/{} violations={} {}",
        r.scenario.name,
        r.seed,
        r.bug.map_or(String::new(), |b| format!(" bug={}", b.name())),
        r.trace_hash,
        r.events_handled,
        r.sim_end,
        passed,
        r.verdicts.len(),
        r.unexpected_violations().count(),
        match (r.passed(), r.unknown.is_empty()) {
            (false, _) => "FAIL",
            (true, true) => "PASS",
            (true, false) => "UNKNOWN",
        }
    )
}

fn describe(e: &TraceEvent, r: &RunResult, lookups: &Lookups) -> Option<String> {
    if let TraceEvent::CommandStarted { command } | TraceEvent::CommandOutput { command, .. } = e {
        if r.scenario.commands[*command].quiet {
            return None;
        }
    }
    if let Some(line) = describe_member(e)
        .or_else(|| describe_lease(e, r))
        .or_else(|| describe_server(e, &lookups.requests))
    {
        return Some(line);
    }
    Some(match e {
        TraceEvent::RoleChanged {
            node,
            role: Role::Leader,
            term,
            ..
        } => format!("{node} became leader (term {term})"),
        TraceEvent::RoleChanged {
            node,
            role: Role::Candidate,
            term,
            ..
        } => {
            format!("{node} started an election (term {term})")
        }
        TraceEvent::FaultStarted { what, .. } => format!("FAULT {what}"),
        TraceEvent::FaultEnded { what, .. } => format!("FAULT END {what}"),
        TraceEvent::CommandStarted { command } => {
            format!("$ {}", r.scenario.commands[*command].display())
        }
        TraceEvent::CommandOutput {
            command,
            lines,
            took_us,
            ..
        } => command_output(r, *command, lines, *took_us, lookups),
        TraceEvent::TimedOutWriteApplied {
            node,
            key,
            value,
            overwrote_acknowledged,
            ..
        } => format!(
            "{node} applied `{key}={value}`, a write its client saw fail{}",
            if *overwrote_acknowledged {
                "; it OVERWROTE a value acknowledged later"
            } else {
                ""
            }
        ),
        _ => return None,
    })
}

/// etcd server events: requests read too late, server-side timeouts, etcd's own warnings. A
/// timeout of a request no client command made (an apiserver's) is not shown.
fn describe_server(e: &TraceEvent, requests: &BTreeMap<RequestId, String>) -> Option<String> {
    let req = |q: &RequestId| {
        requests
            .get(q)
            .cloned()
            .unwrap_or_else(|| format!("request #{:x}", q.0))
    };
    Some(match e {
        TraceEvent::RequestExpired { node, op, .. } => {
            format!(
                "{node} reads `{op}` only now, after its deadline: dropped unanswered, not applied"
            )
        }
        TraceEvent::ServerTimeout { request, .. } if !requests.contains_key(request) => {
            return None
        }
        TraceEvent::ServerTimeout {
            node,
            request,
            deadline: false,
        } => {
            format!(
                "{node} gives up on `{}`: etcdserver: request timed out",
                req(request)
            )
        }
        TraceEvent::ServerTimeout {
            node,
            request,
            deadline: true,
        } => {
            format!("{node} gives up on `{}`: context deadline exceeded (its client's deadline; a proposal stays in raft)", req(request))
        }
        TraceEvent::EtcdLog {
            node,
            msg,
            took_us,
            expected_us,
        } => {
            let (took, expected) = (
                crate::sim::time::SimDuration(*took_us),
                crate::sim::time::SimDuration(*expected_us),
            );
            format!("{node} logs: \"{msg}\" took={took} expected-duration={expected}")
        }
        _ => return None,
    })
}

/// A member's process, disk and snapshot events.
fn describe_member(e: &TraceEvent) -> Option<String> {
    Some(match e {
        TraceEvent::Crashed { node, reason, lost_writes, durable_last_index } => format!(
            "{node} crashed ({reason}); {lost_writes} unsynced write(s) lost, durable log ends at {durable_last_index}"
        ),
        TraceEvent::Restarted { node, term, durable_last_index, .. } => {
            format!("{node} restarted from its durable state (term {term}, log to {durable_last_index})")
        }
        TraceEvent::Resumed { node, inbox } => format!("{node} handles the {inbox} message(s) and request(s) queued while paused"),
        TraceEvent::DiskParked { node, io } => format!("{node} {io} write blocked by the stall; raft loop waits"),
        TraceEvent::FsyncFailed { node, .. } => format!("{node} WAL fsync failed: EIO"),
        TraceEvent::SnapshotSaved { node, index, compacted_through } => {
            format!("{node} saved a snapshot at index {index}; its raft log now starts at {}", compacted_through + 1)
        }
        TraceEvent::SnapshotRestored { node, index, received: true } => {
            format!("{node} restored the leader's snapshot at index {index} (its log was behind the leader's first index)")
        }
        TraceEvent::Started { node } => {
            format!("{node} started with an empty data dir (--initial-cluster-state existing); it waits for the leader")
        }
        TraceEvent::Stopped { node, reason } => format!("{node} stopped: {reason}"),
        TraceEvent::MemberChanged { node, index, change, member, members } => format!(
            "{node} applied `member {change} {member}` (index {index}), first of the members: {members}"
        ),
        TraceEvent::SnapshotRestored { node, index, received: false } => {
            format!("{node} restored its own snapshot at index {index}, then replays its WAL")
        }
        _ => return None,
    })
}

/// etcd lease, keep-alive and lock events.
fn describe_lease(e: &TraceEvent, r: &RunResult) -> Option<String> {
    Some(match e {
        TraceEvent::EtcdLessorPromoted { node, leases, extend_us } => format!(
            "{node}'s lessor becomes primary: its {leases} lease(s) now expire at TTL + {} from now",
            crate::sim::time::SimDuration(*extend_us)
        ),
        TraceEvent::EtcdLeaseExpired { node, lease } => {
            format!("{node}'s lessor finds lease {lease} expired and proposes its revocation")
        }
        TraceEvent::EtcdLeaseRevoked { node, lease, deleted_keys } => {
            format!("{node} revokes lease {lease}: {deleted_keys} key(s) deleted")
        }
        TraceEvent::KeepAliveEnded { command, lease, reason } => {
            let text = &r.scenario.commands[*command].text;
            format!("`{text}` gives lease {lease} up: {reason}")
        }
        TraceEvent::LockAcquired { command, lock } => {
            format!("`{}` now believes it HOLDS lock {lock}", r.scenario.commands[*command].text)
        }
        TraceEvent::LockReleased { command, lock, reason } => {
            format!("`{}` no longer believes it holds lock {lock}: {reason}", r.scenario.commands[*command].text)
        }
        _ => return None,
    })
}

/// Why a turning point happened, when the record can say (`report::why`): appended to the line.
fn cause(r: &RunResult, blocked: &super::why::Blocked, i: usize) -> String {
    let t = &r.trace[i];
    match &t.event {
        TraceEvent::RoleChanged {
            node,
            role: Role::Candidate,
            ..
        } => super::why::election(r, blocked, i, *node)
            .map(|w| format!(": {w}"))
            .unwrap_or_default(),
        TraceEvent::LeaseRenewFailed(f) => f
            .etcd
            .iter()
            .find_map(|n| blocked.at(crate::sim::ids::NodeId(*n), t.at))
            .map(|w| format!(" ({w})"))
            .unwrap_or_default(),
        TraceEvent::TimedOutWriteApplied { op, .. } => r
            .op(*op)
            .and_then(|h| h.completed)
            .filter(|c| *c <= t.at)
            .map(|c| format!(" ({} after its client gave up)", t.at.since(c)))
            .unwrap_or_default(),
        TraceEvent::Resumed { node, .. } => lost_on_resume(r, i, *node),
        _ => String::new(),
    }
}

/// For a member resuming at trace position `i`: the raft messages its timed-out peer streams
/// lost (recorded just before, at the same instant), if any.
fn lost_on_resume(r: &RunResult, i: usize, node: crate::sim::ids::NodeId) -> String {
    let at = r.trace[i].at;
    let lost = r.trace[..i]
        .iter()
        .rev()
        .take_while(|t| t.at == at)
        .filter(|t| {
            matches!(t.event, TraceEvent::MsgDropped { to, reason: crate::sim::trace::DropReason::StreamTimedOut, .. } if to == node)
        })
        .count();
    if lost == 0 {
        return String::new();
    }
    format!("; its peer streams timed out while it was frozen (5 s), so the {lost} raft message(s) they buffered are lost and the leader resends what it lacks")
}

/// A finished command: what it printed, and why, if it never reached any member.
fn command_output(
    r: &RunResult,
    command: usize,
    lines: &[String],
    took_us: u64,
    lookups: &Lookups,
) -> String {
    let spec = &r.scenario.commands[command];
    let took = crate::sim::time::SimDuration(took_us);
    let mut out = if spec.command.is_stream() {
        format!("-> `{}` prints:", spec.text)
    } else {
        format!("-> `{}` finished after {took}:", spec.text)
    };
    if lines.is_empty() {
        out.push_str(" (no output)");
    }
    for l in lines {
        let _ = write!(out, "\n   {l}");
    }
    if lookups.never_sent.contains(&command) {
        out.push_str("\n   (never sent: no endpoint completed the connection handshake in time)");
    }
    out
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
    for l in crate::client::etcdctl::table(&header, &rows) {
        s.push_str(&l);
        s.push('\n');
    }
    s
}

/// Kubernetes events in words; tracks since when each kubelet has been failing so the line that
/// reports its recovery can say for how long.
fn kubernetes_line(
    e: &TraceEvent,
    at: SimTime,
    failing_since: &mut BTreeMap<String, SimTime>,
) -> Option<String> {
    kubelet_line(e, at, failing_since).or_else(|| control_plane_line(e))
}

/// A kubelet's lease renewals and reconnections in words.
fn kubelet_line(
    e: &TraceEvent,
    at: SimTime,
    failing_since: &mut BTreeMap<String, SimTime>,
) -> Option<String> {
    Some(match e {
        TraceEvent::LeaseRenewFailed(f) => {
            let LeaseRenewFailed {
                node,
                apiserver,
                etcd,
                request,
                error,
                attempt,
                took_us,
            } = &**f;
            failing_since.entry(node.clone()).or_insert(at);
            let (path, attempt) = (request_path(*apiserver, etcd), attempt_name(*attempt));
            format!(
                "{node}: {request} failed ({attempt}, after {}): {path}: {error}",
                SimDuration(*took_us)
            )
        }
        TraceEvent::LeaseRenewed {
            node, apiserver, ..
        } => {
            let since = failing_since.remove(node)?;
            format!("{node}: lease renewed again via apiserver-{apiserver}, first success since failures began at {since}")
        }
        TraceEvent::KubeletReconnect { node, apiserver } => {
            format!("{node}: repeated heartbeat failure, kubelet closes all connections and re-dials (now apiserver-{apiserver})")
        }
        _ => return None,
    })
}

/// The control plane's actions (controller-manager leadership, node conditions, taints,
/// evictions, the load balancer) in words.
fn control_plane_line(e: &TraceEvent) -> Option<String> {
    Some(match e {
        TraceEvent::KcmLeadership {
            kcm,
            acquired,
            reason,
        } => {
            let stop = if *acquired {
                ""
            } else {
                "; its controllers stop"
            };
            format!("kube-controller-manager on master-{kcm}: {reason}{stop}")
        }
        TraceEvent::NodeCondition(c) => {
            let NodeCondition {
                node,
                ready,
                reason,
                kcm,
            } = &**c;
            format!("node-lifecycle-controller (master-{kcm}): {node} Ready={ready} ({reason})")
        }
        TraceEvent::NodeTaint { node, taint, added } => {
            let what = if *added { "added" } else { "removed" };
            format!("taint {what}: {node} {taint}")
        }
        TraceEvent::PodsEvicted {
            node,
            tainted_for_us,
        } => {
            let toleration = SimDuration(*tainted_for_us);
            format!("pods on {node} evicted: NoExecute taint outlived the {toleration} toleration")
        }
        TraceEvent::LbBackend { apiserver, healthy } => {
            let what = if *healthy {
                "back in rotation"
            } else {
                "taken out of rotation"
            };
            format!("load balancer: apiserver-{apiserver} {what} (/readyz)")
        }
        _ => return None,
    })
}

/// The way a kubelet's lease request went: through its apiserver to the etcd members it tried.
fn request_path(apiserver: u64, etcd: &[u64]) -> String {
    if etcd.is_empty() {
        return format!("kubelet -> apiserver-{apiserver}");
    }
    let members: Vec<String> = etcd.iter().map(|m| format!("etcd-{m}")).collect();
    format!("kubelet -> apiserver-{apiserver} -> {}", members.join(","))
}

/// A lease renewal attempt by the kubelet's name for it (attempt 0 is the lease controller's
/// `backoffEnsureLease`).
fn attempt_name(attempt: u32) -> String {
    if attempt == 0 {
        "backoffEnsureLease".to_string()
    } else {
        format!("attempt {attempt}")
    }
}

#[cfg(test)]
mod filter_tests {
    use super::*;

    #[test]
    fn a_filter_keeps_what_it_names() {
        let f = Filter {
            node: Some("etcd-1".into()),
            from: Some(SimTime(10)),
            to: Some(SimTime(20)),
            grep: None,
        };
        assert!(f.keeps(SimTime(15), "etcd-1 crashed"));
        assert!(
            !f.keeps(SimTime(15), "etcd-12 crashed"),
            "a name, not a prefix"
        );
        assert!(!f.keeps(SimTime(25), "etcd-1 crashed"));
        let g = Filter {
            grep: Some("lease".into()),
            ..Default::default()
        };
        assert!(g.keeps(SimTime(0), "worker-1: update lease failed"));
        assert!(!g.keeps(SimTime(0), "etcd-2 became leader"));
    }
}
