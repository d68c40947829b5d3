//! The Kubernetes layer in the loop: its timers, and the etcd operations its apiservers run on
//! their etcd clients (one over the configured members, one over the watch-cache member).

use super::clients::Issuer;
use super::{Event, Sim};
use crate::k8s::actors::{Cx, EtcdCall, EtcdDone, K8sEvent};
use crate::k8s::{EtcdServers, K8s, K8sSpec};
use crate::sim::actor::Out;
use crate::sim::ids::{ClientId, NodeId, OpId};
use crate::sim::rng::{SimRng, Stream};
use std::sync::Arc;

/// The layer and its apiservers' etcd clients.
pub(super) struct Layer {
    pub layer: K8s,
    /// Per apiserver: its etcd client and its watch-cache client.
    clients: Vec<(ClientId, ClientId)>,
    /// Per apiserver: its name in the client history (`apiserver-N`).
    actors: Vec<Arc<str>>,
}

impl Sim {
    pub(super) fn start_kubernetes(&mut self, spec: K8sSpec) {
        let mut rng = SimRng::fork(self.seed, Stream::Kubernetes);
        let all = self.scenario.node_ids();
        let mut clients = Vec::new();
        for a in 0..spec.masters() {
            let local = NodeId(a + 1);
            let (main, watch) = match spec.etcd_servers {
                EtcdServers::Local => (vec![local], local),
                // One clientv3 client over every member; the watch stream lands on one of them.
                EtcdServers::All => (
                    all.clone(),
                    all[rng.between(0, all.len() as u64 - 1) as usize],
                ),
            };
            let c = self.new_client(main, false);
            let w = self.new_client(vec![watch], false);
            clients.push((c, w));
        }
        let n = &self.scenario.network;
        let layer = K8s::new(spec, rng, (n.client_latency_min, n.client_latency_max));
        let actors = (1..=clients.len())
            .map(|n| Arc::from(format!("apiserver-{n}")))
            .collect();
        self.k8s = Some(Layer {
            layer,
            clients,
            actors,
        });
        self.with_k8s(|k, cx| k.start(cx));
    }

    pub(super) fn k8s_handle(&mut self, e: K8sEvent) {
        self.with_k8s(|k, cx| k.handle(e, cx));
    }

    fn with_k8s(&mut self, f: impl FnOnce(&mut K8s, &mut Cx)) {
        let now = self.now();
        let mut fx = std::mem::take(&mut self.fx.k8s);
        let k = self.k8s.as_mut().expect("kubernetes layer is on");
        let mut out = Out {
            now,
            trace: &mut self.trace,
            effects: &mut fx,
        };
        f(&mut k.layer, &mut out);
        self.pump((), &mut fx, Sim::etcd_call, |s, (), at, e| {
            s.queue.schedule(at, Event::K8s(e))
        });
        self.fx.k8s = fx;
    }

    fn etcd_call(&mut self, (): (), call: EtcdCall) {
        let k = self.k8s.as_ref().expect("kubernetes layer is on");
        let (main, watch) = k.clients[call.apiserver];
        let client = if call.via_cache { watch } else { main };
        let actor = Arc::clone(&k.actors[call.apiserver]);
        let op = self.new_op(client, Issuer::Apiserver, actor, &call.op);
        self.history
            .op_owner
            .insert(op, (call.apiserver, call.token));
        let (kind, deadline) = (call.op, call.deadline);
        self.with_client(client, |c, now, fx| c.start(op, kind, deadline, now, fx));
    }

    /// An apiserver's etcd operation completed: tell the apiserver.
    pub(super) fn apiserver_op_done(&mut self, op: OpId) {
        let (apiserver, token) = self
            .history
            .op_owner
            .remove(&op)
            .expect("an apiserver owns every op without a command");
        let h = self.history.op(op);
        let ev = K8sEvent::EtcdDone(Box::new(EtcdDone {
            apiserver,
            token,
            outcome: h.outcome.clone(),
            reply: h.reply.clone(),
            routed: h.routed_to.clone(),
        }));
        self.k8s_handle(ev);
        self.history.forget_if_unread(op);
    }
}
