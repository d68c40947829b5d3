//! A case as a [`Scenario`] without the TOML round trip: parsing the rendered file was about a
//! seventh of exploration's time. The scenario is exactly the one `Scenario::parse` gives for
//! [`Case::to_scenario_toml`] (a test compares them over many seeds): the parts every case of
//! one shape shares (cluster settings, the liveness phase and its expectations) are parsed once
//! per shape, at a reference heal time, cached, and moved to each case's heal time; the faults
//! and commands are built directly from the same plans the file is rendered from.

use super::{Case, ClientCase, FaultCase, FaultKindCase, LeaseCase, OpCase};
use crate::client::command;
use crate::disk::{DiskFault, IoClass};
use crate::net::{Degrade, NetFault};
use crate::node::NodeFault;
use crate::scenario::{CommandSpec, Fault, FaultKind, Scenario, Target};
use crate::sim::ids::NodeId;
use crate::sim::rng::Ratio;
use crate::sim::time::{SimDuration, SimTime};
use std::cell::RefCell;
use std::collections::BTreeMap;

/// One command of a case, in the order the file lists it.
pub(super) struct CommandPlan {
    pub id: Option<&'static str>,
    pub at: u64,
    pub run: String,
    pub endpoints: Vec<u64>,
    pub session: Option<String>,
    pub quiet: bool,
}

impl CommandPlan {
    /// Shown in the timeline, without a session.
    fn plain(id: Option<&'static str>, at: u64, run: String, endpoints: Vec<u64>) -> Self {
        CommandPlan {
            id,
            at,
            run,
            endpoints,
            session: None,
            quiet: false,
        }
    }
}

/// The heal time every cached shape is parsed with ([`Case::shape`]).
const REFERENCE_HEAL_MS: u64 = 20_000;

thread_local! {
    /// Parsed shapes, by their text (a cache: lookups only, never iterated).
    static SHAPES: RefCell<BTreeMap<String, Scenario>> = const { RefCell::new(BTreeMap::new()) };
}

fn at_ms(ms: u64) -> SimTime {
    SimTime::ZERO + SimDuration::from_millis(ms)
}

impl Case {
    /// The case as the scenario `raftsim run` would parse from [`Case::to_scenario_toml`].
    pub fn to_scenario(&self, seed: u64) -> Scenario {
        let mut s = self.shape();
        s.name = format!("explore-seed-{seed}");
        s.seed = seed;
        let start = self.start_fault().map(|(at, node)| Fault {
            at: at_ms(at),
            until: None,
            kind: FaultKind::Member {
                node: Target::Node(NodeId(node)),
                fault: NodeFault::Start,
            },
        });
        s.faults = start
            .into_iter()
            .chain(self.faults.iter().filter_map(|f| self.fault(f)))
            .collect();
        let timeout = s.client.command_timeout;
        let mut commands: Vec<CommandSpec> = self
            .command_plans()
            .into_iter()
            .map(|c| CommandSpec {
                id: c.id.map(String::from),
                at: at_ms(c.at),
                command: command::parse(&c.run).expect("explore renders valid commands"),
                text: c.run,
                endpoints: c.endpoints.into_iter().map(NodeId).collect(),
                session: c.session,
                timeout,
                quiet: c.quiet,
            })
            .collect();
        // The shape's own (liveness) commands: `move_heal` made them this scenario's alone.
        commands.extend(std::sync::Arc::unwrap_or_clone(std::mem::take(
            &mut s.commands,
        )));
        commands.sort_by_key(|c| c.at); // stable, as the validator sorts
        s.commands = commands.into();
        s
    }

    /// The scenario of this case's shape (settings and liveness phase, no faults or commands
    /// of its own). Shapes are parsed once, with the faults healing at a reference time and
    /// without snapshot settings, then moved to the case's own heal time and given its
    /// snapshot settings (both vary from case to case far more than the other settings: a
    /// snapshot setting is one of 396, and parsing a shape costs about 2% of a seed).
    fn shape(&self) -> Scenario {
        let text = format!(
            "{}{}",
            self.head_at(0, "", REFERENCE_HEAL_MS, None),
            self.liveness_at(REFERENCE_HEAL_MS)
        );
        let mut s = SHAPES.with(|m| {
            m.borrow_mut()
                .entry(text)
                .or_insert_with_key(|t| {
                    Scenario::parse(t, "explore-shape.toml").expect("explore renders valid files")
                })
                .clone()
        });
        self.move_heal(&mut s);
        if let Some((count, catchup)) = self.snapshots {
            // What `snapshot_count` and `snapshot_catchup_entries` in the file set.
            s.cluster.snapshot_count = count;
            s.cluster.snapshot_catchup_entries = catchup;
        }
        s
    }

