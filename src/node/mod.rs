//! A member: raft-rs's `RawNode` driven by the Ready contract over the virtual disk, serving an
//! etcd-like key-value API.
//!
//! Models one etcd member: its raft loop, WAL, apply loop and gRPC front end.
//!
//! Ready contract (raft-rs 0.7, see `docs/reference/raft-rs.md` sections 1-2), for every Ready:
//! 1. leader messages (`messages`) are sent at once (thesis 10.2.1);
//! 2. a snapshot from the leader is installed in storage at once and restored into the state
//!    machine only when step 3's write is durable ([`snapshots`]); committed entries (already
//!    durable locally) are queued for apply, behind such a snapshot; read states recorded;
//! 3. the snapshot, entries and hard state go into the volatile [`storage::SimStorage`] raft
//!    reads, then into one WAL write that makes them durable together; `persisted_messages`
//!    travel with that write and leave only when it (and every earlier one) is durable;
//! 4. `advance_append_async`, and `on_persist_ready(n)` when write `n` completes (FIFO);
//! 5. `advance_apply_to` when the apply loop finishes a batch.
//!
//! Persistence modes:
//! - `sync` (etcd): the raft loop waits for each fsync. While it waits the member takes no ticks
//!   (no heartbeats, no elections, no CheckQuorum; its ticker holds one tick, handled when the
//!   write returns, see [`Node::tick`]) and handles no Ready, so nothing new is sent,
//!   applied or published; it still steps incoming messages, proposals and ReadIndex requests, as
//!   etcd-raft's `node.run` goroutine does, and they take effect once the write completes.
//! - `async` (TiKV): the loop keeps ticking and handling Readies; only durability waits.
//!
//! Other faults: `pause` freezes the whole process (inbound messages, requests and timers queue
//! in its socket buffers and are handled in order on resume, where requests whose deadline has
//! passed are dropped unanswered; after a pause of [`PEER_STREAM_READ_TIMEOUT`] or more, the
//! raft messages its peer streams buffered are lost instead, see [`Node::resume`]); `crash`
//! loses everything volatile (raft state, state machine, queued writes and the messages held
//! for them); `restart` rebuilds raft from the durable snapshot and log, restores the snapshot
//! and replays the log after it into a fresh state machine. A `clock_drift` fault changes the
//! speed of the member's own clock ([`clock`]). A WAL fsync error crashes the member, as etcd
//! treats a failed fsync as fatal.
//!
//! Invariants (asserted): only committed entries are applied, in index order, each once per
//! incarnation; held messages never leave before their write is durable; applied <= committed.

/// etcd's peer connection read timeout (rafthttp `ConnReadTimeout`, 5 s): a stream reader that
/// reads nothing for this long closes its connection and re-dials (`docs/reference/etcd-observed.md`).
pub const PEER_STREAM_READ_TIMEOUT: SimDuration = SimDuration::from_secs(5);

mod applied;
pub mod bugs;
pub mod clock;
pub mod kv;
pub mod lease;
mod leasing;
pub mod machine;
pub mod membership;
pub mod rpc;
pub mod snapshots;
pub mod storage;
pub mod wire;

use crate::disk::{ApplyBatch, Completion, Disk, DiskFault, IoClass, WalWrite};
use crate::sim::ids::{ClientId, LeaseId, NodeId, RequestId};
use crate::sim::observe::{DurableSummary, Observation, RaftView};
use crate::sim::rng::SimRng;
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::trace::{msg_kind, DropReason, Role, TraceEvent};
pub use bugs::Bug;
use kv::{KvOp, KvResult, KvStore, Proposal};
use lease::Lessor;
use leasing::Watcher;
use raft::eraftpb::{Entry, Message, Snapshot};
use raft::{RawNode, ReadOnlyOption};
use rpc::{
    Header, PeerForward, Reply, ReplyBody, ServerError, ServerOp, ServerRequest, StatusInfo,
    WatchPush,
};
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use storage::SimStorage;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
/// How the raft loop persists.
pub enum PersistMode {
    /// etcd's: the raft loop waits for each fsync (no ticks, no Ready).
    Sync,
    /// TiKV's: only durability waits.
    Async,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
/// How linearizable reads are served.
pub enum ReadOnly {
    /// ReadIndex confirmed by a heartbeat round.
    Safe,
    /// Answered from the leader's lease (needs check_quorum; unsafe under clock drift).
    LeaseBased,
}

/// Which etcd release a member behaves as. Each switches behaviour read in that release's source
/// (`docs/reference/etcd-kubernetes-defaults.md`, section 1):
/// - `--pre-vote` defaults to off in 3.4 and on in 3.5 (`server/embed/config.go`, `NewConfig`);
/// - a linearizable read whose ReadIndex got no answer is re-sent every 500 ms in 3.5
///   (`server/etcdserver/v3_server.go`, `requestCurrentIndex`: "waiting for ReadIndex response
///   took too long, retrying"); 3.4's `linearizableReadLoop` waits the whole request timeout
///   ("timed out waiting for read index response");
/// - `endpoint status` reports the release in its VERSION column;
/// - a leader confirms its leadership with a ReadIndex round before it renews a lease (refusing
///   the renewal when it cannot) and before it revokes expired leases (`ensureLeadership` in
///   `LeaseRenew` and `revokeExpiredLeases`, etcd-io/etcd#15247): added in 3.4.31 and 3.5.13, so
///   absent from both measured releases and present in 3.6. Between 3.4.23 and 3.5.6
///   `LeaseRenew` changed only by a 50 ms pause between forwarding attempts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum EtcdVersion {
    /// etcd 3.4 (the measured cluster ran 3.4.23).
    #[serde(rename = "3.4")]
    V3_4,
    /// etcd 3.5 (the incident ran 3.5.6).
    #[default]
    #[serde(rename = "3.5")]
    V3_5,
    /// etcd 3.6 (3.6.0): as 3.5, and a leader confirms its leadership before renewing a lease
    /// (also what 3.4.31+ and 3.5.13+ do).
    #[serde(rename = "3.6")]
    V3_6,
}

impl EtcdVersion {
    /// The release `endpoint status` shows.
    pub fn release(self) -> &'static str {
        match self {
            EtcdVersion::V3_4 => "3.4.23",
            EtcdVersion::V3_5 => "3.5.6",
            EtcdVersion::V3_6 => "3.6.0",
        }
    }

    /// Whether `--pre-vote` is on unless set.
    pub fn pre_vote_default(self) -> bool {
        self != EtcdVersion::V3_4
    }

    /// Whether a leader confirms its leadership before renewing or revoking leases
    /// (`ensureLeadership`).
    pub fn leases_confirm_leadership(self) -> bool {
        self == EtcdVersion::V3_6
    }

    /// `--snapshot-count` unless set: `DefaultSnapshotCount` (`server/etcdserver/server.go`) is
    /// 100,000 from 3.2 through 3.5 and 10,000 from 3.6 on (etcd-io/etcd#15408, in
    /// CHANGELOG-3.6).
    pub fn snapshot_count_default(self) -> u64 {
        match self {
            EtcdVersion::V3_4 | EtcdVersion::V3_5 => 100_000,
            EtcdVersion::V3_6 => 10_000,
        }
    }

    /// How long a ReadIndex may go unanswered before it is sent again (`None`: never).
    pub fn read_index_retry(self) -> Option<SimDuration> {
        match self {
            EtcdVersion::V3_4 => None,
            EtcdVersion::V3_5 | EtcdVersion::V3_6 => Some(SimDuration::from_millis(500)),
        }
    }
}

/// The most messages' room an outbox given back to raft-rs keeps ([`Node::give_back_outbox`]).
const OUTBOX_KEPT: usize = 16;

/// etcd's "slow fdatasync" warning: a WAL sync took more than a second (`server/storage/wal/wal.go`,
/// `warnSyncDuration`).
const SLOW_FDATASYNC: (&str, SimDuration) = ("slow fdatasync", SimDuration::from_secs(1));
/// etcd's "apply request took too long" warning (`--experimental-warning-apply-duration`, 100 ms);
/// raftsim measures one apply batch.
const SLOW_APPLY: (&str, SimDuration) =
    ("apply request took too long", SimDuration::from_millis(100));
/// etcd's late-heartbeat warning.
const HEARTBEAT_LATE: &str =
    "leader failed to send out heartbeat on time; took too long, leader is overloaded likely from slow disk";

