//! Reading a scenario file: TOML syntax and types first (errors carry the span the
//! parser saw), then `--set` overrides, then the checks types cannot express.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Table;

use super::set::apply_override;
use super::types::Scenario;
use super::validate;

/// A scenario problem, located as precisely as the input allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file, or `--set KEY=VALUE` when an override is at fault.
    pub source: String,
    /// 1-based line and column, where known.
    pub position: Option<(usize, usize)>,
    pub message: String,
}

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.position {
            Some((line, col)) => write!(f, "{}:{}:{}: {}", self.source, line, col, self.message),
            None => write!(f, "{}: {}", self.source, self.message),
        }
    }
}

impl std::error::Error for ScenarioError {}

/// A scenario with where it came from; `text` is the file as read.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub path: PathBuf,
    pub text: String,
    pub scenario: Scenario,
    pub overrides: Vec<String>,
    /// What the file holds that works but should change, e.g. a literal secret.
    pub warnings: Vec<String>,
}

/// Reads, overrides and checks a scenario file.
pub fn load(path: &Path, overrides: &[String]) -> Result<Loaded, ScenarioError> {
    let source = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        source: source.clone(),
        position: None,
        message: format!("cannot read scenario: {e}"),
    })?;
    let scenario = parse(&source, &text, overrides)?;
    let warnings = super::secrets::literal_secrets(&text)
        .into_iter()
        .map(|(key, line, col)| {
            format!(
                "{source}:{line}:{col}: {key} holds a literal secret; it works and is redacted from every \
                 report, but belongs in the environment or a file: {key}_env = \"NAME\" or {key}_file = \"path\""
            )
        })
        .collect();
    Ok(Loaded {
        path: path.to_path_buf(),
        text,
        scenario,
        overrides: overrides.to_vec(),
        warnings,
    })
}

/// Parses scenario text; `source` names it in errors.
pub fn parse(source: &str, text: &str, overrides: &[String]) -> Result<Scenario, ScenarioError> {
    let located = |span: Option<Range<usize>>, message: String| ScenarioError {
        source: source.to_string(),
        position: span.map(|s| line_col(text, s.start)),
        message,
    };
    let mut scenario: Scenario = toml::from_str(text).map_err(|e| located(e.span(), explain(e.message())))?;
    scenario.checked = validate::check(&scenario).map_err(|(span, msg)| located(span, msg))?;
    if overrides.is_empty() {
        return Ok(scenario);
    }
    // The file alone is valid, so whatever fails from here on is the overrides' doing.
    let mut table: Table = toml::from_str(text).map_err(|e| located(e.span(), explain(e.message())))?;
    // Errors name an override without a secret's value.
    let secrets = super::secrets::Secrets::of(text, overrides);
    let shown = |o: &str| format!("--set {}", super::secrets::override_shown(o));
    for ov in overrides {
        apply_override(&mut table, ov).map_err(|message| ScenarioError {
            source: shown(ov),
            position: None,
            message: secrets.message(&message),
        })?;
    }
    let with_set = overrides.iter().map(|o| shown(o)).collect::<Vec<_>>().join(" ");
    let merged = toml::to_string(&table).map_err(|e| ScenarioError {
        source: with_set.clone(),
        position: None,
        message: secrets.message(&e.to_string()),
    })?;
    let fail = |message: String| ScenarioError {
        source: format!("{source} with {with_set}"),
        position: None,
        message: secrets.message(&message),
    };
    let mut scenario: Scenario = toml::from_str(&merged).map_err(|e| fail(explain(e.message())))?;
    scenario.checked = validate::check(&scenario).map_err(|(_, m)| fail(m))?;
    Ok(scenario)
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.chars().count(), |nl| before[nl + 1..].chars().count())
        + 1;
    (line, col)
}

/// Adds "did you mean" to unknown-key and unknown-variant messages.
fn explain(message: &str) -> String {
    let message = message.trim_end().to_string();
    let Some(got) = backticked(&message, "unknown field `").or_else(|| backticked(&message, "unknown variant `"))
    else {
        return message;
    };
    let choices: Vec<&str> = message
        .split_once("expected")
        .map(|(_, rest)| rest.split('`').skip(1).step_by(2).collect())
        .unwrap_or_default();
    match nearest(got, &choices) {
        Some(best) => format!("{message}; did you mean `{best}`?"),
        None => message,
    }
}

fn backticked<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = &message[message.find(prefix)? + prefix.len()..];
    rest.split('`').next()
}

/// The closest candidate, if it is close enough to be a plausible typo.
pub fn nearest<'a>(got: &str, choices: &[&'a str]) -> Option<&'a str> {
    choices
        .iter()
        .map(|c| (strsim::damerau_levenshtein(got, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        assert_eq!(line_col("a\nbc", 3), (2, 2));
        assert_eq!(line_col("abc", 0), (1, 1));
    }

    #[test]
    fn suggests_nearest_key() {
        let m = explain("unknown field `rat`, expected one of `kind`, `rate`, `concurrency`");
        assert!(m.ends_with("did you mean `rate`?"), "{m}");
        let m = explain("unknown field `zzzzzz`, expected one of `kind`, `rate`");
        assert!(!m.contains("did you mean"), "{m}");
    }

    #[test]
    fn override_values_are_typed() {
        let mut t: Table = toml::from_str("[workload.p]\nrate = 1.0").expect("toml");
        apply_override(&mut t, "workload.p.rate=2000").expect("set");
        apply_override(&mut t, "duration=5s").expect("set");
        assert_eq!(t["workload"]["p"]["rate"], toml::Value::Integer(2000));
        assert_eq!(t["duration"], toml::Value::String("5s".into()));
    }

    #[test]
    fn renamed_values_keep_their_old_spelling() {
        use crate::scenario::{SchemaKind, VersionConsistency};
        let head = "name = \"t\"\nduration = \"1s\"\n[workload.w]\nkind = \"persist\"\nrate = 1\n";
        for (target, schema, consistency) in [
            (
                "schema = \"seed\"\nconsistency = \"seed\"",
                SchemaKind::PerYear,
                VersionConsistency::ReadThenWrite,
            ),
            (
                "schema = \"per-aggregate\"\nconsistency = \"read-then-write\"",
                SchemaKind::PerAggregate,
                VersionConsistency::ReadThenWrite,
            ),
            (
                "schema = \"partitioned\"\nconsistency = \"lwt\"",
                SchemaKind::PerAggregate,
                VersionConsistency::Lwt,
            ),
        ] {
            let (scylla, top): (Vec<&str>, Vec<&str>) = target.lines().partition(|l| l.starts_with("schema"));
            let text = format!(
                "{head}[target]\n{}\n[target.scylla]\n{}\n",
                top.join("\n"),
                scylla.join("\n")
            );
            let s = parse("t.toml", &text, &[]).expect(&text);
            assert_eq!(
                (s.target.scylla.schema, s.target.consistency),
                (schema, consistency),
                "{text}"
            );
        }
    }
}
