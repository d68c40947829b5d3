//! Simulated etcd clients (etcdctl and long-lived sessions) and the history they record.
//!
//! Models etcd clientv3 (3.4/3.5) as measured in `docs/reference/etcd-observed.md`:
//! - each endpoint has a connection that becomes *ready* only when the member completes the
//!   HTTP/2 handshake: a running member does (even with a stalled disk), a paused member never
//!   does until it resumes, a crashed one refuses and is re-dialled every second;
//! - requests round-robin over ready connections; with none ready a request waits (gRPC
//!   wait-for-ready) until one is or the command deadline passes;
//! - reads (Range) that fail with `Unavailable` (including etcd's "request timed out") are retried
//!   on the next ready endpoint; writes (Put, Txn, Delete) that reached a member are never
//!   retried (at-most-once);
//! - the command deadline (etcdctl `--command-timeout`, 5 s) travels with the request: a member
//!   that reads it too late drops it, and the client reports `context deadline exceeded`.
//!
//! Every operation is recorded in the history with its invoke and completion times; a write that
//! timed out has an unknown outcome, never "failed".

pub mod command;
pub mod etcdctl;
pub mod stream;

use crate::node::rpc::{Reply, ReplyBody, ServerError, ServerOp, ServerRequest};
use crate::sim::actor::Effect;
use crate::sim::ids::{ClientId, NodeId, OpId, RequestId};
use crate::sim::time::SimTime;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

pub use crate::sim::trace::Outcome;

/// One operation in the client history.
#[derive(Clone, Debug, Serialize)]
pub struct HistoryOp {
    /// The history operation.
    pub op: OpId,
    /// The client.
    pub client: ClientId,
    /// Index of the scenario command that issued it (`None`: an apiserver's own request).
    pub command: Option<usize>,
    /// Who issued it: `etcdctl`, a session name, or `apiserver-N` (shared by its operations).
    pub actor: Arc<str>,
    /// What it asked the server.
    pub kind: ServerOp,
    /// The endpoints the issuing client was given (shared with the client).
    pub endpoints: Arc<[NodeId]>,
    /// When it was invoked.
    pub invoked: SimTime,
    /// When it completed (`None`: pending at the end).
    pub completed: Option<SimTime>,
    /// How it ended.
    pub outcome: Outcome,
    /// Members the request was sent to, in order (reads may be retried elsewhere).
    pub routed_to: Few<NodeId>,
    /// The requests it sent, in order (the trace's `request-sent` records say the same; kept
    /// here so checks need not keep those records). Not in the history's JSON.
    #[serde(skip)]
    pub requests: Few<RequestId>,
    /// The server's answer, if ok.
    pub reply: Option<ReplyBody>,
}

/// The operation `op` of a history held in op order. A lean run's record leaves out the
/// operations no check reads ([`crate::RunOptions::full_trace`]), so an operation's place in
/// it is not its id: this is a binary search.
pub fn find_op(history: &[HistoryOp], op: OpId) -> Option<&HistoryOp> {
    let i = history.binary_search_by_key(&op, |h| h.op).ok()?;
    Some(&history[i])
}

/// The members or requests of one operation: nearly always one, so held inline (a long run
/// keeps hundreds of thousands of operations; two small allocations each were a third of what
/// a history operation cost beyond its own size).
pub type Few<T> = smallvec::SmallVec<[T; 2]>;

/// Client-side settings.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct ClientConfig {
    /// etcdctl --command-timeout (5 s): the deadline of each command.
    pub command_timeout: crate::sim::time::SimDuration,
    /// etcdctl --dial-timeout (2 s).
    pub dial_timeout: crate::sim::time::SimDuration,
}

/// What a client sends: a request to a member, a connection attempt, or the completion of an
/// operation to whoever issued it.
#[derive(Debug)]
pub enum ClientMsg {
    /// A request to member `to` for history operation `op`.
    Request {
        /// The operation.
        op: OpId,
        /// The member.
        to: NodeId,
        /// The request.
        req: ServerRequest,
    },
    /// Dial member `node` (the handshake completes if and when the member answers).
    Dial {
        /// The member.
        node: NodeId,
    },
    /// Operation `op` completed, as the client saw it.
    Done {
        /// The operation.
        op: OpId,
        /// How it ended.
        outcome: Outcome,
        /// The server's answer, if it was ok.
        reply: Option<ReplyBody>,
        /// Members the request went to, in order.
        routed_to: Few<NodeId>,
    },
}

/// A client's effect: the one effect type, with the operation whose deadline a timer marks.
pub type ClientEffect = Effect<ClientMsg, OpId>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Conn {
    Connecting,
    Ready,
}

struct InFlight {
    kind: ServerOp,
    deadline: SimTime,
    attempt: Option<RequestId>,
    routed_to: Few<NodeId>,
}

/// One etcd client process (an etcdctl run or a long-lived session).
pub struct Client {
    /// Its id.
    pub id: ClientId,
    endpoints: Arc<[NodeId]>,
    conns: Vec<Conn>,
    rr_next: usize,
    next_seq: u64,
    ops: BTreeMap<OpId, InFlight>,
    /// Ops waiting for a ready connection, in arrival order.
    waiting: Vec<OpId>,
}

