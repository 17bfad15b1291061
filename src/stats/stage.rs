//! What gets measured: stages of an operation, and the classes of failure.

use serde::Serialize;

/// A measured stage. Each (workload, stage) pair has its own histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[repr(usize)]
pub enum Stage {
    /// Encoding the message to Go JSON.
    Serialize,
    /// Intended send -> the log acknowledged the record.
    Produce,
    /// Actual send -> acknowledged.
    ProduceService,
    /// Without services: intended send -> the produced record consumed back.
    E2e,
    /// Intended send -> the persistence service's KafkaResponse consumed.
    E2ePersisted,
    /// Intended send -> the event first returned by an EventStoreQuery.
    E2eQueryable,
    /// Decoding a consumed reply.
    Deserialize,
    /// Intended start -> event stored (meta read, version stamp, insert).
    Persist,
    PersistService,
    /// Intended start -> all results of an EventStoreQuery.
    Query,
    QueryService,
    /// EventStoreQuery sent -> its last result batch consumed.
    QueryRoundtrip,
    /// Readers through the log: actual start -> the aggregate's turn (one query of an
    /// aggregate outstanding at a time). The harness's own wait, kept out of
    /// `query.service`, which starts when the turn is taken.
    QueryTurn,
    /// Actual start - intended start.
    Lag,
    /// Response time of failed operations.
    Failed,
    /// Pipeline hops, recorded under the producing workload by the embedded services
    /// (the target's side, timed on the run's clock). The events' log time -> the
    /// persistence service's handler took the event: the request topic's queue.
    HopQueue,
    /// Handler took it -> its store work began (decode, the service's own delay).
    HopService,
    /// The service's store work: meta read, version stamp, insert.
    HopStore,
    /// The reply's log time (its sender's) -> eventbench's listener read it.
    HopReply,
    /// Inside the reply hop, on the service's side: stored -> the log acknowledged the
    /// reply. Its handler is busy until then, so it counts for the service's own time
    /// when deciding between the service and its store.
    HopReplySend,
}

impl Stage {
    pub const COUNT: usize = 20;
    pub const ALL: [Stage; Stage::COUNT] = [
        Stage::Serialize,
        Stage::Produce,
        Stage::ProduceService,
        Stage::E2e,
        Stage::E2ePersisted,
        Stage::E2eQueryable,
        Stage::Deserialize,
        Stage::Persist,
        Stage::PersistService,
        Stage::Query,
        Stage::QueryService,
        Stage::QueryRoundtrip,
        Stage::QueryTurn,
        Stage::Lag,
        Stage::Failed,
        Stage::HopQueue,
        Stage::HopService,
        Stage::HopStore,
        Stage::HopReply,
        Stage::HopReplySend,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Serialize => "serialize",
            Stage::Produce => "produce",
            Stage::ProduceService => "produce.service",
            Stage::E2e => "e2e",
            Stage::E2ePersisted => "e2e.persisted",
            Stage::E2eQueryable => "e2e.queryable",
            Stage::Deserialize => "deserialize",
            Stage::Persist => "persist",
            Stage::PersistService => "persist.service",
            Stage::Query => "query",
            Stage::QueryService => "query.service",
            Stage::QueryRoundtrip => "query.roundtrip",
            Stage::QueryTurn => "query.turn",
            Stage::Lag => "lag",
            Stage::Failed => "failed",
            Stage::HopQueue => "hop.queue",
            Stage::HopService => "hop.service",
            Stage::HopStore => "hop.store",
            Stage::HopReply => "hop.reply",
            Stage::HopReplySend => "hop.reply.send",
        }
    }

    pub fn from_name(name: &str) -> Option<Stage> {
        Stage::ALL.iter().copied().find(|s| s.name() == name)
    }
}

/// Why an operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[repr(usize)]
pub enum ErrorClass {
    /// No answer in time.
    Timeout,
    /// The target pushed back (queue full, in-flight bound).
    Overload,
    /// The target answered with an error.
    Rejected,
    /// A consumed message did not decode.
    Malformed,
    /// Anything else.
    Fatal,
}

impl ErrorClass {
    pub const COUNT: usize = 5;
    pub const ALL: [ErrorClass; ErrorClass::COUNT] = [
        ErrorClass::Timeout,
        ErrorClass::Overload,
        ErrorClass::Rejected,
        ErrorClass::Malformed,
        ErrorClass::Fatal,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ErrorClass::Timeout => "timeout",
            ErrorClass::Overload => "overload",
            ErrorClass::Rejected => "rejected",
            ErrorClass::Malformed => "malformed",
            ErrorClass::Fatal => "fatal",
        }
    }
}
