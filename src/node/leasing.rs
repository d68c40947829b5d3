//! How a member serves leases and watches (etcd's `v3_server.go` `LeaseRenew` and
//! `LeaseTimeToLive`, `leasehttp`, and the watch stream of `mvcc/watchable_store.go`).
//!
//! A renewal or TTL lookup is answered by the lessor of the member that believes it leads (its
//! Ready loop's view, `s.isLeader()`); any other member forwards it to the leader it knows over
//! the peer connection, outside raft, and retries every 50 ms while the leader's lessor is not
//! primary yet or no leader is known, until etcd's request timeout. With
//! `leases_confirm_leadership` (etcd 3.4.31+ and 3.5.13+, `ensureLeadership`) a member
//! that believes it leads first confirms it with a ReadIndex round and refuses the renewal when
//! it cannot, so the client moves to another member.
//!
//! A watch is a stream from one member: events reach it as that member applies them, so a
//! watch on a stalled or frozen member goes quiet, and a crash breaks the stream.

use super::kv::{KvOp, KvResult};
use super::lease::{RenewError, FORWARD_RETRY, LESSOR_LOOP};
use super::rpc::{MemberOp, PeerForward, ReplyBody, ServerError, ServerOp, WatchPush};
use super::{Inbound, Node, NodeMsg, NodeStatus, NodeTimer, Out, ReadPurpose};
use crate::sim::ids::{ClientId, LeaseId, NodeId, RequestId};
use crate::sim::time::SimTime;
use crate::sim::trace::TraceEvent;

/// An open watch stream on this member.
#[derive(Clone, Debug)]
pub(super) struct Watcher {
    pub client: ClientId,
    pub key: String,
    pub prefix: bool,
    /// The next revision to report.
    pub next_revision: u64,
}

impl Node {
    /// Whether etcdserver believes this member leads (`s.Lead() == s.ID()`, updated by the
    /// Ready loop, so a member whose loop waits on fsync keeps its old belief).
    pub(super) fn believes_it_leads(&self) -> bool {
        self.published.leader == self.id.0
    }

    /// Serves LeaseKeepAlive or LeaseTimeToLive.
    pub(super) fn serve_lease(
        &mut self,
        client: ClientId,
        request: RequestId,
        op: ServerOp,
        out: &mut Out,
    ) {
        self.forwards.insert(request, (client, op.clone()));
        if self.believes_it_leads() && self.cfg.leases_confirm_leadership {
            self.read_index(client, request, ReadPurpose::ConfirmLeadership);
            return;
        }
        self.lease_step(request, out);
    }

    /// Answers a lease request from the local lessor when it is primary, or forwards it.
    fn lease_step(&mut self, request: RequestId, out: &mut Out) {
        let Some((_, op)) = self.forwards.get(&request).cloned() else {
            return; // answered meanwhile (server timeout)
        };
        if self.believes_it_leads() {
            match self.lessor_answer(&op, out) {
                Err(RenewError::NotPrimary) => self.lease_retry(request, out),
                answer => self.lease_answered(request, answer.map_err(|_| ()), out),
            }
            return;
        }
        let leader = self.published.leader;
        if leader == 0 {
            return self.lease_retry(request, out); // waitLeader
        }
        out.send(NodeMsg::forward(PeerForward {
            from: self.id,
            to: NodeId(leader),
            request,
            op,
            answer: None,
        }));
    }

    fn lease_retry(&mut self, request: RequestId, out: &mut Out) {
        let incarnation = self.incarnation;
        out.timer(
            out.now + self.clock.sim_span(FORWARD_RETRY),
            NodeTimer::LeaseRetry {
                request,
                incarnation,
            },
        );
    }

    /// The lessor's answer to `op`; `Err(())` in the result means "not found".
    fn lessor_answer(&mut self, op: &ServerOp, out: &mut Out) -> Result<ReplyBody, RenewError> {
        match op {
            ServerOp::LeaseKeepAlive { id } => {
                let ttl = self.lessor.renew(*id, self.clock.local(out.now))?;
                Ok(lease_body(*id, ttl as i64, 0))
            }
            ServerOp::LeaseTimeToLive { id } => {
                let (granted, left) = self.lessor.time_to_live(*id, self.clock.local(out.now))?;
                Ok(lease_body(*id, left, granted))
            }
            other => unreachable!("not a lease request: {other:?}"),
        }
    }

