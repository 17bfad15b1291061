//! Faults on a schedule (`[[fault]]`): an embedded service paused, the memory store
//! held, or a command run at `at` (and another at `until`). Trogdor's idea, inside the
//! scenario: the fault is part of the experiment, so its time is known to the report
//! beside the disruption it caused. Each fault runs as its own task; one the run
//! outlives is ended when the run ends (the service resumed, the `then` command run),
//! so a run never leaves a broker stopped behind it.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::backend::AnyStore;
use crate::clock::Clock;
use crate::scenario::{PausedService, ScheduledFault};

/// Output kept of a command: its last this many bytes.
const OUTPUT_KEEP: usize = 4096;

/// The switches the faults turn: one pause per embedded service.
pub struct Switches {
    pub persistence: watch::Sender<bool>,
    pub query: watch::Sender<bool>,
}

impl Default for Switches {
    fn default() -> Switches {
        Switches::new()
    }
}

impl Switches {
    pub fn new() -> Switches {
        Switches {
            persistence: watch::channel(false).0,
            query: watch::channel(false).0,
        }
    }

    fn of(&self, s: PausedService) -> &watch::Sender<bool> {
        match s {
            PausedService::Persistence => &self.persistence,
            PausedService::Query => &self.query,
        }
    }
}

/// What one fault did, for summary.json and the report.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FaultRecord {
    pub description: String,
    /// As scheduled, run-time seconds.
    pub at_s: f64,
    #[serde(default)]
    pub until_s: Option<f64>,
    /// When it took effect and when it ended (the run's end, for one it outlived).
    #[serde(default)]
    pub started_s: Option<f64>,
    #[serde(default)]
    pub ended_s: Option<f64>,
    /// A paused persistence service: the records waiting for it when it resumed, and
    /// the drain after (filled in by the report from the timeline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backlog: Option<Backlog>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<CommandRecord>,
}

/// A paused persistence service's backlog and how it drained.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Backlog {
    /// Produced but not yet answered when the service resumed.
    pub at_resume: u64,
    /// From the resume until the backlog was back to its level before the pause;
    /// `None`: not within the run.
    pub drain_s: Option<f64>,
    /// Answers per second during the drain.
    pub drain_rate: Option<f64>,
    /// From the resume until the interval e2e p99 was back within 2x of its level
    /// before the pause.
    pub recovered_s: Option<f64>,
}

/// One command's run.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CommandRecord {
    pub command: String,
    pub at_s: f64,
    pub took_s: f64,
    /// Its exit code; `None` when it could not start or was killed by a signal.
    pub exit: Option<i32>,
    /// Its output, stdout then stderr, the last 4 KiB.
    pub output: String,
}

/// Runs every fault until `end` fires (the run is over), then ends what is still on.
/// `commands`: whether this generator runs the faults' commands. A sharded run's
/// shards each pause their own embedded services and stall their own memory store,
/// but a command acts on something they share (a broker), so only shard 0 runs it:
/// n shards must not stop one broker n times.
pub async fn run(
    faults: Vec<ScheduledFault>,
    clock: Clock,
    switches: std::sync::Arc<Switches>,
    store: AnyStore,
    commands: bool,
    end: watch::Receiver<bool>,
) -> Vec<FaultRecord> {
    let mut set = tokio::task::JoinSet::new();
    for (i, f) in faults.into_iter().enumerate() {
        let (switches, store, end) = (switches.clone(), store.clone(), end.clone());
        set.spawn(async move { (i, one(f, clock, &switches, &store, commands, end).await) });
    }
    let mut out: Vec<(usize, FaultRecord)> = Vec::new();
    while let Some(r) = set.join_next().await {
        if let Ok(r) = r {
            out.push(r);
        }
    }
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

/// Sleeps until run time `t`; false when the run ended first.
async fn until(clock: &Clock, t: u64, end: &mut watch::Receiver<bool>) -> bool {
    if *end.borrow() {
        return false;
    }
    // Checked against the run's clock after each sleep: before the clock's origin
    // (setup ends early) it reads 0, and one sleep of `t` woke 48 ms early.
    loop {
        let now = clock.now();
        if now >= t {
            return true;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_nanos(t - now)) => {}
            _ = end.changed() => return false,
        }
    }
}

