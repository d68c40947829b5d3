//! Virtual disk of one member.
//!
//! Models three I/O classes, each a serial FIFO device: `wal` (raft log append + fsync of one
//! Ready's entries and hard state), `apply` (state-machine apply / backend commit) and `snap`
//! (writing a snapshot of the state machine to the snap directory, etcd's `SaveSnap`). Each
//! operation's service time is drawn from the class's latency range when it reaches the head of
//! its queue; a `disk_slow` fault replaces that range for a while.
//!
//! Fault model: a *stall* on a class parks the operation at the head of the queue (and so every
//! later one) until the stall ends, whatever time the operation started; the process stays alive.
//! An *fsync error* makes a WAL operation complete with `EIO`; nothing of it becomes durable.
//! A *torn write* fault makes a crash keep a prefix of the WAL write in progress: the whole
//! entries written before the tear (etcd's `WAL.Save` writes a Ready's entries, then its hard
//! state, then syncs; every record carries a CRC and restart truncates a torn tail). A *lying
//! fsync* fault acknowledges syncs without persisting: a crash returns the disk to what it held
//! before the first lying sync, and the first honest sync afterwards flushes everything.
//!
//! Durability model (what survives a crash):
//! - a WAL write is durable only once its operation completes without error (and, under a lying
//!   fsync, only once an honest sync follows); the entries and hard state of one Ready become
//!   durable together, in submission order, except for the prefix a torn write leaves;
//! - a crash discards every queued or in-progress operation (page-cache contents are lost), and
//!   bumps the disk's epoch so completions scheduled before the crash are ignored;
//! - a snapshot write is durable once it completes (lying fsyncs included, as for the WAL); it
//!   replaces the WAL entries it covers (etcd purges WAL files behind the latest snapshot), and a
//!   snapshot received from the leader travels in the Ready's WAL write, durable with it;
//! - the state machine is not kept on disk beyond the snapshot: a restarted member restores the
//!   latest durable snapshot and replays the durable log after it.
//!
//! Invariants: durable entries are contiguous from just after the durable snapshot's index (from
//! index 1 without one). Whether the durable hard state's commit
//! stays within the durable log is the driver's duty (one Ready, one atomic write), checked by the
//! Ready-contract oracle when a member restarts.

use crate::sim::rng::SimRng;
use crate::sim::time::{SimDuration, SimTime};
use raft::eraftpb::{Entry, EntryType, HardState, Message, Snapshot};
use serde::Serialize;
use std::collections::VecDeque;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
/// The I/O classes of a disk, each a serial queue.
pub enum IoClass {
    /// Raft log appends and their fsync.
    Wal,
    /// State-machine apply / backend commit.
    Apply,
    /// Saving a snapshot of the state machine.
    Snap,
}

impl IoClass {
    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            IoClass::Wal => "wal",
            IoClass::Apply => "apply",
            IoClass::Snap => "snap",
        }
    }
    fn idx(self) -> usize {
        self as usize
    }
}

/// A fault of one disk, as a scenario schedules it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiskFault {
    /// Operations of this class park at the head of their queue until the fault ends.
    Stall(IoClass),
    /// Operations of this class take a latency drawn from this range instead.
    Slow {
        /// The I/O class.
        io: IoClass,
        /// Shortest service time.
        latency_min: SimDuration,
        /// Longest service time.
        latency_max: SimDuration,
    },
    /// WAL fsyncs fail with EIO: only the next one (`once`), or every one until the fault ends.
    FsyncError {
        /// Only the next fsync fails.
        once: bool,
    },
    /// A crash while a WAL write is in progress leaves a prefix of its records (etcd's WAL writes
    /// a Ready's entries, then its hard state, then fsyncs); restart finds the torn record by its
    /// checksum and truncates it.
    TornWrite,
    /// fsync returns success without persisting: writes acknowledged while the fault is active
    /// are lost if the member crashes before an honest fsync flushes them.
    FsyncLies,
}

