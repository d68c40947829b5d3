//! The Raft safety oracle, checked online after every event a member handles:
//! - election safety: at most one leader per term;
//! - log matching and state-machine safety: an index committed anywhere holds the same term
//!   everywhere it is committed (and so the same entry and prefix);
//! - leader completeness: a new leader's log holds every entry committed before it (entries it
//!   compacted into a snapshot are vouched for by the state-digest oracle, `check::snapshot`);
//! - terms never go backwards on a member; across a crash and restart, a member never comes back
//!   with a term lower than one it already sent messages in (a term bump it never made durable
//!   nor acted on may be lost, which is safe); the commit index never goes backwards within one
//!   incarnation (Raft keeps it in volatile state, so a restart may legitimately start lower).

use crate::sim::ids::NodeId;
use crate::sim::observe::RaftView;
use std::collections::BTreeMap;

/// The online Raft safety checker: what it has seen of every member so far.
#[derive(Default)]
pub struct SafetyOracle {
    leaders: BTreeMap<u64, NodeId>,
    /// index -> term, for every index some member has committed.
    committed: Committed,
    /// What was seen of each member, by member id.
    per_node: Vec<Seen>,
    /// Highest term each member has sent a message in, by member id.
    sent_term: Vec<u64>,
}

#[derive(Default, Clone, Copy)]
struct Seen {
    term: u64,
    incarnation: u64,
    commit: u64,
    checked_upto: u64,
    led_term: Option<u64>,
}

/// index -> term of every committed entry seen: a dense table (indexes are small and mostly
/// contiguous; entry terms start at 1, so 0 marks an index not seen).
#[derive(Default)]
struct Committed(Vec<u64>);

impl Committed {
    fn get(&self, index: u64) -> Option<u64> {
        self.0.get(index as usize).copied().filter(|&t| t != 0)
    }

    fn insert(&mut self, index: u64, term: u64) {
        assert!(term > 0, "a committed entry has a term (index {index})");
        let i = index as usize;
        if self.0.len() <= i {
            self.0.resize(i + 1, 0);
        }
        self.0[i] = term;
    }

    /// The entries seen at `index` and above, in index order.
    fn from(&self, index: u64) -> impl Iterator<Item = (u64, u64)> + '_ {
        let start = (index as usize).min(self.0.len());
        (start..self.0.len())
            .map(|i| (i as u64, self.0[i]))
            .filter(|&(_, t)| t != 0)
    }
}

/// One finding: which nodes, and what.
pub type Finding = (Vec<NodeId>, String);

impl SafetyOracle {
    /// Checks every running member; returns what broke.
    pub fn observe<N: RaftView>(&mut self, nodes: &[N]) -> Vec<Finding> {
        let mut out = Vec::new();
        for n in nodes.iter().filter(|n| n.running()) {
            self.observe_one(n, &mut out);
        }
        out
    }

    fn observe_one(&mut self, n: &impl RaftView, out: &mut Vec<Finding>) {
        let (term, commit) = (n.term(), n.commit_index());
        let (newly_led, from) = self.update_seen(n, term, commit, out);
        if n.is_leader() {
            self.check_leader(n, term, newly_led, out);
        }
        self.check_committed(n, from, commit, out);
    }

    /// Compares `n`'s term and commit index with what was seen of it and records the new ones;
    /// returns whether it leads `term` for the first time seen, and the first committed index
    /// not checked yet. (Updated in place: this runs after every event.)
    fn update_seen(
        &mut self,
        n: &impl RaftView,
        term: u64,
        commit: u64,
        out: &mut Vec<Finding>,
    ) -> (bool, u64) {
        let slot = n.id().0 as usize;
        if self.per_node.len() <= slot {
            self.per_node.resize(slot + 1, Seen::default());
        }
        let sent = self.sent_term.get(slot).copied().unwrap_or(0);
        let seen = &mut self.per_node[slot];
        if n.incarnation() != seen.incarnation {
            if term < sent {
                out.push((vec![n.id()], format!(
                    "term went backwards across a restart of {}: it had sent messages in term {sent} but came back in term {term} (its hard state was not durable)",
                    n.id()
                )));
            }
            *seen = Seen {
                incarnation: n.incarnation(),
                term,
                ..Seen::default()
            };
        } else if term < seen.term {
            out.push((
                vec![n.id()],
                format!("term went backwards on {}: {} -> {term}", n.id(), seen.term),
            ));
        } else if commit < seen.commit {
            out.push((
                vec![n.id()],
                format!(
                    "commit index went backwards on {}: {} -> {commit}",
                    n.id(),
                    seen.commit
                ),
            ));
        }
        seen.term = seen.term.max(term);
        seen.commit = commit;
        let newly_led = n.is_leader() && seen.led_term != Some(term);
        if newly_led {
            seen.led_term = Some(term);
        }
        // Compacted entries live in a snapshot, which the state-digest oracle checks. (Most
        // events commit nothing new: ask for the compaction point only when there is.)
        let from = if commit > seen.checked_upto {
            seen.checked_upto.max(n.compacted_through()) + 1
        } else {
            commit + 1
        };
        seen.checked_upto = seen.checked_upto.max(commit);
        (newly_led, from)
    }

