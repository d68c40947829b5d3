//! The event loop: one owner of time that routes each event to its component and turns the
//! effects components return into new events.
//!
//! Contract: single-threaded; every event is handled at its simulated time, in (time, sequence)
//! order; components never see the wall clock or OS randomness. Everything observable is
//! recorded in the trace.

use super::ids::{ClientId, NodeId, OpId, RequestId};
use super::log::LogClock;
use super::queue::EventQueue;
use super::rng::{SimRng, Stream};
use super::time::{SimDuration, SimTime};
use super::trace::Role;
use super::trace::{msg_kind, DropReason, Trace, TraceEvent};
use crate::check::safety::SafetyOracle;
use crate::client::command::Command;
use crate::client::{Client, ClientEffect, HistoryOp, Outcome};
use crate::disk::Disk;
use crate::k8s::actors::{Cx as K8sCx, K8sEvent, K8sOut};
use crate::k8s::{EtcdServers, K8s, K8sSpec};
use crate::net::{Network, Route};
use crate::node::kv::KvResult;
use crate::node::rpc::{Reply, ReplyBody, ServerOp, ServerRequest};
use crate::node::{Bug, Effect, Node, NodeConfig, NodeStatus, NodeTimer, Out, ReadOnly};
use crate::report;
use crate::scenario::{FaultKind, Scenario, Target};
use raft::eraftpb::{Message, MessageType};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug)]
enum Event {
    Tick(NodeId),
    Campaign(NodeId),
    Deliver { msg: Message },
    Timer(NodeId, NodeTimer),
    ToServer { to: NodeId, req: ServerRequest },
    ToClient { reply: Reply },
    Dial { client: ClientId, node: NodeId },
    ClientDeadline { client: ClientId, op: OpId },
    CommandStart(usize),
    FaultStart(usize),
    FaultEnd(usize),
    Probe,
    ClusterProbe,
    K8s(K8sEvent),
}

/// Every member's raft progress at one instant (taken where an expectation needs it).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Probe {
    pub at: SimTime,
    pub applied: Vec<u64>,
    pub committed: Vec<u64>,
    /// Each member's role and term as it believes them (`None`: crashed).
    pub roles: Vec<Option<(Role, u64)>>,
}

impl Probe {
    /// The member that leads with the highest term, if any (a stale leader does not count).
    pub fn leader(&self) -> Option<NodeId> {
        let top = self.roles.iter().flatten().map(|(_, t)| *t).max()?;
        self.roles
            .iter()
            .position(|r| matches!(r, Some((Role::Leader, t)) if *t == top))
            .map(|i| NodeId(i as u64 + 1))
    }
}

/// Progress of one scenario command.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CommandRun {
    pub index: usize,
    pub ops: Vec<OpId>,
    pub remaining: usize,
    pub started: SimTime,
    pub finished: Option<SimTime>,
    pub output: Vec<String>,
}

pub struct Sim {
    pub scenario: Scenario,
    pub seed: u64,
    queue: EventQueue<Event>,
    pub trace: Trace,
    pub nodes: Vec<Node>,
    net: Network,
    client_net: SimRng,
    tick_interval: SimDuration,
    clients: BTreeMap<ClientId, Client>,
    ephemeral: BTreeSet<ClientId>,
    sessions: BTreeMap<String, ClientId>,
    next_client: u64,
    pub history: Vec<HistoryOp>,
    op_command: Vec<Option<usize>>,
    pub commands: Vec<CommandRun>,
    waiting_handshakes: BTreeMap<NodeId, Vec<ClientId>>,
    log_clock: LogClock,
    fx: Vec<Effect>,
    cfx: Vec<ClientEffect>,
    pub events_handled: u64,
    request_op: BTreeMap<RequestId, OpId>,
    first_applied: BTreeMap<OpId, (u64, SimTime)>,
    scanned: usize,
    pub probes: Vec<Probe>,
    fault_nodes: BTreeMap<usize, NodeId>,
    /// Every second: each member's progress and role (the availability oracle's input).
    pub cluster_probes: Vec<Probe>,
    pub k8s: Option<K8s>,
    /// Per apiserver: its etcd client and its watch-cache client.
    api_clients: Vec<(ClientId, ClientId)>,
    op_owner: BTreeMap<OpId, (usize, u64)>,
    kfx: Vec<K8sOut>,
    safety: SafetyOracle,
    bug: Option<Bug>,
}

