//! The tools that work on runs: `audit`, `compare`, `merge`, `report` and `capacity`.

use std::path::PathBuf;

use clap::ValueEnum;

use super::{outcome, CliError, Outcome, ScenarioArgs};
use crate::report::RunDir;
use crate::units::percent;

#[derive(clap::Args)]
pub struct AuditArgs {
    run_dir: PathBuf,
}

#[derive(clap::Args)]
pub struct ReportArgs {
    run_dir: PathBuf,
}

#[derive(clap::Args)]
pub struct MergeArgs {
    #[arg(required = true, num_args = 2..)]
    run_dirs: Vec<PathBuf>,
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::Args)]
pub struct CompareArgs {
    /// BASELINE CANDIDATE, or BASELINE... -- CANDIDATE... (several runs per side).
    #[arg(value_name = "RUN")]
    runs: Vec<PathBuf>,
    #[arg(last = true, value_name = "CANDIDATE")]
    after: Vec<PathBuf>,
    /// A baseline run (repeatable), instead of positional runs.
    #[arg(long = "baseline", value_name = "RUN")]
    baselines: Vec<PathBuf>,
    /// A candidate run (repeatable).
    #[arg(long = "candidate", value_name = "RUN")]
    candidates: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Exit 6 when a row is a regression: slower, or beyond its --limit with confidence;
    /// exit 9 when every candidate run was held by the host (nothing to judge).
    #[arg(long)]
    fail_on_regression: bool,
    #[command(flatten)]
    judge: JudgeArgs,
    /// A run history (`run --history`, `history add`): its last runs of the candidate's
    /// scenario are the noise model, and the baseline when no baseline run is given.
    #[arg(long, value_name = "DIR")]
    history: Option<PathBuf>,
    /// Judge each candidate run alone too: a row is slower/faster, and the gate fails,
    /// only when every candidate run on its own says so (give 2 with `run --repeat 2`).
    #[arg(long)]
    each_candidate: bool,
    /// Baseline run i and candidate run i were made one after the other (A B B A A B
    /// ..., each side first in half of the pairs; the recipe where both builds run in
    /// one job): judge each row on the pairs' differences, so a host that drifts
    /// between pairs cancels. Needs as many candidate as baseline runs, two or more
    /// (the guide's CI jobs make ten).
    #[arg(long, conflicts_with_all = ["history", "each_candidate"])]
    paired: bool,
    /// How many of the history's last healthy runs to use.
    #[arg(long, value_name = "K", default_value_t = 10)]
    last: usize,
}

impl CompareArgs {
    /// The two sides: `A B`, `A... -- B...`, or `--baseline A... --candidate B...`.
    fn sides(&self) -> Result<(Vec<PathBuf>, Vec<PathBuf>), CliError> {
        let flags = !self.baselines.is_empty() || !self.candidates.is_empty();
        // With a history, the candidates alone: the history is the baseline.
        if self.history.is_some() && self.after.is_empty() && self.baselines.is_empty() {
            let cand = if flags {
                self.candidates.clone()
            } else {
                self.runs.clone()
            };
            if !cand.is_empty() && (!flags || self.runs.is_empty()) {
                return Ok((Vec::new(), cand));
            }
        }
        let (base, cand) = match (flags, self.after.is_empty()) {
            (true, true) if self.runs.is_empty() => (self.baselines.clone(), self.candidates.clone()),
            (false, false) => (self.runs.clone(), self.after.clone()),
            (false, true) if self.runs.len() == 2 => (vec![self.runs[0].clone()], vec![self.runs[1].clone()]),
            _ => {
                return Err(CliError::Input(
                    "compare takes BASELINE CANDIDATE, BASELINE... -- CANDIDATE..., --baseline RUN... --candidate RUN..., or --history DIR CANDIDATE..."
                        .into(),
                ))
            }
        };
        if base.is_empty() || cand.is_empty() {
            return Err(CliError::Input(
                "compare needs at least one baseline and one candidate run".into(),
            ));
        }
        Ok((base, cand))
    }
}

