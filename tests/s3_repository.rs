//! Restore points kept on S3 (issue 15): the command line's round trips against a real
//! SeaweedFS, publication by conditional writes, crash cleanup and the failures an operator
//! meets (wrong keys, missing bucket, a store that ignores conditions).

mod common;

use common::seaweed::{Seaweed, ACCESS_KEY, SECRET_KEY};
use common::tree::{assert_same, noise, snapshot, write};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use zdm_backupd::engine::s3::{S3Endpoint, S3Keys, S3Location, S3Store};

/// The CLI with S3 keys in the environment and its own state directory.
fn zdm(state: &Path, secret: &str, args: &[&str]) -> common::run::Out {
    let o = Command::new(common::BIN)
        .args(args)
        .env_remove("ZDM_BACKUPD_CONFIG")
        .env("ZDM_BACKUPD_STATE_DIR", state)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
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
    let Some(w) = Seaweed::start() else { return };
    w.create_bucket("zdm-cli");
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let src = tmp.path().join("src");
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
    let endpoint = w.endpoint();
    let common = |job: &'static str| -> Vec<String> {
        [
            "--repository",
            "s3://zdm-cli/site-a",
            "--s3-endpoint",
            &endpoint,
            "--s3-path-style",
            "--server",
            "srv",
            "--job",
            job,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
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
        let s = store(&w, &format!("s3://zdm-cli/site-a/srv/{job}"));
        // (SeaweedFS goes on listing emptied prefixes: only what holds objects counts.)
        let points: Vec<String> = s
            .list("")
            .unwrap()
            .into_iter()
            .filter(|n| n.starts_with("20"))
            .filter(|n| s.get(&format!("{n}/MANIFEST.json")).unwrap().is_some())
            .collect();
        assert_eq!(points.len(), 2, "{points:?}");
        let data: Vec<String> = s
            .list(".data")
            .unwrap()
            .into_iter()
            .filter(|d| !s.list_all(&format!(".data/{d}")).unwrap().is_empty())
            .collect();
        assert_eq!(data.len(), 2, "{data:?}");
        // No upload intent is left, and the lock is free.
        let all = s.list_all("").unwrap();
        assert!(!all.iter().any(|k| k.contains(".uploads/")), "{all:?}");
        let lock: Value = serde_json::from_slice(&s.get("LOCK").unwrap().unwrap().data).unwrap();
        assert_eq!(lock["state"], "free", "{lock}");
    }
}

/// Repository rows and credential files the daemon holds.
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
    let Some(w) = Seaweed::start() else { return };
    w.create_bucket("zdm-api");
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
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
        (serde_json::json!({"region": "us east"}), "endpoint"),
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
    let r = d.post(
        "/api/zdms/repositories",
        serde_json::json!({"center": 1, "type": "nfs", "remotePath": "h:/e", "endpoint": endpoint}),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(repo_rows(&d), before);

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
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        let ended = loop {
            let r = d.get(&format!("/api/backups/histories?jobId={id}&sort=asc"));
            let ended: Vec<Value> = r.body["data"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["run"]["state"] == "complete" || r["run"]["state"] == "error")
                .cloned()
                .collect();
            if ended.len() > round {
                break ended;
            }
            assert!(std::time::Instant::now() < deadline, "{}", d.log_text());
            std::thread::sleep(std::time::Duration::from_millis(200));
        };
        let run = &ended[round];
        assert_eq!(run["run"]["state"], "complete", "{run}\n{}", d.log_text());
    }
    // The points, read back over S3 with the daemon's key: two after rotation, restorable.
    let c = [
        "--repository",
        "s3://zdm-api/site",
        "--s3-endpoint",
        &endpoint,
        "--s3-path-style",
        "--server",
        "srv",
        "--job",
        "ons3",
    ];
    let state = d.state.to_str().unwrap();
    let mut a = vec!["verify"];
    a.extend(c);
    let o = zdm(Path::new(state), SECRET_KEY, &a);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_eq!(o.stdout.matches(" OK ").count(), 2, "{}", o.stdout);
    let target = tmp.path().join("back");
    let mut a = vec!["restore", "--target", target.to_str().unwrap()];
    a.extend(c);
    let o = zdm(Path::new(state), SECRET_KEY, &a);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_same(&snapshot(&src, &[]), &snapshot(&target, &[]), "daemon");

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
