//! Scenarios: what to simulate, which faults to inject when, which client commands to run, and
//! the outcome the run must show.
//!
//! A scenario comes from a TOML file (format in `docs/scenario-format.md`, structs in [`file`])
//! or is built in code. Loading validates everything before a simulation starts: unknown fields,
//! wrong types, out-of-range or contradictory values are reported as
//! `file:line:column: message` naming the allowed values. Nothing is silently defaulted except
//! the documented defaults (etcd's and etcdctl's own).

pub mod builtin;
pub mod expect;
pub(crate) mod file;
mod kubernetes;
pub mod machine;

use crate::client::command::{self, Command};
use crate::client::ClientConfig;
use crate::disk::{DiskFault, DiskModel, IoClass};
use crate::k8s::K8sSpec;
use crate::net::{Degrade, LinkModel, NetFault};
use crate::node::rpc::MemberOp;
use crate::node::{EtcdVersion, NodeFault, PersistMode, ReadOnly};
use crate::sim::ids::{LeaseId, NodeId};
use crate::sim::rng::Ratio;
use crate::sim::time::{SimDuration, SimTime};
use expect::Expect;
use file::*;
use serde::Serialize;
use serde_spanned::Spanned;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// etcd's `maxSizePerMsg` (`server/etcdserver/raft.go`): 1 MiB of entries per append.
pub const ETCD_MAX_SIZE_PER_MSG: u64 = 1024 * 1024;

/// etcd's `--snapshot-catchup-entries` default (`server/etcdserver/server.go`,
/// `DefaultSnapshotCatchUpEntries`).
pub const ETCD_SNAPSHOT_CATCHUP_ENTRIES: u64 = 5_000;

/// An invalid scenario, with its position.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// Something in the file is wrong, at this position.
    #[error("{file}:{line}:{column}: {message}")]
    Invalid {
        /// The file as named by the caller.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// What is wrong, with the allowed values.
        message: String,
    },
    /// A `--set` override made the scenario invalid.
    #[error("{file}: {message}")]
    Override {
        /// The file.
        file: String,
        /// Which override, and what is wrong.
        message: String,
    },
    /// No built-in scenario has this name.
    #[error("no built-in scenario is named `{name}`; the built-ins are: {known}")]
    UnknownBuiltin {
        /// The name asked for.
        name: String,
        /// The names that exist, comma-separated.
        known: String,
    },
    /// An operation given to [`Scenario::with_machine_ops`] is invalid.
    #[error("machine operation {index}: {message}")]
    MachineOp {
        /// Its position in the list given (from 0).
        index: usize,
        /// What is wrong, with the allowed values.
        message: String,
    },
    /// The file could not be read.
    #[error("{file}: {error}")]
    Io {
        /// The file.
        file: String,
        /// Why.
        error: std::io::Error,
    },
}

#[derive(Clone, Debug, Serialize)]
/// The etcd cluster: size and raft settings.
pub struct ClusterSpec {
    /// How many members the cluster starts with (1..=7).
    pub nodes: u64,
    /// Machines `nodes + 1 ..` that are not members at the start and not running: each joins
    /// with `member add` and a `start` fault (nodes + spares <= 7).
    pub spares: u64,
    /// Peers refuse messages from a removed member, which then stops (etcd's rafthttp answers
    /// 410 Gone); `false` shows raft-rs without that guard.
    pub reject_removed_members: bool,
    /// Persistence mode (sync: etcd, async: TiKV).
    pub persist: PersistMode,
    /// Heartbeat interval (etcd: 100 ms); one raft tick.
    pub heartbeat_interval: SimDuration,
    /// Election timeout (etcd: 1000 ms).
    pub election_timeout: SimDuration,
    /// Raft pre-vote (thesis 9.6).
    pub pre_vote: bool,
    /// Whether each election timeout is drawn from `[T, 2T)` (etcd, raft-rs, the Raft paper) or
    /// is exactly `T`: a teaching switch, not an etcd flag (see the split-vote lesson).
    pub randomize_election_timeout: bool,
    /// raft-rs `Config::max_size_per_msg`: the bytes of entries one append carries (at least one
    /// entry; 0: exactly one). etcd: 1 MiB (`maxSizePerMsg`, `server/etcdserver/raft.go`).
    pub max_size_per_msg: u64,
    /// etcd `--snapshot-count`: applied entries between snapshots (default 100,000 for 3.4 and
    /// 3.5, 10,000 for 3.6: [`EtcdVersion::snapshot_count_default`]; 0: never).
    pub snapshot_count: u64,
    /// etcd `--snapshot-catchup-entries`: raft log entries kept behind a snapshot (default 5,000).
    pub snapshot_catchup_entries: u64,
    /// The etcd release the members behave as (defaults differ: see [`EtcdVersion`]).
    pub etcd_version: EtcdVersion,
    /// A leader steps down when it has not heard from a quorum for an election timeout.
    pub check_quorum: bool,
    /// How linearizable reads are served.
    pub read_only: ReadOnly,
    /// A member that campaigns at time 0.
    pub initial_leader: Option<NodeId>,
    /// etcd's server request timeout (5 s + 2 x election timeout).
    pub request_timeout: SimDuration,
}

#[derive(Clone, Debug, Serialize)]
/// The network between members and to clients.
pub struct NetworkSpec {
    /// The model of every link.
    pub link: LinkModel,
    /// Per-link overrides.
    pub links: Vec<((NodeId, NodeId), LinkModel)>,
    /// Shortest client <-> member hop.
    pub client_latency_min: SimDuration,
    /// Longest client <-> member hop.
    pub client_latency_max: SimDuration,
    /// Peer bandwidth for snapshot transfers, bytes per second (default 1 Gbit/s).
    pub snapshot_bandwidth_bytes_per_s: u64,
}

/// Which member a fault hits: a fixed one, or a role resolved when the fault starts (the lowest
/// id holding it); the fault ends on the member it started on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// This member.
    Node(NodeId),
    /// The leader (resolved when the fault starts).
    Leader,
    /// A follower (resolved when the fault starts).
    Follower,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Node(n) => write!(f, "{n}"),
            Target::Leader => write!(f, "the leader"),
            Target::Follower => write!(f, "a follower"),
        }
    }
}

/// What a fault does: a fault of one member (its process or its disk), or of the network. Each
/// is the owning component's own fault type; the loop resolves the target and hands it over.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// A fault of one member.
    Member {
        /// Which member: a fixed one or a role resolved when the fault starts.
        node: Target,
        /// The fault, in the member's terms.
        fault: NodeFault,
    },
    /// A fault of the network.
    Network(NetFault),
}

/// A fault and its window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Fault {
    /// When it starts.
    pub at: SimTime,
    /// When the fault ends (resume, restart, unstall, heal); `None`: lasts to the end.
    pub until: Option<SimTime>,
    /// What it does.
    pub kind: FaultKind,
}