/// Static settings of every member.
#[derive(Clone, Debug, Serialize)]
pub struct NodeConfig {
    /// Persistence mode (sync: etcd, async: TiKV).
    pub persist: PersistMode,
    /// Heartbeat interval in ticks.
    pub heartbeat_ticks: usize,
    /// Election timeout in ticks.
    pub election_ticks: usize,
    /// Raft pre-vote (thesis 9.6).
    pub pre_vote: bool,
    /// Election timeouts drawn from `[T, 2T)`; `false`: exactly `T` every time.
    pub randomize_election_timeout: bool,
    /// raft-rs `max_size_per_msg` (etcd: 1 MiB).
    pub max_size_per_msg: u64,
    /// etcd `--snapshot-count`: applied entries between snapshots (0: never).
    pub snapshot_count: u64,
    /// etcd `--snapshot-catchup-entries`: entries kept behind a snapshot for slow followers.
    pub snapshot_catchup_entries: u64,
    /// A leader steps down when it has not heard from a quorum for an election timeout.
    pub check_quorum: bool,
    /// How linearizable reads are served.
    pub read_only: ReadOnly,
    /// etcd's `ReqTimeout()`: 5 s + 2 x election timeout.
    pub server_request_timeout: SimDuration,
    /// The heartbeat interval, for etcd's late-heartbeat warning.
    pub heartbeat_interval: SimDuration,
    /// etcd 3.5 retries a ReadIndex that got no answer after 500 ms.
    pub read_index_retry: Option<SimDuration>,
    /// The release `endpoint status` reports.
    pub release: &'static str,
    /// Messages and requests a paused member's socket buffers hold before dropping.
    pub inbox_limit: usize,
    /// Peers refuse messages from a removed member, which then stops (etcd's rafthttp).
    pub reject_removed_members: bool,
    /// A leader confirms its leadership with a ReadIndex round before it renews a lease or
    /// revokes expired ones (`ensureLeadership`, etcd 3.4.31+ and 3.5.13+).
    pub leases_confirm_leadership: bool,
    /// etcd's minimum lease TTL in seconds: ceil(1.5 x election timeout).
    pub min_lease_ttl_s: u64,
    /// Keep the store's event history, for watches.
    pub keep_events: bool,
    /// A deliberately wrong driver behaviour, to prove the oracles can fail (off by default).
    pub bug: Option<Bug>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
/// Whether a member runs.
pub enum NodeStatus {
    /// Running.
    Running,
    /// Frozen whole (SIGSTOP).
    Paused,
    /// Down; restarts from its durable state.
    Crashed,
    /// A machine that has not started yet: it joins with `member add` and a `start` fault.
    Spare,
    /// Stopped for good after its removal from the cluster.
    Removed,
}

impl NodeStatus {
    /// Whether the process is alive (running or frozen).
    pub fn is_up(self) -> bool {
        matches!(self, NodeStatus::Running | NodeStatus::Paused)
    }
}

/// Timers a member sets; each carries what makes it stale after a crash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeTimer {
    /// A disk operation of `class` is due.
    Disk {
        /// The I/O class.
        class: IoClass,
        /// The disk's epoch when set (a crash makes it stale).
        epoch: u64,
    },
    /// Answer a request that waited etcd's server timeout, or whose client deadline passed.
    ServerTimeout {
        /// The client request.
        request: RequestId,
        /// Which incarnation (bumped by every restart).
        incarnation: u64,
        /// The client's deadline came first (gRPC cancels the request's context then).
        deadline: bool,
    },
    /// Retry a ReadIndex that got no answer.
    ReadRetry {
        /// The client request.
        request: RequestId,
        /// Which incarnation (bumped by every restart).
        incarnation: u64,
    },
    /// The lessor's 500 ms loop.
    Lessor {
        /// Which incarnation (bumped by every restart).
        incarnation: u64,
    },
    /// Try a lease request again (no leader known, or its lessor not primary yet).
    LeaseRetry {
        /// The client request.
        request: RequestId,
        /// Which incarnation (bumped by every restart).
        incarnation: u64,
    },
    /// The member applied its own removal a second ago: it stops.
    RemovedStop {
        /// Which incarnation (bumped by every restart).
        incarnation: u64,
    },
}

/// What a member sends: a raft message to a peer, or a reply to a client.
#[derive(Debug)]
pub enum NodeMsg {
    /// A raft message, over the peer network (boxed once as it leaves raft-rs: it is 192
    /// bytes, and the loop moves it through several hands before it arrives).
    Peer(Box<Message>),
    /// An answer to a client request.
    Reply(Box<Reply>),
    /// A lease request or a promotion forwarded to the leader, or its answer (peer HTTP, outside raft).
    Forward(Box<PeerForward>),
    /// Events on an open watch stream.
    Watch(WatchPush),
    /// `from` applied the removal of `to`: its transport closes the connection, and `to`'s
    /// re-dial is refused (410 Gone), which stops it.
    Gone {
        /// The member that removed it.
        from: NodeId,
        /// The removed member.
        to: NodeId,
    },
}

impl NodeMsg {
    /// An answer to a client request (boxed: the loop moves every event it queues several
    /// times, and a large variant would make every event as large).
    pub fn reply(r: Reply) -> NodeMsg {
        NodeMsg::Reply(Box::new(r))
    }

    /// A peer request outside raft (boxed, as [`NodeMsg::reply`]).
    pub fn forward(f: PeerForward) -> NodeMsg {
        NodeMsg::Forward(Box::new(f))
    }
}

/// The loop's handle for one call into a member.
pub type Out<'a> = crate::sim::actor::Out<'a, NodeMsg, NodeTimer>;

/// A fault of one member, as a scenario schedules it (the member owns it; the loop only says
/// when it starts and ends).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeFault {
    /// The whole process freezes (SIGSTOP); its sockets still accept.
    Pause,
    /// The process dies; only what its disk made durable survives; the fault's end restarts it.
    Crash,
    /// A fault of its disk.
    Disk(DiskFault),
    /// Its clock runs at `speed_permille / 1000` of real time ([`clock`]).
    ClockDrift {
        /// Local microseconds per simulated thousand.
        speed_permille: u64,
    },
    /// A spare machine's etcd starts (`--initial-cluster-state existing`), empty.
    Start,
}

enum Inbound {
    Raft(Box<Message>),
    Request(ServerRequest),
    Timer(NodeTimer),
    Forward(PeerForward),
}

/// What a ReadIndex round was for.
enum ReadPurpose {
    /// A linearizable Range of one key.
    Get { key: std::sync::Arc<str> },
    /// A linearizable query of the user's state machine.
    Machine { query: String },
    /// A leader confirming its leadership before a lease renewal (`ensureLeadership`).
    ConfirmLeadership,
    /// The lessor confirming its leadership before it revokes these expired leases.
    ConfirmRevoke(Vec<LeaseId>),
}

struct PendingRead {
    client: ClientId,
    purpose: ReadPurpose,
    index: Option<u64>,
}

/// The raft state the member last published (etcd updates it in its raft loop, so a member whose
/// loop is blocked on fsync keeps answering `endpoint status` with frozen values).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Published {
    /// The term.
    pub term: u64,
    /// The leader it knows (raft id, 0: none).
    pub leader: u64,
    /// Whether it believed it led.
    pub role_leader: bool,
    /// Its commit index.
    pub committed: u64,
    /// Its applied index.
    pub applied: u64,
}

/// Counters for reports.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct NodeStats {
    /// Ticks lost while the raft loop waited on fsync or the process was paused (the loop's
    /// ticker holds one; later ones are dropped).
    pub ticks_skipped: u64,
    /// WAL writes that needed an fsync.
    pub wal_writes: u64,
    /// Messages dropped by a full inbox while paused.
    pub inbox_dropped: u64,
}

