//! The Ready-contract oracle: judges the facts the driver reports ([`Observation`]) against
//! raft-rs's Ready contract (`docs/reference/raft-rs.md` sections 1-2):
//! - messages raft-rs said must wait for persistence leave only after their Ready is durable;
//! - only committed entries are applied;
//! - one Ready's entries and hard state become durable together (after every WAL write, the
//!   durable hard state matches the durable log);
//! - an entry applied before a crash is still on disk after it.

use crate::sim::observe::{DurableSummary, Observation};

/// What is wrong with an observation, if anything.
pub fn judge(o: &Observation) -> Vec<String> {
    match *o {
        Observation::WalDurable { durable, .. } => durable_problem(durable).into_iter().collect(),
        Observation::Restarting {
            durable,
            applied_before_crash,
            kept_term,
            torn,
            ..
        } => {
            // After a torn write, entries without their hard state are expected (etcd writes
            // entries first); only a commit beyond the log would still be wrong.
            let d = if torn {
                DurableSummary {
                    term: durable.term.max(durable.last_entry_term),
                    ..durable
                }
            } else {
                durable
            };
            let mut v: Vec<String> = durable_problem(d).into_iter().collect();
            if let Some((index, term)) = applied_before_crash {
                if kept_term != Some(term) {
                    let kept = kept_term.map_or("nothing at that index".into(), |t| {
                        format!("an entry of term {t} there")
                    });
                    v.push(format!(
                        "entry {index} (term {term}) was applied before the crash but the disk kept {kept}"
                    ));
                }
            }
            v
        }
        Observation::HeldMessagesSent {
            ready,
            durable_ready,
            count,
            ..
        } if count > 0 && ready > durable_ready => vec![format!(
            "{count} message(s) of Ready {ready} that must wait for persistence left before it was durable (durable up to Ready {durable_ready})"
        )],
        Observation::EntryApplied {
            index,
            term,
            commit,
            ..
        } if index > commit => vec![format!(
            "entry {index} (term {term}) applied before it was committed (commit {commit})"
        )],
        _ => vec![],
    }
}

/// A durable state a crash could not safely leave behind: a hard state that does not match the
/// entries written with it.
pub fn durable_problem(d: DurableSummary) -> Option<String> {
    if d.commit > d.last_index {
        return Some(format!(
            "durable commit {} is beyond the durable log's end {}: a Ready's hard state and entries were not persisted atomically",
            d.commit, d.last_index
        ));
    }
    if d.first_entry_index != 0 && d.first_entry_index != d.snapshot_index + 1 {
        return Some(format!(
            "the durable WAL starts at index {} but the durable snapshot covers only through {}: entries were released before the snapshot replacing them was durable",
            d.first_entry_index, d.snapshot_index
        ));
    }
    if d.term < d.last_entry_term {
        return Some(format!(
            "durable term {} is older than the last durable entry's term {}: the hard state was not persisted with its entries",
            d.term, d.last_entry_term
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::ids::NodeId;

    fn durable(commit: u64, term: u64, last_index: u64, last_entry_term: u64) -> DurableSummary {
        DurableSummary {
            commit,
            term,
            last_index,
            last_entry_term,
            snapshot_index: 0,
            first_entry_index: (last_index > 0) as u64,
        }
    }

    #[test]
    fn judges_each_kind_of_fact() {
        let node = NodeId(1);
        let ok = Observation::WalDurable {
            node,
            durable: durable(3, 2, 4, 2),
        };
        assert!(judge(&ok).is_empty());
        let torn = Observation::WalDurable {
            node,
            durable: durable(5, 2, 4, 2),
        };
        assert!(judge(&torn)[0].contains("not persisted atomically"));
        let early = Observation::HeldMessagesSent {
            node,
            ready: 7,
            durable_ready: 6,
            count: 2,
        };
        assert!(judge(&early)[0].contains("left before it was durable"));
        let lost = Observation::Restarting {
            node,
            durable: durable(1, 1, 1, 1),
            applied_before_crash: Some((2, 1)),
            kept_term: None,
            torn: false,
        };
        assert!(judge(&lost)[0].contains("applied before the crash"));
        let uncommitted = Observation::EntryApplied {
            node,
            index: 5,
            term: 1,
            commit: 4,
        };
        assert_eq!(judge(&uncommitted).len(), 1);
    }
}
