//! A repository on an NFS export reached directly with a user-space NFSv3 client
//! (`nfs3_client`, pure Rust): no kernel NFS client, no mount, no CAP_SYS_ADMIN. Addressed as
//! `host[:port]:/export[/subdir]`; the MOUNT service is found through the server's portmapper,
//! NFS itself on `port` (or through the portmapper too). Credentials are AUTH_SYS with a
//! configured uid/gid.
//!
//! Files are written with UNSTABLE WRITEs and made durable with COMMIT, whose write verifier
//! must not change while the file is written (a changed verifier means the server restarted
//! and may have lost unstable data): that is NFS's fsync. Directory operations are synchronous
//! in NFSv3, so syncing a directory is nothing to do.

use super::{DirEntry, LockError, LockGuard, RepoFile, Space, Target};
use crate::engine::EngineError;
use nfs3_client::nfs3_types::mount::mountstat3;
use nfs3_client::nfs3_types::nfs3::{self, nfs_fh3, nfsstat3, Nfs3Option, Nfs3Result};
use nfs3_client::nfs3_types::rpc::{auth_unix, opaque_auth};
use nfs3_client::nfs3_types::xdr_codec::Opaque;
use nfs3_client::tokio::{TokioConnector, TokioIo};
use nfs3_client::{ConnectError, MountError, Nfs3Client, Nfs3ConnectionBuilder, RpcError};
use std::io::{self, Read};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Client = Nfs3Client<TokioIo<tokio::net::TcpStream>>;

/// Bytes per READ request (WRITEs are the pipe's chunks).
const CHUNK: usize = super::pipe::CHUNK;

/// `host[:port]:/export[/subdir]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NfsPath {
    pub host: String,
    pub port: Option<u16>,
    /// The whole path after the host, starting with `/`.
    pub path: String,
}

impl NfsPath {
    pub fn parse(raw: &str) -> Result<NfsPath, EngineError> {
        let s = raw.trim();
        let (left, rest) = s.split_once(":/").ok_or_else(|| {
            EngineError::Usage(format!(
                "NFS path '{raw}' must look like host:/export or host:port:/export"
            ))
        })?;
        let (host, port) = match left.rsplit_once(':') {
            Some((h, p)) => (
                h,
                Some(p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                    EngineError::Usage(format!("NFS path '{raw}': '{p}' is not a port number"))
                })?),
            ),
            None => (left, None),
        };
        if host.is_empty() {
            return Err(EngineError::Usage(format!(
                "NFS path '{raw}' must name a host"
            )));
        }
        let path = format!("/{}", rest.trim_end_matches('/'));
        if path.split('/').any(|c| c == "." || c == "..") {
            return Err(EngineError::Usage(format!(
                "NFS path '{raw}' must not contain . or .."
            )));
        }
        Ok(NfsPath {
            host: host.to_string(),
            port,
            path,
        })
    }
}

impl std::fmt::Display for NfsPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.port {
            Some(p) => write!(f, "{}:{p}:{}", self.host, self.path),
            None => write!(f, "{}:{}", self.host, self.path),
        }
    }
}

/// What went wrong while connecting, by step.
#[derive(Debug)]
pub enum ConnectFailure {
    /// The server (portmapper, MOUNT or NFS service) could not be reached.
    Connect(String),
    /// The server refused the export (it may not exist) to this client or these credentials.
    Access(String),
    /// No such export.
    Export(String),
    /// The export is there, the directory below it is not.
    Missing(String),
}