/// Latency ranges of one disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DiskModel {
    /// Shortest WAL write + fsync.
    pub wal_latency_min: SimDuration,
    /// Longest WAL write + fsync.
    pub wal_latency_max: SimDuration,
    /// Shortest apply batch.
    pub apply_latency_min: SimDuration,
    /// Longest apply batch.
    pub apply_latency_max: SimDuration,
    /// Shortest snapshot save.
    pub snap_latency_min: SimDuration,
    /// Longest snapshot save.
    pub snap_latency_max: SimDuration,
}

impl Default for DiskModel {
    fn default() -> Self {
        // etcd's FAQ: WAL fsync p99 should stay under 10 ms; a healthy SSD is around 1 ms.
        DiskModel {
            wal_latency_min: SimDuration::from_micros(500),
            wal_latency_max: SimDuration::from_millis(2),
            apply_latency_min: SimDuration::ZERO,
            apply_latency_max: SimDuration::ZERO,
            // A small state machine to a healthy SSD: one file write and fsync.
            snap_latency_min: SimDuration::from_millis(1),
            snap_latency_max: SimDuration::from_millis(5),
        }
    }
}

/// One Ready's worth of log writes.
#[derive(Debug, Default)]
pub struct WalWrite {
    /// The Ready number.
    pub ready: u64,
    /// The log entries.
    pub entries: Vec<Entry>,
    /// raft's hard state (term, vote, commit).
    pub hard_state: Option<HardState>,
    /// Messages raft-rs said must wait until this write is durable.
    pub held_msgs: Vec<Message>,
    /// False for a write that carries nothing that needs fsync (only held messages or a
    /// commit-index change): it costs no time and is not made durable.
    pub fsync: bool,
    /// A snapshot received from the leader, saved before the entries.
    pub snapshot: Option<Snapshot>,
}

/// A snapshot of this member's own state machine, saved to the snap directory.
#[derive(Debug, Default)]
pub struct SnapWrite {
    /// The snapshot (metadata and the state machine's data).
    pub snapshot: Snapshot,
}

/// A batch of committed entries to apply to the state machine, after restoring a snapshot
/// received from the leader when there is one.
#[derive(Debug, Default)]
pub struct ApplyBatch {
    /// A snapshot to restore first.
    pub snapshot: Option<Snapshot>,
    /// The log entries.
    pub entries: Vec<Entry>,
}

/// What the disk keeps across a crash.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Durable {
    /// The latest durable snapshot (index 0: none).
    pub snapshot: Snapshot,
    /// raft's hard state (term, vote, commit).
    pub hard_state: HardState,
    /// The log entries after the snapshot.
    pub entries: Vec<WalEntry>,
}

/// One log entry as the simulated WAL keeps it: what a restart needs to rebuild raft-rs's
/// entry. The data is shared with the raft log and the messages that carried it. The protobuf
/// `Entry` also has a context, a deprecated `sync_log` flag and protobuf bookkeeping: raftsim
/// proposes no context and never sets the flag (checked when an entry is written), so this is
/// 56 bytes where an `Entry` is 104, for every entry of every member's WAL (3.5's default
/// snapshot count keeps up to 100,000 of them).
#[derive(Clone, Debug, PartialEq)]
pub struct WalEntry {
    /// The log index.
    pub index: u64,
    /// The term it was proposed in.
    pub term: u64,
    /// The payload.
    pub data: bytes::Bytes,
    /// Normal entry or configuration change.
    pub entry_type: EntryType,
}

impl WalEntry {
    /// From this many entries on, a log of them grows by an eighth at a time instead of
    /// doubling.
    pub const LONG_LOG: usize = 4096;

    /// The WAL's copy of `e`.
    pub fn of(e: &Entry) -> WalEntry {
        assert!(
            e.context.is_empty() && !e.sync_log,
            "entry {} carries a context or sync_log, which the simulated WAL does not keep",
            e.index
        );
        WalEntry {
            index: e.index,
            term: e.term,
            data: e.data.clone(),
            entry_type: e.entry_type,
        }
    }