    /// Moves a shape parsed with the reference heal time to this case's: the duration, the
    /// description and the liveness commands are the only parts that name it.
    fn move_heal(&self, s: &mut Scenario) {
        let (heal, write, read, end) = super::phases_at(self.heal_ms);
        s.duration = SimDuration::from_millis(end);
        s.description = super::description(self.heal_ms);
        for c in std::sync::Arc::make_mut(&mut s.commands) {
            c.at = at_ms(match c.id.as_deref() {
                Some("live-read-at-heal") => heal,
                Some("live-write") => write,
                Some("live-read") => read,
                other => unreachable!("a shape holds only liveness commands, not {other:?}"),
            });
        }
    }

    /// The `start` of the spare machine, if the case changes membership: (when, which).
    pub(super) fn start_fault(&self) -> Option<(u64, u64)> {
        self.membership
            .as_ref()
            .map(|m| (m.start_ms, self.nodes + 1))
    }

    /// The case's own commands (membership, clients, lease), in file order.
    pub(super) fn command_plans(&self) -> Vec<CommandPlan> {
        let mut out = Vec::new();
        self.membership_commands(&mut out);
        for (c, cl) in self.clients.iter().enumerate() {
            self.client_commands(&mut out, c, cl);
        }
        if let Some(l) = &self.lease {
            self.lease_commands(&mut out, l);
        }
        out
    }

    fn all(&self) -> Vec<u64> {
        (1..=self.nodes).collect()
    }

    fn membership_commands(&self, out: &mut Vec<CommandPlan>) {
        let Some(m) = &self.membership else { return };
        let spare = self.nodes + 1;
        let mut cmd =
            |at: u64, run: String| out.push(CommandPlan::plain(None, at, run, self.all()));
        if let Some((node, at)) = m.remove {
            cmd(at, format!("member remove etcd-{node}"));
        }
        let learner = if m.learner { " --learner" } else { "" };
        cmd(m.add_ms, format!("member add etcd-{spare}{learner}"));
        if m.learner && m.promote_ms < self.heal_ms {
            cmd(m.promote_ms, format!("member promote etcd-{spare}"));
        }
    }

    fn client_commands(&self, out: &mut Vec<CommandPlan>, c: usize, cl: &ClientCase) {
        let endpoints = cl.pinned.map_or_else(|| self.all(), |n| vec![n]);
        for (i, o) in cl.ops.iter().enumerate() {
            let at = 1_000 + i as u64 * cl.gap_ms;
            if at >= self.heal_ms {
                break;
            }
            let run = match o {
                OpCase::Put(k) => format!("put k{k} c{c}-{i}"),
                OpCase::Get(k) => format!("get k{k}"),
                OpCase::SerializableGet(k) => format!("get k{k} --consistency=s"),
                OpCase::Del(k) => format!("del k{k}"),
                OpCase::CasValue(k, v) => format!(
                    "txn k{k} --if-value=c{}-{} --then-put=c{c}-{i}",
                    v % 4,
                    v / 4
                ),
                OpCase::CasRev(k, r) => format!("txn k{k} --if-mod-rev={r} --then-put=c{c}-{i}"),
            };
            out.push(CommandPlan {
                id: None,
                at,
                run,
                endpoints: endpoints.clone(),
                session: Some(format!("client-{c}")),
                quiet: true,
            });
        }
    }

