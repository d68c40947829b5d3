//! Validated Kubernetes settings of a scenario (defaults from kubernetes-etcd.md).

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
pub struct K8sSpec {
    pub workers: u64,
    /// Kubernetes version shown by `kubectl get nodes` (`1.32` -> `v1.32.0`).
    pub version: String,
    pub etcd_servers: EtcdServers,
    pub apiserver_health_timeout: SimDuration,
    pub apiserver_request_timeout: SimDuration,
    pub kubelet_path: KubeletPath,
    /// For each node in order (masters, then workers): the apiserver (master number) it uses
    /// when pinned.
    pub kubelet_bind: Vec<u64>,
    pub lease_duration: SimDuration,
    pub renew_interval: SimDuration,
    pub heartbeat_timeout: SimDuration,
    pub lease_update_retries: u32,
    pub status_update_frequency: SimDuration,
    pub status_report_frequency: SimDuration,
    pub node_monitor_period: SimDuration,
    pub node_monitor_grace_period: SimDuration,
    pub eviction_toleration: SimDuration,
    pub leader_lease_duration: SimDuration,
    pub leader_renew_deadline: SimDuration,
    pub leader_retry_period: SimDuration,
    /// The master whose KCM holds the leader Lease at start (`None`: whoever wins).
    pub initial_kcm_leader: Option<u64>,
    pub lb_check_interval: SimDuration,
    pub lb_fall: u32,
    pub lb_rise: u32,
}

impl K8sSpec {
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
