//! Synthetic seed models, deterministic from the scenario seed: event `i` of a
//! workload is a pure function of (seed, workload, i), whichever worker makes it.
//!
//! The UUIDs it writes carry the run tag, the workload and the intended send time or
//! operation index ([`crate::model::tag`]), so replies are timed and events named with
//! no shared map.

use rand::distr::weighted::WeightedIndex;
use rand::distr::Distribution;
use rand::rngs::SmallRng;
use rand::{Rng, RngCore, SeedableRng};
use rand_distr::{LogNormal, Zipf};
use uuid::Uuid;

use crate::model::tag::tagged;
use crate::model::{Event, EventStoreQuery, GoTime};
use crate::rng::splitmix;
use crate::scenario::{Aggregates, Data, Payload};

/// z-score of the 99th percentile of a standard normal.
const Z99: f64 = 2.326_347_874;

/// Picks aggregate ids.
#[derive(Debug, Clone)]
enum AggPick {
    Uniform(i8, i8),
    Zipf(Zipf<f64>),
    Hotspot { hot: Vec<i8>, cold: Vec<i8>, fraction: f64 },
    Sequential(i8, i8),
}

/// Picks payload sizes.
#[derive(Debug, Clone)]
enum SizePick {
    Fixed(usize),
    Uniform(usize, usize),
    LogNormal(LogNormal<f64>, usize),
    Histogram(Vec<usize>, WeightedIndex<u32>),
}

/// Makes events and queries for one workload.
#[derive(Debug, Clone)]
pub struct Generator {
    seed: u64,
    workload: u16,
    run_tag: u64,
    actions: Vec<String>,
    action_pick: WeightedIndex<u32>,
    aggs: AggPick,
    sizes: SizePick,
    compressibility: f64,
    users: u64,
    year_bucket: Option<i16>,
    /// Random bytes payloads are cut from (cheaper than generating each one).
    pool: std::sync::Arc<[u8]>,
    /// Sharded readers through the log: each shard queries only its own aggregates
    /// (results are known only by aggregate), mapped from the drawn one.
    query_remap: Option<std::sync::Arc<[i8; 256]>>,
    /// A replay: events are its capture's, not drawn.
    replay: Option<std::sync::Arc<crate::plan::Replay>>,
}

impl Generator {
    /// `run_tag` (48 bits) marks every UUID of this run.
    pub fn new(data: &Data, seed: u64, workload: usize, run_tag: u64) -> Generator {
        let aggs = match data.aggregates() {
            Aggregates::Uniform { min, max } => AggPick::Uniform(*min as i8, *max as i8),
            Aggregates::Sequential { min, max } => AggPick::Sequential(*min as i8, *max as i8),
            Aggregates::Zipf { exponent, max } => AggPick::Zipf(
                Zipf::new(*max as f64, *exponent).unwrap_or_else(|_| unreachable!("validated: n >= 1, s > 0")),
            ),
            Aggregates::Hotspot { ids, fraction } => {
                let hot: Vec<i8> = ids.iter().map(|i| *i as i8).collect();
                let cold = (1..=127i8).filter(|i| !hot.contains(i)).collect();
                AggPick::Hotspot {
                    hot,
                    cold,
                    fraction: *fraction,
                }
            }
        };
        let sizes = match data.payload() {
            Payload::Fixed { size } => SizePick::Fixed(size.0 as usize),
            Payload::Uniform { min, max } => SizePick::Uniform(min.0 as usize, max.0 as usize),
            Payload::Lognormal { median, p99 } => {
                let sigma = ((p99.0 as f64) / (median.0 as f64)).ln() / Z99;
                let d = LogNormal::new((median.0 as f64).ln(), sigma)
                    .unwrap_or_else(|_| unreachable!("validated: median > 0"));
                SizePick::LogNormal(d, 16 << 20)
            }
            Payload::Histogram { sizes, weights } => SizePick::Histogram(
                sizes.iter().map(|s| s.0 as usize).collect(),
                WeightedIndex::new(weights.clone()).unwrap_or_else(|_| unreachable!("validated: some weight > 0")),
            ),
        };
        let (actions, weights): (Vec<String>, Vec<u32>) = data.actions().iter().map(|(k, v)| (k.clone(), *v)).unzip();
        let max_size = match &sizes {
            SizePick::Fixed(s) => *s,
            SizePick::Uniform(_, m) | SizePick::LogNormal(_, m) => *m,
            SizePick::Histogram(s, _) => s.iter().copied().max().unwrap_or(0),
        };
        let mut pool = vec![0u8; max_size.max(1 << 20) * 2];
        SmallRng::seed_from_u64(splitmix(seed ^ 0x9001)).fill_bytes(&mut pool);
        Generator {
            seed,
            workload: workload as u16,
            run_tag: run_tag & 0xffff_ffff_ffff,
            actions,
            action_pick: WeightedIndex::new(weights).unwrap_or_else(|_| unreachable!("validated: some weight > 0")),
            aggs,
            sizes,
            compressibility: data.compressibility(),
            users: data.users(),
            year_bucket: data.year_bucket,
            pool: pool.into(),
            query_remap: None,
            replay: None,
        }
    }

