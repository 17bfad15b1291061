//! Consumes what comes back and times it against the intended send: persistence
//! replies (matched by the correlation id, which carries the intended time), or, with
//! no services, the produced records themselves (their headers carry it).

use std::sync::Arc;

use crate::backend::{AnyConsumer, Record};
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
        let (intended, workload, error) = match attribute(source, &record, run_tag, reg.workloads()) {
            Ok(found) => found,
            Err(Stray::Malformed) => {
                strays.malformed += 1;
                continue;
            }
            Err(Stray::Foreign) => {
                strays.foreign += 1;
                continue;
            }
        };
        let t1 = clock.now();
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

enum Stray {
    Malformed,
    Foreign,
}

/// Which of this run's operations a record answers: (intended send ns, workload,
/// whether the answer is an error).
fn attribute(source: Source, record: &Record, run_tag: u64, workloads: usize) -> Result<(u64, usize, bool), Stray> {
    let (intended, correlation, error) = match source {
        Source::Replies => {
            let r = KafkaResponse::decode(&record.payload, Strictness::Lenient).map_err(|_| Stray::Malformed)?;
            (None, r.correlation_id, !r.error.is_empty())
        }
        Source::Events => {
            // Another run's record is foreign before it is anything else.
            let h = record.headers.filter(|h| h.run_tag == run_tag).ok_or(Stray::Foreign)?;
            let e = Event::decode(&record.payload, Strictness::Strict).map_err(|_| Stray::Malformed)?;
            (Some(h.intended_ns), e.correlation_id, false)
        }
    };
    let tag = match source {
        Source::Replies => read_tag(&correlation).filter(|t| t.run_tag == run_tag),
        Source::Events => read_tag(&correlation),
    };
    let tag = tag.filter(|t| t.workload < workloads).ok_or(Stray::Foreign)?;
    // Replies carry the intended time in the correlation id; records in their headers.
    Ok((intended.unwrap_or(tag.value), tag.workload, error))
}
