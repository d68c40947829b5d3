//! Long-lived client commands: `lease keep-alive`, `watch` and `lock`, as etcd's clientv3 runs
//! them (`client/v3/lease.go`, `watch.go`, `concurrency/mutex.go`), each a pure state machine
//! that the loop feeds with the outcome of the requests it asked for and with its timers.
//!
//! Keep-alive (clientv3 `KeepAlive`): the first renewal leaves at once and may wait
//! `--dial-timeout` + 1 s (3 s) for its answer; each answer with a TTL sets the client's
//! deadline to now + TTL and schedules the next renewal a third of the TTL later; an answer of
//! TTL 0 means the lease is gone; an error is retried after 500 ms (`retryConnWait`) on a new
//! stream, which may reach another endpoint. When the deadline passes without an answer the
//! client gives the lease up (`deadlineLoop`; raftsim checks at the deadline itself, clientv3
//! within 500 ms of it).
//!
//! Watch: one stream on one member; it prints each PUT and DELETE as etcdctl does and remembers
//! the last revision, so that when the stream breaks (the member crashed) it is created again,
//! after 500 ms, from the next revision: no event is lost or repeated.
//!
//! Lock (etcdctl `lock`, concurrency `Mutex`): a session lease of `--ttl` seconds kept alive,
//! then a transaction that creates the lock key with that lease when the key does not exist.
//! A transaction that fails, times out or errs is followed by a read of the key: a value equal
//! to the session's lease means this client holds it (a timed-out create that took effect);
//! otherwise it tries again 500 ms later. etcd's `Mutex` creates its own key under the lock's
//! prefix and waits for the deletion of earlier keys through a watch; raftsim's polling of one
//! key gives the same exclusion with acquisitions up to 500 ms later. The client believes it
//! holds the lock from the answer that says so until its session's keep-alive gives up: that
//! belief is what the lock oracle (`check::lock`) compares across clients.

use super::Outcome;
use crate::node::kv::WatchEvent;
use crate::node::kv::{Compare, KvOp, KvResult};
use crate::node::rpc::{ReplyBody, ServerOp};
use crate::sim::ids::{LeaseId, NodeId};
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::trace::{EventKind, TraceEvent};

/// clientv3's wait before it re-creates a broken stream (`retryConnWait`).
pub const RETRY_CONN_WAIT: SimDuration = SimDuration::from_millis(500);
/// How long the first keep-alive may wait for its answer: etcdctl's `--dial-timeout` (2 s) + 1 s
/// (`firstKeepAliveTimeout`).
pub const FIRST_KEEPALIVE_TIMEOUT: SimDuration = SimDuration::from_secs(3);

/// What a stream's request was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// A lease renewal.
    Renew,
    /// The lock's session lease grant.
    Grant,
    /// The lock's create-if-absent transaction.
    Acquire,
    /// The read that checks who holds the lock.
    Check,
    /// Creating the watch.
    WatchCreate,
}

/// A timer of a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamTimer {
    /// Send the next renewal.
    Renew,
    /// Try to take the lock again.
    Acquire,
    /// Create the watch again.
    Rewatch,
}

/// What a stream asks of the loop.
#[derive(Debug, PartialEq)]
pub enum Act {
    /// Issue a request on the stream's client, failing at `deadline`.
    Issue {
        /// The request.
        op: ServerOp,
        /// When the client gives up on it.
        deadline: SimTime,
        /// What it is for (handed back with its outcome).
        purpose: Purpose,
    },
    /// Call back with this timer at this time.
    Wake(SimTime, StreamTimer),
    /// Print these lines (the command's output).
    Print(Vec<String>),
    /// Record this trace event.
    Trace(TraceEvent),
}

/// One long-lived command.
#[derive(Clone, Debug)]
pub enum Stream {
    /// `lease keep-alive`.
    KeepAlive(KeepAlive),
    /// `watch`.
    Watch(Watch),
    /// `lock`.
    Lock(Lock),
}

impl Stream {
    /// Whether it ended (no more requests or output).
    pub fn ended(&self) -> bool {
        match self {
            Stream::KeepAlive(k) => k.ended,
            Stream::Watch(_) => false,
            Stream::Lock(l) => l.ended,
        }
    }

    /// A request it issued completed.
    pub fn on_done(
        &mut self,
        p: Purpose,
        now: SimTime,
        o: &Outcome,
        r: Option<&ReplyBody>,
    ) -> Vec<Act> {
        match self {
            Stream::KeepAlive(k) => k.on_done(now, o, r),
            Stream::Watch(w) => w.on_created(now, o, r),
            Stream::Lock(l) => l.on_done(p, now, o, r),
        }
    }

