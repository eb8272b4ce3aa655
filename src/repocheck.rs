//! Proving a repository is usable before anything is written to it: reachable, authenticated,
//! writable, atomic rename, fsync, free space. Each failure names the step and the reason.

use crate::config::RunnerConfig;
use crate::db::repositories::RepoRow;
use crate::domain::job::RepoKind;
use crate::engine::s3::ObjectLock;
use crate::engine::target::smb::{SmbLogin, SmbPath, SmbTarget};
use crate::engine::target::{LocalTarget, SharedTarget, Target};
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The step that failed (connect, authenticate, share, exists, write, ...) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("repository check failed at step '{step}': {reason}")]
pub struct Failure {
    pub step: &'static str,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub size: u64,
    pub free: u64,
}

fn fail(step: &'static str, reason: impl std::fmt::Display) -> Failure {
    Failure {
        step,
        reason: reason.to_string(),
    }
}

/// What a repository row says about reaching it.
pub struct RepoAccess<'a> {
    pub kind: RepoKind,
    pub path: &'a str,
    pub local_path: Option<&'a str>,
    /// SMB user; `None` connects as guest.
    pub login: Option<SmbLogin>,
    /// NFS AUTH_SYS uid and gid.
    pub nfs_ids: (u32, u32),
}

/// The S3 keys kept in a repository's credentials file.
fn s3_keys(file: Option<&str>) -> Result<crate::engine::s3::S3Keys, Failure> {
    let file = file.ok_or_else(|| fail("credentials", "the S3 repository has no keys"))?;
    crate::engine::s3::S3Keys::from_file(Path::new(file)).map_err(|e| fail("credentials", e))
}

/// The SMB login kept in a repository's credentials file.
pub fn login_from_file(file: Option<&str>) -> Result<Option<SmbLogin>, Failure> {
    file.map(|f| {
        SmbLogin::from_file(Path::new(f)).map_err(|e| fail("credentials", format!("{f}: {e}")))
    })
    .transpose()
}

/// A repository path naming a directory on this host (not `//host/share` or `host:/export`).
pub fn is_local_path(path: &str) -> bool {
    path.starts_with('/') && !path.starts_with("//")
}

/// Opens a registered repository as the daemon reaches it (its credentials file, the
/// configured NFS identity and share timeout), after the full check of an object store: for
/// runs, recoveries and anything else that writes.
pub fn open(r: &RepoRow, runner: &RunnerConfig) -> Result<SharedTarget, Failure> {
    open_checked(r, runner, S3Check::Full)
}

/// Opens a registered repository to list and read its points: an object store is only checked
/// to be reachable with the keys (no probe objects written for a listing).
pub fn open_to_read(r: &RepoRow, runner: &RunnerConfig) -> Result<SharedTarget, Failure> {
    open_checked(r, runner, S3Check::Read)
}

fn open_checked(
    r: &RepoRow,
    runner: &RunnerConfig,
    check: S3Check,
) -> Result<SharedTarget, Failure> {
    if r.kind == RepoKind::S3 {
        let s3 =
            r.s3.as_ref()
                .ok_or_else(|| fail("endpoint", "the S3 repository has no endpoint"))?;
        let access = S3Access {
            path: &r.path,
            endpoint: &s3.endpoint,
            region: &s3.region,
            path_style: s3.path_style,
            keys: s3_keys(r.credentials_file.as_deref())?,
            object_lock_days: s3.object_lock_days,
        };
        return Ok(connect_s3(&access, check)?);
    }
    let access = RepoAccess {
        kind: r.kind,
        path: &r.path,
        local_path: r.local_path.as_deref(),
        login: login_from_file(r.credentials_file.as_deref())?,
        nfs_ids: (runner.nfs_uid, runner.nfs_gid),
    };
    connect(&access, runner.share_timeout())
}

/// Opens the repository: a share path (`//host/share`) is connected to directly; a local
/// directory (the path itself, or the registered mount point) is used as it is.
pub fn connect(r: &RepoAccess, timeout: Duration) -> Result<SharedTarget, Failure> {
    let local = [Some(r.path), r.local_path]
        .into_iter()
        .flatten()
        .find(|p| is_local_path(p) && Path::new(p).is_dir());
    if let Some(dir) = local {
        return Ok(Arc::new(LocalTarget::new(dir)));
    }
    if is_local_path(r.path) {
        return Err(fail(
            "exists",
            format!("{} does not exist on this host", r.path),
        ));
    }
    match r.kind {
        RepoKind::Smb => connect_smb(r, timeout),
        RepoKind::Nfs => connect_nfs(r, timeout),
        RepoKind::S3 => Err(fail(
            "path",
            "an S3 repository is opened with its endpoint and keys",
        )),
    }
}

