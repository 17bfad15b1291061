//! The decoder's fast path: an `Event` exactly as Go's `json.Marshal` (and
//! [`Event::encode_into`]) writes it, read in one pass over the bytes with no
//! tokenizer. Every record eventbench produces, and every event a Go service echoes,
//! has this shape, so the listener's decode (the hot path's largest cost after
//! encoding) goes here.
//!
//! It accepts a strict subset of what the general decoder accepts: the nine keys in
//! struct order, no whitespace, no escapes in any string, uuids in the 36-character
//! form, integers as plain literals, nothing after the closing brace. On anything else
//! it returns `None` and the caller decodes the general way, so the two can never
//! disagree on what they both accept (`tests` below mutate inputs to check it, and
//! the differential fuzz against Go runs through here).

use uuid::Uuid;

use super::event::Event;
use super::time::GoTime;

/// A cursor over the input; every step either advances or gives up.
struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn lit(&mut self, s: &[u8]) -> Option<()> {
        if self.b.get(self.at..self.at + s.len())? == s {
            self.at += s.len();
            Some(())
        } else {
            None
        }
    }

    /// A string's bytes between its quotes (the opening one already read), with no
    /// backslash (an escape goes the general way). Control characters are the
    /// caller's to refuse.
    fn raw_str(&mut self) -> Option<&'a [u8]> {
        let rest = self.b.get(self.at..)?;
        let end = memchr::memchr2(b'"', b'\\', rest)?;
        if rest[end] != b'"' {
            return None;
        }
        self.at += end + 1;
        Some(&rest[..end])
    }

    /// A `"`-quoted string as text: valid UTF-8 (Go's replacement of invalid bytes is
    /// the general path's) with no control character (which JSON refuses raw).
    fn text(&mut self) -> Option<&'a str> {
        self.lit(b"\"")?;
        let s = self.raw_str()?;
        if s.iter().any(|&c| c < 0x20) {
            return None;
        }
        std::str::from_utf8(s).ok()
    }

    /// `[]byte` data: `null`, or the text of a base64 string, for the SIMD decoder
    /// (canonical, padded: only alphabet characters, so no control character either)
    /// to take or refuse. It is what `gojson::decode_base64` tries first, so the
    /// general path decodes it the same way; anything else (newlines Go skips, unused
    /// trailing bits) goes the general way.
    fn data(&mut self) -> Option<Option<&'a [u8]>> {
        if self.lit(b"null").is_some() {
            return Some(None);
        }
        self.lit(b"\"")?;
        self.raw_str().map(Some)
    }

    /// A uuid in its canonical quoted 36-character form (hex in either case).
    fn uuid(&mut self) -> Option<Uuid> {
        self.lit(b"\"")?;
        let s = self.b.get(self.at..self.at + 36)?;
        self.at += 36;
        self.lit(b"\"")?;
        Uuid::try_parse_ascii(s).ok()
    }

    /// An integer literal as JSON writes one (`-`?, no leading zero, no fraction or
    /// exponent), in `i64`; the caller narrows it.
    fn int(&mut self) -> Option<i64> {
        let neg = self.b.get(self.at) == Some(&b'-');
        if neg {
            self.at += 1;
        }
        let start = self.at;
        let mut v: i64 = 0;
        while let Some(&c) = self.b.get(self.at).filter(|c| c.is_ascii_digit()) {
            let d = (c - b'0') as i64;
            // Accumulated negative so that i64::MIN fits.
            v = v.checked_mul(10)?.checked_sub(d)?;
            self.at += 1;
        }
        let digits = self.at - start;
        if digits == 0 || (digits > 1 && self.b[start] == b'0') {
            return None;
        }
        if neg {
            Some(v)
        } else {
            v.checked_neg()
        }
    }
}

/// `bytes` as an [`Event`] if they have the canonical shape, else `None`.
pub fn decode_event(bytes: &[u8]) -> Option<Event> {
    let mut c = Cursor { b: bytes, at: 0 };
    let e = event(&mut c)?;
    (c.at == bytes.len()).then_some(e)
}