    /// One of its timers fired.
    pub fn on_timer(&mut self, t: StreamTimer, now: SimTime) -> Vec<Act> {
        match (self, t) {
            (Stream::KeepAlive(k), StreamTimer::Renew) => k.renew_at(now),
            (Stream::Lock(l), StreamTimer::Renew) => l.renew_at(now),
            (Stream::Lock(l), StreamTimer::Acquire) => l.acquire(now),
            (Stream::Watch(w), StreamTimer::Rewatch) => vec![w.create()],
            _ => vec![],
        }
    }
}

/// `lease keep-alive NAME`.
#[derive(Clone, Debug)]
pub struct KeepAlive {
    command: usize,
    lease: LeaseId,
    /// When the client gives the lease up if no answer came.
    deadline: SimTime,
    /// Print each renewal (etcdctl does; a lock's session does not).
    print: bool,
    ended: bool,
}

impl KeepAlive {
    /// Starts keeping `lease` alive: the first renewal leaves now.
    pub fn start(
        command: usize,
        lease: LeaseId,
        now: SimTime,
        print: bool,
    ) -> (KeepAlive, Vec<Act>) {
        let k = KeepAlive {
            command,
            lease,
            deadline: now + FIRST_KEEPALIVE_TIMEOUT,
            print,
            ended: false,
        };
        let acts = k.renew();
        (k, acts)
    }

    /// The renewal timer fired: renew, unless the deadline passed while waiting to retry.
    fn renew_at(&mut self, now: SimTime) -> Vec<Act> {
        if !self.ended && now >= self.deadline {
            return self.end("no keep-alive answer within the lease's TTL");
        }
        self.renew()
    }

    fn renew(&self) -> Vec<Act> {
        if self.ended {
            return vec![];
        }
        vec![Act::Issue {
            op: ServerOp::LeaseKeepAlive { id: self.lease },
            deadline: self.deadline,
            purpose: Purpose::Renew,
        }]
    }

    fn on_done(&mut self, now: SimTime, o: &Outcome, r: Option<&ReplyBody>) -> Vec<Act> {
        match (o, r) {
            (Outcome::Ok, Some(ReplyBody::Lease { ttl_s, .. })) if *ttl_s > 0 => {
                let ttl = SimDuration::from_secs(*ttl_s as u64);
                self.deadline = now + ttl;
                let mut acts = vec![Act::Wake(
                    now + SimDuration::from_micros(ttl.as_micros() / 3),
                    StreamTimer::Renew,
                )];
                if self.print {
                    acts.push(Act::Print(vec![format!(
                        "lease {} keepalived with TTL({ttl_s})",
                        self.lease
                    )]));
                }
                acts
            }
            (Outcome::Ok, _) => {
                self.end("the server answered TTL 0: the lease expired or was revoked")
            }
            (Outcome::Failed(_), _) if now < self.deadline => {
                vec![Act::Wake(now + RETRY_CONN_WAIT, StreamTimer::Renew)]
            }
            _ => self.end("no keep-alive answer within the lease's TTL"),
        }
    }

    fn end(&mut self, reason: &str) -> Vec<Act> {
        self.ended = true;
        let mut acts = vec![Act::Trace(TraceEvent::KeepAliveEnded {
            command: self.command,
            lease: self.lease,
            reason: reason.into(),
        })];
        if self.print {
            acts.push(Act::Print(vec![format!(
                "lease {} expired or revoked.",
                self.lease
            )]));
        }
        acts
    }
}

/// `watch KEY`.
#[derive(Clone, Debug)]
pub struct Watch {
    command: usize,
    key: String,
    prefix: bool,
    /// The next revision to print (0: whatever comes next).
    next_revision: u64,
    /// The request that creates it never times out on its own.
    forever: SimTime,
}

impl Watch {
    /// Starts watching.
    pub fn start(
        command: usize,
        key: String,
        prefix: bool,
        start_revision: u64,
        forever: SimTime,
    ) -> (Watch, Vec<Act>) {
        let w = Watch {
            command,
            key,
            prefix,
            next_revision: start_revision,
            forever,
        };
        let acts = vec![w.create()];
        (w, acts)
    }

    fn create(&self) -> Act {
        Act::Issue {
            op: ServerOp::Watch {
                key: self.key.clone(),
                prefix: self.prefix,
                start_revision: self.next_revision,
            },
            deadline: self.forever,
            purpose: Purpose::WatchCreate,
        }
    }

    fn on_created(&mut self, now: SimTime, o: &Outcome, r: Option<&ReplyBody>) -> Vec<Act> {
        match (o, r) {
            (Outcome::Ok, Some(ReplyBody::WatchCreated { revision })) => {
                if self.next_revision == 0 {
                    self.next_revision = revision + 1;
                }
                vec![]
            }
            _ => vec![Act::Wake(now + RETRY_CONN_WAIT, StreamTimer::Rewatch)],
        }
    }

