//! The run as a picture: an SVG timeline (`--svg FILE`) and a self-contained HTML page around it
//! (`--html FILE`: inline SVG, CSS and script, no network; zoom and pan on time, message kinds to
//! show or hide, details of whatever is clicked).
//!
//! Drawn from the same record as the text timeline, so the views agree: a lane per member (its
//! role and term as bands, WAL stalls, pauses and crashes shaded, fault windows across all
//! lanes), Raft messages as arrows between member lanes (heartbeats hidden by default), a lane
//! per client (each operation a bar from invoke to completion: ok, timed out, failed; a marker
//! where a write its client saw fail was applied later), and the verdicts on top. Every shape
//! carries its details in a `<title>` (a tooltip in any viewer) and a `data-kind`.

use crate::client::Outcome;
use crate::run::RunResult;
use crate::sim::ids::NodeId;
use crate::sim::time::{SimDuration, SimTime};
use crate::sim::trace::{msg_kind_is_heartbeat, Role, TraceEvent};
use std::collections::BTreeMap;
use std::fmt::Write as _;

const LEFT: f64 = 120.0;
const WIDTH: f64 = 1200.0;
const LANE: f64 = 34.0;
const TOP: f64 = 84.0;
/// At most this many message arrows (non-heartbeats first) and client bars are drawn.
const MAX_ARROWS: usize = 6_000;
const MAX_BARS: usize = 6_000;

/// Which messages a picture draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Messages {
    /// None (a static picture for documents).
    None,
    /// Every kind but heartbeats.
    NoHeartbeats,
    /// Every kind (the HTML hides heartbeats until asked).
    All,
}

struct Canvas {
    end_us: f64,
    svg: String,
    /// Shades of the lane being drawn, laid over its bands when the lane ends.
    shades: String,
}

impl Canvas {
    fn x(&self, t: SimTime) -> f64 {
        LEFT + WIDTH * (t.as_micros() as f64 / self.end_us).min(1.0)
    }
}