/// A query result batch (a JSON array of canonical events, as Go's `json.Marshal` of
/// a slice writes it) if it has that shape, else `None`.
pub fn decode_events(bytes: &[u8]) -> Option<Vec<Event>> {
    let mut c = Cursor { b: bytes, at: 0 };
    c.lit(b"[")?;
    let mut out = Vec::new();
    if c.lit(b"]").is_none() {
        loop {
            out.push(event(&mut c)?);
            if c.lit(b",").is_none() {
                c.lit(b"]")?;
                break;
            }
        }
    }
    (c.at == bytes.len()).then_some(out)
}

/// `bytes`' correlation id if they are a canonical Event, checked as
/// [`decode_event`] would decode it but with nothing allocated or copied: the data's
/// base64 is validated, not decoded. `None` means "go the general way", as there.
pub fn correlation_of(bytes: &[u8]) -> Option<Uuid> {
    let mut c = Cursor { b: bytes, at: 0 };
    let p = parts(&mut c)?;
    if let Some(b64) = p.data {
        base64_simd::STANDARD.check(b64).ok()?;
    }
    (c.at == bytes.len()).then_some(p.correlation_id)
}

/// A canonical Event as read, before anything is copied out of the input; `data` is
/// the base64 text (`None` for `null`).
struct Parts<'a> {
    action: &'a str,
    correlation_id: Uuid,
    aggregate_id: i8,
    data: Option<&'a [u8]>,
    timestamp: GoTime,
    user_uuid: Uuid,
    uuid: Uuid,
    version: i64,
    year_bucket: i16,
}

fn parts<'a>(c: &mut Cursor<'a>) -> Option<Parts<'a>> {
    c.lit(b"{\"action\":")?;
    let action = c.text()?;
    c.lit(b",\"correlation_id\":")?;
    let correlation_id = c.uuid()?;
    c.lit(b",\"aggregate_id\":")?;
    let aggregate_id = i8::try_from(c.int()?).ok()?;
    c.lit(b",\"data\":")?;
    let data = c.data()?;
    c.lit(b",\"timestamp\":")?;
    let timestamp = GoTime::parse_rfc3339(c.text()?).ok()?;
    c.lit(b",\"user_uuid\":")?;
    let user_uuid = c.uuid()?;
    c.lit(b",\"uuid\":")?;
    let uuid = c.uuid()?;
    c.lit(b",\"version\":")?;
    let version = c.int()?;
    c.lit(b",\"year_bucket\":")?;
    let year_bucket = i16::try_from(c.int()?).ok()?;
    c.lit(b"}")?;
    Some(Parts {
        action,
        correlation_id,
        aggregate_id,
        data,
        timestamp,
        user_uuid,
        uuid,
        version,
        year_bucket,
    })
}