    /// Events (or a break) arrived from member `node`.
    pub fn on_push(
        &mut self,
        node: NodeId,
        events: &[WatchEvent],
        broken: bool,
        now: SimTime,
    ) -> Vec<Act> {
        if broken {
            return vec![Act::Wake(now + RETRY_CONN_WAIT, StreamTimer::Rewatch)];
        }
        let mut acts = Vec::new();
        let from = self.next_revision;
        for e in events.iter().filter(|e| e.revision >= from) {
            self.next_revision = e.revision + 1;
            let kind = match e.kind {
                EventKind::Put => "PUT",
                EventKind::Delete => "DELETE",
            };
            acts.push(Act::Print(vec![
                kind.into(),
                e.key.clone(),
                e.value.clone(),
            ]));
            acts.push(Act::Trace(TraceEvent::WatchSaw {
                command: self.command,
                node,
                kind: e.kind,
                key: e.key.clone(),
                value: e.value.clone(),
                revision: e.revision,
            }));
        }
        acts
    }
}

/// `lock NAME --ttl=N`.
#[derive(Clone, Debug)]
pub struct Lock {
    command: usize,
    name: String,
    lease: LeaseId,
    request_timeout: SimDuration,
    keepalive: Option<KeepAlive>,
    held: bool,
    ended: bool,
}

impl Lock {
    /// Starts: grants the session lease.
    pub fn start(
        command: usize,
        name: String,
        lease: LeaseId,
        ttl_s: u64,
        now: SimTime,
        request_timeout: SimDuration,
    ) -> (Lock, Vec<Act>) {
        let l = Lock {
            command,
            name,
            lease,
            request_timeout,
            keepalive: None,
            held: false,
            ended: false,
        };
        let grant = Act::Issue {
            op: ServerOp::write(KvOp::LeaseGrant { id: lease, ttl_s }),
            deadline: now + request_timeout,
            purpose: Purpose::Grant,
        };
        (l, vec![grant])
    }

    fn acquire(&self, now: SimTime) -> Vec<Act> {
        if self.ended || self.held {
            return vec![];
        }
        let op = KvOp::Txn {
            key: self.name.clone(),
            compare: Compare::ModRevision(0),
            then_put: self.lease.to_string(),
            lease: Some(self.lease),
        };
        vec![Act::Issue {
            op: ServerOp::write(op),
            deadline: now + self.request_timeout,
            purpose: Purpose::Acquire,
        }]
    }

    fn on_done(
        &mut self,
        p: Purpose,
        now: SimTime,
        o: &Outcome,
        r: Option<&ReplyBody>,
    ) -> Vec<Act> {
        if self.ended {
            return vec![];
        }
        let result = match r {
            Some(ReplyBody::Kv { result, .. }) if *o == Outcome::Ok => Some(result),
            _ => None,
        };
        match p {
            Purpose::Grant => self.granted(now, o),
            Purpose::Renew => self.renewed(now, o, r),
            Purpose::Acquire => match result {
                Some(KvResult::Txn {
                    succeeded: true, ..
                }) => self.acquired(),
                _ => self.check(now),
            },
            Purpose::Check => match result {
                Some(KvResult::Get { kv: Some(kv), .. })
                    if *kv.value == *self.lease.to_string() =>
                {
                    self.acquired()
                }
                _ => vec![Act::Wake(now + RETRY_CONN_WAIT, StreamTimer::Acquire)],
            },
            Purpose::WatchCreate => vec![],
        }
    }

    fn granted(&mut self, now: SimTime, o: &Outcome) -> Vec<Act> {
        if *o != Outcome::Ok {
            self.ended = true;
            let msg = match o {
                Outcome::Failed(m) => m.clone(),
                _ => "context deadline exceeded".into(),
            };
            return vec![Act::Print(vec![format!("Error: {msg}")])];
        }
        let (k, mut acts) = KeepAlive::start(self.command, self.lease, now, false);
        self.keepalive = Some(k);
        acts.extend(self.acquire(now));
        acts
    }

    fn renewed(&mut self, now: SimTime, o: &Outcome, r: Option<&ReplyBody>) -> Vec<Act> {
        let Some(k) = self.keepalive.as_mut() else {
            return vec![];
        };
        let mut acts = k.on_done(now, o, r);
        if k.ended {
            acts.extend(self.session_ended());
        }
        acts
    }

