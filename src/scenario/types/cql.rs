//! `[target.scylla]`: how eventbench talks to a CQL store, its TLS and the schema.

use serde::Deserialize;
use toml::Spanned;

use crate::units::Dur;

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
            return crate::scenario::secrets::resolve_reference(kind, r).map(|r| r.map(|(_, v)| v));
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
