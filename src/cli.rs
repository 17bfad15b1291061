//! Command line: parse, dispatch, map every outcome to a documented exit code.
//!
//! Exit codes: 0 success; 1 runtime failure; 2 invalid input or usage; 3 the run
//! completed but failed a check (a threshold, the integrity audit, an abort after a
//! sustained breach); 130 interrupted by SIGINT/SIGTERM (the report of what was
//! measured is written).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::datagen::Generator;
use crate::engine::{self, RunOptions};
use crate::model::{EventMeta, KafkaResponse};
use crate::plan::Plan;
use crate::report::{self, progress::Style, Summary};
use crate::scenario;

pub const EXIT_OK: i32 = 0;
pub const EXIT_RUNTIME: i32 = 1;
pub const EXIT_INPUT: i32 = 2;
pub const EXIT_CHECKS: i32 = 3;
pub const EXIT_INTERRUPTED: i32 = 130;

#[derive(Parser)]
#[command(
    name = "eventbench",
    version,
    about = "Benchmark and load generator for event stores on Kafka and ScyllaDB/Cassandra"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and write its report directory.
    Run {
        scenario: PathBuf,
        /// Run directory (default: reports/<scenario>/<UTC time>/).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Override a scenario value by dotted path, e.g. workload.producers.rate=2000.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// No progress output.
        #[arg(long)]
        quiet: bool,
        /// Run only share i of n (from 0) of every workload's operations: n generators
        /// with --shard 0/n .. n-1/n together run exactly the scenario's load.
        #[arg(long, value_name = "I/N")]
        shard: Option<String>,
    },
    /// Run one reference service (against the scenario's target) until Ctrl-C.
    Serve {
        #[arg(value_enum)]
        service: ServiceKind,
        scenario: PathBuf,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Concurrent handlers (default: the scenario's `target.<service>.workers`).
        #[arg(long)]
        workers: Option<usize>,
    },
    /// Audit a pipeline run again: re-read the store and judge it with the run's ledger.
    Audit { run_dir: PathBuf },
    /// Compare two runs (run directories or summary.json files) stage by stage.
    Compare {
        baseline: PathBuf,
        candidate: PathBuf,
        /// Changes smaller than this are "no significant change".
        #[arg(long, default_value = "10%")]
        noise: String,
        /// Confidence of the bootstrap intervals, percent.
        #[arg(long, default_value_t = 95.0)]
        confidence: f64,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Exit 3 when a row is slower (beyond its --limit, if it has one).
        #[arg(long)]
        fail_on_regression: bool,
        /// Allowed slowdown of one metric, e.g. e2e.persisted.p99=20% or producers.produce.p50=5%.
        #[arg(long = "limit", value_name = "STAGE.STAT=PCT")]
        limits: Vec<String>,
    },
    /// Find the highest rate a workload sustains under SLOs (steady steps: a ladder, then bisection).
    Capacity(CapacityArgs),
    /// Combine runs of one scenario (e.g. --shard parts) into one run directory.
    Merge {
        #[arg(required = true, num_args = 2..)]
        run_dirs: Vec<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Rebuild a run directory's report.html from its summary.json and latency.hlog.
    Report { run_dir: PathBuf },
    /// Check a scenario and print the resolved plan.
    Validate {
        scenario: PathBuf,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
    /// Print synthetic seed models as JSON Lines (the exact Go wire format).
    Gen {
        #[arg(long, default_value_t = 10)]
        count: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, value_enum, default_value_t = Kind::Event)]
        kind: Kind,
        /// Take data settings ([data]) from this scenario.
        #[arg(long)]
        scenario: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Markdown,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum ServiceKind {
    Persistence,
    Query,
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Event,
    Query,
    Response,
    Meta,
}

/// Runs the command line; returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_INPUT } else { EXIT_OK };
            let _ = e.print();
            return code;
        }
    };
    match cli.command {
        Command::Run {
            scenario,
            out,
            set,
            quiet,
            shard,
        } => run(scenario, out, set, quiet, shard),
        Command::Validate { scenario, set } => validate(scenario, set),
        Command::Serve {
            service,
            scenario,
            set,
            workers,
        } => serve(service, scenario, set, workers),
        Command::Audit { run_dir } => audit(run_dir),
        Command::Capacity(args) => capacity(args),
        Command::Merge { run_dirs, out } => match report::merge::merge(&run_dirs, &out) {
            Ok(summary) => {
                if let Err(e) = write_outputs(&out, &summary) {
                    eprintln!("error: {e}");
                    return EXIT_RUNTIME;
                }
                print!("{}", report::text::render(&summary));
                println!("report: {}", out.display());
                if summary.checks_passed() {
                    EXIT_OK
                } else {
                    EXIT_CHECKS
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                EXIT_INPUT
            }
        },
        Command::Compare {
            baseline,
            candidate,
            noise,
            confidence,
            format,
            fail_on_regression,
            limits,
        } => compare(
            &baseline,
            &candidate,
            &noise,
            confidence,
            format,
            fail_on_regression,
            &limits,
        ),
        Command::Report { run_dir } => match report::html::write(&run_dir) {
            Ok(p) => {
                println!("{}", p.display());
                EXIT_OK
            }
            Err(e) => {
                eprintln!("error: {e}");
                EXIT_INPUT
            }
        },
        Command::Gen {
            count,
            seed,
            kind,
            scenario,
        } => gen(count, seed, kind, scenario),
    }
}

