//! The `--set KEY=VALUE` grammar: a dotted key path (quoted keys may hold dots) and a
//! value read as TOML, or as a plain string when it is not TOML. Its own file: loading a
//! scenario applies it, and redacting secrets reads overrides by the same rules.

use toml::{Table, Value};

/// Sets `a.b.c=value`; the value is read as TOML (`2000`, `"5s"`, `true`), or as a
/// plain string when it is not valid TOML (`5s`).
pub(super) fn apply_override(table: &mut Table, ov: &str) -> Result<(), String> {
    let (path, raw) = ov.split_once('=').ok_or("expected KEY=VALUE, e.g. --set duration=5s")?;
    let keys = split_path(path.trim())?;
    if keys.iter().any(|k| k.is_empty()) {
        return Err(format!("empty key in {path:?}"));
    }
    let value = parse_value(raw.trim());
    let (last, parents) = keys.split_last().ok_or("empty key")?;
    let mut cur = table;
    for (i, k) in parents.iter().enumerate() {
        let entry = cur.entry(k.to_string()).or_insert_with(|| Value::Table(Table::new()));
        cur = match entry {
            Value::Table(t) => t,
            _ => return Err(format!("{} is not a table", keys[..=i].join("."))),
        };
    }
    cur.insert(last.to_string(), value);
    Ok(())
}

/// Splits `a.b."c.d"` into `a`, `b`, `c.d`: a quoted key may hold dots, as in TOML.
pub(super) fn split_path(path: &str) -> Result<Vec<String>, String> {
    let mut keys = vec![String::new()];
    let mut quoted = false;
    for c in path.chars() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => keys.push(String::new()),
            c => keys.last_mut().map(|k| k.push(c)).unwrap_or_default(),
        }
    }
    if quoted {
        return Err(format!("unclosed quote in {path:?}"));
    }
    Ok(keys)
}

pub(super) fn parse_value(raw: &str) -> Value {
    #[derive(serde::Deserialize)]
    struct Wrap {
        v: Value,
    }
    toml::from_str::<Wrap>(&format!("v = {raw}"))
        .map(|w| w.v)
        .unwrap_or_else(|_| Value::String(raw.to_string()))
}
