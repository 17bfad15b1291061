//! How an Event is read off the wire: the canonical shape's fast path first (all that
//! eventbench and a Go producer write), then Go's own rules. Apart from event.rs so
//! that the fast path, which builds Events, and the Event type do not import each other.

use uuid::Uuid;

use super::canonical;
use super::event::Event;
use super::gojson::{self, Strictness};

impl Event {
    /// Decodes as Go would (`Strict` refuses unknown keys like the persistence service).
    /// The canonical shape (all that eventbench and a Go producer write) takes the
    /// fast path, which accepts only what this would decode the same way.
    pub fn decode(bytes: &[u8], mode: Strictness) -> Result<Event, serde_json::Error> {
        if let Some(e) = canonical::decode_event(bytes) {
            return Ok(e);
        }
        gojson::decode(bytes, mode)
    }

    /// The correlation id of an Event that [`Event::decode`] would accept, without
    /// keeping the rest: the canonical shape is checked with nothing allocated, the
    /// rest is decoded the general way.
    pub fn correlation_of(bytes: &[u8], mode: Strictness) -> Result<Uuid, serde_json::Error> {
        if let Some(id) = canonical::correlation_of(bytes) {
            return Ok(id);
        }
        gojson::decode::<Event>(bytes, mode).map(|e| e.correlation_id)
    }

    /// Decodes a query result batch: a JSON array of Events.
    pub fn decode_batch(bytes: &[u8]) -> Result<Vec<Event>, serde_json::Error> {
        if let Some(events) = canonical::decode_events(bytes) {
            return Ok(events);
        }
        gojson::decode_array(bytes, Strictness::Lenient)
    }
}
