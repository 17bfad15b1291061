//! The layer guard: every `crate::` path in `src/` must point to the module's own
//! layer (a sibling that never imports it back) or below. The table is the one in
//! `src/lib.rs`'s doc comment, so the documentation and the check cannot drift apart.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module -> layer, from lines like `//! layer 3 target:      backend datagen service`.
fn layers(lib_rs: &str) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    for line in lib_rs.lines() {
        let Some(rest) = line.trim_start_matches("//!").trim().strip_prefix("layer ") else {
            continue;
        };
        let (head, modules) = rest.split_once(':').expect("`layer N name: modules`");
        let n: u32 = head
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .expect("layer number");
        for m in modules.split_whitespace() {
            out.insert(m.to_string(), n);
        }
    }
    out
}

/// The top-level modules a source file's text names through `crate::` (comments aside),
/// including grouped imports such as `use crate::{a, b::c}`.
fn imports(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or("");
                for part in inner.split(',') {
                    let name: String = part
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        out.insert(name);
                    }
                }
            } else {
                let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        }
    }
    out
}

/// Every import that points up the table, or sideways into a sibling that imports
/// back, as "file: a (layer) -> b (layer)".
fn violations(files: &[(String, String)], table: &BTreeMap<String, u32>) -> Vec<String> {
    let module_of = |file: &str| file.split(['/', '.']).next().unwrap_or("").to_string();
    let mut edges: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut out = Vec::new();
    for (file, text) in files {
        let from = module_of(file);
        let Some(&lf) = table.get(&from) else {
            if from != "lib" && from != "main" {
                out.push(format!("{file}: module `{from}` is not in the layer table"));
            }
            continue;
        };
        for to in imports(text) {
            if to == from {
                continue;
            }
            let Some(&lt) = table.get(&to) else { continue };
            if lt > lf {
                out.push(format!(
                    "{file}: {from} (layer {lf}) imports {to} (layer {lt}), which is above it"
                ));
            }
            if lt == lf {
                edges.insert((from.clone(), to.clone()), file.clone());
            }
        }
    }
    for ((a, b), file) in &edges {
        if a < b && edges.contains_key(&(b.clone(), a.clone())) {
            out.push(format!("{file}: siblings {a} and {b} import each other"));
        }
    }
    out
}

fn sources(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path
                .strip_prefix(root)
                .expect("under src")
                .to_string_lossy()
                .into_owned();
            out.push((rel, std::fs::read_to_string(&path).expect("read")));
        }
    }
}

#[test]
fn no_import_points_up_the_layer_table() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let table = layers(&std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs"));
    assert!(table.len() >= 20, "the table in lib.rs lists every module: {table:?}");
    let mut files = Vec::new();
    sources(&src, &src, &mut files);
    let bad = violations(&files, &table);
    assert!(bad.is_empty(), "imports against the layer table:\n{}", bad.join("\n"));
}

#[test]
fn the_guard_catches_an_upward_import_and_a_sibling_circle() {
    let table = layers("//! layer 2 upper:  report\n//! layer 1 lower:  stats thresholds\n//! layer 0 base:   units\n");
    let file = |name: &str, text: &str| (name.to_string(), text.to_string());
    let clean = [
        file(
            "report/mod.rs",
            "use crate::stats::Stage;\nuse crate::{units, thresholds::X};",
        ),
        file(
            "stats/mod.rs",
            "use crate::units::Dur; // crate::report is only a comment",
        ),
        file("thresholds.rs", "use crate::stats::Stage;"),
    ];
    assert_eq!(violations(&clean, &table), Vec::<String>::new());
    let upward = [file(
        "stats/hlog.rs",
        "fn f() { let _ = crate::report::Summary::default(); }",
    )];
    let bad = violations(&upward, &table);
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert!(bad[0].contains("stats (layer 1) imports report (layer 2)"), "{bad:?}");
    let grouped = [file("units.rs", "use crate::{stats::Stage};")];
    assert_eq!(violations(&grouped, &table).len(), 1);
    let circle = [
        file("stats/a.rs", "use crate::thresholds::T;"),
        file("thresholds.rs", "use crate::stats::S;"),
    ];
    let bad = violations(&circle, &table);
    assert!(
        bad.iter().any(|b| b.contains("siblings stats and thresholds")),
        "{bad:?}"
    );
    let unknown = [file("newthing.rs", "")];
    assert!(violations(&unknown, &table)[0].contains("not in the layer table"));
}

/// A file's module path: `report/summary.rs` -> report::summary, `report/mod.rs` ->
/// report, `lib.rs` -> (the root).
fn module_path(file: &str) -> Vec<String> {
    let stem = file.trim_end_matches(".rs");
    let mut parts: Vec<String> = stem.split('/').map(str::to_string).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib" || p == "main") {
        parts.pop();
    }
    parts
}

