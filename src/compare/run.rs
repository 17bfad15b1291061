//! A run as compare reads it: its summary (one value per statistic: `report::values`).

use std::path::{Path, PathBuf};

use crate::report::rundir::read_summary_file;
use crate::report::{RunDir, RunDirError, Summary};

#[derive(Clone)]
pub struct Run {
    pub path: PathBuf,
    pub summary: Summary,
}

impl Run {
    /// A run directory, or a summary.json.
    pub fn open(path: &Path) -> Result<Run, RunDirError> {
        let summary = if path.is_dir() {
            RunDir::open(path)?.read_summary()?
        } else {
            read_summary_file(path)?
        };
        Ok(Run {
            path: path.to_path_buf(),
            summary,
        })
    }

    /// `path` as the runs it holds: a run directory, a summary.json, or a directory of
    /// repeats (`run --repeat N` writes `run-1` .. `run-N`), each opened.
    pub fn open_all(path: &Path) -> Result<Vec<Run>, RunDirError> {
        if path.is_dir() && !path.join("summary.json").exists() {
            let mut repeats: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|source| RunDirError::Read {
                    path: path.to_path_buf(),
                    source,
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("summary.json").exists())
                .collect();
            if !repeats.is_empty() {
                // In run order: run-2 before run-10 (pairs are matched by it).
                repeats.sort_by_key(|p| repeat_order(p));
                return repeats.iter().map(|p| Run::open(p)).collect();
            }
        }
        Ok(vec![Run::open(path)?])
    }
}

/// A repeat's name as (text, trailing number), so `run-10` sorts after `run-9`.
fn repeat_order(p: &Path) -> (String, u64, String) {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (stem, num) = name.split_at(name.len() - digits);
    (stem.to_string(), num.parse().unwrap_or(0), name.clone())
}

#[cfg(test)]
mod tests {
    #[test]
    fn repeats_are_in_run_order() {
        let mut v: Vec<std::path::PathBuf> = ["d/run-10", "d/run-2", "d/run-1"].iter().map(Into::into).collect();
        v.sort_by_key(|p| super::repeat_order(p));
        assert_eq!(v, ["d/run-1", "d/run-2", "d/run-10"].map(std::path::PathBuf::from));
    }
}
