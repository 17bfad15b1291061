//! `eventbench gate`: the recipe as one command. An A/A gate passes and a slower store
//! fails it, each with the verdict `compare --paired` gives by hand on the same runs;
//! its outputs have the shapes their tools read; the composite action's gate step runs
//! as a script with the job summary set to a file; a base that cannot be judged is a
//! distinct exit, never a pass.

mod common;

use std::path::Path;

use common::{bin, eventbench, root};

const SCENARIO: &str = "scenarios/ci-regression.toml";
/// The change's store five times slower (median 1 ms against 200 us): e2e p50 about +80%.
const SLOWER_STORE: &str = r#"target.memory_store.service_time={ dist = "lognormal", median = "1ms", p99 = "5ms" }"#;

fn scenario() -> String {
    root().join(SCENARIO).display().to_string()
}

fn gate(out: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let (scenario, base, out) = (scenario(), bin().display().to_string(), out.display().to_string());
    let mut args = vec!["gate", &scenario, "--base", &base, "--out", &out, "--no-throwaway"];
    args.extend_from_slice(extra);
    eventbench(&args)
}

/// compare --paired on the gate's own run directories, as the hand-written loop did.
fn by_hand(out: &Path) -> (Option<i32>, serde_json::Value) {
    let (base, change) = (out.join("base"), out.join("change"));
    let (code, stdout, stderr) = eventbench(&[
        "compare",
        "--paired",
        &base.display().to_string(),
        &change.display().to_string(),
        "--fail-on-regression",
        "--format",
        "json",
    ]);
    (
        code,
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}")),
    )
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&common::read(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn an_a_a_gate_passes_and_a_slower_store_fails_with_the_verdicts_compare_gives_by_hand() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (aa, slow) = (dir.path().join("aa"), dir.path().join("slow"));
    let summary = dir.path().join("step-summary.md");
    let summary_s = summary.display().to_string();

    let (code, _, err) = gate(&aa, &["--pairs", "3", "--summary", &summary_s]);
    assert_eq!(code, Some(0), "A/A gate: {err}");
    let (hand_code, hand) = by_hand(&aa);
    let gated = json(&aa.join("gate.json"));
    assert_eq!(hand_code, Some(0));
    for k in ["verdict", "regressions", "inconclusive", "rows"] {
        assert_eq!(gated[k], hand[k], "A/A: the gate's {k} is compare's");
    }
    assert!(err.contains("pair 2/3") && err.contains("pair 3/3"), "{err}");

    let (code, _, err) = gate(
        &slow,
        &["--pairs", "3", "--change-set", SLOWER_STORE, "--summary", &summary_s],
    );
    assert_eq!(code, Some(6), "a 5x slower store fails the gate: {err}");
    let (hand_code, hand) = by_hand(&slow);
    let gated = json(&slow.join("gate.json"));
    assert_eq!(hand_code, Some(6));
    for k in ["verdict", "regressions", "inconclusive", "rows"] {
        assert_eq!(gated[k], hand[k], "shift: the gate's {k} is compare's");
    }
    let e2e_p50 = gated["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["stage"] == "e2e.persisted" && r["stat"] == "p50")
        .expect("e2e.persisted p50 row");
    assert_eq!(e2e_p50["gate"], "regression", "{e2e_p50}");

    // The job summary holds both gates' Markdown, headline and table.
    let md = common::read(&summary);
    assert!(md.contains("# eventbench gate: passed"), "{md}");
    assert!(md.contains("# eventbench gate: FAILED: a regression"), "{md}");
    assert!(md.contains("| workload | stage | stat | baseline | candidate | change | interval | verdict |"));
    // JUnit: the gated rows, the regression a failure.
    let junit = common::read(&slow.join("junit.xml"));
    assert!(junit.contains("<testsuite name=\"eventbench gate\""), "{junit}");
    assert!(
        junit.contains("name=\"producers.e2e.persisted p50\"") && junit.contains("<failure message="),
        "{junit}"
    );
    // Bencher Metric Format: benchmark -> measure -> value, lower_value, upper_value.
    let bmf = json(&slow.join("bmf.json"));
    let p50 = &bmf["producers.e2e.persisted"]["p50"];
    let (v, lo, hi) = (
        p50["value"].as_f64(),
        p50["lower_value"].as_f64(),
        p50["upper_value"].as_f64(),
    );
    assert!(v.is_some() && lo.is_some() && hi.is_some(), "{p50}");
    assert!(lo <= v && v <= hi, "{p50}");
    // github-action-benchmark's customSmallerIsBetter: name, unit, value, range.
    let ba = json(&slow.join("benchmark-action.json"));
    let entry = ba
        .as_array()
        .expect("a list")
        .iter()
        .find(|e| e["name"] == "producers.e2e.persisted p50")
        .expect("the e2e p50 entry");
    assert_eq!(entry["unit"], "ns");
    assert!(entry["value"].as_f64().is_some() && entry["range"].as_str().is_some_and(|r| r.starts_with('±')));

    the_guide_s_blocks_fit(&slow);
}

/// The guide's gate page, block by block: each `eventbench gate` line is one the gate
/// accepts, each file a block hands on (`ci-run/...`) is one the gate wrote, and the
/// Bencher block runs as a script (stub `eventbench` and `bencher` on PATH) that uploads
/// bmf.json and still fails the job with the gate's code.
fn the_guide_s_blocks_fit(out: &Path) {
    let page = common::read(&root().join("docs/guide/src/gate.md"));
    let dir = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink(root().join("scenarios"), dir.path().join("scenarios")).expect("symlink");
    std::os::unix::fs::symlink(out, dir.path().join("ci-run")).expect("symlink");

    let mut lines = 0;
    for line in page.lines().filter(|l| l.contains("eventbench gate ")) {
        let from = line.find("gate ").expect("gate");
        let cmd = line[from..]
            .split(" ||")
            .next()
            .expect("cmd")
            .split(" #")
            .next()
            .expect("cmd");
        let args: Vec<&str> = cmd.split_whitespace().map(|a| a.trim_matches('"')).collect();
        // Run where --base names neither a file nor a ref: past the parser, before any build.
        let out = std::process::Command::new(bin())
            .args(&args)
            .current_dir(dir.path())
            .output()
            .expect("spawn");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("neither a file nor a git ref"),
            "the guide's {cmd:?}: {err}"
        );
        lines += 1;
    }
    assert!(lines >= 4, "the guide's gate lines: {lines}");

    let mut named = 0;
    let uncommented = page.lines().map(|l| l.split(" #").next().unwrap_or(l));
    for line in uncommented {
        for (i, _) in line.match_indices("ci-run/") {
            let name: String = line[i..]
                .chars()
                .take_while(|c| !c.is_whitespace() && !"\"'`,}]):".contains(*c))
                .collect();
            assert!(
                dir.path().join(&name).exists(),
                "the guide names {name}, which the gate did not write"
            );
            named += 1;
        }
    }
    assert!(named >= 4, "files the guide names: {named}");

    let block = page
        .split("```sh\n")
        .find(|b| b.contains("bencher run"))
        .and_then(|b| b.split("```").next())
        .expect("the Bencher block");
    let stubs = dir.path().join("bin");
    std::fs::create_dir(&stubs).expect("mkdir");
    for (name, body) in [
        ("eventbench", "exit 6\n"),
        ("bencher", "printf '%s ' \"$@\" > bencher.args\nexit 0\n"),
    ] {
        let p = stubs.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}")).expect("stub");
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    }
    let path = format!("{}:{}", stubs.display(), std::env::var("PATH").unwrap_or_default());
    let status = std::process::Command::new("bash")
        .args(["-c", block])
        .current_dir(dir.path())
        .env("PATH", path)
        .env("BRANCH", "feature")
        .status()
        .expect("bash");
    assert_eq!(status.code(), Some(6), "the Bencher block keeps the gate's exit");
    let uploaded = common::read(&dir.path().join("bencher.args"));
    assert!(uploaded.contains("--adapter json --file ci-run/bmf.json"), "{uploaded}");
}

