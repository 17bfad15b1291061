//! The in-process store and the reference services: injectable service time, stalls,
//! workers, the query service.

use serde::Deserialize;
use toml::Spanned;

use crate::units::Dur;

/// The in-process store, with injectable service time and stalls, so measurement can
/// be checked against a known truth.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryStore {
    pub service_time: Option<Spanned<Latency>>,
    pub stall: Option<Spanned<Stall>>,
    /// Events kept per aggregate; older epochs are dropped past it (memory stays flat).
    #[serde(default = "default_keep")]
    pub keep_per_aggregate: usize,
    /// Requests served at once; the rest queue. With a fixed service time S this is a
    /// store of known capacity, `concurrency / S` requests per second.
    pub concurrency: Option<usize>,
    /// A store whose capacity follows the Universal Scalability Law by construction:
    /// each request's service time is multiplied by 1 + sigma (N - 1) + kappa N (N - 1),
    /// N = `concurrency`, so N servers serve N / (S (1 + ...)) requests per second.
    /// For checking a sizing fit against a known curve.
    pub contention: Option<Spanned<Contention>>,
}

/// The Universal Scalability Law's two costs of size: contention (sigma, the share of
/// the work that serializes) and coherency (kappa, the cost every pair pays).
#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Contention {
    pub sigma: f64,
    pub kappa: f64,
}

impl Contention {
    /// The service-time factor at `n` servers.
    pub fn factor(&self, n: usize) -> f64 {
        let n = n.max(1) as f64;
        1.0 + self.sigma * (n - 1.0) + self.kappa * n * (n - 1.0)
    }
}

fn default_keep() -> usize {
    20_000
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore {
            service_time: None,
            stall: None,
            keep_per_aggregate: default_keep(),
            concurrency: None,
            contention: None,
        }
    }
}

/// A distribution of injected service time.
#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, tag = "dist", rename_all = "lowercase")]
pub enum Latency {
    Fixed {
        value: Dur,
    },
    /// Log-normal given by its median and 99th percentile.
    Lognormal {
        median: Dur,
        p99: Dur,
    },
}

/// Every `every`, nothing completes for `for`: operations due then finish at its end.
#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Stall {
    pub every: Dur,
    #[serde(rename = "for")]
    pub duration: Dur,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceWorkers {
    pub workers: Spanned<usize>,
    /// Fault injection (embedded services only): drop every Nth consumed event
    /// silently, as a lossy service would, so the audit has something to find.
    pub drop_every: Option<Spanned<u64>>,
    /// Fault injection (embedded persistence service only): wait this long before each
    /// persist, a store made slower by a known amount (what a CI gate must catch).
    pub extra_latency: Option<crate::units::Dur>,
}

impl Default for ServiceWorkers {
    fn default() -> Self {
        // The original service runs a goroutine per message; this many concurrent handlers stands in.
        ServiceWorkers {
            workers: Spanned::new(0..0, 32),
            drop_every: None,
            extra_latency: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueryService {
    pub workers: Spanned<usize>,
    /// Events per reply (`KAFKA_EVENT_BATCH_SIZE`).
    pub batch_size: Spanned<usize>,
    /// Readers through the log: how long to wait for a first result batch. The original
    /// query service sends nothing for a query with no events, so silence this long means "empty".
    pub reply_timeout: Dur,
    /// Readers through the log: after a full batch, how long to wait for another
    /// before taking the last one seen as the end of the result.
    pub settle: Dur,
    /// Readers through the log: the EventStoreQuery they send.
    pub form: QueryForm,
    /// Readers through the log, v2.1.1 form only: queries of one aggregate may be
    /// outstanding together, each result told apart by its correlation id. Off, a
    /// reader waits for the previous query of its aggregate to be answered (what a
    /// client that hydrates one projection does). On, the queries race in the original
    /// service (each closes an epoch): a finding the audit shows, not one to hide.
    pub overlap: Spanned<bool>,
    /// Fault injection (embedded query service only): wait this long before each query.
    pub extra_latency: Option<Dur>,
    /// Fault injection (embedded query service only): wait this long between a
    /// result's batches, a service slower than the readers' `settle`.
    pub batch_gap: Option<Dur>,
    /// Fault injection (embedded query service only): process every query (epochs
    /// closed, events read) but send no reply at all.
    pub silent: bool,
}

impl Default for QueryService {
    fn default() -> Self {
        QueryService {
            workers: Spanned::new(0..0, 2),
            batch_size: Spanned::new(0..0, 6),
            reply_timeout: Dur::from_secs(1),
            settle: Dur::from_millis(50),
            form: QueryForm::default(),
            overlap: Spanned::new(0..0, false),
            extra_latency: None,
            batch_gap: None,
            silent: false,
        }
    }
}

/// Which `EventStoreQuery` readers send through the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
pub enum QueryForm {
    /// go-eventstore-models v2.1.1 (`correlation_id`, `year_bucket` added): what every
    /// v1.x query service decodes, so the original answers it; replies are attributed
    /// to their query by correlation id.
    #[default]
    #[serde(rename = "v2.1.1")]
    V211,
    /// v2.0.1's two fields, for consumers of that release: replies are known only by
    /// aggregate (the original v1.x query service reads year bucket 0 and never answers).
    #[serde(rename = "v2.0.1")]
    V201,
}
