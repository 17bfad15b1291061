//! The target's processes on this host: when a broker or a store node listens on a
//! loopback address, the process holding that listening socket is found from `/proc`
//! (the socket's inode in `/proc/net/tcp{,6}`, then the process whose descriptors hold
//! it), and its CPU is read each interval beside the hiccup meter. A local target
//! shares the generator's cores; its CPU says how much of the host it took.

use serde::{Deserialize, Serialize};

/// A target process found listening on one of the target's local addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalProcess {
    /// What it is to the run (`kafka`, `cql`) and the address it was found on.
    pub role: String,
    pub addr: String,
    pub pid: u32,
}

impl LocalProcess {
    /// "kafka 127.0.0.1:9092 (pid 20345)".
    pub fn name(&self) -> String {
        format!("{} {} (pid {})", self.role, self.addr, self.pid)
    }
}

/// The port of `addr` when its host is loopback (`127.x`, `localhost`, `::1`).
fn local_port(addr: &str) -> Option<u16> {
    let (host, port) = addr.trim().rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host == "localhost" || host == "::1" || host.starts_with("127.");
    loopback.then(|| port.parse().ok()).flatten()
}

/// The inodes of sockets listening on `port` in one of `/proc/net/tcp{,6}`'s texts.
pub fn listening_inodes(table: &str, port: u16) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            let local_port = u16::from_str_radix(f.get(1)?.rsplit_once(':')?.1, 16).ok()?;
            let listening = *f.get(3)? == "0A";
            (listening && local_port == port)
                .then(|| f.get(9)?.parse().ok())
                .flatten()
        })
        .collect()
}

/// The process holding a socket of `inodes`, among those this user may look into.
fn holder(inodes: &[u64]) -> Option<u32> {
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(link) = std::fs::read_link(fd.path()) {
                if wanted.iter().any(|w| link.as_os_str() == w.as_str()) {
                    return Some(pid);
                }
            }
        }
    }
    None
}

/// The processes listening on the loopback ones of `addrs` (role, address), once each.
pub fn listeners(addrs: &[(&str, &str)]) -> Vec<LocalProcess> {
    let tables: String = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect::<Vec<_>>()
        .join("\n");
    let mut out: Vec<LocalProcess> = Vec::new();
    for (role, addr) in addrs {
        let Some(port) = local_port(addr) else { continue };
        let inodes = listening_inodes(&tables, port);
        if inodes.is_empty() {
            continue;
        }
        if let Some(pid) = holder(&inodes) {
            if pid != std::process::id() && !out.iter().any(|p| p.pid == pid) {
                out.push(LocalProcess {
                    role: role.to_string(),
                    addr: addr.trim().to_string(),
                    pid,
                });
            }
        }
    }
    out
}

/// A process's user + system CPU seconds so far (`/proc/<pid>/stat`); `None` once it
/// is gone.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command may hold spaces and parentheses: fields count from the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state(0) ... utime(11) stime(12).
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / super::ticks_per_second())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_addresses_are_looked_for() {
        assert_eq!(local_port("127.0.0.1:9092"), Some(9092));
        assert_eq!(local_port("localhost:9042"), Some(9042));
        assert_eq!(local_port("[::1]:9042"), Some(9042));
        assert_eq!(local_port("10.0.0.5:9092"), None);
        assert_eq!(local_port("kafka-1.example:9092"), None);
    }

    #[test]
    fn a_listening_socket_is_found_by_its_port() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:2384 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 41234 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:2384 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 41300 1 0000000000000000 20 4 30 10 -1\n";
        assert_eq!(
            listening_inodes(table, 9092),
            vec![41234],
            "the established one is not a listener"
        );
        assert!(listening_inodes(table, 9042).is_empty());
    }

    /// This test's own listener is found as this process, and its CPU read.
    #[test]
    fn a_process_listening_here_is_found_and_its_cpu_read() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let tables = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
        let port = listener.local_addr().expect("addr").port();
        let inodes = listening_inodes(&tables, port);
        assert_eq!(holder(&inodes), Some(std::process::id()), "{addr}");
        // `listeners` leaves eventbench itself out: it is the generator, not the target.
        assert!(listeners(&[("kafka", &addr)]).is_empty());
        assert!(cpu_seconds(std::process::id()).is_some_and(|s| s > 0.0));
    }
}
