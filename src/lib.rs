//! raftsim: an in-process Raft simulator with deterministic fault injection.
#![deny(missing_docs)]
//!
//! Three (or more) members run the real `raft` crate (tikv raft-rs 0.7) over a virtual network
//! and virtual disks, driven by one discrete-event loop in simulated time from one seed. Clients
//! modelled on etcdctl and etcd clientv3 show what users of the cluster see.
//!
//! Layers, each importing only those before it (`tests/architecture.rs` checks it):
//! [`sim`] (time, ids, RNG streams, queue, trace, effects) -> [`net`], [`disk`] -> [`node`] ->
//! [`client`] -> [`k8s`] -> [`record`] -> [`scenario`] -> [`check`] -> [`world`] (the loop) ->
//! [`run`](mod@run) -> [`report`] -> [`explore`].
//!
//! ```
//! use raftsim::{run, RunOptions, Scenario};
//! let s = Scenario::builtin("etcd-follower-fsync-stall")?; // or Scenario::load(path), Scenario::parse(text, name)
//! let r = run(&s, &RunOptions { seed: Some(7), ..Default::default() });
//! assert!(r.passed(), "{}", raftsim::report::timeline::render(&r));
//! assert!(r.elections() >= 1);
//! # Ok::<(), raftsim::ScenarioError>(())
//! ```

pub mod check;
pub mod client;
pub mod disk;
pub mod explore;
pub mod k8s;
pub mod net;
pub mod node;
pub mod record;
pub mod report;
pub mod run;
pub mod scenario;
pub mod sim;
pub mod world;

pub use record::Record;
pub use run::{run, run_streaming, NodeSummary, RunOptions, RunResult};
pub use scenario::{Scenario, ScenarioError};
pub use sim::ids::{ClientId, LogIndex, NodeId, OpId, RequestId, Term};
pub use sim::time::{SimDuration, SimTime};
