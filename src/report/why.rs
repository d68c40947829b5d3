//! Why the turning points of a run happened, from its record: the causal lines the timeline adds
//! to an election, a failed lease renewal and a timed-out write applied later.
//!
//! "etcd-3 started an election (term 2): no message from leader etcd-1 for 1.120s (etcd-1's WAL
//! write blocked since 60.381s)". Each answer is read from trace events (role changes, messages
//! sent with their latencies, disk, pause and crash events); when the record cannot say, the
//! line says nothing rather than guess.

use crate::run::RunResult;
use crate::sim::ids::NodeId;
use crate::sim::time::SimTime;
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
/// leader it knew and what was wrong with that leader then; or that its own last election ended
/// without a majority; or that it has known no leader since it restarted or stepped down.
pub fn election(r: &RunResult, blocked: &Blocked, i: usize, node: NodeId) -> Option<String> {
    let at = r.trace[i].at;
    // The campaign began at the pre-vote, if there was one: what arrived after that is replies.
    let mut began = at;
    let mut prev = None;
    for t in r.trace[..i].iter().rev() {
        match t.event {
            TraceEvent::RoleChanged {
                node: n,
                role: Role::PreCandidate,
                ..
            } if n == node => began = t.at,
            TraceEvent::RoleChanged {
                node: n,
                role,
                term,
                leader,
            } if n == node => {
                prev = Some((role, term, leader));
                break;
            }
            TraceEvent::Restarted { node: n, .. } if n == node => {
                return Some(format!("it heard no leader since it restarted at {}", t.at));
            }
            _ => {}
        }
    }
    match prev? {
        (Role::Follower, _, leader) if leader != 0 => {
            Some(silent_leader(r, blocked, i, began, node, NodeId(leader)))
        }
        (Role::Candidate, term, _) => Some(format!(
            "its election in term {term} ended without a majority"
        )),
        (Role::Follower, term, _) => Some(format!("no leader has emerged in term {term}")),
        _ => None,
    }
}

/// "no message from leader etcd-1 for 1.120s (etcd-1's WAL write blocked since 60.381s)".
fn silent_leader(
    r: &RunResult,
    blocked: &Blocked,
    i: usize,
    began: SimTime,
    node: NodeId,
    leader: NodeId,
) -> String {
    let at = r.trace[i].at;
    let heard = crate::sim::heard::Hearing::heard(&r.campaigns, node, began, leader);
    let silence = heard.map_or("since the start".to_string(), |h| {
        format!("for {}", began.since(h))
    });
    let state = blocked
        .at(leader, at)
        .or_else(|| cut_off(r, leader, node, at))
        .map(|s| format!(" ({s})"))
        .unwrap_or_default();
    format!("no message from leader {leader} {silence}{state}")
}

/// A leader stepping down at trace position `i`, in words, with why: it saw a higher term, or
/// (same term) CheckQuorum found it had not heard from a quorum for an election timeout.
pub fn step_down(r: &RunResult, i: usize) -> Option<String> {
    let TraceEvent::RoleChanged {
        node,
        role: Role::Follower,
        term,
        ..
    } = r.trace[i].event
    else {
        return None;
    };
    let was = r.trace[..i].iter().rev().find_map(|t| match t.event {
        TraceEvent::RoleChanged {
            node: n,
            role,
            term,
            ..
        } if n == node => Some((role, term)),
        TraceEvent::Restarted { node: n, .. } | TraceEvent::Crashed { node: n, .. }
            if n == node =>
        {
            Some((Role::Follower, 0))
        }
        _ => None,
    })?;
    match was {
        (Role::Leader, old) if old < term => Some(format!(
            "{node} stepped down as leader of term {old}: a message carried term {term}"
        )),
        (Role::Leader, _) => Some(format!(
            "{node} stepped down as leader of term {term}: CheckQuorum heard from no quorum for an election timeout"
        )),
        _ => None,
    }
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

    fn lines(name: &str) -> Vec<String> {
        let s = crate::scenario::builtin::load(name).unwrap().unwrap();
        let r = crate::run::run(&s, &Default::default());
        let blocked = super::Blocked::of(&r);
        (0..r.trace.len())
            .filter_map(|i| match r.trace[i].event {
                crate::sim::trace::TraceEvent::RoleChanged {
                    node,
                    role: crate::sim::trace::Role::Candidate,
                    ..
                } => super::election(&r, &blocked, i, node),
                _ => super::step_down(&r, i),
            })
            .collect()
    }

    #[test]
    fn a_split_vote_and_a_deposed_leader_say_why() {
        let split = lines("raft-split-vote");
        assert!(split
            .iter()
            .any(|l| l == "its election in term 2 ended without a majority"));
        let flaps = lines("raft-one-way-link");
        assert!(flaps
            .iter()
            .any(|l| l == "etcd-1 stepped down as leader of term 1: a message carried term 2"));
        assert!(flaps.iter().any(|l| l == "no leader has emerged in term 2"));
    }
}
