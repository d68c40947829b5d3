//! The one effect type every actor returns, and the handle it writes them to.
//!
//! An actor (a member, a client, the Kubernetes layer) is called by the loop with an [`Out`]:
//! the current simulated time, the trace, and a buffer of [`Effect`]s. It never schedules events
//! or touches another actor itself; the loop turns each effect into events, in order, after the
//! call returns. This keeps every actor a plain state machine that a unit test can drive with a
//! vector (stateright's `Out<Command>` is the model).
//!
//! `M` is what the actor sends (a raft message, a client request, an etcd call); `T` the payload
//! of its own timers. Both are the actor's types: the loop routes them.

use super::observe::Observation;
use super::time::SimTime;
use super::trace::{Trace, TraceEvent};

/// What an actor asks the loop to do.
#[derive(Debug)]
pub enum Effect<M, T> {
    /// Send `M` to whoever it addresses (the loop routes it over the network it belongs to).
    Send(M),
    /// Call the actor back with `T` at the given simulated time.
    Timer(SimTime, T),
    /// Record this trace event when the loop handles the effect, after the effects before it
    /// (for actors whose trace lines must follow their own requests).
    Trace(TraceEvent),
    /// Hand a fact to the oracles (the Ready-contract checks judge what the driver observed).
    Observe(Observation),
}

/// The loop's handle for one call into an actor.
pub struct Out<'a, M, T> {
    /// The simulated time of the event being handled.
    pub now: SimTime,
    /// The trace, for events recorded at once (before any effect of this call is handled).
    pub trace: &'a mut Trace,
    /// The effects of this call, in order.
    pub effects: &'a mut Vec<Effect<M, T>>,
}

impl<M, T> Out<'_, M, T> {
    /// Records a trace event now.
    pub fn record(&mut self, event: TraceEvent) {
        self.trace.push(self.now, event);
    }

    /// Sends `m`.
    pub fn send(&mut self, m: M) {
        self.effects.push(Effect::Send(m));
    }

    /// Sets a timer that fires `t` at `at`.
    pub fn timer(&mut self, at: SimTime, t: T) {
        self.effects.push(Effect::Timer(at, t));
    }

    /// Records a trace event after the effects already emitted by this call.
    pub fn record_later(&mut self, event: TraceEvent) {
        self.effects.push(Effect::Trace(event));
    }

    /// Reports a fact to the oracles.
    pub fn observe(&mut self, o: Observation) {
        self.effects.push(Effect::Observe(o));
    }
}
