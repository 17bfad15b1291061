//! Go's `time.Time` as it crosses the wire: an instant plus the zone offset it was
//! written with, because Go re-encodes a decoded time in its original offset.

use std::fmt;

/// Seconds from 0001-01-01T00:00:00Z (Go's zero time) to the Unix epoch.
const ZERO_UNIX_SECS: i64 = -62_135_596_800;

/// An instant as Go's `time.Time` carries it through `encoding/json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GoTime {
    /// Seconds since the Unix epoch (UTC).
    pub unix_secs: i64,
    /// Nanoseconds within the second, `0..1_000_000_000`.
    pub nanos: u32,
    /// Zone offset east of UTC in seconds; 0 is written as `Z`.
    pub offset_secs: i32,
}

impl Default for GoTime {
    fn default() -> Self {
        Self::ZERO
    }
}

impl GoTime {
    /// Go's zero `time.Time`, written as `0001-01-01T00:00:00Z`.
    pub const ZERO: GoTime = GoTime {
        unix_secs: ZERO_UNIX_SECS,
        nanos: 0,
        offset_secs: 0,
    };

    /// A UTC instant from nanoseconds since the Unix epoch.
    pub fn from_unix_nanos(ns: i128) -> Self {
        let secs = ns.div_euclid(1_000_000_000) as i64;
        let nanos = ns.rem_euclid(1_000_000_000) as u32;
        GoTime {
            unix_secs: secs,
            nanos,
            offset_secs: 0,
        }
    }

    /// Nanoseconds since the Unix epoch.
    pub fn unix_nanos(&self) -> i128 {
        self.unix_secs as i128 * 1_000_000_000 + self.nanos as i128
    }

    /// Milliseconds since the Unix epoch, truncated as the Go CQL driver stores it.
    pub fn unix_millis(&self) -> i64 {
        self.unix_secs * 1000 + (self.nanos / 1_000_000) as i64
    }

    /// The calendar year in UTC (the models' `year_bucket`).
    pub fn utc_year(&self) -> i64 {
        civil_from_days(self.unix_secs.div_euclid(86_400)).0
    }

    /// Appends the RFC 3339 form Go's `MarshalJSON` writes (layout
    /// `2006-01-02T15:04:05.999999999Z07:00`), without quotes.
    pub fn write_rfc3339(&self, out: &mut Vec<u8>) {
        let local = self.unix_secs + self.offset_secs as i64;
        let days = local.div_euclid(86_400);
        let sod = local.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        push_digits(out, y.rem_euclid(10_000) as u32, 4);
        out.push(b'-');
        push_digits(out, m, 2);
        out.push(b'-');
        push_digits(out, d, 2);
        out.push(b'T');
        push_digits(out, (sod / 3600) as u32, 2);
        out.push(b':');
        push_digits(out, (sod / 60 % 60) as u32, 2);
        out.push(b':');
        push_digits(out, (sod % 60) as u32, 2);
        if self.nanos != 0 {
            let mut frac = self.nanos;
            let mut width = 9;
            while frac.is_multiple_of(10) {
                frac /= 10;
                width -= 1;
            }
            out.push(b'.');
            push_digits(out, frac, width);
        }
        if self.offset_secs == 0 {
            out.push(b'Z');
        } else {
            let (sign, abs) = if self.offset_secs < 0 {
                (b'-', -self.offset_secs)
            } else {
                (b'+', self.offset_secs)
            };
            out.push(sign);
            push_digits(out, (abs / 3600) as u32, 2);
            out.push(b':');
            push_digits(out, (abs / 60 % 60) as u32, 2);
        }
    }