fn load(path: &std::path::Path, set: &[String]) -> Result<Plan, i32> {
    match scenario::load(path, set) {
        Ok(l) => Ok(Plan::from_loaded(&l)),
        Err(e) => {
            eprintln!("error: {e}");
            Err(EXIT_INPUT)
        }
    }
}

fn run(path: PathBuf, out: Option<PathBuf>, set: Vec<String>, quiet: bool, shard: Option<String>) -> i32 {
    let mut plan = match load(&path, &set) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if let Some(s) = shard {
        match crate::engine::schedule::Shard::parse(&s) {
            Ok(sh) => plan.shard = sh,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_INPUT;
            }
        }
    }
    let dir = out.unwrap_or_else(|| {
        let now = crate::model::GoTime::from_unix_nanos(crate::clock::Clock::start().wall_origin_ns()).to_string();
        let stamp: String = now
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == 'T')
            .take(15)
            .collect();
        let shard = if plan.shard.count > 1 {
            format!("-shard{}of{}", plan.shard.index, plan.shard.count)
        } else {
            String::new()
        };
        PathBuf::from("reports")
            .join(&plan.name)
            .join(format!("{stamp}Z{shard}"))
    });
    let progress = if quiet {
        None
    } else if std::io::stderr().is_terminal() {
        Some(Style::Bar)
    } else {
        Some(Style::Lines)
    };
    let opts = RunOptions {
        dir: dir.clone(),
        progress,
        drop_every: std::env::var("EVENTBENCH_DROP_EVERY").ok().and_then(|v| v.parse().ok()),
    };
    let measured = match engine::run(&plan, &opts) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_RUNTIME;
        }
    };
    let summary = Summary::build(&plan, &measured);
    if let Err(e) = report::write_summary(&dir, &summary) {
        eprintln!("error: cannot write {}: {e}", dir.join("summary.json").display());
        return EXIT_RUNTIME;
    }
    if let Err(e) = write_outputs(&dir, &summary) {
        eprintln!("error: {e}");
        return EXIT_RUNTIME;
    }
    print!("{}", report::text::render(&summary));
    println!("report: {}", dir.display());
    if summary.interrupted.is_some() {
        EXIT_INTERRUPTED
    } else if !summary.checks_passed() {
        EXIT_CHECKS
    } else {
        EXIT_OK
    }
}

/// Everything in a run directory besides summary.json and latency.hlog.
fn write_outputs(dir: &std::path::Path, summary: &Summary) -> Result<(), String> {
    if let Some(a) = &summary.audit {
        write_json(&dir.join("audit.json"), a)?;
    }
    let write = |name: &str, text: String| {
        std::fs::write(dir.join(name), text).map_err(|e| format!("cannot write {}: {e}", dir.join(name).display()))
    };
    write("summary.md", report::ci::markdown(summary))?;
    report::html::write(dir)?;
    if !summary.thresholds.is_empty() || summary.audit.is_some() {
        write("junit.xml", report::ci::junit(summary))?;
    }
    Ok(())
}

fn write_json(path: &std::path::Path, v: &impl serde::Serialize) -> Result<(), String> {
    let json = serde_json::to_vec_pretty(v).map_err(|e| format!("{}: {e}", path.display()))?;
    std::fs::write(path, json).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn serve(service: ServiceKind, path: PathBuf, set: Vec<String>, workers: Option<usize>) -> i32 {
    let plan = match load(&path, &set) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let (which, default_workers) = match service {
        ServiceKind::Persistence => (
            engine::serve::Which::Persistence,
            *plan.target.persistence.workers.get_ref(),
        ),
        ServiceKind::Query => (engine::serve::Which::Query, *plan.target.query.workers.get_ref()),
    };
    match engine::serve::serve(&plan, which, workers.unwrap_or(default_workers).max(1)) {
        Ok(s) => {
            println!(
                "{which:?}: {} consumed, {} replied, {} malformed, {} failed",
                s.consumed, s.replied, s.malformed, s.failed
            );
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_RUNTIME
        }
    }
}

fn percent(s: &str) -> Result<f64, String> {
    s.trim()
        .strip_suffix('%')
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| v / 100.0)
        .ok_or_else(|| format!("expected a percentage such as 10%, not {s:?}"))
}

