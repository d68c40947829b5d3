//! The Kubernetes actors and the glue between them: apiservers, kubelets, controller-managers and
//! the load balancer. Each is a small state machine driven by [`K8sEvent`]s; what they ask of the
//! world comes back as effects on its [`Cx`] (timers, [`EtcdCall`]s for an apiserver's etcd client, trace
//! events).

use super::api::*;
use super::spec::{K8sSpec, KubeletPath};
use crate::client::Outcome;
use crate::node::kv::{Compare, KvOp, KvResult};
use crate::node::rpc::{ReplyBody, ServerOp};
use crate::sim::actor::Out;
use crate::sim::ids::NodeId;
use crate::sim::rng::SimRng;
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::trace::{LeaseRenewFailed, NodeCondition, TraceEvent};
use std::collections::BTreeMap;

/// Events of the Kubernetes layer, scheduled by the world's loop.
#[derive(Debug)]
pub enum K8sEvent {
    KubeletSync(usize),
    KubeletEnsure(usize),
    KubeletStatus(usize),
    KcmElect(usize),
    KcmMonitor {
        kcm: usize,
        epoch: u64,
    },
    KcmEvict {
        kcm: usize,
        epoch: u64,
        node: usize,
        tainted_at: SimTime,
    },
    LbCheck,
    AtApiserver {
        apiserver: usize,
        req: ApiRequest,
        deadline: SimTime,
    },
    AtCaller {
        to: Caller,
        reply: ApiReply,
    },
    CallerDeadline {
        to: Caller,
        id: u64,
    },
    /// Handed over at once, never queued; boxed so that it does not make every queued event as
    /// large as itself.
    EtcdDone(Box<EtcdDone>),
}

/// An apiserver's etcd operation completed.
#[derive(Debug)]
pub struct EtcdDone {
    /// Which apiserver (0-based).
    pub apiserver: usize,
    /// The apiserver's token for the call.
    pub token: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// etcd's answer, when it answered.
    pub reply: Option<ReplyBody>,
    /// The members the client tried.
    pub routed: crate::client::Few<NodeId>,
}

/// An etcd operation the layer asks an apiserver's etcd client to run.
#[derive(Debug)]
pub struct EtcdCall {
    /// Which apiserver (0-based).
    pub apiserver: usize,
    /// Through its watch-cache member instead of its main client.
    pub via_cache: bool,
    /// The apiserver's token for the call, echoed in [`K8sEvent::EtcdDone`].
    pub token: u64,
    /// The operation.
    pub op: ServerOp,
    /// When the apiserver gives up on it.
    pub deadline: SimTime,
}

/// Why a caller sent a request: what to do with the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Purpose {
    LeaseUpdate,
    LeaseGet,
    LeaseCreate,
    StatusGet,
    StatusPatch,
    ElectGet,
    ElectWrite,
    ObserveLease(usize),
    ObserveNode(usize),
    MarkUnknown,
    Readyz(usize),
}

struct Pending {
    purpose: Purpose,
    apiserver: usize,
    sent: SimTime,
}

// ---------------------------------------------------------------------------------- apiserver

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Get,
    Txn,
    PatchRead(u32),
    PatchTxn(u32),
    Readyz,
}

struct ApiCall {
    req: ApiRequest,
    deadline: SimTime,
    stage: Stage,
    members: Vec<u64>,
}

#[derive(Default)]
struct Apiserver {
    calls: BTreeMap<u64, ApiCall>,
    next_token: u64,
}

// ---------------------------------------------------------------------------------- kubelet

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Round {
    /// Updating with the last known lease (no GET first).
    Optimistic,
    /// Updating after `backoffEnsureLease` returned the lease.
    AfterEnsure,
}

struct Kubelet {
    name: String,
    apiserver: usize,
    latest_rv: Option<u64>,
    attempt: u32,
    round: Round,
    backoff: SimDuration,
    status_inflight: bool,
}

// ---------------------------------------------------------------------------------- kcm

#[derive(Clone, Debug)]
struct Health {
    probe: SimTime,
    lease_rv: u64,
    node_rv: u64,
    heartbeat: u64,
    ready: bool,
    tainted_at: Option<SimTime>,
    observing_lease: bool,
    observing_node: bool,
}

struct Kcm {
    name: String,
    leader: bool,
    epoch: u64,
    last_renew: SimTime,
    observed_rv: u64,
    observed_at: SimTime,
    inflight: bool,
    health: BTreeMap<usize, Health>,
}

// ---------------------------------------------------------------------------------- lb

struct Lb {
    healthy: Vec<bool>,
    ok_streak: Vec<u32>,
    fail_streak: Vec<u32>,
    inflight: Vec<bool>,
    rr: usize,
}

