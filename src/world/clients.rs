//! Clients in the loop: scenario commands (each an etcdctl process or a named session), the
//! client history every operation is recorded in, and the client side of the network (dialing,
//! requests, replies, deadlines).

use super::{Event, Sim};
use crate::client::command::Command;
use crate::client::{etcdctl, Client, ClientEffect, ClientMsg, HistoryOp, Outcome};
use crate::node::kv::KvOp;
use crate::node::rpc::{Reply, ReplyBody, ServerOp};
use crate::node::NodeStatus;
use crate::record::CommandRun;
use crate::sim::ids::{ClientId, LeaseId, NodeId, OpId};
use crate::sim::rng::{SimRng, Stream};
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::trace::TraceEvent;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The clients alive in the loop.
#[derive(Default)]
pub(super) struct Clients {
    pub map: BTreeMap<ClientId, Client>,
    /// Clients that go away once idle (one etcdctl process per command).
    ephemeral: BTreeSet<ClientId>,
    /// Long-lived sessions by name.
    sessions: BTreeMap<String, ClientId>,
    next: u64,
    /// Clients whose handshake waits for a paused member to resume.
    pub waiting_handshakes: BTreeMap<NodeId, Vec<ClientId>>,
    /// Long-lived commands by their command run, with the client each runs on.
    pub streams: BTreeMap<usize, (ClientId, crate::client::stream::Stream)>,
    /// What each request of a stream was for.
    pub stream_ops: BTreeMap<OpId, crate::client::stream::Purpose>,
    /// The stream a watching client belongs to.
    pub watch_of_client: BTreeMap<ClientId, usize>,
    /// When the last push on each watching client's stream arrives (a stream is ordered).
    pub watch_arrivals: BTreeMap<ClientId, SimTime>,
}

/// Every client operation, and who issued it.
pub(super) struct History {
    /// The operations in op order: every one, but when `keep_all` is off, an apiserver's
    /// finished read that no check reads leaves ([`History::forget_if_unread`]).
    pub ops: Vec<HistoryOp>,
    /// Keep every operation (the record is for views that show everything).
    pub keep_all: bool,
    /// The id the next operation gets.
    pub next_op: OpId,
    /// The command run that issued each command operation still in flight (an apiserver's
    /// operations are not here).
    pub op_run: BTreeMap<OpId, usize>,
    pub commands: Vec<CommandRun>,
    /// Per apiserver op: (apiserver, its token).
    pub op_owner: BTreeMap<OpId, (usize, u64)>,
    /// Finished operations checked online that leave `ops` at its next sweep.
    pub retired: std::collections::BTreeSet<OpId>,
}

impl History {
    /// An empty history; `keep_all` off leaves out apiserver reads no check reads.
    pub fn new(keep_all: bool) -> History {
        History {
            ops: Vec::new(),
            keep_all,
            next_op: OpId(0),
            op_run: BTreeMap::new(),
            commands: Vec::new(),
            op_owner: BTreeMap::new(),
            retired: std::collections::BTreeSet::new(),
        }
    }

    /// Finished operations the online linearizability check has checked and nothing else
    /// reads: they leave `ops` at the next sweep, 256 at a time (one pass over `ops`, instead
    /// of moving its tail for each), or at the end.
    pub fn retire(&mut self, ops: Vec<OpId>) {
        self.retired.extend(ops);
        if self.retired.len() >= 256 {
            self.drop_retired();
        }
    }

    /// Sweeps the retired operations out of `ops`.
    pub fn drop_retired(&mut self) {
        if !self.retired.is_empty() {
            let retired = std::mem::take(&mut self.retired);
            self.ops.retain(|h| !retired.contains(&h.op));
        }
    }