fn compare(
    baseline: &std::path::Path,
    candidate: &std::path::Path,
    noise: &str,
    confidence: f64,
    format: Format,
    fail: bool,
    limits: &[String],
) -> i32 {
    let parsed = (|| -> Result<_, String> {
        let mut map = std::collections::BTreeMap::new();
        for l in limits {
            let (k, v) = l
                .split_once('=')
                .ok_or_else(|| format!("--limit {l:?}: expected STAGE.STAT=PCT"))?;
            map.insert(
                k.trim().to_string(),
                percent(v).map_err(|e| format!("--limit {l:?}: {e}"))?,
            );
        }
        if !(50.0..100.0).contains(&confidence) {
            return Err(format!("--confidence {confidence}: expected 50..100"));
        }
        let opts = crate::compare::Options {
            noise: percent(noise).map_err(|e| format!("--noise: {e}"))?,
            confidence: confidence / 100.0,
            limits: map,
        };
        Ok((
            crate::compare::Run::open(baseline)?,
            crate::compare::Run::open(candidate)?,
            opts,
        ))
    })();
    let (base, cand, opts) = match parsed {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INPUT;
        }
    };
    let c = crate::compare::compare(&base, &cand, &opts);
    match format {
        Format::Text => print!("{}", crate::compare::text(&c)),
        Format::Markdown => print!("{}", crate::compare::markdown(&c)),
        Format::Json => match serde_json::to_string_pretty(&c) {
            Ok(j) => println!("{j}"),
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_RUNTIME;
            }
        },
    }
    if fail && c.regressions > 0 {
        EXIT_CHECKS
    } else {
        EXIT_OK
    }
}

#[derive(clap::Args)]
struct CapacityArgs {
    scenario: PathBuf,
    /// e.g. "e2e.persisted.p99 < 50ms" (the searched workload's stage), repeatable.
    #[arg(long = "slo", required = true)]
    slos: Vec<String>,
    /// The workload whose rate is searched (default: the first open workload).
    #[arg(long)]
    workload: Option<String>,
    #[arg(long, default_value = "5%")]
    precision: String,
    /// First rate of the ladder, operations/s.
    #[arg(long, default_value_t = 500.0)]
    start: f64,
    #[arg(long, default_value_t = 1_000_000.0)]
    max: f64,
    /// Measured time per step (after its warmup).
    #[arg(long, default_value = "10s")]
    step: String,
    #[arg(long, default_value = "3s")]
    step_warmup: String,
    /// Extra runs of each boundary step, for confidence.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Errors per operation a passing step may have.
    #[arg(long, default_value = "0.1%")]
    errors: String,
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    #[arg(long)]
    out: Option<PathBuf>,
}

