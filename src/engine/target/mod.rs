//! Where a repository's files live. The engine reads and writes restore points only through
//! [`Target`], with paths relative to the repository root, so the same publication protocol
//! (write into `.partial-*`, commit every file, write the manifest last, rename) runs on a local
//! directory (an already-mounted share), an SMB share and an NFS export reached by the daemon
//! itself.

pub mod local;
pub mod lockfile;
pub mod nfs;
pub mod pipe;
pub mod smb;

use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;

pub use local::LocalTarget;

/// A file being written. Dropping it without [`RepoFile::commit`] leaves whatever reached the
/// target, which the next run removes with the rest of the partial directory.
pub trait RepoFile: Write + Send {
    /// Makes everything written durable (fsync, or the share's equivalent) and closes the file.
    fn commit(self: Box<Self>) -> io::Result<()>;
    /// A hint that a large amount has been written: start pushing it out now so that the final
    /// commit finds little left to do.
    fn write_back(&mut self) {}
}

/// One name in a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    pub name: String,
    pub is_dir: bool,
}

/// Size and free bytes of the file system behind a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    pub size: u64,
    pub free: u64,
}

/// Why a job lock could not be taken.
#[derive(Debug)]
pub enum LockError {
    /// Another run holds it; the text says who.
    Held(String),
    Io(io::Error),
}

/// A held job lock; dropping it releases the lock.
pub trait LockGuard: Send {}

/// The conditional writes of an object store, which has no rename: points are published by
/// writing their manifest only where none is (`If-None-Match`), and replaced only over the
/// version read (`If-Match`).
pub trait Objects {
    /// Writes `data` at `path` unless something is there; `false` when something was.
    fn put_new(&self, path: &Path, data: Vec<u8>) -> io::Result<bool>;
    /// The object at `path` and its version tag.
    fn get_tagged(&self, path: &Path) -> io::Result<Option<(Vec<u8>, String)>>;
    /// Replaces the object at `path` if it is still version `tag`; `false` when it is not.
    fn put_if_match(&self, path: &Path, data: Vec<u8>, tag: &str) -> io::Result<bool>;
    /// Readies the publication of a point in `job_dir`, just before its manifest is written:
    /// renews the job lock (an error when this run no longer holds it), and makes sure that
    /// what every point needs outlasts the new one (an error when it cannot).
    fn before_publish(&self, job_dir: &Path) -> io::Result<()>;
    /// Reclaims the space of what the job deleted where the store only hid it (earlier versions
    /// no retention holds any more); says what it did, if anything. Call with the lock held.
    fn reclaim(&self, job_dir: &Path) -> io::Result<Option<String>>;
}

/// A repository's file system. Paths are relative to the repository root; `Path::new("")` is the
/// root itself. Every call may block on the network; errors carry the OS or protocol reason.
pub trait Target: Send + Sync + std::fmt::Debug {
    /// How the repository is named in messages (`/mnt/backup`, `//host/share/dir`).
    fn describe(&self) -> String;
    /// The repository root as a local directory, when it is one.
    fn local_root(&self) -> Option<&Path> {
        None
    }
    /// Whether `path` exists and is a directory.
    fn is_dir(&self, path: &Path) -> io::Result<bool>;
    /// Creates one directory; fails if it exists.
    fn create_dir(&self, path: &Path) -> io::Result<()>;
    /// Removes an empty directory.
    fn remove_dir(&self, path: &Path) -> io::Result<()>;
    /// The names in a directory (without `.` and `..`), in no particular order.
    fn list(&self, path: &Path) -> io::Result<Vec<DirEntry>>;
    /// Creates (or truncates) a file for writing.
    fn create(&self, path: &Path) -> io::Result<Box<dyn RepoFile>>;
    /// Creates a file that must not exist yet.
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn RepoFile>>;
    /// Opens a file for reading.
    fn open(&self, path: &Path) -> io::Result<Box<dyn Read + Send>>;
    /// Renames a file or directory; fails if `to` exists as a non-empty directory.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Makes a directory's entries (creates, renames, removals) durable.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// Size and free space of the file system the repository is on.
    fn space(&self) -> io::Result<Space>;
    /// Takes the job lock file at `path`, recording `holder`.
    fn lock(&self, path: &Path, holder: &str) -> Result<Box<dyn LockGuard>, LockError>;
    /// An object store's conditional writes; `None` for file systems, which publish by rename.
    fn objects(&self) -> Option<&dyn Objects> {
        None
    }

    /// Creates a directory and its missing parents.
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let mut cur = std::path::PathBuf::new();
        for c in path.components() {
            cur.push(c);
            if !self.is_dir(&cur)? {
                match self.create_dir(&cur) {
                    Ok(()) => {}
                    // Another run created it meanwhile.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }
    /// Removes a directory and everything below it.
    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        for e in self.list(path)? {
            let child = path.join(&e.name);
            if e.is_dir {
                self.remove_dir_all(&child)?;
            } else {
                self.remove_file(&child)?;
            }
        }
        self.remove_dir(path)
    }
    /// A whole (small) file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.open(path)?.read_to_end(&mut out)?;
        Ok(out)
    }
    /// Whether `path` exists (file or directory).
    fn exists(&self, path: &Path) -> io::Result<bool> {
        let parent = path.parent().unwrap_or(Path::new(""));
        let Some(name) = path.file_name() else {
            return self.is_dir(path);
        };
        match self.list(parent) {
            Ok(entries) => Ok(entries.iter().any(|e| name == e.name.as_str())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Shared handle to a target.
pub type SharedTarget = Arc<dyn Target>;
