//! `[prefill]`: history written before the measured run, so a run can ask how the
//! event store behaves with a year of events in it (latte's `load`, cassandra-stress's
//! `write n=`, YCSB's load phase).

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::units::{Dur, Size};

/// What history to write before the run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prefill {
    /// How many events of history, spread over `[data]`'s aggregates, actions and
    /// payloads. One of `events` and `size`.
    #[serde(default)]
    pub events: Option<Spanned<u64>>,
    /// How much event data (payload bytes) the history holds, instead of `events`.
    #[serde(default)]
    pub size: Option<Spanned<Size>>,
    /// The history covers this long up to the day the prefill starts; each event's
    /// timestamp and (unless `data.year_bucket` fixes it) year bucket come from it.
    #[serde(default = "default_span")]
    pub span: Spanned<Dur>,
    /// Hydration epochs per aggregate over the span: as if a reader had queried each
    /// aggregate this many times, at even intervals (each query closes one epoch).
    #[serde(default = "default_epochs")]
    pub epochs: Spanned<u64>,
    /// Store writes in flight.
    #[serde(default = "default_concurrency")]
    pub concurrency: Spanned<usize>,
}

fn default_span() -> Spanned<Dur> {
    Spanned::new(0..0, Dur::from_secs(365 * 86_400))
}
fn default_epochs() -> Spanned<u64> {
    Spanned::new(0..0, 52)
}
fn default_concurrency() -> Spanned<usize> {
    Spanned::new(0..0, 64)
}

/// `[prefill]` resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrefillPlan {
    /// How many events, or `None` when `bytes` decides.
    pub events: Option<u64>,
    pub bytes: Option<u64>,
    pub span_ns: u64,
    pub epochs: u64,
    pub concurrency: usize,
}

impl Prefill {
    pub fn plan(&self) -> PrefillPlan {
        PrefillPlan {
            events: self.events.as_ref().map(|e| *e.get_ref()),
            bytes: self.size.as_ref().map(|s| s.get_ref().0),
            span_ns: self.span.get_ref().as_nanos(),
            epochs: *self.epochs.get_ref(),
            concurrency: *self.concurrency.get_ref(),
        }
    }
}
