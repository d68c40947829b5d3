//! Why the turning points of a run happened, from its record: the causal lines the timeline adds
//! to an election, a failed lease renewal and a timed-out write applied later.
//!
//! "etcd-3 started an election (term 2): no message from leader etcd-1 for 1.120s (etcd-1's WAL
//! write blocked since 60.381s)". Each answer is read from trace events (role changes, messages
//! sent with their latencies, disk, pause and crash events); when the record cannot say, the
//! line says nothing rather than guess.

use crate::run::RunResult;
use crate::sim::ids::NodeId;
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::trace::{Role, TraceEvent};
use std::collections::BTreeMap;

/// A window during which a member could not take part: (from, until, what). `until` is `None`
/// when it never recovered within the run.
type Window = (SimTime, Option<SimTime>, &'static str);

/// Every member's windows.
pub struct Blocked {
    windows: BTreeMap<NodeId, Vec<Window>>,
}

impl Blocked {
    /// One pass over the trace.
    pub fn of(r: &RunResult) -> Blocked {
        let mut windows: BTreeMap<NodeId, Vec<Window>> = BTreeMap::new();
        let open = |w: &mut Vec<Window>, at, what| {
            if !w.iter().any(|x| x.1.is_none() && x.2 == what) {
                w.push((at, None, what));
            }
        };
        let close = |w: &mut Vec<Window>, at, what| {
            for x in w.iter_mut().filter(|x| x.1.is_none() && x.2 == what) {
                x.1 = Some(at);
            }
        };
        for t in &r.trace {
            match &t.event {
                TraceEvent::DiskParked { node, io: "wal" } => {
                    open(windows.entry(*node).or_default(), t.at, WAL)
                }
                TraceEvent::WalSynced { node, .. } => {
                    close(windows.entry(*node).or_default(), t.at, WAL)
                }
                TraceEvent::Paused { node } => {
                    open(windows.entry(*node).or_default(), t.at, PAUSED)
                }
                TraceEvent::Resumed { node, .. } => {
                    close(windows.entry(*node).or_default(), t.at, PAUSED)
                }
                TraceEvent::Crashed { node, .. } => {
                    let w = windows.entry(*node).or_default();
                    close(w, t.at, WAL); // a crash ends the write it was waiting on
                    open(w, t.at, CRASHED)
                }
                TraceEvent::Restarted { node, .. } => {
                    close(windows.entry(*node).or_default(), t.at, CRASHED)
                }
                _ => {}
            }
        }
        Blocked { windows }
    }

    /// What kept `node` from taking part at `at`, and since when.
    pub fn at(&self, node: NodeId, at: SimTime) -> Option<String> {
        let w = self.windows.get(&node)?;
        let (since, _, what) = w
            .iter()
            .filter(|(from, until, _)| *from <= at && until.is_none_or(|u| u > at))
            .min_by_key(|x| x.0)?;
        Some(format!("{node} {what} since {since}"))
    }
}

const WAL: &str = "WAL write blocked";
const PAUSED: &str = "paused";
const CRASHED: &str = "down (crashed)";

/// Why `node` started an election at trace position `i`: how long it had heard nothing from the
/// leader it knew, and what was wrong with that leader then.
pub fn election(r: &RunResult, blocked: &Blocked, i: usize, node: NodeId) -> Option<String> {
    let at = r.trace[i].at;
    let leader = r.trace[..i].iter().rev().find_map(|t| match t.event {
        TraceEvent::RoleChanged {
            node: n,
            role: Role::Follower,
            leader,
            ..
        } if n == node && leader != 0 => Some(NodeId(leader)),
        // Pre-vote first: the pre-candidate still remembers whom it followed.
        TraceEvent::RoleChanged {
            node: n,
            role: Role::PreCandidate,
            ..
        } if n == node => None,
        TraceEvent::RoleChanged { node: n, .. } if n == node => Some(NodeId(0)),
        _ => None,
    })?;
    if leader.0 == 0 {
        return None;
    }
    let heard = r.trace[..i].iter().rev().find_map(|t| match t.event {
        TraceEvent::MsgSent {
            from,
            to,
            latency_us,
            ..
        } if from == leader && to == node && t.at + SimDuration(latency_us) <= at => {
            Some(t.at + SimDuration(latency_us))
        }
        _ => None,
    });
    let silence = heard.map_or("since the start".to_string(), |h| {
        format!("for {}", at.since(h))
    });
    let state = blocked
        .at(leader, at)
        .or_else(|| cut_off(r, leader, node, at))
        .map(|s| format!(" ({s})"))
        .unwrap_or_default();
    Some(format!("no message from leader {leader} {silence}{state}"))
}

/// Whether a network fault active at `at` cuts the link from `from` to `to`.
fn cut_off(r: &RunResult, from: NodeId, to: NodeId, at: SimTime) -> Option<String> {
    use crate::net::NetFault;
    use crate::scenario::FaultKind;
    r.scenario.faults.iter().find_map(|f| {
        let active = f.at <= at && f.until.is_none_or(|u| u > at);
        let cut = match &f.kind {
            FaultKind::Network(NetFault::Partition { groups }) => {
                let side = |n: NodeId| groups.iter().position(|g| g.contains(&n));
                side(from) != side(to)
            }
            FaultKind::Network(NetFault::OneWay { from: a, to: b }) => *a == from && *b == to,
            _ => false,
        };
        (active && cut).then(|| format!("the link {from} -> {to} is cut since {}", f.at))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_leader_stall_explains_the_election() {
        let s = crate::scenario::builtin::load("etcd-leader-fsync-stall")
            .unwrap()
            .unwrap();
        let r = crate::run::run(&s, &Default::default());
        let blocked = super::Blocked::of(&r);
        let (i, node) = r
            .trace
            .iter()
            .enumerate()
            .find_map(|(i, t)| match t.event {
                crate::sim::trace::TraceEvent::RoleChanged {
                    node,
                    role: crate::sim::trace::Role::Candidate,
                    term: 2,
                    ..
                } => Some((i, node)),
                _ => None,
            })
            .unwrap();
        let why = super::election(&r, &blocked, i, node).unwrap();
        assert!(
            why.starts_with("no message from leader etcd-1 for 1."),
            "{why}"
        );
        assert!(
            why.contains("(etcd-1 WAL write blocked since 10.1"),
            "{why}"
        );
    }
}
