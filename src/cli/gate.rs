//! `eventbench gate`: the CI recipe as one command. Given the base build (its binary, or
//! a git ref built in a worktree) and a scenario, it checks the base can read the
//! scenario, makes one throwaway run, then the pairs (base first in odd pairs, the
//! change first in even ones, so drift and a second-run effect cancel), compares them
//! paired, writes every output CI tools read, and exits with the gate's code. The runs
//! are processes of the two binaries, as the hand-written loop made them, so the
//! verdict is the one `compare --paired` gives on the same directories.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::tools::{gate_outcome, JudgeArgs};
use super::{CliError, Outcome, ScenarioArgs};
use crate::compare::{Comparison, Run, Side};

#[derive(clap::Args)]
pub struct GateArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// The base build: the path of its eventbench binary, or a git ref (branch, tag,
    /// commit) built with `cargo build --release --locked` in a worktree under OUT.
    #[arg(long, value_name = "BINARY|REF")]
    base: String,
    /// The change's build (default: this binary): its binary, or a git ref built like
    /// the base's (in OUT/change-src).
    #[arg(long, value_name = "BINARY|REF")]
    change: Option<String>,
    /// A --set for the base's runs only (repeatable).
    #[arg(long = "base-set", value_name = "KEY=VALUE")]
    base_set: Vec<String>,
    /// A --set for the change's runs only (repeatable).
    #[arg(long = "change-set", value_name = "KEY=VALUE")]
    change_set: Vec<String>,
    /// Pairs of runs (the guide's figures are for ten).
    #[arg(long, default_value_t = 10)]
    pairs: usize,
    /// Where the runs and the outputs go.
    #[arg(long, default_value = "ci-run")]
    pub out: PathBuf,
    /// No throwaway run first (on fresh services the first run creates topics, groups
    /// and keyspaces, and is slow for it).
    #[arg(long)]
    no_throwaway: bool,
    /// A file the Markdown verdict is appended to (default: $GITHUB_STEP_SUMMARY when set).
    #[arg(long, value_name = "FILE")]
    summary: Option<PathBuf>,
    #[command(flatten)]
    judge: JudgeArgs,
}

/// Why the gate could not judge: never a pass.
fn unusable(why: String) -> CliError {
    CliError::Gate(why)
}

pub fn gate(a: GateArgs) -> Result<Outcome, CliError> {
    let (c, outcome) = judge(&a)?;
    print!("{}", crate::compare::text(&c));
    Ok(outcome)
}

/// Makes the pairs, compares them and writes the outputs: the comparison and the gate's
/// outcome.
pub(super) fn judge(a: &GateArgs) -> Result<(Comparison, Outcome), CliError> {
    if a.pairs < 2 {
        return Err(CliError::Input(format!("--pairs {}: two or more", a.pairs)));
    }
    let opts = a.judge.options(false, true)?;
    std::fs::create_dir_all(&a.out)
        .map_err(|e| CliError::Runtime(format!("cannot create {}: {e}", a.out.display())))?;
    let change = match &a.change {
        Some(spec) => build_of(spec, &a.out.join("change-src"))?,
        None => std::env::current_exe().map_err(|e| CliError::Runtime(format!("this binary's path: {e}")))?,
    };
    let base = build_of(&a.base, &a.out.join("base-src"))?;
    let sides = [
        Build::new("base", base, &a.scenario, &a.base_set),
        Build::new("change", change, &a.scenario, &a.change_set),
    ];
    for b in &sides {
        b.reads_scenario()?;
    }
    if !a.no_throwaway {
        eprintln!("gate: one throwaway run of the change first");
        sides[1].run(&a.out.join("throwaway"));
    }
    let mut made = Vec::new();
    for i in 1..=a.pairs {
        // Base first in odd pairs, the change first in even ones.
        let order = if i % 2 == 1 { [0, 1] } else { [1, 0] };
        let mut pair = [None, None];
        for s in order {
            pair[s] = Some(sides[s].run(&a.out.join(sides[s].name).join(format!("run-{i:02}"))));
        }
        let [Some(b), Some(c)] = pair else {
            unreachable!("both sides ran")
        };
        eprintln!(
            "gate: pair {i}/{}: base exit {}, change exit {}",
            a.pairs, b.code, c.code
        );
        made.push((b, c));
    }
    let pairs = complete_pairs(&made)?;
    let base_runs: Vec<Run> = pairs.iter().map(|(b, _)| b.clone()).collect();
    let change_runs: Vec<Run> = pairs.iter().map(|(_, c)| c.clone()).collect();
    let c = crate::compare::compare(
        &Side::of_runs("baseline", &base_runs),
        &Side::of_runs("candidate", &change_runs),
        &opts,
        None,
    );
    let outcome = verdict(&c, &change_runs, a.judge.fail_on_inconclusive);
    write_outputs(a, &c, outcome)?;
    Ok((c, outcome))
}