    /// The entry raft-rs is given back on restart.
    pub fn to_entry(&self) -> Entry {
        Entry {
            index: self.index,
            term: self.term,
            data: self.data.clone(),
            entry_type: self.entry_type,
            ..Default::default()
        }
    }
}

impl Durable {
    /// The last log index.
    pub fn last_index(&self) -> u64 {
        self.entries
            .last()
            .map_or(self.snapshot_index(), |e| e.index)
    }

    /// The index the durable snapshot covers (0: none).
    pub fn snapshot_index(&self) -> u64 {
        self.snapshot.get_metadata().index
    }

    /// The term of the entry at `index`, if the disk still knows it (the snapshot's own index
    /// included; entries the snapshot replaced are not known).
    pub fn term_at(&self, index: u64) -> Option<u64> {
        let snap = self.snapshot.get_metadata();
        if index == snap.index && index > 0 {
            return Some(snap.term);
        }
        let first = snap.index + 1;
        if index < first {
            return None;
        }
        self.entries.get((index - first) as usize).map(|e| e.term)
    }

    /// Whether `index` is covered by the durable snapshot.
    pub fn covers(&self, index: u64) -> bool {
        index <= self.snapshot_index()
    }

    fn write(&mut self, w: &WalWrite) {
        if let Some(snap) = &w.snapshot {
            // A snapshot from the leader replaces the whole log (raft-rs `apply_snapshot`).
            self.snapshot = snap.clone();
            self.entries.clear();
        }
        if let Some(first) = w.entries.first() {
            let base = self.snapshot_index();
            assert!(
                first.index > base && first.index <= self.last_index() + 1,
                "WAL write leaves a gap or overwrites the snapshot: first {} after last {} (snapshot {base})",
                first.index,
                self.last_index()
            );
            self.entries.truncate((first.index - base - 1) as usize);
            crate::sim::reserve_gently(&mut self.entries, w.entries.len(), WalEntry::LONG_LOG);
            self.entries.extend(w.entries.iter().map(WalEntry::of));
        }
        if let Some(hs) = &w.hard_state {
            self.hard_state = hs.clone();
        }
    }

    /// A local snapshot became durable: it replaces the entries it covers.
    fn save_snapshot(&mut self, snap: &Snapshot) {
        let index = snap.get_metadata().index;
        if index <= self.snapshot_index() {
            return;
        }
        let base = self.snapshot_index();
        let covered = ((index - base) as usize).min(self.entries.len());
        self.entries.drain(..covered);
        self.snapshot = snap.clone();
    }
}

/// Result of a completed operation.
#[derive(Debug)]
pub enum Completion {
    /// Raft log appends and their fsync.
    Wal(Result<WalWrite, DiskError>),
    /// State-machine apply / backend commit.
    Apply(ApplyBatch),
    /// A snapshot saved.
    Snap(SnapWrite),
    /// The head operation is parked behind a stall; nothing completed.
    Parked,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
/// Why a disk operation failed.
pub enum DiskError {
    #[error("fsync failed: EIO")]
    /// EIO: the write failed and nothing of it is durable.
    Eio,
}

struct Queue<T> {
    ops: VecDeque<T>,
    /// When the head's service began.
    head_since: SimTime,
    /// Service time of the head, drawn when it reached the head.
    head_started: bool,
    parked: bool,
}

impl<T> Default for Queue<T> {
    fn default() -> Self {
        Queue {
            ops: VecDeque::new(),
            head_since: SimTime::ZERO,
            head_started: false,
            parked: false,
        }
    }
}

/// The virtual disk of one member: two serial queues and its durable state.
pub struct Disk {
    model: DiskModel,
    rng: SimRng,
    wal: Queue<WalWrite>,
    apply: Queue<ApplyBatch>,
    snap: Queue<SnapWrite>,
    stalls: [u32; 3],
    slow: [Option<(SimDuration, SimDuration)>; 3],
    failing_fsyncs: u32,
    fail_next_fsync: bool,
    /// Active `torn_write` faults.
    tearing: u32,
    /// Active `fsync_lies` faults.
    lying: u32,
    /// The durable state before the first write a lying fsync acknowledged (what a crash
    /// returns to), until an honest fsync flushes everything.
    unsynced_since: Option<Durable>,
    /// Whole entries the last crash kept of a torn WAL write, if it tore one.
    pub torn_tail: Option<u64>,
    /// What survives a crash.
    pub durable: Durable,
    /// Bumped by every crash; completions carry it so stale ones are ignored.
    pub epoch: u64,
}

impl Disk {
    /// Creates it.
    pub fn new(model: DiskModel, rng: SimRng, durable: Durable) -> Disk {
        Disk {
            model,
            rng,
            wal: Queue::default(),
            apply: Queue::default(),
            snap: Queue::default(),
            stalls: [0; 3],
            slow: [None; 3],
            failing_fsyncs: 0,
            fail_next_fsync: false,
            tearing: 0,
            lying: 0,
            unsynced_since: None,
            torn_tail: None,
            durable,
            epoch: 0,
        }
    }