/// One etcd member: raft-rs, its disk, its key-value store and its request handling.
pub struct Node {
    /// Its id.
    pub id: NodeId,
    cfg: NodeConfig,
    voters: Vec<u64>,
    /// Running, paused or crashed.
    pub status: NodeStatus,
    /// Which incarnation (bumped by every restart).
    pub incarnation: u64,
    raw: Option<RawNode<SimStorage>>,
    /// Its disk.
    pub disk: Disk,
    /// The key-value store.
    pub kv: KvStore,
    applied: u64,
    /// Highest index handed to the apply loop.
    apply_queued: u64,
    inbox: VecDeque<Inbound>,
    /// When the current pause began.
    paused_at: Option<SimTime>,
    /// A tick the loop's ticker holds while the loop is busy (see [`Node::tick`]).
    tick_held: bool,
    waits: BTreeMap<RequestId, ClientId>,
    reads: BTreeMap<RequestId, PendingRead>,
    /// What its raft loop last published.
    pub published: Published,
    /// The current randomized election timeout in ticks (see `fix_jitter`).
    pub election_timeout_ticks: u64,
    /// This member's election-jitter stream (from the seed).
    jitter: SimRng,
    /// (term, role, leader) when the timeout was last drawn: a change means raft-rs reset it.
    jitter_key: Option<(u64, raft::StateRole, u64)>,
    /// Counters.
    pub stats: NodeStats,
    logger: slog::Logger,
    last_role: Option<(Role, u64, u64)>,
    /// Disk operations due at the current instant, completed inline by `drive` (a zero-latency
    /// disk costs no event).
    due_now: VecDeque<IoClass>,
    /// Highest Ready number whose write is durable (held messages up to it may leave).
    durable_ready: u64,
    /// Entries the `apply-uncommitted` bug already applied.
    bug_applied_upto: u64,
    /// What this member had applied when it crashed: (index, term).
    applied_before_crash: Option<(u64, u64)>,
    /// When this member, as leader, last sent a heartbeat to each peer.
    heartbeats: BTreeMap<u64, SimTime>,
    /// Requests already applied: a proposal the network delivered twice (a duplicated forwarded
    /// MsgPropose) is appended twice but takes effect once.
    applied_requests: applied::AppliedRequests,
    /// When each lease expires, as this member's lessor sees it.
    lessor: Lessor,
    /// Whether the lessor's loop timer is set.
    lessor_armed: bool,
    /// Lease requests being served (locally or forwarded to the leader).
    forwards: BTreeMap<RequestId, (ClientId, ServerOp)>,
    /// Its own clock: ticks, lease deadlines and its timers run on it (survives a crash).
    clock: clock::LocalClock,
    /// The index of the latest snapshot taken (or being saved) or restored.
    snap_taken: u64,
    /// A received snapshot waiting for its WAL write ([`snapshots`]).
    pending_restore: Option<snapshots::PendingRestore>,
    /// Digest of every entry applied so far (carried in snapshots; the state-digest oracle).
    applied_digest: u64,
    /// The term of the entry at `applied` (the raft log may no longer hold it).
    applied_term: u64,
    /// Open watch streams, by the request that created them.
    watchers: BTreeMap<RequestId, Watcher>,
    /// Proposals of the member's own (lease revocations).
    internal_seq: u64,
    /// The member list it applied ([`membership`]).
    members: membership::Members,
    /// Peers its transport is connected to, and since when (rafthttp's `ActiveSince`).
    peers_active: BTreeMap<u64, SimTime>,
    /// Peers it has been connected to since it started (etcd: members that published their
    /// attributes, "started").
    peers_started: std::collections::BTreeSet<u64>,
    /// The member list a peer returned when this member joined (etcd keeps it in memory until
    /// its own log catches up; it decides whether the member is a learner meanwhile).
    fetched: Option<membership::Members>,
    /// Configuration changes the `apply-confchange-early` bug already applied.
    conf_applied_early: std::collections::BTreeSet<u64>,
    /// Builds the user's state machine, if the run has one.
    machine_factory: Option<machine::MachineFactory>,
    /// The user's state machine (rebuilt at every restart).
    machine: Option<Box<dyn machine::ErasedMachine>>,
}

impl Node {
    /// Creates it.
    pub fn new(
        id: NodeId,
        cfg: NodeConfig,
        voters: Vec<u64>,
        disk: Disk,
        jitter: SimRng,
        logger: slog::Logger,
        machine_factory: Option<machine::MachineFactory>,
    ) -> Node {
        let mut n = Node {
            id,
            cfg,
            voters,
            status: NodeStatus::Crashed,
            incarnation: 0,
            raw: None,
            disk,
            kv: KvStore::default(),
            applied: 0,
            apply_queued: 0,
            inbox: VecDeque::new(),
            paused_at: None,
            tick_held: false,
            waits: BTreeMap::new(),
            reads: BTreeMap::new(),
            published: Published::default(),
            election_timeout_ticks: 0,
            jitter,
            jitter_key: None,
            stats: NodeStats::default(),
            logger,
            last_role: None,
            due_now: VecDeque::new(),
            durable_ready: 0,
            bug_applied_upto: 0,
            applied_before_crash: None,
            heartbeats: BTreeMap::new(),
            applied_requests: Default::default(),
            lessor: Lessor::default(),
            lessor_armed: false,
            forwards: BTreeMap::new(),
            clock: clock::LocalClock::default(),
            snap_taken: 0,
            pending_restore: None,
            applied_digest: 0,
            applied_term: 0,
            watchers: BTreeMap::new(),
            internal_seq: 0,
            members: membership::Members::default(),
            peers_active: BTreeMap::new(),
            fetched: None,
            peers_started: Default::default(),
            conf_applied_early: Default::default(),
            machine_factory,
            machine: None,
        };
        let fresh = n.boot();
        assert!(fresh.is_none(), "a new member starts from an empty disk");
        n
    }

    /// Election timeouts are drawn from `[election_tick, 2 x election_tick)` as etcd does; the
    /// draw itself is the simulator's (see `fix_jitter`).
    fn raft_config(&self) -> raft::Config {
        raft::Config {
            id: self.id.0,
            heartbeat_tick: self.cfg.heartbeat_ticks,
            election_tick: self.cfg.election_ticks,
            min_election_tick: self.cfg.election_ticks,
            max_election_tick: 2 * self.cfg.election_ticks,
            pre_vote: self.cfg.pre_vote,
            check_quorum: self.cfg.check_quorum,
            read_only_option: match self.cfg.read_only {
                ReadOnly::Safe => ReadOnlyOption::Safe,
                ReadOnly::LeaseBased => ReadOnlyOption::LeaseBased,
            },
            max_inflight_msgs: 512,
            max_size_per_msg: self.cfg.max_size_per_msg,
            applied: 0,
            ..Default::default()
        }
    }

    /// Builds raft from the durable state (fresh disk: empty log, the configured voters): the
    /// durable snapshot, then the WAL after it. Returns the snapshot the state machine must be
    /// restored from, if any.
    fn boot(&mut self) -> Option<Snapshot> {
        let mut store = SimStorage::new(self.voters.clone());
        let durable = &self.disk.durable;
        let snapshot = (durable.snapshot_index() > 0).then(|| durable.snapshot.clone());
        if let Some(s) = &snapshot {
            store.install(s.clone());
        }
        store.replay(&durable.entries);
        let mut hs = durable.hard_state.clone();
        hs.commit = hs.commit.max(durable.snapshot_index());
        store.set_hardstate(hs);
        let mut config = self.raft_config();
        config.applied = durable.snapshot_index();
        let raw = RawNode::new(&config, store, &self.logger)
            .unwrap_or_else(|e| panic!("raft-rs refused to start {}: {e}", self.id));
        self.raw = Some(raw);
        self.kv = KvStore::new(self.cfg.min_lease_ttl_s, self.cfg.keep_events);
        self.machine = self.machine_factory.as_ref().map(|f| f.build());
        self.lessor = Lessor::default();
        self.lessor_armed = false;
        self.internal_seq = 0;
        self.members = membership::Members::bootstrap(&self.voters);
        self.peers_active.clear();
        self.peers_started.clear();
        self.fetched = None;
        self.conf_applied_early.clear();
        self.applied = 0;
        self.apply_queued = 0;
        self.durable_ready = 0;
        self.bug_applied_upto = 0;
        self.applied_requests.clear();
        self.applied_digest = 0;
        self.applied_term = 0;
        self.snap_taken = 0;
        self.pending_restore = None;
        self.status = NodeStatus::Running;
        self.incarnation += 1;
        self.published = Published::default();
        self.last_role = None;
        self.jitter_key = None;
        self.fix_jitter();
        self.publish();
        snapshot
    }

    fn raw(&mut self) -> &mut RawNode<SimStorage> {
        self.raw.as_mut().expect("running member has raft state")
    }

    /// The role.
    pub fn role(&self) -> Option<Role> {
        self.raw.as_ref().map(|r| Role::from_raft(r.raft.state))
    }

    /// The term.
    pub fn term(&self) -> u64 {
        self.raw.as_ref().map_or(0, |r| r.raft.term)
    }

    /// Its commit index.
    pub fn commit_index(&self) -> u64 {
        self.raw.as_ref().map_or(0, |r| r.raft.raft_log.committed)
    }

    /// The last log index.
    pub fn last_index(&self) -> u64 {
        self.raw
            .as_ref()
            .map_or(0, |r| r.raft.raft_log.last_index())
    }

    /// Its applied index.
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// Whether the raft loop is blocked waiting for an fsync (sync mode only).
    pub fn loop_blocked(&self) -> bool {
        self.cfg.persist == PersistMode::Sync && self.disk.fsync_pending()
    }

    /// What `endpoint status` shows (its last published raft state).
    pub fn status_info(&self) -> StatusInfo {
        StatusInfo {
            member: self.id,
            db_size_bytes: self.kv.db_size_bytes(),
            leader: self.published.leader,
            is_learner: self.is_learner(),
            raft_term: self.published.term,
            raft_index: self.published.committed,
            raft_applied_index: self.published.applied,
            version: self.cfg.release,
        }
    }

