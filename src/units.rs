//! Human units, read and written the same way everywhere: durations ("500us", "20s",
//! "1m30s"), byte sizes ("256", "1KiB", "16 KiB"), percentages ("10%") and
//! nanoseconds shown at a readable scale.

use std::fmt;
use std::time::Duration;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// A duration written as text, e.g. `"250ms"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

impl Dur {
    pub const fn from_secs(s: u64) -> Dur {
        Dur(Duration::from_secs(s))
    }
    pub const fn from_millis(ms: u64) -> Dur {
        Dur(Duration::from_millis(ms))
    }
    pub fn as_nanos(&self) -> u64 {
        self.0.as_nanos().min(u64::MAX as u128) as u64
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl std::str::FromStr for Dur {
    type Err = String;
    fn from_str(s: &str) -> Result<Dur, String> {
        humantime::parse_duration(s.trim())
            .map(Dur)
            .map_err(|_| format!("invalid duration {s:?}: write it like \"500us\", \"250ms\", \"20s\" or \"1m30s\""))
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Dur, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration string such as \"20s\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Dur, E> {
                s.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// A byte count: an integer, or text with a unit (`B`, `KiB`, `MiB`, `GiB`, `KB`, `MB`, `GB`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Size(pub u64);

impl std::str::FromStr for Size {
    type Err = String;
    fn from_str(s: &str) -> Result<Size, String> {
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: u64 = num
            .parse()
            .map_err(|_| format!("invalid size {s:?}: write it like 256, \"1KiB\" or \"16 KiB\""))?;
        let mult = match unit.trim() {
            "" | "B" => 1,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "KB" | "kB" => 1000,
            "MB" => 1_000_000,
            "GiB" => 1 << 30,
            "GB" => 1_000_000_000,
            other => {
                return Err(format!(
                    "invalid size unit {other:?} in {s:?}: use B, KiB, MiB, GiB, KB, MB or GB"
                ))
            }
        };
        n.checked_mul(mult)
            .map(Size)
            .ok_or_else(|| format!("size {s:?} is too large: at most {} bytes", u64::MAX))
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Size, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a byte size such as 256 or \"1KiB\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Size, E> {
                u64::try_from(v)
                    .map(Size)
                    .map_err(|_| E::custom("a size cannot be negative"))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Size, E> {
                Ok(Size(v))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Size, E> {
                s.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// Nanoseconds at a readable scale: `850ns`, `12.5us`, `3.20ms`, `1.50s`.
/// A byte count for people: `512 B`, `1.5 MiB`, `2.3 GiB`.
pub fn fmt_bytes(v: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if v < 1024 {
        return format!("{v} B");
    }
    let mut x = v as f64 / 1024.0;
    let mut u = 0;
    while x >= 1024.0 && u < UNITS.len() - 1 {
        x /= 1024.0;
        u += 1;
    }
    format!("{x:.1} {}", UNITS[u])
}

pub fn fmt_ns(v: u64) -> String {
    let f = v as f64;
    if f >= 1e9 {
        format!("{:.2}s", f / 1e9)
    } else if f >= 1e6 {
        format!("{:.2}ms", f / 1e6)
    } else if f >= 1e3 {
        format!("{:.1}us", f / 1e3)
    } else {
        format!("{v}ns")
    }
}

/// A percentage written as `10%` or `0.1 %`, as a fraction (0.1, 0.001).
pub fn percent(s: &str) -> Result<f64, String> {
    s.trim()
        .strip_suffix('%')
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| v / 100.0)
        .ok_or_else(|| format!("expected a percentage such as 10%, not {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_read_and_show() {
        assert_eq!("1m30s".parse::<Dur>().map(|d| d.as_nanos()), Ok(90_000_000_000));
        assert_eq!("16 KiB".parse::<Size>(), Ok(Size(16 << 10)));
        assert!("17592186044416MiB".parse::<Size>().is_err());
        assert_eq!(percent("0.1%"), Ok(0.001));
        assert!(percent("10").is_err() && percent("-1%").is_err());
        assert_eq!(fmt_ns(850), "850ns");
        assert_eq!(fmt_ns(3_200_000), "3.20ms");
    }
}
