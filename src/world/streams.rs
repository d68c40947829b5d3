//! Long-lived commands in the loop (`lease keep-alive`, `watch`, `lock`): each runs on a client
//! of its own, issues its requests through it (so they are in the history like any other), and
//! is fed their outcomes, its timers and, for a watch, the events its member pushes.

use super::clients::Issuer;
use super::{Event, Sim};
use crate::client::command::Command;
use crate::client::stream::{Act, KeepAlive, Lock, Purpose, Stream, StreamTimer, Watch};
use crate::node::rpc::WatchPush;
use crate::record::CommandRun;
use crate::sim::ids::{LeaseId, OpId};
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::trace::TraceEvent;

impl Sim {
    /// Starts scenario command `index` as a stream.
    pub(super) fn start_stream(&mut self, index: usize, now: SimTime) {
        let spec = self.scenario.commands[index].clone();
        self.history.commands.push(CommandRun {
            index,
            ops: vec![],
            remaining: 0,
            started: now,
            finished: None,
            output: vec![],
        });
        let run = self.history.commands.len() - 1;
        // A stream outlives its requests: its client is never ephemeral.
        let client = match &spec.session {
            Some(_) => self.command_client(&spec.session, &spec.endpoints),
            None => self.new_client(spec.endpoints.clone(), false),
        };
        let forever = SimTime::ZERO + self.scenario.duration + SimDuration::from_secs(1);
        let (stream, acts) = match spec.command {
            Command::LeaseKeepAlive { lease, .. } => {
                let (k, acts) = KeepAlive::start(index, LeaseId::named(&lease), now, true);
                (Stream::KeepAlive(k), acts)
            }
            Command::Watch {
                key,
                prefix,
                start_revision,
            } => {
                self.clients.watch_of_client.insert(client, run);
                let (w, acts) = Watch::start(index, key, prefix, start_revision, forever);
                (Stream::Watch(w), acts)
            }
            Command::Lock { name, ttl_s } => {
                let lease = LeaseId::named(spec.id.as_deref().unwrap_or(&name));
                let (l, acts) = Lock::start(index, name, lease, ttl_s, now, spec.timeout);
                (Stream::Lock(l), acts)
            }
            other => unreachable!("not a stream: {other:?}"),
        };
        self.clients.streams.insert(run, (client, stream));
        self.stream_acts(run, acts);
    }

    /// Carries out what a stream asked for.
    fn stream_acts(&mut self, run: usize, acts: Vec<Act>) {
        let now = self.now();
        for act in acts {
            match act {
                Act::Issue {
                    op,
                    deadline,
                    purpose,
                } => self.stream_issue(run, op, deadline, purpose),
                Act::Wake(at, t) => self.queue.schedule(at, Event::Stream(run, t)),
                Act::Print(lines) => self.stream_print(run, lines),
                Act::Trace(e) => self.trace.push(now, e),
            }
        }
    }

    fn stream_issue(
        &mut self,
        run: usize,
        kind: crate::node::rpc::ServerOp,
        deadline: SimTime,
        purpose: Purpose,
    ) {
        let (client, _) = self.clients.streams[&run];
        let index = self.history.commands[run].index;
        let spec = &self.scenario.commands[index];
        let actor = spec.session.as_deref().unwrap_or("etcdctl").into();
        let issuer = Issuer::Command { index, run };
        let op = self.new_op(client, issuer, actor, &kind);
        self.history.commands[run].ops.push(op);
        self.clients.stream_ops.insert(op, purpose);
        self.with_client(client, |c, now, fx| c.start(op, kind, deadline, now, fx));
    }

    fn stream_print(&mut self, run: usize, lines: Vec<String>) {
        let now = self.now();
        let cr = &mut self.history.commands[run];
        cr.output.extend(lines.iter().cloned());
        let took_us = now.since(cr.started).as_micros();
        let command = cr.index;
        self.trace.push(
            now,
            TraceEvent::CommandOutput {
                command,
                lines,
                took_us,
            },
        );
    }

    /// A request of a stream completed.
    pub(super) fn stream_op_done(&mut self, run: usize, op: OpId) {
        let now = self.now();
        let purpose = self.clients.stream_ops.remove(&op).expect("a stream's op");
        let h = self.history.op(op);
        let (outcome, reply) = (h.outcome.clone(), h.reply.clone());
        let Some((_, stream)) = self.clients.streams.get_mut(&run) else {
            return;
        };
        let acts = stream.on_done(purpose, now, &outcome, reply.as_ref());
        let ended = stream.ended();
        self.stream_acts(run, acts);
        if ended {
            self.history.commands[run].finished.get_or_insert(now);
        }
    }

    /// A stream's timer fired.
    pub(super) fn stream_timer(&mut self, run: usize, t: StreamTimer) {
        let now = self.now();
        let Some((_, stream)) = self.clients.streams.get_mut(&run) else {
            return;
        };
        let acts = stream.on_timer(t, now);
        self.stream_acts(run, acts);
    }

    /// A member pushed events on a watch stream (or the stream broke).
    pub(super) fn watch_push(&mut self, w: WatchPush) {
        let now = self.now();
        let Some(&run) = self.clients.watch_of_client.get(&w.client) else {
            return;
        };
        if w.broken {
            self.with_client(w.client, |c, _, fx| c.member_crashed(w.from, fx));
        }
        let Some((_, Stream::Watch(watch))) = self.clients.streams.get_mut(&run) else {
            return;
        };
        let acts = watch.on_push(w.from, &w.events, w.broken, now);
        self.stream_acts(run, acts);
    }
}