    /// Replies to a lease request: "not found" is a keep-alive answer with TTL 0 and a
    /// time-to-live answer with TTL -1, as etcd's gRPC handlers turn `ErrLeaseNotFound`.
    fn lease_answered(&mut self, request: RequestId, answer: Result<ReplyBody, ()>, out: &mut Out) {
        let Some((client, op)) = self.forwards.remove(&request) else {
            return;
        };
        let body = answer.unwrap_or_else(|()| match op {
            ServerOp::LeaseKeepAlive { id } => lease_body(id, 0, 0),
            ServerOp::LeaseTimeToLive { id } => lease_body(id, -1, 0),
            _ => unreachable!("a lease request"),
        });
        self.reply(client, request, Ok(body), out);
    }

    /// A ReadIndex round confirmed (or not) the leadership this member believed in.
    pub(super) fn leadership_confirmed(&mut self, request: RequestId, out: &mut Out) {
        let leads = self
            .raw
            .as_ref()
            .is_some_and(|r| r.raft.leader_id == self.id.0);
        if leads {
            return self.lease_step(request, out);
        }
        if let Some((client, _)) = self.forwards.remove(&request) {
            self.reply(client, request, Err(ServerError::NotPrimary), out);
        }
    }

    /// A peer request outside raft arrived: a forwarded lease request, or the leader's answer.
    pub fn forwarded(&mut self, f: PeerForward, out: &mut Out) {
        match self.status {
            NodeStatus::Crashed | NodeStatus::Spare | NodeStatus::Removed => {}
            NodeStatus::Paused => self.enqueue(Inbound::Forward(f)),
            NodeStatus::Running => {
                // A promotion's answer proposes: hand it to raft now, as `request` does.
                self.handle_forward(f, out);
                self.drive(out);
            }
        }
    }

    pub(super) fn handle_forward(&mut self, f: PeerForward, out: &mut Out) {
        if let ServerOp::Member { change } = f.op {
            return self.member_forward(f, change, out);
        }
        match f.answer {
            None => {
                // leasehttp's handler asks the lessor directly, whatever the member believes.
                let answer = self.lessor_answer(&f.op, out);
                let answer = match answer {
                    Ok(b) => Ok(b),
                    Err(RenewError::NotFound) => Err(ServerError::LeaseNotFound),
                    Err(RenewError::NotPrimary) => Err(ServerError::NotPrimary),
                };
                out.send(NodeMsg::forward(PeerForward {
                    from: self.id,
                    to: f.from,
                    answer: Some(answer),
                    ..f
                }));
            }
            Some(Ok(body)) => self.lease_answered(f.request, Ok(body), out),
            Some(Err(ServerError::LeaseNotFound)) => self.lease_answered(f.request, Err(()), out),
            Some(Err(_)) => self.lease_retry(f.request, out),
        }
    }

    /// A forwarded promotion (etcd's `promoteMemberHTTP`), or the leader's answer to one.
    fn member_forward(&mut self, f: PeerForward, change: MemberOp, out: &mut Out) {
        match f.answer {
            None => {
                let answer = Some(self.promotion_check(change));
                let back = PeerForward {
                    from: self.id,
                    to: f.from,
                    answer,
                    ..f
                };
                out.send(NodeMsg::forward(back));
            }
            Some(answer) => {
                // The proposal's own timeout starts now; the client's deadline still bounds it.
                let deadline = out.now + self.cfg.server_request_timeout;
                self.promotion_answered(f.request, answer, deadline, out)
            }
        }
    }

    /// The 50 ms retry of a lease request fired.
    pub(super) fn lease_retry_due(&mut self, request: RequestId, out: &mut Out) {
        self.lease_step(request, out);
    }

    // ------------------------------------------------------------------ the lessor

    /// A grant or a revocation was applied (`result` is the store's answer).
    pub(super) fn lessor_applied(&mut self, op: &KvOp, result: &KvResult, out: &mut Out) {
        match (op, result) {
            (KvOp::LeaseGrant { id, .. }, KvResult::LeaseGrant { ttl_s, .. }) => {
                self.lessor.granted(*id, *ttl_s, self.clock.local(out.now));
                self.arm_lessor(out);
            }
            (KvOp::LeaseRevoke { id }, KvResult::LeaseRevoke { deleted, .. }) => {
                self.lessor.revoked(*id);
                out.record(TraceEvent::EtcdLeaseRevoked {
                    node: self.id,
                    lease: *id,
                    deleted_keys: *deleted,
                });
            }
            _ => {}
        }
    }

    /// The new leader applied its term's empty entry: its lessor becomes primary and extends
    /// every lease by the election timeout (`applyEntryNormal` calls `lessor.Promote`).
    pub(super) fn promote_lessor(&mut self, out: &mut Out) {
        if !self.believes_it_leads() || self.lessor.is_primary() {
            return;
        }
        let extend = self.cfg.heartbeat_interval * self.cfg.election_ticks as u64;
        let leases = self.lessor.promote(self.clock.local(out.now), extend) as u64;
        if leases > 0 {
            out.record(TraceEvent::EtcdLessorPromoted {
                node: self.id,
                leases,
                extend_us: extend.as_micros(),
            });
            self.arm_lessor(out);
        }
    }

