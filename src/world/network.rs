//! Raft messages between members: the network decides each message's fate when it is sent and
//! again when it arrives (a link cut in between drops it).

use super::{Event, Sim};
use crate::net::Route;
use crate::sim::ids::NodeId;
use crate::sim::time::SimDuration;
use crate::sim::trace::{msg_kind, DropReason, TraceEvent};
use raft::eraftpb::Message;

impl Sim {
    pub(super) fn send(&mut self, m: Message) {
        let now = self.now();
        self.observer.message_sent(&m);
        let (from, to, kind) = (NodeId(m.from), NodeId(m.to), msg_kind(m.get_msg_type()));
        let copies = match self.net.route(from, to, now) {
            Route::Deliver(copies) => copies,
            Route::Lost => return self.dropped(from, to, kind, DropReason::Lost),
            Route::Partitioned => return self.dropped(from, to, kind, DropReason::Partitioned),
        };
        self.trace.push(
            now,
            TraceEvent::MsgSent {
                from,
                to,
                kind,
                term: m.term,
                index: m.index,
                latency_us: copies[0].after.as_micros(),
                duplicate_latency_us: copies.get(1).map(|d| d.after.as_micros()),
            },
        );
        if let Some(d) = copies.get(1) {
            let (msg, stream) = (m.clone(), d.stream);
            self.queue
                .schedule(now + d.after, Event::Deliver { msg, stream });
        }
        let stream = copies[0].stream;
        self.queue
            .schedule(now + copies[0].after, Event::Deliver { msg: m, stream });
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

    pub(super) fn deliver(&mut self, msg: Message, stream: u64) {
        let (from, to) = (NodeId(msg.from), NodeId(msg.to));
        if self.net.is_cut(from, to) {
            let kind = msg_kind(msg.get_msg_type());
            return self.dropped(from, to, kind, DropReason::Partitioned);
        }
        if self.net.stream(from, to) != stream {
            let kind = msg_kind(msg.get_msg_type());
            return self.dropped(from, to, kind, DropReason::StreamBroken);
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
