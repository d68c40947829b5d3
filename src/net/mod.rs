//! Virtual network between members: etcd's peer transport.
//!
//! Models: one ordered stream per direction per member pair, as etcd's rafthttp keeps a
//! long-lived TCP stream to each peer (`server/etcdserver/api/rafthttp/stream.go`). Each message
//! draws a one-way latency from `[latency_min, latency_max]`, but never arrives before a message
//! sent earlier on the same stream: latency jitter cannot reorder a stream. Random loss (`drop`)
//! stands for messages etcd drops when a peer's send buffer is full. Symmetric and one-way
//! partitions and degradation windows are switched on and off by scheduled faults.
//!
//! Fault model: a message is judged twice, when sent (loss, cut link) and when it arrives. A
//! partition or a crash of either end breaks the stream: what was in flight is lost, as with a
//! reset TCP connection, and the next message goes over a new stream. Duplication and reordering
//! exist only as `degrade` faults, a deliberately broken transport: a reordered message is held
//! back by an extra delay between `latency_max` and `2 * latency_max + 1ms` outside the stream's
//! order, so later messages overtake it; a duplicate is a second, unordered copy.
//!
//! Invariants: every decision draws from the network's own RNG stream; cut links are counted, so
//! overlapping partitions heal only when the last one ends; on an unbroken stream, arrivals are in
//! send order (`tests/network.rs` checks it over explore seeds).

use crate::sim::ids::NodeId;
use crate::sim::rng::{Ratio, SimRng};
use crate::sim::time::{SimDuration, SimTime};
use serde::Serialize;
use std::collections::BTreeMap;

/// Behaviour of one directed link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LinkModel {
    /// Shortest one-way latency.
    pub latency_min: SimDuration,
    /// Longest one-way latency.
    pub latency_max: SimDuration,
    /// Share of messages lost.
    pub drop: Ratio,
}

impl Default for LinkModel {
    fn default() -> Self {
        LinkModel {
            latency_min: SimDuration::from_micros(500),
            latency_max: SimDuration::from_millis(2),
            drop: Ratio::NEVER,
        }
    }
}

/// One copy of a message on its way: when it arrives, on which incarnation of its stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// After how long it arrives.
    pub after: SimDuration,
    /// The stream it travels on; a stream broken meanwhile loses it.
    pub stream: u64,
}

/// What the network decided for one message.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// Deliver this copy, and a second one when a degradation duplicated it.
    Deliver(Delivery, Option<Delivery>),
    /// Lost at random.
    Lost,
    /// The link is cut.
    Partitioned,
}

/// The network.
pub struct Network {
    base: LinkModel,
    overrides: BTreeMap<(NodeId, NodeId), LinkModel>,
    /// Active cuts per directed link, counted so overlapping faults compose.
    cuts: BTreeMap<(NodeId, NodeId), u32>,
    /// Active degradations (by fault index), applied on top of the link model.
    degraded: BTreeMap<usize, Degrade>,
    /// Each directed stream's incarnation and the arrival time of its last ordered message.
    streams: Streams,
    rng: SimRng,
}

/// A fault of the network, as a scenario schedules it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NetFault {
    /// Every link between different groups is cut, both ways.
    Partition {
        /// The groups (each a set of members).
        groups: Vec<Vec<NodeId>>,
    },
    /// Messages from `from` to `to` are dropped; the other direction works.
    OneWay {
        /// Sender side.
        from: NodeId,
        /// Receiver side.
        to: NodeId,
    },
    /// Loss, duplication, reordering and extra delay on some or all links.
    Degrade(Degrade),
}

/// A temporary degradation of every link, or of the links touching `only`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Degrade {
    /// Degrade only links touching these members (empty: every link).
    pub only: Vec<NodeId>,
    /// Extra latency added to each message, up to this.
    pub extra_latency_max: SimDuration,
    /// Share of messages lost.
    pub drop: Ratio,
    /// Share of messages delivered twice.
    pub duplicate: Ratio,
    /// Share of messages held back so later ones overtake them.
    pub reorder: Ratio,
}

impl Network {
    /// Creates it.
    pub fn new(
        base: LinkModel,
        overrides: BTreeMap<(NodeId, NodeId), LinkModel>,
        rng: SimRng,
    ) -> Self {
        Network {
            base,
            overrides,
            cuts: BTreeMap::new(),
            degraded: BTreeMap::new(),
            streams: Streams::default(),
            rng,
        }
    }

