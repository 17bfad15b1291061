//! `eventbench capacity --scale KEY=V1,V2,...`: a capacity search at each size (one
//! scenario key that sets a size, or a command that resizes the user's cluster), the
//! Universal Scalability Law fitted to their capacities, the smallest size that reaches
//! a target rate, and a held-out check of the fit on the largest size.

pub mod plan;
pub mod report;
pub mod usl;

use std::path::PathBuf;

use crate::capacity::{self, Capacity};
pub use plan::{Plan, Size};

/// The key and its sizes, from `--scale KEY=V1,V2,...`.
#[derive(Debug, Clone, PartialEq)]
pub struct Scale {
    pub key: String,
    /// The values as given (each a `--set` value) and as a number (the law's N).
    pub values: Vec<(String, f64)>,
}

impl Scale {
    /// Parses `KEY=V1,V2,...`: at least two sizes, each a positive number, ascending
    /// order not required.
    pub fn parse(text: &str) -> Result<Scale, String> {
        let (key, list) = text.split_once('=').ok_or_else(|| {
            format!("--scale {text:?}: expected KEY=V1,V2,... (e.g. target.service_workers.persistence=1,2,4,8)")
        })?;
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("--scale {text:?}: no key before `=`"));
        }
        let mut values = Vec::new();
        for v in list.split(',').map(str::trim) {
            let n: f64 = v
                .parse()
                .ok()
                .filter(|n: &f64| n.is_finite() && *n > 0.0)
                .ok_or_else(|| format!("--scale {text:?}: size {v:?} is not a positive number"))?;
            if values.iter().any(|(_, m)| *m == n) {
                return Err(format!("--scale {text:?}: size {v} is given twice"));
            }
            values.push((v.to_string(), n));
        }
        if values.len() < 2 {
            return Err(format!("--scale {text:?}: a sizing run needs at least two sizes"));
        }
        Ok(Scale {
            key: key.to_string(),
            values,
        })
    }
}

/// How to size.
pub struct Options {
    pub scale: Scale,
    /// Run before each size with `{size}` replaced (and EVENTBENCH_SIZE set): resizes
    /// the user's cluster. Its text is never echoed (it may hold credentials).
    pub resize: Option<String>,
    /// The rate the plan sizes for.
    pub target_rate: Option<f64>,
    /// The search at each size; its `out` is the sizing run's directory.
    pub capacity: capacity::Options,
}

/// Checks every size's scenario before any search runs: a key the scenario does not
/// have, or a value it refuses, is an input error before minutes of load.
pub fn check(text: &str, overrides: &[String], o: &Options) -> Result<(), String> {
    for (v, _) in &o.scale.values {
        let mut sets = overrides.to_vec();
        sets.push(format!("{}={v}", o.scale.key));
        crate::scenario::parse("sizing", text, &sets).map_err(|e| format!("--scale {}={v}: {e}", o.scale.key))?;
    }
    Ok(())
}

/// Runs the resize command for one size; its failure names the size and the exit.
fn resize(cmd: &str, size: &str) -> Result<(), String> {
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(cmd.replace("{size}", size))
        .env("EVENTBENCH_SIZE", size)
        .stdin(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("the --resize command for size {size} did not start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "the --resize command for size {size} failed ({}); no search ran at this size",
            status
                .code()
                .map_or("killed by a signal".to_string(), |c| format!("exit {c}"))
        ))
    }
}

/// Why a sizing run stopped: the user's input (a key, a value, the resize command) or
/// a search that failed.
#[derive(Debug)]
pub enum Error {
    Input(String),
    Search(String),
}

/// Searches every size in the order given, then fits. `progress` hears of each size's
/// steps; a size whose resize or search fails stops the run with the sizes so far kept
/// on disk (their capacity.json), and no plan is made from partial data.
pub fn run(
    text: &str,
    overrides: &[String],
    o: &Options,
    mut progress: impl FnMut(&str, &capacity::Step),
) -> Result<Plan, Error> {
    check(text, overrides, o).map_err(Error::Input)?;
    let mut sizes = Vec::new();
    for (v, n) in &o.scale.values {
        if let Some(cmd) = &o.resize {
            resize(cmd, v).map_err(Error::Input)?;
        }
        let mut sets = overrides.to_vec();
        sets.push(format!("{}={v}", o.scale.key));
        let dir: PathBuf = o.capacity.out.join("sizes").join(format!("{}={v}", o.scale.key));
        let copts = capacity::Options {
            out: dir.clone(),
            ..o.capacity.clone()
        };
        let c: Capacity = capacity::search(text, &sets, &copts, |s| progress(v, s))
            .map_err(|e| Error::Search(format!("size {}={v}: {e}", o.scale.key)))?;
        let run_dir = crate::report::RunDir::create(&dir).map_err(|e| Error::Search(e.to_string()))?;
        capacity::write(&run_dir, &c).map_err(|e| Error::Search(e.to_string()))?;
        sizes.push(Size::of(v, *n, &c, &dir));
    }
    Ok(plan::make(o, sizes))
}
