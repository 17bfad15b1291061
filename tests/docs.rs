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
