//! `gen`: synthetic event-store models as JSON Lines, in the exact Go wire format, for piping
//! into kcat or a Go/Python consumer.

use std::io::Write;
use std::path::PathBuf;

use clap::ValueEnum;

use super::{CliError, Outcome, ScenarioArgs};
use crate::datagen::Generator;
use crate::model::{EventMeta, KafkaResponse};

#[derive(clap::Args)]
pub struct GenArgs {
    #[arg(long, default_value_t = 10)]
    count: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, value_enum, default_value_t = Kind::Event)]
    kind: Kind,
    /// Take data settings ([data]) from this scenario.
    #[arg(long)]
    scenario: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Event,
    Query,
    Response,
    Meta,
}

pub fn gen(a: GenArgs) -> Result<Outcome, CliError> {
    let data = match a.scenario {
        Some(p) => {
            super::load(&ScenarioArgs {
                scenario: p,
                set: Vec::new(),
            })?
            .data
        }
        None => crate::scenario::Data::default(),
    };
    let g = Generator::new(&data, a.seed, 0, crate::rng::splitmix(a.seed) & 0xffff_ffff_ffff);
    let clock = crate::clock::Clock::start();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut buf = Vec::with_capacity(4096);
    let mut e = crate::model::Event::default();
    for i in 0..a.count {
        buf.clear();
        let t = i * 1_000_000;
        match a.kind {
            Kind::Event => {
                g.fill_event(i, t, clock.wall_at(t), &mut e);
                e.encode_into(&mut buf);
            }
            Kind::Query => g.query(i, |_| 1 + (i % 7) as i64).encode_into(&mut buf),
            Kind::Response => {
                g.fill_event(i, t, clock.wall_at(t), &mut e);
                let input = e.to_json();
                KafkaResponse::encode_parts(&mut buf, e.aggregate_id, &e.correlation_id, Some(&input), "", None);
            }
            Kind::Meta => {
                let q = g.query(i, |_| 0);
                EventMeta {
                    aggregate_version: (i % 100) as i64,
                    aggregate_id: q.aggregate_id,
                    partition_key: 0,
                }
                .encode_into(&mut buf);
            }
        }
        buf.push(b'\n');
        if out.write_all(&buf).is_err() {
            // A closed pipe (e.g. `| head`) is a normal end.
            return Ok(Outcome::Ok);
        }
    }
    let _ = out.flush();
    Ok(Outcome::Ok)
}