impl Client {
    /// A new client process: dials every endpoint. `rr_start` is the round-robin starting
    /// point (gRPC picks it at random; the world draws it from the client's RNG stream).
    pub fn new(
        id: ClientId,
        endpoints: Vec<NodeId>,
        rr_start: usize,
        fx: &mut Vec<ClientEffect>,
    ) -> Client {
        for n in &endpoints {
            fx.push(Effect::Send(ClientMsg::Dial { node: *n }));
        }
        let n = endpoints.len();
        Client {
            id,
            conns: vec![Conn::Connecting; n],
            endpoints: endpoints.into(),
            rr_next: rr_start % n.max(1),
            next_seq: 0,
            ops: BTreeMap::new(),
            waiting: Vec::new(),
        }
    }

    /// The endpoints it was given.
    pub fn endpoints(&self) -> &[NodeId] {
        &self.endpoints
    }

    /// The endpoints it was given, shared (each history operation records them).
    pub fn shared_endpoints(&self) -> Arc<[NodeId]> {
        Arc::clone(&self.endpoints)
    }

    /// Whether no operation is in flight.
    pub fn is_idle(&self) -> bool {
        self.ops.is_empty()
    }

    /// Starts operation `op` with its deadline; it waits for a ready connection if none is.
    pub fn start(
        &mut self,
        op: OpId,
        kind: ServerOp,
        deadline: SimTime,
        now: SimTime,
        fx: &mut Vec<ClientEffect>,
    ) {
        self.ops.insert(
            op,
            InFlight {
                kind,
                deadline,
                attempt: None,
                routed_to: Few::new(),
            },
        );
        fx.push(Effect::Timer(deadline, op));
        self.dispatch(op, now, fx);
    }

    fn pick(&mut self) -> Option<NodeId> {
        let n = self.endpoints.len();
        (0..n)
            .map(|i| (self.rr_next + i) % n)
            .find(|&i| self.conns[i] == Conn::Ready)
            .map(|i| {
                self.rr_next = (i + 1) % n;
                self.endpoints[i]
            })
    }

    fn dispatch(&mut self, op: OpId, _now: SimTime, fx: &mut Vec<ClientEffect>) {
        let Some(to) = self.pick() else {
            self.waiting.push(op);
            return;
        };
        self.next_seq += 1;
        let request = RequestId((self.id.0 << 32) | self.next_seq);
        let f = self.ops.get_mut(&op).expect("dispatching a live op");
        f.attempt = Some(request);
        f.routed_to.push(to);
        fx.push(Effect::Send(ClientMsg::Request {
            op,
            to,
            req: ServerRequest {
                client: self.id,
                request,
                op: f.kind.clone(),
                deadline: f.deadline,
            },
        }));
    }

    /// The handshake with `node` completed.
    pub fn conn_ready(&mut self, node: NodeId, now: SimTime, fx: &mut Vec<ClientEffect>) -> bool {
        let Some(i) = self.endpoints.iter().position(|n| *n == node) else {
            return false;
        };
        if self.conns[i] == Conn::Ready {
            return false;
        }
        self.conns[i] = Conn::Ready;
        for op in std::mem::take(&mut self.waiting) {
            self.dispatch(op, now, fx);
        }
        true
    }

    /// A member answered; returns false for a reply that arrived after the operation completed.
    pub fn on_reply(&mut self, r: Reply, now: SimTime, fx: &mut Vec<ClientEffect>) -> bool {
        let Some((&op, _)) = self.ops.iter().find(|(_, f)| f.attempt == Some(r.request)) else {
            return false; // late: the op already completed (deadline)
        };
        match r.result {
            Ok(body) => self.finish(op, Outcome::Ok, Some(body), fx),
            Err(e) => {
                if e == ServerError::Unavailable {
                    self.conn_broken(r.from, fx);
                }
                let f = &self.ops[&op];
                let read = matches!(f.kind, ServerOp::Get { .. } | ServerOp::MachineQuery { .. });
                let retry = read && now < f.deadline;
                if retry {
                    self.dispatch(op, now, fx);
                } else {
                    self.finish(op, Outcome::Failed(e.message().to_string()), None, fx);
                }
            }
        }
        true
    }

    fn conn_broken(&mut self, node: NodeId, fx: &mut Vec<ClientEffect>) {
        if let Some(i) = self.endpoints.iter().position(|n| *n == node) {
            if self.conns[i] == Conn::Ready {
                self.conns[i] = Conn::Connecting;
                fx.push(Effect::Send(ClientMsg::Dial { node }));
            }
        }
    }

    /// The member crashed: its connection is gone; the client re-dials.
    pub fn member_crashed(&mut self, node: NodeId, fx: &mut Vec<ClientEffect>) {
        self.conn_broken(node, fx);
    }