/// The whole Kubernetes layer.
pub struct K8s {
    pub spec: K8sSpec,
    apiservers: Vec<Apiserver>,
    kubelets: Vec<Kubelet>,
    kcms: Vec<Kcm>,
    lb: Lb,
    pending: BTreeMap<(Caller, u64), Pending>,
    next_id: u64,
    rng: SimRng,
    latency: (SimDuration, SimDuration),
    names: Vec<String>,
    /// Each node's keys, by node index (the order of `names`).
    keys: Vec<NodeKeys>,
    /// The controller-managers' leader-election Lease.
    kcm_lease: Key,
}

/// The loop's handle for one call into the layer: it sends [`EtcdCall`]s, sets [`K8sEvent`]
/// timers and records trace events after its calls (`record_later`).
pub type Cx<'a> = Out<'a, EtcdCall, K8sEvent>;

fn jitter(rng: &mut SimRng, base: SimDuration, factor_pct: u64) -> SimDuration {
    SimDuration::from_micros(base.as_micros() + rng.between(0, base.as_micros() * factor_pct / 100))
}

impl K8s {
    pub fn new(spec: K8sSpec, rng: SimRng, latency: (SimDuration, SimDuration)) -> K8s {
        let masters = spec.masters() as usize;
        let names = spec.node_names();
        let mut rng = rng;
        let kubelets = names
            .iter()
            .enumerate()
            .map(|(i, name)| Kubelet {
                name: name.clone(),
                apiserver: (spec.kubelet_bind[i] - 1) as usize,
                latest_rv: None,
                attempt: 0,
                round: Round::Optimistic,
                backoff: SimDuration::from_millis(200),
                status_inflight: false,
            })
            .collect();
        let kcms = (0..masters)
            .map(|m| Kcm {
                name: format!("master-{}", m + 1),
                leader: false,
                epoch: 0,
                last_renew: SimTime::ZERO,
                observed_rv: 0,
                observed_at: SimTime::ZERO,
                inflight: false,
                health: BTreeMap::new(),
            })
            .collect();
        let lb = Lb {
            healthy: vec![true; masters],
            ok_streak: vec![0; masters],
            fail_streak: vec![0; masters],
            inflight: vec![false; masters],
            rr: rng.between(0, masters as u64 - 1) as usize,
        };
        K8s {
            apiservers: (0..masters).map(|_| Apiserver::default()).collect(),
            kubelets,
            kcms,
            lb,
            pending: BTreeMap::new(),
            next_id: 0,
            rng,
            latency,
            keys: names.iter().map(|n| NodeKeys::of(n)).collect(),
            kcm_lease: KCM_LEASE_KEY.into(),
            names,
            spec,
        }
    }

    /// The first events: kubelets, controller-managers, the load balancer.
    pub fn start(&mut self, cx: &mut Cx) {
        if self.spec.kubelet_path != KubeletPath::Pinned {
            for k in 0..self.kubelets.len() {
                self.kubelets[k].apiserver = self.lb_pick();
            }
        }
        for k in 0..self.kubelets.len() {
            let sync = cx.now + SimDuration::from_micros(self.rng.between(100_000, 1_000_000));
            let status = cx.now + SimDuration::from_micros(self.rng.between(100_000, 1_000_000));
            cx.timer(sync, K8sEvent::KubeletSync(k));
            cx.timer(status, K8sEvent::KubeletStatus(k));
        }
        for m in 0..self.kcms.len() {
            let first = match self.spec.initial_kcm_leader {
                Some(l) if l as usize == m + 1 => SimDuration::from_millis(500),
                Some(_) => {
                    SimDuration::from_secs(3)
                        + jitter(&mut self.rng, self.spec.leader_retry_period, 120)
                }
                None => {
                    SimDuration::from_millis(500)
                        + jitter(&mut self.rng, self.spec.leader_retry_period, 120)
                }
            };
            cx.timer(cx.now + first, K8sEvent::KcmElect(m));
        }
        if self.spec.kubelet_path == KubeletPath::LbReadyz {
            cx.timer(cx.now + self.spec.lb_check_interval, K8sEvent::LbCheck);
        }
    }

    fn hop(&mut self) -> SimDuration {
        SimDuration::from_micros(
            self.rng
                .between(self.latency.0.as_micros(), self.latency.1.as_micros()),
        )
    }

    fn call(
        &mut self,
        cx: &mut Cx,
        from: Caller,
        apiserver: usize,
        verb: ApiVerb,
        timeout: SimDuration,
        purpose: Purpose,
    ) {
        self.next_id += 1;
        let id = self.next_id;
        self.pending.insert(
            (from, id),
            Pending {
                purpose,
                apiserver,
                sent: cx.now,
            },
        );
        let deadline = cx.now + timeout;
        let arrive = cx.now + self.hop();
        cx.timer(
            arrive,
            K8sEvent::AtApiserver {
                apiserver,
                req: ApiRequest { id, from, verb },
                deadline,
            },
        );
        cx.timer(deadline, K8sEvent::CallerDeadline { to: from, id });
    }

