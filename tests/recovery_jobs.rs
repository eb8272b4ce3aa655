//! Recovery jobs through the API (RECOVERIES.md §4.4-4.6) against a real daemon, real runs and
//! a real repository: restores with each overwrite policy into targets that already hold files,
//! every refusal (nothing stored), progress and stop, the shared lock against rotation, drills
//! and `lastRestoreTest`.

mod common;
use common::smtp::Smtp;
use common::tree::{assert_same, is_root, sh, snapshot, write, LoopFs};
use common::{assert_error, Daemon};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{partition_env as env, PartitionEnv as Env};

fn tree(src: &Path) {
    write(&src.join("etc/hosts"), b"127.0.0.1 localhost\n");
    write(&src.join("etc/ssh/sshd_config"), b"Port 22\n");
    write(&src.join("etc/motd"), b"hello\n");
    write(&src.join("home/ann/notes.txt"), b"notes\n");
}

impl Env {
    fn part(&self) -> String {
        self.src.to_str().unwrap().to_string()
    }

    fn register_backup(&self, name: &str, extra: Value) {
        let mut body = json!({
            "center": 1, "server": 1, "type": "increment", "rotation": 5,
            "partition": [self.part()],
            "repository": { "type": "nfs", "path": self.repo.to_str().unwrap() },
            "individual": [{ "partition": self.part(), "jobName": name }],
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = self.d.post("/api/backups", body);
        assert_eq!(r.status, 201, "{}", r.body);
    }

    /// Runs backup job `job` now and waits for it; returns the point id.
    fn backup(&self, job: &str) -> String {
        let runs = |d: &Daemon| {
            d.get(&format!("/api/backups/histories?jobName={job}&sort=asc"))
                .body["data"]
                .as_array()
                .unwrap()
                .clone()
        };
        let before = runs(&self.d).len();
        let r = self
            .d
            .put(&format!("/api/backups/{job}"), json!({ "status": "start" }));
        assert_eq!(r.status, 200, "{}", r.body);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(last) = runs(&self.d).get(before) {
                let st = last["run"]["state"].as_str().unwrap().to_string();
                if st == "complete" || st == "warning" {
                    return last["run"]["restorePoint"].as_str().unwrap().to_string();
                }
                assert!(
                    !["error", "canceled", "interrupted"].contains(&st.as_str()),
                    "{last:#}"
                );
            }
            assert!(Instant::now() < deadline, "backup never finished");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A recovery body restoring `paths` of backup job `job` into `target`.
    fn body(&self, name: &str, job: &str, target: &Path, part: Value) -> Value {
        let mut p = json!({
            "sourcePartition": self.part(),
            "targetPartition": target.to_str().unwrap(),
            "backupJob": job,
        });
        for (k, v) in part.as_object().unwrap() {
            p[k] = v.clone();
        }
        json!({
            "center": 1, "source": "srv", "target": 1, "repository": { "id": 1 },
            "mode": "full", "jobName": name, "jobList": [p],
        })
    }

    /// Waits for the newest run of recovery job `name` to finish; returns its history item.
    fn finished(&self, name: &str, runs_before: usize) -> Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let r = self.d.get(&format!(
                "/api/recoveries/histories?jobName={name}&sort=asc"
            ));
            assert_eq!(r.status, 200, "{}", r.body);
            let items = r.body["data"].as_array().unwrap();
            if let Some(x) = items.get(runs_before) {
                if x["result"]["status"] != "RUNNING" {
                    return x.clone();
                }
            }
            assert!(
                Instant::now() < deadline,
                "recovery {name} never finished: {}",
                r.body
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn rows(&self) -> (i64, i64, i64) {
        let db = self.d.db();
        let c = |t: &str| {
            db.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap()
        };
        (c("recoveries"), c("schedules"), c("recovery_runs"))
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

fn set_mtime(p: &Path, secs: i64) {
    let t = nix::sys::time::TimeSpec::new(secs, 0);
    nix::sys::stat::utimensat(
        None,
        p,
        &t,
        &t,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .unwrap();
}

/// A target that already holds files: `etc/hosts` older and different, `etc/motd` newer and
/// different, `etc/local.conf` that the point does not have.
fn prepared_target(dir: &Path) {
    write(&dir.join("etc/hosts"), b"old local copy\n");
    set_mtime(&dir.join("etc/hosts"), 946_684_800); // 2000
    write(&dir.join("etc/motd"), b"edited later\n");
    set_mtime(&dir.join("etc/motd"), 4_102_444_800); // 2100
    write(&dir.join("etc/local.conf"), b"mine\n");
}

#[test]
fn recoveries_restore_with_each_overwrite_policy_and_keep_their_history() {
    let e = env(tree);
    e.register_backup("web", json!({}));
    let full = e.backup("web");
    write(&e.src.join("etc/hosts"), b"10.0.0.1 changed\n");
    let incr = e.backup("web");
    let part = e.part();

    // Register with the vendor's answer; autoStart runs it now.
    let t = e.tmp.path().join("t-always");
    prepared_target(&t);
    let mut body = e.body(
        "r-always",
        "web",
        &t,
        json!({"paths": [format!("{part}/etc")], "overwritePolicy": "always", "backupFile": full}),
    );
    body["autoStart"] = json!("use");
    let r = e.d.post("/api/recoveries", body);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["message"], "Recovery job registration completed");
    let d = &r.body["data"];
    assert_eq!(d["common"]["jobName"], "r-always");
    assert_eq!(d["common"]["platform"], "baremetal");
    assert_eq!(d["common"]["autoStart"], "use");
    let p0 = &d["partitions"][0];
    assert_eq!(p0["state"], "success");
    assert_eq!(p0["overwrite"], "allow");
    assert_eq!(p0["overwritePolicy"], "always");
    assert_eq!(p0["backup"]["useLatest"], "false");
    assert_eq!(p0["backup"]["backupFile"], full.as_str());
    assert_eq!(p0["backup"]["backupJob"], "web");
    assert_eq!(p0["repository"]["id"], 1);
    assert_eq!(p0["paths"], json!([format!("{part}/etc")]));
    assert_eq!(
        d["summary"],
        json!({"total": 1, "successful": 1, "failed": 0})
    );
    let h = e.finished("r-always", 0);
    assert_eq!(h["result"]["status"], "COMPLETE", "{h:#}");
    // The full point's hosts replaced the target's; local.conf is not the point's business.
    assert_eq!(read(&t.join("etc/hosts")), "127.0.0.1 localhost\n");
    assert_eq!(read(&t.join("etc/motd")), "hello\n");
    assert_eq!(read(&t.join("etc/local.conf")), "mine\n");
    assert_eq!(h["result"]["stats"]["skipped"], 0, "{h:#}");
    assert_eq!(h["backup"][0]["fileName"], full.as_str());
    assert_eq!(h["job"]["recoverDrive"], json!([t.to_str().unwrap()]));
    assert!(
        h["result"]["description"]
            .as_str()
            .unwrap()
            .starts_with("Restored "),
        "{h:#}"
    );

    // Each other policy against the same prepared target, from the newest point.
    let run = |policy: &str| -> (PathBuf, Value) {
        let t = e.tmp.path().join(format!("t-{policy}"));
        prepared_target(&t);
        let mut body = e.body(
            &format!("r-{policy}"),
            "web",
            &t,
            json!({"paths": [format!("{part}/etc")], "overwritePolicy": policy}),
        );
        body["autoStart"] = json!("use");
        let r = e.d.post("/api/recoveries", body);
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(
            r.body["data"]["partitions"][0]["backup"]["useLatest"],
            "true"
        );
        assert_eq!(
            r.body["data"]["partitions"][0]["backup"]["backupFile"],
            incr.as_str()
        );
        (t, e.finished(&format!("r-{policy}"), 0))
    };
    // never: every file that exists is kept and counted.
    let (t, h) = run("never");
    assert_eq!(h["result"]["status"], "COMPLETE", "{h:#}");
    assert_eq!(read(&t.join("etc/hosts")), "old local copy\n");
    assert_eq!(read(&t.join("etc/motd")), "edited later\n");
    assert_eq!(read(&t.join("etc/ssh/sshd_config")), "Port 22\n");
    assert_eq!(h["result"]["stats"]["skipped"], 2, "{h:#}");
    // if-newer: the old hosts is replaced, the motd edited "later" is kept.
    let (t, h) = run("if-newer");
    assert_eq!(read(&t.join("etc/hosts")), "10.0.0.1 changed\n");
    assert_eq!(read(&t.join("etc/motd")), "edited later\n");
    assert_eq!(h["result"]["stats"]["skipped"], 1, "{h:#}");
    // if-changed: both differ, both are replaced.
    let (t, h) = run("if-changed");
    assert_eq!(read(&t.join("etc/hosts")), "10.0.0.1 changed\n");
    assert_eq!(read(&t.join("etc/motd")), "hello\n");
    assert_eq!(h["result"]["stats"]["skipped"], 0, "{h:#}");
    // fail: a target that is not empty fails the run, not the registration, and writes nothing.
    let (t, h) = run("fail");
    assert_eq!(h["result"]["status"], "FAIL", "{h:#}");
    assert!(
        h["result"]["description"]
            .as_str()
            .unwrap()
            .contains("is not empty"),
        "{h:#}"
    );
    assert!(!t.join("etc/ssh").exists());

    // A whole point, flat layout of two paths, with verify: the tree is the source's.
    let t = e.tmp.path().join("t-whole");
    let mut body = e.body("r-whole", "web", &t, json!({}));
    body["verify"] = json!("use");
    body["autoStart"] = json!("use");
    let r = e.d.post("/api/recoveries", body);
    assert_eq!(r.status, 201, "{}", r.body);
    let h = e.finished("r-whole", 0);
    assert_eq!(h["result"]["verify"]["status"], "ok", "{h:#}");
    assert_same(&snapshot(&e.src, &[]), &snapshot(&t, &[]), "whole point");
    let t = e.tmp.path().join("t-flat");
    let mut body = e.body(
        "r-flat",
        "web",
        &t,
        json!({"paths": [format!("{part}/etc/ssh"), format!("{part}/home/ann/notes.txt")], "layout": "flat"}),
    );
    body["autoStart"] = json!("use");
    assert_eq!(e.d.post("/api/recoveries", body).status, 201);
    e.finished("r-flat", 0);
    assert_eq!(read(&t.join("ssh/sshd_config")), "Port 22\n");
    assert_eq!(read(&t.join("notes.txt")), "notes\n");

    // The list and the single view, vendor shape with the options.
    let r = e.d.get("/api/recoveries?jobName=r-flat");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["message"], "Recovery job list");
    let item = &r.body["data"][0];
    assert_eq!(item["system"]["target"]["name"], "srv");
    assert_eq!(item["job"]["info"]["status"]["current"], "Complete");
    let det = &item["job"]["detail"][0];
    assert_eq!(det["from"], part.as_str());
    assert_eq!(det["to"], t.to_str().unwrap());
    assert_eq!(det["backup"]["latest"], "use");
    assert_eq!(det["option"]["layout"], "flat");
    assert_eq!(det["option"]["overwrite"], "Not overwritten");
    let r = e.d.get("/api/recoveries/r-flat");
    assert_eq!(r.body["message"], "Recovery job retrieved");
    assert_error(
        &e.d.get("/api/recoveries/r-flat?mode=increment"),
        404,
        "Recovery job 'r-flat' exists, but no result matches the given filters.",
    );
    let r = e.d.get("/api/recoveries?status=complete&limit=2&page=1");
    assert_eq!(r.body["pagination"]["totalItems"], 6, "{}", r.body);
    // Lists are ascending by default, newest first with sort=desc; histories the other way.
    let first = |path: &str| e.d.get(path).body["data"][0].clone();
    assert_eq!(first("/api/recoveries")["job"]["info"]["name"], "r-always");
    let newest = first("/api/recoveries?sort=desc&limit=1&page=1");
    assert_eq!(newest["job"]["info"]["name"], "r-flat");
    assert_eq!(first("/api/recoveries/histories")["job"]["name"], "r-flat");
    assert_eq!(
        first("/api/recoveries/histories?sort=asc")["job"]["name"],
        "r-always"
    );
    let r = e.d.get("/api/recoveries/histories?result=failed");
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1, "{}", r.body);
    let id = h["id"].as_i64().unwrap();
    let one = e.d.get(&format!("/api/recoveries/histories/{id}"));
    assert_eq!(one.body["message"], "Recovery history retrieved");
    assert_eq!(one.body["data"]["id"], id);
    let many = e.d.get("/api/recoveries/histories/r-never");
    assert_eq!(many.body["message"], "Recovery history list");
    assert_eq!(many.body["data"].as_array().unwrap().len(), 1);
    let m = e.d.get("/api/recoveries/monitoring/job/r-whole");
    assert_eq!(m.body["message"], "Recovery monitoring info");
    assert_eq!(
        m.body["data"]["job"]["details"][0]["progressInfo"]["percent"],
        "100%"
    );
    let m = e.d.get("/api/recoveries/monitoring/system/1");
    assert_eq!(m.body["data"]["summary"]["total"], 7, "{}", m.body);
    assert_eq!(m.body["data"]["summary"]["failed"], 1, "{}", m.body);

    // A run again, then delete: the history and the restored files stay (R11).
    let before = e.rows();
    let r = e.d.delete("/api/recoveries/r-never");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["message"], "Recovery job deleted");
    assert_eq!(e.rows().0, before.0 - 1);
    assert_eq!(e.rows().2, before.2);
    assert!(e.tmp.path().join("t-never/etc/hosts").exists());
    assert_error(
        &e.d.get("/api/recoveries/r-never"),
        404,
        "Recovery job 'r-never' not found",
    );
    let many = e.d.get("/api/recoveries/histories/r-never");
    assert_eq!(many.body["data"].as_array().unwrap().len(), 1);
    // IDs are never reused (R12).
    let max: i64 =
        e.d.db()
            .query_row("SELECT max(id) FROM recoveries", [], |r| r.get(0))
            .unwrap();
    let r = e.d.post(
        "/api/recoveries",
        e.body("r-again", "web", &e.tmp.path().join("t-again"), json!({})),
    );
    assert_eq!(
        r.body["data"]["id"].as_i64().unwrap(),
        max + 1,
        "{}",
        r.body
    );
}

#[test]
fn recovery_refusals_are_clear_and_store_nothing() {
    let e = env(tree);
    e.register_backup("web", json!({}));
    let point = e.backup("web");
    let part = e.part();
    let t = e.tmp.path().join("target");
    let ok = e.body("bad", "web", &t, json!({}));
    let before = e.rows();
    let check = |body: Value, status: u16, msg: &str| {
        let r = e.d.post("/api/recoveries", body.clone());
        assert_eq!(r.status, status, "{body}: {}", r.body);
        let all = format!("{} {}", r.body["error"], r.body["detail"]);
        assert!(all.contains(msg), "want '{msg}' in {all}");
        assert_eq!(e.rows(), before, "{body} left rows behind");
    };
    let with = |f: &dyn Fn(&mut Value)| {
        let mut b = ok.clone();
        f(&mut b);
        b
    };
    // Validation: every problem is reported at once.
    check(json!({}), 400, "center is required");
    check(json!([1]), 400, "must be a JSON object");
    check(
        with(&|b| b["mode"] = json!("smart")),
        400,
        "mode must be one of full, increment",
    );
    check(
        with(&|b| b["afterReboot"] = json!("reboot")),
        400,
        "afterReboot 'reboot' is not supported on this appliance",
    );
    check(
        with(&|b| b["jobList"][0]["targetPartition"] = json!("rel/dir")),
        400,
        "targetPartition must be an absolute path",
    );
    check(
        with(&|b| b["jobList"][0]["paths"] = json!(["/elsewhere/x"])),
        400,
        "paths[0] is outside partition",
    );
    check(
        with(&|b| {
            b["jobList"][0]["paths"] = json!([format!("{part}/etc"), format!("{part}/../x")])
        }),
        400,
        "paths[1] must not contain '..'",
    );
    check(
        with(&|b| {
            b["overwrite"] = json!("not allow");
            b["overwritePolicy"] = json!("always");
        }),
        400,
        "contradicts",
    );
    check(
        with(&|b| b["jobList"][0]["overwritePolicy"] = json!("sometimes")),
        400,
        "overwritePolicy must be one of",
    );
    check(
        with(&|b| b["jobList"] = json!([])),
        400,
        "jobList must name at least one partition",
    );
    check(with(&|b| b["bogus"] = json!(1)), 400, "bogus");
    check(
        with(&|b| b["jobList"][0]["targetPartition"] = json!(part.clone())),
        400,
        "restoring in place needs overwrite",
    );
    check(
        with(&|b| {
            b["jobList"][0]["layout"] = json!("flat");
            b["jobList"][0]["delete"] = json!(true);
        }),
        400,
        "original layout only",
    );
    // Schedules: basic types only (R6), references resolved.
    check(
        with(
            &|b| b["schedule"] = json!({"type": 7, "basic": {"day": "mon", "time": "10:00"}, "advanced": {"day": "tue,wed", "time": "12:00"}}),
        ),
        400,
        "For full/increment job types, schedule must contain only basic.",
    );
    check(
        with(&|b| b["schedule"] = json!(99999)),
        404,
        "Schedule ID '99999' not found",
    );
    check(
        with(&|b| b["schedule"] = json!({"type": 1, "basic": 99998})),
        404,
        "Schedule ID '99998' not found.",
    );
    check(
        with(&|b| b["schedule"] = json!({"type": 1, "basic": 99997, "advanced": 99996})),
        400,
        "advanced is only used by smart schedule types",
    );
    // References that do not resolve.
    check(
        with(&|b| b["center"] = json!(999)),
        404,
        "Zdm with ID '999' not found",
    );
    check(
        with(&|b| b["target"] = json!("elsewhere")),
        404,
        "Server 'elsewhere' not found.",
    );
    check(
        with(&|b| b["source"] = json!(7)),
        404,
        "Server '7' not found.",
    );
    check(
        with(&|b| b["repository"] = json!({"id": 999})),
        404,
        "Repository with ID '999' not found",
    );
    check(
        with(&|b| b["jobList"][0]["backupJob"] = json!("nope")),
        404,
        "Backup job 'nope' not found.",
    );
    check(
        with(&|b| b["jobList"][0]["backupFile"] = json!("20000101T000000.000Z-full")),
        404,
        "Backup image '20000101T000000.000Z-full' not found for job 'web'.",
    );
    check(
        with(&|b| b["jobList"][0]["backupFile"] = json!("2001-01-01 00:00:00")),
        404,
        "Backup image '2001-01-01 00:00:00' not found for job 'web'.",
    );
    // A partition without backups fails alone; all failing is NO_PARTITIONS_TO_PROCESS.
    check(
        with(&|b| {
            b["jobList"][0]["sourcePartition"] = json!("/");
            b["jobList"][0].as_object_mut().unwrap().remove("backupJob");
        }),
        400,
        "NO_PARTITIONS_TO_PROCESS",
    );
    // Targets (R4): the repository, the state directory, a file, a read-only file system.
    check(
        with(&|b| b["jobList"][0]["targetPartition"] = json!(e.repo.join("x").to_str().unwrap())),
        400,
        "overlaps repository 1",
    );
    let state_dir = e.d.state.clone();
    check(
        with(&|b| {
            b["jobList"][0]["targetPartition"] = json!(state_dir.join("restore").to_str().unwrap())
        }),
        400,
        "overlaps the state directory",
    );
    write(&e.tmp.path().join("plain"), b"x");
    check(
        with(&|b| {
            b["jobList"][0]["targetPartition"] =
                json!(e.tmp.path().join("plain/sub").to_str().unwrap())
        }),
        400,
        "is not a directory",
    );
    if is_root() {
        let fs = LoopFs::new(16);
        sh(&format!("mount -o remount,ro {}", fs.mount.display()));
        check(
            with(&|b| {
                b["jobList"][0]["targetPartition"] = json!(fs.mount.join("r").to_str().unwrap())
            }),
            400,
            "ReadWritePaths=",
        );
    }
    // A second registration under a taken name.
    let r = e.d.post("/api/recoveries", ok.clone());
    assert_eq!(r.status, 201, "{}", r.body);
    let before = e.rows();
    let r = e.d.post("/api/recoveries", ok.clone());
    assert_error(&r, 409, "JOB_NAME_ALREADY_EXISTS");
    assert_eq!(e.rows(), before);
    // The other endpoints' 404s and validation.
    assert_error(
        &e.d.get("/api/recoveries/999"),
        404,
        "Recovery job with ID '999' not found",
    );
    assert_error(
        &e.d.put("/api/recoveries/999", json!({"center": 1})),
        404,
        "Recovery job with ID '999' not found",
    );
    assert_error(
        &e.d.delete("/api/recoveries/999"),
        404,
        "Recovery job with ID '999' not found",
    );
    assert_error(
        &e.d.get("/api/recoveries/histories/999"),
        404,
        "Recovery history not found for ID '999'",
    );
    assert_error(
        &e.d.get("/api/recoveries/monitoring/job/nope"),
        404,
        "Recovery job 'nope' not found",
    );
    let r = e.d.put("/api/recoveries/bad", json!({"status": "pause"}));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body["detail"].to_string().contains("center is required"),
        "{}",
        r.body
    );
    assert!(
        r.body["detail"]
            .to_string()
            .contains("status must be one of start, stop"),
        "{}",
        r.body
    );
    let r = e.d.get("/api/recoveries?mode=smart");
    assert_eq!(r.status, 400, "{}", r.body);
    let r = e.d.get("/api/recoveries/histories?result=unknown");
    assert_error(&r, 400, "");
    assert!(r
        .body
        .to_string()
        .contains("Expected 'success' | 'failed', received 'unknown'"));
    // An update changes only what it names, and says what it changed.
    let r = e.d.put(
        "/api/recoveries/bad",
        json!({"center": 1, "changeName": "good", "verify": "use",
               "jobList": [{"partition": part, "backupFile": point, "overwritePolicy": "if-newer"}]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["message"], "Recovery job Update completed");
    let fields: Vec<&str> = r.body["data"]["summary"]["commonUpdatedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["Job Name", "Verify"]);
    let g = e.d.get("/api/recoveries/good");
    let det = &g.body["data"]["job"]["detail"][0];
    assert_eq!(det["backup"]["fileName"], point.as_str());
    assert_eq!(det["option"]["overwritePolicy"], "if-newer");
    assert_eq!(det["option"]["verify"], "use");
    // A schedule attached by ID cannot be deleted while the recovery uses it.
    let s = e.d.post(
        "/api/schedules",
        json!({"center": 1, "type": 1, "basic": {"time": "00:00", "interval": {"minute": "30"}}}),
    );
    assert_eq!(s.status, 201, "{}", s.body);
    let sid = s.body["data"]["basic"]["id"].as_str().unwrap().to_string();
    let r = e.d.put(
        "/api/recoveries/good",
        json!({"center": 1, "schedule": sid.parse::<i64>().unwrap()}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = e.d.delete(&format!("/api/schedules/{sid}"));
    assert_error(
        &r,
        409,
        &format!("Schedule ID '{sid}' is referenced by: recovery(1)"),
    );
}

#[test]
fn a_point_rotated_away_fails_a_fixed_recovery_and_latest_takes_the_newest() {
    let e = env(tree);
    e.register_backup("web", json!({"type": "full", "rotation": 1}));
    let first = e.backup("web");
    let fixed = e.body(
        "fixed",
        "web",
        &e.tmp.path().join("t1"),
        json!({"backupFile": first}),
    );
    assert_eq!(e.d.post("/api/recoveries", fixed).status, 201);
    let latest = e.body("latest", "web", &e.tmp.path().join("t2"), json!({}));
    assert_eq!(e.d.post("/api/recoveries", latest).status, 201);
    write(&e.src.join("etc/hosts"), b"second\n");
    let second = e.backup("web");
    assert_ne!(first, second);
    assert!(
        !e.repo.join("srv/web").join(&first).exists(),
        "rotation kept it"
    );
    for name in ["fixed", "latest"] {
        let r = e.d.put(
            &format!("/api/recoveries/{name}"),
            json!({"center": 1, "status": "start"}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let h = e.finished("fixed", 0);
    assert_eq!(h["result"]["status"], "FAIL", "{h:#}");
    assert!(
        h["result"]["description"]
            .as_str()
            .unwrap()
            .contains(&first),
        "{h:#}"
    );
    let h = e.finished("latest", 0);
    assert_eq!(h["result"]["status"], "COMPLETE", "{h:#}");
    assert_eq!(h["backup"][0]["fileName"], second.as_str());
    assert_eq!(read(&e.tmp.path().join("t2/etc/hosts")), "second\n");
}

#[test]
fn a_slow_recovery_shows_progress_holds_rotation_back_and_stops_when_told() {
    let e = env(|src| {
        for i in 0..6 {
            write(
                &src.join(format!("big/f{i}")),
                &common::tree::noise(1 << 20, i),
            );
        }
    });
    e.register_backup(
        "web",
        json!({"type": "full", "rotation": 1, "compression": "not use"}),
    );
    let first = e.backup("web");
    let t = e.tmp.path().join("slow");
    let mut body = e.body("slow", "web", &t, json!({}));
    body["networkLimit"] = json!(1);
    body["autoStart"] = json!("use");
    let r = e.d.post("/api/recoveries", body);
    assert_eq!(r.status, 201, "{}", r.body);
    // Progress while it runs: bytes, files, a rate and an ETA.
    let deadline = Instant::now() + Duration::from_secs(30);
    let info = loop {
        let m = e.d.get("/api/recoveries/monitoring/job/slow");
        let info = m.body["data"]["job"]["details"][0]["progressInfo"].clone();
        if info["status"] == "Processing" && info["bytes"]["done"].as_u64().unwrap_or(0) > 0 {
            break info;
        }
        assert!(Instant::now() < deadline, "no progress: {}", m.body);
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(info["bytes"]["total"], 6 << 20, "{info:#}");
    assert!(
        info["rate"].as_str().unwrap().ends_with("MiB/s"),
        "{info:#}"
    );
    assert!(
        info["message"].as_str().unwrap().starts_with("Restoring "),
        "{info:#}"
    );
    let r = e.d.get("/api/recoveries/slow");
    assert_eq!(
        r.body["data"]["job"]["info"]["status"]["current"],
        "Processing"
    );
    // R5: the backup job cannot be deleted, and a backup run keeps the point being read.
    assert_error(
        &e.d.delete("/api/backups/web"),
        409,
        "Backup job 'web' is being restored from; wait for the recovery to finish or stop it",
    );
    let second = e.backup("web");
    assert!(
        e.repo.join("srv/web").join(&first).exists(),
        "rotation removed a point being read"
    );
    assert!(e.repo.join("srv/web").join(&second).exists());
    // Stop cancels at a file boundary; the history says so.
    let r = e.d.put(
        "/api/recoveries/slow",
        json!({"center": 1, "status": "stop"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let h = e.finished("slow", 0);
    assert_eq!(h["result"]["status"], "FAIL", "{h:#}");
    assert!(
        h["result"]["description"]
            .as_str()
            .unwrap()
            .starts_with("Canceled by user"),
        "{h:#}"
    );
    let r = e.d.get("/api/recoveries/slow");
    assert_eq!(
        r.body["data"]["job"]["info"]["status"]["current"],
        "Canceled"
    );
    // The next backup run rotates what the restore held back.
    let third = e.backup("web");
    assert!(!e.repo.join("srv/web").join(&first).exists());
    assert!(e.repo.join("srv/web").join(&third).exists());
}

#[test]
fn a_drill_on_a_schedule_proves_a_job_restorable_and_a_damaged_point_fails_it() {
    let e = env(tree);
    e.register_backup("web", json!({}));
    e.register_backup("db", json!({}));
    e.backup("web");
    let damaged = e.backup("db");
    // Damage the db point's archive behind the daemon's back.
    let dir = e.repo.join("srv/db").join(&damaged);
    let data = std::fs::read_dir(&dir)
        .unwrap()
        .map(|f| f.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("data"))
        .unwrap();
    let mut bytes = std::fs::read(&data).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    bytes[n / 3] ^= 0xff;
    std::fs::write(&data, bytes).unwrap();
    // Never proven yet.
    let r = e.d.get("/api/backups/web");
    assert_eq!(
        r.body["data"]["job"]["info"]["restoreProof"], "never",
        "{}",
        r.body
    );
    let drill = |name: &str, job: &str| {
        let scratch = e.tmp.path().join(format!("drills/{job}"));
        let mut body = e.body(
            name,
            job,
            &scratch,
            json!({"overwritePolicy": "always", "delete": true}),
        );
        body["verify"] = json!("use");
        body["retainTarget"] = json!("not use");
        body["schedule"] =
            json!({"type": 1, "basic": {"time": "00:00", "interval": {"minute": "1"}}});
        let r = e.d.post("/api/recoveries", body);
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(
            r.body["data"]["common"]["schedule"]["type"], "Every Minute",
            "{}",
            r.body
        );
        scratch
    };
    let scratch = drill("drill-web", "web");
    drill("drill-db", "db");
    let h = e.finished("drill-web", 0);
    assert_eq!(h["result"]["status"], "COMPLETE", "{h:#}");
    assert_eq!(h["result"]["verify"]["status"], "ok", "{h:#}");
    assert_eq!(h["trigger"], "schedule");
    assert!(
        !scratch.exists(),
        "retainTarget 'not use' keeps no scratch copy"
    );
    let h = e.finished("drill-db", 0);
    assert_eq!(h["result"]["status"], "FAIL", "{h:#}");
    // The proof in the API (jobs and images) and in /metrics.
    let r = e.d.get("/api/backups/web");
    let info = &r.body["data"]["job"]["info"];
    assert_eq!(info["restoreProof"], "ok", "{}", r.body);
    assert_eq!(info["lastRestoreTest"]["status"], "ok");
    assert_eq!(info["lastRestoreTest"]["recoveryJob"], "drill-web");
    let r = e.d.get("/api/backups/web/images");
    assert_eq!(
        r.body["data"][0]["image"]["lastRestoreTest"]["status"], "ok",
        "{}",
        r.body
    );
    let r = e.d.get("/api/backups/db");
    assert_eq!(
        r.body["data"]["job"]["info"]["restoreProof"], "failed",
        "{}",
        r.body
    );
    let r = e.d.call("GET", "/metrics", None, None);
    let m = r
        .body
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| r.body.to_string());
    assert!(
        m.lines().any(|l| l.starts_with(
            "zdm_backup_last_restore_test_timestamp_seconds{job=\"web\",result=\"ok\"}"
        )),
        "{m}"
    );
    assert!(
        m.lines().any(|l| l.starts_with(
            "zdm_backup_last_restore_test_timestamp_seconds{job=\"db\",result=\"failed\"}"
        )),
        "{m}"
    );
    let r = e.d.get("/api/recoveries/drill-web");
    assert_eq!(
        r.body["data"]["job"]["info"]["status"]["current"], "Scheduled",
        "{}",
        r.body
    );
    assert_ne!(r.body["data"]["job"]["info"]["nextRun"], Value::Null);
}

#[test]
fn an_encrypted_job_restores_through_a_recovery() {
    let e = env(tree);
    e.register_backup("sealed", json!({"encryption": "use"}));
    e.backup("sealed");
    write(&e.src.join("home/ann/notes.txt"), b"more notes\n");
    e.backup("sealed");
    // The archive on the share is not readable without the appliance key.
    let t = e.tmp.path().join("unsealed");
    let mut body = e.body("unseal", "sealed", &t, json!({}));
    body["verify"] = json!("use");
    body["autoStart"] = json!("use");
    let r = e.d.post("/api/recoveries", body);
    assert_eq!(r.status, 201, "{}", r.body);
    let h = e.finished("unseal", 0);
    assert_eq!(h["result"]["status"], "COMPLETE", "{h:#}");
    assert_eq!(h["result"]["verify"]["status"], "ok", "{h:#}");
    assert_same(
        &snapshot(&e.src, &[]),
        &snapshot(&t, &[]),
        "encrypted chain",
    );
}

#[test]
fn recoveries_run_scripts_send_mail_and_restore_incrementally() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(smtp) = Smtp::start(tmp.path()) else {
        return;
    };
    let (src, repo) = (tmp.path().join("src"), tmp.path().join("repo"));
    tree(&src);
    std::fs::create_dir_all(&repo).unwrap();
    let cfg = tmp.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[mail]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nfrom = \"backup@example.com\"\n",
            smtp.port
        ),
    )
    .unwrap();
    let d = Daemon::start(&[
        "--config",
        cfg.to_str().unwrap(),
        "--server-name",
        "srv",
        "--extra-partition",
        src.to_str().unwrap(),
    ]);
    let e = Env {
        d,
        src,
        repo,
        tmp,
        fs: None,
    };
    e.register_backup("web", json!({}));
    e.backup("web");
    // An after-script that records what it was told.
    let scripts = common::script_dir();
    let out = e.tmp.path().join("script.out");
    let script = scripts.path().join("after.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$ZDM_PHASE $ZDM_RESULT $ZDM_RECOVERY_NAME $ZDM_TARGETS\" >> {}\n",
            out.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let t = e.tmp.path().join("inc");
    let mut body = e.body("inc", "web", &t, json!({"overwritePolicy": "always"}));
    body["scriptPath"] = json!(script);
    body["scriptRun"] = json!("after");
    body["mailEvent"] = json!("ops@example.com");
    body["autoStart"] = json!("use");
    let r = e.d.post("/api/recoveries", body);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["data"]["common"]["scriptRunTiming"], "after job");
    let h = e.finished("inc", 0);
    assert_eq!(h["result"]["status"], "COMPLETE", "{h:#}");
    assert_eq!(
        read(&out).trim(),
        format!("after success inc {}", t.display())
    );
    let mail = smtp.wait_for("the recovery", |m| m.contains("recovery inc on srv"));
    assert!(mail.contains("To: ops@example.com"), "{mail}");
    assert!(mail.contains("success"), "{mail}");
    // Increment mode writes only what differs from the target: one file changed there.
    write(&t.join("etc/hosts"), b"edited on the target\n");
    let r = e.d.put(
        "/api/recoveries/inc",
        json!({"center": 1, "mode": "increment", "status": "start"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let h = e.finished("inc", 1);
    assert_eq!(h["result"]["status"], "COMPLETE", "{h:#}");
    assert_eq!(read(&t.join("etc/hosts")), "127.0.0.1 localhost\n");
    assert_eq!(h["result"]["stats"]["skipped"], 3, "{h:#}");
    // Full mode with `always` replaces them all.
    let r = e.d.put(
        "/api/recoveries/inc",
        json!({"center": 1, "mode": "full", "status": "start"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let h = e.finished("inc", 2);
    assert_eq!(h["result"]["stats"]["skipped"], 0, "{h:#}");
    assert_eq!(read(&out).lines().count(), 3);
}

#[test]
fn a_recovery_killed_with_the_daemon_is_recorded_as_interrupted_and_runs_again() {
    let mut e = env(|src| {
        for i in 0..4 {
            write(
                &src.join(format!("big/f{i}")),
                &common::tree::noise(1 << 20, i),
            );
        }
    });
    e.register_backup("web", json!({"compression": "not use"}));
    e.backup("web");
    let t = e.tmp.path().join("crash");
    let mut body = e.body("crash", "web", &t, json!({"overwritePolicy": "always"}));
    body["networkLimit"] = json!(1);
    body["autoStart"] = json!("use");
    assert_eq!(e.d.post("/api/recoveries", body).status, 201);
    let deadline = Instant::now() + Duration::from_secs(30);
    while e.d.get("/api/recoveries/crash").body["data"]["job"]["info"]["status"]["current"]
        != "Processing"
    {
        assert!(Instant::now() < deadline, "never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    e.d.restart_after(Duration::from_millis(100));
    // Start-up marks the run that died with the daemon; the job is not stuck "Processing".
    let h = e.finished("crash", 0);
    assert_eq!(h["result"]["status"], "FAIL", "{h:#}");
    assert!(
        h["result"]["description"]
            .as_str()
            .unwrap()
            .contains("Interrupted"),
        "{h:#}"
    );
    let r = e.d.get("/api/recoveries/crash");
    assert_eq!(r.body["data"]["job"]["info"]["status"]["current"], "Error");
    // Started again, it finishes and replaces what the first run left.
    let r = e.d.put(
        "/api/recoveries/crash",
        json!({"center": 1, "networkLimit": 0, "status": "start"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let h = e.finished("crash", 1);
    assert_eq!(h["result"]["status"], "COMPLETE", "{h:#}");
    assert_same(
        &snapshot(&e.src, &[]),
        &snapshot(&t, &[]),
        "after the crash",
    );
    // No temporary file of the killed run is left behind.
    let leftovers = std::process::Command::new("find")
        .arg(&t)
        .args(["-name", ".zdm-restore-*"])
        .output()
        .unwrap();
    assert!(
        leftovers.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&leftovers.stdout)
    );
}
