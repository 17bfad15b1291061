//! The reply listener's handling of records from any producer on the reply topics:
//! headers and body as they come. Each record is one of this run's answers, or counted
//! as malformed or foreign; none is fatal, none panics. The input is records separated
//! by `\0--\0`; each record's first byte picks its source (persistence reply, query
//! result, produced event) and whether it carries our headers (then 16 bytes of them,
//! intended time and run tag, big-endian), the rest is the body. Its bit 0x20 gives the
//! record a log time (the reply hop's start): a Kafka timestamp from the body's length
//! and first byte, anywhere from before the Unix epoch to far past the run.
#![no_main]

use bytes::Bytes;
use eventbench::backend::{Headers, LogTime, Record};
use eventbench::engine::{handle_records, Source};
use libfuzzer_sys::fuzz_target;

const RUN_TAG: u64 = 0x1234;
static RUN_TAG_BYTES: [u8; 8] = RUN_TAG.to_be_bytes();

fuzz_target!(|data: &[u8]| {
    let mut records = Vec::new();
    let mut rest = data;
    loop {
        let (one, next) = match rest.windows(4).position(|w| w == b"\0--\0") {
            Some(at) => (&rest[..at], Some(&rest[at + 4..])),
            None => (rest, None),
        };
        if let Some((&how, mut body)) = one.split_first() {
            let source = [Source::Replies, Source::QueryResults, Source::Events][how as usize % 3];
            let headers = if how & 0x80 != 0 && body.len() >= 16 {
                let (h, b) = body.split_at(16);
                body = b;
                Headers::from_pairs([
                    (Headers::INTENDED, Some(&h[..8])),
                    (
                        Headers::RUN,
                        Some(if how & 0x40 != 0 { &RUN_TAG_BYTES[..] } else { &h[8..] }),
                    ),
                ])
            } else {
                None
            };
            let topic = [
                "event.persistence.response",
                "events.rns_eventstore.eventsquery.3",
                "event.rns_eventstore.events",
            ][how as usize % 3];
            records.push((
                source,
                Record {
                    topic: topic.into(),
                    payload: Bytes::copy_from_slice(body),
                    headers,
                    ack: None,
                    log_time: (how & 0x20 != 0).then(|| LogTime::Wall {
                        ms: (body.len() as i64 - 8)
                            .wrapping_mul(i64::from(body.first().copied().unwrap_or(1)))
                            .wrapping_mul(1_000_000_007),
                        append: how & 0x10 != 0,
                    }),
                },
            ));
        }
        match next {
            Some(n) => rest = n,
            None => break,
        }
    }
    let strays = handle_records(&records, RUN_TAG, 2);
    assert!(strays.malformed + strays.foreign <= records.len() as u64);
});
