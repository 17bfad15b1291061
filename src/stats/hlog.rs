//! The interval log, in HdrHistogram log format 1.3, written as the run goes so an
//! interrupted run keeps every finished interval. The `hdrhistogram` crate's own
//! writer leaves out the version and legend lines and writes the max in raw units,
//! which Java's `HistogramLogProcessor` misreads; this writer follows the format doc.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;

/// Writes `latency.hlog`.
pub struct IntervalLog {
    out: BufWriter<Box<dyn Write + Send>>,
    serializer: V2DeflateSerializer,
    buf: Vec<u8>,
}

impl IntervalLog {
    /// Creates the file and writes the header; `start_unix_ns` is the run's anchor.
    pub fn create(path: &Path, comment: &str, start_unix_ns: i128) -> io::Result<IntervalLog> {
        IntervalLog::new(Box::new(File::create(path)?), comment, start_unix_ns)
    }

    /// Writes the header to `out` (a file, or anything a test reads back).
    pub fn new(out: Box<dyn Write + Send>, comment: &str, start_unix_ns: i128) -> io::Result<IntervalLog> {
        let mut out = BufWriter::new(out);
        let secs = start_unix_ns as f64 / 1e9;
        writeln!(out, "#{}", comment.replace('\n', " "))?;
        writeln!(out, "#[Histogram log format version 1.3]")?;
        writeln!(
            out,
            "#[StartTime: {secs:.3} (seconds since epoch), {}]",
            java_date(start_unix_ns)
        )?;
        writeln!(
            out,
            "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
        )?;
        out.flush()?;
        Ok(IntervalLog {
            out,
            serializer: V2DeflateSerializer::new(),
            buf: Vec::with_capacity(4096),
        })
    }

    /// Writes one interval line; `start_s` is relative to the StartTime.
    pub fn interval(&mut self, tag: &str, start_s: f64, length_s: f64, h: &Histogram<u64>) -> io::Result<()> {
        self.buf.clear();
        self.serializer
            .serialize(h, &mut self.buf)
            .map_err(|e| io::Error::other(format!("histogram serialization: {e:?}")))?;
        let max_ms = h.max() as f64 / 1e6;
        writeln!(
            self.out,
            "Tag={tag},{start_s:.3},{length_s:.3},{max_ms:.3},{}",
            STANDARD.encode(&self.buf)
        )
    }

    /// A comment line (readers skip it), e.g. a phase marker.
    pub fn comment(&mut self, text: &str) -> io::Result<()> {
        writeln!(self.out, "#{}", text.replace('\n', " "))
    }

    /// Makes everything written so far durable in the file.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// One interval read back from a log.
#[derive(Debug)]
pub struct LoggedInterval {
    pub tag: String,
    pub start_s: f64,
    pub length_s: f64,
    pub max_ms: f64,
    pub histogram: Histogram<u64>,
}

/// Reads an interval log (ours or any 1.3 writer's tagged lines).
pub fn read(path: &Path) -> io::Result<Vec<LoggedInterval>> {
    parse(&std::fs::read_to_string(path)?)
}

/// An interval log's text, as [`read`] takes it.
pub fn parse(text: &str) -> io::Result<Vec<LoggedInterval>> {
    let mut out = Vec::new();
    let mut de = Deserializer::new();
    for piece in text.split_inclusive('\n') {
        match parse_line(piece.trim_end_matches(['\n', '\r']), &mut de) {
            Ok(Some(i)) => out.push(i),
            Ok(None) => {}
            // A last line without its newline was cut by a kill mid-write: what it
            // held was never a complete interval, so it is dropped, not trusted.
            Err(_) if !piece.ends_with('\n') => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

fn parse_line(line: &str, de: &mut Deserializer) -> io::Result<Option<LoggedInterval>> {
    if line.starts_with('#') || line.starts_with('"') || line.trim().is_empty() {
        return Ok(None);
    }
    let bad = || io::Error::new(io::ErrorKind::InvalidData, format!("bad interval line: {line}"));
    let (tag, rest) = match line.strip_prefix("Tag=") {
        Some(r) => r.split_once(',').ok_or_else(bad)?,
        None => ("", line),
    };
    let f: Vec<&str> = rest.split(',').collect();
    if f.len() != 4 {
        return Err(bad());
    }
    let num = |s: &str| s.parse::<f64>().map_err(|_| bad());
    let bytes = STANDARD.decode(f[3]).map_err(|_| bad())?;
    if !claims_within_bounds(&bytes) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "interval line claims a histogram larger than its bytes justify: {}",
                line.chars().take(80).collect::<String>()
            ),
        ));
    }
    let histogram: Histogram<u64> = de.deserialize(&mut &bytes[..]).map_err(|_| bad())?;
    Ok(Some(LoggedInterval {
        tag: tag.to_string(),
        start_s: num(f[0])?,
        length_s: num(f[1])?,
        max_ms: num(f[2])?,
        histogram,
    }))
}