    // ------------------------------------------------------------------ events

    /// One raft tick (a heartbeat interval). etcd's raft loop reads its ticker in the same
    /// `select` as Ready (`server/etcdserver/raft.go` `raftNode.start`), and Go's `time.Ticker`
    /// channel holds one tick while its reader is busy and drops the rest: a tick that comes
    /// while the loop waits on fsync, or while the process is paused, is held and handled as
    /// soon as the loop is free again (the next `drive`); further ones are lost.
    pub fn tick(&mut self, out: &mut Out) {
        let blocked = match self.status {
            NodeStatus::Running => self.loop_blocked(),
            NodeStatus::Paused => true,
            NodeStatus::Crashed | NodeStatus::Spare | NodeStatus::Removed => return,
        };
        if blocked {
            if self.tick_held {
                self.stats.ticks_skipped += 1;
            }
            self.tick_held = true;
            return;
        }
        self.raw().tick();
        self.drive(out);
    }

    /// Whether the member has nothing for a drive to do: not running, its loop waiting on
    /// fsync, or no Ready pending. Every member event ends settled (each ends with a drive);
    /// [`Node::tick_quietly`] relies on it.
    pub fn settled(&self) -> bool {
        self.status != NodeStatus::Running
            || self.loop_blocked()
            || self.raw.as_ref().is_none_or(|r| !r.has_ready())
    }

    /// Ticks a running follower (or candidate) whose tick can only count towards its election
    /// timeout, and returns whether it did: then the tick changed nothing a `drive`, the
    /// effects or the observer would see (the drive that ended the member's last event left
    /// no Ready, and a tick short of the timeout makes none: raft-rs `Raft::tick_election`),
    /// so the loop skips them (4,800 of the default incident's 40,047 events). Otherwise
    /// returns false without ticking: the caller ticks through [`Node::tick`].
    pub fn tick_quietly(&mut self) -> bool {
        if self.status != NodeStatus::Running || self.tick_held || self.loop_blocked() {
            return false;
        }
        let quiet = self.raw.as_ref().is_some_and(|raw| {
            let r = &raw.raft;
            r.state != raft::StateRole::Leader
                && r.election_elapsed + 1 < r.randomized_election_timeout()
        });
        if quiet {
            assert!(
                self.settled(),
                "{} holds a Ready no drive handled: every member event ends with a drive",
                self.id
            );
            let ready = self.raw().tick();
            assert!(!ready, "a tick short of the election timeout made a Ready");
        }
        quiet
    }

    /// Makes this member campaign now (used to choose the initial leader of a scenario).
    pub fn campaign(&mut self, out: &mut Out) {
        if self.status == NodeStatus::Running {
            let _ = self.raw().campaign();
            self.drive(out);
        }
    }

    /// A raft message arrived.
    pub fn receive(&mut self, msg: Box<Message>, out: &mut Out) {
        match self.status {
            NodeStatus::Crashed | NodeStatus::Spare | NodeStatus::Removed => out.trace.push(
                out.now,
                TraceEvent::MsgDropped {
                    from: NodeId(msg.from),
                    to: self.id,
                    kind: msg_kind(msg.get_msg_type()),
                    reason: DropReason::DestinationDown,
                },
            ),
            NodeStatus::Paused => self.enqueue(Inbound::Raft(msg)),
            NodeStatus::Running => {
                // Errors here are raft-rs refusing a message from an unknown peer: ignore, as etcd does.
                let _ = self.raw().step(*msg);
                self.drive(out);
            }
        }
    }

    /// How the snapshot this member (as leader) sent to `to` ended: raft-rs's
    /// `report_snapshot`, as etcd's snapshot sender calls it.
    pub fn snapshot_status(&mut self, to: NodeId, ok: bool, out: &mut Out) {
        if self.status != NodeStatus::Running {
            return;
        }
        let status = if ok {
            raft::SnapshotStatus::Finish
        } else {
            raft::SnapshotStatus::Failure
        };
        self.raw().report_snapshot(to.0, status);
        self.drive(out);
    }

    /// A client request arrived.
    pub fn request(&mut self, req: ServerRequest, out: &mut Out) {
        match self.status {
            NodeStatus::Crashed | NodeStatus::Spare | NodeStatus::Removed => {
                out.send(NodeMsg::reply(Reply {
                    client: req.client,
                    request: req.request,
                    from: self.id,
                    result: Err(ServerError::Unavailable),
                }))
            }
            NodeStatus::Paused => self.enqueue(Inbound::Request(req)),
            NodeStatus::Running => {
                self.serve(req, out);
                self.drive(out);
            }
        }
    }

    /// One of its timers fired.
    pub fn timer(&mut self, t: NodeTimer, out: &mut Out) {
        match self.status {
            NodeStatus::Crashed | NodeStatus::Spare | NodeStatus::Removed => {}
            NodeStatus::Paused => self.enqueue(Inbound::Timer(t)),
            NodeStatus::Running => {
                self.fire(t, out);
                self.drive(out);
            }
        }
    }

    fn enqueue(&mut self, i: Inbound) {
        // Timers (our own disk completions) are never dropped; network input is bounded.
        let is_timer = matches!(i, Inbound::Timer(_));
        if !is_timer && self.inbox.len() >= self.cfg.inbox_limit {
            self.stats.inbox_dropped += 1;
            return;
        }
        self.inbox.push_back(i);
    }

    // ------------------------------------------------------------------ faults

    /// Freezes the member (SIGSTOP).
    pub fn pause(&mut self, out: &mut Out) {
        if self.status == NodeStatus::Running {
            self.status = NodeStatus::Paused;
            self.paused_at = Some(out.now);
            out.trace
                .push(out.now, TraceEvent::Paused { node: self.id });
        }
    }

    /// Resumes a paused member: it handles what queued in its sockets, in order. After a pause
    /// of [`PEER_STREAM_READ_TIMEOUT`] or more, its peer stream readers find their read deadline
    /// passed and close their connections (re-dialling at once), so the raft messages those
    /// streams buffered are lost; the leader's next heartbeat finds the member behind and raft
    /// resends what it lacks. Measured on etcd 3.4.23 (`docs/reference/etcd-observed.md`, row
    /// 12): the peers' readers of a frozen member time out 5 s into the freeze, and on resume
    /// the member re-dials and catches up in 32-205 ms (median 62 ms), not at once.
    pub fn resume(&mut self, out: &mut Out) {
        if self.status != NodeStatus::Paused {
            return;
        }
        self.status = NodeStatus::Running;
        let paused_at = self.paused_at.take().unwrap_or(out.now);
        if out.now.since(paused_at) >= PEER_STREAM_READ_TIMEOUT {
            self.drop_stream_buffers(out);
        }
        out.trace.push(
            out.now,
            TraceEvent::Resumed {
                node: self.id,
                inbox: self.inbox.len() as u64,
            },
        );
        while let Some(i) = self.inbox.pop_front() {
            match i {
                Inbound::Raft(m) => {
                    let _ = self.raw().step(*m);
                }
                Inbound::Request(r) => self.serve(r, out),
                Inbound::Timer(t) => self.fire(t, out),
                Inbound::Forward(f) => self.handle_forward(f, out),
            }
            if self.status != NodeStatus::Running {
                return; // an fsync error crashed it
            }
            self.drive(out);
        }
        self.drive(out); // the tick its ticker held
    }

    /// Loses the raft messages queued in its peer streams' socket buffers (their connections
    /// timed out); client requests, peer forwards (separate HTTP requests) and its own timers
    /// stay queued.
    fn drop_stream_buffers(&mut self, out: &mut Out) {
        let id = self.id;
        self.inbox.retain(|i| match i {
            Inbound::Raft(m) => {
                out.trace.push(
                    out.now,
                    TraceEvent::MsgDropped {
                        from: NodeId(m.from),
                        to: id,
                        kind: msg_kind(m.get_msg_type()),
                        reason: DropReason::StreamTimedOut,
                    },
                );
                false
            }
            _ => true,
        });
    }

    /// Crashes the member: everything not durable is lost.
    pub fn crash(&mut self, reason: &str, out: &mut Out) {
        if !self.status.is_up() {
            return;
        }
        let lost = self.go_down(out);
        out.trace.push(
            out.now,
            TraceEvent::Crashed {
                node: self.id,
                lost_writes: lost,
                durable_last_index: self.disk.durable.last_index(),
                reason: reason.to_string(),
            },
        );
    }

