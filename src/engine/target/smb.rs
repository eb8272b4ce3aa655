//! A repository on an SMB share reached directly with a pure-Rust SMB2/3 client (the `smb`
//! crate; NTLM, signing, encryption): no kernel CIFS module, no mount, no CAP_SYS_ADMIN and no C
//! library, so it works in a hardened unit and in containers and builds with cargo alone.
//! Addressed as `//host[:port]/share[/subdir]`.
//!
//! The client's calls block, so each open file is served by its own thread: writes go through a
//! bounded queue (compression goes on while the network works) and reads are fetched ahead the
//! same way. The TCP transport is patched to set TCP_NODELAY (see `vendor/README.md`): without
//! it every small request waits out the peer's delayed ACK (40 ms).

use super::{DirEntry, LockError, LockGuard, RepoFile, Space, Target};
use crate::engine::EngineError;
use smb::{
    Client, ClientConfig, ConnectionConfig, CreateDisposition, CreateOptions, FileAccessMask,
    FileAttributes, FileCreateArgs, Resource, ResourceHandle, Status, UncPath,
};
use std::io::{self, Read};
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::pipe::CHUNK;
/// Chunks read ahead of the caller.
const QUEUE: usize = 8;

/// `//host[:port]/share[/subdir]` (or with backslashes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmbPath {
    pub host: String,
    pub port: Option<u16>,
    pub share: String,
    /// Below the share, without leading or trailing slashes; empty for the share's root.
    pub subdir: String,
}

impl SmbPath {
    pub fn parse(raw: &str) -> Result<SmbPath, EngineError> {
        let s = raw.trim().replace('\\', "/");
        let rest = s.strip_prefix("//").ok_or_else(|| {
            EngineError::Usage(format!(
                "SMB path '{raw}' must look like //host/share or //host:port/share/dir"
            ))
        })?;
        let mut parts = rest.splitn(3, '/');
        let authority = parts.next().unwrap_or_default();
        let share = parts.next().unwrap_or_default();
        let subdir = parts.next().unwrap_or_default().trim_matches('/');
        if authority.is_empty() || share.is_empty() {
            return Err(EngineError::Usage(format!(
                "SMB path '{raw}' must name a host and a share (//host/share)"
            )));
        }
        let (host, port) = match authority.strip_prefix('[') {
            // [v6 address] or [v6 address]:port
            Some(rest) => {
                let (h, tail) = rest
                    .split_once(']')
                    .ok_or_else(|| EngineError::Usage(format!("SMB path '{raw}': unclosed [")))?;
                (format!("[{h}]"), tail.strip_prefix(':'))
            }
            None => match authority.split_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (authority.to_string(), None),
            },
        };
        if host.is_empty() || host == "[]" {
            return Err(EngineError::Usage(format!(
                "SMB path '{raw}' must name a host"
            )));
        }
        let port = match port {
            None => None,
            Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                EngineError::Usage(format!("SMB path '{raw}': '{p}' is not a port number"))
            })?),
        };
        if subdir.split('/').any(|c| c == ".." || c == ".") {
            return Err(EngineError::Usage(format!(
                "SMB path '{raw}' must not contain . or .."
            )));
        }
        Ok(SmbPath {
            host,
            port,
            share: share.to_string(),
            subdir: subdir.to_string(),
        })
    }

    /// The host and port to connect to (445 unless given).
    pub fn endpoint(&self) -> (String, u16) {
        (
            self.host.trim_matches(['[', ']']).to_string(),
            self.port.unwrap_or(445),
        )
    }
}

impl std::fmt::Display for SmbPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "//{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "/{}", self.share)?;
        if !self.subdir.is_empty() {
            write!(f, "/{}", self.subdir)?;
        }
        Ok(())
    }
}

/// Who the daemon is on the share. Never logged, never returned by the API.
#[derive(Clone, Default)]
pub struct SmbLogin {
    pub user: String,
    pub password: String,
    pub domain: String,
}

impl std::fmt::Debug for SmbLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmbLogin")
            .field("user", &self.user)
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