impl FaultKind {
    /// The same fault with its target fixed to `n`.
    pub fn resolved(&self, n: NodeId) -> FaultKind {
        match self {
            FaultKind::Member { fault, .. } => FaultKind::Member {
                node: Target::Node(n),
                fault: *fault,
            },
            net => net.clone(),
        }
    }
}

impl Fault {
    /// Whether it starts a spare machine (an action with no end, not a fault).
    pub fn is_start(&self) -> bool {
        matches!(
            self.kind,
            FaultKind::Member {
                fault: NodeFault::Start,
                ..
            }
        )
    }

    /// The fault in words, as the timeline shows its start.
    pub fn describe(&self) -> String {
        match &self.kind {
            FaultKind::Member { node, fault } => describe_member(*node, fault),
            FaultKind::Network(NetFault::Partition { groups }) => {
                let g: Vec<String> = groups
                    .iter()
                    .map(|g| g.iter().map(|n| n.0.to_string()).collect::<Vec<_>>().join(","))
                    .collect();
                format!("partition {{{}}}", g.join("} | {"))
            }
            FaultKind::Network(NetFault::OneWay { from, to }) => format!("one-way cut {from} -> {to}"),
            FaultKind::Network(NetFault::Degrade(d)) => format!(
                "network degraded (drop {}/{}, duplicate {}/{}, reorder {}/{}, extra latency up to {})",
                d.drop.num, d.drop.den, d.duplicate.num, d.duplicate.den, d.reorder.num, d.reorder.den, d.extra_latency_max
            ),
        }
    }

    /// The fault's end in words.
    pub fn describe_end(&self) -> String {
        match &self.kind {
            FaultKind::Member { node, fault } => match fault {
                NodeFault::Pause => format!("{node} resumed"),
                NodeFault::Crash => format!("{node} restarted"),
                NodeFault::Disk(DiskFault::Stall(io)) => {
                    format!("{node} {} I/O stall ended", io.name())
                }
                NodeFault::Disk(DiskFault::Slow { io, .. }) => {
                    format!("{node} {} I/O back to normal", io.name())
                }
                NodeFault::Disk(DiskFault::FsyncError { .. }) => {
                    format!("{node} fsync errors stopped")
                }
                NodeFault::Disk(DiskFault::TornWrite) => {
                    format!("{node} WAL writes no longer tear on a crash")
                }
                NodeFault::Disk(DiskFault::FsyncLies) => {
                    format!("{node} fsync honest again (the next sync flushes)")
                }
                NodeFault::ClockDrift { .. } => format!("{node} clock back to real speed"),
                NodeFault::Start => format!("{node} started"),
            },
            FaultKind::Network(NetFault::Degrade(_)) => "network degradation ended".into(),
            FaultKind::Network(NetFault::OneWay { from, to }) => {
                format!("one-way cut {from} -> {to} healed")
            }
            FaultKind::Network(NetFault::Partition { .. }) => "network healed".into(),
        }
    }
}

fn describe_member(node: Target, fault: &NodeFault) -> String {
    match fault {
        NodeFault::Pause => format!("{node} paused (process frozen, sockets still accept)"),
        NodeFault::Crash => format!("{node} crashed (unsynced writes lost)"),
        NodeFault::Start => format!("{node} starts, empty, to join the cluster"),
        NodeFault::Disk(DiskFault::Stall(io)) => {
            format!(
                "{node} disk stall on {} I/O (process and network up)",
                io.name()
            )
        }
        NodeFault::Disk(DiskFault::Slow {
            io,
            latency_min,
            latency_max,
        }) => {
            format!(
                "{node} {} I/O slowed to {latency_min}..{latency_max}",
                io.name()
            )
        }
        NodeFault::Disk(DiskFault::FsyncError { .. }) => format!("{node} WAL fsync returns EIO"),
        NodeFault::Disk(DiskFault::TornWrite) => {
            format!("{node} a crash tears the WAL write in progress")
        }
        NodeFault::Disk(DiskFault::FsyncLies) => {
            format!("{node} fsync acknowledges without persisting")
        }
        NodeFault::ClockDrift { speed_permille } => {
            format!("{node} clock runs at {speed_permille}/1000 of real speed")
        }
    }
}

/// One client command to run (repetitions are expanded, one entry each).
#[derive(Clone, Debug, Serialize)]
pub struct CommandSpec {
    /// The `id` given in the file (shared by all repetitions), used by expectations.
    pub id: Option<String>,
    /// When.
    pub at: SimTime,
    /// The command text as written.
    pub text: String,
    /// The parsed command.
    pub command: Command,
    /// The endpoints it was given.
    pub endpoints: Vec<NodeId>,
    /// Commands with the same session share one long-lived client; others run as a fresh
    /// etcdctl process each.
    pub session: Option<String>,
    /// The command timeout (etcdctl --command-timeout).
    pub timeout: SimDuration,
    /// Not shown in the timeline.
    pub quiet: bool,
}

impl CommandSpec {
    /// The command line as a user would type it.
    pub fn display(&self) -> String {
        let eps: Vec<String> = self.endpoints.iter().map(|n| n.endpoint()).collect();
        format!("etcdctl --endpoints={} {}", eps.join(","), self.text)
    }
}

/// A validated scenario.
#[derive(Clone, Debug, Serialize)]
pub struct Scenario {
    /// Its name.
    pub name: String,
    /// What it shows, in prose.
    pub description: String,
    /// The seed.
    pub seed: u64,
    /// How long the run lasts.
    pub duration: SimDuration,
    /// The cluster settings.
    pub cluster: ClusterSpec,
    /// The network model.
    pub network: NetworkSpec,
    /// Its disk.
    pub disk: DiskModel,
    /// etcdctl settings.
    pub client: ClientConfig,
    /// The faults.
    pub faults: Vec<Fault>,
    /// etcdctl commands, sorted by time, repetitions expanded. Shared: a run holds the
    /// scenario it ran, and a file's `repeat` can make a hundred thousand of these, so a copy
    /// of the scenario shares them (`std::sync::Arc::make_mut` to change them).
    pub commands: std::sync::Arc<Vec<CommandSpec>>,
    /// What the run must show.
    pub expects: Vec<Expect>,
    /// The Kubernetes layer, when the file has a `[kubernetes]` table.
    pub kubernetes: Option<K8sSpec>,
    /// Where it came from, and the `--set` overrides applied: what a replay command needs.
    #[serde(skip)]
    pub origin: Origin,
}

/// Where a scenario came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// A file, a built-in name, or neither (text built in code).
    pub source: Source,
    /// `--set` overrides applied on top of it, in order.
    pub overrides: Vec<(String, String)>,
}

