//! When each client write first took effect anywhere, as the applied-writes tracker
//! (`check/applied.rs`) saw it from the trace's `Applied` events during the run.

use crate::sim::ids::OpId;
use crate::sim::time::SimTime;

/// When each client write first took effect anywhere: (log index, time), by operation. A table
/// in operation order: writes first take effect nearly in the order they were called, so an
/// insertion is nearly always a push at the end (a B-tree map took about 480 instructions per
/// insertion on the proposal bench, and 40 bytes per write for the whole run instead of 24).
/// Serialized as the map it replaces: `{"op": [index, time]}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FirstApplied(Vec<(OpId, (u64, SimTime))>);

impl FirstApplied {
    /// When `op` first took effect, if it did.
    pub fn get(&self, op: &OpId) -> Option<&(u64, SimTime)> {
        let i = self.0.binary_search_by_key(op, |e| e.0).ok()?;
        Some(&self.0[i].1)
    }

    /// Whether `op` took effect.
    pub fn contains_key(&self, op: &OpId) -> bool {
        self.get(op).is_some()
    }

    /// How many writes took effect.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none did.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Each write that took effect, in operation order.
    pub fn iter(&self) -> impl Iterator<Item = (&OpId, &(u64, SimTime))> {
        self.0.iter().map(|(op, v)| (op, v))
    }

    /// Records that `op` first took effect; returns false (and changes nothing) if it had.
    pub(crate) fn insert(&mut self, op: OpId, first: (u64, SimTime)) -> bool {
        match self.0.last() {
            Some(&(last, _)) if last >= op => match self.0.binary_search_by_key(&op, |e| e.0) {
                Ok(_) => false,
                Err(i) => {
                    self.0.insert(i, (op, first));
                    true
                }
            },
            _ => {
                crate::sim::push_gently(&mut self.0, (op, first));
                true
            }
        }
    }
}

impl std::ops::Index<&OpId> for FirstApplied {
    type Output = (u64, SimTime);
    fn index(&self, op: &OpId) -> &(u64, SimTime) {
        self.get(op)
            .unwrap_or_else(|| panic!("operation {} never took effect", op.0))
    }
}

impl serde::Serialize for FirstApplied {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_operation_order_whatever_the_insertion_order() {
        let mut f = FirstApplied::default();
        let at = |us| (us, SimTime(us));
        assert!(f.insert(OpId(5), at(1)));
        assert!(f.insert(OpId(9), at(2)));
        assert!(
            f.insert(OpId(7), at(3)),
            "a write called earlier, applied later"
        );
        assert!(f.insert(OpId(1), at(4)));
        assert!(
            !f.insert(OpId(7), at(5)),
            "only the first application counts"
        );
        let ops: Vec<u64> = f.iter().map(|(op, _)| op.0).collect();
        assert_eq!(ops, [1, 5, 7, 9]);
        assert_eq!(f.get(&OpId(7)), Some(&at(3)));
        assert_eq!(f[&OpId(9)], at(2));
        assert!(!f.contains_key(&OpId(2)));
        assert_eq!(f.len(), 4);
    }

    #[test]
    fn serializes_as_the_map_it_replaced() {
        let mut f = FirstApplied::default();
        f.insert(OpId(3), (12, SimTime(5)));
        f.insert(OpId(2), (11, SimTime(4)));
        let map: std::collections::BTreeMap<OpId, (u64, SimTime)> =
            f.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(
            serde_json::to_string(&f).unwrap(),
            serde_json::to_string(&map).unwrap()
        );
    }
}
