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

/// Secret-bearing settings named in full by librdkafka's and the CQL driver's docs
/// that the word rules below would miss: an OAUTHBEARER config string carries the
/// client secret, a JAAS config the password, a PEM private key is a key whatever its
/// property is called.
const SECRET_NAMES: [&str; 4] = ["sasl.oauthbearer.config", "sasl.jaas.config", "ssl_key", "private_key"];

/// Whether a setting's name (a key, or a dotted path of keys) marks its value as a
/// secret: its last part names a password, secret, token or credentials, or it is one
/// of [`SECRET_NAMES`], or a key in PEM (`ssl.key.pem`, `ssl_key.pem`).
pub fn is_secret_key(key: &str) -> bool {
    let whole = key.to_ascii_lowercase();
    if whole.ends_with("_env") || whole.ends_with("_file") {
        // Names where the secret is, not the secret.
        return false;
    }
    let k = whole.rsplit(['.', '_']).next().unwrap_or(&whole);
    ["password", "passwd", "secret", "token", "credentials"]
        .iter()
        .any(|w| k.contains(w))
        || SECRET_NAMES.iter().any(|n| whole.ends_with(n))
        || (whole.contains("key") && whole.ends_with(".pem"))
}

/// The secret values a scenario text and its overrides hold, to be redacted wherever
/// they would otherwise appear, and the names the scenario marks secret itself
/// (`secret_keys = [...]`).
#[derive(Debug, Default, Clone)]
pub struct Secrets {
    values: Vec<String>,
    names: Vec<String>,
}

/// What stands in for a scenario text whose secrets could not all be placed: better no
/// record of the text than one with a secret in it.
pub const WITHHELD: &str =
    "# (scenario text withheld: a secret in it could not be redacted safely; see the resolved plan)\n";

impl Secrets {
    pub fn of(text: &str, overrides: &[String]) -> Secrets {
        let mut s = Secrets::default();
        let table = toml::from_str::<toml::Table>(text).ok();
        if let Some(toml::Value::Array(names)) = table.as_ref().and_then(|t| t.get("secret_keys")) {
            s.names = names
                .iter()
                .filter_map(|n| n.as_str().map(str::to_ascii_lowercase))
                .collect();
        }
        let mut values = Vec::new();
        if let Some(table) = table {
            s.collect(&toml::Value::Table(table), "", false, &mut values);
        }
        for ov in overrides {
            if let Some((k, v)) = ov.split_once('=') {
                let path = super::set::split_path(k.trim())
                    .map(|keys| keys.join("."))
                    .unwrap_or_else(|_| k.trim().to_string());
                // The value as the override applies it (a string, a number, an inline
                // table ...), and as typed, quotes and all.
                let parsed = super::set::parse_value(v.trim());
                s.collect(&parsed, &path, false, &mut values);
                if s.secret(&path) {
                    values.push(v.trim().to_string());
                    values.push(v.trim().trim_matches(|c| c == '"' || c == '\'').to_string());
                }
            }
        }
        values.retain(|v| !v.is_empty() && v != REDACTED);
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        s.values = values;
        s
    }

    /// A resolved plan's secrets: its scenario text's and overrides', the scenario's
    /// own `secret_keys`, and every value under a secret's name in the resolved plan
    /// (`resolved`, as JSON), so a plan made without its text, as a capacity step's,
    /// still knows what to redact.
    pub fn of_resolved(text: &str, overrides: &[String], secret_keys: &[String], resolved: &Value) -> Secrets {
        let mut s = Secrets::of(text, overrides);
        s.names.extend(secret_keys.iter().map(|n| n.to_ascii_lowercase()));
        let mut values = std::mem::take(&mut s.values);
        s.collect_json(resolved, "", false, &mut values);
        values.retain(|v| !v.is_empty() && v != REDACTED);
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        s.values = values;
        s
    }

