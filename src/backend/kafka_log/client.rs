//! A client's settings as the scenario gives them, and why a client could not connect,
//! in the user's terms.

use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::Consumer;
use rdkafka::util::Timeout;

use crate::backend::BackendError;
use crate::scenario::KafkaSettings;
use crate::stats::ErrorClass;

/// librdkafka properties as the scenario gives them, `<name>_env` / `<name>_file`
/// references read now (a secret is not written in the scenario at all).
pub(super) fn properties(
    map: &std::collections::BTreeMap<String, String>,
) -> Result<Vec<(String, String)>, BackendError> {
    let fatal = |why: String| BackendError::new(ErrorClass::Fatal, why);
    let mut out: Vec<(String, String)> = Vec::with_capacity(map.len());
    let mut given_as: Vec<&str> = Vec::with_capacity(map.len());
    for (k, v) in map {
        let (name, value) = match crate::scenario::secrets::resolve_reference(k, v) {
            Ok(Some(resolved)) => resolved,
            Ok(None) => (k.clone(), v.clone()),
            Err(why) => return Err(fatal(format!("Kafka property {why}"))),
        };
        // `x`, `x_env` and `x_file` name one property: which one wins must not be a
        // matter of spelling order.
        if let Some(i) = out.iter().position(|(n, _)| *n == name) {
            return Err(fatal(format!(
                "Kafka property {name} is given twice ({} and {k}): keep one",
                given_as[i]
            )));
        }
        out.push((name, value));
        given_as.push(k);
    }
    Ok(out)
}

/// Why a client could not talk to the broker, in librdkafka's own words: when the
/// connection check fails, a short-lived client with the same settings records the
/// errors librdkafka reports (an SSL handshake failure, a SASL authentication failure,
/// a refused connection), which the check alone only shows as a timeout.
pub(super) fn diagnose(settings: &KafkaSettings, e: impl std::fmt::Display, timeout: Duration) -> String {
    #[derive(Default)]
    struct Heard(std::sync::Mutex<Vec<String>>);
    impl rdkafka::client::ClientContext for Heard {
        fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
            if let Ok(mut h) = self.0.lock() {
                if h.len() < 8 && !h.iter().any(|r| r == reason) {
                    h.push(format!("{reason} ({error})"));
                }
            }
        }
        fn log(&self, _: rdkafka::config::RDKafkaLogLevel, _: &str, _: &str) {}
    }
    impl rdkafka::consumer::ConsumerContext for Heard {}
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", &settings.bootstrap).set(
        "socket.connection.setup.timeout.ms",
        timeout.as_millis().max(1000).to_string(),
    );
    if let Ok(props) = properties(&settings.client) {
        for (k, v) in props {
            cfg.set(k, v);
        }
    }
    let heard = match cfg.create_with_context::<Heard, rdkafka::consumer::BaseConsumer<Heard>>(Heard::default()) {
        Ok(c) => {
            // Errors reach the context when the client is polled.
            let until = std::time::Instant::now() + Duration::from_secs(3).min(timeout);
            while std::time::Instant::now() < until {
                let _ = c.fetch_metadata(None, Timeout::After(Duration::from_millis(200)));
                let _ = c.poll(Duration::from_millis(100));
                if c.context().0.lock().is_ok_and(|h| !h.is_empty()) {
                    break;
                }
            }
            c.context().0.lock().map(|h| h.clone()).unwrap_or_default()
        }
        Err(e) => vec![e.to_string()],
    };
    if heard.is_empty() {
        format!("{e} (no answer within {timeout:?})")
    } else {
        let hung_up = heard.iter().all(|r| r.contains("brokers are down"));
        let heard = heard.join("; ");
        let plaintext = settings
            .client
            .get("security.protocol")
            .is_none_or(|p| p.eq_ignore_ascii_case("plaintext"));
        let cause = match handshake_cause(&heard) {
            Some(c) => format!("{c}: "),
            // A plaintext client at a TLS listener hears only that the broker hung up.
            None if plaintext && hung_up => {
                "the broker hung up (a TLS or SASL listener? set security.protocol in [target.kafka.client]): "
                    .to_string()
            }
            None => String::new(),
        };
        format!("{cause}{heard} (no usable answer within {timeout:?})")
    }
}

/// The cause of a failed handshake in the user's terms, from what librdkafka reported.
fn handshake_cause(heard: &str) -> Option<&'static str> {
    let h = heard.to_ascii_lowercase();
    if h.contains("invalid credentials") || h.contains("authentication failed") {
        Some("authentication failed (wrong sasl.username or SASL password)")
    } else if h.contains("unsupported sasl mechanism") || h.contains("sasl mechanism") && h.contains("not enabled") {
        Some("SASL mechanism not enabled on this listener (sasl.mechanisms)")
    } else if h.contains("certificate verify failed") {
        Some("TLS handshake failed: the broker's certificate is not trusted by ssl.ca.location, or does not name the host dialled")
    } else if h.contains("connecting to a ssl listener?") {
        Some("a plaintext client against a TLS listener (set security.protocol)")
    } else if h.contains("alert bad certificate")
        || h.contains("certificate required")
        || h.contains("alert unknown ca")
    {
        Some("TLS handshake failed: the broker refused the client (mutual TLS: it wants a certificate it trusts, ssl.certificate.location and ssl.key.location)")
    } else {
        None
    }
}

/// librdkafka's compiled-in features (`builtin.features`: codecs, ssl, sasl mechanisms).
pub fn builtin_features() -> String {
    ClientConfig::new()
        .create_native_config()
        .ok()
        .and_then(|c| c.get("builtin.features").ok())
        .unwrap_or_default()
}

pub(super) fn unreachable(bootstrap: &str, e: impl std::fmt::Display) -> BackendError {
    BackendError::new(ErrorClass::Fatal, format!("cannot reach Kafka at {bootstrap}: {e}"))
}
