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
