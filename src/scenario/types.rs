//! What a scenario file may say. Every table refuses unknown keys, so a typo is an
//! error that names its line, never a silently ignored setting.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::units::{Dur, Size};

/// A whole scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: String,
    /// Seed of every random choice: same seed and scenario, same events.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Total run time; may be left out when every workload has phases.
    pub duration: Option<Spanned<Dur>>,
    /// Leading time whose intervals are logged but left out of the summary.
    #[serde(default = "default_warmup")]
    pub warmup: Spanned<Dur>,
    /// Length of one histogram interval in the interval log.
    #[serde(default = "default_interval")]
    pub interval: Spanned<Dur>,
    /// How long to wait for outstanding replies after the last operation was issued.
    #[serde(default = "default_drain")]
    pub drain: Dur,
    /// Tokio worker threads; 0 means one per core.
    #[serde(default)]
    pub threads: usize,
    /// More settings whose values are secrets, beside the ones eventbench knows
    /// (passwords, tokens, keys in PEM, ...): a key (`"sasl.oauthbearer.extensions"`) or
    /// the end of a dotted path. Their values are redacted wherever the scenario is recorded.
    #[serde(default)]
    pub secret_keys: Vec<String>,
    #[serde(default)]
    pub target: Target,
    #[serde(default)]
    pub data: Data,
    pub workload: Spanned<BTreeMap<String, Spanned<Workload>>>,
    #[serde(default)]
    pub audit: Audit,
    /// Live Prometheus metrics while the run goes (`run --metrics-listen` overrides).
    #[serde(default)]
    pub metrics: Metrics,
    /// Conditions for a CI verdict, e.g. `"producers.e2e.persisted.p99" = "< 50ms"`.
    #[serde(default)]
    pub thresholds: BTreeMap<String, Spanned<crate::thresholds::Spec>>,
    /// A run that is `generator-limited` or `target-saturated` still passes (exit 0
    /// instead of 4): for deliberate overloads and fault runs, whose point is the
    /// numbers at and past the limit.
    #[serde(default)]
    pub allow_unhealthy: bool,
    /// Faults caused on a schedule (`[[fault]]`): a service paused, the memory store
    /// held, a command run (and another at `until`).
    #[serde(default)]
    pub fault: Vec<Spanned<ScheduledFault>>,
    /// History written before the measured run (`[prefill]`).
    #[serde(default)]
    pub prefill: Option<Spanned<super::Prefill>>,
}

/// One fault of a run: from `at` (run time) until `until`, one action.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScheduledFault {
    pub at: Dur,
    #[serde(default)]
    pub until: Option<Dur>,
    /// An embedded service stops taking records (its backlog grows) until `until`.
    #[serde(default)]
    pub pause: Option<PausedService>,
    /// `"store"`: the memory store holds every request that would complete before
    /// `until` to `until` (a store node that stopped answering).
    #[serde(default)]
    pub stall: Option<StalledPart>,
    /// A shell command run at `at` (`sh -c`), its output kept with the run.
    #[serde(default)]
    pub run: Option<String>,
    /// A shell command run at `until`.
    #[serde(default)]
    pub then: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PausedService {
    Persistence,
    Query,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StalledPart {
    Store,
}

impl ScheduledFault {
    /// What it does, as the report names it.
    pub fn describe(&self) -> String {
        let what = match (&self.pause, &self.stall, &self.run) {
            (Some(PausedService::Persistence), _, _) => "persistence paused".to_string(),
            (Some(PausedService::Query), _, _) => "query service paused".to_string(),
            (_, Some(StalledPart::Store), _) => "store stalled".to_string(),
            (_, _, Some(cmd)) => format!("`{cmd}`"),
            _ => "nothing".to_string(),
        };
        // Seconds as a reader writes them: "1.5s", "10s".
        let s = |d: Dur| {
            let t = format!("{:.3}", d.0.as_secs_f64());
            format!("{}s", t.trim_end_matches('0').trim_end_matches('.'))
        };
        match (self.until, &self.then) {
            (Some(u), Some(t)) => format!("{what} at {}, `{t}` at {}", s(self.at), s(u)),
            (Some(u), None) => format!("{what} {}-{}", s(self.at), s(u)),
            (None, _) => format!("{what} at {}", s(self.at)),
        }
    }
}

/// Where a run serves its live metrics (Prometheus/OpenMetrics text at `/metrics`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Metrics {
    /// `host:port` to listen on, e.g. "127.0.0.1:9464"; none serves nothing.
    pub listen: Option<Spanned<String>>,
    /// How long the endpoint stays up after the run, so a last scrape sees the final
    /// numbers (a scrape interval or two).
    pub linger: Dur,
}

