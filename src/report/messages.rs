//! The message-level view of a window (`raftsim run NAME --messages --from 60s --to 62s`): every
//! Raft message sent, and every one dropped, in the spirit of etcd-raft's interaction-test
//! output. A sent message's arrival is its send time plus the latency the network drew; when a
//! partition or a broken stream loses it on the way, a `dropped` line says so at that instant.

use super::timeline::Filter;
use crate::run::RunResult;
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::trace::{DropReason, TraceEvent};
use std::fmt::Write as _;

/// The messages of the run that `filter` keeps (its member filter matches either end).
pub fn render(r: &RunResult, filter: &Filter) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "raft messages of {} (seed {}){}",
        r.scenario.name,
        r.seed,
        window(filter)
    );
    let mut shown = 0usize;
    for t in &r.trace {
        let Some(line) = line(&t.event) else { continue };
        if filter.keeps(t.at, &line) {
            let _ = writeln!(s, "[{:>10}] {line}", t.at.to_string());
            shown += 1;
        }
    }
    if shown == 0 {
        s.push_str("(no message in this window)\n");
    }
    s
}

fn window(f: &Filter) -> String {
    let mut w = String::new();
    if f.from.is_some() || f.to.is_some() {
        let from = f.from.unwrap_or(SimTime::ZERO);
        let to = f.to.map_or("end".to_string(), |t| t.to_string());
        let _ = write!(w, ", {from}..{to}");
    }
    if let Some(n) = &f.node {
        let _ = write!(w, ", to or from {n}");
    }
    w
}

fn line(e: &TraceEvent) -> Option<String> {
    Some(match e {
        TraceEvent::MsgSent {
            from,
            to,
            kind,
            term,
            index,
            latency_us,
            duplicate_latency_us,
        } => {
            let arrives = SimDuration(*latency_us);
            let dup = duplicate_latency_us
                .map(|d| format!(", a duplicate after {}", SimDuration(d)))
                .unwrap_or_default();
            format!("{from} -> {to}  {kind:<22} term {term:<3} index {index:<5} arrives after {arrives}{dup}")
        }
        TraceEvent::MsgDropped {
            from,
            to,
            kind,
            reason,
        } => format!("{from} -x {to}  {kind:<22} DROPPED: {}", why(*reason)),
        _ => return None,
    })
}

fn why(r: DropReason) -> &'static str {
    match r {
        DropReason::Lost => "lost at random",
        DropReason::Partitioned => "the link is cut",
        DropReason::DestinationDown => "the receiver is down",
        DropReason::InboxFull => "the paused receiver's socket buffer is full",
        DropReason::CrashedBeforeSend => "held for its WAL write, and the sender crashed",
        DropReason::StreamBroken => "its stream broke on the way",
        DropReason::SenderRemoved => "the sender was removed from the cluster (410 Gone)",
        DropReason::StreamTimedOut => {
            "the receiver was frozen past its stream read timeout (5 s); the stream was reset on resume"
        }
    }
}
