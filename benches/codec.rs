//! Go-exact JSON encode and decode of the seed models at several payload sizes, with
//! serde_json's generic parser beside it as a reference point.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use eventbench::model::{Event, EventStoreQuery, GoTime, KafkaResponse, Strictness};
use std::hint::black_box;

fn event(size: usize) -> Event {
    Event {
        action: "register_user".into(),
        correlation_id: uuid::Uuid::from_u128(0x7b5a1c2e_1f00_4c3e_9a51_0d2b3c4d5e6f),
        aggregate_id: 42,
        data: Some((0..size).map(|i| (i * 31 % 251) as u8).collect()),
        timestamp: GoTime::from_unix_nanos(1_764_132_286_123_456_789),
        user_uuid: uuid::Uuid::from_u128(0x11111111_2222_4333_8444_555555555555),
        uuid: uuid::Uuid::from_u128(0xaaaaaaaa_bbbb_4ccc_8ddd_eeeeeeeeeeee),
        version: 17,
        year_bucket: 2026,
    }
}

fn codec(c: &mut Criterion) {
    for size in [64usize, 1024, 16 * 1024] {
        let e = event(size);
        let json = e.to_json();
        let mut g = c.benchmark_group("event");
        g.throughput(Throughput::Bytes(json.len() as u64));
        let mut buf = Vec::with_capacity(json.len());
        g.bench_with_input(BenchmarkId::new("encode", size), &e, |b, e| {
            b.iter(|| {
                buf.clear();
                e.encode_into(&mut buf);
                black_box(buf.len())
            })
        });
        g.bench_with_input(BenchmarkId::new("decode_strict", size), &json, |b, j| {
            b.iter(|| black_box(Event::decode(j, Strictness::Strict).map(|e| e.version)))
        });
        // What the listener does with a record it times: the correlation id of an
        // Event the strict decoder would accept, nothing else kept.
        g.bench_with_input(BenchmarkId::new("correlation_strict", size), &json, |b, j| {
            b.iter(|| black_box(Event::correlation_of(j, Strictness::Strict).map(|u| u.as_u128())))
        });
        g.bench_with_input(BenchmarkId::new("encode_decode", size), &e, |b, e| {
            b.iter(|| {
                buf.clear();
                e.encode_into(&mut buf);
                black_box(Event::decode(&buf, Strictness::Strict).map(|e| e.version))
            })
        });
        g.bench_with_input(BenchmarkId::new("serde_json_value_parse", size), &json, |b, j| {
            b.iter(|| black_box(serde_json::from_slice::<serde_json::Value>(j).map(|v| v.is_object())))
        });
        g.finish();

        let mut g = c.benchmark_group("kafka_response");
        let mut out = Vec::new();
        KafkaResponse::encode_parts(&mut out, 42, &e.correlation_id, Some(&json), "", None);
        g.throughput(Throughput::Bytes(out.len() as u64));
        let mut buf = Vec::new();
        g.bench_with_input(BenchmarkId::new("encode", size), &json, |b, input| {
            b.iter(|| {
                buf.clear();
                KafkaResponse::encode_parts(&mut buf, 42, &e.correlation_id, Some(input), "", None);
                black_box(buf.len())
            })
        });
        g.bench_with_input(BenchmarkId::new("decode", size), &out, |b, j| {
            b.iter(|| black_box(KafkaResponse::decode(j, Strictness::Lenient).map(|r| r.aggregate_id)))
        });
        g.finish();
    }
    let q = EventStoreQuery {
        aggregate_id: 9,
        aggregate_version: 123_456,
    };
    let mut buf = Vec::new();
    q.encode_into(&mut buf);
    let json = buf.clone();
    c.bench_function("event_store_query/encode", |b| {
        b.iter(|| {
            buf.clear();
            q.encode_into(&mut buf);
            black_box(buf.len())
        })
    });
    c.bench_function("event_store_query/decode", |b| {
        b.iter(|| black_box(EventStoreQuery::decode(&json, Strictness::Lenient)))
    });
}

criterion_group!(benches, codec);
criterion_main!(benches);
