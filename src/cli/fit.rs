//! `eventbench fit` and `eventbench capture`: a topic window read (see [`crate::fit`])
//! into a scenario, or into a capture file for a `replay` workload.

use std::path::PathBuf;

use super::{CliError, Outcome};
use crate::fit::{FitError, Source};

/// The topic window both commands read.
#[derive(clap::Args)]
pub struct TopicArgs {
    /// The cluster's bootstrap address.
    #[arg(long)]
    bootstrap: String,
    /// The topic of seed Events to read.
    #[arg(long)]
    topic: String,
    /// A librdkafka setting for the connection (security.protocol, sasl.*, ssl.*),
    /// repeatable: used to connect, never written.
    #[arg(long = "client", value_name = "KEY=VALUE")]
    client: Vec<String>,
    /// Records from this time on: RFC 3339, or a duration back from now ("1h").
    #[arg(long)]
    since: Option<String>,
    /// At most this many records.
    #[arg(long, default_value_t = 1_000_000)]
    max_records: usize,
}

#[derive(clap::Args)]
pub struct FitArgs {
    #[command(flatten)]
    topic: TopicArgs,
    /// A topic of EventStoreQuery records beside the events: fitted as a `query`
    /// workload (its rate), with how soon queries follow events said.
    #[arg(long, value_name = "TOPIC")]
    query_topic: Option<String>,
    /// The rate curve's bucket.
    #[arg(long, default_value = "1m")]
    bucket: String,
    /// At most this many curve points.
    #[arg(long, default_value_t = 40)]
    points: usize,
    /// The scenario's name (default fitted-TOPIC).
    #[arg(long)]
    name: Option<String>,
    /// Where the scenario goes (default: stdout).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct CaptureArgs {
    #[command(flatten)]
    topic: TopicArgs,
    /// The capture file to write (gzip JSON lines).
    #[arg(long)]
    out: PathBuf,
}

impl TopicArgs {
    fn source(&self) -> Result<Source, CliError> {
        let mut client = std::collections::BTreeMap::new();
        for kv in &self.client {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| CliError::Input(format!("--client {:?}: expected KEY=VALUE", key_of(kv))))?;
            client.insert(k.trim().to_string(), v.to_string());
        }
        Ok(Source {
            bootstrap: self.bootstrap.clone(),
            topic: self.topic.clone(),
            client,
            since_ms: self.since.as_deref().map(since_ms).transpose()?,
            max_records: self.max_records.max(1),
            timeout: std::time::Duration::from_secs(10),
        })
    }
}

fn error(e: FitError) -> CliError {
    match e {
        FitError::Unreachable(m) => CliError::Runtime(m),
        FitError::Nothing(m) => CliError::Input(m),
    }
}

pub fn fit(a: FitArgs) -> Result<Outcome, CliError> {
    let bucket = a
        .bucket
        .parse::<crate::units::Dur>()
        .map_err(|e| CliError::Input(format!("--bucket: {e}")))?
        .0;
    if bucket.is_zero() {
        return Err(CliError::Input("--bucket must be longer than zero".into()));
    }
    let src = a.topic.source()?;
    let mut sample = crate::fit::read(&src).map_err(error)?;
    if let Some(q) = &a.query_topic {
        let qsrc = Source {
            topic: q.clone(),
            ..src.clone()
        };
        sample.queries = Some(crate::fit::queries::read(&qsrc).map_err(error)?);
    }
    let name = a
        .name
        .clone()
        .unwrap_or_else(|| format!("fitted-{}", src.topic.replace(['/', '.'], "-")));
    let shape = crate::fit::write::Shape {
        bucket_s: bucket.as_secs_f64(),
        max_points: a.points.max(2),
    };
    let text = crate::fit::scenario(&src, &sample, &name, shape).map_err(error)?;
    match &a.out {
        Some(p) => {
            std::fs::write(p, &text).map_err(|e| CliError::Runtime(format!("cannot write {}: {e}", p.display())))?;
            eprintln!("fitted {} events into {}", sample.events.len(), p.display());
        }
        None => print!("{text}"),
    }
    Ok(Outcome::Ok)
}

pub fn capture(a: CaptureArgs) -> Result<Outcome, CliError> {
    let src = a.topic.source()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128);
    let (header, events) =
        crate::fit::capture::capture(&src, crate::model::GoTime::from_unix_nanos(now).to_string()).map_err(error)?;
    let cannot = |e: std::io::Error| CliError::Runtime(format!("cannot write {}: {e}", a.out.display()));
    let file = std::fs::File::create(&a.out).map_err(cannot)?;
    crate::model::capture::write(file, &header, &events).map_err(cannot)?;
    let skipped: u64 = header.skipped.values().sum();
    eprintln!(
        "captured {} events of {} ({:.1} s) into {}{}",
        header.records,
        header.topic,
        (header.last_ms - header.first_ms) as f64 / 1000.0,
        a.out.display(),
        if skipped > 0 {
            format!("; {skipped} records were not seed Events and are not in it")
        } else {
            String::new()
        }
    );
    Ok(Outcome::Ok)
}

/// The key of a KEY=VALUE, so a value (a password) is never echoed in an error.
fn key_of(kv: &str) -> &str {
    kv.split('=').next().unwrap_or("")
}

fn since_ms(s: &str) -> Result<i64, CliError> {
    if let Ok(t) = crate::model::GoTime::parse_rfc3339(s) {
        return Ok((t.unix_nanos() / 1_000_000) as i64);
    }
    let back = s
        .parse::<crate::units::Dur>()
        .map_err(|_| CliError::Input(format!("--since {s:?}: an RFC 3339 time or a duration back from now")))?
        .0;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    Ok(now - back.as_millis() as i64)
}
