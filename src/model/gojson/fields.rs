//! One field's value as Go reads it: integers, times, uuids and `[]byte` from their
//! text, a `null` that keeps what the field held.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use uuid::Uuid;

use super::decode_base64;
use crate::model::time::GoTime;

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
