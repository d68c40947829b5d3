//! Exploration: random fault schedules and workloads as proptest strategies, a two-phase run
//! (faults, then heal and require liveness), every oracle on, and shrinking of a failing case to
//! a minimal schedule that is written out as an ordinary scenario file.
//!
//! A [`Case`] is plain data. [`Case::to_scenario_toml`] renders it in the `sim-scenarios/`
//! format, so `raftsim run` on the file replays the case bit for bit (the file carries its seed).
//! Phases: faults happen in [1s, 20s) (all heal by 20s); at 20s each member gets a linearizable
//! read that must complete within 6s; at 30s a write and a read must succeed; the run ends at 45s
//! and every member must have converged.

mod build;
pub mod summary;

use crate::node::Bug;
use crate::run::{bug_flag, panic_message, run, RunOptions, RunResult};
use crate::sim::trace::Oracle;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// When the fault phase ends (every fault has healed).
pub const HEAL_MS: u64 = 20_000;

/// The event budget of one seed: a 45 s case handles about 4,000 events (7,600 at most over
/// seeds 0..300), so a seed that reaches this is running away and is reported as undecided.
pub const EVENT_BUDGET: u64 = 1_000_000;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
/// A generated exploration case: settings, a fault schedule and a workload.
pub struct Case {
    /// Cluster size.
    pub nodes: u64,
    /// Asynchronous (TiKV) persistence instead of etcd's.
    pub async_persist: bool,
    /// Raft pre-vote (thesis 9.6).
    pub pre_vote: bool,
    /// A leader steps down when it has not heard from a quorum for an election timeout.
    pub check_quorum: bool,
    /// The faults.
    pub faults: Vec<FaultCase>,
    /// The clients and their workloads.
    pub clients: Vec<ClientCase>,
    /// When every fault has healed, in milliseconds ([`HEAL_MS`] unless configured); the
    /// liveness phase runs from there for 25 s.
    pub heal_ms: u64,
    /// An etcd lease with keys attached, kept alive, and two watches (half the cases).
    pub lease: Option<LeaseCase>,
    /// Snapshots and log compaction: (`snapshot_count`, `snapshot_catchup_entries`), low enough
    /// that members compact and lagging ones are sent snapshots (half the cases).
    pub snapshots: Option<(u64, u64)>,
    /// A membership change during the fault phase: perhaps remove a member, add a spare machine
    /// (as a voter, or as a learner promoted later) and start it (a third of the cases).
    pub membership: Option<MembershipCase>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
/// A generated membership change, as etcd's operators make them: `member remove`, `member add`
/// of the spare machine `nodes + 1`, its start, and `member promote` of a learner. Any of the
/// commands may be refused (the strict reconfiguration check, no leader): the oracles judge
/// whatever the cluster did.
pub struct MembershipCase {
    /// (member, when in ms) of a `member remove`.
    pub remove: Option<(u64, u64)>,
    /// When the spare is added, in ms.
    pub add_ms: u64,
    /// Added as a learner, promoted at `promote_ms`.
    pub learner: bool,
    /// When the spare's etcd starts, in ms.
    pub start_ms: u64,
    /// When a learner is promoted, in ms (ignored for a voter).
    pub promote_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
/// A generated lease workload: a lease granted at 1 s and kept alive by one client, keys
/// `l0..l3` written with it, perhaps a revocation, and two watches (`k` and `l` prefixes) on
/// chosen members that the watch oracle judges.
pub struct LeaseCase {
    /// The lease's TTL in seconds.
    pub ttl_s: u64,
    /// The member the keep-alive is pinned to (`None`: all members).
    pub keepalive_pinned: Option<u64>,
    /// The members serving the watch on `k` and the watch on `l`.
    pub watch_nodes: (u64, u64),
    /// Keys written with the lease, one every 700 ms from 2 s.
    pub puts: Vec<u8>,
    /// When the lease is revoked by a client, in milliseconds (`None`: never).
    pub revoke_ms: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
/// One generated fault and its window.
pub struct FaultCase {
    /// What kind.
    pub kind: FaultKindCase,
    /// Start, in milliseconds after 1s.
    pub start_ms: u64,
    /// How long it lasts, in milliseconds (cut at heal time).
    pub len_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
/// A generated fault.
pub enum FaultKindCase {
    /// Cut these nodes off from the rest, both ways.
    Partition(Vec<u64>),
    /// Cut the link from the first member to the second.
    OneWay(u64, u64),
    /// Lose, duplicate or reorder messages (percent) and add delay.
    Degrade {
        /// Percent of messages lost.
        drop_pct: u64,
        /// Percent of messages duplicated.
        dup_pct: u64,
        /// Percent of messages reordered.
        reorder_pct: u64,
        /// Extra latency up to this many milliseconds.
        delay_ms: u64,
    },
    /// A disk stall on a member.
    DiskStall {
        /// The member.
        node: u64,
        /// The I/O class stalled: WAL, apply or snapshot saves.
        io: crate::disk::IoClass,
    },
    /// Slow WAL I/O on a member.
    DiskSlow {
        /// The member.
        node: u64,
        /// Longest WAL latency, in milliseconds.
        latency_ms: u64,
    },
    /// WAL fsyncs of a member fail with EIO.
    FsyncError(u64),
    /// Crash a member (restarted at the end of the window).
    Crash(u64),
    /// Freeze a member.
    Pause(u64),
    /// A member's clock runs fast or slow.
    ClockDrift {
        /// The member; `None`: whichever leads when the fault starts (a leader's clock is the
        /// one its lease and its lessor trust).
        node: Option<u64>,
        /// Its clock's speed, in thousandths of real time.
        speed_permille: u64,
    },
}

impl FaultKindCase {
    /// Its name.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKindCase::Partition(_) => "partition",
            FaultKindCase::OneWay(..) => "one_way",
            FaultKindCase::Degrade { .. } => "degrade",
            FaultKindCase::DiskStall { .. } => "disk_stall",
            FaultKindCase::DiskSlow { .. } => "disk_slow",
            FaultKindCase::FsyncError(_) => "fsync_error",
            FaultKindCase::Crash(_) => "crash",
            FaultKindCase::Pause(_) => "pause",
            FaultKindCase::ClockDrift { .. } => "clock_drift",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
/// One generated client: where it connects and what it does.
pub struct ClientCase {
    /// `None`: all members; else one member (a pinned client).
    pub pinned: Option<u64>,
    /// Milliseconds between its operations.
    pub gap_ms: u64,
    /// The operations.
    pub ops: Vec<OpCase>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
/// One client operation of a generated workload.
pub enum OpCase {
    /// Put a value to key k{0}.
    Put(u8),
    /// A linearizable read of key k{0}.
    Get(u8),
    /// A serializable read of key k{0}.
    SerializableGet(u8),
    /// Delete key k{0}.
    Del(u8),
    /// A transaction on key k{0} comparing its value.
    CasValue(u8, u16),
    /// A transaction on key k{0} comparing its mod revision with {1}.
    CasRev(u8, u8),
}

// ---------------------------------------------------------------------------------- strategies

fn node_in(n: u64) -> impl Strategy<Value = u64> {
    1..=n
}

/// What [`case_with`] generates. `CaseConfig::default()` is what `raftsim explore` runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseConfig {
    /// Cluster sizes and their relative weights (default: 3 members 3 times as often as 5).
    pub sizes: Vec<(u32, u64)>,
    /// At most this many faults per case (default 5).
    pub max_faults: usize,
    /// Relative weight of each fault kind; 0 never generates it (default: all 1).
    pub fault_weights: FaultWeights,
    /// Keys the workload uses, `k0..` (default 4).
    pub keys: u8,
    /// At most this many clients (default 3).
    pub max_clients: usize,
    /// At most this many operations per client (default 39).
    pub max_ops: usize,
    /// When every fault has healed, in milliseconds (default [`HEAL_MS`]); faults start from 1 s.
    pub heal_ms: u64,
    /// Share of cases, in percent, with a lease workload and watches (default 50).
    pub lease_pct: u8,
    /// Percent of cases that snapshot and compact their logs every 5 to 40 entries.
    pub snapshot_pct: u8,
    /// Percent of cases with a membership change (default 33).
    pub membership_pct: u8,
}

/// Relative weights of the fault kinds [`case_with`] draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultWeights {
    /// `partition` of a minority.
    pub partition: u32,
    /// `one_way` cut.
    pub one_way: u32,
    /// `degrade`: loss, duplication, reordering, delay.
    pub degrade: u32,
    /// `disk_stall` (WAL or apply).
    pub disk_stall: u32,
    /// `disk_slow` WAL.
    pub disk_slow: u32,
    /// `fsync_error`.
    pub fsync_error: u32,
    /// `crash` with restart.
    pub crash: u32,
    /// `pause` (SIGSTOP).
    pub pause: u32,
    /// `clock_drift`: a member's clock at 1/10 to 5x real speed.
    pub clock_drift: u32,
}

impl Default for FaultWeights {
    fn default() -> Self {
        FaultWeights {
            partition: 1,
            one_way: 1,
            degrade: 1,
            disk_stall: 1,
            disk_slow: 1,
            fsync_error: 1,
            crash: 1,
            pause: 1,
            clock_drift: 1,
        }
    }
}

impl Default for CaseConfig {
    fn default() -> Self {
        CaseConfig {
            sizes: vec![(3, 3), (1, 5)],
            max_faults: 5,
            fault_weights: FaultWeights::default(),
            keys: 4,
            max_clients: 3,
            max_ops: 39,
            heal_ms: HEAL_MS,
            lease_pct: 50,
            snapshot_pct: 50,
            membership_pct: 33,
        }
    }
}

impl CaseConfig {
    /// Whether the configuration can generate cases, and why not.
    pub fn check(&self) -> Result<(), String> {
        let w = self.fault_weights;
        let weights = [
            w.partition,
            w.one_way,
            w.degrade,
            w.disk_stall,
            w.disk_slow,
            w.fsync_error,
            w.crash,
            w.pause,
            w.clock_drift,
        ];
        if self.sizes.is_empty()
            || self
                .sizes
                .iter()
                .any(|(w, n)| *w == 0 || !(3..=7).contains(n))
        {
            return Err(
                "sizes need at least one (weight > 0, members 3..=7: a partition needs a minority)"
                    .into(),
            );
        }
        if self.max_faults > 0 && weights.iter().all(|w| *w == 0) {
            return Err("every fault weight is 0 while max_faults > 0".into());
        }
        if self.keys == 0 || self.max_clients == 0 || self.max_ops == 0 {
            return Err("keys, max_clients and max_ops must be at least 1".into());
        }
        if self.lease_pct > 100 || self.snapshot_pct > 100 || self.membership_pct > 100 {
            return Err(
                "lease_pct, snapshot_pct and membership_pct are percentages: 0..=100".into(),
            );
        }
        if !(7_000..=3_600_000).contains(&self.heal_ms) {
            return Err(
                "heal_ms must be between 7000 (faults need room after 1 s) and 3600000".into(),
            );
        }
        Ok(())
    }
}

/// A fault on a cluster of `n` members, as `raftsim explore` generates it.
pub fn fault(n: u64) -> impl Strategy<Value = FaultCase> {
    fault_with(n, FaultWeights::default(), HEAL_MS)
}

/// A fault on a cluster of `n` members, kinds drawn by `w`, starting before `heal_ms - 4 s`.
pub fn fault_with(n: u64, w: FaultWeights, heal_ms: u64) -> impl Strategy<Value = FaultCase> {
    let kind = prop_oneof![
        w.partition => proptest::sample::subsequence((1..=n).collect::<Vec<_>>(), 1..=((n - 1) / 2) as usize)
            .prop_map(FaultKindCase::Partition),
        w.one_way => (node_in(n), node_in(n))
            .prop_filter("distinct", |(a, b)| a != b)
            .prop_map(|(a, b)| FaultKindCase::OneWay(a, b)),
        w.degrade => (0u64..=40, 0u64..=30, 0u64..=50, 0u64..=50).prop_map(|(d, u, r, l)| {
            FaultKindCase::Degrade {
                drop_pct: d,
                dup_pct: u,
                reorder_pct: r,
                delay_ms: l,
            }
        }),
        w.disk_stall => (node_in(n), prop_oneof![
            2 => Just(crate::disk::IoClass::Wal),
            2 => Just(crate::disk::IoClass::Apply),
            1 => Just(crate::disk::IoClass::Snap),
        ])
            .prop_map(|(node, io)| FaultKindCase::DiskStall { node, io }),
        w.disk_slow => (node_in(n), 5u64..=500)
            .prop_map(|(node, latency_ms)| FaultKindCase::DiskSlow { node, latency_ms }),
        w.fsync_error => node_in(n).prop_map(FaultKindCase::FsyncError),
        w.crash => node_in(n).prop_map(FaultKindCase::Crash),
        w.pause => node_in(n).prop_map(FaultKindCase::Pause),
        w.clock_drift => (proptest::option::of(node_in(n)), prop_oneof![100u64..=900, 1_100u64..=5_000])
            .prop_map(|(node, speed_permille)| FaultKindCase::ClockDrift { node, speed_permille }),
    ];
    let latest_start = heal_ms - 5_000;
    (kind, 0u64..latest_start, 100u64..8_000).prop_map(|(kind, start_ms, len_ms)| FaultCase {
        kind,
        start_ms,
        len_ms,
    })
}

fn op(keys: u8) -> impl Strategy<Value = OpCase> {
    let key = 0u8..keys;
    prop_oneof![
        4 => key.clone().prop_map(OpCase::Put),
        3 => key.clone().prop_map(OpCase::Get),
        1 => key.clone().prop_map(OpCase::SerializableGet),
        1 => key.clone().prop_map(OpCase::Del),
        1 => (key.clone(), any::<u16>()).prop_map(|(k, v)| OpCase::CasValue(k, v % 64)),
        1 => (key, any::<u8>()).prop_map(|(k, r)| OpCase::CasRev(k, r % 16)),
    ]
}

/// A lease workload on a cluster of `n` members whose faults heal at `heal_ms`.
pub fn lease_case(n: u64, heal_ms: u64) -> impl Strategy<Value = LeaseCase> {
    (
        2u64..=6,
        proptest::option::weighted(0.5, node_in(n)),
        (node_in(n), node_in(n)),
        proptest::collection::vec(0u8..4, 0..12),
        proptest::option::weighted(0.25, 2_000u64..heal_ms),
    )
        .prop_map(
            |(ttl_s, keepalive_pinned, watch_nodes, puts, revoke_ms)| LeaseCase {
                ttl_s,
                keepalive_pinned,
                watch_nodes,
                puts,
                revoke_ms,
            },
        )
}

/// A lease workload in `pct` percent of cases (proptest's weighted option refuses 0 and 1).
fn maybe_lease(pct: u8, n: u64, heal_ms: u64) -> BoxedStrategy<Option<LeaseCase>> {
    match pct {
        0 => Just(None).boxed(),
        100.. => lease_case(n, heal_ms).prop_map(Some).boxed(),
        p => proptest::option::weighted(p as f64 / 100.0, lease_case(n, heal_ms)).boxed(),
    }
}

/// Snapshot settings in `pct` percent of cases: a snapshot every 5 to 40 applied entries,
/// keeping 0 to 10 entries behind it.
fn maybe_snapshots(pct: u8) -> BoxedStrategy<Option<(u64, u64)>> {
    let s = (5u64..=40, 0u64..=10);
    match pct {
        0 => Just(None).boxed(),
        100.. => s.prop_map(Some).boxed(),
        p => proptest::option::weighted(p as f64 / 100.0, s).boxed(),
    }
}

/// A membership change in `pct` percent of the cases, all of it before `heal_ms`.
fn maybe_membership(pct: u8, n: u64, heal_ms: u64) -> BoxedStrategy<Option<MembershipCase>> {
    let last = heal_ms - 6_000;
    let s = (
        proptest::option::of((node_in(n), 1_000..last)),
        1_000..last,
        any::<bool>(),
        0u64..3_000,
        2_000u64..5_000,
    )
        .prop_map(
            |(remove, add_ms, learner, start_after, promote_after)| MembershipCase {
                remove,
                add_ms,
                learner,
                start_ms: add_ms + start_after,
                promote_ms: add_ms + start_after + promote_after,
            },
        );
    match pct {
        0 => Just(None).boxed(),
        100.. => s.prop_map(Some).boxed(),
        p => proptest::option::weighted(p as f64 / 100.0, s).boxed(),
    }
}

/// A generated client on a cluster of `n` members, as `raftsim explore` generates it.
pub fn client(n: u64) -> impl Strategy<Value = ClientCase> {
    client_with(n, 4, 39)
}

/// A generated client on a cluster of `n` members: up to `max_ops` operations on `keys` keys.
pub fn client_with(n: u64, keys: u8, max_ops: usize) -> impl Strategy<Value = ClientCase> {
    (
        proptest::option::weighted(0.3, node_in(n)),
        100u64..1_000,
        proptest::collection::vec(op(keys), 1..max_ops + 1),
    )
        .prop_map(|(pinned, gap_ms, ops)| ClientCase {
            pinned,
            gap_ms,
            ops,
        })
}

/// Cluster settings, a fault schedule and a workload, as `raftsim explore` generates them.
pub fn case() -> impl Strategy<Value = Case> {
    case_with(CaseConfig::default())
}

/// Cases shaped by `config` (sizes, fault kinds and weights, keys, workload, heal time), for
/// other crates' `proptest!` tests.
///
/// # Panics
/// If `config` cannot generate cases ([`CaseConfig::check`] says why).
pub fn case_with(config: CaseConfig) -> impl Strategy<Value = Case> {
    if let Err(e) = config.check() {
        panic!("explore::case_with: {e}");
    }
    let sizes: Vec<(u32, BoxedStrategy<u64>)> = config
        .sizes
        .iter()
        .map(|(w, n)| (*w, Just(*n).boxed()))
        .collect();
    (
        proptest::strategy::Union::new_weighted(sizes),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_flat_map(move |(nodes, async_persist, pre_vote, check_quorum)| {
            let c = &config;
            let heal_ms = c.heal_ms;
            let lease_pct = c.lease_pct;
            (
                proptest::collection::vec(
                    fault_with(nodes, c.fault_weights, heal_ms),
                    0..c.max_faults + 1,
                ),
                proptest::collection::vec(
                    client_with(nodes, c.keys, c.max_ops),
                    1..c.max_clients + 1,
                ),
                maybe_lease(lease_pct, nodes, heal_ms),
                maybe_snapshots(c.snapshot_pct),
                maybe_membership(c.membership_pct, nodes, heal_ms),
            )
                .prop_map(move |(faults, clients, lease, snapshots, membership)| {
                    Case {
                        nodes,
                        async_persist,
                        pre_vote,
                        check_quorum,
                        faults,
                        clients,
                        heal_ms,
                        lease,
                        snapshots,
                        membership,
                    }
                })
        })
}

// ---------------------------------------------------------------------------------- rendering

fn ms(t: u64) -> String {
    format!("{t}ms")
}

/// (heal, liveness write, liveness read, end), in milliseconds: the liveness phase keeps its
/// shape after whatever heal time a case has.
pub(super) fn phases_at(heal: u64) -> (u64, u64, u64, u64) {
    (heal, heal + 10_000, heal + 12_000, heal + 25_000)
}

/// A case's description, which names its phases' times.
pub(super) fn description(heal_ms: u64) -> String {
    let (heal, write, read, _) = phases_at(heal_ms);
    format!("A case generated by raftsim explore: faults until {}, then every fault healed and liveness\nchecked (a read at heal time, a write at {} and a read at {}, convergence at the end).", ms(heal), ms(write), ms(read))
}

impl Case {
    /// The case as a scenario file, runnable with `raftsim run`.
    pub fn to_scenario_toml(&self, seed: u64, header: &str) -> String {
        let mut s = self.head(seed, header);
        if let Some((at, node)) = self.start_fault() {
            let _ = writeln!(
                s,
                "[[fault]]\nkind = \"start\"\nnode = {node}\nat = \"{}\"\n",
                ms(at)
            );
        }
        for f in &self.faults {
            self.render_fault(&mut s, f);
        }
        for c in self.command_plans() {
            let id = c.id.map(|i| format!("id = \"{i}\"\n")).unwrap_or_default();
            let session = c
                .session
                .map(|x| format!("session = \"{x}\"\n"))
                .unwrap_or_default();
            let quiet = if c.quiet { "quiet = true\n" } else { "" };
            let _ = writeln!(
                s,
                "[[command]]\n{id}at = \"{}\"\nrun = \"{}\"\nendpoints = {:?}\n{session}{quiet}",
                ms(c.at),
                c.run,
                c.endpoints
            );
        }
        s.push_str(&self.liveness());
        s
    }

    /// The file's beginning: header comments, name, description, seed, duration, `[cluster]`.
    fn head(&self, seed: u64, header: &str) -> String {
        self.head_at(seed, header, self.heal_ms, self.snapshots)
    }

    /// The file's beginning as if the faults healed at `heal_ms`.
    pub(super) fn head_at(
        &self,
        seed: u64,
        header: &str,
        heal_ms: u64,
        snapshots: Option<(u64, u64)>,
    ) -> String {
        let mut s = String::new();
        for l in header.lines() {
            let _ = writeln!(s, "# {l}");
        }
        let _ = writeln!(s, "name = \"explore-seed-{seed}\"");
        let end = phases_at(heal_ms).3;
        let _ = writeln!(s, "description = \"\"\"\n{}\"\"\"", description(heal_ms));
        let _ = writeln!(s, "seed = {seed}\nduration = \"{}\"\n", ms(end));
        let _ = writeln!(
            s,
            "[cluster]\nnodes = {}\npersist = \"{}\"\npre_vote = {}\ncheck_quorum = {}\n",
            self.nodes,
            if self.async_persist { "async" } else { "sync" },
            self.pre_vote,
            self.check_quorum
        );
        if let Some((count, catchup)) = snapshots {
            s.pop();
            let _ = writeln!(
                s,
                "snapshot_count = {count}\nsnapshot_catchup_entries = {catchup}\n"
            );
        }
        if self.membership.is_some() {
            s.pop();
            let _ = writeln!(s, "spares = 1\n");
        }
        s
    }

    /// The file's end: a read on each member at heal time, then the liveness phase.
    fn liveness(&self) -> String {
        self.liveness_at(self.heal_ms)
    }

    /// The file's end as if the faults healed at `heal_ms`.
    pub(super) fn liveness_at(&self, heal_ms: u64) -> String {
        let (heal, write, read, _) = phases_at(heal_ms);
        let mut s = String::new();
        for n in 1..=self.nodes {
            // 6s: shorter than etcd's 7s server timeout, so a read the member dropped is not
            // rescued by the client's retry; long enough for an election after the heal.
            let _ = writeln!(s, "[[command]]\nid = \"live-read-at-heal\"\nat = \"{}\"\nrun = \"get live\"\nendpoints = [{n}]\ntimeout = \"6s\"\n", ms(heal));
        }
        s.push_str(
            &LIVENESS
                .replace("\"30s\"", &format!("\"{}\"", ms(write)))
                .replace("\"32s\"", &format!("\"{}\"", ms(read))),
        );
        s
    }

    fn render_fault(&self, s: &mut String, f: &FaultCase) {
        let at = 1_000 + f.start_ms;
        let until = (at + f.len_ms).min(self.heal_ms);
        if until <= at {
            return;
        }
        let _ = writeln!(
            s,
            "[[fault]]\nkind = \"{}\"\nat = \"{}\"\nuntil = \"{}\"",
            f.kind.name(),
            ms(at),
            ms(until)
        );
        match &f.kind {
            FaultKindCase::Partition(minority) => {
                let rest: Vec<u64> = (1..=self.nodes).filter(|n| !minority.contains(n)).collect();
                let _ = writeln!(s, "groups = [{minority:?}, {rest:?}]");
            }
            FaultKindCase::OneWay(a, b) => {
                let _ = writeln!(s, "from = {a}\nto = {b}");
            }
            FaultKindCase::Degrade {
                drop_pct,
                dup_pct,
                reorder_pct,
                delay_ms,
            } => {
                let _ = writeln!(
                    s,
                    "drop = \"{drop_pct}/100\"\nduplicate = \"{dup_pct}/100\"\nreorder = \"{reorder_pct}/100\"\nextra_latency_max = \"{delay_ms}ms\""
                );
            }
            FaultKindCase::DiskStall { node, io } => {
                let _ = writeln!(s, "node = {node}\nio = \"{}\"", io.name());
            }
            FaultKindCase::DiskSlow { node, latency_ms } => {
                let _ = writeln!(s, "node = {node}\nio = \"wal\"\nlatency_min = \"1ms\"\nlatency_max = \"{latency_ms}ms\"");
            }
            FaultKindCase::FsyncError(n) | FaultKindCase::Crash(n) | FaultKindCase::Pause(n) => {
                let _ = writeln!(s, "node = {n}");
            }
            FaultKindCase::ClockDrift {
                node,
                speed_permille,
            } => {
                let node = node.map_or("\"leader\"".to_string(), |n| n.to_string());
                let _ = writeln!(s, "node = {node}\nspeed_permille = {speed_permille}");
            }
        }
        s.push('\n');
    }

    /// Faults by kind, and membership changes (`member_add`, `member_remove`), for the summary.
    pub fn fault_kinds(&self) -> BTreeMap<&'static str, u64> {
        let mut m = BTreeMap::new();
        for f in &self.faults {
            *m.entry(f.kind.name()).or_insert(0) += 1;
        }
        if let Some(c) = &self.membership {
            *m.entry("member_add").or_insert(0) += 1;
            if c.remove.is_some() {
                *m.entry("member_remove").or_insert(0) += 1;
            }
        }
        m
    }
}

/// The liveness phase, the same for every case.
const LIVENESS: &str = r#"# ---- liveness phase: every fault has healed ----

[[command]]
id = "live-write"
at = "30s"
run = "put live ok"

[[command]]
id = "live-read"
at = "32s"
run = "get live"

[[expect]]
check = "read_liveness"
id = "live-read-at-heal"
within = "2s"
why = "a linearizable read sent to each member as the faults heal completes within 2s of a leader existing (raft-rs drops ReadIndex without a leader; the member must retry)"

[[expect]]
check = "command"
id = "live-write"
outcome = "ok"

[[expect]]
check = "command"
id = "live-read"
outcome = "ok"
value = "ok"

[[expect]]
check = "converged"
"#;

// ---------------------------------------------------------------------------------- running

/// The case a seed generates.
pub fn case_for_seed(seed: u64) -> Case {
    tree_for_seed(seed, &CaseConfig::default()).current()
}

/// The case mix `raftsim explore --bug` hunts a bug with: the default, except for bugs that
/// only a particular fault can reveal, where that fault is drawn more often (swarm testing).
/// `lease-read-drift` needs a drifting leader cut off from the majority: `clock_drift` and
/// `partition` six and three times as often as the other kinds.
pub fn hunting_config(bug: Option<Bug>) -> CaseConfig {
    let mut c = CaseConfig::default();
    if bug == Some(Bug::LeaseReadDrift) {
        c.fault_weights.clock_drift = 6;
        c.fault_weights.partition = 3;
    }
    c
}

fn tree_for_seed(seed: u64, config: &CaseConfig) -> impl ValueTree<Value = Case> {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    case_with(config.clone())
        .new_tree(&mut runner)
        .expect("the case strategy always generates")
}

/// Runs a case with every oracle on.
pub fn run_case(case: &Case, seed: u64, bug: Option<Bug>) -> RunResult {
    let s = case.to_scenario(seed);
    run(
        &s,
        &RunOptions {
            seed: Some(seed),
            bug,
            max_events: Some(EVENT_BUDGET),
            // No view draws its messages: hash them, do not keep them (replay keeps them).
            full_trace: false,
            ..Default::default()
        },
    )
}

/// For `proptest!` tests in any crate: runs a case with every oracle on; when something fails,
/// writes the case to `dir` as a scenario file (`seed-N.toml`, replayable with `raftsim run`) and
/// returns an error whose message is the replay command and the file's text, instead of a
/// `Debug` dump of the case. As proptest shrinks, the file is rewritten, so it ends holding the
/// minimal failing case.
///
/// ```no_run
/// use proptest::prelude::*;
/// proptest! {
///     #[test]
///     fn my_settings_survive_faults(case in raftsim::explore::case(), seed in 1u64..1_000_000) {
///         raftsim::explore::check_case(&case, seed, None, "target/raftsim-failures".as_ref())
///             .map_err(TestCaseError::fail)?;
///     }
/// }
/// ```
pub fn check_case(
    case: &Case,
    seed: u64,
    bug: Option<Bug>,
    dir: &std::path::Path,
) -> Result<(), String> {
    let r = run_case_checked(case, seed, bug);
    let fails = failures_of(&r);
    if fails.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = fails.iter().map(|f| f.name()).collect();
    let detail = match &r {
        Ok(r) => first_finding(r).unwrap_or_default(),
        Err(msg) => format!("[panic] {msg}"),
    };
    let header = format!(
        "Failing case (seed {seed}{}): {}",
        bug_flag(bug),
        names.join(", ")
    );
    let text = case.to_scenario_toml(seed, &header);
    let path = dir.join(format!("seed-{seed}.toml"));
    let written = std::fs::create_dir_all(dir).and_then(|_| std::fs::write(&path, &text));
    let replay = match written {
        Ok(()) => format!("replay: raftsim run {}{}", path.display(), bug_flag(bug)),
        Err(e) => format!("(could not write {}: {e})", path.display()),
    };
    Err(format!(
        "{detail}\n{replay}\n--- the case as a scenario file ---\n{text}"
    ))
}

/// Runs a case; a panic (raft-rs refusing a state a buggy driver created) becomes `Err`.
pub fn run_case_checked(case: &Case, seed: u64, bug: Option<Bug>) -> Result<RunResult, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_case(case, seed, bug)))
        .map_err(|p| panic_message(p.as_ref()))
}

/// What made a seed fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Failure {
    /// An always-on oracle fired.
    Oracle(Oracle),
    /// An expectation of the liveness phase failed.
    Liveness,
    /// The simulation panicked (raft-rs refused a state a buggy driver created).
    Panic,
}

