//! What happened to each produced event, one byte per operation. Producers and
//! listeners mark it with one atomic `fetch_or` (no lock, no map), and the audit reads
//! it after the run. The event uuid carries the operation index, so a reply or a
//! query result names its cell without a lookup.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
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
/// The memory store stored the event, then dropped it to stay within its
/// `keep_per_aggregate`: stored, not lost, though no scan finds it.
pub const TRIMMED: u8 = 64;
/// Returned to readers more than once.
pub const QUERIED_AGAIN: u8 = 128;

/// A segment holds 2^24 operations (16 MiB of flags); 256 of them 2^32 per workload.
const SEGMENT_BITS: u32 = 24;
const SEGMENT: usize = 1 << SEGMENT_BITS;
const MAX_SEGMENTS: usize = 1 << 8;

/// One segment of flags: an anonymous mapping, or a file's (a run directory's
/// `ledger.d/`), which the kernel pages out and back as the run needs it.
struct Segment {
    map: memmap2::MmapMut,
    file_backed: bool,
}

impl Segment {
    fn cells(&self) -> &[AtomicU8] {
        // SAFETY: AtomicU8 has the size, alignment and bit validity of u8; the mapping
        // lives as long as `self`, and every access to it goes through these atomics.
        unsafe { std::slice::from_raw_parts(self.map.as_ptr() as *const AtomicU8, self.map.len()) }
    }
}

/// The flags of one producing workload: segments mapped on first touch.
pub struct Book {
    segments: Box<[OnceLock<Option<Segment>>]>,
    /// Where file-backed segments go (`<dir>/w<workload>-<segment>.flags`); `None`
    /// keeps them in anonymous memory.
    dir: Option<(PathBuf, usize)>,
}

impl Book {
    fn new(dir: Option<(PathBuf, usize)>) -> Book {
        Book {
            segments: (0..MAX_SEGMENTS).map(|_| OnceLock::new()).collect(),
            dir,
        }
    }

    fn segment_path(dir: &Path, workload: usize, segment: usize) -> PathBuf {
        dir.join(format!("w{workload}-{segment:03}.flags"))
    }

    /// Maps a segment: a file of the run directory when there is one (an existing
    /// file's flags are kept: a rebuilt ledger reads them), else anonymous memory.
    fn map(&self, segment: usize) -> Option<Segment> {
        if let Some((dir, w)) = &self.dir {
            let path = Book::segment_path(dir, *w, segment);
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .and_then(|f| f.set_len(SEGMENT as u64).map(|_| f));
            // SAFETY: the file is the run's own, mapped shared and only through atomics;
            // nothing else in the process writes it while the run lasts.
            if let Ok(map) = file.and_then(|f| unsafe { memmap2::MmapOptions::new().len(SEGMENT).map_mut(&f) }) {
                return Some(Segment { map, file_backed: true });
            }
            // A full disk or no directory: keep the run going on anonymous memory.
        }
        memmap2::MmapOptions::new()
            .len(SEGMENT)
            .map_anon()
            .ok()
            .map(|map| Segment {
                map,
                file_backed: false,
            })
    }

    fn cell(&self, index: u64) -> Option<&AtomicU8> {
        let seg = self
            .segments
            .get((index >> SEGMENT_BITS) as usize)?
            .get_or_init(|| self.map((index >> SEGMENT_BITS) as usize))
            .as_ref()?;
        seg.cells().get(index as usize & (SEGMENT - 1))
    }

    /// Sets `flag` on operation `index`; returns the flags it had before.
    #[inline]
    pub fn mark(&self, index: u64, flag: u8) -> u8 {
        self.cell(index).map_or(0, |c| c.fetch_or(flag, Ordering::Relaxed))
    }

    /// Records that a query returned operation `index` (again, if it had before);
    /// returns its flags from before.
    pub fn queried(&self, index: u64) -> u8 {
        let before = self.mark(index, QUERIED);
        if before & QUERIED != 0 && before & QUERIED_AGAIN == 0 {
            self.mark(index, QUERIED_AGAIN);
        }
        before
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
        for (c, seg) in self.segments.iter().enumerate() {
            if let Some(Some(seg)) = seg.get() {
                out.resize(c * SEGMENT, 0);
                out.extend(seg.cells().iter().map(|f| f.load(Ordering::Relaxed)));
                let len = out.iter().rposition(|f| *f != 0).map_or(0, |i| i + 1);
                out.truncate(len);
            }
        }
        out
    }

    /// Drops file-backed pages from this process's memory: they stay in the file (and
    /// the page cache), and a later mark faults its page back in. What keeps a long
    /// run's ledger from growing its resident memory.
    fn release(&self) {
        for seg in self.segments.iter().filter_map(|s| s.get()).flatten() {
            if seg.file_backed {
                // SAFETY: a shared file mapping loses no data to MADV_DONTNEED; the
                // pages are read back from the file on the next access.
                let _ = unsafe { seg.map.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) };
            }
        }
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
    /// The `[prefill]` history's tag and which of its events queries returned.
    pub history: OnceLock<HistoryBook>,
}

/// Which events of a prefilled history the readers were given (by the event's index
/// in the history), under the history's own tag: not the run's events, so not the
/// audit's, but counted the same way.
pub struct HistoryBook {
    pub tag: u64,
    book: Book,
}

impl HistoryBook {
    /// Marks history event `index` returned; its flags from before.
    pub fn mark(&self, index: u64) -> u8 {
        self.book.queried(index)
    }