    fn collect_json(&self, v: &Value, path: &str, secret: bool, out: &mut Vec<String>) {
        let secret = secret || (!path.is_empty() && self.secret(path));
        match v {
            Value::String(x) if secret => out.push(x.clone()),
            Value::Object(m) => {
                for (k, x) in m {
                    self.collect_json(x, &join(path, k), secret, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|x| self.collect_json(x, path, secret, out)),
            _ => {}
        }
    }

    /// Whether the setting at this dotted path holds a secret (by name, or marked by
    /// the scenario's `secret_keys`, a key or a dotted path's end).
    fn secret(&self, path: &str) -> bool {
        let p = path.to_ascii_lowercase();
        is_secret_key(&p) || self.names.iter().any(|n| p == *n || p.ends_with(&format!(".{n}")))
    }

    fn collect(&self, v: &toml::Value, path: &str, secret: bool, out: &mut Vec<String>) {
        let secret = secret || (!path.is_empty() && self.secret(path));
        match v {
            toml::Value::String(s) if secret => out.push(s.clone()),
            toml::Value::Table(t) => {
                for (k, x) in t {
                    self.collect(x, &join(path, k), secret, out);
                }
            }
            toml::Value::Array(a) => a.iter().for_each(|x| self.collect(x, path, secret, out)),
            _ if secret => out.push(v.to_string()),
            _ => {}
        }
    }

    /// The scenario text as written, each secret's value node replaced by `"***"`
    /// whatever its spelling (basic, literal, multi-line, escaped, dotted key, inline
    /// table, array of tables), comments and layout kept; then any secret value still
    /// in it (a comment quoting one) replaced too. A text that does not parse, or in
    /// which a secret is still found after that, is withheld ([`WITHHELD`]).
    pub fn text(&self, text: &str) -> String {
        let Ok(mut doc) = text.parse::<toml_edit::DocumentMut>() else {
            return if self.values.is_empty() && !contains_secret_word(text) {
                text.to_string()
            } else {
                WITHHELD.to_string()
            };
        };
        self.redact_table(doc.as_table_mut(), "", false);
        let out = self.message(&doc.to_string());
        // Checked again from the parsed result: no string in it may carry a secret.
        let mut left = Vec::new();
        match toml::from_str::<toml::Table>(&out) {
            Ok(t) => strings(&toml::Value::Table(t), &mut left),
            Err(_) => return WITHHELD.to_string(),
        }
        if left.iter().any(|s| self.values.iter().any(|v| s.contains(v.as_str()))) {
            WITHHELD.to_string()
        } else {
            out
        }
    }

    fn redact_table(&self, t: &mut dyn toml_edit::TableLike, path: &str, secret: bool) {
        for (k, item) in t.iter_mut() {
            let p = join(path, k.get());
            let secret = secret || self.secret(&p);
            match item {
                toml_edit::Item::Value(v) => self.redact_value(v, &p, secret),
                toml_edit::Item::Table(t) => self.redact_table(t, &p, secret),
                toml_edit::Item::ArrayOfTables(a) => {
                    for t in a.iter_mut() {
                        self.redact_table(t, &p, secret);
                    }
                }
                toml_edit::Item::None => {}
            }
        }
    }

    fn redact_value(&self, v: &mut toml_edit::Value, path: &str, secret: bool) {
        match v {
            toml_edit::Value::InlineTable(t) => self.redact_table(t, path, secret),
            toml_edit::Value::Array(a) => a.iter_mut().for_each(|x| self.redact_value(x, path, secret)),
            _ if secret => {
                let decor = v.decor().clone();
                *v = toml_edit::Value::from(REDACTED);
                *v.decor_mut() = decor;
            }
            _ => {}
        }
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
                    if self.secret(k) && !x.is_null() {
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

/// `--set KEY=VALUE` as it may be shown: a secret key's value replaced, and inside an
/// inline table or array value, each secret's value node.
pub fn override_shown(ov: &str) -> String {
    let Some((k, v)) = ov.split_once('=') else {
        return ov.to_string();
    };
    let path = super::set::split_path(k.trim())
        .map(|keys| keys.join("."))
        .unwrap_or_else(|_| k.trim().to_string());
    if is_secret_key(&path) {
        return format!("{k}={REDACTED}");
    }
    let v = v.trim();
    if v.starts_with('{') || v.starts_with('[') {
        if let Ok(mut value) = v.parse::<toml_edit::Value>() {
            let s = Secrets::default();
            s.redact_value(&mut value, &path, false);
            return format!("{k}={}", value.to_string().trim());
        }
    }
    ov.to_string()
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Every string in a parsed value (keys too), to check a redacted text.
fn strings(v: &toml::Value, out: &mut Vec<String>) {
    match v {
        toml::Value::String(s) => out.push(s.clone()),
        toml::Value::Table(t) => {
            for (k, x) in t {
                out.push(k.clone());
                strings(x, out);
            }
        }
        toml::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// Whether a text names a secret-bearing setting: a text that does not parse cannot
/// have its secrets found by structure, so then it is not recorded.
fn contains_secret_word(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "secret",
        "token",
        "credentials",
        "jaas",
        ".pem",
        "ssl_key",
        "private_key",
    ]
    .iter()
    .any(|w| t.contains(w))
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

    /// Every spelling TOML has for a value: each secret is gone from the recorded text,
    /// and everything else is as written.
    #[test]
    fn secrets_are_redacted_by_structure_whatever_their_spelling() {
        let text = r#"# a scenario
name = "s"   # keep me
secret_keys = ["sasl.oauthbearer.extensions"]
[target]
scylla.password = "S1-dotted"
scylla.tls = { key_password = 'S2-literal-inline' }
[target.kafka.producer]
"ssl.key.pem" = """
-----BEGIN ENCRYPTED PRIVATE KEY-----
S3-multi
-----END ENCRYPTED PRIVATE KEY-----"""
"sasl.password" = "S4-esc\"aped\u0041"
'sasl.oauthbearer.config' = '''
principal=u clientSecret=S5-multiliteral'''
"sasl.oauthbearer.extensions" = "S6-marked"
"linger.ms" = "5"
[[workload.w.phases]]
token = "S7-array-of-tables"
rate = 1
"#;
        let sets = vec![
            "target.kafka.client={\"sasl.username\"=\"u\",\"sasl.password\"=\"S8-set-inline\"}".to_string(),
            "target.scylla.password='S9-set'".to_string(),
        ];
        let s = Secrets::of(text, &sets);
        let t = s.text(text);
        assert!(!t.contains("S1") && !t.contains("S2") && !t.contains("S3"), "{t}");
        assert!(
            !t.contains("S4") && !t.contains("S5") && !t.contains("S6") && !t.contains("S7"),
            "{t}"
        );
        assert!(
            t.contains("name = \"s\"   # keep me") && t.contains("\"linger.ms\" = \"5\""),
            "{t}"
        );
        assert!(
            t.contains("scylla.password = \"***\"") && t.contains("key_password = \"***\""),
            "{t}"
        );
        assert!(t.starts_with("# a scenario"), "{t}");
        for set in &sets {
            let shown = override_shown(set);
            assert!(!shown.contains("S8") && !shown.contains("S9"), "{shown}");
        }
        assert!(
            override_shown(&sets[0]).contains("sasl.username"),
            "{}",
            override_shown(&sets[0])
        );
        assert_eq!(s.message("was S8-set-inline, S9-set"), "was ***, ***");
        // A text whose secrets cannot be found by structure is not recorded at all.
        let broken = "[target.scylla]\npassword = \"S10\"\n[[[";
        assert_eq!(Secrets::of(broken, &[]).text(broken), WITHHELD);
        // A secret value quoted in a comment goes too.
        let commented = "[target.scylla]\npassword = \"S11-comment\" # was S11-comment\n";
        assert!(!Secrets::of(commented, &[]).text(commented).contains("S11"));
    }
}
