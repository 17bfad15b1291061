//! A run as compare reads it: its summary (one value per statistic: `report::values`).

use std::path::{Path, PathBuf};

use crate::report::rundir::read_summary_file;
use crate::report::{RunDir, RunDirError, Summary};

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
                repeats.sort();
                return repeats.iter().map(|p| Run::open(p)).collect();
            }
        }
        Ok(vec![Run::open(path)?])
    }
}