impl Failure {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Failure::Oracle(o) => o.name(),
            Failure::Liveness => "liveness",
            Failure::Panic => "panic",
        }
    }
}

crate::sim::shown_as_name!(Failure);

fn failures_of(r: &Result<RunResult, String>) -> Vec<Failure> {
    match r {
        Ok(r) => failures(r),
        Err(_) => vec![Failure::Panic],
    }
}

/// What failed, by oracle ([`Failure::Liveness`] for the liveness phase's expectations).
pub fn failures(r: &RunResult) -> Vec<Failure> {
    let mut f: Vec<Failure> = r
        .violations
        .iter()
        .map(|v| Failure::Oracle(v.oracle))
        .collect();
    if r.verdicts.iter().any(|v| !v.passed) {
        f.push(Failure::Liveness);
    }
    f.sort();
    f.dedup();
    f
}

/// The outcome of one seed.
#[derive(Clone, Debug, Serialize)]
pub struct SeedOutcome {
    /// The seed.
    pub seed: u64,
    /// What failed (empty: the seed passed).
    pub failures: Vec<Failure>,
    /// What could not decide within its budget (a seed with no failure but something undecided
    /// is neither passed nor failed).
    pub undecided: Vec<crate::check::Undecided>,
    /// Simulated seconds run.
    pub simulated_s: f64,
    /// Faults injected, by kind.
    pub faults: BTreeMap<&'static str, u64>,
    /// Leaders elected.
    pub elections: u64,
    /// For a failure: the shrunk case as a scenario file, and its trace hash.
    pub shrunk: Option<Shrunk>,
    /// The first violation's message.
    pub detail: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
/// A failing case after shrinking.
pub struct Shrunk {
    /// The shrunk case as a scenario file.
    pub toml: String,
    /// The shrunk case's trace hash (its replay must match).
    pub trace_hash: String,
    /// Faults left after shrinking.
    pub faults: usize,
    /// Shrinking steps that kept the failure.
    pub steps: u32,
}

/// Generates (with [`hunting_config`] for `bug`), runs and (when it fails and `shrink` is set)
/// shrinks the case of one seed.
pub fn explore_seed(seed: u64, bug: Option<Bug>, shrink: bool) -> SeedOutcome {
    explore_seed_in(seed, &hunting_config(bug), bug, shrink)
}

/// [`explore_seed`] with the cases drawn from `config`.
pub fn explore_seed_in(
    seed: u64,
    config: &CaseConfig,
    bug: Option<Bug>,
    shrink: bool,
) -> SeedOutcome {
    let mut tree = tree_for_seed(seed, config);
    let case = tree.current();
    let r = run_case_checked(&case, seed, bug);
    let fails = failures_of(&r);
    let (simulated_s, elections, detail) = match &r {
        Ok(r) => (
            r.sim_end.as_secs_f64(),
            r.elections() as u64,
            first_finding(r),
        ),
        Err(msg) => (0.0, 0, Some(format!("[panic] {msg}"))),
    };
    let undecided = match &r {
        Ok(r) => r.unknown.iter().map(|u| u.what).collect(),
        Err(_) => vec![],
    };
    let mut out = SeedOutcome {
        seed,
        failures: fails.clone(),
        undecided,
        simulated_s,
        faults: case.fault_kinds(),
        elections,
        shrunk: None,
        detail,
    };
    if fails.is_empty() || !shrink {
        return out;
    }
    let (best, steps) = shrink_case(&mut tree, case, seed, bug, &fails);
    let trace_hash = run_case_checked(&best, seed, bug)
        .map(|r| r.record.trace_hash)
        .unwrap_or_else(|_| "panic".into());
    let header = format!(
        "Found by raftsim explore (seed {seed}{}), shrunk in {steps} steps.\nOracles that failed: {}.\nReplay: raftsim run THIS_FILE{}",
        bug.map_or(String::new(), |b| format!(", bug {}", b.name())),
        fails.iter().map(|f| f.name()).collect::<Vec<_>>().join(", "),
        bug_flag(bug)
    );
    out.shrunk = Some(Shrunk {
        toml: best.to_scenario_toml(seed, &header),
        trace_hash,
        faults: best.faults.len(),
        steps,
    });
    out
}

/// The first violation, failed expectation or undecided check, in words.
fn first_finding(r: &RunResult) -> Option<String> {
    let violation = r
        .violations
        .first()
        .map(|v| format!("[{}] at {}: {}", v.oracle, v.at, v.detail));
    let verdict = || {
        r.failed_verdicts()
            .next()
            .map(|v| format!("[liveness] {}: {}", v.check, v.detail))
    };
    let unknown = || {
        r.unknown
            .first()
            .map(|u| format!("[{} undecided] {}", u.what, u.detail))
    };
    violation.or_else(verdict).or_else(unknown)
}

/// proptest's simplify/complicate walk: keep a simpler case whenever it still fails one of the
/// same oracles. Bounded, so a pathological case cannot run forever.
fn shrink_case(
    tree: &mut impl ValueTree<Value = Case>,
    start: Case,
    seed: u64,
    bug: Option<Bug>,
    fails: &[Failure],
) -> (Case, u32) {
    let mut best = start;
    let mut steps = 0;
    let still_fails = |c: &Case| {
        failures_of(&run_case_checked(c, seed, bug))
            .iter()
            .any(|f| fails.contains(f))
    };
    let mut budget = 300;
    while budget > 0 && tree.simplify() {
        budget -= 1;
        let c = tree.current();
        if still_fails(&c) {
            best = c;
            steps += 1;
            continue;
        }
        while budget > 0 && tree.complicate() {
            budget -= 1;
            let c = tree.current();
            if still_fails(&c) {
                best = c;
                steps += 1;
                break;
            }
        }
    }
    (best, steps)
}

/// Explores `seeds` on `jobs` worker threads (each simulation stays single-threaded and
/// deterministic; only whole simulations run in parallel) and returns the outcomes in seed
/// order. `progress(done, failed)` is called after each seed, from the worker that ran it.
pub fn sweep(
    seeds: &[u64],
    jobs: usize,
    bug: Option<Bug>,
    shrink: bool,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Vec<SeedOutcome> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::with_capacity(seeds.len()));
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&seed) = seeds.get(i) else { break };
                let o = explore_seed(seed, bug, shrink);
                let failing = usize::from(!o.failures.is_empty());
                let f = failed.fetch_add(failing, Ordering::Relaxed) + failing;
                let mut r = results.lock().expect("no worker panicked");
                r.push(o);
                let done = r.len();
                drop(r);
                progress(done, f);
            });
        }
    });
    let mut results = results.into_inner().expect("no worker panicked");
    results.sort_by_key(|o| o.seed);
    results
}