    pub fn handle(&mut self, ev: K8sEvent, cx: &mut Cx) {
        match ev {
            K8sEvent::KubeletSync(k) => self.kubelet_sync(k, cx),
            K8sEvent::KubeletEnsure(k) => self.kubelet_ensure(k, cx),
            K8sEvent::KubeletStatus(k) => self.kubelet_status(k, cx),
            K8sEvent::KcmElect(m) => self.kcm_elect(m, cx),
            K8sEvent::KcmMonitor { kcm, epoch } => self.kcm_monitor(kcm, epoch, cx),
            K8sEvent::KcmEvict {
                kcm,
                epoch,
                node,
                tainted_at,
            } => self.kcm_evict(kcm, epoch, node, tainted_at, cx),
            K8sEvent::LbCheck => self.lb_check(cx),
            K8sEvent::AtApiserver {
                apiserver,
                req,
                deadline,
            } => self.api_request(apiserver, req, deadline, cx),
            K8sEvent::AtCaller { to, reply } => {
                if let Some(p) = self.pending.remove(&(to, reply.id)) {
                    self.answer(to, p, Ok(reply), cx);
                }
            }
            K8sEvent::CallerDeadline { to, id } => {
                if let Some(p) = self.pending.remove(&(to, id)) {
                    self.answer(to, p, Err(()), cx);
                }
            }
            K8sEvent::EtcdDone(done) => self.etcd_done(*done, cx),
        }
    }

    /// Routes an answer (or the caller's own timeout, `Err(())`) to the caller.
    fn answer(&mut self, to: Caller, p: Pending, reply: Result<ApiReply, ()>, cx: &mut Cx) {
        let (result, members) = match reply {
            Ok(r) => (r.result, r.etcd_members),
            Err(()) => (Err(ApiError::ClientTimeout), vec![]),
        };
        match to {
            Caller::Kubelet(k) => self.kubelet_answer(k, p, result, members, cx),
            Caller::Kcm(m) => self.kcm_answer(m, p, result, cx),
            Caller::Lb => self.lb_answer(p, result, cx),
        }
    }

    // ------------------------------------------------------------------ apiserver

    fn api_request(&mut self, a: usize, req: ApiRequest, deadline: SimTime, cx: &mut Cx) {
        let etcd_deadline = deadline.min(cx.now + self.spec.apiserver_request_timeout);
        let (stage, op, via_cache, dl) = match &req.verb {
            ApiVerb::Get { key, from_cache } => (
                Stage::Get,
                ServerOp::Get {
                    key: key.clone(),
                    serializable: *from_cache,
                },
                *from_cache,
                etcd_deadline,
            ),
            ApiVerb::Update { key, value, rv } => (
                Stage::Txn,
                txn(key, Compare::ModRevision(*rv), value),
                false,
                etcd_deadline,
            ),
            ApiVerb::Create { key, value } => (
                Stage::Txn,
                txn(key, Compare::ModRevision(0), value),
                false,
                etcd_deadline,
            ),
            ApiVerb::Patch { key, .. } => (
                Stage::PatchRead(0),
                ServerOp::Get {
                    key: key.clone(),
                    serializable: true,
                },
                true,
                etcd_deadline,
            ),
            ApiVerb::Readyz => (
                Stage::Readyz,
                ServerOp::Get {
                    key: "/registry/health".into(),
                    serializable: false,
                },
                false,
                etcd_deadline.min(cx.now + self.spec.apiserver_health_timeout),
            ),
        };
        let s = &mut self.apiservers[a];
        s.next_token += 1;
        let token = s.next_token;
        s.calls.insert(
            token,
            ApiCall {
                req,
                deadline,
                stage,
                members: vec![],
            },
        );
        cx.send(EtcdCall {
            apiserver: a,
            via_cache,
            token,
            op,
            deadline: dl,
        });
    }

    fn etcd_done(&mut self, done: EtcdDone, cx: &mut Cx) {
        let EtcdDone {
            apiserver: a,
            token,
            outcome,
            reply,
            routed,
        } = done;
        let Some(mut call) = self.apiservers[a].calls.remove(&token) else {
            return;
        };
        call.members.extend(routed.iter().map(|n| n.0));
        let next = next_step(call.stage, &call.req.verb, etcd_result(outcome, reply));
        match next {
            Ok((stage, op, via_cache)) => {
                call.stage = stage;
                let deadline = call
                    .deadline
                    .min(cx.now + self.spec.apiserver_request_timeout);
                let s = &mut self.apiservers[a];
                cx.send(EtcdCall {
                    apiserver: a,
                    via_cache,
                    token,
                    op,
                    deadline,
                });
                s.calls.insert(token, call);
            }
            Err(result) => {
                let to = call.req.from;
                let reply = ApiReply {
                    id: call.req.id,
                    result,
                    etcd_members: call.members,
                };
                let at = cx.now + self.hop();
                cx.timer(at, K8sEvent::AtCaller { to, reply });
            }
        }
    }

