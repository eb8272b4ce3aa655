//! SMB repositories reached directly (the pure-Rust SMB client), against a real Samba `smbd` started on a
//! loopback port with its own configuration and a user with a password. Needs root (smbd and
//! `force user`) and Debian's `samba`; CI installs it.

mod common;

use common::run::{cli, done, free_port, names, ok, wait_partial, wait_run};
use common::tree::{assert_same, have_tools, is_root, noise, snapshot, write};
use common::{Daemon, BIN};
use serde_json::json;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const USER: &str = "nobody";
const PASSWORD: &str = "zdm-s3cret pass";

/// A private smbd serving one share, `backup`, on a loopback port.
struct Samba {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl Samba {
    fn start() -> Option<Samba> {
        if !is_root() {
            eprintln!("SKIPPED: smbd with `force user` needs root");
            return None;
        }
        if !have_tools("smb", &["smbd", "smbpasswd"]) {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let d = dir.path();
        for sub in [
            "private", "lock", "state", "cache", "run", "ncalrpc", "share",
        ] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        let p = |s: &str| d.join(s).display().to_string();
        std::fs::write(
            d.join("smb.conf"),
            format!(
                "[global]\n  server role = standalone server\n  smb ports = {port}\n\
                 interfaces = 127.0.0.1\n  bind interfaces only = yes\n  private dir = {}\n\
                 lock directory = {}\n  state directory = {}\n  cache directory = {}\n\
                 pid directory = {}\n  ncalrpc dir = {}\n  log file = {}\n\
                 passdb backend = tdbsam:{}\n  map to guest = never\n  disable netbios = yes\n\
                 disable spoolss = yes\n  load printers = no\n  server min protocol = SMB2\n\
                 [backup]\n  path = {}\n  read only = no\n  valid users = {USER}\n\
                 force user = root\n",
                p("private"),
                p("lock"),
                p("state"),
                p("cache"),
                p("run"),
                p("ncalrpc"),
                p("log.smbd"),
                p("private/passdb.tdb"),
                p("share"),
            ),
        )
        .unwrap();
        let mut pw = Command::new("smbpasswd")
            .args(["-c", &p("smb.conf"), "-s", "-a", USER])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        use std::io::Write;
        pw.stdin
            .take()
            .unwrap()
            .write_all(format!("{PASSWORD}\n{PASSWORD}\n").as_bytes())
            .unwrap();
        assert!(pw.wait().unwrap().success(), "smbpasswd failed");
        let mut s = Samba {
            dir,
            port,
            child: None,
        };
        s.run();
        Some(s)
    }

    /// Starts smbd in a process group of its own (it forks one child per connection).
    fn run(&mut self) {
        let child = Command::new("smbd")
            .args(["-F", "--no-process-group", "-s"])
            .arg(self.dir.path().join("smb.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "smbd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn signal(&self, sig: nix::sys::signal::Signal) {
        if let Some(c) = &self.child {
            let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(c.id() as i32), sig);
        }
    }

    /// Kills smbd and every connection it serves.
    fn kill(&mut self) {
        self.signal(nix::sys::signal::Signal::SIGCONT);
        self.signal(nix::sys::signal::Signal::SIGKILL);
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
    }

    fn url(&self) -> String {
        format!("//127.0.0.1:{}/backup", self.port)
    }

    fn share(&self) -> PathBuf {
        self.dir.path().join("share")
    }

    /// A 0600 credentials file for the share's user.
    fn credentials(&self, password: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let f = self.dir.path().join(format!("cred-{}", password.len()));
        std::fs::write(&f, format!("username={USER}\npassword={password}\n")).unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        f
    }
}

impl Drop for Samba {
    fn drop(&mut self) {
        self.kill();
    }
}

#[test]
fn cli_backs_up_rotates_restores_and_recovers_on_a_share() {
    let Some(smb) = Samba::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write(&src.join("a.txt"), b"first\n");
    write(&src.join("dir/big.bin"), &noise(3 << 20, 1));
    write(&src.join("dir/sub/c.txt"), b"c\n");
    let cred = smb.credentials(PASSWORD);
    let url = smb.url();
    let common = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "--repository",
            url.as_str(),
            "--credentials",
            cred.to_str().unwrap(),
            "--server",
            "srv",
            "--job",
            "j",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let run = |args: Vec<String>| cli(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let backup = |mode: &str| {
        let mut a = vec![
            "backup".to_string(),
            "--source".into(),
            src.display().to_string(),
        ];
        a.extend(common(&["--mode", mode, "--rotation", "2", "--json"]));
        run(a)
    };

    // Full, then two incrementals: rotation keeps two points by merging the oldest pair.
    let first = done(&backup("full"));
    assert_eq!(first["kind"], "full");
    write(&src.join("a.txt"), b"second\n");
    std::fs::remove_file(src.join("dir/sub/c.txt")).unwrap();
    let second = done(&backup("increment"));
    assert_eq!(second["kind"], "incr");
    let second_tree = snapshot(&src, &[]);
    write(&src.join("new.txt"), b"third\n");
    let third = done(&backup("increment"));
    assert!(
        third["notes"].to_string().contains("merged"),
        "rotation merged: {third}"
    );
    let job_dir = smb.share().join("srv/j");
    let points: Vec<String> = names(&job_dir)
        .into_iter()
        .filter(|n| n.starts_with("20"))
        .collect();
    assert_eq!(points.len(), 2, "{points:?}");
    // Every point verifies when read back over SMB.
    let mut a = vec!["verify".to_string()];
    a.extend(common(&[]));
    ok(&run(a));
    // Restores straight from the share match the source, latest and older.
    let target = tmp.path().join("restore-latest");
    let mut a = vec![
        "restore".to_string(),
        "--target".into(),
        target.display().to_string(),
    ];
    a.extend(common(&[]));
    ok(&run(a));
    assert_same(&snapshot(&src, &[]), &snapshot(&target, &[]), "latest");
    let older = tmp.path().join("restore-older");
    let mut a = vec![
        "restore".to_string(),
        "--target".into(),
        older.display().to_string(),
        "--point".into(),
        second["point"].as_str().unwrap().into(),
    ];
    a.extend(common(&[]));
    ok(&run(a));
    assert_same(&second_tree, &snapshot(&older, &[]), "the second point");

    // A backup killed mid-write leaves a partial directory and a lock file; the next run
    // removes the first and takes the second over (its process is gone).
    write(&src.join("slow.bin"), &noise(6 << 20, 9));
    let mut a = vec![
        "backup".to_string(),
        "--source".into(),
        src.display().to_string(),
    ];
    a.extend(common(&[
        "--mode",
        "full",
        "--rotation",
        "2",
        "--compression",
        "not-use",
        "--network-limit",
        "1",
    ]));
    let mut slow = Command::new(BIN)
        .args(&a)
        .env_remove("ZDM_BACKUPD_CONFIG")
        .env("ZDM_BACKUPD_STATE_DIR", common::cli_state())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !names(&job_dir).iter().any(|n| n.starts_with(".partial-")) {
        assert!(Instant::now() < deadline, "no partial directory appeared");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(700));
    slow.kill().unwrap();
    slow.wait().unwrap();
    let left = names(&job_dir);
    assert!(left.iter().any(|n| n.starts_with(".partial-")), "{left:?}");
    assert!(left.iter().any(|n| n == "LOCK.held"), "{left:?}");
    let after = done(&backup("increment"));
    assert!(
        after["notes"]
            .to_string()
            .contains("left by an interrupted run"),
        "{after}"
    );
    let left = names(&job_dir);
    assert!(
        !left
            .iter()
            .any(|n| n.starts_with(".partial-") || n == "LOCK.held"),
        "{left:?}"
    );
    let target = tmp.path().join("restore-after-crash");
    let mut a = vec![
        "restore".to_string(),
        "--target".into(),
        target.display().to_string(),
    ];
    a.extend(common(&[]));
    ok(&run(a));
    assert_same(&snapshot(&src, &[]), &snapshot(&target, &[]), "after crash");

    // Wrong password, unknown share, nobody listening: each says which step failed.
    let bad = smb.credentials("wrong password, longer");
    for (repo, cred, want) in [
        (url.clone(), &bad, "step 'authenticate': access denied"),
        (
            format!("//127.0.0.1:{}/nosuch", smb.port),
            &cred,
            "step 'share': no such share 'nosuch'",
        ),
        (
            format!("//127.0.0.1:{}/backup", free_port()),
            &cred,
            "step 'connect': connection refused",
        ),
    ] {
        let o = cli(&[
            "points",
            "--repository",
            &repo,
            "--credentials",
            cred.to_str().unwrap(),
            "--job",
            "j",
        ]);
        assert_eq!(o.status.code(), Some(1));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(want), "{repo}: {err}");
        assert!(!err.contains(PASSWORD) && !err.contains("wrong password"));
    }
    // A credentials file others can read is refused before anything is sent.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&cred, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = cli(&[
        "points",
        "--repository",
        &url,
        "--credentials",
        cred.to_str().unwrap(),
        "--job",
        "j",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("mode 0600"));
}

#[test]
fn daemon_runs_jobs_on_a_share_and_fails_cleanly_when_the_server_goes_away() {
    let Some(mut smb) = Samba::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write(&src.join("a.txt"), b"hello\n");
    write(&src.join("dir/b.bin"), &noise(200_000, 3));
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
    let url = smb.url();

    // Verify: wrong password and unknown share name their step; the right login passes.
    let verify = |path: &str, password: &str| {
        d.post(
            "/api/zdms/repositories/verify",
            json!({"center": 1, "type": "smb", "path": path, "account": USER, "password": password}),
        )
    };
    let r = verify(&url, "nope");
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["detail"]["step"], "authenticate", "{}", r.body);
    assert!(!r.body.to_string().contains("nope"));
    let r = verify(&format!("//127.0.0.1:{}/other", smb.port), PASSWORD);
    assert_eq!(r.body["detail"]["step"], "share", "{}", r.body);
    let r = verify(&url, PASSWORD);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"]["result"], "SUCCESS");
    assert_eq!(r.body["data"]["checks"][1], "authenticate");
    assert!(r.body["data"]["free"]["raw"].as_u64().unwrap() > 0);
    assert_eq!(
        names(&smb.share()),
        Vec::<String>::new(),
        "verify leaves nothing"
    );

    // The repository keeps the login in a 0600 file; the API never shows the password.
    let r = d.post(
        "/api/zdms/repositories",
        json!({"center": 1, "type": "smb", "path": url, "account": USER, "password": PASSWORD}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let listed = d.get("/api/zdms/repositories");
    assert!(!listed.body.to_string().contains(PASSWORD));
    assert!(!d.log_text().contains(PASSWORD));

    let r = d.post(
        "/api/backups",
        json!({"center": 1, "server": 1, "type": "increment", "partition": [src.to_str().unwrap()],
               "repository": {"type": "smb", "path": url}, "rotation": 5, "compression": "not use",
               "individual": [{"partition": src.to_str().unwrap(), "jobName": "onshare"}]}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let job = d.get("/api/backups/onshare");
    let id = job.body["data"]["job"]["info"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let start = || {
        let r = d.put("/api/backups/onshare", json!({"status": "start"}));
        assert_eq!(r.status, 200, "{}", r.body);
    };
    start();
    let first = wait_run(&d, &id, 60, |r| r["run"]["state"] == "complete");
    assert_eq!(first["run"]["kind"], "full");

    // A bigger, throttled run; the server freezes mid-run (a network cut: no reset, no
    // answers). The run fails within the share timeout instead of hanging.
    write(&src.join("big.bin"), &noise(12 << 20, 5));
    let r = d.put("/api/backups/onshare", json!({"networkLimit": 2}));
    assert_eq!(r.status, 200, "{}", r.body);
    start();
    let job_dir = smb.share().join("srv/onshare");
    wait_partial(&job_dir);
    std::thread::sleep(Duration::from_secs(2));
    smb.signal(nix::sys::signal::Signal::SIGSTOP);
    let frozen = Instant::now();
    let failed = wait_run(&d, &id, 60, |r| r["run"]["state"] == "error");
    let took = frozen.elapsed();
    assert!(took < Duration::from_secs(40), "failing took {took:?}");
    let err = failed["run"]["error"].as_str().unwrap();
    assert!(!err.is_empty() && err != "-", "{failed:#}");

    // The server comes back (a fresh smbd); older points are intact, the next run succeeds
    // and removes what the failed one left.
    smb.kill();
    smb.run();
    start();
    let done = wait_run(&d, &id, 90, |r| {
        r["run"]["state"] == "complete" && r["id"] != first["id"]
    });
    assert!(
        !names(&job_dir).iter().any(|n| n.starts_with(".partial-")),
        "{:?}",
        names(&job_dir)
    );
    assert_eq!(done["run"]["kind"], "incremental", "{done:#}");
    // The job view lists the points on the share.
    let j = d.get("/api/backups/onshare");
    assert!(
        j.body["data"]["job"]["restorePoints"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == done["run"]["restorePoint"]),
        "{:#}",
        j.body
    );
    // A recovery through the API reads the newest point back from the share (R1, R4).
    let recovered = tmp.path().join("recovered");
    let r = d.post(
        "/api/recoveries",
        json!({"center": 1, "source": "srv", "target": "srv", "repository": {"type": "smb", "path": url},
               "mode": "full", "verify": "use", "autoStart": "use", "jobName": "from-share",
               "jobList": [{"sourcePartition": src.to_str().unwrap(), "targetPartition": recovered,
                            "backupJob": "onshare"}]}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.body["data"]["partitions"][0]["backup"]["backupFile"],
        done["run"]["restorePoint"]
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let h = loop {
        let h = d.get("/api/recoveries/histories/from-share");
        if h.status == 200 && h.body["data"][0]["result"]["status"] != "RUNNING" {
            break h.body["data"][0].clone();
        }
        assert!(Instant::now() < deadline, "{}", h.body);
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(h["result"]["status"], "COMPLETE", "{h:#}");
    assert_eq!(h["result"]["verify"]["status"], "ok", "{h:#}");
    assert_same(
        &snapshot(&src, &[]),
        &snapshot(&recovered, &[]),
        "recovered from the share",
    );

    let cred = smb.credentials(PASSWORD);
    let o = cli(&[
        "verify",
        "--repository",
        &url,
        "--credentials",
        cred.to_str().unwrap(),
        "--server",
        "srv",
        "--job",
        "onshare",
        "--state-dir",
        d.state.to_str().unwrap(),
    ]);
    ok(&o);
    let target = tmp.path().join("restored");
    ok(&cli(&[
        "restore",
        "--state-dir",
        d.state.to_str().unwrap(),
        "--repository",
        &url,
        "--credentials",
        cred.to_str().unwrap(),
        "--server",
        "srv",
        "--job",
        "onshare",
        "--point",
        done["run"]["restorePoint"].as_str().unwrap(),
        "--target",
        target.to_str().unwrap(),
    ]));
    assert_same(&snapshot(&src, &[]), &snapshot(&target, &[]), "onshare");

    // The server killed mid-run (connections reset): the run fails at once; the next one,
    // with the server back, succeeds.
    write(&src.join("big.bin"), &noise(12 << 20, 6));
    start();
    wait_partial(&job_dir);
    std::thread::sleep(Duration::from_secs(1));
    smb.kill();
    let killed = Instant::now();
    let reset = wait_run(&d, &id, 30, |r| {
        r["run"]["state"] == "error" && r["id"] != failed["id"]
    });
    assert!(
        killed.elapsed() < Duration::from_secs(15),
        "{:?}",
        killed.elapsed()
    );
    assert_ne!(reset["run"]["error"], "-", "{reset:#}");
    smb.run();
    start();
    let done = wait_run(&d, &id, 90, |r| {
        r["run"]["state"] == "complete" && r["id"] != first["id"] && r["id"] != done["id"]
    });

    // A rename moves the job's restore points on the share.
    let r = d.put("/api/backups/onshare", json!({"changeName": "renamed"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!job_dir.exists());
    assert!(names(&smb.share().join("srv/renamed"))
        .contains(&done["run"]["restorePoint"].as_str().unwrap().to_string()));
    let start = || {
        let r = d.put("/api/backups/renamed", json!({"status": "start"}));
        assert_eq!(r.status, 200, "{}", r.body);
    };
    // Lists and metrics know a share's points and free space from the inventory of the last
    // run (they read 0 or null before), without reaching the share per request.
    let on_share = names(&smb.share().join("srv/renamed"))
        .iter()
        .filter(|n| !n.starts_with('.') && n.as_str() != "JOB.json" && !n.starts_with("LOCK"))
        .count() as u64;
    let list = d.get("/api/backups?detail=true");
    assert_eq!(
        list.body["data"][0]["job"]["info"]["restorePointCount"], on_share,
        "{}",
        list.body
    );
    let repos = d.get("/api/zdms/repositories");
    let item = &repos.body["data"][0];
    assert!(item["free"].as_u64().unwrap() > 0, "{}", repos.body);
    assert_ne!(item["spaceCheckedAt"], "-");
    let m = d.call("GET", "/metrics", None, None);
    assert_eq!(m.status, 200);
    let metrics = m.body.as_str().map(String::from).unwrap_or_default();
    assert!(
        metrics.contains(&format!(
            "zdm_job_restore_points{{job=\"renamed\"}} {on_share}"
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains("zdm_repository_free_bytes{repository=\"//127.0.0.1"),
        "{metrics}"
    );

    // With the server gone for good, a run fails at the preflight, saying so.
    smb.kill();
    // A rename whose points cannot be moved changes nothing, not even the other fields of the
    // request (the move runs before the commit, outside the single database writer).
    let options = |r: &common::Resp| r.body["data"]["job"]["info"]["options"].clone();
    let before = options(&d.get("/api/backups/renamed?detail=true"));
    let r = d.put(
        "/api/backups/renamed",
        json!({"changeName": "moved-away", "rotation": 9}),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .contains("cannot be reached"),
        "{}",
        r.body
    );
    let after = d.get("/api/backups/renamed?detail=true");
    assert_eq!(after.status, 200);
    assert_eq!(options(&after), before);
    assert_eq!(d.get("/api/backups/moved-away").status, 404);
    start();
    let gone = wait_run(&d, &id, 30, |r| {
        r["run"]["state"] == "error" && r["id"] != failed["id"] && r["id"] != reset["id"]
    });
    assert!(
        gone["run"]["error"]
            .as_str()
            .unwrap()
            .contains("step 'connect': connection refused"),
        "{gone:#}"
    );
}
