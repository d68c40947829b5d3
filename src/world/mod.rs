//! The event loop: one owner of time. It pops the next event, hands it to the component that
//! owns it, and turns the [`Effect`]s every actor returns into new events through one pump.
//!
//! Contract: single-threaded; every event is handled at its simulated time, in (time, sequence)
//! order; components never see the wall clock or OS randomness (each has its own RNG stream
//! forked from the seed). Everything observable is recorded in the trace, and one observer
//! (`check::observer`) sees every member after every event it handles, but a quiet tick (a
//! follower's tick short of its election timeout, which changes nothing it could see:
//! `Node::tick_quietly`). Every member event ends settled, with no Ready left for a drive
//! (`Node::settled`, checked after each event in debug builds).
//!
//! Files: this one holds the loop and the pump; `faults` resolves a fault's target and calls
//! the owning component's hook; `clients` runs scenario commands and the client history;
//! `kubernetes` connects the Kubernetes layer to its etcd clients; `network` moves raft
//! messages between members.

mod clients;
mod faults;
mod kubernetes;
mod network;
mod streams;

use crate::check::observer::Observer;
use crate::client::stream::StreamTimer;
use crate::client::ClientEffect;
use crate::k8s::actors::{EtcdCall, K8sEvent};
use crate::net::Network;
use crate::node::machine::MachineFactory;
use crate::node::rpc::{PeerForward, Reply, ServerRequest, WatchPush};
use crate::node::{Bug, Node, NodeConfig, NodeMsg, NodeTimer, ReadOnly};
use crate::record::{NodeSummary, Probe, Record};
use crate::scenario::Scenario;
use crate::sim::actor::{Effect, Out};
use crate::sim::ids::{ClientId, NodeId, OpId};
use crate::sim::log::LogClock;
use crate::sim::queue::EventQueue;
use crate::sim::rng::{SimRng, Stream};
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::trace::Trace;
use raft::eraftpb::Message;
use std::collections::BTreeMap;

/// Called every [`PROGRESS_EVERY`] events with (now, end): for a progress line on long runs.
/// It only observes; nothing it does can change the run.
pub type Progress = fn(SimTime, SimTime);

/// How many events between two progress calls.
pub const PROGRESS_EVERY: u64 = 200_000;

/// Streamed trace bytes gathered before they are written out (see [`Sim::run_to_end`]).
const STREAM_CHUNK_BYTES: usize = 1 << 16;

/// Everything the loop can schedule.
#[derive(Debug)]
enum Event {
    Tick(NodeId),
    Campaign(NodeId),
    Deliver {
        msg: Box<Message>,
        stream: u64,
    },
    /// A snapshot arrives over its own connection (etcd's snapshot sender, not the stream).
    DeliverSnapshot(Box<Message>),
    /// The leader learns how its snapshot transfer to `to` ended.
    SnapshotStatus {
        leader: NodeId,
        to: NodeId,
        ok: bool,
    },
    Timer(NodeId, NodeTimer),
    ToServer {
        to: NodeId,
        req: ServerRequest,
    },
    ToClient {
        reply: Box<Reply>,
    },
    Forward(Box<PeerForward>),
    /// A peer's transport refused this removed member (410 Gone): it stops.
    Gone(NodeId),
    WatchPush(WatchPush),
    Stream(usize, StreamTimer),
    Dial {
        client: ClientId,
        node: NodeId,
    },
    ClientDeadline {
        client: ClientId,
        op: OpId,
    },
    CommandStart(usize),
    FaultStart(usize),
    FaultEnd(usize),
    Probe,
    ClusterProbe,
    K8s(K8sEvent),
}

/// Effect buffers, one per actor kind, reused so that an event allocates nothing.
#[derive(Default)]
struct Buffers {
    node: Vec<Effect<NodeMsg, NodeTimer>>,
    client: Vec<ClientEffect>,
    k8s: Vec<Effect<EtcdCall, K8sEvent>>,
}