    // ------------------------------------------------------------------ kubelet

    fn lease_timeout(&self) -> SimDuration {
        self.spec.heartbeat_timeout
    }

    fn kubelet_sync(&mut self, k: usize, cx: &mut Cx) {
        let kl = &mut self.kubelets[k];
        kl.attempt = 0;
        kl.round = Round::Optimistic;
        match kl.latest_rv {
            Some(rv) => self.lease_update(k, rv, cx),
            None => self.kubelet_ensure(k, cx),
        }
    }

    fn lease_update(&mut self, k: usize, rv: u64, cx: &mut Cx) {
        let kl = &self.kubelets[k];
        let verb = ApiVerb::Update {
            key: self.keys[k].lease.clone(),
            value: lease_value(&kl.name, cx.now.as_micros()),
            rv,
        };
        let (a, t) = (kl.apiserver, self.lease_timeout());
        self.call(cx, Caller::Kubelet(k), a, verb, t, Purpose::LeaseUpdate);
    }

    /// `backoffEnsureLease`: GET the lease (quorum read), create it if missing, back off on errors.
    fn kubelet_ensure(&mut self, k: usize, cx: &mut Cx) {
        let kl = &self.kubelets[k];
        let verb = ApiVerb::Get {
            key: self.keys[k].lease.clone(),
            from_cache: false,
        };
        let (a, t) = (kl.apiserver, self.lease_timeout());
        self.call(cx, Caller::Kubelet(k), a, verb, t, Purpose::LeaseGet);
    }

    fn next_sync(&mut self, k: usize, cx: &mut Cx) {
        let wait = jitter(&mut self.rng, self.spec.renew_interval, 4);
        self.kubelets[k].backoff = SimDuration::from_millis(200);
        cx.timer(cx.now + wait, K8sEvent::KubeletSync(k));
    }

    fn kubelet_answer(
        &mut self,
        k: usize,
        p: Pending,
        result: Result<Object, ApiError>,
        members: Vec<u64>,
        cx: &mut Cx,
    ) {
        match p.purpose {
            Purpose::LeaseUpdate | Purpose::LeaseCreate => {
                self.lease_written(k, p, result, members, cx)
            }
            Purpose::LeaseGet => match result {
                Ok(obj) => {
                    let kl = &mut self.kubelets[k];
                    kl.latest_rv = Some(obj.rv);
                    kl.backoff = SimDuration::from_millis(200);
                    if kl.round == Round::Optimistic && kl.attempt > 0 {
                        // Ensure after a failed round: a second round of updates follows.
                        kl.round = Round::AfterEnsure;
                        kl.attempt = 0;
                    }
                    self.lease_update(k, obj.rv, cx);
                }
                Err(ApiError::NotFound) => {
                    let kl = &self.kubelets[k];
                    let verb = ApiVerb::Create {
                        key: self.keys[k].lease.clone(),
                        value: lease_value(&kl.name, cx.now.as_micros()),
                    };
                    let (a, t) = (kl.apiserver, self.lease_timeout());
                    self.call(cx, Caller::Kubelet(k), a, verb, t, Purpose::LeaseCreate);
                }
                Err(e) => {
                    self.renew_failed(k, &p, &e, &members, "get lease", cx);
                    let kl = &mut self.kubelets[k];
                    let wait = kl.backoff;
                    kl.backoff = (kl.backoff * 2).min(SimDuration::from_secs(7));
                    cx.timer(cx.now + wait, K8sEvent::KubeletEnsure(k));
                }
            },
            Purpose::StatusGet => self.status_got(k, result, cx),
            Purpose::StatusPatch => self.kubelets[k].status_inflight = false,
            _ => unreachable!("kubelet got an answer for {:?}", p.purpose),
        }
    }