impl SmbLogin {
    /// Reads a credentials file in the `username=`/`password=`/`domain=` format that
    /// `mount.cifs` and `smbclient -A` read. The file must be a regular file of mode 0600 (or
    /// stricter) owned by the user the daemon runs as: a password readable by others is refused.
    pub fn from_file(path: &Path) -> io::Result<SmbLogin> {
        let text = crate::engine::private_file::read_private(path)?;
        let mut login = SmbLogin::default();
        for line in text.lines() {
            // Not trimmed at the end: a password may end with spaces.
            let line = line.trim_start().trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let (key, value) = line.split_once('=').ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: a line is not key=value", path.display()),
                )
            })?;
            match key.trim() {
                "username" | "user" => login.user = value.trim().to_string(),
                "password" | "pass" => login.password = value.to_string(),
                "domain" | "workgroup" => login.domain = value.trim().to_string(),
                other => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{}: unknown key '{other}'", path.display()),
                    ))
                }
            }
        }
        Ok(login)
    }
}

/// An `io::Error` of the right kind for a client error, so that callers can tell a missing
/// file, a refused login and a lost connection apart.
fn io_of(e: smb::Error) -> io::Error {
    use io::ErrorKind as K;
    use smb::transport::TransportError as T;
    let status = match &e {
        smb::Error::ReceivedErrorMessage(s, _) | smb::Error::UnexpectedMessageStatus(s) => Some(*s),
        _ => None,
    };
    let kind = match status.and_then(|s| Status::try_from(s).ok()) {
        Some(Status::ObjectNameNotFound | Status::ObjectPathNotFound | Status::BadNetworkName) => {
            K::NotFound
        }
        Some(Status::ObjectNameCollision) => K::AlreadyExists,
        Some(Status::AccessDenied | Status::LogonFailure | Status::UserAccountLockedOut) => {
            K::PermissionDenied
        }
        Some(Status::DirectoryNotEmpty) => K::DirectoryNotEmpty,
        Some(Status::FileIsADirectory) => K::IsADirectory,
        Some(Status::IoTimeout) => K::TimedOut,
        Some(
            Status::NetworkNameDeleted | Status::UserSessionDeleted | Status::NetworkSessionExpired,
        ) => K::NotConnected,
        Some(_) => K::Other,
        None => match &e {
            smb::Error::TransportError(T::Timeout(_)) | smb::Error::OperationTimeout(..) => {
                K::TimedOut
            }
            smb::Error::TransportError(T::IoError(io)) | smb::Error::IoError(io) => io.kind(),
            smb::Error::TransportError(T::NotConnected) | smb::Error::ConnectionStopped => {
                K::NotConnected
            }
            smb::Error::SspiError(_) => K::PermissionDenied,
            _ => K::Other,
        },
    };
    let text = match status.and_then(|s| Status::try_from(s).ok()) {
        Some(s) => s.to_string(),
        None => e.to_string(),
    };
    io::Error::new(kind, text)
}

/// The client, and whether its connection has already failed: after a timeout or a reset every
/// further request would wait out the timeout again (cleanup, unlock), so they fail at once.
struct Conn {
    client: Client,
    /// `\\host\share`.
    share: UncPath,
    /// Largest read and write the server accepts in one request.
    max_read: usize,
    max_write: usize,
    lost: Mutex<Option<String>>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("share", &self.share.to_string())
            .finish_non_exhaustive()
    }
}

/// Errors that mean the connection is gone. File reads and writes report the client's errors
/// only as text, hence the fallback on the words it uses.
fn is_lost(e: &io::Error) -> bool {
    use io::ErrorKind as K;
    matches!(
        e.kind(),
        K::TimedOut
            | K::ConnectionReset
            | K::ConnectionAborted
            | K::ConnectionRefused
            | K::BrokenPipe
            | K::NotConnected
            | K::HostUnreachable
            | K::NetworkUnreachable
            | K::NetworkDown
            | K::UnexpectedEof
    ) || {
        let t = e.to_string();
        [
            "Timed out",
            "timed out",
            "Not connected",
            "connection is stopped",
            "Broken pipe",
            "reset by peer",
        ]
        .iter()
        .any(|w| t.contains(w))
    }
}

impl Conn {
    fn check(&self) -> io::Result<()> {
        match &*self.lost.lock().unwrap_or_else(|p| p.into_inner()) {
            None => Ok(()),
            Some(why) => Err(io::Error::new(
                io::ErrorKind::NotConnected,
                format!("the connection to the share was lost earlier: {why}"),
            )),
        }
    }

    /// Records a connection failure, passes every error on.
    fn note(&self, e: io::Error) -> io::Error {
        if is_lost(&e) {
            let mut g = self.lost.lock().unwrap_or_else(|p| p.into_inner());
            g.get_or_insert_with(|| e.to_string());
        }
        e
    }