/// How rows are judged: compare's and the gate's flags.
#[derive(clap::Args, Debug, Clone)]
pub struct JudgeArgs {
    /// A change smaller than this is not material (x1.5 at p99, x2 at p99.9).
    #[arg(long, default_value = "5%")]
    noise: String,
    /// Confidence of the intervals, percent (family-wise over the gated rows).
    #[arg(long, default_value_t = 95.0)]
    confidence: f64,
    /// Exit 6 also when a row could be a regression (its interval reaches past the floor or limit).
    #[arg(long)]
    pub fail_on_inconclusive: bool,
    /// Allowed change of one row, e.g. e2e.persisted.p99=20%, producers.produce.p50=5%, throughput.ok/s=5%.
    #[arg(long = "limit", value_name = "STAGE.STAT=PCT")]
    limits: Vec<String>,
    /// A row the gate judges (repeatable: STAGE.STAT or WORKLOAD.STAGE.STAT); default:
    /// each workload's headline stage (e2e.persisted, else e2e, else its main stage) at
    /// p50 and p99, and its error share.
    #[arg(long = "gate", value_name = "STAGE.STAT")]
    gate: Vec<String>,
}

impl JudgeArgs {
    /// The comparison's options; `paired` when the runs were made in pairs.
    pub fn options(&self, each_candidate: bool, paired: bool) -> Result<crate::compare::Options, CliError> {
        let mut limits = std::collections::BTreeMap::new();
        for l in &self.limits {
            let (k, v) = l
                .split_once('=')
                .ok_or_else(|| CliError::Input(format!("--limit {l:?}: expected STAGE.STAT=PCT")))?;
            let v = percent(v).map_err(|e| CliError::Input(format!("--limit {l:?}: {e}")))?;
            limits.insert(k.trim().to_string(), v);
        }
        if !(50.0..100.0).contains(&self.confidence) {
            return Err(CliError::Input(format!(
                "--confidence {}: expected 50..100",
                self.confidence
            )));
        }
        Ok(crate::compare::Options {
            noise: percent(&self.noise).map_err(|e| CliError::Input(format!("--noise: {e}")))?,
            confidence: self.confidence / 100.0,
            limits,
            gate: self.gate.clone(),
            each_candidate,
            paired,
        })
    }
}

