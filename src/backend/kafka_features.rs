//! Which Kafka a broker runs, as far as the protocol tells: its ApiVersions answer
//! (v3, KIP-584) carries the `metadata.version` range the broker's software supports
//! and the level the cluster finalized. The highest supported level names the release
//! line of the broker's binaries (4.1-IV1 is Kafka 4.1); the patch release is not on
//! the wire. librdkafka does not expose these fields, so this asks once, on a
//! connection of its own: plain TCP, or TLS with the client's CA, certificate and key
//! (a broker answers ApiVersions before SASL authentication, so no password is sent).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// `metadata.version` feature levels and their names (Kafka's `MetadataVersion`).
const LEVELS: [&str; 29] = [
    "3.0-IV1", "3.1-IV0", "3.2-IV0", "3.3-IV0", "3.3-IV1", "3.3-IV2", "3.3-IV3", "3.4-IV0", "3.5-IV0", "3.5-IV1",
    "3.5-IV2", "3.6-IV0", "3.6-IV1", "3.6-IV2", "3.7-IV0", "3.7-IV1", "3.7-IV2", "3.7-IV3", "3.7-IV4", "3.8-IV0",
    "3.9-IV0", "4.0-IV0", "4.0-IV1", "4.0-IV2", "4.0-IV3", "4.1-IV0", "4.1-IV1", "4.2-IV0", "4.2-IV1",
];

/// The name of a `metadata.version` level, or the level itself when newer than this table.
pub fn level_name(level: i16) -> String {
    usize::try_from(level)
        .ok()
        .and_then(|l| l.checked_sub(1))
        .and_then(|i| LEVELS.get(i))
        .map_or_else(|| format!("level {level}"), |s| s.to_string())
}

/// What one broker said of its features.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Features {
    /// Highest `metadata.version` level the broker's software supports.
    pub supported_max: Option<i16>,
    /// The level the cluster finalized (what it runs at).
    pub finalized: Option<i16>,
}

impl Features {
    /// "4.1" from 4.1-IV1: the release line of the broker's software.
    pub fn release(&self) -> Option<String> {
        let name = level_name(self.supported_max?);
        name.split_once("-IV").map(|(r, _)| r.to_string())
    }
}

/// How the probe reaches a broker: librdkafka's TLS settings, when its listener wants TLS.
/// (No `Debug`: it holds the key's password.)
#[derive(Default)]
pub struct ProbeTls {
    pub ca: Option<String>,
    pub certificate: Option<String>,
    pub key: Option<String>,
    pub key_password: Option<String>,
    pub verify_hostname: bool,
}

impl ProbeTls {
    /// From resolved librdkafka properties; `None` for PLAINTEXT and SASL_PLAINTEXT.
    pub fn from_properties(props: &[(String, String)]) -> Option<ProbeTls> {
        let get = |k: &str| props.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let protocol = get("security.protocol").unwrap_or_default().to_ascii_lowercase();
        if protocol != "ssl" && protocol != "sasl_ssl" {
            return None;
        }
        Some(ProbeTls {
            ca: get("ssl.ca.location"),
            certificate: get("ssl.certificate.location"),
            key: get("ssl.key.location"),
            key_password: get("ssl.key.password"),
            verify_hostname: get("ssl.endpoint.identification.algorithm").is_none_or(|a| a != "none"),
        })
    }

    fn connect(&self, host: &str, tcp: TcpStream) -> Result<openssl::ssl::SslStream<TcpStream>, String> {
        let b = super::tls::client_connector(&super::tls::ClientFiles {
            who: "TLS",
            ca: self.ca.as_deref(),
            cert: self.certificate.as_deref(),
            key: self.key.as_deref(),
            key_password: self.key_password.as_deref(),
            key_password_setting: "ssl.key.password",
        })?;
        let config = b
            .build()
            .configure()
            .map_err(|e| format!("TLS set-up: {e}"))?
            .verify_hostname(self.verify_hostname);
        config.connect(host, tcp).map_err(|e| format!("TLS handshake: {e}"))
    }
}

/// Asks `addr` (host:port) for its ApiVersions v3 answer, over TLS when `tls` says so.
pub fn probe(addr: &str, timeout: Duration, tls: Option<&ProbeTls>) -> Result<Features, String> {
    let sock = addr
        .to_socket_addrs()
        .map_err(|e| format!("{addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr}: no address"))?;
    let tcp = TcpStream::connect_timeout(&sock, timeout).map_err(|e| format!("{addr}: {e}"))?;
    tcp.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    tcp.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    match tls {
        Some(t) => {
            let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
            let mut s = t.connect(host, tcp).map_err(|e| format!("{addr}: {e}"))?;
            exchange(addr, &mut s)
        }
        None => exchange(addr, &mut { tcp }),
    }
}

