//! Runs of recovery jobs (RECOVERIES.md §4.4-4.6): the queue entry, the run on a blocking
//! thread (before-script, one engine restore per partition with live progress, after-script,
//! mail, history), stop, and the basic schedules that make drills.
//!
//! A run shares the backup runner's concurrency limit and keeps at most one active run per
//! recovery job. The engine restore holds the backup job's points shared (R5), so rotation
//! waits; deleting a backup job that is being read answers 409 (`is_reading`).

use super::{mail, Live, Phase, Runner, Trigger};
use crate::config::Settings;
use crate::db::recoveries::{PartResult, RecoveryRow, RecoveryRunRow};
use crate::db::repositories::RepoRow;
use crate::db::{self, Db, DbError};
use crate::domain::ids::{RecoveryId, RecoveryRunId};
use crate::domain::recovery::{BackupFile, RecoveryPart};
use crate::engine::restore::{restore, Layout, Overwrite, RestoreRequest};
use crate::engine::{repo, JobLocation, Progress, ProgressState};
use crate::host::format_size;
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub type RecoveryLive = Live<RecoveryId, RecoveryRunId>;

/// Where one partition of an active run stands (monitoring `details[]`).
#[derive(Debug, Clone, Default)]
pub struct PartProgress {
    pub partition: String,
    pub target: String,
    /// Registered, Processing, Complete, Error or Canceled.
    pub status: &'static str,
    pub progress: ProgressState,
    pub started: Option<DateTime<Utc>>,
    pub ended: Option<DateTime<Utc>>,
}

/// An active (queued or running) recovery run.
pub struct ActiveRecovery {
    pub live: Arc<RecoveryLive>,
    /// Backup jobs whose points the run reads.
    pub backup_jobs: Vec<String>,
    parts: Mutex<Vec<PartProgress>>,
}

impl ActiveRecovery {
    pub fn parts(&self) -> Vec<PartProgress> {
        self.parts.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
    fn set_part(&self, i: usize, f: impl FnOnce(&mut PartProgress)) {
        if let Some(p) = self
            .parts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(i)
        {
            f(p)
        }
    }
}

/// What asking for a recovery run did.
#[derive(Debug, PartialEq, Eq)]
pub enum RecoveryEnqueued {
    Queued(RecoveryRunId),
    /// A schedule fired while the job still ran: recorded as skipped.
    Skipped(RecoveryRunId),
    /// A manual start while the job runs: refused, nothing recorded.
    Busy,
    NotFound,
}

/// How a trigger is recorded in recovery history.
fn trigger_name(t: Trigger) -> &'static str {
    match t {
        Trigger::Basic | Trigger::Advanced => "schedule",
        Trigger::AutoStart => "autostart",
        Trigger::Manual => "manual",
        Trigger::CatchUp(_) => "catch-up",
    }
}

