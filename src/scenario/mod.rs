//! Scenario files: the workloads a user asks for, as written, checked to the line.

mod load;
mod types;
pub mod units;
mod validate;

pub use load::{load, nearest, parse, Loaded, ScenarioError};
pub use types::*;
pub use units::{Dur, Size};
