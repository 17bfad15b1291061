//! `eventbench capture`: a topic window's seed Events with their timestamps, written as
//! a [`crate::model::capture`] file for a `replay` workload. Read as the fit reads
//! (joins no group, commits nothing); what is not a seed Event is counted, not kept.

use std::collections::BTreeMap;

use super::{scan, seed_event, FitError, Source};
use crate::model::capture::{Header, FORMAT, VERSION};
use crate::model::Event;

/// The window's events in timestamp order, and the header that describes them.
pub fn capture(src: &Source, captured_at: String) -> Result<(Header, Vec<(i64, Event)>), FitError> {
    let mut skipped = BTreeMap::new();
    let mut events = Vec::new();
    scan(src, &mut skipped, |bytes, ts_ms| {
        events.push((ts_ms, seed_event(bytes)?));
        Ok(())
    })?;
    if events.is_empty() {
        return Err(super::no_events(&src.topic, &skipped));
    }
    // Stable: records of one millisecond keep their order within a partition.
    events.sort_by_key(|(ts, _)| *ts);
    let header = Header {
        format: FORMAT.into(),
        version: VERSION,
        bootstrap: src.bootstrap.clone(),
        topic: src.topic.clone(),
        first_ms: events.first().map_or(0, |e| e.0),
        last_ms: events.last().map_or(0, |e| e.0),
        records: events.len() as u64,
        skipped,
        captured_at,
    };
    Ok((header, events))
}
