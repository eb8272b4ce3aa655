//! The operator commands as the engine tests use them: back up, list, restore and verify the
//! points of a job of server `srv`, and compare restores with snapshots.
#![allow(dead_code)]

use super::run::Out;
use super::tree::{assert_same, snapshot, Snapshot};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

pub fn run<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(args: I) -> Out {
    super::run::cli_in(super::cli_state(), args)
}

pub fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// The arguments of `zdm-backupd backup` for a job of server `srv`.
pub fn backup_args(src: &Path, repo: &Path, job: &str, mode: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "backup",
        "--server",
        "srv",
        "--source",
        &s(src),
        "--repository",
        &s(repo),
        "--job",
        job,
        "--mode",
        mode,
    ]
    .iter()
    .map(|x| x.to_string())
    .collect();
    args.extend(extra.iter().map(|x| x.to_string()));
    args
}

/// Runs a backup with `--json`; returns the new point id.
pub fn backup(src: &Path, repo: &Path, job: &str, mode: &str, extra: &[&str]) -> String {
    let mut args = backup_args(src, repo, job, mode, extra);
    args.push("--json".into());
    let o = run(&args);
    assert!(
        o.code == 0 || o.code == 3,
        "backup failed ({}): {}{}",
        o.code,
        o.stdout,
        o.stderr
    );
    let done: Value = o
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["event"] == "done")
        .expect("done event");
    done["point"].as_str().unwrap().to_string()
}

pub fn points(repo: &Path, job: &str) -> Vec<Value> {
    let o = run([
        "points",
        "--json",
        "--server",
        "srv",
        "--repository",
        &s(repo),
        "--job",
        job,
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    o.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub fn restore_to(repo: &Path, job: &str, point: &str, target: &Path, extra: &[&str]) -> Out {
    let mut args = vec![
        "restore".to_string(),
        "--server".into(),
        "srv".into(),
        "--repository".into(),
        s(repo),
        "--job".into(),
        job.into(),
        "--point".into(),
        point.into(),
        "--target".into(),
        s(target),
    ];
    args.extend(extra.iter().map(|x| x.to_string()));
    run(&args)
}

pub fn verify_all(repo: &Path, job: &str, extra: &[&str]) -> Out {
    let mut args = vec![
        "verify".to_string(),
        "--server".into(),
        "srv".into(),
        "--repository".into(),
        s(repo),
        "--job".into(),
        job.into(),
    ];
    args.extend(extra.iter().map(|x| x.to_string()));
    run(&args)
}

pub fn check_restores(repo: &Path, job: &str, snaps: &HashMap<String, Snapshot>, extra: &[&str]) {
    for p in points(repo, job) {
        let id = p["id"].as_str().unwrap();
        let out = tempfile::tempdir().unwrap();
        let target = out.path().join("t");
        let o = restore_to(repo, job, id, &target, extra);
        assert!(
            o.code == 0 || o.code == 3,
            "restore {id}: {}{}",
            o.stdout,
            o.stderr
        );
        assert_same(&snaps[id], &snapshot(&target, &[]), &format!("point {id}"));
    }
}
