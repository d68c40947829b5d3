//! A run that keeps only the records checks and the timeline read (what `raftsim run` does unless
//! a view draws everything, and what exploration does) is the same run: the same trace hash, the
//! same timeline, the same verdicts; it holds fewer records and fewer history operations (an
//! apiserver's reads no check reads), and what the timeline's election explanations need of the
//! messages it did not keep is in its campaign table.

use raftsim::report::timeline;
use raftsim::scenario::builtin;
use raftsim::sim::trace::{LeanFilter, TraceEvent};
use raftsim::{run, RunOptions};

#[test]
fn a_lean_trace_is_the_same_run_with_fewer_records() {
    for name in [
        "k8s-local-etcd-follower-stall",
        "etcd-leader-fsync-stall",
        "raft-one-way-link",
        "etcd-replace-member",
    ] {
        let s = builtin::load(name).unwrap().unwrap();
        let full = run(&s, &RunOptions::default());
        let lean = run(
            &s,
            &RunOptions {
                full_trace: false,
                ..Default::default()
            },
        );
        assert_eq!(full.trace_hash, lean.trace_hash, "{name}");
        assert_eq!(timeline::render(&full), timeline::render(&lean), "{name}");
        let sent = full
            .trace
            .iter()
            .filter(|t| matches!(t.event, TraceEvent::MsgSent { .. }))
            .count();
        let left_out = full
            .trace
            .iter()
            .filter(|t| t.event.only_for_full_views())
            .count();
        assert!(sent > 0 && left_out > sent, "{name}");
        let mut lean_filter = LeanFilter::default();
        let kept: Vec<_> = full
            .trace
            .iter()
            .filter(|t| lean_filter.keeps(&t.event))
            .cloned()
            .collect();
        let synced = |r: &raftsim::RunResult| {
            r.trace
                .iter()
                .filter(|t| matches!(t.event, TraceEvent::WalSynced { .. }))
                .count()
        };
        assert!(
            synced(&lean) < synced(&full),
            "{name}: only WAL syncs ending a stall"
        );
        assert_eq!(lean.trace, kept, "{name}");
        assert_eq!(lean.campaigns, full.campaigns, "{name}");
        // Entry applications: left out of the lean records, kept packed by both runs, one per
        // `applied` record of the full trace, in order.
        let applications: Vec<_> = full
            .trace
            .iter()
            .filter_map(|t| raftsim::sim::trace::Application::of(t.at, &t.event))
            .collect();
        assert!(!applications.is_empty(), "{name}");
        assert_eq!(full.applied, applications, "{name}");
        assert_eq!(lean.applied, applications, "{name}");
        same_history_but_unread_reads(&full, &lean, name);
    }
}

/// A lean run's history is the full run's without some of the apiserver's reads: those no check
/// reads (serializable, or not successful) and those the online linearizability check has
/// checked. Every operation it keeps is the same, and it keeps every other operation.
fn same_history_but_unread_reads(full: &raftsim::RunResult, lean: &raftsim::RunResult, name: &str) {
    use raftsim::node::rpc::ServerOp;
    let apiserver_read = |h: &raftsim::client::HistoryOp| {
        h.command.is_none() && matches!(h.kind, ServerOp::Get { .. })
    };
    let mut kept = lean.history.iter().peekable();
    for h in &full.history {
        match kept.peek() {
            Some(k) if k.op == h.op => {
                assert_eq!(format!("{k:?}"), format!("{h:?}"), "{name}");
                kept.next();
            }
            _ => assert!(apiserver_read(h), "{name}: op {} left out", h.op.0),
        }
    }
    assert!(
        kept.next().is_none(),
        "{name}: an operation the full run does not have"
    );
    for h in &lean.history {
        assert_eq!(lean.op(h.op).map(|o| o.op), Some(h.op), "{name}");
    }
    if name.starts_with("k8s-") {
        assert!(
            lean.history.len() < full.history.len(),
            "{name}: nothing left out"
        );
    }
}

/// The `--trace` file format: every record of a full trace, one JSON object per line.
fn json_lines(r: &raftsim::RunResult) -> Vec<u8> {
    let mut out = Vec::new();
    for rec in &r.trace {
        serde_json::to_writer(&mut out, rec).unwrap();
        out.push(b'\n');
    }
    out
}

