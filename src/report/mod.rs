//! Reports: `summary.json` (the record), the text summary, live progress, host facts.

pub mod ci;
pub mod host;
pub mod html;
pub mod merge;
pub mod progress;
pub mod summary;
pub mod svg;
pub mod text;

use std::path::Path;

pub use summary::Summary;

/// Writes `summary.json` into the run directory.
pub fn write_summary(dir: &Path, s: &Summary) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(s).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("summary.json"), json)
}