impl Runner {
    fn recoveries(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<RecoveryId, Arc<ActiveRecovery>>> {
        self.inner
            .recoveries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The queued or running run of a recovery job.
    pub fn recovery(&self, id: RecoveryId) -> Option<Arc<ActiveRecovery>> {
        self.recoveries().get(&id).cloned()
    }

    /// Whether an active recovery reads the points of backup job `name`.
    pub fn is_reading(&self, name: &str) -> bool {
        self.recoveries()
            .values()
            .any(|a| a.backup_jobs.iter().any(|b| b == name))
    }

    /// Queues a run of recovery job `id` unless it already has one.
    pub async fn enqueue_recovery(
        &self,
        id: RecoveryId,
        trigger: Trigger,
    ) -> Result<RecoveryEnqueued, DbError> {
        let Some(job) = self
            .inner
            .db
            .read(move |c| db::recoveries::get(c, id).map_err(DbError::from))
            .await?
        else {
            return Ok(RecoveryEnqueued::NotFound);
        };
        let live = Arc::new(RecoveryLive::new(id, trigger, None));
        let active = Arc::new(ActiveRecovery {
            live: live.clone(),
            backup_jobs: job
                .spec
                .parts
                .iter()
                .map(|p| p.backup_job.clone())
                .collect(),
            parts: Mutex::new(
                job.spec
                    .parts
                    .iter()
                    .map(|p| PartProgress {
                        partition: p.source_partition.clone(),
                        target: p.target_dir.clone(),
                        status: "Registered",
                        ..Default::default()
                    })
                    .collect(),
            ),
        });
        let other = {
            let mut map = self.recoveries();
            match map.get(&id) {
                Some(_) if trigger == Trigger::Manual => return Ok(RecoveryEnqueued::Busy),
                Some(o) => Some(o.live.view().run_id),
                None => {
                    map.insert(id, active.clone());
                    None
                }
            }
        };
        let now = Utc::now().timestamp();
        let mut row = RecoveryRunRow {
            recovery_id: Some(id),
            job_name: job.name.clone(),
            source: job.spec.source.clone(),
            target: job.spec.target.clone(),
            trigger: trigger_name(trigger).into(),
            state: "queued".into(),
            queued_at: now,
            ..Default::default()
        };
        if let Some(other) = other {
            row.state = "skipped".into();
            row.ended_at = Some(now);
            row.description = format!("Not started: the job was still running (history {other})");
            let run = self
                .inner
                .db
                .write(move |tx| db::recoveries::insert_run(tx, &row).map_err(DbError::from))
                .await?;
            return Ok(RecoveryEnqueued::Skipped(run));
        }
        let run = match self
            .inner
            .db
            .write(move |tx| db::recoveries::insert_run(tx, &row).map_err(DbError::from))
            .await
        {
            Ok(r) => r,
            Err(e) => {
                self.recoveries().remove(&id);
                return Err(e);
            }
        };
        live.lock().run_id = run;
        live.log(format!("queued ({})", trigger_name(trigger)));
        tracing::info!(recovery = %job.name, run = %run, "recovery queued");
        let runner = self.clone();
        tokio::spawn(async move { runner.work_recovery(active, job).await });
        Ok(RecoveryEnqueued::Queued(run))
    }

    async fn work_recovery(self, active: Arc<ActiveRecovery>, job: RecoveryRow) {
        let permit = self.inner.permits.clone().acquire_owned().await;
        let runner = self.clone();
        let a = active.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let release = || runner.release_recovery(&a);
            run(&runner.inner.db, &runner.inner.settings, &a, &job, &release)
        })
        .await;
        if let Err(e) = outcome {
            tracing::error!(run = %active.live.view().run_id, "recovery task failed: {e}");
        }
        self.release_recovery(&active);
    }

    /// Frees `active`'s job slot, unless a newer run already holds it.
    fn release_recovery(&self, active: &Arc<ActiveRecovery>) {
        super::free_slot(&mut self.recoveries(), &active.live.job_id, active);
    }

    /// `status: stop`: cancels the active run at the next file boundary and keeps a scheduled
    /// job from firing until it is started again. Returns whether a run was canceled.
    pub async fn stop_recovery(&self, id: RecoveryId) -> Result<bool, DbError> {
        self.inner
            .db
            .write(move |tx| db::recoveries::set_stopped(tx, id, true).map_err(DbError::from))
            .await?;
        self.disarm_recovery(id);
        let Some(active) = self.recovery(id) else {
            return Ok(false);
        };
        let live = &active.live;
        live.cancel.cancel();
        live.set_phase(Phase::Canceling);
        live.log("cancel requested");
        let run = live.view().run_id;
        self.inner
            .db
            .write(move |tx| {
                db::recoveries::set_run_state(tx, run, "canceling", None).map_err(DbError::from)
            })
            .await?;
        Ok(true)
    }

    /// `status: start`: clears a stop, re-arms the schedule and queues a run now.
    pub async fn start_recovery(&self, id: RecoveryId) -> Result<RecoveryEnqueued, DbError> {
        self.inner
            .db
            .write(move |tx| db::recoveries::set_stopped(tx, id, false).map_err(DbError::from))
            .await?;
        self.arm_recovery(id).await;
        self.enqueue_recovery(id, Trigger::Manual).await
    }

    /// When the recovery job's schedule fires next (`None`: none, or stopped).
    pub fn recovery_armed_at(&self, id: RecoveryId) -> Option<DateTime<Utc>> {
        self.inner
            .recovery_timers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .copied()
    }

