//! Benchmarks, measured side by side in one run (`cargo bench`):
//!
//! 1. The same 100,000 proposals on a fault-free 3-node cluster, each committed and applied on
//!    every member before the next is proposed, through (a) a bare raft-rs loop with
//!    `MemStorage` and instant delivery and (b) raftsim with zero network and disk latency
//!    (one client session, each put acknowledged before the next). Prints b/a.
//!    Also the time its text report takes to render (it once scanned the history per line).
//! 2. Simulated seconds per wall-clock second for each built-in scenario.
//! 3. The linearizability checker on porcupine's 102 Jepsen etcd histories.
//! 4. Explore seeds per second on one core, in the library's loop and through the CLI
//!    (`raftsim explore`, with one and two jobs).
//! 5. Peak heap of one simulated hour of the default scenario, as `raftsim run` runs it (no
//!    message view) and with every record kept (a counting allocator: no timing involved).
//! 6. Each report (timeline, HTML page, JSON, messages, `check-history`'s checks) on one and on
//!    four simulated hours: a ratio well above 4 is a report growing faster than the run.
//!
//! `RAFTSIM_BENCH_PROPOSALS` changes the proposal count (default 100000). `RAFTSIM_BENCH_CLI`
//! names the `raftsim` binary the CLI figure runs (default: this build's): comparing two builds
//! side by side, each bench binary must time its own CLI, not whichever was built last.
#![allow(clippy::disallowed_methods)] // the wall clock is what a benchmark measures

