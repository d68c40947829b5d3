//! What each member had last heard from each peer when it began campaigning.
//!
//! Contract: fed every trace record in order ([`Hearing::note`]), it keeps, per (receiver,
//! sender), the arrival times of the messages still in flight and the latest arrival so far;
//! when a member turns pre-candidate or candidate at instant `t`, it records, once every
//! message arriving at or before `t` has been counted (when time moves past `t`, or at
//! [`Hearing::finish`]),
//! the latest arrival at that member from each sender. That is all the timeline's "no message
//! from leader X for D" needs, in memory bounded by the messages in flight and the campaigns,
//! instead of one entry per message sent. A message counts as heard at its arrival time even if
//! it is then dropped on arrival (as the trace's `msg-sent` latency says).

use super::ids::NodeId;
use super::time::{SimDuration, SimTime};
use super::trace::{Role, TraceEvent};
use std::collections::VecDeque;

/// A member's campaign start and what it had heard by then.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Campaign {
    /// The member.
    pub node: NodeId,
    /// When it turned pre-candidate or candidate.
    pub began: SimTime,
    /// For each sender that ever reached it, the latest arrival at or before `began`.
    pub last_from: Vec<(NodeId, SimTime)>,
}

/// The running state (see the module documentation).
#[derive(Default)]
pub struct Hearing {
    /// Per link, indexed by receiver, then sender (member ids are small).
    links: Vec<Vec<Link>>,
    /// Members that began campaigning at `clock`, not yet recorded.
    open: Vec<NodeId>,
    clock: SimTime,
    /// The campaigns recorded, in time order.
    pub campaigns: Vec<Campaign>,
}

/// One directed link's arrivals: those still to come, in send order, and the latest counted.
#[derive(Default, Clone)]
struct Link {
    /// Arrival times not yet counted. On an ordered stream they only grow; a reordered or
    /// duplicated copy may arrive later than messages sent after it.
    pending: VecDeque<SimTime>,
    /// The latest arrival counted so far.
    last: Option<SimTime>,
}

impl Link {
    /// Counts the arrivals at the front that happen at or before `t`. Counting an arrival at
    /// or before the current instant early is safe: every campaign still to be recorded
    /// begins at or after it.
    fn count_front(&mut self, t: SimTime) {
        while let Some(&a) = self.pending.front() {
            if a > t {
                break;
            }
            self.pending.pop_front();
            self.last = Some(self.last.map_or(a, |l| l.max(a)));
        }
    }

    /// Counts every arrival at or before `t`, wherever it waits.
    fn count_all(&mut self, t: SimTime) {
        let last = &mut self.last;
        self.pending.retain(|&a| {
            if a <= t {
                *last = Some(last.map_or(a, |l| l.max(a)));
            }
            a > t
        });
    }
}

impl Hearing {
    /// Takes one trace record into account.
    pub fn note(&mut self, at: SimTime, event: &TraceEvent) {
        if at > self.clock {
            self.close_campaigns();
            self.clock = at;
        }
        match *event {
            TraceEvent::MsgSent {
                from,
                to,
                latency_us,
                ..
            } => {
                let link = self.link(to, from);
                link.count_front(at);
                link.pending.push_back(at + SimDuration(latency_us));
            }
            TraceEvent::RoleChanged {
                node,
                role: Role::PreCandidate | Role::Candidate,
                ..
            } => self.open.push(node),
            _ => {}
        }
    }

    /// Records the campaigns still open (the run ended).
    pub fn finish(&mut self) {
        self.close_campaigns();
    }

    /// What `node` had last heard from `from` when it began campaigning at `began`: `None` if
    /// nothing from `from` had reached it, or if no campaign of `node` began then.
    pub fn heard(
        campaigns: &[Campaign],
        node: NodeId,
        began: SimTime,
        from: NodeId,
    ) -> Option<SimTime> {
        let c = campaigns
            .iter()
            .find(|c| c.node == node && c.began == began)?;
        c.last_from
            .iter()
            .find(|(f, _)| *f == from)
            .map(|(_, t)| *t)
    }

    fn link(&mut self, to: NodeId, from: NodeId) -> &mut Link {
        let (to, from) = (to.0 as usize, from.0 as usize);
        if self.links.len() <= to {
            self.links.resize(to + 1, Vec::new());
        }
        let row = &mut self.links[to];
        if row.len() <= from {
            row.resize(from + 1, Link::default());
        }
        &mut row[from]
    }

    fn close_campaigns(&mut self) {
        if self.open.is_empty() {
            return;
        }
        let began = self.clock;
        for node in std::mem::take(&mut self.open) {
            let row = match self.links.get_mut(node.0 as usize) {
                Some(row) => &mut row[..],
                None => &mut [],
            };
            let mut last_from = Vec::new();
            for (from, link) in row.iter_mut().enumerate() {
                link.count_all(began);
                if let Some(t) = link.last {
                    last_from.push((NodeId(from as u64), t));
                }
            }
            self.campaigns.push(Campaign {
                node,
                began,
                last_from,
            });
        }
    }

    /// Arrivals not yet counted, over every link.
    #[cfg(test)]
    fn pending(&self) -> usize {
        self.links.iter().flatten().map(|l| l.pending.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(from: u64, to: u64, latency_us: u64) -> TraceEvent {
        TraceEvent::MsgSent {
            from: NodeId(from),
            to: NodeId(to),
            kind: "MsgHeartbeat",
            term: 1,
            index: 0,
            latency_us,
            duplicate_latency_us: None,
        }
    }

    fn campaign(node: u64) -> TraceEvent {
        TraceEvent::RoleChanged {
            node: NodeId(node),
            role: Role::PreCandidate,
            term: 1,
            leader: 0,
        }
    }

    #[test]
    fn a_campaign_sees_what_arrived_by_its_start_even_if_sent_at_that_instant() {
        let mut h = Hearing::default();
        h.note(SimTime(10), &sent(1, 2, 5)); // arrives at 15
        h.note(SimTime(12), &sent(1, 2, 100)); // arrives at 112: not by 20
        h.note(SimTime(20), &campaign(2));
        h.note(SimTime(20), &sent(1, 2, 0)); // zero latency, same instant: counts
        h.note(SimTime(30), &sent(3, 2, 1));
        h.finish();
        let got = Hearing::heard(&h.campaigns, NodeId(2), SimTime(20), NodeId(1));
        assert_eq!(got, Some(SimTime(20)));
        assert_eq!(
            Hearing::heard(&h.campaigns, NodeId(2), SimTime(20), NodeId(3)),
            None
        );
        assert!(h.pending() <= 2, "arrived messages are not kept");
    }

    #[test]
    fn a_campaign_at_the_end_is_recorded_by_finish() {
        let mut h = Hearing::default();
        h.note(SimTime(1), &sent(1, 2, 1));
        h.note(SimTime(5), &campaign(2));
        assert!(h.campaigns.is_empty());
        h.finish();
        let got = Hearing::heard(&h.campaigns, NodeId(2), SimTime(5), NodeId(1));
        assert_eq!(got, Some(SimTime(2)));
    }
}
