//! Sharding one load over several generators: shard i of n claims operations
//! k*n + i of the one global schedule, so n shards together run exactly the load.

/// Which share of every workload's operations this generator runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    /// From 0.
    pub index: u32,
    pub count: u32,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// The global operation number of this shard's `k`-th operation.
    #[inline]
    pub fn global(self, k: u64) -> u64 {
        k * self.count as u64 + self.index as u64
    }

    /// Of `n` workers, how many are this shard's.
    pub fn part_of(self, n: usize) -> usize {
        let (c, i) = (self.count as usize, self.index as usize);
        n / c + (i < n % c) as usize
    }

    /// Parses `i/n` with 0 <= i < n.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || format!("--shard {s:?}: expected i/n with 0 <= i < n, e.g. 0/2");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse::<u32>().map_err(|_| bad())?,
            n.trim().parse::<u32>().map_err(|_| bad())?,
        );
        if count == 0 || index >= count || count > 4096 {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}