fn connect_nfs(r: &RepoAccess, timeout: Duration) -> Result<SharedTarget, Failure> {
    use crate::engine::target::nfs::{ConnectFailure, NfsPath, NfsTarget};
    let path = NfsPath::parse(r.path).map_err(|m| fail("path", m))?;
    // The NFS port when given, else the portmapper that tells where NFS and MOUNT are.
    let port = path.port.unwrap_or(111);
    probe_tcp(&path.host, port).map_err(|e| fail("connect", e))?;
    match NfsTarget::connect(&path, r.nfs_ids.0, r.nfs_ids.1, timeout) {
        Ok(t) => Ok(Arc::new(t)),
        Err(ConnectFailure::Connect(m)) => Err(fail("connect", m)),
        Err(ConnectFailure::Access(m)) | Err(ConnectFailure::Export(m)) => Err(fail("export", m)),
        Err(ConnectFailure::Missing(m)) => Err(fail("exists", m)),
    }
}

fn connect_smb(r: &RepoAccess, timeout: Duration) -> Result<SharedTarget, Failure> {
    let path = SmbPath::parse(r.path).map_err(|m| fail("path", m))?;
    let login = r.login.clone().unwrap_or_default();
    let (host, port) = path.endpoint();
    probe_tcp(&host, port).map_err(|e| fail("connect", e))?;
    // The share itself first, so that a missing share and a missing directory below it get
    // their own messages.
    let share = SmbPath {
        subdir: String::new(),
        ..path.clone()
    };
    let who = if login.user.is_empty() {
        "as guest".to_string()
    } else {
        format!("as '{}'", login.user)
    };
    let share_root = SmbTarget::connect(&share, &login, timeout).map_err(|e| match e.kind() {
        io::ErrorKind::PermissionDenied => fail(
            "authenticate",
            format!("access denied to //{host}:{port}/{} {who}: wrong user name or password, or the user may not use this share", path.share),
        ),
        io::ErrorKind::NotFound => fail(
            "share",
            format!("no such share '{}' on {host}:{port}", path.share),
        ),
        io::ErrorKind::ConnectionRefused => fail("connect", format!("connection refused by {host}:{port}")),
        io::ErrorKind::TimedOut => fail("connect", format!("no answer from {host}:{port} within {} s", timeout.as_secs())),
        _ => fail("connect", format!("{path}: {e}")),
    })?;
    let target = if path.subdir.is_empty() {
        share_root
    } else {
        drop(share_root);
        SmbTarget::connect(&path, &login, timeout)
            .map_err(|e| fail("exists", format!("{path}: {e}")))?
    };
    match target.is_dir(Path::new("")) {
        Ok(true) => Ok(Arc::new(target)),
        Ok(false) => Err(fail(
            "exists",
            format!("{path} is not a directory on the share"),
        )),
        Err(e) => Err(fail("exists", format!("{path}: {e}"))),
    }
}

/// Where and how to reach an S3 repository.
pub struct S3Access<'a> {
    /// `s3://bucket/prefix`
    pub path: &'a str,
    pub endpoint: &'a str,
    pub region: &'a str,
    pub path_style: bool,
    pub keys: crate::engine::s3::S3Keys,
    /// Points kept under Object Lock retention for this many days.
    pub object_lock_days: Option<u32>,
}

/// How much of the S3 preflight opening a repository runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S3Check {
    /// Every step, probe writes and conditional writes (and retention) included.
    Full,
    /// Connect, authenticate and bucket: enough to list and read.
    Read,
}

/// How long a run's S3 job lock lasts without renewal (renewed every third of it).
pub const S3_LEASE: Duration = Duration::from_secs(600);

/// Opens an S3 repository after its preflight, each failure named by its step (connect,
/// authenticate, bucket, write, conditional write, read, delete, object lock).
pub fn connect_s3(
    a: &S3Access,
    check: S3Check,
) -> Result<Arc<crate::engine::s3::S3Target>, Failure> {
    use crate::engine::s3::{preflight, reachable, S3Endpoint, S3Location, S3Store, S3Target};
    let location = S3Location::parse(a.path).map_err(|m| fail("path", m))?;
    let endpoint =
        S3Endpoint::new(a.endpoint, a.region, a.path_style).map_err(|m| fail("endpoint", m))?;
    let store = S3Store::new(location, endpoint, &a.keys).map_err(|m| fail("connect", m))?;
    let lock = a.object_lock_days.map(|days| ObjectLock { days });
    match check {
        S3Check::Full => preflight(&store, lock),
        S3Check::Read => reachable(&store),
    }
    .map_err(|e| fail(e.step.name(), e.why))?;
    let mut target = S3Target::new(store, S3_LEASE).with_object_lock(lock);
    // Smaller volumes than the default, for trying stock-tool restores on small data.
    if let Some(mib) = std::env::var("ZDM_BACKUPD_S3_VOLUME_MIB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        target = target.with_volume(mib << 20);
    }
    Ok(Arc::new(target))
}