/// The paths a file's code names through `crate::`, `super::` or `self::` (its test
/// module, from `#[cfg(test)]` on, aside), each as absolute module segments; grouped
/// imports give one path per member.
fn named_paths(file: &str, text: &str) -> Vec<Vec<String>> {
    let here = module_path(file);
    let code: String = text
        .split("#[cfg(test)]")
        .next()
        .unwrap_or("")
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let word = |s: &str| -> String { s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect() };
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < code.len() {
        let rest = &code[i..];
        let start = ["crate::", "super::", "self::"]
            .into_iter()
            .find(|p| rest.starts_with(p));
        let boundary =
            i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_' || bytes[i - 1] == b':');
        let Some(p) = start.filter(|_| boundary) else {
            i += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        };
        let mut base: Vec<String> = match p {
            "crate::" => Vec::new(),
            "super::" => here[..here.len().saturating_sub(1)].to_vec(),
            _ => here.clone(),
        };
        let mut tail = &rest[p.len()..];
        while let Some(t) = tail.strip_prefix("super::") {
            base.pop();
            tail = t;
        }
        if let Some(group) = tail.strip_prefix('{') {
            for member in group.split('}').next().unwrap_or("").split(',') {
                let segs: Vec<String> = member.trim().split("::").map(word).filter(|s| !s.is_empty()).collect();
                out.push(base.iter().cloned().chain(segs).collect());
            }
        } else {
            let mut segs = base;
            for s in tail.split("::") {
                let w = word(s);
                if w.is_empty() {
                    break;
                }
                let whole = w.len() == s.len();
                segs.push(w);
                if !whole {
                    break;
                }
            }
            out.push(segs);
        }
        i += p.len();
    }
    out
}

/// Circles among the crate's files: a file that imports a file that (through others)
/// imports it back. A parent module and its children name each other by relative
/// paths (`mod search; search::Search`), which this does not follow, as the idiom is.
fn circles(files: &[(String, String)]) -> Vec<Vec<String>> {
    let modules: BTreeMap<Vec<String>, String> = files.iter().map(|(f, _)| (module_path(f), f.clone())).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, text) in files {
        let here = module_path(file);
        for path in named_paths(file, text) {
            // The longest prefix that is a file of the crate.
            let target = (1..=path.len()).rev().find_map(|n| modules.get(&path[..n]));
            if let Some(t) = target.filter(|t| **t != *file && module_path(t) != here) {
                edges.entry(file.clone()).or_default().insert(t.clone());
            }
        }
    }
    // Tarjan's strongly connected components of more than one file.
    struct State<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<String, usize>,
        low: BTreeMap<String, usize>,
        stack: Vec<String>,
        on: BTreeSet<String>,
        out: Vec<Vec<String>>,
    }
    fn visit(s: &mut State<'_>, v: &str) {
        let n = s.index.len();
        s.index.insert(v.to_string(), n);
        s.low.insert(v.to_string(), n);
        s.stack.push(v.to_string());
        s.on.insert(v.to_string());
        let next: Vec<String> = s.edges.get(v).map(|e| e.iter().cloned().collect()).unwrap_or_default();
        for w in next {
            if !s.index.contains_key(&w) {
                visit(s, &w);
                let lw = s.low[&w];
                let lv = s.low[v];
                s.low.insert(v.to_string(), lv.min(lw));
            } else if s.on.contains(&w) {
                let iw = s.index[&w];
                let lv = s.low[v];
                s.low.insert(v.to_string(), lv.min(iw));
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on.remove(&w);
                let done = w == v;
                comp.push(w);
                if done {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = State {
        edges: &edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for (f, _) in files {
        if !s.index.contains_key(f) {
            visit(&mut s, f);
        }
    }
    s.out
}

#[test]
fn no_two_files_import_each_other() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &src, &mut files);
    let found = circles(&files);
    assert!(
        found.is_empty(),
        "import circles (each line: files that import each other, directly or through the others):\n{}",
        found.iter().map(|c| c.join(" <-> ")).collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn the_circle_guard_catches_a_circle_through_super_and_crate() {
    let file = |name: &str, text: &str| (name.to_string(), text.to_string());
    let circle = [
        file("report/mod.rs", "pub mod summary; pub mod verdict;"),
        file("report/summary.rs", "use super::verdict::{Health, evaluate};"),
        file("report/verdict.rs", "fn f(s: &crate::report::summary::Summary) {}"),
        file("model/event.rs", "use super::time::GoTime;"),
        file(
            "model/time.rs",
            "#[cfg(test)]\nmod tests { use super::super::event::Event; }",
        ),
    ];
    let found = circles(&circle);
    assert_eq!(
        found,
        vec![vec!["report/summary.rs".to_string(), "report/verdict.rs".to_string()]]
    );
}
