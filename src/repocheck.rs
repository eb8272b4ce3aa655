//! Proving a repository is usable before anything is written to it: reachable, writable,
//! atomic rename, fsync, free space. Each failure names the step.

use crate::domain::job::RepoKind;
use crate::host::{self, Space};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub step: &'static str,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub space: Space,
}

fn fail(step: &'static str, reason: impl Into<String>) -> Failure {
    Failure {
        step,
        reason: reason.into(),
    }
}

/// Checks a local (or already mounted) directory by writing, syncing, renaming, reading back
/// and removing a probe file.
pub fn verify_local(dir: &Path) -> Result<Report, Failure> {
    let meta =
        std::fs::metadata(dir).map_err(|e| fail("exists", format!("{}: {e}", dir.display())))?;
    if !meta.is_dir() {
        return Err(fail(
            "exists",
            format!("{} is not a directory", dir.display()),
        ));
    }
    let id = uuid::Uuid::new_v4();
    let tmp = dir.join(format!(".zdm-verify-{id}.tmp"));
    let fin = dir.join(format!(".zdm-verify-{id}"));
    let payload = format!("zdm-backupd repository check {id}\n").repeat(64);
    let cleanup = || {
        let _ = std::fs::remove_file(&tmp);
        let _ = std::fs::remove_file(&fin);
    };
    let result = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(|e| {
            fail(
                "write",
                format!("cannot create a file in {}: {e}", dir.display()),
            )
        })?;
        f.write_all(payload.as_bytes())
            .map_err(|e| fail("write", e.to_string()))?;
        f.sync_all().map_err(|e| fail("fsync", e.to_string()))?;
        drop(f);
        std::fs::rename(&tmp, &fin).map_err(|e| fail("rename", e.to_string()))?;
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| fail("fsync", format!("directory: {e}")))?;
        let mut back = String::new();
        std::fs::File::open(&fin)
            .and_then(|mut f| f.read_to_string(&mut back))
            .map_err(|e| fail("read", e.to_string()))?;
        if back != payload {
            return Err(fail(
                "read",
                "the file read back differs from what was written",
            ));
        }
        std::fs::remove_file(&fin).map_err(|e| fail("delete", e.to_string()))?;
        let space = host::space(dir).ok_or_else(|| fail("space", "statvfs failed"))?;
        Ok(Report { space })
    })();
    if result.is_err() {
        cleanup();
    }
    result
}

/// `host[:port]` of a remote share spec and the protocol's default port.
pub fn remote_endpoint(kind: RepoKind, path: &str) -> Option<(String, u16)> {
    match kind {
        RepoKind::Smb => {
            let rest = path.strip_prefix("//")?;
            let host = rest.split('/').next()?;
            Some(split_port(host, 445))
        }
        RepoKind::Nfs => {
            let (left, _) = path.split_once(":/")?;
            Some(split_port(left, 2049))
        }
    }
}

fn split_port(s: &str, default: u16) -> (String, u16) {
    match s.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() && !h.is_empty() => (
            h.trim_matches(['[', ']']).to_string(),
            p.parse().unwrap_or(default),
        ),
        _ => (s.trim_matches(['[', ']']).to_string(), default),
    }
}

/// Tries a TCP connection to a remote share's server, to tell "not reachable" from "reachable but
/// not mounted" in messages.
pub fn probe_tcp(host: &str, port: u16) -> Result<(), String> {
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let mut last = format!("no address for {host}");
    for a in addrs {
        match TcpStream::connect_timeout(&a, Duration::from_secs(3)) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                last = format!("connection refused by {a}")
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::TimedOut
                    || e.kind() == std::io::ErrorKind::WouldBlock =>
            {
                last = format!("no answer from {a} within 3 s")
            }
            Err(e) => last = format!("{a}: {e}"),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_directory_passes_and_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        let r = verify_local(d.path()).unwrap();
        assert!(r.space.size > 0);
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
        assert_eq!(
            verify_local(&d.path().join("missing")).unwrap_err().step,
            "exists"
        );
    }

    #[test]
    fn endpoints() {
        assert_eq!(
            remote_endpoint(RepoKind::Smb, "//10.0.0.5/backup"),
            Some(("10.0.0.5".into(), 445))
        );
        assert_eq!(
            remote_endpoint(RepoKind::Smb, "//127.0.0.1:1445/b"),
            Some(("127.0.0.1".into(), 1445))
        );
        assert_eq!(
            remote_endpoint(RepoKind::Nfs, "nas:/export"),
            Some(("nas".into(), 2049))
        );
        assert_eq!(
            remote_endpoint(RepoKind::Nfs, "127.0.0.1:2050:/export"),
            Some(("127.0.0.1".into(), 2050))
        );
        assert_eq!(remote_endpoint(RepoKind::Nfs, "/local"), None);
    }
}
