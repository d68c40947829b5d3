//! The raft log storage raft-rs reads: the entries and hard state raft-rs's `MemStorage` would
//! hold, plus the member's latest snapshot with its state-machine data.
//!
//! `MemStorage::snapshot` builds a snapshot from the hard state's commit index with no data
//! (its own comment says the assumption does not hold for asynchronous Readies), so a leader
//! that must send one to a lagging follower would send an empty state. `SimStorage` answers
//! with the snapshot the member actually took (state machine at its applied index, saved to its
//! snap directory) or received; until there is one, or while it is older than raft-rs asks for,
//! it says `SnapshotTemporarilyUnavailable` and raft-rs asks again later.
//!
//! Everything else behaves as `MemStorage` in raft-rs 0.7 (`src/storage.rs`: `append`,
//! `compact`, `apply_snapshot`, `entries`, `term`, with the same errors and the same size limit,
//! `raft::util::limit_size`), without its lock, and keeping each entry in the compact form the
//! simulated WAL uses ([`WalEntry`]: 56 bytes, the payload shared with the WAL and with
//! messages) instead of a 104-byte protobuf `Entry`: with etcd 3.5's 100,000-entry snapshot
//! interval a member's log holds tens of thousands of entries. `entries` builds raft-rs's
//! entries back; the unit tests compare every answer with `MemStorage`'s.
//!
//! Volatile, like `MemStorage`: rebuilt from the durable snapshot and WAL on restart.

use crate::disk::WalEntry;
use raft::eraftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use raft::{GetEntriesContext, RaftState, Storage, StorageError};

/// `MemStorage`'s log with a real snapshot.
#[derive(Clone)]
pub struct SimStorage {
    raft_state: RaftState,
    /// The entries after `meta`'s index, in index order.
    entries: Vec<WalEntry>,
    /// The index and term the log starts after (the last snapshot applied to it).
    meta: SnapshotMetadata,
    /// The member's latest snapshot, with its data.
    snapshot: Snapshot,
}

impl SimStorage {
    /// Empty, with these voters.
    pub fn new(voters: Vec<u64>) -> SimStorage {
        SimStorage {
            raft_state: RaftState::new(HardState::default(), ConfState::from((voters, vec![]))),
            entries: Vec::new(),
            meta: SnapshotMetadata::default(),
            snapshot: Snapshot::default(),
        }
    }

    fn first(&self) -> u64 {
        self.entries
            .first()
            .map_or(self.meta.index + 1, |e| e.index)
    }

    fn last(&self) -> u64 {
        self.entries.last().map_or(self.meta.index, |e| e.index)
    }

    /// Appends entries raft-rs handed out (a contiguous suffix, possibly overwriting a tail).
    pub fn append(&mut self, entries: &[Entry]) {
        if let Some(head) = entries.first() {
            self.make_room(head.index, entries.len());
            self.entries.extend(entries.iter().map(WalEntry::of));
        }
    }

    /// Appends entries replayed from the WAL on restart (already in the log's own form).
    pub fn replay(&mut self, entries: &[WalEntry]) {
        if let Some(head) = entries.first() {
            self.make_room(head.index, entries.len());
            self.entries.extend_from_slice(entries);
        }
    }

    /// Drops the entries from `index` on, which `n` new ones replace, checking they continue
    /// the log as `MemStorage::append` does.
    fn make_room(&mut self, index: u64, n: usize) {
        assert!(
            index >= self.first(),
            "overwrite compacted raft logs, compacted: {}, append: {index}",
            self.first() - 1
        );
        assert!(
            index <= self.last() + 1,
            "raft logs should be continuous, last index: {}, new appended: {index}",
            self.last()
        );
        self.entries.truncate((index - self.first()) as usize);
        crate::sim::reserve_gently(&mut self.entries, n, WalEntry::LONG_LOG);
    }

    /// Sets the hard state.
    pub fn set_hardstate(&mut self, hs: HardState) {
        self.raft_state.hard_state = hs;
    }

    /// Installs a snapshot received from the leader (or restored from disk): the log restarts
    /// after it.
    pub fn install(&mut self, snap: Snapshot) {
        let meta = snap.get_metadata();
        assert!(
            meta.index >= self.first(),
            "raft-rs hands out snapshots newer than the log's start: {} before {}",
            meta.index,
            self.first()
        );
        let hs = &mut self.raft_state.hard_state;
        hs.term = hs.term.max(meta.term);
        hs.commit = meta.index;
        self.raft_state.conf_state = meta.get_conf_state().clone();
        self.meta = meta.clone();
        self.entries.clear();
        self.snapshot = snap;
    }

    /// A snapshot this member took of its own state machine (now durable); the log before
    /// `compact_to` is dropped, keeping the entries after it for followers slightly behind.
    pub fn took(&mut self, snap: Snapshot, compact_to: u64) {
        self.snapshot = snap;
        if compact_to <= self.first() {
            return;
        }
        assert!(
            compact_to <= self.last() + 1,
            "compacting within the applied log: {compact_to} after {}",
            self.last()
        );
        let drop = (compact_to - self.first()) as usize;
        self.entries.drain(..drop);
    }

    /// The latest snapshot's index (0: none).
    pub fn snapshot_index(&self) -> u64 {
        self.snapshot.get_metadata().index
    }
}