    /// Where `op` is in `ops` (an operation in flight is always there).
    fn place(&self, op: OpId) -> usize {
        // Operations in flight are the newest: search from the end.
        let from = self.ops.len().saturating_sub(64);
        match self.ops[from..].binary_search_by_key(&op, |h| h.op) {
            Ok(i) => from + i,
            Err(_) => self
                .ops
                .binary_search_by_key(&op, |h| h.op)
                .expect("an operation in flight or kept is in the history"),
        }
    }

    /// Operation `op`.
    pub fn op(&self, op: OpId) -> &HistoryOp {
        &self.ops[self.place(op)]
    }

    /// Operation `op`, to update.
    pub fn op_mut(&mut self, op: OpId) -> &mut HistoryOp {
        let i = self.place(op);
        &mut self.ops[i]
    }

    /// After an apiserver's operation finished and the apiserver heard of it: unless every
    /// operation is kept, leaves it out of the history when no check reads it, that is when it
    /// is a read that was serializable (stale reads are checked only on history files,
    /// `raftsim check-history`) or did not succeed (it tells the linearizability check
    /// nothing). Nothing else reads an apiserver's reads: views of commands read commands'
    /// operations, the Kubernetes views read the trace. Three in five operations of a
    /// Kubernetes run are such reads (a node's status and lease read from the watch cache).
    pub fn forget_if_unread(&mut self, op: OpId) {
        if self.keep_all {
            return;
        }
        // Not there: the online check has already dropped it.
        let Ok(i) = self.ops.binary_search_by_key(&op, |h| h.op) else {
            return;
        };
        let h = &self.ops[i];
        if matches!(h.kind, ServerOp::Get { serializable, .. } if serializable || h.outcome != Outcome::Ok)
        {
            self.ops.remove(i);
        }
    }
}

/// Who issues a new operation.
pub(super) enum Issuer {
    /// Scenario command `index`, in its run `run`.
    Command { index: usize, run: usize },
    /// An apiserver's own request.
    Apiserver,
}

impl Sim {
    pub(super) fn new_client(&mut self, endpoints: Vec<NodeId>, ephemeral: bool) -> ClientId {
        self.clients.next += 1;
        let id = ClientId(self.clients.next);
        let mut rng = SimRng::fork(self.seed, Stream::Client(id.0));
        let start = rng.between(0, endpoints.len() as u64 - 1) as usize;
        let mut fx = std::mem::take(&mut self.fx.client);
        let c = Client::new(id, endpoints, start, &mut fx);
        self.clients.map.insert(id, c);
        if ephemeral {
            self.clients.ephemeral.insert(id);
        }
        self.pump_client(id, &mut fx);
        self.fx.client = fx;
        id
    }

    pub(super) fn with_client(
        &mut self,
        id: ClientId,
        f: impl FnOnce(&mut Client, SimTime, &mut Vec<ClientEffect>),
    ) {
        let now = self.now();
        let Some(c) = self.clients.map.get_mut(&id) else {
            return;
        };
        let mut fx = std::mem::take(&mut self.fx.client);
        f(c, now, &mut fx);
        self.pump_client(id, &mut fx);
        self.fx.client = fx;
        let idle = self.clients.map.get(&id).is_some_and(|c| c.is_idle());
        if idle && self.clients.ephemeral.remove(&id) {
            self.clients.map.remove(&id);
        }
    }

    fn pump_client(&mut self, id: ClientId, fx: &mut Vec<ClientEffect>) {
        self.pump(id, fx, Sim::client_sends, |s, client, at, op| {
            s.queue.schedule(at, Event::ClientDeadline { client, op })
        });
    }

    fn client_sends(&mut self, client: ClientId, m: ClientMsg) {
        let now = self.now();
        match m {
            ClientMsg::Request { op, to, req } => {
                let request = req.request;
                self.trace.push(
                    now,
                    TraceEvent::RequestSent {
                        client,
                        op,
                        request,
                        to,
                    },
                );
                self.observer.request_sent(request, op, &req.op);
                self.history.op_mut(op).requests.push(request);
                let at = now + self.client_latency();
                self.queue.schedule(at, Event::ToServer { to, req });
            }
            ClientMsg::Dial { node } => {
                let rtt = self.client_latency() + self.client_latency();
                self.queue.schedule(now + rtt, Event::Dial { client, node });
            }
            ClientMsg::Done {
                op,
                outcome,
                reply,
                routed_to,
            } => self.op_done(client, op, outcome, reply, routed_to),
        }
    }

