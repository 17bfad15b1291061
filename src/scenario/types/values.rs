//! The scenario's values as what reads them needs them: each spanned field (kept so
//! validation can point at it) read through a method that returns the plain value,
//! so nothing past `scenario/` sees a span.

use std::collections::BTreeMap;

use super::{
    Aggregates, Burst, Contention, Data, KafkaSettings, Latency, MemoryStore, Payload, Phase, QueryService, Scenario,
    ScheduledFault, ScyllaSettings, ServiceWorkers, Stall, Workload,
};
use crate::units::Dur;

impl Scenario {
    pub fn name(&self) -> &str {
        self.name.get_ref()
    }
    pub fn duration(&self) -> Option<Dur> {
        self.duration.as_ref().map(|d| *d.get_ref())
    }
    pub fn warmup(&self) -> Dur {
        *self.warmup.get_ref()
    }
    pub fn interval(&self) -> Dur {
        *self.interval.get_ref()
    }
    /// The workloads by name, in name order.
    pub fn workloads(&self) -> impl Iterator<Item = (&String, &Workload)> {
        self.workload.get_ref().iter().map(|(n, w)| (n, w.get_ref()))
    }
    pub fn faults(&self) -> impl Iterator<Item = &ScheduledFault> {
        self.fault.iter().map(|f| f.get_ref())
    }
    pub fn prefill(&self) -> Option<&crate::scenario::Prefill> {
        self.prefill.as_ref().map(|p| p.get_ref())
    }
}

impl Workload {
    pub fn rate(&self) -> Option<f64> {
        self.rate.as_ref().map(|r| *r.get_ref())
    }
    pub fn concurrency(&self) -> Option<usize> {
        self.concurrency.as_ref().map(|c| *c.get_ref())
    }
    pub fn max_in_flight(&self) -> usize {
        *self.max_in_flight.get_ref()
    }
    pub fn release_window(&self) -> Option<Dur> {
        self.release_window.as_ref().map(|d| *d.get_ref())
    }
    pub fn phases(&self) -> Vec<Phase> {
        self.phase.iter().map(|p| p.get_ref().clone()).collect()
    }
    pub fn bursts(&self) -> Vec<Burst> {
        self.burst.iter().map(|b| *b.get_ref()).collect()
    }
    pub fn capture(&self) -> Option<&str> {
        self.capture.as_ref().map(|c| c.get_ref().as_str())
    }
    pub fn speed(&self) -> Option<f64> {
        self.speed.as_ref().map(|s| *s.get_ref())
    }
}

impl Data {
    pub fn aggregates(&self) -> &Aggregates {
        self.aggregates.get_ref()
    }
    pub fn actions(&self) -> &BTreeMap<String, u32> {
        self.actions.get_ref()
    }
    pub fn payload(&self) -> &Payload {
        self.payload.get_ref()
    }
    pub fn compressibility(&self) -> f64 {
        *self.compressibility.get_ref()
    }
    pub fn users(&self) -> u64 {
        *self.users.get_ref()
    }
}

impl KafkaSettings {
    pub fn acks(&self) -> &str {
        self.acks.get_ref()
    }
    pub fn compression(&self) -> &str {
        self.compression.get_ref()
    }
}

impl ScyllaSettings {
    pub fn page_size(&self) -> i32 {
        *self.page_size.get_ref()
    }
}

impl MemoryStore {
    pub fn service_time(&self) -> Option<&Latency> {
        self.service_time.as_ref().map(|l| l.get_ref())
    }
    pub fn stall(&self) -> Option<&Stall> {
        self.stall.as_ref().map(|s| s.get_ref())
    }
    pub fn contention(&self) -> Option<&Contention> {
        self.contention.as_ref().map(|c| c.get_ref())
    }
}

impl ServiceWorkers {
    pub fn workers(&self) -> usize {
        *self.workers.get_ref()
    }
    pub fn drop_every(&self) -> Option<u64> {
        self.drop_every.as_ref().map(|d| *d.get_ref())
    }
}

impl QueryService {
    pub fn workers(&self) -> usize {
        *self.workers.get_ref()
    }
    pub fn batch_size(&self) -> usize {
        *self.batch_size.get_ref()
    }
    pub fn overlap(&self) -> bool {
        *self.overlap.get_ref()
    }
}
