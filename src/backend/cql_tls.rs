//! CQL over TLS: the scylla driver's OpenSSL context, built from `[target.scylla.tls]`.
//!
//! OpenSSL rather than rustls because librdkafka already links the system's OpenSSL:
//! one TLS stack to install (the OpenSSL headers) and one set of CA/key formats that
//! behave the same for Kafka and CQL. The driver checks each node's certificate against
//! the IP it dials (an IP SAN), which is what `verify_hostname` turns off.

use openssl::ssl::SslVerifyMode;
use scylla::client::session::{OpenSsl010Config, TlsContext};

use crate::scenario::CqlTls;

/// `X509_V_ERR_HOSTNAME_MISMATCH` and `X509_V_ERR_IP_ADDRESS_MISMATCH`: the only
/// verification failures `verify_hostname = false` forgives.
const NAME_MISMATCH: [i32; 2] = [62, 64];

/// The driver's TLS context; the error names the file or setting at fault.
pub fn context(t: &CqlTls) -> Result<TlsContext, String> {
    let password = match &t.key {
        Some(_) => t.resolved_key_password().map_err(|why| format!("CQL TLS {why}"))?,
        None => None,
    };
    let mut b = super::tls::client_connector(&super::tls::ClientFiles {
        who: "CQL TLS",
        ca: t.ca.as_deref(),
        cert: t.cert.as_deref(),
        key: t.key.as_deref(),
        key_password: password.as_deref(),
        key_password_setting: "key_password",
    })?;
    if !t.verify_hostname {
        b.set_verify_callback(SslVerifyMode::PEER, |ok, ctx| {
            ok || NAME_MISMATCH.contains(&ctx.error().as_raw())
        });
    }
    Ok(TlsContext::from(OpenSsl010Config::new(b)))
}

/// The cause of a failed first connection, in the user's terms, from the driver's error
/// text (which says what failed deep inside a pool error): `None` when it is not one of
/// the handshake failures users meet when pointing at a secured cluster.
pub fn diagnose(error: &str, tls: bool) -> Option<&'static str> {
    let e = error.to_ascii_lowercase();
    if e.contains("bad credentials") || e.contains("authentication failed") {
        return Some("authentication failed (wrong username or password)");
    }
    if e.contains("authenticator") && e.contains("no authenticator") || e.contains("authentication required") {
        return Some("the cluster asks for a password (set username and password_file or password_env)");
    }
    if tls && e.contains("certificate verify failed") {
        return Some("TLS handshake failed: the node's certificate is not trusted by the CA in [target.scylla.tls] ca, or does not name the address dialled (verify_hostname)");
    }
    if tls
        && (e.contains("wrong version number") || e.contains("packet length too long") || e.contains("unexpected eof"))
    {
        return Some("TLS handshake failed: is this a plaintext CQL port?");
    }
    if !tls && e.contains("connection reset") {
        return Some("the node closed the connection at once: a TLS-only port? (set [target.scylla.tls])");
    }
    None
}