    pub(super) fn dial(&mut self, client: ClientId, node: NodeId) {
        if !self.clients.map.contains_key(&client) {
            return;
        }
        let now = self.now();
        match self.nodes[(node.0 - 1) as usize].status {
            NodeStatus::Running => {
                self.trace.push(now, TraceEvent::ConnReady { client, node });
                self.with_client(client, |c, now, fx| {
                    c.conn_ready(node, now, fx);
                });
            }
            NodeStatus::Paused => self
                .clients
                .waiting_handshakes
                .entry(node)
                .or_default()
                .push(client),
            NodeStatus::Crashed | NodeStatus::Spare | NodeStatus::Removed => {
                // Connection refused; gRPC re-dials after its backoff (about 1 s).
                let at = now + SimDuration::from_secs(1);
                self.queue.schedule(at, Event::Dial { client, node });
            }
        }
    }

    pub(super) fn reply_to_client(&mut self, reply: Box<Reply>) {
        let (client, request) = (reply.client, reply.request);
        let mut handled = false;
        self.with_client(client, |c, now, fx| handled = c.on_reply(*reply, now, fx));
        if !handled {
            let now = self.now();
            self.trace
                .push(now, TraceEvent::LateReply { client, request });
        }
    }

    pub(super) fn start_command(&mut self, i: usize) {
        if let Some(next) = self.scenario.commands.get(i + 1) {
            self.queue.schedule(next.at, Event::CommandStart(i + 1));
        }
        let now = self.now();
        self.trace
            .push(now, TraceEvent::CommandStarted { command: i });
        let spec = &self.scenario.commands[i];
        if spec.command.is_stream() {
            return self.start_stream(i, now);
        }
        let plan = plan(&spec.command, spec.id.as_deref(), &spec.endpoints);
        let deadline = now + spec.timeout;
        let actor: Arc<str> = spec.session.as_deref().unwrap_or("etcdctl").into();
        // Only what the loop below needs while it changes the world: a repeated command's text
        // and expectations are not copied at every repetition.
        let (session, endpoints) = (spec.session.clone(), spec.endpoints.clone());
        self.history.commands.push(CommandRun {
            index: i,
            ops: vec![],
            remaining: plan.len(),
            started: now,
            finished: None,
            output: vec![],
        });
        let run = self.history.commands.len() - 1;
        for (single, kind) in plan {
            let client = match single {
                Some(n) => self.new_client(vec![n], true),
                None => self.command_client(&session, &endpoints),
            };
            let op = self.new_op(
                client,
                Issuer::Command { index: i, run },
                Arc::clone(&actor),
                &kind,
            );
            self.history.commands[run].ops.push(op);
            self.with_client(client, |c, now, fx| c.start(op, kind, deadline, now, fx));
        }
    }

    /// The client a command without a fixed endpoint runs on: its session, or a new etcdctl.
    pub(super) fn command_client(
        &mut self,
        session: &Option<String>,
        endpoints: &[NodeId],
    ) -> ClientId {
        let Some(s) = session else {
            return self.new_client(endpoints.to_vec(), true);
        };
        if let Some(c) = self.clients.sessions.get(s) {
            return *c;
        }
        let c = self.new_client(endpoints.to_vec(), false);
        self.clients.sessions.insert(s.clone(), c);
        c
    }

