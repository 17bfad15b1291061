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