/// A scenario's source.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Source {
    /// Parsed from text in code.
    #[default]
    Text,
    /// Read from this file.
    File(PathBuf),
    /// A built-in scenario, by name (runs from any directory).
    Builtin(String),
}

impl Origin {
    /// The `raftsim run` arguments that load this scenario again, if it came from somewhere a
    /// command line can name.
    pub fn run_args(&self) -> Option<String> {
        let what = match &self.source {
            Source::Text => return None,
            Source::File(p) => p.display().to_string(),
            Source::Builtin(name) => name.clone(),
        };
        let sets: String = self
            .overrides
            .iter()
            .map(|(k, v)| format!(" --set {k}={v}"))
            .collect();
        Some(format!("{what}{sets}"))
    }
}

/// The longest run a scenario may ask for.
/// (One day: the whole trace is kept in memory; a day of the Kubernetes default takes about 30 s
/// and 1.8 GB.)
pub const MAX_RUN: SimDuration = SimDuration(24 * 3_600_000_000);
/// The most repetitions one `[[command]]` may ask for.
pub const MAX_REPEAT: u64 = 100_000;
/// The most commands a scenario may run, repetitions included.
pub const MAX_COMMANDS: usize = 1_000_000;
/// The largest scenario file read (a larger one is refused before it is parsed).
pub const MAX_FILE_BYTES: u64 = 16 << 20;

impl Scenario {
    /// A built-in scenario by name (`raftsim list` shows them); works from any directory.
    ///
    /// ```
    /// let s = raftsim::Scenario::builtin("etcd-leader-crash").unwrap();
    /// assert_eq!(s.cluster.nodes, 3);
    /// assert!(raftsim::Scenario::builtin("nope").unwrap_err().to_string().contains("etcd-leader-crash"));
    /// ```
    pub fn builtin(name: &str) -> Result<Scenario, ScenarioError> {
        builtin::load(name).unwrap_or_else(|| {
            let known: Vec<&str> = builtin::BUILTIN.iter().map(|b| b.0).collect();
            Err(ScenarioError::UnknownBuiltin {
                name: name.to_string(),
                known: known.join(", "),
            })
        })
    }

    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        Scenario::load_with_overrides(path, &[])
    }

    /// Reads a scenario file and applies `--set` overrides (see [`Scenario::parse_with_overrides`]).
    pub fn load_with_overrides(
        path: &Path,
        sets: &[(String, String)],
    ) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let text = read_limited(path, MAX_FILE_BYTES).map_err(|error| ScenarioError::Io {
            file: file.clone(),
            error,
        })?;
        let mut s = Scenario::parse_with_overrides(&text, &file, sets)?;
        s.origin = Origin {
            source: Source::File(path.to_path_buf()),
            overrides: sets.to_vec(),
        };
        Ok(s)
    }

    /// Parses and validates scenario text; `file` names it in error messages.
    pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        let v = Validator { src: text, file };
        let root: FileRoot = toml::from_str(text).map_err(|e| {
            let at = e.span().map_or(0, |s| s.start);
            v.err_at(at, e.message().to_string())
        })?;
        v.scenario(root)
    }

    /// Parses scenario text with settings overridden, as `--set a.b.c=value` does: each key is a
    /// dotted path into the file's tables (a number indexes an array of tables, e.g.
    /// `fault.0.until`), and each value is TOML (`all`, `"all"`, `90s`, `5`, `true`; a bare word
    /// is taken as a string). The file itself is validated first, so its own errors keep their
    /// positions; errors caused by an override name the override.
    pub fn parse_with_overrides(
        text: &str,
        file: &str,
        sets: &[(String, String)],
    ) -> Result<Scenario, ScenarioError> {
        let original = Scenario::parse(text, file)?;
        if sets.is_empty() {
            return Ok(original);
        }
        let described: Vec<String> = sets.iter().map(|(k, v)| format!("--set {k}={v}")).collect();
        let bad = |message: String| ScenarioError::Override {
            file: file.to_string(),
            message: format!("{}: {message}", described.join(" ")),
        };
        let mut root: toml::Table =
            toml::from_str(text).map_err(|e| bad(e.message().to_string()))?;
        for (key, value) in sets {
            set_path(&mut root, key, parse_value(value))
                .map_err(|m| bad(format!("--set {key}: {m}")))?;
        }
        let edited = toml::to_string(&root).map_err(|e| bad(e.to_string()))?;
        Scenario::parse(&edited, file).map_err(|e| match e {
            ScenarioError::Invalid { message, .. } => bad(message),
            other => other,
        })
    }

    /// The initial members' ids, 1..=nodes.
    pub fn node_ids(&self) -> Vec<NodeId> {
        (1..=self.cluster.nodes).map(NodeId).collect()
    }

    /// Every machine's id: the initial members, then the spares.
    pub fn machine_ids(&self) -> Vec<NodeId> {
        (1..=self.cluster.nodes + self.cluster.spares)
            .map(NodeId)
            .collect()
    }
}

struct Validator<'a> {
    src: &'a str,
    file: &'a str,
}

type R<T> = Result<T, ScenarioError>;

/// The `io` class of a disk fault (default `wal`).
fn fault_io(f: &FileFault) -> IoClass {
    match f.io.as_ref().map(|s| *s.get_ref()) {
        Some(IoName::Apply) => IoClass::Apply,
        Some(IoName::Snap) => IoClass::Snap,
        _ => IoClass::Wal,
    }
}

fn dur(d: &Option<Dur>, default: SimDuration) -> SimDuration {
    d.as_ref().map_or(default, |d| d.get_ref().0)
}

impl<'a> Validator<'a> {
    fn err_at(&self, byte: usize, message: String) -> ScenarioError {
        let mut byte = byte.min(self.src.len());
        while !self.src.is_char_boundary(byte) {
            byte -= 1; // never slice inside a character
        }
        let before = &self.src[..byte];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        ScenarioError::Invalid {
            file: self.file.to_string(),
            line,
            column,
            message,
        }
    }

    fn err<T>(&self, span: &Spanned<T>, message: String) -> ScenarioError {
        self.err_at(span.span().start, message)
    }

