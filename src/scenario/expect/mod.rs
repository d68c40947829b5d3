//! Expected outcomes a scenario states (`[[expect]]`): one table of check kinds.
//!
//! Each kind is one struct that says, in one place, which fields it reads ([`Kind::FIELDS`]), how
//! they are validated ([`Kind::parse`]), how it reads in words ([`Kind::describe`]) and how it is
//! judged on a finished run's [`Record`] ([`Kind::evaluate`]). Adding a kind is writing that
//! struct and adding one row to the `kinds!` table below; nothing else changes. Fields a kind
//! does not read are errors, not silently ignored.

mod etcd;
mod fields;
mod kubernetes;
mod lease;
mod oracle;
mod raft;

pub use etcd::{
    CommandCheck, Converged, NoLostAcknowledgedWrites, ReadLiveness, StatusCheck,
    TimedOutWriteOverwrote, WriteApplied,
};
pub use fields::Fields;
pub(crate) use fields::{Context, ErrAt, RawExpect};
pub use kubernetes::{
    KcmLeader, KcmLeadershipLost, NodeNotReady, NodesReady, QuorumKept, RenewalsDegraded,
    RenewalsFail, RenewalsSucceed,
};
pub use lease::{KeepAliveCheck, LockCheck, WatchCheck};
pub use oracle::OracleFires;
pub use raft::{
    CatchUp, CaughtUp, ClaimedLeaders, LeaderElections, MembersAtEnd, NoElection, RoleAt,
    SnapshotReceived,
};

use super::ScenarioError;
use crate::record::Record;
use crate::sim::time::SimTime;
use crate::sim::trace::Oracle;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// What an expectation is judged on: the finished run's record, and how many violations each
/// always-on oracle found in it. It reads as its [`Record`].
pub struct Judged<'a> {
    /// What happened.
    pub record: &'a Record,
    /// Violations found, per oracle (absent: none).
    pub fired: BTreeMap<Oracle, usize>,
}

impl Judged<'_> {
    /// How many violations `oracle` found.
    pub fn violations_of(&self, oracle: Oracle) -> usize {
        self.fired.get(&oracle).copied().unwrap_or(0)
    }
}

impl std::ops::Deref for Judged<'_> {
    type Target = Record;
    fn deref(&self) -> &Record {
        self.record
    }
}

/// One kind of `[[expect]]` check.
pub trait Kind: Sized {
    /// Its `check = "..."` name.
    const NAME: &'static str;
    /// The fields it reads besides `check` and `why`.
    const FIELDS: &'static [&'static str];
    /// Validates its fields.
    fn parse(f: &Fields) -> Result<Self, ScenarioError>;
    /// Judges a finished run: whether it held, and what was observed, in a sentence.
    fn evaluate(&self, r: &Judged<'_>) -> (bool, String);
    /// The expectation in words.
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
    /// An instant at which the run must sample every member's progress for this check.
    fn probe_time(&self) -> Option<SimTime> {
        None
    }
}

macro_rules! kinds {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        /// A validated expectation of one kind (the table of every kind).
        #[derive(Clone, Debug, PartialEq, Eq, Serialize)]
        #[serde(tag = "check", rename_all = "snake_case")]
        pub enum Check {
            $(
                #[doc = concat!("`check = \"", stringify!($variant), "\"`: see [`", stringify!($ty), "`].")]
                $variant($ty),
            )*
        }

        impl Check {
            /// Every kind's name, as written in scenario files.
            pub const NAMES: &'static [&'static str] = &[$(<$ty as Kind>::NAME),*];

            fn parse(name: &str, f: &Fields) -> Result<Option<Check>, ScenarioError> {
                $(
                    if name == <$ty as Kind>::NAME {
                        f.only(<$ty as Kind>::FIELDS)?;
                        return Ok(Some(Check::$variant(<$ty as Kind>::parse(f)?)));
                    }
                )*
                Ok(None)
            }

            /// Judges a finished run.
            pub fn evaluate(&self, r: &Judged<'_>) -> (bool, String) {
                match self { $(Check::$variant(c) => c.evaluate(r),)* }
            }

            /// The kind's name.
            pub fn name(&self) -> &'static str {
                match self { $(Check::$variant(_) => <$ty as Kind>::NAME,)* }
            }

            /// An instant at which the run must sample every member's progress.
            pub fn probe_time(&self) -> Option<SimTime> {
                match self { $(Check::$variant(c) => c.probe_time(),)* }
            }
        }

        impl fmt::Display for Check {
            /// The expectation in words, as the timeline and error messages show it.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self { $(Check::$variant(c) => c.describe(f),)* }
            }
        }
    };
}