fn errno(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

/// An NFS status as the OS error it stands for, so messages and error kinds read as usual.
fn status(s: nfsstat3) -> io::Error {
    use nix::libc::*;
    match s {
        nfsstat3::NFS3ERR_PERM => errno(EPERM),
        nfsstat3::NFS3ERR_NOENT => errno(ENOENT),
        nfsstat3::NFS3ERR_IO => errno(EIO),
        nfsstat3::NFS3ERR_ACCES => errno(EACCES),
        nfsstat3::NFS3ERR_EXIST => errno(EEXIST),
        nfsstat3::NFS3ERR_NOTDIR => errno(ENOTDIR),
        nfsstat3::NFS3ERR_ISDIR => errno(EISDIR),
        nfsstat3::NFS3ERR_INVAL => errno(EINVAL),
        nfsstat3::NFS3ERR_FBIG => errno(EFBIG),
        nfsstat3::NFS3ERR_NOSPC => errno(ENOSPC),
        nfsstat3::NFS3ERR_ROFS => io::Error::new(
            io::ErrorKind::ReadOnlyFilesystem,
            "read-only export (NFS3ERR_ROFS)",
        ),
        nfsstat3::NFS3ERR_NAMETOOLONG => errno(ENAMETOOLONG),
        nfsstat3::NFS3ERR_NOTEMPTY => errno(ENOTEMPTY),
        nfsstat3::NFS3ERR_DQUOT => errno(EDQUOT),
        nfsstat3::NFS3ERR_STALE => errno(ESTALE),
        other => io::Error::other(format!("NFS server answered {other}")),
    }
}

fn rpc(e: RpcError) -> io::Error {
    match e {
        RpcError::Io(e) => e,
        RpcError::Auth(a) => io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("the NFS server refused the credentials ({a:?})"),
        ),
        other => io::Error::other(format!("NFS RPC failed: {other}")),
    }
}

fn ok<T, E>(r: Nfs3Result<T, E>) -> io::Result<T> {
    match r {
        Nfs3Result::Ok(v) => Ok(v),
        Nfs3Result::Err((s, _)) => Err(status(s)),
    }
}

/// The connection: one RPC at a time, on a private single-threaded runtime, each bounded by
/// the timeout. After a lost connection every further request fails at once.
struct Inner {
    rt: tokio::runtime::Runtime,
    client: Mutex<Client>,
    root: nfs_fh3,
    timeout: Duration,
    lost: Mutex<Option<String>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner").finish_non_exhaustive()
    }
}

impl Inner {
    fn note(&self, e: io::Error) -> io::Error {
        use nix::libc::*;
        let lost = e.kind() == io::ErrorKind::TimedOut
            || matches!(
                e.raw_os_error(),
                Some(ECONNRESET | ECONNABORTED | ECONNREFUSED | EPIPE | ENOTCONN | ETIMEDOUT)
            )
            || e.kind() == io::ErrorKind::UnexpectedEof;
        if lost {
            self.lost
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert_with(|| e.to_string());
        }
        e
    }
}

/// Runs one RPC: `$c` is the client inside `$e`.
macro_rules! call {
    ($inner:expr, $c:ident => $e:expr) => {{
        let inner: &Inner = &$inner;
        if let Some(why) = &*inner.lost.lock().unwrap_or_else(|p| p.into_inner()) {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                format!("the connection to the NFS server was lost earlier: {why}"),
            ));
        }
        let mut guard = inner.client.lock().unwrap_or_else(|p| p.into_inner());
        let $c: &mut Client = &mut guard;
        match inner
            .rt
            .block_on(async { tokio::time::timeout(inner.timeout, $e).await })
        {
            Err(_) => Err(inner.note(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "no answer from the NFS server within {} s",
                    inner.timeout.as_secs()
                ),
            ))),
            Ok(Err(e)) => Err(inner.note(rpc(e))),
            Ok(Ok(v)) => ok(v),
        }
    }};
}

#[derive(Debug, Clone)]
pub struct NfsTarget {
    inner: Arc<Inner>,
    path: NfsPath,
    /// Directories below the mounted export that make up the repository root.
    base: Vec<String>,
}

fn name(s: &str) -> nfs3::filename3<'static> {
    nfs3::filename3(Opaque::owned(s.as_bytes().to_vec()))
}

