//! One run, on a blocking thread: persist `running`, before-script, the engine backup with live
//! progress, after-script, persist the outcome, then mail. The engine is called exactly as the
//! `backup` subcommand calls it, so what the daemon writes the CLI lists and restores.

use super::error::RunError;
use super::{mail, script, Live, Phase, Trigger};
use crate::config::Settings;
use crate::db::{self, jobs::JobRow, runs::RunRow, Db, DbError};
use crate::domain::ids::RunId;
use crate::domain::run::{RunKind, RunState};
use crate::domain::schedule::{Role, ScheduleKind};
use crate::engine::backup::{BackupPlan, KindPolicy};
use crate::engine::{keys, repo, JobLocation};
use chrono::Utc;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Runs one queued run to its recorded result. `release` frees the job's slot just before the
/// result is written: whoever sees the run finished in the history can start the next one at
/// once, while the mail is still being sent.
pub(super) fn run(db: &Db, settings: &Settings, live: &Live, job: &JobRow, release: &dyn Fn()) {
    let run_id = live.view().run_id;
    let mut row = RunRow {
        id: run_id,
        job_id: job.id,
        ..Default::default()
    };
    let started = Utc::now();
    row.started_at = Some(started.timestamp());
    if live.cancel.is_canceled() {
        live.log("canceled before it started");
        row.state = RunState::Canceled;
        row.error = Some("canceled before it started".into());
    } else {
        live.set_phase(Phase::Running);
        let late_ms = live.due.map(|d| (started - d).num_milliseconds());
        tracing::info!(job = %job.name, run = %run_id, late_ms, "run started");
        if let Err(e) = db.write_blocking(|tx| {
            db::runs::set_running(tx, run_id, started.timestamp()).map_err(DbError::from)
        }) {
            tracing::error!(run = %run_id, "cannot record the run start: {e}");
        }
        work(db, settings, live, job, &mut row);
    }
    row.ended_at = Some(Utc::now().timestamp());
    row.log = live.log_text();
    release();
    if let Err(e) = db.write_blocking(|tx| db::runs::finish(tx, &row).map_err(DbError::from)) {
        tracing::error!(run = %run_id, "cannot record the run result: {e}");
    }
    tracing::info!(job = %job.name, run = %run_id, state = %row.state, error = row.error.as_deref().unwrap_or(""), "run finished");
    notify(db, settings, job, &row);
}

