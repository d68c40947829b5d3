//! The simulation core: time, ids, randomness, the event queue, the trace and the loop.

pub mod ids;
pub mod log;
pub mod queue;
pub mod rng;
pub mod time;
pub mod trace;
pub mod world;
