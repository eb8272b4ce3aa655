//! An S3 repository as a [`Target`]: keys below the prefix stand for paths, common prefixes for
//! directories (which exist while something is below them), uploads stream as multipart with
//! their ids recorded for crash cleanup, and the job lock is a [`Lease`] renewed in the
//! background. S3 has no rename: points are published through [`Objects`] (a conditional
//! write of the manifest, see `repo::publish`), and the small files the layout renames
//! (marker, job identity) are copied. With Object Lock, every file of a point and its manifest
//! are kept under COMPLIANCE retention (see [`ObjectLock`]).

use super::lease::{Lease, LeaseError, LEASE};
use super::signed::Written;
use super::store::{Put, S3Error, S3Reader, S3Store, S3Writer};
use super::versions::Version;
use crate::engine::repo::{JOB_ID_FILE, MARKER};
use crate::engine::target::{DirEntry, LockError, LockGuard, Objects, RepoFile, Space, Target};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// Parts of streamed uploads: 8 MiB parts put a 64 GiB volume at 8,192 of S3's 10,000.
const PART_SIZE: usize = 8 << 20;
/// Where an upload's id is recorded, beside its object (`dir/.zdm-uploads/name.json`; SeaweedFS
/// keeps its own multipart state in `.uploads` and hides that name from listings).
pub const UPLOADS: &str = ".zdm-uploads";
/// The largest object a streamed file becomes: beyond it the file goes on in `name.001`,
/// `name.002`, … (S3 allows 10,000 parts, 78 GiB at our part size). Each volume is a byte range
/// of the one stream, so `cat name name.0*` gives the file back for stock tools.
pub const VOLUME: u64 = 64 << 30;
/// Files created with `create_new` are small (markers, identities, probes): kept in memory.
const MAX_SMALL: usize = 64 << 20;

/// Object Lock retention of a repository's points: the version written of each object of a
/// point (every volume of its files, and its manifest) cannot be deleted or changed for `days`
/// from its write, not even with the repository's own keys. Deleting a point (rotation) only
/// hides it behind a delete marker until then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectLock {
    pub days: u32,
}

impl ObjectLock {
    /// Retention for an object written now.
    pub fn until(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now() + chrono::Duration::days(i64::from(self.days))
    }

    /// Extends the retention of the current version of `name` to a full term from now: the
    /// marker and job identity, written once, must outlive every point that needs them, so
    /// each publication renews them. A longer term already there (the repository's days were
    /// lowered since) is left as it is: the store refuses shortening it.
    fn extend(&self, store: &S3Store, name: &str) -> Result<(), S3Error> {
        let Some(version) = store.version_of(name)? else {
            return Ok(());
        };
        let until = self.until();
        match store.retained_until(name, &version)? {
            Some(current) if current >= until => Ok(()),
            _ => store.retain(name, &version, until),
        }
    }

    /// Whether the earlier version `v` in job directory `job` may be deleted for good at `now`:
    /// delete markers, and the versions of the lease and upload intents, hold nothing a point
    /// needs; everything else was written under a term of the repository's days (the store
    /// refuses what it still retains, say after the days were lowered; tried again next time).
    fn due(&self, v: &Version, job: &str, now: chrono::DateTime<chrono::Utc>) -> bool {
        v.marker
            || v.name == format!("{job}/{LEASE}")
            || v.name.contains(&format!("/{UPLOADS}/"))
            || v.modified + chrono::Duration::days(i64::from(self.days)) <= now
    }

    /// Puts retention on the object `written` at `key`, written without it.
    fn seal(&self, store: &S3Store, key: &str, written: Written) -> Result<(), S3Error> {
        let version = written.version.ok_or_else(|| {
            S3Error::Other(format!(
                "{key}: the store gave no version id, so the bucket has no Object Lock"
            ))
        })?;
        store.retain(key, &version, self.until())
    }
}

pub struct S3Target {
    store: Arc<S3Store>,
    lease: Duration,
    volume: u64,
    lock: Option<ObjectLock>,
    /// The lease of each job directory this target holds, by key.
    leases: Mutex<HashMap<String, Weak<Held>>>,
}

impl std::fmt::Debug for S3Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Target")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

fn io_err(e: S3Error) -> io::Error {
    match e {
        S3Error::Denied(m) => io::Error::new(io::ErrorKind::PermissionDenied, m),
        S3Error::NoBucket(m) => io::Error::new(io::ErrorKind::NotFound, m),
        S3Error::Other(m) => io::Error::other(m),
    }
}

/// The key (below the prefix) of a repository path.
fn key(path: &Path) -> io::Result<String> {
    let parts: Option<Vec<&str>> = path.iter().map(|c| c.to_str()).collect();
    parts.map(|p| p.join("/")).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not valid UTF-8", path.display()),
        )
    })
}