    fn scenario(&self, root: FileRoot) -> R<Scenario> {
        if root.name.get_ref().trim().is_empty() {
            return Err(self.err(&root.name, "name must not be empty".into()));
        }
        let duration = root.duration.get_ref().0;
        if duration == SimDuration::ZERO || duration > MAX_RUN {
            return Err(self.err(
                &root.duration,
                format!("duration must be greater than 0s and at most {MAX_RUN} (24h)"),
            ));
        }
        let cluster = self.cluster(&root.cluster)?;
        let n = cluster.nodes + cluster.spares;
        let network = self.network(&root.network, n)?;
        let disk = self.disk(&root.disk)?;
        let client = ClientConfig {
            command_timeout: self.positive(
                &root.client.command_timeout,
                SimDuration::from_secs(5),
                "command_timeout",
            )?,
            dial_timeout: self.positive(
                &root.client.dial_timeout,
                SimDuration::from_secs(2),
                "dial_timeout",
            )?,
        };
        let end = SimTime::ZERO + duration;
        let faults = root
            .fault
            .iter()
            .map(|f| self.fault(f.get_ref(), (cluster.nodes, n), end))
            .collect::<R<Vec<_>>>()?;
        let commands = self.commands(&root.command, (cluster.nodes, n), end, &client)?;
        let ids: Vec<String> = commands.iter().filter_map(|c| c.id.clone()).collect();
        let kubernetes = self.kubernetes(&root, n)?;
        let names = kubernetes
            .as_ref()
            .map(|k| k.node_names())
            .unwrap_or_default();
        let ctx = expect::Context {
            nodes: n,
            end,
            ids: &ids,
            k8s_nodes: &names,
        };
        let expects = root
            .expect
            .iter()
            .map(|e| expect::validate(self, e, &ctx))
            .collect::<R<Vec<_>>>()?;
        Ok(Scenario {
            name: root.name.into_inner(),
            description: root.description,
            seed: root.seed,
            duration,
            cluster,
            network,
            disk,
            client,
            faults,
            commands: commands.into(),
            expects,
            kubernetes,
            origin: Origin::default(),
        })
    }

    /// Every `[[command]]`, repetitions expanded, sorted by time (stable: same-time commands
    /// keep file order). `members`: (initial members, machines).
    fn commands(
        &self,
        file: &[Spanned<FileCommand>],
        members: (u64, u64),
        end: SimTime,
        client: &ClientConfig,
    ) -> R<Vec<CommandSpec>> {
        let mut commands = Vec::new();
        let mut sessions: BTreeMap<String, Vec<NodeId>> = BTreeMap::new();
        for c in file {
            let c = c.get_ref();
            self.command(c, members, end, client, &mut sessions, &mut commands)?;
        }
        self.lease_names(file, &commands)?;
        commands.sort_by_key(|c| c.at);
        Ok(commands)
    }

    fn positive(&self, d: &Option<Dur>, default: SimDuration, what: &str) -> R<SimDuration> {
        match d {
            Some(s) if s.get_ref().0 == SimDuration::ZERO => {
                Err(self.err(s, format!("{what} must be greater than 0s")))
            }
            _ => Ok(dur(d, default)),
        }
    }

    fn node(&self, id: &Spanned<u64>, n: u64) -> R<NodeId> {
        let v = *id.get_ref();
        if v == 0 || v > n {
            return Err(self.err(
                id,
                format!("node {v} does not exist: this cluster has nodes 1..={n}"),
            ));
        }
        Ok(NodeId(v))
    }

    fn nodes(&self, ids: &Spanned<Vec<u64>>, n: u64) -> R<Vec<NodeId>> {
        let mut out = Vec::new();
        for v in ids.get_ref() {
            if *v == 0 || *v > n {
                return Err(self.err(
                    ids,
                    format!("node {v} does not exist: this cluster has nodes 1..={n}"),
                ));
            }
            if out.contains(&NodeId(*v)) {
                return Err(self.err(ids, format!("node {v} is listed twice")));
            }
            out.push(NodeId(*v));
        }
        Ok(out)
    }

    fn cluster(&self, c: &FileCluster) -> R<ClusterSpec> {
        let nodes = c.nodes.as_ref().map_or(3, |s| *s.get_ref());
        if !(1..=7).contains(&nodes) {
            let s = c.nodes.as_ref().expect("default is in range");
            return Err(self.err(
                s,
                format!("nodes = {nodes} is out of range: allowed 1..=7 (3 or 5 are usual)"),
            ));
        }
        let spares = c.spares.as_ref().map_or(0, |s| *s.get_ref());
        if nodes + spares > 7 {
            let s = c.spares.as_ref().expect("nodes alone is in range");
            return Err(self.err(
                s,
                format!("spares = {spares} with nodes = {nodes}: at most 7 machines in all"),
            ));
        }
        let (heartbeat, election) = self.timing(c)?;
        let read_only = match c.read_only {
            None | Some(ReadOnlyName::Safe) => ReadOnly::Safe,
            Some(ReadOnlyName::LeaseBased) => ReadOnly::LeaseBased,
        };
        // etcd always runs raft with CheckQuorum on (`server/etcdserver/raft.go`, `raft.Config`);
        // the setting stays for counterfactuals.
        let check_quorum = c.check_quorum.unwrap_or(true);
        let etcd_version = self.etcd_version(c)?;
        if read_only == ReadOnly::LeaseBased && !check_quorum {
            return Err(self.err_at(0, "[cluster] read_only = \"lease_based\" requires check_quorum = true (raft-rs refuses it otherwise)".into()));
        }
        let initial_leader = c
            .initial_leader
            .as_ref()
            .map(|s| self.node(s, nodes))
            .transpose()?;
        Ok(ClusterSpec {
            nodes,
            spares,
            reject_removed_members: c.reject_removed_members.unwrap_or(true),
            persist: match c.persist {
                None | Some(PersistName::Sync) => PersistMode::Sync,
                Some(PersistName::Async) => PersistMode::Async,
            },
            heartbeat_interval: heartbeat,
            election_timeout: election,
            pre_vote: c.pre_vote.unwrap_or(etcd_version.pre_vote_default()),
            randomize_election_timeout: c.randomize_election_timeout.unwrap_or(true),
            max_size_per_msg: c.max_size_per_msg.unwrap_or(ETCD_MAX_SIZE_PER_MSG),
            snapshot_count: c
                .snapshot_count
                .unwrap_or(etcd_version.snapshot_count_default()),
            snapshot_catchup_entries: c
                .snapshot_catchup_entries
                .unwrap_or(ETCD_SNAPSHOT_CATCHUP_ENTRIES),
            etcd_version,
            check_quorum,
            read_only,
            initial_leader,
            request_timeout: dur(&c.request_timeout, SimDuration::from_secs(5) + election * 2),
        })
    }

    /// The heartbeat interval and election timeout: positive, the second a whole multiple
    /// (>= 2) of the first.
    fn timing(&self, c: &FileCluster) -> R<(SimDuration, SimDuration)> {
        let heartbeat = self.positive(
            &c.heartbeat_interval,
            SimDuration::from_millis(100),
            "heartbeat_interval",
        )?;
        let election = self.positive(
            &c.election_timeout,
            SimDuration::from_millis(1000),
            "election_timeout",
        )?;
        let ticks = election.as_micros() / heartbeat.as_micros();
        if election.as_micros() % heartbeat.as_micros() != 0 || ticks < 2 {
            let s = c
                .election_timeout
                .as_ref()
                .or(c.heartbeat_interval.as_ref())
                .expect("defaults are valid");
            return Err(self.err(
                s,
                format!("election_timeout ({election}) must be a whole multiple (>= 2) of heartbeat_interval ({heartbeat}); etcd's defaults are 1000ms and 100ms"),
            ));
        }
        Ok((heartbeat, election))
    }