    fn call<T>(&self, f: impl FnOnce(&Client) -> smb::Result<T>) -> io::Result<T> {
        self.check()?;
        f(&self.client).map_err(|e| self.note(io_of(e)))
    }

    /// Opens a share-relative path (`a\\b`, empty for the share's root).
    fn open(&self, remote: &str, args: &FileCreateArgs) -> io::Result<Resource> {
        let path = self.share.clone().with_path(remote);
        self.call(|c| c.create_file(&path, args))
    }

    /// Opens, runs `f` on the handle, closes (also when `f` fails).
    fn with<T>(
        &self,
        remote: &str,
        args: &FileCreateArgs,
        f: impl FnOnce(&ResourceHandle) -> smb::Result<T>,
    ) -> io::Result<T> {
        let r = self.open(remote, args)?;
        let h = handle(&r);
        let out = f(h).map_err(|e| self.note(io_of(e)));
        let closed = h.close().map_err(|e| self.note(io_of(e)));
        let out = out?;
        closed?;
        Ok(out)
    }
}

fn handle(r: &Resource) -> &ResourceHandle {
    match r {
        Resource::File(f) => f,
        Resource::Directory(d) => d,
        Resource::Pipe(p) => p,
    }
}

fn access() -> FileAccessMask {
    FileAccessMask::new()
}

fn open_args(access: FileAccessMask) -> FileCreateArgs {
    FileCreateArgs::make_open_existing(access)
}

#[derive(Debug)]
pub struct SmbTarget {
    conn: Arc<Conn>,
    path: SmbPath,
}

impl SmbTarget {
    /// Connects and checks the share's root directory can be read; authentication and share
    /// errors surface here. `timeout` bounds every request, so a dead server fails a run
    /// instead of hanging it.
    pub fn connect(path: &SmbPath, login: &SmbLogin, timeout: Duration) -> io::Result<SmbTarget> {
        let (host, port) = path.endpoint();
        let mut connection = ConnectionConfig {
            port: Some(port),
            timeout: Some(timeout),
            allow_unsigned_guest_access: login.user.is_empty(),
            ..Default::default()
        };
        connection.auth_methods.kerberos = false;
        let client = Client::new(ClientConfig {
            dfs: false,
            connection,
            ..Default::default()
        });
        let server = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.clone()
        };
        let share = UncPath::new(&server)
            .and_then(|u| u.with_share(&path.share))
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        let user = match (login.user.as_str(), login.domain.as_str()) {
            ("", _) => "Guest".to_string(),
            (u, "") => u.to_string(),
            (u, d) => format!("{d}\\{u}"),
        };
        client
            .share_connect(&share, &user, login.password.clone())
            .map_err(io_of)?;
        let negotiated = client.get_connection(&server).ok().and_then(|c| {
            c.conn_info()
                .map(|i| (i.negotiation.max_read_size, i.negotiation.max_write_size))
        });
        // SMB 2.0.2 servers take at most 64 KiB per request.
        let limit = |n: Option<u32>| n.map_or(64 << 10, |n| (n as usize).clamp(64 << 10, CHUNK));
        let target = SmbTarget {
            conn: Arc::new(Conn {
                max_read: limit(negotiated.map(|n| n.0)),
                max_write: limit(negotiated.map(|n| n.1)),
                client,
                share,
                lost: Mutex::new(None),
            }),
            path: path.clone(),
        };
        let root = target.remote(Path::new(""));
        target.conn.with(
            &root,
            &open_args(access().with_file_read_attributes(true)),
            |_| Ok(()),
        )?;
        Ok(target)
    }

    /// The share-relative path of a repository-relative one.
    fn remote(&self, rel: &Path) -> String {
        let mut parts: Vec<String> = Vec::new();
        if !self.path.subdir.is_empty() {
            parts.extend(self.path.subdir.split('/').map(str::to_string));
        }
        for c in rel.components() {
            parts.push(c.as_os_str().to_string_lossy().into_owned());
        }
        parts.join("\\")
    }

    fn open_file(
        &self,
        rel: &Path,
        disposition: CreateDisposition,
    ) -> io::Result<Box<dyn RepoFile>> {
        self.conn.check()?;
        let (conn, remote) = (self.conn.clone(), self.remote(rel));
        super::pipe::spawn("zdm-smb-write", move |chunks, ready| {
            let args = FileCreateArgs {
                disposition,
                attributes: FileAttributes::new(),
                options: CreateOptions::new().with_non_directory_file(true),
                desired_access: access()
                    .with_file_read_data(true)
                    .with_file_write_data(true)
                    .with_file_read_attributes(true)
                    .with_file_write_attributes(true),
            };
            let file = match conn.open(&remote, &args) {
                Ok(Resource::File(f)) => {
                    let _ = ready.send(Ok(()));
                    f
                }
                Ok(other) => {
                    let _ = handle(&other).close();
                    let _ = ready.send(Err(io::Error::new(
                        io::ErrorKind::IsADirectory,
                        format!("{remote} is not a file"),
                    )));
                    return Ok(());
                }
                Err(e) => {
                    let _ = ready.send(Err(e));
                    return Ok(());
                }
            };
            let written = (|| {
                let mut pos = 0u64;
                for chunk in chunks {
                    let mut done = 0;
                    while done < chunk.len() {
                        let end = chunk.len().min(done + conn.max_write);
                        let n = file
                            .write_block(&chunk[done..end], pos, None)
                            .map_err(|e| conn.note(e))?;
                        if n == 0 {
                            return Err(io::Error::new(
                                io::ErrorKind::WriteZero,
                                format!("the share accepted no bytes of {remote}"),
                            ));
                        }
                        done += n;
                        pos += n as u64;
                    }
                }
                // Durable on the server's disk before the file counts as written.
                file.flush().map_err(|e| conn.note(e))?;
                let size = file
                    .query_info::<smb::FileStandardInformation>()
                    .map_err(|e| conn.note(io_of(e)))?
                    .end_of_file;
                if size != pos {
                    return Err(io::Error::other(format!(
                        "the share holds {size} bytes of {remote}, {pos} were written"
                    )));
                }
                Ok(())
            })();
            let closed = file.close().map_err(|e| conn.note(io_of(e)));
            written?;
            closed
        })
    }

    /// Marks a file or an (empty) directory for deletion and closes it.
    fn delete(&self, rel: &Path) -> io::Result<()> {
        self.conn.with(
            &self.remote(rel),
            &open_args(access().with_delete(true)),
            |h| h.set_info(smb::FileDispositionInformation::default()),
        )
    }
}

