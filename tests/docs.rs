//! The user documentation holds together: the guide's table of contents names files
//! that exist, every relative link in the README and the guide's chapters points at a
//! file that exists (the guide was moved out of the README, and links break quietly),
//! and the README stays short, as the developers' guide asks.

mod common;

use std::path::{Path, PathBuf};

/// The relative link targets of a markdown text (`](target)`, anchors and web links aside).
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        let Some(end) = rest.find(')') else { break };
        let target = rest[..end].split('#').next().unwrap_or("").trim().to_string();
        if !target.is_empty() && !target.contains("://") && !target.starts_with("mailto:") {
            out.push(target);
        }
        rest = &rest[end..];
    }
    out
}

fn broken(file: &Path) -> Vec<String> {
    let text = common::read(file);
    let dir = file.parent().expect("a file's directory");
    links(&text)
        .into_iter()
        .filter(|t| !dir.join(t).exists())
        .map(|t| format!("{}: {t}", file.display()))
        .collect()
}

fn guide() -> PathBuf {
    common::root().join("docs/guide/src")
}

#[test]
fn every_relative_link_in_the_readme_and_the_guide_resolves() {
    let mut files = vec![common::root().join("README.md")];
    for entry in std::fs::read_dir(guide()).expect("docs/guide/src") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    assert!(files.len() >= 15, "{} files", files.len());
    let bad: Vec<String> = files.iter().flat_map(|f| broken(f)).collect();
    assert!(bad.is_empty(), "broken links:\n{}", bad.join("\n"));
}

#[test]
fn the_guide_s_contents_name_its_chapters_and_each_chapter_is_named() {
    let summary = common::read(&guide().join("SUMMARY.md"));
    let named = links(&summary);
    assert!(named.len() >= 15, "{named:?}");
    for entry in std::fs::read_dir(guide()).expect("docs/guide/src") {
        let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
        if name.ends_with(".md") && name != "SUMMARY.md" {
            assert!(named.contains(&name), "{name} is in no chapter list");
        }
    }
    // The two chapters kept beside the code that points at them are included whole.
    for (chapter, file) in [("hops.md", "hops.md"), ("sizing.md", "sizing.md")] {
        let text = common::read(&guide().join(chapter));
        assert!(text.contains(&format!("{{{{#include ../../{file}}}}}")), "{chapter}");
    }
}

#[test]
fn the_readme_stays_short_and_holds_the_two_commands() {
    let readme = common::read(&common::root().join("README.md"));
    assert!(readme.lines().count() <= 200, "{} lines", readme.lines().count());
    assert!(readme.contains("cargo run --release -- run scenarios/quickstart.toml"));
    assert!(readme.contains("\nscripts/test\n"));
    let ci = common::read(&common::root().join(".ci/run"));
    assert!(ci.contains("scripts/test"), "{ci}");
}

/// The ```toml blocks of a markdown text.
fn toml_blocks(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut block: Option<String> = None;
    for line in text.lines() {
        match (&mut block, line.trim_start()) {
            (None, l) if l.starts_with("```toml") => block = Some(String::new()),
            (Some(b), l) if l.starts_with("```") => {
                out.push(std::mem::take(b));
                block = None;
            }
            (Some(b), _) => {
                b.push_str(line);
                b.push('\n');
            }
            _ => {}
        }
    }
    out
}

/// `over` laid over `base`, table by table.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// The scenario reference: the first ```toml block of the scenarios chapter.
fn reference() -> String {
    toml_blocks(&common::read(&guide().join("scenarios.md")))
        .into_iter()
        .next()
        .expect("the reference block")
}

#[test]
fn every_toml_block_in_the_guide_is_a_scenario_the_parser_accepts() {
    let reference = reference();
    eventbench::scenario::parse("scenarios.md", &reference, &[]).unwrap_or_else(|e| panic!("the reference: {e}"));
    let mut checked = 0;
    for entry in std::fs::read_dir(guide()).expect("guide").flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "md") {
            continue;
        }
        for (i, block) in toml_blocks(&common::read(&path)).into_iter().enumerate() {
            // A whole scenario stands alone; a fragment is laid over the reference.
            let fragment: toml::Table =
                toml::from_str(&block).unwrap_or_else(|e| panic!("{} block {i}: {e}", path.display()));
            let text = if fragment.contains_key("name") {
                block
            } else {
                let mut whole: toml::Table = toml::from_str(&reference).expect("reference");
                merge(&mut whole, fragment);
                toml::to_string(&whole).expect("toml")
            };
            let source = format!("{} block {i}", path.display());
            if let Err(e) = eventbench::scenario::parse(&source, &text, &[]) {
                panic!("{e}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 4, "toml blocks checked: {checked}");
}

/// Every key the scenario parser reads (a field of a struct in `src/scenario/types/`
/// that deserializes, by its serde name) is named in the reference, as a key, a table,
/// or in a comment beside it.
#[test]
fn the_scenario_reference_names_every_key_the_parser_reads() {
    let reference = reference();
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let named = |key: &str| {
        reference.match_indices(key).any(|(i, _)| {
            let before = reference[..i].chars().next_back().unwrap_or(' ');
            let after = reference[i + key.len()..].chars().next().unwrap_or(' ');
            !word(before) && !word(after)
        })
    };
    let mut missing = Vec::new();
    let mut keys = 0;
    let dir = common::root().join("src/scenario/types");
    for entry in std::fs::read_dir(&dir).expect("types").flatten() {
        let text = common::read(&entry.path());
        let lines: Vec<&str> = text.lines().collect();
        let mut deserializes = false;
        for (i, line) in lines.iter().enumerate() {
            let t = line.trim();
            if t.starts_with("#[derive(") {
                deserializes = t.contains("Deserialize");
                continue;
            }
            let Some(field) = t.strip_prefix("pub ").and_then(|f| f.split_once(':')).map(|f| f.0) else {
                continue;
            };
            if !deserializes || !line.starts_with("    ") || field.contains(' ') {
                continue;
            }
            // Its serde attributes: a rename names it; skip reads nothing.
            let attrs: Vec<&str> = lines[..i]
                .iter()
                .rev()
                .take_while(|l| l.trim().starts_with("#[") || l.trim().starts_with("///"))
                .copied()
                .collect();
            if attrs.iter().any(|a| a.contains("#[serde(skip)]")) {
                continue;
            }
            let key = attrs
                .iter()
                .find_map(|a| a.split("rename = \"").nth(1).and_then(|r| r.split('"').next()))
                .unwrap_or(field);
            keys += 1;
            if !named(key) {
                missing.push(format!("{} {key}", entry.path().display()));
            }
        }
    }
    assert!(keys > 60, "keys found: {keys}");
    assert!(missing.is_empty(), "keys the reference does not name: {missing:?}");
}