#[test]
fn the_action_s_gate_step_runs_as_a_script_and_fills_the_job_summary() {
    let action = common::read(&root().join("action.yml"));
    // The gate step's `run: |` block, as GitHub hands it to bash.
    let from = action.find("- name: gate").expect("a gate step");
    let step = &action[from..];
    let run_at = step.find("run: |").expect("its run block") + "run: |".len();
    let indent = "        ";
    let script: String = step[run_at..]
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with(indent) || l.trim().is_empty())
        .map(|l| format!("{}\n", l.strip_prefix(indent).unwrap_or(l)))
        .collect();
    assert!(script.contains("gate \"$SCENARIO\""), "{script}");
    let dir = tempfile::tempdir().expect("tempdir");
    let summary = dir.path().join("summary.md");
    let status = std::process::Command::new("bash")
        .arg("-e")
        .arg("-c")
        .arg(&script)
        .current_dir(root())
        .env("EB", bin())
        .env("SCENARIO", SCENARIO)
        .env("BASE", bin())
        .env("PAIRS", "2")
        .env("OUT", dir.path().join("ci-run"))
        .env("ARGS", "--no-throwaway")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .status()
        .expect("bash");
    assert!(status.success(), "the action's gate step failed: {status}");
    let md = common::read(&summary);
    assert!(
        md.contains("| workload | stage | stat |") && md.contains("| producers | e2e.persisted | p50 |"),
        "{md}"
    );
}

