//! Scenario files: the workloads a user asks for, as written, checked to the line.

mod load;
mod prefill;
pub mod secrets;
mod set;
mod types;
mod validate;

pub use crate::units::{Dur, Size};
pub use load::{load, nearest, parse, Loaded, ScenarioError};
pub use prefill::{Prefill, PrefillPlan};
pub use types::*;