impl Sim {
    pub fn new(
        scenario: Scenario,
        seed: u64,
        log_level: Option<slog::Level>,
        bug: Option<Bug>,
    ) -> Sim {
        let c = &scenario.cluster;
        let lease_drift = bug == Some(Bug::LeaseReadDrift);
        let tick_interval = c.heartbeat_interval;
        let election_ticks = (c.election_timeout.as_micros() / tick_interval.as_micros()) as usize;
        let cfg = NodeConfig {
            persist: c.persist,
            heartbeat_ticks: 1,
            election_ticks,
            pre_vote: c.pre_vote,
            check_quorum: c.check_quorum || lease_drift,
            read_only: if lease_drift {
                ReadOnly::LeaseBased
            } else {
                c.read_only
            },
            server_request_timeout: c.request_timeout,
            read_index_retry: SimDuration::from_millis(500),
            inbox_limit: 10_000,
            bug,
        };
        let log_clock = LogClock::default();
        let root = super::log::logger(&log_clock, log_level);
        let ids = scenario.node_ids();
        let voters: Vec<u64> = ids.iter().map(|n| n.0).collect();
        let mut nodes = Vec::new();
        for id in &ids {
            let jitter = SimRng::fork(seed, Stream::ElectionJitter(id.0));
            let disk = Disk::new(
                scenario.disk,
                SimRng::fork(seed, Stream::Disk(id.0)),
                Default::default(),
            );
            let logger = root.new(slog::o!("node" => id.0));
            nodes.push(Node::new(
                *id,
                cfg.clone(),
                voters.clone(),
                disk,
                jitter,
                logger,
            ));
        }
        let overrides = scenario.network.links.iter().cloned().collect();
        let net = Network::new(
            scenario.network.link,
            overrides,
            SimRng::fork(seed, Stream::Network),
        );
        let mut sim = Sim {
            seed,
            queue: EventQueue::default(),
            trace: Trace::default(),
            nodes,
            net,
            client_net: SimRng::fork(seed, Stream::ClientNetwork),
            tick_interval,
            clients: BTreeMap::new(),
            ephemeral: BTreeSet::new(),
            sessions: BTreeMap::new(),
            next_client: 0,
            history: Vec::new(),
            op_command: Vec::new(),
            commands: Vec::new(),
            waiting_handshakes: BTreeMap::new(),
            log_clock,
            fx: Vec::new(),
            cfx: Vec::new(),
            events_handled: 0,
            request_op: BTreeMap::new(),
            first_applied: BTreeMap::new(),
            scanned: 0,
            probes: Vec::new(),
            fault_nodes: BTreeMap::new(),
            cluster_probes: Vec::new(),
            k8s: None,
            api_clients: Vec::new(),
            op_owner: BTreeMap::new(),
            kfx: Vec::new(),
            safety: SafetyOracle::default(),
            bug,
            scenario,
        };
        sim.schedule_start();
        sim
    }

