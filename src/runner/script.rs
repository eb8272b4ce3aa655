//! Before/after scripts: executed directly (no shell), in their own process group, with the
//! job's details in the environment, output captured, and killed with their children when they
//! run too long or the run is canceled.

use crate::engine::CancelToken;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Output kept per script; the rest is dropped with a note.
const OUTPUT_LIMIT: usize = 64 * 1024;

#[derive(Debug)]
pub struct ScriptOutcome {
    pub ok: bool,
    /// One line for history: `exit 0`, `exit 3`, `killed after 30 s timeout`, ...
    pub summary: String,
    pub output: String,
}

/// Why a script is not run (decision D11, house rule 6). The text is what registration answers
/// and what the run's history says.
#[derive(Debug, thiserror::Error)]
pub enum ScriptRefused {
    #[error("scriptPath must be an absolute path, got '{0}'")]
    NotAbsolute(String),
    #[error("scriptPath '{0}' must name a file without '.' or '..' components")]
    DotComponents(String),
    #[error("scriptPath '{0}' does not exist")]
    Missing(String),
    #[error("scriptPath '{path}': {at} is a symlink or not a directory; give the real path")]
    NotADirectory { path: String, at: String },
    #[error(
        "scriptPath '{path}': the directory {at} must be owned by root and not writable by group \
         or others (owner uid {uid}, mode {mode:04o})"
    )]
    UnsafeDirectory {
        path: String,
        at: String,
        uid: u32,
        mode: u32,
    },
    #[error("scriptPath '{0}' is a symlink; give the real path")]
    Symlink(String),
    #[error("scriptPath '{0}' is not a regular file")]
    NotAFile(String),
    #[error("scriptPath '{path}' must be owned by root (it is owned by uid {uid})")]
    NotRootOwned { path: String, uid: u32 },
    #[error(
        "scriptPath '{path}' must not be writable by group or others (mode {mode:04o}); run chmod \
         go-w on it"
    )]
    Writable { path: String, mode: u32 },
    #[error("scriptPath '{path}' is not executable by its owner (mode {mode:04o})")]
    NotExecutable { path: String, mode: u32 },
    #[error("scriptPath '{path}': {at}: {source}")]
    Io {
        path: String,
        at: String,
        source: rustix::io::Errno,
    },
}

/// Opens a script the way it will be run, and checks what was opened (decision D11 and house
/// rule 6: scripts run as root, so only root may be able to change them or the way to them).
/// Every directory from `/` down is opened without following symlinks and must be owned by
/// root and not writable by group or others; the file itself must be a root-owned regular file,
/// executable, not writable by group or others. The descriptor is what runs, so the file cannot
/// be swapped between the check and the exec.
pub fn open_trusted(path: &str) -> Result<OwnedFd, ScriptRefused> {
    use rustix::fs::{fstat, openat, FileType, Mode, OFlags, CWD};
    use rustix::io::Errno;
    use ScriptRefused as R;
    let p = || path.to_string();
    let io = |at: &str| {
        let at = at.to_string();
        move |source| R::Io {
            path: p(),
            at,
            source,
        }
    };
    if !path.starts_with('/') {
        return Err(R::NotAbsolute(p()));
    }
    let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    if comps.is_empty() || comps.iter().any(|c| *c == "." || *c == "..") {
        return Err(R::DotComponents(p()));
    }
    let dir_flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut dir = openat(CWD, "/", dir_flags, Mode::empty()).map_err(io("/"))?;
    let mut here = String::new();
    let check_dir = |fd: &OwnedFd, at: &str| -> Result<(), ScriptRefused> {
        let st = fstat(fd).map_err(io(at))?;
        if st.st_uid != 0 || st.st_mode & 0o022 != 0 {
            return Err(R::UnsafeDirectory {
                path: p(),
                at: at.to_string(),
                uid: st.st_uid,
                mode: st.st_mode & 0o7777,
            });
        }
        Ok(())
    };
    check_dir(&dir, "/")?;
    let (file, parents) = comps.split_last().expect("non-empty");
    for c in parents {
        here.push('/');
        here.push_str(c);
        dir = openat(&dir, *c, dir_flags, Mode::empty()).map_err(|e| match e {
            Errno::NOENT => R::Missing(p()),
            Errno::NOTDIR | Errno::LOOP => R::NotADirectory {
                path: p(),
                at: here.clone(),
            },
            e => io(&here)(e),
        })?;
        check_dir(&dir, &here)?;
    }
    let fd = openat(
        &dir,
        *file,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
    )
    .map_err(|e| match e {
        Errno::NOENT => R::Missing(p()),
        Errno::LOOP => R::Symlink(p()),
        e => io("cannot be read")(e),
    })?;
    let st = fstat(&fd).map_err(io("stat"))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(R::NotAFile(p()));
    }
    if st.st_uid != 0 {
        return Err(R::NotRootOwned {
            path: p(),
            uid: st.st_uid,
        });
    }
    let mode = st.st_mode & 0o7777;
    if mode & 0o022 != 0 {
        return Err(R::Writable { path: p(), mode });
    }
    if mode & 0o100 == 0 {
        return Err(R::NotExecutable { path: p(), mode });
    }
    Ok(fd)
}

/// The registration-time check: the same as at run time.
pub fn check_script(path: &str) -> Result<(), ScriptRefused> {
    open_trusted(path).map(drop)
}