/// One simulation: the scenario, its components, and the loop's state.
pub struct Sim {
    scenario: Scenario,
    seed: u64,
    queue: EventQueue<Event>,
    trace: Trace,
    observer: Observer,
    log_clock: LogClock,
    events_handled: u64,
    /// Where the run stopped at its event budget, if it did.
    stopped_at: Option<SimTime>,
    tick_interval: SimDuration,
    nodes: Vec<Node>,
    net: Network,
    /// Latency of client <-> member hops.
    client_net: SimRng,
    clients: clients::Clients,
    history: clients::History,
    /// The member each targeted fault resolved to when it started.
    fault_nodes: BTreeMap<usize, NodeId>,
    probes: Vec<Probe>,
    cluster_probes: Vec<Probe>,
    k8s: Option<kubernetes::Layer>,
    fx: Buffers,
    /// Pairs of members whose peer connection is up (both processes up, no cut either way).
    links: std::collections::BTreeSet<(NodeId, NodeId)>,
}

impl Sim {
    /// Builds the simulation of `scenario` with `seed`; nothing runs until [`Sim::run_to_end`].
    pub fn new(
        scenario: Scenario,
        seed: u64,
        log_level: Option<slog::Level>,
        bug: Option<Bug>,
        machine: Option<MachineFactory>,
        full_trace: bool,
    ) -> Sim {
        let log_clock = LogClock::default();
        let nodes = build_nodes(&scenario, seed, &log_clock, (log_level, bug), machine);
        let overrides = scenario.network.links.iter().cloned().collect();
        let net = Network::new(
            scenario.network.link,
            overrides,
            SimRng::fork(seed, Stream::Network),
        );
        let mut sim = Sim {
            seed,
            queue: EventQueue::default(),
            trace: Trace::new(full_trace),
            observer: Observer::new(!full_trace),
            log_clock,
            events_handled: 0,
            stopped_at: None,
            tick_interval: scenario.cluster.heartbeat_interval,
            nodes,
            net,
            client_net: SimRng::fork(seed, Stream::ClientNetwork),
            clients: clients::Clients::default(),
            history: clients::History::new(full_trace),
            fault_nodes: BTreeMap::new(),
            probes: Vec::new(),
            cluster_probes: Vec::new(),
            k8s: None,
            fx: Buffers::default(),
            links: Default::default(),
            scenario,
        };
        sim.schedule_start();
        sim.refresh_links();
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

    fn now(&self) -> SimTime {
        self.queue.now()
    }

    /// Runs until the scenario's duration has elapsed, or until `max_events` events were
    /// handled (then the record says where it stopped). With `trace_out`, every trace record is
    /// written there as a JSON line as the run goes (see [`Trace::stream`]); a write error stops
    /// the run and is returned.
    pub fn run_to_end(
        &mut self,
        max_events: Option<u64>,
        progress: Option<Progress>,
        mut trace_out: Option<&mut dyn std::io::Write>,
    ) -> std::io::Result<()> {
        if trace_out.is_some() {
            self.trace.stream();
        }
        let end = SimTime::ZERO + self.scenario.duration;
        while let Some((at, ev)) = self.queue.pop_until(end) {
            if max_events.is_some_and(|m| self.events_handled >= m) {
                self.stopped_at = Some(at);
                break;
            }
            self.log_clock.set(at.as_micros());
            self.events_handled += 1;
            self.handle(ev);
            if self.events_handled.is_multiple_of(PROGRESS_EVERY) {
                if let Some(report) = progress {
                    report(at, end);
                }
            }
            if let Some(out) = trace_out.as_deref_mut() {
                self.trace.drain_stream(STREAM_CHUNK_BYTES, out)?;
            }
        }
        match trace_out {
            Some(out) => self.trace.drain_stream(0, out).and_then(|()| out.flush()),
            None => Ok(()),
        }
    }

    fn handle(&mut self, ev: Event) {
        match ev {
            Event::Tick(id) => self.tick(id),
            Event::Campaign(id) => self.with_node(id, |n, o| n.campaign(o)),
            Event::Deliver { msg, stream } => self.deliver(msg, stream),
            Event::DeliverSnapshot(msg) => self.deliver_snapshot(msg),
            Event::SnapshotStatus { leader, to, ok } => {
                self.with_node(leader, |n, o| n.snapshot_status(to, ok, o))
            }
            Event::Timer(id, t) => self.with_node(id, |n, o| n.timer(t, o)),
            Event::ToServer { to, req } => self.with_node(to, |n, o| n.request(req, o)),
            Event::ToClient { reply } => self.reply_to_client(reply),
            Event::Forward(f) => self.with_node(f.to, |n, o| n.forwarded(*f, o)),
            Event::Gone(id) => self.with_node(id, |n, o| {
                n.stop_removed(
                    "the member has been permanently removed from the cluster",
                    o,
                )
            }),
            Event::WatchPush(w) => self.watch_push(w),
            Event::Stream(run, t) => self.stream_timer(run, t),
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
                // One a second for the whole run: grown gently, as the raft logs are.
                crate::sim::reserve_gently(&mut self.cluster_probes, 1, 4096);
                self.cluster_probes.push(p);
                let next = self.now() + SimDuration::from_secs(1);
                self.queue.schedule(next, Event::ClusterProbe);
            }
            Event::K8s(e) => self.k8s_handle(e),
        }
    }

