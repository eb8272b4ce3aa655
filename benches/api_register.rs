//! Registration throughput: the release daemon over HTTP from 32 concurrent clients, against the
//! same registrations committed directly through SQLite (same pragmas, same code path below
//! HTTP) in a tight loop, in one invocation.
//!
//! Run: `cargo bench --bench api_register` (optional env: BENCH_SECONDS, default 10;
//! BENCH_CLIENTS, default 32). Targets (issue #2): >= 2000 registrations/s, p99 < 50 ms,
//! >= 50% of the direct-SQLite rate.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use zdm_backupd::db::{jobs, Db};
use zdm_backupd::domain::ids::UserId;
use zdm_backupd::domain::job::{parse_registration, HostProbe};
use zdm_backupd::domain::registration::Host;

const BIN: &str = env!("CARGO_BIN_EXE_zdm-backupd");

fn env_num(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn body(name: &str) -> Value {
    json!({"center": 1, "server": "bench", "type": "full", "partition": ["/"], "jobName": name,
           "repository": {"type": "nfs", "path": "/backup/bench"},
           "schedule": {"type": 3, "basic": {"time": "02:00"}}})
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn http_run(seconds: u64, clients: u64) -> (f64, f64, f64, usize) {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--server-name",
            "bench",
            "--state-dir",
        ])
        .arg(tmp.path().join("state"))
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the release daemon");
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(i) = line.find("listening on http://") {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(
                        line[i + 20..]
                            .split_whitespace()
                            .next()
                            .unwrap_or("")
                            .to_string(),
                    );
                }
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("daemon started");
    let base = format!("http://{addr}");
    let pw = std::fs::read_to_string(tmp.path().join("state/admin-password")).unwrap();
    let tok: Value = ureq::post(&format!("{base}/api/token/issue"))
        .send_json(json!({"email": "admin@localhost", "password": pw.trim()}))
        .unwrap()
        .into_json()
        .unwrap();
    let auth = format!("Bearer {}", tok["data"]["token"].as_str().unwrap());
    // Warm-up: connections, page cache, prepared statements.
    for i in 0..200 {
        let r = ureq::post(&format!("{base}/api/backups"))
            .set("Authorization", &auth)
            .send_json(body(&format!("warm-{i}")));
        assert_eq!(r.map(|r| r.status()).unwrap_or(0), 201);
    }
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let base = base.clone();
            let auth = auth.clone();
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new()
                    .max_idle_connections_per_host(1)
                    .build();
                let mut lat = Vec::new();
                let mut errors = 0usize;
                let mut i = 0u64;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let r = agent
                        .post(&format!("{base}/api/backups"))
                        .set("Authorization", &auth)
                        .send_json(body(&format!("c{c}-{i}")));
                    match r {
                        Ok(r) if r.status() == 201 => lat.push(t.elapsed().as_secs_f64() * 1000.0),
                        _ => errors += 1,
                    }
                    i += 1;
                }
                (lat, errors)
            })
        })
        .collect();
    let mut lat = Vec::new();
    let mut errors = 0;
    for h in handles {
        let (l, e) = h.join().unwrap();
        lat.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let _ = child.kill();
    let _ = child.wait();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (
        lat.len() as f64 / elapsed,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        errors,
    )
}

struct NoIo;
impl HostProbe for NoIo {
    fn is_local_dir(&self, _: &str) -> bool {
        false
    }
    fn check_script(&self, _: &str) -> Result<(), zdm_backupd::domain::invalid::Invalid> {
        Ok(())
    }
}

/// The same registrations (parse, plan, one BEGIN IMMEDIATE transaction) straight into SQLite.
fn direct_run(seconds: u64) -> f64 {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(&tmp.path().join("direct.db")).unwrap();
    db.write_blocking(|tx| {
        tx.execute_batch(
            "INSERT INTO users (id, email, password_hash, created_at, updated_at) VALUES (1, 'admin@localhost', 'x', 0, 0);
             INSERT INTO centers VALUES (1, 'bench', 'bench', 'i', 'm', 'os', 0, 0);
             INSERT INTO servers VALUES (1, 1, 'bench', 'os', 'k', 0, 0);",
        )
        .map_err(zdm_backupd::db::DbError::from)
    })
    .unwrap();
    let host = Host {
        center_id: 1,
        center_name: "bench".into(),
        server_id: 1,
        server_name: "bench".into(),
        partitions: vec!["/".into()],
    };
    let now = chrono::Local::now().naive_local();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut n = 0u64;
    while Instant::now() < deadline {
        let req = parse_registration(&body(&format!("d-{n}")), &NoIo, now).unwrap();
        jobs::register_blocking(&db, &req, &host, UserId(1), now, |_| false).unwrap();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    // `cargo bench` passes --bench; other harness flags are ignored.
    let seconds = env_num("BENCH_SECONDS", 10);
    let clients = env_num("BENCH_CLIENTS", 32);
    println!("api_register: {clients} clients for {seconds} s against the release daemon, then direct SQLite");
    let (rate, p50, p99, errors) = http_run(seconds, clients);
    let direct = direct_run(seconds);
    let ratio = rate / direct;
    println!("http registrations/s   {rate:10.0}   (errors: {errors})");
    println!("http latency p50 ms    {p50:10.2}");
    println!("http latency p99 ms    {p99:10.2}");
    println!("direct sqlite reg/s    {direct:10.0}");
    println!("http / direct ratio    {ratio:10.2}");
    let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };
    println!("target >= 2000/s        {}", verdict(rate >= 2000.0));
    println!("target p99 < 50 ms      {}", verdict(p99 < 50.0));
    println!("target ratio >= 0.50    {}", verdict(ratio >= 0.5));
}
