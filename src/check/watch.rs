//! The watch oracle: every watch stream tells the truth, in order, without gaps.
//!
//! etcd guarantees a watcher sees the store's events in revision order, each once, with nothing
//! missing between the first and the last it saw, whichever member serves it and however often
//! the stream breaks and is re-created from the next revision. The oracle compares what each
//! `watch` command printed (`watch-saw` trace events) with the event history of the member that
//! applied the most at the end (every member applies the same log, so any complete history is
//! the history): an event it saw must be that history's event at that revision, and every
//! history event on its keys between the first and the last revision it saw must have been seen.
//! Revisions beyond that member's history are not judged.

use super::OracleViolation;
use crate::client::command::Command;
use crate::node::kv::{matches_key, WatchEvent};
use crate::node::NodeStatus;
use crate::record::Record;
use crate::scenario::Scenario;
use crate::sim::time::SimTime;
use crate::sim::trace::{Oracle, TraceEvent};

/// What one watch command saw: (when, event).
fn seen(r: &Record, command: usize) -> Vec<(SimTime, WatchEvent)> {
    r.trace
        .iter()
        .filter_map(|t| match &t.event {
            TraceEvent::WatchSaw {
                command: c,
                kind,
                key,
                value,
                revision,
                ..
            } if *c == command => Some((
                t.at,
                WatchEvent {
                    kind: *kind,
                    key: key.clone(),
                    value: value.clone(),
                    revision: *revision,
                },
            )),
            _ => None,
        })
        .collect()
}

/// The oracle's finding, if any.
pub fn oracle(s: &Scenario, r: &Record) -> Option<OracleViolation> {
    let history = r
        .nodes
        .iter()
        .filter(|n| n.status == NodeStatus::Running)
        .max_by_key(|n| n.applied)
        .map(|n| n.events.as_slice())?;
    let known = history.last().map_or(0, |e| e.revision);
    s.commands.iter().enumerate().find_map(|(i, c)| {
        let Command::Watch { key, prefix, .. } = &c.command else {
            return None;
        };
        let saw = seen(r, i);
        let problem = judge(&saw, history, known, key, *prefix)?;
        Some(OracleViolation {
            oracle: Oracle::Watch,
            at: saw.first().map_or(r.sim_end, |s| s.0),
            nodes: vec![],
            detail: format!("`{}`: {problem}", c.text),
        })
    })
}

/// What is wrong with one watch's events, if anything.
fn judge(
    saw: &[(SimTime, WatchEvent)],
    history: &[WatchEvent],
    known: u64,
    key: &str,
    prefix: bool,
) -> Option<String> {
    let mut prev: Option<(u64, &str)> = None;
    for (at, e) in saw {
        let here = (e.revision, e.key.as_str());
        if prev.is_some_and(|p| p >= here) {
            return Some(format!("at {at}, {} {} (revision {}) came after revision {} of {}: out of order or repeated", kind(e), e.key, e.revision, prev.unwrap().0, prev.unwrap().1));
        }
        prev = Some(here);
        if e.revision <= known && !history.contains(e) {
            return Some(format!(
                "at {at} it saw {} {}={} at revision {}, which the store never had",
                kind(e),
                e.key,
                e.value,
                e.revision
            ));
        }
    }
    let (first, last) = (saw.first()?.1.revision, saw.last()?.1.revision.min(known));
    let missed = history.iter().find(|h| {
        h.revision >= first
            && h.revision <= last
            && matches_key(&h.key, key, prefix)
            && !saw.iter().any(|(_, e)| e == *h)
    })?;
    Some(format!(
        "it missed {} {} at revision {} (it saw revisions {first}..={last})",
        kind(missed),
        missed.key,
        missed.revision
    ))
}

fn kind(e: &WatchEvent) -> &'static str {
    match e.kind {
        crate::sim::trace::EventKind::Put => "PUT",
        crate::sim::trace::EventKind::Delete => "DELETE",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::trace::EventKind;

    fn ev(rev: u64, key: &str) -> WatchEvent {
        WatchEvent {
            kind: EventKind::Put,
            key: key.into(),
            value: "v".into(),
            revision: rev,
        }
    }

    fn at(es: &[WatchEvent]) -> Vec<(SimTime, WatchEvent)> {
        es.iter()
            .map(|e| (SimTime(e.revision), e.clone()))
            .collect()
    }

    #[test]
    fn a_faithful_stream_passes_and_gaps_repeats_and_lies_do_not() {
        let history = vec![ev(1, "a"), ev(2, "b"), ev(3, "a"), ev(4, "a")];
        let ok = at(&[ev(1, "a"), ev(3, "a"), ev(4, "a")]);
        assert_eq!(judge(&ok, &history, 4, "a", false), None);
        let gap = at(&[ev(1, "a"), ev(4, "a")]);
        assert!(judge(&gap, &history, 4, "a", false)
            .unwrap()
            .contains("missed PUT a at revision 3"));
        let repeat = at(&[ev(1, "a"), ev(1, "a")]);
        assert!(judge(&repeat, &history, 4, "a", false)
            .unwrap()
            .contains("repeated"));
        let mut lie = ev(3, "a");
        lie.value = "x".into();
        assert!(judge(&at(&[lie]), &history, 4, "a", false)
            .unwrap()
            .contains("never had"));
        let beyond = at(&[ev(4, "a"), ev(9, "a")]);
        assert_eq!(
            judge(&beyond, &history, 4, "a", false),
            None,
            "revision 9 is not judged"
        );
    }
}
