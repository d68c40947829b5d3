//! Validated Kubernetes settings of a scenario. The values come from the file; the defaults are
//! applied where the file is validated (`scenario/kubernetes.rs`) and documented, with their
//! upstream sources, in `docs/reference/etcd-kubernetes-defaults.md`.

use crate::sim::time::SimDuration;
use serde::Serialize;

/// kube-apiserver `--etcd-servers`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EtcdServers {
    /// Only the local member (kubeadm's stacked default).
    Local,
    /// Every member, balanced by clientv3 round-robin.
    All,
}

/// How kubelets reach an apiserver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KubeletPath {
    /// Bound to one apiserver.
    Pinned,
    /// Through a load balancer that health-checks `/readyz`.
    LbReadyz,
    /// Through a load balancer that only checks that TCP connects.
    LbTcp,
}

#[derive(Clone, Debug, Serialize)]
/// The Kubernetes layer of a scenario: topology and every timing (defaults are upstream's).
pub struct K8sSpec {
    /// Worker nodes besides the masters.
    pub workers: u64,
    /// Kubernetes version shown by `kubectl get nodes` (`1.32` -> `v1.32.0`).
    pub version: String,
    /// What each apiserver's --etcd-servers lists.
    pub etcd_servers: EtcdServers,
    /// The /readyz etcd check timeout (2 s).
    pub apiserver_health_timeout: SimDuration,
    /// The apiserver's own timeout on an etcd request.
    pub apiserver_request_timeout: SimDuration,
    /// How kubelets reach apiservers.
    pub kubelet_path: KubeletPath,
    /// For each node in order (masters, then workers): the apiserver (master number) it uses
    /// when pinned.
    pub kubelet_bind: Vec<u64>,
    /// Node lease duration (40 s).
    pub lease_duration: SimDuration,
    /// Lease renew interval (10 s).
    pub renew_interval: SimDuration,
    /// The kubelet heartbeat client's timeout (10 s).
    pub heartbeat_timeout: SimDuration,
    /// Back-to-back retries of one lease renewal (5).
    pub lease_update_retries: u32,
    /// nodeStatusUpdateFrequency (10 s).
    pub status_update_frequency: SimDuration,
    /// nodeStatusReportFrequency (5 min).
    pub status_report_frequency: SimDuration,
    /// --node-monitor-period (5 s).
    pub node_monitor_period: SimDuration,
    /// --node-monitor-grace-period (40 s before v1.32, 50 s from v1.32).
    pub node_monitor_grace_period: SimDuration,
    /// NoExecute toleration before eviction (300 s).
    pub eviction_toleration: SimDuration,
    /// Leader election lease duration (15 s).
    pub leader_lease_duration: SimDuration,
    /// Leader election renew deadline (10 s).
    pub leader_renew_deadline: SimDuration,
    /// Leader election retry period (2 s).
    pub leader_retry_period: SimDuration,
    /// The master whose KCM holds the leader Lease at start (`None`: whoever wins).
    pub initial_kcm_leader: Option<u64>,
    /// How often the load balancer checks each apiserver.
    pub lb_check_interval: SimDuration,
    /// Failed checks before a backend leaves the rotation.
    pub lb_fall: u32,
    /// Successful checks before a backend re-enters.
    pub lb_rise: u32,
}

impl K8sSpec {
    /// How many masters (one per etcd member).
    pub fn masters(&self) -> u64 {
        self.kubelet_bind.len() as u64 - self.workers
    }

    /// Node names in order: `master-1..`, then `worker-1..`.
    pub fn node_names(&self) -> Vec<String> {
        let m = self.masters();
        (1..=m)
            .map(|i| format!("master-{i}"))
            .chain((1..=self.workers).map(|i| format!("worker-{i}")))
            .collect()
    }
}