    fn lease_written(
        &mut self,
        k: usize,
        p: Pending,
        result: Result<Object, ApiError>,
        members: Vec<u64>,
        cx: &mut Cx,
    ) {
        match result {
            Ok(obj) => {
                self.kubelets[k].latest_rv = Some(obj.rv);
                cx.record_later(TraceEvent::LeaseRenewed {
                    node: self.kubelets[k].name.clone(),
                    apiserver: p.apiserver as u64 + 1,
                    took_us: cx.now.since(p.sent).as_micros(),
                });
                self.next_sync(k, cx);
            }
            Err(ApiError::Conflict) => {
                self.renew_failed(k, &p, &ApiError::Conflict, &members, "update lease", cx);
                self.kubelet_ensure(k, cx);
            }
            Err(e) => {
                self.renew_failed(k, &p, &e, &members, "update lease", cx);
                let kl = &mut self.kubelets[k];
                let attempt = kl.attempt;
                kl.attempt += 1;
                if attempt > 0 {
                    self.close_all_conns(k, cx);
                }
                let kl = &self.kubelets[k];
                if kl.attempt < self.spec.lease_update_retries {
                    let rv = kl.latest_rv.unwrap_or(0);
                    self.lease_update(k, rv, cx);
                } else if kl.round == Round::Optimistic {
                    // "failed to update lease using latest lease, fallback to ensure lease"
                    self.kubelet_ensure(k, cx);
                } else {
                    // "Will retry updating lease" at the next interval.
                    self.next_sync(k, cx);
                }
            }
        }
    }

    fn renew_failed(
        &mut self,
        k: usize,
        p: &Pending,
        e: &ApiError,
        members: &[u64],
        what: &str,
        cx: &mut Cx,
    ) {
        let kl = &self.kubelets[k];
        let attempt = if p.purpose == Purpose::LeaseGet {
            0
        } else {
            kl.attempt + 1
        };
        cx.record_later(TraceEvent::LeaseRenewFailed(Box::new(LeaseRenewFailed {
            node: kl.name.clone(),
            apiserver: p.apiserver as u64 + 1,
            etcd: members.to_vec(),
            request: what.to_string(),
            error: e.message(),
            attempt,
            took_us: cx.now.since(p.sent).as_micros(),
        })));
    }

    /// `onRepeatedHeartbeatFailure`: drop every connection; the next request dials again, which
    /// through a load balancer may land on another apiserver.
    fn close_all_conns(&mut self, k: usize, cx: &mut Cx) {
        let to = match self.spec.kubelet_path {
            KubeletPath::Pinned => self.kubelets[k].apiserver,
            _ => self.lb_pick(),
        };
        self.kubelets[k].apiserver = to;
        cx.record_later(TraceEvent::KubeletReconnect {
            node: self.kubelets[k].name.clone(),
            apiserver: to as u64 + 1,
        });
    }

    fn kubelet_status(&mut self, k: usize, cx: &mut Cx) {
        let next = cx.now + self.spec.status_update_frequency;
        cx.timer(next, K8sEvent::KubeletStatus(k));
        let kl = &mut self.kubelets[k];
        if kl.status_inflight {
            return;
        }
        kl.status_inflight = true;
        let verb = ApiVerb::Get {
            key: self.keys[k].node.clone(),
            from_cache: true,
        };
        let (a, t) = (kl.apiserver, self.lease_timeout());
        self.call(cx, Caller::Kubelet(k), a, verb, t, Purpose::StatusGet);
    }

    fn status_got(&mut self, k: usize, result: Result<Object, ApiError>, cx: &mut Cx) {
        let report = self.spec.status_report_frequency.as_micros();
        let needs = match &result {
            Ok(obj) => {
                let hb: u64 = field(&obj.value, "heartbeat")
                    .and_then(|h| h.parse().ok())
                    .unwrap_or(0);
                field(&obj.value, "ready") != Some("True")
                    || cx.now.as_micros().saturating_sub(hb) >= report
            }
            Err(ApiError::NotFound) => true,
            Err(_) => false,
        };
        if !needs {
            self.kubelets[k].status_inflight = false;
            return;
        }
        let kl = &self.kubelets[k];
        let verb = ApiVerb::Patch {
            key: self.keys[k].node.clone(),
            value: node_value("True", cx.now.as_micros()),
        };
        let (a, t) = (kl.apiserver, self.lease_timeout());
        self.call(cx, Caller::Kubelet(k), a, verb, t, Purpose::StatusPatch);
    }

    // ------------------------------------------------------------------ controller-manager

    fn kcm_elect(&mut self, m: usize, cx: &mut Cx) {
        let spec = &self.spec;
        let wait = if self.kcms[m].leader {
            spec.leader_retry_period
        } else {
            jitter(&mut self.rng, self.spec.leader_retry_period, 120)
        };
        cx.timer(cx.now + wait, K8sEvent::KcmElect(m));
        let kcm = &mut self.kcms[m];
        if kcm.leader && cx.now.since(kcm.last_renew) > self.spec.leader_renew_deadline {
            kcm.leader = false;
            kcm.epoch += 1;
            kcm.health.clear();
            cx.record_later(TraceEvent::KcmLeadership {
                kcm: m as u64 + 1,
                acquired: false,
                reason: format!(
                    "leaderelection lost: failed to renew within {}",
                    self.spec.leader_renew_deadline
                ),
            });
        }
        if self.kcms[m].inflight {
            return;
        }
        self.kcms[m].inflight = true;
        let verb = ApiVerb::Get {
            key: self.kcm_lease.clone(),
            from_cache: false,
        };
        let t = self.spec.leader_renew_deadline;
        self.call(cx, Caller::Kcm(m), m, verb, t, Purpose::ElectGet);
    }

