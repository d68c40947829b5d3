//! The history of your own state machine's operations, typed, for your [`Model`](super::model).

use super::model::Operation;
use crate::client::{HistoryOp, Outcome};
use crate::node::kv::{KvOp, KvResult};
use crate::node::machine::{MachineCall, StateMachine};
use crate::node::rpc::{ReplyBody, ServerOp};
use crate::record::Record;
use std::fmt;

/// One operation of yours and what it answered (`None`: its client never learnt it).
pub struct MachineRecord<M: StateMachine> {
    /// What was asked.
    pub call: MachineCall<M>,
    /// What was answered.
    pub response: Option<M::Response>,
}

impl<M: StateMachine> Clone for MachineRecord<M> {
    fn clone(&self) -> Self {
        MachineRecord {
            call: self.call.clone(),
            response: self.response.clone(),
        }
    }
}

impl<M: StateMachine> PartialEq for MachineRecord<M> {
    fn eq(&self, o: &Self) -> bool {
        self.call == o.call && self.response == o.response
    }
}

impl<M: StateMachine> fmt::Debug for MachineRecord<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} -> {:?}", self.call, self.response)
    }
}

/// Your operations in a run's history, ready for [`super::model::check_operations`]: commands
/// whose client saw a timeout or an error have an unknown outcome (no completion, no response);
/// queries that failed are left out (they changed nothing and observed nothing), and so are
/// serializable queries (stale by design, not linearizable).
pub fn history<M: StateMachine>(r: &Record) -> Vec<Operation<MachineRecord<M>>> {
    history_with::<M>(r, false)
}

/// As [`history`], with serializable queries too when `serializable` (to show that they are not
/// linearizable: a stale one makes the history fail your model).
pub fn history_with<M: StateMachine>(
    r: &Record,
    serializable: bool,
) -> Vec<Operation<MachineRecord<M>>> {
    r.history
        .iter()
        .filter_map(|h| operation::<M>(h, serializable))
        .collect()
}

fn operation<M: StateMachine>(
    h: &HistoryOp,
    with_serializable: bool,
) -> Option<Operation<MachineRecord<M>>> {
    let call = match &h.kind {
        ServerOp::Write { op } => match &**op {
            KvOp::Machine { command } => MachineCall::Command(decode(command)),
            _ => return None,
        },
        ServerOp::MachineQuery {
            query,
            serializable,
        } if with_serializable || !serializable => MachineCall::Query {
            query: decode(query),
            linearizable: !serializable,
        },
        _ => return None,
    };
    let response = match (&h.outcome, &h.reply) {
        (
            Outcome::Ok,
            Some(ReplyBody::Kv {
                result: KvResult::Machine { response },
                ..
            }),
        ) => Some(decode(response)),
        _ => None,
    };
    if response.is_none() && matches!(call, MachineCall::Query { .. }) {
        return None;
    }
    Some(Operation {
        client: h.client.0,
        invoke_us: h.invoked.as_micros(),
        complete_us: response.as_ref().and(h.completed.map(|c| c.as_micros())),
        op: MachineRecord { call, response },
    })
}

fn decode<T: serde::de::DeserializeOwned>(json: &str) -> T {
    serde_json::from_str(json).expect("raftsim encoded it from the same type")
}
