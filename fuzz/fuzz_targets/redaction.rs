//! Redaction by structure, as a property: a secret's value, placed at a secret-bearing
//! setting in any TOML spelling (basic with any escapes, literal, multi-line basic with
//! line-ending backslashes, multi-line literal, quoted or escaped keys, dotted keys,
//! inline tables, arrays of tables with a `secret_keys` name, a comment quoting it) or
//! given with `--set`, survives nowhere in what eventbench records: neither the value
//! nor its spelling is in the recorded text, no string parsed from it holds the value,
//! and neither an override as shown nor a message quoting the value holds it.
#![no_main]

use eventbench::scenario::secrets::{override_shown, Secrets, WITHHELD};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Case {
    /// The secret, after a marker that makes it unique in the text.
    value: String,
    spelling: u8,
    place: u8,
    key: u8,
    /// Per character: how a basic string writes it.
    escapes: Vec<u8>,
    comment: bool,
    via_set: bool,
}

const MARK: &str = "Qz7";

/// The value written as a TOML string in one of its spellings; `None` where that
/// spelling cannot hold it.
fn spell(value: &str, spelling: u8, escapes: &[u8]) -> Option<String> {
    let basic_char = |i: usize, c: char| -> String {
        let how = escapes.get(i).copied().unwrap_or(0) % 4;
        match c {
            '"' => "\\\"".into(),
            '\\' => "\\\\".into(),
            '\n' => "\\n".into(),
            '\t' if how == 1 => "\\t".into(),
            c if (c as u32) < 0x20 || c == '\u{7f}' => format!("\\u{:04X}", c as u32),
            c if how == 2 && (c as u32) < 0x10000 => format!("\\u{:04x}", c as u32),
            c if how == 3 => format!("\\U{:08X}", c as u32),
            c => c.to_string(),
        }
    };
    let control = |s: &str| s.chars().any(|c| ((c as u32) < 0x20 && c != '\t') || c == '\u{7f}');
    match spelling % 5 {
        0 => Some(format!(
            "\"{}\"",
            value
                .chars()
                .enumerate()
                .map(|(i, c)| basic_char(i, c))
                .collect::<String>()
        )),
        1 if !value.contains('\'') && !control(value) => Some(format!("'{value}'")),
        2 => {
            // Multi-line basic: escaped, with a line-ending backslash (which TOML trims
            // with the whitespace after it) between the marker and the rest.
            let esc = |from: usize, part: &str| -> String {
                part.chars().enumerate().map(|(i, c)| basic_char(from + i, c)).collect()
            };
            let tail = &value[MARK.len()..];
            if tail.is_empty() || tail.starts_with([' ', '\t', '\n', '\r']) {
                // The backslash would trim the value's own leading whitespace too.
                return Some(format!("\"\"\"\n{}\"\"\"", esc(0, value)));
            }
            Some(format!(
                "\"\"\"\n{}\\\n    {}\"\"\"",
                esc(0, MARK),
                esc(MARK.chars().count(), tail)
            ))
        }
        3 if !value.contains("'''") && !value.ends_with('\'') && !control(value) => Some(format!("'''\n{value}'''")),
        _ => Some(format!(
            "\"{}\"",
            value
                .chars()
                .map(|c| format!("\\U{:08X}", c as u32))
                .collect::<String>()
        )),
    }
}

fuzz_target!(|c: Case| {
    let value = format!("{MARK}{}", c.value);
    let Some(spelled) = spell(&value, c.spelling, &c.escapes) else {
        return;
    };
    let key = [
        "password",
        "\"sasl.password\"",
        "'ssl.key.pem'",
        "\"pass\\u0077ord\"",
        "token",
    ][c.key as usize % 5];
    let body = match c.place % 6 {
        0 => format!("[target.scylla]\nuser = \"u\"\n{key} = {spelled}\n"),
        1 => format!("[target.kafka.producer]\n{key} = {spelled}\n\"sasl.username\" = \"u\"\n"),
        2 => format!("target . kafka . consumer . {key} = {spelled}\n"),
        3 => format!("[target]\nscylla = {{ user = \"u\", {key} = {spelled} }}\n"),
        4 => format!("secret_keys = [\"apikey\"]\n[[extra]]\nname = \"one\"\n[[extra]]\napikey = {spelled}\n"),
        _ => format!("[target.kafka]\nproducer = [{{ {key} = {spelled} }}]\n"),
    };
    // A comment quoting the value, on one line (a newline would end the comment).
    let comment = if c.comment && !value.contains(['\n', '\r']) {
        format!("# was {value}\n")
    } else {
        String::new()
    };
    let text = format!("name = \"fuzz\"\n{comment}{body}[workload.w]\nkind = \"persist\"\nrate = 10\n");
    // Only documents that TOML itself reads: the value must be in it as a value.
    let Ok(parsed) = toml::from_str::<toml::Table>(&text) else {
        return;
    };
    drop(parsed);
    let overrides: Vec<String> = if c.via_set {
        vec![
            format!("target.scylla.password={value}"),
            format!(
                "target.scylla.password=\"{}\"",
                value.replace('\\', "\\\\").replace('"', "\\\"")
            ),
        ]
    } else {
        Vec::new()
    };
    let s = Secrets::of(&text, &overrides);
    let recorded = s.text(&text);
    if recorded != WITHHELD {
        assert!(
            !recorded.contains(&value),
            "the value survived:\n{text}\n->\n{recorded}"
        );
        assert!(
            !recorded.contains(&spelled),
            "its spelling survived:\n{text}\n->\n{recorded}"
        );
        let t: toml::Table =
            toml::from_str(&recorded).unwrap_or_else(|e| panic!("recorded text does not parse: {e}\n{recorded}"));
        fn strings(v: &toml::Value, out: &mut Vec<String>) {
            match v {
                toml::Value::String(s) => out.push(s.clone()),
                toml::Value::Table(t) => t.iter().for_each(|(k, x)| {
                    out.push(k.clone());
                    strings(x, out)
                }),
                toml::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        strings(&toml::Value::Table(t), &mut all);
        assert!(
            !all.iter().any(|x| x.contains(&value)),
            "a parsed string holds the value:\n{recorded}"
        );
    }
    let message = s.message(&format!("failed with {value} here"));
    assert!(
        !message.contains(&value),
        "a message kept it: {message}\n{text}\n{overrides:?}"
    );
    for ov in &overrides {
        let shown = override_shown(ov);
        assert!(!shown.contains(&value), "an override shown kept it: {shown}");
    }
});