    fn kcm_answer(&mut self, m: usize, p: Pending, result: Result<Object, ApiError>, cx: &mut Cx) {
        match p.purpose {
            Purpose::ElectGet => self.kcm_got_lease(m, result, cx),
            Purpose::ElectWrite => {
                self.kcms[m].inflight = false;
                if let Ok(obj) = result {
                    self.kcm_renewed(m, obj.rv, cx);
                }
            }
            Purpose::ObserveLease(n) => self.kcm_observed(m, n, true, result, cx),
            Purpose::ObserveNode(n) => self.kcm_observed(m, n, false, result, cx),
            Purpose::MarkUnknown => {}
            _ => unreachable!("kcm got an answer for {:?}", p.purpose),
        }
    }

    fn kcm_got_lease(&mut self, m: usize, result: Result<Object, ApiError>, cx: &mut Cx) {
        let me = self.kcms[m].name.clone();
        let value = lease_value(&me, cx.now.as_micros());
        let verb = match result {
            Err(ApiError::NotFound) => ApiVerb::Create {
                key: self.kcm_lease.clone(),
                value,
            },
            Err(_) => {
                self.kcms[m].inflight = false;
                return;
            }
            Ok(obj) => {
                let kcm = &mut self.kcms[m];
                if obj.rv != kcm.observed_rv {
                    kcm.observed_rv = obj.rv;
                    kcm.observed_at = cx.now;
                }
                let holder = field(&obj.value, "holder").unwrap_or("");
                let expired = cx.now >= kcm.observed_at + self.spec.leader_lease_duration;
                if holder != me && !expired {
                    kcm.inflight = false;
                    return;
                }
                ApiVerb::Update {
                    key: self.kcm_lease.clone(),
                    value,
                    rv: obj.rv,
                }
            }
        };
        let t = self.spec.leader_renew_deadline;
        self.call(cx, Caller::Kcm(m), m, verb, t, Purpose::ElectWrite);
    }

    fn kcm_renewed(&mut self, m: usize, rv: u64, cx: &mut Cx) {
        let kcm = &mut self.kcms[m];
        kcm.last_renew = cx.now;
        kcm.observed_rv = rv;
        kcm.observed_at = cx.now;
        if kcm.leader {
            return;
        }
        kcm.leader = true;
        kcm.epoch += 1;
        kcm.health.clear();
        let epoch = kcm.epoch;
        cx.record_later(TraceEvent::KcmLeadership {
            kcm: m as u64 + 1,
            acquired: true,
            reason: "acquired lease kube-system/kube-controller-manager".into(),
        });
        cx.timer(cx.now, K8sEvent::KcmMonitor { kcm: m, epoch });
    }

    fn kcm_monitor(&mut self, m: usize, epoch: u64, cx: &mut Cx) {
        if !self.kcms[m].leader || self.kcms[m].epoch != epoch {
            return;
        }
        cx.timer(
            cx.now + self.spec.node_monitor_period,
            K8sEvent::KcmMonitor { kcm: m, epoch },
        );
        let grace = self.spec.node_monitor_grace_period;
        let stale: Vec<usize> = self.kcms[m]
            .health
            .iter()
            .filter(|(_, h)| h.ready && cx.now.since(h.probe) > grace)
            .map(|(n, _)| *n)
            .collect();
        for n in stale {
            self.mark_unknown(m, n, cx);
        }
        for n in 0..self.names.len() {
            let h = self.kcms[m].health.get(&n).cloned();
            let (lease_busy, node_busy) =
                h.map_or((false, false), |h| (h.observing_lease, h.observing_node));
            if !lease_busy {
                self.observe(m, self.keys[n].lease.clone(), Purpose::ObserveLease(n), cx);
            }
            if !node_busy {
                self.observe(m, self.keys[n].node.clone(), Purpose::ObserveNode(n), cx);
            }
            if let Some(h) = self.kcms[m].health.get_mut(&n) {
                h.observing_lease = true;
                h.observing_node = true;
            }
        }
    }

    /// A read of `key` from the watch cache of the KCM's own apiserver (what its informers see).
    fn observe(&mut self, m: usize, key: Key, purpose: Purpose, cx: &mut Cx) {
        let verb = ApiVerb::Get {
            key,
            from_cache: true,
        };
        self.call(
            cx,
            Caller::Kcm(m),
            m,
            verb,
            self.spec.node_monitor_period,
            purpose,
        );
    }