fn capacity(a: CapacityArgs) -> i32 {
    let loaded = match scenario::load(&a.scenario, &a.set) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INPUT;
        }
    };
    let plan = Plan::from_loaded(&loaded);
    let opts = (|| -> Result<crate::capacity::Options, String> {
        let workload = match &a.workload {
            Some(w) => w.clone(),
            None => plan
                .workloads
                .iter()
                .find(|w| matches!(w.load, crate::plan::Load::Open { .. }))
                .map(|w| w.name.clone())
                .ok_or("the scenario has no open-model workload to search")?,
        };
        let names: Vec<String> = plan.workloads.iter().map(|w| w.name.clone()).collect();
        let mut slos = Vec::new();
        for text in &a.slos {
            let at = text
                .find(['<', '>'])
                .ok_or_else(|| format!("--slo {text:?}: expected e.g. \"e2e.persisted.p99 < 50ms\""))?;
            let (key, cond) = (text[..at].trim(), text[at..].trim());
            let key = if names.iter().any(|n| key.starts_with(&format!("{n}."))) {
                key.to_string()
            } else {
                format!("{workload}.{key}")
            };
            slos.push(
                crate::thresholds::parse(&key, &crate::thresholds::Spec::Condition(cond.into()), &names)
                    .map_err(|e| format!("--slo {text:?}: {e}"))?,
            );
        }
        let dur = |s: &str, flag: &str| {
            s.parse::<scenario::Dur>()
                .map(|d| d.as_nanos())
                .map_err(|e| format!("--{flag} {s:?}: {e}"))
        };
        if !(a.start > 0.0 && a.max >= a.start) {
            return Err(format!(
                "--start {} and --max {}: need 0 < start <= max",
                a.start, a.max
            ));
        }
        let out = a.out.clone().unwrap_or_else(|| {
            let now = crate::model::GoTime::from_unix_nanos(crate::clock::Clock::start().wall_origin_ns()).to_string();
            let stamp: String = now
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == 'T')
                .take(15)
                .collect();
            PathBuf::from("reports")
                .join(&plan.name)
                .join(format!("{stamp}Z-capacity"))
        });
        Ok(crate::capacity::Options {
            workload,
            slos,
            precision: percent(&a.precision)
                .map_err(|e| format!("--precision: {e}"))?
                .max(0.001),
            start: a.start,
            max: a.max,
            step_ns: dur(&a.step, "step")?,
            warmup_ns: dur(&a.step_warmup, "step-warmup")?,
            repeat: a.repeat,
            error_limit: percent(&a.errors).map_err(|e| format!("--errors: {e}"))?,
            out,
        })
    })();
    let opts = match opts {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INPUT;
        }
    };
    if let Err(e) = std::fs::create_dir_all(&opts.out) {
        eprintln!("error: cannot create {}: {e}", opts.out.display());
        return EXIT_RUNTIME;
    }
    let result = crate::capacity::search(&loaded.text, &a.set, &opts, |s| {
        eprintln!(
            "{:>7} {:>10.0}/s  achieved {:>10.1}/s  p99 {:>10}  {}",
            s.phase,
            s.rate,
            s.achieved_rate,
            report::text::ns((s.p99_ms * 1e6) as u64),
            if s.passed {
                "pass".to_string()
            } else {
                format!("FAIL: {}", s.reasons.join("; "))
            }
        );
    });
    match result {
        Ok(c) => {
            if let Err(e) = crate::capacity::write(&opts.out, &c) {
                eprintln!("error: {e}");
                return EXIT_RUNTIME;
            }
            print!("{}", crate::capacity::report::markdown(&c));
            println!("report: {}", opts.out.display());
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_RUNTIME
        }
    }
}

fn audit(dir: PathBuf) -> i32 {
    match crate::audit::rerun::rerun(&dir) {
        Ok(a) => {
            print!("{}", report::text::audit(&a));
            if a.passed() {
                EXIT_OK
            } else {
                EXIT_CHECKS
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_INPUT
        }
    }
}

fn validate(path: PathBuf, set: Vec<String>) -> i32 {
    let plan = match load(&path, &set) {
        Ok(p) => p,
        Err(code) => return code,
    };
    match serde_json::to_string_pretty(&plan) {
        Ok(json) => {
            println!("{json}");
            eprintln!("{}: ok", path.display());
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_RUNTIME
        }
    }
}

fn gen(count: u64, seed: u64, kind: Kind, scenario_path: Option<PathBuf>) -> i32 {
    let data = match scenario_path {
        Some(p) => match load(&p, &[]) {
            Ok(plan) => plan.data,
            Err(code) => return code,
        },
        None => scenario::Data::default(),
    };
    let g = Generator::new(
        &data,
        seed,
        0,
        crate::engine::schedule::splitmix(seed) & 0xffff_ffff_ffff,
    );
    let clock = crate::clock::Clock::start();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut buf = Vec::with_capacity(4096);
    let mut e = crate::model::Event::default();
    for i in 0..count {
        buf.clear();
        let t = i * 1_000_000;
        match kind {
            Kind::Event => {
                g.fill_event(i, t, clock.wall_at(t), &mut e);
                e.encode_into(&mut buf);
            }
            Kind::Query => g.query(i, |_| 1 + (i % 7) as i64).encode_into(&mut buf),
            Kind::Response => {
                g.fill_event(i, t, clock.wall_at(t), &mut e);
                let input = e.to_json();
                KafkaResponse::encode_parts(&mut buf, e.aggregate_id, &e.correlation_id, Some(&input), "", None);
            }
            Kind::Meta => {
                let q = g.query(i, |_| 0);
                EventMeta {
                    aggregate_version: (i % 100) as i64,
                    aggregate_id: q.aggregate_id,
                    partition_key: 0,
                }
                .encode_into(&mut buf);
            }
        }
        buf.push(b'\n');
        if out.write_all(&buf).is_err() {
            // A closed pipe (e.g. `| head`) is a normal end.
            return EXIT_OK;
        }
    }
    if out.flush().is_err() {
        return EXIT_OK;
    }
    EXIT_OK
}