    /// The Ready loop learnt that this member does not lead: its lessor is demoted.
    pub(super) fn demote_lessor(&mut self) {
        if self.lessor.is_primary() && !self.believes_it_leads() {
            self.lessor.demote();
        }
    }

    fn arm_lessor(&mut self, out: &mut Out) {
        if !self.lessor_armed && !self.lessor.is_empty() {
            self.lessor_armed = true;
            self.set_timer(out, LESSOR_LOOP, |incarnation| NodeTimer::Lessor {
                incarnation,
            });
        }
    }

    /// The lessor's 500 ms loop: propose the revocation of each expired lease through raft
    /// (with `leases_confirm_leadership`, once a ReadIndex round confirmed the leadership, as
    /// `revokeExpiredLeases` does since etcd-io/etcd#15247).
    pub(super) fn lessor_loop(&mut self, out: &mut Out) {
        self.lessor_armed = false;
        let expired = self.lessor.expired(self.clock.local(out.now));
        for id in &expired {
            out.record(TraceEvent::EtcdLeaseExpired {
                node: self.id,
                lease: *id,
            });
        }
        if !expired.is_empty() && self.cfg.leases_confirm_leadership {
            let request = self.internal_request();
            let purpose = ReadPurpose::ConfirmRevoke(expired);
            // No client waits: only etcd's own request timeout bounds the check.
            self.read_index(ClientId(0), request, purpose);
            self.set_server_timeout(request, SimTime(u64::MAX), out);
        } else {
            self.revoke(expired);
        }
        self.arm_lessor(out);
    }

    /// The ReadIndex round before a revocation completed: revoke only if still the leader.
    pub(super) fn revoke_confirmed(&mut self, ids: Vec<LeaseId>) {
        let leads = self
            .raw
            .as_ref()
            .is_some_and(|r| r.raft.leader_id == self.id.0);
        if leads {
            self.revoke(ids);
        }
    }

    fn revoke(&mut self, ids: Vec<LeaseId>) {
        for id in ids {
            let request = self.internal_request();
            let data = super::kv::Proposal {
                request,
                op: KvOp::LeaseRevoke { id },
            }
            .encode();
            let _ = self.raw().propose(vec![], data);
        }
    }

    /// A request id for the member's own proposals and checks (no client waits for them).
    fn internal_request(&mut self) -> RequestId {
        self.internal_seq += 1;
        RequestId((1 << 63) | (self.id.0 << 48) | (self.incarnation << 32) | self.internal_seq)
    }

    // ------------------------------------------------------------------ watches

    /// Opens a watch stream: answers with the current revision, then sends what it has from
    /// `start_revision` on.
    pub(super) fn open_watch(
        &mut self,
        client: ClientId,
        request: RequestId,
        op: ServerOp,
        out: &mut Out,
    ) {
        let ServerOp::Watch {
            key,
            prefix,
            start_revision,
        } = op
        else {
            unreachable!("a watch");
        };
        let revision = self.kv.revision();
        let next_revision = if start_revision == 0 {
            revision + 1
        } else {
            start_revision
        };
        self.watchers.insert(
            request,
            Watcher {
                client,
                key,
                prefix,
                next_revision,
            },
        );
        self.reply(
            client,
            request,
            Ok(ReplyBody::WatchCreated { revision }),
            out,
        );
        self.push_watches(out);
    }

    /// Sends every open watch the events it has not seen.
    pub(super) fn push_watches(&mut self, out: &mut Out) {
        for (request, w) in self.watchers.iter_mut() {
            let events = self.kv.events_from(w.next_revision, &w.key, w.prefix);
            let Some(last) = events.last() else { continue };
            w.next_revision = last.revision + 1;
            out.send(NodeMsg::Watch(WatchPush {
                client: w.client,
                request: *request,
                from: self.id,
                events,
                broken: false,
            }));
        }
    }

    /// A crash breaks every watch stream.
    pub(super) fn break_watches(&mut self, out: &mut Out) {
        for (request, w) in std::mem::take(&mut self.watchers) {
            out.send(NodeMsg::Watch(WatchPush {
                client: w.client,
                request,
                from: self.id,
                events: vec![],
                broken: true,
            }));
        }
    }
}

fn lease_body(id: LeaseId, ttl_s: i64, granted_ttl_s: u64) -> ReplyBody {
    ReplyBody::Lease {
        id,
        ttl_s,
        granted_ttl_s,
    }
}
