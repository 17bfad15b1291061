//! Run directories that were cut short, overgrown or corrupted (a disk that filled up, a
//! copy from another machine, a bad artifact download): `report`, `merge`, `compare` and
//! `audit` either read what is sound (a torn last line of a killed run's logs is dropped
//! by design) or refuse with exit 2 naming the file. None panics or hangs.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const RUN: &str = r#"
name = "damaged"
duration = "2s"
warmup = "500ms"

[target]
services = "embedded"

[workload.producers]
kind = "produce"
rate = 200
"#;

/// What a file can suffer.
#[derive(Clone, Copy, Debug)]
enum Damage {
    Empty,
    Half,
    Corrupt,
    Overgrown,
}

fn damage(path: &Path, how: Damage) {
    let mut bytes = std::fs::read(path).expect("read");
    match how {
        Damage::Empty => bytes.clear(),
        Damage::Half => bytes.truncate(bytes.len() / 2),
        Damage::Corrupt => {
            let mid = bytes.len() / 2;
            for b in bytes.iter_mut().skip(mid).take(64) {
                *b = 0xff;
            }
        }
        Damage::Overgrown => bytes.extend(std::iter::repeat_n(b'x', 16 << 20)),
    }
    std::fs::write(path, bytes).expect("write");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).expect("copy");
        }
    }
}

/// Runs the binary with a hang guard; returns (exit code, stderr).
fn eventbench(args: &[&str]) -> (Option<i32>, String) {
    let mut child = std::process::Command::new(common::bin())
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            return (status.code(), err);
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("eventbench {args:?} hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn damaged_run_files_are_refused_by_name_or_read_as_far_as_sound_never_a_panic() {
    let dir = tempfile::tempdir().expect("tmp");
    let (code, out, err, good) = common::run_scenario(dir.path(), "good", RUN, &[]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    let good_s = good.to_str().expect("utf8").to_string();
    let files = [
        "summary.json",
        "run.json",
        "timeline.jsonl",
        "latency.hlog",
        "ledger.bin",
    ];
    for f in files {
        assert!(good.join(f).exists(), "the run wrote {f}");
    }
    let mut refused = Vec::new();
    for (i, f) in files.iter().enumerate() {
        for (j, how) in [Damage::Empty, Damage::Half, Damage::Corrupt, Damage::Overgrown]
            .iter()
            .enumerate()
        {
            let bad: PathBuf = dir.path().join(format!("bad-{i}-{j}"));
            copy_dir(&good, &bad);
            damage(&bad.join(f), *how);
            let bad_s = bad.to_str().expect("utf8").to_string();
            let merged = dir.path().join(format!("merged-{i}-{j}"));
            let commands: [Vec<&str>; 4] = [
                vec!["report", &bad_s],
                vec!["compare", &good_s, &bad_s],
                vec!["merge", &bad_s, &good_s, "--out", merged.to_str().expect("utf8")],
                vec!["audit", &bad_s],
            ];
            for args in commands {
                let (code, err) = eventbench(&args);
                let what = format!("{} with {f} {how:?}: exit {code:?}\n{err}", args[0]);
                assert!(!err.contains("panicked"), "{what}");
                assert!(code.is_some() && code != Some(101), "{what}");
                if code == Some(2) {
                    assert!(err.contains(f), "a refusal names the file: {what}");
                    refused.push((args[0].to_string(), *f, *how));
                }
            }
        }
    }
    // The files every command leans on are refused when they are not whole JSON.
    for cmd in ["compare", "merge"] {
        for how in ["Empty", "Half", "Corrupt"] {
            assert!(
                refused
                    .iter()
                    .any(|(c, f, h)| c == cmd && *f == "summary.json" && format!("{h:?}") == how),
                "{cmd} refuses a {how} summary.json: {refused:?}"
            );
        }
    }
}