    fn schedule_start(&mut self) {
        let mut phase = SimRng::fork(self.seed, Stream::TickPhase);
        for i in 0..self.nodes.len() {
            let offset = phase.between(1, self.tick_interval.as_micros());
            self.queue
                .schedule(SimTime(offset), Event::Tick(NodeId(i as u64 + 1)));
        }
        if let Some(l) = self.scenario.cluster.initial_leader {
            self.queue.schedule(SimTime::ZERO, Event::Campaign(l));
        }
        for (i, f) in self.scenario.faults.iter().enumerate() {
            self.queue.schedule(f.at, Event::FaultStart(i));
            if let Some(u) = f.until {
                self.queue.schedule(u, Event::FaultEnd(i));
            }
        }
        // Commands are sorted by time; each schedules the next when it starts, which keeps
        // the queue small for scenarios with many commands.
        if let Some(c) = self.scenario.commands.first() {
            self.queue.schedule(c.at, Event::CommandStart(0));
        }
        for t in self.scenario.expects.iter().filter_map(|e| e.probe_time()) {
            self.queue.schedule(t, Event::Probe);
        }
        self.queue.schedule(SimTime::ZERO, Event::ClusterProbe);
        if let Some(spec) = self.scenario.kubernetes.clone() {
            self.start_kubernetes(spec);
        }
    }

    pub fn now(&self) -> SimTime {
        self.queue.now()
    }

    /// Runs until the scenario's duration has elapsed.
    pub fn run_to_end(&mut self) {
        let end = SimTime::ZERO + self.scenario.duration;
        self.run_until(end);
    }

    pub fn run_until(&mut self, limit: SimTime) {
        while let Some((at, ev)) = self.queue.pop_until(limit) {
            self.log_clock.set(at.as_micros());
            self.events_handled += 1;
            self.handle(ev);
        }
    }

    fn node_mut(&mut self, id: NodeId) -> &mut Node {
        &mut self.nodes[(id.0 - 1) as usize]
    }

    /// Calls `f` on a node with an `Out`, then routes the effects it produced.
    fn with_node(&mut self, id: NodeId, f: impl FnOnce(&mut Node, &mut Out)) {
        let now = self.queue.now();
        let mut fx = std::mem::take(&mut self.fx);
        {
            let node = &mut self.nodes[(id.0 - 1) as usize];
            let mut out = Out {
                now,
                trace: &mut self.trace,
                effects: &mut fx,
            };
            f(node, &mut out);
        }
        for e in fx.drain(..) {
            self.node_effect(id, e);
        }
        self.fx = fx;
        let now = self.now();
        for (nodes, detail) in self.safety.observe(&self.nodes) {
            self.trace.push(
                now,
                TraceEvent::Violation {
                    oracle: "raft-safety".into(),
                    nodes,
                    detail,
                },
            );
        }
        self.scan_applied();
    }

    /// Notes the first time each client write took effect anywhere, and reports writes whose
    /// client had already been told they timed out or failed.
    fn scan_applied(&mut self) {
        while self.scanned < self.trace.records.len() {
            let rec = &self.trace.records[self.scanned];
            self.scanned += 1;
            let TraceEvent::Applied {
                node,
                index,
                term,
                request,
                effective,
            } = rec.event
            else {
                continue;
            };
            let at = rec.at;
            if let Some((nodes, detail)) = self.safety.applied(node, index, term) {
                let oracle = "raft-safety".into();
                self.trace.push(
                    at,
                    TraceEvent::Violation {
                        oracle,
                        nodes,
                        detail,
                    },
                );
                continue;
            }
            let Some(req) = request else { continue };
            let Some(&op) = self.request_op.get(&req) else {
                continue;
            };
            if self.first_applied.contains_key(&op) {
                continue;
            }
            self.first_applied.insert(op, (index, at));
            let h = &self.history[op.0 as usize];
            let ServerOp::Write { op: kv } = &h.kind else {
                continue;
            };
            if !effective || matches!(h.outcome, Outcome::Pending | Outcome::Ok) {
                continue;
            }
            let key = kv.key().to_string();
            let invoked = h.invoked;
            // "Later": acknowledged after the failed write was issued, and applied before it.
            let overwrote = self.history.iter().any(|o| {
                matches!(&o.kind, ServerOp::Write { op } if op.key() == key)
                    && o.outcome == Outcome::Ok
                    && !matches!(
                        &o.reply,
                        Some(ReplyBody::Kv {
                            result: KvResult::Txn {
                                succeeded: false,
                                ..
                            },
                            ..
                        })
                    )
                    && o.completed.is_some_and(|c| c > invoked && c <= at)
                    && self
                        .first_applied
                        .get(&o.op)
                        .is_some_and(|(i, _)| *i < index)
            });
            let ev = TraceEvent::TimedOutWriteApplied {
                op,
                node,
                key,
                value: kv.written_value().unwrap_or("").to_string(),
                overwrote_acknowledged: overwrote,
            };
            self.trace.push(at, ev);
        }
    }