    /// Queues a WAL write. Returns when its completion is due if it became the head.
    pub fn submit_wal(&mut self, now: SimTime, w: WalWrite) -> Option<SimTime> {
        self.wal.ops.push_back(w);
        self.start_head(IoClass::Wal, now)
    }

    /// Queues an apply batch. Returns when its completion is due if it became the head.
    pub fn submit_apply(&mut self, now: SimTime, b: ApplyBatch) -> Option<SimTime> {
        self.apply.ops.push_back(b);
        self.start_head(IoClass::Apply, now)
    }

    /// Queues a snapshot save. Returns when its completion is due if it became the head.
    pub fn submit_snap(&mut self, now: SimTime, w: SnapWrite) -> Option<SimTime> {
        self.snap.ops.push_back(w);
        self.start_head(IoClass::Snap, now)
    }

    /// Snapshot saves queued or in progress.
    pub fn snap_pending(&self) -> usize {
        self.snap.ops.len()
    }

    /// WAL writes queued or in progress.
    pub fn wal_pending(&self) -> usize {
        self.wal.ops.len()
    }

    /// Whether a WAL write that needs fsync is outstanding (the sync raft loop waits on it).
    pub fn fsync_pending(&self) -> bool {
        self.wal.ops.iter().any(|w| w.fsync)
    }

    /// Whether a stall is active on `class`.
    pub fn is_stalled(&self, class: IoClass) -> bool {
        self.stalls[class.idx()] > 0
    }

    fn start_head(&mut self, class: IoClass, now: SimTime) -> Option<SimTime> {
        let (len, started) = match class {
            IoClass::Wal => (self.wal.ops.len(), self.wal.head_started),
            IoClass::Apply => (self.apply.ops.len(), self.apply.head_started),
            IoClass::Snap => (self.snap.ops.len(), self.snap.head_started),
        };
        if len == 0 || started {
            return None;
        }
        let zero_cost = class == IoClass::Wal && !self.wal.ops[0].fsync;
        let latency = if zero_cost {
            SimDuration::ZERO
        } else {
            self.draw_latency(class)
        };
        match class {
            IoClass::Wal => (self.wal.head_started, self.wal.head_since) = (true, now),
            IoClass::Apply => (self.apply.head_started, self.apply.head_since) = (true, now),
            IoClass::Snap => (self.snap.head_started, self.snap.head_since) = (true, now),
        }
        Some(now + latency)
    }

    /// When the operation at the head of `class` began its service (how long an fsync or an
    /// apply took, stalls included, is measured from here).
    pub fn head_since(&self, class: IoClass) -> SimTime {
        match class {
            IoClass::Wal => self.wal.head_since,
            IoClass::Apply => self.apply.head_since,
            IoClass::Snap => self.snap.head_since,
        }
    }

    fn draw_latency(&mut self, class: IoClass) -> SimDuration {
        let (lo, hi) = self.slow[class.idx()].unwrap_or(match class {
            IoClass::Wal => (self.model.wal_latency_min, self.model.wal_latency_max),
            IoClass::Apply => (self.model.apply_latency_min, self.model.apply_latency_max),
            IoClass::Snap => (self.model.snap_latency_min, self.model.snap_latency_max),
        });
        SimDuration::from_micros(self.rng.between(lo.as_micros(), hi.as_micros()))
    }