    fn mark_unknown(&mut self, m: usize, n: usize, cx: &mut Cx) {
        let epoch = self.kcms[m].epoch;
        let h = self.kcms[m].health.get_mut(&n).expect("listed");
        h.ready = false;
        h.tainted_at = Some(cx.now);
        let hb = h.heartbeat;
        let name = self.names[n].clone();
        condition(cx, m, &name, false);
        let evict_at = cx.now + self.spec.eviction_toleration;
        cx.timer(
            evict_at,
            K8sEvent::KcmEvict {
                kcm: m,
                epoch,
                node: n,
                tainted_at: cx.now,
            },
        );
        let verb = ApiVerb::Patch {
            key: self.keys[n].node.clone(),
            value: node_value("Unknown", hb),
        };
        self.call(
            cx,
            Caller::Kcm(m),
            m,
            verb,
            self.spec.node_monitor_period,
            Purpose::MarkUnknown,
        );
    }

    fn kcm_observed(
        &mut self,
        m: usize,
        n: usize,
        lease: bool,
        result: Result<Object, ApiError>,
        cx: &mut Cx,
    ) {
        let now = cx.now;
        let kcm = &mut self.kcms[m];
        let h = kcm.health.entry(n).or_insert(Health {
            probe: now,
            lease_rv: 0,
            node_rv: 0,
            heartbeat: 0,
            ready: true,
            tainted_at: None,
            observing_lease: false,
            observing_node: false,
        });
        if lease {
            h.observing_lease = false;
        } else {
            h.observing_node = false;
        }
        let Ok(obj) = result else { return };
        if lease {
            if obj.rv > h.lease_rv {
                h.lease_rv = obj.rv;
                h.probe = now;
            }
            return;
        }
        if obj.rv <= h.node_rv {
            return;
        }
        h.node_rv = obj.rv;
        let hb: u64 = field(&obj.value, "heartbeat")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let ready = field(&obj.value, "ready") == Some("True");
        if ready && hb != h.heartbeat {
            h.heartbeat = hb;
            h.probe = now;
        }
        if ready && !h.ready {
            h.ready = true;
            h.tainted_at = None;
            let name = self.names[n].clone();
            condition(cx, m, &name, true);
        } else if !ready
            && field(&obj.value, "ready") == Some("Unknown")
            && h.ready
            && h.tainted_at.is_none()
        {
            // Another controller marked it before this one led: adopt its view.
            h.ready = false;
        }
    }

    fn kcm_evict(&mut self, m: usize, epoch: u64, n: usize, tainted_at: SimTime, cx: &mut Cx) {
        let kcm = &self.kcms[m];
        let still = kcm.leader
            && kcm.epoch == epoch
            && kcm
                .health
                .get(&n)
                .is_some_and(|h| h.tainted_at == Some(tainted_at));
        if still {
            cx.record_later(TraceEvent::PodsEvicted {
                node: self.names[n].clone(),
                tainted_for_us: self.spec.eviction_toleration.as_micros(),
            });
        }
    }

    // ------------------------------------------------------------------ load balancer

    fn lb_pick(&mut self) -> usize {
        let n = self.lb.healthy.len();
        let any = self.lb.healthy.iter().any(|h| *h);
        let i = (0..n)
            .map(|d| (self.lb.rr + d) % n)
            .find(|&i| !any || self.lb.healthy[i])
            .expect("at least one backend");
        self.lb.rr = (i + 1) % n;
        i
    }

    fn lb_check(&mut self, cx: &mut Cx) {
        cx.timer(cx.now + self.spec.lb_check_interval, K8sEvent::LbCheck);
        for a in 0..self.lb.healthy.len() {
            if self.lb.inflight[a] {
                continue;
            }
            self.lb.inflight[a] = true;
            let t = self.spec.lb_check_interval + self.spec.apiserver_health_timeout;
            self.call(cx, Caller::Lb, a, ApiVerb::Readyz, t, Purpose::Readyz(a));
        }
    }

    fn lb_answer(&mut self, p: Pending, result: Result<Object, ApiError>, cx: &mut Cx) {
        let Purpose::Readyz(a) = p.purpose else {
            unreachable!("lb asks only /readyz")
        };
        let lb = &mut self.lb;
        lb.inflight[a] = false;
        if result.is_ok() {
            lb.ok_streak[a] += 1;
            lb.fail_streak[a] = 0;
        } else {
            lb.fail_streak[a] += 1;
            lb.ok_streak[a] = 0;
        }
        let flip = if lb.healthy[a] {
            lb.fail_streak[a] >= self.spec.lb_fall
        } else {
            lb.ok_streak[a] >= self.spec.lb_rise
        };
        if flip {
            lb.healthy[a] = !lb.healthy[a];
            cx.record_later(TraceEvent::LbBackend {
                apiserver: a as u64 + 1,
                healthy: lb.healthy[a],
            });
        }
    }

