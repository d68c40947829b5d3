//! Raft messages between members: the network decides each message's fate when it is sent and
//! again when it arrives (a link cut in between drops it).

use super::{Event, Sim};
use crate::net::Route;
use crate::node::NodeStatus;
use crate::sim::ids::NodeId;
use crate::sim::time::SimDuration;
use crate::sim::trace::{msg_kind, DropReason, TraceEvent};
use raft::eraftpb::{Message, MessageType};

impl Sim {
    pub(super) fn send(&mut self, m: Box<Message>) {
        let now = self.now();
        self.observer.message_sent(&m);
        if m.get_msg_type() == MessageType::MsgSnapshot {
            return self.send_snapshot(m);
        }
        let (from, to, kind) = (NodeId(m.from), NodeId(m.to), msg_kind(m.get_msg_type()));
        let (first, copy) = match self.net.route(from, to, now) {
            Route::Deliver(first, copy) => (first, copy),
            Route::Lost => return self.dropped(from, to, kind, DropReason::Lost),
            Route::Partitioned => return self.dropped(from, to, kind, DropReason::Partitioned),
        };
        self.trace_sent(&m, m.index, first.after, copy.map(|d| d.after));
        if let Some(d) = copy {
            let (msg, stream) = (m.clone(), d.stream);
            self.queue
                .schedule(now + d.after, Event::Deliver { msg, stream });
        }
        let stream = first.stream;
        self.queue
            .schedule(now + first.after, Event::Deliver { msg: m, stream });
    }

    /// etcd sends a snapshot over its own HTTP connection (`rafthttp/snapshot_sender.go`), not
    /// the ordered stream: it takes the link's latency plus its size over the link's bandwidth,
    /// and the leader hears how it ended (`ReportSnapshot`) once the receiver has it, or at once
    /// when the link is cut or the message lost.
    fn send_snapshot(&mut self, m: Box<Message>) {
        let now = self.now();
        let (from, to, kind) = (NodeId(m.from), NodeId(m.to), msg_kind(m.get_msg_type()));
        let after = match self.net.route(from, to, now) {
            Route::Deliver(first, _) => first.after,
            Route::Lost => {
                self.dropped(from, to, kind, DropReason::Lost);
                return self.snapshot_failed(from, to);
            }
            Route::Partitioned => {
                self.dropped(from, to, kind, DropReason::Partitioned);
                return self.snapshot_failed(from, to);
            }
        };
        let bytes = m.get_snapshot().data.len() as u64;
        let rate = self.scenario.network.snapshot_bandwidth_bytes_per_s;
        let transfer = SimDuration::from_micros((bytes * 1_000_000).div_ceil(rate));
        let latency = after + transfer;
        self.trace_sent(&m, m.get_snapshot().get_metadata().index, latency, None);
        self.queue
            .schedule(now + latency, Event::DeliverSnapshot(m));
    }

    /// A message left: its `msg-sent` trace record (`index`: the log index it carries).
    fn trace_sent(
        &mut self,
        m: &Message,
        index: u64,
        latency: SimDuration,
        duplicate: Option<SimDuration>,
    ) {
        let now = self.now();
        self.trace.push(
            now,
            TraceEvent::MsgSent {
                from: NodeId(m.from),
                to: NodeId(m.to),
                kind: msg_kind(m.get_msg_type()),
                term: m.term,
                index,
                latency_us: latency.as_micros(),
                duplicate_latency_us: duplicate.map(|d| d.as_micros()),
            },
        );
    }

    fn snapshot_failed(&mut self, leader: NodeId, to: NodeId) {
        let now = self.now();
        let ev = Event::SnapshotStatus {
            leader,
            to,
            ok: false,
        };
        self.queue.schedule(now, ev);
    }

    pub(super) fn deliver_snapshot(&mut self, msg: Box<Message>) {
        let (from, to) = (NodeId(msg.from), NodeId(msg.to));
        let kind = msg_kind(msg.get_msg_type());
        if self.net.is_cut(from, to) {
            self.dropped(from, to, kind, DropReason::Partitioned);
            return self.snapshot_failed(from, to);
        }
        if !self.nodes[(to.0 - 1) as usize].status.is_up() {
            self.dropped(from, to, kind, DropReason::DestinationDown);
            return self.snapshot_failed(from, to);
        }
        self.with_node(to, |n, o| n.receive(msg, o));
        let back = self.now() + self.scenario.network.link.latency_min;
        let ev = Event::SnapshotStatus {
            leader: from,
            to,
            ok: true,
        };
        self.queue.schedule(back, ev);
    }

    /// A running receiver that applied the sender's removal refuses it (rafthttp: 410 Gone on
    /// the stream, 403 on the pipeline), and the sender, told so, stops.
    fn refused(&mut self, from: NodeId, to: NodeId, kind: &'static str) -> bool {
        let receiver = &self.nodes[(to.0 - 1) as usize];
        if receiver.status != NodeStatus::Running || !receiver.refuses(from) {
            return false;
        }
        self.dropped(from, to, kind, DropReason::SenderRemoved);
        self.with_node(from, |n, o| {
            n.stop_removed(
                "the member has been permanently removed from the cluster",
                o,
            )
        });
        true
    }

    fn dropped(&mut self, from: NodeId, to: NodeId, kind: &'static str, reason: DropReason) {
        let now = self.now();
        self.trace.push(
            now,
            TraceEvent::MsgDropped {
                from,
                to,
                kind,
                reason,
            },
        );
    }

    pub(super) fn deliver(&mut self, msg: Box<Message>, stream: u64) {
        let (from, to) = (NodeId(msg.from), NodeId(msg.to));
        if self.net.is_cut(from, to) {
            let kind = msg_kind(msg.get_msg_type());
            return self.dropped(from, to, kind, DropReason::Partitioned);
        }
        if self.net.stream(from, to) != stream {
            let kind = msg_kind(msg.get_msg_type());
            return self.dropped(from, to, kind, DropReason::StreamBroken);
        }
        if self.refused(from, to, msg_kind(msg.get_msg_type())) {
            return;
        }
        self.with_node(to, |n, o| n.receive(msg, o));
    }

    /// One client <-> member hop.
    pub(super) fn client_latency(&mut self) -> SimDuration {
        let n = &self.scenario.network;
        SimDuration::from_micros(self.client_net.between(
            n.client_latency_min.as_micros(),
            n.client_latency_max.as_micros(),
        ))
    }
}
