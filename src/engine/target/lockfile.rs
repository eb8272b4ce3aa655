//! Job locks on shares, where `flock(2)` does not reach: `LOCK.held` is created exclusively and
//! holds `pid N on HOST (lock ID)`; it is removed when the run ends. One left behind by a
//! process of this host that is gone, or by an earlier run of this very process that could not
//! remove it (the share went away mid-run), is taken over.

use super::{LockError, LockGuard, Target};
use std::collections::HashSet;
use std::io::{self, Write};
use std::path::Path;
use std::sync::{LazyLock, Mutex, MutexGuard};

/// Ids of the share locks this process holds now.
fn live() -> MutexGuard<'static, HashSet<String>> {
    static LIVE: LazyLock<Mutex<HashSet<String>>> = LazyLock::new(Default::default);
    LIVE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Takes the lock next to `path` (`LOCK` -> `LOCK.held`); `release` removes the file.
pub fn take(
    t: &dyn Target,
    path: &Path,
    holder: &str,
    release: impl FnOnce() + Send + 'static,
) -> Result<Box<dyn LockGuard>, LockError> {
    let held = path.with_extension("held");
    let id = uuid::Uuid::new_v4().to_string();
    let me = format!("{holder} on {} (lock {id})", crate::host::hostname());
    for _ in 0..2 {
        match t.create_new(&held) {
            Ok(mut f) => {
                live().insert(id.clone());
                let guard = FileLock {
                    id,
                    release: Some(Box::new(release)),
                };
                f.write_all(me.as_bytes()).map_err(LockError::Io)?;
                f.commit().map_err(LockError::Io)?;
                return Ok(Box::new(guard));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let text = String::from_utf8_lossy(&t.read(&held).unwrap_or_default())
                    .trim()
                    .to_string();
                if stale(&text) {
                    let _ = t.remove_file(&held);
                    continue;
                }
                return Err(LockError::Held(text));
            }
            Err(e) => return Err(LockError::Io(e)),
        }
    }
    Err(LockError::Held(format!(
        "{} could not be taken over",
        held.display()
    )))
}

/// A lock written by this host for a process that is gone, or by this process for a run that
/// has ended.
fn stale(text: &str) -> bool {
    let Some(rest) = text.strip_prefix("pid ") else {
        return false;
    };
    let Some((pid, rest)) = rest.split_once(" on ") else {
        return false;
    };
    let (host, id) = match rest.split_once(" (lock ") {
        Some((h, id)) => (h, id.trim_end_matches(')')),
        None => (rest, ""),
    };
    let Ok(pid) = pid.trim().parse::<i32>() else {
        return false;
    };
    if host.trim() != crate::host::hostname() {
        return false;
    }
    if pid == std::process::id() as i32 {
        return !live().contains(id);
    }
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) == Err(nix::errno::Errno::ESRCH)
}

struct FileLock {
    id: String,
    release: Option<Box<dyn FnOnce() + Send>>,
}

impl LockGuard for FileLock {}

impl Drop for FileLock {
    fn drop(&mut self) {
        if let Some(r) = self.release.take() {
            r();
        }
        live().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_locks_are_those_of_dead_local_processes_and_ended_runs() {
        let host = crate::host::hostname();
        let me = std::process::id();
        live().insert("live-id".into());
        assert!(!stale(&format!("pid {me} on {host} (lock live-id)")));
        assert!(stale(&format!("pid {me} on {host} (lock ended-id)")));
        assert!(stale(&format!("pid {} on {host} (lock x)", i32::MAX - 7)));
        assert!(!stale(&format!("pid {} on another-host", i32::MAX - 7)));
        assert!(!stale("garbage"));
    }
}