    /// The session's keep-alive gave up: the lock is lost, and the command ends.
    fn session_ended(&mut self) -> Vec<Act> {
        self.ended = true;
        if !self.held {
            return vec![];
        }
        self.held = false;
        vec![
            Act::Trace(TraceEvent::LockReleased {
                command: self.command,
                lock: self.name.clone(),
                reason: "its session's lease ended (keep-alive gave up)".into(),
            }),
            Act::Print(vec!["Error: session expired".into()]),
        ]
    }

    fn renew_at(&mut self, now: SimTime) -> Vec<Act> {
        let Some(k) = self.keepalive.as_mut() else {
            return vec![];
        };
        let mut acts = k.renew_at(now);
        if k.ended {
            acts.extend(self.session_ended());
        }
        acts
    }

    fn check(&self, now: SimTime) -> Vec<Act> {
        let op = ServerOp::Get {
            key: self.name.as_str().into(),
            serializable: false,
        };
        vec![Act::Issue {
            op,
            deadline: now + self.request_timeout,
            purpose: Purpose::Check,
        }]
    }

    fn acquired(&mut self) -> Vec<Act> {
        if self.held {
            return vec![];
        }
        self.held = true;
        vec![
            Act::Trace(TraceEvent::LockAcquired {
                command: self.command,
                lock: self.name.clone(),
            }),
            Act::Print(vec![format!("{}/{}", self.name, self.lease)]),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(ms: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_millis(ms)
    }

    fn lease(ttl_s: i64) -> ReplyBody {
        ReplyBody::Lease {
            id: LeaseId(1),
            ttl_s,
            granted_ttl_s: 0,
        }
    }

    #[test]
    fn keepalive_renews_at_a_third_and_gives_up_at_the_deadline() {
        let (mut k, acts) = KeepAlive::start(0, LeaseId(1), s(0), true);
        assert!(matches!(acts[0], Act::Issue { deadline, .. } if deadline == s(3_000)));
        let acts = k.on_done(s(10), &Outcome::Ok, Some(&lease(9)));
        assert_eq!(acts[0], Act::Wake(s(3_010), StreamTimer::Renew));
        assert!(matches!(&k.renew()[0], Act::Issue { deadline, .. } if *deadline == s(9_010)));
        let acts = k.on_done(s(4_000), &Outcome::Failed("x".into()), None);
        assert_eq!(
            acts,
            vec![Act::Wake(s(4_500), StreamTimer::Renew)],
            "an error is retried"
        );
        k.on_done(s(9_010), &Outcome::Timeout, None);
        assert!(k.ended);
        assert!(k.renew().is_empty());
    }

    #[test]
    fn a_lock_is_held_from_its_create_until_its_session_ends() {
        let (mut l, _) = Lock::start(
            0,
            "L".into(),
            LeaseId(1),
            10,
            s(0),
            SimDuration::from_secs(5),
        );
        let granted = ReplyBody::Kv {
            header: crate::node::rpc::Header {
                member: NodeId(1),
                revision: 0,
                raft_term: 1,
            },
            result: KvResult::LeaseGrant {
                revision: 0,
                id: LeaseId(1),
                ttl_s: 10,
            },
        };
        let acts = l.on_done(Purpose::Grant, s(1), &Outcome::Ok, Some(&granted));
        let purposes: Vec<Purpose> = acts
            .iter()
            .filter_map(|a| match a {
                Act::Issue { purpose, .. } => Some(*purpose),
                _ => None,
            })
            .collect();
        assert_eq!(purposes, vec![Purpose::Renew, Purpose::Acquire]);
        // The create timed out, but took effect: the check finds our lease in the key.
        let acts = l.on_done(Purpose::Acquire, s(5_000), &Outcome::Timeout, None);
        assert!(matches!(
            acts[0],
            Act::Issue {
                purpose: Purpose::Check,
                ..
            }
        ));
        let ours = ReplyBody::Kv {
            header: crate::node::rpc::Header {
                member: NodeId(1),
                revision: 2,
                raft_term: 1,
            },
            result: KvResult::Get {
                revision: 2,
                kv: Some(Box::new(crate::node::kv::KeyValue {
                    key: "L".into(),
                    value: LeaseId(1).to_string().into(),
                    create_revision: 2,
                    mod_revision: 2,
                    version: 1,
                    lease: Some(LeaseId(1)),
                })),
            },
        };
        let acts = l.on_done(Purpose::Check, s(5_010), &Outcome::Ok, Some(&ours));
        assert!(matches!(
            acts[0],
            Act::Trace(TraceEvent::LockAcquired { .. })
        ));
        let acts = l.on_done(Purpose::Renew, s(13_000), &Outcome::Timeout, None);
        assert!(acts
            .iter()
            .any(|a| matches!(a, Act::Trace(TraceEvent::LockReleased { .. }))));
        assert!(l.ended);
    }
}
