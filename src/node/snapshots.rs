//! Snapshots and log compaction, as etcd does them (`server/etcdserver/server.go`,
//! `triggerSnapshot` and `snapshot`; `raft.go` for a follower's received snapshot).
//!
//! - Taking one: after an applied batch, once `snapshot_count` entries were applied since the
//!   last snapshot, the member serializes its state machine at its applied index (the key-value
//!   store, which requests it applied, the user's machine, the digest of what it applied) and
//!   saves it through the disk's `snap` class. When the save is durable, the raft log is
//!   compacted to `applied - snapshot_catchup_entries`, so a follower slightly behind still gets
//!   entries, and the WAL entries the snapshot covers are released.
//! - Receiving one: raft-rs hands a follower whose log is behind the leader's first index a
//!   snapshot in a Ready. The member installs it in its raft storage at once (raft-rs's
//!   contract), saves it durably with that Ready's WAL write, and restores its state machine
//!   from it only when that write is durable (etcd's apply loop waits on `notifyc`); committed
//!   entries that follow wait behind it.
//! - Restarting: the durable snapshot is restored, then the WAL after it replayed.
//!
//! A crash loses a save in progress (the previous snapshot and the WAL stay). Invariant: the
//! state a snapshot carries is the state after applying exactly its index (checked by the
//! state-digest oracle against every other member that applied through that index).

use super::kv::KvStore;
use super::{Bug, Node, Out};
use crate::disk::{ApplyBatch, IoClass, SnapWrite};
use crate::sim::ids::RequestId;
use crate::sim::observe::Observation;
use crate::sim::trace::TraceEvent;
use raft::eraftpb::{Entry, Snapshot};
use serde::{Deserialize, Serialize};

/// What a snapshot's data holds.
#[derive(Serialize, Deserialize)]
struct SnapshotData {
    kv: KvStore,
    applied_requests: Vec<RequestId>,
    machine: Option<Vec<u8>>,
    digest: u64,
    /// Removed member IDs (the configuration itself is the snapshot's `ConfState`).
    removed: std::collections::BTreeSet<crate::sim::ids::NodeId>,
}

/// A snapshot received from the leader, waiting for its WAL write to be durable before the
/// state machine is restored from it; committed entries that follow wait with it.
pub(super) struct PendingRestore {
    /// The Ready whose WAL write carries it.
    pub ready: u64,
    pub snapshot: Snapshot,
    pub entries: Vec<Entry>,
}

impl Node {
    /// etcd's `triggerSnapshot`: enough entries applied since the last snapshot, and no save in
    /// progress.
    pub(super) fn maybe_snapshot(&mut self, out: &mut Out) {
        let count = self.cfg.snapshot_count;
        // The compact-unapplied bug labels the snapshot with the commit index.
        let index = if self.cfg.bug == Some(Bug::CompactUnapplied) {
            self.commit_index().max(self.applied)
        } else {
            self.applied
        };
        if count == 0 || index < self.snap_taken + count || self.disk.snap_pending() > 0 {
            return;
        }
        let Some(data) = self.snapshot_data() else {
            return; // the user's machine cannot be snapshotted: never compact
        };
        let term = match self.log_term(index) {
            Some(t) if index > self.applied => t,
            _ => self.applied_term,
        };
        let mut snap = Snapshot {
            data: data.into(),
            ..Default::default()
        };
        let meta = snap.mut_metadata();
        meta.index = index;
        meta.term = term;
        meta.set_conf_state(self.members.conf_state());
        self.snap_taken = index;
        let (node, bytes) = (self.id, snap.data.len() as u64);
        out.record(TraceEvent::SnapshotTaken { node, index, bytes });
        if let Some(due) = self.disk.submit_snap(out.now, SnapWrite { snapshot: snap }) {
            self.disk_timer(IoClass::Snap, due, out);
        }
    }

    fn snapshot_data(&self) -> Option<Vec<u8>> {
        let machine = match &self.machine {
            Some(m) => Some(m.snapshot()?),
            None => None,
        };
        let data = SnapshotData {
            kv: self.kv.clone(),
            applied_requests: self.applied_requests.iter().collect(),
            machine,
            digest: self.applied_digest,
            removed: self.members.removed.clone(),
        };
        Some(serde_json::to_vec(&data).expect("the state machine serializes"))
    }