    /// The head operation of `class` reached its due time. Returns what completed and, when
    /// another operation became the head, its due time.
    pub fn complete(&mut self, class: IoClass, now: SimTime) -> (Completion, Option<SimTime>) {
        if self.is_stalled(class) {
            match class {
                IoClass::Wal => self.wal.parked = true,
                IoClass::Apply => self.apply.parked = true,
                IoClass::Snap => self.snap.parked = true,
            }
            return (Completion::Parked, None);
        }
        let done = match class {
            IoClass::Wal => {
                self.wal.head_started = false;
                let w = self
                    .wal
                    .ops
                    .pop_front()
                    .expect("WAL completion without a write");
                Completion::Wal(self.finish_wal(w))
            }
            IoClass::Apply => {
                self.apply.head_started = false;
                Completion::Apply(
                    self.apply
                        .ops
                        .pop_front()
                        .expect("apply completion without a batch"),
                )
            }
            IoClass::Snap => {
                self.snap.head_started = false;
                let w = self
                    .snap
                    .ops
                    .pop_front()
                    .expect("snap completion without a save");
                self.before_sync();
                self.durable.save_snapshot(&w.snapshot);
                Completion::Snap(w)
            }
        };
        (done, self.start_head(class, now))
    }

    fn finish_wal(&mut self, w: WalWrite) -> Result<WalWrite, DiskError> {
        if w.fsync && (self.fail_next_fsync || self.failing_fsyncs > 0) {
            self.fail_next_fsync = false;
            return Err(DiskError::Eio);
        }
        if w.fsync {
            self.before_sync();
            self.durable.write(&w);
        }
        Ok(w)
    }

    /// A sync is about to make a write durable: a lying disk remembers what a crash returns to;
    /// an honest sync flushes everything before it.
    fn before_sync(&mut self) {
        if self.lying > 0 && self.unsynced_since.is_none() {
            self.unsynced_since = Some(self.durable.clone());
        } else if self.lying == 0 {
            self.unsynced_since = None;
        }
    }

    /// Starts a fault on this disk (the disk owns its faults; the loop only says when).
    pub fn fault_start(&mut self, f: &DiskFault) {
        match *f {
            DiskFault::Stall(io) => self.stall(io),
            DiskFault::Slow {
                io,
                latency_min,
                latency_max,
            } => self.set_slow(io, Some((latency_min, latency_max))),
            DiskFault::FsyncError { once: true } => self.fail_next_fsync(),
            DiskFault::FsyncError { once: false } => self.start_failing_fsyncs(),
            DiskFault::TornWrite => self.tearing += 1,
            DiskFault::FsyncLies => self.lying += 1,
        }
    }

    /// Ends a fault; returns the class and due time of a parked operation that can now complete.
    pub fn fault_end(&mut self, f: &DiskFault, now: SimTime) -> Option<(IoClass, SimTime)> {
        match *f {
            DiskFault::Stall(io) => self.unstall(io, now).map(|due| (io, due)),
            DiskFault::Slow { io, .. } => {
                self.set_slow(io, None);
                None
            }
            DiskFault::FsyncError { once: true } => None,
            DiskFault::FsyncError { once: false } => {
                self.stop_failing_fsyncs();
                None
            }
            DiskFault::TornWrite => {
                self.tearing -= 1;
                None
            }
            DiskFault::FsyncLies => {
                self.lying -= 1;
                None
            }
        }
    }

    /// Parks operations of `class` until [`Disk::unstall`].
    pub fn stall(&mut self, class: IoClass) {
        self.stalls[class.idx()] += 1;
    }

    /// Ends one stall; returns a due time to schedule if a parked head can now complete.
    pub fn unstall(&mut self, class: IoClass, now: SimTime) -> Option<SimTime> {
        let n = &mut self.stalls[class.idx()];
        assert!(*n > 0, "unstall without a stall");
        *n -= 1;
        let q_parked = match class {
            IoClass::Wal => &mut self.wal.parked,
            IoClass::Apply => &mut self.apply.parked,
            IoClass::Snap => &mut self.snap.parked,
        };
        if *n == 0 && *q_parked {
            *q_parked = false;
            return Some(now);
        }
        None
    }

