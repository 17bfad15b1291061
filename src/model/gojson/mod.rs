//! The pieces of Go's `encoding/json` that the event-store models need, written so that our
//! bytes equal Go's bytes: its string escaping, `[]byte` as padded base64, uuids as
//! canonical text, and a decoder that matches keys the way Go does.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use base64_simd::AsOut;
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

mod decode;
mod fields;

pub use decode::*;
pub use fields::*;