kinds! {
    Command(CommandCheck),
    Status(StatusCheck),
    WriteApplied(WriteApplied),
    TimedOutWriteOverwrote(TimedOutWriteOverwrote),
    NoLostAcknowledgedWrites(NoLostAcknowledgedWrites),
    Converged(Converged),
    ReadLiveness(ReadLiveness),
    NoElection(NoElection),
    LeaderElections(LeaderElections),
    Role(RoleAt),
    CaughtUp(CaughtUp),
    CatchUp(CatchUp),
    SnapshotReceived(SnapshotReceived),
    Members(MembersAtEnd),
    ClaimedLeaders(ClaimedLeaders),
    NodeNotReady(NodeNotReady),
    NodesReady(NodesReady),
    RenewalsFail(RenewalsFail),
    RenewalsSucceed(RenewalsSucceed),
    RenewalsDegraded(RenewalsDegraded),
    QuorumKept(QuorumKept),
    KcmLeader(KcmLeader),
    KcmLeadershipLost(KcmLeadershipLost),
    Keepalive(KeepAliveCheck),
    Watch(WatchCheck),
    Lock(LockCheck),
    Oracle(OracleFires),
}

/// An expectation: a check and the author's explanation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Expect {
    /// What must hold.
    pub check: Check,
    /// The author's explanation, shown with the verdict.
    pub why: Option<String>,
}

impl Expect {
    /// The oracle this expectation says must fire, if it says so: its violations do not fail
    /// the run.
    pub fn oracle_expected_to_fire(&self) -> Option<Oracle> {
        match &self.check {
            Check::Oracle(o) if o.fires => Some(o.oracle),
            _ => None,
        }
    }

    /// The instant at which the run must sample every member's progress for this check.
    pub fn probe_time(&self) -> Option<SimTime> {
        self.check.probe_time()
    }
}

/// Validates one `[[expect]]` table.
pub(crate) fn validate(
    v: &dyn ErrAt,
    raw: &serde_spanned::Spanned<RawExpect>,
    cx: &Context,
) -> Result<Expect, ScenarioError> {
    let table = raw.get_ref();
    let check = table.iter().find(|(k, _)| k.get_ref() == "check");
    let Some((_, kind)) = check else {
        return Err(v.err_at(
            raw.span().start,
            format!(
                "[[expect]] needs `check`, one of: {}",
                Check::NAMES.join(", ")
            ),
        ));
    };
    let Some(name) = kind.get_ref().as_str() else {
        return Err(v.err_at(kind.span().start, "`check` must be a string".into()));
    };
    let f = Fields::new(table, name, kind.span().start, v, cx);
    let check = Check::parse(name, &f)?.ok_or_else(|| {
        v.err_at(
            kind.span().start,
            format!(
                "unknown check `{name}`; the checks are: {}",
                Check::NAMES.join(", ")
            ),
        )
    })?;
    Ok(Expect {
        check,
        why: f.string_opt("why")?,
    })
}

/// Yes/no words for sentences.
pub(crate) fn not(b: bool) -> &'static str {
    if b {
        ""
    } else {
        "not "
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_kind_serializes_under_its_file_name() {
        let mut seen = std::collections::BTreeSet::new();
        for (name, _, _) in crate::scenario::builtin::BUILTIN {
            let s = crate::scenario::builtin::load(name).unwrap().unwrap();
            for e in &s.expects {
                let v = serde_json::to_value(&e.check).unwrap();
                assert_eq!(v["check"], e.check.name(), "{name}");
                seen.insert(e.check.name());
            }
        }
        assert!(seen.len() >= 15, "built-in scenarios use {seen:?}");
    }
}