async fn one(
    f: ScheduledFault,
    clock: Clock,
    switches: &Switches,
    store: &AnyStore,
    commands: bool,
    mut end: watch::Receiver<bool>,
) -> FaultRecord {
    let secs = |ns: u64| ns as f64 / 1e9;
    let (at, until_ns) = (f.at.as_nanos(), f.until.map(|u| u.as_nanos()));
    let mut description = f.describe();
    if !commands && (f.run.is_some() || f.then.is_some()) {
        description.push_str(" (its commands run by shard 0)");
    }
    let mut rec = FaultRecord {
        description,
        at_s: secs(at),
        until_s: until_ns.map(secs),
        ..FaultRecord::default()
    };
    if !until(&clock, at, &mut end).await {
        return rec;
    }
    rec.started_s = Some(secs(clock.now()));
    if let Some(s) = f.pause {
        switches.of(s).send_replace(true);
    }
    if f.stall.is_some() {
        if let AnyStore::Memory(m) = store {
            m.hold(at, until_ns.unwrap_or(u64::MAX));
        }
    }
    if let Some(cmd) = f.run.as_ref().filter(|_| commands) {
        rec.commands.push(command(cmd, &clock).await);
    }
    let Some(u) = until_ns else {
        rec.ended_s = rec.started_s;
        return rec;
    };
    until(&clock, u, &mut end).await;
    if let Some(s) = f.pause {
        switches.of(s).send_replace(false);
    }
    if f.stall.is_some() {
        if let AnyStore::Memory(m) = store {
            m.hold(0, 0);
        }
    }
    if let Some(cmd) = f.then.as_ref().filter(|_| commands) {
        rec.commands.push(command(cmd, &clock).await);
    }
    rec.ended_s = Some(secs(clock.now()));
    rec
}

/// Runs `sh -c cmd`, waiting for it; its output kept (the last 4 KiB).
async fn command(cmd: &str, clock: &Clock) -> CommandRecord {
    let started = clock.now();
    let out = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await;
    let took_s = (clock.now() - started) as f64 / 1e9;
    let (exit, output) = match out {
        Ok(o) => {
            let mut text = String::from_utf8_lossy(&o.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&o.stderr));
            (o.status.code(), tail(&text))
        }
        Err(e) => (None, format!("could not start: {e}")),
    };
    CommandRecord {
        command: cmd.to_string(),
        at_s: started as f64 / 1e9,
        took_s,
        exit,
        output,
    }
}

/// The last [`OUTPUT_KEEP`] bytes of `s`, cut between characters.
fn tail(s: &str) -> String {
    if s.len() <= OUTPUT_KEEP {
        return s.to_string();
    }
    let mut from = s.len() - OUTPUT_KEEP;
    while !s.is_char_boundary(from) {
        from += 1;
    }
    format!("...{}", &s[from..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_cut_between_characters() {
        let long = "é".repeat(3000);
        let t = tail(&long);
        assert!(t.starts_with("...") && t.len() <= OUTPUT_KEEP + 4);
        assert_eq!(tail("short"), "short");
    }

    #[tokio::test]
    async fn a_fault_pauses_and_resumes_and_runs_its_commands() {
        let clock = Clock::start();
        let switches = std::sync::Arc::new(Switches::new());
        let mut paused = switches.persistence.subscribe();
        let store = AnyStore::Memory(std::sync::Arc::new(crate::backend::MemoryStore::new(
            &Default::default(),
        )));
        let f: ScheduledFault = toml::from_str("at = '50ms'\nuntil = '150ms'\npause = 'persistence'").expect("fault");
        let c: ScheduledFault =
            toml::from_str("at = '10ms'\nuntil = '60ms'\nrun = 'echo stop'\nthen = 'echo start; exit 3'")
                .expect("fault");
        let (_end_tx, end) = watch::channel(false);
        let task = tokio::spawn(run(vec![f, c], clock, switches.clone(), store, true, end));
        paused.changed().await.expect("paused");
        assert!(*paused.borrow());
        let t = clock.now();
        assert!(t >= 50_000_000, "{t}");
        paused.changed().await.expect("resumed");
        assert!(!*paused.borrow());
        let recs = task.await.expect("join");
        assert_eq!(recs[0].description, "persistence paused 0.05s-0.15s");
        assert!(recs[0].ended_s.is_some_and(|e| e >= 0.15));
        let cmds = &recs[1].commands;
        assert_eq!(cmds.len(), 2);
        assert_eq!((cmds[0].exit, cmds[0].output.as_str()), (Some(0), "stop\n"));
        assert_eq!((cmds[1].exit, cmds[1].output.as_str()), (Some(3), "start\n"));
    }

    #[tokio::test]
    async fn a_run_that_ends_first_ends_its_faults() {
        let clock = Clock::start();
        let switches = std::sync::Arc::new(Switches::new());
        let store = AnyStore::Memory(std::sync::Arc::new(crate::backend::MemoryStore::new(
            &Default::default(),
        )));
        let f: ScheduledFault =
            toml::from_str("at = '0s'\nuntil = '1h'\nrun = 'true'\nthen = 'echo restored'").expect("fault");
        let (end_tx, end) = watch::channel(false);
        let task = tokio::spawn(run(vec![f], clock, switches, store, true, end));
        tokio::time::sleep(Duration::from_millis(50)).await;
        end_tx.send_replace(true);
        let recs = task.await.expect("join");
        assert_eq!(recs[0].commands.len(), 2, "{recs:?}");
        assert_eq!(recs[0].commands[1].output, "restored\n");
        assert!(recs[0].ended_s.is_some_and(|e| e < 10.0));
    }
}
