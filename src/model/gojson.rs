//! The pieces of Go's `encoding/json` that the event-store models need, written so that our
//! bytes equal Go's bytes: its string escaping, `[]byte` as padded base64, uuids as
//! canonical text, and a decoder that matches keys the way Go does.

use std::fmt;
use std::marker::PhantomData;

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use base64_simd::AsOut;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use uuid::Uuid;

use super::time::GoTime;

/// Go's `base64.StdEncoding`: padded, and lenient about unused trailing bits.
const GO_STD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` as a JSON string exactly as Go escapes it (HTML-safe, U+2028/9 escaped).
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let escape: Option<&[u8]> = match c {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            0x08 => Some(b"\\b"),
            0x0c => Some(b"\\f"),
            0xe2 if bytes.get(i + 1) == Some(&0x80) && matches!(bytes.get(i + 2), Some(0xa8 | 0xa9)) => {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(if bytes[i + 2] == 0xa8 { b"\\u2028" } else { b"\\u2029" });
                i += 3;
                start = i;
                continue;
            }
            c if c < 0x20 || c == b'<' || c == b'>' || c == b'&' => {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(c >> 4) as usize], HEX[(c & 15) as usize]]);
                i += 1;
                start = i;
                continue;
            }
            _ => None,
        };
        if let Some(esc) = escape {
            out.extend_from_slice(&bytes[start..i]);
            out.extend_from_slice(esc);
            start = i + 1;
        }
        i += 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Appends a uuid as Go writes it: quoted, lower-case, hyphenated; zero is not omitted.
pub fn write_uuid(out: &mut Vec<u8>, u: &Uuid) {
    let mut buf = [0u8; 38];
    buf[0] = b'"';
    u.hyphenated().encode_lower(&mut buf[1..37]);
    buf[37] = b'"';
    out.extend_from_slice(&buf);
}

/// Appends a `[]byte`: `null` for nil, else quoted padded base64.
pub fn write_bytes(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        None => out.extend_from_slice(b"null"),
        Some(b) => {
            out.push(b'"');
            let start = out.len();
            out.resize(start + b.len().div_ceil(3) * 4, 0);
            // The SIMD encoder writes what Go's StdEncoding writes (the standard
            // alphabet, padded) several times faster; the slot is sized exactly.
            let n = base64_simd::STANDARD.encode(b, out[start..].as_out()).len();
            out.truncate(start + n);
            out.push(b'"');
        }
    }
}

/// Appends an integer as a JSON number.
pub fn write_int(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Appends a time as Go's `MarshalJSON` writes it.
pub fn write_time(out: &mut Vec<u8>, t: &GoTime) {
    out.push(b'"');
    t.write_rfc3339(out);
    out.push(b'"');
}

/// Decodes Go-style base64 (newlines ignored, padding required, unused trailing bits
/// allowed). What the SIMD decoder accepts (canonical, padded, no newlines) is a
/// subset of what Go accepts, so it is tried first; the rest goes the exact way.
pub fn decode_base64(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    if let Ok(v) = base64_simd::STANDARD.decode_to_vec(s) {
        return Ok(v);
    }
    if memchr::memchr2(b'\n', b'\r', s.as_bytes()).is_some() {
        let clean: Vec<u8> = s.bytes().filter(|&c| c != b'\n' && c != b'\r').collect();
        GO_STD.decode(clean)
    } else {
        GO_STD.decode(s)
    }
}

/// A struct that decodes the way Go's `encoding/json` fills it.
pub trait GoDecode: Default {
    /// JSON keys, in struct order.
    const FIELDS: &'static [&'static str];
    /// Go type name, for error messages.
    const NAME: &'static str;
    /// Reads the value of field `idx` from `map`. JSON `null` leaves a field as it is,
    /// except `[]byte`, which it sets to nil: that is what Go does.
    fn decode_field<'de, A: MapAccess<'de>>(&mut self, idx: usize, map: &mut A) -> Result<(), A::Error>;
}

/// How strictly to decode: Go's `json.Unmarshal`, or a `json.Decoder` with
/// `DisallowUnknownFields` (the persistence service), which also ignores what follows
/// the first value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strictness {
    Lenient,
    Strict,
}

/// The input as Go's decoder reads its strings, for serde_json to read: each byte of
/// invalid UTF-8 becomes U+FFFD (Go's `utf8.DecodeRune` takes one byte at a time),
/// and a `\u` escape of a UTF-16 surrogate that is not the first of a valid pair (or
/// the second of one) becomes `\ufffd`, where serde_json would refuse the whole input.
/// Outside strings either is a syntax error still, for both. Only an input serde_json
/// refused comes here (see [`go_decode`]): the hot path never scans twice.
fn go_text(bytes: &[u8]) -> Option<Vec<u8>> {
    let valid = std::str::from_utf8(bytes).is_ok();
    let surrogates = memchr::memmem::find_iter(bytes, b"\\u").any(|i| surrogate_at(bytes, i + 2).is_some());
    if valid && !surrogates {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() + 16);
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\\' && i + 1 < bytes.len() {
            if bytes[i + 1] == b'u' {
                if let Some(hi) = surrogate_at(bytes, i + 2) {
                    let paired = (0xd800..0xdc00).contains(&hi)
                        && bytes.get(i + 6) == Some(&b'\\')
                        && bytes.get(i + 7) == Some(&b'u')
                        && surrogate_at(bytes, i + 8).is_some_and(|lo| (0xdc00..0xe000).contains(&lo));
                    if paired {
                        out.extend_from_slice(&bytes[i..i + 12]);
                        i += 12;
                    } else {
                        out.extend_from_slice(b"\\ufffd");
                        i += 6;
                    }
                    continue;
                }
            }
            // Any other escape: both bytes as they are (an escaped quote or backslash
            // must not be read as the start of anything).
            out.extend_from_slice(&bytes[i..i + 2]);
            i += 2;
            continue;
        }
        if c < 0x80 {
            out.push(c);
            i += 1;
            continue;
        }
        let n = match c {
            0xc2..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf4 => 4,
            _ => 0,
        };
        if n > 0 && i + n <= bytes.len() && std::str::from_utf8(&bytes[i..i + n]).is_ok() {
            out.extend_from_slice(&bytes[i..i + n]);
            i += n;
        } else {
            out.extend_from_slice("\u{fffd}".as_bytes());
            i += 1;
        }
    }
    Some(out)
}

/// Decodes with `read`, and when serde_json refuses the input, once more from the text
/// as Go reads its strings ([`go_text`]), if that differs.
fn go_decode<V>(bytes: &[u8], read: impl Fn(&[u8]) -> Result<V, serde_json::Error>) -> Result<V, serde_json::Error> {
    match read(bytes) {
        Ok(v) => Ok(v),
        Err(e) => match go_text(bytes) {
            Some(text) => read(&text),
            None => Err(e),
        },
    }
}

/// The UTF-16 surrogate a `\uXXXX` escape's four hex digits at `at` name, if they do.
fn surrogate_at(bytes: &[u8], at: usize) -> Option<u32> {
    let hex = bytes.get(at..at + 4)?;
    let text = std::str::from_utf8(hex).ok()?;
    let v = u32::from_str_radix(text, 16).ok()?;
    (text.bytes().all(|b| b.is_ascii_hexdigit()) && (0xd800..0xe000).contains(&v)).then_some(v)
}

/// Decodes `bytes` as a `T`, accepting exactly what Go accepts.
pub fn decode<T: GoDecode>(bytes: &[u8], mode: Strictness) -> Result<T, serde_json::Error> {
    go_decode(bytes, |text| {
        let mut de = serde_json::Deserializer::from_slice(text);
        let value = GoSeed::<T> {
            strict: mode == Strictness::Strict,
            _t: PhantomData,
        }
        .deserialize(&mut de)?;
        if mode == Strictness::Lenient {
            de.end()?;
        }
        Ok(value)
    })
}

/// Decodes a JSON array of `T` (a query result batch), accepting what Go accepts.
pub fn decode_array<T: GoDecode>(bytes: &[u8], mode: Strictness) -> Result<Vec<T>, serde_json::Error> {
    go_decode(bytes, |text| {
        let mut de = serde_json::Deserializer::from_slice(text);
        let value = de::Deserializer::deserialize_seq(
            &mut de,
            GoArray::<T> {
                strict: mode == Strictness::Strict,
                _t: PhantomData,
            },
        )?;
        de.end()?;
        Ok(value)
    })
}

struct GoArray<T> {
    strict: bool,
    _t: PhantomData<T>,
}

impl<'de, T: GoDecode> Visitor<'de> for GoArray<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a JSON array of {}", T::NAME)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Vec<T>, E> {
        Ok(Vec::new())
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(8));
        while let Some(v) = seq.next_element_seed(GoSeed::<T> {
            strict: self.strict,
            _t: PhantomData,
        })? {
            out.push(v);
        }
        Ok(out)
    }
}

struct GoSeed<T> {
    strict: bool,
    _t: PhantomData<T>,
}

impl<'de, T: GoDecode> DeserializeSeed<'de> for GoSeed<T> {
    type Value = T;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        // Any: `null` is a zero value to Go (visit_unit), an object is filled, and
        // anything else is refused by the visitor.
        d.deserialize_any(self)
    }
}

impl<'de, T: GoDecode> Visitor<'de> for GoSeed<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a JSON object for {}", T::NAME)
    }

    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut value = T::default();
        while let Some(key) = map.next_key::<KeyStr<'de>>()? {
            let key = key.as_str();
            let idx = T::FIELDS
                .iter()
                .position(|f| *f == key)
                .or_else(|| T::FIELDS.iter().position(|f| folds_to(key, f)));
            match idx {
                Some(i) => value.decode_field(i, &mut map)?,
                None if self.strict => {
                    return Err(de::Error::custom(format_args!("json: unknown field \"{key}\"")));
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(value)
    }
}

/// Whether Go's `encoding/json` matches `key` to the (ASCII) field name: `bytes.EqualFold`,
/// Unicode simple case folding, under which two non-ASCII letters fold to ASCII ones:
/// the long s (U+017F) to `s` and the Kelvin sign (U+212A) to `k`.
fn folds_to(key: &str, field: &str) -> bool {
    let mut f = field.bytes();
    for c in key.chars() {
        let Some(b) = f.next() else {
            return false;
        };
        let same = match c {
            '\u{17f}' => b.eq_ignore_ascii_case(&b's'),
            '\u{212a}' => b.eq_ignore_ascii_case(&b'k'),
            c if c.is_ascii() => (c as u8).eq_ignore_ascii_case(&b),
            _ => false,
        };
        if !same {
            return false;
        }
    }
    f.next().is_none()
}

/// A key borrowed from the input where it has no escapes.
enum KeyStr<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl KeyStr<'_> {
    fn as_str(&self) -> &str {
        match self {
            KeyStr::Borrowed(s) => s,
            KeyStr::Owned(s) => s,
        }
    }
}

impl<'de> de::Deserialize<'de> for KeyStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeyStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<KeyStr<'de>, E> {
                Ok(KeyStr::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyStr<'de>, E> {
                Ok(KeyStr::Owned(v.to_owned()))
            }
        }
        d.deserialize_str(V)
    }
}

/// A JSON string or null, decoded with `parse`; `None` for null.
pub struct Parsed<T, P>(pub Option<T>, PhantomData<P>);

/// Parses one JSON string into a field value.
pub trait StrParser {
    type Out;
    const EXPECT: &'static str;
    fn parse(s: &str) -> Result<Self::Out, String>;
}

impl<'de, P: StrParser> de::Deserialize<'de> for Parsed<P::Out, P> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<P>(PhantomData<P>);
        impl<'de, P: StrParser> Visitor<'de> for V<P> {
            type Value = Parsed<P::Out, P>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(P::EXPECT)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Parsed(None, PhantomData))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                P::parse(v).map(|x| Parsed(Some(x), PhantomData)).map_err(E::custom)
            }
        }
        d.deserialize_any(V::<P>(PhantomData))
    }
}

/// uuid text in any of the forms gofrs/uuid reads.
pub struct UuidText;
impl StrParser for UuidText {
    type Out = Uuid;
    const EXPECT: &'static str = "a uuid string";
    /// gofrs/uuid v3.1.0's `UnmarshalText`: 32 hex digits, the canonical 36, braced
    /// (38), or `urn:uuid:` (lower case) before the canonical or the 32 digits; hex in
    /// either case.
    fn parse(s: &str) -> Result<Uuid, String> {
        let bad = || format!("uuid: incorrect UUID format {s:?}");
        let plain = |t: &str| -> Option<Uuid> {
            match t.len() {
                32 => hex32(t),
                36 => {
                    let b = t.as_bytes();
                    if [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
                        return None;
                    }
                    let digits: String = t.split('-').collect();
                    (digits.len() == 32).then(|| hex32(&digits)).flatten()
                }
                _ => None,
            }
        };
        match s.len() {
            32 | 36 => plain(s),
            38 => s.strip_prefix('{').and_then(|t| t.strip_suffix('}')).and_then(plain),
            41 | 45 => s.strip_prefix("urn:uuid:").and_then(plain),
            _ => None,
        }
        .ok_or_else(bad)
    }
}

fn hex32(t: &str) -> Option<Uuid> {
    let b = t.as_bytes();
    if b.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        let h = (pair[0] as char).to_digit(16)?;
        let l = (pair[1] as char).to_digit(16)?;
        out[i] = (h * 16 + l) as u8;
    }
    Some(Uuid::from_bytes(out))
}

/// `[]byte` as base64 text.
pub struct Base64Text;
impl StrParser for Base64Text {
    type Out = Vec<u8>;
    const EXPECT: &'static str = "base64 text or null";
    fn parse(s: &str) -> Result<Vec<u8>, String> {
        decode_base64(s).map_err(|e| format!("illegal base64 data: {e}"))
    }
}

/// `time.Time` as RFC 3339 text.
pub struct TimeText;
impl StrParser for TimeText {
    type Out = GoTime;
    const EXPECT: &'static str = "an RFC 3339 time string";
    fn parse(s: &str) -> Result<GoTime, String> {
        GoTime::parse_rfc3339(s).map_err(|e| e.to_string())
    }
}

/// Reads a field that Go leaves untouched on `null`.
pub fn next_or_keep<'de, A: MapAccess<'de>, T: de::Deserialize<'de>>(
    map: &mut A,
    slot: &mut T,
) -> Result<(), A::Error> {
    if let Some(v) = map.next_value::<Option<T>>()? {
        *slot = v;
    }
    Ok(())
}

/// Reads an integer field as Go does, from the number's text: `strconv.ParseInt` of
/// the literal, so `-0` is 0 while `1.0`, `1e1` and anything out of the type's range
/// are refused; `null` leaves the field as it is; a string, bool, array or object is
/// refused. (serde_json reads `-0` as a float, and a float is no integer.)
pub fn next_int<'de, A: MapAccess<'de>, T: TryFrom<i64>>(map: &mut A, slot: &mut T) -> Result<(), A::Error> {
    let raw = map.next_value::<&'de serde_json::value::RawValue>()?;
    let text = raw.get();
    if text == "null" {
        return Ok(());
    }
    let n: i64 = text
        .parse()
        .map_err(|_| de::Error::custom(format_args!("json: cannot unmarshal {text} into an integer")))?;
    *slot = T::try_from(n)
        .map_err(|_| de::Error::custom(format_args!("json: cannot unmarshal number {text}: out of range")))?;
    Ok(())
}

/// Reads a `time.Time` field as Go's `Time.UnmarshalJSON` does: from the string's
/// bytes between the quotes, *not unescaped* (Go's own TODO, golang/go#47353), so a
/// time written with any escape is refused; `null` leaves it as it is.
pub fn next_time<'de, A: MapAccess<'de>>(map: &mut A, slot: &mut GoTime) -> Result<(), A::Error> {
    let raw = map.next_value::<&'de serde_json::value::RawValue>()?.get();
    if raw == "null" {
        return Ok(());
    }
    let inner = raw
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .ok_or_else(|| de::Error::custom("Time.UnmarshalJSON: input is not a JSON string"))?;
    *slot = GoTime::parse_rfc3339(inner).map_err(de::Error::custom)?;
    Ok(())
}

/// Reads a parsed string field that Go leaves untouched on `null`.
pub fn next_parsed<'de, A: MapAccess<'de>, P: StrParser>(map: &mut A, slot: &mut P::Out) -> Result<(), A::Error> {
    if let Parsed(Some(v), _) = map.next_value::<Parsed<P::Out, P>>()? {
        *slot = v;
    }
    Ok(())
}

/// Reads a `[]byte` field: `null` makes it nil; a string is base64; an array is its
/// bytes one number each (Go fills a slice from an array whatever its element type:
/// each a `uint8` literal, a `null` element left 0).
pub fn next_bytes<'de, A: MapAccess<'de>>(map: &mut A, slot: &mut Option<Vec<u8>>) -> Result<(), A::Error> {
    *slot = map.next_value::<GoBytes>()?.0;
    Ok(())
}

struct GoBytes(Option<Vec<u8>>);

impl<'de> de::Deserialize<'de> for GoBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = GoBytes;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("base64 text, an array of bytes or null")
            }
            fn visit_unit<E: de::Error>(self) -> Result<GoBytes, E> {
                Ok(GoBytes(None))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<GoBytes, E> {
                Base64Text::parse(v).map(|b| GoBytes(Some(b))).map_err(E::custom)
            }
            fn visit_seq<S: de::SeqAccess<'de>>(self, mut seq: S) -> Result<GoBytes, S::Error> {
                let mut out = Vec::new();
                while let Some(raw) = seq.next_element::<&'de serde_json::value::RawValue>()? {
                    let text = raw.get();
                    out.push(match text {
                        "null" => 0,
                        t => {
                            t.parse::<u8>().ok().filter(|_| !t.starts_with('+')).ok_or_else(|| {
                                de::Error::custom(format_args!("json: cannot unmarshal {t} into uint8"))
                            })?
                        }
                    });
                }
                Ok(GoBytes(Some(out)))
            }
        }
        d.deserialize_any(V)
    }
}
