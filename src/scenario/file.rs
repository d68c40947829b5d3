//! The on-disk scenario format (TOML), exactly as users write it. Every table denies unknown
//! fields; values that need cross-checks keep their position (`Spanned`) so validation errors
//! can name file, line and column. See `docs/scenario-format.md`.

use crate::sim::rng::Ratio;
use crate::sim::time::SimDurationText;
use serde::Deserialize;
use serde_spanned::Spanned;

pub type Dur = Spanned<SimDurationText>;

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct FileRoot {
    pub name: Spanned<String>,
    pub description: String,
    #[serde(default = "default_seed")]
    pub seed: u64,
    pub duration: Dur,
    #[serde(default)]
    pub cluster: FileCluster,
    #[serde(default)]
    pub network: FileNetwork,
    #[serde(default)]
    pub disk: FileDisk,
    #[serde(default)]
    pub client: FileClient,
    pub kubernetes: Option<Spanned<FileKubernetes>>,
    pub apiserver: Option<Spanned<FileApiserver>>,
    pub kubelet: Option<Spanned<FileKubelet>>,
    pub controller_manager: Option<Spanned<FileKcm>>,
    pub load_balancer: Option<Spanned<FileLb>>,
    #[serde(default)]
    pub fault: Vec<Spanned<FileFault>>,
    #[serde(default)]
    pub command: Vec<Spanned<FileCommand>>,
    #[serde(default)]
    pub expect: Vec<Spanned<super::expect::RawExpect>>,
}

fn default_seed() -> u64 {
    1
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct FileCluster {
    pub nodes: Option<Spanned<u64>>,
    pub spares: Option<Spanned<u64>>,
    pub reject_removed_members: Option<bool>,
    pub persist: Option<PersistName>,
    pub heartbeat_interval: Option<Dur>,
    pub election_timeout: Option<Dur>,
    pub etcd_version: Option<Spanned<String>>,
    pub pre_vote: Option<bool>,
    pub randomize_election_timeout: Option<bool>,
    pub max_size_per_msg: Option<u64>,
    pub snapshot_count: Option<u64>,
    pub snapshot_catchup_entries: Option<u64>,
    pub check_quorum: Option<bool>,
    pub read_only: Option<ReadOnlyName>,
    pub initial_leader: Option<Spanned<u64>>,
    pub request_timeout: Option<Dur>,
}

#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum PersistName {
    Sync,
    Async,
}

