//! Scenario files: the workloads a user asks for, as written, checked to the line.

mod load;
mod prefill;
pub mod secrets;
mod set;
mod span;
mod types;
mod validate;
mod validate_data;
mod validate_replay;

pub use crate::units::{Dur, Size};
pub use load::{load, nearest, parse, Loaded, ScenarioError};
pub use prefill::{Prefill, PrefillPlan};
pub use types::*;