/// The gate's outcome: the change's own runs failing their checks (an abort, the audit,
/// a threshold: in the run outcome order) come first, then a regression, then a
/// comparison the host left nothing to judge in.
fn verdict(c: &Comparison, change_runs: &[Run], inconclusive: bool) -> Outcome {
    use crate::report::outcome::RunOutcome;
    let worst = change_runs.iter().map(|r| r.summary.outcome()).min();
    // The change's own failures come first, in the run outcome order; its health is
    // compare's to weigh (a held run is set aside there).
    match worst {
        Some(o @ (RunOutcome::Aborted | RunOutcome::AuditFailed | RunOutcome::ThresholdsFailed)) => {
            super::outcome_of(o)
        }
        _ => gate_outcome(c, inconclusive),
    }
}

/// One side's build and how its runs are made.
struct Build<'a> {
    name: &'static str,
    binary: PathBuf,
    scenario: &'a ScenarioArgs,
    extra: &'a [String],
}

/// A run of one side: its exit code and, when it wrote one, its summary.
struct Made {
    code: i32,
    run: Option<Run>,
}

impl<'a> Build<'a> {
    fn new(name: &'static str, binary: PathBuf, scenario: &'a ScenarioArgs, extra: &'a [String]) -> Build<'a> {
        Build {
            name,
            binary,
            scenario,
            extra,
        }
    }

    fn command(&self, verb: &str) -> Command {
        let mut c = Command::new(&self.binary);
        c.arg(verb).arg(&self.scenario.scenario);
        for s in self.scenario.set.iter().chain(self.extra) {
            c.arg("--set").arg(s);
        }
        c
    }

    /// `validate` with this side's overrides: a base that cannot read the scenario (a
    /// key it does not know yet) is named, not run ten times.
    fn reads_scenario(&self) -> Result<(), CliError> {
        let out = self.command("validate").output().map_err(|e| {
            unusable(format!(
                "the {} build {} does not start: {e}",
                self.name,
                self.binary.display()
            ))
        })?;
        if out.status.success() {
            return Ok(());
        }
        let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
        let msg = format!(
            "the {} build ({}) cannot read {}: {why}",
            self.name,
            self.binary.display(),
            self.scenario.scenario.display()
        );
        // The change's own scenario error is the user's to fix; the base's is the gate's.
        Err(if self.name == "change" {
            CliError::Input(msg)
        } else {
            unusable(msg)
        })
    }

    /// One run into `out`, its text report and messages into `out`.log.
    fn run(&self, out: &Path) -> Made {
        let _ = std::fs::remove_dir_all(out);
        if let Some(parent) = out.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let mut c = self.command("run");
        c.arg("--quiet").arg("--out").arg(out);
        if let Ok(log) = std::fs::File::create(out.with_extension("log")) {
            if let Ok(err) = log.try_clone() {
                c.stdout(log).stderr(err);
            }
        }
        let code = match c.status() {
            Ok(s) => s.code().unwrap_or(crate::cli::EXIT_RUNTIME),
            Err(e) => {
                eprintln!("gate: the {} build did not start: {e}", self.name);
                crate::cli::EXIT_RUNTIME
            }
        };
        let run = Run::open_all(out).ok().and_then(|mut r| r.pop());
        Made { code, run }
    }
}

/// The pairs both of whose runs wrote a summary; fewer than two is no comparison.
fn complete_pairs(made: &[(Made, Made)]) -> Result<Vec<(Run, Run)>, CliError> {
    let pairs: Vec<(Run, Run)> = made
        .iter()
        .filter_map(|(b, c)| Some((b.run.clone()?, c.run.clone()?)))
        .collect();
    let count = |f: fn(&(Made, Made)) -> &Made| made.iter().filter(|p| f(p).run.is_some()).count();
    let (base, change) = (count(|p| &p.0), count(|p| &p.1));
    if pairs.len() < 2 {
        return Err(unusable(format!(
            "only {} complete pairs (base runs with a summary: {base} of {n}, change runs: {change} of {n}); the gate needs two or more",
            pairs.len(),
            n = made.len()
        )));
    }
    if pairs.len() < made.len() {
        eprintln!(
            "gate: {} of {} pairs complete (base runs {base}, change runs {change}); judging those",
            pairs.len(),
            made.len()
        );
    }
    Ok(pairs)
}

/// A build's binary: the path given, or the ref built in the worktree `src`.
fn build_of(base: &str, src: &Path) -> Result<PathBuf, CliError> {
    let p = Path::new(base);
    if p.is_file() {
        return Ok(p.to_path_buf());
    }
    let git = |args: &[&str]| Command::new("git").args(args).output();
    let commit = match git(&["rev-parse", "--verify", "--quiet", &format!("{base}^{{commit}}")]) {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        _ => {
            return Err(CliError::Input(format!(
                "{base:?}: neither a file nor a git ref here (fetch it first: git fetch origin {base})"
            )))
        }
    };
    let src = std::path::absolute(src).map_err(|e| CliError::Runtime(format!("{}: {e}", src.display())))?;
    let src_s = src.to_string_lossy().to_string();
    let _ = git(&["worktree", "remove", "--force", &src_s]);
    let added = git(&["worktree", "add", "--detach", &src_s, &commit])
        .map_err(|e| unusable(format!("git worktree add: {e}")))?;
    if !added.status.success() {
        return Err(unusable(format!(
            "git worktree add {src_s} {commit}: {}",
            String::from_utf8_lossy(&added.stderr).trim()
        )));
    }
    eprintln!("gate: building {base} ({commit}) in {src_s}");
    let built = Command::new("cargo")
        .args(["build", "--release", "--locked", "--manifest-path"])
        .arg(src.join("Cargo.toml"))
        .status()
        .map_err(|e| unusable(format!("cargo build of {base}: {e}")))?;
    if !built.success() {
        return Err(unusable(format!(
            "{base} ({commit}) does not build (cargo build --release --locked in {src_s})"
        )));
    }
    Ok(src.join("target/release/eventbench"))
}

/// gate.md (also appended to the job summary), gate.json, bmf.json,
/// benchmark-action.json and junit.xml in OUT.
fn write_outputs(a: &GateArgs, c: &Comparison, outcome: Outcome) -> Result<(), CliError> {
    let md = format!("{}\n{}", headline(a, outcome), crate::compare::markdown(c));
    let json = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default() + "\n";
    let comparison = serde_json::to_value(c).map_err(|e| CliError::Runtime(e.to_string()))?;
    let files = [
        ("gate.md", md.clone()),
        ("gate.json", json(&comparison)),
        ("bmf.json", json(&crate::compare::export::bmf(c))),
        (
            "benchmark-action.json",
            json(&crate::compare::export::benchmark_action(c)),
        ),
        ("junit.xml", crate::compare::export::junit(c)),
    ];
    for (name, text) in files {
        let path = a.out.join(name);
        std::fs::write(&path, text).map_err(|e| CliError::Runtime(format!("cannot write {}: {e}", path.display())))?;
    }
    let summary = a
        .summary
        .clone()
        .or_else(|| std::env::var_os("GITHUB_STEP_SUMMARY").map(PathBuf::from));
    if let Some(path) = summary {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| CliError::Runtime(format!("cannot open {}: {e}", path.display())))?;
        writeln!(f, "{md}").map_err(|e| CliError::Runtime(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(())
}

fn headline(a: &GateArgs, outcome: Outcome) -> String {
    let verdict = match outcome {
        Outcome::Ok => "passed".to_string(),
        Outcome::Regression => "FAILED: a regression".to_string(),
        Outcome::HostLimited => "NOT JUDGED: the host held every change run; run the gate again".to_string(),
        other => format!("FAILED: the change's own runs ({other:?})"),
    };
    format!(
        "# eventbench gate: {verdict}\n\n`{}` · base `{}` · {} pairs, alternating which runs first\n",
        a.scenario.scenario.display(),
        a.base,
        a.pairs
    )
}