    /// When each client write first took effect (log index, time), by op.
    pub fn first_applied(&self) -> &BTreeMap<OpId, (u64, SimTime)> {
        &self.first_applied
    }

    fn handle(&mut self, ev: Event) {
        match ev {
            Event::Tick(id) => {
                // The lease-read-drift bug: a leader's clock (its tick rate) runs at a fifth of the
                // others', so it keeps trusting its lease after the others moved on.
                let slow = self.bug == Some(Bug::LeaseReadDrift)
                    && self.nodes[(id.0 - 1) as usize].role() == Some(Role::Leader);
                let drift = if slow { 5 } else { 1 };
                let at = self.now() + self.tick_interval * drift;
                self.queue.schedule(at, Event::Tick(id));
                self.with_node(id, |n, o| n.tick(o));
            }
            Event::Campaign(id) => self.with_node(id, |n, o| n.campaign(o)),
            Event::Deliver { msg } => self.deliver(msg),
            Event::Timer(id, t) => self.with_node(id, |n, o| n.timer(t, o)),
            Event::ToServer { to, req } => self.with_node(to, |n, o| n.request(req, o)),
            Event::ToClient { reply } => self.reply_to_client(reply),
            Event::Dial { client, node } => self.dial(client, node),
            Event::ClientDeadline { client, op } => {
                self.with_client(client, |c, _, fx| c.on_deadline(op, fx))
            }
            Event::CommandStart(i) => self.start_command(i),
            Event::FaultStart(i) => self.fault(i, true),
            Event::FaultEnd(i) => self.fault(i, false),
            Event::Probe => {
                let p = self.probe();
                self.probes.push(p);
            }
            Event::ClusterProbe => {
                let p = self.probe();
                self.cluster_probes.push(p);
                let next = self.now() + SimDuration::from_secs(1);
                self.queue.schedule(next, Event::ClusterProbe);
            }
            Event::K8s(e) => self.k8s_handle(e),
        }
    }

    fn node_effect(&mut self, from: NodeId, e: Effect) {
        let now = self.now();
        match e {
            Effect::Send(m) => self.send(m),
            Effect::Reply(r) => {
                let at = now + self.client_latency();
                self.queue.schedule(at, Event::ToClient { reply: r });
            }
            Effect::Timer(at, t) => self.queue.schedule(at, Event::Timer(from, t)),
        }
    }

    fn send(&mut self, m: Message) {
        let now = self.now();
        // Pre-vote messages carry the term a pre-candidate would take, not one it holds.
        if !matches!(
            m.get_msg_type(),
            MessageType::MsgRequestPreVote | MessageType::MsgRequestPreVoteResponse
        ) {
            self.safety.sent(NodeId(m.from), m.term);
        }
        let (from, to, kind) = (NodeId(m.from), NodeId(m.to), msg_kind(m.get_msg_type()));
        match self.net.route(from, to) {
            Route::Deliver(delays) => {
                self.trace.push(
                    now,
                    TraceEvent::MsgSent {
                        from,
                        to,
                        kind,
                        term: m.term,
                        index: m.index,
                        latency_us: delays[0].as_micros(),
                        duplicate_latency_us: delays.get(1).map(|d| d.as_micros()),
                    },
                );
                if let Some(d) = delays.get(1) {
                    self.queue
                        .schedule(now + *d, Event::Deliver { msg: m.clone() });
                }
                self.queue
                    .schedule(now + delays[0], Event::Deliver { msg: m });
            }
            Route::Lost => self.trace.push(
                now,
                TraceEvent::MsgDropped {
                    from,
                    to,
                    kind,
                    reason: DropReason::Lost,
                },
            ),
            Route::Partitioned => self.trace.push(
                now,
                TraceEvent::MsgDropped {
                    from,
                    to,
                    kind,
                    reason: DropReason::Partitioned,
                },
            ),
        }
    }

