//! What the harness itself costs per operation: recording into the per-thread
//! histograms, claiming from the shared schedule, and generating an event.

use criterion::{criterion_group, criterion_main, Criterion};
use eventbench::datagen::Generator;
use eventbench::engine::schedule::Schedule;
use eventbench::model::Event;
use eventbench::plan::RateProfile;
use eventbench::scenario::{Arrival, Data};
use eventbench::stats::{Registry, Stage};
use std::hint::black_box;

fn harness(c: &mut Criterion) {
    let reg = Registry::new(1, 0);
    let mut v = 1_000u64;
    // One operation's worth of recording, as a produce worker does it.
    c.bench_function("recorder/record_op_4_stages", |b| {
        b.iter(|| {
            v = v.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) % 50_000_000 + 1_000;
            reg.with(0, 10, |h| {
                h.record(Stage::Lag, v / 100);
                h.record(Stage::Produce, v);
                h.record(Stage::ProduceService, v / 2);
                h.record(Stage::Serialize, v / 1000);
                h.counters.ok += 1;
            })
        })
    });
    c.bench_function("recorder/record_one_value", |b| {
        b.iter(|| {
            v = v.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) % 50_000_000 + 1_000;
            reg.with(0, 10, |h| h.record(Stage::E2e, black_box(v)))
        })
    });
    let long = 1_000_000_000_000_000; // ~11.5 days: never runs out in a benchmark
    let constant = Schedule::new(RateProfile::constant(1e6, long), Arrival::Constant, 1);
    c.bench_function("schedule/claim_constant", |b| b.iter(|| black_box(constant.claim())));
    let poisson = Schedule::new(RateProfile::constant(1e6, long), Arrival::Poisson, 1);
    c.bench_function("schedule/claim_poisson", |b| b.iter(|| black_box(poisson.claim())));
    let gen = Generator::new(&Data::default(), 1, 0, 7);
    let mut e = Event::default();
    let mut i = 0u64;
    c.bench_function("datagen/fill_event_256B", |b| {
        b.iter(|| {
            i += 1;
            gen.fill_event(i, i * 1000, 1_764_000_000_000_000_000 + i as i128, &mut e);
            black_box(e.aggregate_id)
        })
    });
}

criterion_group!(benches, harness);
criterion_main!(benches);