pub fn run(
    path: &Path,
    env: &[(&str, String)],
    timeout: Duration,
    cancel: &CancelToken,
) -> ScriptOutcome {
    let checked = match open_trusted(&path.to_string_lossy()) {
        Ok(fd) => fd,
        Err(why) => {
            return ScriptOutcome {
                ok: false,
                summary: format!("not run: {why}"),
                output: String::new(),
            }
        }
    };
    // The checked file runs through its descriptor. A duplicate without close-on-exec stays
    // open in the child so that an interpreter (`#!`) can read the script through the same
    // /proc path; it is closed here right after the spawn.
    let inherited = match rustix::io::dup(&checked) {
        Ok(fd) => fd,
        Err(e) => {
            return ScriptOutcome {
                ok: false,
                summary: format!("could not start: {e}"),
                output: String::new(),
            }
        }
    };
    let mut cmd = Command::new(format!("/proc/self/fd/{}", inherited.as_raw_fd()));
    cmd.arg0(path);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .current_dir("/")
        .process_group(0);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let spawned = cmd.spawn();
    drop(inherited);
    drop(checked);
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            return ScriptOutcome {
                ok: false,
                summary: format!("could not start: {e}"),
                output: String::new(),
            }
        }
    };
    let collect = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let mut chunk = [0u8; 8192];
                while let Ok(n) = r.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    if buf.len() < OUTPUT_LIMIT {
                        buf.extend_from_slice(&chunk[..n.min(OUTPUT_LIMIT - buf.len())]);
                    }
                }
            }
            buf
        })
    };
    let out = collect(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err = collect(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let pgid = Pid::from_raw(child.id() as i32);
    let started = Instant::now();
    let mut killed: Option<String> = None;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) => {}
            Err(_) => break None,
        }
        let why = if started.elapsed() >= timeout {
            Some(format!("killed after the {} s timeout", timeout.as_secs()))
        } else if cancel.is_canceled() {
            Some("killed: the run was canceled".to_string())
        } else {
            None
        };
        if let Some(why) = why {
            // The whole group: a script's children must not outlive it holding our pipes.
            let _ = killpg(pgid, Signal::SIGKILL);
            killed = Some(why);
            break child.wait().ok();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = killpg(pgid, Signal::SIGKILL);
    let mut output = String::from_utf8_lossy(&out.join().unwrap_or_default()).into_owned();
    let e = err.join().unwrap_or_default();
    if !e.is_empty() {
        output.push_str(&String::from_utf8_lossy(&e));
    }
    let (ok, summary) = match (killed, status) {
        (Some(why), _) => (false, why),
        (None, Some(st)) if st.success() => (true, "exit 0".to_string()),
        (None, Some(st)) => match (st.code(), st.signal()) {
            (Some(c), _) => (false, format!("exit {c}")),
            (None, Some(s)) => (false, format!("killed by signal {s}")),
            _ => (false, "failed".to_string()),
        },
        (None, None) => (false, "could not wait for the script".to_string()),
    };
    ScriptOutcome {
        ok,
        summary,
        output,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn script(path: &Path, body: &str) {
        std::fs::write(path, body).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn paths_through_symlinks_or_open_directories_are_refused() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("SKIPPED: needs root");
            return;
        }
        let d = tempfile::tempdir().unwrap();
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let good = d.path().join("good.sh");
        script(&good, "#!/bin/sh\necho original\n");
        // tempdir lives in /tmp (world-writable): refused for that alone.
        let e = check_script(good.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("/tmp") && e.contains("not writable"), "{e}");
        // A root-owned chain: accepted; a symlink to the same script, or a group-writable
        // directory on the way, is refused.
        let safe =
            Path::new("/var/lib/zdm-backupd-tests").join(format!("unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&safe);
        std::fs::create_dir_all(&safe).unwrap();
        std::fs::set_permissions(&safe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let ok = safe.join("ok.sh");
        script(&ok, "#!/bin/sh\necho original\n");
        check_script(ok.to_str().unwrap()).unwrap();
        let link = safe.join("link.sh");
        std::os::unix::fs::symlink(&ok, &link).unwrap();
        let e = check_script(link.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("symlink"), "{e}");
        let sub = safe.join("open");
        std::fs::create_dir(&sub).unwrap();
        script(&sub.join("s.sh"), "#!/bin/sh\n");
        std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o775)).unwrap();
        let e = check_script(sub.join("s.sh").to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("not writable"), "{e}");
        let dirlink = safe.join("dirlink");
        std::os::unix::fs::symlink(&safe, &dirlink).unwrap();
        let e = check_script(dirlink.join("ok.sh").to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("symlink"), "{e}");
        let _ = std::fs::remove_dir_all(&safe);
    }

    #[test]
    fn the_checked_file_is_the_one_that_runs() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("SKIPPED: needs root");
            return;
        }
        let base =
            &Path::new("/var/lib/zdm-backupd-tests").join(format!("run-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(base);
        std::fs::create_dir_all(base).unwrap();
        std::fs::set_permissions(base, std::fs::Permissions::from_mode(0o755)).unwrap();
        let p = base.join("s.sh");
        script(&p, "#!/bin/sh\necho original\n");
        let fd = open_trusted(p.to_str().unwrap()).unwrap();
        // Swap the file after the check: the descriptor still names the original.
        let other = base.join("other.sh");
        script(&other, "#!/bin/sh\necho swapped\n");
        std::fs::rename(&other, &p).unwrap();
        let dup = rustix::io::dup(&fd).unwrap();
        let out = Command::new(format!("/proc/self/fd/{}", dup.as_raw_fd()))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "original\n");
        let r = run(
            p.as_path(),
            &[],
            Duration::from_secs(5),
            &CancelToken::new(),
        );
        assert!(r.ok, "{r:?}");
        assert_eq!(r.output, "swapped\n");
        let _ = std::fs::remove_dir_all(base);
    }
}