impl Storage for SimStorage {
    fn initial_state(&self) -> raft::Result<RaftState> {
        Ok(self.raft_state.clone())
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft::Result<Vec<Entry>> {
        if low < self.first() {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        assert!(
            high <= self.last() + 1,
            "index out of bound (last: {}, high: {high})",
            self.last() + 1
        );
        let first = self.first();
        let slice = &self.entries[(low - first) as usize..(high - first) as usize];
        let mut out: Vec<Entry> = slice.iter().map(WalEntry::to_entry).collect();
        raft::util::limit_size(&mut out, max_size.into());
        Ok(out)
    }

    fn term(&self, idx: u64) -> raft::Result<u64> {
        if idx == self.meta.index {
            return Ok(self.meta.term);
        }
        let first = self.first();
        if idx < first {
            return Err(raft::Error::Store(StorageError::Compacted));
        }
        if idx > self.last() {
            return Err(raft::Error::Store(StorageError::Unavailable));
        }
        Ok(self.entries[(idx - first) as usize].term)
    }

    fn first_index(&self) -> raft::Result<u64> {
        Ok(self.first())
    }

    fn last_index(&self) -> raft::Result<u64> {
        Ok(self.last())
    }

    fn snapshot(&self, request_index: u64, _to: u64) -> raft::Result<Snapshot> {
        if self.snapshot_index() > 0 && self.snapshot_index() >= request_index {
            Ok(self.snapshot.clone())
        } else {
            Err(raft::Error::Store(
                StorageError::SnapshotTemporarilyUnavailable,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use raft::storage::MemStorage;

    /// One change to both storages.
    #[derive(Clone, Debug)]
    enum Step {
        /// Append entries `from..from + n` in `term` (from is taken modulo what is legal).
        Append { from: u64, n: u64, term: u64 },
        /// Compact to an index (taken modulo what is legal).
        Compact(u64),
        /// Install a snapshot at an index past the log's start, in a term.
        Install { ahead: u64, term: u64 },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => (0u64..40, 1u64..6, 1u64..5).prop_map(|(from, n, term)| Step::Append { from, n, term }),
            1 => (0u64..40).prop_map(Step::Compact),
            1 => (0u64..10, 1u64..9).prop_map(|(ahead, term)| Step::Install { ahead, term }),
        ]
    }

    fn entry(index: u64, term: u64) -> Entry {
        Entry {
            index,
            term,
            data: format!("entry {index}").into_bytes().into(),
            ..Default::default()
        }
    }

    fn apply(s: &Step, sim: &mut SimStorage, mem: &MemStorage) {
        let (first, last) = (sim.first(), sim.last());
        match *s {
            Step::Append { from, n, term } => {
                let start = first + from % (last + 2 - first);
                let ents: Vec<Entry> = (start..start + n).map(|i| entry(i, term)).collect();
                if term % 2 == 0 {
                    // The restart path: the same entries, replayed from the WAL's form.
                    let wal: Vec<WalEntry> = ents.iter().map(WalEntry::of).collect();
                    sim.replay(&wal);
                } else {
                    sim.append(&ents);
                }
                mem.wl().append(&ents).unwrap();
            }
            Step::Compact(to) => {
                let to = first + to % (last + 2 - first);
                sim.took(Snapshot::default(), to);
                mem.wl().compact(to).unwrap();
            }
            Step::Install { ahead, term } => {
                let mut snap = Snapshot::default();
                let meta = snap.mut_metadata();
                meta.index = first + ahead;
                meta.term = term;
                meta.mut_conf_state().voters = vec![1, 2, 3];
                sim.install(snap.clone());
                mem.wl().apply_snapshot(snap).unwrap();
            }
        }
    }

    fn same_answers(sim: &SimStorage, mem: &MemStorage) {
        let ctx = || GetEntriesContext::empty(false);
        assert_eq!(sim.first_index().unwrap(), mem.first_index().unwrap());
        assert_eq!(sim.last_index().unwrap(), mem.last_index().unwrap());
        let (a, b) = (sim.initial_state().unwrap(), mem.initial_state().unwrap());
        assert_eq!((a.hard_state, a.conf_state), (b.hard_state, b.conf_state));
        let (first, last) = (sim.first(), sim.last());
        for idx in first.saturating_sub(2)..=last + 2 {
            assert_eq!(sim.term(idx), mem.term(idx), "term({idx})");
        }
        if sim.entries.is_empty() {
            return; // MemStorage indexes its first entry unchecked: nothing to ask
        }
        for lo in first.saturating_sub(1)..=last + 1 {
            for hi in lo.max(first)..=last + 1 {
                for max in [None, Some(0), Some(30), Some(100)] {
                    let a = sim.entries(lo, hi, max, ctx());
                    let b = mem.entries(lo, hi, max, ctx());
                    assert_eq!(a, b, "entries({lo}, {hi}, {max:?})");
                }
            }
        }
    }

    proptest! {
        #[test]
        fn answers_as_raft_rs_mem_storage_does(steps in proptest::collection::vec(step(), 1..25)) {
            let mut sim = SimStorage::new(vec![1, 2, 3]);
            let mem = MemStorage::new_with_conf_state(ConfState::from((vec![1, 2, 3], vec![])));
            for s in &steps {
                apply(s, &mut sim, &mem);
                same_answers(&sim, &mem);
            }
        }
    }
}