fn work(db: &Db, settings: &Settings, live: &Live, job: &JobRow, row: &mut RunRow) {
    let prepared = prepare(db, settings, live, job);
    let (plan, kind_note) = match prepared {
        Ok(p) => p,
        Err(e) => return failed(live, job, row, e),
    };
    // The job lock is taken and the points listed once; the engine decides the kind from the
    // policy, and the before-script already knows it.
    let begun = match crate::engine::backup::begin(&plan) {
        Ok(b) => b,
        Err(e) => return failed(live, job, row, e.into()),
    };
    let kind = if begun.is_full() {
        "full"
    } else {
        "incremental"
    };
    live.log(format!(
        "{kind} backup of {} to {} ({kind_note}: {})",
        job.partition,
        plan.location.describe(),
        begun.reason
    ));
    let script = job
        .script_path
        .as_deref()
        .map(|p| (PathBuf::from(p), job.script_run.as_deref() == Some("after")));
    let timeout = Duration::from_secs(settings.runner.script_timeout_seconds as u64);
    let mut env = vec![
        ("ZDM_JOB_ID", job.id.to_string()),
        ("ZDM_JOB_NAME", job.name.clone()),
        ("ZDM_PARTITION", job.partition.clone()),
        ("ZDM_MODE", job.mode.clone()),
        ("ZDM_RUN_ID", row.id.to_string()),
        ("ZDM_TRIGGER", live.trigger.as_str().to_string()),
        ("ZDM_BACKUP_KIND", kind.to_string()),
        ("ZDM_REPOSITORY", plan.location.describe()),
    ];
    if let Some((path, false)) = &script {
        env.push(("ZDM_PHASE", "before".into()));
        let out = run_script(live, path, &env, timeout, &live.cancel);
        row.script = Some(format!("before: {}", out.summary));
        if !out.ok {
            row.state = if live.cancel.is_canceled() {
                RunState::Canceled
            } else {
                RunState::Error
            };
            row.error = Some(format!(
                "before-script {} failed ({}); nothing was backed up",
                path.display(),
                out.summary
            ));
            return;
        }
    }
    let recording = Recording {
        live,
        db,
        run_id: row.id,
        recorded: std::sync::atomic::AtomicBool::new(false),
    };
    match begun.write(&recording, &live.cancel) {
        Ok(report) => {
            let m = &report.manifest;
            for n in &report.notes {
                live.log(n.clone());
            }
            for w in &report.warnings {
                live.log(format!("warning: {w}"));
            }
            live.log(format!(
                "restore point {} written ({} kind, {} entries, {} bytes stored)",
                m.id, m.kind, m.entries, m.archived_bytes
            ));
            // The history says `incremental` where the manifest says `incr`.
            row.kind = Some(if m.is_full() {
                RunKind::Full
            } else {
                RunKind::Incremental
            });
            if let Some(dir_id) = m
                .job_id
                .as_ref()
                .filter(|d| job.dir_id.as_ref() != Some(*d))
            {
                let (id, dir_id) = (job.id, dir_id.clone());
                if let Err(e) = db.write_blocking(|tx| {
                    db::jobs::set_dir_id(tx, id, &dir_id).map_err(DbError::from)
                }) {
                    live.log(format!("warning: cannot record the job directory: {e}"));
                }
            }
            let (job_id, points) = (job.id, report.points.clone());
            if let Err(e) = db.write_blocking(|tx| {
                db::inventory::set_points(tx, job_id, &points).map_err(DbError::from)
            }) {
                live.log(format!(
                    "warning: cannot record the job's restore points: {e}"
                ));
            }
            row.point_id = Some(m.id.clone());
            row.bytes = Some(m.source_bytes as i64);
            // What the point occupies, not the source bytes it holds (issue 12).
            row.stored_bytes = Some(m.stored_bytes() as i64);
            row.files = Some(m.entries as i64);
            row.warnings = report.warnings.clone();
            row.state = if report.warnings.is_empty() {
                RunState::Complete
            } else {
                RunState::Warning
            };
        }
        // A canceled run may also fail with the I/O error of an interrupted write.
        Err(_) if live.cancel.is_canceled() => {
            live.log("canceled; the partial restore point was removed");
            row.state = RunState::Canceled;
            row.error = Some("canceled by a stop request; no restore point was written".into());
        }
        Err(e) => failed(live, job, row, e.into()),
    }
    if let Some((path, true)) = &script {
        let result = match row.state {
            RunState::Complete => "success",
            RunState::Warning => "warning",
            RunState::Canceled => "canceled",
            _ => "failure",
        };
        env.push(("ZDM_PHASE", "after".into()));
        env.push(("ZDM_RESULT", result.into()));
        env.push((
            "ZDM_RESTORE_POINT",
            row.point_id.clone().unwrap_or_default(),
        ));
        env.push(("ZDM_ERROR", row.error.clone().unwrap_or_default()));
        // The after-script runs even for a canceled run; only its own timeout limits it.
        let out = run_script(
            live,
            path,
            &env,
            timeout,
            &crate::engine::CancelToken::new(),
        );
        row.script = Some(format!("after: {}", out.summary));
        if !out.ok {
            row.warnings.push(format!(
                "after-script {} failed ({})",
                path.display(),
                out.summary
            ));
            if row.state == RunState::Complete {
                row.state = RunState::Warning;
            }
        }
    }
}

pub(super) fn run_script<I, R: Copy + Default>(
    live: &Live<I, R>,
    path: &Path,
    env: &[(&str, String)],
    timeout: Duration,
    cancel: &crate::engine::CancelToken,
) -> script::ScriptOutcome {
    live.log(format!("running script {}", path.display()));
    let out = script::run(path, env, timeout, cancel);
    for line in out.output.lines() {
        live.log(format!("script: {line}"));
    }
    live.log(format!("script {}: {}", path.display(), out.summary));
    out
}

/// Records why the run failed: the message in the history and the run's log, every cause in the
/// daemon's log.
fn failed(live: &Live, job: &JobRow, row: &mut RunRow, e: RunError) {
    tracing::warn!(job = %job.name, run = %row.id, error = %e.chain(), "run failed");
    live.log(format!("error: {e}"));
    row.state = RunState::Error;
    row.error = Some(e.to_string());
}