    /// Events from a replay's capture instead of drawn ones.
    pub fn replaying(mut self, replay: Option<std::sync::Arc<crate::plan::Replay>>) -> Generator {
        self.replay = replay;
        self
    }

    /// Makes queries name only shard `index` of `count`'s share of `ids`.
    pub fn queries_of_shard(mut self, ids: &[i8], index: u32, count: u32) -> Generator {
        let (i, n) = (index as usize, count as usize);
        if n <= 1 || ids.len() < n {
            return self;
        }
        let mut map = [0i8; 256];
        for (pos, id) in ids.iter().enumerate() {
            let mut target = pos - pos % n + i;
            if target >= ids.len() {
                target -= n;
            }
            map[*id as u8 as usize] = ids[target];
        }
        self.query_remap = Some(std::sync::Arc::new(map));
        self
    }

    fn rng(&self, index: u64) -> SmallRng {
        SmallRng::seed_from_u64(splitmix(self.seed ^ ((self.workload as u64) << 48) ^ splitmix(index)))
    }

    fn aggregate(&self, rng: &mut SmallRng, index: u64) -> i8 {
        match &self.aggs {
            AggPick::Uniform(a, b) => rng.random_range(*a..=*b),
            AggPick::Sequential(a, b) => (*a as i64 + (index % (*b as i64 - *a as i64 + 1) as u64) as i64) as i8,
            AggPick::Zipf(z) => z.sample(rng) as i8,
            AggPick::Hotspot { hot, cold, fraction } => {
                let pool = if cold.is_empty() || rng.random::<f64>() < *fraction {
                    hot
                } else {
                    cold
                };
                pool[rng.random_range(0..pool.len())]
            }
        }
    }

    fn size(&self, rng: &mut SmallRng) -> usize {
        match &self.sizes {
            SizePick::Fixed(s) => *s,
            SizePick::Uniform(a, b) => rng.random_range(*a..=*b),
            SizePick::LogNormal(d, max) => (d.sample(rng).round() as usize).min(*max),
            SizePick::Histogram(sizes, w) => sizes[w.sample(rng)],
        }
    }

    /// Fills `e` (reusing its buffers) with event `index`, intended at `wall_ns`.
    pub fn fill_event(&self, index: u64, intended_ns: u64, wall_ns: i128, e: &mut Event) {
        if let Some(r) = &self.replay {
            r.capture.fill(r.event_of(index), e);
            return self.stamp(index, intended_ns, wall_ns, e);
        }
        let mut rng = self.rng(index);
        e.action.clear();
        e.action.push_str(&self.actions[self.action_pick.sample(&mut rng)]);
        e.aggregate_id = self.aggregate(&mut rng, index);
        let size = self.size(&mut rng);
        let random = ((1.0 - self.compressibility) * size as f64).round() as usize;
        let start = rng.random_range(0..=self.pool.len() - random);
        let data = e.data.get_or_insert_with(Vec::new);
        data.clear();
        data.extend_from_slice(&self.pool[start..start + random]);
        data.resize(size, 0);
        let user = rng.random_range(0..self.users);
        e.user_uuid = uuid::Builder::from_random_bytes(
            ((splitmix(self.seed ^ user) as u128) << 64 | splitmix(!self.seed ^ user) as u128).to_be_bytes(),
        )
        .into_uuid();
        self.stamp(index, intended_ns, wall_ns, e);
    }