    /// The operation's deadline passed: it completes as timed out (a write's outcome is unknown).
    pub fn on_deadline(&mut self, op: OpId, fx: &mut Vec<ClientEffect>) {
        if self.ops.contains_key(&op) {
            self.waiting.retain(|o| *o != op);
            self.finish(op, Outcome::Timeout, None, fx);
        }
    }

    fn finish(
        &mut self,
        op: OpId,
        outcome: Outcome,
        reply: Option<ReplyBody>,
        fx: &mut Vec<ClientEffect>,
    ) {
        let f = self.ops.remove(&op).expect("finishing a live op");
        fx.push(Effect::Send(ClientMsg::Done {
            op,
            outcome,
            reply,
            routed_to: f.routed_to,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A long run keeps every operation (254,000 in ten simulated hours of the default
    /// scenario): a field that makes them larger shows here, not only in the bench's peak.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn history_operations_stay_small() {
        use std::mem::size_of;
        assert!(size_of::<HistoryOp>() <= 304, "{}", size_of::<HistoryOp>());
        assert!(size_of::<ServerOp>() <= 40, "{}", size_of::<ServerOp>());
        assert!(size_of::<crate::node::kv::KeyValue>() <= 72);
    }
    use crate::node::kv::KvOp;

    fn put() -> ServerOp {
        ServerOp::write(KvOp::put("k", "v"))
    }

    fn sends(fx: &[ClientEffect]) -> Vec<NodeId> {
        fx.iter()
            .filter_map(|e| match e {
                Effect::Send(ClientMsg::Request { to, .. }) => Some(*to),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn round_robin_skips_unready_and_waits_when_none() {
        let mut fx = vec![];
        let mut c = Client::new(
            ClientId(1),
            vec![NodeId(1), NodeId(2), NodeId(3)],
            0,
            &mut fx,
        );
        fx.clear();
        c.start(OpId(1), put(), SimTime(5_000_000), SimTime(0), &mut fx);
        assert!(sends(&fx).is_empty(), "no connection ready yet");
        c.conn_ready(NodeId(2), SimTime(1), &mut fx);
        c.conn_ready(NodeId(3), SimTime(1), &mut fx);
        assert_eq!(sends(&fx), vec![NodeId(2)]);
        fx.clear();
        for i in 2..6 {
            c.start(OpId(i), put(), SimTime(5_000_000), SimTime(2), &mut fx);
        }
        assert_eq!(sends(&fx), vec![NodeId(3), NodeId(2), NodeId(3), NodeId(2)]);
    }

    #[test]
    fn deadline_completes_with_timeout_and_late_reply_is_ignored() {
        let mut fx = vec![];
        let mut c = Client::new(ClientId(1), vec![NodeId(1)], 0, &mut fx);
        c.conn_ready(NodeId(1), SimTime(0), &mut fx);
        fx.clear();
        c.start(OpId(1), put(), SimTime(5), SimTime(0), &mut fx);
        let req = match &fx[1] {
            Effect::Send(ClientMsg::Request { req, .. }) => req.request,
            e => panic!("{e:?}"),
        };
        fx.clear();
        c.on_deadline(OpId(1), &mut fx);
        assert!(matches!(
            &fx[0],
            Effect::Send(ClientMsg::Done {
                outcome: Outcome::Timeout,
                ..
            })
        ));
        let late = Reply {
            client: ClientId(1),
            request: req,
            from: NodeId(1),
            result: Err(ServerError::RequestTimedOut),
        };
        assert!(!c.on_reply(late, SimTime(6), &mut fx));
    }

    #[test]
    fn reads_retry_elsewhere_writes_do_not() {
        let mut fx = vec![];
        let mut c = Client::new(ClientId(1), vec![NodeId(1), NodeId(2)], 0, &mut fx);
        c.conn_ready(NodeId(1), SimTime(0), &mut fx);
        c.conn_ready(NodeId(2), SimTime(0), &mut fx);
        fx.clear();
        let get = ServerOp::Get {
            key: "k".into(),
            serializable: false,
        };
        c.start(OpId(1), get, SimTime(100), SimTime(0), &mut fx);
        c.start(OpId(2), put(), SimTime(100), SimTime(0), &mut fx);
        let reqs: Vec<RequestId> = fx
            .iter()
            .filter_map(|e| match e {
                Effect::Send(ClientMsg::Request { req, .. }) => Some(req.request),
                _ => None,
            })
            .collect();
        fx.clear();
        for (i, r) in reqs.iter().enumerate() {
            let from = NodeId(1 + i as u64);
            c.on_reply(
                Reply {
                    client: ClientId(1),
                    request: *r,
                    from,
                    result: Err(ServerError::RequestTimedOut),
                },
                SimTime(1),
                &mut fx,
            );
        }
        assert_eq!(
            sends(&fx),
            vec![NodeId(1)],
            "the read was retried, on the next endpoint"
        );
        assert!(fx.iter().any(|e| matches!(
            e,
            Effect::Send(ClientMsg::Done {
                op: OpId(2),
                outcome: Outcome::Failed(_),
                ..
            })
        )));
    }
}
