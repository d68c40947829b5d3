//! Your own state machine, replicated by raftsim's members next to the etcd-like store.
//!
//! A service built on raft-rs applies committed entries to a state machine and answers reads
//! from it. Implement [`StateMachine`] for yours and give [`MachineFactory::of`] to
//! [`crate::RunOptions`]: every member then builds one (again after each restart, replaying its
//! durable log into it), applies your commands when raft commits them (in log order, once each,
//! under every fault of the scenario) and answers your queries, linearizable ones through
//! ReadIndex as etcd's reads, serializable ones from local state at once. Clients issue your
//! operations as scenario commands ([`crate::Scenario::with_machine_ops`]); each is recorded in
//! the history with what it answered, ready for your `check::model::Model`
//! (`check::machine::history`); the `converged` check compares members'
//! [`StateMachine::fingerprint`]s.
//!
//! Commands, queries and responses cross the simulated network as JSON (serde), as entry data
//! and RPC payloads cross a real one as bytes.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;
use std::sync::Arc;

/// A deterministic state machine: the same commands in the same order give the same state.
pub trait StateMachine: 'static {
    /// What a client asks to change (goes through raft).
    type Command: Serialize + DeserializeOwned + Clone + Debug + PartialEq;
    /// What a client asks to read.
    type Query: Serialize + DeserializeOwned + Clone + Debug + PartialEq;
    /// What the machine answers to either.
    type Response: Serialize + DeserializeOwned + Clone + Debug + PartialEq;

    /// Applies a committed command.
    fn apply(&mut self, command: &Self::Command) -> Self::Response;

    /// Answers a query from the current state.
    fn query(&self, query: &Self::Query) -> Self::Response;

    /// The whole state in a canonical text form: converged members have equal fingerprints.
    fn fingerprint(&self) -> String;

    /// The whole state as bytes for a snapshot, or `None` (the default) if the machine cannot be
    /// snapshotted: then members never compact their logs (`cluster.snapshot_count` is ignored).
    fn snapshot(&self) -> Option<Vec<u8>> {
        None
    }

    /// The state [`StateMachine::snapshot`] wrote, restored into a fresh machine.
    fn restore(&mut self, _snapshot: &[u8]) {
        unreachable!("restore is only called with a snapshot this machine wrote")
    }
}

/// A state machine behind bytes, as a member holds it.
pub trait ErasedMachine {
    /// Applies a command given as JSON; answers JSON.
    fn apply_json(&mut self, command: &[u8]) -> Vec<u8>;
    /// Answers a query given as JSON with JSON.
    fn query_json(&self, query: &[u8]) -> Vec<u8>;
    /// [`StateMachine::fingerprint`].
    fn fingerprint(&self) -> String;
    /// [`StateMachine::snapshot`].
    fn snapshot(&self) -> Option<Vec<u8>>;
    /// [`StateMachine::restore`].
    fn restore(&mut self, snapshot: &[u8]);
}

struct Typed<M>(M);

impl<M: StateMachine> ErasedMachine for Typed<M> {
    fn apply_json(&mut self, command: &[u8]) -> Vec<u8> {
        let c: M::Command = serde_json::from_slice(command).expect("a command raftsim encoded");
        serde_json::to_vec(&self.0.apply(&c)).expect("a response encodes")
    }
    fn query_json(&self, query: &[u8]) -> Vec<u8> {
        let q: M::Query = serde_json::from_slice(query).expect("a query raftsim encoded");
        serde_json::to_vec(&self.0.query(&q)).expect("a response encodes")
    }
    fn fingerprint(&self) -> String {
        self.0.fingerprint()
    }
    fn snapshot(&self) -> Option<Vec<u8>> {
        self.0.snapshot()
    }
    fn restore(&mut self, snapshot: &[u8]) {
        self.0.restore(snapshot)
    }
}

/// Builds a fresh state machine for a member (at start and after every restart).
#[derive(Clone)]
pub struct MachineFactory {
    make: Arc<dyn Fn() -> Box<dyn ErasedMachine> + Send + Sync>,
    name: &'static str,
}

impl MachineFactory {
    /// Members run `M::default()`.
    pub fn of<M: StateMachine + Default>() -> MachineFactory {
        MachineFactory {
            make: Arc::new(|| Box::new(Typed(M::default()))),
            name: std::any::type_name::<M>(),
        }
    }

    /// A fresh machine.
    pub fn build(&self) -> Box<dyn ErasedMachine> {
        (self.make)()
    }
}

impl Debug for MachineFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MachineFactory({})", self.name)
    }
}

/// One operation of yours, as a client issues it.
pub enum MachineCall<M: StateMachine> {
    /// A command, through raft.
    Command(M::Command),
    /// A query; `linearizable` goes through ReadIndex, otherwise it is served from the member's
    /// local state (possibly stale).
    Query {
        /// The query.
        query: M::Query,
        /// Through ReadIndex (etcd's default for reads).
        linearizable: bool,
    },
}

impl<M: StateMachine> Clone for MachineCall<M> {
    fn clone(&self) -> Self {
        match self {
            MachineCall::Command(c) => MachineCall::Command(c.clone()),
            MachineCall::Query {
                query,
                linearizable,
            } => MachineCall::Query {
                query: query.clone(),
                linearizable: *linearizable,
            },
        }
    }
}

impl<M: StateMachine> PartialEq for MachineCall<M> {
    fn eq(&self, o: &Self) -> bool {
        match (self, o) {
            (MachineCall::Command(a), MachineCall::Command(b)) => a == b,
            (
                MachineCall::Query {
                    query: a,
                    linearizable: x,
                },
                MachineCall::Query {
                    query: b,
                    linearizable: y,
                },
            ) => a == b && x == y,
            _ => false,
        }
    }
}

impl<M: StateMachine> Debug for MachineCall<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MachineCall::Command(c) => write!(f, "{c:?}"),
            MachineCall::Query {
                query,
                linearizable: true,
            } => write!(f, "read {query:?}"),
            MachineCall::Query { query, .. } => write!(f, "serializable read {query:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Counter(u64);
    impl StateMachine for Counter {
        type Command = u64;
        type Query = ();
        type Response = u64;
        fn apply(&mut self, add: &u64) -> u64 {
            self.0 += add;
            self.0
        }
        fn query(&self, _: &()) -> u64 {
            self.0
        }
        fn fingerprint(&self) -> String {
            self.0.to_string()
        }
    }

    #[test]
    fn a_factory_builds_fresh_machines_that_speak_json() {
        let f = MachineFactory::of::<Counter>();
        let mut m = f.build();
        assert_eq!(m.apply_json(b"2"), b"2");
        assert_eq!(m.apply_json(b"3"), b"5");
        assert_eq!(m.query_json(b"null"), b"5");
        assert_eq!(f.build().fingerprint(), "0");
        assert!(format!("{f:?}").contains("Counter"));
    }
}