#[test]
fn a_streamed_trace_is_the_whole_trace_and_memory_does_not_depend_on_it() {
    for name in ["k8s-local-etcd-follower-stall", "etcd-replace-member"] {
        let s = builtin::load(name).unwrap().unwrap();
        let full = run(&s, &RunOptions::default());
        let lean_opts = RunOptions {
            full_trace: false,
            ..Default::default()
        };
        let lean = run(&s, &lean_opts);
        let mut file = Vec::new();
        let streamed = raftsim::run_streaming(&s, &lean_opts, Some(&mut file)).unwrap();
        assert!(
            file == json_lines(&full),
            "{name}: the streamed file differs from the full trace's records"
        );
        // What stays in memory is what a run without a trace file keeps, record for record.
        assert_eq!(streamed.trace, lean.trace, "{name}");
        assert_eq!(streamed.campaigns, lean.campaigns, "{name}");
        assert_eq!(streamed.history.len(), lean.history.len(), "{name}");
        assert_eq!(streamed.trace_hash, full.trace_hash, "{name}");
        assert_eq!(
            format!("{:?}", streamed.verdicts),
            format!("{:?}", lean.verdicts),
            "{name}"
        );
        // Streaming with a full trace writes the same file.
        let mut again = Vec::new();
        let kept = raftsim::run_streaming(&s, &RunOptions::default(), Some(&mut again)).unwrap();
        assert!(again == file, "{name}");
        assert_eq!(kept.trace, full.trace, "{name}");
    }
}

/// A writer that accepts `left` bytes, then fails like a full disk.
struct FullDisk {
    left: usize,
}

impl std::io::Write for FullDisk {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Err(std::io::Error::other("no space left on device"));
        }
        let n = buf.len().min(self.left);
        self.left -= n;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_trace_write_error_stops_the_run_and_is_returned() {
    let s = builtin::load("k8s-local-etcd-follower-stall")
        .unwrap()
        .unwrap();
    let mut out = FullDisk { left: 100_000 };
    let err = raftsim::run_streaming(&s, &RunOptions::default(), Some(&mut out))
        .expect_err("the disk filled up");
    assert!(err.to_string().contains("no space left"), "{err}");
}

/// A lean run checks linearizability as it goes and may drop the apiserver's reads it checked;
/// when the rest of the history then has no order, the report comes from the whole history if
/// nothing was dropped, else from a replay that keeps every operation: either way the same
/// findings as a run that kept everything.
#[test]
fn a_history_checked_as_the_run_goes_reports_as_a_whole_one() {
    use raftsim::node::bugs::Bug;
    use raftsim::sim::trace::Oracle;
    for (name, bug) in [
        ("etcd-fsync-lies-power-loss", None),
        (
            "raft-lease-read-clock-drift",
            Some(Bug::LocalLinearizableRead),
        ),
        ("k8s-local-etcd-follower-stall", None),
        (
            "k8s-all-endpoints-follower-stall",
            Some(Bug::LocalLinearizableRead),
        ),
    ] {
        let s = builtin::load(name).unwrap().unwrap();
        let opts = |full_trace| RunOptions {
            bug,
            full_trace,
            ..Default::default()
        };
        let (full, lean) = (run(&s, &opts(true)), run(&s, &opts(false)));
        assert!(full.record.linearized.is_none(), "{name}");
        let progress = lean.record.linearized.as_ref().expect("checked online");
        assert!(progress.cut_any(), "{name}: no key was cut");
        assert_eq!(
            format!("{:?} {:?}", full.violations, full.unknown),
            format!("{:?} {:?}", lean.violations, lean.unknown),
            "{name}"
        );
        let fired = lean
            .violations
            .iter()
            .any(|v| v.oracle == Oracle::Linearizability);
        assert_eq!(fired, name != "k8s-local-etcd-follower-stall", "{name}");
        assert_eq!(progress.dropped_any(), name.starts_with("k8s-"), "{name}");
    }
}

/// The reads a lean run holds do not grow with the run: the apiserver's reads leave its history
/// once checked (serializable and failed ones once finished), so what is left at the end is the
/// few read since each key's last cut, whether the run lasts four simulated minutes or eight.
#[test]
fn an_apiserver_read_leaves_a_lean_history_once_checked() {
    use raftsim::node::rpc::ServerOp;
    let (file, text) = builtin::find(builtin::DEFAULT).unwrap();
    let apiserver_reads = |r: &raftsim::RunResult| {
        r.history
            .iter()
            .filter(|h| h.command.is_none() && matches!(h.kind, ServerOp::Get { .. }))
            .count()
    };
    for duration in ["240s", "480s"] {
        let sets = [("duration".to_string(), duration.to_string())];
        let s = raftsim::scenario::Scenario::parse_with_overrides(text, file, &sets).unwrap();
        let lean = run(
            &s,
            &RunOptions {
                full_trace: false,
                ..Default::default()
            },
        );
        let full = run(&s, &RunOptions::default());
        assert!(apiserver_reads(&full) > 1_000, "{duration}");
        assert!(
            apiserver_reads(&lean) <= 10,
            "{duration}: {}",
            apiserver_reads(&lean)
        );
        assert_eq!(
            format!("{:?}", lean.verdicts),
            format!("{:?}", full.verdicts)
        );
    }
}