impl NfsTarget {
    /// Mounts the export (the longest prefix of the path the server exports; the rest is a
    /// directory below it) and checks the repository root is a directory.
    pub fn connect(
        path: &NfsPath,
        uid: u32,
        gid: u32,
        timeout: Duration,
    ) -> Result<NfsTarget, ConnectFailure> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ConnectFailure::Connect(e.to_string()))?;
        let ip = (path.host.as_str(), 0)
            .to_socket_addrs_first()
            .ok_or_else(|| ConnectFailure::Connect(format!("cannot resolve {}", path.host)))?;
        let parts: Vec<&str> = path.path.split('/').filter(|s| !s.is_empty()).collect();
        let mut first_err = None;
        for keep in (0..=parts.len()).rev() {
            let export = format!("/{}", parts[..keep].join("/"));
            let cred = opaque_auth::auth_unix(&auth_unix {
                stamp: 0,
                machinename: Opaque::owned(crate::host::hostname().into_bytes()),
                uid,
                gid,
                gids: vec![gid],
            });
            let mount = |privileged: bool| {
                let mut b = Nfs3ConnectionBuilder::new(TokioConnector, ip.to_string(), &export)
                    .credential(cred.clone())
                    .connect_from_privileged_port(privileged);
                if let Some(p) = path.port {
                    b = b.nfs3_port(p);
                }
                rt.block_on(async { tokio::time::timeout(timeout, b.mount()).await })
            };
            // Servers want a privileged source port unless the export says `insecure`; root
            // without CAP_NET_BIND_SERVICE tries an ordinary one.
            let mut mounted = mount(nix::unistd::geteuid().is_root());
            if matches!(&mounted, Ok(Err(ConnectError::Io(e))) if e.kind() == io::ErrorKind::PermissionDenied)
            {
                mounted = mount(false);
            }
            let err = match mounted {
                Ok(Ok(conn)) => {
                    let root = conn.root_nfs_fh3();
                    let t = NfsTarget {
                        inner: Arc::new(Inner {
                            rt,
                            client: Mutex::new(conn.into_nfs3_client()),
                            root,
                            timeout,
                            lost: Mutex::new(None),
                        }),
                        path: path.clone(),
                        base: parts[keep..].iter().map(|s| s.to_string()).collect(),
                    };
                    return match t.is_dir(Path::new("")) {
                        Ok(true) => Ok(t),
                        Ok(false) => Err(ConnectFailure::Missing(format!(
                            "{path} is not a directory on the export"
                        ))),
                        Err(e) => Err(ConnectFailure::Missing(format!("{path}: {e}"))),
                    };
                }
                Err(_) => ConnectFailure::Connect(format!(
                    "no answer from {} within {} s",
                    path.host,
                    timeout.as_secs()
                )),
                Ok(Err(ConnectError::Mount(MountError::Denied(s)))) => match s {
                    // Servers answer "access denied" for exports they do not have, too.
                    mountstat3::MNT3ERR_ACCES | mountstat3::MNT3ERR_PERM => {
                        ConnectFailure::Access(format!(
                            "{} refused to mount {}: no such export, or it is not exported to \
                             this host (uid {uid})",
                            path.host, path.path
                        ))
                    }
                    _ => ConnectFailure::Export(format!(
                        "no such export '{}' on {} ({s:?})",
                        path.path, path.host
                    )),
                },
                Ok(Err(e)) => {
                    return Err(ConnectFailure::Connect(format!("{}: {e}", path.host)));
                }
            };
            if matches!(err, ConnectFailure::Connect(_)) {
                return Err(err);
            }
            first_err.get_or_insert(err);
        }
        Err(first_err.unwrap_or_else(|| ConnectFailure::Export(path.to_string())))
    }

    fn lookup(&self, dir: &nfs_fh3, n: &str) -> io::Result<nfs_fh3> {
        let args = nfs3::LOOKUP3args {
            what: nfs3::diropargs3 {
                dir: dir.clone(),
                name: name(n),
            },
        };
        Ok(call!(self.inner, c => c.lookup(&args))?.object)
    }

    /// The file handle of a repository-relative path.
    fn resolve(&self, rel: &Path) -> io::Result<nfs_fh3> {
        let mut fh = self.inner.root.clone();
        for c in self.base.iter().cloned().chain(
            rel.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned()),
        ) {
            fh = self.lookup(&fh, &c)?;
        }
        Ok(fh)
    }

    /// The parent's handle and the last name of a repository-relative path.
    fn parent(&self, rel: &Path) -> io::Result<(nfs_fh3, String)> {
        let n = rel
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?
            .to_string_lossy()
            .into_owned();
        Ok((self.resolve(rel.parent().unwrap_or(Path::new("")))?, n))
    }

    fn make(&self, rel: &Path, how: nfs3::createhow3) -> io::Result<Box<dyn RepoFile>> {
        let (dir, n) = self.parent(rel)?;
        let args = nfs3::CREATE3args {
            where_: nfs3::diropargs3 {
                dir: dir.clone(),
                name: name(&n),
            },
            how,
        };
        let res = call!(self.inner, c => c.create(&args))?;
        let fh = match res.obj {
            Nfs3Option::Some(fh) => fh,
            Nfs3Option::None => self.lookup(&dir, &n)?,
        };
        let mut w = NfsWriter {
            inner: self.inner.clone(),
            fh,
            offset: 0,
            verf: None,
        };
        super::pipe::spawn("zdm-nfs-write", move |chunks, ready| {
            let _ = ready.send(Ok(()));
            for chunk in chunks {
                w.send(&chunk)?;
            }
            w.commit()
        })
    }
}