impl SeedOutcome {
    /// The failing case as a scenario file that replays it: the shrunk case, or the case as
    /// generated when shrinking was off (both name the seed and the bug they were found with).
    pub fn scenario_file(&self, bug: Option<Bug>) -> String {
        match &self.shrunk {
            Some(s) => s.toml.clone(),
            None => {
                let header = format!(
                    "Found by raftsim explore (seed {}{}), not shrunk.\nReplay: raftsim run THIS_FILE{}",
                    self.seed,
                    bug.map_or(String::new(), |b| format!(", bug {}", b.name())),
                    bug_flag(bug)
                );
                case_for_seed(self.seed).to_scenario_toml(self.seed, &header)
            }
        }
    }
}

/// `--shard i/n`: which seeds of `1..=count` belong to shard `i` of `n` (1-based).
pub fn parse_shard(text: &str) -> Result<(u64, u64), String> {
    let bad = || format!("invalid shard `{text}`: expected i/n with 1 <= i <= n, e.g. 2/4");
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let (i, n): (u64, u64) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || i == 0 || i > n {
        return Err(bad());
    }
    Ok((i, n))
}

/// The most seeds one `explore` invocation takes (split larger sweeps with `--shard`).
pub const MAX_SEEDS: u64 = 10_000_000;
/// The most worker threads.
pub const MAX_JOBS: usize = 256;

