//! The state-digest oracle, online: members that have applied through the same index hold the
//! same state machine, whether they applied every entry or restored a snapshot and replayed the
//! log after it.
//!
//! Each member keeps a digest of every entry it applied (FNV-1a over index and data,
//! `node::snapshots::fold`), and a
//! snapshot carries the digest of the state it holds. After each applied batch, and after each
//! restore, the member reports (index, digest). The first report for an index is the reference;
//! any later one that differs is a violation. It catches a snapshot whose state is not the state
//! at its index (a snapshot taken ahead of or behind what was applied), a member that forgot its
//! snapshot at restart and replays from the wrong place, and any divergence of applied state that
//! the per-entry term check cannot see.

use crate::sim::ids::NodeId;

/// What every member reported so far.
#[derive(Default)]
pub struct StateDigests {
    /// index -> (first reporter, its digest): a dense table, as log indexes are small and
    /// every applied batch reports one (member ids start at 1, so `NodeId(0)` marks an index
    /// nobody reported).
    at: Vec<(NodeId, u64)>,
}

impl StateDigests {
    /// A member's digest after applying through `index`; a finding when it differs from the
    /// first one reported for that index.
    pub fn report(
        &mut self,
        node: NodeId,
        index: u64,
        digest: u64,
        from_snapshot: bool,
    ) -> Option<(Vec<NodeId>, String)> {
        let i = usize::try_from(index).expect("a log index fits in memory");
        if self.at.len() <= i {
            self.at.resize(i + 1, (NodeId(0), 0));
        }
        match self.at[i] {
            (NodeId(0), _) => {
                self.at[i] = (node, digest);
                None
            }
            (first, d) if d != digest => {
                let how = if from_snapshot {
                    "restored from a snapshot"
                } else {
                    "applied"
                };
                Some((
                    vec![first, node],
                    format!("state machine safety: {node}'s state {how} through index {index} differs from the state {first} reported there first (digest {digest:016x}, not {d:016x})"),
                ))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_different_state_at_the_same_index_is_caught() {
        let mut s = StateDigests::default();
        let (a, b) = (0x1234, 0x5678);
        assert!(s.report(NodeId(1), 2, a, false).is_none());
        assert!(s.report(NodeId(2), 2, a, true).is_none());
        let f = s.report(NodeId(3), 2, b, true).expect("differs");
        assert_eq!(f.0, vec![NodeId(1), NodeId(3)]);
        assert!(f.1.contains("restored from a snapshot"), "{}", f.1);
    }
}
