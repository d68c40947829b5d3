//! How far linearizability was checked while the run went (`check::linearizability`'s online
//! check, in a run that keeps only what checks read): per key, the cut before which every
//! operation is checked, and the states the key can be in at the cut. The run may have dropped
//! the reads it checked, so the end-of-run check must go on from here, never start over on the
//! record's history.
//!
//! A state is the check's model of one key: its value by number (`Values`: each value string
//! is held once and named by a number, so a state is a few words, copied and hashed without
//! touching strings) and its mod revision as far as clients can know.

use std::collections::BTreeMap;

/// The revision a key was last written at, as far as clients can know.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Rev {
    /// The key is absent.
    Absent,
    /// Written at this revision.
    Known(u64),
    /// Written by an operation whose response was lost: any revision a later read reports.
    Unknown,
}

/// One key's state, its value by number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct State {
    pub(crate) value: Option<u32>,
    pub(crate) rev: Rev,
}

/// The state of a key no operation touched.
pub(crate) const EMPTY: State = State {
    value: None,
    rev: Rev::Absent,
};

/// The values of one key's history, numbered in order of first appearance, each held once.
#[derive(Clone, Debug, Default)]
pub(crate) struct Values {
    pub(crate) ids: BTreeMap<String, u32>,
    pub(crate) next: u32,
}

/// What a key's checked part leaves for the rest: the states it can end in, and the numbers of
/// the values they hold.
#[derive(Clone, Debug)]
pub(crate) struct Carried {
    pub(crate) values: Values,
    pub(crate) starts: Vec<State>,
}

/// How far the online check got: per key, the cut (operations called before it, in simulated
/// microseconds, are checked) and what the checked part carries; the search budget left; and
/// whether the run dropped operations it checked.
#[derive(Clone, Debug, Default)]
pub struct Linearized {
    pub(crate) keys: BTreeMap<String, (u64, Carried)>,
    pub(crate) steps_left: u64,
    pub(crate) dropped: bool,
}

impl Linearized {
    /// Whether some key's operations before a cut were checked online.
    pub fn cut_any(&self) -> bool {
        !self.keys.is_empty()
    }

    /// Whether the run dropped operations the online check had checked (the record's history
    /// then lacks them: a report on it names only operations from the cuts on).
    pub fn dropped_any(&self) -> bool {
        self.dropped
    }
}
