//! The scheduler and runner end to end: real daemon, real source trees and repositories, real
//! timers on the wall clock (tests that wait for a minute boundary run in parallel), real
//! scripts, a real SMTP server (aiosmtpd).

mod common;

use common::smtp::Smtp;
use common::tree::{assert_same, noise, snapshot, write};
use common::{Daemon, BIN};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

struct Env {
    d: Daemon,
    src: PathBuf,
    repo: PathBuf,
    tmp: tempfile::TempDir,
}

/// A daemon serving `src` as an extra partition, with an extra config body.
fn env_with(config: &str, fill: impl FnOnce(&Path)) -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(&repo).unwrap();
    fill(&src);
    let cfg = tmp.path().join("config.toml");
    std::fs::write(&cfg, config).unwrap();
    let d = Daemon::start(&[
        "--config",
        cfg.to_str().unwrap(),
        "--server-name",
        "srv",
        "--extra-partition",
        src.to_str().unwrap(),
    ]);
    Env { d, src, repo, tmp }
}

fn small_tree(src: &Path) {
    write(&src.join("a.txt"), b"hello\n");
    write(&src.join("dir/b.bin"), &noise(100_000, 1));
    write(&src.join("dir/sub/c.txt"), b"c\n");
}

/// `n` incompressible files of `size` bytes: slow to back up under a network limit.
fn big_tree(n: usize, size: usize) -> impl FnOnce(&Path) {
    move |src: &Path| {
        for i in 0..n {
            write(
                &src.join(format!("f{i:04}.bin")),
                &noise(size, i as u64 + 7),
            );
        }
    }
}