/// Counts a histogram of an interval log may claim (16 MiB of them): a 3-digit
/// histogram over all of u64 has about 56,000, a 5-digit one 6 million.
const MAX_COUNTS: u64 = 1 << 21;

/// Whether an encoded histogram's header (V2, plain or deflated) claims no more than its
/// bytes justify, checked before hdrhistogram allocates by it: it sizes the counts by
/// the claimed range and precision, and a payload buffer by the claimed length (a
/// 60-byte line claimed gigabytes; found by the `hlog` fuzz target). A payload may
/// claim at most what its bytes hold, or inflate to (deflate expands at most 1032x).
fn claims_within_bounds(bytes: &[u8]) -> bool {
    use std::io::Read;
    const V2: u32 = 0x1c84_9313;
    const V2_DEFLATED: u32 = 0x1c84_9314;
    let be32 = |b: &[u8], at: usize| b.get(at..at + 4).map(|x| u32::from_be_bytes([x[0], x[1], x[2], x[3]]));
    let (header, available) = match be32(bytes, 0) {
        Some(V2) => (
            bytes.get(..40).map(<[u8]>::to_vec),
            bytes.len().saturating_sub(40) as u64,
        ),
        Some(V2_DEFLATED) => {
            let Some(len) = be32(bytes, 4) else {
                return false;
            };
            let body = &bytes[8..];
            let mut inner = [0u8; 40];
            let mut z = flate2::read::ZlibDecoder::new(&body[..(len as usize).min(body.len())]);
            if z.read_exact(&mut inner).is_err() {
                return false;
            }
            (
                Some(inner.to_vec()),
                (len as u64).min(body.len() as u64).saturating_mul(1032),
            )
        }
        // Anything else hdrhistogram refuses before allocating.
        _ => return true,
    };
    let Some(h) = header else {
        return false;
    };
    let be64 = |at: usize| {
        u64::from_be_bytes([
            h[at],
            h[at + 1],
            h[at + 2],
            h[at + 3],
            h[at + 4],
            h[at + 5],
            h[at + 6],
            h[at + 7],
        ])
    };
    let payload = be32(&h, 4).unwrap_or(u32::MAX) as u64;
    let (digits, low, high) = (be32(&h, 12).unwrap_or(u32::MAX), be64(16), be64(24));
    if payload > available {
        return false;
    }
    if digits > 5 || low == 0 || high < low.saturating_mul(2) {
        // Refused by hdrhistogram's own bounds check, before any allocation.
        return true;
    }
    counts_len(digits, low, high) <= MAX_COUNTS
}

/// The length of the counts array hdrhistogram gives these bounds.
fn counts_len(digits: u32, low: u64, high: u64) -> u64 {
    let largest = 2 * 10u64.pow(digits);
    let unit_magnitude = 63 - low.leading_zeros() as u64;
    let sub_bucket_count_magnitude = (largest as f64).log2().ceil() as u64;
    let sub_bucket_count = 1u64 << sub_bucket_count_magnitude.max(1);
    // In u128: the shifts cannot overflow, and the loop ends within 128 doublings.
    let mut smallest_untrackable = (sub_bucket_count as u128) << unit_magnitude.min(64);
    let mut buckets = 1u64;
    while smallest_untrackable <= high as u128 {
        smallest_untrackable <<= 1;
        buckets += 1;
    }
    (buckets + 1) * (sub_bucket_count / 2)
}

/// `Thu Nov 26 04:44:46 UTC 2026`, as Java's `Date.toString` writes it in UTC.
fn java_date(unix_ns: i128) -> String {
    let secs = unix_ns.div_euclid(1_000_000_000) as i64;
    let t = crate::model::GoTime {
        unix_secs: secs,
        nanos: 0,
        offset_secs: 0,
    }
    .to_string();
    // t is 2026-11-26T04:44:46Z
    let days = secs.div_euclid(86_400);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    let month: usize = t[5..7].parse().unwrap_or(1);
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(month - 1).min(11)];
    format!("{weekday} {mon} {} {} UTC {}", &t[8..10], &t[11..19], &t[0..4])
}

/// The tag suffix of operations intended during the warmup: `<workload>.<stage>` holds
/// exactly what summary.json counts (intended at or after the warmup's end, whenever
/// they completed), `<workload>.<stage>.warmup` the rest. Java's HistogramLogProcessor
/// selects one with `-tag`, so the warmup is left out by naming the tag.
pub const WARMUP_SUFFIX: &str = ".warmup";

