//! Before/after scripts: executed directly (no shell), in their own process group, with the
//! job's details in the environment, output captured, and killed with their children when they
//! run too long or the run is canceled.

use crate::engine::CancelToken;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::io::Read;
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

/// Decision D11 again at run time: the file may have changed since registration.
pub fn check_trusted(path: &Path) -> Result<(), String> {
    crate::api::backups::check_script(&path.to_string_lossy())
}

pub fn run(
    path: &Path,
    env: &[(&str, String)],
    timeout: Duration,
    cancel: &CancelToken,
) -> ScriptOutcome {
    if let Err(why) = check_trusted(path) {
        return ScriptOutcome {
            ok: false,
            summary: format!("not run: {why}"),
            output: String::new(),
        };
    }
    let mut cmd = Command::new(path);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .current_dir("/")
        .process_group(0);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = match cmd.spawn() {
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
