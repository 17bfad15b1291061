//! docker-compose.yml is valid Compose (checked with Debian's docker-compose, which
//! needs no Docker engine for `config`) and serves the same addresses the scenarios use.

mod common;

use std::process::Command;

fn config(path: &std::path::Path) -> std::process::Output {
    Command::new("docker-compose")
        .arg("-f")
        .arg(path)
        .arg("config")
        .output()
        .expect("docker-compose is installed by scripts/setup")
}

#[test]
fn compose_file_is_valid_and_exposes_kafka_and_scylla_on_loopback() {
    let out = config(&common::root().join("docker-compose.yml"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for needle in [
        "apache/kafka:4.1.1",
        "scylladb/scylla",
        "127.0.0.1",
        "9092",
        "9042",
        "healthcheck",
        "--developer-mode",
    ] {
        assert!(
            text.contains(needle),
            "{needle} missing from the resolved config:\n{text}"
        );
    }
    // The validator really validates: a broken copy is refused.
    let dir = tempfile::tempdir().expect("tmp");
    let bad = dir.path().join("docker-compose.yml");
    std::fs::write(
        &bad,
        common::read(&common::root().join("docker-compose.yml")).replace("ports:", "portz:"),
    )
    .expect("write");
    assert!(!config(&bad).status.success());
}