    /// Parses what Go's `Time.UnmarshalJSON` accepts (RFC 3339 with upper-case `T` and
    /// `Z`, `.` or `,` before the fraction, hours below 24 in one digit or two, real
    /// calendar days, zones up to 24:60), as the differential check against Go found it.
    pub fn parse_rfc3339(s: &str) -> Result<GoTime, TimeError> {
        let b = s.as_bytes();
        let num = |from: usize, len: usize| -> Result<u32, TimeError> {
            let part = b.get(from..from + len).ok_or(TimeError)?;
            let mut v = 0u32;
            for &c in part {
                if !c.is_ascii_digit() {
                    return Err(TimeError);
                }
                v = v * 10 + (c - b'0') as u32;
            }
            Ok(v)
        };
        let sep = |at: usize, c: u8| if b.get(at) == Some(&c) { Ok(()) } else { Err(TimeError) };
        let year = num(0, 4)?;
        sep(4, b'-')?;
        let month = num(5, 2)?;
        sep(7, b'-')?;
        let day = num(8, 2)?;
        sep(10, b'T')?;
        // Go reads the hour with one digit or two (its layout's "15" is not fixed
        // width); minutes and seconds take two.
        let h = if b.get(12) == Some(&b':') { 1 } else { 2 };
        let hour = num(11, h)?;
        let at = 11 + h;
        sep(at, b':')?;
        let min = num(at + 1, 2)?;
        sep(at + 3, b':')?;
        let sec = num(at + 4, 2)?;
        if !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year as i64, month)
            || hour > 23
            || min > 59
            || sec > 59
        {
            return Err(TimeError);
        }
        let mut i = at + 6;
        let mut nanos = 0u32;
        if matches!(b.get(i), Some(b'.') | Some(b',')) {
            i += 1;
            let start = i;
            // Digits past the ninth are read and dropped (truncated, not rounded).
            while i < b.len() && b[i].is_ascii_digit() {
                if i - start < 9 {
                    nanos = nanos * 10 + (b[i] - b'0') as u32;
                }
                i += 1;
            }
            let digits = i - start;
            if digits == 0 {
                return Err(TimeError);
            }
            for _ in digits..9 {
                nanos *= 10;
            }
        }
        let offset_secs = match b.get(i) {
            Some(b'Z') if i + 1 == b.len() => 0,
            Some(&c @ (b'+' | b'-')) if i + 6 == b.len() => {
                let oh = num(i + 1, 2)?;
                sep(i + 3, b':')?;
                let om = num(i + 4, 2)?;
                // Go takes a zone of up to 24 hours and 60 minutes (`+05:60` is
                // +06:00; `+24:00` it reads but cannot write back).
                if oh > 24 || om > 60 {
                    return Err(TimeError);
                }
                let off = (oh * 3600 + om * 60) as i32;
                if c == b'-' {
                    -off
                } else {
                    off
                }
            }
            _ => return Err(TimeError),
        };
        let days = days_from_civil(year as i64, month, day);
        let local = days * 86_400 + (hour * 3600 + min * 60 + sec) as i64;
        Ok(GoTime {
            unix_secs: local - offset_secs as i64,
            nanos,
            offset_secs,
        })
    }
}

impl fmt::Display for GoTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = Vec::with_capacity(40);
        self.write_rfc3339(&mut buf);
        f.write_str(&String::from_utf8_lossy(&buf))
    }
}

/// A timestamp that is not RFC 3339 as Go reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeError;

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timestamp is not RFC 3339 (2006-01-02T15:04:05.999999999Z07:00)")
    }
}

fn push_digits(out: &mut Vec<u8>, mut v: u32, width: usize) {
    let start = out.len();
    out.resize(start + width, b'0');
    for slot in out[start..].iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(t: GoTime) -> String {
        t.to_string()
    }

    #[test]
    fn zero_time_is_year_one() {
        assert_eq!(fmt(GoTime::ZERO), "0001-01-01T00:00:00Z");
        assert_eq!(GoTime::parse_rfc3339("0001-01-01T00:00:00Z"), Ok(GoTime::ZERO));
    }

    #[test]
    fn round_trips_offsets_and_fractions() {
        for s in [
            "2018-09-01T12:00:00.000000005+05:30",
            "1999-12-31T23:59:59.999999999-08:00",
            "2024-02-29T00:00:00.1Z",
        ] {
            let t = GoTime::parse_rfc3339(s).expect(s);
            assert_eq!(fmt(t), s);
        }
    }

    #[test]
    fn rejects_impossible_dates() {
        for s in [
            "2023-02-29T00:00:00Z",
            "2023-01-01T24:00:00Z",
            "2023-01-01T00:00:00",
            "2023-01-01t00:00:00Z",
            "2023-01-01T00:00:00.Z",
        ] {
            assert!(GoTime::parse_rfc3339(s).is_err(), "{s}");
        }
    }

    #[test]
    fn year_and_millis() {
        let t = GoTime::from_unix_nanos(1_764_132_286_123_456_789);
        assert_eq!(t.utc_year(), 2025);
        assert_eq!(t.unix_millis(), 1_764_132_286_123);
    }
}