use raft::eraftpb::{ConfState, Message};
use raft::storage::MemStorage;
use raft::{Config, RawNode};
use raftsim::node::kv::{KvOp, KvStore, Proposal};
use raftsim::scenario::builtin;
use raftsim::{run, RequestId, RunOptions, Scenario};
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// The system allocator, counting bytes in use and their peak.
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = IN_USE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        IN_USE.fetch_sub(l.size(), Ordering::Relaxed);
    }
    // A growing vector is moved in place where the system allocator can (glibc remaps large
    // blocks): count the size change, not a second block.
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new_size) };
        if !q.is_null() {
            if new_size >= l.size() {
                let now = IN_USE.fetch_add(new_size - l.size(), Ordering::Relaxed);
                PEAK.fetch_max(now + new_size - l.size(), Ordering::Relaxed);
            } else {
                IN_USE.fetch_sub(l.size() - new_size, Ordering::Relaxed);
            }
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Peak heap, in MiB, while running `duration` of the default scenario, keeping every record
/// or not, and streaming the whole trace to a file (here a sink) as `--trace` does or not.
fn peak_heap_mib(duration: &str, full_trace: bool, stream: bool) -> f64 {
    peak_heap_phases_mib(duration, full_trace, stream).0
}

/// [`peak_heap_mib`], and the peak while the end-of-run checks alone run again on the record
/// (the record itself included): which phase a memory change must shrink.
fn peak_heap_phases_mib(duration: &str, full_trace: bool, stream: bool) -> (f64, f64) {
    let s = default_with("duration", duration);
    let base = IN_USE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let opts = RunOptions {
        full_trace,
        ..Default::default()
    };
    let mut sink = std::io::sink();
    let out = stream.then_some(&mut sink as &mut dyn std::io::Write);
    let r = raftsim::run_streaming(&s, &opts, out).unwrap();
    std::hint::black_box(&r.trace_hash);
    let peak = PEAK.load(Ordering::Relaxed) - base;
    PEAK.store(IN_USE.load(Ordering::Relaxed), Ordering::Relaxed);
    let found = raftsim::check::oracle_findings(&r.scenario, &r.record);
    std::hint::black_box(raftsim::check::verdicts(&r.scenario, &r.record, &found));
    let checks = PEAK.load(Ordering::Relaxed) - base;
    drop(r);
    let mib = |b: usize| b as f64 / (1024.0 * 1024.0);
    (mib(peak), mib(checks))
}

/// A report's name and what it does with a run (returning something to keep it from being
/// optimised away).
type Report<'a> = (&'static str, &'a dyn Fn(&raftsim::RunResult) -> usize);

/// What users wait for after a run, at two run lengths: each report's time for one and for
/// four simulated hours of the default scenario (every record kept, as views run), so that a
/// report that grows faster than the run shows as a ratio well above 4. Returns (name, ms at
/// one hour, ms at four hours).
fn report_scaling() -> Vec<(&'static str, f64, f64)> {
    let results: Vec<raftsim::RunResult> = ["1h", "4h"]
        .iter()
        .map(|d| run(&default_with("duration", d), &RunOptions::default()))
        .collect();
    let time = |f: &dyn Fn(&raftsim::RunResult) -> usize| -> Vec<f64> {
        results
            .iter()
            .map(|r| {
                let start = Instant::now();
                std::hint::black_box(f(r));
                start.elapsed().as_secs_f64() * 1e3
            })
            .collect()
    };
    let views: [Report<'_>; 5] = [
        ("timeline", &|r| raftsim::report::timeline::render(r).len()),
        ("HTML page", &|r| raftsim::report::picture::html(r).len()),
        ("JSON", &|r| serde_json::to_vec_pretty(r).unwrap().len()),
        ("messages", &|r| {
            raftsim::report::messages::render(r, &Default::default()).len()
        }),
        ("history check (check-history)", &|r| {
            let h = raftsim::check::history::of_run(&r.history);
            let stale = raftsim::check::history::stale_reads(&h).len();
            let lin = raftsim::check::linearizability::check(&h.ops);
            stale
                + usize::from(matches!(
                    lin,
                    raftsim::check::linearizability::Answer::Linearizable
                ))
        }),
    ];
    views
        .iter()
        .map(|(name, f)| {
            let ms = time(*f);
            (*name, ms[0], ms[1])
        })
        .collect()
}

fn bare_raft(n: u64) -> std::time::Duration {
    let logger = slog::Logger::root(slog::Discard, slog::o!());
    let mut nodes: Vec<RawNode<MemStorage>> = (1..=3)
        .map(|id| {
            let cfg = Config {
                id,
                election_tick: 10,
                heartbeat_tick: 1,
                max_size_per_msg: 1024 * 1024,
                max_inflight_msgs: 512,
                ..Default::default()
            };
            let store = MemStorage::new_with_conf_state(ConfState::from((vec![1, 2, 3], vec![])));
            RawNode::new(&cfg, store, &logger).unwrap()
        })
        .collect();
    let mut kvs = vec![KvStore::default(); 3];
    let start = Instant::now();
    nodes[0].campaign().unwrap();
    drive(&mut nodes, &mut kvs);
    for i in 0..n {
        let p = Proposal {
            request: RequestId(i),
            op: KvOp::put("bench", &i.to_string()),
        };
        nodes[0].propose(vec![], p.encode()).unwrap();
        drive(&mut nodes, &mut kvs);
    }
    let took = start.elapsed();
    assert!(
        kvs.iter().all(|k| k.revision() == n),
        "every member applied every proposal"
    );
    took
}

/// The canonical synchronous Ready loop (raft-rs.md section 3) over all nodes until quiescent.
fn drive(nodes: &mut [RawNode<MemStorage>], kvs: &mut [KvStore]) {
    let mut inflight: VecDeque<Message> = VecDeque::new();
    loop {
        let mut progress = false;
        for (i, rn) in nodes.iter_mut().enumerate() {
            if !rn.has_ready() {
                continue;
            }
            progress = true;
            let mut rd = rn.ready();
            inflight.extend(rd.take_messages());
            apply(&mut kvs[i], rd.take_committed_entries());
            let store = rn.mut_store().clone();
            store.wl().append(rd.entries()).unwrap();
            if let Some(hs) = rd.hs() {
                store.wl().set_hardstate(hs.clone());
            }
            inflight.extend(rd.take_persisted_messages());
            let mut light = rn.advance(rd);
            if let Some(c) = light.commit_index() {
                store.wl().mut_hard_state().commit = c;
            }
            inflight.extend(light.take_messages());
            apply(&mut kvs[i], light.take_committed_entries());
            rn.advance_apply();
        }
        while let Some(m) = inflight.pop_front() {
            progress = true;
            let to = (m.to - 1) as usize;
            let _ = nodes[to].step(m);
        }
        if !progress {
            return;
        }
    }
}

fn apply(kv: &mut KvStore, entries: Vec<raft::eraftpb::Entry>) {
    for e in entries {
        if !e.data.is_empty() {
            kv.apply(&Proposal::decode(&e.data).op);
        }
    }
}

/// The same proposals through raftsim; `full_trace`: keep every record (as the library's
/// default does for views that draw everything) or only those checks read (as `raftsim run` and
/// `explore` do). Returns the run's time and the time its text report (the timeline `raftsim
/// run` prints) took to render.
fn raftsim_same_work(n: u64, full_trace: bool) -> (std::time::Duration, std::time::Duration) {
    // One session, one put every 10us of simulated time: with zero latencies each put is
    // acknowledged at the instant it is issued, before the next.
    // The run ends shortly after the last put so idle heartbeats are not counted.
    let end_ms = 1_000 + n / 100 + 100;
    let mut text = format!(
        "name = \"bench\"\ndescription = \"zero-latency throughput\"\nduration = \"{end_ms}ms\"\n\
         [cluster]\ninitial_leader = 1\n\
         [network]\nlatency_min = \"0us\"\nlatency_max = \"0us\"\nclient_latency_min = \"0us\"\nclient_latency_max = \"0us\"\n\
         [disk]\nwal_latency_min = \"0us\"\nwal_latency_max = \"0us\"\n",
    );
    text.push_str(&format!(
        "[[command]]\nid = \"load\"\nat = \"1s\"\nrun = \"put bench {{i}}\"\nendpoints = [1]\nsession = \"load\"\nrepeat = {n}\nevery = \"10us\"\n"
    ));
    let s = Scenario::parse(&text, "bench.toml").unwrap();
    let start = Instant::now();
    let opts = RunOptions {
        full_trace,
        ..Default::default()
    };
    let r = run(&s, &opts);
    let took = start.elapsed();
    let ok = r
        .history
        .iter()
        .filter(|h| h.outcome == raftsim::client::Outcome::Ok)
        .count() as u64;
    assert_eq!(ok, n, "every put acknowledged");
    assert!(r.nodes.iter().all(|m| m.kv.len() == 1 && m.applied >= n));
    let start = Instant::now();
    let report = raftsim::report::timeline::render(&r);
    let rendered = start.elapsed();
    std::hint::black_box(report);
    (took, rendered)
}

fn sim_speed(name: &str, runs: u32) -> (f64, f64) {
    sim_speed_of(&builtin::load(name).unwrap().unwrap(), runs)
}

/// The default scenario with `workers` worker nodes (each a kubelet): milliseconds per run.
fn kubelets_ms(workers: u32, runs: u32) -> f64 {
    sim_speed_of(
        &default_with("kubernetes.workers", &workers.to_string()),
        runs,
    )
    .1
}

/// The default scenario with one `--set KEY=VALUE` override.
fn default_with(key: &str, value: &str) -> Scenario {
    let sets = [(key.to_string(), value.to_string())];
    let (file, text) = builtin::find(builtin::DEFAULT).unwrap();
    Scenario::parse_with_overrides(text, file, &sets).unwrap()
}

fn sim_speed_of(s: &Scenario, runs: u32) -> (f64, f64) {
    let start = Instant::now();
    for seed in 0..runs {
        // As `raftsim run` runs a scenario when no view draws its messages.
        let r = run(
            s,
            &RunOptions {
                seed: Some(seed as u64 + 1),
                full_trace: false,
                ..Default::default()
            },
        );
        // Other seeds may legitimately change a scenario's outcome (the all-endpoints lesson
        // shows one); only the time is measured here.
        std::hint::black_box(&r.trace_hash);
    }
    let wall = start.elapsed().as_secs_f64() / runs as f64;
    (s.duration.as_secs_f64() / wall, wall * 1e3)
}

/// A 10,000-operation history over 10 keys from 5 concurrent clients (each op overlapping its
/// neighbours), some writes timed out, checked for linearizability.
fn linearizability_check() -> std::time::Duration {
    use raftsim::check::linearizability::{check, LinKind, LinOp, LinResult};
    let mut h = Vec::new();
    let mut rev = 0u64;
    let mut vals: std::collections::BTreeMap<String, (String, u64)> = Default::default();
    for i in 0..10_000u64 {
        let key = format!("k{}", i % 10);
        let (client, t) = (i % 5, i * 100);
        if i % 3 == 0 {
            let (v, r) = vals
                .get(&key)
                .cloned()
                .map_or((None, 0), |(v, r)| (Some(v), r));
            let result = Some(LinResult::Get {
                value: v,
                mod_revision: r,
            });
            h.push(LinOp {
                client,
                key,
                kind: LinKind::Get,
                result,
                invoke_us: t,
                complete_us: Some(t + 450),
            });
        } else if i % 97 == 0 {
            // A write whose outcome the client never learned (it did not take effect).
            h.push(LinOp {
                client,
                key,
                kind: LinKind::Put {
                    value: format!("lost{i}"),
                },
                result: None,
                invoke_us: t,
                complete_us: None,
            });
        } else {
            rev += 1;
            vals.insert(key.clone(), (i.to_string(), rev));
            let result = Some(LinResult::Put { revision: rev });
            h.push(LinOp {
                client,
                key,
                kind: LinKind::Put {
                    value: i.to_string(),
                },
                result,
                invoke_us: t,
                complete_us: Some(t + 50),
            });
        }
    }
    let start = Instant::now();
    assert!(
        check(&h).is_linearizable(),
        "the generated history is linearizable"
    );
    start.elapsed()
}

/// The checker on porcupine's 102 Jepsen etcd histories (`tests/data/porcupine-etcd`): total
/// and slowest check time, each history parsed first (parsing is not timed).
fn porcupine_histories() -> (std::time::Duration, std::time::Duration, String) {
    use raftsim::check::linearizability::{check, Answer};
    let dir = "tests/data/porcupine-etcd";
    let expected = std::fs::read_to_string(format!("{dir}/expected.txt")).unwrap();
    let (mut total, mut slowest, mut which) =
        (std::time::Duration::ZERO, Default::default(), String::new());
    for line in expected.lines() {
        let (n, want) = line.split_once(' ').unwrap();
        let name = format!("etcd_{n}.log");
        let text = std::fs::read_to_string(format!("{dir}/{name}")).unwrap();
        let h = raftsim::check::jepsen::parse_log(&text, &name).unwrap();
        let start = Instant::now();
        let answer = check(&h.ops);
        let took = start.elapsed();
        let linearizable = matches!(answer, Answer::Linearizable);
        assert_eq!(linearizable, want == "true", "{name}: porcupine's verdict");
        total += took;
        if took > slowest {
            (slowest, which) = (took, name);
        }
    }
    (total, slowest, which)
}

/// The checker on 200 generated porcupine-style histories (80 operations, 5 clients, a quarter
/// of writes of unknown outcome; half made non-linearizable by a stale read): (total, slowest,
/// undecided within the checker's budget).
fn generated_histories() -> (std::time::Duration, std::time::Duration, usize) {
    use raftsim::check::generate::register_history;
    use raftsim::check::linearizability::{check, Answer};
    let (mut total, mut slowest, mut undecided) =
        (std::time::Duration::ZERO, std::time::Duration::ZERO, 0);
    for seed in 0..100 {
        for corrupt in [false, true] {
            let h = register_history(seed, 80, 5, corrupt);
            let start = Instant::now();
            let answer = check(&h);
            let took = start.elapsed();
            match answer {
                Answer::Linearizable => assert!(!corrupt, "seed {seed}: a stale read passed"),
                Answer::NotLinearizable(_) => assert!(corrupt, "seed {seed}: built linearizable"),
                Answer::Unknown(_) => undecided += 1,
            }
            total += took;
            slowest = slowest.max(took);
        }
    }
    (total, slowest, undecided)
}

/// Explore throughput on one core: seeds per second (each a 45 s simulation with faults).
fn explore_throughput(seeds: u64) -> (f64, f64) {
    let start = Instant::now();
    let mut sim_s = 0.0;
    for seed in 1..=seeds {
        let o = raftsim::explore::explore_seed(seed, None, false);
        assert!(o.failures.is_empty(), "seed {seed}: {:?}", o.detail);
        sim_s += o.simulated_s;
    }
    let wall = start.elapsed().as_secs_f64();
    (seeds as f64 / wall, sim_s / wall)
}

/// `raftsim explore` as users run it (the CLI binary, its worker threads and summary): seeds
/// per second.
fn explore_cli(cli: &std::path::Path, seeds: u64, jobs: u32) -> f64 {
    let start = Instant::now();
    let out = std::process::Command::new(cli)
        .args([
            "explore",
            "--seeds",
            &seeds.to_string(),
            "--jobs",
            &jobs.to_string(),
        ])
        .output()
        .expect("the raftsim binary runs");
    let wall = start.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "raftsim explore failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    seeds as f64 / wall
}

/// The `raftsim` binary the CLI figure runs: `RAFTSIM_BENCH_CLI`, else this build's own. A
/// named file that is not there ends the bench with the reason, before anything is timed.
fn cli_binary() -> std::path::PathBuf {
    match std::env::var_os("RAFTSIM_BENCH_CLI") {
        Some(p) => {
            let p = std::path::PathBuf::from(p);
            if !p.is_file() {
                eprintln!(
                    "RAFTSIM_BENCH_CLI={}: no such file (expected the path of a raftsim binary)",
                    p.display()
                );
                std::process::exit(2);
            }
            p
        }
        None => env!("CARGO_BIN_EXE_raftsim").into(),
    }
}

fn main() {
    // `cargo test --benches` runs bench targets with `--bench` absent: keep that quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    let n: u64 = std::env::var("RAFTSIM_BENCH_PROPOSALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 1_000 } else { 100_000 });
    println!("raftsim benchmarks ({} proposals)", n);
    if !quick {
        cli_binary(); // a bad RAFTSIM_BENCH_CLI stops the bench before it times anything
    }
    let a = bare_raft(n);
    let (b, report) = raftsim_same_work(n, false);
    let (b_full, _) = raftsim_same_work(n, true);
    println!(
        "  (a) bare raft-rs loop, MemStorage, instant delivery: {:>8.1} ms  ({:.0} proposals/s)",
        a.as_secs_f64() * 1e3,
        n as f64 / a.as_secs_f64()
    );
    println!(
        "  (b) raftsim, zero-latency network and disk:          {:>8.1} ms  ({:.0} proposals/s), as `raftsim run` runs it",
        b.as_secs_f64() * 1e3,
        n as f64 / b.as_secs_f64()
    );
    println!(
        "      keeping every record (the library default):       {:>8.1} ms",
        b_full.as_secs_f64() * 1e3,
    );
    println!(
        "      its text report (the timeline `raftsim run` prints, one line per put): {:.1} ms",
        report.as_secs_f64() * 1e3,
    );
    println!(
        "  ratio b/a = {:.2} (goal <= 1.5); keeping every record {:.2}",
        b.as_secs_f64() / a.as_secs_f64(),
        b_full.as_secs_f64() / a.as_secs_f64()
    );
    let lin = linearizability_check();
    println!(
        "  linearizability check, 10,000 ops / 10 keys / 5 clients: {:.1} ms",
        lin.as_secs_f64() * 1e3
    );
    let (total, slowest, which) = porcupine_histories();
    println!(
        "  porcupine's 102 Jepsen etcd histories: {:.1} ms in all, slowest {:.2} ms ({which}) (goal: half of porcupine's 370 ms in all, 143 ms slowest)",
        total.as_secs_f64() * 1e3,
        slowest.as_secs_f64() * 1e3
    );
    if !quick {
        let (total, slowest, undecided) = generated_histories();
        println!(
            "  200 generated porcupine-style histories (80 ops, 5 clients, half non-linearizable): {:.0} ms in all, slowest {:.0} ms, {undecided} undecided within the budget",
            total.as_secs_f64() * 1e3,
            slowest.as_secs_f64() * 1e3
        );
    }
    let (seeds_per_s, sim_per_s) = explore_throughput(if quick { 20 } else { 2_000 });
    println!("  explore, one core: {seeds_per_s:.0} seeds/s (45 s simulations with faults), {sim_per_s:.0} simulated s per wall s");
    if !quick {
        let cli = cli_binary();
        let (one, two) = (explore_cli(&cli, 4_000, 1), explore_cli(&cli, 4_000, 2));
        println!(
            "  `raftsim explore --seeds 4000`: {one:.0} seeds/s with --jobs 1 (goal >= 500), {two:.0} with --jobs 2 ({:.2}x), {}",
            two / one,
            cli.display()
        );
    }
    if !quick {
        println!(
            "  one simulated hour of {}: peak heap {:.1} MiB as `raftsim run` runs it (goal <= 64 MiB), {:.1} MiB keeping every record, {:.1} MiB streaming the trace (`--trace`)",
            builtin::DEFAULT,
            peak_heap_mib("1h", false, false),
            peak_heap_mib("1h", true, false),
            peak_heap_mib("1h", false, true)
        );
        let (ten, checks) = peak_heap_phases_mib("10h", false, true);
        println!(
            "  ten simulated hours streaming the trace (`--trace`): peak heap {ten:.1} MiB (goal <= 80 MiB); the end-of-run checks alone peak at {checks:.1} MiB, the record included"
        );
        for (name, one, four) in report_scaling() {
            println!(
                "  report: {name} of one / four simulated hours: {one:.0} / {four:.0} ms, {:.1}x (linear: about 4x)",
                four / one
            );
        }
    }
    let runs = if quick { 3 } else { 200 };
    let (six, hundred) = (kubelets_ms(6, runs / 4 + 1), kubelets_ms(100, runs / 4 + 1));
    println!(
        "  default incident with 6 / 100 workers: {six:.1} / {hundred:.1} ms per run, {:.1}x (goal <= 20x)",
        hundred / six
    );
    for (name, _, _) in builtin::BUILTIN {
        let (speed, ms) = sim_speed(name, runs);
        println!(
            "  {name:<28} {speed:>10.0} simulated s per wall s ({ms:.2} ms per run, {runs} seeds)"
        );
    }
}
