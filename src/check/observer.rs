//! The one observer the loop calls: it feeds every online checker, and records what they find
//! as `Violation` trace events (typed by [`Oracle`]). TigerBeetle's `testing/cluster.zig`
//! feeding its `*_checker.zig` files is the model.
//!
//! The loop calls it at three points: after every event a member handled
//! ([`Observer::after_member_event`]; not after a quiet tick, which changes nothing it reads:
//! `node::Node::tick_quietly`), for every raft message sent ([`Observer::message_sent`]),
//! and for every fact an actor reports ([`Observer::observe`]).

use super::applied::AppliedWrites;
use super::config::ConfigChecker;
use super::linearizability::{Online, Progress};
use super::ready_contract;
use super::safety::SafetyOracle;
use super::snapshot::StateDigests;
use crate::client::HistoryOp;
use crate::node::rpc::ServerOp;
use crate::sim::ids::{NodeId, OpId, RequestId};
use crate::sim::observe::{ConfApplied, Observation, RaftView};
use crate::sim::time::SimTime;
use crate::sim::trace::{Oracle, Trace, TraceEvent};
use raft::eraftpb::{Message, MessageType};

/// The online checkers of one run.
#[derive(Default)]
pub struct Observer {
    safety: SafetyOracle,
    digests: StateDigests,
    config: ConfigChecker,
    applied: AppliedWrites,
    /// Linearizability checked as the run goes (only when the run may drop what it checked).
    linearizability: Option<Online>,
    /// Entry applications already scanned (`Trace::applied`).
    scanned: usize,
}

fn violation(trace: &mut Trace, at: SimTime, oracle: Oracle, nodes: Vec<NodeId>, detail: String) {
    trace.push(
        at,
        TraceEvent::Violation {
            oracle,
            nodes,
            detail,
        },
    );
}

impl Observer {
    /// The observer of a run; `online_linearizability` also checks linearizability as the run
    /// goes, so that the run may drop the reads it checked ([`Online`]).
    pub fn new(online_linearizability: bool) -> Observer {
        Observer {
            linearizability: online_linearizability.then(Online::default),
            ..Observer::default()
        }
    }

    /// A client called history operation `h`: returns the operations the run may now drop
    /// (reads the online linearizability check has checked; `history` is the run's so far).
    pub fn op_invoked(&mut self, h: &HistoryOp, history: &[HistoryOp]) -> Vec<OpId> {
        match &mut self.linearizability {
            Some(l) => l.invoked(h, history),
            None => Vec::new(),
        }
    }

    /// History operation `h` finished.
    pub fn op_finished(&mut self, h: &HistoryOp) {
        if let Some(l) = &mut self.linearizability {
            l.finished(h);
        }
    }

    /// A raft message left its sender: the safety oracle learns the terms members acted in
    /// (pre-vote messages carry the term a pre-candidate would take, not one it holds).
    pub fn message_sent(&mut self, m: &Message) {
        if !matches!(
            m.get_msg_type(),
            MessageType::MsgRequestPreVote | MessageType::MsgRequestPreVoteResponse
        ) {
            self.safety.sent(NodeId(m.from), m.term);
        }
    }

    /// A client sent `request` for history operation `op`, asking `kind`. Only a write goes
    /// through raft and can be applied, so only writes are remembered (a Kubernetes run sends
    /// four reads for every write).
    pub fn request_sent(&mut self, request: RequestId, op: OpId, kind: &ServerOp) {
        if kind.write_op().is_some() {
            self.applied.request_sent(request, op);
        }
    }

    /// A fact an actor reported.
    pub fn observe(&mut self, now: SimTime, o: Observation, trace: &mut Trace) {
        if let Observation::StateDigest {
            node,
            index,
            digest,
            from_snapshot,
        } = o
        {
            if let Some((nodes, detail)) = self.digests.report(node, index, digest, from_snapshot) {
                violation(trace, now, Oracle::RaftSafety, nodes, detail);
            }
            return;
        }
        if let Observation::ConfApplied(r) = o {
            for (nodes, detail) in self.config.report(r) {
                violation(trace, now, Oracle::RaftSafety, nodes, detail);
            }
            return;
        }
        let node = match o {
            Observation::WalDurable { node, .. }
            | Observation::Restarting { node, .. }
            | Observation::HeldMessagesSent { node, .. }
            | Observation::EntryApplied { node, .. }
            | Observation::StateDigest { node, .. }
            | Observation::ConfApplied(ConfApplied { node, .. }) => node,
        };
        for detail in ready_contract::judge(&o) {
            violation(trace, now, Oracle::ReadyContract, vec![node], detail);
        }
    }

    /// After every event a member handled: Raft safety of that member (the only one the event
    /// changed; the oracle keeps what it saw of the others), then the entries applied since
    /// the last call.
    pub fn after_member_event<N: RaftView>(
        &mut self,
        now: SimTime,
        node: &N,
        trace: &mut Trace,
        history: &[HistoryOp],
    ) {
        for (nodes, detail) in self.safety.observe(std::slice::from_ref(node)) {
            violation(trace, now, Oracle::RaftSafety, nodes, detail);
        }
        self.scan_applied(trace, history);
    }

    fn scan_applied(&mut self, trace: &mut Trace, history: &[HistoryOp]) {
        while let Some(&a) = trace.applied.get(self.scanned) {
            self.scanned += 1;
            if let Some((nodes, detail)) = self.safety.applied(a.node(), a.index, a.term) {
                violation(trace, a.at, Oracle::RaftSafety, nodes, detail);
                continue;
            }
            if let Some(ev) = self.applied.applied(&a, history) {
                trace.push(a.at, ev);
            }
        }
    }

    /// When each client write first took effect: (log index, time); and how far linearizability
    /// was checked online, if it was.
    pub fn finish(self) -> (crate::record::FirstApplied, Option<Progress>) {
        let progress = self.linearizability.map(Online::into_progress);
        (self.applied.into_first_applied(), progress)
    }
}