    /// etcd's leader does not send its last saved snapshot: it builds one from its state at its
    /// applied index, with its current configuration (`createMergedSnapshotMessage`), so a
    /// member added after the last snapshot is in the configuration it restores (raft-rs, like
    /// etcd-raft, ignores a snapshot whose configuration lacks the receiver).
    pub(super) fn merge_snapshot(&mut self, m: &mut raft::eraftpb::Message) {
        let saved = m.get_snapshot().get_metadata().index;
        if self.applied < saved {
            return; // (the compact-unapplied bug's snapshot runs ahead of the applied state)
        }
        let Some(data) = self.snapshot_data() else {
            return; // the user's machine cannot be snapshotted: send what was saved
        };
        let snap = m.mut_snapshot();
        snap.data = data.into();
        let meta = snap.mut_metadata();
        meta.index = self.applied;
        meta.term = self.applied_term;
        meta.set_conf_state(self.members.conf_state());
    }

    /// A save of our own snapshot is durable: raft-rs may send it, and the log before
    /// `index - snapshot_catchup_entries` goes.
    pub(super) fn snapshot_saved(&mut self, w: SnapWrite, out: &mut Out) {
        let index = w.snapshot.get_metadata().index;
        let keep_from = index.saturating_sub(self.cfg.snapshot_catchup_entries);
        let store = self.raw().mut_store();
        store.took(w.snapshot, keep_from);
        let compacted_through = self.raw().raft.raft_log.first_index() - 1;
        let node = self.id;
        out.record(TraceEvent::SnapshotSaved {
            node,
            index,
            compacted_through,
        });
    }

    /// Restores the state machine from `snap` (received from the leader, or the member's own at
    /// restart).
    pub(super) fn restore(&mut self, snap: &Snapshot, received: bool, out: &mut Out) {
        let index = snap.get_metadata().index;
        let data: SnapshotData =
            serde_json::from_slice(&snap.data).expect("a snapshot raftsim wrote");
        let forget = !received && self.cfg.bug == Some(Bug::ForgetSnapshotOnRestart);
        if !forget {
            self.kv = data.kv;
            self.applied_requests = data.applied_requests.into_iter().collect();
            if let (Some(m), Some(bytes)) = (self.machine.as_mut(), data.machine) {
                m.restore(&bytes);
            }
            self.applied_digest = data.digest;
        }
        let conf = snap.get_metadata().get_conf_state();
        self.members = super::membership::Members::from_conf_state(conf, data.removed);
        self.applied = index;
        self.applied_term = snap.get_metadata().term;
        self.apply_queued = self.apply_queued.max(index);
        self.snap_taken = self.snap_taken.max(index);
        let node = self.id;
        out.record(TraceEvent::SnapshotRestored {
            node,
            index,
            received,
        });
        out.observe(Observation::StateDigest {
            node,
            index,
            digest: self.applied_digest,
            from_snapshot: true,
        });
    }

    /// The WAL write of Ready `ready` is durable: a snapshot it carried can now be restored,
    /// with the committed entries that waited behind it.
    pub(super) fn release_restore(&mut self, ready: u64, out: &mut Out) {
        if self
            .pending_restore
            .as_ref()
            .is_none_or(|p| p.ready > ready)
        {
            return;
        }
        let p = self.pending_restore.take().expect("checked above");
        let batch = ApplyBatch {
            snapshot: Some(p.snapshot),
            entries: p.entries,
        };
        if let Some(due) = self.disk.submit_apply(out.now, batch) {
            self.disk_timer(IoClass::Apply, due, out);
        }
    }

    /// Folds an applied entry into the member's applied-state digest.
    pub(super) fn digest_applied(&mut self, e: &Entry) {
        self.applied_digest = fold(self.applied_digest, e.index, &e.data);
    }
}

/// The digest after applying `data` at `index` on top of `digest` (FNV-1a; 0 is the empty
/// state's).
pub fn fold(digest: u64, index: u64, data: &[u8]) -> u64 {
    let mut h = if digest == 0 {
        0xcbf2_9ce4_8422_2325
    } else {
        digest
    };
    for b in index.to_le_bytes().iter().chain(data) {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}
