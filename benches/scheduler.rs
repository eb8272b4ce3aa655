//! Scheduler scale and punctuality, with the release daemon:
//!
//! 1. start-up time to "listening" and resident memory with 10,000 scheduled jobs, against the
//!    same daemon with no jobs (reference), medians of 3 starts each;
//! 2. 500 jobs due in the same minute (small source trees, default concurrency 2): every due run
//!    recorded, lateness from the due minute to `Processing` (p50/p99/max), and the first runs'
//!    lateness against one job due alone (reference), in the same invocation.
//!
//! Run: `cargo bench --bench scheduler` (env BENCH_JOBS, default 10000; BENCH_DUE, default 500).
//! Targets (issue #4): start-up < 3 s and RSS < 200 MiB with 10,000 jobs; every due run recorded;
//! the first runs start within 1 s of the due minute.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_zdm-backupd");

fn env_num(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Daemon {
    child: Child,
    base: String,
    token: String,
    lines: Arc<Mutex<Vec<String>>>,
    ready_after: Duration,
}

impl Daemon {
    fn start(state: &Path, src: &Path) -> Daemon {
        let t0 = Instant::now();
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--server-name", "bench"])
            .arg("--state-dir")
            .arg(state)
            .arg("--extra-partition")
            .arg(src)
            .env_remove("ZDM_BACKUPD_CONFIG")
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the release daemon");
        let (tx, rx) = mpsc::channel();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(i) = line.find("listening on http://") {
                    if let Some(tx) = tx.take() {
                        let addr = line[i + 20..].split_whitespace().next().unwrap_or("");
                        let _ = tx.send(addr.to_string());
                    }
                }
                sink.lock().unwrap().push(line);
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("daemon started");
        let ready_after = t0.elapsed();
        let base = format!("http://{addr}");
        let pw = std::fs::read_to_string(state.join("admin-password")).unwrap();
        let tok: Value = ureq::post(&format!("{base}/api/token/issue"))
            .send_json(json!({"email": "admin@localhost", "password": pw.trim()}))
            .unwrap()
            .into_json()
            .unwrap();
        Daemon {
            child,
            base,
            token: format!("Bearer {}", tok["data"]["token"].as_str().unwrap()),
            lines,
            ready_after,
        }
    }

    /// Resident set size now and at its peak, in MiB.
    fn rss_mib(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kb = |key: &str| -> f64 {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
                / 1024.0
        };
        (kb("VmRSS:"), kb("VmHWM:"))
    }

    fn register(&self, body: Value) {
        let r = ureq::post(&format!("{}/api/backups", self.base))
            .set("Authorization", &self.token)
            .send_json(body);
        assert!(
            r.is_ok(),
            "registration failed: {:?}",
            r.err().map(|e| e.to_string())
        );
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

fn job_body(src: &Path, repo: &Path, name: &str, time: &str) -> Value {
    json!({"center": 1, "server": 1, "type": "full", "partition": [src],
           "individual": [{"partition": src, "jobName": name}],
           "repository": {"type": "nfs", "path": repo},
           "schedule": {"type": 3, "basic": {"time": time}}})
}

/// Registers `n` jobs named `<prefix>-<i>` from 16 client threads.
fn register_many(d: &Daemon, src: &Path, repo: &Path, prefix: &str, n: usize, time: &str) {
    let next = Arc::new(Mutex::new(0usize));
    std::thread::scope(|s| {
        for _ in 0..16 {
            let next = next.clone();
            s.spawn(move || loop {
                let i = {
                    let mut g = next.lock().unwrap();
                    *g += 1;
                    *g
                };
                if i > n {
                    break;
                }
                d.register(job_body(src, repo, &format!("{prefix}-{i}"), time));
            });
        }
    });
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn small_tree(dir: &Path) {
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    for i in 0..10 {
        std::fs::write(
            dir.join(format!("sub/f{i}.txt")),
            format!("file {i}\n").repeat(100),
        )
        .unwrap();
    }
}

/// A daily time at least 20 s away, and its instant.
fn next_minute() -> (String, chrono::DateTime<chrono::Local>) {
    use chrono::Timelike;
    let now = chrono::Local::now();
    let mut t =
        now.with_second(0).unwrap().with_nanosecond(0).unwrap() + chrono::Duration::minutes(1);
    if (t - now).num_seconds() < 20 {
        t += chrono::Duration::minutes(1);
    }
    (t.format("%H:%M").to_string(), t)
}

/// Waits until `n` "run finished" lines are logged; returns the `late_ms` of every start.
fn wait_runs(d: &Daemon, n: usize, timeout: Duration) -> (Vec<f64>, usize) {
    let deadline = Instant::now() + timeout;
    loop {
        let lines = d.lines.lock().unwrap().clone();
        let finished = lines.iter().filter(|l| l.contains("run finished")).count();
        if finished >= n || Instant::now() > deadline {
            let late: Vec<f64> = lines
                .iter()
                .filter(|l| l.contains("run started"))
                .filter_map(|l| l.split("late_ms=").nth(1))
                .filter_map(|v| v.split_whitespace().next()?.parse().ok())
                .collect();
            return (late, finished);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn main() {
    let jobs = env_num("BENCH_JOBS", 10_000);
    let due = env_num("BENCH_DUE", 500);
    let tmp = tempfile::tempdir().unwrap();
    let src: PathBuf = tmp.path().join("src");
    let repo = tmp.path().join("repo");
    small_tree(&src);
    std::fs::create_dir_all(&repo).unwrap();

    // 1. Start-up with no jobs and with `jobs` jobs.
    let empty_state = tmp.path().join("empty");
    let mut ref_start = Vec::new();
    let mut ref_rss = Vec::new();
    for _ in 0..3 {
        let d = Daemon::start(&empty_state, &src);
        std::thread::sleep(Duration::from_secs(1));
        ref_start.push(d.ready_after.as_secs_f64());
        ref_rss.push(d.rss_mib().0);
        d.stop();
    }
    let big_state = tmp.path().join("big");
    let d = Daemon::start(&big_state, &src);
    let t = Instant::now();
    // Far from now so no slot falls inside the benchmark.
    let far = (chrono::Local::now() + chrono::Duration::hours(6))
        .format("%H:%M")
        .to_string();
    register_many(&d, &src, &repo, "job", jobs, &far);
    println!(
        "registered {jobs} jobs in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    d.stop();
    let mut start = Vec::new();
    let mut rss = Vec::new();
    let mut peak = Vec::new();
    for _ in 0..3 {
        let d = Daemon::start(&big_state, &src);
        std::thread::sleep(Duration::from_secs(1));
        let r: Value = ureq::get(&format!("{}/api/backups?limit=1&page=1", d.base))
            .set("Authorization", &d.token)
            .call()
            .unwrap()
            .into_json()
            .unwrap();
        assert_eq!(r["pagination"]["totalItems"], jobs, "all jobs listed");
        assert_ne!(r["data"][0]["job"]["info"]["nextRun"], "-", "timers armed");
        start.push(d.ready_after.as_secs_f64());
        let (now, hwm) = d.rss_mib();
        rss.push(now);
        peak.push(hwm);
        d.stop();
    }
    let (s_ref, s) = (median(ref_start), median(start));
    let (r_ref, r) = (median(ref_rss), median(rss));
    println!(
        "start-up to listening: {s:.2} s with {jobs} jobs vs {s_ref:.2} s empty (ratio {:.1}x)",
        s / s_ref
    );
    println!("RSS after start: {r:.0} MiB with {jobs} jobs (peak {:.0} MiB) vs {r_ref:.0} MiB empty (ratio {:.1}x)", median(peak), r / r_ref);

    // 2. Punctuality: one job alone (reference), then `due` jobs in the same minute.
    let lateness = |n: usize, label: &str| -> Vec<f64> {
        let state = tmp.path().join(format!("due-{label}"));
        let d = Daemon::start(&state, &src);
        let (time, at) = next_minute();
        register_many(&d, &src, &repo, label, n, &time);
        let wait = (at - chrono::Local::now()).to_std().unwrap_or_default();
        std::thread::sleep(wait);
        let (mut late, finished) = wait_runs(&d, n, Duration::from_secs(600));
        d.stop();
        assert_eq!(late.len(), n, "{label}: every due run started");
        assert_eq!(finished, n, "{label}: every due run finished");
        late.sort_by(|a, b| a.partial_cmp(b).unwrap());
        late
    };
    let single = lateness(1, "single");
    let many = lateness(due, "many");
    println!("one due job: started {:.0} ms after its minute", single[0]);
    println!(
        "{due} due jobs (concurrency 2): all {} recorded and finished; first start {:.0} ms, p50 {:.0} ms, p99 {:.0} ms, last {:.0} ms after the minute",
        many.len(),
        many[0],
        percentile(&many, 0.5),
        percentile(&many, 0.99),
        many[many.len() - 1]
    );
    println!(
        "first start vs a job due alone: {:.2}x",
        many[0].max(1.0) / single[0].max(1.0)
    );
}