    fn etcd_version(&self, c: &FileCluster) -> R<EtcdVersion> {
        Ok(match c.etcd_version.as_ref() {
            None => EtcdVersion::default(),
            Some(v) => match v.get_ref().as_str() {
                "3.4" => EtcdVersion::V3_4,
                "3.5" => EtcdVersion::V3_5,
                "3.6" => EtcdVersion::V3_6,
                other => {
                    let msg = format!(
                        "etcd_version = {other:?} is not modelled: allowed \"3.4\", \"3.5\", \"3.6\""
                    );
                    return Err(self.err(v, msg));
                }
            },
        })
    }

    fn range(
        &self,
        lo: &Option<Dur>,
        hi: &Option<Dur>,
        default: (SimDuration, SimDuration),
        what: &str,
    ) -> R<(SimDuration, SimDuration)> {
        let a = dur(lo, default.0);
        let b = match hi {
            Some(h) => h.get_ref().0,
            None if lo.is_some() => a.max(default.1),
            None => default.1,
        };
        if a > b {
            let s = hi.as_ref().or(lo.as_ref()).expect("defaults are ordered");
            return Err(self.err(
                s,
                format!("{what}_min ({a}) is greater than {what}_max ({b})"),
            ));
        }
        Ok((a, b))
    }

    fn network(&self, f: &FileNetwork, n: u64) -> R<NetworkSpec> {
        let d = LinkModel::default();
        let (lo, hi) = self.range(
            &f.latency_min,
            &f.latency_max,
            (d.latency_min, d.latency_max),
            "latency",
        )?;
        self.ordered_streams(&f.duplicate, &f.reorder)?;
        let link = LinkModel {
            latency_min: lo,
            latency_max: hi,
            drop: f.drop.unwrap_or(d.drop),
        };
        let mut links = Vec::new();
        for l in &f.link {
            let l = l.get_ref();
            let (from, to) = (self.node(&l.from, n)?, self.node(&l.to, n)?);
            self.ordered_streams(&l.duplicate, &l.reorder)?;
            if from == to {
                return Err(self.err(&l.to, "a link joins two different nodes".into()));
            }
            let (lo, hi) = self.range(
                &l.latency_min,
                &l.latency_max,
                (link.latency_min, link.latency_max),
                "latency",
            )?;
            links.push((
                (from, to),
                LinkModel {
                    latency_min: lo,
                    latency_max: hi,
                    drop: l.drop.unwrap_or(link.drop),
                },
            ));
        }
        let (clo, chi) = self.range(
            &f.client_latency_min,
            &f.client_latency_max,
            (SimDuration::from_micros(200), SimDuration::from_micros(500)),
            "client_latency",
        )?;
        Ok(NetworkSpec {
            link,
            links,
            client_latency_min: clo,
            client_latency_max: chi,
            snapshot_bandwidth_bytes_per_s: match &f.snapshot_bandwidth_bytes_per_s {
                None => 125_000_000,
                Some(b) if *b.get_ref() > 0 => *b.get_ref(),
                Some(b) => return Err(self.err(
                    b,
                    "`snapshot_bandwidth_bytes_per_s` must be at least 1 (125000000 is 1 Gbit/s)"
                        .into(),
                )),
            },
        })
    }

    /// Peer links are ordered streams: duplication and reordering are transport faults.
    fn ordered_streams(
        &self,
        dup: &Option<Spanned<Ratio>>,
        reorder: &Option<Spanned<Ratio>>,
    ) -> R<()> {
        let bad = dup.as_ref().map(|s| ("duplicate", s.span().start));
        let bad = bad.or(reorder.as_ref().map(|s| ("reorder", s.span().start)));
        match bad {
            Some((what, at)) => Err(self.err_at(at, format!("`{what}` is not a property of a link: etcd's peer links are ordered TCP streams. A broken transport that duplicates or reorders is a fault: [[fault]] kind = \"degrade\" with `{what}`"))),
            None => Ok(()),
        }
    }

    fn disk(&self, f: &FileDisk) -> R<DiskModel> {
        let d = DiskModel::default();
        let (wl, wh) = self.range(
            &f.wal_latency_min,
            &f.wal_latency_max,
            (d.wal_latency_min, d.wal_latency_max),
            "wal_latency",
        )?;
        let (al, ah) = self.range(
            &f.apply_latency_min,
            &f.apply_latency_max,
            (d.apply_latency_min, d.apply_latency_max),
            "apply_latency",
        )?;
        let (sl, sh) = self.range(
            &f.snap_latency_min,
            &f.snap_latency_max,
            (d.snap_latency_min, d.snap_latency_max),
            "snap_latency",
        )?;
        Ok(DiskModel {
            wal_latency_min: wl,
            wal_latency_max: wh,
            apply_latency_min: al,
            apply_latency_max: ah,
            snap_latency_min: sl,
            snap_latency_max: sh,
        })
    }

    fn time_in_run(&self, d: &Dur, end: SimTime, what: &str) -> R<SimTime> {
        let t = SimTime::ZERO + d.get_ref().0;
        if t > end {
            return Err(self.err(
                d,
                format!(
                    "{what} {t} is after the end of the run ({end}); raise `duration` or move it"
                ),
            ));
        }
        Ok(t)
    }

