//! The three small event-store models: `EventMeta`, `EventStoreQuery`, `KafkaResponse`.

use serde::de::MapAccess;
use uuid::Uuid;

use super::gojson::{self, next_bytes, next_or_keep, next_parsed, GoDecode, Strictness, UuidText};

/// Where the next events of an aggregate get their version (`events_meta` row).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventMeta {
    pub aggregate_version: i64,
    pub aggregate_id: i8,
    pub partition_key: i8,
}

impl EventMeta {
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"aggregate_version\":");
        gojson::write_int(out, self.aggregate_version);
        out.extend_from_slice(b",\"aggregate_id\":");
        gojson::write_int(out, self.aggregate_id as i64);
        out.extend_from_slice(b",\"partition_key\":");
        gojson::write_int(out, self.partition_key as i64);
        out.push(b'}');
    }

    pub fn decode(bytes: &[u8], mode: Strictness) -> Result<Self, serde_json::Error> {
        gojson::decode(bytes, mode)
    }
}

impl GoDecode for EventMeta {
    const FIELDS: &'static [&'static str] = &["aggregate_version", "aggregate_id", "partition_key"];
    const NAME: &'static str = "EventMeta";
    fn decode_field<'de, A: MapAccess<'de>>(&mut self, idx: usize, map: &mut A) -> Result<(), A::Error> {
        match idx {
            0 => next_or_keep(map, &mut self.aggregate_version),
            1 => next_or_keep(map, &mut self.aggregate_id),
            _ => next_or_keep(map, &mut self.partition_key),
        }
    }
}

/// A request for the events of an aggregate newer than `aggregate_version`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventStoreQuery {
    pub aggregate_id: i8,
    pub aggregate_version: i64,
}

impl EventStoreQuery {
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"aggregate_id\":");
        gojson::write_int(out, self.aggregate_id as i64);
        out.extend_from_slice(b",\"aggregate_version\":");
        gojson::write_int(out, self.aggregate_version);
        out.push(b'}');
    }

    pub fn decode(bytes: &[u8], mode: Strictness) -> Result<Self, serde_json::Error> {
        gojson::decode(bytes, mode)
    }
}

impl GoDecode for EventStoreQuery {
    const FIELDS: &'static [&'static str] = &["aggregate_id", "aggregate_version"];
    const NAME: &'static str = "EventStoreQuery";
    fn decode_field<'de, A: MapAccess<'de>>(&mut self, idx: usize, map: &mut A) -> Result<(), A::Error> {
        match idx {
            0 => next_or_keep(map, &mut self.aggregate_id),
            _ => next_or_keep(map, &mut self.aggregate_version),
        }
    }
}

/// A service's answer to one consumed message. `topic` is where it goes; it is never
/// part of the JSON (Go's `json:"-"`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KafkaResponse {
    pub aggregate_id: i8,
    pub correlation_id: Uuid,
    pub input: Option<Vec<u8>>,
    pub error: String,
    pub result: Option<Vec<u8>>,
    pub topic: String,
}

impl KafkaResponse {
    /// Appends Go's JSON. `input` is taken separately so a service can answer with the
    /// consumed bytes without copying them into the struct first.
    pub fn encode_parts(
        out: &mut Vec<u8>,
        aggregate_id: i8,
        correlation_id: &Uuid,
        input: Option<&[u8]>,
        error: &str,
        result: Option<&[u8]>,
    ) {
        out.push(b'{');
        if aggregate_id != 0 {
            out.extend_from_slice(b"\"aggregate_id\":");
            gojson::write_int(out, aggregate_id as i64);
            out.push(b',');
        }
        out.extend_from_slice(b"\"correlation_id\":");
        gojson::write_uuid(out, correlation_id);
        out.extend_from_slice(b",\"input\":");
        gojson::write_bytes(out, input);
        out.extend_from_slice(b",\"error\":");
        gojson::write_str(out, error);
        if let Some(r) = result.filter(|r| !r.is_empty()) {
            out.extend_from_slice(b",\"result\":");
            gojson::write_bytes(out, Some(r));
        }
        out.push(b'}');
    }

    pub fn encode_into(&self, out: &mut Vec<u8>) {
        Self::encode_parts(
            out,
            self.aggregate_id,
            &self.correlation_id,
            self.input.as_deref(),
            &self.error,
            self.result.as_deref(),
        );
    }

    pub fn decode(bytes: &[u8], mode: Strictness) -> Result<Self, serde_json::Error> {
        gojson::decode(bytes, mode)
    }
}

impl GoDecode for KafkaResponse {
    const FIELDS: &'static [&'static str] = &["aggregate_id", "correlation_id", "input", "error", "result"];
    const NAME: &'static str = "KafkaResponse";
    fn decode_field<'de, A: MapAccess<'de>>(&mut self, idx: usize, map: &mut A) -> Result<(), A::Error> {
        match idx {
            0 => next_or_keep(map, &mut self.aggregate_id),
            1 => next_parsed::<A, UuidText>(map, &mut self.correlation_id),
            2 => next_bytes(map, &mut self.input),
            3 => next_or_keep(map, &mut self.error),
            _ => next_bytes(map, &mut self.result),
        }
    }
}
