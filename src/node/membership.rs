//! Cluster membership, as etcd keeps it (`server/etcdserver/api/membership/cluster.go`) and
//! changes it (`server/etcdserver/server.go`: `AddMember`, `RemoveMember`, `PromoteMember`,
//! `applyConfChange`). Facts and sources: `docs/reference/etcd-membership.md`.
//!
//! Model:
//! - Each member holds the member list it has applied ([`Members`]: voters, learners, removed
//!   IDs). Only a committed raft configuration change changes it, when the member applies it,
//!   and raft-rs's own configuration changes at the same moment (`RawNode::apply_conf_change`).
//!   etcd proposes one change at a time as a v1 `ConfChange` (raft-rs runs it as a simple
//!   change, no joint consensus); raft-rs refuses a second while one is unapplied (it appends
//!   an empty entry instead, and the request times out, as in etcd).
//! - Before proposing, the serving member runs etcd's checks (`--strict-reconfig-check`, on by
//!   default): not a removed ID, not already a member, at most one learner, enough started
//!   members for the new quorum, an add only while connected to every voter (so a dead member
//!   must be removed before its replacement is added), and a removal that keeps the active
//!   quorum; a promotion is decided by the leader (the learner's log within 90% of the
//!   leader's). The same validation
//!   runs again when the change applies (`ValidateConfigurationChange`): an invalid change
//!   applies as nothing.
//! - "Started" and "active" are what the member's transport saw: a peer it has heard from since
//!   it started, and within the last 5 s (etcd's `HealthInterval`) (an approximation of etcd's
//!   published attributes and `ActiveSince`).
//! - A member that applies its own removal stops 1 s later (`stopWithDelay`): "the member has
//!   been permanently removed from the cluster"; a leader stops at once, as raft-rs panics on a
//!   leader without its own progress. Peers refuse messages from a removed member
//!   (rafthttp answers 410 Gone, `Process` 403), and the removed member stops when it learns
//!   it; `cluster.reject_removed_members = false` turns the refusal off to show raft-rs alone.
//! - Bootstrap: etcd writes the initial members as the log's first entries; raftsim puts them
//!   in the index-0 state every machine starts from, a joining one included, which gives the
//!   same configuration at every index without shifting the log.
//!
//! Crash: the member list is rebuilt from the durable snapshot (its `ConfState` and the removed
//! IDs it carries) and the replay of the committed changes after it. Invariant (asserted): the
//! configuration raft-rs uses is the member list the member applied.

use super::rpc::{MemberInfo, MemberOp, ReplyBody, ServerError};
use super::{Bug, Node, NodeMsg, NodeTimer, Out};
use crate::sim::ids::{ClientId, NodeId, RequestId};
use crate::sim::observe::{ConfApplied, Observation};
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::trace::TraceEvent;
use protobuf::Message as _;
use raft::eraftpb::{ConfChange, ConfChangeType, ConfState, Entry, EntryType};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// etcd's `HealthInterval`: a peer heard from within it counts as active.
const HEALTH_INTERVAL: SimDuration = SimDuration(5_000_000);
/// etcd stops a removed member after `10 * 100ms` (`stopWithDelay`).
const REMOVED_STOP_DELAY: SimDuration = SimDuration(1_000_000);
/// etcd's `readyPercentThreshold` for promoting a learner.
const LEARNER_READY_PERMILLE: u64 = 900;
/// etcd's default `--max-learners`.
const MAX_LEARNERS: usize = 1;
/// The context marking a promotion (etcd: `ConfigChangeContext.IsPromote`).
const PROMOTE: &[u8] = b"promote";

/// The member list one member has applied.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Members {
    /// Voting members.
    pub voters: BTreeSet<NodeId>,
    /// Learners (non-voting).
    pub learners: BTreeSet<NodeId>,
    /// Removed IDs: never members again.
    pub removed: BTreeSet<NodeId>,
}

/// A configuration change, as the log carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// A voter joins.
    AddVoter(NodeId),
    /// A learner joins.
    AddLearner(NodeId),
    /// A learner becomes a voter.
    Promote(NodeId),
    /// A member leaves.
    Remove(NodeId),
}

impl Change {
    fn member(self) -> NodeId {
        match self {
            Change::AddVoter(n)
            | Change::AddLearner(n)
            | Change::Promote(n)
            | Change::Remove(n) => n,
        }
    }