    fn deliver(&mut self, msg: Message) {
        let (from, to, kind) = (
            NodeId(msg.from),
            NodeId(msg.to),
            msg_kind(msg.get_msg_type()),
        );
        let now = self.now();
        if self.net.is_cut(from, to) {
            self.trace.push(
                now,
                TraceEvent::MsgDropped {
                    from,
                    to,
                    kind,
                    reason: DropReason::Partitioned,
                },
            );
            return;
        }

        self.with_node(to, |n, o| n.receive(msg, o));
    }

    fn client_latency(&mut self) -> SimDuration {
        let n = &self.scenario.network;
        SimDuration::from_micros(self.client_net.between(
            n.client_latency_min.as_micros(),
            n.client_latency_max.as_micros(),
        ))
    }

    // ------------------------------------------------------------------ clients

    fn new_client(&mut self, endpoints: Vec<NodeId>, ephemeral: bool) -> ClientId {
        self.next_client += 1;
        let id = ClientId(self.next_client);
        let mut rng = SimRng::fork(self.seed, Stream::Client(id.0));
        let start = rng.between(0, endpoints.len() as u64 - 1) as usize;
        let mut cfx = std::mem::take(&mut self.cfx);
        let c = Client::new(id, endpoints, start, &mut cfx);
        self.clients.insert(id, c);
        if ephemeral {
            self.ephemeral.insert(id);
        }
        for e in cfx.drain(..) {
            self.client_effect(id, e);
        }
        self.cfx = cfx;
        id
    }

    fn with_client(
        &mut self,
        id: ClientId,
        f: impl FnOnce(&mut Client, SimTime, &mut Vec<ClientEffect>),
    ) {
        let now = self.now();
        let mut cfx = std::mem::take(&mut self.cfx);
        let Some(c) = self.clients.get_mut(&id) else {
            self.cfx = cfx;
            return;
        };
        f(c, now, &mut cfx);
        for e in cfx.drain(..) {
            self.client_effect(id, e);
        }
        self.cfx = cfx;
        let idle = self.clients.get(&id).is_some_and(|c| c.is_idle());
        if idle && self.ephemeral.contains(&id) {
            self.clients.remove(&id);
            self.ephemeral.remove(&id);
        }
    }

    fn client_effect(&mut self, client: ClientId, e: ClientEffect) {
        let now = self.now();
        match e {
            ClientEffect::Send { op, to, req } => {
                self.trace.push(
                    now,
                    TraceEvent::RequestSent {
                        client,
                        op,
                        request: req.request,
                        to,
                    },
                );
                self.request_op.insert(req.request, op);
                let at = now + self.client_latency();
                self.queue.schedule(at, Event::ToServer { to, req });
            }
            ClientEffect::Dial { node } => {
                let rtt = self.client_latency() + self.client_latency();
                self.queue.schedule(now + rtt, Event::Dial { client, node });
            }
            ClientEffect::Deadline { op, at } => self
                .queue
                .schedule(at, Event::ClientDeadline { client, op }),
            ClientEffect::Done {
                op,
                outcome,
                reply,
                routed_to,
            } => self.op_done(client, op, outcome, reply, routed_to),
        }
    }

    fn dial(&mut self, client: ClientId, node: NodeId) {
        if !self.clients.contains_key(&client) {
            return;
        }
        let now = self.now();
        match self.node_mut(node).status {
            NodeStatus::Running => {
                self.trace.push(now, TraceEvent::ConnReady { client, node });
                self.with_client(client, |c, now, fx| {
                    c.conn_ready(node, now, fx);
                });
            }
            NodeStatus::Paused => self
                .waiting_handshakes
                .entry(node)
                .or_default()
                .push(client),
            NodeStatus::Crashed => {
                // Connection refused; gRPC re-dials after its backoff (about 1 s).
                self.queue.schedule(
                    now + SimDuration::from_secs(1),
                    Event::Dial { client, node },
                );
            }
        }
    }

