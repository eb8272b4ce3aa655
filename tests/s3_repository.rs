//! Restore points kept on S3 (issue 15): the command line's round trips against a real
//! SeaweedFS, publication by conditional writes, crash cleanup and the failures an operator
//! meets (wrong keys, missing bucket, a store that ignores conditions).

mod common;

use common::seaweed::{Seaweed, ACCESS_KEY, SECRET_KEY};
use common::tree::{assert_same, noise, snapshot, write};
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use zdm_backupd::engine::s3::{S3Endpoint, S3Keys, S3Location, S3Store};

/// A private SeaweedFS with one bucket, and a temporary directory for the CLI's state and a
/// source tree.
struct Scene {
    w: Seaweed,
    tmp: tempfile::TempDir,
    state: std::path::PathBuf,
    src: std::path::PathBuf,
}

fn scene(bucket: &str) -> Option<Scene> {
    let w = Seaweed::start()?;
    w.create_bucket(bucket);
    let tmp = tempfile::tempdir().unwrap();
    let (state, src) = (tmp.path().join("state"), tmp.path().join("src"));
    Some(Scene { w, tmp, state, src })
}

/// The CLI with the test's S3 keys in the environment and its own state directory.
fn zdm_cmd(state: &Path) -> Command {
    let mut c = Command::new(common::BIN);
    c.env_remove("ZDM_BACKUPD_CONFIG")
        .env("ZDM_BACKUPD_STATE_DIR", state)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
    c
}

/// Runs the CLI with `secret` as the S3 secret key.
fn zdm(state: &Path, secret: &str, args: &[&str]) -> common::run::Out {
    let o = zdm_cmd(state)
        .args(args)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .output()
        .unwrap();
    common::run::Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into(),
        stderr: String::from_utf8_lossy(&o.stderr).into(),
    }
}

fn done(o: &common::run::Out) -> Value {
    assert!(o.code == 0, "exit {}\n{}\n{}", o.code, o.stdout, o.stderr);
    o.stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["event"] == "done")
        .expect("a done event")
}

fn store(w: &Seaweed, location: &str) -> std::sync::Arc<S3Store> {
    S3Store::new(
        S3Location::parse(location).unwrap(),
        S3Endpoint::new(&w.endpoint(), "us-east-1", true).unwrap(),
        &S3Keys::new(ACCESS_KEY, SECRET_KEY).unwrap(),
    )
    .unwrap()
}

#[test]
fn cli_round_trips_full_incrementals_merges_and_encryption() {
    let Some(Scene { w, tmp, state, src }) = scene("zdm-cli") else {
        return;
    };
    write(&src.join("a.txt"), b"hello\n");
    // Larger than a part: a multipart upload.
    write(&src.join("dir/big.bin"), &noise(40 << 20, 7));
    write(&src.join("dir/small.bin"), &noise(100_000, 8));
    let key = tmp.path().join("backup.key");
    assert_eq!(
        zdm(
            &state,
            SECRET_KEY,
            &["key", "generate", "--out", key.to_str().unwrap()]
        )
        .code,
        0
    );
    let common = |job: &str| s3_args(&w, "zdm-cli", job);
    for (job, extra) in [
        ("plain", vec![]),
        (
            "sealed",
            vec!["--encryption", "use", "--key-file", key.to_str().unwrap()],
        ),
    ] {
        let backup = |mode: &str| {
            let mut a = vec!["backup", "--source", src.to_str().unwrap(), "--mode", mode];
            a.extend(["--rotation", "2", "--json"]);
            a.extend(extra.iter().copied());
            let c = common(job);
            a.extend(c.iter().map(String::as_str));
            done(&zdm(&state, SECRET_KEY, &a))
        };
        write(&src.join("a.txt"), b"hello\n");
        assert_eq!(backup("full")["kind"], "full", "{job}");
        write(&src.join("a.txt"), b"changed\n");
        assert_eq!(backup("increment")["kind"], "incr", "{job}");
        write(&src.join("c.txt"), b"new\n");
        let third = backup("increment");
        assert!(third["notes"].to_string().contains("merged"), "{third}");

        let with_key: Vec<&str> = match job {
            "sealed" => vec!["--key-file", key.to_str().unwrap()],
            _ => vec![],
        };
        let c = common(job);
        let mut a = vec!["verify"];
        a.extend(with_key.iter().copied());
        a.extend(c.iter().map(String::as_str));
        let o = zdm(&state, SECRET_KEY, &a);
        assert_eq!(o.code, 0, "{job}: {}{}", o.stdout, o.stderr);
        let target = tmp.path().join(format!("restore-{job}"));
        let mut a = vec!["restore", "--verify", "--target", target.to_str().unwrap()];
        a.extend(with_key.iter().copied());
        a.extend(c.iter().map(String::as_str));
        let o = zdm(&state, SECRET_KEY, &a);
        assert_eq!(o.code, 0, "{job}: {}{}", o.stdout, o.stderr);
        assert_same(&snapshot(&src, &[]), &snapshot(&target, &[]), job);

        // Two points after rotation, and no data directory that no manifest names: the merge
        // removed what it replaced.
        let mut a = vec!["points", "--json"];
        a.extend(c.iter().map(String::as_str));
        let o = zdm(&state, SECRET_KEY, &a);
        assert_eq!(o.code, 0, "{}", o.stderr);
        let s = store(&w, &format!("s3://zdm-cli/site/srv/{job}"));
        // (SeaweedFS goes on listing emptied prefixes: only what holds objects counts.)
        let points: Vec<String> = s
            .list("")
            .unwrap()
            .into_iter()
            .filter(|n| n.starts_with("20"))
            .filter(|n| s.get(&format!("{n}/MANIFEST.json")).unwrap().is_some())
            .collect();
        assert_eq!(points.len(), 2, "{points:?}");
        let data: Vec<String> = live_data(&s);
        assert_eq!(data.len(), 2, "{data:?}");
        // No upload intent is left, and the lock is free.
        let all = s.list_all("").unwrap();
        assert!(!all.iter().any(|k| k.contains(".zdm-uploads/")), "{all:?}");
        let lock: Value = serde_json::from_slice(&s.get("LOCK").unwrap().unwrap().data).unwrap();
        assert_eq!(lock["state"], "free", "{lock}");
    }
}

/// Repository rows and credential files the daemon holds.
/// The ended runs of job `id`, oldest first, once there are `n` of them.
fn ended_runs(d: &common::Daemon, id: &str, n: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let r = d.get(&format!("/api/backups/histories?jobId={id}&sort=asc"));
        let ended: Vec<Value> = r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["run"]["state"] == "complete" || r["run"]["state"] == "error")
            .cloned()
            .collect();
        if ended.len() >= n {
            return ended;
        }
        assert!(std::time::Instant::now() < deadline, "{}", d.log_text());
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

