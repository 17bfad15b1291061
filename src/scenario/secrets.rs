//! Secrets never leave the process: a scenario's passwords (`[target.scylla] password`,
//! librdkafka's `sasl.password`, `ssl.key.password`, ...) are redacted from everything
//! eventbench writes or prints: the scenario as written and its overrides in
//! summary.json (and so report.html, capacity and merge output), the resolved plan,
//! `validate`'s output and the errors that quote a `--set`.
//!
//! Better than a literal in the file: `password_env = "NAME"` / `password_file = "path"`
//! for CQL, and `"<property>_env"` / `"<property>_file"` in `[target.kafka.producer]` and
//! `[target.kafka.consumer]` (e.g. `"sasl.password_env" = "KAFKA_PASSWORD"`), read when
//! the run connects.

use serde_json::Value;

/// What replaces a secret.
pub const REDACTED: &str = "***";

/// Whether a setting's name marks its value as a secret (the name's last part).
pub fn is_secret_key(key: &str) -> bool {
    let k = key.rsplit(['.', '_']).next().unwrap_or(key).to_ascii_lowercase();
    let whole = key.to_ascii_lowercase();
    if whole.ends_with("_env") || whole.ends_with("_file") {
        // Names where the secret is, not the secret.
        return false;
    }
    ["password", "passwd", "secret", "token", "credentials"]
        .iter()
        .any(|w| k.contains(w))
        || whole.contains("sasl.jaas.config")
        || (whole.contains("key") && whole.ends_with(".pem"))
}

/// The secret values a scenario text and its overrides hold, to be redacted wherever
/// they would otherwise appear.
#[derive(Debug, Default, Clone)]
pub struct Secrets {
    values: Vec<String>,
}

impl Secrets {
    pub fn of(text: &str, overrides: &[String]) -> Secrets {
        let mut values = Vec::new();
        if let Ok(table) = toml::from_str::<toml::Table>(text) {
            collect(&toml::Value::Table(table), false, &mut values);
        }
        for ov in overrides {
            if let Some((k, v)) = ov.split_once('=') {
                if is_secret_key(k.trim().trim_matches('"')) {
                    let v = v.trim().trim_matches(|c| c == '"' || c == '\'');
                    values.push(v.to_string());
                }
            }
        }
        values.retain(|v| !v.is_empty() && v != REDACTED);
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        Secrets { values }
    }

    /// The scenario text as written, each secret's string literal replaced.
    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_string();
        for v in &self.values {
            for q in ['"', '\''] {
                out = out.replace(&format!("{q}{v}{q}"), &format!("{q}{REDACTED}{q}"));
            }
        }
        out
    }

    /// A free-form message (an error, a note): every secret value replaced.
    pub fn message(&self, text: &str) -> String {
        let mut out = text.to_string();
        for v in &self.values {
            out = out.replace(v.as_str(), REDACTED);
        }
        out
    }

    /// A JSON value (the resolved plan): secret keys' values and secret strings replaced.
    pub fn json(&self, v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if is_secret_key(k) && !x.is_null() {
                        *x = Value::String(REDACTED.into());
                    } else {
                        self.json(x);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| self.json(x)),
            Value::String(s) if self.values.iter().any(|x| s.contains(x.as_str())) => {
                *s = self.message(s);
            }
            _ => {}
        }
    }
}

/// `--set KEY=VALUE` as it may be shown: a secret key's value replaced.
pub fn override_shown(ov: &str) -> String {
    match ov.split_once('=') {
        Some((k, _)) if is_secret_key(k.trim().trim_matches('"')) => format!("{k}={REDACTED}"),
        _ => ov.to_string(),
    }
}

fn collect(v: &toml::Value, secret: bool, out: &mut Vec<String>) {
    match v {
        toml::Value::String(s) if secret => out.push(s.clone()),
        toml::Value::Table(t) => {
            for (k, x) in t {
                collect(x, secret || is_secret_key(k), out);
            }
        }
        toml::Value::Array(a) => a.iter().for_each(|x| collect(x, secret, out)),
        _ => {}
    }
}