/// The integrity audit after a pipeline run, and how much of each finding is allowed
/// before the run fails.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Audit {
    pub enabled: bool,
    pub max_lost: u64,
    pub max_duplicates: u64,
    pub max_errors: u64,
    pub max_hidden: u64,
}

impl Default for Audit {
    fn default() -> Self {
        Audit {
            enabled: true,
            max_lost: 0,
            max_duplicates: 0,
            max_errors: 0,
            max_hidden: 0,
        }
    }
}

fn yes() -> bool {
    true
}

fn default_seed() -> u64 {
    1
}
fn default_warmup() -> Spanned<Dur> {
    Spanned::new(0..0, Dur::default())
}
fn default_interval() -> Spanned<Dur> {
    Spanned::new(0..0, Dur::from_secs(1))
}
fn default_drain() -> Dur {
    Dur::from_secs(5)
}

/// Where the load goes.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    #[serde(default)]
    pub log: LogKind,
    #[serde(default)]
    pub store: StoreKind,
    /// Run the reference persistence and query services in-process.
    #[serde(default)]
    pub services: ServicesMode,
    /// With `services = "none"`: consume produced records back for the `e2e` stage.
    /// Off leaves only the producer, as Kafka's ProducerPerformance measures.
    #[serde(default = "yes")]
    pub e2e: bool,
    #[serde(default)]
    pub topics: Topics,
    #[serde(default)]
    pub memory_log: MemoryLog,
    #[serde(default)]
    pub kafka: KafkaSettings,
    #[serde(default)]
    pub scylla: ScyllaSettings,
    #[serde(default)]
    pub memory_store: MemoryStore,
    #[serde(default)]
    pub persistence: ServiceWorkers,
    #[serde(default)]
    pub query: QueryService,
    /// How the reference services stamp versions: `read-then-write` (as the original
    /// services) or `lwt`.
    #[serde(default)]
    pub consistency: VersionConsistency,
    /// Embedded services start at the end of their input topics, so what an earlier
    /// (e.g. interrupted) run left unconsumed is not counted as this run's load.
    #[serde(default = "yes")]
    pub skip_backlog: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogKind {
    #[default]
    Memory,
    Kafka,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    #[default]
    Memory,
    /// ScyllaDB or Apache Cassandra over CQL.
    Scylla,
}

/// How eventbench talks to a CQL store.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScyllaSettings {
    /// Contact points, `host:port`.
    pub nodes: Vec<String>,
    /// The original services' is `rns_eventstore` (tests use their own).
    pub keyspace: String,
    /// `dc:rf[,dc:rf]`, as the original services' `CASSANDRA_DATA_CENTERS`.
    pub replication: String,
    /// `per-year` (every event of a year in one partition, the original schema) or
    /// `per-aggregate` (a table keyed by (year_bucket, aggregate_id), to show what the
    /// original design costs).
    pub schema: SchemaKind,
    /// Create the keyspace and tables when absent (never dropped or truncated).
    pub create_schema: bool,
    pub consistency: CqlConsistency,
    pub request_timeout: Dur,
    pub connect_timeout: Dur,
    /// Rows per page of a version-range select (1..=1000000).
    pub page_size: Spanned<i32>,
    pub username: Option<String>,
    /// A literal password works but is better given by reference (`password_env`,
    /// `password_file`); it is redacted from every artifact either way.
    #[serde(skip_serializing)]
    pub password: Option<String>,
    /// The environment variable holding the password.
    pub password_env: Option<String>,
    /// A file whose first line is the password.
    pub password_file: Option<String>,
    /// CQL over TLS: present (even empty, `tls = {}`) means every connection is TLS.
    pub tls: Option<CqlTls>,
}

/// TLS for CQL connections (`[target.scylla.tls]`).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CqlTls {
    /// PEM file of the CA(s) the nodes' certificates chain to; absent: the system's.
    pub ca: Option<String>,
    /// Client certificate (PEM) for mutual TLS, with `key`.
    pub cert: Option<String>,
    /// The client certificate's private key (PEM; PKCS#8 when encrypted).
    pub key: Option<String>,
    /// The key's password: literal (redacted everywhere, but better by reference)...
    #[serde(skip_serializing)]
    pub key_password: Option<String>,
    /// ... from this environment variable...
    pub key_password_env: Option<String>,
    /// ... or the first line of this file.
    pub key_password_file: Option<String>,
    /// Check that each node's certificate names the address it is reached at (IP SAN).
    /// Off only for clusters whose certificates do not name their nodes.
    pub verify_hostname: bool,
}