    fn tick(&mut self, id: NodeId) {
        // Ticks run on the member's own clock (a `clock_drift` fault changes its speed).
        let node = &mut self.nodes[(id.0 - 1) as usize];
        let at = self.queue.now() + node.clock().sim_span(self.tick_interval);
        let quiet = node.tick_quietly();
        self.queue.schedule(at, Event::Tick(id));
        if !quiet {
            self.with_node(id, |n, o| n.tick(o));
        }
    }

    /// The one pump: hands each effect of an actor to the loop, in order. `route` delivers what
    /// the actor sends, `wake` schedules its timers; trace lines and observations are the same
    /// for every actor.
    fn pump<I: Copy, M, T>(
        &mut self,
        id: I,
        fx: &mut Vec<Effect<M, T>>,
        route: fn(&mut Sim, I, M),
        wake: fn(&mut Sim, I, SimTime, T),
    ) {
        let now = self.now();
        for e in fx.drain(..) {
            match e {
                Effect::Send(m) => route(self, id, m),
                Effect::Timer(at, t) => wake(self, id, at, t),
                Effect::Trace(ev) => self.trace.push(now, ev),
                Effect::Observe(o) => self.observer.observe(now, o, &mut self.trace),
            }
        }
    }

    /// Calls `f` on a member, pumps its effects, then lets the observer check every member.
    fn with_node(&mut self, id: NodeId, f: impl FnOnce(&mut Node, &mut Out<NodeMsg, NodeTimer>)) {
        let now = self.now();
        let mut fx = std::mem::take(&mut self.fx.node);
        let mut out = Out {
            now,
            trace: &mut self.trace,
            effects: &mut fx,
        };
        let node = &mut self.nodes[(id.0 - 1) as usize];
        let was_up = node.status.is_up();
        f(node, &mut out);
        // Costs a Ready check per member event: tests (debug builds) check it, releases trust it.
        debug_assert!(
            node.settled(),
            "{id} ended an event with a Ready no drive handled (seed {})",
            self.seed
        );
        let is_up = node.status.is_up();
        if was_up && !is_up {
            self.net.member_down(id); // its peer streams break
        }
        if was_up != is_up {
            self.refresh_links();
        }
        self.pump(id, &mut fx, Sim::node_sends, |s, id, at, t| {
            s.queue.schedule(at, Event::Timer(id, t))
        });
        self.fx.node = fx;
        let history = &self.history.ops;
        self.observer.after_member_event(
            now,
            &self.nodes[(id.0 - 1) as usize],
            &mut self.trace,
            history,
        );
    }