    /// The process dies: everything volatile is lost, open connections break. Returns how
    /// many unsynced writes were lost.
    fn go_down(&mut self, out: &mut Out) -> u64 {
        if self.applied > 0 {
            self.applied_before_crash = Some((self.applied, self.applied_term));
        }
        let lost = self.disk.crash();
        if let Some(kept_entries) = self.disk.torn_tail {
            let node = self.id;
            out.record(TraceEvent::WalTornTail { node, kept_entries });
        }
        for w in &lost {
            for m in &w.held_msgs {
                out.trace.push(
                    out.now,
                    TraceEvent::MsgDropped {
                        from: self.id,
                        to: NodeId(m.to),
                        kind: msg_kind(m.get_msg_type()),
                        reason: DropReason::CrashedBeforeSend,
                    },
                );
            }
        }
        self.status = NodeStatus::Crashed;
        self.raw = None;
        self.inbox.clear();
        self.tick_held = false;
        self.due_now.clear();
        // Open connections break: every waiting client gets Unavailable.
        let waiting: Vec<(RequestId, ClientId)> = self
            .waits
            .iter()
            .map(|(r, c)| (*r, *c))
            .chain(self.reads.iter().map(|(r, p)| (*r, p.client)))
            .chain(self.forwards.iter().map(|(r, (c, _))| (*r, *c)))
            .collect();
        self.waits.clear();
        self.reads.clear();
        self.forwards.clear();
        self.break_watches(out);
        for (request, client) in waiting {
            self.reply(client, request, Err(ServerError::Unavailable), out);
        }
        lost.len() as u64
    }

    /// Stops the member for good: it was removed from the cluster.
    pub fn stop_removed(&mut self, reason: &str, out: &mut Out) {
        if self.status.is_up() {
            self.go_down(out);
            self.status = NodeStatus::Removed;
            let (node, reason) = (self.id, reason.to_string());
            out.record(TraceEvent::Stopped { node, reason });
        }
    }

    /// Starts a spare machine's etcd with `list`, the member list a peer returned (`None`: no
    /// peer answered). etcd refuses to start when no peer answers or the list does not hold
    /// it (it was never added). Started, it boots from its empty disk and waits to hear from
    /// the cluster (it is in no configuration its log holds yet, so it never campaigns).
    pub fn start(&mut self, list: Option<membership::Members>, out: &mut Out) {
        if self.status != NodeStatus::Spare {
            return;
        }
        let node = self.id;
        let Some(list) = list.filter(|l| l.contains(node)) else {
            let reason = "it could not join: no reachable member lists it (run `member add` first)";
            out.record(TraceEvent::Stopped {
                node,
                reason: reason.into(),
            });
            return;
        };
        self.status = NodeStatus::Crashed;
        self.boot();
        self.fetched = Some(list);
        out.record(TraceEvent::Started { node });
        self.drive(out);
    }

    /// This machine is a spare: not started, not a member.
    pub fn into_spare(mut self) -> Node {
        self.status = NodeStatus::Spare;
        self.raw = None;
        self
    }

    /// Restarts a crashed member from its durable state.
    pub fn restart(&mut self, out: &mut Out) {
        if self.status != NodeStatus::Crashed {
            return;
        }
        if !self.durable_state_sound(out) {
            return; // raft-rs would panic on this state; the member stays down
        }
        if let Some(snap) = self.boot() {
            self.restore(&snap, false, out);
        }
        out.trace.push(
            out.now,
            TraceEvent::Restarted {
                node: self.id,
                term: self.disk.durable.hard_state.term,
                durable_last_index: self.disk.durable.last_index(),
                election_ticks: self.election_timeout_ticks,
            },
        );
        self.drive(out);
    }

    /// Reports what the disk kept to the Ready-contract oracle; returns whether raft-rs can
    /// start from it (it panics on a durable commit beyond the durable log).
    fn durable_state_sound(&mut self, out: &mut Out) -> bool {
        let durable = self.durable_summary();
        let kept_term = self.applied_before_crash.and_then(|(index, term)| {
            let d = &self.disk.durable;
            // An entry the durable snapshot covers is kept (as state, not as an entry).
            if d.covers(index) {
                return Some(term);
            }
            d.term_at(index)
        });
        out.observe(Observation::Restarting {
            node: self.id,
            durable,
            applied_before_crash: self.applied_before_crash,
            kept_term,
            torn: self.disk.torn_tail.is_some(),
        });
        // A WAL that does not start right after the durable snapshot cannot be replayed.
        let contiguous = durable.first_entry_index == 0
            || durable.first_entry_index == durable.snapshot_index + 1;
        durable.commit <= durable.last_index && contiguous
    }

    fn durable_summary(&self) -> DurableSummary {
        let d = &self.disk.durable;
        DurableSummary {
            commit: d.hard_state.commit,
            term: d.hard_state.term,
            last_index: d.last_index(),
            last_entry_term: d.term_at(d.last_index()).unwrap_or(0),
            snapshot_index: d.snapshot_index(),
            first_entry_index: d.entries.first().map_or(0, |e| e.index),
        }
    }

    /// The term of the entry at `index` in this member's log.
    pub fn log_term(&self, index: u64) -> Option<u64> {
        let raw = self.raw.as_ref()?;
        let log = &raw.raft.raft_log;
        // Below the log's first index raft-rs answers 0 for a compacted entry: not a term.
        if index == 0 || index > log.last_index() || index + 1 < log.first_index() {
            return None;
        }
        log.term(index).ok().filter(|t| *t > 0)
    }

    /// The raft log starts after this index (entries up to it live only in a snapshot).
    pub fn compacted_through(&self) -> u64 {
        self.raw
            .as_ref()
            .map_or(0, |r| r.raft.raft_log.first_index() - 1)
    }

    // ------------------------------------------------------------------ client requests

    fn serve(&mut self, req: ServerRequest, out: &mut Out) {
        if out.now >= req.deadline {
            let (node, request, op) = (self.id, req.request, req.op.summary());
            out.record(TraceEvent::RequestExpired { node, request, op });
            return;
        }
        let (node, request) = (self.id, req.request);
        out.record(TraceEvent::RequestRead { node, request });
        let (client, request) = (req.client, req.request);
        if self.is_learner() && !learner_serves(&req.op) {
            return self.reply(
                client,
                request,
                Err(ServerError::NotSupportedForLearner),
                out,
            );
        }
        match req.op {
            ServerOp::Member { change } => {
                self.serve_member(client, request, change, req.deadline, out)
            }
            ServerOp::Status => {
                let info = self.status_info();
                self.reply(client, request, Ok(ReplyBody::Status(Box::new(info))), out);
            }
            ServerOp::Get { key, serializable }
                if serializable || self.cfg.bug == Some(Bug::LocalLinearizableRead) =>
            {
                let body = self.kv_body(self.kv.get(&key));
                self.reply(client, request, Ok(body), out);
            }
            ServerOp::Get { ref key, .. } => {
                let purpose = ReadPurpose::Get { key: key.clone() };
                self.linearizable_read(&req, purpose, out);
            }
            ServerOp::MachineQuery {
                ref query,
                serializable,
            } => {
                if serializable {
                    let body = self.query_machine(query);
                    self.reply(client, request, Ok(body), out);
                } else {
                    let purpose = ReadPurpose::Machine {
                        query: query.clone(),
                    };
                    self.linearizable_read(&req, purpose, out);
                }
            }
            op @ (ServerOp::LeaseKeepAlive { .. } | ServerOp::LeaseTimeToLive { .. }) => {
                self.serve_lease(client, request, op, out);
                self.set_server_timeout(request, req.deadline, out);
            }
            op @ ServerOp::Watch { .. } => self.open_watch(client, request, op, out),
            ServerOp::Write { op } => self.serve_write(client, request, &op, req.deadline, out),
        }
    }

    /// Starts a ReadIndex round for a linearizable read; the read is answered once the member
    /// applied up to the index raft confirms.
    fn linearizable_read(&mut self, req: &ServerRequest, purpose: ReadPurpose, out: &mut Out) {
        let request = req.request;
        self.read_index(req.client, request, purpose);
        self.set_read_retry(out, |incarnation| NodeTimer::ReadRetry {
            request,
            incarnation,
        });
        self.set_server_timeout(request, req.deadline, out);
    }

    /// Asks raft to confirm the read index for `request`; `serve_reads` acts on `purpose` once
    /// the member has applied up to it.
    fn read_index(&mut self, client: ClientId, request: RequestId, purpose: ReadPurpose) {
        let read = PendingRead {
            client,
            purpose,
            index: None,
        };
        self.reads.insert(request, read);
        self.raw().read_index(request.0.to_be_bytes().to_vec());
    }