fn file_attrs(mode: u32) -> nfs3::sattr3 {
    nfs3::sattr3 {
        mode: Nfs3Option::Some(mode),
        size: Nfs3Option::Some(0),
        ..Default::default()
    }
}

impl Target for NfsTarget {
    fn describe(&self) -> String {
        self.path.to_string()
    }

    fn is_dir(&self, path: &Path) -> io::Result<bool> {
        let fh = match self.resolve(path) {
            Ok(fh) => fh,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        let args = nfs3::GETATTR3args { object: fh };
        let attrs = call!(self.inner, c => c.getattr(&args))?;
        Ok(attrs.obj_attributes.type_ == nfs3::ftype3::NF3DIR)
    }

    fn create_dir(&self, path: &Path) -> io::Result<()> {
        let (dir, n) = self.parent(path)?;
        let args = nfs3::MKDIR3args {
            where_: nfs3::diropargs3 {
                dir,
                name: name(&n),
            },
            attributes: nfs3::sattr3 {
                mode: Nfs3Option::Some(0o700),
                ..Default::default()
            },
        };
        call!(self.inner, c => c.mkdir(&args)).map(|_| ())
    }

    fn list(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
        let dir = self.resolve(path)?;
        let mut out = Vec::new();
        let (mut cookie, mut verf) = (0u64, nfs3::cookieverf3::default());
        loop {
            let args = nfs3::READDIRPLUS3args {
                dir: dir.clone(),
                cookie,
                cookieverf: verf,
                dircount: 64 * 1024,
                maxcount: 256 * 1024,
            };
            let res = call!(self.inner, c => c.readdirplus(&args))?;
            verf = res.cookieverf;
            for e in res.reply.entries.0 {
                cookie = e.cookie;
                let n = String::from_utf8_lossy(e.name.as_ref()).into_owned();
                if n == "." || n == ".." {
                    continue;
                }
                let is_dir = matches!(&e.name_attributes, Nfs3Option::Some(a) if a.type_ == nfs3::ftype3::NF3DIR);
                out.push(DirEntry { name: n, is_dir });
            }
            if res.reply.eof {
                return Ok(out);
            }
        }
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn RepoFile>> {
        self.make(path, nfs3::createhow3::UNCHECKED(file_attrs(0o600)))
    }

    fn create_new(&self, path: &Path) -> io::Result<Box<dyn RepoFile>> {
        self.make(path, nfs3::createhow3::GUARDED(file_attrs(0o600)))
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn Read + Send>> {
        let fh = self.resolve(path)?;
        Ok(Box::new(NfsReader {
            inner: self.inner.clone(),
            fh,
            offset: 0,
            eof: false,
            cur: Vec::new(),
            pos: 0,
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let (fdir, fname) = self.parent(from)?;
        let (tdir, tname) = self.parent(to)?;
        let args = nfs3::RENAME3args {
            from: nfs3::diropargs3 {
                dir: fdir,
                name: name(&fname),
            },
            to: nfs3::diropargs3 {
                dir: tdir,
                name: name(&tname),
            },
        };
        call!(self.inner, c => c.rename(&args)).map(|_| ())
    }

    fn remove_dir(&self, rel: &Path) -> io::Result<()> {
        let (dir, n) = self.parent(rel)?;
        let args = nfs3::RMDIR3args {
            object: nfs3::diropargs3 {
                dir,
                name: name(&n),
            },
        };
        call!(self.inner, c => c.rmdir(&args)).map(|_| ())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let (dir, n) = self.parent(path)?;
        let args = nfs3::REMOVE3args {
            object: nfs3::diropargs3 {
                dir,
                name: name(&n),
            },
        };
        call!(self.inner, c => c.remove(&args)).map(|_| ())
    }

    /// NFSv3 directory operations are synchronous: the server has them on disk when it answers.
    fn sync_dir(&self, _path: &Path) -> io::Result<()> {
        Ok(())
    }

    fn space(&self) -> io::Result<Space> {
        let args = nfs3::FSSTAT3args {
            fsroot: self.inner.root.clone(),
        };
        let s = call!(self.inner, c => c.fsstat(&args))?;
        Ok(Space {
            size: s.tbytes,
            free: s.abytes,
        })
    }

    /// See [`super::lockfile`].
    fn lock(&self, path: &Path, holder: &str) -> Result<Box<dyn LockGuard>, LockError> {
        let (me, held) = (self.clone(), path.with_extension("held"));
        super::lockfile::take(self, path, holder, move || {
            let _ = me.remove_file(&held);
        })
    }
}

/// UNSTABLE writes; `commit` sends COMMIT and checks the write verifier never changed.
struct NfsWriter {
    inner: Arc<Inner>,
    fh: nfs_fh3,
    offset: u64,
    verf: Option<nfs3::writeverf3>,
}

impl NfsWriter {
    fn send(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut done = 0;
        while done < buf.len() {
            let args = nfs3::WRITE3args {
                file: self.fh.clone(),
                offset: self.offset,
                count: (buf.len() - done) as u32,
                stable: nfs3::stable_how::UNSTABLE,
                data: Opaque::borrowed(&buf[done..]),
            };
            let res = call!(self.inner, c => c.write(&args))?;
            if res.count == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "the NFS server accepted no bytes",
                ));
            }
            self.check_verf(res.verf)?;
            done += res.count as usize;
            self.offset += u64::from(res.count);
        }
        Ok(())
    }

    fn commit(&mut self) -> io::Result<()> {
        let args = nfs3::COMMIT3args {
            file: self.fh.clone(),
            offset: 0,
            count: 0,
        };
        let res = call!(self.inner, c => c.commit(&args))?;
        self.check_verf(res.verf)
    }

    fn check_verf(&mut self, v: nfs3::writeverf3) -> io::Result<()> {
        match self.verf {
            None => {
                self.verf = Some(v);
                Ok(())
            }
            Some(old) if old == v => Ok(()),
            Some(_) => Err(io::Error::other(
                "the NFS server restarted while the file was written; unstable data may be lost",
            )),
        }
    }
}

struct NfsReader {
    inner: Arc<Inner>,
    fh: nfs_fh3,
    offset: u64,
    eof: bool,
    cur: Vec<u8>,
    pos: usize,
}

impl NfsReader {
    fn fill(&mut self) -> io::Result<()> {
        let args = nfs3::READ3args {
            file: self.fh.clone(),
            offset: self.offset,
            count: CHUNK as u32,
        };
        let res = call!(self.inner, c => c.read(&args))?;
        self.offset += u64::from(res.count);
        self.eof = res.eof || res.count == 0;
        self.cur = res.data.to_vec();
        self.pos = 0;
        Ok(())
    }
}

impl Read for NfsReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            if self.eof {
                return Ok(0);
            }
            self.fill()?;
        }
        let n = out.len().min(self.cur.len() - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The first address a host name resolves to.
trait FirstAddr {
    fn to_socket_addrs_first(&self) -> Option<std::net::IpAddr>;
}

impl FirstAddr for (&str, u16) {
    fn to_socket_addrs_first(&self) -> Option<std::net::IpAddr> {
        use std::net::ToSocketAddrs;
        self.to_socket_addrs()
            .ok()?
            .find(|a| a.is_ipv4())
            .map(|a| a.ip())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let p = NfsPath::parse("127.0.0.1:2050:/export/daily").unwrap();
        assert_eq!(
            (p.host.as_str(), p.port, p.path.as_str()),
            ("127.0.0.1", Some(2050), "/export/daily")
        );
        assert_eq!(p.to_string(), "127.0.0.1:2050:/export/daily");
        let p = NfsPath::parse("nas:/").unwrap();
        assert_eq!(
            (p.host.as_str(), p.port, p.path.as_str()),
            ("nas", None, "/")
        );
        for bad in [
            "/local",
            "nas",
            ":/x",
            "nas:0:/x",
            "nas:x:/e",
            "nas:/e/../f",
        ] {
            assert!(NfsPath::parse(bad).is_err(), "{bad}");
        }
    }
}
