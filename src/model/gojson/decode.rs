//! Go's `json.Unmarshal` for the models: keys matched as Go matches them (exact, then
//! case-folded), `null` as Go treats it, invalid UTF-8 and lone surrogates read as Go
//! reads them.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

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