#[test]
fn a_base_that_cannot_be_judged_is_its_own_exit_never_a_pass() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A base too old for the scenario (here: told a rate it refuses).
    let (code, _, err) = gate(
        &dir.path().join("a"),
        &["--pairs", "2", "--base-set", "workload.producers.rate=-1"],
    );
    assert_eq!(code, Some(10), "{err}");
    assert!(err.contains("the base build") && err.contains("cannot read"), "{err}");
    // A base that reads the scenario but never writes a run.
    let fake = dir.path().join("fake-eventbench");
    std::fs::write(&fake, "#!/bin/sh\n[ \"$1\" = validate ] && exit 0\nexit 1\n").expect("write");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let (scenario, out) = (scenario(), dir.path().join("b").display().to_string());
    let (code, _, err) = eventbench(&[
        "gate",
        &scenario,
        "--base",
        &fake.display().to_string(),
        "--out",
        &out,
        "--pairs",
        "2",
        "--no-throwaway",
    ]);
    assert_eq!(code, Some(10), "{err}");
    assert!(err.contains("base runs with a summary: 0 of 2"), "{err}");
    // Neither a file nor a git ref: the user's input.
    let (code, _, err) = eventbench(&["gate", &scenario, "--base", "no-such-ref-or-file", "--out", &out]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("neither a file nor a git ref"), "{err}");
}

#[test]
fn a_base_ref_that_does_not_build_is_exit_10() {
    use std::process::Command;
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("src")).expect("mkdir");
    std::fs::write(
        repo.join("Cargo.toml"),
        "[package]\nname = \"broken\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .expect("write");
    std::fs::write(repo.join("src/main.rs"), "fn main() { this is not rust }\n").expect("write");
    let run = |cmd: &str, args: &[&str]| {
        let ok = Command::new(cmd)
            .args(args)
            .current_dir(&repo)
            .status()
            .expect(cmd)
            .success();
        assert!(ok, "{cmd} {args:?}");
    };
    run("cargo", &["generate-lockfile", "--offline"]);
    run("git", &["init", "-q"]);
    run("git", &["add", "."]);
    run(
        "git",
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "commit",
            "-qm",
            "broken",
        ],
    );
    let out = Command::new(bin())
        .args([
            "gate",
            &scenario(),
            "--base",
            "HEAD",
            "--pairs",
            "2",
            "--no-throwaway",
            "--out",
        ])
        .arg(dir.path().join("out"))
        .current_dir(&repo)
        .output()
        .expect("gate");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(10), "{err}");
    assert!(err.contains("does not build"), "{err}");
}
