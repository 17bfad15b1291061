//! What a change point is: the host drifting (the runs around it are of one commit),
//! or a change on a commit boundary, unconfirmed until a paired comparison of the builds
//! on its two sides, run on one host (`history confirm`, the gate), confirms or refutes
//! it. A real host drifts, so E-divisive finds its drifts too; only a confirmed change
//! fails `history show --fail-on-change`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::edivisive::ChangePoint;
use super::{Entry, HistoryError};

/// The confirmations' file in a history directory.
pub const CONFIRMATIONS: &str = "confirmations.jsonl";

/// How far either side of a change point its location may be off: E-divisive places a
/// step within a run or two of where it is.
const NEAR: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Every run near it is of one commit: the host, not the code.
    Drift,
    /// On a commit boundary; no paired comparison of its builds yet.
    Unconfirmed,
    /// A paired comparison of its builds on one host found the change.
    Confirmed,
    /// A paired comparison of its builds on one host did not.
    Refuted,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            Kind::Drift => "host drift",
            Kind::Unconfirmed => "unconfirmed",
            Kind::Confirmed => "confirmed",
            Kind::Refuted => "refuted",
        })
    }
}

/// A change point with what it is.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    #[serde(flatten)]
    pub at: ChangePoint,
    pub kind: Kind,
    /// The commits on the boundary it sits on (the last before, the first after).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commits: Option<(String, String)>,
    /// The paired comparison's verdict, when one was made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<Confirmation>,
}

impl Change {
    /// Worse after than before (a latency or an error share up).
    pub fn worse(&self) -> bool {
        self.at.after > self.at.before
    }
}

/// One paired comparison of the builds on a change point's two sides.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Confirmation {
    pub scenario: String,
    /// The commits of the history's runs on either side of the boundary.
    pub before: String,
    pub after: String,
    /// The comparison's verdict (slower, faster, no change, inconclusive).
    pub verdict: String,
    /// Slower or faster: the change is the code's.
    pub confirmed: bool,
    /// Where its runs and outputs are.
    pub out: String,
    pub at: String,
}

/// The history's confirmations (an absent file: none; a torn or foreign line is left out).
pub fn confirmations(dir: &Path) -> Vec<Confirmation> {
    std::fs::read_to_string(dir.join(CONFIRMATIONS))
        .map(|t| t.lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
        .unwrap_or_default()
}

pub fn record(dir: &Path, c: &Confirmation) -> Result<(), HistoryError> {
    let path = dir.join(CONFIRMATIONS);
    super::append_lines(&path, std::slice::from_ref(c)).map_err(|source| HistoryError::Io { path, source })
}

/// The commit boundary nearest `index` within [`NEAR`] runs (the runs of `entries` are
/// the trend's, in history order), as (last commit before, first after).
pub fn boundary(entries: &[&Entry], index: usize) -> Option<(String, String)> {
    let commit = |i: usize| entries.get(i).map(|e| e.git_commit.as_str()).filter(|c| !c.is_empty());
    let lo = index.saturating_sub(NEAR).max(1);
    let hi = (index + NEAR).min(entries.len().saturating_sub(1));
    (lo..=hi)
        .filter(|i| commit(*i - 1) != commit(*i))
        .min_by_key(|i| i.abs_diff(index))
        .map(|i| {
            let c = |i: usize| commit(i).unwrap_or("unknown").to_string();
            (c(i - 1), c(i))
        })
}

/// What the change point at `at` (an index into `entries`) is.
pub fn classify(entries: &[&Entry], at: ChangePoint, scenario: &str, known: &[Confirmation]) -> Change {
    let commits = boundary(entries, at.index);
    let unknown = entries.iter().all(|e| e.git_commit.is_empty());
    let confirmation = commits.as_ref().and_then(|(b, a)| {
        known
            .iter()
            .rev()
            .find(|c| c.scenario == scenario && &c.before == b && &c.after == a)
            .cloned()
    });
    let kind = match (&commits, &confirmation) {
        (None, _) if !unknown => Kind::Drift,
        (_, Some(c)) if c.confirmed => Kind::Confirmed,
        (_, Some(_)) => Kind::Refuted,
        _ => Kind::Unconfirmed,
    };
    Change {
        at,
        kind,
        commits,
        confirmation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(commits: &[&str]) -> Vec<Entry> {
        commits
            .iter()
            .map(|c| Entry {
                schema: 1,
                label: c.to_string(),
                run: String::new(),
                scenario: "s".into(),
                started_at: String::new(),
                git_commit: c.to_string(),
                hostname: String::new(),
                kernel: String::new(),
                cpus: 2,
                healthy: true,
                values: Default::default(),
                intervals: Default::default(),
            })
            .collect()
    }

    fn at(index: usize) -> ChangePoint {
        ChangePoint {
            index,
            p_value: 0.002,
            before: 1.0,
            after: 1.1,
        }
    }

    #[test]
    fn one_commit_around_a_change_point_is_drift_and_a_boundary_is_unconfirmed_until_confirmed() {
        let one = entries(&["a"; 10]);
        let refs: Vec<&Entry> = one.iter().collect();
        assert_eq!(classify(&refs, at(5), "s", &[]).kind, Kind::Drift);

        let mut v = vec!["a"; 5];
        v.extend(["b"; 5]);
        let two = entries(&v);
        let refs: Vec<&Entry> = two.iter().collect();
        // Found a run late, still the boundary at 5.
        let c = classify(&refs, at(6), "s", &[]);
        assert_eq!(
            (c.kind, c.commits.clone()),
            (Kind::Unconfirmed, Some(("a".into(), "b".into())))
        );
        // Too far from any boundary: drift.
        assert_eq!(classify(&refs, at(8), "s", &[]).kind, Kind::Drift);
        let confirm = |confirmed| Confirmation {
            scenario: "s".into(),
            before: "a".into(),
            after: "b".into(),
            verdict: if confirmed { "slower" } else { "no change" }.into(),
            confirmed,
            out: String::new(),
            at: String::new(),
        };
        assert_eq!(classify(&refs, at(5), "s", &[confirm(true)]).kind, Kind::Confirmed);
        assert_eq!(classify(&refs, at(5), "s", &[confirm(false)]).kind, Kind::Refuted);
        // The newest confirmation counts; another scenario's does not.
        assert_eq!(
            classify(&refs, at(5), "s", &[confirm(true), confirm(false)]).kind,
            Kind::Refuted
        );
        assert_eq!(
            classify(&refs, at(5), "other", &[confirm(true)]).kind,
            Kind::Unconfirmed
        );
        // Runs without commits: nothing tells drift from code.
        let none = entries(&[""; 10]);
        let refs: Vec<&Entry> = none.iter().collect();
        assert_eq!(classify(&refs, at(5), "s", &[]).kind, Kind::Unconfirmed);
    }
}
