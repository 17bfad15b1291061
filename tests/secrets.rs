//! A secret written into a scenario (a literal, a librdkafka pass-through, a `--set`) is
//! in no file of the run directory and in no byte eventbench prints: run, validate, a
//! failing `--set`, merge and report.

mod common;

const SECRET: &str = "Zebra-Hunter2-7f3a";

fn scenario() -> String {
    format!(
        r#"
name = "secrets"
duration = "2s"
warmup = "500ms"

[target]
services = "none"

[target.kafka]
producer = {{ "sasl.password" = "{SECRET}-kafka", "linger.ms" = "5" }}

[target.scylla]
username = "bench"
password = "{SECRET}-cql"

[workload.writers]
kind = "persist"
rate = 200
"#
    )
}

fn files_containing(dir: &std::path::Path, needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes())) {
                hits.push(p.display().to_string());
            }
        }
    }
    hits
}

#[test]
fn no_secret_reaches_a_file_or_the_terminal() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("secrets.toml");
    std::fs::write(&path, scenario()).expect("write");
    let path = path.to_str().expect("utf8");
    let set = format!("target.kafka.consumer.\"ssl.key.password\"={SECRET}-set");
    let mut printed = String::new();
    let mut run = |args: &[&str]| {
        let (code, out, err) = common::eventbench(args);
        printed.push_str(&out);
        printed.push_str(&err);
        code
    };
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    for out in [&a, &b] {
        let code = run(&[
            "run",
            path,
            "--quiet",
            "--set",
            &set,
            "--out",
            out.to_str().expect("utf8"),
        ]);
        assert_eq!(code, Some(0), "{printed}");
    }
    assert_eq!(run(&["validate", path, "--set", &set]), Some(0), "{printed}");
    // A --set that fails names the override, not its secret.
    let bad = format!("target.scylla.password={{{SECRET}-bad");
    assert_eq!(run(&["validate", path, "--set", &bad, "--set", "duration=x"]), Some(2));
    let merged = dir.path().join("merged");
    run(&[
        "merge",
        a.to_str().expect("utf8"),
        b.to_str().expect("utf8"),
        "--out",
        merged.to_str().expect("utf8"),
    ]);
    run(&["report", a.to_str().expect("utf8")]);

    assert!(!printed.contains(SECRET), "printed: {printed}");
    let hits: Vec<String> = files_containing(dir.path(), SECRET)
        .into_iter()
        .filter(|p| !p.ends_with("secrets.toml"))
        .collect();
    assert!(hits.is_empty(), "the secret is in {hits:?}");
    // What is redacted is still there in form: the run records its scenario.
    let s = common::read(&a.join("summary.json"));
    assert!(s.contains(r#"password = \"***\""#) && s.contains("linger.ms"), "{s}");
}
