//! A service of our own built on Raft: named counters with add and compare-and-reset, and its
//! sequential model. Nothing here knows about raftsim's key-value store: raftsim replicates
//! [`Counters`] on every member, and [`CounterModel`] checks what clients saw.

use raftsim::check::machine::MachineRecord;
use raftsim::check::model::Model;
use raftsim::node::machine::{MachineCall, StateMachine};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a client asks to change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Adds `n` to counter `name`; answers the new value.
    Add { name: String, n: u64 },
    /// Sets counter `name` to 0 if it holds `expected`; answers whether it did.
    ResetIf { name: String, expected: u64 },
}

/// What a client asks to read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Get {
    /// The counter.
    pub name: String,
}

/// What the service answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// A counter's value.
    Value(u64),
    /// Whether a compare-and-reset happened.
    Reset(bool),
}

/// The replicated state: counters by name.
#[derive(Default)]
pub struct Counters(BTreeMap<String, u64>);

impl StateMachine for Counters {
    type Command = Command;
    type Query = Get;
    type Response = Response;

    fn apply(&mut self, c: &Command) -> Response {
        match c {
            Command::Add { name, n } => {
                let v = self.0.entry(name.clone()).or_default();
                *v += n;
                Response::Value(*v)
            }
            Command::ResetIf { name, expected } => {
                let v = self.0.entry(name.clone()).or_default();
                let hit = *v == *expected;
                if hit {
                    *v = 0;
                }
                Response::Reset(hit)
            }
        }
    }

    fn query(&self, q: &Get) -> Response {
        Response::Value(self.0.get(&q.name).copied().unwrap_or(0))
    }

    fn fingerprint(&self) -> String {
        format!("{:?}", self.0)
    }
}

/// The sequential specification of one counter (the history is split by counter name).
pub struct CounterModel;

impl Model for CounterModel {
    type State = u64;
    type Op = MachineRecord<Counters>;

    fn init(&self) -> u64 {
        0
    }

    fn step(&self, v: &u64, op: &Self::Op) -> Vec<u64> {
        let seen = op.response.as_ref();
        let (next, answer) = match &op.call {
            MachineCall::Command(Command::Add { n, .. }) => (v + n, Response::Value(v + n)),
            MachineCall::Command(Command::ResetIf { expected, .. }) => {
                let hit = v == expected;
                (if hit { 0 } else { *v }, Response::Reset(hit))
            }
            MachineCall::Query { .. } => (*v, Response::Value(*v)),
        };
        match seen {
            Some(s) if *s != answer => vec![],
            _ => vec![next],
        }
    }

    fn partition(&self, op: &Self::Op) -> String {
        match &op.call {
            MachineCall::Command(Command::Add { name, .. })
            | MachineCall::Command(Command::ResetIf { name, .. }) => name.clone(),
            MachineCall::Query { query, .. } => query.name.clone(),
        }
    }
}
