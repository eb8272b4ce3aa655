//! A repository on an SMB share reached directly with Samba's own client library (libsmbclient,
//! through `pavao`): no kernel CIFS module, no mount, no CAP_SYS_ADMIN, so it works in a
//! hardened unit and in containers. Addressed as `//host[:port]/share[/subdir]`.
//!
//! libsmbclient is blocking and serializes every call process-wide, so each open file is served
//! by its own thread: writes go through a bounded queue (compression goes on while the network
//! works) and reads are fetched ahead the same way.

use super::{DirEntry, LockError, LockGuard, RepoFile, Space, Target};
use pavao::{SmbClient, SmbCredentials, SmbError, SmbMode, SmbOpenOptions, SmbOptions};
use std::io::{self, Read, Write};
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
    pub fn parse(raw: &str) -> Result<SmbPath, String> {
        let s = raw.trim().replace('\\', "/");
        let rest = s.strip_prefix("//").ok_or_else(|| {
            format!("SMB path '{raw}' must look like //host/share or //host:port/share/dir")
        })?;
        let mut parts = rest.splitn(3, '/');
        let authority = parts.next().unwrap_or_default();
        let share = parts.next().unwrap_or_default();
        let subdir = parts.next().unwrap_or_default().trim_matches('/');
        if authority.is_empty() || share.is_empty() {
            return Err(format!(
                "SMB path '{raw}' must name a host and a share (//host/share)"
            ));
        }
        let (host, port) = match authority.strip_prefix('[') {
            // [v6 address] or [v6 address]:port
            Some(rest) => {
                let (h, tail) = rest
                    .split_once(']')
                    .ok_or_else(|| format!("SMB path '{raw}': unclosed ["))?;
                (format!("[{h}]"), tail.strip_prefix(':'))
            }
            None => match authority.split_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (authority.to_string(), None),
            },
        };
        if host.is_empty() || host == "[]" {
            return Err(format!("SMB path '{raw}' must name a host"));
        }
        let port = match port {
            None => None,
            Some(p) => Some(
                p.parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| format!("SMB path '{raw}': '{p}' is not a port number"))?,
            ),
        };
        if subdir.split('/').any(|c| c == ".." || c == ".") {
            return Err(format!("SMB path '{raw}' must not contain . or .."));
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
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::symlink_metadata(path)?;
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a regular file", path.display()),
            ));
        }
        if meta.mode() & 0o077 != 0 || meta.uid() != nix::unistd::geteuid().as_raw() {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "credentials file {} must be owned by this user with mode 0600 (it is {:o}); \
                     run: chmod 600 {}",
                    path.display(),
                    meta.mode() & 0o777,
                    path.display()
                ),
            ));
        }
        let text = std::fs::read_to_string(path)?;
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

/// Turns pavao's errors into I/O errors that keep the OS reason (errno) when there is one.
fn io_of(e: SmbError) -> io::Error {
    match e {
        SmbError::Io(e) => e,
        other => io::Error::other(other.to_string()),
    }
}

/// The client, and whether its connection has already failed: after a timeout or a reset every
/// further request would wait out the timeout again (cleanup, unlock), so they fail at once.
#[derive(Debug)]
struct Conn {
    client: SmbClient,
    lost: Mutex<Option<String>>,
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
        use nix::libc::*;
        let lost = matches!(
            e.raw_os_error(),
            Some(ETIMEDOUT | ECONNRESET | ECONNABORTED | ECONNREFUSED | EPIPE | ENOTCONN)
                | Some(EHOSTUNREACH | ENETUNREACH | ENETDOWN)
        ) || e.kind() == io::ErrorKind::TimedOut;
        if lost {
            let mut g = self.lost.lock().unwrap_or_else(|p| p.into_inner());
            g.get_or_insert_with(|| e.to_string());
        }
        e
    }

    fn call<T>(&self, f: impl FnOnce(&SmbClient) -> pavao::SmbResult<T>) -> io::Result<T> {
        self.check()?;
        f(&self.client).map_err(|e| self.note(io_of(e)))
    }
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
        let server = if host.contains(':') {
            format!("smb://[{host}]:{port}")
        } else {
            format!("smb://{host}:{port}")
        };
        let mut creds = SmbCredentials::default()
            .server(server)
            .share(format!("/{}", path.share))
            .username(&login.user)
            .password(&login.password);
        if !login.domain.is_empty() {
            creds = creds.workgroup(&login.domain);
        }
        let client = SmbClient::new(
            creds,
            SmbOptions::default()
                .case_sensitive(true)
                .one_share_per_server(true)
                .no_auto_anonymous_login(true),
        )
        .map_err(io_of)?;
        client.set_timeout(timeout).map_err(io_of)?;
        let target = SmbTarget {
            conn: Arc::new(Conn {
                client,
                lost: Mutex::new(None),
            }),
            path: path.clone(),
        };
        let root = target.remote(Path::new(""));
        target.conn.call(|c| c.stat(root))?;
        Ok(target)
    }

    /// The share-relative path of a repository-relative one.
    fn remote(&self, rel: &Path) -> String {
        let mut s = String::new();
        if !self.path.subdir.is_empty() {
            s.push('/');
            s.push_str(&self.path.subdir);
        }
        for c in rel.components() {
            s.push('/');
            s.push_str(&c.as_os_str().to_string_lossy());
        }
        if s.is_empty() {
            s.push('/');
        }
        s
    }

    fn open_file(&self, rel: &Path, opts: SmbOpenOptions) -> io::Result<Box<dyn RepoFile>> {
        self.conn.check()?;
        let (conn, remote) = (self.conn.clone(), self.remote(rel));
        super::pipe::spawn("zdm-smb-write", move |chunks, ready| {
            let mut file = match conn.client.open_with(&remote, opts) {
                Ok(f) => {
                    let _ = ready.send(Ok(()));
                    f
                }
                Err(e) => {
                    let _ = ready.send(Err(conn.note(io_of(e))));
                    return Ok(());
                }
            };
            let mut written = 0u64;
            for chunk in chunks {
                file.write_all(&chunk).map_err(|e| conn.note(e))?;
                written += chunk.len() as u64;
            }
            drop(file);
            // The handle is closed; ask the server what it holds.
            let size = conn.call(|c| c.stat(&remote))?.size;
            if size != written {
                return Err(io::Error::other(format!(
                    "the share holds {size} bytes of {remote}, {written} were written"
                )));
            }
            Ok(())
        })
    }
}