impl Env {
    fn register(&self, extra: Value) -> i64 {
        let mut body = json!({
            "center": 1, "server": 1, "type": "full",
            "partition": [self.src.to_str().unwrap()],
            "repository": { "type": "nfs", "path": self.repo.to_str().unwrap() },
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        // A verbatim job name (decision D4) is an `individual` entry.
        if let Some(name) = body.as_object_mut().unwrap().remove("jobName") {
            body["individual"] =
                json!([{ "partition": self.src.to_str().unwrap(), "jobName": name }]);
        }
        let r = self.d.post("/api/backups", body);
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["data"]["summary"]["successful"], 1, "{}", r.body);
        let name = r.body["data"]["results"][0]["jobName"]
            .as_str()
            .unwrap()
            .to_string();
        let j = self.d.get(&format!("/api/backups/{name}"));
        assert_eq!(j.status, 200, "{}", j.body);
        j.body["data"]["job"]["info"]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    fn job(&self, id: i64) -> Value {
        let r = self.d.get(&format!("/api/backups/{id}"));
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["data"].clone()
    }

    fn status(&self, id: i64) -> String {
        self.job(id)["job"]["info"]["status"]["current"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn history(&self, id: i64) -> Vec<Value> {
        let r = self
            .d
            .get(&format!("/api/backups/histories?jobId={id}&sort=asc"));
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["data"].as_array().unwrap().clone()
    }

    fn name(&self, id: i64) -> String {
        self.job(id)["job"]["info"]["name"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Waits until a history row of `id` satisfies `pred`, returns it.
    fn wait_history(&self, id: i64, secs: u64, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(r) = self.history(id).into_iter().find(&pred) {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; history: {:#?}\nlog:\n{}",
                self.history(id),
                self.d.log_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn wait_status(&self, id: i64, secs: u64, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while self.status(id) != want {
            assert!(
                Instant::now() < deadline,
                "job {id} never became {want}: {:#}\nhistory {:#?}",
                self.job(id),
                self.history(id)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(BIN)
            .args(args)
            .env_remove("ZDM_BACKUPD_CONFIG")
            .env("ZDM_BACKUPD_STATE_DIR", &self.d.state)
            .output()
            .unwrap()
    }

    /// Restores `point` of job `name` with the CLI and compares it with the source.
    fn restore_matches(&self, name: &str, point: &str) {
        let target = self.tmp.path().join(format!("restore-{point}"));
        let o = self.cli(&[
            "restore",
            "--server",
            "srv",
            "--repository",
            self.repo.to_str().unwrap(),
            "--job",
            name,
            "--point",
            point,
            "--target",
            target.to_str().unwrap(),
        ]);
        assert!(
            o.status.success(),
            "restore: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_same(&snapshot(&self.src, &[]), &snapshot(&target, &[]), name);
    }

    fn job_dir(&self, name: &str) -> PathBuf {
        self.repo.join("srv").join(name)
    }

    fn partials(&self, name: &str) -> Vec<String> {
        std::fs::read_dir(self.job_dir(name))
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with(".partial"))
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn local_now() -> chrono::DateTime<chrono::Local> {
    chrono::Local::now()
}

/// The next minute boundary at least `margin` seconds away, as (local time, seconds to wait).
fn next_minute(margin: i64) -> chrono::DateTime<chrono::Local> {
    use chrono::{Duration as D, Timelike};
    let now = local_now();
    let mut t = now.with_second(0).unwrap().with_nanosecond(0).unwrap() + D::minutes(1);
    if (t - now).num_seconds() < margin {
        t += D::minutes(1);
    }
    t
}

fn parse_stamp(s: &str) -> chrono::DateTime<chrono::Local> {
    use chrono::TimeZone;
    let n = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
    chrono::Local.from_local_datetime(&n).earliest().unwrap()
}

#[test]
fn auto_start_and_manual_start_write_restorable_points() {
    let e = env_with("", small_tree);
    let id = e.register(json!({ "autoStart": "use", "jobName": "auto" }));
    let run = e.wait_history(id, 60, "the autoStart run", |r| {
        r["run"]["state"] == "complete"
    });
    assert_eq!(run["run"]["trigger"], "autostart");
    assert_eq!(run["run"]["kind"], "full");
    assert_eq!(run["result"]["status"], "COMPLETE");
    let point = run["run"]["restorePoint"].as_str().unwrap().to_string();
    e.wait_status(id, 10, "Complete");
    let job = e.job(id);
    assert_eq!(
        job["job"]["restorePoints"].as_array().unwrap().len(),
        1,
        "{job:#}"
    );
    assert_eq!(
        job["job"]["info"]["lastRun"]["restorePoint"],
        point.as_str()
    );
    assert_eq!(job["job"]["info"]["nextRun"], "-");
    e.restore_matches(&e.name(id), &point);
    // storedBytes is what the point occupies in the repository (it was the source bytes).
    let on_disk: u64 = std::fs::read_dir(e.repo.join("srv/auto").join(&point))
        .unwrap()
        .map(|f| f.unwrap().metadata().unwrap().len())
        .sum();
    assert_eq!(run["run"]["storedBytes"], on_disk, "{run:#}");
    assert_eq!(job["job"]["restorePoints"][0]["storedBytes"], on_disk);
    assert_ne!(run["run"]["bytes"], on_disk);

    // status: start queues another run now; the monitoring view shows the finished result.
    let r =
        e.d.put(&format!("/api/backups/{id}"), json!({ "status": "START" }));
    assert_eq!(r.status, 200, "{}", r.body);
    let second = e.wait_history(id, 60, "the manual run", |r| {
        r["run"]["trigger"] == "manual" && r["run"]["state"] == "complete"
    });
    assert_ne!(second["run"]["restorePoint"], point.as_str());
    let m = e.d.get(&format!("/api/backups/monitoring/job/{id}"));
    assert_eq!(m.status, 200, "{}", m.body);
    assert_eq!(m.body["data"]["job"]["progressInfo"]["percent"], "100%");
    assert_eq!(m.body["data"]["job"]["progressInfo"]["result"], "COMPLETE");
    assert!(!m.body["data"]["job"]["log"].as_array().unwrap().is_empty());
    let sys = e.d.get("/api/backups/monitoring/system/srv");
    assert_eq!(sys.status, 200, "{}", sys.body);
    assert_eq!(sys.body["data"]["summary"]["total"], 1);
    // A single history row carries the run's log.
    let h = e.d.get(&format!("/api/backups/histories/{}", second["id"]));
    assert_eq!(h.status, 200, "{}", h.body);
    assert!(h.body["data"]["log"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l.as_str().unwrap().contains("restore point")));
    // The CLI lists what the daemon wrote.
    let o = e.cli(&[
        "points",
        "--json",
        "--server",
        "srv",
        "--repository",
        e.repo.to_str().unwrap(),
        "--job",
        &e.name(id),
    ]);
    assert!(o.status.success());
    // Rotation 1 (the default) keeps the newest point only.
    let listed = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(
        listed.contains(second["run"]["restorePoint"].as_str().unwrap()),
        "{listed}"
    );
    // As an incremental job, the next run writes an incremental point on the newest one, and
    // the history says so.
    let r = e.d.put(
        &format!("/api/backups/{id}"),
        json!({ "mode": "increment", "rotation": 3 }),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    write(&e.src.join("a.txt"), b"changed\n");
    let r =
        e.d.put(&format!("/api/backups/{id}"), json!({ "status": "start" }));
    assert_eq!(r.status, 200, "{}", r.body);
    let third = e.wait_history(id, 60, "the incremental run", |r| {
        r["run"]["state"] == "complete" && r["id"] != second["id"] && r["id"] != run["id"]
    });
    assert_eq!(third["run"]["kind"], "incremental", "{third:#}");
    e.restore_matches(&e.name(id), third["run"]["restorePoint"].as_str().unwrap());
}

#[test]
fn every_schedule_type_fires_on_its_minute() {
    let e = env_with("", small_tree);
    let at = next_minute(15);
    let hm = at.format("%H:%M").to_string();
    let weekday = at.format("%a").to_string().to_ascii_lowercase();
    let day = at.format("%-d").to_string();
    let jobs = [
        (
            "t1",
            "full",
            json!({"type": 1, "basic": {"time": "00:00", "interval": {"minute": "1"}}}),
            "full",
        ),
        (
            "t3",
            "increment",
            json!({"type": 3, "basic": {"time": hm}}),
            "full",
        ),
        (
            "t4",
            "smart",
            json!({"type": 4, "basic": {"day": weekday, "time": hm}}),
            "full",
        ),
        (
            "t6",
            "full",
            json!({"type": 6, "basic": {"day": day, "time": hm}}),
            "full",
        ),
        (
            "t7",
            "smart",
            json!({"type": 7, "basic": {"day": weekday, "time": hm}, "advanced": {"day": [weekday], "time": hm}}),
            "full",
        ),
    ];
    let mut ids = Vec::new();
    for (name, mode, sched, kind) in &jobs {
        let id = e.register(json!({ "jobName": name, "type": mode, "schedule": sched }));
        let next = e.job(id)["job"]["info"]["nextRun"]
            .as_str()
            .unwrap()
            .to_string();
        if *name != "t1" {
            assert_eq!(next, at.format("%Y-%m-%d %H:%M:00").to_string(), "{name}");
        }
        assert_eq!(e.status(id), "Scheduled");
        ids.push((id, *name, *kind));
    }
    for (id, name, kind) in &ids {
        let run = e.wait_history(*id, 100, name, |r| {
            r["run"]["state"] == "complete"
                && r["run"]["due"] == at.format("%Y-%m-%d %H:%M:%S").to_string()
        });
        // t7's two halves are due together: the basic (full) half is what runs.
        assert_eq!(run["run"]["trigger"], "basic", "{name}");
        assert_eq!(run["run"]["kind"], *kind, "{name}: {run:#}");
        let started = parse_stamp(run["time"]["start"].as_str().unwrap());
        let late = (started - at).num_milliseconds();
        assert!(
            (0..=2000).contains(&late),
            "{name} started {late} ms after its minute"
        );
        // Once per slot: both halves of t7 due together make one run.
        let same_slot = e
            .history(*id)
            .iter()
            .filter(|r| r["run"]["due"] == run["run"]["due"])
            .count();
        assert_eq!(same_slot, 1, "{name}");
        let next = e.job(*id)["job"]["info"]["nextRun"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(parse_stamp(&next) > at, "{name} re-armed: {next}");
        let m = e.d.get(&format!("/api/backups/monitoring/job/{id}"));
        assert_eq!(
            m.body["data"]["job"]["progressInfo"]["historyId"], run["id"],
            "{name}"
        );
    }
    let (t3, _, _) = ids[1];
    let r = e.wait_history(t3, 5, "t3", |r| r["run"]["state"] == "complete");
    e.restore_matches("t3", r["run"]["restorePoint"].as_str().unwrap());
}

#[test]
fn stop_cancels_a_running_job_and_a_fire_during_a_run_is_skipped() {
    // 96 MiB of incompressible data at 1 MiB/s: a run longer than the wait for the next minute.
    let e = env_with("", big_tree(384, 256 * 1024));
    let id = e.register(json!({
        "jobName": "slow", "networkLimit": 1, "compression": "not use", "autoStart": "use",
        "schedule": {"type": 1, "basic": {"time": "00:00", "interval": {"minute": "1"}}},
    }));
    e.wait_status(id, 30, "Processing");
    // Asking a running job to start is refused and records nothing (it used to answer 200 and
    // add a SKIPPED run counted as failed).
    let rows = e.history(id).len();
    let r =
        e.d.put(&format!("/api/backups/{id}"), json!({ "status": "start" }));
    common::assert_error(
        &r,
        409,
        "Backup job 'slow' is already running; wait for the run to finish or stop it (status: stop)",
    );
    assert_eq!(e.history(id).len(), rows);
    // The next minute's fire finds the job running.
    let skipped = e.wait_history(id, 75, "a skipped fire", |r| r["run"]["state"] == "skipped");
    assert_eq!(skipped["result"]["status"], "SKIPPED");
    assert!(
        skipped["run"]["error"]
            .as_str()
            .unwrap()
            .contains("still running"),
        "{skipped:#}"
    );
    let m = e.d.get(&format!("/api/backups/monitoring/job/{id}"));
    let p = &m.body["data"]["job"]["progressInfo"];
    assert_eq!(p["status"], "Processing", "{m:?}", m = m.body);
    assert!(
        p["bytesDone"].as_u64().unwrap() > 0 && p["bytesTotal"].as_u64().unwrap() >= 96 << 20,
        "{p:#}"
    );
    assert!(p["percent"].as_str().unwrap().ends_with('%'));
    assert!(p["currentPath"].as_str().unwrap().contains(".bin"), "{p:#}");
    assert_ne!(p["eta"], "-");
    // Stop: Canceling, then Canceled; no restore point and no partial directory left.
    let r =
        e.d.put(&format!("/api/backups/{id}"), json!({ "status": "stop" }));
    assert_eq!(r.status, 200, "{}", r.body);
    let run = e.wait_history(id, 30, "the canceled run", |r| {
        r["run"]["state"] == "canceled"
    });
    assert_eq!(run["run"]["restorePoint"], "-");
    e.wait_status(id, 5, "Canceled");
    assert_eq!(
        e.job(id)["job"]["info"]["nextRun"],
        "-",
        "stopped jobs do not fire"
    );
    assert!(e.partials("slow").is_empty(), "{:?}", e.partials("slow"));
    assert!(e.job(id)["job"]["restorePoints"]
        .as_array()
        .unwrap()
        .is_empty());
    // A running job cannot be deleted; a stopped one can, and its points stay.
    let del = e.d.delete(&format!("/api/backups/{id}"));
    assert_eq!(del.status, 200, "{}", del.body);
    assert_eq!(
        del.body["data"]["jobInfo"][0]["restorePoints"]["kept"],
        true
    );
    assert_eq!(e.d.get(&format!("/api/backups/{id}")).status, 404);
    assert!(e.history(id).is_empty());
}

#[test]
fn kill_9_during_a_run_is_recorded_and_the_next_fire_works() {
    // 24 MiB at 2 MiB/s: about 12 s per run.
    let mut e = env_with("", big_tree(96, 256 * 1024));
    let id = e.register(json!({
        "jobName": "crashy", "networkLimit": 2, "compression": "not use", "autoStart": "use",
        "schedule": {"type": 1, "basic": {"time": "00:00", "interval": {"minute": "1"}}},
    }));
    e.wait_status(id, 30, "Processing");
    std::thread::sleep(Duration::from_secs(2));
    e.d.restart_after(Duration::ZERO); // SIGKILL, then start on the same state
    let run = e.wait_history(id, 10, "the interrupted run", |r| {
        r["run"]["state"] == "interrupted"
    });
    assert!(
        run["run"]["error"]
            .as_str()
            .unwrap()
            .contains("interrupted"),
        "{run:#}"
    );
    assert_eq!(run["result"]["status"], "FAIL");
    assert_ne!(
        e.job(id)["job"]["info"]["nextRun"],
        "-",
        "timer re-armed at start-up"
    );
    let ok = e.wait_history(id, 100, "the next scheduled run", |r| {
        r["run"]["trigger"] == "basic" && r["run"]["state"] == "complete"
    });
    assert!(e.partials("crashy").is_empty());
    let o = e.cli(&[
        "verify",
        "--server",
        "srv",
        "--repository",
        e.repo.to_str().unwrap(),
        "--job",
        "crashy",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    e.restore_matches("crashy", ok["run"]["restorePoint"].as_str().unwrap());
}

fn write_script(dir: &Path, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[test]
fn scripts_fail_runs_see_results_and_time_out() {
    if !common::tree::is_root() {
        eprintln!("skipped: scripts must be owned by root");
        return;
    }
    let e = env_with("[runner]\nscript_timeout_seconds = 2\n", small_tree);
    let dir = e.tmp.path();
    let out = dir.join("after.env");
    let scripts = common::script_dir();
    let fail = write_script(
        scripts.path(),
        "fail.sh",
        "echo preparing; echo broken >&2; exit 3",
    );
    let after = write_script(
        scripts.path(),
        "after.sh",
        &format!("env | grep ^ZDM_ | sort > {}", out.display()),
    );
    let hang = write_script(scripts.path(), "hang.sh", "sleep 30");

    let a = e.register(json!({ "jobName": "before-fails", "scriptPath": fail, "scriptRun": "before", "autoStart": "use" }));
    let r = e.wait_history(a, 30, "before-script failure", |r| {
        r["run"]["state"] == "error"
    });
    assert!(
        r["run"]["error"]
            .as_str()
            .unwrap()
            .contains("before-script"),
        "{r:#}"
    );
    assert_eq!(r["run"]["script"], "before: exit 3");
    assert_eq!(r["run"]["restorePoint"], "-");
    assert!(
        !e.job_dir("before-fails").exists()
            || e.job(a)["job"]["restorePoints"]
                .as_array()
                .unwrap()
                .is_empty()
    );
    let h = e.d.get(&format!("/api/backups/histories/{}", r["id"]));
    let log = h.body["data"]["log"].to_string();
    assert!(log.contains("preparing") && log.contains("broken"), "{log}");
    e.wait_status(a, 5, "Error");

    let b = e.register(json!({ "jobName": "after-sees", "scriptPath": after, "scriptRun": "after", "autoStart": "use" }));
    let r = e.wait_history(b, 30, "after-script run", |r| {
        r["run"]["state"] == "complete"
    });
    let env = std::fs::read_to_string(&out).unwrap();
    assert!(env.contains("ZDM_RESULT=success"), "{env}");
    assert!(env.contains("ZDM_JOB_NAME=after-sees"), "{env}");
    assert!(
        env.contains(&format!(
            "ZDM_RESTORE_POINT={}",
            r["run"]["restorePoint"].as_str().unwrap()
        )),
        "{env}"
    );
    assert!(
        env.contains(&format!("ZDM_PARTITION={}", e.src.display())),
        "{env}"
    );
    assert!(
        env.contains("ZDM_PHASE=after") && env.contains("ZDM_RUN_ID="),
        "{env}"
    );

    let c = e.register(json!({ "jobName": "hangs", "scriptPath": hang, "scriptRun": "before", "autoStart": "use" }));
    let t0 = Instant::now();
    let r = e.wait_history(c, 30, "timed-out script", |r| r["run"]["state"] == "error");
    assert!(t0.elapsed() < Duration::from_secs(15));
    assert!(
        r["run"]["script"].as_str().unwrap().contains("timeout"),
        "{r:#}"
    );
    let ps = Command::new("pgrep")
        .args(["-f", hang.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(ps.stdout.is_empty(), "the script was not killed");
}

#[test]
fn missed_slots_are_recorded_caught_up_once_and_mailed() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(smtp) = Smtp::start(tmp.path()) else {
        return;
    };
    let config = format!(
        "[mail]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nfrom = \"backup@example.com\"\n",
        smtp.port
    );
    let mut e = env_with(&config, small_tree);
    let id = e.register(json!({
        "jobName": "nightly", "mailEvent": "ops@example.com",
        "schedule": {"type": 1, "basic": {"time": "00:00", "interval": {"minute": "1"}}},
    }));
    let scripts = if common::tree::is_root() {
        common::script_dir()
    } else {
        tempfile::tempdir().unwrap()
    };
    let fail = write_script(scripts.path(), "no.sh", "exit 1");
    let failing = e.register(json!({ "jobName": "failing", "mailEvent": "ops@example.com", "scriptPath": fail, "scriptRun": "before", "autoStart": "use" }));
    e.wait_history(failing, 30, "the failing run", |r| {
        r["run"]["state"] == "error"
    });
    let m = smtp.wait_for("the failure", |m| m.contains("failing on srv: FAILED"));
    assert!(
        m.contains("To: ops@example.com") && m.contains("before-script"),
        "{m}"
    );

    // Down over the next slot: kill now, start again after the minute has passed.
    let slot = next_minute(0);
    let wait = (slot - local_now()).num_milliseconds().max(0) as u64 + 1500;
    e.d.restart_after(Duration::from_millis(wait));
    let missed = e.wait_history(id, 10, "the missed row", |r| r["run"]["state"] == "missed");
    assert_eq!(missed["result"]["status"], "MISSED");
    assert_eq!(
        missed["run"]["due"],
        slot.format("%Y-%m-%d %H:%M:%S").to_string()
    );
    let caught = e.wait_history(id, 30, "the catch-up run", |r| {
        r["run"]["trigger"] == "catch-up" && r["run"]["state"] == "complete"
    });
    assert_eq!(caught["run"]["due"], missed["run"]["due"]);
    let catchups = e
        .history(id)
        .iter()
        .filter(|r| r["run"]["trigger"] == "catch-up")
        .count();
    assert_eq!(catchups, 1);
    smtp.wait_for("the missed slot", |m| m.contains("nightly on srv: MISSED"));
    let ok = smtp.wait_for("the catch-up success", |m| {
        m.contains("nightly on srv: success")
    });
    assert!(
        ok.contains(caught["run"]["restorePoint"].as_str().unwrap()),
        "{ok}"
    );
    let h = e.d.get(&format!("/api/backups/histories/{}", caught["id"]));
    assert_eq!(h.body["data"]["run"]["mail"], "sent to ops@example.com");
}

#[test]
fn job_api_update_delete_and_errors() {
    let e = env_with("", small_tree);
    let id = e
        .register(json!({ "jobName": "api", "schedule": {"type": 3, "basic": {"time": "03:00"}} }));
    // List with filters, pagination and detail.
    let r = e.d.get("/api/backups?detail=true&page=1&limit=5&mode=full");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["pagination"]["totalItems"], 1);
    assert_eq!(r.body["data"][0]["job"]["info"]["options"]["rotation"], "1");
    assert_eq!(
        r.body["data"][0]["job"]["info"]["schedule"]["basic"]["description"],
        "[Basic] Start working at 03:00 every day."
    );
    assert_eq!(
        e.d.get("/api/backups?mode=smart").body["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        e.d.get("/api/backups?status=SCHEDULED").body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let bad = e.d.get("/api/backups?status=sleeping");
    common::assert_error(&bad, 400, "Invalid enum value. Expected 'preparing' | 'processing' | 'complete' | 'scheduled' | 'registered' | 'canceling' | 'canceled' | 'error', received 'sleeping'");
    common::assert_error(
        &e.d.get("/api/backups/999"),
        404,
        "Backup job with ID '999' not found",
    );
    common::assert_error(
        &e.d.get("/api/backups/api?mode=smart"),
        404,
        "Backup job named 'api' exists but no result matches the given filters",
    );

    // Update: rename, rotation, schedule type 7 switches the mode to smart (spec §4.3).
    let r = e.d.put("/api/backups/api", json!({ "changeName": "api2", "rotation": 5,
        "schedule": {"type": 7, "basic": {"day": "sun", "time": "01:00"}, "advanced": {"day": ["mon", "tue"], "time": "01:00"}} }));
    assert_eq!(r.status, 200, "{}", r.body);
    let fields: Vec<String> = r.body["data"]["summary"]["updatedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        fields,
        ["jobName", "mode", "schedule", "rotation"],
        "{}",
        r.body
    );
    let j = e.job(id);
    assert_eq!(j["job"]["info"]["mode"], "smart");
    assert_eq!(j["job"]["info"]["name"], "api2");
    assert_ne!(j["job"]["info"]["schedule"]["advanced"], "-");
    // PATCH is an alias; a 0-6 schedule turns a smart job back into a full one.
    let t = format!("Bearer {}", e.d.token());
    let r = e.d.call(
        "PATCH",
        "/api/backups/api2",
        Some(json!({ "schedule": {"type": 3, "basic": {"time": "04:00"}} })),
        Some(&t),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(e.job(id)["job"]["info"]["mode"], "full");
    assert_eq!(e.job(id)["job"]["info"]["schedule"]["advanced"], "-");
    let schedules_before = e.d.counts();

    // Errors change nothing.
    let cases = [
        (json!({}), 400, "No fields provided for update"),
        (json!({ "rotation": 99 }), 400, "rotation"),
        (
            json!({ "status": "pause" }),
            400,
            "status must be one of start, stop",
        ),
        (
            json!({ "schedule": {"type": 7, "basic": {"day": "sun", "time": "01:00"}} }),
            400,
            "For smart job type, schedule must contain both basic and advanced.",
        ),
        (
            json!({ "repository": {"id": 999} }),
            404,
            "Repository with ID '999' not found",
        ),
        (json!({ "bogus": 1 }), 400, "bogus"),
    ];
    for (body, status, msg) in cases {
        let r = e.d.put(&format!("/api/backups/{id}"), body.clone());
        assert_eq!(r.status, status, "{body}: {}", r.body);
        assert!(
            r.body["error"].as_str().unwrap().contains(msg),
            "{body}: {}",
            r.body
        );
        common::assert_envelope(&r);
    }
    let other = e.register(json!({ "jobName": "other" }));
    let r = e.d.put(
        &format!("/api/backups/{other}"),
        json!({ "changeName": "api2" }),
    );
    common::assert_error(&r, 409, "JOB_NAME_ALREADY_EXISTS");
    assert_eq!(e.job(id)["job"]["info"]["mode"], "full");
    let (jobs, schedules, _) = e.d.counts();
    assert_eq!(
        (jobs, schedules),
        (schedules_before.0 + 1, schedules_before.1)
    );

    // Delete releases the schedule records; unknown ids are 404.
    let r = e.d.delete("/api/backups/api2");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(e.d.counts().1, 0, "schedule records released");
    common::assert_error(
        &e.d.delete("/api/backups/api2"),
        404,
        "Backup job 'api2' not found",
    );
    common::assert_error(
        &e.d.get("/api/backups/histories/77"),
        404,
        "Backup history not found for ID '77'",
    );
    common::assert_error(
        &e.d.get("/api/backups/histories?result=maybe"),
        400,
        "Invalid enum value. Expected 'success' | 'failed', received 'maybe'",
    );
    common::assert_error(
        &e.d.get("/api/backups/monitoring/job/nope"),
        404,
        "No Backup job matching Name 'nope'",
    );
    common::assert_error(
        &e.d.get("/api/backups/monitoring/system/other-host"),
        404,
        "Server 'other-host' not found.",
    );
    // Without a token, every new route is 401.
    for path in [
        "/api/backups",
        "/api/backups/1",
        "/api/backups/histories",
        "/api/backups/monitoring/job/1",
        "/api/backups/monitoring/system/1",
    ] {
        assert_eq!(e.d.call("GET", path, None, Some("")).status, 401, "{path}");
    }
}

#[test]
fn a_mail_failure_is_recorded_and_never_fails_the_run() {
    // A relay port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = format!("[mail]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\n");
    let e = env_with(&config, small_tree);
    let id = e.register(
        json!({ "jobName": "mailless", "mailEvent": "ops@example.com", "autoStart": "use" }),
    );
    let run = e.wait_history(id, 30, "the run", |r| r["run"]["state"] == "complete");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let h = e.d.get(&format!("/api/backups/histories/{}", run["id"]));
        let mail = h.body["data"]["run"]["mail"].as_str().unwrap().to_string();
        if mail.starts_with("failed:") {
            assert!(mail.contains(&port.to_string()), "{mail}");
            assert_eq!(h.body["data"]["result"]["status"], "COMPLETE");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "mail outcome never recorded: {mail}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(e.d.log_text().contains("mail failed"));
}

#[test]
fn a_finished_run_frees_its_job_while_its_mail_is_still_going_out() {
    // A relay that accepts connections and never answers: the mail of a run hangs until the
    // client's timeout, long after the run's result is recorded.
    let relay = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = relay.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in relay.incoming() {
            held.push(c);
        }
    });
    let config = format!("[mail]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\n");
    let e = env_with(&config, small_tree);
    let id = e.register(
        json!({ "jobName": "hung-mail", "mailEvent": "ops@example.com", "autoStart": "use" }),
    );
    let first = e.wait_history(id, 30, "the run", |r| r["run"]["state"] == "complete");
    // Whoever sees the run finished can start the next one at once.
    let r =
        e.d.put(&format!("/api/backups/{id}"), json!({ "status": "start" }));
    assert_eq!(r.status, 200, "{}", r.body);
    e.wait_history(id, 30, "the second run", |r| {
        r["id"] != first["id"] && r["run"]["state"] == "complete"
    });
}

/// More jobs due in one second than the scheduler crate's default channel holds (200): every
/// one of them must be recorded and run.
#[test]
fn a_burst_of_due_jobs_loses_none() {
    let e = env_with("[runner]\nmax_concurrent_runs = 4\n", small_tree);
    let at = next_minute(25);
    let hm = at.format("%H:%M").to_string();
    let n = 300;
    let token = format!("Bearer {}", e.d.token());
    std::thread::scope(|s| {
        for t in 0..6 {
            let (e, token, hm) = (&e, &token, &hm);
            s.spawn(move || {
                for i in (t..n).step_by(6) {
                    let body = json!({
                        "center": 1, "server": 1, "type": "full", "partition": [e.src],
                        "individual": [{ "partition": e.src, "jobName": format!("burst-{i}") }],
                        "repository": { "type": "nfs", "path": e.repo },
                        "schedule": { "type": 3, "basic": { "time": hm } },
                    });
                    let r = e.d.call("POST", "/api/backups", Some(body), Some(token));
                    assert_eq!(r.status, 201, "{}", r.body);
                }
            });
        }
    });
    assert!(
        local_now() < at,
        "registration took too long for this minute"
    );
    let due = at.format("%Y-%m-%d %H:%M:%S").to_string();
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let r = e.d.get("/api/backups/histories?result=success");
        let done = r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["run"]["due"] == due.as_str())
            .count();
        if done == n {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{done} of {n} due runs completed; log:\n{}",
            e.d.log_text()
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    let all = e.d.get("/api/backups/histories").body["data"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(all, n, "exactly one run per job");
}

#[test]
fn metrics_describe_jobs_and_requests() {
    let e = env_with("", small_tree);
    let id = e.register(json!({ "jobName": "metered", "autoStart": "use",
        "schedule": {"type": 3, "basic": {"time": "03:00"}} }));
    e.wait_history(id, 30, "the run", |r| r["run"]["state"] == "complete");
    e.wait_status(id, 5, "Scheduled");
    let r = e.d.call("GET", "/metrics", None, None);
    assert_eq!(r.status, 200);
    let text = r
        .body
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| r.body.to_string());
    for want in [
        "zdm_job_restore_points{job=\"metered\"} 1",
        "zdm_job_running{job=\"metered\"} 0",
        "zdm_job_last_result{job=\"metered\",result=\"complete\"} 1",
        "zdm_job_missed_runs_total{job=\"metered\"} 0",
        "zdm_scheduler_queue_length 0",
        "zdm_job_next_run_timestamp_seconds{job=\"metered\"}",
        "zdm_job_last_success_timestamp_seconds{job=\"metered\"}",
        "zdm_repository_free_bytes{repository=",
        "route=\"/api/backups/{identifier}\",status=\"200\"",
    ] {
        assert!(text.contains(want), "missing {want} in:\n{text}");
    }
}

#[test]
fn metrics_access_can_require_a_token_or_be_off() {
    let e = env_with("[metrics]\naccess = \"token\"\n", small_tree);
    assert_eq!(e.d.call("GET", "/metrics", None, None).status, 401);
    let t = format!("Bearer {}", e.d.token());
    assert_eq!(e.d.call("GET", "/metrics", None, Some(&t)).status, 200);
    let off = env_with("[metrics]\naccess = \"off\"\n", small_tree);
    assert_eq!(off.d.call("GET", "/metrics", None, None).status, 404);
}

/// Issue 11, item 14: a deleted job's kept restore points are never consumed by a new job with
/// the same name: its first run refuses the directory instead of chaining onto, merging or
/// rotating the old points.
#[test]
fn a_new_job_never_consumes_a_deleted_jobs_points() {
    let e = env_with("", small_tree);
    let id = e.register(
        json!({ "jobName": "keep", "type": "increment", "rotation": 1, "autoStart": "use" }),
    );
    let first = e.wait_history(id, 60, "the first run", |r| r["run"]["state"] == "complete");
    let point = first["run"]["restorePoint"].as_str().unwrap().to_string();
    let job_dir = e.repo.join("srv/keep");
    assert!(job_dir.join(&point).join("MANIFEST.json").exists());
    let del = e.d.delete(&format!("/api/backups/{id}"));
    assert_eq!(del.status, 200, "{}", del.body);
    let id2 = e.register(
        json!({ "jobName": "keep", "type": "increment", "rotation": 1, "autoStart": "use" }),
    );
    let refused = e.wait_history(id2, 60, "the new job's run", |r| {
        r["run"]["state"] == "error"
    });
    let err = refused["run"]["error"].as_str().unwrap_or_default();
    assert!(err.contains("another job with this name"), "{refused:#}");
    // The old point is untouched and still restorable.
    assert!(job_dir.join(&point).join("MANIFEST.json").exists());
    assert_eq!(
        common::run::names(&job_dir)
            .iter()
            .filter(|n| n.starts_with("20"))
            .count(),
        1
    );
    e.restore_matches("keep", &point);
    // Moved away as the message says, the new job starts its own chain.
    std::fs::rename(&job_dir, e.repo.join("srv/keep.old")).unwrap();
    let r =
        e.d.put(&format!("/api/backups/{id2}"), json!({ "status": "start" }));
    assert_eq!(r.status, 200, "{}", r.body);
    let ok = e.wait_history(id2, 60, "the new job's own run", |r| {
        r["run"]["state"] == "complete"
    });
    assert_eq!(ok["run"]["kind"], "full", "{ok:#}");
}

/// Issue 11, item 9: a database error at a timer slot (here another process holds the write
/// lock past the busy timeout) loses that slot, not the schedule: it is recorded as missed and
/// the next slot runs.
#[test]
fn a_database_error_at_a_slot_does_not_disarm_the_schedule() {
    let e = env_with("", small_tree);
    let id = e.register(json!({
        "jobName": "busy",
        "schedule": {"type": 1, "basic": {"time": "00:00", "interval": {"minute": "1"}}},
    }));
    let at = next_minute(12);
    let until = |t: chrono::DateTime<chrono::Local>| {
        if let Ok(d) = (t - local_now()).to_std() {
            std::thread::sleep(d);
        }
    };
    until(at - chrono::Duration::seconds(3));
    let lock = rusqlite::Connection::open(e.d.state.join("zdm-backupd.db")).unwrap();
    lock.busy_timeout(Duration::from_secs(10)).unwrap();
    lock.execute_batch("BEGIN EXCLUSIVE").unwrap();
    until(at + chrono::Duration::seconds(8));
    lock.execute_batch("ROLLBACK").unwrap();
    drop(lock);
    let missed = e.wait_history(id, 30, "the failed slot recorded as missed", |r| {
        r["run"]["state"] == "missed"
    });
    assert!(
        missed["run"]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("database"),
        "{missed:#}"
    );
    // The next slot fires and completes.
    let run = e.wait_history(id, 90, "the next slot's run", |r| {
        r["run"]["state"] == "complete"
    });
    assert_eq!(run["run"]["trigger"], "basic", "{run:#}");
    let next = e.job(id)["job"]["info"]["nextRun"].clone();
    assert_ne!(next, json!("-"), "the schedule is still armed");
}

/// Issue 11, item 15: a kill during the rotation that follows a published point records the
/// point, not "interrupted, no point".
#[test]
fn a_kill_during_rotation_keeps_the_published_point_in_history() {
    let mut e = env_with("", big_tree(48, 4 * 1024 * 1024));
    let id = e.register(json!({
        "jobName": "merging", "type": "increment", "rotation": 1, "compression": "not use",
        "autoStart": "use",
    }));
    e.wait_history(id, 60, "the full run", |r| r["run"]["state"] == "complete");
    write(&e.src.join("f0000.bin"), &noise(4 * 1024 * 1024, 99));
    let r =
        e.d.put(&format!("/api/backups/{id}"), json!({ "status": "start" }));
    assert_eq!(r.status, 200, "{}", r.body);
    // The incremental is published, then rotation merges it with the full (a few seconds).
    let published = e.wait_history(id, 60, "the published incremental", |r| {
        r["run"]["state"] == "running"
            && r["run"]["restorePoint"].as_str().is_some_and(|p| p != "-")
    });
    e.d.restart_after(Duration::ZERO);
    let run = e.wait_history(id, 10, "the interrupted run", |r| {
        r["id"] == published["id"] && r["run"]["state"] == "interrupted"
    });
    assert_eq!(
        run["run"]["restorePoint"], published["run"]["restorePoint"],
        "{run:#}"
    );
    assert!(
        run["run"]["error"]
            .as_str()
            .unwrap()
            .contains("was published"),
        "{run:#}"
    );
    e.restore_matches("merging", run["run"]["restorePoint"].as_str().unwrap());
}

/// A damaged manifest does not hide the point from the job view: it is listed as rejected with
/// the reason.
#[test]
fn the_job_view_lists_rejected_points() {
    let e = env_with("", small_tree);
    let id = e.register(json!({ "jobName": "viewed", "autoStart": "use" }));
    let run = e.wait_history(id, 60, "the run", |r| r["run"]["state"] == "complete");
    let point = run["run"]["restorePoint"].as_str().unwrap();
    let manifest = e.repo.join("srv/viewed").join(point).join("MANIFEST.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replacen("\"entries\": ", "\"entries\": 1", 1),
    )
    .unwrap();
    let job = e.job(id);
    assert_eq!(job["job"]["restorePoints"], json!([]), "{job:#}");
    assert_eq!(job["job"]["rejectedPoints"][0]["id"], point, "{job:#}");
    assert!(
        job["job"]["rejectedPoints"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("not authenticated"),
        "{job:#}"
    );
}

/// Issue 11, item 7 through the daemon: a repository directory that lost its contents (an
/// unmounted share leaves an empty mount point) fails the run before anything is written.
#[test]
fn a_vanished_repository_fails_the_run_before_writing() {
    let e = env_with("", small_tree);
    let id = e.register(json!({ "jobName": "mounted", "autoStart": "use" }));
    e.wait_history(id, 60, "the first run", |r| r["run"]["state"] == "complete");
    std::fs::rename(&e.repo, e.tmp.path().join("repo-was-mounted")).unwrap();
    std::fs::create_dir(&e.repo).unwrap();
    let r =
        e.d.put(&format!("/api/backups/{id}"), json!({ "status": "start" }));
    assert_eq!(r.status, 200, "{}", r.body);
    let failed = e.wait_history(id, 60, "the refused run", |r| r["run"]["state"] == "error");
    assert!(
        failed["run"]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("Is the share mounted?"),
        "{failed:#}"
    );
    assert_eq!(
        std::fs::read_dir(&e.repo).unwrap().count(),
        0,
        "nothing written"
    );
}

/// What a careful client found (issue 12): PUT reports exactly what it changed and changes
/// exactly that; `null` removes a script or a schedule; a rename reaches the schedule records;
/// IDs of deleted objects are never handed out again.
#[test]
fn put_changes_and_reports_exactly_what_it_was_asked() {
    let e = env_with("", small_tree);
    let id = e.register(json!({ "jobName": "truth" }));
    let put = |body: Value| {
        let r = e.d.put(&format!("/api/backups/{id}"), body.clone());
        assert_eq!(r.status, 200, "{body}: {}", r.body);
        r.body["data"]["summary"]["updatedFields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let options = || {
        e.d.get(&format!("/api/backups/{id}?detail=true")).body["data"]["job"]["info"]["options"]
            .clone()
    };
    // autoStart is saved, and sending the same value again changes (and reports) nothing.
    assert_eq!(put(json!({ "autoStart": "use" })), ["autoStart"]);
    assert_eq!(options()["autoStart"], "use");
    assert!(put(json!({ "autoStart": "use" })).is_empty());
    // A schedule is reported; the new record has never run and carries the job's name.
    let daily = json!({"type": 3, "basic": {"time": "03:00"}});
    assert_eq!(put(json!({ "schedule": daily })), ["schedule"]);
    let sid = e.job(id)["job"]["info"]["schedule"]["basic"]["id"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| panic!("{:#}", e.job(id)));
    let s = e.d.get(&format!("/api/schedules/{sid}"));
    assert_eq!(s.body["data"]["lastRunTime"], "-", "{}", s.body);
    assert_eq!(s.body["data"]["jobName"], "truth", "{}", s.body);
    // Changing its time keeps the record and still shows no run.
    assert_eq!(
        put(json!({ "schedule": {"type": 3, "basic": {"time": "04:00"}} })),
        ["schedule"]
    );
    assert!(put(json!({ "schedule": {"type": 3, "basic": {"time": "04:00"}} })).is_empty());
    let s = e.d.get(&format!("/api/schedules/{sid}"));
    assert_eq!(s.body["data"]["lastRunTime"], "-", "{}", s.body);
    // A rename reaches the schedule record.
    assert_eq!(put(json!({ "changeName": "truth2" })), ["jobName"]);
    let s = e.d.get(&format!("/api/schedules/{sid}"));
    assert_eq!(s.body["data"]["jobName"], "truth2", "{}", s.body);
    // Scripts are set and removed with null.
    let scripts = common::script_dir();
    let script = write_script(scripts.path(), "noop.sh", "true");
    assert_eq!(
        put(json!({ "scriptPath": script, "scriptRun": "before" })),
        ["scriptPath", "scriptRun"]
    );
    let r = e.d.put(
        &format!("/api/backups/{id}"),
        json!({ "scriptPath": null, "scriptRun": "after" }),
    );
    common::assert_error(
        &r,
        400,
        "scriptPath and scriptRun are removed together: send both as null",
    );
    assert_eq!(
        put(json!({ "scriptPath": null, "scriptRun": null })),
        ["scriptPath", "scriptRun"]
    );
    assert_eq!(options()["scriptPath"], "");
    // schedule: null removes the schedule and its record.
    assert_eq!(put(json!({ "schedule": null })), ["schedule"]);
    assert_eq!(e.job(id)["job"]["info"]["schedule"]["basic"], "-");
    assert_eq!(e.job(id)["job"]["info"]["nextRun"], "-");
    common::assert_error(
        &e.d.get(&format!("/api/schedules/{sid}")),
        404,
        &format!("Schedule with ID '{sid}' not found"),
    );
    assert!(put(json!({ "schedule": null })).is_empty());

    // IDs are never reused: deleting the newest job (and its schedule) and creating another
    // gives new IDs.
    assert_eq!(put(json!({ "schedule": daily })), ["schedule"]);
    let sid2: i64 = e.job(id)["job"]["info"]["schedule"]["basic"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(sid2 > sid.parse::<i64>().unwrap());
    assert_eq!(e.d.delete(&format!("/api/backups/{id}")).status, 200);
    let again = e.register(json!({ "jobName": "truth", "schedule": daily }));
    assert!(again > id, "job ID {id} handed out again");
    let sid3: i64 = e.job(again)["job"]["info"]["schedule"]["basic"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(sid3 > sid2, "schedule ID {sid2} handed out again");
    // The old ID stays gone: a retried DELETE does not remove the new job.
    common::assert_error(
        &e.d.delete(&format!("/api/backups/{id}")),
        404,
        &format!("Backup job with ID '{id}' not found"),
    );
    assert_eq!(e.d.get(&format!("/api/backups/{again}")).status, 200);
}
