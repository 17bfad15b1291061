//! The house rules a newcomer can read by: no file in `src/` past 500 lines and no
//! function past 100. A long `match` that reads as a table may stay, named in
//! [`TABLES`] with its reason. [`NOT_YET_SPLIT`] lists what was over before the rules
//! were checked, each at its length then: it may shrink, never grow, and a new
//! offender fails at once. Lengths count every line, comments and blank ones too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const MAX_FILE_LINES: usize = 500;
const MAX_FN_LINES: usize = 100;

/// Functions that read as a table of cases, with why they stay whole.
/// None today; an entry reads `("src/x.rs::f", "one arm per metric family")`.
const TABLES: &[(&str, &str)] = &[];

/// Over the limits when the rules were first checked (file or `file::function`, lines
/// then). Each may only get shorter; one at or under the limit must leave the list.
/// Empty: every file and function in `src/` is within the limits. It stays, so a
/// tighter rule can list its debt in the open.
const NOT_YET_SPLIT: &[(&str, usize)] = &[];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src").flatten() {
        let p = entry.path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The text with its string, raw string and char literals and its comments blanked
/// (line breaks kept), so braces inside them do not count.
fn code_of(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    // Keeps line breaks of a skipped stretch, so line numbers hold.
    let skip = |out: &mut String, from: usize, to: usize| {
        out.extend(text[from..to].chars().filter(|c| *c == '\n'));
    };
    while i < b.len() {
        let rest = &text[i..];
        let end = if rest.starts_with("//") {
            i + rest.find('\n').unwrap_or(rest.len())
        } else if rest.starts_with("/*") {
            i + rest.find("*/").map_or(rest.len(), |e| e + 2)
        } else if let Some(hashes) = raw_string_start(rest) {
            let close = format!("\"{}", "#".repeat(hashes));
            let body = hashes + 2;
            i + body + rest[body..].find(&close).map_or(rest.len() - body, |e| e + close.len())
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            j + 1
        } else if b[i] == b'\'' {
            // A char literal ('{', '\'', '\n'), not a lifetime ('a).
            match (b.get(i + 1), b.get(i + 2)) {
                (Some(b'\\'), _) => i + 2 + rest[2..].find('\'').map_or(0, |e| e + 1),
                (Some(_), Some(b'\'')) => i + 3,
                _ => i + 1,
            }
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
            continue;
        };
        let end = end.min(text.len());
        skip(&mut out, i, end);
        i = end;
    }
    out
}

/// `r"` or `r#"` (and more hashes) at the start: how many hashes.
fn raw_string_start(s: &str) -> Option<usize> {
    let rest = s.strip_prefix('r').or_else(|| s.strip_prefix("br"))?;
    let hashes = rest.chars().take_while(|c| *c == '#').count();
    rest[hashes..].starts_with('"').then_some(hashes)
}

/// The name of the function a line starts, if it does.
fn fn_name(line: &str) -> Option<String> {
    let mut words = line.split_whitespace().peekable();
    while let Some(w) = words.next() {
        match w {
            "fn" => {
                let name: String = words
                    .next()?
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                return (!name.is_empty()).then_some(name);
            }
            "pub" | "async" | "const" | "unsafe" | "extern" => continue,
            w if w.starts_with("pub(") => continue,
            _ => return None,
        }
    }
    None
}

/// Every function of a file with its length in lines (signature to closing brace).
fn functions(text: &str) -> Vec<(String, usize)> {
    let code = code_of(text);
    let lines: Vec<&str> = code.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(name) = fn_name(line) else { continue };
        let (mut depth, mut opened) = (0i64, false);
        for (j, l) in lines.iter().enumerate().skip(i) {
            if !opened && l.trim_end().ends_with(';') {
                break; // a declaration without a body
            }
            for c in l.chars() {
                match c {
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            if opened && depth <= 0 {
                out.push((name.clone(), j - i + 1));
                break;
            }
        }
    }
    out
}

/// Every file and function over its limit, by `file` or `file::function`.
fn offenders() -> BTreeMap<String, usize> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    let mut out = BTreeMap::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read source");
        let rel = f
            .strip_prefix(root)
            .expect("under the crate")
            .to_string_lossy()
            .replace('\\', "/");
        let n = text.lines().count();
        if n > MAX_FILE_LINES {
            out.insert(rel.clone(), n);
        }
        for (name, len) in functions(&text) {
            if len > MAX_FN_LINES {
                let key = format!("{rel}::{name}");
                let longest = out.get(&key).copied().unwrap_or(0).max(len);
                out.insert(key, longest);
            }
        }
    }
    out
}

#[test]
fn files_and_functions_stay_within_their_limits() {
    let found = offenders();
    let tables: BTreeMap<&str, &str> = TABLES.iter().copied().collect();
    let listed: BTreeMap<&str, usize> = NOT_YET_SPLIT.iter().copied().collect();
    let mut problems = Vec::new();
    for (what, &len) in &found {
        if tables.contains_key(what.as_str()) {
            continue;
        }
        match listed.get(what.as_str()) {
            None => problems.push(format!("{what}: {len} lines (new; split it along its seams)")),
            Some(&was) if len > was => problems.push(format!("{what}: {len} lines, was {was} (it may only shrink)")),
            Some(_) => {}
        }
    }
    for what in listed.keys() {
        if !found.contains_key(*what) {
            problems.push(format!("{what}: now within its limit; take it off NOT_YET_SPLIT"));
        }
    }
    println!("over the limits, listed: {}", found.len());
    for (what, len) in &found {
        println!("  {what}: {len}");
    }
    assert!(problems.is_empty(), "house rules:\n  {}", problems.join("\n  "));
}

#[test]
fn the_measure_counts_a_function_from_its_signature_to_its_brace() {
    let text = "pub(crate) async fn a() {\n    let s = \"}\\\n    {\";\n    let c = '{';\n    if x { y }\n}\nfn b();\nfn c<'a>(x: &'a str) -> &'a str {\n    x // }\n    r#\"\"}\"#\n}\n";
    let fns = functions(text);
    assert_eq!(fns, vec![("a".to_string(), 6), ("c".to_string(), 4)]);
}

/// A scenario's spans are for its errors: past `scenario/`, values are read through the
/// scenario's methods that return them plain (`scenario/types/values.rs`), so a span
/// never travels into the plan, the engine or a backend. `pacer.rs` reads a tokio
/// `AsyncFd` with its own `get_ref`.
#[test]
fn no_span_travels_past_the_scenario() {
    let mut files = Vec::new();
    sources(Path::new("src"), &mut files);
    let mut found = Vec::new();
    for f in files {
        let name = f.to_string_lossy().replace('\\', "/");
        if name.starts_with("src/scenario/") || name == "src/pacer.rs" {
            continue;
        }
        let code = code_of(&std::fs::read_to_string(&f).expect("read"));
        for (n, line) in code.lines().enumerate() {
            if line.contains("Spanned") || line.contains(".get_ref()") {
                found.push(format!("{name}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "spans past scenario/:\n{}", found.join("\n"));
}
