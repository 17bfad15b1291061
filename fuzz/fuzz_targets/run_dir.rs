//! A run directory from another machine or version, read back by `report`, `compare`
//! and `audit`: the input is its files, separated by `\0--\0` in the order
//! summary.json, run.json, latency.hlog, timeline.jsonl, ledger.bin, audit.json (an
//! empty part is a missing file). Reading it never panics; a refusal names the file.
#![no_main]

use libfuzzer_sys::fuzz_target;

const FILES: [&str; 6] = [
    "summary.json",
    "run.json",
    "latency.hlog",
    "timeline.jsonl",
    "ledger.bin",
    "audit.json",
];

fn parts(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(at) = rest.windows(4).position(|w| w == b"\0--\0") {
        out.push(&rest[..at]);
        rest = &rest[at + 4..];
    }
    out.push(rest);
    out
}

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    for (name, body) in FILES.iter().zip(parts(data)) {
        if !body.is_empty() && std::fs::write(dir.path().join(name), body).is_err() {
            return;
        }
    }
    let named = |e: &dyn std::fmt::Display| {
        let shown = e.to_string();
        assert!(
            FILES.iter().any(|f| shown.contains(f)) || shown.contains(&dir.path().display().to_string()),
            "a refusal that names no file: {shown}"
        );
    };
    let Ok(run) = eventbench::report::rundir::RunDir::open(dir.path()) else {
        return;
    };
    if let Err(e) = eventbench::report::journal::summary_of(&run) {
        named(&e);
    }
    if let Err(e) = eventbench::compare::Run::open_all(dir.path()) {
        named(&e);
    }
    if let Err(e) = eventbench::reaudit::reaudit(&run) {
        named(&e);
    }
});