fn repo_rows(d: &common::Daemon) -> (i64, usize) {
    let rows = d
        .db()
        .query_row("SELECT count(*) FROM repositories", [], |r| r.get(0))
        .unwrap();
    let files = std::fs::read_dir(d.state.join("credentials")).map_or(0, |r| r.count());
    (rows, files)
}

#[test]
fn daemon_registers_verifies_and_runs_jobs_on_s3() {
    let Some(Scene {
        w,
        tmp,
        state: _,
        src,
    }) = scene("zdm-api")
    else {
        return;
    };
    write(&src.join("a.txt"), b"hello\n");
    write(&src.join("dir/b.bin"), &noise(7 << 20, 3));
    let d = common::Daemon::start(&[
        "--server-name",
        "srv",
        "--extra-partition",
        src.to_str().unwrap(),
    ]);
    let endpoint = w.endpoint();
    let spec = |secret: &str, path: &str| {
        serde_json::json!({"center": 1, "type": "s3", "remotePath": path, "endpoint": endpoint,
            "region": "us-east-1", "account": ACCESS_KEY, "password": secret, "pathStyle": true})
    };

    // Verify names the failing step; the good store passes every step.
    for (secret, path, step) in [
        ("wrong-secret", "s3://zdm-api/site", "authenticate"),
        (SECRET_KEY, "s3://no-such-bucket/site", "bucket"),
    ] {
        let r = d.post("/api/zdms/repositories/verify", spec(secret, path));
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(r.body["detail"]["step"], step, "{}", r.body);
    }
    let r = d.post(
        "/api/zdms/repositories/verify",
        spec(SECRET_KEY, "s3://zdm-api/site"),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["data"]["checks"][4], "conditional write",
        "{}",
        r.body
    );

    // Bad registrations are refused field by field and leave nothing behind.
    let before = repo_rows(&d);
    for (patch, field) in [
        (serde_json::json!({"endpoint": null}), "endpoint"),
        (
            serde_json::json!({"endpoint": "http://192.0.2.1:8333"}),
            "endpoint",
        ),
        (
            serde_json::json!({"remotePath": "s3://Bad_Bucket/x"}),
            "remotePath",
        ),
        (serde_json::json!({"password": null}), "account"),
        (serde_json::json!({"pathStyle": "yes"}), "pathStyle"),
        (serde_json::json!({"ip": "127.0.0.1"}), "ip"),
        (serde_json::json!({"region": "us east"}), "region"),
        (serde_json::json!({"objectLockDays": -1}), "objectLockDays"),
        (
            serde_json::json!({"objectLockDays": 36501}),
            "objectLockDays",
        ),
        (
            serde_json::json!({"objectLockDays": "seven"}),
            "objectLockDays",
        ),
        (serde_json::json!({"objectLockDays": 1.5}), "objectLockDays"),
    ] {
        let mut body = spec(SECRET_KEY, "s3://zdm-api/site");
        for (k, v) in patch.as_object().unwrap() {
            match v {
                Value::Null => drop(body.as_object_mut().unwrap().remove(k)),
                v => drop(body.as_object_mut().unwrap().insert(k.clone(), v.clone())),
            }
        }
        let r = d.post("/api/zdms/repositories", body);
        assert_eq!(r.status, 400, "{patch}: {}", r.body);
        common::assert_envelope(&r);
        assert!(
            r.body.to_string().contains(field),
            "{patch}: {field}: {}",
            r.body
        );
        assert_eq!(repo_rows(&d), before, "{patch}");
    }
    for extra in ["endpoint", "objectLockDays"] {
        let mut body = serde_json::json!({"center": 1, "type": "nfs", "remotePath": "h:/e"});
        body[extra] = serde_json::json!(7);
        let r = d.post("/api/zdms/repositories", body);
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(r.body.to_string().contains(extra), "{}", r.body);
        assert_eq!(repo_rows(&d), before);
    }
    // Retention asked of a bucket without Object Lock: verify names the step.
    let mut locked = spec(SECRET_KEY, "s3://zdm-api/site");
    locked["objectLockDays"] = serde_json::json!(3);
    let r = d.post("/api/zdms/repositories/verify", locked);
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["detail"]["step"], "object lock", "{}", r.body);

    let r = d.post(
        "/api/zdms/repositories",
        spec(SECRET_KEY, "s3://zdm-api/site/"),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["data"]["path"], "s3://zdm-api/site");
    let repo_id = r.body["data"]["id"].as_i64().unwrap();
    let r = d.post(
        "/api/zdms/repositories",
        spec(SECRET_KEY, "s3://zdm-api/site"),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    // Keys the store refuses: registered (they may be fixed later), with a warning naming the
    // step; removable while no job uses it, credentials file included.
    let r = d.post(
        "/api/zdms/repositories",
        spec("wrong-secret", "s3://zdm-api/elsewhere"),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(
        r.body["data"]["warnings"]
            .to_string()
            .contains("authenticate"),
        "{}",
        r.body
    );
    let other = r.body["data"]["id"].as_i64().unwrap();
    assert_eq!(repo_rows(&d), (before.0 + 2, before.1 + 2));
    let r = d.delete(&format!("/api/zdms/repositories/{other}"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(repo_rows(&d), (before.0 + 1, before.1 + 1));
    let list = d.get("/api/zdms/repositories?type=s3");
    assert_eq!(list.status, 200);
    assert_eq!(list.body["data"][0]["type"], "S3", "{}", list.body);
    assert_eq!(list.body["data"][0]["ipAddress"][0], "127.0.0.1");
    assert!(!list.body.to_string().contains(SECRET_KEY));
    assert!(!d.log_text().contains(SECRET_KEY));

    // A job refers to it by id, or by type and path; an unregistered S3 path is refused.
    let job = |name: &str, repository: Value| {
        d.post(
            "/api/backups",
            serde_json::json!({"center": 1, "server": 1, "type": "increment",
                "partition": [src.to_str().unwrap()], "repository": repository, "rotation": 2,
                "individual": [{"partition": src.to_str().unwrap(), "jobName": name}]}),
        )
    };
    let jobs = || -> i64 {
        d.db()
            .query_row("SELECT count(*) FROM jobs", [], |r| r.get(0))
            .unwrap()
    };
    let r = job(
        "nowhere",
        serde_json::json!({"type": "s3", "path": "s3://zdm-api/other"}),
    );
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!((jobs(), repo_rows(&d)), (0, (before.0 + 1, before.1 + 1)));
    assert_eq!(job("ons3", serde_json::json!({"id": repo_id})).status, 201);
    let r = job(
        "bypath",
        serde_json::json!({"type": "s3", "path": "s3://zdm-api/site"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);

    let id = d.get("/api/backups/ons3").body["data"]["job"]["info"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for round in 0..3 {
        write(&src.join("a.txt"), format!("round {round}\n").as_bytes());
        let r = d.put("/api/backups/ons3", serde_json::json!({"status": "start"}));
        // Registration may have started the first run already.
        assert!(
            r.status == 200 || round == 0 && r.status == 409,
            "{}",
            r.body
        );
        let ended = ended_runs(&d, &id, round + 1);
        let run = &ended[round];
        assert_eq!(run["run"]["state"], "complete", "{run}\n{}", d.log_text());
    }
    // The points, read back over S3 with the daemon's key: two after rotation, restorable.
    let c = s3_args(&w, "zdm-api", "ons3");
    let o = run(&d.state, &["verify"], &c);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_eq!(o.stdout.matches(" OK ").count(), 2, "{}", o.stdout);
    let target = tmp.path().join("back");
    let o = run(
        &d.state,
        &["restore", "--target", target.to_str().unwrap()],
        &c,
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_same(&snapshot(&src, &[]), &snapshot(&target, &[]), "daemon");

    // Through the daemon: images, browsing, a download and a recovery read the points on S3.
    let imgs = d.get("/api/backups/ons3/images");
    assert_eq!(imgs.status, 200, "{}", imgs.body);
    let imgs = imgs.body["data"].as_array().unwrap().clone();
    assert_eq!(imgs.len(), 2, "{imgs:?}");
    let newest = imgs[0]["image"]["name"].as_str().unwrap().to_string();
    let part = src.to_str().unwrap();
    let r = d.get(&format!(
        "/api/backups/ons3/images/{newest}/files?path={part}"
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.to_string().contains("a.txt"), "{}", r.body);
    let url = format!(
        "{}/api/backups/ons3/images/{newest}/download?path={part}/a.txt",
        d.base
    );
    let got = ureq::get(&url)
        .set("Authorization", &format!("Bearer {}", d.token()))
        .call()
        .unwrap();
    let mut body = String::new();
    std::io::Read::read_to_string(&mut got.into_reader(), &mut body).unwrap();
    assert_eq!(body, "round 2\n");
    let into = tmp.path().join("recovered");
    std::fs::create_dir(&into).unwrap();
    let r = d.post(
        "/api/recoveries",
        serde_json::json!({"center": 1, "source": "srv", "target": 1,
            "repository": {"id": repo_id}, "mode": "full", "jobName": "from-s3",
            "autoStart": "use", "jobList": [{"sourcePartition": part,
            "targetPartition": into.to_str().unwrap(), "backupJob": "ons3"}]}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let h = loop {
        let r = d.get("/api/recoveries/histories?jobName=from-s3");
        let items = r.body["data"].as_array().cloned().unwrap_or_default();
        if let Some(h) = items.first().filter(|h| h["result"]["status"] != "RUNNING") {
            break h.clone();
        }
        assert!(std::time::Instant::now() < deadline, "{}", r.body);
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(h["result"]["status"], "COMPLETE", "{h:#}");
    assert_same(&snapshot(&src, &[]), &snapshot(&into, &[]), "recovery");

    // A throttled run shows its progress and stops when told: no new point, no upload left
    // open, and the points before it still verify.
    write(&src.join("big.bin"), &noise(40 << 20, 4));
    let s = store(&w, "s3://zdm-api/site/srv/ons3");
    assert_eq!(
        d.put("/api/backups/ons3", serde_json::json!({"networkLimit": 2}))
            .status,
        200
    );
    assert_eq!(
        d.put("/api/backups/ons3", serde_json::json!({"status": "start"}))
            .status,
        200
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !s
        .list_all("")
        .unwrap()
        .iter()
        .any(|k| k.contains(".zdm-uploads/"))
    {
        assert!(std::time::Instant::now() < deadline, "no upload started");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    loop {
        let m = d.get(&format!("/api/backups/monitoring/job/{id}"));
        let p = &m.body["data"]["job"]["progressInfo"];
        assert_eq!(p["status"], "Processing", "{:#}", m.body);
        if p["bytesDone"].as_u64().unwrap() > 0 {
            assert!(p["bytesTotal"].as_u64().unwrap() >= 40 << 20, "{p:#}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no progress: {p:#}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(
        d.put("/api/backups/ons3", serde_json::json!({"status": "stop"}))
            .status,
        200
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let r = d.get(&format!("/api/backups/histories?jobId={id}&sort=desc"));
        let newest = &r.body["data"][0]["run"];
        if newest["state"] == "canceled" {
            assert_eq!(newest["restorePoint"], "-");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", r.body);
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(w.open_uploads("zdm-api"), Vec::<String>::new());
    assert_eq!(
        d.put("/api/backups/ons3", serde_json::json!({"networkLimit": 0}))
            .status,
        200
    );
    let o = run(&d.state, &["verify"], &c);
    assert_eq!(
        o.stdout.matches(" OK ").count(),
        2,
        "{}{}",
        o.stdout,
        o.stderr
    );

    // Changing it: the keys only as a pair, never the share fields; the secret is masked.
    let path = format!("/api/zdms/repositories/{repo_id}");
    for (body, field) in [
        (serde_json::json!({"ip": "127.0.0.2"}), "ip"),
        (serde_json::json!({"localPath": "/mnt"}), "localPath"),
        (serde_json::json!({"remoteUser": ACCESS_KEY}), "remotePwd"),
    ] {
        let r = d.put(&path, body.clone());
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert!(r.body.to_string().contains(field), "{body}: {}", r.body);
    }
    let r = d.put(
        &path,
        serde_json::json!({"remoteUser": ACCESS_KEY, "remotePwd": SECRET_KEY}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!r.body.to_string().contains(SECRET_KEY), "{}", r.body);
    let cred = d
        .db()
        .query_row(
            "SELECT credentials_file FROM repositories WHERE id = ?1",
            [repo_id],
            |r| r.get::<_, String>(0),
        )
        .unwrap();
    let text = std::fs::read_to_string(&cred).unwrap();
    assert!(text.starts_with("access_key=") && text.contains("secret_key="));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&cred).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // In use: not removable; the job cannot be renamed away from its points.
    assert_eq!(
        d.delete(&format!("/api/zdms/repositories/{repo_id}"))
            .status,
        409
    );
    let r = d.put(
        "/api/backups/ons3",
        serde_json::json!({"changeName": "renamed"}),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.to_string().contains("object store"), "{}", r.body);
}

/// The CLI arguments naming job `job` on `s3://<bucket>/site`.
fn s3_args(w: &Seaweed, bucket: &str, job: &str) -> Vec<String> {
    [
        "--repository",
        &format!("s3://{bucket}/site"),
        "--s3-endpoint",
        &w.endpoint(),
        "--s3-path-style",
        "--server",
        "srv",
        "--job",
        job,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The data directories of the job `s` is opened at that still hold objects (SeaweedFS lists
/// an emptied prefix for a while).
fn live_data(s: &S3Store) -> Vec<String> {
    let dirs = s.list(".data").unwrap().into_iter();
    dirs.filter(|d| !s.list_all(&format!(".data/{d}")).unwrap().is_empty())
        .collect()
}

fn run(state: &Path, args: &[&str], rest: &[String]) -> common::run::Out {
    let mut a: Vec<&str> = args.to_vec();
    a.extend(rest.iter().map(String::as_str));
    zdm(state, SECRET_KEY, &a)
}

/// The objects of the point's data directory, named by its manifest.
fn point_files(s: &S3Store, job: &str) -> (String, Vec<String>) {
    let point = s
        .list(job)
        .unwrap()
        .into_iter()
        .filter(|n| n.starts_with("20"))
        .find(|n| {
            s.get(&format!("{job}/{n}/MANIFEST.json"))
                .unwrap()
                .is_some()
        })
        .unwrap();
    let m: Value = serde_json::from_slice(
        &s.get(&format!("{job}/{point}/MANIFEST.json"))
            .unwrap()
            .unwrap()
            .data,
    )
    .unwrap();
    let dir = format!("{job}/{}", m["data_dir"].as_str().unwrap());
    let mut names = s.list(&dir).unwrap();
    names.sort();
    (dir, names)
}

#[test]
fn stock_tools_restore_a_full_point_from_its_volumes() {
    if !common::tree::have_tools("s3 stock restore", &["age", "zstd", "tar"]) {
        return;
    }
    let Some(Scene { w, tmp, state, src }) = scene("zdm-stock") else {
        return;
    };
    write(&src.join("big.bin"), &noise(40 << 20, 11));
    write(&src.join("note.txt"), b"volumes\n");
    let key = tmp.path().join("k.txt");
    assert_eq!(
        run(
            &state,
            &["key", "generate", "--out", key.to_str().unwrap()],
            &[]
        )
        .code,
        0
    );
    let s = store(&w, "s3://zdm-stock/site/srv");
    for (job, sealed) in [("plain", false), ("sealed", true)] {
        let mut a = vec![
            "backup",
            "--source",
            src.to_str().unwrap(),
            "--mode",
            "full",
        ];
        if sealed {
            a.extend(["--encryption", "use", "--key-file", key.to_str().unwrap()]);
        }
        let o = zdm_cmd(&state)
            .args(&a)
            .args(s3_args(&w, "zdm-stock", job))
            .env("ZDM_BACKUPD_S3_VOLUME_MIB", "16")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let (dir, names) = point_files(&s, job);
        let data: Vec<&String> = names.iter().filter(|n| n.starts_with("data.")).collect();
        assert_eq!(data.len(), 3, "three 16 MiB volumes: {names:?}");
        // The engine reads them back as one stream.
        let o = run(
            &state,
            &["verify", "--key-file", key.to_str().unwrap()],
            &s3_args(&w, "zdm-stock", job),
        );
        assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
        // Stock tools: the volumes concatenated in name order.
        let joined = tmp.path().join(format!("{job}.joined"));
        let mut out = std::fs::File::create(&joined).unwrap();
        for n in &data {
            let o = s.get(&format!("{dir}/{n}")).unwrap().unwrap();
            assert!(o.data.len() <= 16 << 20);
            std::io::Write::write_all(&mut out, &o.data).unwrap();
        }
        drop(out);
        let target = tmp.path().join(format!("{job}-stock"));
        std::fs::create_dir(&target).unwrap();
        let cmd = if sealed {
            format!(
                "age -d -i '{}' '{}' | zstd -d -q | tar -x -C '{}'",
                key.display(),
                joined.display(),
                target.display()
            )
        } else {
            format!(
                "zstd -d -q < '{}' | tar -x -C '{}'",
                joined.display(),
                target.display()
            )
        };
        common::tree::sh(&cmd);
        assert_same(&snapshot(&src, &[]), &snapshot(&target, &[]), job);
    }
}

#[test]
fn sixteen_runs_at_once_publish_one_point_and_the_store_keeps_no_orphans() {
    let Some(Scene {
        w,
        tmp: _tmp,
        state,
        src,
    }) = scene("zdm-race")
    else {
        return;
    };
    write(&src.join("a.bin"), &noise(6 << 20, 1));
    // The first run makes the repository and job identities; then 16 start together.
    let args = s3_args(&w, "zdm-race", "race");
    let backup = [
        "backup",
        "--source",
        src.to_str().unwrap(),
        "--mode",
        "full",
        "--rotation",
        "30",
    ];
    assert_eq!(run(&state, &backup, &args).code, 0);
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(16));
    let outs: Vec<common::run::Out> = (0..16)
        .map(|_| {
            let (barrier, state, args) = (barrier.clone(), state.clone(), args.clone());
            let src = src.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let backup = [
                    "backup",
                    "--source",
                    src.to_str().unwrap(),
                    "--mode",
                    "full",
                    "--rotation",
                    "30",
                ];
                run(&state, &backup, &args)
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    let won = outs.iter().filter(|o| o.code == 0).count();
    let busy = outs
        .iter()
        .filter(|o| o.code == 1 && o.stderr.contains("lock"))
        .count();
    // Each run either published or was told who holds the lock: never two at once.
    assert_eq!(
        won + busy,
        16,
        "{:?}",
        outs.iter().map(|o| &o.stderr).collect::<Vec<_>>()
    );
    assert!(won >= 1);
    let o = run(&state, &["points", "--json"], &args);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o = run(&state, &["verify"], &args);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_eq!(o.stdout.matches(" OK ").count(), 1 + won, "{}", o.stdout);
    // Every data directory belongs to a point, and no upload is left open.
    let s = store(&w, "s3://zdm-race/site/srv/race");
    let live: Vec<String> = live_data(&s);
    assert_eq!(live.len(), 1 + won, "{live:?}");
    assert_eq!(w.open_uploads("zdm-race"), Vec::<String>::new());
}

/// Starts the CLI with `args` and kills it (SIGKILL) as soon as an upload of its is recorded
/// in the store; `None` when it ended first.
fn kill_mid_upload(state: &Path, args: &[String], s: &S3Store) -> Option<()> {
    let mut child = zdm_cmd(state)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    loop {
        if s.list_all("")
            .unwrap()
            .iter()
            .any(|k| k.contains(".zdm-uploads/"))
        {
            child.kill().unwrap();
            child.wait().unwrap();
            return Some(());
        }
        if child.try_wait().unwrap().is_some() {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Frees the job lock a killed run left (it would go stale only after its ten-minute lease).
fn free_lock(s: &S3Store) {
    let lock = s.get("LOCK").unwrap().unwrap();
    let mut body: Value = serde_json::from_slice(&lock.data).unwrap();
    body["state"] = "free".into();
    let put = zdm_backupd::engine::s3::Put::IfMatch(lock.etag.as_deref().unwrap());
    s.put("LOCK", serde_json::to_vec(&body).unwrap(), put)
        .unwrap()
        .unwrap();
}

#[test]
fn runs_killed_mid_upload_and_mid_merge_leave_nothing_the_next_run_does_not_clear() {
    let Some(Scene { w, tmp, state, src }) = scene("zdm-kill") else {
        return;
    };
    write(&src.join("a.txt"), b"first\n");
    let args = s3_args(&w, "zdm-kill", "kill");
    let backup = |mode: &str, limit: &str| -> Vec<String> {
        let mut a: Vec<String> = ["backup", "--source", src.to_str().unwrap(), "--mode", mode]
            .iter()
            .map(|s| s.to_string())
            .collect();
        a.extend([
            "--rotation".into(),
            "2".into(),
            "--network-limit".into(),
            limit.into(),
        ]);
        a.extend(args.iter().cloned());
        a
    };
    let ok = |a: Vec<String>| {
        let o = zdm(
            &state,
            SECRET_KEY,
            &a.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    };
    let s = store(&w, "s3://zdm-kill/site/srv/kill");
    let every_point_verifies = || {
        let o = run(&state, &["verify"], &args);
        assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    };
    ok(backup("full", "0"));
    // Mid-upload: a throttled incremental of a large new file.
    write(&src.join("big.bin"), &noise(160 << 20, 5));
    kill_mid_upload(&state, &backup("increment", "4"), &s).expect("killed mid-upload");
    assert!(
        !w.open_uploads("zdm-kill").is_empty(),
        "the killed run left an upload open"
    );
    every_point_verifies();
    free_lock(&s);
    // The next run clears its data directory and the open upload, and publishes.
    ok(backup("increment", "0"));
    every_point_verifies();
    assert_eq!(w.open_uploads("zdm-kill"), Vec::<String>::new());

    // Mid-merge: the third point makes rotation merge the first two, which writes the large
    // file again (the run's own archive is too small for a multipart upload).
    write(&src.join("a.txt"), b"third\n");
    kill_mid_upload(&state, &backup("increment", "0"), &s).expect("killed mid-merge");
    assert!(
        !w.open_uploads("zdm-kill").is_empty(),
        "the killed merge left an upload open"
    );
    every_point_verifies();
    free_lock(&s);
    write(&src.join("a.txt"), b"fourth\n");
    ok(backup("increment", "0"));
    every_point_verifies();
    assert_eq!(w.open_uploads("zdm-kill"), Vec::<String>::new());
    assert!(!s
        .list_all("")
        .unwrap()
        .iter()
        .any(|k| k.contains(".zdm-uploads/")));
    let live: Vec<String> = live_data(&s);
    assert_eq!(live.len(), 2, "only the two points' data is left: {live:?}");
    let target = tmp.path().join("back");
    let o = run(
        &state,
        &["restore", "--target", target.to_str().unwrap()],
        &args,
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_same(&snapshot(&src, &[]), &snapshot(&target, &[]), "after kills");
}

/// A manifest for point `id` (the publication protocol does not read its content).
fn manifest(id: &str) -> zdm_backupd::engine::repo::Manifest {
    serde_json::from_value(serde_json::json!({
        "format": 4, "id": id, "job": "lease", "server": "srv", "source": "/src",
        "kind": "full", "parent": null, "started": "", "finished": "", "entries": 0,
        "archived": 0, "source_bytes": 0, "archived_bytes": 0, "compression": false,
        "encryption": false, "recipient": null, "files": {}}))
    .unwrap()
}

#[test]
fn a_run_that_lost_its_lease_publishes_nothing_and_one_point_id_is_published_once() {
    use zdm_backupd::engine::repo;
    use zdm_backupd::engine::s3::{Put, S3Target};
    use zdm_backupd::engine::target::Target;
    let Some(w) = Seaweed::start() else { return };
    w.create_bucket("zdm-lease");
    let s = store(&w, "s3://zdm-lease/site");
    let job = Path::new("srv/lease");
    let a = S3Target::new(s.clone(), std::time::Duration::from_secs(600));
    let held = repo::lock(&a, job, "lease").unwrap();
    // Another host holds the lock: told who.
    let b = S3Target::new(s.clone(), std::time::Duration::from_secs(600));
    match repo::lock(&b, job, "lease") {
        Err(e) => assert!(e.to_string().contains("pid"), "{e}"),
        Ok(_) => panic!("two holders"),
    }
    let partial = repo::new_partial(&a, job).unwrap();
    let mut f = a.create(&partial.join("data.tar")).unwrap();
    f.write_all(b"data").unwrap();
    f.commit().unwrap();
    let mut m = manifest("20261129T000000.000Z");
    repo::place(&a, job, &partial, &mut m);
    assert!(m.data_dir.as_deref().unwrap().starts_with(".data/"));
    // The lease is taken over while this run is paused (as a stale lock would be).
    let lock = s.get("srv/lease/LOCK").unwrap().unwrap();
    s.put(
        "srv/lease/LOCK",
        br#"{"state":"held","host":"other","pid":1,"runId":"x","leaseSeconds":600}"#.to_vec(),
        Put::IfMatch(lock.etag.as_deref().unwrap()),
    )
    .unwrap()
    .unwrap();
    let e = repo::publish(&a, &partial, job, &m).unwrap_err();
    assert!(e.to_string().contains("lost"), "{e}");
    assert_eq!(
        s.get("srv/lease/20261129T000000.000Z/MANIFEST.json")
            .unwrap(),
        None
    );
    drop(held);
    // Releasing a lost lease leaves the new holder's lock alone.
    let now: Value =
        serde_json::from_slice(&s.get("srv/lease/LOCK").unwrap().unwrap().data).unwrap();
    assert_eq!(now["host"], "other");

    // Runs that each hold the lock in turn publish the same point id: the first wins, the
    // others are refused and publish nothing over it.
    s.put("srv/lease/LOCK", b"free".to_vec(), Put::Overwrite)
        .unwrap();
    let mut outcomes = Vec::new();
    for i in 0..4 {
        let t = S3Target::new(s.clone(), std::time::Duration::from_secs(600));
        let _held = repo::lock(&t, job, "lease").unwrap();
        let partial = repo::new_partial(&t, job).unwrap();
        let mut m = manifest("20261129T000001.000Z");
        m.warnings = vec![format!("run {i}")];
        repo::place(&t, job, &partial, &mut m);
        outcomes.push(repo::publish(&t, &partial, job, &m).map_err(|e| e.to_string()));
    }
    assert!(outcomes[0].is_ok(), "{outcomes:?}");
    for o in &outcomes[1..] {
        assert!(
            o.as_ref().unwrap_err().contains("published by another run"),
            "{o:?}"
        );
    }
    let m: Value = serde_json::from_slice(
        &s.get("srv/lease/20261129T000001.000Z/MANIFEST.json")
            .unwrap()
            .unwrap()
            .data,
    )
    .unwrap();
    assert_eq!(m["warnings"][0], "run 0");

    // A merge swaps the manifest only over the one it verified, and only then removes the data
    // that manifest named: a manifest changed meanwhile (by another writer of the bucket) is
    // neither replaced nor trusted to say what to remove.
    let published: repo::Manifest = serde_json::from_value(m).unwrap();
    let old_dir = published.data_dir.clone().unwrap();
    let t = S3Target::new(s.clone(), std::time::Duration::from_secs(600));
    let _held = repo::lock(&t, job, "lease").unwrap();
    let partial = repo::new_partial(&t, job).unwrap();
    let mut f = t.create(&partial.join("data.tar")).unwrap();
    f.write_all(b"merged").unwrap();
    f.commit().unwrap();
    let mut merged = manifest("20261129T000001.000Z");
    repo::place(&t, job, &partial, &mut merged);
    let mut stale = published.clone();
    stale.warnings = vec!["what the merge verified".into()];
    let e = repo::replace(&t, &partial, job, &merged, &stale).unwrap_err();
    assert!(e.to_string().contains("changed while it was merged"), "{e}");
    let key = "srv/lease/20261129T000001.000Z/MANIFEST.json";
    let now: repo::Manifest = serde_json::from_slice(&s.get(key).unwrap().unwrap().data).unwrap();
    assert_eq!(now, published);
    repo::replace(&t, &partial, job, &merged, &published).unwrap();
    let now: repo::Manifest = serde_json::from_slice(&s.get(key).unwrap().unwrap().data).unwrap();
    assert_eq!(now.data_dir, merged.data_dir);
    assert!(s
        .list_all(&format!("srv/lease/{old_dir}"))
        .unwrap()
        .is_empty());
}

#[test]
fn a_store_that_ignores_conditions_is_refused_by_verify_and_runs() {
    let port = common::seaweed::careless_store();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write(&src.join("a.txt"), b"x\n");
    let args: Vec<String> = [
        "--repository",
        "s3://careless/site",
        "--s3-endpoint",
        &format!("http://127.0.0.1:{port}"),
        "--s3-path-style",
        "--job",
        "j",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let state = tmp.path().join("state");
    // (The backup makes the state directory's keys, which verify needs first.)
    for cmd in [
        vec![
            "backup",
            "--source",
            src.to_str().unwrap(),
            "--mode",
            "full",
        ],
        vec!["verify"],
    ] {
        let o = run(&state, &cmd, &args);
        assert_eq!(o.code, 1, "{cmd:?}: {}{}", o.stdout, o.stderr);
        assert!(o.stderr.contains("conditional write"), "{}", o.stderr);
    }
    // Keys missing, or a credentials file others can read: refused before any request.
    let o = zdm_cmd(&state)
        .args(["points"])
        .args(&args)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("AWS_ACCESS_KEY_ID"));
    let cred = tmp.path().join("keys");
    std::fs::write(&cred, "access_key=a\nsecret_key=b\n").unwrap();
    std::fs::set_permissions(&cred, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let o = run(
        &state,
        &["points", "--credentials", cred.to_str().unwrap()],
        &args,
    );
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("0600") || o.stderr.contains("mode"),
        "{}",
        o.stderr
    );
}

#[test]
fn a_run_completes_when_a_replicated_volume_server_dies_under_it() {
    // Three volume servers, every object kept on two of them.
    let Some(mut w) = Seaweed::start_cluster(2, "001") else {
        return;
    };
    w.create_bucket("zdm-cluster");
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let src = tmp.path().join("src");
    write(&src.join("a.txt"), b"cluster\n");
    write(&src.join("big.bin"), &noise(40 << 20, 9));
    let args = s3_args(&w, "zdm-cluster", "cluster");
    let mut a: Vec<String> = [
        "backup",
        "--source",
        src.to_str().unwrap(),
        "--mode",
        "full",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // About ten seconds of upload; a volume server dies six seconds in.
    a.extend(["--network-limit".into(), "4".into()]);
    a.extend(args.iter().cloned());
    let child = zdm_cmd(&state)
        .args(&a)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(6));
    // The extra server holding more of what was written so far dies: every chunk has a copy
    // on one of them, and the copies elsewhere have to serve it.
    let victim = if w.volume_bytes(0) > w.volume_bytes(1) {
        0
    } else {
        1
    };
    let held = w.volume_bytes(victim);
    w.kill_volume(victim);
    assert!(held > 8 << 20, "the killed server held {held} bytes");
    let o = child.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stderr),
        w.log()
    );
    let o = run(&state, &["verify"], &args);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let target = tmp.path().join("back");
    let o = run(
        &state,
        &["restore", "--target", target.to_str().unwrap()],
        &args,
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_same(&snapshot(&src, &[]), &snapshot(&target, &[]), "cluster");
}

/// Lists every version under `prefix` and, with the repository's own keys, tries to shorten
/// each one's retention and to delete it for good; then deletes every current object (which
/// only places delete markers where retention holds).
const ATTACK: &str = r#"
import datetime
bucket, prefix = argv
versions = []
for page in s3.get_paginator('list_object_versions').paginate(Bucket=bucket, Prefix=prefix):
    versions += page.get('Versions', [])
out = {'refused': [], 'deleted': [], 'retained': {}, 'shortened': []}
soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=5)
for v in versions:
    k, vid = v['Key'], v['VersionId']
    try:
        r = s3.get_object_retention(Bucket=bucket, Key=k, VersionId=vid)['Retention']
        out['retained'][k] = [r['Mode'], r['RetainUntilDate'].timestamp()]
        s3.put_object_retention(Bucket=bucket, Key=k, VersionId=vid,
            Retention={'Mode': 'COMPLIANCE', 'RetainUntilDate': soon})
        out['shortened'].append(k)
    except Exception:
        pass
    try:
        s3.delete_object(Bucket=bucket, Key=k, VersionId=vid)
        out['deleted'].append(k)
    except Exception:
        out['refused'].append(k)
for page in s3.get_paginator('list_objects_v2').paginate(Bucket=bucket, Prefix=prefix):
    for o in page.get('Contents', []):
        s3.delete_object(Bucket=bucket, Key=o['Key'])
print(json.dumps(out))
"#;

/// What an administrator does after such an attack: removes the delete markers.
const UNDELETE: &str = r#"
bucket, prefix = argv
n = 0
for page in s3.get_paginator('list_object_versions').paginate(Bucket=bucket, Prefix=prefix):
    for m in page.get('DeleteMarkers', []):
        s3.delete_object(Bucket=bucket, Key=m['Key'], VersionId=m['VersionId'])
        n += 1
print(json.dumps({'removed': n}))
"#;

#[test]
fn object_lock_keeps_points_even_from_the_repositorys_own_keys() {
    let Some(Scene { w, tmp, state, src }) = scene("zdm-plain") else {
        return;
    };
    w.create_locked_bucket("zdm-worm");
    write(&src.join("a.txt"), b"hello\n");
    // Larger than a part: retention goes on an object completed from parts too.
    write(&src.join("big.bin"), &noise(12 << 20, 5));
    let lock = ["--s3-object-lock-days", "1"];
    let backup = |bucket: &str, mode: &str| {
        let mut a = vec!["backup", "--source", src.to_str().unwrap(), "--mode", mode];
        a.extend(["--rotation", "2", "--json"]);
        a.extend(lock);
        run(&state, &a, &s3_args(&w, bucket, "job"))
    };

    // A bucket without Object Lock is refused at that step, and nothing is left in it.
    let o = backup("zdm-plain", "full");
    assert_ne!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(
        (o.stdout.clone() + &o.stderr).contains("'object lock'"),
        "{}{}",
        o.stdout,
        o.stderr
    );
    assert_eq!(
        store(&w, "s3://zdm-plain").list_all("").unwrap(),
        Vec::<String>::new()
    );
    // The option is refused where it means nothing, and out of range.
    for (repo, days, code) in [(tmp.path().join("local"), "1", 1), (src.clone(), "0", 2)] {
        let o = zdm(
            &state,
            SECRET_KEY,
            &[
                "points",
                "--repository",
                repo.to_str().unwrap(),
                "--job",
                "j",
            ]
            .into_iter()
            .chain(["--s3-object-lock-days", days])
            .collect::<Vec<_>>(),
        );
        assert_eq!(o.code, code, "{days}: {}{}", o.stdout, o.stderr);
        assert!(o.stderr.contains("object-lock-days"), "{}", o.stderr);
    }

    // Full, incremental, and a third run that merges (rotation 2).
    assert_eq!(done(&backup("zdm-worm", "full"))["kind"], "full");
    write(&src.join("a.txt"), b"changed\n");
    done(&backup("zdm-worm", "increment"));
    write(&src.join("c.txt"), b"new\n");
    let third = done(&backup("zdm-worm", "increment"));
    assert!(third["notes"].to_string().contains("merged"), "{third}");

    // Every object of every point, the marker and the job identity are retained: the keys
    // that wrote them can neither delete them nor shorten their retention.
    let out = w.boto3(ATTACK, &["zdm-worm", "site/"]);
    let kept = |k: &str| {
        (k.contains("/.data/") && !k.contains("/.zdm-uploads/"))
            || k.ends_with("/MANIFEST.json")
            || k.ends_with("/JOB.json")
            || k == "site/zdm-backup.json"
    };
    let (refused, deleted) = (out["refused"].as_array().unwrap(), &out["deleted"]);
    let data = refused
        .iter()
        .filter(|k| k.as_str().unwrap().contains("/.data/"));
    assert!(data.count() >= 4, "{out}");
    assert!(
        refused
            .iter()
            .any(|k| k.as_str().unwrap().ends_with("/MANIFEST.json")),
        "{out}"
    );
    for k in deleted.as_array().unwrap() {
        assert!(!kept(k.as_str().unwrap()), "deleted for good: {k}: {out}");
    }
    // (The preflight's probes are under seconds of retention: "shortening" it to five seconds
    // from now is extending it, which the store allows.)
    for k in out["shortened"].as_array().unwrap() {
        assert!(
            !kept(k.as_str().unwrap()),
            "retention shortened: {k}: {out}"
        );
    }
    let day = chrono::Utc::now().timestamp() as f64 + 86_400.0;
    for (k, r) in out["retained"].as_object().unwrap() {
        assert_eq!(r[0], "COMPLIANCE", "{k}");
        if kept(k) {
            assert!((r[1].as_f64().unwrap() - day).abs() < 3_600.0, "{k}: {r}");
        }
    }
    for k in refused {
        assert!(
            out["retained"].get(k.as_str().unwrap()).is_some(),
            "{k}: {out}"
        );
    }

    // The deletes only hid the points: with the delete markers removed, every point verifies
    // and the last one restores.
    let removed = w.boto3(UNDELETE, &["zdm-worm", "site/"]);
    assert!(removed["removed"].as_u64().unwrap() > 0, "{removed}");
    let o = run(&state, &["verify"], &s3_args(&w, "zdm-worm", "job"));
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let target = tmp.path().join("restored");
    let o = run(
        &state,
        &["restore", "--verify", "--target", target.to_str().unwrap()],
        &s3_args(&w, "zdm-worm", "job"),
    );
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_same(&snapshot(&src, &[]), &snapshot(&target, &[]), "worm");

    // Each publication extends what every point needs (marker, job identity) to a full term;
    // lowering the days later leaves the longer term there, and runs still publish.
    let backup_for = |days: &str| {
        let mut a = vec!["backup", "--source", src.to_str().unwrap()];
        a.extend([
            "--mode",
            "increment",
            "--json",
            "--s3-object-lock-days",
            days,
        ]);
        run(&state, &a, &s3_args(&w, "zdm-worm", "job"))
    };
    write(&src.join("d.txt"), b"three days\n");
    done(&backup_for("3"));
    let three_days = w.boto3(IDENTITY_RETENTION, &["zdm-worm", "site/"]);
    let until = chrono::Utc::now().timestamp() as f64 + 3.0 * 86_400.0;
    assert_eq!(three_days.as_object().unwrap().len(), 2, "{three_days}");
    for (k, r) in three_days.as_object().unwrap() {
        assert_eq!(r[0], "COMPLIANCE", "{k}");
        assert!((r[1].as_f64().unwrap() - until).abs() < 3_600.0, "{k}: {r}");
    }
    write(&src.join("d.txt"), b"one day\n");
    let one_day = done(&backup_for("1"));
    let after = w.boto3(IDENTITY_RETENTION, &["zdm-worm", "site/"]);
    assert_eq!(after, three_days);
    // Each run reclaims the earlier versions of the lease the runs before left, so they do not
    // pile up in the versioned bucket: after any run only its own are there.
    assert!(
        one_day["notes"]
            .to_string()
            .contains("earlier object versions"),
        "{one_day}"
    );
    let leases = w.boto3(LEASE_VERSIONS, &["zdm-worm", "site/"]);
    write(&src.join("d.txt"), b"again\n");
    done(&backup_for("1"));
    assert_eq!(w.boto3(LEASE_VERSIONS, &["zdm-worm", "site/"]), leases);
}

/// How many versions of job leases a versioned bucket keeps below a prefix.
const LEASE_VERSIONS: &str = r#"
bucket, prefix = argv
n = 0
for page in s3.get_paginator('list_object_versions').paginate(Bucket=bucket, Prefix=prefix):
    n += sum(1 for v in page.get('Versions', []) if v['Key'].endswith('/LOCK'))
print(json.dumps(n))
"#;

/// The retention of the current marker and job identities below a prefix.
const IDENTITY_RETENTION: &str = r#"
bucket, prefix = argv
out = {}
for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get('Contents', []):
    k = o['Key']
    if k.endswith('/JOB.json') or k == prefix + 'zdm-backup.json':
        r = s3.get_object_retention(Bucket=bucket, Key=k)['Retention']
        out[k] = [r['Mode'], r['RetainUntilDate'].timestamp()]
print(json.dumps(out))
"#;

/// The retention mode of every object version below a prefix (`null` where there is none).
const RETENTIONS: &str = r#"
bucket, prefix = argv
out = {}
r = s3.list_object_versions(Bucket=bucket, Prefix=prefix)
for v in r.get('Versions', []):
    try:
        got = s3.get_object_retention(Bucket=bucket, Key=v['Key'], VersionId=v['VersionId'])
        out[v['Key']] = got['Retention']['Mode']
    except Exception:
        out[v['Key']] = None
print(json.dumps(out))
"#;

#[test]
fn daemon_keeps_points_locked_and_its_listings_write_nothing() {
    let Some(Scene {
        w,
        tmp: _tmp,
        state: _,
        src,
    }) = scene("zdm-plain")
    else {
        return;
    };
    w.create_locked_bucket("zdm-dworm");
    write(&src.join("a.txt"), b"kept\n");
    let d = common::Daemon::start(&[
        "--server-name",
        "srv",
        "--extra-partition",
        src.to_str().unwrap(),
    ]);
    let spec = serde_json::json!({"center": 1, "type": "s3", "remotePath": "s3://zdm-dworm/site",
        "endpoint": w.endpoint(), "account": ACCESS_KEY, "password": SECRET_KEY,
        "pathStyle": true, "objectLockDays": 1});
    let r = d.post("/api/zdms/repositories/verify", spec.clone());
    assert_eq!(r.status, 200, "{}", r.body);
    let checks = r.body["data"]["checks"].as_array().unwrap();
    assert_eq!(checks.last().unwrap(), "object lock", "{}", r.body);
    let r = d.post("/api/zdms/repositories", spec);
    assert_eq!(r.status, 201, "{}", r.body);
    let repo_id = r.body["data"]["id"].as_i64().unwrap();
    let listed = |d: &common::Daemon| d.get("/api/zdms/repositories").body["data"][0].clone();
    assert_eq!(listed(&d)["objectLockDays"], 1);

    // PUT changes it (for new points); a bad value is refused and changes nothing.
    for (value, status, shown) in [
        (serde_json::json!(3), 200, serde_json::json!(3)),
        (serde_json::json!(-2), 400, serde_json::json!(3)),
        (serde_json::json!(0), 200, Value::Null),
        (serde_json::json!(1), 200, serde_json::json!(1)),
    ] {
        let r = d.put(
            &format!("/api/zdms/repositories/{repo_id}"),
            serde_json::json!({ "objectLockDays": value }),
        );
        assert_eq!(r.status, status, "{value}: {}", r.body);
        common::assert_envelope(&r);
        assert_eq!(listed(&d)["objectLockDays"], shown, "{value}");
    }

    let r = d.post(
        "/api/backups",
        serde_json::json!({"center": 1, "server": 1, "type": "full",
            "partition": [src.to_str().unwrap()], "repository": {"id": repo_id},
            "individual": [{"partition": src.to_str().unwrap(), "jobName": "worm"}]}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let id = d.get("/api/backups/worm").body["data"]["job"]["info"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = d.put("/api/backups/worm", serde_json::json!({"status": "start"}));
    assert!(r.status == 200 || r.status == 409, "{}", r.body);
    let run = &ended_runs(&d, &id, 1)[0];
    assert_eq!(run["run"]["state"], "complete", "{run}\n{}", d.log_text());

    // The run's manifest and data are under retention.
    let retained = w.boto3(RETENTIONS, &["zdm-dworm", "site/srv/worm/"]);
    let of = |suffix: &str| {
        let found = retained.as_object().unwrap().iter();
        found
            .filter(|(k, _)| k.ends_with(suffix))
            .map(|(_, m)| m.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        of("/MANIFEST.json"),
        [serde_json::json!("COMPLIANCE")],
        "{retained}"
    );
    assert_eq!(
        of("data.tar.zst"),
        [serde_json::json!("COMPLIANCE")],
        "{retained}"
    );

    // Listing points (job view, images) reads: it writes no probe into the bucket.
    let probes = || {
        w.boto3(
            r#"
r = s3.list_object_versions(Bucket='zdm-dworm', Prefix='site/.zdm-preflight/')
print(len(r.get('Versions', [])) + len(r.get('DeleteMarkers', [])))
"#,
            &[],
        )
    };
    let before = probes();
    assert!(
        before.as_u64().unwrap() > 0,
        "the run's preflight wrote probes"
    );
    let r = d.get("/api/backups/worm/images");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1, "{}", r.body);
    assert_eq!(d.get("/api/backups/worm").status, 200);
    assert_eq!(probes(), before);
}