    /// Tells each member's transport which peer connections came up or went down.
    fn refresh_links(&mut self) {
        let now = self.now();
        let up: Vec<NodeId> = self
            .nodes
            .iter()
            .filter(|n| n.status.is_up())
            .map(|n| n.id)
            .collect();
        let mut links = std::collections::BTreeSet::new();
        for &a in &up {
            for &b in up.iter().filter(|b| **b != a) {
                if !self.net.is_cut(a, b) && !self.net.is_cut(b, a) {
                    links.insert((a, b));
                }
            }
        }
        for &(a, b) in links.difference(&self.links) {
            self.nodes[(a.0 - 1) as usize].link(b, true, now);
        }
        for &(a, b) in self.links.difference(&links) {
            self.nodes[(a.0 - 1) as usize].link(b, false, now);
        }
        self.links = links;
    }

    fn node_sends(&mut self, _from: NodeId, m: NodeMsg) {
        match m {
            NodeMsg::Peer(m) => self.send(m),
            NodeMsg::Reply(r) => {
                let at = self.now() + self.client_latency();
                self.queue.schedule(at, Event::ToClient { reply: r });
            }
            NodeMsg::Gone { from, to } => {
                if let Some(after) = self.net.peer_request(from, to) {
                    self.queue.schedule(self.now() + after, Event::Gone(to));
                }
            }
            NodeMsg::Forward(f) => {
                if let Some(after) = self.net.peer_request(f.from, f.to) {
                    let at = self.now() + after;
                    self.queue.schedule(at, Event::Forward(f));
                }
            }
            NodeMsg::Watch(w) => {
                // One gRPC stream: a push never overtakes an earlier one.
                let at = self.now() + self.client_latency();
                let last = self.clients.watch_arrivals.entry(w.client).or_default();
                *last = (*last).max(at);
                let at = *last;
                self.queue.schedule(at, Event::WatchPush(w));
            }
        }
    }

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

    /// Ends the simulation and returns its record.
    pub fn into_record(self) -> Record {
        self.finish().0
    }

    /// Ends the simulation and returns its record and the scenario it ran (handed back, not
    /// copied: a scenario with many commands is large).
    pub fn finish(mut self) -> (Record, Scenario) {
        // What the record does not take goes first, so that the summaries are built in its room.
        self.queue = EventQueue::default();
        self.clients = clients::Clients::default();
        self.fx = Buffers::default();
        let last = self
            .nodes
            .iter()
            .filter(|n| n.status != crate::node::NodeStatus::Spare)
            .max_by_key(|n| (n.status == crate::node::NodeStatus::Running, n.applied()));
        let members = last.map(|n| n.members().clone()).unwrap_or_default();
        let nodes = self.nodes.iter().map(|n| summary(n, &members)).collect();
        let kubelets = self
            .k8s
            .as_ref()
            .map(|k| k.layer.kubelet_apiservers())
            .unwrap_or_default();
        let (first_applied, linearized) = self.observer.finish();
        self.history.drop_retired();
        let record = Record {
            seed: self.seed,
            sim_end: SimTime::ZERO + self.scenario.duration,
            trace_hash: format!("{:016x}", self.trace.hash()),
            events_handled: self.events_handled,
            stopped_at: self.stopped_at,
            command_ids: self
                .scenario
                .commands
                .iter()
                .map(|c| c.id.clone())
                .collect(),
            commands: self.history.commands,
            history: self.history.ops,
            linearized,
            nodes,
            probes: self.probes,
            cluster_probes: self.cluster_probes,
            kubelets,
            first_applied,
            trace: self.trace.records,
            applied: self.trace.applied,
            campaigns: {
                self.trace.hearing.finish();
                self.trace.hearing.campaigns
            },
        };
        (record, self.scenario)
    }
}