    /// Proposes a write; it is answered when applied, or at the server timeout.
    fn serve_write(
        &mut self,
        client: ClientId,
        request: RequestId,
        op: &KvOp,
        deadline: SimTime,
        out: &mut Out,
    ) {
        self.waits.insert(request, client);
        let data = wire::encode(request, op);
        // A dropped proposal (no leader, transfer in progress) is answered by the server
        // timeout, as in etcd.
        let _ = self.raw().propose(vec![], data);
        if self.cfg.bug == Some(Bug::AckBeforeCommit) && self.role() == Some(Role::Leader) {
            self.waits.remove(&request);
            let body = self.kv_body(bugs::guessed_result(op, self.kv.revision()));
            self.reply(client, request, Ok(body), out);
            return;
        }
        self.set_server_timeout(request, deadline, out);
    }

    /// The request gives up at etcd's request timeout or at the client's deadline, whichever
    /// comes first: the client's deadline travels in the gRPC context, and when it passes the
    /// server answers DeadlineExceeded at once (`server/etcdserver/v3_server.go`,
    /// `processInternalRaftRequestOnce`); a proposal already made stays in raft.
    fn set_server_timeout(&mut self, request: RequestId, client_deadline: SimTime, out: &mut Out) {
        let own = out.now + self.clock.sim_span(self.cfg.server_request_timeout);
        let deadline = client_deadline < own;
        let at = own.min(client_deadline);
        let incarnation = self.incarnation;
        out.timer(
            at,
            NodeTimer::ServerTimeout {
                request,
                incarnation,
                deadline,
            },
        );
    }

    /// Re-sends an unanswered ReadIndex later, in releases that do.
    fn set_read_retry(&self, out: &mut Out, f: impl FnOnce(u64) -> NodeTimer) {
        if let Some(after) = self.cfg.read_index_retry {
            self.set_timer(out, after, f);
        }
    }

    /// A timer `after` on this member's own clock.
    fn set_timer(&self, out: &mut Out, after: SimDuration, f: impl FnOnce(u64) -> NodeTimer) {
        out.timer(out.now + self.clock.sim_span(after), f(self.incarnation));
    }