    /// Replaces the latency range of `class` (`None`: back to the model's).
    pub fn set_slow(&mut self, class: IoClass, range: Option<(SimDuration, SimDuration)>) {
        self.slow[class.idx()] = range;
    }

    /// The next WAL fsync fails with EIO.
    pub fn fail_next_fsync(&mut self) {
        self.fail_next_fsync = true;
    }

    /// Every WAL fsync fails with EIO until [`Disk::stop_failing_fsyncs`].
    pub fn start_failing_fsyncs(&mut self) {
        self.failing_fsyncs += 1;
    }

    /// Ends one [`Disk::start_failing_fsyncs`].
    pub fn stop_failing_fsyncs(&mut self) {
        self.failing_fsyncs -= 1;
    }

    /// Power loss / process crash: everything not yet durable is gone. Returns the queued
    /// WAL writes that were lost (their held messages are never sent).
    pub fn crash(&mut self) -> Vec<WalWrite> {
        self.epoch += 1;
        self.apply = Queue::default();
        self.snap = Queue::default();
        if let Some(before) = self.unsynced_since.take() {
            self.durable = before; // what the lying fsyncs acknowledged is gone
        }
        let in_progress = self.wal.head_started;
        let lost: Vec<WalWrite> = std::mem::take(&mut self.wal.ops).into();
        self.wal = Queue::default();
        self.torn_tail = None;
        if self.tearing > 0 && in_progress {
            self.tear(&lost[0]);
        }
        lost
    }

    /// A crash in the middle of write `w`: the whole entries written before the tear survive
    /// (entries come before the hard state in a WAL write), the torn record is truncated.
    fn tear(&mut self, w: &WalWrite) {
        if !w.fsync {
            return;
        }
        let kept = self.rng.between(0, w.entries.len() as u64) as usize;
        let contiguous = w
            .entries
            .first()
            .is_some_and(|e| e.index <= self.durable.last_index() + 1);
        let prefix = WalWrite {
            entries: w.entries[..kept].to_vec(),
            ..Default::default()
        };
        if kept > 0 && contiguous {
            self.durable.write(&prefix);
        }
        self.torn_tail = Some(if contiguous { kept as u64 } else { 0 });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::Stream;

    fn disk() -> Disk {
        Disk::new(
            DiskModel {
                wal_latency_min: SimDuration::from_millis(1),
                wal_latency_max: SimDuration::from_millis(1),
                ..Default::default()
            },
            SimRng::fork(1, Stream::Disk(1)),
            Durable::default(),
        )
    }

    fn entry(index: u64, term: u64) -> Entry {
        Entry {
            index,
            term,
            ..Default::default()
        }
    }

    /// Every member's log and WAL hold one per entry, up to 100,000 of them with etcd 3.5.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn wal_entries_are_half_a_protobuf_entry() {
        assert_eq!(std::mem::size_of::<WalEntry>(), 56);
        assert_eq!(std::mem::size_of::<Entry>(), 104);
    }

    #[test]
    fn the_wal_gives_back_the_entry_it_was_given_sharing_its_data() {
        let e = Entry {
            index: 7,
            term: 3,
            data: b"{\"request\":1}".to_vec().into(),
            entry_type: EntryType::EntryConfChangeV2,
            ..Default::default()
        };
        let w = WalEntry::of(&e);
        assert_eq!(w.to_entry(), e);
        assert_eq!(
            w.data.as_ptr(),
            e.data.as_ptr(),
            "the payload is shared, not copied"
        );
    }

    #[test]
    #[should_panic(expected = "carries a context")]
    fn an_entry_with_a_context_is_refused_rather_than_losing_it() {
        let e = Entry {
            index: 1,
            context: b"ctx".to_vec().into(),
            ..Default::default()
        };
        WalEntry::of(&e);
    }