    pub fn disarm_recovery(&self, id: RecoveryId) {
        self.inner
            .recovery_timers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    /// (Re-)arms the schedule of a recovery job from its stored record.
    pub async fn arm_recovery(&self, id: RecoveryId) {
        let zone = self.inner.settings.zone;
        let next = self
            .inner
            .db
            .read(move |c| {
                let Some(r) = db::recoveries::get(c, id)? else {
                    return Ok::<_, DbError>(None);
                };
                if r.stopped {
                    return Ok(None);
                }
                let Some(s) = r.schedule_id else {
                    return Ok(None);
                };
                Ok(db::schedules::get(c, s)?
                    .and_then(|s| s.data)
                    .and_then(|d| crate::domain::nextfire::next_fire(&d, Utc::now(), &zone)))
            })
            .await;
        let mut timers = self
            .inner
            .recovery_timers
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match next {
            Ok(Some(at)) => {
                timers.insert(id, at);
            }
            Ok(None) => {
                timers.remove(&id);
            }
            Err(e) => tracing::error!(recovery = %id, "cannot arm the schedule: {e}"),
        }
    }

    /// Arms every scheduled recovery job and marks runs a previous process left unfinished.
    pub(super) async fn start_recoveries(&self) -> Result<(), DbError> {
        let now = Utc::now().timestamp();
        let (n, ids) = self
            .inner
            .db
            .write(move |tx| {
                let n = db::recoveries::interrupt_unfinished(tx, now)?;
                let ids: Vec<RecoveryId> = db::recoveries::list(tx)?
                    .into_iter()
                    .filter(|r| r.schedule_id.is_some())
                    .map(|r| r.id)
                    .collect();
                Ok::<_, DbError>((n, ids))
            })
            .await?;
        if n > 0 {
            tracing::warn!(
                runs = n,
                "marked recoveries of the previous process as interrupted"
            );
        }
        for id in ids {
            self.arm_recovery(id).await;
        }
        Ok(())
    }

    /// Fires recovery schedules that are due (called every second by the timer loop). A drill
    /// starts at most a second after its slot.
    pub(super) async fn fire_due_recoveries(&self) {
        let now = Utc::now();
        let due: Vec<RecoveryId> = {
            let mut timers = self
                .inner
                .recovery_timers
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let due: Vec<RecoveryId> = timers
                .iter()
                .filter(|(_, at)| **at <= now)
                .map(|(id, _)| *id)
                .collect();
            for id in &due {
                timers.remove(id);
            }
            due
        };
        for id in due {
            tracing::info!(recovery = %id, "recovery schedule fired");
            if let Err(e) = self.enqueue_recovery(id, Trigger::Basic).await {
                tracing::error!(recovery = %id, "cannot queue the scheduled recovery: {e}");
            }
            // The next slot strictly after this one.
            self.arm_recovery(id).await;
        }
    }
}

/// Passes the engine's progress to the live view and the partition's line.
struct PartRecording<'a> {
    active: &'a ActiveRecovery,
    index: usize,
}

impl Progress for PartRecording<'_> {
    fn update(&self, state: &ProgressState) {
        self.active.live.update(state);
        self.active
            .set_part(self.index, |p| p.progress = state.clone());
    }
}

/// Runs one queued recovery to its recorded result; `release` as for backups (`exec::run`).
fn run(
    db: &Db,
    settings: &Settings,
    active: &ActiveRecovery,
    job: &RecoveryRow,
    release: &dyn Fn(),
) {
    let live = &active.live;
    let run_id = live.view().run_id;
    let started = Utc::now();
    let mut row = RecoveryRunRow {
        id: run_id,
        recovery_id: Some(job.id),
        job_name: job.name.clone(),
        source: job.spec.source.clone(),
        target: job.spec.target.clone(),
        started_at: Some(started.timestamp()),
        ..Default::default()
    };
    if live.cancel.is_canceled() {
        row.state = "canceled".into();
        row.description = "Canceled by user before it started".into();
    } else {
        live.set_phase(Phase::Running);
        if let Err(e) = db.write_blocking(|tx| {
            db::recoveries::set_run_state(tx, run_id, "running", Some(started.timestamp()))
                .map_err(DbError::from)
        }) {
            tracing::error!(run = %run_id, "cannot record the recovery start: {e}");
        }
        match db.read_blocking(|c| db::repositories::list(c).map_err(DbError::from)) {
            Ok(repos) => work(settings, &repos, active, job, &mut row),
            Err(e) => {
                row.state = "error".into();
                row.description = format!("Cannot read the repositories: {e}");
            }
        }
    }
    row.ended_at = Some(Utc::now().timestamp());
    row.log = live.log_text();
    release();
    if let Err(e) = db.write_blocking(|tx| {
        db::recoveries::finish_run(tx, &row, job.spec.verify).map_err(DbError::from)
    }) {
        tracing::error!(run = %run_id, "cannot record the recovery result: {e}");
    }
    tracing::info!(recovery = %job.name, run = %run_id, state = %row.state, "recovery finished: {}", row.description);
    notify(settings, job, &row);
}

