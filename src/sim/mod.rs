//! The foundation: simulated time, typed ids, seeded random streams, the event queue, the trace,
//! the effect type every actor returns and the facts the oracles are told. Nothing here imports
//! anything above it (a test checks it); the loop that uses all of this is `world/`.

pub mod actor;
pub mod heard;
pub mod ids;
pub mod log;
pub mod observe;
pub mod queue;
pub mod rng;
pub mod time;
pub mod trace;

/// Implements `Display` and `Serialize` for a type with a `name(self) -> &'static str`: the type
/// is shown and serialized as its name (oracles, failures, undecided checks).
macro_rules! shown_as_name {
    ($t:ty) => {
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }
    };
}
pub(crate) use shown_as_name;
