//! The three small event-store models: `EventMeta`, `EventStoreQuery`, `KafkaResponse`.

use serde::de::MapAccess;
use uuid::Uuid;

use super::gojson::{self, next_bytes, next_int, next_or_keep, next_parsed, GoDecode, Strictness, UuidText};

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
            0 => next_int(map, &mut self.aggregate_version),
            1 => next_int(map, &mut self.aggregate_id),
            _ => next_int(map, &mut self.partition_key),
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
            0 => next_int(map, &mut self.aggregate_id),
            _ => next_int(map, &mut self.aggregate_version),
        }
    }
}

/// The `EventStoreQuery` of go-eventstore-models v2.1.1, which every v1.x query service
/// decodes: v2.0.1's two fields plus `correlation_id` (echoed in every reply batch and
/// error reply, so a reader can attribute each batch to its query) and `year_bucket`
/// (the partition the service reads; without it the original reads bucket 0 and finds
/// nothing). A v2.0.1 consumer ignores the two extra fields, so this form is safe for
/// both; [`EventStoreQuery`] keeps the v2.0.1 form byte for byte.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventStoreQuery211 {
    pub aggregate_id: i8,
    pub aggregate_version: i64,
    pub correlation_id: Uuid,
    pub year_bucket: i16,
}

impl EventStoreQuery211 {
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"aggregate_id\":");
        gojson::write_int(out, self.aggregate_id as i64);
        out.extend_from_slice(b",\"aggregate_version\":");
        gojson::write_int(out, self.aggregate_version);
        out.extend_from_slice(b",\"correlation_id\":");
        gojson::write_uuid(out, &self.correlation_id);
        out.extend_from_slice(b",\"year_bucket\":");
        gojson::write_int(out, self.year_bucket as i64);
        out.push(b'}');
    }

    /// Decodes either form: a v2.0.1 message leaves a nil correlation id and year 0.
    pub fn decode(bytes: &[u8], mode: Strictness) -> Result<Self, serde_json::Error> {
        gojson::decode(bytes, mode)
    }
}

impl From<EventStoreQuery> for EventStoreQuery211 {
    fn from(q: EventStoreQuery) -> Self {
        EventStoreQuery211 {
            aggregate_id: q.aggregate_id,
            aggregate_version: q.aggregate_version,
            ..EventStoreQuery211::default()
        }
    }
}

impl GoDecode for EventStoreQuery211 {
    const FIELDS: &'static [&'static str] = &["aggregate_id", "aggregate_version", "correlation_id", "year_bucket"];
    const NAME: &'static str = "EventStoreQuery";
    fn decode_field<'de, A: MapAccess<'de>>(&mut self, idx: usize, map: &mut A) -> Result<(), A::Error> {
        match idx {
            0 => next_int(map, &mut self.aggregate_id),
            1 => next_int(map, &mut self.aggregate_version),
            2 => next_parsed::<A, UuidText>(map, &mut self.correlation_id),
            _ => next_int(map, &mut self.year_bucket),
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
            0 => next_int(map, &mut self.aggregate_id),
            1 => next_parsed::<A, UuidText>(map, &mut self.correlation_id),
            2 => next_bytes(map, &mut self.input),
            3 => next_or_keep(map, &mut self.error),
            _ => next_bytes(map, &mut self.result),
        }
    }
}

#[cfg(test)]
mod query_forms {
    use super::*;

    #[test]
    fn the_v2_1_1_query_is_go_json_in_struct_order_and_reads_both_forms() {
        let id = Uuid::parse_str("7B5A1C2E-1F00-4C3E-9A51-0D2B3C4D5E6F").expect("uuid");
        let q = EventStoreQuery211 {
            aggregate_id: 5,
            aggregate_version: 9,
            correlation_id: id,
            year_bucket: 2026,
        };
        let mut out = Vec::new();
        q.encode_into(&mut out);
        assert_eq!(
            String::from_utf8(out.clone()).expect("utf8"),
            r#"{"aggregate_id":5,"aggregate_version":9,"correlation_id":"7b5a1c2e-1f00-4c3e-9a51-0d2b3c4d5e6f","year_bucket":2026}"#
        );
        assert_eq!(EventStoreQuery211::decode(&out, Strictness::Strict).expect("decode"), q);
        // The v2.0.1 form: nil correlation id, year 0 (what the original then reads).
        let old = EventStoreQuery211::decode(br#"{"aggregate_id":5,"aggregate_version":9}"#, Strictness::Strict)
            .expect("decode");
        assert_eq!(
            old,
            EventStoreQuery211::from(EventStoreQuery {
                aggregate_id: 5,
                aggregate_version: 9
            })
        );
        // A v2.0.1 consumer reads the new form, ignoring what it does not know.
        let v201 = EventStoreQuery::decode(&out, Strictness::Lenient).expect("lenient");
        assert_eq!((v201.aggregate_id, v201.aggregate_version), (5, 9));
    }
}