fn script_env(job: &RecoveryRow, run: RecoveryRunId) -> Vec<(&'static str, String)> {
    vec![
        ("ZDM_RECOVERY_ID", job.id.to_string()),
        ("ZDM_RECOVERY_NAME", job.name.clone()),
        ("ZDM_RUN_ID", run.to_string()),
        (
            "ZDM_TARGETS",
            job.spec
                .parts
                .iter()
                .map(|p| p.target_dir.as_str())
                .collect::<Vec<_>>()
                .join(":"),
        ),
    ]
}

fn work(
    settings: &Settings,
    repos: &[RepoRow],
    active: &ActiveRecovery,
    job: &RecoveryRow,
    row: &mut RecoveryRunRow,
) {
    let live = &active.live;
    let timeout = std::time::Duration::from_secs(settings.runner.script_timeout_seconds as u64);
    let script = job.spec.script_path.as_deref().map(|p| {
        (
            PathBuf::from(p),
            job.spec.script_run.as_deref() == Some("after"),
        )
    });
    let mut env = script_env(job, row.id);
    if let Some((path, false)) = &script {
        env.push(("ZDM_PHASE", "before".into()));
        let out = super::exec::run_script(live, path, &env, timeout, &live.cancel);
        if !out.ok {
            row.state = if live.cancel.is_canceled() {
                "canceled"
            } else {
                "error"
            }
            .into();
            row.description = format!(
                "Before-script {} failed ({}); nothing was restored",
                path.display(),
                out.summary
            );
            return;
        }
    }
    for (i, part) in job.spec.parts.iter().enumerate() {
        if live.cancel.is_canceled() {
            break;
        }
        active.set_part(i, |p| {
            p.status = "Processing";
            p.started = Some(Utc::now());
        });
        live.log(format!(
            "restoring {} of {} into {}",
            if part.paths.is_empty() {
                "everything".to_string()
            } else {
                part.paths.join(", ")
            },
            part.backup_job,
            part.target_dir
        ));
        let run = Run {
            settings,
            repos,
            active,
            job,
        };
        let result = restore_part(&run, i, part);
        let status = match &result {
            _ if live.cancel.is_canceled() => "Canceled",
            r if r.ok => "Complete",
            _ => "Error",
        };
        active.set_part(i, |p| {
            p.status = status;
            p.ended = Some(Utc::now());
        });
        if let Some(e) = &result.error {
            live.log(format!("error: {e}"));
        }
        row.parts.push(result);
    }
    let canceled = live.cancel.is_canceled();
    sum_up(row, canceled, job.spec.verify);
    if let Some((path, true)) = &script {
        env.push(("ZDM_PHASE", "after".into()));
        env.push((
            "ZDM_RESULT",
            match row.state.as_str() {
                "complete" => "success",
                "canceled" => "canceled",
                _ => "failure",
            }
            .into(),
        ));
        let out = super::exec::run_script(
            live,
            path,
            &env,
            timeout,
            &crate::engine::CancelToken::new(),
        );
        if !out.ok {
            row.description +=
                &format!("; after-script {} failed ({})", path.display(), out.summary);
        }
    }
}

/// Totals, state and the one-line description of a finished run.
fn sum_up(row: &mut RecoveryRunRow, canceled: bool, verify: bool) {
    let p = &row.parts;
    row.files = p.iter().map(|x| x.files as i64).sum();
    row.bytes = p.iter().map(|x| x.bytes as i64).sum();
    row.skipped = p.iter().map(|x| x.skipped as i64).sum();
    row.errors = p.iter().filter(|x| !x.ok).count() as i64;
    if verify {
        let mism: u64 = p.iter().map(|x| x.mismatches).sum();
        let all_checked = p.iter().all(|x| x.verified.is_some());
        row.mismatches = Some(mism as i64);
        row.verify = Some(
            if mism == 0 && all_checked {
                "ok"
            } else {
                "mismatch"
            }
            .into(),
        );
    }
    let mut d = format!(
        "Restored {} files ({}), {} skipped",
        group(row.files as u64),
        format_size(row.bytes as u64, 1),
        group(row.skipped as u64)
    );
    if let Some(v) = &row.verify {
        d += &match (v.as_str(), row.mismatches) {
            ("ok", _) => ", verify ok".to_string(),
            (_, Some(n)) if n > 0 => format!(", verify found {n} mismatches"),
            _ => ", verify incomplete".to_string(),
        };
    }
    let first_error = p.iter().find_map(|x| x.error.clone());
    row.state = if canceled {
        d = format!("Canceled by user; {d}");
        "canceled"
    } else if let Some(e) = first_error {
        d = format!("{e} ({d})");
        "error"
    } else {
        "complete"
    }
    .into();
    row.description = d;
}