    /// Election safety for a leader `n` of `term`; leader completeness when it is new.
    fn check_leader(
        &mut self,
        n: &impl RaftView,
        term: u64,
        newly_led: bool,
        out: &mut Vec<Finding>,
    ) {
        match self.leaders.get(&term) {
            Some(other) if *other != n.id() => out.push((
                vec![*other, n.id()],
                format!("two leaders in term {term}: {other} and {}", n.id()),
            )),
            Some(_) => {}
            None => {
                self.leaders.insert(term, n.id());
            }
        }
        if newly_led {
            self.leader_complete(n, term, out);
        }
    }

    /// Log matching: `n`'s committed entries from `from` through `commit` hold the terms
    /// committed there anywhere else.
    fn check_committed(
        &mut self,
        n: &impl RaftView,
        from: u64,
        commit: u64,
        out: &mut Vec<Finding>,
    ) {
        for idx in from..=commit {
            let Some(t) = n.log_term(idx) else { break };
            match self.committed.get(idx) {
                Some(c) if c != t => out.push((
                    vec![n.id()],
                    format!(
                        "index {idx} committed with term {c} elsewhere but term {t} on {}",
                        n.id()
                    ),
                )),
                Some(_) => {}
                None => {
                    self.committed.insert(idx, t);
                }
            }
        }
    }

    fn leader_complete(&self, n: &impl RaftView, term: u64, out: &mut Vec<Finding>) {
        let compacted = n.compacted_through();
        if let Some((idx, t)) = self
            .committed
            .from(compacted + 1)
            .find(|&(i, t)| n.log_term(i) != Some(t))
        {
            out.push((
                vec![n.id()],
                format!("leader completeness: {} leads term {term} without committed entry {idx} (term {t})", n.id()),
            ));
        }
    }

    /// A member sent a message in `term` (only durable terms may be acted on).
    pub fn sent(&mut self, node: NodeId, term: u64) {
        let slot = node.0 as usize;
        if self.sent_term.len() <= slot {
            self.sent_term.resize(slot + 1, 0);
        }
        self.sent_term[slot] = self.sent_term[slot].max(term);
    }

    /// An entry a member applied must be the one committed at that index.
    pub fn applied(&mut self, node: NodeId, index: u64, term: u64) -> Option<Finding> {
        match self.committed.get(index) {
            Some(c) if c != term => Some((
                vec![node],
                format!("state machine safety: {node} applied index {index} from term {term}, but term {c} was committed there"),
            )),
            Some(_) => None,
            None => {
                self.committed.insert(index, term);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_machine_safety_on_hand_made_applies() {
        let mut o = SafetyOracle::default();
        assert!(
            o.applied(NodeId(1), 1, 1).is_none(),
            "first sighting records the committed entry"
        );
        assert!(
            o.applied(NodeId(2), 1, 1).is_none(),
            "same entry elsewhere: fine"
        );
        let bad = o
            .applied(NodeId(3), 1, 2)
            .expect("a different term at a committed index");
        assert_eq!(bad.0, vec![NodeId(3)]);
        assert!(bad.1.contains("state machine safety"), "{}", bad.1);
    }

    #[test]
    fn sent_terms_only_grow() {
        let mut o = SafetyOracle::default();
        o.sent(NodeId(1), 5);
        o.sent(NodeId(1), 3);
        assert_eq!(o.sent_term[1], 5);
    }
}