impl Default for CqlTls {
    fn default() -> Self {
        CqlTls {
            ca: None,
            cert: None,
            key: None,
            key_password: None,
            key_password_env: None,
            key_password_file: None,
            verify_hostname: true,
        }
    }
}

impl CqlTls {
    pub fn resolved_key_password(&self) -> Result<Option<String>, String> {
        resolve_secret(
            &self.key_password,
            ("key_password_env", &self.key_password_env),
            ("key_password_file", &self.key_password_file),
        )
    }
}

/// A secret given literally, by environment variable, or by file (first of the three set).
fn resolve_secret(
    literal: &Option<String>,
    env: (&str, &Option<String>),
    file: (&str, &Option<String>),
) -> Result<Option<String>, String> {
    if let Some(p) = literal {
        return Ok(Some(p.clone()));
    }
    for (kind, reference) in [env, file] {
        if let Some(r) = reference {
            return super::secrets::resolve_reference(kind, r).map(|r| r.map(|(_, v)| v));
        }
    }
    Ok(None)
}

impl ScyllaSettings {
    /// The password to authenticate with: literal, from the environment, or a file.
    pub fn resolved_password(&self) -> Result<Option<String>, String> {
        resolve_secret(
            &self.password,
            ("password_env", &self.password_env),
            ("password_file", &self.password_file),
        )
    }
}

impl Default for ScyllaSettings {
    fn default() -> Self {
        ScyllaSettings {
            nodes: vec!["127.0.0.1:9042".into()],
            keyspace: "rns_eventstore".into(),
            replication: "datacenter1:1".into(),
            schema: SchemaKind::PerYear,
            create_schema: true,
            consistency: CqlConsistency::LocalQuorum,
            request_timeout: Dur::from_secs(3),
            connect_timeout: Dur::from_secs(5),
            page_size: Spanned::new(0..0, 5000),
            username: None,
            password: None,
            password_env: None,
            password_file: None,
            tls: None,
        }
    }
}

/// The `events` table's partitioning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SchemaKind {
    /// Partition key `year_bucket` alone, as the original services create it
    /// (`seed`, this value's name before 0.2, is still read).
    #[default]
    #[serde(alias = "seed")]
    PerYear,
    /// Partition key `(year_bucket, aggregate_id)` (`partitioned` is still read).
    #[serde(alias = "partitioned")]
    PerAggregate,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CqlConsistency {
    One,
    Quorum,
    #[default]
    LocalQuorum,
    LocalOne,
    All,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServicesMode {
    /// The reference services run inside eventbench.
    #[default]
    Embedded,
    /// No service runs: `produce` measures the log alone.
    None,
    /// Services run elsewhere (the original Go services, `eventbench serve`, or any
    /// implementation of the contract): eventbench only produces and listens.
    External,
}

/// How the reference services stamp and advance versions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VersionConsistency {
    /// As the original services: read the meta version, then write (a query can close
    /// the epoch in between, hiding the event from every later query). `seed`, this
    /// value's name before 0.2, is still read.
    #[default]
    #[serde(alias = "seed")]
    ReadThenWrite,
    /// Lightweight transactions: queries advance the meta version with a CAS, and
    /// persistence re-stamps an event whose epoch closed before it was inserted.
    Lwt,
}

/// Topic and group names; defaults are the original services'.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Topics {
    pub events: String,
    pub persistence_group: String,
    /// Replies go to `<persistence_response>.<aggregate_id>`.
    pub persistence_response: String,
    pub query: String,
    pub query_group: String,
    /// Query results go to `<query_response>.<aggregate_id>`.
    pub query_response: String,
}

impl Default for Topics {
    fn default() -> Self {
        Topics {
            events: "event.rns_eventstore.events".into(),
            persistence_group: "event.consumer.persistence".into(),
            persistence_response: "event.rns_eventstore.events.persistence.response".into(),
            query: "events.rns_eventstore.esquery".into(),
            query_group: "event.consumer.esquery".into(),
            query_response: "events.rns_eventstore.esresponse".into(),
        }
    }
}

