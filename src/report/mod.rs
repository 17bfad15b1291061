//! The record of a run and every view of it: `summary.json` (the record), the run
//! directory that holds it, the text summary, report.html with its SVG charts, the CI
//! files, and the live progress line. Everything here is built from what a run
//! measured, never from the engine's internals.

pub mod build;
pub mod ci;
pub mod faults;
pub mod hop_evidence;
pub mod hops;
pub mod hops_html;
pub mod html;
pub mod journal;
pub mod limiting;
pub mod markup;
pub mod metrics;
pub mod outcome;
pub mod platform;
pub mod progress;
pub mod reader_hops;
pub mod rundir;
pub mod summary;
pub mod svg;
pub mod text;
pub mod trend_json;
pub mod values;
pub mod verdict;

pub use rundir::{RunDir, RunDirError};
pub use summary::Summary;
pub use verdict::Health;