#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum ReadOnlyName {
    Safe,
    LeaseBased,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct FileNetwork {
    pub latency_min: Option<Dur>,
    pub latency_max: Option<Dur>,
    pub drop: Option<Ratio>,
    /// Not a link property (rejected with a pointer to `degrade` faults).
    pub duplicate: Option<Spanned<Ratio>>,
    /// Not a link property (rejected with a pointer to `degrade` faults).
    pub reorder: Option<Spanned<Ratio>>,
    pub client_latency_min: Option<Dur>,
    pub client_latency_max: Option<Dur>,
    pub snapshot_bandwidth_bytes_per_s: Option<Spanned<u64>>,
    #[serde(default)]
    pub link: Vec<Spanned<FileLinkOverride>>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct FileLinkOverride {
    pub from: Spanned<u64>,
    pub to: Spanned<u64>,
    pub latency_min: Option<Dur>,
    pub latency_max: Option<Dur>,
    pub drop: Option<Ratio>,
    /// Not a link property (rejected with a pointer to `degrade` faults).
    pub duplicate: Option<Spanned<Ratio>>,
    /// Not a link property (rejected with a pointer to `degrade` faults).
    pub reorder: Option<Spanned<Ratio>>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct FileDisk {
    pub wal_latency_min: Option<Dur>,
    pub wal_latency_max: Option<Dur>,
    pub apply_latency_min: Option<Dur>,
    pub apply_latency_max: Option<Dur>,
    pub snap_latency_min: Option<Dur>,
    pub snap_latency_max: Option<Dur>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct FileClient {
    pub command_timeout: Option<Dur>,
    pub dial_timeout: Option<Dur>,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FaultKindName {
    Pause,
    Crash,
    DiskStall,
    DiskSlow,
    FsyncError,
    TornWrite,
    FsyncLies,
    ClockDrift,
    Partition,
    OneWay,
    Degrade,
    Start,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum IoName {
    Wal,
    Apply,
    Snap,
}

/// One `[[fault]]`: `kind` says which of the optional fields apply.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct FileFault {
    pub kind: Spanned<FaultKindName>,
    pub at: Dur,
    pub until: Option<Dur>,
    pub node: Option<Spanned<NodeRef>>,
    pub io: Option<Spanned<IoName>>,
    pub latency_min: Option<Dur>,
    pub latency_max: Option<Dur>,
    pub groups: Option<Spanned<Vec<Vec<u64>>>>,
    pub from: Option<Spanned<u64>>,
    pub to: Option<Spanned<u64>>,
    pub nodes: Option<Spanned<Vec<u64>>>,
    pub drop: Option<Ratio>,
    pub duplicate: Option<Ratio>,
    pub reorder: Option<Ratio>,
    pub extra_latency_max: Option<Dur>,
    pub speed_permille: Option<Spanned<u64>>,
}

/// One `[[command]]`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct FileCommand {
    pub id: Option<Spanned<String>>,
    pub at: Dur,
    pub run: Spanned<String>,
    pub endpoints: Option<Spanned<Vec<u64>>>,
    pub session: Option<Spanned<String>>,
    pub timeout: Option<Dur>,
    pub repeat: Option<Spanned<u64>>,
    pub every: Option<Dur>,
    /// Keep it out of the timeline (it still runs and is in the history): for background load.
    pub quiet: Option<bool>,
}

/// A fault's target as written: a node id, or a role resolved when the fault starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeRef {
    Id(u64),
    Leader,
    Follower,
}

impl<'de> Deserialize<'de> for NodeRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = NodeRef;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(f, "a node id (1, 2, ...) or \"leader\" or \"follower\"")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<NodeRef, E> {
                u64::try_from(v)
                    .map(NodeRef::Id)
                    .map_err(|_| E::custom(format!("node {v} does not exist: node ids start at 1")))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<NodeRef, E> {
                Ok(NodeRef::Id(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<NodeRef, E> {
                match v {
                    "leader" => Ok(NodeRef::Leader),
                    "follower" => Ok(NodeRef::Follower),
                    _ => Err(E::custom(format!(
                        "unknown node `{v}`: expected a node id (1, 2, ...), \"leader\" or \"follower\""
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// `[kubernetes]`: turns the Kubernetes layer on.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct FileKubernetes {
    pub workers: Option<Spanned<u64>>,
    /// `"1.31"` (grace period 40s) or `"1.32"` and later (50s).
    pub version: Option<Spanned<String>>,
}

#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum EtcdServersName {
    Local,
    All,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct FileApiserver {
    pub etcd_servers: Option<EtcdServersName>,
    pub etcd_healthcheck_timeout: Option<Dur>,
    pub request_timeout: Option<Dur>,
}

#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
pub enum KubeletPathName {
    Pinned,
    LbReadyz,
    LbTcp,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct FileKubelet {
    pub path: Option<KubeletPathName>,
    /// For each worker in order, the master whose apiserver it is pinned to.
    pub bind_workers: Option<Spanned<Vec<u64>>>,
    pub lease_duration: Option<Dur>,
    pub renew_interval: Option<Dur>,
    pub heartbeat_timeout: Option<Dur>,
    pub lease_update_retries: Option<Spanned<u32>>,
    pub status_update_frequency: Option<Dur>,
    pub status_report_frequency: Option<Dur>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct FileKcm {
    pub node_monitor_period: Option<Dur>,
    pub node_monitor_grace_period: Option<Dur>,
    pub eviction_toleration: Option<Dur>,
    pub leader_lease_duration: Option<Dur>,
    pub leader_renew_deadline: Option<Dur>,
    pub leader_retry_period: Option<Dur>,
    pub initial_leader: Option<Spanned<u64>>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct FileLb {
    pub check_interval: Option<Dur>,
    pub fall: Option<Spanned<u32>>,
    pub rise: Option<Spanned<u32>>,
}
