//! NFS repositories reached directly (user-space NFSv3), against a real nfs-ganesha (VFS
//! backend) started on loopback ports with its own configuration, registered with `rpcbind`.
//! Needs root and Debian's `nfs-ganesha`, `nfs-ganesha-vfs` and `rpcbind`; CI installs them.
//! One test function: ganesha registers its services with the host's one portmapper, so two
//! servers at once would replace each other's registrations.

mod common;

use common::run::{cli, done, free_port, names, ok, wait_partial, wait_run};
use common::tree::{assert_same, have_tools, is_root, noise, snapshot, write};
use common::Daemon;
use serde_json::json;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Ganesha {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl Ganesha {
    fn start() -> Option<Ganesha> {
        if !is_root() {
            eprintln!("SKIPPED: nfs-ganesha needs root");
            return None;
        }
        if !have_tools("nfs", &["ganesha.nfsd", "rpcbind", "rpcinfo"]) {
            return None;
        }
        // The host's portmapper: ganesha registers NFS and MOUNT there, clients look them up.
        if Command::new("rpcinfo")
            .args(["-p", "127.0.0.1"])
            .output()
            .map(|o| !o.status.success())
            .unwrap_or(true)
        {
            let _ = std::fs::create_dir_all("/run/rpcbind");
            let ok = Command::new("rpcbind").arg("-w").status().unwrap();
            assert!(ok.success(), "rpcbind did not start");
        }
        let dir = tempfile::tempdir().unwrap();
        let (port, mnt) = (free_port(), free_port());
        for sub in ["export", "readonly"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        let p = |s: &str| dir.path().join(s).display().to_string();
        std::fs::write(
            dir.path().join("ganesha.conf"),
            format!(
                "NFS_CORE_PARAM {{ NFS_Port = {port}; MNT_Port = {mnt}; NLM_Port = {}; \
                 Rquota_Port = {}; Protocols = 3; Enable_NLM = false; Enable_RQUOTA = false; \
                 Bind_addr = 127.0.0.1; }}\n\
                 NFSV4 {{ Graceless = true; }}\n\
                 EXPORT {{ Export_Id = 1; Path = {}; Pseudo = /export; Protocols = 3; \
                 Transports = TCP; Access_Type = RW; Squash = No_Root_Squash; SecType = sys; \
                 FSAL {{ Name = VFS; }} }}\n\
                 EXPORT {{ Export_Id = 2; Path = {}; Pseudo = /readonly; Protocols = 3; \
                 Transports = TCP; Access_Type = RO; Squash = No_Root_Squash; SecType = sys; \
                 FSAL {{ Name = VFS; }} }}\n\
                 LOG {{ Default_Log_Level = EVENT; }}\n",
                free_port(),
                free_port(),
                p("export"),
                p("readonly"),
            ),
        )
        .unwrap();
        let mut g = Ganesha {
            dir,
            port,
            child: None,
        };
        g.run();
        Some(g)
    }

    fn run(&mut self) {
        let d = self.dir.path();
        let child = Command::new("ganesha.nfsd")
            .arg("-F")
            .arg("-L")
            .arg(d.join("ganesha.log"))
            .arg("-f")
            .arg(d.join("ganesha.conf"))
            .arg("-p")
            .arg(d.join("ganesha.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let log = std::fs::read_to_string(d.join("ganesha.log")).unwrap_or_default();
            if log.contains("NFS SERVER INITIALIZED")
                && std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            {
                break;
            }
            assert!(Instant::now() < deadline, "ganesha did not start:\n{log}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = c.wait();
        }
    }

    fn url(&self, export: &str) -> String {
        format!(
            "127.0.0.1:{}:{}",
            self.port,
            self.dir.path().join(export).display()
        )
    }

    fn export(&self) -> PathBuf {
        self.dir.path().join("export")
    }
}

impl Drop for Ganesha {
    fn drop(&mut self) {
        self.kill();
    }
}

#[test]
fn nfs_exports_round_trip_and_fail_cleanly() {
    let Some(mut g) = Ganesha::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write(&src.join("a.txt"), b"hello\n");
    write(&src.join("dir/b.bin"), &noise(2 << 20, 3));
    let url = g.url("export");

    // The command line: full, incremental with rotation, verify, restore.
    let common = [
        "--repository",
        url.as_str(),
        "--server",
        "srv",
        "--job",
        "cli",
    ];
    let backup = |mode: &str| {
        let mut a = vec!["backup", "--source", src.to_str().unwrap(), "--mode", mode];
        a.extend(["--rotation", "2", "--json"]);
        a.extend(common);
        done(&cli(&a))
    };
    assert_eq!(backup("full")["kind"], "full");
    write(&src.join("a.txt"), b"changed\n");
    assert_eq!(backup("increment")["kind"], "incr");
    write(&src.join("c.txt"), b"new\n");
    let third = backup("increment");
    assert!(third["notes"].to_string().contains("merged"), "{third}");
    let mut a = vec!["verify"];
    a.extend(common);
    ok(&cli(&a));
    let target = tmp.path().join("restore-cli");
    let mut a = vec!["restore", "--target", target.to_str().unwrap()];
    a.extend(common);
    ok(&cli(&a));
    assert_same(&snapshot(&src, &[]), &snapshot(&target, &[]), "cli");

    // Each failure names its step.
    for (repo, want) in [
        (
            format!("127.0.0.1:{}:/no/such/export", g.port),
            "step 'export'",
        ),
        (
            format!("127.0.0.1:{}:/export", free_port()),
            "step 'connect': connection refused",
        ),
    ] {
        let o = cli(&["points", "--repository", &repo, "--job", "cli"]);
        assert_eq!(o.status.code(), Some(1));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(want), "{repo}: {err}");
    }

    let cfg = tmp.path().join("config.toml");
    std::fs::write(&cfg, "[runner]\nshare_timeout_seconds = 4\n").unwrap();
    let d = Daemon::start(&[
        "--config",
        cfg.to_str().unwrap(),
        "--server-name",
        "srv",
        "--extra-partition",
        src.to_str().unwrap(),
    ]);
    // Verify: a read-only export fails at `write`, the real one passes.
    let verify = |path: &str| {
        d.post(
            "/api/zdms/repositories/verify",
            json!({"center": 1, "type": "nfs", "path": path}),
        )
    };
    let r = verify(&g.url("readonly"));
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["detail"]["step"], "write", "{}", r.body);
    assert!(
        r.body["error"].as_str().unwrap().contains("read-only"),
        "{}",
        r.body
    );
    let r = verify(&url);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"]["checks"][1], "export");

    // A daemon job on the export: full, then a throttled run during which the server dies.
    let r = d.post(
        "/api/backups",
        json!({"center": 1, "server": 1, "type": "increment", "partition": [src.to_str().unwrap()],
               "repository": {"type": "nfs", "path": url}, "rotation": 5, "compression": "not use",
               "individual": [{"partition": src.to_str().unwrap(), "jobName": "onnfs"}]}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let id = d.get("/api/backups/onnfs").body["data"]["job"]["info"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let start = || {
        let r = d.put("/api/backups/onnfs", json!({"status": "start"}));
        assert_eq!(r.status, 200, "{}", r.body);
    };
    start();
    let first = wait_run(&d, &id, 60, |r| r["run"]["state"] == "complete");
    write(&src.join("big.bin"), &noise(12 << 20, 5));
    assert_eq!(
        d.put("/api/backups/onnfs", json!({"networkLimit": 2}))
            .status,
        200
    );
    start();
    let job_dir = g.export().join("srv/onnfs");
    wait_partial(&job_dir);
    std::thread::sleep(Duration::from_secs(2));
    g.kill();
    let killed = Instant::now();
    let failed = wait_run(&d, &id, 60, |r| r["run"]["state"] == "error");
    assert!(
        killed.elapsed() < Duration::from_secs(30),
        "{:?}",
        killed.elapsed()
    );
    assert_ne!(failed["run"]["error"], "-", "{failed:#}");

    // The server returns: the next run succeeds, removes the partial directory, and the
    // points verify and restore straight from the export.
    g.run();
    start();
    let done_run = wait_run(&d, &id, 90, |r| {
        r["run"]["state"] == "complete" && r["id"] != first["id"]
    });
    assert_eq!(done_run["run"]["kind"], "incremental", "{done_run:#}");
    assert!(
        !names(&job_dir)
            .iter()
            .any(|n| n.starts_with(".partial-") || n == "LOCK.held"),
        "{:?}",
        names(&job_dir)
    );
    let j = d.get("/api/backups/onnfs");
    assert_eq!(
        j.body["data"]["job"]["restorePoints"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "{:#}",
        j.body
    );
    let common = [
        "--repository",
        url.as_str(),
        "--server",
        "srv",
        "--job",
        "onnfs",
        "--state-dir",
        d.state.to_str().unwrap(),
    ];
    let mut a = vec!["verify"];
    a.extend(common);
    ok(&cli(&a));
    let target = tmp.path().join("restore-daemon");
    let point = done_run["run"]["restorePoint"].as_str().unwrap();
    let mut a = vec![
        "restore",
        "--target",
        target.to_str().unwrap(),
        "--point",
        point,
    ];
    a.extend(common);
    ok(&cli(&a));
    assert_same(&snapshot(&src, &[]), &snapshot(&target, &[]), "daemon");
}
