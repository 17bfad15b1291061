//! `Event`: a change in the system, as stored in the event store.

use serde::de::MapAccess;
use uuid::Uuid;

use super::gojson::{self, next_bytes, next_int, next_or_keep, next_parsed, next_time, GoDecode, UuidText};
use super::time::GoTime;

/// The original `Event` (go-eventstore-models v2.0.1), field for field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Event {
    pub action: String,
    pub correlation_id: Uuid,
    pub aggregate_id: i8,
    /// `None` is Go's nil slice (`null`), `Some(vec![])` an empty one (`""`).
    pub data: Option<Vec<u8>>,
    pub timestamp: GoTime,
    pub user_uuid: Uuid,
    pub uuid: Uuid,
    pub version: i64,
    pub year_bucket: i16,
}

impl Event {
    /// Appends the exact bytes Go's `json.Marshal` produces.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"action\":");
        gojson::write_str(out, &self.action);
        out.extend_from_slice(b",\"correlation_id\":");
        gojson::write_uuid(out, &self.correlation_id);
        out.extend_from_slice(b",\"aggregate_id\":");
        gojson::write_int(out, self.aggregate_id as i64);
        out.extend_from_slice(b",\"data\":");
        gojson::write_bytes(out, self.data.as_deref());
        out.extend_from_slice(b",\"timestamp\":");
        gojson::write_time(out, &self.timestamp);
        out.extend_from_slice(b",\"user_uuid\":");
        gojson::write_uuid(out, &self.user_uuid);
        out.extend_from_slice(b",\"uuid\":");
        gojson::write_uuid(out, &self.uuid);
        out.extend_from_slice(b",\"version\":");
        gojson::write_int(out, self.version);
        out.extend_from_slice(b",\"year_bucket\":");
        gojson::write_int(out, self.year_bucket as i64);
        out.push(b'}');
    }

    /// The Go JSON as a new vector.
    pub fn to_json(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(256 + self.data.as_ref().map_or(0, |d| d.len() * 4 / 3));
        self.encode_into(&mut v);
        v
    }
}

impl GoDecode for Event {
    const FIELDS: &'static [&'static str] = &[
        "action",
        "correlation_id",
        "aggregate_id",
        "data",
        "timestamp",
        "user_uuid",
        "uuid",
        "version",
        "year_bucket",
    ];
    const NAME: &'static str = "Event";

    fn decode_field<'de, A: MapAccess<'de>>(&mut self, idx: usize, map: &mut A) -> Result<(), A::Error> {
        match idx {
            0 => next_or_keep(map, &mut self.action),
            1 => next_parsed::<A, UuidText>(map, &mut self.correlation_id),
            2 => next_int(map, &mut self.aggregate_id),
            3 => next_bytes(map, &mut self.data),
            4 => next_time(map, &mut self.timestamp),
            5 => next_parsed::<A, UuidText>(map, &mut self.user_uuid),
            6 => next_parsed::<A, UuidText>(map, &mut self.uuid),
            7 => next_int(map, &mut self.version),
            _ => next_int(map, &mut self.year_bucket),
        }
    }
}