    /// Starts (`start`) or ends fault number `id` on this network (the network owns its
    /// faults; the loop only says when).
    pub fn fault(&mut self, id: usize, f: &NetFault, start: bool) {
        match f {
            NetFault::Partition { groups } => {
                for (gi, a) in groups.iter().enumerate() {
                    for (gj, b) in groups.iter().enumerate() {
                        if gi == gj {
                            continue;
                        }
                        for x in a {
                            for y in b {
                                self.cut_or_heal(*x, *y, start);
                            }
                        }
                    }
                }
            }
            NetFault::OneWay { from, to } => self.cut_or_heal(*from, *to, start),
            NetFault::Degrade(d) if start => self.degrade(id, d.clone()),
            NetFault::Degrade(_) => self.restore(id),
        }
    }

    fn cut_or_heal(&mut self, from: NodeId, to: NodeId, cut: bool) {
        if cut {
            self.cut(from, to)
        } else {
            self.heal(from, to)
        }
    }

    /// Cuts the directed link (counted: overlapping cuts heal with the last one); its stream
    /// breaks.
    pub fn cut(&mut self, from: NodeId, to: NodeId) {
        *self.cuts.entry((from, to)).or_insert(0) += 1;
        self.break_stream(from, to);
    }

    fn break_stream(&mut self, from: NodeId, to: NodeId) {
        let s = self.streams.entry(from, to);
        *s = (s.0 + 1, SimTime::ZERO);
    }

    /// A member crashed: every stream from or to it that ever carried a message or broke
    /// breaks.
    pub fn member_down(&mut self, node: NodeId) {
        let links: Vec<(NodeId, NodeId)> = self
            .streams
            .links()
            .filter(|(a, b)| *a == node || *b == node)
            .collect();
        for (a, b) in links {
            self.break_stream(a, b);
        }
    }

    /// The current incarnation of the stream from `from` to `to`.
    pub fn stream(&self, from: NodeId, to: NodeId) -> u64 {
        self.streams.get(from, to).map_or(0, |s| s.0)
    }

    /// Ends one cut of the directed link.
    pub fn heal(&mut self, from: NodeId, to: NodeId) {
        let n = self
            .cuts
            .get_mut(&(from, to))
            .expect("heal of a link never cut");
        *n -= 1;
        if *n == 0 {
            self.cuts.remove(&(from, to));
        }
    }

    /// Whether the directed link is cut.
    pub fn is_cut(&self, from: NodeId, to: NodeId) -> bool {
        !self.cuts.is_empty() && self.cuts.contains_key(&(from, to))
    }

    /// Starts degradation number `fault`.
    pub fn degrade(&mut self, fault: usize, d: Degrade) {
        self.degraded.insert(fault, d);
    }

    /// Ends degradation number `fault`.
    pub fn restore(&mut self, fault: usize) {
        self.degraded.remove(&fault);
    }

    /// The one-way latency of a peer HTTP request outside the raft streams (etcd forwards lease
    /// renewals over its pooled peer HTTP client, `leasehttp`): `None` when the link is cut or
    /// the request is lost. It draws from the same link model but has no stream order.
    pub fn peer_request(&mut self, from: NodeId, to: NodeId) -> Option<SimDuration> {
        if self.is_cut(from, to) {
            return None;
        }
        let link = self.link(from, to);
        if self.rng.chance(link.drop) {
            return None;
        }
        let us = self
            .rng
            .between(link.latency_min.as_micros(), link.latency_max.as_micros());
        Some(SimDuration::from_micros(us))
    }

    /// The model of the directed link from `from` to `to`.
    fn link(&self, from: NodeId, to: NodeId) -> LinkModel {
        if self.overrides.is_empty() {
            return self.base; // the common case, asked once per message
        }
        *self.overrides.get(&(from, to)).unwrap_or(&self.base)
    }

    /// Decides the fate of one message from `from` to `to` sent at `now`.
    pub fn route(&mut self, from: NodeId, to: NodeId, now: SimTime) -> Route {
        if self.is_cut(from, to) {
            return Route::Partitioned;
        }
        let link = self.link(from, to);
        let (mut drop, mut dup, mut reorder, mut extra) =
            (link.drop, Ratio::NEVER, Ratio::NEVER, SimDuration::ZERO);
        for d in self.degraded.values() {
            if d.only.is_empty() || d.only.contains(&from) || d.only.contains(&to) {
                drop = max_ratio(drop, d.drop);
                dup = max_ratio(dup, d.duplicate);
                reorder = max_ratio(reorder, d.reorder);
                extra = extra.max(d.extra_latency_max);
            }
        }
        if self.rng.chance(drop) {
            return Route::Lost;
        }
        let duplicated = self.rng.chance(dup);
        let first = self.delivery(from, to, now, &link, (reorder, extra), false);
        let second =
            duplicated.then(|| self.delivery(from, to, now, &link, (reorder, extra), true));
        Route::Deliver(first, second)
    }