    fn write(ready: u64, idx: &[u64]) -> WalWrite {
        WalWrite {
            ready,
            entries: idx.iter().map(|i| entry(*i, 1)).collect(),
            fsync: true,
            ..Default::default()
        }
    }

    #[test]
    fn fifo_with_latency() {
        let mut d = disk();
        let due = d.submit_wal(SimTime(0), write(1, &[1])).unwrap();
        assert_eq!(due, SimTime(1_000));
        assert_eq!(d.submit_wal(SimTime(10), write(2, &[2])), None);
        let (c, next) = d.complete(IoClass::Wal, due);
        assert!(matches!(c, Completion::Wal(Ok(w)) if w.ready == 1));
        assert_eq!(next, Some(SimTime(2_000)));
        assert_eq!(d.durable.last_index(), 1);
    }

    #[test]
    fn stall_parks_until_unstalled() {
        let mut d = disk();
        let due = d.submit_wal(SimTime(0), write(1, &[1])).unwrap();
        d.stall(IoClass::Wal);
        assert!(matches!(
            d.complete(IoClass::Wal, due).0,
            Completion::Parked
        ));
        assert_eq!(d.durable.last_index(), 0);
        // A stall of the other class does not matter.
        assert_eq!(
            d.unstall(IoClass::Wal, SimTime(30_000_000)),
            Some(SimTime(30_000_000))
        );
        assert!(matches!(
            d.complete(IoClass::Wal, SimTime(30_000_000)).0,
            Completion::Wal(Ok(_))
        ));
        assert_eq!(d.durable.last_index(), 1);
    }

    #[test]
    fn apply_stall_is_independent_of_wal() {
        let mut d = disk();
        d.stall(IoClass::Apply);
        let due = d.submit_wal(SimTime(0), write(1, &[1])).unwrap();
        assert!(matches!(
            d.complete(IoClass::Wal, due).0,
            Completion::Wal(Ok(_))
        ));
        let due = d.submit_apply(SimTime(0), ApplyBatch::default()).unwrap();
        assert!(matches!(
            d.complete(IoClass::Apply, due).0,
            Completion::Parked
        ));
    }

    #[test]
    fn eio_makes_nothing_durable() {
        let mut d = disk();
        d.fail_next_fsync();
        let due = d.submit_wal(SimTime(0), write(1, &[1])).unwrap();
        assert!(matches!(
            d.complete(IoClass::Wal, due).0,
            Completion::Wal(Err(DiskError::Eio))
        ));
        assert_eq!(d.durable.last_index(), 0);
        let due = d.submit_wal(SimTime(0), write(2, &[1])).unwrap();
        assert!(matches!(
            d.complete(IoClass::Wal, due).0,
            Completion::Wal(Ok(_))
        ));
    }

    #[test]
    fn crash_keeps_only_fsynced_data() {
        let mut d = disk();
        let due = d.submit_wal(SimTime(0), write(1, &[1, 2])).unwrap();
        d.complete(IoClass::Wal, due);
        d.submit_wal(SimTime(0), write(2, &[3]));
        d.submit_wal(SimTime(0), write(3, &[4]));
        let lost = d.crash();
        assert_eq!(lost.len(), 2);
        assert_eq!(d.durable.last_index(), 2);
        assert_eq!(d.epoch, 1);
        assert_eq!(d.wal_pending(), 0);
    }

    #[test]
    fn conflicting_suffix_is_replaced() {
        let mut d = disk();
        let due = d.submit_wal(SimTime(0), write(1, &[1, 2, 3])).unwrap();
        d.complete(IoClass::Wal, due);
        let mut w = write(2, &[2]);
        w.hard_state = Some(HardState {
            term: 2,
            vote: 1,
            commit: 2,
            ..Default::default()
        });
        let due = d.submit_wal(SimTime(0), w).unwrap();
        d.complete(IoClass::Wal, due);
        assert_eq!(d.durable.last_index(), 2);
        assert_eq!(
            (d.durable.hard_state.term, d.durable.hard_state.commit),
            (2, 2)
        );
    }
}
