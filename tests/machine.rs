//! A state machine of the user's own, from the public API only: a register replicated under a
//! leader crash and restart, its history checked against the user's model.

use raftsim::check::linearizability::Budget;
use raftsim::check::machine::{history, MachineRecord};
use raftsim::check::model::{check_operations, Model, Outcome};
use raftsim::node::machine::{MachineCall, MachineFactory, StateMachine};
use raftsim::scenario::machine::MachineOp;
use raftsim::{run, NodeId, RunOptions, Scenario, SimDuration};

/// A register: writes answer the previous value, reads the current one.
#[derive(Default)]
struct Register(u32);

impl StateMachine for Register {
    type Command = u32;
    type Query = ();
    type Response = u32;
    fn apply(&mut self, v: &u32) -> u32 {
        std::mem::replace(&mut self.0, *v)
    }
    fn query(&self, _: &()) -> u32 {
        self.0
    }
    fn fingerprint(&self) -> String {
        self.0.to_string()
    }
}

struct RegisterModel;

impl Model for RegisterModel {
    type State = u32;
    type Op = MachineRecord<Register>;
    fn init(&self) -> u32 {
        0
    }
    fn step(&self, s: &u32, op: &Self::Op) -> Vec<u32> {
        let (next, answer) = match &op.call {
            MachineCall::Command(v) => (*v, *s),
            MachineCall::Query { .. } => (*s, *s),
        };
        match op.response {
            Some(seen) if seen != answer => vec![],
            _ => vec![next],
        }
    }
}

fn ops() -> Vec<MachineOp<Register>> {
    (0..60u32)
        .map(|i| MachineOp {
            at: SimDuration::from_millis(2_000 + 250 * i as u64),
            client: format!("c{}", i % 3),
            endpoints: vec![NodeId(1 + (i % 3) as u64)],
            call: if i % 4 == 3 {
                MachineCall::Query {
                    query: (),
                    linearizable: true,
                }
            } else {
                MachineCall::Command(i + 1)
            },
        })
        .collect()
}

#[test]
fn a_register_survives_a_leader_crash_and_its_history_is_linearizable() {
    let s = Scenario::builtin("etcd-leader-crash")
        .unwrap()
        .with_machine_ops(ops())
        .unwrap();
    let opts = RunOptions {
        machine: Some(MachineFactory::of::<Register>()),
        ..Default::default()
    };
    let r = run(&s, &opts);
    assert!(r.passed(), "{}", raftsim::report::timeline::render(&r));
    let fingerprints: Vec<&Option<String>> = r.nodes.iter().map(|n| &n.machine).collect();
    assert!(
        fingerprints.windows(2).all(|w| w[0] == w[1]),
        "{fingerprints:?}"
    );
    let h = history::<Register>(&r);
    assert!(h.iter().filter(|o| o.op.response.is_some()).count() > 30);
    let answer = check_operations(&RegisterModel, &h, Budget::default());
    assert!(matches!(answer, Outcome::Linearizable), "{answer:?}");
}

#[test]
fn bad_operations_are_refused_with_their_position() {
    let s = Scenario::builtin("etcd-leader-crash").unwrap();
    let mut bad = ops();
    bad[7].endpoints = vec![NodeId(9)];
    let e = s.clone().with_machine_ops(bad).unwrap_err().to_string();
    assert!(
        e.contains("machine operation 7") && e.contains("1..=3"),
        "{e}"
    );
    let mut late = ops();
    late[2].at = SimDuration::from_secs(3_600);
    let e = s.with_machine_ops(late).unwrap_err().to_string();
    assert!(
        e.contains("machine operation 2") && e.contains("after the end"),
        "{e}"
    );
}
