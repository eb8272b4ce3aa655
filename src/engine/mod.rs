//! The backup engine (design: `BACKUP-FORMAT.md`, decisions in `docs/ENGINE.md`): restore points
//! as standard tar -> zstd -> age streams with a catalog and a manifest, published atomically,
//! rotated with full+incremental merges, restored and verified by streaming.
//!
//! Synchronous: no HTTP, no SQLite, no tokio. Callers pass a plan, a progress sink and a cancel
//! token; the CLI and the daemon's runner use the same functions.

pub mod archive;
pub mod backup;
pub mod catalog;
pub mod content_check;
pub mod delta;
pub mod entry;
pub mod export;
pub mod index;
pub mod keys;
pub mod private_file;
pub mod repo;
pub mod restore;
pub mod rotate;
pub mod s3;
pub mod safe_fs;
pub mod stream;
pub mod target;
pub mod trust;
pub mod verify;
pub mod walk;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Usage(String),
    #[error("job {0} is locked by another process ({1}); try again when it has finished")]
    Locked(String, String),
    #[error("the run was canceled")]
    Canceled,
    #[error("the repository is full: {0}")]
    NoSpace(String),
    #[error("restore point is damaged: {0}")]
    Corrupt(String),
    #[error(
        "this restore point is encrypted; it needs the age identity (key file) for recipient {0}"
    )]
    KeyNeeded(String),
    #[error("{0}")]
    NotFound(String),
}

impl EngineError {
    /// Gives an I/O error its context, and names a full disk as such.
    pub fn io(context: impl std::fmt::Display, e: std::io::Error) -> EngineError {
        if e.raw_os_error() == Some(nix::libc::ENOSPC)
            || e.kind() == std::io::ErrorKind::StorageFull
        {
            EngineError::NoSpace(format!("{context}: no space left on device"))
        } else {
            EngineError::Io(std::io::Error::new(e.kind(), format!("{context}: {e}")))
        }
    }
}

/// Cooperative cancellation, checked at file boundaries.
#[derive(Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_canceled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
    pub fn check(&self) -> Result<(), EngineError> {
        if self.is_canceled() {
            Err(EngineError::Canceled)
        } else {
            Ok(())
        }
    }
}

/// Where a run stands.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ProgressState {
    pub phase: &'static str,
    pub files: u64,
    pub bytes: u64,
    pub total_files: u64,
    pub total_bytes: u64,
    pub current: String,
    /// Entries a restore left as they were (the overwrite policy kept them).
    pub skipped: u64,
    /// Set once the run's restore point is published (the rotation that follows may still be
    /// interrupted; the point is complete).
    pub point: Option<(String, bool)>,
}

pub trait Progress: Send + Sync {
    fn update(&self, state: &ProgressState);
}

/// A sink that ignores progress.
pub struct NoProgress;

impl Progress for NoProgress {
    fn update(&self, _: &ProgressState) {}
}

/// Where a job's restore points live: `<server>/<job>` inside a repository.
#[derive(Debug, Clone)]
pub struct JobLocation {
    pub target: target::SharedTarget,
    pub server: String,
    pub job: String,
    /// The host key that authenticates points, and where repositories are recorded.
    pub trust: trust::Trust,
}

/// Whether `name` can be one directory name inside a repository: not empty, not `.` or `..`,
/// no `/` or NUL, at most 255 bytes.
pub fn is_component(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name.len() <= 255
        && !name.contains(['/', '\0'])
}

impl JobLocation {
    /// Refuses server and job names that would not be exactly one directory each: `..` or an
    /// empty server name would put points outside the job's place in the repository.
    pub fn check(&self) -> Result<(), EngineError> {
        for (what, v) in [("server", &self.server), ("job", &self.job)] {
            if !is_component(v) {
                return Err(EngineError::Usage(format!(
                    "{what} name {v:?} cannot be a directory name in the repository (it must \
                     not be empty, '.' or '..', contain '/' or be over 255 bytes)"
                )));
            }
        }
        Ok(())
    }

    /// The job directory, relative to the repository root.
    pub fn dir(&self) -> std::path::PathBuf {
        std::path::Path::new(&self.server).join(&self.job)
    }
    /// The job directory as messages name it.
    pub fn describe(&self) -> String {
        repo::describe(&*self.target, &self.dir())
    }
}