    /// The word the trace uses.
    pub fn name(self) -> &'static str {
        match self {
            Change::AddVoter(_) => "add",
            Change::AddLearner(_) => "add-learner",
            Change::Promote(_) => "promote",
            Change::Remove(_) => "remove",
        }
    }

    fn to_raft(self, request: RequestId) -> ConfChange {
        let (ty, context) = match self {
            Change::AddVoter(_) => (ConfChangeType::AddNode, vec![]),
            Change::AddLearner(_) => (ConfChangeType::AddLearnerNode, vec![]),
            Change::Promote(_) => (ConfChangeType::AddNode, PROMOTE.to_vec()),
            Change::Remove(_) => (ConfChangeType::RemoveNode, vec![]),
        };
        let mut cc = ConfChange {
            id: request.0,
            node_id: self.member().0,
            context: context.into(),
            ..Default::default()
        };
        cc.set_change_type(ty);
        cc
    }

    fn from_raft(cc: &ConfChange) -> Change {
        let n = NodeId(cc.node_id);
        match cc.get_change_type() {
            ConfChangeType::AddNode if cc.context.as_ref() == PROMOTE => Change::Promote(n),
            ConfChangeType::AddNode => Change::AddVoter(n),
            ConfChangeType::AddLearnerNode => Change::AddLearner(n),
            ConfChangeType::RemoveNode => Change::Remove(n),
        }
    }
}

/// Decodes a configuration-change entry (raftsim proposes v1 changes only, as etcd does).
pub fn decode(e: &Entry) -> ConfChange {
    assert_eq!(
        e.get_entry_type(),
        EntryType::EntryConfChange,
        "raftsim proposes v1 configuration changes only"
    );
    ConfChange::parse_from_bytes(&e.data).expect("a ConfChange raftsim encoded")
}

impl Members {
    /// The initial voters.
    pub fn bootstrap(voters: &[u64]) -> Members {
        Members {
            voters: voters.iter().map(|v| NodeId(*v)).collect(),
            ..Default::default()
        }
    }

    /// From a snapshot's configuration and the removed IDs it carries.
    pub fn from_conf_state(cs: &ConfState, removed: BTreeSet<NodeId>) -> Members {
        Members {
            voters: cs.voters.iter().map(|v| NodeId(*v)).collect(),
            learners: cs.learners.iter().map(|v| NodeId(*v)).collect(),
            removed,
        }
    }

    /// As raft-rs's configuration.
    pub fn conf_state(&self) -> ConfState {
        let ids = |s: &BTreeSet<NodeId>| s.iter().map(|n| n.0).collect::<Vec<_>>();
        ConfState::from((ids(&self.voters), ids(&self.learners)))
    }

    /// Whether `n` is a member (voter or learner).
    pub fn contains(&self, n: NodeId) -> bool {
        self.voters.contains(&n) || self.learners.contains(&n)
    }

    /// etcd's `ValidateConfigurationChange`: what makes a change invalid, if anything.
    pub fn validate(&self, c: Change) -> Result<(), ServerError> {
        let n = c.member();
        if self.removed.contains(&n) {
            return Err(ServerError::IdRemoved);
        }
        match c {
            Change::AddVoter(_) | Change::AddLearner(_) if self.contains(n) => {
                Err(ServerError::MemberExists)
            }
            Change::AddLearner(_) if self.learners.len() >= MAX_LEARNERS => {
                Err(ServerError::TooManyLearners)
            }
            Change::Promote(_) if self.voters.contains(&n) => Err(ServerError::MemberNotLearner),
            Change::Promote(_) | Change::Remove(_) if !self.contains(n) => {
                Err(ServerError::MemberNotFound)
            }
            _ => Ok(()),
        }
    }

    /// Applies a valid change.
    pub fn apply(&mut self, c: Change) {
        match c {
            Change::AddVoter(n) => {
                self.voters.insert(n);
            }
            Change::AddLearner(n) => {
                self.learners.insert(n);
            }
            Change::Promote(n) => {
                self.learners.remove(&n);
                self.voters.insert(n);
            }
            Change::Remove(n) => {
                self.voters.remove(&n);
                self.learners.remove(&n);
                self.removed.insert(n);
            }
        }
    }