fn build_nodes(
    scenario: &Scenario,
    seed: u64,
    log_clock: &LogClock,
    (log_level, bug): (Option<slog::Level>, Option<Bug>),
    machine: Option<MachineFactory>,
) -> Vec<Node> {
    let c = &scenario.cluster;
    let lease_drift = bug == Some(Bug::LeaseReadDrift);
    let election_ticks =
        (c.election_timeout.as_micros() / c.heartbeat_interval.as_micros()) as usize;
    let cfg = NodeConfig {
        persist: c.persist,
        heartbeat_ticks: 1,
        election_ticks,
        pre_vote: c.pre_vote,
        randomize_election_timeout: c.randomize_election_timeout,
        max_size_per_msg: c.max_size_per_msg,
        snapshot_count: c.snapshot_count,
        snapshot_catchup_entries: c.snapshot_catchup_entries,
        check_quorum: c.check_quorum || lease_drift,
        read_only: if lease_drift {
            ReadOnly::LeaseBased
        } else {
            c.read_only
        },
        server_request_timeout: c.request_timeout,
        heartbeat_interval: c.heartbeat_interval,
        read_index_retry: c.etcd_version.read_index_retry(),
        release: c.etcd_version.release(),
        leases_confirm_leadership: c.etcd_version.leases_confirm_leadership(),
        // etcd: minTTL = ceil((3 x electionTicks / 2) x heartbeat) (`server/etcdserver/server.go`).
        min_lease_ttl_s: (3 * election_ticks as u64 / 2 * c.heartbeat_interval.as_micros())
            .div_ceil(1_000_000),
        keep_events: scenario.commands.iter().any(|c| c.command.watches()),
        inbox_limit: 10_000,
        reject_removed_members: c.reject_removed_members,
        bug,
    };
    let root = crate::sim::log::logger(log_clock, log_level);
    let voters: Vec<u64> = scenario.node_ids().iter().map(|n| n.0).collect();
    scenario
        .machine_ids()
        .iter()
        .map(|id| {
            let disk = crate::disk::Disk::new(
                scenario.disk,
                SimRng::fork(seed, Stream::Disk(id.0)),
                Default::default(),
            );
            let jitter = SimRng::fork(seed, Stream::ElectionJitter(id.0));
            let logger = root.new(slog::o!("node" => id.0));
            let m = machine.clone();
            let n = Node::new(*id, cfg.clone(), voters.clone(), disk, jitter, logger, m);
            if id.0 > c.nodes {
                n.into_spare()
            } else {
                n
            }
        })
        .collect()
}

/// A member at the end of the run.
fn summary(n: &Node, cluster: &crate::node::membership::Members) -> NodeSummary {
    NodeSummary {
        id: n.id,
        status: n.status,
        role: n.role(),
        term: n.term(),
        commit: n.commit_index(),
        applied: n.applied(),
        last_index: n.last_index(),
        durable_last_index: n.disk.durable.last_index(),
        published: n.published,
        kv: n.kv.snapshot(),
        events: n.kv.events_from(0, "", true),
        machine: n.machine_fingerprint(),
        applied_requests: n.applied_requests().collect(),
        stats: n.stats,
        election_timeout_ticks: n.election_timeout_ticks,
        members: if n.status == crate::node::NodeStatus::Spare {
            String::new()
        } else {
            n.members().describe()
        },
        in_cluster: cluster.contains(n.id),
        voter: cluster.voters.contains(&n.id),
    }
}

#[cfg(test)]
mod tests {
    /// The loop moves every queued event several times (into its slot, out of it, into its
    /// handler), and a member's messages through its effects: a large variant makes every one
    /// of them large. A raft message (192 bytes), a reply, a peer forward and a finished etcd
    /// call travel boxed.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn events_stay_small() {
        use std::mem::size_of;
        assert!(
            size_of::<super::Event>() <= 88,
            "{}",
            size_of::<super::Event>()
        );
        assert!(size_of::<crate::node::NodeMsg>() <= 56);
    }
}