/// How eventbench talks to Kafka. Any librdkafka property can be passed through.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaSettings {
    /// `host:port[,host:port]`.
    pub bootstrap: String,
    /// `all` (or `-1`), `1` or `0`.
    pub acks: Spanned<String>,
    pub linger_ms: u64,
    /// Bytes per partition batch.
    pub batch_size: u64,
    /// `none`, `gzip`, `snappy`, `lz4` or `zstd`.
    pub compression: Spanned<String>,
    pub idempotence: bool,
    /// `none` (keyless, as the original services) or `aggregate` (key = aggregate id).
    pub key: KafkaKey,
    /// For topics eventbench creates.
    pub partitions: i32,
    pub replication: i32,
    /// Create the events topic when it is missing (eventbench never deletes topics).
    pub create_topics: bool,
    /// Delivery timeout of one record (`message.timeout.ms`).
    pub timeout: Dur,
    /// How long to wait for the broker to answer at start.
    pub connect_timeout: Dur,
    /// librdkafka properties for every client eventbench makes (producers, its own
    /// consumers, the admin client that creates topics, the embedded services, `serve`):
    /// where security goes, e.g. `"security.protocol" = "SASL_SSL"`,
    /// `"sasl.mechanisms" = "SCRAM-SHA-512"`, `"sasl.username"`, `"sasl.password_env" =
    /// "KAFKA_PASSWORD"`, `"ssl.ca.location"`, `"ssl.certificate.location"`,
    /// `"ssl.key.location"`, `"ssl.key.password_file"`,
    /// `"ssl.endpoint.identification.algorithm" = "none"`.
    pub client: BTreeMap<String, String>,
    /// Extra librdkafka properties for the producer, e.g. `"queue.buffering.max.kbytes" = "1048576"`.
    pub producer: BTreeMap<String, String>,
    /// Extra librdkafka properties for consumers.
    pub consumer: BTreeMap<String, String>,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        KafkaSettings {
            bootstrap: "127.0.0.1:9092".into(),
            acks: Spanned::new(0..0, "all".into()),
            linger_ms: 5,
            batch_size: 131_072,
            compression: Spanned::new(0..0, "none".into()),
            idempotence: false,
            key: KafkaKey::None,
            partitions: 3,
            replication: 1,
            create_topics: true,
            timeout: Dur::from_secs(30),
            connect_timeout: Dur::from_secs(10),
            client: BTreeMap::new(),
            producer: BTreeMap::new(),
            consumer: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KafkaKey {
    #[default]
    None,
    Aggregate,
}

/// The in-process log.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MemoryLog {
    /// Records queued per consumer group before a producer has to wait.
    pub capacity: usize,
}

impl Default for MemoryLog {
    fn default() -> Self {
        MemoryLog { capacity: 65_536 }
    }
}

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

/// How synthetic events look.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Data {
    pub aggregates: Spanned<Aggregates>,
    /// Action name -> weight.
    pub actions: Spanned<BTreeMap<String, u32>>,
    pub payload: Spanned<Payload>,
    /// Fraction of each payload that is zeros (0 = random bytes, 1 = all zeros).
    pub compressibility: Spanned<f64>,
    /// Size of the pool of user UUIDs events are attributed to.
    pub users: Spanned<u64>,
    /// A fixed `year_bucket`; when left out, the UTC year of the event's timestamp.
    pub year_bucket: Option<i16>,
}

impl Default for Data {
    fn default() -> Self {
        let mut actions = BTreeMap::new();
        actions.insert("register_user".to_string(), 1);
        Data {
            aggregates: Spanned::new(0..0, Aggregates::Uniform { min: 1, max: 127 }),
            actions: Spanned::new(0..0, actions),
            payload: Spanned::new(0..0, Payload::Fixed { size: Size(256) }),
            compressibility: Spanned::new(0..0, 0.5),
            users: Spanned::new(0..0, 1000),
            year_bucket: None,
        }
    }
}

/// Which aggregate (1..=127) an operation touches.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, tag = "dist", rename_all = "lowercase")]
pub enum Aggregates {
    Uniform {
        min: i64,
        max: i64,
    },
    /// Zipf over 1..=`max` (rank 1 is aggregate 1).
    Zipf {
        exponent: f64,
        #[serde(default = "max_agg")]
        max: i64,
    },
    /// `fraction` of operations go to `ids`, the rest uniformly to the others.
    Hotspot {
        ids: Vec<i64>,
        fraction: f64,
    },
    /// Round robin from `min` to `max`.
    Sequential {
        min: i64,
        max: i64,
    },
}

fn max_agg() -> i64 {
    127
}

/// Size of `data`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, tag = "dist", rename_all = "lowercase")]
pub enum Payload {
    Fixed {
        size: Size,
    },
    Uniform {
        min: Size,
        max: Size,
    },
    /// Log-normal by median and 99th percentile.
    Lognormal {
        median: Size,
        p99: Size,
    },
    /// Discrete sizes with weights.
    Histogram {
        sizes: Vec<Size>,
        weights: Vec<u32>,
    },
}

