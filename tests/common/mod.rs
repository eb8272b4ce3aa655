//! Test harness: runs the real `zdm-backupd` binary on an ephemeral loopback port with its own
//! temporary state directory, and talks to it over real HTTP.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_zdm-backupd");

/// A directory for test scripts that the daemon will run: scripts are refused unless every
/// directory above them is root-owned and not writable by others, which rules out /tmp.
pub fn script_dir() -> tempfile::TempDir {
    let base = Path::new("/var/lib/zdm-backupd-tests");
    std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
        .create(base)
        .expect("create /var/lib/zdm-backupd-tests (tests that run scripts need root)");
    tempfile::tempdir_in(base).expect("tempdir")
}

/// The state directory (authentication key, repository registry) of operator commands run by
/// this test process: one per process, so tests never touch the checkout's `state/`.
pub fn cli_state() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("tempdir"))
        .path()
}

pub struct Daemon {
    child: Child,
    pub base: String,
    pub state: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    args: Vec<String>,
    pub logs: Arc<Mutex<String>>,
    token: Mutex<Option<String>>,
}

pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub request_id_header: Option<String>,
    pub headers: Vec<(String, String)>,
}

impl Resp {
    /// A header's value (names are matched without regard to case).
    #[allow(dead_code)]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Daemon {
    /// Starts a daemon with a fresh state directory.
    pub fn start(args: &[&str]) -> Daemon {
        let tmp = tempfile::tempdir().expect("tempdir");
        let state = tmp.path().join("state");
        let mut d = Self::spawn(&state, args.iter().map(|s| s.to_string()).collect());
        d._tmp = Some(tmp);
        d
    }

