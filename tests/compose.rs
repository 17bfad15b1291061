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
        // The generator's own image, built from the Dockerfile.
        "dockerfile: Dockerfile",
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

/// The secured override (docker-compose.secure.yml) is valid on top of the base file,
/// serves the secured scenarios' addresses, takes its passwords from the environment
/// (refusing to start without them), and holds none itself.
#[test]
fn secure_override_is_valid_and_serves_the_secured_scenarios_addresses() {
    let root = common::root();
    let compose = |env: &[(&str, &str)]| {
        Command::new("docker-compose")
            .arg("-f")
            .arg(root.join("docker-compose.yml"))
            .arg("-f")
            .arg(root.join("docker-compose.secure.yml"))
            .arg("config")
            .env_remove("EVENTBENCH_STORE_PASSWORD")
            .env_remove("EVENTBENCH_KAFKA_PASSWORD")
            .env_remove("EVENTBENCH_CQL_PASSWORD")
            .envs(env.iter().copied())
            .output()
            .expect("docker-compose is installed by scripts/setup")
    };
    let out = compose(&[
        ("EVENTBENCH_STORE_PASSWORD", "store-pw-from-env"),
        ("EVENTBENCH_KAFKA_PASSWORD", "kafka-pw-from-env"),
        ("EVENTBENCH_CQL_PASSWORD", "cql-pw-from-env"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for needle in [
        "127.0.0.1:9094",
        "127.0.0.1:9095",
        "127.0.0.1:9142",
        "SASL_SSL:SASL_SSL",
        "KAFKA_LISTENER_NAME_SSL_SSL_CLIENT_AUTH: required",
        "SCRAM-SHA-512",
        "scylla-secure.yaml",
        "store-pw-from-env",
        "kafka-pw-from-env",
        "cql-pw-from-env",
    ] {
        assert!(
            text.contains(needle),
            "{needle} missing from the resolved config:\n{text}"
        );
    }
    // The node's config really is TLS-only with passwords.
    let yaml = common::read(&root.join("deploy/scylla/scylla-secure.yaml"));
    assert!(yaml.contains("authenticator: PasswordAuthenticator") && yaml.contains("enabled: true"));
    // The secured scenarios aim where the override listens.
    for (scenario, addr) in [
        ("secure-kafka-scram.toml", "127.0.0.1:9094"),
        ("secure-kafka-mtls.toml", "127.0.0.1:9095"),
        ("secure-cql.toml", "127.0.0.1:9142"),
    ] {
        assert!(
            common::read(&root.join("scenarios").join(scenario)).contains(addr),
            "{scenario}"
        );
    }
    // Without the passwords exported it refuses, naming where they come from.
    let out = compose(&[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(".cache/secure/"));
}
