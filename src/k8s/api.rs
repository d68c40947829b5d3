//! The slice of the Kubernetes API the simulated components use, and how objects are stored in
//! etcd (as small `key=value;...` strings under `/registry/...`).

use serde::Serialize;
use std::sync::Arc;

/// An object's etcd key. Shared: the components ask for the same few keys all run long, and
/// every read lands in the history ([`NodeKeys`] builds each once).
pub type Key = Arc<str>;

/// The etcd keys of one Kubernetes node's objects, built once per run.
#[derive(Clone, Debug)]
pub struct NodeKeys {
    /// Its kubelet's Lease (`kube-node-lease` namespace).
    pub lease: Key,
    /// Its Node object.
    pub node: Key,
}

impl NodeKeys {
    /// The keys of the node called `name`.
    pub fn of(name: &str) -> NodeKeys {
        NodeKeys {
            lease: lease_key(name).into(),
            node: node_key(name).into(),
        }
    }
}

/// Who sent an API request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Caller {
    Kubelet(usize),
    Kcm(usize),
    Lb,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "verb", rename_all = "kebab-case")]
pub enum ApiVerb {
    /// GET; `from_cache` reads the apiserver's watch cache (resourceVersion=0), otherwise a
    /// quorum (linearizable) read from etcd.
    Get { key: Key, from_cache: bool },
    /// UPDATE with a resourceVersion precondition (a compare-and-swap on mod revision).
    Update { key: Key, value: String, rv: u64 },
    /// CREATE (compare mod revision 0).
    Create { key: Key, value: String },
    /// PATCH-like update: GuaranteedUpdate reads the current revision and retries on conflict.
    Patch { key: Key, value: String },
    /// `/readyz`, whose etcd check is a linearizable GET with its own short timeout.
    Readyz,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct ApiRequest {
    pub id: u64,
    pub from: Caller,
    pub verb: ApiVerb,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "error", content = "message", rename_all = "kebab-case")]
pub enum ApiError {
    NotFound,
    Conflict,
    /// The apiserver could not complete the request (etcd error or timeout), with its message.
    Internal(String),
    /// The caller's own timeout fired first.
    ClientTimeout,
}

impl ApiError {
    pub fn message(&self) -> String {
        match self {
            ApiError::NotFound => "not found".into(),
            ApiError::Conflict => {
                "Operation cannot be fulfilled: the object has been modified".into()
            }
            ApiError::Internal(m) => m.clone(),
            ApiError::ClientTimeout => {
                "context deadline exceeded (Client.Timeout exceeded while awaiting headers)".into()
            }
        }
    }
}

/// An object as read: its stored value and resourceVersion (etcd mod revision).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Object {
    pub value: Arc<str>,
    pub rv: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct ApiReply {
    pub id: u64,
    pub result: Result<Object, ApiError>,
    /// The etcd members the apiserver's request(s) went to (for the timeline's path).
    pub etcd_members: Vec<u64>,
}

/// The etcd key of node `name`'s Lease in the `kube-node-lease` namespace, as kube-apiserver
/// stores it (`/registry/leases/<namespace>/<name>`).
pub fn lease_key(name: &str) -> String {
    format!("/registry/leases/kube-node-lease/{name}")
}

pub fn node_key(name: &str) -> String {
    format!("/registry/minions/{name}")
}

pub const KCM_LEASE_KEY: &str = "/registry/leases/kube-system/kube-controller-manager";

/// `holder=master-2;renew=12345678` (renew time in simulated microseconds).
pub fn lease_value(holder: &str, renew_us: u64) -> String {
    format!("holder={holder};renew={renew_us}")
}

pub fn field<'a>(value: &'a str, name: &str) -> Option<&'a str> {
    value
        .split(';')
        .find_map(|kv| kv.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
}

/// `ready=True;heartbeat=12345678`.
pub fn node_value(ready: &str, heartbeat_us: u64) -> String {
    format!("ready={ready};heartbeat={heartbeat_us}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_roundtrip() {
        let v = lease_value("master-2", 42);
        assert_eq!(field(&v, "holder"), Some("master-2"));
        assert_eq!(field(&v, "renew"), Some("42"));
        assert_eq!(field(&node_value("Unknown", 7), "ready"), Some("Unknown"));
        assert_eq!(field(&v, "nope"), None);
    }
}
