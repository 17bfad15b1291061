//! What happened to each produced event, one byte per operation. Producers and
//! listeners mark it with one atomic `fetch_or` (no lock, no map), and the audit reads
//! it after the run. The event uuid carries the operation index, so a reply or a
//! query result names its cell without a lookup.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};
use std::sync::OnceLock;

/// The log acknowledged the event.
pub const ACKED: u8 = 1;
/// The persistence service answered with `error = ""`.
pub const REPLIED_OK: u8 = 2;
/// The persistence service answered with an error.
pub const REPLIED_ERR: u8 = 4;
/// A second (or later) answer came for the same event.
pub const REPLIED_AGAIN: u8 = 8;
/// Some EventStoreQuery returned the event.
pub const QUERIED: u8 = 16;
/// The embedded persistence service finished with the event: answered it, or dropped
/// it on purpose. Acknowledged, unstored events without it were still waiting for the
/// service when the run ended: its backlog, not its loss.
pub const FINISHED: u8 = 32;

const CHUNK_BITS: u32 = 16;
const CHUNK: usize = 1 << CHUNK_BITS;
/// Enough for 2^32 operations per workload; chunks are allocated on first touch.
const MAX_CHUNKS: usize = 1 << 16;

/// The flags of one producing workload.
pub struct Book {
    chunks: Box<[OnceLock<Box<[AtomicU8]>>]>,
}

impl Default for Book {
    fn default() -> Self {
        Book {
            chunks: (0..MAX_CHUNKS).map(|_| OnceLock::new()).collect(),
        }
    }
}

impl Book {
    fn cell(&self, index: u64) -> Option<&AtomicU8> {
        let chunk = self
            .chunks
            .get((index >> CHUNK_BITS) as usize)?
            .get_or_init(|| (0..CHUNK).map(|_| AtomicU8::new(0)).collect());
        chunk.get(index as usize & (CHUNK - 1))
    }

    /// Sets `flag` on operation `index`; returns the flags it had before.
    #[inline]
    pub fn mark(&self, index: u64, flag: u8) -> u8 {
        self.cell(index).map_or(0, |c| c.fetch_or(flag, Ordering::Relaxed))
    }

    /// Records an answer from the persistence service.
    pub fn reply(&self, index: u64, ok: bool) {
        let before = self.mark(index, if ok { REPLIED_OK } else { REPLIED_ERR });
        if before & (REPLIED_OK | REPLIED_ERR) != 0 {
            self.mark(index, REPLIED_AGAIN);
        }
    }

    /// Flags of every touched operation, in index order, up to the last nonzero one.
    pub fn flags(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (c, chunk) in self.chunks.iter().enumerate() {
            if let Some(chunk) = chunk.get() {
                out.resize(c * CHUNK, 0);
                out.extend(chunk.iter().map(|f| f.load(Ordering::Relaxed)));
            }
        }
        let len = out.iter().rposition(|f| *f != 0).map_or(0, |i| i + 1);
        out.truncate(len);
        out
    }
}

/// Books of every workload (only producers have one), and the readers' projection
/// version per aggregate: an event stamped at or below it that no query returned is
/// hidden from every later query that follows the protocol.
pub struct Ledger {
    pub books: Vec<Option<Book>>,
    pub projections: Vec<AtomicI64>,
    /// Each aggregate's projection when the readers started: epochs at or below it
    /// were never theirs to read.
    pub floors: Vec<AtomicI64>,
}

impl Ledger {
    pub fn new(producers: &[bool]) -> Ledger {
        Ledger {
            books: producers.iter().map(|p| p.then(Book::default)).collect(),
            projections: (0..256).map(|_| AtomicI64::new(i64::MIN)).collect(),
            floors: (0..256).map(|_| AtomicI64::new(i64::MIN)).collect(),
        }
    }

    pub fn book(&self, workload: usize) -> Option<&Book> {
        self.books.get(workload).and_then(|b| b.as_ref())
    }