    /// One copy: in the stream's order, unless the degradation reorders it or it is a duplicate.
    fn delivery(
        &mut self,
        from: NodeId,
        to: NodeId,
        now: SimTime,
        link: &LinkModel,
        (reorder, extra_max): (Ratio, SimDuration),
        duplicate: bool,
    ) -> Delivery {
        let mut us = self
            .rng
            .between(link.latency_min.as_micros(), link.latency_max.as_micros());
        us += self.rng.between(0, extra_max.as_micros());
        let reordered = self.rng.chance(reorder);
        if reordered {
            let hi = 2 * link.latency_max.as_micros() + 1_000;
            us += self.rng.between(link.latency_max.as_micros(), hi);
        }
        let stream = self.streams.entry(from, to);
        let mut arrival = now + SimDuration::from_micros(us);
        if !reordered && !duplicate {
            arrival = arrival.max(stream.1);
            stream.1 = arrival;
        }
        Delivery {
            after: arrival.since(now),
            stream: stream.0,
        }
    }
}

/// Per directed link that has been used, its stream's incarnation and the arrival time of its
/// last ordered message: a table indexed by member ids (small numbers), as every message looks
/// its stream up.
#[derive(Default)]
struct Streams {
    /// Row `from`, column `to`; `None`: never used.
    rows: Vec<Vec<Option<(u64, SimTime)>>>,
}

impl Streams {
    fn get(&self, from: NodeId, to: NodeId) -> Option<&(u64, SimTime)> {
        self.rows.get(from.0 as usize)?.get(to.0 as usize)?.as_ref()
    }

    /// The stream, first used now if it never was.
    fn entry(&mut self, from: NodeId, to: NodeId) -> &mut (u64, SimTime) {
        let (f, t) = (from.0 as usize, to.0 as usize);
        if self.rows.len() <= f {
            self.rows.resize(f + 1, Vec::new());
        }
        let row = &mut self.rows[f];
        if row.len() <= t {
            row.resize(t + 1, None);
        }
        row[t].get_or_insert((0, SimTime::ZERO))
    }

    /// The links used so far, in (from, to) order.
    fn links(&self) -> impl Iterator<Item = (NodeId, NodeId)> + '_ {
        self.rows.iter().enumerate().flat_map(|(f, row)| {
            row.iter()
                .enumerate()
                .filter_map(move |(t, s)| s.map(|_| (NodeId(f as u64), NodeId(t as u64))))
        })
    }
}

