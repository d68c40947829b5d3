//! The bug zoo: deliberately wrong driver behaviours, compiled in and off by default, that prove
//! the oracles can fail. Select one with `RunOptions::bug` or `--bug NAME`.

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
/// A deliberately wrong driver behaviour from the bug zoo, to prove the oracles can fail.
pub enum Bug {
    /// Messages raft-rs said must wait for persistence leave before the fsync.
    SendBeforePersist,
    /// A client write is acknowledged as soon as the leader proposes it, before it commits.
    AckBeforeCommit,
    /// Entries are applied to the state machine as soon as they are appended.
    ApplyUncommitted,
    /// The hard state (term, vote, commit) is never fsynced, so a crash loses it.
    LoseHardstate,
    /// The hard state and the entries of one Ready are persisted as two separate writes.
    NonAtomicPersist,
    /// "Linearizable" reads are served from local state without ReadIndex.
    LocalLinearizableRead,
    /// A ReadIndex request that raft-rs dropped is never retried.
    NoReadindexRetry,
    /// Linearizable reads served on raft-rs's leader lease (`read_only = lease_based`, with
    /// CheckQuorum), which is safe only while clocks keep pace: exploration's `clock_drift`
    /// faults break it.
    LeaseReadDrift,
    /// The leader commits the highest index stored on a majority whatever its term: the rule
    /// Figure 8 of the Raft paper shows to be unsafe (raft-rs commits only entries of its own
    /// term by counting, `RaftLog::maybe_commit`).
    CommitByCounting,
    /// A snapshot is labelled with the commit index while it holds the applied state (the
    /// assumption raft-rs's `MemStorage::snapshot` makes), and the log is compacted past
    /// entries not yet applied.
    CompactUnapplied,
    /// A restart loads the raft log after the durable snapshot but not the snapshot's state
    /// into the state machine.
    ForgetSnapshotOnRestart,
    /// A received snapshot is acknowledged before the WAL write saving it is durable.
    SnapshotBeforePersist,
    /// A configuration change takes effect in raft-rs when its entry is appended, not when it
    /// commits.
    ApplyConfChangeEarly,
}

impl Bug {
    /// Every bug in the zoo.
    pub const ALL: [Bug; 13] = [
        Bug::SendBeforePersist,
        Bug::AckBeforeCommit,
        Bug::ApplyUncommitted,
        Bug::LoseHardstate,
        Bug::NonAtomicPersist,
        Bug::LocalLinearizableRead,
        Bug::NoReadindexRetry,
        Bug::LeaseReadDrift,
        Bug::CommitByCounting,
        Bug::CompactUnapplied,
        Bug::ForgetSnapshotOnRestart,
        Bug::SnapshotBeforePersist,
        Bug::ApplyConfChangeEarly,
    ];

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Bug::SendBeforePersist => "send-before-persist",
            Bug::AckBeforeCommit => "ack-before-commit",
            Bug::ApplyUncommitted => "apply-uncommitted",
            Bug::LoseHardstate => "lose-hardstate",
            Bug::NonAtomicPersist => "non-atomic-persist",
            Bug::LocalLinearizableRead => "local-linearizable-read",
            Bug::NoReadindexRetry => "no-readindex-retry",
            Bug::LeaseReadDrift => "lease-read-drift",
            Bug::CommitByCounting => "commit-by-counting",
            Bug::CompactUnapplied => "compact-unapplied",
            Bug::ForgetSnapshotOnRestart => "forget-snapshot-on-restart",
            Bug::SnapshotBeforePersist => "snapshot-before-persist",
            Bug::ApplyConfChangeEarly => "apply-confchange-early",
        }
    }

    /// What the bug does wrong, in a sentence.
    pub fn describe(self) -> &'static str {
        match self {
            Bug::SendBeforePersist => {
                "persisted messages (votes, append acks) leave before their Ready is fsynced"
            }
            Bug::AckBeforeCommit => {
                "a client write is acknowledged when proposed, before it commits"
            }
            Bug::ApplyUncommitted => {
                "entries are applied as soon as they are appended, committed or not"
            }
            Bug::LoseHardstate => {
                "the hard state (term, vote, commit) is never fsynced and is lost on crash"
            }
            Bug::NonAtomicPersist => {
                "a Ready's hard state and entries are persisted as two separate writes"
            }
            Bug::LocalLinearizableRead => {
                "linearizable reads are served locally, without ReadIndex"
            }
            Bug::NoReadindexRetry => "a ReadIndex request that raft-rs dropped is never retried",
            Bug::LeaseReadDrift => {
                "linearizable reads trust the leader's lease, which clock drift breaks"
            }
            Bug::CommitByCounting => {
                "the leader commits entries of earlier terms by counting replicas (Raft Figure 8)"
            }
            Bug::CompactUnapplied => {
                "snapshots claim the commit index but hold the applied state; the log is compacted past unapplied entries"
            }
            Bug::ForgetSnapshotOnRestart => {
                "a restart replays the WAL after the snapshot without loading the snapshot's state"
            }
            Bug::SnapshotBeforePersist => {
                "a received snapshot is acknowledged before it is durable"
            }
            Bug::ApplyConfChangeEarly => {
                "a configuration change takes effect when appended, before it commits"
            }
        }
    }

    /// Finds a bug by name; the error lists the names.
    pub fn parse(name: &str) -> Result<Bug, String> {
        Bug::ALL
            .into_iter()
            .find(|b| b.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Bug::ALL.iter().map(|b| b.name()).collect();
                format!(
                    "unknown bug `{name}`; the bug zoo has: {}",
                    names.join(", ")
                )
            })
    }
}

/// What the `ack-before-commit` bug answers for a write it acknowledges at proposal: the result
/// the write would have if it were applied next on top of `revision`.
pub(crate) fn guessed_result(
    op: &crate::node::kv::KvOp,
    revision: u64,
) -> crate::node::kv::KvResult {
    use crate::node::kv::{KvOp, KvResult};
    let rev = revision + 1;
    match op {
        KvOp::Put { .. } => KvResult::Put { revision: rev },
        KvOp::Delete { .. } => KvResult::Delete {
            revision: rev,
            deleted: 1,
        },
        KvOp::Txn { .. } => KvResult::Txn {
            revision: rev,
            succeeded: true,
        },
        KvOp::LeaseGrant { id, ttl_s } => KvResult::LeaseGrant {
            revision,
            id: *id,
            ttl_s: *ttl_s,
        },
        KvOp::LeaseRevoke { .. } => KvResult::LeaseRevoke {
            revision: rev,
            deleted: 0,
        },
        KvOp::Machine { .. } => KvResult::Machine {
            response: "null".into(),
        },
    }
}
