//! What a CI job reads: `junit.xml` (one test case per threshold, plus the audit) and
//! `summary.md` (a job summary: verdict, thresholds, and each workload's key numbers).

use std::fmt::Write;

use super::summary::Summary;
use crate::report::markup::esc as xml;
use crate::units::fmt_ns as ns;

/// JUnit XML: a test case per threshold, one for the audit, one for an abort.
pub fn junit(s: &Summary) -> String {
    let mut cases = Vec::new();
    for v in &s.thresholds {
        let failure = (!v.passed).then(|| {
            format!(
                "actual {}{}",
                v.actual,
                v.note.as_ref().map(|n| format!(": {n}")).unwrap_or_default()
            )
        });
        cases.push((format!("{} {}", v.threshold, v.condition), failure));
    }
    if let Some(a) = &s.audit {
        cases.push((
            "integrity audit".to_string(),
            (!a.passed()).then(|| a.failed.join("; ")),
        ));
    }
    if let Some(why) = &s.aborted {
        cases.push(("run completed without abort".to_string(), Some(why.clone())));
    }
    if let Some(why) = &s.incomplete {
        cases.push(("run completed and wrote its summary".to_string(), Some(why.clone())));
    }
    // Health is a check too, unless the run allowed an unhealthy verdict.
    for (name, w) in s.unhealthy() {
        cases.push((
            format!("{name} healthy"),
            Some(format!("{}: {}", w.health, w.health_reason)),
        ));
    }
    let failures = cases.iter().filter(|(_, f)| f.is_some()).count();
    let mut o = String::new();
    let _ = writeln!(o, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        o,
        r#"<testsuites name="eventbench" tests="{}" failures="{failures}">"#,
        cases.len()
    );
    let _ = writeln!(
        o,
        r#"  <testsuite name="{}" tests="{}" failures="{failures}" time="{:.3}" timestamp="{}">"#,
        xml(&s.scenario.name),
        cases.len(),
        s.elapsed_s,
        xml(&s.started_at)
    );
    for (name, failure) in &cases {
        let _ = write!(
            o,
            r#"    <testcase classname="eventbench.{}" name="{}""#,
            xml(&s.scenario.name),
            xml(name)
        );
        match failure {
            None => {
                let _ = writeln!(o, "/>");
            }
            Some(f) => {
                let _ = writeln!(o, ">\n      <failure message=\"{}\"/>\n    </testcase>", xml(f));
            }
        }
    }
    let _ = writeln!(o, "  </testsuite>\n</testsuites>");
    o
}

/// Markdown for a CI job summary.
pub fn markdown(s: &Summary) -> String {
    let mut o = String::new();
    let verdict = s.verdict().1;
    let _ = writeln!(
        o,
        "## eventbench: {} ({verdict})\n\n{:.1} s measured after warmup, started {}, eventbench {}\n",
        s.scenario.name, s.measured_s, s.started_at, s.eventbench_version
    );
    if !s.scenario.description.is_empty() {
        let _ = writeln!(o, "{}\n", s.scenario.description);
    }
    if let Some(why) = &s.aborted {
        let _ = writeln!(o, "**Aborted**: {why}\n");
    }
    if let Some(sig) = &s.interrupted {
        let _ = writeln!(o, "**Interrupted** by {sig}\n");
    }
    if let Some(why) = &s.incomplete {
        let _ = writeln!(o, "**Incomplete**: {why}\n");
    }
    if !s.thresholds.is_empty() {
        let _ = writeln!(o, "| threshold | condition | actual | |\n|---|---|---|---|");
        for v in &s.thresholds {
            let _ = writeln!(
                o,
                "| `{}` | `{}` | {} | {} |",
                v.threshold,
                v.condition,
                v.actual,
                if v.passed { "pass" } else { "**FAIL**" }
            );
        }
        let _ = writeln!(o);
    }
    let _ = writeln!(
        o,
        "| workload | target/s | achieved/s | ops | errors | censored | main p50 | main p99 | health |\n|---|---|---|---|---|---|---|---|---|"
    );
    for (name, w) in &s.workloads {
        let main = w
            .stages
            .iter()
            .find(|(k, _)| ["produce", "persist", "query"].contains(&k.as_str()));
        let (p50, p99) = main.map_or(("-".into(), "-".into()), |(_, st)| (ns(st.p50_ns), ns(st.p99_ns)));
        let _ = writeln!(
            o,
            "| {name} | {:.1} | {:.1} | {} | {} | {} | {p50} | {p99} | {} |",
            w.target_rate,
            w.achieved_rate,
            w.ops,
            w.errors.values().sum::<u64>(),
            w.censored,
            w.health
        );
    }
    // Why an unhealthy workload is so, in the verdict's own words.
    for (name, w) in s
        .workloads
        .iter()
        .filter(|(_, w)| w.health != crate::report::Health::Healthy)
    {
        let _ = writeln!(o, "\n- {name}: **{}**: {}", w.health, w.health_reason);
    }
    for (name, w) in &s.workloads {
        if let Some(src) = &w.source {
            let _ = writeln!(o, "\n- {name}: {src}");
        }
    }
    if let Some(a) = &s.audit {
        let _ = writeln!(
            o,
            "\nAudit: {} acked, lost {}, duplicates {}, errors {}, hidden {}: {}",
            a.acked,
            a.lost,
            a.duplicates,
            a.errors,
            a.hidden,
            if a.passed() { "passed" } else { "**failed**" }
        );
    }
    o
}
