//! Live metrics as an operator sees them: Debian's Prometheus scrapes a pipeline run's
//! `--metrics-listen` endpoint every second; its HTTP API must then give the counts
//! summary.json gives, and a p99 from the exported buckets that lies in the bucket of
//! summary.json's p99. The Grafana dashboard must load as Grafana's dashboard model and
//! every PromQL expression in it must be accepted by that Prometheus (and find data).

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

struct Prometheus {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    /// Unix seconds every query is evaluated at: while the run's endpoint was still
    /// up (once it is gone, Prometheus marks its series stale).
    at: f64,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Starts Debian's prometheus scraping `target` every second.
    fn start(target: &str) -> Prometheus {
        let bin = Path::new("/usr/bin/prometheus");
        assert!(
            bin.exists(),
            "no /usr/bin/prometheus: scripts/setup installs Debian's prometheus package"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: eventbench\n    scrape_interval: 1s\n    scrape_timeout: 900ms\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .expect("write config");
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log");
        let child = Command::new(bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        let p = Prometheus {
            child,
            port,
            dir,
            at: 0.0,
        };
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(60) {
            if curl(&format!("http://127.0.0.1:{port}/-/ready")).is_some_and(|b| b.contains("Ready")) {
                return p;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("prometheus did not become ready in 60 s:\n{}", p.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// An instant query; the API's whole answer.
    fn query(&self, promql: &str) -> Value {
        let out = Command::new("curl")
            .args(["-sS", "--get", "--data-urlencode"])
            .arg(format!("query={promql}"))
            .args(["--data-urlencode", &format!("time={:.3}", self.at)])
            .arg(format!("http://127.0.0.1:{}/api/v1/query", self.port))
            .output()
            .expect("curl");
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "prometheus answered {promql:?} with no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// An instant query's vector as (labels, value).
    fn vector(&self, promql: &str) -> Vec<(Value, f64)> {
        let v = self.query(promql);
        assert_eq!(v["status"], "success", "{promql}: {v}");
        v["data"]["result"]
            .as_array()
            .map(|r| {
                r.iter()
                    .map(|s| {
                        let x = s["value"][1].as_str().and_then(|x| x.parse().ok()).unwrap_or(f64::NAN);
                        (s["metric"].clone(), x)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn scalar(&self, promql: &str) -> f64 {
        let v = self.vector(promql);
        assert_eq!(v.len(), 1, "{promql}: expected one series, got {v:?}");
        v[0].1
    }
}

fn curl(url: &str) -> Option<String> {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "2", url])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The Grafana dashboard checker scripts/setup builds (tests/grafana/check).
fn grafana_check() -> PathBuf {
    let p = common::root().join(".cache/bin/grafana-check");
    assert!(
        p.exists(),
        "no {}: scripts/setup builds it from tests/grafana/check",
        p.display()
    );
    p
}

/// Runs the checker on a dashboard: (success, stdout, stderr).
fn check_dashboard(path: &Path) -> (bool, String, String) {
    let out = Command::new(grafana_check())
        .arg(path)
        .output()
        .expect("run grafana-check");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn prometheus_scrapes_a_pipeline_run_and_agrees_with_the_summary() {
    let port = free_port();
    let mut prom = Prometheus::start(&format!("127.0.0.1:{port}"));
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("run");
    let scenario = common::root().join("scenarios/quickstart.toml");
    let listen = format!("127.0.0.1:{port}");
    // A memory pipeline at a tenth of what quickstart runs (20,000/s), so the run, the
    // services and Prometheus share two cores well below capacity.
    let (code, stdout, stderr) = common::eventbench(&[
        "run",
        scenario.to_str().expect("utf-8 path"),
        "--set",
        "workload.producers.rate=2000",
        "--set",
        "duration=15s",
        "--set",
        "warmup=3s",
        "--metrics-listen",
        &listen,
        "--metrics-linger",
        "4s",
        "--out",
        out.to_str().expect("utf-8 path"),
    ]);
    // Queries look at the run 2 s before its process ended: in its 4 s linger, with the
    // final numbers scraped (every second) and the series not yet stale.
    prom.at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
        - 2.0;
    let show = format!(
        "exit {code:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- prometheus\n{}",
        prom.log()
    );
    assert_eq!(code, Some(0), "{show}");
    assert!(stderr.contains(&format!("metrics: http://{listen}/metrics")), "{show}");
    let summary: Value = serde_json::from_str(&common::read(&out.join("summary.json"))).expect("summary.json");
    let run_json: Value = serde_json::from_str(&common::read(&out.join("run.json"))).expect("run.json");
    let run = run_json["run_tag"].as_str().expect("run_tag").to_string();

    // Scraped while it ran, not only at the end: a sample a second.
    let samples = prom.scalar(&format!(
        "count_over_time(eventbench_run_elapsed_seconds{{run=\"{run}\"}}[5m])"
    ));
    assert!(samples >= 12.0, "{samples} scrapes of a 15 s run\n{show}");
    assert_eq!(
        prom.scalar(&format!("max_over_time(eventbench_run_finished{{run=\"{run}\"}}[5m])")),
        1.0,
        "the last scrape came after the run ended\n{show}"
    );

    for (name, w) in summary["workloads"].as_object().expect("workloads") {
        // Operations by outcome add up to summary.json's ops, within one interval.
        let ops = w["ops"].as_u64().expect("ops") as f64;
        let exported = prom.scalar(&format!(
            "sum(eventbench_operations_total{{run=\"{run}\", workload=\"{name}\"}})"
        ));
        let one_interval = w["timeline"]
            .as_array()
            .expect("timeline")
            .iter()
            .map(|p| p["ok"].as_u64().unwrap_or(0) + p["errors"].as_u64().unwrap_or(0))
            .max()
            .unwrap_or(0) as f64;
        assert!(
            (exported - ops).abs() <= one_interval,
            "{name}: Prometheus counts {exported} operations, summary.json {ops} (one interval: {one_interval})\n{show}"
        );
        let ok = prom.scalar(&format!(
            "sum(eventbench_operations_total{{run=\"{run}\", workload=\"{name}\", outcome=\"ok\"}})"
        ));
        assert!(
            (ok - w["ok"].as_f64().expect("ok")).abs() <= one_interval,
            "{name} ok\n{show}"
        );

        // p99 from the exported buckets lies in the bucket that holds summary.json's p99:
        // the histogram's error is its bucket (1-2-5 bounds).
        for (stage, s) in w["stages"].as_object().expect("stages") {
            let p99_s = s["p99_ns"].as_f64().expect("p99_ns") / 1e9;
            let q = prom.scalar(&format!(
                "histogram_quantile(0.99, eventbench_latency_seconds_bucket{{run=\"{run}\", workload=\"{name}\", stage=\"{stage}\"}})"
            ));
            let bounds = eventbench::report::metrics::BUCKETS_S;
            let hi_i = bounds.partition_point(|b| *b < p99_s);
            let hi = bounds.get(hi_i).copied().unwrap_or(f64::INFINITY);
            let lo = if hi_i == 0 { 0.0 } else { bounds[hi_i - 1] };
            assert!(
                q >= lo * (1.0 - 1e-9) && q <= hi * (1.0 + 1e-9),
                "{name}.{stage}: PromQL p99 {q} s is outside the bucket ({lo}, {hi}] of summary.json's p99 {p99_s} s\n{show}"
            );
        }
    }
    // The embedded persistence service's counters made it too.
    let consumed = prom.scalar(&format!(
        "sum(eventbench_service_records_total{{run=\"{run}\", service=\"persistence\", outcome=\"consumed\"}})"
    ));
    let want = summary["services"]["persistence"]["consumed"]
        .as_f64()
        .expect("consumed");
    assert_eq!(consumed, want, "{show}");
    // The pipeline's hop queues, one series per hop.
    let hops = prom.vector(&format!("eventbench_hop_queue_events{{run=\"{run}\"}}"));
    assert_eq!(hops.len(), 6, "{hops:?}\n{show}");

    // The dashboard: Grafana's model accepts it, and Prometheus every query in it.
    let dashboard = common::root().join("deploy/grafana/dashboards/eventbench.json");
    let (ok, exprs, err) = check_dashboard(&dashboard);
    assert!(ok, "grafana-check refused the dashboard: {err}");
    let mut checked = 0;
    for line in exprs.lines() {
        let e: Value = serde_json::from_str(line).expect("checker line");
        let (kind, title) = (e["kind"].as_str().unwrap_or(""), e["title"].as_str().unwrap_or(""));
        let mut expr = e["expr"].as_str().expect("expr").to_string();
        for (var, value) in [
            ("$__rate_interval", "1m"),
            ("$run", run.as_str()),
            ("$scenario", ".*"),
            ("$shard", ".*"),
            ("$workload", ".*"),
        ] {
            expr = expr.replace(var, value);
        }
        // A query variable's label_values(selector, label) asks for the selector's series.
        if let Some(inner) = expr.strip_prefix("label_values(") {
            let selector = inner.rsplit_once(',').map_or(inner, |(s, _)| s);
            expr = selector.to_string();
        }
        let answer = prom.query(&expr);
        assert_eq!(answer["status"], "success", "{kind} {title:?}: {expr}: {answer}");
        let found = answer["data"]["result"].as_array().map_or(0, |r| r.len());
        // Every panel has data in a healthy run but the one that shows failures.
        if !title.starts_with("Errors") {
            assert!(found > 0, "{kind} {title:?} found no data: {expr}\n{show}");
        }
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} expressions checked");
}

#[test]
fn the_dashboard_checker_refuses_what_grafana_would() {
    let dashboard = common::root().join("deploy/grafana/dashboards/eventbench.json");
    let mut d: Value = serde_json::from_str(&common::read(&dashboard)).expect("dashboard JSON");
    let tmp = tempfile::tempdir().expect("tempdir");
    // An unknown panel field, a panel type's option of the wrong type, a variable with no name.
    type Breakage = (&'static str, fn(&mut Value));
    let breakages: [Breakage; 3] = [
        ("unknown panel field", |d| d["panels"][0]["colour"] = Value::from("red")),
        ("option of the wrong type", |d| {
            d["panels"][4]["options"]["legend"]["showLegend"] = Value::from("yes")
        }),
        ("variable without a name", |d| {
            if let Some(v) = d["templating"]["list"][1].as_object_mut() {
                v.remove("name");
            }
        }),
    ];
    for (what, breaks) in breakages {
        let mut broken = d.clone();
        breaks(&mut broken);
        let p = tmp.path().join("broken.json");
        std::fs::write(&p, serde_json::to_string(&broken).expect("json")).expect("write");
        let (ok, _, err) = check_dashboard(&p);
        assert!(!ok, "{what}: the checker accepted a broken dashboard");
        assert!(!err.trim().is_empty(), "{what}: refused without a reason");
    }
    // And the real one passes (so the refusals above are about the breakage).
    d["title"] = Value::from("eventbench: a run");
    let p = tmp.path().join("ok.json");
    std::fs::write(&p, serde_json::to_string(&d).expect("json")).expect("write");
    let (ok, _, err) = check_dashboard(&p);
    assert!(ok, "{err}");
}
