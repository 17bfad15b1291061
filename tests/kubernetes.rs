//! deploy/kubernetes, checked without a cluster: every manifest validates strictly
//! against the Kubernetes 1.30 API schemas (kubernetes-validate, installed by
//! scripts/setup), a broken one does not, the Indexed Job's shard count agrees with
//! itself, and the scenario it carries is a valid eventbench scenario.

mod common;

use std::process::Command;

const MANIFESTS: [&str; 5] = [
    "namespace.yaml",
    "configmap.yaml",
    "pvc.yaml",
    "job-generators.yaml",
    "job-merge.yaml",
];

fn validate(files: &[std::path::PathBuf]) -> (bool, String) {
    let out = Command::new("kubernetes-validate")
        .args(["--strict", "-k", "1.30.0"])
        .args(files)
        .output()
        .expect("kubernetes-validate runs (scripts/setup installs it)");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A YAML document as JSON (PyYAML comes with kubernetes-validate).
fn yaml(path: &std::path::Path) -> serde_json::Value {
    let out = Command::new("python3")
        .args([
            "-c",
            "import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(path)
        .output()
        .expect("python3");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn manifests_match_the_kubernetes_api_and_agree_on_the_shards() {
    let dir = common::root().join("deploy/kubernetes");
    let files: Vec<_> = MANIFESTS.iter().map(|m| dir.join(m)).collect();
    let (ok, out) = validate(&files);
    assert!(ok, "{out}");
    assert_eq!(out.matches("passed").count(), MANIFESTS.len(), "{out}");

    // A typo in a field name is caught.
    let tmp = tempfile::tempdir().expect("tmp");
    let bad = tmp.path().join("bad.yaml");
    let text = common::read(&dir.join("job-generators.yaml")).replace("completionMode:", "completionMod:");
    std::fs::write(&bad, text).expect("write");
    let (ok, out) = validate(&[bad]);
    assert!(!ok && out.contains("completionMod"), "{out}");

    // completions = parallelism = SHARDS, and each pod runs its own shard.
    let job = yaml(&dir.join("job-generators.yaml"));
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let container = &spec["template"]["spec"]["containers"][0];
    let shards = container["env"]
        .as_array()
        .and_then(|e| e.iter().find(|v| v["name"] == "SHARDS"))
        .and_then(|v| v["value"].as_str())
        .and_then(|v| v.parse::<u64>().ok())
        .expect("SHARDS");
    assert_eq!(spec["completions"].as_u64(), Some(shards));
    assert_eq!(spec["parallelism"].as_u64(), Some(shards));
    let args = container["args"][0].as_str().expect("args");
    assert!(
        args.contains(r#"--shard "${JOB_COMPLETION_INDEX}/${SHARDS}""#),
        "{args}"
    );

    // The scenario in the ConfigMap is one eventbench accepts.
    let cm = yaml(&dir.join("configmap.yaml"));
    let scenario = tmp.path().join("scenario.toml");
    std::fs::write(&scenario, cm["data"]["scenario.toml"].as_str().expect("scenario")).expect("write");
    let (code, _, err) = common::eventbench(&["validate", scenario.to_str().expect("utf8")]);
    assert_eq!(code, Some(0), "{err}");
}