/// The SVG of a run.
pub fn svg(r: &RunResult, messages: Messages) -> String {
    let members = r.nodes.len();
    let clients = client_lanes(r);
    let height = TOP + LANE * (members + clients.len()) as f64 + 60.0;
    let mut c = Canvas {
        end_us: r.sim_end.as_micros().max(1) as f64,
        svg: String::new(),
        shades: String::new(),
    };
    let total = LEFT + WIDTH + 20.0;
    let _ = writeln!(
        c.svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" id="timeline" viewBox="0 0 {total} {height}" width="{total}" height="{height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(c.svg, r#"<style>{STYLE}</style>"#);
    header(&mut c, r);
    legend(&mut c);
    axis(&mut c, height);
    faults(&mut c, r, members);
    for n in &r.nodes {
        member_lane(&mut c, r, n.id);
    }
    progress(&mut c, r);
    if messages != Messages::None {
        arrows(&mut c, r, messages);
    }
    for (i, (actor, ops)) in clients.iter().enumerate() {
        client_lane(&mut c, r, members + i, actor, ops);
    }
    late_writes(&mut c, r, members, &clients);
    lock_beliefs(&mut c, r, members, &clients);
    c.svg.push_str("</svg>\n");
    c.svg
}

const STYLE: &str = ".leader{fill:#f2c14e}.candidate{fill:#f08a4b}.follower{fill:#dfe6ee}.down{fill:#333}\
.paused{fill:#5b8def;opacity:.55}.walblock{fill:#d1495b;opacity:.55}.fault{fill:#d1495b;opacity:.08}\
.ok{fill:#3c9d5d}.timeout{fill:#f08a4b}.failed{fill:#d1495b}.pending{fill:#999}\
.held{fill:#7b4fc9}.msg{stroke:#555;stroke-width:.6;opacity:.55}.msg.hb{display:none}.late{fill:#d1495b}\
.label{font-weight:bold}.axis{stroke:#ccc}.verdict-fail{fill:#d1495b}.verdict-pass{fill:#3c9d5d}";

fn header(c: &mut Canvas, r: &RunResult) {
    let passed = r.verdicts.iter().filter(|v| v.passed).count();
    let failed = r.verdicts.len() - passed;
    let _ = writeln!(
        c.svg,
        r#"<text x="10" y="18" class="label" font-size="14">{} (seed {}) trace {}</text>"#,
        esc(&r.scenario.name),
        r.seed,
        r.trace_hash
    );
    let class = if r.passed() {
        "verdict-pass"
    } else {
        "verdict-fail"
    };
    let unexpected = r.unexpected_violations().count();
    let expected = r.violations.len() - unexpected;
    let also = if expected > 0 {
        format!(" (and {expected} the scenario expects)")
    } else {
        String::new()
    };
    let _ = writeln!(
        c.svg,
        r#"<text x="10" y="36" class="{class}" data-kind="verdicts">expectations {passed}/{} hold, {failed} fail; oracle violations: {unexpected}{also}</text>"#,
        r.verdicts.len(),
    );
}

/// What each colour means.
fn legend(c: &mut Canvas) {
    let items = [
        ("leader", "leader"),
        ("candidate", "candidate"),
        ("follower", "follower"),
        ("down", "crashed"),
        ("walblock", "WAL blocked"),
        ("paused", "paused"),
        ("ok", "op ok"),
        ("timeout", "op timed out"),
        ("failed", "op failed"),
        ("held", "believes it holds a lock"),
        ("late", "failed write applied later"),
    ];
    let mut x = LEFT;
    for (class, label) in items {
        let _ = writeln!(
            c.svg,
            r#"<rect class="{class}" x="{x:.0}" y="44" width="10" height="10"/><text x="{:.0}" y="53" fill='#555'>{label}</text>"#,
            x + 13.0
        );
        x += 20.0 + 6.2 * label.len() as f64;
    }
}

fn axis(c: &mut Canvas, height: f64) {
    let end = c.end_us / 1e6;
    let step = [
        1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
    ]
    .into_iter()
    .find(|s| end / s <= 14.0)
    .unwrap_or(7200.0);
    let mut t = 0.0;
    while t <= end + 1e-9 {
        let x = c.x(SimTime((t * 1e6) as u64));
        let _ = writeln!(
            c.svg,
            r#"<line class="axis" x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{:.1}"/><text x="{x:.1}" y="{}" text-anchor="middle" fill='#777'>{t}s</text>"#,
            TOP - 8.0,
            height - 30.0,
            TOP - 12.0
        );
        t += step;
    }
}

fn faults(c: &mut Canvas, r: &RunResult, members: usize) {
    let mut open: BTreeMap<usize, (SimTime, String)> = BTreeMap::new();
    let mut windows = Vec::new();
    for t in &r.trace {
        match &t.event {
            TraceEvent::FaultStarted { fault, what } => {
                open.insert(*fault, (t.at, what.clone()));
            }
            TraceEvent::FaultEnded { fault, .. } => {
                if let Some((from, what)) = open.remove(fault) {
                    windows.push((from, t.at, what));
                }
            }
            _ => {}
        }
    }
    windows.extend(
        open.into_values()
            .map(|(from, what)| (from, r.sim_end, what)),
    );
    for (from, until, what) in windows {
        let (x1, x2) = (c.x(from), c.x(until));
        let h = LANE * members as f64;
        let _ = writeln!(
            c.svg,
            r#"<rect class="fault" data-kind="fault" x="{x1:.1}" y="{TOP}" width="{:.1}" height="{h}"><title>FAULT {} from {from} to {until}</title></rect>"#,
            (x2 - x1).max(1.0),
            esc(&what)
        );
    }
}

/// One member: role bands, then WAL stalls, pauses and crashes on top.
fn member_lane(c: &mut Canvas, r: &RunResult, node: NodeId) {
    let y = TOP + LANE * (node.0 - 1) as f64;
    let _ = writeln!(
        c.svg,
        r#"<g class="lane member" data-kind="member" data-node="{node}"><text x="10" y="{:.1}" class="label">{node}</text>"#,
        y + LANE / 2.0 + 4.0
    );
    let mut band: Option<(SimTime, &'static str, u64)> = None;
    let mut shades: Vec<(SimTime, &'static str)> = Vec::new();
    for t in &r.trace {
        match &t.event {
            TraceEvent::RoleChanged {
                node: n,
                role,
                term,
                ..
            } if *n == node => {
                close_band(c, y, &mut band, t.at, node);
                let class = match role {
                    Role::Leader => "leader",
                    Role::Candidate | Role::PreCandidate => "candidate",
                    Role::Follower => "follower",
                };
                band = Some((t.at, class, *term));
            }
            TraceEvent::Crashed { node: n, .. } if *n == node => {
                close_band(c, y, &mut band, t.at, node);
                band = Some((t.at, "down", 0));
            }
            TraceEvent::DiskParked { node: n, io: "wal" } if *n == node => {
                shades.push((t.at, "walblock"))
            }
            TraceEvent::WalSynced { node: n, .. } if *n == node => {
                close_shade(c, y, &mut shades, "walblock", t.at, node)
            }
            TraceEvent::Paused { node: n } if *n == node => shades.push((t.at, "paused")),
            TraceEvent::Resumed { node: n, .. } if *n == node => {
                close_shade(c, y, &mut shades, "paused", t.at, node)
            }
            _ => {}
        }
    }
    close_band(c, y, &mut band, r.sim_end, node);
    for (from, class) in std::mem::take(&mut shades) {
        shade(c, y, from, r.sim_end, class, node);
    }
    let shades = std::mem::take(&mut c.shades);
    c.svg.push_str(&shades);
    c.svg.push_str("</g>\n");
}

fn close_band(
    c: &mut Canvas,
    y: f64,
    band: &mut Option<(SimTime, &'static str, u64)>,
    until: SimTime,
    node: NodeId,
) {
    let Some((from, class, term)) = band.take() else {
        return;
    };
    let (x1, x2) = (c.x(from), c.x(until));
    let what = if class == "down" {
        "down (crashed)".to_string()
    } else {
        format!("{class}, term {term}")
    };
    let _ = writeln!(
        c.svg,
        r#"<rect class="{class}" data-kind="role" x="{x1:.1}" y="{:.1}" width="{:.2}" height="{:.1}"><title>{node} {what} from {from} to {until}</title></rect>"#,
        y + 4.0,
        (x2 - x1).max(0.5),
        LANE - 8.0
    );
    if class == "leader" && x2 - x1 > 30.0 {
        let _ = writeln!(
            c.svg,
            r#"<text x="{:.1}" y="{:.1}" font-size="9">term {term}</text>"#,
            x1 + 3.0,
            y + LANE / 2.0 + 3.0
        );
    }
}

fn close_shade(
    c: &mut Canvas,
    y: f64,
    shades: &mut Vec<(SimTime, &'static str)>,
    class: &str,
    until: SimTime,
    node: NodeId,
) {
    if let Some(i) = shades.iter().position(|s| s.1 == class) {
        let (from, class) = shades.remove(i);
        shade(c, y, from, until, class, node);
    }
}

fn shade(c: &mut Canvas, y: f64, from: SimTime, until: SimTime, class: &str, node: NodeId) {
    let (x1, x2) = (c.x(from), c.x(until));
    let what = if class == "paused" {
        "paused (frozen)"
    } else {
        "WAL write blocked (raft loop waits)"
    };
    let _ = writeln!(
        c.shades,
        r#"<rect class="{class}" data-kind="{class}" x="{x1:.1}" y="{:.1}" width="{:.2}" height="8"><title>{node} {what} from {from} to {until}</title></rect>"#,
        y + LANE - 12.0,
        (x2 - x1).max(1.0)
    );
}

/// Each member's commit index (solid) and applied index (dashed) over time, from the run's
/// once-a-second probes, scaled to the highest index reached; the tooltip gives the figures.
fn progress(c: &mut Canvas, r: &RunResult) {
    let top = r
        .cluster_probes
        .iter()
        .flat_map(|p| p.committed.iter())
        .copied()
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    for n in &r.nodes {
        let i = (n.id.0 - 1) as usize;
        let y0 = TOP + LANE * i as f64 + LANE - 5.0;
        let series = |pick: fn(&crate::record::Probe) -> &[u64]| -> String {
            r.cluster_probes
                .iter()
                .map(|p| {
                    let v = pick(p).get(i).copied().unwrap_or(0) as f64;
                    format!("{:.1},{:.1}", c.x(p.at), y0 - (LANE - 12.0) * v / top)
                })
                .collect::<Vec<_>>()
                .join(" ")
        };
        let last = r.cluster_probes.last();
        let (commit, applied) = last.map_or((0, 0), |p| (p.committed[i], p.applied[i]));
        let title = format!("{} commit index (solid) and applied index (dashed), once a second; at the last probe {commit} and {applied}, of at most {top}", n.id);
        let _ = writeln!(
            c.svg,
            r#"<polyline class="index" data-kind="commit-index" fill="none" stroke='#1f4e79' stroke-width="1" points="{}"><title>{title}</title></polyline><polyline class="index" data-kind="applied-index" fill="none" stroke='#1f4e79' stroke-width="1" stroke-dasharray="3 2" points="{}"><title>{title}</title></polyline>"#,
            series(|p| &p.committed),
            series(|p| &p.applied)
        );
    }
}

/// Raft messages as arrows from the sender's lane to the receiver's.
fn arrows(c: &mut Canvas, r: &RunResult, which: Messages) {
    let lane_y = |n: NodeId| TOP + LANE * (n.0 - 1) as f64 + LANE / 2.0;
    let sent = r.trace.iter().filter_map(|t| match &t.event {
        TraceEvent::MsgSent {
            from,
            to,
            kind,
            term,
            latency_us,
            ..
        } => Some((t.at, *from, *to, *kind, *term, *latency_us)),
        _ => None,
    });
    let (mut main, mut hb): (Vec<_>, Vec<_>) = sent.partition(|m| !msg_kind_is_heartbeat(m.3));
    if which == Messages::NoHeartbeats {
        hb.clear();
    }
    let total = main.len() + hb.len();
    main.truncate(MAX_ARROWS);
    hb.truncate(MAX_ARROWS.saturating_sub(main.len()));
    if main.len() + hb.len() < total {
        let _ = writeln!(
            c.svg,
            r#"<text x="{:.0}" y="36" fill='#777' data-kind="arrow-cap">{} of {total} messages drawn (the earliest)</text>"#,
            LEFT + WIDTH - 260.0,
            main.len() + hb.len()
        );
    }
    c.svg.push_str(r#"<g data-kind="messages">"#);
    for (at, from, to, kind, term, lat) in main.into_iter().chain(hb) {
        let class = if msg_kind_is_heartbeat(kind) {
            "msg hb"
        } else {
            "msg"
        };
        let arrive = at + SimDuration(lat);
        let _ = writeln!(
            c.svg,
            r#"<line class="{class} k-{kind}" data-kind="arrow" x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}"><title>{from} -> {to} {kind} term {term}, sent {at}, arrives {arrive}</title></line>"#,
            c.x(at),
            lane_y(from),
            c.x(arrive),
            lane_y(to)
        );
    }
    c.svg.push_str("</g>\n");
}

/// Client actors and their operations (history indices), in order of first appearance.
fn client_lanes(r: &RunResult) -> Vec<(String, Vec<usize>)> {
    let mut lanes: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, h) in r.history.iter().enumerate().take(MAX_BARS) {
        // One etcdctl process per command: name its lane by the command's id when it has one.
        let id = h
            .command
            .and_then(|c| r.command_ids.get(c).cloned().flatten());
        let name = match id {
            Some(id) if &*h.actor == "etcdctl" => id,
            _ => h.actor.to_string(),
        };
        match lanes.iter_mut().find(|(a, _)| *a == name) {
            Some((_, ops)) => ops.push(i),
            None => lanes.push((name, vec![i])),
        }
    }
    lanes
}

fn client_lane(c: &mut Canvas, r: &RunResult, lane: usize, actor: &str, ops: &[usize]) {
    let y = TOP + LANE * lane as f64;
    let _ = writeln!(
        c.svg,
        r#"<g class="lane client" data-kind="client" data-actor="{}"><text x="10" y="{:.1}" class="label">{}</text>"#,
        esc(actor),
        y + LANE / 2.0 + 4.0,
        esc(actor)
    );
    let mut rows: Vec<SimTime> = Vec::new(); // when each sub-row is free again
    for &i in ops {
        let h = &r.history[i];
        let end = h.completed.unwrap_or(r.sim_end);
        let row = rows
            .iter()
            .position(|free| *free <= h.invoked)
            .unwrap_or_else(|| {
                rows.push(SimTime::ZERO);
                rows.len() - 1
            });
        rows[row] = end;
        let rows_h = (LANE - 8.0) / 3.0;
        let ry = y + 4.0 + rows_h * (row % 3) as f64;
        let class = match h.outcome {
            Outcome::Ok => "ok",
            Outcome::Timeout => "timeout",
            Outcome::Failed(_) => "failed",
            Outcome::Pending => "pending",
        };
        let (x1, x2) = (c.x(h.invoked), c.x(end));
        let _ = writeln!(
            c.svg,
            r#"<rect class="{class}" data-kind="op" x="{x1:.1}" y="{ry:.1}" width="{:.2}" height="{:.1}"><title>{}: {} [{} .. {}] {}</title></rect>"#,
            (x2 - x1).max(1.0),
            rows_h - 1.0,
            esc(actor),
            esc(&h.kind.summary()),
            h.invoked,
            end,
            esc(h.outcome.name())
        );
    }
    c.svg.push_str("</g>\n");
}

/// A marker where a write whose client saw it fail was applied later.
fn late_writes(c: &mut Canvas, r: &RunResult, members: usize, lanes: &[(String, Vec<usize>)]) {
    for t in &r.trace {
        let TraceEvent::TimedOutWriteApplied {
            op,
            node,
            key,
            value,
            overwrote_acknowledged,
        } = &t.event
        else {
            continue;
        };
        let Some(lane) = lanes
            .iter()
            .position(|(_, ops)| ops.contains(&(op.0 as usize)))
        else {
            continue;
        };
        let (x, y) = (c.x(t.at), TOP + LANE * (members + lane) as f64 + LANE / 2.0);
        let over = if *overwrote_acknowledged {
            "; it overwrote a value acknowledged later"
        } else {
            ""
        };
        let _ = writeln!(
            c.svg,
            r#"<path class="late" data-kind="late-write" d="M{x:.1} {:.1} l5 5 l-5 5 l-5 -5 z"><title>{node} applied {}={} at {}, a write its client saw fail{over}</title></path>"#,
            y - 5.0,
            esc(key),
            esc(value),
            t.at
        );
    }
}

/// Where a lock command believed it held its lock: a band over its lane.
fn lock_beliefs(c: &mut Canvas, r: &RunResult, members: usize, lanes: &[(String, Vec<usize>)]) {
    let mut open: BTreeMap<usize, (SimTime, String)> = BTreeMap::new();
    let mut held = Vec::new();
    for t in &r.trace {
        match &t.event {
            TraceEvent::LockAcquired { command, lock } => {
                open.insert(*command, (t.at, lock.clone()));
            }
            TraceEvent::LockReleased { command, .. } => {
                if let Some((from, lock)) = open.remove(command) {
                    held.push((*command, from, t.at, lock));
                }
            }
            _ => {}
        }
    }
    held.extend(
        open.into_iter()
            .map(|(c, (from, lock))| (c, from, r.sim_end, lock)),
    );
    for (command, from, until, lock) in held {
        let of_command = |i: &usize| r.history[*i].command == Some(command);
        let Some(lane) = lanes.iter().position(|(_, ops)| ops.iter().any(of_command)) else {
            continue;
        };
        let y = TOP + LANE * (members + lane) as f64 + LANE - 6.0;
        let (x1, x2) = (c.x(from), c.x(until));
        let _ = writeln!(
            c.svg,
            r#"<rect class="held" data-kind="lock-held" x="{x1:.1}" y="{y:.1}" width="{:.2}" height="5"><title>believes it holds lock {} from {from} to {until}</title></rect>"#,
            (x2 - x1).max(1.0),
            esc(&lock)
        );
    }
}

/// The HTML page: the SVG, the verdicts, controls for message kinds, zoom and pan, details.
pub fn html(r: &RunResult) -> String {
    let mut kinds: Vec<&str> = r
        .trace
        .iter()
        .filter_map(|t| match &t.event {
            TraceEvent::MsgSent { kind, .. } => Some(*kind),
            _ => None,
        })
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    let boxes: String = kinds
        .iter()
        .map(|k| {
            let on = if msg_kind_is_heartbeat(k) {
                ""
            } else {
                " checked"
            };
            format!(r#"<label><input type="checkbox" data-msg="{k}"{on}> {k}</label> "#)
        })
        .collect();
    let verdicts: String = r
        .verdicts
        .iter()
        .map(|v| {
            format!(
                "<li class=\"{}\">{} {} <small>{}</small></li>",
                if v.passed { "pass" } else { "fail" },
                if v.passed { "PASS" } else { "FAIL" },
                esc(&v.check.to_string()),
                esc(&v.detail)
            )
        })
        .chain(r.violations.iter().map(|v| {
            let drawn = v.oracle == crate::sim::trace::Oracle::Linearizability;
            let link = if drawn {
                r##" <a href="#history">(drawn below)</a>"##
            } else {
                ""
            };
            let (class, word) = if r.is_expected(v) {
                ("pass", "EXPECTED VIOLATION")
            } else {
                ("fail", "VIOLATION")
            };
            format!(
                "<li class=\"{class}\">{word} [{}] at {}: {}{link}</li>",
                v.oracle,
                v.at,
                esc(&v.detail)
            )
        }))
        .collect();
    let history = history_section(r);
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>raftsim: {name} (seed {seed})</title>\n<style>{CSS}</style></head>\n<body>\n<h1>{name} <small>seed {seed}, trace {hash}</small></h1>\n<ul id=\"verdicts\">{verdicts}</ul>\n<div id=\"controls\">messages: {boxes}<button id=\"zoom-in\">zoom in</button><button id=\"zoom-out\">zoom out</button><button id=\"reset\">whole run</button> <small>wheel: zoom, drag: pan, click: details</small></div>\n<div id=\"view\">{svg}</div>\n<pre id=\"details\">Click a shape for its details.</pre>\n{history}<script>{JS}</script>\n</body></html>\n",
        name = esc(&r.scenario.name),
        seed = r.seed,
        hash = r.trace_hash,
        svg = svg(r, Messages::All),
    )
}

/// When the linearizability oracle fired, the violating history drawn as porcupine does.
fn history_section(r: &RunResult) -> String {
    use crate::check::linearizability::{check, Answer};
    let fired = r
        .violations
        .iter()
        .any(|v| v.oracle == crate::sim::trace::Oracle::Linearizability);
    if !fired {
        return String::new();
    }
    match check(&crate::check::history::of_run(&r.history).ops) {
        Answer::NotLinearizable(v) => format!(
            "<h2 id=\"history\">The history that is not linearizable</h2>\n{}",
            super::history_view::svg(&v)
        ),
        _ => String::new(),
    }
}

const CSS: &str = "body{font-family:sans-serif;margin:12px}h1{font-size:18px}#verdicts{font-size:12px}\
.pass{color:#3c9d5d}.fail{color:#d1495b}#view{border:1px solid #ccc;overflow:hidden;cursor:grab}\
#view svg{width:100%;height:auto}#details{background:#f6f6f6;padding:6px;min-height:2em;white-space:pre-wrap}\
#controls{font-size:12px;margin:6px 0}";

const JS: &str = r#"(function(){
const svg=document.getElementById('timeline');
const vb=svg.viewBox.baseVal; const full={x:vb.x,w:vb.width};
function zoom(f,cx){const nw=Math.max(20,Math.min(full.w,vb.width*f));const c=cx===undefined?vb.x+vb.width/2:cx;
 vb.x=Math.max(full.x,Math.min(full.x+full.w-nw,c-(c-vb.x)*nw/vb.width));vb.width=nw;}
svg.addEventListener('wheel',e=>{e.preventDefault();const p=svg.getBoundingClientRect();
 const cx=vb.x+(e.clientX-p.left)/p.width*vb.width;zoom(e.deltaY<0?0.8:1.25,cx);},{passive:false});
let drag=null;svg.addEventListener('mousedown',e=>{drag={x:e.clientX,vx:vb.x};});
window.addEventListener('mouseup',()=>{drag=null;});
window.addEventListener('mousemove',e=>{if(!drag)return;const p=svg.getBoundingClientRect();
 vb.x=Math.max(full.x,Math.min(full.x+full.w-vb.width,drag.vx-(e.clientX-drag.x)/p.width*vb.width));});
document.getElementById('zoom-in').onclick=()=>zoom(0.5);
document.getElementById('zoom-out').onclick=()=>zoom(2);
document.getElementById('reset').onclick=()=>{vb.x=full.x;vb.width=full.w;};
document.querySelectorAll('input[data-msg]').forEach(b=>{const set=()=>{
 document.querySelectorAll('line.k-'+b.dataset.msg).forEach(l=>{l.style.display=b.checked?'inline':'none';});};
 b.onchange=set;set();});
svg.addEventListener('click',e=>{const t=e.target.querySelector&&e.target.querySelector('title');
 if(t){document.getElementById('details').textContent=t.textContent;}});
document.body.dataset.lanes=document.querySelectorAll('g.lane.member').length;
document.body.dataset.clients=document.querySelectorAll('g.lane.client').length;
document.body.dataset.arrows=document.querySelectorAll('line[data-kind=arrow]').length;
document.body.dataset.ops=document.querySelectorAll('rect[data-kind=op]').length;
document.body.dataset.ready='1';
})();"#;

/// Escapes text for HTML and SVG.
pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_picture_has_a_lane_per_member_and_client_and_arrows() {
        let s = crate::scenario::builtin::load("etcd-leader-fsync-stall")
            .unwrap()
            .unwrap();
        let r = crate::run::run(&s, &Default::default());
        let svg = super::svg(&r, super::Messages::NoHeartbeats);
        assert_eq!(svg.matches(r#"class="lane member""#).count(), 3);
        assert!(svg.matches(r#"class="lane client""#).count() >= 1);
        assert!(svg.contains(r#"data-kind="arrow""#));
        assert!(!svg.contains("msg hb"), "no heartbeats in a static picture");
        assert!(svg.contains("walblock"), "the stall is shaded");
        assert!(
            svg.contains(r#"data-kind="late-write""#),
            "the late write is marked"
        );
        let html = super::html(&r);
        assert!(html.starts_with("<!doctype html>") && html.contains("<script>"));
        assert!(
            !html.contains("http://") || html.matches("http://").count() == 1,
            "no network but the SVG namespace"
        );
    }
}
