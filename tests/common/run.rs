//! Running the CLI and waiting for daemon runs, for the repository tests.

use super::{Daemon, BIN};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Runs the CLI without a configuration file.
pub fn cli(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("ZDM_BACKUPD_CONFIG")
        .env("ZDM_BACKUPD_STATE_DIR", super::cli_state())
        .output()
        .unwrap()
}

/// What a CLI run printed, and its exit code.
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the CLI without a configuration file, with `state` as its state directory.
pub fn cli_in<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(state: &Path, args: I) -> Out {
    let o = Command::new(BIN)
        .args(args)
        .env_remove("ZDM_BACKUPD_CONFIG")
        .env("ZDM_BACKUPD_STATE_DIR", state)
        .output()
        .unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into(),
        stderr: String::from_utf8_lossy(&o.stderr).into(),
    }
}

/// Asserts success and returns standard output.
pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The `done` event of a successful `--json` backup.
pub fn done(o: &Output) -> Value {
    ok(o)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["event"] == "done")
        .expect("a done event")
}

/// The names in a directory, sorted (none if it does not exist).
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A loopback port nobody listens on (now).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits for a history row of job `id` that satisfies `pred`.
pub fn wait_run(d: &Daemon, id: &str, secs: u64, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let r = d.get(&format!("/api/backups/histories?jobId={id}&sort=asc"));
        if let Some(row) = r.body["data"].as_array().unwrap().iter().find(|r| pred(r)) {
            return row.clone();
        }
        assert!(
            Instant::now() < deadline,
            "timed out; history {:#}\nlog:\n{}",
            r.body["data"],
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until a run of the job is writing into a partial directory under `job_dir`.
pub fn wait_partial(job_dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !names(job_dir).iter().any(|n| n.starts_with(".partial-")) {
        assert!(Instant::now() < deadline, "the run never started writing");
        std::thread::sleep(Duration::from_millis(100));
    }
}