/// Whether a log separates warmup operations by tag (eventbench 0.1 logs did not: their
/// views cut the warmup by interval start instead).
pub fn tags_warmup(intervals: &[LoggedInterval]) -> bool {
    intervals.iter().any(|i| i.tag.ends_with(WARMUP_SUFFIX))
}

/// Whether an interval is measured (not warmup) by the log's own rule: its tag where
/// the log tags warmup, else its start.
pub fn is_measured(i: &LoggedInterval, tagged: bool, warmup_s: f64) -> bool {
    if tagged {
        !i.tag.ends_with(WARMUP_SUFFIX)
    } else {
        i.start_s + 1e-9 >= warmup_s
    }
}

/// `workload`'s measured stages in a read log, each the sum of its intervals that
/// start at or after `from_s` (0 for all of them: then they are summary.json's stages).
pub fn stages_after(
    intervals: &[LoggedInterval],
    workload: &str,
    from_s: f64,
) -> std::collections::BTreeMap<String, Histogram<u64>> {
    let prefix = format!("{workload}.");
    let tagged = tags_warmup(intervals);
    let mut out = std::collections::BTreeMap::new();
    for i in intervals {
        let Some(stage) = i.tag.strip_prefix(&prefix) else {
            continue;
        };
        if !is_measured(i, tagged, from_s) || i.start_s + 1e-9 < from_s {
            continue;
        }
        let h = out
            .entry(stage.to_string())
            .or_insert_with(|| super::empty_like(&i.histogram));
        h.add(&i.histogram)
            .unwrap_or_else(|_| unreachable!("an auto-resizing histogram takes any value"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_claiming_more_than_its_bytes_is_refused_before_any_allocation() {
        // The hlog fuzz target's finding: a V2 header claiming a 5-digit histogram up to
        // u64::MAX and a 2 GiB payload, in a line of a few dozen bytes.
        let mut h = Vec::new();
        h.extend_from_slice(&0x1c84_9313u32.to_be_bytes());
        h.extend_from_slice(&0x7fff_ffffu32.to_be_bytes());
        h.extend_from_slice(&0u32.to_be_bytes());
        h.extend_from_slice(&5u32.to_be_bytes());
        h.extend_from_slice(&1u64.to_be_bytes());
        h.extend_from_slice(&u64::MAX.to_be_bytes());
        h.extend_from_slice(&1f64.to_bits().to_be_bytes());
        assert!(!claims_within_bounds(&h), "payload beyond the bytes");
        h[4..8].copy_from_slice(&0u32.to_be_bytes());
        assert!(!claims_within_bounds(&h), "6 million counts");
        let line = format!("0.0,1.0,1.0,{}\n", STANDARD.encode(&h));
        let err = parse(&line).expect_err("refused");
        assert!(err.to_string().contains("larger than its bytes justify"), "{err}");
        // The error quotes the line's start, cut between characters (the fuzz target's
        // second finding: a cut inside a multi-byte character panicked).
        let tagged = format!("Tag=x{},{line}", "\u{e9}".repeat(50));
        assert!(parse(&tagged).is_err());
        // What we write ourselves passes.
        let mut ours = Histogram::<u64>::new(3).expect("histogram");
        ours.record(3_600_000_000_000).expect("record");
        let mut buf = Vec::new();
        V2DeflateSerializer::new()
            .serialize(&ours, &mut buf)
            .expect("serialize");
        assert!(claims_within_bounds(&buf));
        assert!((50_000..60_000).contains(&counts_len(3, 1, u64::MAX)));
    }

    #[test]
    fn writes_the_1_3_header_and_reads_back() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("latency.hlog");
        let mut log = IntervalLog::create(&path, "eventbench test", 1_764_132_286_123_000_000).expect("create");
        let mut h = Histogram::<u64>::new(3).expect("h");
        for v in [1_000u64, 2_000_000, 1_500_000_000] {
            h.record(v).expect("rec");
        }
        log.interval("producers.e2e", 1.0, 1.0, &h).expect("write");
        log.flush().expect("flush");
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "#[Histogram log format version 1.3]");
        assert_eq!(
            lines[2],
            "#[StartTime: 1764132286.123 (seconds since epoch), Wed Nov 26 04:44:46 UTC 2025]"
        );
        assert_eq!(
            lines[3],
            "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
        );
        // The max is the highest value equivalent to the recorded one, as Java writes it.
        assert!(
            lines[4].starts_with("Tag=producers.e2e,1.000,1.000,1500.512,HISTF"),
            "{}",
            lines[4]
        );
        let back = read(&path).expect("read back");
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].histogram.len(), 3);
        assert_eq!(back[0].tag, "producers.e2e");
        assert!((back[0].histogram.max() as f64 - 1.5e9).abs() / 1.5e9 < 1e-3);
    }
}
