//! A capture: a topic window's seed Events with their record timestamps, as
//! `eventbench capture` writes it and a `replay` workload reads it. One gzip stream of
//! JSON lines (so `zcat F | jq` reads it): a [`Header`], then one
//! `{"ts_ms":..,"event":{..}}` per record in timestamp order, the event in the Go wire
//! format. The client's settings (secrets) are never part of it.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::Path;

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Event, Strictness};

pub const FORMAT: &str = "eventbench-capture";
pub const VERSION: u32 = 1;

/// What the capture is of; its first line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Header {
    pub format: String,
    pub version: u32,
    pub bootstrap: String,
    pub topic: String,
    /// The first and last record's timestamps, ms since the epoch.
    pub first_ms: i64,
    pub last_ms: i64,
    pub records: u64,
    /// Records of the window that were not seed Events, by why (not in the capture).
    #[serde(default)]
    pub skipped: BTreeMap<String, u64>,
    /// When the capture was taken (RFC 3339).
    pub captured_at: String,
}

#[derive(Serialize, Deserialize)]
struct Line<'a> {
    ts_ms: i64,
    #[serde(borrow)]
    event: &'a serde_json::value::RawValue,
}

/// Writes `events` (sorted by timestamp) under `header` to `out`, gzip-compressed.
pub fn write(out: impl Write, header: &Header, events: &[(i64, Event)]) -> std::io::Result<()> {
    let mut gz = GzEncoder::new(std::io::BufWriter::new(out), flate2::Compression::default());
    serde_json::to_writer(&mut gz, header)?;
    gz.write_all(b"\n")?;
    let mut buf = Vec::with_capacity(1024);
    for (ts_ms, e) in events {
        buf.clear();
        buf.extend_from_slice(b"{\"ts_ms\":");
        buf.extend_from_slice(itoa::Buffer::new().format(*ts_ms).as_bytes());
        buf.extend_from_slice(b",\"event\":");
        e.encode_into(&mut buf);
        buf.extend_from_slice(b"}\n");
        gz.write_all(&buf)?;
    }
    gz.finish()?.flush()
}

/// One captured event, with what a replay keeps of it: the ids, uuids and times are
/// made fresh for each run.
#[derive(Debug, Clone, Copy)]
struct Kept {
    action: u32,
    aggregate_id: i8,
    user_uuid: Uuid,
    /// Where its data is in the arena; `None` for Go's nil slice.
    data: Option<(usize, usize)>,
}

/// A capture as read: its header, each record's timestamp, and what a replay sends.
#[derive(Clone)]
pub struct Capture {
    pub header: Header,
    ts_ms: Vec<i64>,
    actions: Vec<String>,
    kept: Vec<Kept>,
    arena: Vec<u8>,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("header", &self.header)
            .field("events", &self.kept.len())
            .finish()
    }
}

impl Capture {
    /// Reads the capture at `path`; errors name the line.
    pub fn read(path: &Path) -> Result<Capture, String> {
        let meta = std::fs::metadata(path).map_err(|e| format!("cannot read capture {}: {e}", path.display()))?;
        if !meta.is_file() {
            return Err(format!("capture {} is not a file", path.display()));
        }
        let file = std::fs::File::open(path).map_err(|e| format!("cannot read capture {}: {e}", path.display()))?;
        Capture::from_reader(std::io::BufReader::new(GzDecoder::new(std::io::BufReader::new(file))))
            .map_err(|e| format!("capture {}: {e}", path.display()))
    }

    fn from_reader(mut r: impl BufRead) -> Result<Capture, String> {
        let mut line = String::new();
        let first = r
            .read_line(&mut line)
            .map_err(|e| format!("not a gzip capture ({e})"))?;
        let header: Header = serde_json::from_str(&line)
            .ok()
            .filter(|h: &Header| h.format == FORMAT)
            .ok_or_else(|| format!("line 1: not an {FORMAT} header"))?;
        if first == 0 || header.version != VERSION {
            return Err(format!(
                "line 1: version {} (this eventbench reads {VERSION})",
                header.version
            ));
        }
        let mut c = Capture {
            header,
            ts_ms: Vec::new(),
            actions: Vec::new(),
            kept: Vec::new(),
            arena: Vec::new(),
        };
        for n in 2.. {
            line.clear();
            if r.read_line(&mut line).map_err(|e| format!("line {n}: {e}"))? == 0 {
                break;
            }
            c.push(&line).map_err(|e| format!("line {n}: {e}"))?;
        }
        if c.kept.is_empty() {
            return Err("holds no events".into());
        }
        if c.ts_ms.windows(2).any(|w| w[1] < w[0]) {
            return Err("records are not in timestamp order".into());
        }
        Ok(c)
    }

    fn push(&mut self, line: &str) -> Result<(), String> {
        let l: Line = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let e = Event::decode(l.event.get().as_bytes(), Strictness::Strict).map_err(|e| e.to_string())?;
        let action = match self.actions.iter().position(|a| *a == e.action) {
            Some(i) => i,
            None => {
                self.actions.push(e.action.clone());
                self.actions.len() - 1
            }
        } as u32;
        let data = e.data.as_ref().map(|d| {
            self.arena.extend_from_slice(d);
            (self.arena.len() - d.len(), d.len())
        });
        self.ts_ms.push(l.ts_ms);
        self.kept.push(Kept {
            action,
            aggregate_id: e.aggregate_id,
            user_uuid: e.user_uuid,
            data,
        });
        Ok(())
    }