/// One stream of operations.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    pub kind: WorkloadKind,
    /// Open model: operations per second (constant over the run unless `phase` is set).
    pub rate: Option<Spanned<f64>>,
    /// Closed model: this many workers, each starting its next operation when the last ends.
    pub concurrency: Option<Spanned<usize>>,
    #[serde(default)]
    pub arrival: Arrival,
    /// Open model: at most this many operations in flight; the rest wait and count as late.
    #[serde(default = "default_in_flight")]
    pub max_in_flight: Spanned<usize>,
    /// Open model: the dispatcher wakes at most once per this long and releases what
    /// has come due together (each operation still timed from its own intended
    /// start, so up to this much later). 0, the default: every operation on its own
    /// wake-up. A wake-up costs about 30 us of CPU on a virtual machine like this
    /// project's, so at 10k/s precise pacing alone takes a third of a core; a window of
    /// 1 ms makes the generator's CPU follow the rate on a host it shares with the
    /// target, at the price of the window in schedule lag.
    #[serde(default)]
    pub release_window: Option<Spanned<crate::units::Dur>>,
    /// Open model: the rate profile over time, in order.
    #[serde(default)]
    pub phase: Vec<Spanned<Phase>>,
    /// Open model: rate multipliers for a while, once or on a schedule, over the
    /// rate or the phases (`[[workload.NAME.burst]]`).
    #[serde(default)]
    pub burst: Vec<Spanned<Burst>>,
    /// `query` only: where the query goes.
    #[serde(default)]
    pub via: Via,
    /// `query` only: the reader's starting projection version (the original query service refuses 0).
    #[serde(default = "default_from_version")]
    pub from_version: i64,
    /// `query` only: start every aggregate's projection at `from_version`, not up to
    /// date, so the first query of each reads the history before the run (a
    /// `[prefill]`'s, or what earlier runs left) and the readers count what they read.
    #[serde(default)]
    pub read_history: bool,
}

fn default_in_flight() -> Spanned<usize> {
    Spanned::new(0..0, 1024)
}
fn default_from_version() -> i64 {
    1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadKind {
    /// Synthetic Events to the log (through the persistence service when it runs).
    Produce,
    /// Events written straight to the store, as the persistence service writes them.
    Persist,
    /// EventStoreQuery readers.
    Query,
}

impl std::fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            WorkloadKind::Produce => "produce",
            WorkloadKind::Persist => "persist",
            WorkloadKind::Query => "query",
        })
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arrival {
    /// Evenly spaced intended start times.
    #[default]
    Constant,
    /// Exponential gaps (a Poisson process) with the same mean rate.
    Poisson,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// The harness runs the query service's store operations itself.
    #[default]
    Store,
    /// EventStoreQuery messages to the query topic; results come back on
    /// `<query_response>.<aggregate_id>` from the (embedded or external) query service.
    Log,
}

/// A stretch of an open-model rate profile.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "lowercase")]
pub enum Phase {
    Steady {
        duration: Dur,
        rate: f64,
    },
    /// Rate moves linearly from `from` to `to`.
    Ramp {
        duration: Dur,
        from: f64,
        to: f64,
    },
    /// `steps` plateaus of `step_duration`, from `from`, each `step` higher.
    Step {
        from: f64,
        step: f64,
        steps: u32,
        step_duration: Dur,
    },
    /// A periodic rate: `mean + amplitude * sin(2 pi t / period)`, for `duration`.
    Sine {
        duration: Dur,
        mean: f64,
        amplitude: f64,
        period: Dur,
    },
    /// A rate given at points in time (a daily curve, played at any speed), linear
    /// between them; the first point at 0s, the phase ends at the last.
    Curve {
        points: Vec<CurvePoint>,
    },
}

/// Linear pieces per period of a sine phase (the plan makes them).
pub const SINE_PIECES: u64 = 64;

/// One point of a `curve` phase.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CurvePoint {
    pub at: Dur,
    pub rate: f64,
}

/// The rate times `factor` from `at` for `duration`, and again every `every` when set.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Burst {
    pub at: Dur,
    pub duration: Dur,
    pub factor: f64,
    #[serde(default)]
    pub every: Option<Dur>,
}

impl Default for Target {
    fn default() -> Self {
        Target {
            log: LogKind::default(),
            store: StoreKind::default(),
            services: ServicesMode::default(),
            e2e: true,
            topics: Topics::default(),
            memory_log: MemoryLog::default(),
            kafka: KafkaSettings::default(),
            scylla: ScyllaSettings::default(),
            memory_store: MemoryStore::default(),
            persistence: ServiceWorkers::default(),
            query: QueryService::default(),
            consistency: VersionConsistency::default(),
            skip_backlog: true,
        }
    }
}
