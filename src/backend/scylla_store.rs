//! The CQL store (ScyllaDB, or Apache Cassandra: same protocol), through the `scylla`
//! driver: token-aware, prepared statements, paged selects, the original schema created
//! only when absent and never dropped or truncated.

use std::time::Duration;

use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::response::PagingState;
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::Consistency;
use scylla::value::CqlTimestamp;
use uuid::Uuid;

use super::{BackendError, Ctx, EventStore};
use crate::model::{Event, GoTime};
use crate::scenario::{SchemaKind, ScyllaSettings};
use crate::stats::ErrorClass;

/// One session and the four statements the original services use.
pub struct ScyllaStore {
    session: Session,
    /// Schema objects this connection created (they did not exist): the report names them.
    created: Vec<String>,
    read_meta: PreparedStatement,
    write_meta: PreparedStatement,
    insert: PreparedStatement,
    select: PreparedStatement,
    read_meta_serial: PreparedStatement,
    cas_meta: PreparedStatement,
    create_meta: PreparedStatement,
    delete: PreparedStatement,
}

type EventRow = (
    i16,
    i16,
    i64,
    String,
    CqlTimestamp,
    Uuid,
    Option<Uuid>,
    Option<Vec<u8>>,
    Option<Uuid>,
);

fn classify(e: &(impl std::fmt::Display + std::fmt::Debug)) -> ErrorClass {
    let text = format!("{e:?}").to_ascii_lowercase();
    if text.contains("timeout") || text.contains("timed out") {
        ErrorClass::Timeout
    } else if text.contains("overload") || text.contains("unavailable") {
        ErrorClass::Overload
    } else if text.contains("broken") || text.contains("connection") || text.contains("no connection") {
        ErrorClass::Fatal
    } else {
        ErrorClass::Rejected
    }
}

fn failed(e: impl std::fmt::Display + std::fmt::Debug) -> BackendError {
    BackendError::new(classify(&e), e.to_string())
}

/// The `WITH replication = {...}` map from `dc:rf,dc:rf`.
pub fn replication_map(spec: &str) -> String {
    let parts: Vec<String> = spec
        .split(',')
        .filter_map(|p| p.split_once(':'))
        .map(|(dc, rf)| format!("'{}': {}", dc.trim(), rf.trim()))
        .collect();
    format!("{{'class': 'NetworkTopologyStrategy', {}}}", parts.join(", "))
}

/// The table a schema kind writes to.
pub fn events_table(kind: SchemaKind) -> &'static str {
    match kind {
        SchemaKind::PerYear => "events",
        SchemaKind::PerAggregate => "events_by_aggregate",
    }
}

