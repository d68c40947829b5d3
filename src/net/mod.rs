//! Virtual network between members.
//!
//! Models: per-link one-way latency drawn uniformly from `[latency_min, latency_max]`; random
//! loss, duplication and reordering as integer ratios; symmetric and one-way partitions and
//! temporary degradation windows, all switched on and off by scheduled faults.
//!
//! Fault model: a message is judged twice, when sent (loss, duplication, extra reorder delay, cut
//! link) and when it arrives (a link cut while the message was in flight drops it, as a TCP
//! connection reset would). Reordering holds a message back by an extra delay between
//! `latency_max` and `2 * latency_max + 1ms`, so later messages overtake it. Nothing survives a
//! crash of the receiver: messages arriving at a crashed member are dropped.
//!
//! Invariants: every decision draws from the network's own RNG stream; cut links are counted, so
//! overlapping partitions heal only when the last one ends.

use crate::sim::ids::NodeId;
use crate::sim::rng::{Ratio, SimRng};
use crate::sim::time::SimDuration;
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
    /// Share of messages delivered twice.
    pub duplicate: Ratio,
    /// Share of messages held back so later ones overtake them.
    pub reorder: Ratio,
}

impl Default for LinkModel {
    fn default() -> Self {
        LinkModel {
            latency_min: SimDuration::from_micros(500),
            latency_max: SimDuration::from_millis(2),
            drop: Ratio::NEVER,
            duplicate: Ratio::NEVER,
            reorder: Ratio::NEVER,
        }
    }
}

/// What the network decided for one message.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// Deliver after each of these delays (two entries when duplicated).
    Deliver(Vec<SimDuration>),
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

    /// Cuts the directed link (counted: overlapping cuts heal with the last one).
    pub fn cut(&mut self, from: NodeId, to: NodeId) {
        *self.cuts.entry((from, to)).or_insert(0) += 1;
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
        self.cuts.contains_key(&(from, to))
    }

    /// Starts degradation number `fault`.
    pub fn degrade(&mut self, fault: usize, d: Degrade) {
        self.degraded.insert(fault, d);
    }

    /// Ends degradation number `fault`.
    pub fn restore(&mut self, fault: usize) {
        self.degraded.remove(&fault);
    }

    /// Decides the fate of one message from `from` to `to`.
    pub fn route(&mut self, from: NodeId, to: NodeId) -> Route {
        if self.is_cut(from, to) {
            return Route::Partitioned;
        }
        let link = *self.overrides.get(&(from, to)).unwrap_or(&self.base);
        let (mut drop, mut dup, mut reorder, mut extra) =
            (link.drop, link.duplicate, link.reorder, SimDuration::ZERO);
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
        let copies = if self.rng.chance(dup) { 2 } else { 1 };
        let delays = (0..copies)
            .map(|_| self.delay(&link, reorder, extra))
            .collect();
        Route::Deliver(delays)
    }

    fn delay(&mut self, link: &LinkModel, reorder: Ratio, extra_max: SimDuration) -> SimDuration {
        let mut us = self
            .rng
            .between(link.latency_min.as_micros(), link.latency_max.as_micros());
        us += self.rng.between(0, extra_max.as_micros());
        if self.rng.chance(reorder) {
            let hi = 2 * link.latency_max.as_micros() + 1_000;
            us += self.rng.between(link.latency_max.as_micros(), hi);
        }
        SimDuration::from_micros(us)
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
            match n.route(NodeId(1), NodeId(2)) {
                Route::Deliver(d) => {
                    assert_eq!(d.len(), 1);
                    assert!(
                        d[0] >= SimDuration::from_millis(1) && d[0] <= SimDuration::from_millis(3)
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
        assert_eq!(n.route(NodeId(1), NodeId(2)), Route::Partitioned);
        assert!(matches!(n.route(NodeId(2), NodeId(1)), Route::Deliver(_)));
        n.heal(NodeId(1), NodeId(2));
        assert_eq!(n.route(NodeId(1), NodeId(2)), Route::Partitioned);
        n.heal(NodeId(1), NodeId(2));
        assert!(matches!(n.route(NodeId(1), NodeId(2)), Route::Deliver(_)));
    }

    #[test]
    fn drop_duplicate_reorder_ratios() {
        let mut n = net(LinkModel {
            drop: Ratio { num: 1, den: 10 },
            duplicate: Ratio { num: 1, den: 5 },
            reorder: Ratio { num: 1, den: 2 },
            ..Default::default()
        });
        let (mut lost, mut dup, mut late) = (0, 0, 0);
        for _ in 0..10_000 {
            match n.route(NodeId(1), NodeId(2)) {
                Route::Lost => lost += 1,
                Route::Deliver(d) => {
                    dup += (d.len() == 2) as u32;
                    late += d
                        .iter()
                        .filter(|x| **x > SimDuration::from_millis(2))
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
        assert_eq!(n.route(NodeId(1), NodeId(3)), Route::Lost);
        assert!(matches!(n.route(NodeId(1), NodeId(2)), Route::Deliver(_)));
        n.restore(0);
        assert!(matches!(n.route(NodeId(1), NodeId(3)), Route::Deliver(_)));
    }
}