    fn spawn(state: &Path, args: Vec<String>) -> Daemon {
        let mut child = Command::new(BIN)
            .arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--state-dir")
            .arg(state)
            .args(&args)
            .env_remove("ZDM_BACKUPD_CONFIG")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn daemon");
        let stderr = child.stderr.take().unwrap();
        let logs = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let sink = logs.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(i) = line.find("listening on http") {
                    // The whole URL: http://ADDR or https://ADDR.
                    let addr = line[i + 13..]
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .to_string();
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(addr);
                    }
                }
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                panic!("daemon did not start; log:\n{}", logs.lock().unwrap());
            }
        };
        Daemon {
            child,
            base: addr,
            state: state.to_path_buf(),
            _tmp: None,
            args,
            logs,
            token: Mutex::new(None),
        }
    }

    /// Stops the daemon and starts it again on the same state directory.
    pub fn restart(mut self) -> Daemon {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let tmp = self._tmp.take();
        let mut d = Self::spawn(&self.state, self.args.clone());
        d._tmp = tmp;
        d
    }

    /// Kills the daemon (SIGKILL), keeps it down for `pause`, starts it on the same state.
    pub fn restart_after(&mut self, pause: Duration) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(pause);
        let mut d = Self::spawn(&self.state, self.args.clone());
        std::mem::swap(&mut self.child, &mut d.child);
        self.base = d.base.clone();
        self.logs = d.logs.clone();
        *self.token.lock().unwrap() = None;
        // `d` now owns the dead child; dropping it must not touch the state directory.
        d._tmp = None;
    }

    /// Stops the daemon; the returned directory keeps the state alive.
    pub fn stop(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self._tmp.take().expect("started with its own tempdir")
    }

    pub fn admin_password(&self) -> String {
        std::fs::read_to_string(self.state.join("admin-password"))
            .unwrap()
            .trim()
            .to_string()
    }

    pub fn token(&self) -> String {
        let mut t = self.token.lock().unwrap();
        if t.is_none() {
            let r = self.call("POST", "/api/token/issue", Some(serde_json::json!({"email": "admin@localhost", "password": self.admin_password()})), None);
            assert_eq!(r.status, 201, "token issue: {}", r.body);
            *t = Some(r.body["data"]["token"].as_str().unwrap().to_string());
        }
        t.clone().unwrap()
    }

    /// A request with an explicit Authorization header value (or none).
    pub fn call(&self, method: &str, path: &str, body: Option<Value>, auth: Option<&str>) -> Resp {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(60))
            .build();
        let mut req = agent.request(method, &format!("{}{path}", self.base));
        if let Some(a) = auth {
            req = req.set("Authorization", a);
        }
        let res = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        to_resp(res)
    }

    pub fn raw(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
        auth: bool,
    ) -> Resp {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(60))
            .build();
        let mut req = agent.request(method, &format!("{}{path}", self.base));
        if auth {
            req = req.set("Authorization", &format!("Bearer {}", self.token()));
        }
        if let Some(ct) = content_type {
            req = req.set("Content-Type", ct);
        }
        to_resp(req.send_bytes(body))
    }

    pub fn get(&self, path: &str) -> Resp {
        let t = format!("Bearer {}", self.token());
        self.call("GET", path, None, Some(&t))
    }
    pub fn post(&self, path: &str, body: Value) -> Resp {
        let t = format!("Bearer {}", self.token());
        self.call("POST", path, Some(body), Some(&t))
    }
    pub fn put(&self, path: &str, body: Value) -> Resp {
        let t = format!("Bearer {}", self.token());
        self.call("PUT", path, Some(body), Some(&t))
    }
    pub fn delete(&self, path: &str) -> Resp {
        let t = format!("Bearer {}", self.token());
        self.call("DELETE", path, None, Some(&t))
    }

    /// A read-only connection to the daemon's real SQLite file.
    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open_with_flags(
            self.state.join("zdm-backupd.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap()
    }

    /// Row counts of the tables a registration writes.
    pub fn counts(&self) -> (i64, i64, i64) {
        let db = self.db();
        let c = |t: &str| {
            db.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap()
        };
        (c("jobs"), c("schedules"), c("repositories"))
    }

    pub fn log_text(&self) -> String {
        self.logs.lock().unwrap().clone()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn to_resp(res: Result<ureq::Response, ureq::Error>) -> Resp {
    let r = match res {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    let status = r.status();
    let headers = r
        .headers_names()
        .into_iter()
        .filter_map(|n| r.header(&n).map(|v| (n.clone(), v.to_string())))
        .collect();
    let request_id_header = r.header("x-request-id").map(String::from);
    let text = r.into_string().unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Resp {
        status,
        body,
        request_id_header,
        headers,
    }
}

/// A daemon for server `srv` whose partition `src` was filled by `fill`, and an empty local
/// repository directory `repo`. As root (CI) `src` is a loop-mounted ext4 file system, a real
/// partition; otherwise a directory given as an extra partition.
pub struct PartitionEnv {
    pub d: Daemon,
    pub src: PathBuf,
    pub repo: PathBuf,
    pub tmp: tempfile::TempDir,
    /// Unmounted when the environment is dropped (after the daemon stopped using it).
    pub fs: Option<tree::LoopFs>,
}

pub fn partition_env(fill: impl FnOnce(&Path)) -> PartitionEnv {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let fs = tree::is_root().then(|| tree::LoopFs::new(64));
    let src = match &fs {
        Some(fs) => {
            // mkfs leaves lost+found, which is not part of the tree under test.
            let _ = std::fs::remove_dir(fs.mount.join("lost+found"));
            fs.mount.clone()
        }
        None => tmp.path().join("src"),
    };
    std::fs::create_dir_all(&src).unwrap();
    fill(&src);
    let d = Daemon::start(&[
        "--server-name",
        "srv",
        "--extra-partition",
        src.to_str().unwrap(),
    ]);
    PartitionEnv {
        d,
        src,
        repo,
        tmp,
        fs,
    }
}

/// Checks the ZDM error envelope: status, `success:false`, message (unless empty), request ID
/// (UUID v4, same as the header) and timestamp format.
pub fn assert_error(r: &Resp, status: u16, message: &str) {
    assert_eq!(r.status, status, "body: {}", r.body);
    assert_eq!(r.body["success"], false, "body: {}", r.body);
    if !message.is_empty() {
        assert_eq!(r.body["error"], message, "body: {}", r.body);
    }
    assert_envelope(r);
}

pub fn assert_envelope(r: &Resp) {
    let id = r.body["requestID"].as_str().expect("requestID");
    let parsed = uuid::Uuid::parse_str(id).expect("requestID is a UUID");
    assert_eq!(parsed.get_version_num(), 4);
    assert_eq!(r.request_id_header.as_deref(), Some(id));
    let ts = r.body["timestamp"].as_str().expect("timestamp");
    assert!(
        chrono::NaiveDateTime::parse_from_str(ts, "%Y-%m-%d %H:%M:%S").is_ok(),
        "timestamp {ts}"
    );
}
pub mod points;
pub mod run;
pub mod seaweed;
pub mod smtp;
pub mod tree;