fn exchange(addr: &str, s: &mut impl ReadWrite) -> Result<Features, String> {
    s.write_all(&request()).map_err(|e| format!("{addr}: {e}"))?;
    let mut len = [0u8; 4];
    s.read_exact(&mut len)
        .map_err(|e| format!("{addr}: no ApiVersions answer ({e})"))?;
    let len = u32::from_be_bytes(len) as usize;
    if len > 1 << 20 {
        return Err(format!("{addr}: not a Kafka answer"));
    }
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).map_err(|e| format!("{addr}: {e}"))?;
    parse(&body).ok_or_else(|| format!("{addr}: an ApiVersions answer this build cannot read"))
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// ApiVersions v3 with request header v2.
fn request() -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&18i16.to_be_bytes()); // ApiVersions
    b.extend_from_slice(&3i16.to_be_bytes());
    b.extend_from_slice(&1i32.to_be_bytes()); // correlation id
    let client = b"eventbench";
    b.extend_from_slice(&(client.len() as i16).to_be_bytes());
    b.extend_from_slice(client);
    b.push(0); // header tagged fields
    for s in [&b"eventbench"[..], env!("CARGO_PKG_VERSION").as_bytes()] {
        b.push(s.len() as u8 + 1); // compact string (short: one varint byte)
        b.extend_from_slice(s);
    }
    b.push(0); // body tagged fields
    let mut out = (b.len() as i32).to_be_bytes().to_vec();
    out.extend(b);
    out
}

struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn i16(&mut self) -> Option<i16> {
        self.take(2).map(|b| i16::from_be_bytes([b[0], b[1]]))
    }
    fn uvarint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.take(1)?.first()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    fn compact_string(&mut self) -> Option<String> {
        let n = self.uvarint()?.checked_sub(1)? as usize;
        Some(String::from_utf8_lossy(self.take(n)?).into_owned())
    }
    fn skip_tags(&mut self) -> Option<()> {
        for _ in 0..self.uvarint()? {
            self.uvarint()?;
            let n = self.uvarint()? as usize;
            self.take(n)?;
        }
        Some(())
    }
    /// A compact array of (name, a, b) features: `metadata.version`'s (a, b) if present.
    fn features(&mut self) -> Option<Option<(i16, i16)>> {
        let mut found = None;
        for _ in 0..self.uvarint()?.checked_sub(1)? {
            let name = self.compact_string()?;
            let (a, b) = (self.i16()?, self.i16()?);
            self.skip_tags()?;
            if name == "metadata.version" {
                found = Some((a, b));
            }
        }
        Some(found)
    }
}

fn parse(body: &[u8]) -> Option<Features> {
    let mut c = Cursor(body);
    c.take(4)?; // correlation id (response header v0)
    if c.i16()? != 0 {
        return None;
    }
    for _ in 0..c.uvarint()?.checked_sub(1)? {
        c.take(6)?;
        c.skip_tags()?;
    }
    c.take(4)?; // throttle time
    let mut f = Features {
        supported_max: None,
        finalized: None,
    };
    for _ in 0..c.uvarint()? {
        let tag = c.uvarint()?;
        let n = c.uvarint()? as usize;
        let mut field = Cursor(c.take(n)?);
        match tag {
            // SupportedFeatures: (name, min_version, max_version)
            0 => f.supported_max = field.features()?.map(|(_, max)| max),
            // FinalizedFeatures: (name, max_version_level, min_version_level)
            2 => f.finalized = field.features()?.map(|(max, _)| max),
            _ => {}
        }
    }
    Some(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_metadata_version_of_an_answer() {
        // An answer with one api key and both feature fields, as Kafka 4.1 sends it.
        let feature = |a: i16, b: i16| {
            let mut v = vec![2u8]; // one element
            v.push(17);
            v.extend_from_slice(b"metadata.version");
            v.extend_from_slice(&a.to_be_bytes());
            v.extend_from_slice(&b.to_be_bytes());
            v.push(0);
            v
        };
        let mut body = 1i32.to_be_bytes().to_vec();
        body.extend_from_slice(&0i16.to_be_bytes());
        body.push(2);
        body.extend_from_slice(&[0, 18, 0, 0, 0, 4, 0]);
        body.extend_from_slice(&0i32.to_be_bytes());
        let (sup, fin) = (feature(7, 27), feature(27, 1));
        body.push(2);
        body.push(0);
        body.push(sup.len() as u8);
        body.extend_from_slice(&sup);
        body.push(2);
        body.push(fin.len() as u8);
        body.extend_from_slice(&fin);
        let f = parse(&body).expect("parses");
        assert_eq!(f.supported_max, Some(27));
        assert_eq!(f.finalized, Some(27));
        assert_eq!(f.release().as_deref(), Some("4.1"));
        assert_eq!(level_name(27), "4.1-IV1");
        assert_eq!(level_name(99), "level 99");
        assert!(parse(&body[..body.len() - 3]).is_none());
    }
}
