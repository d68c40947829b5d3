//! The `raftsim` command line: a thin layer over the library.
//!
//! Exit codes: 0 every expectation held, 1 one failed (named, with the seed), 2 bad input.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use raftsim::node::Bug;
use raftsim::scenario::builtin;
use raftsim::{run, RunOptions, Scenario};
use std::io::Write;
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
    /// Run a scenario as written and with settings changed (--set), same seed, and show what
    /// changed in the outcome.
    Diff(DiffArgs),
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
    #[arg(long)]
    seed: Option<u64>,
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

/// Bad input: reported and exit code 2.
struct BadInput(anyhow::Error);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd.unwrap_or(Cmd::Run(RunArgs::default())) {
        Cmd::List => list(),
        Cmd::Run(a) => run_cmd(a),
        Cmd::Diff(a) => diff_cmd(a),
    };
    match result {
        Ok(code) => code,
        Err(BadInput(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
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

fn run_cmd(a: RunArgs) -> Result<ExitCode, BadInput> {
    let scenario = load(a.file.as_deref(), &a.sets)?;
    let opts = RunOptions {
        bug: a.bug,
        seed: a.seed,
        log_level: a.log_level.map(Into::into),
    };
    let r = run(&scenario, &opts);
    if let Some(path) = &a.trace {
        write_trace(path, &r).map_err(BadInput)?;
    }
    let mut out = std::io::stdout().lock();
    let printed = match a.format {
        Format::Text => out.write_all(raftsim::report::timeline::render(&r).as_bytes()),
        Format::Json => serde_json::to_writer_pretty(&mut out, &r)
            .map_err(std::io::Error::other)
            .and_then(|_| writeln!(out)),
    };
    let _ = printed; // a closed pipe is not an error of the simulation
    if r.passed() {
        return Ok(ExitCode::SUCCESS);
    }
    for v in &r.violations {
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
    for v in r.failed_verdicts() {
        eprintln!(
            "expectation failed: {}: {} (seed {}; replay: {})",
            v.check,
            v.detail,
            r.seed,
            r.replay_command()
        );
    }
    Ok(ExitCode::from(1))
}

fn write_trace(path: &PathBuf, r: &raftsim::RunResult) -> Result<()> {
    let f = std::fs::File::create(path)
        .with_context(|| format!("cannot write trace to {}", path.display()))?;
    let mut w = std::io::BufWriter::new(f);
    for rec in &r.trace {
        serde_json::to_writer(&mut w, rec)?;
        writeln!(w)?;
    }
    w.flush()?;
    Ok(())
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