    fn require<'b, T>(
        &self,
        v: &'b Option<T>,
        kind: &Spanned<impl std::fmt::Debug>,
        field: &str,
        what: &str,
    ) -> R<&'b T> {
        v.as_ref()
            .ok_or_else(|| self.err(kind, format!("{what} needs `{field}`")))
    }

    fn fault(&self, f: &FileFault, (members, n): (u64, u64), end: SimTime) -> R<Fault> {
        let at = self.time_in_run(&f.at, end, "fault start")?;
        let until = match &f.until {
            None => None,
            Some(u) => {
                let t = SimTime::ZERO + u.get_ref().0;
                if t <= at {
                    return Err(self.err(u, format!("fault window ends ({t}) before it starts ({at}): `until` must be after `at`")));
                }
                Some(t)
            }
        };
        use FaultKindName as K;
        let allowed: &[&str] = match f.kind.get_ref() {
            K::Pause | K::Crash | K::FsyncError | K::TornWrite | K::FsyncLies => &["node"],
            K::DiskStall => &["node", "io"],
            K::DiskSlow => &["node", "io", "latency_min", "latency_max"],
            K::ClockDrift => &["node", "speed_permille"],
            K::Start => &["node"],
            K::Partition => &["groups"],
            K::OneWay => &["from", "to"],
            K::Degrade => &["nodes", "drop", "duplicate", "reorder", "extra_latency_max"],
        };
        self.only_fields(f, allowed)?;
        let member = |fault: NodeFault| -> R<FaultKind> {
            let node = self.fault_target(f, n)?;
            Ok(FaultKind::Member { node, fault })
        };
        let kind = match f.kind.get_ref() {
            K::Pause => member(NodeFault::Pause)?,
            K::Crash => member(NodeFault::Crash)?,
            // Without an end, only the next fsync fails; with one, every fsync until it ends.
            K::FsyncError => member(NodeFault::Disk(DiskFault::FsyncError {
                once: until.is_none(),
            }))?,
            K::DiskStall => member(NodeFault::Disk(DiskFault::Stall(fault_io(f))))?,
            K::TornWrite => member(NodeFault::Disk(DiskFault::TornWrite))?,
            K::FsyncLies => member(NodeFault::Disk(DiskFault::FsyncLies))?,
            K::DiskSlow => self.disk_slow(f, n)?,
            K::ClockDrift => member(self.clock_drift(f)?)?,
            K::Start => self.start(f, until, (members, n))?,
            K::Partition => self.partition(f, n)?,
            K::OneWay => self.one_way(f, n)?,
            K::Degrade => FaultKind::Network(NetFault::Degrade(Degrade {
                only: f
                    .nodes
                    .as_ref()
                    .map(|s| self.nodes(s, n))
                    .transpose()?
                    .unwrap_or_default(),
                extra_latency_max: dur(&f.extra_latency_max, SimDuration::ZERO),
                drop: f.drop.unwrap_or(crate::sim::rng::Ratio::NEVER),
                duplicate: f.duplicate.unwrap_or(crate::sim::rng::Ratio::NEVER),
                reorder: f.reorder.unwrap_or(crate::sim::rng::Ratio::NEVER),
            })),
        };
        Ok(Fault { at, until, kind })
    }

    fn fault_kind_name(f: &FileFault) -> String {
        use FaultKindName as K;
        let name = match f.kind.get_ref() {
            K::Pause => "pause",
            K::Crash => "crash",
            K::DiskStall => "disk_stall",
            K::DiskSlow => "disk_slow",
            K::FsyncError => "fsync_error",
            K::TornWrite => "torn_write",
            K::FsyncLies => "fsync_lies",
            K::ClockDrift => "clock_drift",
            K::Partition => "partition",
            K::OneWay => "one_way",
            K::Degrade => "degrade",
            K::Start => "start",
        };
        format!("kind = \"{name}\"")
    }

    /// The `node` of a member fault: an id, `"leader"` or `"follower"`.
    fn fault_target(&self, f: &FileFault, n: u64) -> R<Target> {
        let s = self.require(&f.node, &f.kind, "node", &Self::fault_kind_name(f))?;
        Ok(match s.get_ref() {
            NodeRef::Leader => Target::Leader,
            NodeRef::Follower => Target::Follower,
            NodeRef::Id(v) if *v == 0 || *v > n => {
                return Err(self.err(
                    s,
                    format!("node {v} does not exist: this cluster has nodes 1..={n}"),
                ))
            }
            NodeRef::Id(v) => Target::Node(NodeId(*v)),
        })
    }

    /// `start`: a spare machine (not an initial member), once, without `until`.
    fn start(
        &self,
        f: &FileFault,
        until: Option<SimTime>,
        (members, n): (u64, u64),
    ) -> R<FaultKind> {
        let node = self.fault_target(f, n)?;
        let first_spare = members + 1;
        match node {
            Target::Node(id) if id.0 >= first_spare => {}
            _ => {
                let s = f.node.as_ref().expect("fault_target checked it");
                return Err(self.err(s, format!("kind = \"start\" starts a spare machine: `node` must be one of {first_spare}..={n} (set [cluster] spares)")));
            }
        }
        if let (Some(_), Some(u)) = (until, &f.until) {
            return Err(self.err(
                u,
                "kind = \"start\" has no end: remove `until` (crash it with a `crash` fault)"
                    .into(),
            ));
        }
        Ok(FaultKind::Member {
            node,
            fault: NodeFault::Start,
        })
    }

    /// A `member` command names a machine of this scenario.
    fn member_in_range(&self, c: &FileCommand, command: &Command, n: u64) -> R<()> {
        let Command::Member { change } = command else {
            return Ok(());
        };
        let member = match change {
            MemberOp::Add { member, .. }
            | MemberOp::Remove { member }
            | MemberOp::Promote { member } => *member,
            MemberOp::List => return Ok(()),
        };
        if member.0 > n {
            return Err(self.err(&c.run, format!("{member} does not exist: this scenario has machines etcd-1..=etcd-{n} (add spares with [cluster] spares)")));
        }
        Ok(())
    }

    /// `speed_permille`: 1..=10000, not 1000 (that is no drift).
    fn clock_drift(&self, f: &FileFault) -> R<NodeFault> {
        let what = Self::fault_kind_name(f);
        let k = self.require(&f.speed_permille, &f.kind, "speed_permille", &what)?;
        let speed = *k.get_ref();
        if speed == 0 || speed > 10_000 || speed == 1000 {
            return Err(self.err(k, format!("`speed_permille` = {speed}: the clock's speed in thousandths of real time, 1..=10000 and not 1000 (200: a fifth of real speed; 1500: half again as fast)")));
        }
        Ok(NodeFault::ClockDrift {
            speed_permille: speed,
        })
    }

    fn disk_slow(&self, f: &FileFault, n: u64) -> R<FaultKind> {
        self.require(
            &f.latency_max,
            &f.kind,
            "latency_max",
            &Self::fault_kind_name(f),
        )?;
        let zero = (SimDuration::ZERO, SimDuration::ZERO);
        let (lo, hi) = self.range(&f.latency_min, &f.latency_max, zero, "latency")?;
        let slow = DiskFault::Slow {
            io: fault_io(f),
            latency_min: lo,
            latency_max: hi,
        };
        Ok(FaultKind::Member {
            node: self.fault_target(f, n)?,
            fault: NodeFault::Disk(slow),
        })
    }

    fn partition(&self, f: &FileFault, n: u64) -> R<FaultKind> {
        let g = self.require(&f.groups, &f.kind, "groups", &Self::fault_kind_name(f))?;
        let mut seen = Vec::new();
        let mut groups = Vec::new();
        for grp in g.get_ref() {
            if grp.is_empty() {
                return Err(self.err(g, "a partition group is empty: list at least one node in each, e.g. [[1], [2, 3]]".into()));
            }
            let mut ids = Vec::new();
            for v in grp {
                if *v == 0 || *v > n || seen.contains(v) {
                    return Err(self.err(g, format!("groups must list existing nodes (1..={n}) at most once each; problem with {v}")));
                }
                seen.push(*v);
                ids.push(NodeId(*v));
            }
            groups.push(ids);
        }
        if groups.len() < 2 {
            return Err(self.err(
                g,
                "a partition needs at least two groups, e.g. [[1], [2, 3]]".into(),
            ));
        }
        Ok(FaultKind::Network(NetFault::Partition { groups }))
    }

    fn one_way(&self, f: &FileFault, n: u64) -> R<FaultKind> {
        let kname = Self::fault_kind_name(f);
        let from = self.node(self.require(&f.from, &f.kind, "from", &kname)?, n)?;
        let to_s = self.require(&f.to, &f.kind, "to", &kname)?;
        let to = self.node(to_s, n)?;
        if from == to {
            return Err(self.err(to_s, "`from` and `to` must differ".into()));
        }
        Ok(FaultKind::Network(NetFault::OneWay { from, to }))
    }

    /// Rejects fields that do not belong to the fault's kind (they would be silently ignored).
    fn only_fields(&self, f: &FileFault, allowed: &[&str]) -> R<()> {
        let present: [(&str, Option<usize>); 13] = [
            ("node", f.node.as_ref().map(|s| s.span().start)),
            ("io", f.io.as_ref().map(|s| s.span().start)),
            (
                "latency_min",
                f.latency_min.as_ref().map(|s| s.span().start),
            ),
            (
                "latency_max",
                f.latency_max.as_ref().map(|s| s.span().start),
            ),
            ("groups", f.groups.as_ref().map(|s| s.span().start)),
            ("from", f.from.as_ref().map(|s| s.span().start)),
            ("to", f.to.as_ref().map(|s| s.span().start)),
            ("nodes", f.nodes.as_ref().map(|s| s.span().start)),
            (
                "extra_latency_max",
                f.extra_latency_max.as_ref().map(|s| s.span().start),
            ),
            ("drop", f.drop.map(|_| f.kind.span().start)),
            ("duplicate", f.duplicate.map(|_| f.kind.span().start)),
            ("reorder", f.reorder.map(|_| f.kind.span().start)),
            (
                "speed_permille",
                f.speed_permille.as_ref().map(|s| s.span().start),
            ),
        ];
        for (name, at) in present {
            if let Some(at) = at {
                if !allowed.contains(&name) {
                    return Err(self.err_at(
                        at,
                        format!(
                            "`{name}` does not apply to {}; its fields are: at, until, {}",
                            Self::fault_kind_name(f),
                            allowed.join(", ")
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn command(
        &self,
        c: &FileCommand,
        (members, n): (u64, u64),
        end: SimTime,
        client: &ClientConfig,
        sessions: &mut BTreeMap<String, Vec<NodeId>>,
        out: &mut Vec<CommandSpec>,
    ) -> R<()> {
        let at = self.time_in_run(&c.at, end, "command time")?;
        let endpoints = match &c.endpoints {
            Some(e) if e.get_ref().is_empty() => {
                return Err(self.err(e, "endpoints must list at least one node".into()))
            }
            Some(e) => self.nodes(e, n)?,
            None => (1..=members).map(NodeId).collect(),
        };
        let timeout = self.positive(&c.timeout, client.command_timeout, "timeout")?;
        let (repeat, every) = self.repetitions(c, at, end, out.len())?;
        if let Some(s) = &c.session {
            let prev = sessions
                .entry(s.get_ref().clone())
                .or_insert_with(|| endpoints.clone());
            if *prev != endpoints {
                return Err(self.err(s, format!("session `{}` was first used with other endpoints; a session keeps its endpoints", s.get_ref())));
            }
        }
        for i in 0..repeat {
            let text = c.run.get_ref().replace("{i}", &(i + 1).to_string());
            let command = self.command_text(c, &text)?;
            self.member_in_range(c, &command, n)?;
            out.push(CommandSpec {
                id: c.id.as_ref().map(|s| s.get_ref().clone()),
                at: at + every * i,
                text,
                command,
                endpoints: endpoints.clone(),
                session: c.session.as_ref().map(|s| s.get_ref().clone()),
                timeout,
                quiet: c.quiet.unwrap_or(false),
            });
        }
        Ok(())
    }

    /// `repeat` and `every`, checked before anything is expanded: at most [`MAX_REPEAT`], the
    /// last repetition within the run, at most [`MAX_COMMANDS`] in all.
    fn repetitions(
        &self,
        c: &FileCommand,
        at: SimTime,
        end: SimTime,
        so_far: usize,
    ) -> R<(u64, SimDuration)> {
        let repeat = c.repeat.as_ref().map_or(1, |r| *r.get_ref());
        if repeat == 0 || repeat > MAX_REPEAT {
            let msg = format!("repeat must be between 1 and {MAX_REPEAT}");
            return Err(self.err(c.repeat.as_ref().expect("set"), msg));
        }
        let every = match (&c.every, repeat) {
            (None, 1) => SimDuration::ZERO,
            (None, _) => {
                let msg = "repeat needs `every` (e.g. every = \"1s\")".into();
                return Err(self.err(c.repeat.as_ref().expect("set"), msg));
            }
            (Some(e), _) if e.get_ref().0 == SimDuration::ZERO => {
                return Err(self.err(e, "every must be greater than 0s".into()))
            }
            (Some(e), _) => e.get_ref().0,
        };
        let last = every
            .as_micros()
            .checked_mul(repeat - 1)
            .and_then(|us| (at.0).checked_add(us))
            .filter(|t| *t <= end.0);
        if last.is_none() {
            let msg = format!("repetition {repeat} would run after the end of the run ({end})");
            return Err(self.err(&c.at, msg));
        }
        if so_far as u64 + repeat > MAX_COMMANDS as u64 {
            let msg =
                format!("a scenario runs at most {MAX_COMMANDS} commands, repetitions included");
            return Err(self.err(&c.at, msg));
        }
        Ok((repeat, every))
    }

    /// Every lease a command names must be granted by a `lease grant` (or `lock`) command
    /// whose `id` is that name.
    fn lease_names(&self, file: &[Spanned<FileCommand>], specs: &[CommandSpec]) -> R<()> {
        let granting = |c: &CommandSpec| {
            matches!(c.command, Command::LeaseGrant { .. } | Command::Lock { .. })
        };
        let names: Vec<&str> = specs
            .iter()
            .filter(|c| granting(c))
            .filter_map(|c| c.id.as_deref())
            .collect();
        let granted: BTreeSet<LeaseId> = names.iter().map(|n| LeaseId::named(n)).collect();
        for c in file {
            let c = c.get_ref();
            let text = c.run.get_ref();
            let Ok(command) = command::parse(text) else {
                continue;
            };
            let missing = command.leases().into_iter().any(|l| !granted.contains(&l));
            if missing {
                let known = if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                };
                let msg = format!("this command names a lease that no command grants; a lease is named by the `id` of its `lease grant` or `lock` command (granted here: {known})");
                return Err(self.err(&c.run, msg));
            }
        }
        Ok(())
    }

    /// Parses one repetition's command text.
    fn command_text(&self, c: &FileCommand, text: &str) -> R<Command> {
        let command = command::parse(text).map_err(|e| {
            // Positions inside the text hold only where `{i}` changed nothing.
            let offset = if text == c.run.get_ref() { e.offset } else { 0 };
            self.err_at(self.offset_in_string(&c.run, offset), e.message)
        })?;
        let grants = matches!(command, Command::LeaseGrant { .. } | Command::Lock { .. });
        if grants && c.id.is_none() {
            let msg = "`lease grant` and `lock` need an `id`: it names the lease they grant (e.g. id = \"session\")";
            return Err(self.err(&c.run, msg.into()));
        }
        let endpoint = matches!(command, Command::EndpointStatus | Command::EndpointHealth);
        match &c.session {
            Some(session) if endpoint => Err(self.err(
                session,
                "endpoint commands dial each endpoint themselves; remove `session`".into(),
            )),
            _ => Ok(command),
        }
    }
}

impl Validator<'_> {
    /// The byte in the file of byte `offset` of a string value: exact when the string is
    /// written without escapes, else the start of the string.
    fn offset_in_string(&self, s: &Spanned<String>, offset: usize) -> usize {
        let span = s.span();
        let raw = self.src.get(span.clone()).unwrap_or("");
        let quote = if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
            3
        } else {
            1
        };
        let inner = raw
            .get(quote..raw.len().saturating_sub(quote))
            .unwrap_or("");
        if inner == s.get_ref() {
            span.start + quote + offset
        } else {
            span.start
        }
    }
}

impl expect::ErrAt for Validator<'_> {
    fn err_at(&self, byte: usize, message: String) -> ScenarioError {
        Validator::err_at(self, byte, message)
    }
}

/// A `--set` value: TOML if it parses as one, otherwise a plain string. The format has no
/// floating-point fields, so `1.31` stays the string `"1.31"` (a version).
fn parse_value(v: &str) -> toml::Value {
    match toml::from_str::<toml::Table>(&format!("v = {v}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
    {
        Some(toml::Value::Float(_)) | None => toml::Value::String(v.to_string()),
        Some(x) => x,
    }
}

/// Reads a text file of at most `limit` bytes: a larger one, or one that is not UTF-8, is an
/// error naming why (the first invalid byte's line and column for bad UTF-8).
pub fn read_limited(path: &Path, limit: u64) -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::other(format!(
            "larger than the {} MiB this file may have",
            limit >> 20
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = good.iter().filter(|b| **b == b'\n').count() + 1;
        let col = good.iter().rev().take_while(|b| **b != b'\n').count() + 1;
        std::io::Error::other(format!("{line}:{col}: not UTF-8 text"))
    })
}

/// Sets `a.b.c` (numbers index arrays) in a TOML table, creating missing tables.
fn set_path(root: &mut toml::Table, key: &str, value: toml::Value) -> Result<(), String> {
    let parts: Vec<&str> = key.split('.').collect();
    if parts.len() > 8 {
        return Err(format!(
            "the key has {} segments; scenario settings are at most 8 deep",
            parts.len()
        ));
    }
    if parts.iter().any(|p| p.is_empty()) {
        return Err("empty segment in the key; write it like apiserver.etcd_servers".into());
    }
    let (last, path) = parts.split_last().expect("split of a non-empty key");
    if last.parse::<usize>().is_ok() {
        return Err("the key must end with a field name".into());
    }
    let mut cur = root;
    let mut i = 0;
    while i < path.len() {
        let p = path[i];
        let entry = cur
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = match entry {
            toml::Value::Table(t) => t,
            toml::Value::Array(items) => {
                let seg = path.get(i + 1).copied().unwrap_or("");
                let idx: usize = seg
                    .parse()
                    .map_err(|_| format!("`{p}` is a list: follow it with an index, e.g. {p}.0"))?;
                let len = items.len();
                i += 1;
                match items.get_mut(idx) {
                    Some(toml::Value::Table(t)) => t,
                    Some(_) => return Err(format!("`{p}.{idx}` is not a table")),
                    None => {
                        return Err(format!(
                            "`{p}` has {len} entries; index {idx} is out of range"
                        ))
                    }
                }
            }
            _ => return Err(format!("`{p}` is a value, not a table")),
        };
        i += 1;
    }
    cur.insert(last.to_string(), value);
    Ok(())
}

#[cfg(test)]
mod override_tests {
    use super::*;

    const TEXT: &str = "name = \"x\"\ndescription = \"d\"\nduration = \"10s\"\n[[fault]]\nkind = \"pause\"\nnode = 1\nat = \"1s\"\n";

    fn sets(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn sets_tables_arrays_and_bare_words() {
        let s = Scenario::parse_with_overrides(
            TEXT,
            "x.toml",
            &sets(&[
                ("cluster.persist", "async"),
                ("fault.0.until", "5s"),
                ("seed", "9"),
            ]),
        )
        .unwrap();
        assert_eq!(s.cluster.persist, PersistMode::Async);
        assert_eq!(s.faults[0].until, Some(SimTime(5_000_000)));
        assert_eq!(s.seed, 9);
    }

    /// etcd 3.6 lowered `--snapshot-count`'s default tenfold; a set value wins either way.
    #[test]
    fn snapshot_count_defaults_by_etcd_version() {
        let count = |v: &[(&str, &str)]| {
            Scenario::parse_with_overrides(TEXT, "x.toml", &sets(v))
                .unwrap()
                .cluster
                .snapshot_count
        };
        assert_eq!(count(&[]), 100_000, "the default release is 3.5");
        assert_eq!(count(&[("cluster.etcd_version", "3.4")]), 100_000);
        assert_eq!(count(&[("cluster.etcd_version", "3.6")]), 10_000);
        let set = [
            ("cluster.etcd_version", "3.6"),
            ("cluster.snapshot_count", "500"),
        ];
        assert_eq!(count(&set), 500);
    }

    #[test]
    fn bad_overrides_name_themselves() {
        let e =
            Scenario::parse_with_overrides(TEXT, "x.toml", &sets(&[("cluster.persist", "fast")]))
                .unwrap_err()
                .to_string();
        assert!(
            e.contains("--set cluster.persist=fast") && e.contains("`sync`"),
            "{e}"
        );
        let e = Scenario::parse_with_overrides(TEXT, "x.toml", &sets(&[("fault.3.until", "5s")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("index 3 is out of range"), "{e}");
        let e = Scenario::parse_with_overrides(TEXT, "x.toml", &sets(&[("cluster.nodez", "3")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `nodez`"), "{e}");
    }
}
