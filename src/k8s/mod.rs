//! The Kubernetes control plane on top of the simulated etcd: kube-apiservers, kubelets, a load
//! balancer and kube-controller-managers (leader election and the node-lifecycle controller).
//!
//! Models kubeadm's stacked topology: master-*i* runs etcd-*i*, apiserver-*i* and KCM-*i*; each
//! node (masters and workers) runs a kubelet that renews its node Lease and reports node status.
//! Every default timing comes from `docs/reference/etcd-kubernetes-defaults.md` and is a scenario setting.
//!
//! Fault model: Kubernetes processes do not fail by themselves here; they suffer the etcd faults
//! below them. An apiserver's etcd client is an ordinary simulated clientv3 client (local member
//! only, or all members with round-robin balancing); its watch cache is served by one member (its
//! *watch member*), so reads "from cache" are serializable reads there and freeze when that
//! member's apply freezes.
//!
//! Invariants: the node-lifecycle controller runs only in the KCM that holds the leader Lease;
//! observations of an object never go back in time (they are filtered by mod revision, as an
//! informer's watch is).

pub(crate) mod actors;
pub(crate) mod api;
pub mod spec;

pub(crate) use actors::K8s;
pub use api::lease_key;
pub use spec::{EtcdServers, K8sSpec, KubeletPath};