    fn reply_to_client(&mut self, reply: Reply) {
        let id = reply.client;
        let request = reply.request;
        let mut handled = false;
        self.with_client(id, |c, now, fx| handled = c.on_reply(reply, now, fx));
        if !handled {
            let now = self.now();
            self.trace.push(
                now,
                TraceEvent::LateReply {
                    client: id,
                    request,
                },
            );
        }
    }

    fn start_command(&mut self, i: usize) {
        if let Some(next) = self.scenario.commands.get(i + 1) {
            self.queue.schedule(next.at, Event::CommandStart(i + 1));
        }
        let spec = self.scenario.commands[i].clone();
        let now = self.now();
        self.trace
            .push(now, TraceEvent::CommandStarted { command: i });
        self.commands.push(CommandRun {
            index: i,
            ops: vec![],
            remaining: 0,
            started: now,
            finished: None,
            output: vec![],
        });
        let run = self.commands.len() - 1;
        let deadline = now + spec.timeout;
        let plan: Vec<(Option<NodeId>, ServerOp)> = match &spec.command {
            Command::Kv { op } => vec![(None, op.clone())],
            Command::EndpointStatus => spec
                .endpoints
                .iter()
                .map(|n| (Some(*n), ServerOp::Status))
                .collect(),
            Command::EndpointHealth => spec
                .endpoints
                .iter()
                .map(|n| {
                    (
                        Some(*n),
                        ServerOp::Get {
                            key: "health".into(),
                            serializable: false,
                        },
                    )
                })
                .collect(),
        };
        self.commands[run].remaining = plan.len();
        for (single, kind) in plan {
            let client = match (single, &spec.session) {
                (Some(n), _) => self.new_client(vec![n], true),
                (None, Some(s)) => match self.sessions.get(s) {
                    Some(c) => *c,
                    None => {
                        let c = self.new_client(spec.endpoints.clone(), false);
                        self.sessions.insert(s.clone(), c);
                        c
                    }
                },
                (None, None) => self.new_client(spec.endpoints.clone(), true),
            };
            let actor = spec.session.clone().unwrap_or_else(|| "etcdctl".into());
            let op = self.new_op(client, Some((i, run)), actor, &kind);
            self.commands[run].ops.push(op);
            self.with_client(client, |c, now, fx| c.start(op, kind, deadline, now, fx));
        }
    }

    fn op_done(
        &mut self,
        client: ClientId,
        op: OpId,
        outcome: Outcome,
        reply: Option<crate::node::rpc::ReplyBody>,
        routed_to: Vec<NodeId>,
    ) {
        let now = self.now();
        self.trace.push(
            now,
            TraceEvent::OpCompleted {
                client,
                op,
                outcome: outcome.clone(),
            },
        );
        let h = &mut self.history[op.0 as usize];
        h.completed = Some(now);
        h.outcome = outcome;
        h.reply = reply;
        h.routed_to = routed_to;
        let Some(run) = self.op_command[op.0 as usize] else {
            let (apiserver, token) = self
                .op_owner
                .remove(&op)
                .expect("an apiserver owns every op without a command");
            let h = &self.history[op.0 as usize];
            let ev = K8sEvent::EtcdDone {
                apiserver,
                token,
                outcome: h.outcome.clone(),
                reply: h.reply.clone(),
                routed: h.routed_to.clone(),
            };
            self.k8s_handle(ev);
            return;
        };
        self.commands[run].remaining -= 1;
        if self.commands[run].remaining == 0 {
            let cr = &self.commands[run];
            let spec = &self.scenario.commands[cr.index];
            let ops: Vec<&HistoryOp> = cr.ops.iter().map(|o| &self.history[o.0 as usize]).collect();
            let lines = report::etcdctl::render(spec, &ops);
            let took = now.since(cr.started);
            let index = cr.index;
            self.trace.push(
                now,
                TraceEvent::CommandOutput {
                    command: index,
                    lines: lines.clone(),
                    took_us: took.as_micros(),
                },
            );
            let cr = &mut self.commands[run];
            cr.finished = Some(now);
            cr.output = lines;
        }
    }