    /// What is fresh in every event of a run, drawn or replayed: its times and the
    /// tagged uuids the audit and the reply timing know it by.
    fn stamp(&self, index: u64, intended_ns: u64, wall_ns: i128, e: &mut Event) {
        e.timestamp = GoTime::from_unix_nanos(wall_ns);
        e.year_bucket = self.year_bucket.unwrap_or_else(|| e.timestamp.utc_year() as i16);
        e.correlation_id = self.tagged(intended_ns);
        e.uuid = self.tagged(index);
        e.version = 0;
    }

    /// The aggregate and data size of event `index`, as [`Generator::fill_event`]
    /// draws them, without making the event.
    pub fn aggregate_and_size(&self, index: u64) -> (i8, usize) {
        let mut rng = self.rng(index);
        let _action = self.action_pick.sample(&mut rng);
        let aggregate = self.aggregate(&mut rng, index);
        (aggregate, self.size(&mut rng))
    }

    /// An EventStoreQuery for operation `index`; `version_of` gives the reader's
    /// projection version of an aggregate.
    pub fn query(&self, index: u64, version_of: impl Fn(i8) -> i64) -> EventStoreQuery {
        let mut rng = self.rng(index);
        let mut aggregate_id = self.aggregate(&mut rng, index);
        if let Some(map) = &self.query_remap {
            aggregate_id = map[aggregate_id as u8 as usize];
        }
        EventStoreQuery {
            aggregate_id,
            aggregate_version: version_of(aggregate_id),
        }
    }

    /// The year bucket queries read, when fixed.
    pub fn year_bucket(&self) -> Option<i16> {
        self.year_bucket
    }

    fn tagged(&self, low62: u64) -> Uuid {
        tagged(self.run_tag, self.workload as usize, low62)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tag::{read_tag, Tag};

    fn gen(toml_data: &str) -> Generator {
        let text = format!("name='t'\nduration='1s'\n[workload.w]\nkind='produce'\nrate=1\n[data]\n{toml_data}");
        let s = crate::scenario::parse("t.toml", &text, &[]).expect("scenario");
        Generator::new(&s.data, 42, 1, 0xabc)
    }

    #[test]
    fn same_seed_same_events_and_tags_read_back() {
        let g = gen("payload = { dist = 'uniform', min = 10, max = 100 }");
        let (mut a, mut b) = (Event::default(), Event::default());
        g.fill_event(7, 5_000, 1_764_000_000_000_000_000, &mut a);
        g.fill_event(7, 5_000, 1_764_000_000_000_000_000, &mut b);
        assert_eq!(a, b);
        let t = read_tag(&a.correlation_id).expect("tag");
        assert_eq!(
            t,
            Tag {
                run_tag: 0xabc,
                workload: 1,
                value: 5_000
            }
        );
        assert_eq!(read_tag(&a.uuid).expect("tag").value, 7);
        assert_eq!(a.year_bucket, 2025);
        assert!((1..=127).contains(&a.aggregate_id));
        assert_eq!(read_tag(&uuid::Builder::from_random_bytes([7; 16]).into_uuid()), None);
        for i in 0..100 {
            g.fill_event(i, 0, 0, &mut a);
            assert_eq!(
                g.aggregate_and_size(i),
                (a.aggregate_id, a.data.as_ref().map_or(0, Vec::len))
            );
        }
    }

    #[test]
    fn distributions_land_where_asked() {
        let g = gen("aggregates = { dist = 'hotspot', ids = [5], fraction = 0.9 }\npayload = { dist = 'fixed', size = '1KiB' }\ncompressibility = 0.25\nyear_bucket = 2018");
        let mut e = Event::default();
        let mut hot = 0;
        for i in 0..10_000 {
            g.fill_event(i, 0, 0, &mut e);
            hot += (e.aggregate_id == 5) as u32;
            assert_eq!(e.data.as_ref().map(|d| d.len()), Some(1024));
            assert_eq!(e.year_bucket, 2018);
        }
        assert!((8_800..9_200).contains(&hot), "hot = {hot}");
        let zeros = e
            .data
            .as_ref()
            .map(|d| d.iter().rev().take_while(|b| **b == 0).count())
            .unwrap_or(0);
        assert!(zeros >= 256, "trailing zeros {zeros}");
        let z = gen("aggregates = { dist = 'zipf', exponent = 1.2 }");
        let ones = (0..10_000).filter(|i| z.query(*i, |_| 1).aggregate_id == 1).count();
        assert!(ones > 2_000, "zipf rank 1 got {ones}");
    }
}
