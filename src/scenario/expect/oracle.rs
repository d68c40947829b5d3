//! Expectations on the always-on oracles themselves: a lesson or a test that *wants* an oracle to
//! fire (a disk that lies about fsync must lose acknowledged writes) says so, and the run then
//! passes only if it did. Violations of an oracle named here do not fail the run; they are still
//! reported, marked as expected. Violations of every other oracle fail it as always.

use super::{Fields, Judged, Kind};
use crate::scenario::ScenarioError;
use crate::sim::trace::Oracle;
use serde::Serialize;
use std::fmt;

/// Whether an always-on oracle found a violation in the run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OracleFires {
    /// Which oracle.
    pub oracle: Oracle,
    /// Whether it must fire (`true`) or must not (`false`).
    pub fires: bool,
}

impl Kind for OracleFires {
    const NAME: &'static str = "oracle";
    const FIELDS: &'static [&'static str] = &["oracle", "fires"];

    fn parse(f: &Fields) -> Result<Self, ScenarioError> {
        let names: Vec<&'static str> = Oracle::ALL.iter().map(|o| o.name()).collect();
        let name = f.choice("oracle", &names)?;
        let oracle = Oracle::ALL
            .into_iter()
            .find(|o| o.name() == name)
            .expect("choice_opt returns one of the names");
        Ok(OracleFires {
            oracle,
            fires: f.bool("fires")?,
        })
    }

    fn evaluate(&self, r: &Judged<'_>) -> (bool, String) {
        let n = r.violations_of(self.oracle);
        let detail = match n {
            0 => format!("the {} oracle found no violation", self.oracle),
            n => format!("the {} oracle found {n} violation(s)", self.oracle),
        };
        ((n > 0) == self.fires, detail)
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.fires { "fires" } else { "stays quiet" };
        write!(f, "the {} oracle {what}", self.oracle)
    }
}