/// A gate's outcome from its comparison: a regression (or, with `inconclusive`, a row
/// that could be one) fails; a comparison whose every candidate run the host held
/// judged nothing and must not pass.
pub fn gate_outcome(c: &crate::compare::Comparison, inconclusive: bool) -> Outcome {
    if c.regressions > 0 || (inconclusive && c.inconclusive > 0) {
        Outcome::Regression
    } else if c.candidates_held {
        // Passing here would pass a build nobody measured: run it again.
        eprintln!(
            "eventbench: every candidate run was held by the host: the gate cannot judge the build; run it again"
        );
        Outcome::HostLimited
    } else {
        Outcome::Ok
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Markdown,
    Json,
    /// The Bencher Metric Format (`bencher run --adapter json`).
    Bmf,
    /// github-action-benchmark's `customSmallerIsBetter`.
    BenchmarkAction,
}

#[derive(clap::Args)]
pub struct CapacityArgs {
    #[command(flatten)]
    scenario: ScenarioArgs,
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
    /// Runs of every decided rate; the majority decides (odd: 1, 3, 5...).
    #[arg(long, default_value_t = 1)]
    votes: usize,
    /// Extra runs of each boundary rate after the search; they count with its other runs,
    /// and a boundary they contradict (a tie broken by one more run) reopens the search.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Errors per operation a passing step may have.
    #[arg(long, default_value = "0.1%")]
    errors: String,
    /// A sizing run: the search at each size of one scenario key (KEY=V1,V2,...), the
    /// Universal Scalability Law fitted to the capacities, and plan.json/.md/.html.
    #[arg(long)]
    scale: Option<String>,
    /// With --scale: a command run before each size to resize the cluster (`{size}` is
    /// replaced, EVENTBENCH_SIZE is set); a failure stops the run with its exit.
    #[arg(long, requires = "scale")]
    resize: Option<String>,
    /// With --scale: the rate the plan sizes for, operations/s.
    #[arg(long, requires = "scale")]
    target_rate: Option<f64>,
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn audit(a: AuditArgs) -> Result<Outcome, CliError> {
    use crate::reaudit::ReauditError;
    let dir = RunDir::open(&a.run_dir)?;
    let report = crate::reaudit::reaudit(&dir).map_err(|e| match e {
        ReauditError::Dir(d) => CliError::from(d),
        ReauditError::Unsupported(why) => CliError::Input(why),
        other => CliError::Runtime(other.to_string()),
    })?;
    print!("{}", crate::report::text::audit(&report));
    Ok(if report.passed() {
        Outcome::Ok
    } else {
        Outcome::AuditFailed
    })
}

pub fn report(a: ReportArgs) -> Result<Outcome, CliError> {
    let dir = RunDir::open(&a.run_dir)?;
    let summary = crate::report::journal::summary_of(&dir)?;
    if let Some(why) = &summary.incomplete {
        // A run that died before its summary: rebuilt, and every view written.
        dir.write_all(&summary)?;
        eprintln!("incomplete run: {why}");
        print!("{}", crate::report::text::render(&summary));
    } else {
        dir.write_report_html(&summary)?;
    }
    println!("{}", dir.path().join("report.html").display());
    Ok(Outcome::Ok)
}

pub fn merge(a: MergeArgs) -> Result<Outcome, CliError> {
    let out = RunDir::create(&a.out)?;
    let summary = crate::merge::merge(&a.run_dirs, &out).map_err(|e| {
        if e.is_input() {
            CliError::Input(e.to_string())
        } else {
            CliError::Runtime(e.to_string())
        }
    })?;
    print!("{}", crate::report::text::render(&summary));
    println!("report: {}", out.path().display());
    Ok(outcome(&summary))
}

pub fn compare(a: CompareArgs) -> Result<Outcome, CliError> {
    let opts = a.judge.options(a.each_candidate, a.paired)?;
    let (base, cand) = a.sides()?;
    let open = |paths: &[PathBuf]| -> Result<Vec<crate::compare::Run>, CliError> {
        let mut runs = Vec::new();
        for p in paths {
            runs.extend(crate::compare::Run::open_all(p)?);
        }
        Ok(runs)
    };
    let (base, cand) = (open(&base)?, open(&cand)?);
    if a.paired && (base.len() != cand.len() || base.len() < 2) {
        return Err(CliError::Input(format!(
            "--paired: {} baseline and {} candidate runs; pairs need as many of each, two or more",
            base.len(),
            cand.len()
        )));
    }
    let mut base_side = crate::compare::Side::of_runs("baseline", &base);
    let cand_side = crate::compare::Side::of_runs("candidate", &cand);
    let model = match &a.history {
        None => None,
        Some(dir) => {
            let h = crate::history::History::open(dir).map_err(|e| {
                if e.is_input() {
                    CliError::Input(e.to_string())
                } else {
                    CliError::Runtime(e.to_string())
                }
            })?;
            let scenario = cand_side.scenarios.iter().next().cloned().unwrap_or_default();
            let last = h.last(&scenario, a.last.max(1));
            if base.is_empty() {
                if last.is_empty() {
                    return Err(CliError::Input(format!(
                        "{}: no healthy run of scenario {scenario:?} to compare with (the first runs on the main branch make one: run --history)",
                        dir.join(crate::history::FILE).display()
                    )));
                }
                base_side = crate::compare::Side {
                    names: last.iter().map(|e| format!("{} ({})", e.run, e.label)).collect(),
                    runs: last.iter().map(|e| e.values.clone()).collect(),
                    scenarios: last.iter().map(|e| e.scenario.clone()).collect(),
                    notes: Vec::new(),
                };
            }
            Some(crate::compare::NoiseModel {
                source: format!("the history {}", dir.display()),
                runs: last.iter().map(|e| e.values.clone()).collect(),
            })
        }
    };
    // A history that is the baseline is already in the sides' spread: not twice.
    let model = model.filter(|_| !base.is_empty());
    let c = crate::compare::compare(&base_side, &cand_side, &opts, model.as_ref());
    match a.format {
        Format::Text => print!("{}", crate::compare::text(&c)),
        Format::Markdown => print!("{}", crate::compare::markdown(&c)),
        Format::Json | Format::Bmf | Format::BenchmarkAction => {
            let v = match a.format {
                Format::Bmf => crate::compare::export::bmf(&c),
                Format::BenchmarkAction => crate::compare::export::benchmark_action(&c),
                _ => serde_json::to_value(&c).map_err(|e| CliError::Runtime(e.to_string()))?,
            };
            let j = serde_json::to_string_pretty(&v).map_err(|e| CliError::Runtime(e.to_string()))?;
            println!("{j}");
        }
    }
    if a.fail_on_regression || a.judge.fail_on_inconclusive {
        Ok(gate_outcome(&c, a.judge.fail_on_inconclusive))
    } else {
        Ok(Outcome::Ok)
    }
}

pub fn capacity(a: CapacityArgs) -> Result<Outcome, CliError> {
    let loaded = super::load_scenario(&a.scenario)?;
    let plan = crate::plan::Plan::from_loaded(&loaded);
    let opts = capacity_options(&a, &plan).map_err(CliError::Input)?;
    if let Some(scale) = &a.scale {
        return sizing(&a, &loaded.text, scale, opts);
    }
    let out = RunDir::create(&opts.out)?;
    let result = crate::capacity::search(&loaded.text, &a.scenario.set, &opts, |s| {
        eprintln!(
            "{:>7} {:>10.0}/s  achieved {:>10.1}/s  p99 {:>10}  {}",
            s.phase,
            s.rate,
            s.achieved_rate,
            crate::units::fmt_ns((s.p99_ms * 1e6) as u64),
            s.verdict()
        );
    });
    let c = result.map_err(CliError::Runtime)?;
    crate::capacity::write(&out, &c)?;
    print!("{}", crate::capacity::report::markdown(&c));
    println!("report: {}", out.path().display());
    Ok(Outcome::Ok)
}

/// `capacity --scale`: a search at each size, the fit and the plan.
fn sizing(a: &CapacityArgs, text: &str, scale: &str, capacity: crate::capacity::Options) -> Result<Outcome, CliError> {
    let scale = crate::sizing::Scale::parse(scale).map_err(CliError::Input)?;
    if a.target_rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
        return Err(CliError::Input("--target-rate: expected a positive rate".into()));
    }
    let o = crate::sizing::Options {
        scale,
        resize: a.resize.clone(),
        target_rate: a.target_rate,
        capacity,
    };
    crate::sizing::check(text, &a.scenario.set, &o).map_err(CliError::Input)?;
    let out = RunDir::create(&o.capacity.out)?;
    let plan = crate::sizing::run(text, &a.scenario.set, &o, |size, s| {
        eprintln!(
            "{}={size} {:>7} {:>10.0}/s  achieved {:>10.1}/s  p99 {:>10}  {}",
            o.scale.key,
            s.phase,
            s.rate,
            s.achieved_rate,
            crate::units::fmt_ns((s.p99_ms * 1e6) as u64),
            s.verdict()
        );
    })
    .map_err(|e| match e {
        crate::sizing::Error::Input(e) => CliError::Input(e),
        crate::sizing::Error::Search(e) => CliError::Runtime(e),
    })?;
    crate::sizing::report::write(&out, &plan)?;
    print!("{}", crate::sizing::report::markdown(&plan));
    println!("report: {}", out.path().display());
    Ok(Outcome::Ok)
}

/// The search's settings from the flags, checked against the scenario.
fn capacity_options(a: &CapacityArgs, plan: &crate::plan::Plan) -> Result<crate::capacity::Options, String> {
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
        s.parse::<crate::units::Dur>()
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
        RunDir::default_path(
            &plan.name,
            crate::clock::Clock::start().wall_origin_ns(),
            crate::plan::Shard::WHOLE,
            "-capacity",
        )
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
        votes: if a.votes % 2 == 1 {
            a.votes
        } else {
            return Err(format!(
                "--votes {}: expected an odd number (a majority must exist)",
                a.votes
            ));
        },
        repeat: a.repeat,
        error_limit: percent(&a.errors).map_err(|e| format!("--errors: {e}"))?,
        out,
    })
}
