//! The `raftsim` command line: a thin layer over the library.
//!
//! Exit codes: 0 every expectation held and every oracle passed, 1 one failed (named, with the
//! seed), 2 bad input, 3 nothing failed but an oracle could not decide within its budget.

/// stdout may be a closed pipe (`raftsim list | head`): a lost line is not an error, and never a
/// panic. These shadow std's `print!`/`println!` in this file.
macro_rules! println {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($t)*);
    }};
}
macro_rules! print {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($t)*);
    }};
}

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use raftsim::check::{history, linearizability};
use raftsim::explore;
use raftsim::node::Bug;
use raftsim::scenario::builtin;
use raftsim::{run, RunOptions, Scenario};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "raftsim",
    version,
    about = "Deterministic Raft (tikv raft-rs) simulator with fault injection"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a scenario (a file, or a built-in name; default: the built-in default scenario).
    Run(RunArgs),
    /// List the built-in scenarios with one-line descriptions.
    List,
    /// List the lessons (docs/lessons/) with the question each asks.
    Lessons,
    /// Print a lesson's question, wait for Enter (on a terminal), then run its scenario and
    /// print the timeline and the answer.
    Lesson {
        /// The lesson's name (see `raftsim lessons`).
        name: String,
    },
    /// Print a built-in scenario's file, to copy and edit.
    Show {
        /// The built-in scenario's name (see `raftsim list`).
        name: String,
    },
    /// Run a scenario as written and with settings changed (--set), same seed, and show what
    /// changed in the outcome.
    Diff(DiffArgs),
    /// Random fault schedules, one simulation per seed, every oracle on; failures are shrunk and
    /// written as scenario files.
    Explore(ExploreArgs),
    /// Re-run a saved case (a scenario file) and report what the oracles say.
    Replay(ReplayArgs),
    /// Check a client history (JSON lines) for linearizability and stale reads.
    CheckHistory(CheckHistoryArgs),
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
struct ExploreArgs {
    #[command(subcommand)]
    action: Option<ExploreAction>,
    /// How many seeds (starting at --start).
    #[arg(long, default_value_t = 100)]
    seeds: u64,
    /// First seed.
    #[arg(long, default_value_t = 1)]
    start: u64,
    /// Worker threads (each simulation stays single-threaded and deterministic).
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Run only shard i of n of the seeds (1-based), e.g. 2/4 on the second of four machines.
    #[arg(long, value_parser = explore::parse_shard)]
    shard: Option<(u64, u64)>,
    /// Where to write shrunk failing cases.
    #[arg(long, default_value = "explore-failures")]
    out: PathBuf,
    /// Explore with a deliberately wrong driver behaviour from the bug zoo.
    #[arg(long, value_parser = parse_bug)]
    bug: Option<Bug>,
    /// List the bug zoo and exit.
    #[arg(long)]
    list_bugs: bool,
    /// Do not shrink failures (faster; the unshrunk case is still written).
    #[arg(long)]
    no_shrink: bool,
    /// Also write what this run (shard) covered and found as JSON, for `explore merge`.
    #[arg(long, value_name = "FILE")]
    summary: Option<PathBuf>,
}

#[derive(Subcommand)]
enum ExploreAction {
    /// Merge the JSON summaries shards wrote (every `*.json` in each DIR): seeds covered, gaps,
    /// overlaps, failures by oracle, undecided seeds.
    Merge {
        /// Directories holding shard summaries.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
    },
}

#[derive(clap::Args)]
struct ReplayArgs {
    /// A scenario file (for example one written by explore).
    file: PathBuf,
    #[arg(long, value_parser = parse_bug)]
    bug: Option<Bug>,
}