/// Where a scenario's text gives a secret literally: `(key, line, column)` of each
/// `key = "value"` whose key marks a secret (inline tables included).
pub fn literal_secrets(text: &str) -> Vec<(String, usize, usize)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split('#').next().unwrap_or("");
        let mut from = 0;
        while let Some(eq) = code[from..].find('=').map(|i| i + from) {
            let before = &code[..eq];
            let start = before.rfind(['{', ',', '[']).map(|i| i + 1).unwrap_or(0);
            let key = before[start..].trim().trim_matches(|c| c == '"' || c == '\'');
            let value = code[eq + 1..].trim_start();
            if is_secret_key(key) && (value.starts_with('"') || value.starts_with('\'')) {
                let col = start + before[start..].len() - before[start..].trim_start().len() + 1;
                found.push((key.to_string(), n + 1, col));
            }
            from = eq + 1;
        }
    }
    found
}

/// A secret given by reference: `NAME_env` (an environment variable) or `NAME_file`
/// (a file's first line). `Ok(None)` when `key` is neither; the error names the
/// variable or the file, never a value.
pub fn resolve_reference(key: &str, reference: &str) -> Result<Option<(String, String)>, String> {
    if let Some(name) = key.strip_suffix("_env") {
        let v = std::env::var(reference).map_err(|_| format!("{key}: environment variable {reference} is not set"))?;
        return Ok(Some((name.to_string(), v)));
    }
    if let Some(name) = key.strip_suffix("_file") {
        let text = std::fs::read_to_string(reference).map_err(|e| format!("{key}: cannot read {reference}: {e}"))?;
        return Ok(Some((name.to_string(), text.lines().next().unwrap_or("").to_string())));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_secrets_are_found_with_their_place() {
        let text = "[target.scylla]\npassword = \"x\"\npassword_file = \"p\"\n\
                    [target.kafka]\nclient = { \"sasl.username\" = \"u\", \"sasl.password\" = \"y\" }\n\
                    # password = \"in a comment\"\n";
        assert_eq!(
            literal_secrets(text),
            vec![("password".to_string(), 2, 1), ("sasl.password".to_string(), 5, 35)]
        );
    }

    #[test]
    fn secret_names_and_values_are_found_and_redacted_everywhere() {
        assert!(is_secret_key("password") && is_secret_key("sasl.password") && is_secret_key("ssl.key.password"));
        assert!(is_secret_key("sasl.oauthbearer.client.secret") && is_secret_key("sasl.jaas.config"));
        assert!(!is_secret_key("username") && !is_secret_key("sasl.password_env") && !is_secret_key("keyspace"));
        let text = r#"
[target.scylla]
username = "bench"
password = "hunter2-scylla"
[target.kafka.producer]
"sasl.password" = 'hunter2-kafka'
"linger.ms" = "5"
"#;
        let sets = vec!["target.kafka.consumer.\"ssl.key.password\"=hunter2-set".to_string()];
        let s = Secrets::of(text, &sets);
        let t = s.text(text);
        assert!(
            !t.contains("hunter2") && t.contains("username = \"bench\"") && t.contains("\"linger.ms\" = \"5\""),
            "{t}"
        );
        assert_eq!(
            override_shown(&sets[0]),
            "target.kafka.consumer.\"ssl.key.password\"=***"
        );
        assert_eq!(s.message("--set x=hunter2-set failed"), "--set x=*** failed");
        let mut j = serde_json::json!({"kafka": {"producer": {"sasl.password": "hunter2-kafka", "acks": "all"}}, "note": "was hunter2-scylla"});
        s.json(&mut j);
        assert!(!j.to_string().contains("hunter2"), "{j}");
        assert_eq!(j["kafka"]["producer"]["acks"], "all");
    }

    #[test]
    fn references_read_the_environment_or_a_file() {
        std::env::set_var("EVENTBENCH_TEST_SECRET", "s3cret");
        assert_eq!(
            resolve_reference("sasl.password_env", "EVENTBENCH_TEST_SECRET"),
            Ok(Some(("sasl.password".to_string(), "s3cret".to_string())))
        );
        assert_eq!(resolve_reference("linger.ms", "5"), Ok(None));
        let err = resolve_reference("password_env", "EVENTBENCH_NO_SUCH_VAR").expect_err("unset");
        assert!(err.contains("EVENTBENCH_NO_SUCH_VAR"));
    }
}