fn max_ratio(a: Ratio, b: Ratio) -> Ratio {
    // Compare a.num/a.den with b.num/b.den without floats.
    if (a.num as u128) * (b.den as u128) >= (b.num as u128) * (a.den as u128) {
        a
    } else {
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::Stream;

    fn net(link: LinkModel) -> Network {
        Network::new(link, BTreeMap::new(), SimRng::fork(1, Stream::Network))
    }

    #[test]
    fn latency_within_bounds() {
        let mut n = net(LinkModel {
            latency_min: SimDuration::from_millis(1),
            latency_max: SimDuration::from_millis(3),
            ..Default::default()
        });
        for _ in 0..1000 {
            match n.route(NodeId(1), NodeId(2), SimTime::ZERO) {
                Route::Deliver(d, copy) => {
                    assert_eq!(copy, None);
                    assert!(
                        d.after >= SimDuration::from_millis(1)
                            && d.after <= SimDuration::from_millis(3)
                    );
                }
                r => panic!("unexpected {r:?}"),
            }
        }
    }

    #[test]
    fn partitions_are_directed_and_counted() {
        let mut n = net(LinkModel::default());
        n.cut(NodeId(1), NodeId(2));
        n.cut(NodeId(1), NodeId(2));
        assert_eq!(
            n.route(NodeId(1), NodeId(2), SimTime::ZERO),
            Route::Partitioned
        );
        assert!(matches!(
            n.route(NodeId(2), NodeId(1), SimTime::ZERO),
            Route::Deliver(..)
        ));
        n.heal(NodeId(1), NodeId(2));
        assert_eq!(
            n.route(NodeId(1), NodeId(2), SimTime::ZERO),
            Route::Partitioned
        );
        n.heal(NodeId(1), NodeId(2));
        assert!(matches!(
            n.route(NodeId(1), NodeId(2), SimTime::ZERO),
            Route::Deliver(..)
        ));
    }

    #[test]
    fn drop_duplicate_reorder_ratios() {
        let mut n = net(LinkModel {
            drop: Ratio { num: 1, den: 10 },
            ..Default::default()
        });
        n.degrade(
            0,
            Degrade {
                only: vec![],
                extra_latency_max: SimDuration::ZERO,
                drop: Ratio::NEVER,
                duplicate: Ratio { num: 1, den: 5 },
                reorder: Ratio { num: 1, den: 2 },
            },
        );
        let (mut lost, mut dup, mut late) = (0, 0, 0);
        for i in 0..10_000 {
            match n.route(NodeId(1), NodeId(2), SimTime(i * 10_000)) {
                Route::Lost => lost += 1,
                Route::Deliver(first, copy) => {
                    dup += copy.is_some() as u32;
                    late += std::iter::once(first)
                        .chain(copy)
                        .filter(|x| x.after > SimDuration::from_millis(2))
                        .count();
                }
                Route::Partitioned => unreachable!(),
            }
        }
        assert!((800..1200).contains(&lost), "lost {lost}");
        assert!((1500..2100).contains(&dup), "dup {dup}");
        assert!(late > 3000, "reordered {late}");
    }

    #[test]
    fn a_stream_delivers_in_send_order_and_a_break_starts_a_new_one() {
        let mut n = net(LinkModel {
            latency_min: SimDuration::from_micros(100),
            latency_max: SimDuration::from_millis(50),
            ..Default::default()
        });
        let mut last = SimTime::ZERO;
        for i in 0..1_000 {
            let now = SimTime(i * 100);
            let Route::Deliver(d, _) = n.route(NodeId(1), NodeId(2), now) else {
                unreachable!()
            };
            let arrival = now + d.after;
            assert!(arrival >= last, "message {i} overtook an earlier one");
            last = arrival;
        }
        let before = n.stream(NodeId(1), NodeId(2));
        n.member_down(NodeId(2));
        assert_eq!(n.stream(NodeId(1), NodeId(2)), before + 1);
        n.cut(NodeId(2), NodeId(1));
        assert_eq!(n.stream(NodeId(2), NodeId(1)), 1);
    }

    /// A crash breaks the streams to and from the member that were ever used, and only those:
    /// a stream first used later starts at incarnation 0, as it always did.
    #[test]
    fn a_crash_breaks_the_used_streams_touching_the_member() {
        let mut n = net(LinkModel::default());
        for (a, b) in [(1, 2), (2, 1), (1, 3), (3, 4)] {
            n.route(NodeId(a), NodeId(b), SimTime::ZERO);
        }
        n.member_down(NodeId(1));
        let stream = |n: &Network, a, b| n.stream(NodeId(a), NodeId(b));
        assert_eq!(
            [(1, 2), (2, 1), (1, 3), (3, 1), (3, 4), (5, 1)].map(|(a, b)| stream(&n, a, b)),
            [1, 1, 1, 0, 0, 0]
        );
        n.member_down(NodeId(1));
        assert_eq!(stream(&n, 1, 3), 2);
        assert_eq!(stream(&n, 3, 1), 0, "never used, never broken");
    }

    #[test]
    fn degradation_applies_to_touching_links_only() {
        let mut n = net(LinkModel::default());
        n.degrade(
            0,
            Degrade {
                only: vec![NodeId(3)],
                extra_latency_max: SimDuration::ZERO,
                drop: Ratio { num: 1, den: 1 },
                duplicate: Ratio::NEVER,
                reorder: Ratio::NEVER,
            },
        );
        assert_eq!(n.route(NodeId(1), NodeId(3), SimTime::ZERO), Route::Lost);
        assert!(matches!(
            n.route(NodeId(1), NodeId(2), SimTime::ZERO),
            Route::Deliver(..)
        ));
        n.restore(0);
        assert!(matches!(
            n.route(NodeId(1), NodeId(3), SimTime::ZERO),
            Route::Deliver(..)
        ));
    }
}