/// The intent object of an upload to `key`.
fn intent_of(key: &str) -> String {
    match key.rsplit_once('/') {
        Some((dir, name)) => format!("{dir}/{UPLOADS}/{name}.json"),
        None => format!("{UPLOADS}/{key}.json"),
    }
}

/// The object an intent object is about (the inverse of `intent_of`).
fn object_of(intent: &str) -> Option<String> {
    let (dir, file) = match intent.rsplit_once('/') {
        Some((dir, file)) => (Some(dir), file),
        None => (None, intent),
    };
    let name = file.strip_suffix(".json")?;
    match dir?.strip_suffix(UPLOADS)? {
        "" => Some(name.to_string()),
        parent => Some(format!("{}{name}", parent)),
    }
}

impl S3Target {
    /// A target over a store that passed its preflight; job locks are leases of `lease`.
    pub fn new(store: Arc<S3Store>, lease: Duration) -> S3Target {
        S3Target {
            store,
            lease,
            volume: VOLUME,
            lock: None,
            leases: Mutex::new(HashMap::new()),
        }
    }

    /// Keeps points under Object Lock retention (the preflight proved the bucket enforces it).
    pub fn with_object_lock(mut self, lock: Option<ObjectLock>) -> S3Target {
        self.lock = lock;
        self
    }

    /// Splits streamed files into volumes of `bytes` (at least one part).
    pub fn with_volume(mut self, bytes: u64) -> S3Target {
        self.volume = bytes.max(PART_SIZE as u64);
        self
    }

    pub fn store(&self) -> &Arc<S3Store> {
        &self.store
    }

    fn held(&self, job: &str) -> Option<Arc<Held>> {
        let leases = self.leases.lock().unwrap_or_else(|p| p.into_inner());
        leases.get(job).and_then(Weak::upgrade)
    }
}

/// The key of volume `n` of the streamed file at `key`.
fn volume_key(key: &str, n: u32) -> String {
    match n {
        0 => key.to_string(),
        n => format!("{key}.{n:03}"),
    }
}

/// Where a streamed file's volumes go: `key`, then `key.001`, … each sealed under the
/// repository's retention as it completes.
struct VolumeKeys {
    store: Arc<S3Store>,
    key: String,
    lock: Option<ObjectLock>,
}

impl VolumeKeys {
    fn open(&self, n: u32) -> io::Result<S3Writer> {
        let k = volume_key(&self.key, n);
        self.store
            .writer(&k, PART_SIZE, Some(&intent_of(&k)))
            .map_err(io_err)
    }

    /// Completes volume `n` from its `writer`, and seals it under the retention.
    fn finish(&self, n: u32, writer: S3Writer) -> io::Result<()> {
        let written = writer.finish().map_err(io_err)?;
        match self.lock {
            Some(lock) => lock
                .seal(&self.store, &volume_key(&self.key, n), written)
                .map_err(io_err),
            None => Ok(()),
        }
    }
}

/// A streamed upload as a repository file, in volumes of at most `volume` bytes.
struct S3File {
    keys: VolumeKeys,
    volume: u64,
    /// The volume being written, and how much it holds.
    index: u32,
    filled: u64,
    writer: S3Writer,
}

impl Write for S3File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.filled == self.volume {
            let next = self.keys.open(self.index + 1)?;
            let full = std::mem::replace(&mut self.writer, next);
            self.keys.finish(self.index, full)?;
            self.index += 1;
            self.filled = 0;
        }
        let n = buf.len().min((self.volume - self.filled) as usize);
        self.writer.write_all(&buf[..n])?;
        self.filled += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl RepoFile for S3File {
    fn commit(self: Box<Self>) -> io::Result<()> {
        let f = *self;
        f.keys.finish(f.index, f.writer)
    }
}

/// A streamed file read back across its volumes: after each volume the next is looked for, so
/// the reader needs no count (a volume added by someone else fails the file's hash).
struct Volumes {
    store: Arc<S3Store>,
    key: String,
    index: u32,
    current: Option<S3Reader>,
}

impl Read for Volumes {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while let Some(r) = self.current.as_mut() {
            let n = r.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            self.index += 1;
            let next = volume_key(&self.key, self.index);
            self.current = self.store.reader(&next).map_err(io_err)?;
        }
        Ok(0)
    }
}

/// A write of a small file in one request (`Ok(false)`: the condition did not hold): under
/// the repository's retention in the same request when it has Object Lock, so the file is never
/// there unprotected. Used for everything the repository keeps but the lease and upload intents:
/// manifests, the marker and job identity (without which the points could not be trusted).
fn put_kept(
    store: &S3Store,
    lock: Option<ObjectLock>,
    key: &str,
    data: Vec<u8>,
    mode: Put<'_>,
) -> Result<bool, S3Error> {
    match lock {
        Some(lock) => store
            .put_retained(key, data, mode, lock.until())
            .map(|w| w.is_some()),
        None => store.put(key, data, mode).map(|etag| etag.is_some()),
    }
}