    /// The client requests its state machine has applied (in this incarnation, or carried by
    /// the snapshot it restored), in request order.
    pub fn applied_requests(&self) -> impl Iterator<Item = RequestId> + '_ {
        self.applied_requests.iter()
    }

    /// This member's clock (a `clock_drift` fault changes its speed).
    pub fn clock(&self) -> &clock::LocalClock {
        &self.clock
    }

    fn kv_body(&self, result: KvResult) -> ReplyBody {
        ReplyBody::Kv {
            header: Header {
                member: self.id,
                revision: self.kv.revision(),
                raft_term: self.published.term,
            },
            result,
        }
    }

    fn reply(
        &self,
        client: ClientId,
        request: RequestId,
        result: Result<ReplyBody, ServerError>,
        out: &mut Out,
    ) {
        out.trace.push(
            out.now,
            TraceEvent::Replied {
                node: self.id,
                request,
                ok: result.is_ok(),
            },
        );
        out.send(NodeMsg::reply(Reply {
            client,
            request,
            from: self.id,
            result,
        }));
    }

    fn fire(&mut self, t: NodeTimer, out: &mut Out) {
        match t {
            NodeTimer::Disk { class, epoch } if epoch == self.disk.epoch => {
                self.disk_done(class, out)
            }
            NodeTimer::ServerTimeout {
                request,
                incarnation,
                deadline,
            } if incarnation == self.incarnation => {
                let e = if deadline {
                    ServerError::DeadlineExceeded
                } else {
                    ServerError::RequestTimedOut
                };
                self.server_timeout(request, e, out)
            }
            NodeTimer::ReadRetry {
                request,
                incarnation,
            } if incarnation == self.incarnation => self.read_retry(request, out),
            NodeTimer::Lessor { incarnation } if incarnation == self.incarnation => {
                self.lessor_loop(out)
            }
            NodeTimer::LeaseRetry {
                request,
                incarnation,
            } if incarnation == self.incarnation => self.lease_retry_due(request, out),
            NodeTimer::RemovedStop { incarnation } if incarnation == self.incarnation => self
                .stop_removed(
                    "the member has been permanently removed from the cluster",
                    out,
                ),
            _ => {}
        }
    }

    fn server_timeout(&mut self, request: RequestId, error: ServerError, out: &mut Out) {
        if self
            .reads
            .get(&request)
            .is_some_and(|p| matches!(p.purpose, ReadPurpose::ConfirmRevoke(_)))
        {
            self.reads.remove(&request); // the lessor's own check gave up: revoke nothing
            return;
        }
        let client = self
            .waits
            .remove(&request)
            .or_else(|| self.reads.remove(&request).map(|p| p.client))
            .or_else(|| self.forwards.remove(&request).map(|(c, _)| c));
        if let Some(client) = client {
            out.trace.push(
                out.now,
                TraceEvent::ServerTimeout {
                    node: self.id,
                    request,
                    deadline: error == ServerError::DeadlineExceeded,
                },
            );
            self.reply(client, request, Err(error), out);
        }
    }

    fn read_retry(&mut self, request: RequestId, out: &mut Out) {
        if self.cfg.bug == Some(Bug::NoReadindexRetry) {
            return;
        }
        let Some(p) = self.reads.get(&request) else {
            return;
        };
        if p.index.is_some() {
            return;
        }
        out.trace.push(
            out.now,
            TraceEvent::ReadIndexRetry {
                node: self.id,
                request,
            },
        );
        self.raw().read_index(request.0.to_be_bytes().to_vec());
        self.set_read_retry(out, |inc| NodeTimer::ReadRetry {
            request,
            incarnation: inc,
        });
    }

    // ------------------------------------------------------------------ the raft loop

    /// raft-rs re-draws the randomized election timeout from its own RNG on every role or term
    /// change (`Raft::reset`). Right after any call that may have done so, and before the next
    /// tick can use the value, replace it with a draw from this member's seeded stream. A reset
    /// shows as a change of (term, role, leader) or of the timeout itself. Unlike a fixed
    /// width-one range, this keeps timeouts random per election, so a member with a stale log
    /// cannot win every timeout race forever (a livelock explore found with fixed timeouts).
    fn fix_jitter(&mut self) {
        let Some(raw) = self.raw.as_mut() else { return };
        let key = (raw.raft.term, raw.raft.state, raw.raft.leader_id);
        let current = raw.raft.randomized_election_timeout() as u64;
        if self.jitter_key == Some(key) && current == self.election_timeout_ticks {
            return;
        }
        self.jitter_key = Some(key);
        let base = self.cfg.election_ticks as u64;
        let t = if self.cfg.randomize_election_timeout {
            self.jitter.between(base, 2 * base - 1)
        } else {
            base
        };
        raw.raft.set_randomized_election_timeout(t as usize);
        self.election_timeout_ticks = t;
    }

    /// Completes disk operations due now and handles Readies until there is nothing to do or
    /// the loop blocks on fsync.
    fn drive(&mut self, out: &mut Out) {
        self.fix_jitter();
        while self.status == NodeStatus::Running {
            if self.cfg.bug == Some(Bug::CommitByCounting) {
                self.bug_commit_by_counting();
            }
            if let Some(class) = self.due_now.pop_front() {
                self.disk_done(class, out);
            } else if self.tick_held && !self.loop_blocked() {
                self.tick_held = false;
                self.raw().tick();
            } else if !self.loop_blocked() && self.raw().has_ready() {
                self.handle_ready(out);
            } else {
                break;
            }
        }
    }

    /// The `commit-by-counting` bug: a leader commits the highest index a majority has stored,
    /// without raft-rs's check that the entry there is of the leader's own term.
    fn bug_commit_by_counting(&mut self) {
        let raw = self.raw();
        if raw.raft.state != raft::StateRole::Leader {
            return;
        }
        let counted = raw.raft.mut_prs().maximal_committed_index().0;
        if counted > raw.raft.raft_log.committed {
            raw.raft.raft_log.commit_to(counted);
        }
    }

    fn handle_ready(&mut self, out: &mut Out) {
        let mut rd = self.raw().ready();
        let number = rd.number();
        let mut msgs = rd.take_messages();
        for mut m in msgs.drain(..) {
            match m.get_msg_type() {
                raft::eraftpb::MessageType::MsgHeartbeat => self.heartbeat_sent(m.to, out),
                raft::eraftpb::MessageType::MsgSnapshot => self.merge_snapshot(&mut m),
                _ => {}
            }
            out.send(NodeMsg::Peer(Box::new(m)));
        }
        self.give_back_outbox(msgs);
        let snapshot = (!rd.snapshot().is_empty()).then(|| rd.snapshot().clone());
        if let Some(s) = &snapshot {
            // raft-rs's contract: the storage holds the snapshot before the Ready advances.
            self.raw().mut_store().install(s.clone());
            self.apply_queued = s.get_metadata().index;
            self.pending_restore = Some(snapshots::PendingRestore {
                ready: number,
                snapshot: s.clone(),
                entries: vec![],
            });
        }
        let early = snapshot.is_some() && self.cfg.bug == Some(Bug::SnapshotBeforePersist);
        let committed = rd.take_committed_entries();
        let read_states = rd.take_read_states();
        let entries = rd.take_entries();
        let hard_state = rd.hs().cloned();
        let mut held = rd.take_persisted_messages();
        let must_sync = rd.must_sync();
        let store = self.raw().mut_store();
        store.append(&entries);
        if let Some(hs) = &hard_state {
            store.set_hardstate(hs.clone());
        }
        self.raw().advance_append_async(rd);
        self.bug_conf_on_append(&entries, out);
        if self.cfg.bug == Some(Bug::ApplyUncommitted) {
            self.apply_on_append(&entries, out);
        }

        if early {
            // The snapshot-before-persist bug: acknowledge it now.
            let now_held = std::mem::take(&mut held);
            self.send_held(number, now_held, out);
        }
        let write = WalWrite {
            ready: number,
            entries,
            hard_state,
            held_msgs: held,
            fsync: must_sync || snapshot.is_some(),
            snapshot,
        };
        self.persist(write, out);
        self.queue_apply(committed, out);
        for rs in read_states {
            self.read_state(rs.request_ctx, rs.index);
        }
        self.publish();
        self.trace_role(out);
        self.serve_reads(out);
    }

    /// etcd's warning when an operation took longer than its threshold (`warning.1`).
    fn warn(&self, out: &mut Out, warning: (&'static str, SimDuration), took: SimDuration) {
        let (msg, expected) = warning;
        if took > expected {
            out.record(TraceEvent::EtcdLog {
                node: self.id,
                msg,
                took_us: took.as_micros(),
                expected_us: expected.as_micros(),
            });
        }
    }

    /// A leader sent a heartbeat to `to`: etcd warns when the gap since the previous one
    /// exceeds twice the heartbeat interval (`server/etcdserver/raft.go`, its timeout detector,
    /// reset when the member becomes leader).
    fn heartbeat_sent(&mut self, to: u64, out: &mut Out) {
        // etcd times the gap on its own clock, the one that drives its ticks.
        let expected = self.cfg.heartbeat_interval * 2;
        let now = self.clock.local(out.now);
        if let Some(prev) = self.heartbeats.insert(to, now) {
            self.warn(out, (HEARTBEAT_LATE, expected), now.since(prev));
        }
    }

    /// Sends the messages of Ready `ready` that had to wait for its persistence; the
    /// Ready-contract oracle checks that it is durable.
    fn send_held(&mut self, ready: u64, mut msgs: Vec<Message>, out: &mut Out) {
        if !msgs.is_empty() {
            out.observe(Observation::HeldMessagesSent {
                node: self.id,
                ready,
                durable_ready: self.durable_ready,
                count: msgs.len() as u64,
            });
        }
        for m in msgs.drain(..) {
            out.send(NodeMsg::Peer(Box::new(m)));
        }
        self.give_back_outbox(msgs);
    }

    /// raft-rs hands its outbox over with each Ready and starts a new one at the next message:
    /// give it back an emptied one's room instead, one allocation less per Ready. (A follower's
    /// messages all wait for persistence, so its room comes back with the held messages.) Not
    /// the room of a burst (the responses a stalled follower held): that would stay for the
    /// rest of the run.
    fn give_back_outbox(&mut self, emptied: Vec<Message>) {
        debug_assert!(emptied.is_empty());
        if emptied.capacity() > OUTBOX_KEPT {
            return;
        }
        if let Some(raw) = self.raw.as_mut() {
            let outbox = &mut raw.raft.msgs;
            if outbox.is_empty() && outbox.capacity() < emptied.capacity() {
                *outbox = emptied;
            }
        }
    }

    /// Starts the WAL write for one Ready, or completes it at once when it needs no I/O and
    /// nothing is queued ahead of it.
    fn persist(&mut self, mut w: WalWrite, out: &mut Out) {
        if self.cfg.bug == Some(Bug::SendBeforePersist) {
            let held = std::mem::take(&mut w.held_msgs);
            self.send_held(w.ready, held, out);
        }
        if !w.fsync && self.disk.wal_pending() == 0 {
            self.raw().on_persist_ready(w.ready);
            self.durable_ready = self.durable_ready.max(w.ready);
            self.send_held(w.ready, std::mem::take(&mut w.held_msgs), out);
            return;
        }
        if self.cfg.bug == Some(Bug::LoseHardstate) {
            w.hard_state = None;
        }
        if self.cfg.bug == Some(Bug::NonAtomicPersist)
            && w.fsync
            && w.hard_state.is_some()
            && !w.entries.is_empty()
        {
            let hs_only = WalWrite {
                ready: 0,
                hard_state: w.hard_state.take(),
                fsync: true,
                ..Default::default()
            };
            self.submit_wal(hs_only, out);
        }
        self.submit_wal(w, out);
    }

    fn submit_wal(&mut self, w: WalWrite, out: &mut Out) {
        out.trace.push(
            out.now,
            TraceEvent::WalSubmitted {
                node: self.id,
                ready: w.ready,
                entries: w.entries.len() as u64,
                last_index: w.entries.last().map_or(0, |e| e.index),
                fsync: w.fsync,
            },
        );
        self.stats.wal_writes += w.fsync as u64;
        if let Some(due) = self.disk.submit_wal(out.now, w) {
            self.disk_timer(IoClass::Wal, due, out);
        }
    }

    fn disk_timer(&mut self, class: IoClass, due: SimTime, out: &mut Out) {
        if due == out.now {
            self.due_now.push_back(class);
            return;
        }
        let epoch = self.disk.epoch;
        out.timer(due, NodeTimer::Disk { class, epoch });
    }

    fn queue_apply(&mut self, committed: Vec<Entry>, out: &mut Out) {
        let Some(last) = committed.last() else {
            return;
        };
        assert_eq!(
            committed[0].index,
            self.apply_queued + 1,
            "{}: committed entries must follow what was applied",
            self.id
        );
        assert!(
            last.index <= self.commit_index(),
            "{}: applying beyond commit",
            self.id
        );
        self.apply_queued = last.index;
        if let Some(p) = self.pending_restore.as_mut() {
            p.entries.extend(committed); // after the snapshot they follow
            return;
        }
        let batch = ApplyBatch {
            snapshot: None,
            entries: committed,
        };
        if let Some(due) = self.disk.submit_apply(out.now, batch) {
            self.disk_timer(IoClass::Apply, due, out);
        }
    }

    /// Called when a disk operation of `class` reached its due time; `now` is as of the event.
    fn disk_done(&mut self, class: IoClass, out: &mut Out) {
        let took = out.now.since(self.disk.head_since(class));
        let (done, next) = self.disk.complete(class, out.now);
        match &done {
            Completion::Wal(Ok(w)) if w.fsync => self.warn(out, SLOW_FDATASYNC, took),
            Completion::Apply(_) => self.warn(out, SLOW_APPLY, took),
            _ => {}
        }
        if let Some(due) = next {
            self.disk_timer(class, due, out);
        }
        match done {
            Completion::Parked => out.trace.push(
                out.now,
                TraceEvent::DiskParked {
                    node: self.id,
                    io: class.name(),
                },
            ),
            Completion::Apply(batch) => self.apply(batch, out),
            Completion::Snap(w) => self.snapshot_saved(w, out),
            Completion::Wal(Ok(w)) => {
                out.trace.push(
                    out.now,
                    TraceEvent::WalSynced {
                        node: self.id,
                        ready: w.ready,
                        last_index: self.disk.durable.last_index(),
                        held_msgs: w.held_msgs.len() as u64,
                    },
                );
                self.raw().on_persist_ready(w.ready);
                self.durable_ready = self.durable_ready.max(w.ready);
                let durable = self.durable_summary();
                out.observe(Observation::WalDurable {
                    node: self.id,
                    durable,
                });
                self.send_held(w.ready, w.held_msgs, out);
                self.release_restore(w.ready, out);
            }
            Completion::Wal(Err(e)) => {
                out.trace.push(
                    out.now,
                    TraceEvent::FsyncFailed {
                        node: self.id,
                        ready: 0,
                    },
                );
                self.crash(
                    &format!("WAL {e}; etcd treats a failed fsync as fatal"),
                    out,
                );
            }
        }
    }

    /// Starts (`start`) or ends one of this member's faults.
    pub fn fault(&mut self, f: NodeFault, start: bool, out: &mut Out) {
        match (f, start) {
            (NodeFault::Pause, true) => self.pause(out),
            (NodeFault::Pause, false) => self.resume(out),
            (NodeFault::Crash, true) => self.crash("scheduled crash", out),
            (NodeFault::Crash, false) => self.restart(out),
            (NodeFault::Disk(d), true) => self.disk.fault_start(&d),
            (NodeFault::Disk(d), false) => self.disk_fault_end(d, out),
            (NodeFault::ClockDrift { speed_permille }, true) => {
                self.clock.set_speed(out.now, speed_permille)
            }
            (NodeFault::ClockDrift { .. }, false) => {
                self.clock.set_speed(out.now, clock::NOMINAL_PERMILLE)
            }
            (NodeFault::Start, _) => {} // the loop fetches the member list: `start`
        }
    }

    fn disk_fault_end(&mut self, d: DiskFault, out: &mut Out) {
        if let Some((class, due)) = self.disk.fault_end(&d, out.now) {
            self.disk_timer(class, due, out);
        }
        match d {
            DiskFault::Stall(_) if self.status == NodeStatus::Running => self.drive(out),
            // The disk recovered; a member that died of the EIO is restarted by its supervisor.
            DiskFault::FsyncError { once: false } => self.restart(out),
            _ => {}
        }
    }

    /// The `apply-uncommitted` bug: apply entries the moment they are appended.
    fn apply_on_append(&mut self, entries: &[Entry], out: &mut Out) {
        let from = self.bug_applied_upto;
        let normal = |e: &&Entry| e.get_entry_type() == raft::eraftpb::EntryType::EntryNormal;
        for e in entries.iter().filter(|e| e.index > from).filter(normal) {
            self.bug_applied_upto = e.index;
            out.observe(Observation::EntryApplied {
                node: self.id,
                index: e.index,
                term: e.term,
                commit: self.commit_index(),
            });
            if !e.data.is_empty() {
                let p = Proposal::decode(&e.data);
                self.kv.apply(&p.op);
            }
        }
    }

    fn apply(&mut self, batch: ApplyBatch, out: &mut Out) {
        if let Some(s) = &batch.snapshot {
            self.restore(s, true, out);
        }
        for e in &batch.entries {
            assert_eq!(e.index, self.applied + 1, "{}: apply out of order", self.id);
            self.applied = e.index;
            self.applied_term = e.term;
            self.digest_applied(e);
            if e.get_entry_type() != raft::eraftpb::EntryType::EntryNormal {
                self.apply_conf_entry(e, out);
                if self.status != NodeStatus::Running {
                    return; // it removed itself and stopped
                }
            } else if e.data.is_empty() {
                self.promote_lessor(out); // a new leader's empty entry
            } else if e.index > self.bug_applied_upto {
                self.apply_entry(e, out); // (unless applied early by the bug)
            }
        }
        if !self.watchers.is_empty() {
            self.push_watches(out);
        }
        if let Some(last) = batch.entries.last() {
            out.observe(Observation::EntryApplied {
                node: self.id,
                index: last.index,
                term: last.term,
                commit: self.commit_index(),
            });
            out.observe(Observation::StateDigest {
                node: self.id,
                index: last.index,
                digest: self.applied_digest,
                from_snapshot: false,
            });
        }
        let applied = self.applied;
        self.raw().advance_apply_to(applied);
        self.published.applied = applied;
        self.serve_reads(out);
        self.maybe_snapshot(out);
    }

    fn apply_entry(&mut self, e: &Entry, out: &mut Out) {
        let p = Proposal::decode(&e.data);
        // A duplicated proposal is applied once; its second entry changes nothing.
        let first = self.applied_requests.insert(p.request);
        let result = first.then(|| match &p.op {
            KvOp::Machine { command } => self.apply_machine(command),
            op => self.kv.apply(op),
        });
        let effective = result.as_ref().is_some_and(|r| r.changed());
        out.trace.push(
            out.now,
            TraceEvent::Applied {
                node: self.id,
                index: e.index,
                term: e.term,
                request: Some(p.request),
                effective,
            },
        );
        let Some(result) = result else { return };
        self.lessor_applied(&p.op, &result, out);
        if let Some(client) = self.waits.remove(&p.request) {
            let answer = match result {
                KvResult::LeaseNotFound => Err(ServerError::LeaseNotFound),
                KvResult::LeaseExists => Err(ServerError::LeaseExists),
                r => Ok(self.kv_body(r)),
            };
            self.reply(client, p.request, answer, out);
        }
    }

    fn apply_machine(&mut self, command: &str) -> KvResult {
        let m = self.machine.as_mut().unwrap_or_else(|| {
            panic!("a state-machine command was committed but the run has no machine (RunOptions::machine)")
        });
        let response = m.apply_json(command.as_bytes());
        KvResult::Machine {
            response: String::from_utf8(response).expect("JSON is UTF-8"),
        }
    }

    fn query_machine(&self, query: &str) -> ReplyBody {
        let m = self.machine.as_ref().unwrap_or_else(|| {
            panic!(
                "a state-machine query was served but the run has no machine (RunOptions::machine)"
            )
        });
        let response = String::from_utf8(m.query_json(query.as_bytes())).expect("JSON is UTF-8");
        self.kv_body(KvResult::Machine { response })
    }

    /// The user's state machine's fingerprint, if the run has one.
    pub fn machine_fingerprint(&self) -> Option<String> {
        self.machine.as_ref().map(|m| m.fingerprint())
    }

    fn read_state(&mut self, ctx: Vec<u8>, index: u64) {
        let Ok(bytes) = <[u8; 8]>::try_from(ctx.as_slice()) else {
            return;
        };
        if let Some(p) = self.reads.get_mut(&RequestId(u64::from_be_bytes(bytes))) {
            p.index.get_or_insert(index);
        }
    }

    fn serve_reads(&mut self, out: &mut Out) {
        if self.reads.is_empty() {
            return; // the common case, after every Ready
        }
        let applied = self.applied;
        let ready: Vec<RequestId> = self
            .reads
            .iter()
            .filter(|(_, p)| p.index.is_some_and(|i| i <= applied))
            .map(|(r, _)| *r)
            .collect();
        for r in ready {
            let p = self.reads.remove(&r).expect("listed above");
            match p.purpose {
                ReadPurpose::Get { key } => {
                    let body = self.kv_body(self.kv.get(&key));
                    self.reply(p.client, r, Ok(body), out);
                }
                ReadPurpose::Machine { query } => {
                    let body = self.query_machine(&query);
                    self.reply(p.client, r, Ok(body), out);
                }
                ReadPurpose::ConfirmLeadership => self.leadership_confirmed(r, out),
                ReadPurpose::ConfirmRevoke(ids) => self.revoke_confirmed(ids),
            }
        }
    }

    fn publish(&mut self) {
        let raw = self.raw.as_ref().expect("running");
        self.published.term = raw.raft.term;
        self.published.leader = raw.raft.leader_id;
        self.published.role_leader = raw.raft.state == raft::StateRole::Leader;
        self.published.committed = raw.raft.raft_log.committed;
        self.published.applied = self.applied;
        self.demote_lessor();
    }

    fn trace_role(&mut self, out: &mut Out) {
        let raw = self.raw.as_ref().expect("running");
        let now = (
            Role::from_raft(raw.raft.state),
            raw.raft.term,
            raw.raft.leader_id,
        );
        if self.last_role != Some(now) {
            if now.0 == Role::Leader && self.last_role.map(|r| r.0) != Some(Role::Leader) {
                self.heartbeats.clear(); // a new leader's detector starts afresh
            }
            self.last_role = Some(now);
            out.trace.push(
                out.now,
                TraceEvent::RoleChanged {
                    node: self.id,
                    role: now.0,
                    term: now.1,
                    leader: now.2,
                },
            );
        }
    }
}

impl RaftView for Node {
    fn id(&self) -> NodeId {
        self.id
    }
    fn running(&self) -> bool {
        self.status == NodeStatus::Running
    }
    fn incarnation(&self) -> u64 {
        self.incarnation
    }
    fn term(&self) -> u64 {
        Node::term(self)
    }
    fn commit_index(&self) -> u64 {
        Node::commit_index(self)
    }
    fn is_leader(&self) -> bool {
        self.role() == Some(Role::Leader)
    }
    fn log_term(&self, index: u64) -> Option<u64> {
        Node::log_term(self, index)
    }
    fn compacted_through(&self) -> u64 {
        Node::compacted_through(self)
    }
}

/// What etcd serves on a learner (`isRPCSupportedForLearner`): serializable reads, status and
/// the member list.
fn learner_serves(op: &ServerOp) -> bool {
    match op {
        ServerOp::Get { serializable, .. } | ServerOp::MachineQuery { serializable, .. } => {
            *serializable
        }
        ServerOp::Status
        | ServerOp::Member {
            change: rpc::MemberOp::List,
        } => true,
        _ => false,
    }
}