/// Checks a directory on this host.
pub fn verify_local(dir: &Path) -> Result<Report, Failure> {
    check(&LocalTarget::new(dir))
}

/// Writes, commits, renames, reads back and removes a probe file, then reads the free space.
pub fn check(t: &dyn Target) -> Result<Report, Failure> {
    let root = Path::new("");
    match t.is_dir(root) {
        Ok(true) => {}
        Ok(false) => {
            return Err(fail(
                "exists",
                format!("{} is not a directory", t.describe()),
            ))
        }
        Err(e) => return Err(fail("exists", format!("{}: {e}", t.describe()))),
    }
    let id = uuid::Uuid::new_v4();
    let tmp = format!(".zdm-verify-{id}.tmp");
    let fin = format!(".zdm-verify-{id}");
    let (tmp, fin) = (Path::new(&tmp), Path::new(&fin));
    let payload = format!("zdm-backupd repository check {id}\n").repeat(64);
    let result = (|| {
        let mut f = t.create_new(tmp).map_err(|e| {
            let why = if e.kind() == std::io::ErrorKind::ReadOnlyFilesystem {
                "read-only export or share".to_string()
            } else {
                e.to_string()
            };
            fail(
                "write",
                format!("cannot create a file in {}: {why}", t.describe()),
            )
        })?;
        f.write_all(payload.as_bytes())
            .map_err(|e| fail("write", e.to_string()))?;
        f.commit().map_err(|e| fail("fsync", e.to_string()))?;
        t.rename(tmp, fin)
            .map_err(|e| fail("rename", e.to_string()))?;
        t.sync_dir(root)
            .map_err(|e| fail("fsync", format!("directory: {e}")))?;
        let mut back = String::new();
        t.open(fin)
            .and_then(|mut f| f.read_to_string(&mut back))
            .map_err(|e| fail("read", e.to_string()))?;
        if back != payload {
            return Err(fail(
                "read",
                "the file read back differs from what was written",
            ));
        }
        t.remove_file(fin)
            .map_err(|e| fail("delete", e.to_string()))?;
        let space = t.space().map_err(|e| fail("space", e.to_string()))?;
        if space.size > 0 && space.free == 0 {
            return Err(fail("space", format!("{} is full", t.describe())));
        }
        Ok(Report {
            size: space.size,
            free: space.free,
        })
    })();
    if result.is_err() {
        let _ = t.remove_file(tmp);
        let _ = t.remove_file(fin);
    }
    result
}

/// Tries a TCP connection to a remote share's server, to tell "not reachable" from "reachable but
/// not mounted" in messages.
pub fn probe_tcp(host: &str, port: u16) -> Result<(), Unreachable> {
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|source| Unreachable::Resolve {
            host: host.to_string(),
            source,
        })?
        .collect();
    let mut last = Unreachable::NoAddress(host.to_string());
    for a in addrs {
        last = match TcpStream::connect_timeout(&a, Duration::from_secs(3)) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Unreachable::Refused(a),
            Err(e)
                if e.kind() == std::io::ErrorKind::TimedOut
                    || e.kind() == std::io::ErrorKind::WouldBlock =>
            {
                Unreachable::NoAnswer(a)
            }
            Err(source) => Unreachable::Other { addr: a, source },
        }
    }
    Err(last)
}

/// Why a share's server did not take a TCP connection.
#[derive(Debug, thiserror::Error)]
pub enum Unreachable {
    #[error("cannot resolve {host}: {source}")]
    Resolve { host: String, source: io::Error },
    #[error("no address for {0}")]
    NoAddress(String),
    #[error("connection refused by {0}")]
    Refused(std::net::SocketAddr),
    #[error("no answer from {0} within 3 s")]
    NoAnswer(std::net::SocketAddr),
    #[error("{addr}: {source}")]
    Other {
        addr: std::net::SocketAddr,
        source: io::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_directory_passes_and_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        let r = verify_local(d.path()).unwrap();
        assert!(r.size > 0);
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
        assert_eq!(
            verify_local(&d.path().join("missing")).unwrap_err().step,
            "exists"
        );
    }
}