/// The engine plan for this run, and why it is full or incremental.
fn prepare(
    db: &Db,
    settings: &Settings,
    live: &Live,
    job: &JobRow,
) -> Result<(BackupPlan, String), RunError> {
    let (repo, basic_kind) = db.read_blocking(|c| {
        let repo = db::repositories::get(c, job.repository_id)?;
        let basic = job
            .schedule_basic_id
            .map(|id| db::schedules::get(c, id))
            .transpose()?
            .flatten()
            .and_then(|s| s.kind);
        Ok::<_, DbError>((repo, basic))
    })?;
    let repo = repo.ok_or(RunError::RepositoryGone(job.repository_id))?;
    // Preflight: the share answers, lets us in, takes a file, a rename and a read, and has room.
    let target = crate::repocheck::open(&repo, &settings.runner)?;
    let trust = crate::engine::trust::Trust::from_state_dir(&settings.state_dir, false)?;
    // The repository is the one this host knows there before anything is written to it (an
    // unmounted share leaves an empty mount point that would take the probe files).
    repo::ensure_repository(&*target, &trust)?;
    // An object store passed its own preflight when opened, and has no free space to record.
    if target.objects().is_none() {
        let space = crate::repocheck::check(&*target)?;
        // What the read side shows for a share until the next run looks again.
        let repo_id = repo.id;
        if let Err(e) = db.write_blocking(|tx| {
            db::inventory::set_space(tx, repo_id, space.size, space.free).map_err(DbError::from)
        }) {
            live.log(format!(
                "warning: cannot record the repository's free space: {e}"
            ));
        }
    }
    let location = JobLocation {
        target,
        server: settings.server_name.clone(),
        job: job.name.clone(),
        trust,
    };
    let identity = if job.encryption {
        let key = settings
            .state_dir
            .join(crate::engine::keys::BACKUP_KEY_FILE);
        Some(keys::load(&key).map_err(|source| RunError::Key { path: key, source })?)
    } else {
        None
    };
    let (kind, why) = policy(
        &job.mode,
        live.trigger,
        basic_kind,
        settings.runner.smart_full_interval_days,
    );
    Ok((
        BackupPlan {
            location,
            source: PathBuf::from(&job.partition),
            kind,
            rotation: job.rotation.clamp(1, 30) as u32,
            compression: job.compression,
            level: 3,
            identity,
            exclude: job.exclude_dir.iter().map(PathBuf::from).collect(),
            network_limit_mib: job.network_limit.max(0) as u32,
            owner: crate::engine::backup::Owner::Job(job.dir_id.clone()),
        },
        why.to_string(),
    ))
}

/// Passes progress on to the live view and records the restore point in history the moment it
/// is published.
struct Recording<'a> {
    live: &'a Live,
    db: &'a Db,
    run_id: RunId,
    recorded: std::sync::atomic::AtomicBool,
}

impl crate::engine::Progress for Recording<'_> {
    fn update(&self, state: &crate::engine::ProgressState) {
        if let Some((point, full)) = &state.point {
            if !self
                .recorded
                .swap(true, std::sync::atomic::Ordering::SeqCst)
            {
                let kind = if *full {
                    RunKind::Full
                } else {
                    RunKind::Incremental
                };
                if let Err(e) = self.db.write_blocking(|tx| {
                    db::runs::set_published(tx, self.run_id, point, kind).map_err(DbError::from)
                }) {
                    self.live
                        .log(format!("warning: cannot record the published point: {e}"));
                }
            }
        }
        crate::engine::Progress::update(self.live, state);
    }
}

/// How the engine chooses full or incremental: the mode decides for full/increment jobs; smart
/// jobs with a smart schedule (types 7-11) write a full for the basic half and an incremental
/// for the advanced half; other smart runs follow decision D19 (incremental unless the newest
/// full is too old), which the engine decides under the job lock from the points it lists.
pub(super) fn policy(
    mode: &str,
    trigger: Trigger,
    basic_kind: Option<ScheduleKind>,
    interval_days: u32,
) -> (KindPolicy, &'static str) {
    match mode {
        "full" => return (KindPolicy::Full, "full job"),
        "increment" => return (KindPolicy::Incremental, "incremental job"),
        _ => {}
    }
    let smart_schedule = basic_kind.is_some_and(ScheduleKind::is_smart);
    match (smart_schedule, trigger.role()) {
        (true, Some(Role::Basic)) => (KindPolicy::Full, "smart schedule, basic half"),
        (true, Some(Role::Advanced)) => (KindPolicy::Incremental, "smart schedule, advanced half"),
        _ => (
            KindPolicy::FullEvery {
                days: interval_days,
            },
            "smart job",
        ),
    }
}