    /// Flags by history index, up to the last one returned.
    pub fn flags(&self) -> Vec<u8> {
        self.book.flags()
    }
}

impl Ledger {
    /// A ledger in anonymous memory (1 byte per operation, resident once touched).
    pub fn new(producers: &[bool]) -> Ledger {
        Ledger::in_dir(producers, None)
    }

    /// A ledger whose books live in files under `dir` (created if missing; files
    /// already there are read back), so the run's resident memory stays flat:
    /// [`Ledger::release`] gives the touched pages back to the kernel.
    pub fn in_dir(producers: &[bool], dir: Option<&Path>) -> Ledger {
        let dir = dir.filter(|d| std::fs::create_dir_all(d).is_ok());
        Ledger {
            books: producers
                .iter()
                .enumerate()
                .map(|(w, p)| p.then(|| Book::new(dir.map(|d| (d.to_path_buf(), w)))))
                .collect(),
            projections: (0..256).map(|_| AtomicI64::new(i64::MIN)).collect(),
            floors: (0..256).map(|_| AtomicI64::new(i64::MIN)).collect(),
            history: OnceLock::new(),
        }
    }

    /// Counts the reads of the history tagged `tag` from now on.
    pub fn watch_history(&self, tag: u64) {
        let _ = self.history.set(HistoryBook {
            tag,
            book: Book::new(None),
        });
    }

    pub fn book(&self, workload: usize) -> Option<&Book> {
        self.books.get(workload).and_then(|b| b.as_ref())
    }

    /// A reader's projection of `aggregate` reached `version`.
    pub fn projected(&self, aggregate: i8, version: i64) {
        self.projections[aggregate as u8 as usize].fetch_max(version, Ordering::Relaxed);
    }

    /// Gives the file-backed pages touched so far back to the kernel.
    pub fn release(&self) {
        self.books.iter().flatten().for_each(Book::release);
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

/// In a ledger directory: the readers' projections and floors (256 + 256 i64, little
/// endian), rewritten as the run goes; the books are its `w<N>-<S>.flags` files.
pub const PROJECTIONS_FILE: &str = "projections.bin";

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

    /// The projections and floors as [`PROJECTIONS_FILE`] holds them.
    pub fn projection_bytes(ledger: &Ledger) -> Vec<u8> {
        ledger
            .projections
            .iter()
            .chain(&ledger.floors)
            .flat_map(|p| p.load(Ordering::Relaxed).to_le_bytes())
            .collect()
    }

    /// A ledger directory left by a run that did not finish (its books' files and the
    /// last projections written).
    pub fn read_dir(dir: &Path) -> std::io::Result<Snapshot> {
        let bad = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("ledger: {what}"));
        let mut books: Vec<Option<Vec<(usize, PathBuf)>>> = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
            let Some(stem) = name.strip_suffix(".flags").and_then(|n| n.strip_prefix('w')) else {
                continue;
            };
            let parsed = stem
                .split_once('-')
                .and_then(|(w, s)| Some((w.parse::<usize>().ok()?, s.parse::<usize>().ok()?)));
            let Some((w, seg)) = parsed.filter(|(w, s)| *w < 4096 && *s < MAX_SEGMENTS) else {
                return Err(bad(format!("unexpected file {name}")));
            };
            if books.len() <= w {
                books.resize(w + 1, None);
            }
            books[w].get_or_insert_with(Vec::new).push((seg, path));
        }
        let mut flags = Vec::with_capacity(books.len());
        for book in books {
            flags.push(match book {
                None => None,
                Some(mut segs) => {
                    segs.sort();
                    let mut out = Vec::new();
                    for (seg, path) in segs {
                        let mut bytes = Vec::new();
                        std::fs::File::open(&path)?
                            .take(SEGMENT as u64)
                            .read_to_end(&mut bytes)?;
                        out.resize(seg * SEGMENT, 0);
                        out.extend_from_slice(&bytes[..bytes.len().min(SEGMENT)]);
                        let len = out.iter().rposition(|f| *f != 0).map_or(0, |i| i + 1);
                        out.truncate(len);
                    }
                    Some(out)
                }
            });
        }
        let words = match std::fs::read(dir.join(PROJECTIONS_FILE)) {
            Ok(b) if b.len() == 512 * 8 => b
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect(),
            Ok(_) => return Err(bad(format!("{PROJECTIONS_FILE} is cut"))),
            // Killed before the first write: no reader had projected anything yet.
            Err(_) => vec![i64::MIN; 512],
        };
        let mut projections = words;
        let floors = projections.split_off(256);
        Ok(Snapshot {
            flags,
            projections,
            floors,
        })
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
            if len > (MAX_SEGMENTS * SEGMENT) as u64 {
                return Err(bad("book longer than any run"));
            }
            // As long as the bytes that are there, not as the header claims: a corrupt
            // length costs nothing before the read runs short.
            let mut f = Vec::new();
            r.by_ref().take(len).read_to_end(&mut f)?;
            if f.len() as u64 != len {
                return Err(bad("a book is cut short"));
            }
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
        // A header that claims a 4 GiB book over a few bytes is refused without
        // allocating the claim.
        let mut claim = MAGIC.to_vec();
        claim.extend_from_slice(&1u32.to_le_bytes());
        claim.push(1);
        claim.extend_from_slice(&((MAX_SEGMENTS * SEGMENT) as u64).to_le_bytes());
        claim.extend_from_slice(&[1, 2, 3]);
        let err = Snapshot::read(&mut &claim[..]).expect_err("cut short");
        assert!(err.to_string().contains("cut short"), "{err}");
    }
}
