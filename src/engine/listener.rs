//! Consumes what comes back and times it against the intended send: persistence
//! replies (matched by the correlation id, which carries the intended time), or, with
//! no services, the produced records themselves (their headers carry it).

use std::sync::Arc;

use crate::backend::AnyConsumer;
use crate::clock::Clock;
use crate::datagen::read_tag;
use crate::model::{Event, KafkaResponse, Strictness};
use crate::stats::{ErrorClass, Registry, Stage};

/// What the listener reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// KafkaResponses from the persistence service.
    Replies,
    /// The Event records produced (no services).
    Events,
}

/// Unattributable input: replies that are not ours, or do not decode.
#[derive(Default, Debug, Clone, Copy)]
pub struct Strays {
    pub malformed: u64,
    pub foreign: u64,
}

/// Runs until the consumer ends or `stop` fires; returns what it could not attribute.
pub async fn listen(
    mut consumer: AnyConsumer,
    source: Source,
    clock: Clock,
    run_tag: u64,
    reg: Arc<Registry>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Strays {
    let mut strays = Strays::default();
    loop {
        let Some(record) = crate::service::next_record(&mut consumer, &mut stop).await else {
            return strays;
        };
        let t0 = clock.now();
        let (intended, workload, error) = match source {
            Source::Replies => match KafkaResponse::decode(&record.payload, Strictness::Lenient) {
                Ok(r) => match read_tag(&r.correlation_id).filter(|t| t.run_tag == run_tag) {
                    Some(tag) => (tag.value, tag.workload, !r.error.is_empty()),
                    None => {
                        strays.foreign += 1;
                        continue;
                    }
                },
                Err(_) => {
                    strays.malformed += 1;
                    continue;
                }
            },
            Source::Events => {
                let Some(h) = record.headers.filter(|h| h.run_tag == run_tag) else {
                    strays.foreign += 1;
                    continue;
                };
                match Event::decode(&record.payload, Strictness::Strict) {
                    Ok(e) => match read_tag(&e.correlation_id) {
                        Some(tag) => (h.intended_ns, tag.workload, false),
                        None => {
                            strays.foreign += 1;
                            continue;
                        }
                    },
                    Err(_) => {
                        strays.malformed += 1;
                        continue;
                    }
                }
            }
        };
        let t1 = clock.now();
        if workload >= reg.workloads() {
            strays.foreign += 1;
            continue;
        }
        reg.with(workload, intended, |h| {
            h.record(Stage::Deserialize, t1 - t0);
            if error {
                h.record(Stage::Failed, t1.saturating_sub(intended));
                h.error(ErrorClass::Rejected);
            } else {
                h.record(Stage::E2e, t1.saturating_sub(intended));
            }
        });
    }
}
