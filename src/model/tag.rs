//! The UUIDs eventbench writes are RFC 9562 version 8 ("custom") UUIDs that carry what
//! the harness needs to measure without shared state: the correlation id holds the run
//! tag, the workload and the intended send time (so a reply is timed with no lookup
//! map), the event uuid holds the operation index (so an audit can name each event).

use rand::Rng;
use uuid::Uuid;

/// The version-8 UUID that carries (run tag, workload, 62-bit value).
pub fn tagged(run_tag: u64, workload: usize, low62: u64) -> Uuid {
    let hi = ((run_tag & 0xffff_ffff_ffff) << 16) | 0x8000 | (workload as u64 & 0x0fff);
    let lo = 0x8000_0000_0000_0000 | (low62 & 0x3fff_ffff_ffff_ffff);
    Uuid::from_u64_pair(hi, lo)
}

/// What a harness-made UUID carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag {
    pub run_tag: u64,
    pub workload: usize,
    /// Intended send ns (correlation ids) or operation index (event uuids).
    pub value: u64,
}

/// Reads a UUID made by [`tagged`]; `None` for any other UUID.
pub fn read_tag(u: &Uuid) -> Option<Tag> {
    let (hi, lo) = u.as_u64_pair();
    if (hi >> 12) & 0xf != 8 || lo >> 62 != 0b10 {
        return None;
    }
    Some(Tag {
        run_tag: hi >> 16,
        workload: (hi & 0x0fff) as usize,
        value: lo & 0x3fff_ffff_ffff_ffff,
    })
}

/// A fresh 48-bit run tag.
pub fn new_run_tag() -> u64 {
    rand::rng().random::<u64>() & 0xffff_ffff_ffff
}