/// A small file that must not exist yet: written in one conditional PUT on commit.
struct NewFile {
    store: Arc<S3Store>,
    key: String,
    data: Vec<u8>,
    lock: Option<ObjectLock>,
}

impl Write for NewFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.data.len() + buf.len() > MAX_SMALL {
            return Err(io::Error::other(
                "file too large for a single conditional write",
            ));
        }
        self.data.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl RepoFile for NewFile {
    fn commit(self: Box<Self>) -> io::Result<()> {
        match put_kept(&self.store, self.lock, &self.key, self.data, Put::Create) {
            Ok(true) => Ok(()),
            Ok(false) => Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists", self.key),
            )),
            Err(e) => Err(io_err(e)),
        }
    }
}

impl Target for S3Target {
    fn describe(&self) -> String {
        self.store.location.to_string()
    }

    fn is_dir(&self, path: &Path) -> io::Result<bool> {
        if path.as_os_str().is_empty() {
            return Ok(true);
        }
        let entries = self.store.entries(&key(path)?).map_err(io_err)?;
        Ok(!entries.is_empty())
    }

    // Directories are key prefixes: they exist while something is below them.
    fn create_dir(&self, _path: &Path) -> io::Result<()> {
        Ok(())
    }
    fn create_dir_all(&self, _path: &Path) -> io::Result<()> {
        Ok(())
    }
    fn remove_dir(&self, _path: &Path) -> io::Result<()> {
        Ok(())
    }

    fn list(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
        let entries = self.store.entries(&key(path)?).map_err(io_err)?;
        Ok(entries
            .into_iter()
            .map(|e| DirEntry {
                name: e.name,
                is_dir: e.is_dir,
            })
            .collect())
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn RepoFile>> {
        let keys = VolumeKeys {
            store: self.store.clone(),
            key: key(path)?,
            lock: self.lock,
        };
        Ok(Box::new(S3File {
            writer: keys.open(0)?,
            keys,
            volume: self.volume,
            index: 0,
            filled: 0,
        }))
    }

    fn create_new(&self, path: &Path) -> io::Result<Box<dyn RepoFile>> {
        Ok(Box::new(NewFile {
            store: self.store.clone(),
            key: key(path)?,
            data: Vec::new(),
            lock: self.lock,
        }))
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn Read + Send>> {
        let k = key(path)?;
        match self.store.reader(&k).map_err(io_err)? {
            Some(r) => Ok(Box::new(Volumes {
                store: self.store.clone(),
                key: k,
                index: 0,
                current: Some(r),
            })),
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no object {k}"),
            )),
        }
    }

    /// Only small files are renamed (marker, job identity, probes): copied, then removed.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let (from, to) = (key(from)?, key(to)?);
        let Some(o) = self.store.get(&from).map_err(io_err)? else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no object {from} (directories are not renamed on S3)"),
            ));
        };
        put_kept(&self.store, self.lock, &to, o.data, Put::Overwrite).map_err(io_err)?;
        self.store.delete(&from).map_err(io_err)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.store.delete(&key(path)?).map_err(io_err)
    }

    /// Aborts the uploads recorded below `path` first, then removes every object.
    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        let dir = key(path)?;
        let keys = self.store.list_all(&dir).map_err(io_err)?;
        let (intents, objects): (Vec<_>, Vec<_>) = keys.into_iter().partition(|k| {
            k.starts_with(&format!("{UPLOADS}/")) || k.contains(&format!("/{UPLOADS}/"))
        });
        for k in intents {
            let intent = format!("{dir}/{k}");
            let object = object_of(&intent).unwrap_or_default();
            self.store
                .abort_recorded(&intent, &object)
                .map_err(io_err)?;
        }
        for k in objects {
            self.store.delete(&format!("{dir}/{k}")).map_err(io_err)?;
        }
        Ok(())
    }

    fn sync_dir(&self, _path: &Path) -> io::Result<()> {
        Ok(())
    }

    fn space(&self) -> io::Result<Space> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "an object store has no fixed size or free space",
        ))
    }

    fn lock(&self, path: &Path, _holder: &str) -> Result<Box<dyn LockGuard>, LockError> {
        let job = key(path.parent().unwrap_or(Path::new(""))).map_err(LockError::Io)?;
        let host = crate::host::hostname();
        let lease = match Lease::acquire(&self.store, &job, self.lease, &host) {
            Ok(l) => l,
            Err(LeaseError::Busy { host, pid, run_id }) => {
                return Err(LockError::Held(format!(
                    "pid {pid} on {host} (run {run_id})"
                )))
            }
            Err(e) => return Err(LockError::Io(io::Error::other(e.to_string()))),
        };
        let held = Arc::new(Held {
            lease: Mutex::new(Some(lease)),
            lost: AtomicBool::new(false),
        });
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let renewing = held.clone();
        let every = self.lease / 3;
        let thread = std::thread::spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every)
            {
                // A store that blips is tried again next time; a lost lease stays lost.
                if renewing.renew().is_err() && renewing.lost.load(Ordering::SeqCst) {
                    break;
                }
            }
        });
        self.leases
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(job, Arc::downgrade(&held));
        Ok(Box::new(LeaseGuard {
            held,
            stop: Some(stop),
            thread: Some(thread),
        }))
    }

    fn objects(&self) -> Option<&dyn Objects> {
        Some(self)
    }
}