    /// Which kubelets currently use which apiserver (for reports).
    pub fn kubelet_apiservers(&self) -> Vec<(String, u64)> {
        self.kubelets
            .iter()
            .map(|k| (k.name.clone(), k.apiserver as u64 + 1))
            .collect()
    }
}

/// The controller sets a node's Ready condition (Unknown, or back to True as the kubelet posts
/// status) and adds or removes the `unreachable` taints with it.
fn condition(cx: &mut Cx, m: usize, node: &str, ready: bool) {
    let (value, reason) = if ready {
        ("True", "KubeletReady: kubelet is posting ready status")
    } else {
        (
            "Unknown",
            "NodeStatusUnknown: Kubelet stopped posting node status.",
        )
    };
    cx.record_later(TraceEvent::NodeCondition(Box::new(NodeCondition {
        node: node.into(),
        ready: value.into(),
        reason: reason.into(),
        kcm: m as u64 + 1,
    })));
    for effect in ["NoSchedule", "NoExecute"] {
        cx.record_later(TraceEvent::NodeTaint {
            node: node.into(),
            taint: format!("node.kubernetes.io/unreachable:{effect}"),
            added: !ready,
        });
    }
}

/// What an etcd answer means to the apiserver.
fn etcd_result(outcome: Outcome, reply: Option<ReplyBody>) -> Result<KvResult, ApiError> {
    match (outcome, reply) {
        (Outcome::Ok, Some(ReplyBody::Kv { result, .. })) => Ok(result),
        (Outcome::Failed(m), _) => Err(ApiError::Internal(m)),
        (Outcome::Timeout, _) => Err(ApiError::Internal("context deadline exceeded".into())),
        (o, r) => Err(ApiError::Internal(format!(
            "unexpected etcd answer {o:?} {r:?}"
        ))),
    }
}

/// What an apiserver does after one etcd step of a call: another etcd operation (the next stage,
/// the operation, whether it goes to the watch cache) or the answer to its caller.
#[allow(clippy::type_complexity)]
fn next_step(
    stage: Stage,
    verb: &ApiVerb,
    result: Result<KvResult, ApiError>,
) -> Result<(Stage, ServerOp, bool), Result<Object, ApiError>> {
    match (stage, result) {
        (Stage::Readyz, Ok(_)) => Err(Ok(Object {
            value: "ok".into(),
            rv: 0,
        })),
        (Stage::Readyz, Err(e)) => Err(Err(ApiError::Internal(format!(
            "[-]etcd failed: {}",
            e.message()
        )))),
        (_, Err(e)) => Err(Err(e)),
        (Stage::Get, Ok(KvResult::Get { kv: Some(kv), .. })) => Err(Ok(Object {
            value: kv.value,
            rv: kv.mod_revision,
        })),
        (Stage::Get, Ok(_)) => Err(Err(ApiError::NotFound)),
        (
            Stage::Txn | Stage::PatchTxn(_),
            Ok(KvResult::Txn {
                succeeded: true,
                revision,
            }),
        ) => Err(Ok(Object {
            value: written(verb).into(),
            rv: revision,
        })),
        (Stage::Txn, Ok(_)) => Err(Err(ApiError::Conflict)),
        (Stage::PatchRead(n), Ok(KvResult::Get { kv, .. })) => {
            let rv = kv.map_or(0, |kv| kv.mod_revision);
            Ok((
                Stage::PatchTxn(n),
                txn(&key_of(verb), Compare::ModRevision(rv), &written(verb)),
                false,
            ))
        }
        (Stage::PatchTxn(n), Ok(_)) if n < 4 => {
            // Conflict: GuaranteedUpdate re-reads from etcd (quorum read) and tries again.
            Ok((
                Stage::PatchRead(n + 1),
                ServerOp::Get {
                    key: key_of(verb),
                    serializable: false,
                },
                false,
            ))
        }
        (_, Ok(_)) => Err(Err(ApiError::Conflict)),
    }
}

fn txn(key: &str, compare: Compare, value: &str) -> ServerOp {
    ServerOp::write(KvOp::Txn {
        key: key.to_string(),
        compare,
        then_put: value.to_string(),
        lease: None,
    })
}

fn written(v: &ApiVerb) -> String {
    match v {
        ApiVerb::Update { value, .. }
        | ApiVerb::Create { value, .. }
        | ApiVerb::Patch { value, .. } => value.clone(),
        _ => String::new(),
    }
}

fn key_of(v: &ApiVerb) -> Key {
    match v {
        ApiVerb::Get { key, .. }
        | ApiVerb::Update { key, .. }
        | ApiVerb::Create { key, .. }
        | ApiVerb::Patch { key, .. } => key.clone(),
        ApiVerb::Readyz => "/registry/health".into(),
    }
}
