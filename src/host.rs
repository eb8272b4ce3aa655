//! Facts about this host read from the kernel: name, OS, addresses, mounted partitions and free
//! space. Everything here is I/O; the parsing rules live in `domain::partition`.

use crate::domain::partition::{all_mounts, parse_mountinfo, Mount};
use std::path::Path;

pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// `PRETTY_NAME` of os-release, else the kernel name and release.
pub fn os_version() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| format!("{} {}", kernel().0, kernel().1))
}

/// (system name, release)
pub fn kernel() -> (String, String) {
    let u = nix::sys::utsname::uname();
    match u {
        Ok(u) => (
            u.sysname().to_string_lossy().into_owned(),
            u.release().to_string_lossy().into_owned(),
        ),
        Err(_) => ("Linux".into(), "-".into()),
    }
}

/// Machine ID of systemd hosts, used as the center's `id.machine`.
pub fn machine_id() -> String {
    std::fs::read_to_string("/etc/machine-id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Non-loopback IPv4 and IPv6 addresses of the host.
pub fn private_ips() -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(addrs) = nix::ifaddrs::getifaddrs() {
        for a in addrs {
            let Some(addr) = a.address else { continue };
            let ip = if let Some(v4) = addr.as_sockaddr_in() {
                std::net::IpAddr::V4(v4.ip())
            } else if let Some(v6) = addr.as_sockaddr_in6() {
                std::net::IpAddr::V6(v6.ip())
            } else {
                continue;
            };
            if !ip.is_loopback() && !out.contains(&ip.to_string()) {
                out.push(ip.to_string());
            }
        }
    }
    out
}

/// Size, used and free bytes of the file system holding `path`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Space {
    pub size: u64,
    pub used: u64,
    pub free: u64,
}

pub fn space(path: &Path) -> Option<Space> {
    let s = nix::sys::statvfs::statvfs(path).ok()?;
    let frag = s.fragment_size() as u64;
    let size = s.blocks() as u64 * frag;
    let free = s.blocks_available() as u64 * frag;
    let used = size.saturating_sub(s.blocks_free() as u64 * frag);
    Some(Space { size, used, free })
}

/// A partition of this host offered as a backup source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub mount_point: String,
    pub device: String,
    pub fs_type: String,
    pub space: Space,
}

/// Mounted block file systems plus configured extra directories, without those that have no
/// free space (swap, cdroms; spec §5.1) and without the state directory's own mounts.
pub fn partitions(state_dir: &Path, extra: &[std::path::PathBuf]) -> Vec<Partition> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let state = std::fs::canonicalize(state_dir)
        .map(|p| p.to_string_lossy().into_owned())
        .ok();
    let mounts = parse_mountinfo(&text, state.as_deref());
    let mut out: Vec<Partition> = Vec::new();
    for m in mounts {
        if !Path::new(&m.mount_point).is_dir() {
            continue; // bind-mounted files such as /etc/hosts in containers
        }
        if let Some(space) = space(Path::new(&m.mount_point)) {
            out.push(Partition {
                mount_point: m.mount_point,
                device: m.device,
                fs_type: m.fs_type,
                space,
            });
        }
    }
    for dir in extra {
        let p = dir.to_string_lossy().into_owned();
        if out.iter().any(|x| x.mount_point == p) {
            continue;
        }
        let holder = containing_mount(&text, &p);
        if let Some(space) = space(dir) {
            out.push(Partition {
                mount_point: p,
                device: holder
                    .as_ref()
                    .map(|m| m.device.clone())
                    .unwrap_or_else(|| "-".into()),
                fs_type: holder.map(|m| m.fs_type).unwrap_or_else(|| "dir".into()),
                space,
            });
        }
    }
    out.retain(|p| p.space.free > 0);
    out.sort_by(|a, b| a.mount_point.cmp(&b.mount_point));
    out
}

/// The mount (of any type) that holds `path`: the longest mount point that is a prefix of it.
fn containing_mount(mountinfo: &str, path: &str) -> Option<Mount> {
    all_mounts(mountinfo)
        .filter(|m| crate::domain::partition::is_at_or_below(path, &m.mount_point))
        .fold(None, |best: Option<Mount>, m| match best {
            Some(b) if b.mount_point.len() > m.mount_point.len() => Some(b),
            _ => Some(m),
        })
}

/// 1024-based size text (`477.0 GB`) with `decimals` places.
pub fn format_size(bytes: u64, decimals: usize) -> String {
    const UNITS: [&str; 6] = ["B", "KB", "MB", "GB", "TB", "PB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.decimals$} {}", UNITS[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(format_size(512, 1), "512.0 B");
        assert_eq!(format_size(477 * 1024 * 1024 * 1024, 1), "477.0 GB");
        assert_eq!(format_size(831_700_000, 2), "793.17 MB");
    }

    #[test]
    fn extra_directories_are_partitions() {
        let d = tempfile::tempdir().unwrap();
        let p = partitions(Path::new("/nonexistent-state"), &[d.path().to_path_buf()]);
        let found = p
            .iter()
            .find(|x| x.mount_point == d.path().to_string_lossy())
            .unwrap();
        assert!(found.space.size > 0);
    }
}
