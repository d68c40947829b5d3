//! Fault dispatch: when a scheduled fault starts or ends, resolve its target (a fixed member, or
//! the role it names at that moment) and hand it to the component that owns it. The member, its
//! disk and the network each know what the fault means for them; the loop adds only what spans
//! components (clients losing their connections to a crashed member, handshakes completing when
//! a paused one resumes).

use super::{Event, Sim};
use crate::node::{NodeFault, NodeStatus};
use crate::scenario::{FaultKind, Target};
use crate::sim::ids::{ClientId, NodeId};
use crate::sim::trace::{Role, TraceEvent};

impl Sim {
    /// The member a fault's target names right now (lowest id holding the role), if any.
    fn resolve(&self, t: Target) -> Option<NodeId> {
        let has = |want: Role| {
            self.nodes
                .iter()
                .find(|n| n.status == NodeStatus::Running && n.role() == Some(want))
                .map(|n| n.id)
        };
        match t {
            Target::Node(n) => Some(n),
            Target::Leader => has(Role::Leader),
            Target::Follower => has(Role::Follower),
        }
    }

    pub(super) fn fault(&mut self, i: usize, start: bool) {
        let f = self.scenario.faults[i].clone();
        let now = self.now();
        match f.kind.clone() {
            FaultKind::Network(nf) => {
                self.record_fault(i, start, f.describe(), f.describe_end());
                self.net.fault(i, &nf, start);
                self.refresh_links();
            }
            FaultKind::Member {
                node: target,
                fault: nf,
            } => {
                let node = if start {
                    self.resolve(target)
                } else {
                    self.fault_nodes.get(&i).copied()
                };
                let Some(node) = node else {
                    let what = format!("{} skipped: no member is {target} now", f.describe());
                    self.trace
                        .push(now, TraceEvent::FaultStarted { fault: i, what });
                    return;
                };
                self.fault_nodes.insert(i, node);
                let mut resolved = f.clone();
                resolved.kind = f.kind.resolved(node);
                self.record_fault(i, start, resolved.describe(), resolved.describe_end());
                self.member_fault(node, nf, start);
            }
        }
    }

    /// A joining member asks a reachable running peer for the member list over peer HTTP
    /// (etcd's `GetClusterFromRemotePeers`, at start with `--initial-cluster-state existing`).
    fn fetch_members(&self, joiner: NodeId) -> Option<crate::node::membership::Members> {
        self.nodes
            .iter()
            .filter(|n| n.status == crate::node::NodeStatus::Running && n.id != joiner)
            .find(|n| !self.net.is_cut(joiner, n.id) && !self.net.is_cut(n.id, joiner))
            .map(|n| n.members().clone())
    }

    fn record_fault(&mut self, i: usize, start: bool, what: String, what_end: String) {
        let now = self.now();
        let ev = if start {
            TraceEvent::FaultStarted { fault: i, what }
        } else {
            TraceEvent::FaultEnded {
                fault: i,
                what: what_end,
            }
        };
        self.trace.push(now, ev);
    }

    fn member_fault(&mut self, node: NodeId, f: NodeFault, start: bool) {
        let now = self.now();
        if let (NodeFault::Start, true) = (f, start) {
            let list = self.fetch_members(node);
            return self.with_node(node, |n, o| n.start(list, o));
        }
        self.with_node(node, |n, o| n.fault(f, start, o));
        match (f, start) {
            (NodeFault::Pause, false) => {
                for c in self
                    .clients
                    .waiting_handshakes
                    .remove(&node)
                    .unwrap_or_default()
                {
                    self.queue.schedule(now, Event::Dial { client: c, node });
                }
            }
            (NodeFault::Crash, true) => {
                self.clients.waiting_handshakes.remove(&node);
                let ids: Vec<ClientId> = self.clients.map.keys().copied().collect();
                for c in ids {
                    self.with_client(c, |c, _, fx| c.member_crashed(node, fx));
                }
            }
            _ => {}
        }
    }
}