impl Objects for S3Target {
    fn put_new(&self, path: &Path, data: Vec<u8>) -> io::Result<bool> {
        put_kept(&self.store, self.lock, &key(path)?, data, Put::Create).map_err(io_err)
    }

    fn get_tagged(&self, path: &Path) -> io::Result<Option<(Vec<u8>, String)>> {
        let o = self.store.get(&key(path)?).map_err(io_err)?;
        o.map(|o| match o.etag {
            Some(etag) => Ok((o.data, etag)),
            None => Err(io::Error::other("the store gave the object no ETag")),
        })
        .transpose()
    }

    fn put_if_match(&self, path: &Path, data: Vec<u8>, tag: &str) -> io::Result<bool> {
        put_kept(&self.store, self.lock, &key(path)?, data, Put::IfMatch(tag)).map_err(io_err)
    }

    /// Only with Object Lock: a versioned bucket without it may keep earlier versions on
    /// purpose (the administrator's own undo, expired by a lifecycle rule), so they are left.
    fn reclaim(&self, job_dir: &Path) -> io::Result<Option<String>> {
        let Some(lock) = self.lock else {
            return Ok(None);
        };
        let (job, now) = (key(job_dir)?, chrono::Utc::now());
        let done = self
            .store
            .reclaim_versions(&job, |v| lock.due(v, &job, now))
            .map_err(io_err)?;
        Ok((done.deleted > 0).then(|| {
            format!(
                "deleted {} earlier object versions no retention holds any more ({} MiB)",
                done.deleted,
                done.bytes.div_ceil(1 << 20)
            )
        }))
    }

    /// Renews the lease; with Object Lock, also extends the retention of the marker and job
    /// identity to a full term, so they outlast the point (without them it cannot be trusted).
    fn before_publish(&self, job_dir: &Path) -> io::Result<()> {
        let job = key(job_dir)?;
        let held = self.held(&job).ok_or_else(|| {
            io::Error::other(format!("the job lock of {} is not held", job_dir.display()))
        })?;
        held.renew()?;
        if let Some(lock) = self.lock {
            for name in [MARKER.to_string(), format!("{job}/{JOB_ID_FILE}")] {
                lock.extend(&self.store, &name).map_err(|e| {
                    io::Error::other(format!("cannot extend the retention of {name}: {e}"))
                })?;
            }
        }
        Ok(())
    }
}

/// A lease this target holds, shared with its renewal thread.
struct Held {
    lease: Mutex<Option<Lease>>,
    lost: AtomicBool,
}

impl Held {
    /// Extends the lease now; once lost, it stays lost.
    fn renew(&self) -> io::Result<()> {
        let lost = || {
            io::Error::other(
                "the job lock was lost: another run took it over while this one was paused or \
                 cut off from the store, so this run publishes nothing",
            )
        };
        if self.lost.load(Ordering::SeqCst) {
            return Err(lost());
        }
        let mut lease = self.lease.lock().unwrap_or_else(|p| p.into_inner());
        let Some(l) = lease.as_mut() else {
            return Err(lost());
        };
        match l.renew() {
            Ok(()) => Ok(()),
            Err(LeaseError::Lost) => {
                self.lost.store(true, Ordering::SeqCst);
                Err(lost())
            }
            Err(e) => Err(io::Error::other(e.to_string())),
        }
    }
}

struct LeaseGuard {
    held: Arc<Held>,
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LockGuard for LeaseGuard {}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let lease = self
            .held
            .lease
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(l) = lease {
            if !self.held.lost.load(Ordering::SeqCst) {
                let _ = l.release();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intents_name_their_objects_both_ways() {
        for key in [
            "a/b/.data/x/data.tar.zst",
            "a/data.tar",
            "data.tar",
            "a/b/c.001",
        ] {
            assert_eq!(object_of(&intent_of(key)).as_deref(), Some(key), "{key}");
        }
        assert_eq!(object_of("a/b/c.json"), None);
        assert_eq!(object_of("a/.zdm-uploads/c"), None);
    }
}