impl ScyllaStore {
    /// Connects (bounded by `connect_timeout`), creates what is missing, prepares.
    /// What the run met, for its report: the node's release and cluster name, the
    /// keyspace's replication and the events table's compaction.
    pub async fn describe(&self, s: &ScyllaSettings) -> serde_json::Value {
        type Text = Option<String>;
        let local = async {
            let res = self
                .session
                .query_unpaged("SELECT release_version, cluster_name FROM system.local", &[])
                .await
                .ok()?;
            let rows = res.into_rows_result().ok()?;
            rows.maybe_first_row::<(Text, Text)>().ok().flatten()
        }
        .await;
        let map_of = |cql: &'static str, table: Option<String>| {
            let session = &self.session;
            let ks = s.keyspace.clone();
            async move {
                let res = match table {
                    Some(t) => session.query_unpaged(cql, (ks, t)).await.ok()?,
                    None => session.query_unpaged(cql, (ks,)).await.ok()?,
                };
                let rows = res.into_rows_result().ok()?;
                rows.maybe_first_row::<(std::collections::BTreeMap<String, String>,)>()
                    .ok()
                    .flatten()
                    .map(|r| r.0)
            }
        };
        let replication = map_of(
            "SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?",
            None,
        )
        .await;
        let compaction = map_of(
            "SELECT compaction FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?",
            Some(events_table(s.schema).to_string()),
        )
        .await;
        let (release, cluster) = local.unwrap_or_default();
        serde_json::json!({
            "nodes": s.nodes,
            "release_version": release,
            "cluster_name": cluster,
            "keyspace": s.keyspace,
            "replication": replication,
            "events_table": events_table(s.schema),
            "compaction": compaction,
            "created": self.created,
        })
    }

    /// The session, for readings beside the run (the nodes' own view).
    pub(super) fn session(&self) -> &Session {
        &self.session
    }

    /// The run's tables, as the node names them (the events table and `events_meta`).
    pub fn tables(s: &ScyllaSettings) -> Vec<String> {
        vec![events_table(s.schema).to_string(), "events_meta".into()]
    }

    pub async fn connect(s: &ScyllaSettings) -> Result<ScyllaStore, BackendError> {
        let session = open_session(s).await?;
        let ks = &s.keyspace;
        let created = if s.create_schema {
            create_schema(&session, s).await?
        } else {
            Vec::new()
        };
        let table = events_table(s.schema);
        let prepare = |cql: String| {
            let session = &session;
            async move {
                let mut p = session
                    .prepare(cql.as_str())
                    .await
                    .map_err(|e| failed(format!("prepare {cql}: {e}")))?;
                p.set_consistency(s.consistency.into());
                p.set_request_timeout(Some(s.request_timeout.0));
                p.set_page_size(s.page_size());
                Ok::<_, BackendError>(p)
            }
        };
        let read_meta = prepare(format!(
            "SELECT aggregate_version FROM {ks}.events_meta WHERE partition_key = ? AND aggregate_id = ?"
        ))
        .await?;
        let write_meta = prepare(format!(
            "INSERT INTO {ks}.events_meta (partition_key, aggregate_id, aggregate_version) VALUES (?, ?, ?)"
        ))
        .await?;
        let insert = prepare(format!(
            "INSERT INTO {ks}.{table} (year_bucket, aggregate_id, version, action, timestamp, uuid, correlation_id, data, user_uuid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .await?;
        let select = prepare(format!(
            "SELECT year_bucket, aggregate_id, version, action, timestamp, uuid, correlation_id, data, user_uuid FROM {ks}.{table} \
             WHERE year_bucket = ? AND aggregate_id = ? AND version > ? AND version <= ?"
        ))
        .await?;
        let mut read_meta_serial = prepare(format!(
            "SELECT aggregate_version FROM {ks}.events_meta WHERE partition_key = ? AND aggregate_id = ?"
        ))
        .await?;
        read_meta_serial.set_consistency(Consistency::Serial);
        let cas_meta = prepare(format!(
            "UPDATE {ks}.events_meta SET aggregate_version = ? WHERE partition_key = ? AND aggregate_id = ? IF aggregate_version = ?"
        ))
        .await?;
        let create_meta = prepare(format!(
            "INSERT INTO {ks}.events_meta (partition_key, aggregate_id, aggregate_version) VALUES (?, ?, ?) IF NOT EXISTS"
        ))
        .await?;
        let delete = prepare(format!(
            "DELETE FROM {ks}.{table} WHERE year_bucket = ? AND aggregate_id = ? AND version = ? AND action = ? AND timestamp = ? AND uuid = ?"
        ))
        .await?;
        Ok(ScyllaStore {
            session,
            created,
            read_meta,
            write_meta,
            insert,
            select,
            read_meta_serial,
            cas_meta,
            create_meta,
            delete,
        })
    }
}

/// A session to `s.nodes` with its credentials and TLS, within the connect timeout;
/// an unreachable node or a refused handshake named with its cause.
async fn open_session(s: &ScyllaSettings) -> Result<Session, BackendError> {
    let nodes = s.nodes.join(", ");
    let unreachable = |e: &dyn std::fmt::Display| {
        let e = e.to_string();
        let why = match super::cql_tls::diagnose(&e, s.tls.is_some()) {
            Some(cause) => format!("cannot connect to Cassandra/ScyllaDB at {nodes}: {cause}: {e}"),
            None => format!("cannot reach Cassandra/ScyllaDB at {nodes}: {e}"),
        };
        BackendError::new(ErrorClass::Fatal, why)
    };
    let mut builder = SessionBuilder::new()
        .known_nodes(&s.nodes)
        .connection_timeout(s.connect_timeout.0);
    let password = s
        .resolved_password()
        .map_err(|why| BackendError::new(ErrorClass::Fatal, format!("CQL password: {why}")))?;
    if let (Some(u), Some(p)) = (&s.username, &password) {
        builder = builder.user(u, p);
    }
    if let Some(tls) = &s.tls {
        let context = super::cql_tls::context(tls).map_err(|why| BackendError::new(ErrorClass::Fatal, why))?;
        builder = builder.tls_context(Some(context));
    }
    tokio::time::timeout(s.connect_timeout.0 + Duration::from_secs(1), builder.build())
        .await
        .map_err(|_| unreachable(&format!("no answer within {:?}", s.connect_timeout.0)))?
        .map_err(|e| unreachable(&e))
}

/// The schema, each object only if absent; returns the objects this made.
async fn create_schema(session: &Session, s: &ScyllaSettings) -> Result<Vec<String>, BackendError> {
    let ks = &s.keyspace;
    let before = schema_objects(session, ks).await;
    for cql in schema_cql(ks, &s.replication, s.schema) {
        session
            .query_unpaged(cql.as_str(), &[])
            .await
            .map_err(|e| failed(format!("{cql}: {e}")))?;
    }
    session.await_schema_agreement().await.map_err(failed)?;
    let after = schema_objects(session, ks).await;
    Ok(after.into_iter().filter(|o| !before.contains(o)).collect())
}

/// The keyspace and tables of docs/wire-format.md ("CQL schema"), each only if absent.
impl ScyllaStore {
    /// `events_meta.aggregate_version` through `statement` (a plain or a SERIAL read).
    async fn meta(
        &self,
        statement: &PreparedStatement,
        partition: i8,
        aggregate: i8,
    ) -> Result<Option<i64>, BackendError> {
        let res = self
            .session
            .execute_unpaged(statement, (partition as i16, aggregate as i16))
            .await
            .map_err(failed)?;
        let rows = res.into_rows_result().map_err(failed)?;
        let first = rows.maybe_first_row::<(Option<i64>,)>().map_err(failed)?;
        Ok(first.and_then(|(v,)| v))
    }
}

/// The keyspace (as `ks`) and its tables (as `ks.table`) that exist now.
async fn schema_objects(session: &Session, ks: &str) -> Vec<String> {
    let mut out = Vec::new();
    let q = "SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?";
    if let Some(r) = session
        .query_unpaged(q, (ks,))
        .await
        .ok()
        .and_then(|r| r.into_rows_result().ok())
    {
        if r.rows_num() > 0 {
            out.push(ks.to_string());
        }
    }
    let q = "SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?";
    if let Some(r) = session
        .query_unpaged(q, (ks,))
        .await
        .ok()
        .and_then(|r| r.into_rows_result().ok())
    {
        if let Ok(rows) = r.rows::<(String,)>() {
            out.extend(rows.flatten().map(|(t,)| format!("{ks}.{t}")));
        }
    }
    out
}

pub fn schema_cql(ks: &str, replication: &str, kind: SchemaKind) -> Vec<String> {
    let mut v = vec![
        format!("CREATE KEYSPACE IF NOT EXISTS {ks} WITH replication = {}", replication_map(replication)),
        format!(
            "CREATE TABLE IF NOT EXISTS {ks}.events_meta (partition_key smallint, aggregate_id smallint, aggregate_version bigint, \
             PRIMARY KEY (partition_key, aggregate_id)) WITH CLUSTERING ORDER BY (aggregate_id ASC)"
        ),
    ];
    v.push(match kind {
        SchemaKind::PerYear => format!(
            "CREATE TABLE IF NOT EXISTS {ks}.events (year_bucket smallint, aggregate_id smallint, version bigint, action text, \
             timestamp timestamp, uuid uuid, correlation_id uuid, data blob, user_uuid uuid, \
             PRIMARY KEY (year_bucket, aggregate_id, version, action, timestamp, uuid)) \
             WITH CLUSTERING ORDER BY (aggregate_id ASC, version DESC, action ASC, timestamp DESC, uuid ASC)"
        ),
        SchemaKind::PerAggregate => format!(
            "CREATE TABLE IF NOT EXISTS {ks}.events_by_aggregate (year_bucket smallint, aggregate_id smallint, version bigint, \
             action text, timestamp timestamp, uuid uuid, correlation_id uuid, data blob, user_uuid uuid, \
             PRIMARY KEY ((year_bucket, aggregate_id), version, action, timestamp, uuid)) \
             WITH CLUSTERING ORDER BY (version DESC, action ASC, timestamp DESC, uuid ASC)"
        ),
    });
    v
}

impl EventStore for ScyllaStore {
    async fn read_meta(&self, _ctx: &mut Ctx, partition: i8, aggregate: i8) -> Result<Option<i64>, BackendError> {
        self.meta(&self.read_meta, partition, aggregate).await
    }

    async fn write_meta(&self, _ctx: &mut Ctx, partition: i8, aggregate: i8, version: i64) -> Result<(), BackendError> {
        self.session
            .execute_unpaged(&self.write_meta, (partition as i16, aggregate as i16, version))
            .await
            .map_err(failed)?;
        Ok(())
    }

    async fn read_meta_serial(
        &self,
        _ctx: &mut Ctx,
        partition: i8,
        aggregate: i8,
    ) -> Result<Option<i64>, BackendError> {
        self.meta(&self.read_meta_serial, partition, aggregate).await
    }

    async fn cas_meta(
        &self,
        _ctx: &mut Ctx,
        partition: i8,
        aggregate: i8,
        expect: Option<i64>,
        version: i64,
    ) -> Result<bool, BackendError> {
        let (p, a) = (partition as i16, aggregate as i16);
        let res = match expect {
            Some(old) => self.session.execute_unpaged(&self.cas_meta, (version, p, a, old)).await,
            None => self.session.execute_unpaged(&self.create_meta, (p, a, version)).await,
        }
        .map_err(failed)?;
        // An LWT answers with a first column `[applied]`, and with the current values
        // after it when the condition failed.
        let rows = res.into_rows_result().map_err(failed)?;
        let first = rows.maybe_first_row::<scylla::value::Row>().map_err(failed)?;
        Ok(matches!(
            first.as_ref().and_then(|r| r.columns.first()),
            Some(Some(scylla::value::CqlValue::Boolean(true)))
        ))
    }

    async fn delete_event(&self, _ctx: &mut Ctx, e: &Event) -> Result<(), BackendError> {
        let values = (
            e.year_bucket,
            e.aggregate_id as i16,
            e.version,
            e.action.as_str(),
            CqlTimestamp(e.timestamp.unix_millis()),
            e.uuid,
        );
        self.session
            .execute_unpaged(&self.delete, values)
            .await
            .map_err(failed)?;
        Ok(())
    }

    async fn insert_event(&self, _ctx: &mut Ctx, e: &Event) -> Result<(), BackendError> {
        let values = (
            e.year_bucket,
            e.aggregate_id as i16,
            e.version,
            e.action.as_str(),
            CqlTimestamp(e.timestamp.unix_millis()),
            e.uuid,
            e.correlation_id,
            e.data.as_deref(),
            e.user_uuid,
        );
        self.session
            .execute_unpaged(&self.insert, values)
            .await
            .map_err(failed)?;
        Ok(())
    }

    async fn select_events(
        &self,
        _ctx: &mut Ctx,
        year_bucket: i16,
        aggregate: i8,
        after: i64,
        upto: i64,
        out: &mut Vec<Event>,
    ) -> Result<(), BackendError> {
        let values = (year_bucket, aggregate as i16, after, upto);
        let mut paging = PagingState::start();
        loop {
            let (res, next) = self
                .session
                .execute_single_page(&self.select, values, paging)
                .await
                .map_err(failed)?;
            let rows = res.into_rows_result().map_err(failed)?;
            for row in rows.rows::<EventRow>().map_err(failed)? {
                let (yb, agg, version, action, ts, uuid, corr, data, user) = row.map_err(failed)?;
                out.push(Event {
                    action,
                    correlation_id: corr.unwrap_or_default(),
                    aggregate_id: agg as i8,
                    data,
                    timestamp: GoTime::from_unix_nanos(ts.0 as i128 * 1_000_000),
                    user_uuid: user.unwrap_or_default(),
                    uuid,
                    version,
                    year_bucket: yb,
                });
            }
            match next.into_paging_control_flow() {
                std::ops::ControlFlow::Break(()) => return Ok(()),
                std::ops::ControlFlow::Continue(state) => paging = state,
            }
        }
    }
}

impl From<crate::scenario::CqlConsistency> for Consistency {
    fn from(c: crate::scenario::CqlConsistency) -> Consistency {
        use crate::scenario::CqlConsistency as C;
        match c {
            C::One => Consistency::One,
            C::Quorum => Consistency::Quorum,
            C::LocalQuorum => Consistency::LocalQuorum,
            C::LocalOne => Consistency::LocalOne,
            C::All => Consistency::All,
        }
    }
}
