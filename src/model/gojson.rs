//! The pieces of Go's `encoding/json` that the event-store models need, written so that our
//! bytes equal Go's bytes: its string escaping, `[]byte` as padded base64, uuids as
//! canonical text, and a decoder that matches keys the way Go does.

use std::fmt;
use std::marker::PhantomData;

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
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
            // The slot is sized exactly, so encoding cannot run out of room.
            let n = GO_STD.encode_slice(b, &mut out[start..]).unwrap_or(0);
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

/// Decodes `bytes` as a `T`, accepting exactly what Go accepts.
pub fn decode<T: GoDecode>(bytes: &[u8], mode: Strictness) -> Result<T, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = GoSeed::<T> {
        strict: mode == Strictness::Strict,
        _t: PhantomData,
    }
    .deserialize(&mut de)?;
    if mode == Strictness::Lenient {
        de.end()?;
    }
    Ok(value)
}

/// Decodes a JSON array of `T` (a query result batch), accepting what Go accepts.
pub fn decode_array<T: GoDecode>(bytes: &[u8], mode: Strictness) -> Result<Vec<T>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = de::Deserializer::deserialize_seq(
        &mut de,
        GoArray::<T> {
            strict: mode == Strictness::Strict,
            _t: PhantomData,
        },
    )?;
    de.end()?;
    Ok(value)
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
        d.deserialize_map(self)
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
                .or_else(|| T::FIELDS.iter().position(|f| f.eq_ignore_ascii_case(key)));
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
    fn parse(s: &str) -> Result<Uuid, String> {
        Uuid::parse_str(s).map_err(|_| format!("uuid: incorrect UUID format {s:?}"))
    }
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

/// Reads a parsed string field that Go leaves untouched on `null`.
pub fn next_parsed<'de, A: MapAccess<'de>, P: StrParser>(map: &mut A, slot: &mut P::Out) -> Result<(), A::Error> {
    if let Parsed(Some(v), _) = map.next_value::<Parsed<P::Out, P>>()? {
        *slot = v;
    }
    Ok(())
}

/// Reads a `[]byte` field: `null` makes it nil.
pub fn next_bytes<'de, A: MapAccess<'de>>(map: &mut A, slot: &mut Option<Vec<u8>>) -> Result<(), A::Error> {
    *slot = map.next_value::<Parsed<Vec<u8>, Base64Text>>()?.0;
    Ok(())
}
