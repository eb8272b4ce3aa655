//! A repository that is a directory on this host (a local disk or a share mounted by the OS).

use super::{DirEntry, LockError, LockGuard, RepoFile, Space, Target};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct LocalTarget {
    root: PathBuf,
}

impl LocalTarget {
    pub fn new(root: impl Into<PathBuf>) -> LocalTarget {
        LocalTarget { root: root.into() }
    }

    fn at(&self, path: &Path) -> PathBuf {
        if path.as_os_str().is_empty() {
            self.root.clone()
        } else {
            self.root.join(path)
        }
    }
}

impl Target for LocalTarget {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn local_root(&self) -> Option<&Path> {
        Some(&self.root)
    }

    fn is_dir(&self, path: &Path) -> io::Result<bool> {
        match std::fs::metadata(self.at(path)) {
            Ok(m) => Ok(m.is_dir()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    // Restore points are private whatever the caller's umask: 0700 directories, 0600 files.
    fn create_dir(&self, path: &Path) -> io::Result<()> {
        std::fs::DirBuilder::new().mode(0o700).create(self.at(path))
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(self.at(path))
    }

    fn list(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
        std::fs::read_dir(self.at(path))?
            .map(|e| {
                let e = e?;
                Ok(DirEntry {
                    name: e.file_name().to_string_lossy().into_owned(),
                    is_dir: e.file_type()?.is_dir(),
                })
            })
            .collect()
    }

    fn create(&self, path: &Path) -> io::Result<Box<dyn RepoFile>> {
        let f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(self.at(path))?;
        Ok(Box::new(LocalFile::new(f)))
    }

    fn create_new(&self, path: &Path) -> io::Result<Box<dyn RepoFile>> {
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(self.at(path))?;
        Ok(Box::new(LocalFile::new(f)))
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(File::open(self.at(path))?))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(self.at(from), self.at(to))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(self.at(path))
    }

    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir(self.at(path))
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_dir_all(self.at(path))
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        File::open(self.at(path))?.sync_all()
    }

    fn space(&self) -> io::Result<Space> {
        let s = nix::sys::statvfs::statvfs(&self.root).map_err(io::Error::from)?;
        let frag = s.fragment_size() as u64;
        Ok(Space {
            size: s.blocks() as u64 * frag,
            free: s.blocks_available() as u64 * frag,
        })
    }

    fn lock(&self, path: &Path, holder: &str) -> Result<Box<dyn LockGuard>, LockError> {
        let path = self.at(path);
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(LockError::Io)?;
        match nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock) {
            Ok(mut l) => {
                // Who holds it, for the message another process will show.
                let _ = l.set_len(0);
                let _ = writeln!(&mut *l, "{holder}");
                Ok(Box::new(LocalLock { _flock: l }))
            }
            Err((_, _)) => Err(LockError::Held(
                std::fs::read_to_string(&path)
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            )),
        }
    }
}

struct LocalLock {
    _flock: nix::fcntl::Flock<File>,
}
impl LockGuard for LocalLock {}

/// A file whose data a second thread starts writing back every 64 MiB, so the final fsync finds
/// little left to flush: disk writes overlap with compression instead of following it.
struct LocalFile {
    file: File,
    flusher: Flusher,
}

impl LocalFile {
    fn new(file: File) -> LocalFile {
        let flusher = Flusher::new(&file);
        LocalFile { file, flusher }
    }
}

impl Write for LocalFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl RepoFile for LocalFile {
    fn commit(mut self: Box<Self>) -> io::Result<()> {
        self.flusher.stop();
        self.file.flush()?;
        self.file.sync_all()
    }
    fn write_back(&mut self) {
        self.flusher.kick();
    }
}

struct Flusher {
    tx: Option<std::sync::mpsc::SyncSender<()>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Flusher {
    fn new(file: &File) -> Flusher {
        let Ok(dup) = file.try_clone() else {
            return Flusher {
                tx: None,
                handle: None,
            };
        };
        let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
        let handle = std::thread::Builder::new()
            .name("zdm-flush".into())
            .spawn(move || {
                while rx.recv().is_ok() {
                    let _ = dup.sync_data();
                }
            })
            .ok();
        Flusher {
            tx: Some(tx),
            handle,
        }
    }

    fn kick(&mut self) {
        if let Some(tx) = &self.tx {
            // A flush already pending covers this data too.
            let _ = tx.try_send(());
        }
    }

    fn stop(&mut self) {
        self.tx.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.stop();
    }
}
