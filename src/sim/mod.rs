//! The foundation: simulated time, typed ids, seeded random streams, the event queue, the trace,
//! the effect type every actor returns and the facts the oracles are told. Nothing here imports
//! anything above it (a test checks it); the loop that uses all of this is `world/`.

pub mod actor;
pub mod ids;
pub mod log;
pub mod observe;
pub mod queue;
pub mod rng;
pub mod time;
pub mod trace;
