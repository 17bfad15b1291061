//! The one place a client TLS context is built from files, for both eventbench's own
//! TLS connections: CQL sessions (`cql_tls`) and the Kafka release probe
//! (`kafka_features`). librdkafka builds its own from the same settings.

use openssl::pkey::PKey;
use openssl::ssl::{SslConnector, SslConnectorBuilder, SslMethod};

/// Where a client's TLS material is, as the user named it.
pub struct ClientFiles<'a> {
    /// Prefix of every error, e.g. "CQL TLS".
    pub who: &'a str,
    pub ca: Option<&'a str>,
    pub cert: Option<&'a str>,
    pub key: Option<&'a str>,
    pub key_password: Option<&'a str>,
    /// The setting that holds the key's password, named in the hint of a failed decrypt.
    pub key_password_setting: &'a str,
}

/// A connector that verifies the peer against `ca` (the system's CAs when absent) and,
/// with `cert` and `key`, presents a client certificate (mutual TLS).
pub fn client_connector(f: &ClientFiles) -> Result<SslConnectorBuilder, String> {
    let who = f.who;
    let failed = |what: &str, e: openssl::error::ErrorStack| format!("{who} {what}: {e}");
    let mut b = SslConnector::builder(SslMethod::tls_client()).map_err(|e| failed("set-up", e))?;
    if let Some(ca) = f.ca {
        readable(who, "ca", ca)?;
        b.set_ca_file(ca).map_err(|e| failed(&format!("ca {ca}"), e))?;
    }
    match (f.cert, f.key) {
        (Some(cert), Some(key)) => {
            readable(who, "cert", cert)?;
            b.set_certificate_chain_file(cert)
                .map_err(|e| failed(&format!("cert {cert}"), e))?;
            let pem = std::fs::read(key).map_err(|e| format!("{who} key: cannot read {key}: {e}"))?;
            let pkey = match f.key_password {
                Some(p) => PKey::private_key_from_pem_passphrase(&pem, p.as_bytes()),
                None => PKey::private_key_from_pem(&pem),
            }
            .map_err(|e| {
                let setting = f.key_password_setting;
                let hint = if f.key_password.is_some() {
                    format!(" (wrong {setting}?)")
                } else {
                    format!(" (encrypted? give {setting}_file or {setting}_env)")
                };
                format!("{who} key {key}: {e}{hint}")
            })?;
            b.set_private_key(&pkey).map_err(|e| failed(&format!("key {key}"), e))?;
            b.check_private_key()
                .map_err(|e| failed(&format!("key {key} does not match cert {cert}"), e))?;
        }
        (None, None) => {}
        _ => return Err(format!("{who}: cert and key go together (mutual TLS needs both)")),
    }
    Ok(b)
}

fn readable(who: &str, what: &str, path: &str) -> Result<(), String> {
    std::fs::metadata(path)
        .map(|_| ())
        .map_err(|e| format!("{who} {what}: cannot read {path}: {e}"))
}