impl Target for SmbTarget {
    fn describe(&self) -> String {
        self.path.to_string()
    }

    fn is_dir(&self, path: &Path) -> io::Result<bool> {
        let r = self.conn.open(
            &self.remote(path),
            &open_args(access().with_file_read_attributes(true)),
        );
        match r {
            Ok(r) => {
                let dir = r.is_dir();
                handle(&r).close().map_err(|e| self.conn.note(io_of(e)))?;
                Ok(dir)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn create_dir(&self, path: &Path) -> io::Result<()> {
        let args = FileCreateArgs {
            disposition: CreateDisposition::Create,
            attributes: FileAttributes::new().with_directory(true),
            options: CreateOptions::new().with_directory_file(true),
            desired_access: access().with_file_read_attributes(true),
        };
        let r = self.conn.open(&self.remote(path), &args)?;
        handle(&r).close().map_err(|e| self.conn.note(io_of(e)))
    }

    fn list(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
        let r = self.conn.open(
            &self.remote(path),
            &open_args(
                access()
                    .with_file_read_data(true)
                    .with_file_read_attributes(true),
            ),
        )?;
        let Resource::Directory(dir) = r else {
            let _ = handle(&r).close();
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", self.remote(path)),
            ));
        };
        let listed = (|| {
            let mut out = Vec::new();
            for e in dir.query::<smb::FileDirectoryInformation>("*")? {
                let e = e?;
                let name = e.file_name.to_string();
                if name != "." && name != ".." {
                    out.push(DirEntry {
                        name,
                        is_dir: e.file_attributes.directory(),
                    });
                }
            }
            Ok(out)
        })()
        .map_err(|e: smb::Error| self.conn.note(io_of(e)));
        let closed = dir.close().map_err(|e| self.conn.note(io_of(e)));
        let listed = listed?;
        closed?;
        Ok(listed)
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn RepoFile>> {
        self.open_file(path, CreateDisposition::OverwriteIf)
    }

    fn create_new(&self, path: &Path) -> io::Result<Box<dyn RepoFile>> {
        self.open_file(path, CreateDisposition::Create)
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn Read + Send>> {
        let (tx, rx) = sync_channel::<io::Result<Vec<u8>>>(QUEUE);
        let (ready_tx, ready_rx) = sync_channel::<io::Result<()>>(1);
        self.conn.check()?;
        let conn = self.conn.clone();
        let remote = self.remote(path);
        std::thread::Builder::new()
            .name("zdm-smb-read".into())
            .spawn(move || {
                let opened = conn.open(
                    &remote,
                    &open_args(
                        access()
                            .with_file_read_data(true)
                            .with_file_read_attributes(true),
                    ),
                );
                let file = match opened {
                    Ok(Resource::File(f)) => {
                        let _ = ready_tx.send(Ok(()));
                        f
                    }
                    Ok(other) => {
                        let _ = handle(&other).close();
                        let _ = ready_tx.send(Err(io::Error::new(
                            io::ErrorKind::IsADirectory,
                            format!("{remote} is not a file"),
                        )));
                        return;
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let mut pos = 0u64;
                loop {
                    let mut buf = vec![0u8; conn.max_read];
                    match file.read_block(&mut buf, pos, None, false) {
                        Ok(0) => break,
                        Ok(n) => {
                            buf.truncate(n);
                            pos += n as u64;
                            if tx.send(Ok(buf)).is_err() {
                                break;
                            }
                        }
                        Err(e) => {
                            let _ = tx.send(Err(conn.note(e)));
                            break;
                        }
                    }
                }
                let _ = file.close();
            })?;
        ready_rx
            .recv()
            .unwrap_or_else(|_| Err(io::Error::other("SMB reader thread ended")))?;
        Ok(Box::new(SmbReader {
            rx,
            cur: Vec::new(),
            pos: 0,
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let target = self.remote(to);
        self.conn.with(
            &self.remote(from),
            &open_args(access().with_delete(true).with_file_read_attributes(true)),
            |h| {
                h.set_info(smb::FileRenameInformation {
                    replace_if_exists: false.into(),
                    root_directory: 0,
                    file_name: target.as_str().into(),
                })
            },
        )
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.delete(path)
    }

    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        self.delete(path)
    }

    /// SMB has no directory fsync: each create, rename and delete is complete when the server
    /// answers it.
    fn sync_dir(&self, _path: &Path) -> io::Result<()> {
        Ok(())
    }

    fn space(&self) -> io::Result<Space> {
        let s: smb::FileFsFullSizeInformation = self.conn.with(
            &self.remote(Path::new("")),
            &open_args(access().with_file_read_attributes(true)),
            |h| h.query_fs_info(),
        )?;
        let unit = s.sectors_per_allocation_unit as u64 * s.bytes_per_sector as u64;
        Ok(Space {
            size: s.total_allocation_units * unit,
            free: s.caller_available_allocation_units * unit,
        })
    }

    /// See [`super::lockfile`].
    fn lock(&self, path: &Path, holder: &str) -> Result<Box<dyn LockGuard>, LockError> {
        let held = path.with_extension("held");
        let me = SmbTarget {
            conn: self.conn.clone(),
            path: self.path.clone(),
        };
        super::lockfile::take(self, path, holder, move || {
            let _ = me.delete(&held);
        })
    }
}

struct SmbReader {
    rx: Receiver<io::Result<Vec<u8>>>,
    cur: Vec<u8>,
    pos: usize,
}

impl Read for SmbReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.cur.len() {
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    self.cur = chunk;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.cur.len() - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let p = SmbPath::parse("//127.0.0.1:4455/backup/daily/x").unwrap();
        assert_eq!(p.host, "127.0.0.1");
        assert_eq!(p.port, Some(4455));
        assert_eq!(p.share, "backup");
        assert_eq!(p.subdir, "daily/x");
        assert_eq!(p.to_string(), "//127.0.0.1:4455/backup/daily/x");
        let p = SmbPath::parse(r"\\nas\backup").unwrap();
        assert_eq!(
            (p.host.as_str(), p.port, p.subdir.as_str()),
            ("nas", None, "")
        );
        assert_eq!(p.endpoint(), ("nas".to_string(), 445));
        for bad in [
            "/mnt/x",
            "//host",
            "//:1/s",
            "//h:0/s",
            "//h:x/s",
            "//h/s/../e",
        ] {
            assert!(SmbPath::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn credentials_file_must_be_private() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("cred");
        std::fs::write(&f, "username=u\npassword= p=w \ndomain=W\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = SmbLogin::from_file(&f).unwrap_err();
        assert!(e.to_string().contains("mode 0600"), "{e}");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        let l = SmbLogin::from_file(&f).unwrap();
        assert_eq!(
            (l.user.as_str(), l.password.as_str(), l.domain.as_str()),
            ("u", " p=w ", "W")
        );
        assert!(!format!("{l:?}").contains("p=w"));
    }
}
