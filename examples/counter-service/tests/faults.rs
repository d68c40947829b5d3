//! Our counter service under raftsim's generated fault schedules: every history clients saw is
//! linearizable against our model, and every member ends with the same counters.

use counter_service::{Command, CounterModel, Counters, Get};
use proptest::prelude::*;
use raftsim::check::linearizability::Budget;
use raftsim::check::machine::{history, history_with};
use raftsim::check::model::{check_operations, Outcome};
use raftsim::explore::{case_with, Case, CaseConfig};
use raftsim::node::machine::{MachineCall, MachineFactory};
use raftsim::scenario::machine::MachineOp;
use raftsim::{run, NodeId, RunOptions, RunResult, Scenario, SimDuration};

/// One client operation of ours: (client, pinned member or any, what).
type Planned = (u8, Option<u64>, MachineCall<Counters>);

fn call() -> impl Strategy<Value = MachineCall<Counters>> {
    let name = prop_oneof![Just("a"), Just("b")].prop_map(String::from);
    prop_oneof![
        3 => (name.clone(), 1u64..5).prop_map(|(name, n)| MachineCall::Command(Command::Add { name, n })),
        1 => (name.clone(), 0u64..10).prop_map(|(name, expected)| MachineCall::Command(Command::ResetIf { name, expected })),
        2 => name.prop_map(|name| MachineCall::Query { query: Get { name }, linearizable: true }),
    ]
}

fn workload() -> impl Strategy<Value = Vec<Planned>> {
    proptest::collection::vec((0u8..3, proptest::option::of(1u64..=3), call()), 1..40)
}

/// Runs our workload, one operation every 400 ms from 3 s (explore's clusters elect their first
/// leader in the first two seconds), on the case's cluster and faults.
fn run_ours(case: &Case, seed: u64, ops: Vec<Planned>) -> RunResult {
    let file = case.to_scenario_toml(seed, "counter-service");
    let scenario = Scenario::parse(&file, "case.toml").expect("explore renders valid scenarios");
    let ops = ops
        .into_iter()
        .enumerate()
        .map(|(i, (client, pinned, call))| MachineOp {
            at: SimDuration::from_millis(3_000 + 400 * i as u64),
            // A client keeps its endpoints: pinned clients are distinct clients.
            client: format!(
                "counter-{client}-{}",
                pinned.map_or("any".into(), |n| n.to_string())
            ),
            endpoints: pinned.map(NodeId).into_iter().collect(),
            call,
        });
    let scenario = scenario.with_machine_ops(ops).expect("valid operations");
    let opts = RunOptions {
        seed: Some(seed),
        machine: Some(MachineFactory::of::<Counters>()),
        ..Default::default()
    };
    run(&scenario, &opts)
}

fn three_members() -> CaseConfig {
    CaseConfig {
        sizes: vec![(1, 3)],
        max_clients: 1,
        max_ops: 5,
        lease_pct: 0,
        ..Default::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn counters_stay_linearizable_and_converge_under_faults(
        case in case_with(three_members()),
        seed in 1u64..1_000_000,
        ops in workload(),
    ) {
        let r = run_ours(&case, seed, ops);
        prop_assert!(r.violations.is_empty(), "raftsim's oracles: {:?}", r.violations);
        let failed: Vec<String> = r.failed_verdicts().map(|v| format!("{}: {}", v.check, v.detail)).collect();
        prop_assert!(failed.is_empty(), "{failed:?}");
        let h = history::<Counters>(&r);
        match check_operations(&CounterModel, &h, Budget::default()) {
            Outcome::Linearizable | Outcome::Unknown { .. } => {}
            Outcome::NotLinearizable { partition, stuck, .. } => {
                prop_assert!(false, "counter {partition}: none of {stuck:?} can come next");
            }
        }
    }
}

/// Without faults every operation of ours is answered, and the counters add up.
#[test]
fn without_faults_every_operation_is_answered() {
    let mut case = raftsim::explore::case_for_seed(1);
    case.faults.clear();
    let add = |name: &str| {
        MachineCall::Command(Command::Add {
            name: name.into(),
            n: 2,
        })
    };
    let read = MachineCall::Query {
        query: Get { name: "a".into() },
        linearizable: true,
    };
    let ops = vec![
        (0, None, add("a")),
        (1, Some(2), add("a")),
        (2, None, add("b")),
        (0, None, read),
    ];
    let r = run_ours(&case, 1, ops);
    let h = history::<Counters>(&r);
    assert_eq!(h.len(), 4);
    assert!(h.iter().all(|o| o.op.response.is_some()), "{h:?}");
    assert_eq!(h[3].op.response, Some(counter_service::Response::Value(4)));
    assert!(matches!(
        check_operations(&CounterModel, &h, Budget::default()),
        Outcome::Linearizable
    ));
}

/// The model can fail: serializable reads served by a member whose disk stalls are stale, and
/// counting them as linearizable makes the history impossible.
#[test]
fn a_stale_read_from_a_stalled_member_breaks_the_model() {
    let s = Scenario::builtin("etcd-follower-fsync-stall").unwrap();
    let add = |at_ms, n| MachineOp {
        at: SimDuration::from_millis(at_ms),
        client: "writer".into(),
        endpoints: vec![NodeId(2)],
        call: MachineCall::<Counters>::Command(Command::Add {
            name: "a".into(),
            n,
        }),
    };
    let stale_read = MachineOp {
        at: SimDuration::from_millis(16_000),
        client: "reader".into(),
        endpoints: vec![NodeId(1)],
        call: MachineCall::Query {
            query: Get { name: "a".into() },
            linearizable: false,
        },
    };
    let ops = vec![add(5_000, 1), add(12_000, 2), stale_read];
    let s = s.with_machine_ops(ops).unwrap();
    let opts = RunOptions {
        machine: Some(MachineFactory::of::<Counters>()),
        ..Default::default()
    };
    let r = run(&s, &opts);
    let honest = history::<Counters>(&r);
    assert!(matches!(
        check_operations(&CounterModel, &honest, Budget::default()),
        Outcome::Linearizable
    ));
    let with_stale = history_with::<Counters>(&r, true);
    assert!(
        matches!(
            check_operations(&CounterModel, &with_stale, Budget::default()),
            Outcome::NotLinearizable { .. }
        ),
        "the serializable read on the stalled member returned the value before the second add"
    );
}