    fn lease_commands(&self, out: &mut Vec<CommandPlan>, l: &LeaseCase) {
        let mut cmd = |id: Option<&'static str>, at: u64, run: String, endpoints: Vec<u64>| {
            out.push(CommandPlan {
                quiet: true,
                ..CommandPlan::plain(id, at, run, endpoints)
            })
        };
        let (wk, wl) = l.watch_nodes;
        cmd(Some("watch-k"), 900, "watch k --prefix".into(), vec![wk]);
        cmd(Some("watch-l"), 900, "watch l --prefix".into(), vec![wl]);
        let grant = format!("lease grant {}", l.ttl_s);
        cmd(Some("lease"), 1_000, grant, self.all());
        let pinned = l.keepalive_pinned.map_or_else(|| self.all(), |n| vec![n]);
        cmd(None, 1_200, "lease keep-alive lease".into(), pinned);
        for (i, k) in l.puts.iter().enumerate() {
            let at = 2_000 + 700 * i as u64;
            if at < self.heal_ms {
                let put = format!("put l{k} lease-{i} --lease=lease");
                cmd(None, at, put, self.all());
            }
        }
        if let Some(at) = l.revoke_ms {
            cmd(None, at, "lease revoke lease".into(), self.all());
        }
    }

    /// One fault as the validator builds it from the rendered table (`None`: its window is
    /// empty after the heal cut, and it is not rendered).
    fn fault(&self, f: &FaultCase) -> Option<Fault> {
        let at = 1_000 + f.start_ms;
        let until = (at + f.len_ms).min(self.heal_ms);
        if until <= at {
            return None;
        }
        let node = |n: u64| Target::Node(NodeId(n));
        let member = |n: Target, fault: NodeFault| FaultKind::Member { node: n, fault };
        let pct = |num: u64| Ratio { num, den: 100 };
        let kind = match &f.kind {
            FaultKindCase::Partition(minority) => {
                let ids = |v: Vec<u64>| v.into_iter().map(NodeId).collect::<Vec<_>>();
                let rest = (1..=self.nodes).filter(|n| !minority.contains(n)).collect();
                let groups = vec![ids(minority.clone()), ids(rest)];
                FaultKind::Network(NetFault::Partition { groups })
            }
            FaultKindCase::OneWay(a, b) => FaultKind::Network(NetFault::OneWay {
                from: NodeId(*a),
                to: NodeId(*b),
            }),
            FaultKindCase::Degrade {
                drop_pct,
                dup_pct,
                reorder_pct,
                delay_ms,
            } => FaultKind::Network(NetFault::Degrade(Degrade {
                only: vec![],
                extra_latency_max: SimDuration::from_millis(*delay_ms),
                drop: pct(*drop_pct),
                duplicate: pct(*dup_pct),
                reorder: pct(*reorder_pct),
            })),
            FaultKindCase::DiskStall { node: n, io } => {
                member(node(*n), NodeFault::Disk(DiskFault::Stall(*io)))
            }
            FaultKindCase::DiskSlow {
                node: n,
                latency_ms,
            } => member(
                node(*n),
                NodeFault::Disk(DiskFault::Slow {
                    io: IoClass::Wal,
                    latency_min: SimDuration::from_millis(1),
                    latency_max: SimDuration::from_millis(*latency_ms),
                }),
            ),
            // With an end, every fsync in the window fails.
            FaultKindCase::FsyncError(n) => member(
                node(*n),
                NodeFault::Disk(DiskFault::FsyncError { once: false }),
            ),
            FaultKindCase::Crash(n) => member(node(*n), NodeFault::Crash),
            FaultKindCase::Pause(n) => member(node(*n), NodeFault::Pause),
            FaultKindCase::ClockDrift {
                node: n,
                speed_permille,
            } => member(
                n.map_or(Target::Leader, node),
                NodeFault::ClockDrift {
                    speed_permille: *speed_permille,
                },
            ),
        };
        Some(Fault {
            at: at_ms(at),
            until: Some(at_ms(until)),
            kind,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{case_for_seed, case_with, CaseConfig};
    use super::*;
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::TestRunner;

    fn same(c: &Case, seed: u64) {
        let built = c.to_scenario(seed);
        let parsed = Scenario::parse(&c.to_scenario_toml(seed, "a header"), "x.toml").unwrap();
        assert_eq!(
            serde_json::to_string(&built).unwrap(),
            serde_json::to_string(&parsed).unwrap(),
            "seed {seed}"
        );
    }

    #[test]
    fn built_scenarios_equal_parsed_ones() {
        for seed in 0..400 {
            same(&case_for_seed(seed), seed);
        }
        // Every part at once: leases, snapshots and membership in every case.
        let config = CaseConfig {
            lease_pct: 100,
            snapshot_pct: 100,
            membership_pct: 100,
            ..CaseConfig::default()
        };
        let mut runner = TestRunner::deterministic();
        let strategy = case_with(config);
        for seed in 0..100 {
            same(&strategy.new_tree(&mut runner).unwrap().current(), seed);
        }
    }
}