    /// A capture of empty events at these times (tests of what reads the times).
    #[doc(hidden)]
    pub fn from_times(ts_ms: &[i64]) -> Capture {
        Capture {
            header: Header {
                format: FORMAT.into(),
                version: VERSION,
                bootstrap: String::new(),
                topic: String::new(),
                first_ms: ts_ms.first().copied().unwrap_or(0),
                last_ms: ts_ms.last().copied().unwrap_or(0),
                records: ts_ms.len() as u64,
                skipped: BTreeMap::new(),
                captured_at: String::new(),
            },
            ts_ms: ts_ms.to_vec(),
            actions: vec![String::new()],
            kept: vec![
                Kept {
                    action: 0,
                    aggregate_id: 1,
                    user_uuid: Uuid::nil(),
                    data: None,
                };
                ts_ms.len()
            ],
            arena: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.kept.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// One pass of the capture in ms: its first record to its last and one mean gap
    /// more, so that a loop keeps the captured rate; 0 when it spans no time.
    pub fn period_ms(&self) -> f64 {
        let n = self.ts_ms.len();
        match (self.ts_ms.first(), self.ts_ms.last()) {
            (Some(a), Some(b)) if n > 1 => (b - a) as f64 * n as f64 / (n - 1) as f64,
            _ => 0.0,
        }
    }

    /// Events per second over one pass at speed 1; 0 when it spans no time.
    pub fn mean_rate(&self) -> f64 {
        let period_ms = self.period_ms();
        if period_ms > 0.0 {
            self.len() as f64 / (period_ms / 1000.0)
        } else {
            0.0
        }
    }

    /// The aggregates its events name, each once, ascending.
    pub fn aggregate_ids(&self) -> Vec<i8> {
        let mut seen = [false; 256];
        for k in &self.kept {
            seen[k.aggregate_id as u8 as usize] = true;
        }
        (i8::MIN..=i8::MAX).filter(|a| seen[*a as u8 as usize]).collect()
    }

    /// Each record's timestamp, ms since the epoch, in order.
    pub fn ts_ms(&self) -> &[i64] {
        &self.ts_ms
    }

    /// Fills `e` (reusing its buffers) with captured event `i`'s action, aggregate,
    /// user and data; its uuids, times and version are the caller's to set.
    pub fn fill(&self, i: usize, e: &mut Event) {
        let k = &self.kept[i];
        e.action.clear();
        e.action.push_str(&self.actions[k.action as usize]);
        e.aggregate_id = k.aggregate_id;
        e.user_uuid = k.user_uuid;
        match k.data {
            None => e.data = None,
            Some((at, len)) => {
                let d = e.data.get_or_insert_with(Vec::new);
                d.clear();
                d.extend_from_slice(&self.arena[at..at + len]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(i: u8) -> Event {
        Event {
            action: ["a", "b"][i as usize % 2].into(),
            aggregate_id: i as i8 + 1,
            data: (!i.is_multiple_of(3)).then(|| vec![i; i as usize]),
            user_uuid: Uuid::from_u128(i as u128 + 7),
            uuid: Uuid::from_u128(1),
            ..Event::default()
        }
    }

    fn header(n: u64) -> Header {
        Header {
            format: FORMAT.into(),
            version: VERSION,
            bootstrap: "127.0.0.1:9092".into(),
            topic: "events".into(),
            first_ms: 1000,
            last_ms: 1000 + n as i64,
            records: n,
            skipped: BTreeMap::from([("not JSON".to_string(), 2)]),
            captured_at: "2026-12-06T00:00:00Z".into(),
        }
    }

    #[test]
    fn a_capture_reads_back_what_was_written() {
        let events: Vec<(i64, Event)> = (0..5u8).map(|i| (1000 + i as i64, event(i))).collect();
        let mut bytes = Vec::new();
        write(&mut bytes, &header(5), &events).expect("write");
        let c = Capture::from_reader(std::io::BufReader::new(GzDecoder::new(&bytes[..]))).expect("read");
        assert_eq!(c.header, header(5));
        assert_eq!(c.ts_ms(), &[1000, 1001, 1002, 1003, 1004]);
        let mut e = Event::default();
        for (i, (_, want)) in events.iter().enumerate() {
            c.fill(i, &mut e);
            assert_eq!(
                (&e.action, e.aggregate_id, &e.data, e.user_uuid),
                (&want.action, want.aggregate_id, &want.data, want.user_uuid)
            );
        }
    }

    #[test]
    fn a_damaged_capture_names_its_line() {
        let read = |text: &str| {
            let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(text.as_bytes()).expect("gz");
            let bytes = gz.finish().expect("gz");
            Capture::from_reader(std::io::BufReader::new(GzDecoder::new(&bytes[..]))).map(|_| ())
        };
        let h = serde_json::to_string(&header(1)).expect("header");
        assert!(read("{}\n").unwrap_err().contains("line 1"));
        assert!(read(&format!("{h}\n")).unwrap_err().contains("no events"));
        let err = read(&format!("{h}\n{{\"ts_ms\":1,\"event\":{{\"hello\":1}}}}\n")).unwrap_err();
        assert!(err.starts_with("line 2:"), "{err}");
        let plain = Capture::from_reader(std::io::BufReader::new(GzDecoder::new(&b"plain text"[..])));
        assert!(plain.is_err());
    }
}