/// 12345 -> "12,345".
pub fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The point a partition restores: a fixed id, the newest, or the newest at or before a time.
fn pick_point(
    t: &dyn crate::engine::target::Target,
    location: &JobLocation,
    file: &BackupFile,
    settings: &Settings,
) -> Result<Option<String>, String> {
    match file {
        BackupFile::Latest => Ok(None),
        BackupFile::Point(id) => Ok(Some(id.clone())),
        BackupFile::At(at) => {
            let local = chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M:%S")
                .map_err(|e| format!("backupFile '{at}': {e}"))?;
            let limit = settings.zone.instant(local).ok_or_else(|| {
                format!("backupFile '{at}' does not exist in the local time zone")
            })?;
            repo::points(t, &location.dir(), &location.trust.key)
                .into_iter()
                .filter(|p| {
                    DateTime::parse_from_rfc3339(&p.manifest.finished)
                        .is_ok_and(|f| f.with_timezone(&Utc) <= limit)
                })
                .map(|p| p.manifest.id)
                .next_back()
                .map(Some)
                .ok_or_else(|| format!("No restore point of {} at or before {at}", location.job))
        }
    }
}

/// Everything a restore must not write into: the state directory and local repositories.
pub fn forbidden(settings: &Settings, repos: &[RepoRow]) -> crate::restore_target::Forbidden {
    let mut places = vec![(
        settings.state_dir.clone(),
        "the state directory".to_string(),
    )];
    for r in repos {
        for p in [r.local_path.as_deref(), Some(r.path.as_str())]
            .into_iter()
            .flatten()
        {
            if p.starts_with('/') && Path::new(p).is_dir() {
                places.push((PathBuf::from(p), format!("repository {}", r.id)));
            }
        }
    }
    crate::restore_target::Forbidden { places }
}

/// What every partition of one run shares.
struct Run<'a> {
    settings: &'a Settings,
    repos: &'a [RepoRow],
    active: &'a ActiveRecovery,
    job: &'a RecoveryRow,
}

/// Restores partition `index` of the run; the result says what was restored or why not.
fn restore_part(run: &Run, index: usize, part: &RecoveryPart) -> PartResult {
    let mut out = PartResult {
        source_partition: part.source_partition.clone(),
        target_dir: part.target_dir.clone(),
        backup_job: part.backup_job.clone(),
        ..Default::default()
    };
    match restore_into(run, index, part, &mut out) {
        Ok(()) => out.ok = true,
        Err(e) => out.error = Some(e),
    }
    out
}

