//! The configuration oracle, online: membership changes are safe.
//!
//! Each member reports every configuration change the moment it takes effect on it (raft-rs's
//! `apply_conf_change`), with its commit index then and its member list after it. Findings:
//! - a change took effect before it was committed on that member (Raft's rule for one change at
//!   a time; raft-rs documents that changes must be applied only from committed entries);
//! - two members put different changes, or reached different member lists, at the same index:
//!   every member derives its configuration from the same committed log (or a snapshot of it),
//!   so disagreement means a change took effect that the log did not commit, or a snapshot or
//!   restart rebuilt the configuration wrongly.
//!
//! Election safety across configurations (one leader per term whatever the member lists) is
//! the safety oracle's (`check::safety`); etcd's changes are simple (one member at a time), so
//! there is no joint configuration to check.

use crate::sim::ids::NodeId;
use crate::sim::observe::ConfApplied as ConfReport;
use std::collections::BTreeMap;

/// What every member reported so far.
#[derive(Default)]
pub struct ConfigChecker {
    /// index -> the first report there.
    at: BTreeMap<u64, ConfReport>,
}

impl ConfigChecker {
    /// A member's change; findings as (members, what).
    pub fn report(&mut self, r: ConfReport) -> Vec<(Vec<NodeId>, String)> {
        let mut out = Vec::new();
        if r.index > r.commit {
            out.push((
                vec![r.node],
                format!(
                    "configuration safety: the change at index {} (term {}) took effect on {} before it was committed (commit index {})",
                    r.index, r.term, r.node, r.commit
                ),
            ));
        }
        match self.at.get(&r.index) {
            Some(first)
                if (first.term, &first.voters, &first.learners)
                    != (r.term, &r.voters, &r.learners) =>
            {
                out.push((
                    vec![first.node, r.node],
                    format!(
                        "configuration safety: at index {} {} has {} (term {}), {} had {} (term {})",
                        r.index,
                        r.node,
                        describe(&r.voters, &r.learners),
                        r.term,
                        first.node,
                        describe(&first.voters, &first.learners),
                        first.term
                    ),
                ));
            }
            Some(_) => {}
            None => {
                self.at.insert(r.index, r);
            }
        }
        out
    }
}

fn describe(voters: &[u64], learners: &[u64]) -> String {
    let ids = |v: &[u64]| {
        v.iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    if learners.is_empty() {
        format!("voters {}", ids(voters))
    } else {
        format!("voters {} learners {}", ids(voters), ids(learners))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rep(node: u64, index: u64, commit: u64, voters: &[u64]) -> ConfReport {
        ConfReport {
            node: NodeId(node),
            index,
            term: 2,
            commit,
            voters: voters.to_vec(),
            learners: vec![],
        }
    }

    #[test]
    fn a_change_before_commit_is_caught() {
        let mut c = ConfigChecker::default();
        assert!(c.report(rep(1, 5, 5, &[1, 2, 3, 4])).is_empty());
        let f = c.report(rep(2, 6, 5, &[1, 2, 3]));
        assert_eq!(f.len(), 1);
        assert!(f[0].1.contains("before it was committed"), "{f:?}");
    }

    #[test]
    fn members_disagreeing_at_an_index_are_caught() {
        let mut c = ConfigChecker::default();
        assert!(c.report(rep(1, 5, 5, &[1, 2, 3, 4])).is_empty());
        assert!(c.report(rep(2, 5, 7, &[1, 2, 3, 4])).is_empty());
        let f = c.report(rep(3, 5, 7, &[1, 2, 3]));
        assert_eq!(f[0].0, vec![NodeId(1), NodeId(3)]);
        assert!(
            f[0].1
                .contains("voters 1,2,3 (term 2), etcd-1 had voters 1,2,3,4"),
            "{f:?}"
        );
    }
}