impl Target for SmbTarget {
    fn describe(&self) -> String {
        self.path.to_string()
    }

    fn is_dir(&self, path: &Path) -> io::Result<bool> {
        match self.conn.call(|c| c.stat(self.remote(path))) {
            Ok(st) => Ok(st.mode.is_dir()),
            Err(e) => {
                if e.kind() == io::ErrorKind::NotFound {
                    Ok(false)
                } else {
                    Err(e)
                }
            }
        }
    }

    fn create_dir(&self, path: &Path) -> io::Result<()> {
        self.conn
            .call(|c| c.mkdir(self.remote(path), SmbMode::from(0o700)))
    }

    fn list(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
        match self.conn.call(|c| c.list_dir(self.remote(path))) {
            Ok(entries) => Ok(entries
                .into_iter()
                .map(|e| DirEntry {
                    name: e.name().to_string(),
                    is_dir: matches!(e.get_type(), pavao::SmbDirentType::Dir),
                })
                .collect()),
            Err(e) => {
                // libsmbclient reports a failed opendir without its reason: ask stat for it.
                self.conn.call(|c| c.stat(self.remote(path)))?;
                Err(e)
            }
        }
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn RepoFile>> {
        self.open_file(
            path,
            SmbOpenOptions::default()
                .write(true)
                .create(true)
                .truncate(true),
        )
    }

    fn create_new(&self, path: &Path) -> io::Result<Box<dyn RepoFile>> {
        self.open_file(
            path,
            SmbOpenOptions::default()
                .write(true)
                .create(true)
                .exclusive(true),
        )
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
                let opened = conn
                    .client
                    .open_with(&remote, SmbOpenOptions::default().read(true));
                let mut file = match opened {
                    Ok(f) => {
                        let _ = ready_tx.send(Ok(()));
                        f
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(conn.note(io_of(e))));
                        return;
                    }
                };
                loop {
                    let mut buf = vec![0u8; CHUNK];
                    match file.read(&mut buf) {
                        Ok(0) => return,
                        Ok(n) => {
                            buf.truncate(n);
                            if tx.send(Ok(buf)).is_err() {
                                return;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            let _ = tx.send(Err(conn.note(e)));
                            return;
                        }
                    }
                }
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
        self.conn
            .call(|c| c.rename(self.remote(from), self.remote(to)))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.conn.call(|c| c.unlink(self.remote(path)))
    }

    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        self.conn.call(|c| c.rmdir(self.remote(path)))
    }

    /// SMB has no directory fsync: each create, rename and delete is complete when the server
    /// answers it.
    fn sync_dir(&self, _path: &Path) -> io::Result<()> {
        Ok(())
    }

    fn space(&self) -> io::Result<Space> {
        let s = self.conn.call(|c| c.statvfs(self.remote(Path::new(""))))?;
        let unit = if s.frsize > 0 { s.frsize } else { s.bsize };
        Ok(Space {
            size: s.blocks * unit,
            free: s.bavail * unit,
        })
    }

    /// See [`super::lockfile`].
    fn lock(&self, path: &Path, holder: &str) -> Result<Box<dyn LockGuard>, LockError> {
        let (conn, remote) = (self.conn.clone(), self.remote(&path.with_extension("held")));
        super::lockfile::take(self, path, holder, move || {
            let _ = conn.call(|c| c.unlink(&remote));
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
