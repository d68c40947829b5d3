//! What the oracles are told: typed facts reported by the actors, and the read-only view of a
//! member's Raft state that the online safety checks need.
//!
//! The driver (`node/`) knows the moments where the Ready contract can break (a WAL write
//! completing, held messages leaving, an entry applied, a restart); it reports each as an
//! [`Observation`] through its [`Out`](super::actor::Out), and `check::ready_contract` judges it.
//! Nothing here judges anything.

use super::ids::NodeId;

/// The durable state a disk holds after a write, summarised for the Ready-contract checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DurableSummary {
    /// The durable hard state's commit index.
    pub commit: u64,
    /// The durable hard state's term.
    pub term: u64,
    /// The last durable log index.
    pub last_index: u64,
    /// The term of the last durable entry (0 for an empty log).
    pub last_entry_term: u64,
    /// The index the durable snapshot covers (0: none).
    pub snapshot_index: u64,
    /// The first durable WAL entry's index (0: no entries).
    pub first_entry_index: u64,
}

/// A fact an actor reports for the oracles to judge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observation {
    /// A WAL write of `node` completed; this is what is durable now.
    WalDurable {
        /// The member.
        node: NodeId,
        /// Its durable state after the write.
        durable: DurableSummary,
    },
    /// `node` is about to restart from this durable state.
    Restarting {
        /// The member.
        node: NodeId,
        /// What its disk kept.
        durable: DurableSummary,
        /// (index, term) of the last entry it had applied before it crashed, if any.
        applied_before_crash: Option<(u64, u64)>,
        /// The term the disk kept at that index (`None`: the entry is gone).
        kept_term: Option<u64>,
        /// Whether the crash tore a WAL write (a `torn_write` fault): its entries may be durable
        /// without the hard state written after them, which is safe (nothing of that write was
        /// acknowledged or acted on).
        torn: bool,
    },
    /// Messages of Ready `ready` that raft-rs said must wait for persistence are leaving.
    HeldMessagesSent {
        /// The member.
        node: NodeId,
        /// The Ready they belong to.
        ready: u64,
        /// The highest Ready known durable at this moment.
        durable_ready: u64,
        /// How many messages.
        count: u64,
    },
    /// `node` applied an entry to its state machine.
    EntryApplied {
        /// The member.
        node: NodeId,
        /// The entry's index.
        index: u64,
        /// The entry's term.
        term: u64,
        /// The member's commit index at that moment.
        commit: u64,
    },
    /// A member put a configuration change into effect ([`ConfApplied`]).
    ConfApplied(ConfApplied),
    /// A member's state machine after applying through `index` (or restoring a snapshot of it),
    /// as a digest: members that applied through the same index must agree.
    StateDigest {
        /// The member.
        node: NodeId,
        /// The index applied through.
        index: u64,
        /// A digest of every entry applied through `index`, carried in snapshots.
        digest: u64,
        /// It comes from a snapshot (received or restored at restart).
        from_snapshot: bool,
    },
}

/// `node` applied (or, with the `apply-confchange-early` bug, put into effect) the configuration
/// change at `index`; this is its configuration after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfApplied {
    /// The member.
    pub node: NodeId,
    /// The entry's index.
    pub index: u64,
    /// The entry's term.
    pub term: u64,
    /// The member's commit index at that moment.
    pub commit: u64,
    /// Voters after the change.
    pub voters: Vec<u64>,
    /// Learners after the change.
    pub learners: Vec<u64>,
}

/// A member's Raft state as the safety oracle reads it after every event.
pub trait RaftView {
    /// The member's id.
    fn id(&self) -> NodeId;
    /// Whether it is running (paused and crashed members are not checked).
    fn running(&self) -> bool;
    /// Which incarnation: bumped by every restart.
    fn incarnation(&self) -> u64;
    /// Its current term.
    fn term(&self) -> u64;
    /// Its commit index.
    fn commit_index(&self) -> u64;
    /// Whether it believes it leads.
    fn is_leader(&self) -> bool;
    /// The term of the entry at `index` in its log, if it has one.
    fn log_term(&self, index: u64) -> Option<u64>;
    /// Entries up to this index were compacted into a snapshot: their terms are no longer in
    /// the log (0: nothing compacted).
    fn compacted_through(&self) -> u64 {
        0
    }
}
