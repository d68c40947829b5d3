//! Expectations on etcd leases, watches and locks.

use super::{not, Fields, Judged, Kind};
use crate::record::locks::{first_overlap, holdings};
use crate::scenario::ScenarioError;
use crate::sim::time::SimTime;
use crate::sim::trace::{EventKind, TraceEvent};
use serde::Serialize;
use std::fmt;

type R<T> = Result<T, ScenarioError>;

/// Whether the keep-alive command `id` gave its lease up (optionally: by `by`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeepAliveCheck {
    /// The keep-alive command.
    pub id: String,
    /// Whether it ended.
    pub ended: bool,
    /// It ended by this time (or, with `ended = false`, it had not ended by then).
    pub by: Option<SimTime>,
    /// It did not end before this time.
    pub not_before: Option<SimTime>,
}

impl Kind for KeepAliveCheck {
    const NAME: &'static str = "keepalive";
    const FIELDS: &'static [&'static str] = &["id", "ended", "by", "not_before"];

    fn parse(f: &Fields) -> R<Self> {
        let by = f.has("by").then(|| f.time("by")).transpose()?;
        let not_before = f
            .has("not_before")
            .then(|| f.time("not_before"))
            .transpose()?;
        Ok(KeepAliveCheck {
            id: f.command_id("id")?,
            ended: f.bool("ended")?,
            by,
            not_before,
        })
    }

    fn evaluate(&self, r: &Judged<'_>) -> (bool, String) {
        let commands = r.command_indices(&self.id);
        let end = r.trace.iter().find_map(|t| match &t.event {
            TraceEvent::KeepAliveEnded {
                command, reason, ..
            } if commands.contains(command) => Some((t.at, reason.clone())),
            _ => None,
        });
        let horizon = self.by.unwrap_or(r.sim_end);
        let ended_in_time = end.as_ref().is_some_and(|(at, _)| *at <= horizon);
        let early = end
            .as_ref()
            .is_some_and(|(at, _)| self.not_before.is_some_and(|nb| *at < nb));
        let ok = ended_in_time == self.ended && !early;
        let seen = match end {
            Some((at, why)) => format!("it ended at {at}: {why}"),
            None => "it never ended".into(),
        };
        (ok, seen)
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "keep-alive `{}` {}ends", self.id, not(self.ended))?;
        if let Some(by) = self.by {
            write!(f, " by {by}")?;
        }
        if let Some(nb) = self.not_before {
            write!(f, ", not before {nb}")?;
        }
        Ok(())
    }
}

/// Whether the watch command `id` saw a PUT or DELETE of `key` (optionally within a window).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WatchCheck {
    /// The watch command.
    pub id: String,
    /// `put` or `delete`.
    pub event: String,
    /// The key.
    pub key: String,
    /// Whether it saw it.
    pub saw: bool,
    /// Only events seen at or after this time.
    pub from: Option<SimTime>,
    /// Only events seen at or before this time.
    pub until: Option<SimTime>,
}

impl Kind for WatchCheck {
    const NAME: &'static str = "watch";
    const FIELDS: &'static [&'static str] = &["id", "event", "key", "saw", "from", "until"];

    fn parse(f: &Fields) -> R<Self> {
        let event = f.choice_opt("event", &["put", "delete"])?;
        let event =
            event.ok_or_else(|| f.err("event", "`event` must be \"put\" or \"delete\"".into()))?;
        Ok(WatchCheck {
            id: f.command_id("id")?,
            event: event.into(),
            key: f.string("key")?,
            saw: f.bool("saw")?,
            from: f.has("from").then(|| f.time("from")).transpose()?,
            until: f.has("until").then(|| f.time("until")).transpose()?,
        })
    }

    fn evaluate(&self, r: &Judged<'_>) -> (bool, String) {
        let commands = r.command_indices(&self.id);
        let kind = if self.event == "put" {
            EventKind::Put
        } else {
            EventKind::Delete
        };
        let (from, until) = (
            self.from.unwrap_or(SimTime::ZERO),
            self.until.unwrap_or(r.sim_end),
        );
        let seen = r.trace.iter().find(|t| {
            matches!(&t.event, TraceEvent::WatchSaw { command, kind: k, key, .. }
                if commands.contains(command) && *k == kind && *key == self.key)
                && t.at >= from
                && t.at <= until
        });
        let what = match seen {
            Some(t) => match &t.event {
                TraceEvent::WatchSaw { node, revision, .. } => {
                    format!("seen at {} from {node} (revision {revision})", t.at)
                }
                _ => unreachable!(),
            },
            None => "not seen".into(),
        };
        (seen.is_some() == self.saw, what)
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ev = self.event.to_uppercase();
        write!(
            f,
            "watch `{}` {}sees {ev} {}",
            self.id,
            not(self.saw),
            self.key
        )?;
        if let Some(t) = self.from {
            write!(f, " from {t}")?;
        }
        if let Some(t) = self.until {
            write!(f, " until {t}")?;
        }
        Ok(())
    }
}

/// Whether lock `name` was exclusive: no instant at which two clients each believed they held it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LockCheck {
    /// The lock's name.
    pub name: String,
    /// Whether it stayed exclusive.
    pub exclusive: bool,
}

impl Kind for LockCheck {
    const NAME: &'static str = "lock";
    const FIELDS: &'static [&'static str] = &["name", "exclusive"];

    fn parse(f: &Fields) -> R<Self> {
        Ok(LockCheck {
            name: f.string("name")?,
            exclusive: f.bool("exclusive")?,
        })
    }

    fn evaluate(&self, r: &Judged<'_>) -> (bool, String) {
        let hs = holdings(r, &self.name);
        let id = |c: usize| r.command_ids[c].clone().unwrap_or_else(|| format!("#{c}"));
        let seen = match first_overlap(&hs) {
            Some((a, b, at)) => format!(
                "two holders at {at}: `{}` (held {}..{}) and `{}` (held {}..{})",
                id(a.command),
                a.from,
                a.until,
                id(b.command),
                b.from,
                b.until
            ),
            None => format!("{} holding(s), never two at once", hs.len()),
        };
        (first_overlap(&hs).is_none() == self.exclusive, seen)
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "lock `{}` is {}exclusive (never two holders at once)",
            self.name,
            not(self.exclusive)
        )
    }
}