    /// A short form for the trace: `voters 1,2,3 learners 4`.
    pub fn describe(&self) -> String {
        let ids = |s: &BTreeSet<NodeId>| {
            s.iter()
                .map(|n| n.0.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut d = format!("voters {}", ids(&self.voters));
        if !self.learners.is_empty() {
            d += &format!(" learners {}", ids(&self.learners));
        }
        d
    }
}

impl Node {
    /// Serves a request of the Cluster service.
    pub(super) fn serve_member(
        &mut self,
        client: ClientId,
        request: RequestId,
        op: MemberOp,
        deadline: SimTime,
        out: &mut Out,
    ) {
        let change = match op {
            MemberOp::List => {
                let body = self.member_list();
                return self.reply(client, request, Ok(body), out);
            }
            MemberOp::Add { member, learner } if learner => Change::AddLearner(member),
            MemberOp::Add { member, .. } => Change::AddVoter(member),
            MemberOp::Remove { member } => Change::Remove(member),
            MemberOp::Promote { member } => Change::Promote(member),
        };
        if let Err(e) = self.may_change(change, out.now) {
            return self.reply(client, request, Err(e), out);
        }
        if matches!(change, Change::Promote(_)) && !self.leads() {
            return self.ask_leader(client, request, op, deadline, out);
        }
        self.propose_change(client, request, change, deadline, out);
    }

    fn propose_change(
        &mut self,
        client: ClientId,
        request: RequestId,
        change: Change,
        deadline: SimTime,
        out: &mut Out,
    ) {
        self.waits.insert(request, client);
        // A dropped proposal (no leader, a change still unapplied) is answered by the timeout.
        let _ = self
            .raw()
            .propose_conf_change(vec![], change.to_raft(request));
        self.set_server_timeout(request, deadline, out);
    }

    /// The member list as this member applied it.
    fn member_list(&self) -> ReplyBody {
        let m = &self.members;
        let ids: BTreeSet<NodeId> = m.voters.union(&m.learners).copied().collect();
        let members = ids
            .into_iter()
            .map(|id| MemberInfo {
                id,
                is_learner: m.learners.contains(&id),
                started: id == self.id || self.peers_started.contains(&id.0),
            })
            .collect();
        ReplyBody::Members { members }
    }

    /// etcd's checks before proposing: the change is valid, and (strict reconfiguration check)
    /// it keeps a quorum of started and active members.
    fn may_change(&self, c: Change, now: SimTime) -> Result<(), ServerError> {
        self.members.validate(c)?;
        let voters = &self.members.voters;
        let started = |n: &&NodeId| **n == self.id || self.peers_started.contains(&n.0);
        // numConnectedSince: connected since before `now - HealthInterval`.
        let active = |n: &&NodeId| {
            **n == self.id
                || self
                    .peers_active
                    .get(&n.0)
                    .is_some_and(|t| now.since(*t) >= HEALTH_INTERVAL)
        };
        match c {
            Change::AddVoter(_) | Change::AddLearner(_) => {
                // IsReadyToAddVotingMember (voters only): the new member counts, unstarted.
                let members = voters.len() + 1;
                let nstarted = voters.iter().filter(started).count();
                let one_to_two = nstarted == 1 && members == 2;
                let voter = matches!(c, Change::AddVoter(_));
                if voter && !one_to_two && nstarted < members / 2 + 1 {
                    return Err(ServerError::NotEnoughStartedMembers);
                }
                // isConnectedFullySince (3.4 to 3.6): connected to every voter for 5 s.
                if !voters.iter().all(|v| active(&v)) {
                    return Err(ServerError::Unhealthy);
                }
            }
            Change::Remove(n) if voters.contains(&n) => {
                let rest = voters.iter().filter(|v| **v != n);
                let nstarted = rest.clone().filter(started).count();
                if nstarted < rest.count() / 2 + 1 {
                    return Err(ServerError::NotEnoughStartedMembers);
                }
                // A member the transport is not connected to is safe to remove.
                let downed = n != self.id && !self.peers_active.contains_key(&n.0);
                let nactive = voters.iter().filter(active).count();
                if !downed && nactive.saturating_sub(1) < 1 + voters.len().saturating_sub(1) / 2 {
                    return Err(ServerError::Unhealthy);
                }
            }
            Change::Promote(n) => self.learner_ready(n)?,
            _ => {}
        }
        Ok(())
    }

    fn leads(&self) -> bool {
        self.raw
            .as_ref()
            .is_some_and(|r| r.raft.state == raft::StateRole::Leader)
    }

    /// `isLearnerReady`: only the leader knows the learner's progress; its log must be within
    /// 90% of the leader's. On a follower this passes; the leader decides ([`Node::ask_leader`]).
    fn learner_ready(&self, n: NodeId) -> Result<(), ServerError> {
        if !self.leads() {
            return Ok(());
        }
        let raw = self.raw.as_ref().expect("running");
        let prs = raw.raft.prs();
        let leader = prs.get(raw.raft.id).map_or(0, |p| p.matched);
        let learner = prs.get(n.0).map_or(0, |p| p.matched);
        if learner * 1000 < leader * LEARNER_READY_PERMILLE {
            return Err(ServerError::LearnerNotReady);
        }
        Ok(())
    }

    /// A follower asked to promote: etcd forwards the request to the leader over peer HTTP
    /// (`promoteMemberHTTP`), which checks the learner and proposes. raftsim's leader answers
    /// the check, and the follower proposes (raft forwards the proposal to the same leader).
    /// No leader known: the request waits for its timeout, as etcd's `waitLeader` does.
    fn ask_leader(
        &mut self,
        client: ClientId,
        request: RequestId,
        op: MemberOp,
        deadline: SimTime,
        out: &mut Out,
    ) {
        self.set_server_timeout(request, deadline, out);
        let leader = self.published.leader;
        self.forwards.insert(
            request,
            (client, super::rpc::ServerOp::Member { change: op }),
        );
        if leader != 0 {
            out.send(NodeMsg::forward(super::rpc::PeerForward {
                from: self.id,
                to: NodeId(leader),
                request,
                op: super::rpc::ServerOp::Member { change: op },
                answer: None,
            }));
        }
    }

    /// The leader's side of [`Node::ask_leader`]: whether the learner is ready.
    pub(super) fn promotion_check(&self, op: MemberOp) -> Result<ReplyBody, ServerError> {
        let MemberOp::Promote { member } = op else {
            unreachable!("only promotions are forwarded")
        };
        if !self.leads() {
            return Err(ServerError::NotPrimary);
        }
        self.members.validate(Change::Promote(member))?;
        self.learner_ready(member)?;
        Ok(self.member_list())
    }

    /// The follower's side: the leader's answer to a forwarded promotion.
    pub(super) fn promotion_answered(
        &mut self,
        request: RequestId,
        answer: Result<ReplyBody, ServerError>,
        deadline: SimTime,
        out: &mut Out,
    ) {
        let Some((client, super::rpc::ServerOp::Member { change })) =
            self.forwards.remove(&request)
        else {
            return; // answered meanwhile (timeout)
        };
        let MemberOp::Promote { member } = change else {
            unreachable!("only promotions are forwarded")
        };
        match answer {
            Ok(_) => self.propose_change(client, request, Change::Promote(member), deadline, out),
            Err(e) => self.reply(client, request, Err(e), out),
        }
    }

    /// Applies a committed configuration-change entry.
    pub(super) fn apply_conf_entry(&mut self, e: &Entry, out: &mut Out) {
        let cc = decode(e);
        let change = Change::from_raft(&cc);
        let request = RequestId(cc.id);
        if self.conf_applied_early.remove(&e.index) {
            // The apply-confchange-early bug put it into effect when it was appended.
        } else if let Err(err) = self.members.validate(change) {
            if let Some(client) = self.waits.remove(&request) {
                self.reply(client, request, Err(err), out);
            }
            return;
        } else {
            self.raw()
                .apply_conf_change(&cc)
                .expect("a validated change applies");
            self.members.apply(change);
            self.conf_changed(e, change, out);
        }
        if let Some(client) = self.waits.remove(&request) {
            let body = self.member_list();
            self.reply(client, request, Ok(body), out);
        }
        if let Change::Remove(n) = change {
            self.member_removed(n, out);
        }
    }

    /// Records an applied change and checks raft-rs agrees.
    fn conf_changed(&mut self, e: &Entry, change: Change, out: &mut Out) {
        let raft_conf = self.raw().raft.prs().conf().to_conf_state();
        let mine = self.members.conf_state();
        assert!(
            same_conf(&raft_conf, &mine) || self.cfg.bug == Some(Bug::ApplyConfChangeEarly),
            "{}: raft-rs's configuration {raft_conf:?} differs from the applied member list {mine:?}",
            self.id
        );
        out.record(TraceEvent::MemberChanged {
            node: self.id,
            index: e.index,
            change: change.name(),
            member: change.member(),
            members: self.members.describe(),
        });
        self.observe_conf(e.index, e.term, out);
    }

    fn observe_conf(&mut self, index: u64, term: u64, out: &mut Out) {
        let commit = self.commit_index();
        out.observe(Observation::ConfApplied(ConfApplied {
            node: self.id,
            index,
            term,
            commit,
            voters: self.members.voters.iter().map(|n| n.0).collect(),
            learners: self.members.learners.iter().map(|n| n.0).collect(),
        }));
    }

    /// A member was removed: itself stops after a second; a peer is told by the transport.
    /// A leader that removed itself stops at once: raft-rs cannot run a leader without its own
    /// progress (`maybe_commit` and `append_entry` unwrap it), where etcd-raft carries on until
    /// etcd stops it.
    fn member_removed(&mut self, n: NodeId, out: &mut Out) {
        if n == self.id && self.leads() {
            let reason = "the member has been permanently removed from the cluster (a leader stops at once: raft-rs cannot lead without its own progress)";
            self.stop_removed(reason, out);
        } else if n == self.id {
            let incarnation = self.incarnation;
            let at = out.now + self.clock.sim_span(REMOVED_STOP_DELAY);
            out.timer(at, NodeTimer::RemovedStop { incarnation });
        } else if self.cfg.reject_removed_members {
            out.send(NodeMsg::Gone {
                from: self.id,
                to: n,
            });
        }
    }

    /// Its transport's connection to `peer` came up (both processes up, no cut between them)
    /// or went down.
    pub fn link(&mut self, peer: NodeId, up: bool, now: SimTime) {
        if up {
            self.peers_active.insert(peer.0, now);
            self.peers_started.insert(peer.0);
        } else {
            self.peers_active.remove(&peer.0);
        }
    }

    /// Whether this member refuses messages from `from` (its transport refuses a removed peer).
    pub fn refuses(&self, from: NodeId) -> bool {
        self.cfg.reject_removed_members && self.members.removed.contains(&from)
    }

    /// Whether this member is a learner: by the member list it applied, or, until that list
    /// holds it, by the list a peer returned when it joined.
    pub fn is_learner(&self) -> bool {
        if self.members.contains(self.id) {
            return self.members.learners.contains(&self.id);
        }
        self.fetched
            .as_ref()
            .is_some_and(|f| f.learners.contains(&self.id))
    }

    /// The member list this member applied.
    pub fn members(&self) -> &Members {
        &self.members
    }

    /// The `apply-confchange-early` bug: a configuration change takes effect in raft-rs when its
    /// entry is appended, not when it is committed.
    pub(super) fn bug_conf_on_append(&mut self, entries: &[Entry], out: &mut Out) {
        if self.cfg.bug != Some(Bug::ApplyConfChangeEarly) {
            return;
        }
        for e in entries
            .iter()
            .filter(|e| e.get_entry_type() == EntryType::EntryConfChange)
        {
            let cc = decode(e);
            let change = Change::from_raft(&cc);
            if self.members.validate(change).is_ok() && self.raw().apply_conf_change(&cc).is_ok() {
                self.conf_applied_early.insert(e.index);
                self.members.apply(change);
                self.observe_conf(e.index, e.term, out);
            }
        }
    }
}

fn same_conf(a: &ConfState, b: &ConfState) -> bool {
    let sorted = |v: &[u64]| {
        let mut v = v.to_vec();
        v.sort_unstable();
        v
    };
    sorted(&a.voters) == sorted(&b.voters) && sorted(&a.learners) == sorted(&b.learners)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_follows_etcd() {
        let mut m = Members::bootstrap(&[1, 2, 3]);
        assert_eq!(
            m.validate(Change::AddVoter(NodeId(2))),
            Err(ServerError::MemberExists)
        );
        assert_eq!(
            m.validate(Change::Promote(NodeId(2))),
            Err(ServerError::MemberNotLearner)
        );
        assert_eq!(
            m.validate(Change::Remove(NodeId(4))),
            Err(ServerError::MemberNotFound)
        );
        m.apply(Change::AddLearner(NodeId(4)));
        assert_eq!(
            m.validate(Change::AddLearner(NodeId(5))),
            Err(ServerError::TooManyLearners)
        );
        m.apply(Change::Promote(NodeId(4)));
        m.apply(Change::Remove(NodeId(3)));
        assert_eq!(m.describe(), "voters 1,2,4");
        assert_eq!(
            m.validate(Change::AddVoter(NodeId(3))),
            Err(ServerError::IdRemoved)
        );
    }

    #[test]
    fn changes_round_trip_through_raft() {
        for c in [
            Change::AddVoter(NodeId(4)),
            Change::AddLearner(NodeId(4)),
            Change::Promote(NodeId(4)),
            Change::Remove(NodeId(2)),
        ] {
            assert_eq!(Change::from_raft(&c.to_raft(RequestId(7))), c);
        }
    }
}