    // ------------------------------------------------------------------ faults

    fn probe(&self) -> Probe {
        Probe {
            at: self.now(),
            applied: self.nodes.iter().map(|n| n.applied()).collect(),
            committed: self.nodes.iter().map(|n| n.commit_index()).collect(),
            roles: self
                .nodes
                .iter()
                .map(|n| n.role().map(|r| (r, n.term())))
                .collect(),
        }
    }

    // ------------------------------------------------------------------ kubernetes

    fn start_kubernetes(&mut self, spec: K8sSpec) {
        let mut rng = SimRng::fork(self.seed, Stream::Kubernetes);
        let all = self.scenario.node_ids();
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
            self.api_clients.push((c, w));
        }
        let n = &self.scenario.network;
        let k = K8s::new(spec, rng, (n.client_latency_min, n.client_latency_max));
        self.k8s = Some(k);
        self.with_k8s(|k, cx| k.start(cx));
    }

    fn k8s_handle(&mut self, e: K8sEvent) {
        self.with_k8s(|k, cx| k.handle(e, cx));
    }

    fn with_k8s(&mut self, f: impl FnOnce(&mut K8s, &mut K8sCx)) {
        let now = self.now();
        let mut out = std::mem::take(&mut self.kfx);
        {
            let k = self.k8s.as_mut().expect("kubernetes layer is on");
            let mut cx = K8sCx { now, out: &mut out };
            f(k, &mut cx);
        }
        for o in out.drain(..) {
            self.k8s_out(o);
        }
        self.kfx = out;
    }

    fn k8s_out(&mut self, o: K8sOut) {
        let now = self.now();
        match o {
            K8sOut::At(at, e) => self.queue.schedule(at, Event::K8s(e)),
            K8sOut::Trace(e) => self.trace.push(now, e),
            K8sOut::Etcd {
                apiserver,
                via_cache,
                token,
                op: kind,
                deadline,
            } => {
                let (main, watch) = self.api_clients[apiserver];
                let client = if via_cache { watch } else { main };
                let op = self.new_op(client, None, format!("apiserver-{}", apiserver + 1), &kind);
                self.op_owner.insert(op, (apiserver, token));
                self.with_client(client, |c, now, fx| c.start(op, kind, deadline, now, fx));
            }
        }
    }

    /// Records a new pending operation in the history; `command` is (scenario command, its run)
    /// for etcdctl commands and `None` for an apiserver's own requests.
    fn new_op(
        &mut self,
        client: ClientId,
        command: Option<(usize, usize)>,
        actor: String,
        kind: &ServerOp,
    ) -> OpId {
        let op = OpId(self.history.len() as u64);
        self.history.push(HistoryOp {
            op,
            client,
            command: command.map(|(c, _)| c),
            actor,
            kind: kind.clone(),
            endpoints: self.clients[&client].endpoints().to_vec(),
            invoked: self.now(),
            completed: None,
            outcome: Outcome::Pending,
            routed_to: vec![],
            reply: None,
        });
        self.op_command.push(command.map(|(_, run)| run));
        op
    }

    fn restart_member(&mut self, node: NodeId) {
        self.with_node(node, |n, o| n.restart(o));
    }

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

    fn fault(&mut self, i: usize, start: bool) {
        let mut f = self.scenario.faults[i].clone();
        let now = self.now();
        if let Some(t) = f.kind.target() {
            let node = if start {
                self.resolve(t)
            } else {
                self.fault_nodes.get(&i).copied()
            };
            let Some(node) = node else {
                let what = format!("{} skipped: no member is {t} now", f.describe());
                self.trace
                    .push(now, TraceEvent::FaultStarted { fault: i, what });
                return;
            };
            self.fault_nodes.insert(i, node);
            f.kind = f.kind.resolved(node);
        }
        let what = if start {
            f.describe()
        } else {
            f.describe_end()
        };
        self.trace.push(
            now,
            if start {
                TraceEvent::FaultStarted { fault: i, what }
            } else {
                TraceEvent::FaultEnded { fault: i, what }
            },
        );
        match (f.kind, start) {
            (
                FaultKind::Pause {
                    node: Target::Node(node),
                },
                true,
            ) => self.with_node(node, |n, o| n.pause(o)),
            (
                FaultKind::Pause {
                    node: Target::Node(node),
                },
                false,
            ) => {
                self.with_node(node, |n, o| n.resume(o));
                for c in self.waiting_handshakes.remove(&node).unwrap_or_default() {
                    self.queue.schedule(now, Event::Dial { client: c, node });
                }
            }
            (
                FaultKind::Crash {
                    node: Target::Node(node),
                },
                true,
            ) => {
                self.with_node(node, |n, o| n.crash("scheduled crash", o));
                self.waiting_handshakes.remove(&node);
                let ids: Vec<ClientId> = self.clients.keys().copied().collect();
                for c in ids {
                    self.with_client(c, |c, _, fx| c.member_crashed(node, fx));
                }
            }
            (
                FaultKind::Crash {
                    node: Target::Node(node),
                },
                false,
            ) => self.restart_member(node),
            (
                FaultKind::DiskStall {
                    node: Target::Node(node),
                    io,
                },
                true,
            ) => self.node_mut(node).disk.stall(io),
            (
                FaultKind::DiskStall {
                    node: Target::Node(node),
                    io,
                },
                false,
            ) => self.with_node(node, |n, o| n.unstall(io, o)),
            (
                FaultKind::DiskSlow {
                    node: Target::Node(node),
                    io,
                    latency_min,
                    latency_max,
                },
                true,
            ) => self
                .node_mut(node)
                .disk
                .set_slow(io, Some((latency_min, latency_max))),
            (
                FaultKind::DiskSlow {
                    node: Target::Node(node),
                    io,
                    ..
                },
                false,
            ) => self.node_mut(node).disk.set_slow(io, None),
            (
                FaultKind::FsyncError {
                    node: Target::Node(node),
                },
                true,
            ) if f.until.is_none() => self.node_mut(node).disk.fail_next_fsync(),
            (
                FaultKind::FsyncError {
                    node: Target::Node(node),
                },
                true,
            ) => self.node_mut(node).disk.start_failing_fsyncs(),
            (
                FaultKind::FsyncError {
                    node: Target::Node(node),
                },
                false,
            ) => {
                // The disk recovers; a member that died of the EIO is restarted by its supervisor.
                self.node_mut(node).disk.stop_failing_fsyncs();
                if self.node_mut(node).status == NodeStatus::Crashed {
                    self.restart_member(node);
                }
            }
            (FaultKind::Partition { groups }, start) => {
                for (gi, a) in groups.iter().enumerate() {
                    for (gj, b) in groups.iter().enumerate() {
                        if gi == gj {
                            continue;
                        }
                        for x in a {
                            for y in b {
                                if start {
                                    self.net.cut(*x, *y)
                                } else {
                                    self.net.heal(*x, *y)
                                }
                            }
                        }
                    }
                }
            }
            (FaultKind::OneWay { from, to }, true) => self.net.cut(from, to),
            (FaultKind::OneWay { from, to }, false) => self.net.heal(from, to),
            (FaultKind::Degrade(d), true) => self.net.degrade(i, d),
            (FaultKind::Degrade(_), false) => self.net.restore(i),
            (k, _) => unreachable!("fault target left unresolved: {k:?}"),
        }
    }
}