    /// Records a new pending operation in the history.
    pub(super) fn new_op(
        &mut self,
        client: ClientId,
        issuer: Issuer,
        actor: Arc<str>,
        kind: &ServerOp,
    ) -> OpId {
        let op = self.history.next_op;
        self.history.next_op = OpId(op.0 + 1);
        let (command, run) = match issuer {
            Issuer::Command { index, run } => (Some(index), Some(run)),
            Issuer::Apiserver => (None, None),
        };
        let h = HistoryOp {
            op,
            client,
            command,
            actor,
            kind: kind.clone(),
            endpoints: self.clients.map[&client].shared_endpoints(),
            invoked: self.now(),
            completed: None,
            outcome: Outcome::Pending,
            routed_to: Default::default(),
            requests: Default::default(),
            reply: None,
        };
        let checked = self.observer.op_invoked(&h, &self.history.ops);
        crate::sim::push_gently(&mut self.history.ops, h);
        self.history.retire(checked);
        if let Some(run) = run {
            self.history.op_run.insert(op, run);
        }
        op
    }

    fn op_done(
        &mut self,
        client: ClientId,
        op: OpId,
        outcome: Outcome,
        reply: Option<ReplyBody>,
        routed_to: crate::client::Few<NodeId>,
    ) {
        let now = self.now();
        let completed = TraceEvent::OpCompleted {
            client,
            op,
            outcome: outcome.clone(),
        };
        self.trace.push(now, completed);
        let h = self.history.op_mut(op);
        h.completed = Some(now);
        h.outcome = outcome;
        h.reply = reply;
        h.routed_to = routed_to;
        self.observer.op_finished(h);
        match self.history.op_run.remove(&op) {
            Some(run) if self.clients.streams.contains_key(&run) => self.stream_op_done(run, op),
            Some(run) => self.command_op_done(run),
            None => self.apiserver_op_done(op),
        }
    }

    fn command_op_done(&mut self, run: usize) {
        let now = self.now();
        let cr = &mut self.history.commands[run];
        cr.remaining -= 1;
        if cr.remaining > 0 {
            return;
        }
        let spec = &self.scenario.commands[cr.index];
        let cr = &self.history.commands[run];
        let ops: Vec<&HistoryOp> = cr.ops.iter().map(|&o| self.history.op(o)).collect();
        let lines = etcdctl::render(&spec.command, &ops);
        let took_us = now.since(cr.started).as_micros();
        let command = cr.index;
        let output = TraceEvent::CommandOutput {
            command,
            lines: lines.clone(),
            took_us,
        };
        self.trace.push(now, output);
        let cr = &mut self.history.commands[run];
        cr.finished = Some(now);
        cr.output = lines;
    }
}

/// The operations a command issues: one on the client's own endpoints (`None`), or one per
/// endpoint on a dedicated connection (`endpoint` commands).
fn plan(
    command: &Command,
    id: Option<&str>,
    endpoints: &[NodeId],
) -> Vec<(Option<NodeId>, ServerOp)> {
    match command {
        Command::Kv { op } => vec![(None, op.clone())],
        Command::LeaseGrant { ttl_s } => {
            let name = id.expect("the validator requires an id on `lease grant`");
            let op = KvOp::LeaseGrant {
                id: LeaseId::named(name),
                ttl_s: *ttl_s,
            };
            vec![(None, ServerOp::write(op))]
        }
        Command::LeaseKeepAlive { lease, .. } => {
            let op = ServerOp::LeaseKeepAlive {
                id: LeaseId::named(lease),
            };
            vec![(None, op)]
        }
        Command::Member { change } => vec![(None, ServerOp::Member { change: *change })],
        Command::Watch { .. } | Command::Lock { .. } => vec![], // streams (`streams.rs`)
        Command::EndpointStatus => endpoints
            .iter()
            .map(|n| (Some(*n), ServerOp::Status))
            .collect(),
        Command::EndpointHealth => endpoints
            .iter()
            .map(|n| {
                let get = ServerOp::Get {
                    key: "health".into(),
                    serializable: false,
                };
                (Some(*n), get)
            })
            .collect(),
    }
}