fn event(c: &mut Cursor<'_>) -> Option<Event> {
    let p = parts(c)?;
    let data = match p.data {
        None => None,
        Some(b64) => Some(base64_simd::STANDARD.decode_to_vec(b64).ok()?),
    };
    Some(Event {
        action: p.action.to_owned(),
        correlation_id: p.correlation_id,
        aggregate_id: p.aggregate_id,
        data,
        timestamp: p.timestamp,
        user_uuid: p.user_uuid,
        uuid: p.uuid,
        version: p.version,
        year_bucket: p.year_bucket,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::gojson;
    use crate::model::Strictness;

    fn general(bytes: &[u8], mode: Strictness) -> Option<Event> {
        gojson::decode::<Event>(bytes, mode).ok()
    }

    fn sample(i: u64) -> Event {
        let mut e = Event {
            action: ["created", "Ünïcode ✓", "", "a<b>&c", "tab\there", "quote\"d"][(i % 6) as usize].into(),
            correlation_id: Uuid::from_u128(0x1234_5678_9abc_def0_1122_3344_5566_7788u128.wrapping_mul(i as u128 + 1)),
            aggregate_id: (i as i64 % 256 - 128) as i8,
            data: match i % 4 {
                0 => None,
                1 => Some(Vec::new()),
                _ => Some((0..(i * 7 % 300)).map(|k| (k * 31 + i) as u8).collect()),
            },
            timestamp: GoTime::from_unix_nanos(1_700_000_000_000_000_000 + (i as i128) * 123_456_789),
            user_uuid: Uuid::from_u128(i as u128 * 77),
            uuid: Uuid::from_u128(u128::MAX - i as u128),
            version: [0, 1, -1, i64::MAX, i64::MIN, 42][(i % 6) as usize],
            year_bucket: [2024, 0, -1, i16::MAX, i16::MIN][(i % 5) as usize],
        };
        if i % 7 == 3 {
            e.timestamp = GoTime::from_unix_nanos(1_700_000_000_000_000_000);
        }
        e
    }

    #[test]
    fn canonical_events_decode_as_the_general_decoder_decodes_them() {
        let mut fast = 0;
        for i in 0..2_000 {
            let e = sample(i);
            let bytes = e.to_json();
            let got = decode_event(&bytes);
            // Strings with escapes go the general way; everything else is fast.
            let escaped = bytes.windows(2).any(|w| w[0] == b'\\');
            assert_eq!(got.is_some(), !escaped, "{}", String::from_utf8_lossy(&bytes));
            if let Some(g) = got {
                fast += 1;
                assert_eq!(g, e);
                assert_eq!(Some(g), general(&bytes, Strictness::Strict));
            }
        }
        assert!(fast > 1_000, "{fast}");
    }

    #[test]
    fn batches_decode_as_the_general_decoder_decodes_them() {
        for n in [0usize, 1, 2, 17] {
            // Actions with no escapes (every sixth sample's).
            let events: Vec<Event> = (0..n as u64).map(|i| sample(i * 6)).collect();
            let mut bytes = b"[".to_vec();
            for (i, e) in events.iter().enumerate() {
                if i > 0 {
                    bytes.push(b',');
                }
                e.encode_into(&mut bytes);
            }
            bytes.push(b']');
            let general = gojson::decode_array::<Event>(&bytes, Strictness::Lenient).ok();
            let fast = decode_events(&bytes);
            assert_eq!(fast.as_ref(), Some(&events), "{}", String::from_utf8_lossy(&bytes));
            assert_eq!(fast, general);
        }
        assert_eq!(decode_events(b"null"), None, "null goes the general way");
        assert_eq!(decode_events(b"[] "), None);
    }

    /// Whatever the fast path accepts, the general decoder accepts the same way, in
    /// both modes: single-byte mutations, cuts and insertions of canonical inputs.
    #[test]
    fn what_the_fast_path_accepts_the_general_decoder_decodes_the_same() {
        let alphabet = b"0123456789-+.eE\"\\ ,:{}[]nulAZaf\x00\x7f\xc3\xff";
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state = crate::rng::splitmix(state);
            state
        };
        let mut accepted = 0;
        for i in 0..40_000u64 {
            let mut bytes = sample(i % 97).to_json();
            match next() % 3 {
                0 => {
                    let at = (next() % bytes.len() as u64) as usize;
                    bytes[at] = alphabet[(next() % alphabet.len() as u64) as usize];
                }
                1 => {
                    let at = (next() % bytes.len() as u64) as usize;
                    bytes.insert(at, alphabet[(next() % alphabet.len() as u64) as usize]);
                }
                _ => {
                    let at = (next() % bytes.len() as u64) as usize;
                    bytes.remove(at);
                }
            }
            assert_eq!(
                correlation_of(&bytes),
                decode_event(&bytes).map(|e| e.correlation_id),
                "the check and the decode disagree: {}",
                String::from_utf8_lossy(&bytes)
            );
            if let Some(fast) = decode_event(&bytes) {
                accepted += 1;
                for mode in [Strictness::Strict, Strictness::Lenient] {
                    assert_eq!(
                        general(&bytes, mode).as_ref(),
                        Some(&fast),
                        "{mode:?}: {}",
                        String::from_utf8_lossy(&bytes)
                    );
                }
            }
        }
        assert!(
            accepted > 1_000,
            "the mutations left too few accepted inputs: {accepted}"
        );
    }
}