/// The seeds `start..start+count` of shard `shard`, checked: at least one seed, at most
/// [`MAX_SEEDS`], and every seed at most `i64::MAX` (a scenario file's integers are TOML's).
pub fn seed_range(start: u64, count: u64, shard: (u64, u64)) -> Result<Vec<u64>, String> {
    if count == 0 {
        return Err("--seeds must be at least 1".into());
    }
    if count > MAX_SEEDS {
        return Err(format!(
            "--seeds {count} is more than {MAX_SEEDS}; split the sweep with --start or --shard"
        ));
    }
    let last = start
        .checked_add(count - 1)
        .filter(|l| *l <= i64::MAX as u64);
    if last.is_none() {
        return Err(format!(
            "seeds {start}..{start}+{count} go past {} (the largest seed a scenario file can hold)",
            i64::MAX
        ));
    }
    Ok(shard_seeds(start, count, shard))
}

/// The seeds a shard covers: `start..start+count`, those with `(seed - start) % n == i - 1`.
pub fn shard_seeds(start: u64, count: u64, shard: (u64, u64)) -> Vec<u64> {
    (start..start + count)
        .filter(|s| (s - start) % shard.1 == shard.0 - 1)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    #[test]
    fn seeds_generate_reproducible_valid_cases() {
        for seed in 1..20 {
            let c = case_for_seed(seed);
            assert_eq!(c, case_for_seed(seed));
            let text = c.to_scenario_toml(seed, "header");
            Scenario::parse(&text, "x.toml").unwrap_or_else(|e| panic!("seed {seed}: {e}\n{text}"));
        }
        assert_ne!(case_for_seed(1), case_for_seed(2));
    }

    #[test]
    fn shards_split_without_overlap() {
        assert_eq!(parse_shard("2/3"), Ok((2, 3)));
        assert!(parse_shard("3/2").is_err());
        assert!(parse_shard("0/2").is_err());
        assert!(parse_shard("1-2").is_err());
        let all: Vec<u64> = (1..=3).flat_map(|i| shard_seeds(1, 10, (i, 3))).collect();
        let mut sorted = all.clone();
        sorted.sort();
        assert_eq!(sorted, (1..=10).collect::<Vec<_>>());
    }
}
