//! The container image, built from this checkout by `scripts/image` (a debootstrap
//! base, podman, no registry): it runs as its non-root user, says its version, and two
//! shards run in containers against the local Kafka merge into one report whose
//! counts equal one run of the whole load outside any container.

mod common;

use std::process::Command;

const TAG: &str = "eventbench:suite";

/// podman as scripts/image uses it: the same storage, runc where it is.
fn podman_cmd() -> Command {
    let overlay = std::fs::read_to_string("/proc/filesystems").is_ok_and(|f| f.contains("overlay"));
    let mut c = Command::new("podman");
    c.args(["--storage-driver", if overlay { "overlay" } else { "vfs" }]);
    if Command::new("sh")
        .args(["-c", "command -v runc"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        c.args(["--runtime", "runc"]);
    }
    c
}

fn podman(args: &[&str]) -> std::process::Output {
    podman_cmd()
        .args(args)
        .output()
        .expect("podman (scripts/setup installs it)")
}

/// `podman run` as scripts/image runs it: host network (the local Kafka), and
/// limits this sandbox can grant (it cannot raise any, and podman asks for its own).
const RUN: &[&str] = &[
    "run",
    "--rm",
    "--network",
    "host",
    "--ulimit",
    "nofile=16384:16384",
    "--ulimit",
    "nproc=4096:4096",
];

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn the_image_runs_two_shards_against_kafka_that_merge_into_the_whole_load() {
    common::require_kafka();
    let built = Command::new(common::root().join("scripts/image"))
        .arg(TAG)
        .current_dir(common::root())
        .output()
        .expect("scripts/image");
    assert!(built.status.success(), "scripts/image failed: {}", text(&built));
    let version = podman(&[RUN, &[TAG, "--version"]].concat());
    assert!(version.status.success(), "{}", text(&version));
    assert!(
        String::from_utf8_lossy(&version.stdout).contains(env!("CARGO_PKG_VERSION")),
        "{}",
        text(&version)
    );
    let user = podman(&["image", "inspect", TAG, "--format", "{{.Config.User}}"]);
    assert_eq!(
        String::from_utf8_lossy(&user.stdout).trim(),
        "10001:10001",
        "the image runs as root"
    );

    let dir = tempfile::tempdir().expect("tmp");
    // The container's user writes its reports here.
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).expect("chmod");
    let topic = common::unique_topic("eventbench.image");
    let scenario = format!(
        r#"
name = "image-shards"
seed = 5
duration = "4s"
warmup = "1s"

[target]
log = "kafka"
services = "none"

[target.kafka]
bootstrap = "127.0.0.1:9092"
partitions = 2

[target.topics]
events = "{topic}"

[workload.producers]
kind = "produce"
rate = 300
"#
    );
    std::fs::write(dir.path().join("s.toml"), &scenario).expect("write");
    let mount = format!("{}:/w", dir.path().display());
    // One origin for both containers, far enough ahead for both to start and connect.
    let start_at = format!(
        "{:.3}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs_f64()
            + 10.0
    );
    let shards: Vec<std::process::Child> = (0..2)
        .map(|i| {
            podman_cmd()
                .args(RUN)
                .args(["-v", &mount, TAG, "run", "/w/s.toml"])
                .args(["--quiet", "--shard", &format!("{i}/2"), "--start-at", &start_at])
                .args(["--out", &format!("/w/shard-{i}")])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("podman run")
        })
        .collect();
    for (i, child) in shards.into_iter().enumerate() {
        let o = child.wait_with_output().expect("wait");
        assert!(o.status.success(), "shard {i} in its container: {}", text(&o));
    }
    let (s0, s1, merged) = (
        dir.path().join("shard-0"),
        dir.path().join("shard-1"),
        dir.path().join("merged"),
    );
    let (code, out, err) = common::eventbench(&[
        "merge",
        s0.to_str().expect("utf8"),
        s1.to_str().expect("utf8"),
        "--out",
        merged.to_str().expect("utf8"),
    ]);
    assert_eq!(code, Some(0), "{out} {err}");
    let whole_dir = dir.path().join("whole");
    let (code, out, err) = common::eventbench(&[
        "run",
        dir.path().join("s.toml").to_str().expect("utf8"),
        "--quiet",
        "--out",
        whole_dir.to_str().expect("utf8"),
    ]);
    assert_eq!(code, Some(0), "{out} {err}");
    let json = |p: &std::path::Path| -> serde_json::Value {
        serde_json::from_str(&common::read(&p.join("summary.json"))).expect("json")
    };
    let ops = |s: &serde_json::Value| s["workloads"]["producers"]["ops"].as_u64().unwrap_or(0);
    let (m, w) = (json(&merged), json(&whole_dir));
    assert!(ops(&w) > 0, "{w}");
    assert_eq!(ops(&m), ops(&w), "the containers ran exactly the whole load");
    assert_eq!(ops(&json(&s0)) + ops(&json(&s1)), ops(&m));
    let ok = |s: &serde_json::Value| s["workloads"]["producers"]["ok"].as_u64().unwrap_or(0);
    assert_eq!(ok(&m), ops(&m), "every operation in the containers ok: {m}");
}