fn notify(db: &Db, settings: &Settings, job: &JobRow, row: &RunRow) {
    let Some(to) = job.mail_event.as_deref().filter(|m| !m.is_empty()) else {
        return;
    };
    let outcome = match &settings.mail {
        None => "not sent: no SMTP relay configured ([mail] host)".to_string(),
        Some(cfg) => {
            let (subject, body) = message(settings, job, row);
            match mail::send(cfg, to, &subject, &body) {
                Ok(o) => o,
                Err(e) => {
                    tracing::warn!(job = %job.name, error = %super::error::chain(&e), "mail failed");
                    format!("failed: {e}")
                }
            }
        }
    };
    let id = row.id;
    if let Err(e) =
        db.write_blocking(|tx| db::runs::set_mail(tx, id, &outcome).map_err(DbError::from))
    {
        tracing::error!(run = %id, "cannot record the mail outcome: {e}");
    }
}

pub(super) fn message(settings: &Settings, job: &JobRow, row: &RunRow) -> (String, String) {
    let zone = &settings.zone;
    let result = match row.state {
        RunState::Complete => "success",
        RunState::Warning => "success with warnings",
        RunState::Missed => "MISSED",
        RunState::Canceled => "canceled",
        _ => "FAILED",
    };
    let subject = format!(
        "[zdm-backupd] {} on {}: {result}",
        job.name, settings.server_name
    );
    let mut body = format!(
        "Job:        {}\nServer:     {}\nPartition:  {}\nMode:       {}\nTrigger:    {}\nResult:     {result}\n",
        job.name, settings.server_name, job.partition, job.mode, row.trigger
    );
    let fmt = |t: Option<i64>| zone.format_secs(t);
    if row.state == RunState::Missed {
        body += &format!("Slot:       {}\n", fmt(row.due_at));
    } else {
        let elapsed = match (row.started_at, row.ended_at) {
            (Some(s), Some(e)) => format!("{} s", e - s),
            _ => "-".into(),
        };
        body += &format!(
            "Kind:       {}\nStarted:    {}\nEnded:      {}\nDuration:   {elapsed}\n",
            row.kind.map_or("-", RunKind::as_str),
            fmt(row.started_at),
            fmt(row.ended_at)
        );
        if let Some(p) = &row.point_id {
            body += &format!(
                "Restore point: {p}\nSize:       {} source, {} stored, {} entries\n",
                crate::host::format_size(row.bytes.unwrap_or(0).max(0) as u64, 2),
                crate::host::format_size(row.stored_bytes.unwrap_or(0).max(0) as u64, 2),
                row.files.unwrap_or(0)
            );
        }
        if let Some(s) = &row.script {
            body += &format!("Script:     {s}\n");
        }
    }
    for w in &row.warnings {
        body += &format!("Warning:    {w}\n");
    }
    if let Some(e) = &row.error {
        body += &format!("Error:      {e}\n");
    }
    (subject, body)
}

/// Records and mails a missed slot (used by start-up and by late timers).
pub(super) fn record_missed(db: &Db, settings: &Settings, job: &JobRow, row: RunRow) {
    let mut row = row;
    match db.write_blocking(|tx| db::runs::insert(tx, &row).map_err(DbError::from)) {
        Ok(id) => row.id = id,
        Err(e) => {
            tracing::error!(job = %job.name, "cannot record a missed run: {e}");
            return;
        }
    }
    tracing::warn!(job = %job.name, "{}", row.error.as_deref().unwrap_or("missed"));
    notify(db, settings, job, &row);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_or_incremental_policy() {
        let f = |mode, trig, kind| policy(mode, trig, kind, 7).0;
        let every = KindPolicy::FullEvery { days: 7 };
        assert_eq!(
            f("full", Trigger::Advanced, Some(ScheduleKind::Daily)),
            KindPolicy::Full
        );
        assert_eq!(
            f("increment", Trigger::Basic, Some(ScheduleKind::Daily)),
            KindPolicy::Incremental
        );
        assert_eq!(
            f("smart", Trigger::Basic, Some(ScheduleKind::SmartWeekly)),
            KindPolicy::Full
        );
        assert_eq!(
            f("smart", Trigger::Advanced, Some(ScheduleKind::SmartWeekly)),
            KindPolicy::Incremental
        );
        assert_eq!(
            f(
                "smart",
                Trigger::CatchUp(Role::Basic),
                Some(ScheduleKind::SmartMonthlyDate)
            ),
            KindPolicy::Full
        );
        // D19: basic-only smart schedules and manual runs: the engine decides from the age of
        // the newest full (engine::backup tests).
        assert_eq!(f("smart", Trigger::Basic, Some(ScheduleKind::Daily)), every);
        assert_eq!(
            f("smart", Trigger::Manual, Some(ScheduleKind::SmartWeekly)),
            every
        );
    }
}