fn restore_into(
    run: &Run,
    index: usize,
    part: &RecoveryPart,
    out: &mut PartResult,
) -> Result<(), String> {
    let Run {
        settings,
        repos,
        active,
        job,
    } = *run;
    let live = &active.live;
    let repo = repos
        .iter()
        .find(|r| r.id.0 == part.repository_id)
        .cloned()
        .ok_or_else(|| format!("Repository {} no longer exists", part.repository_id))?;
    let target_dir = PathBuf::from(&part.target_dir);
    if let Some(p) = crate::restore_target::problem(&target_dir, &forbidden(settings, repos)) {
        return Err(p);
    }
    let target = crate::repocheck::open(&repo, &settings.runner).map_err(|f| {
        format!(
            "Repository {} cannot be reached ({}: {})",
            repo.path, f.step, f.reason
        )
    })?;
    let trust = crate::engine::trust::Trust::from_state_dir(&settings.state_dir, false)
        .map_err(|e| e.to_string())?;
    let location = JobLocation {
        target: target.clone(),
        server: job.spec.source.clone(),
        job: part.backup_job.clone(),
        trust,
    };
    location.check().map_err(|e| e.to_string())?;
    let point = pick_point(&*target, &location, &part.backup_file, settings)?;
    let key = settings
        .state_dir
        .join(crate::engine::keys::BACKUP_KEY_FILE);
    let identity = if key.exists() {
        Some(crate::engine::keys::load(&key).map_err(|e| e.to_string())?)
    } else {
        None
    };
    let mut overwrite = Overwrite::parse(&part.overwrite_policy).unwrap_or(Overwrite::Never);
    // `increment` writes only what differs from the target (the vendor's incremental recovery).
    if part.mode == "increment" && overwrite == Overwrite::Always {
        overwrite = Overwrite::IfChanged;
    }
    let req = RestoreRequest {
        location,
        point,
        target: target_dir.clone(),
        paths: part
            .paths
            .iter()
            .map(|p| rel_to(p, &part.source_partition))
            .collect(),
        exclude: part.exclude_paths.clone(),
        overwrite,
        layout: if part.flat {
            Layout::Flat
        } else {
            Layout::Original
        },
        delete: part.delete,
        verify: job.spec.verify,
        identity: identity.as_ref(),
        allow_unauthenticated: false,
        bytes_per_sec: (job.spec.network_limit > 0)
            .then(|| u64::from(job.spec.network_limit) * 1024 * 1024),
    };
    let progress = PartRecording { active, index };
    let report = restore(&req, &progress, &live.cancel).map_err(|e| {
        if live.cancel.is_canceled() {
            "Canceled by user".to_string()
        } else {
            e.to_string()
        }
    })?;
    for w in &report.warnings {
        live.log(format!("warning: {w}"));
    }
    out.point = Some(report.point.clone());
    out.files = report.entries;
    out.bytes = report.bytes;
    out.skipped = report.skipped;
    out.deleted = report.deleted;
    if let Some(v) = &report.verify {
        out.verified = Some(v.mismatches == 0);
        out.mismatches = v.mismatches;
        for x in &v.examples {
            live.log(format!("verify: {x}"));
        }
        if v.mismatches > 0 {
            return Err(format!(
                "Verify: {} of {} restored entries differ from point {}",
                v.mismatches, v.checked, report.point
            ));
        }
    }
    live.log(format!(
        "restored point {} of {} into {}: {} entries, {} skipped",
        report.point, part.backup_job, part.target_dir, report.entries, report.skipped
    ));
    if !job.spec.retain_target {
        std::fs::remove_dir_all(&target_dir).map_err(|e| {
            format!(
                "Cannot remove target {} after the run: {e}",
                target_dir.display()
            )
        })?;
        live.log(format!(
            "removed target {} (retainTarget: not use)",
            target_dir.display()
        ));
    }
    Ok(())
}

/// A path inside the partition, relative to its mount point, as the catalog names it.
fn rel_to(path: &str, partition: &str) -> Vec<u8> {
    let rest = path.strip_prefix(partition).unwrap_or(path);
    let rest = rest.trim_start_matches('/');
    if rest.is_empty() {
        b".".to_vec()
    } else {
        rest.as_bytes().to_vec()
    }
}

fn notify(settings: &Settings, job: &RecoveryRow, row: &RecoveryRunRow) {
    let Some(to) = job.spec.mail_event.as_deref().filter(|m| !m.is_empty()) else {
        return;
    };
    let Some(cfg) = &settings.mail else {
        return;
    };
    let result = match row.state.as_str() {
        "complete" => "success",
        "canceled" => "canceled",
        _ => "FAILED",
    };
    let subject = format!(
        "[zdm-backupd] recovery {} on {}: {result}",
        job.name, settings.server_name
    );
    let mut body = format!(
        "Recovery job: {}\nServer:       {}\nResult:       {result}\n{}\n",
        job.name, settings.server_name, row.description
    );
    for p in &row.parts {
        body += &format!(
            "\n{} -> {}: point {} of {}, {} files, {} skipped{}",
            p.source_partition,
            p.target_dir,
            p.point.as_deref().unwrap_or("-"),
            p.backup_job,
            p.files,
            p.skipped,
            p.error
                .as_ref()
                .map(|e| format!(", error: {e}"))
                .unwrap_or_default()
        );
    }
    if let Err(e) = mail::send(cfg, to, &subject, &body) {
        tracing::warn!(recovery = %job.name, error = %super::error::chain(&e), "mail failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_and_paths_made_relative() {
        assert_eq!(group(5880), "5,880");
        assert_eq!(group(12), "12");
        assert_eq!(group(1_234_567), "1,234,567");
        assert_eq!(rel_to("/home/ann/a", "/home"), b"ann/a");
        assert_eq!(rel_to("/etc/hosts", "/"), b"etc/hosts");
        assert_eq!(rel_to("/home", "/home"), b".");
    }
}
