//! Operations of your own state machine as scenario commands (see [`crate::node::machine`]).

use super::{CommandSpec, Scenario, ScenarioError, MAX_COMMANDS};
use crate::client::command::Command;
use crate::node::kv::KvOp;
use crate::node::machine::{MachineCall, StateMachine};
use crate::node::rpc::ServerOp;
use crate::sim::ids::NodeId;
use crate::sim::time::{SimDuration, SimTime};

/// One operation a client of yours issues.
pub struct MachineOp<M: StateMachine> {
    /// When, from the start of the run.
    pub at: SimDuration,
    /// The client (a long-lived session: its operations never overlap, as one client's).
    pub client: String,
    /// The members it may use (empty: all), round-robin as etcd's clients do.
    pub endpoints: Vec<NodeId>,
    /// What it asks.
    pub call: MachineCall<M>,
}

impl Scenario {
    /// Adds your operations as commands (each recorded in the history with what it answered).
    /// Run the result with [`crate::RunOptions::machine`] set to the same state machine.
    ///
    /// Errors: an operation after the end of the run, a member that does not exist, a client used
    /// with two different endpoint lists, or more than the scenario's command limit.
    pub fn with_machine_ops<M: StateMachine>(
        mut self,
        ops: impl IntoIterator<Item = MachineOp<M>>,
    ) -> Result<Scenario, ScenarioError> {
        let all: Vec<NodeId> = self.node_ids();
        let mut clients: std::collections::BTreeMap<String, Vec<NodeId>> = Default::default();
        for (i, o) in ops.into_iter().enumerate() {
            let err = |message: String| ScenarioError::MachineOp { index: i, message };
            let at = SimTime::ZERO + o.at;
            if o.at > self.duration {
                return Err(err(format!(
                    "at {at} is after the end of the run ({})",
                    self.duration
                )));
            }
            if let Some(n) = o.endpoints.iter().find(|n| !all.contains(n)) {
                return Err(err(format!(
                    "member {} does not exist; members are 1..={}",
                    n.0,
                    all.len()
                )));
            }
            let endpoints = if o.endpoints.is_empty() {
                all.clone()
            } else {
                o.endpoints.clone()
            };
            let first = clients
                .entry(o.client.clone())
                .or_insert_with(|| endpoints.clone());
            if *first != endpoints {
                return Err(err(format!(
                    "client `{}` was first used with other endpoints; a client keeps its endpoints",
                    o.client
                )));
            }
            if self.commands.len() >= MAX_COMMANDS {
                return Err(err(format!(
                    "a scenario runs at most {MAX_COMMANDS} commands"
                )));
            }
            let commands = std::sync::Arc::make_mut(&mut self.commands);
            commands.push(spec(&o, at, endpoints, self.client.command_timeout));
        }
        // Stable: same-time commands keep their order.
        std::sync::Arc::make_mut(&mut self.commands).sort_by_key(|c| c.at);
        Ok(self)
    }
}

fn spec<M: StateMachine>(
    o: &MachineOp<M>,
    at: SimTime,
    endpoints: Vec<NodeId>,
    timeout: SimDuration,
) -> CommandSpec {
    let json = |v: &dyn erased_json::Json| v.json();
    let (text, op) = match &o.call {
        MachineCall::Command(c) => {
            let command = json(c);
            (
                format!("command {command}"),
                ServerOp::write(KvOp::Machine { command }),
            )
        }
        MachineCall::Query {
            query,
            linearizable,
        } => {
            let query = json(query);
            let serializable = !linearizable;
            (
                format!("query {query}"),
                ServerOp::MachineQuery {
                    query,
                    serializable,
                },
            )
        }
    };
    CommandSpec {
        id: Some(format!("machine:{}", o.client)),
        at,
        text,
        command: Command::Kv { op },
        endpoints,
        session: Some(o.client.clone()),
        timeout,
        quiet: true,
    }
}

mod erased_json {
    /// Anything serde can write as JSON.
    pub trait Json {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> String {
            serde_json::to_string(self).expect("a state machine's types encode as JSON")
        }
    }
}