#[derive(clap::Args)]
struct CheckHistoryArgs {
    /// A history: raftsim's JSON lines (docs/exploration.md), a Jepsen `history.edn`, or Jepsen
    /// `jepsen.util` log lines.
    file: PathBuf,
    /// The file's format (default: from its name and first line).
    #[arg(long, value_enum, default_value_t = HistoryFormat::Auto)]
    format: HistoryFormat,
    /// When the history is not linearizable, draw it to this HTML file (operations as bars per
    /// client, the longest linearizable order numbered, the operations that cannot come next).
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum HistoryFormat {
    /// `.edn` or a first line starting with `{:` is EDN; a line with `jepsen.util - ` is a
    /// Jepsen log; anything else is raftsim's JSON lines.
    Auto,
    /// raftsim's JSON lines.
    Jsonl,
    /// A Jepsen `history.edn`.
    Edn,
    /// Jepsen `jepsen.util` log lines.
    JepsenLog,
}

fn history_format(path: &std::path::Path, text: &str) -> HistoryFormat {
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim_start();
    if path.extension().is_some_and(|e| e == "edn")
        || first.starts_with("{:")
        || first.starts_with("[{:")
    {
        HistoryFormat::Edn
    } else if text.lines().take(50).any(|l| l.contains("jepsen.util - ")) {
        HistoryFormat::JepsenLog
    } else {
        HistoryFormat::Jsonl
    }
}

#[derive(clap::Args)]
struct DiffArgs {
    /// Scenario file (TOML) or built-in scenario name.
    file: Option<String>,
    /// The change to try: a dotted path into the scenario file and a value
    /// (e.g. apiserver.etcd_servers=all); repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_set, required = true)]
    sets: Vec<(String, String)>,
    /// Seed (overrides the scenario's `seed`).
    #[arg(long)]
    seed: Option<u64>,
}

fn parse_set(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE (e.g. apiserver.etcd_servers=all)"))?;
    if k.trim().is_empty() {
        return Err(format!("`{s}` has an empty key"));
    }
    Ok((k.trim().to_string(), v.trim().to_string()))
}

#[derive(clap::Args, Default)]
struct RunArgs {
    /// Scenario file (TOML) or built-in scenario name.
    file: Option<String>,
    /// Seed (overrides the scenario's `seed`).
    #[arg(long, conflicts_with = "seeds")]
    seed: Option<u64>,
    /// Run every seed of A..B (B excluded) and summarise which expectations failed on how many
    /// seeds, e.g. --seeds 1..101.
    #[arg(long, value_name = "A..B", value_parser = raftsim::report::seeds::parse_range)]
    seeds: Option<std::ops::Range<u64>>,
    /// Timeline: only lines naming this member or node (etcd-1, worker-4, apiserver-1).
    #[arg(long, value_name = "NAME")]
    node: Option<String>,
    /// Timeline: only events from this simulated time (e.g. 60s).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    from: Option<raftsim::SimTime>,
    /// Timeline: only events up to this simulated time (e.g. 62s).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    to: Option<raftsim::SimTime>,
    /// Timeline: only lines containing this text.
    #[arg(long, value_name = "TEXT")]
    grep: Option<String>,
    /// Print every Raft message sent or dropped (with --from/--to/--node/--grep) instead of the
    /// timeline.
    #[arg(long)]
    messages: bool,
    /// Write the run as a self-contained HTML timeline (lanes, messages, client operations,
    /// verdicts; zoom, pan and details in any browser, no network).
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Write the run as a static SVG picture (no heartbeats), for documents.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// Write every trace event as JSON lines to this file.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Show raft-rs's own log lines on stderr, stamped with simulated time and node.
    #[arg(long, value_enum)]
    log_level: Option<LogLevel>,
    /// Override a scenario setting: a dotted path into the file and a value, e.g.
    /// apiserver.etcd_servers=all, cluster.persist=async, fault.0.until=90s; repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_set)]
    sets: Vec<(String, String)>,
    /// Run with a deliberately wrong driver behaviour from the bug zoo (see `raftsim explore --list-bugs`).
    #[arg(long, value_parser = parse_bug)]
    bug: Option<Bug>,
    /// Stop after this many simulated events (the run then says what it could not judge and
    /// exits 3 unless something already failed).
    #[arg(long, value_name = "N")]
    max_events: Option<u64>,
    /// Run twice with the same seed and compare the traces; on a difference, print the first
    /// differing trace record of each run and exit 1.
    #[arg(long)]
    check_determinism: bool,
}

fn parse_time(s: &str) -> Result<raftsim::SimTime, String> {
    raftsim::SimDuration::parse(s).map(|d| raftsim::SimTime::ZERO + d)
}

fn parse_bug(s: &str) -> Result<Bug, String> {
    Bug::parse(s)
}

#[derive(Clone, Copy, ValueEnum, Default)]
enum Format {
    #[default]
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl From<LogLevel> for slog::Level {
    fn from(l: LogLevel) -> slog::Level {
        match l {
            LogLevel::Trace => slog::Level::Trace,
            LogLevel::Debug => slog::Level::Debug,
            LogLevel::Info => slog::Level::Info,
            LogLevel::Warn => slog::Level::Warning,
            LogLevel::Error => slog::Level::Error,
        }
    }
}

/// The largest history file `check-history` reads.
const HISTORY_MAX_BYTES: u64 = 256 << 20;

/// Exit code when nothing failed but an oracle could not decide within its budget.
const UNKNOWN: u8 = 3;

/// Bad input: reported and exit code 2.
struct BadInput(anyhow::Error);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd.unwrap_or(Cmd::Run(RunArgs::default())) {
        Cmd::List => list(),
        Cmd::Show { name } => show(&name),
        Cmd::Lessons => lessons(),
        Cmd::Lesson { name } => lesson(&name),
        Cmd::Run(a) => run_cmd(a),
        Cmd::Diff(a) => diff_cmd(a),
        Cmd::Explore(a) => explore_cmd(a),
        Cmd::Replay(a) => run_cmd(RunArgs {
            file: Some(a.file.display().to_string()),
            bug: a.bug,
            ..Default::default()
        }),
        Cmd::CheckHistory(a) => check_history_cmd(a),
    };
    match result {
        Ok(code) => code,
        Err(BadInput(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn show(name: &str) -> Result<ExitCode, BadInput> {
    match builtin::find(name) {
        Some((_, text)) => {
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        None => Err(BadInput(
            raftsim::Scenario::builtin(name).unwrap_err().into(),
        )),
    }
}

fn lessons() -> Result<ExitCode, BadInput> {
    let mut out = std::io::stdout().lock();
    for l in raftsim::report::lessons::all() {
        // A closed pipe (`raftsim lessons | head`) is not an error.
        let _ = writeln!(out, "{}\n  {}\n  {}\n", l.name, l.title, l.question);
    }
    let _ = writeln!(out, "Run one: raftsim lesson NAME");
    Ok(ExitCode::SUCCESS)
}

fn lesson(name: &str) -> Result<ExitCode, BadInput> {
    let l = raftsim::report::lessons::find(name).map_err(|e| BadInput(anyhow::anyhow!(e)))?;
    println!("{}\n\nPredict: {}\n", l.title, l.question);
    if std::io::stdin().is_terminal() {
        eprint!("Press Enter to run `raftsim run {}`... ", l.scenario);
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    }
    let s = Scenario::builtin(&l.scenario).map_err(|e| BadInput(e.into()))?;
    let r = raftsim::run(&s, &RunOptions::default());
    let text = raftsim::report::timeline::render(&r);
    print!("{}", colour(&text, std::io::stdout().is_terminal()));
    println!("\nThe answer:\n\n{}", l.answer);
    Ok(ExitCode::from(if r.passed() { 0 } else { 1 }))
}

fn list() -> Result<ExitCode, BadInput> {
    for (name, file, text) in builtin::BUILTIN {
        let s = Scenario::parse(text, file).map_err(|e| BadInput(e.into()))?;
        let first = one_line(&s.description);
        let mark = if *name == builtin::DEFAULT {
            " (default)"
        } else {
            ""
        };
        println!("{name:<28} {first}{mark}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The first sentence of a description, on one line.
fn one_line(text: &str) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match joined.find(". ") {
        Some(i) => joined[..=i].to_string(),
        None => joined,
    }
}

fn load(arg: Option<&str>, sets: &[(String, String)]) -> Result<Scenario, BadInput> {
    let name = arg.unwrap_or(builtin::DEFAULT);
    let path = PathBuf::from(name);
    if path.exists() {
        return Scenario::load_with_overrides(&path, sets).map_err(|e| BadInput(e.into()));
    }
    match builtin::load_with_overrides(name, sets) {
        Some(r) => r.map_err(|e| BadInput(e.into())),
        None => {
            let names: Vec<&str> = builtin::BUILTIN.iter().map(|b| b.0).collect();
            Err(BadInput(anyhow::anyhow!(
                "`{name}` is neither a scenario file nor a built-in scenario; built-ins: {}",
                names.join(", ")
            )))
        }
    }
}

/// The options `raftsim run` runs with.
fn run_options(a: &RunArgs) -> RunOptions {
    RunOptions {
        bug: a.bug,
        seed: a.seed,
        log_level: a.log_level.map(Into::into),
        max_events: a.max_events,
        progress: std::io::stderr()
            .is_terminal()
            .then_some(progress_line as raftsim::world::Progress),
        // Only views that show messages need `msg-sent` records in memory (a `--trace` file
        // gets every record as the run goes).
        full_trace: a.messages
            || a.html.is_some()
            || a.svg.is_some()
            || matches!(a.format, Format::Json),
        ..Default::default()
    }
}

fn run_cmd(a: RunArgs) -> Result<ExitCode, BadInput> {
    let scenario = load(a.file.as_deref(), &a.sets)?;
    if let Some(seeds) = a.seeds.clone() {
        return Ok(run_seeds(&scenario, &a, seeds));
    }
    let opts = run_options(&a);
    let Some(r) = run_once(&a, &scenario, &opts)? else {
        return Ok(ExitCode::from(1)); // not deterministic: said on stderr
    };
    if opts.progress.is_some() {
        eprint!("\r{:60}\r", ""); // clear the progress line
    }
    write_pictures(&a, &r)?;
    // Buffered: stdout alone flushes at every line, and a long run's JSON has millions.
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let filter = raftsim::report::timeline::Filter {
        node: a.node.clone(),
        from: a.from,
        to: a.to,
        grep: a.grep.clone(),
    };
    let printed = match a.format {
        Format::Text => {
            let text = if a.messages {
                raftsim::report::messages::render(&r, &filter)
            } else {
                raftsim::report::timeline::render_with(&r, &filter)
            };
            out.write_all(colour(&text, std::io::stdout().is_terminal()).as_bytes())
        }
        Format::Json => serde_json::to_writer_pretty(&mut out, &r)
            .map_err(std::io::Error::other)
            .and_then(|_| writeln!(out)),
    };
    let printed = printed.and_then(|()| out.flush());
    let _ = printed; // a closed pipe is not an error of the simulation
    report_findings(&r);
    Ok(ExitCode::from(match (r.passed(), r.unknown.is_empty()) {
        (true, true) => 0,
        (true, false) => UNKNOWN,
        (false, _) => 1,
    }))
}

/// The run `raftsim run` shows, its trace streamed to `--trace`; with `--check-determinism`,
/// run twice and compared (`None`: the runs differed, as printed on stderr).
fn run_once(
    a: &RunArgs,
    scenario: &raftsim::Scenario,
    opts: &RunOptions,
) -> Result<Option<raftsim::RunResult>, BadInput> {
    let mut trace_file = a.trace.as_deref().map(create_trace_file).transpose()?;
    let trace_out = trace_file.as_mut().map(|f| f as &mut dyn Write);
    let cannot_write = |e| trace_error(a.trace.as_deref().unwrap_or("?".as_ref()), e);
    if !a.check_determinism {
        let r = raftsim::run_streaming(scenario, opts, trace_out).map_err(cannot_write)?;
        return Ok(Some(r));
    }
    match raftsim::run::check_determinism(scenario, opts, trace_out).map_err(cannot_write)? {
        Ok(r) => {
            let (n, h) = (r.trace.len(), &r.trace_hash);
            eprintln!("deterministic: two runs gave the same {n} trace records (hash {h})");
            Ok(Some(r))
        }
        Err(d) => {
            eprintln!("NOT deterministic: {d}");
            Ok(None)
        }
    }
}

/// `--html` and `--svg`: each picture is drawn only when asked for.
fn write_pictures(a: &RunArgs, r: &raftsim::RunResult) -> Result<(), BadInput> {
    type Draw = fn(&raftsim::RunResult) -> String;
    let pictures: [(&Option<PathBuf>, Draw); 2] = [
        (&a.html, raftsim::report::picture::html),
        (&a.svg, |r| {
            raftsim::report::picture::svg(r, raftsim::report::picture::Messages::NoHeartbeats)
        }),
    ];
    for (path, draw) in pictures {
        if let Some(path) = path {
            std::fs::write(path, draw(r))
                .map_err(|e| BadInput(anyhow::anyhow!("{}: {e}", path.display())))?;
        }
    }
    Ok(())
}

/// Runs every seed of `seeds` and prints the summary; exit 1 if any seed failed, 3 if none failed
/// but some stayed undecided.
#[allow(clippy::disallowed_methods)] // the progress line measures wall time
fn run_seeds(scenario: &raftsim::Scenario, a: &RunArgs, seeds: std::ops::Range<u64>) -> ExitCode {
    let mut sweep = raftsim::report::seeds::Sweep::default();
    let total = seeds.end - seeds.start;
    let progress = std::io::stderr().is_terminal();
    let started = std::time::Instant::now();
    for (i, seed) in seeds.enumerate() {
        let opts = RunOptions {
            bug: a.bug,
            seed: Some(seed),
            max_events: a.max_events,
            full_trace: false,
            ..Default::default()
        };
        sweep.add(&run(scenario, &opts));
        if progress {
            let (done, failed) = (i + 1, sweep.failed.len());
            let elapsed_s = started.elapsed().as_secs_f64();
            let line =
                raftsim::report::seeds::progress_line(done, total as usize, failed, elapsed_s);
            eprint!("\r{line}   ");
        }
    }
    if progress {
        eprintln!();
    }
    print!("{}", sweep.render(&scenario.name));
    match (sweep.failed.is_empty(), sweep.undecided.is_empty()) {
        (true, true) => ExitCode::SUCCESS,
        (true, false) => ExitCode::from(UNKNOWN),
        (false, _) => ExitCode::from(1),
    }
}

/// A long run's progress, on a terminal's stderr (cleared when the run ends).
fn progress_line(now: raftsim::SimTime, end: raftsim::SimTime) {
    let pct = now.0 as f64 * 100.0 / end.0.max(1) as f64;
    eprint!("\r[{now} of {end} simulated, {pct:.0}%]   ");
}

/// Colours verdicts and faults for a terminal, unless `NO_COLOR` is set.
fn colour(text: &str, terminal: bool) -> String {
    if !terminal || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        return text.to_string();
    }
    let paint = |code: &str, l: &str| format!("\x1b[{code}m{l}\x1b[0m");
    text.lines()
        .map(|l| {
            if l.starts_with("PASS") || l.ends_with(" PASS") {
                paint("32", l)
            } else if l.starts_with("FAIL") || l.starts_with("VIOLATION") || l.ends_with(" FAIL") {
                paint("31", l)
            } else if l.starts_with("UNKNOWN") || l.ends_with(" UNKNOWN") || l.contains("] FAULT") {
                paint("33", l)
            } else {
                l.to_string()
            }
        })
        .map(|l| l + "\n")
        .collect()
}

/// How many violations of one oracle stderr names before it only counts the rest (a buggy driver
/// can break the Ready contract on every Ready: hundreds of thousands of lines).
const VIOLATIONS_SHOWN_PER_ORACLE: usize = 5;

/// Names, on stderr, every undecided check and failed expectation and the first violations of
/// each oracle, each with the seed and the command that replays the run.
fn report_findings(r: &raftsim::RunResult) {
    for u in &r.unknown {
        eprintln!(
            "{} could not decide (seed {}; replay: {}): {}",
            u.what,
            r.seed,
            r.replay_command(),
            u.detail
        );
    }
    let mut shown: std::collections::BTreeMap<raftsim::sim::trace::Oracle, usize> =
        Default::default();
    for v in r.unexpected_violations() {
        let count = shown.entry(v.oracle).or_default();
        *count += 1;
        if *count > VIOLATIONS_SHOWN_PER_ORACLE {
            continue;
        }
        let nodes: Vec<String> = v.nodes.iter().map(|n| n.to_string()).collect();
        eprintln!(
            "oracle {} failed at {} (nodes: {}; seed {}; replay: {}):\n{}",
            v.oracle,
            v.at,
            if nodes.is_empty() {
                "-".into()
            } else {
                nodes.join(", ")
            },
            r.seed,
            r.replay_command(),
            v.detail.trim_end()
        );
    }
    for (oracle, n) in shown
        .iter()
        .filter(|(_, n)| **n > VIOLATIONS_SHOWN_PER_ORACLE)
    {
        let more = n - VIOLATIONS_SHOWN_PER_ORACLE;
        eprintln!("oracle {oracle}: {more} more violation(s) not shown here; the timeline lists every one");
    }
    for v in r.failed_verdicts() {
        eprintln!(
            "expectation failed: {}: {} (seed {}; replay: {})",
            v.check,
            v.detail,
            r.seed,
            r.replay_command()
        );
    }
}

/// The `--trace` file, created before the run so that a bad path fails at once.
fn create_trace_file(path: &std::path::Path) -> Result<std::fs::File, BadInput> {
    std::fs::File::create(path).map_err(|e| trace_error(path, e))
}

/// The `--trace` file could not be created or written.
fn trace_error(path: &std::path::Path, e: std::io::Error) -> BadInput {
    BadInput(anyhow::anyhow!(
        "cannot write the trace to {}: {e}",
        path.display()
    ))
}

fn diff_cmd(a: DiffArgs) -> Result<ExitCode, BadInput> {
    let base = load(a.file.as_deref(), &[])?;
    let alt = load(a.file.as_deref(), &a.sets)?;
    let opts = RunOptions {
        seed: a.seed,
        ..Default::default()
    };
    let (rb, ra) = (run(&base, &opts), run(&alt, &opts));
    let change: Vec<String> = a
        .sets
        .iter()
        .map(|(k, v)| format!("--set {k}={v}"))
        .collect();
    print!(
        "{}",
        raftsim::report::diff::render(&rb, &ra, &change.join(" "))
    );
    Ok(ExitCode::SUCCESS)
}

fn check_history_cmd(a: CheckHistoryArgs) -> Result<ExitCode, BadInput> {
    let text = raftsim::scenario::read_limited(&a.file, HISTORY_MAX_BYTES)
        .with_context(|| format!("cannot read {}", a.file.display()))
        .map_err(BadInput)?;
    let name = a.file.display().to_string();
    let format = match a.format {
        HistoryFormat::Auto => history_format(&a.file, &text),
        f => f,
    };
    let parsed = match format {
        HistoryFormat::Edn => raftsim::check::jepsen::parse_edn(&text, &name),
        HistoryFormat::JepsenLog => raftsim::check::jepsen::parse_log(&text, &name),
        _ => history::parse(&text, &name),
    };
    let h = parsed.map_err(|e| BadInput(e.into()))?;
    let stale = history::stale_reads(&h);
    println!(
        "{} operations, {} serializable reads",
        h.ops.len(),
        h.serializable_reads.len()
    );
    for (read, newer) in &stale {
        println!("stale read (serializable, allowed): {read:?}\n  a newer write was acknowledged before it: {newer:?}");
    }
    match linearizability::check(&h.ops) {
        linearizability::Answer::Linearizable => {
            println!("linearizable: yes");
            Ok(ExitCode::SUCCESS)
        }
        linearizability::Answer::NotLinearizable(v) => {
            println!("linearizable: NO\n{v}");
            if let Some(path) = &a.html {
                let page = raftsim::report::history_view::html(&v, &name);
                std::fs::write(path, page)
                    .map_err(|e| BadInput(anyhow::anyhow!("{}: {e}", path.display())))?;
                println!("drawn to {}", path.display());
            }
            Ok(ExitCode::from(1))
        }
        linearizability::Answer::Unknown(e) => {
            println!("linearizable: UNKNOWN\n  {e}");
            Ok(ExitCode::from(UNKNOWN))
        }
    }
}

#[allow(clippy::disallowed_methods)] // the progress line measures wall time
fn explore_cmd(a: ExploreArgs) -> Result<ExitCode, BadInput> {
    if let Some(ExploreAction::Merge { dirs }) = &a.action {
        return merge_cmd(dirs);
    }
    if a.list_bugs {
        for b in Bug::ALL {
            println!("{:<24} {}", b.name(), b.describe());
        }
        return Ok(ExitCode::SUCCESS);
    }
    if a.jobs == 0 || a.jobs > explore::MAX_JOBS {
        let max = explore::MAX_JOBS;
        return Err(BadInput(anyhow::anyhow!(
            "--jobs must be between 1 and {max}"
        )));
    }
    let seeds = explore::seed_range(a.start, a.seeds, a.shard.unwrap_or((1, 1)))
        .map_err(|e| BadInput(anyhow::anyhow!(e)))?;
    // A panic inside a simulation is reported as a finding of that seed, not printed here.
    std::panic::set_hook(Box::new(|_| {}));
    let started = std::time::Instant::now();
    let last = std::sync::Mutex::new(started);
    let total = seeds.len();
    let terminal = std::io::stderr().is_terminal();
    let progress = |done: usize, failed: usize| {
        if !terminal {
            return;
        }
        let mut last = last.lock().expect("progress lock");
        if last.elapsed().as_millis() >= 200 || done == total {
            *last = std::time::Instant::now();
            let elapsed_s = started.elapsed().as_secs_f64();
            let line = raftsim::report::seeds::progress_line(done, total, failed, elapsed_s);
            eprint!("\r{line}   ");
        }
    };
    let results = explore::sweep(&seeds, a.jobs, a.bug, !a.no_shrink, &progress);
    if terminal {
        eprintln!();
    }
    let wall = started.elapsed().as_secs_f64();
    print!("{}", explore_summary(&results, wall, a.jobs));
    let mix = explore::hunting_config(a.bug);
    if mix != explore::CaseConfig::default() {
        println!(
            "fault mix           hunting {}: {:?}",
            a.bug.map_or("", |b| b.name()),
            mix.fault_weights
        );
    }
    if let Some(path) = &a.summary {
        let bug = a.bug.map(|b| b.name().to_string());
        let shard = a.shard.unwrap_or((1, 1));
        let summary = explore::summary::ShardSummary::new(a.start, a.seeds, shard, bug, &results);
        let text = serde_json::to_string_pretty(&summary).expect("summaries serialize");
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write the summary to {}", path.display()))
            .map_err(BadInput)?;
    }
    let found: Vec<&explore::SeedOutcome> = results
        .iter()
        .filter(|o| !o.failures.is_empty() || !o.undecided.is_empty())
        .collect();
    if found.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    write_failures(&a.out, &found, a.bug)?;
    let failed = found.iter().any(|o| !o.failures.is_empty());
    Ok(ExitCode::from(if failed { 1 } else { UNKNOWN }))
}

/// `explore merge`: reads every shard summary in `dirs` and reports the sweep as one.
fn merge_cmd(dirs: &[PathBuf]) -> Result<ExitCode, BadInput> {
    let mut summaries = Vec::new();
    for dir in dirs {
        let entries = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read {}", dir.display()))
            .map_err(BadInput)?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        for p in paths {
            let text = raftsim::scenario::read_limited(&p, 256 << 20)
                .with_context(|| format!("cannot read {}", p.display()))
                .map_err(BadInput)?;
            let s: explore::summary::ShardSummary = serde_json::from_str(&text)
                .with_context(|| format!("{} is not an explore summary", p.display()))
                .map_err(BadInput)?;
            summaries.push(s);
        }
    }
    if summaries.is_empty() {
        return Err(BadInput(anyhow::anyhow!(
            "no *.json summary in {}",
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let merged = explore::summary::merge(&summaries).map_err(|e| BadInput(anyhow::anyhow!(e)))?;
    print!("{}", merged.render());
    Ok(ExitCode::from(
        match (merged.failed(), merged.undecided.is_empty()) {
            (true, _) => 1,
            (false, false) => UNKNOWN,
            (false, true) => 0,
        },
    ))
}

/// Writes each failing case to `out` as a scenario file and says how to replay it.
fn write_failures(
    out: &std::path::Path,
    failures: &[&explore::SeedOutcome],
    bug: Option<Bug>,
) -> Result<(), BadInput> {
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create {}", out.display()))
        .map_err(BadInput)?;
    for o in failures {
        let path = out.join(format!("seed-{}.toml", o.seed));
        std::fs::write(&path, o.scenario_file(bug))
            .with_context(|| format!("cannot write {}", path.display()))
            .map_err(BadInput)?;
        let first = o
            .detail
            .as_deref()
            .unwrap_or("?")
            .lines()
            .next()
            .unwrap_or("");
        let (p, flag) = (path.display(), raftsim::run::bug_flag(bug));
        println!(
            "seed {}: {first} -> {p} (replay: raftsim run {p}{flag})",
            o.seed
        );
    }
    Ok(())
}

fn explore_summary(results: &[explore::SeedOutcome], wall_s: f64, jobs: usize) -> String {
    use std::collections::BTreeMap;
    let mut faults: BTreeMap<&str, u64> = BTreeMap::new();
    let mut violations: BTreeMap<String, u64> = BTreeMap::new();
    let mut undecided: BTreeMap<String, u64> = BTreeMap::new();
    for o in results {
        for (k, v) in &o.faults {
            *faults.entry(k).or_insert(0) += v;
        }
        for f in &o.failures {
            *violations.entry(f.name().to_string()).or_insert(0) += 1;
        }
        for u in &o.undecided {
            *undecided.entry(u.name().to_string()).or_insert(0) += 1;
        }
    }
    let sim: f64 = results.iter().map(|o| o.simulated_s).sum();
    let elections: u64 = results.iter().map(|o| o.elections).sum();
    let mut s = String::new();
    s.push_str(&format!("seeds               {}\n", results.len()));
    s.push_str(&format!(
        "simulated time      {:.0}s ({:.0} simulated s per wall s)\n",
        sim,
        sim / wall_s.max(1e-9)
    ));
    s.push_str(&format!(
        "wall time           {:.2}s on {} job(s) ({:.1} seeds/s)\n",
        wall_s,
        jobs,
        results.len() as f64 / wall_s.max(1e-9)
    ));
    s.push_str(&format!("elections           {elections}\n"));
    s.push_str("faults injected     ");
    s.push_str(
        &faults
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    s.push('\n');
    s.push_str(&format!("violations          {}\n", counts(&violations)));
    s.push_str(&format!("undecided           {}\n", counts(&undecided)));
    s
}

/// `name n, name n` or `none`.
fn counts(m: &std::collections::BTreeMap<String, u64>) -> String {
    if m.is_empty() {
        return "none".into();
    }
    m.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}