    /// A reader's projection of `aggregate` reached `version`.
    pub fn projected(&self, aggregate: i8, version: i64) {
        self.projections[aggregate as u8 as usize].fetch_max(version, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            flags: self.books.iter().map(|b| b.as_ref().map(|b| b.flags())).collect(),
            projections: self.projections.iter().map(|p| p.load(Ordering::Relaxed)).collect(),
            floors: self.floors.iter().map(|p| p.load(Ordering::Relaxed)).collect(),
        }
    }
}

/// A ledger frozen after the run, as `ledger.bin` stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub flags: Vec<Option<Vec<u8>>>,
    pub projections: Vec<i64>,
    pub floors: Vec<i64>,
}

const MAGIC: &[u8; 16] = b"eventbench-ledgr";

impl Snapshot {
    /// Format: magic, u32 workloads, per workload (u8 has-book, u64 len, flags),
    /// then 256 i64 projections and 256 i64 floors; integers little-endian.
    pub fn write(&self, w: &mut impl Write) -> std::io::Result<()> {
        w.write_all(MAGIC)?;
        w.write_all(&(self.flags.len() as u32).to_le_bytes())?;
        for f in &self.flags {
            match f {
                Some(f) => {
                    w.write_all(&[1])?;
                    w.write_all(&(f.len() as u64).to_le_bytes())?;
                    w.write_all(f)?;
                }
                None => w.write_all(&[0])?,
            }
        }
        for p in self.projections.iter().chain(&self.floors) {
            w.write_all(&p.to_le_bytes())?;
        }
        Ok(())
    }

    pub fn read(r: &mut impl Read) -> std::io::Result<Snapshot> {
        let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("ledger: {what}"));
        let mut magic = [0u8; 16];
        r.read_exact(&mut magic)?;
        if &magic != MAGIC {
            return Err(bad("not an eventbench ledger"));
        }
        let mut u32b = [0u8; 4];
        r.read_exact(&mut u32b)?;
        let n = u32::from_le_bytes(u32b) as usize;
        if n > 4096 {
            return Err(bad("too many workloads"));
        }
        let mut flags = Vec::with_capacity(n);
        for _ in 0..n {
            let mut has = [0u8; 1];
            r.read_exact(&mut has)?;
            if has[0] == 0 {
                flags.push(None);
                continue;
            }
            let mut u64b = [0u8; 8];
            r.read_exact(&mut u64b)?;
            let len = u64::from_le_bytes(u64b);
            if len > (MAX_CHUNKS * CHUNK) as u64 {
                return Err(bad("book longer than any run"));
            }
            let mut f = vec![0u8; len as usize];
            r.read_exact(&mut f)?;
            flags.push(Some(f));
        }
        let mut words = Vec::with_capacity(512);
        for _ in 0..512 {
            let mut b = [0u8; 8];
            r.read_exact(&mut b)?;
            words.push(i64::from_le_bytes(b));
        }
        let floors = words.split_off(256);
        Ok(Snapshot {
            flags,
            projections: words,
            floors,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_survive_a_round_trip_through_the_file() {
        let l = Ledger::new(&[true, false]);
        let b = l.book(0).expect("book");
        b.mark(3, ACKED);
        b.reply(3, true);
        b.reply(3, true);
        b.mark(70_000, ACKED);
        l.projected(5, 9);
        let s = l.snapshot();
        let f = s.flags[0].as_ref().expect("flags");
        assert_eq!(f.len(), 70_001);
        assert_eq!(f[3], ACKED | REPLIED_OK | REPLIED_AGAIN);
        assert_eq!(f[70_000], ACKED);
        assert_eq!(s.projections[5], 9);
        let mut bytes = Vec::new();
        s.write(&mut bytes).expect("write");
        assert_eq!(Snapshot::read(&mut &bytes[..]).expect("read"), s);
        assert!(Snapshot::read(&mut &b"nonsense"[..]).is_err());
    }
}
