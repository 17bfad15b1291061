//! The seed models' codec on any bytes: the first byte picks the type (event, meta,
//! query, response), the rest is the input. Decoding never panics, in lenient or strict
//! mode, one value or a batch; and what decodes encodes to bytes that decode again
//! (strictly: nothing unknown) and encode to the same bytes. Go's verdict on the same
//! inputs is the differential driver's job (examples/differential.rs).
#![no_main]

use eventbench::model::{Event, EventMeta, EventStoreQuery, KafkaResponse, Strictness};
use libfuzzer_sys::fuzz_target;

type Decode<T> = fn(&[u8], Strictness) -> Result<T, serde_json::Error>;

fn round_trip<T>(input: &[u8], decode: Decode<T>, encode: fn(&T, &mut Vec<u8>)) {
    let _ = decode(input, Strictness::Strict);
    let Ok(v) = decode(input, Strictness::Lenient) else {
        return;
    };
    let mut once = Vec::new();
    encode(&v, &mut once);
    let again = match decode(&once, Strictness::Strict) {
        Ok(v) => v,
        Err(e) => panic!(
            "our own encoding does not decode: {e}: {}",
            String::from_utf8_lossy(&once)
        ),
    };
    let mut twice = Vec::new();
    encode(&again, &mut twice);
    assert_eq!(once, twice, "encode of decode of encode differs");
}

fuzz_target!(|data: &[u8]| {
    let Some((kind, input)) = data.split_first() else {
        return;
    };
    match kind % 4 {
        0 => {
            round_trip(input, Event::decode, Event::encode_into);
            let _ = Event::decode_batch(input);
        }
        1 => round_trip(input, EventMeta::decode, EventMeta::encode_into),
        2 => round_trip(input, EventStoreQuery::decode, EventStoreQuery::encode_into),
        _ => round_trip(input, KafkaResponse::decode, KafkaResponse::encode_into),
    }
});
