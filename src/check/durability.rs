//! The durability oracle: once every fault has healed long enough for members to converge, every
//! acknowledged write is present on every live member. While a fault is still active, or a
//! member is down at the end, it checks what it still can: every running member that applied
//! past the index where an acknowledged write took effect must have applied that write.

use super::OracleViolation;
use crate::node::NodeStatus;
use crate::record::Record;
use crate::scenario::Scenario;
use crate::sim::time::SimDuration;
use crate::sim::trace::Oracle;

/// How long after the last fault ends members are given to converge.
pub const SETTLE: SimDuration = SimDuration(10_000_000);

/// Whether every fault ended at least [`SETTLE`] before the run did and every member of the
/// final member list is running (a spare never started and a removed member do not count; a
/// `start` has no end and needs none).
pub fn faults_healed(s: &Scenario, r: &Record) -> bool {
    let ended = |f: &crate::scenario::Fault| {
        f.until.is_some_and(|u| u + SETTLE <= r.sim_end)
            || f.is_start() && f.at + SETTLE <= r.sim_end
    };
    s.faults.iter().all(ended)
        && r.nodes
            .iter()
            .filter(|n| n.in_cluster)
            .all(|n| n.status == NodeStatus::Running)
}

/// The oracle's finding, if any.
pub fn oracle(s: &Scenario, r: &Record) -> Option<OracleViolation> {
    let detail = if faults_healed(s, r) {
        r.lost_acknowledged_write().err()?
    } else {
        r.acknowledged_write_missing_where_applied().err()?
    };
    Some(OracleViolation {
        oracle: Oracle::Durability,
        at: r.sim_end,
        nodes: vec![],
        detail,
    })
}
