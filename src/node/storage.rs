//! The raft log storage raft-rs reads: raft-rs's `MemStorage` for entries and hard state, plus
//! the member's latest snapshot with its state-machine data.
//!
//! `MemStorage::snapshot` builds a snapshot from the hard state's commit index with no data
//! (its own comment says the assumption does not hold for asynchronous Readies), so a leader
//! that must send one to a lagging follower would send an empty state. `SimStorage` answers
//! with the snapshot the member actually took (state machine at its applied index, saved to its
//! snap directory) or received; until there is one, or while it is older than raft-rs asks for,
//! it says `SnapshotTemporarilyUnavailable` and raft-rs asks again later.
//!
//! Volatile, like `MemStorage`: rebuilt from the durable snapshot and WAL on restart. The log's
//! first and last indexes, which raft-rs asks for on nearly every step, are kept beside it
//! (updated by every change) instead of read through `MemStorage`'s lock each time.

use raft::eraftpb::{ConfState, Entry, HardState, Snapshot};
use raft::storage::MemStorage;
use raft::{GetEntriesContext, RaftState, Storage};

/// `MemStorage` with a real snapshot.
#[derive(Clone)]
pub struct SimStorage {
    mem: MemStorage,
    snapshot: Snapshot,
    /// `mem`'s first index, kept current.
    first: u64,
    /// `mem`'s last index, kept current.
    last: u64,
}

impl SimStorage {
    /// Empty, with these voters.
    pub fn new(voters: Vec<u64>) -> SimStorage {
        let mut s = SimStorage {
            mem: MemStorage::new_with_conf_state(ConfState::from((voters, vec![]))),
            snapshot: Snapshot::default(),
            first: 0,
            last: 0,
        };
        s.refresh();
        s
    }

    fn refresh(&mut self) {
        self.first = self.mem.first_index().expect("MemStorage answers");
        self.last = self.mem.last_index().expect("MemStorage answers");
    }

    /// Appends entries raft-rs handed out (a contiguous suffix, possibly overwriting a tail).
    pub fn append(&mut self, entries: &[Entry]) {
        if entries.is_empty() {
            return;
        }
        self.mem
            .wl()
            .append(entries)
            .expect("raft-rs hands out a contiguous suffix");
        self.refresh();
    }

    /// Sets the hard state.
    pub fn set_hardstate(&mut self, hs: HardState) {
        self.mem.wl().set_hardstate(hs);
    }

    /// Installs a snapshot received from the leader (or restored from disk): the log restarts
    /// after it.
    pub fn install(&mut self, snap: Snapshot) {
        self.mem
            .wl()
            .apply_snapshot(snap.clone())
            .expect("raft-rs hands out snapshots newer than the log's start");
        self.snapshot = snap;
        self.refresh();
    }

    /// A snapshot this member took of its own state machine (now durable); the log before
    /// `compact_to` is dropped, keeping the entries after it for followers slightly behind.
    pub fn took(&mut self, snap: Snapshot, compact_to: u64) {
        self.snapshot = snap;
        if compact_to > self.first {
            self.mem
                .wl()
                .compact(compact_to)
                .expect("compacting within the applied log");
            self.refresh();
        }
    }

    /// The latest snapshot's index (0: none).
    pub fn snapshot_index(&self) -> u64 {
        self.snapshot.get_metadata().index
    }
}

impl Storage for SimStorage {
    fn initial_state(&self) -> raft::Result<RaftState> {
        self.mem.initial_state()
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        self.mem.entries(low, high, max_size, context)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        self.mem.term(idx)
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.first)
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.last)
    }

    fn snapshot(&self, request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        if self.snapshot_index() > 0 && self.snapshot_index() >= request_index {
            Ok(self.snapshot.clone())
        } else {
            Err(raft::Error::Store(
                raft::StorageError::SnapshotTemporarilyUnavailable,
            ))
        }
    }
}
