//! Kubernetes views: `kubectl get nodes` and the availability report that sets the cluster's
//! own health beside what each kubelet saw.

use crate::record::kubernetes::{longest_gap, Renewals, RenewalsByNode};
use crate::run::RunResult;
use crate::sim::time::{SimDuration, SimTime};
use std::fmt::Write as _;

/// kubectl's short duration format (`119s`, `4m10s`, `12m`).
pub fn kubectl_age(d: SimDuration) -> String {
    let s = d.as_micros() / 1_000_000;
    match s {
        0..=119 => format!("{s}s"),
        120..=599 if !s.is_multiple_of(60) => format!("{}m{}s", s / 60, s % 60),
        _ => format!("{}m", s / 60),
    }
}

/// `kubectl get nodes` at the end of the run.
pub fn get_nodes(r: &RunResult) -> Vec<String> {
    let Some(k) = &r.scenario.kubernetes else {
        return vec![];
    };
    let last = r.last_conditions();
    let rows: Vec<Vec<String>> = k
        .node_names()
        .iter()
        .map(|n| {
            let status = if last.get(n.as_str()) == Some(&"Unknown") {
                "NotReady"
            } else {
                "Ready"
            };
            let role = if n.starts_with("master") {
                "control-plane"
            } else {
                "<none>"
            };
            vec![
                n.clone(),
                status.into(),
                role.into(),
                kubectl_age(r.sim_end.since(SimTime::ZERO)),
                format!("v{}.0", k.version),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..5)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([["NAME", "STATUS", "ROLES", "AGE", "VERSION"][i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[&str]| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("   ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![line(&["NAME", "STATUS", "ROLES", "AGE", "VERSION"])];
    out.extend(
        rows.iter()
            .map(|r| line(&r.iter().map(String::as_str).collect::<Vec<_>>())),
    );
    out
}

/// One window of the availability report.
pub struct Window {
    /// Window start.
    pub from: SimTime,
    /// Window end.
    pub until: SimTime,
    /// The etcd leader in the window, if one led throughout.
    pub leader: Option<u64>,
    /// Entries committed in the window.
    pub commits: u64,
    /// Kubelets with at least one failed lease request and no successful renewal.
    pub failing: Vec<String>,
    /// Kubelets that renewed at least once.
    pub renewing: usize,
}

impl Window {
    /// Whether etcd had a leader and committed in the window.
    pub fn cluster_healthy(&self) -> bool {
        self.leader.is_some() && self.commits > 0
    }
}

/// How many of `times` (in time order) fall in `[from, until)`: two binary searches, so that
/// cutting a long run into windows stays linear in its length.
fn count_in(times: &[SimTime], from: SimTime, until: SimTime) -> usize {
    times.partition_point(|t| *t < until) - times.partition_point(|t| *t < from)
}

/// Cuts the run into windows of `width`, with what etcd and kubelets did in each.
pub fn windows(r: &RunResult, width: SimDuration) -> Vec<Window> {
    windows_of(r, width, &r.renewals_by_node())
}

fn windows_of(r: &RunResult, width: SimDuration, renewals: &RenewalsByNode<'_>) -> Vec<Window> {
    let Some(k) = &r.scenario.kubernetes else {
        return vec![];
    };
    let names = k.node_names();
    let ok: Vec<&Vec<SimTime>> = names.iter().map(|n| &renewals.of(n).ok).collect();
    let bad: Vec<&Vec<SimTime>> = names.iter().map(|n| &renewals.of(n).failed).collect();
    let all_probes = &r.cluster_probes;
    assert!(
        all_probes.is_sorted_by_key(|p| p.at) && ok.iter().chain(&bad).all(|ts| ts.is_sorted()),
        "probes and renewals are recorded in time order"
    );
    let end = r.sim_end;
    let mut out = Vec::new();
    let mut from = SimTime::ZERO;
    while from < end {
        let until = (from + width).min(end);
        let first = all_probes.partition_point(|p| p.at < from);
        let probes: Vec<_> = all_probes[first..]
            .iter()
            .take_while(|p| p.at < until)
            .collect();
        let leaders: Vec<_> = probes.iter().map(|p| p.leader()).collect();
        let leader =
            if !leaders.is_empty() && leaders.iter().all(|l| l.is_some() && *l == leaders[0]) {
                leaders[0].map(|l| l.0)
            } else {
                None
            };
        let commit = |p: Option<&&crate::record::Probe>| {
            p.map_or(0, |p| p.committed.iter().copied().max().unwrap_or(0))
        };
        let commits = commit(probes.last()).saturating_sub(commit(probes.first()));
        let inside = |ts: &Vec<SimTime>| count_in(ts, from, until);
        let failing = names
            .iter()
            .enumerate()
            .filter(|(i, _)| inside(ok[*i]) == 0 && inside(bad[*i]) > 0)
            .map(|(_, n)| n.clone())
            .collect();
        let renewing = (0..names.len()).filter(|i| inside(ok[*i]) > 0).count();
        out.push(Window {
            from,
            until,
            leader,
            commits,
            failing,
            renewing,
        });
        from = until;
    }
    out
}

/// The availability report: per window, the cluster's view beside the clients' view, then the
/// plain statement of when the cluster had quorum while clients were failing.
pub fn availability(r: &RunResult) -> String {
    let Some(k) = &r.scenario.kubernetes else {
        return String::new();
    };
    let renewals = r.renewals_by_node();
    let ws = windows_of(r, SimDuration::from_secs(20), &renewals);
    let mut s =
        String::from("availability: what etcd thought vs what kubelets saw (20s windows)\n");
    s.push_str(
        "  WINDOW          ETCD LEADER   COMMITS  RENEWING  KUBELETS FAILING EVERY RENEWAL\n",
    );
    for w in &ws {
        let _ = writeln!(
            s,
            "  {:<15} {:<12} {:>8}  {:<9} {}",
            format!("{}-{}", short(w.from), short(w.until)),
            w.leader.map_or("none".into(), |l| format!("etcd-{l}")),
            w.commits,
            format!("{}/{}", w.renewing, k.node_names().len()),
            if w.failing.is_empty() {
                "-".into()
            } else {
                w.failing.join(", ")
            }
        );
    }
    let end = r.sim_end;
    s.push_str("  per kubelet: renewals ok / failed requests, longest gap without a renewal\n");
    for (name, api) in &r.kubelets {
        let Renewals { ok, failed: bad } = renewals.of(name);
        let _ = writeln!(
            s,
            "    {name:<10} via apiserver-{api}: {:>3} ok / {:>3} failed, longest gap {}",
            ok.len(),
            bad.len(),
            longest_gap(ok, SimTime::ZERO + SimDuration::from_secs(5), end)
        );
    }
    for line in statements(&ws) {
        let _ = writeln!(s, "  {line}");
    }
    s
}

fn short(t: SimTime) -> String {
    format!("{}s", t.as_micros() / 1_000_000)
}

/// "the cluster had quorum while these clients were failing", once per stretch of windows.
pub fn statements(ws: &[Window]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < ws.len() {
        if !ws[i].cluster_healthy() || ws[i].failing.is_empty() {
            i += 1;
            continue;
        }
        let start = i;
        let mut names: Vec<String> = Vec::new();
        let mut commits = 0;
        while i < ws.len() && ws[i].cluster_healthy() && !ws[i].failing.is_empty() {
            for n in &ws[i].failing {
                if !names.contains(n) {
                    names.push(n.clone());
                }
            }
            commits += ws[i].commits;
            i += 1;
        }
        out.push(format!(
            "From {} to {} the cluster had quorum (leader {}, {} entries committed) while these clients were failing every lease renewal: {}.",
            short(ws[start].from),
            short(ws[i - 1].until),
            ws[start].leader.map_or("?".into(), |l| format!("etcd-{l}")),
            commits,
            names.join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_like_kubectl() {
        assert_eq!(kubectl_age(SimDuration::from_secs(59)), "59s");
        assert_eq!(kubectl_age(SimDuration::from_secs(240)), "4m");
        assert_eq!(kubectl_age(SimDuration::from_secs(250)), "4m10s");
        assert_eq!(kubectl_age(SimDuration::from_secs(900)), "15m");
    }
}
