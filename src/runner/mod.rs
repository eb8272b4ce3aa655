//! Turns jobs into runs: a queue with a global concurrency limit and at most one active run per
//! job, timers that fire schedules (`timers.rs`), start-up recovery and missed slots
//! (`startup.rs`), the run itself (`exec.rs`), scripts and mail.
//!
//! Every state change of a run is written to its history row before and after the work, so a
//! crash leaves a row that the next start marks interrupted.

pub mod error;
mod exec;
pub mod mail;
pub mod recovery;
pub mod script;
mod startup;
pub mod status;
mod timers;

use crate::config::Settings;
use crate::db::{self, runs::RunRow, Db, DbError};
use crate::domain::ids::{JobId, RecoveryId, RunId};
use crate::domain::run::RunState;
use crate::domain::schedule::Role;
use crate::engine::{CancelToken, Progress, ProgressState};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::Semaphore;

/// What caused a run (history `trigger`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Basic,
    Advanced,
    AutoStart,
    Manual,
    /// A missed slot run at start-up; the role says which half of the schedule it was.
    CatchUp(Role),
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Basic => "basic",
            Trigger::Advanced => "advanced",
            Trigger::AutoStart => "autostart",
            Trigger::Manual => "manual",
            Trigger::CatchUp(_) => "catch-up",
        }
    }
    /// The schedule half behind this run, if a schedule caused it.
    pub fn role(self) -> Option<Role> {
        match self {
            Trigger::Basic => Some(Role::Basic),
            Trigger::Advanced => Some(Role::Advanced),
            Trigger::CatchUp(r) => Some(r),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Queued,
    Running,
    Canceling,
}

/// Removes `key`'s entry from a map of running jobs if it is still `mine` (a run that finished
/// must not free the slot of the next run of its job).
fn free_slot<K: Eq + std::hash::Hash, V>(map: &mut HashMap<K, Arc<V>>, key: &K, mine: &Arc<V>) {
    if map.get(key).is_some_and(|a| Arc::ptr_eq(a, mine)) {
        map.remove(key);
    }
}

/// A queued or running run, shared by the runner, its worker thread and the monitoring API: of
/// a backup job (the defaults) or of a recovery job (`recovery.rs`).
pub struct Live<I = JobId, R = RunId> {
    pub job_id: I,
    pub trigger: Trigger,
    /// The schedule slot behind the run, if any.
    pub due: Option<DateTime<Utc>>,
    pub cancel: CancelToken,
    state: Mutex<LiveState<R>>,
}

struct LiveState<R> {
    run_id: R,
    phase: Phase,
    started: Option<(DateTime<Utc>, Instant)>,
    progress: ProgressState,
    log: Vec<String>,
}

/// What the monitoring API shows of a live run.
#[derive(Debug, Clone)]
pub struct LiveView<R = RunId> {
    pub run_id: R,
    pub phase: Phase,
    pub trigger: Trigger,
    pub started_at: Option<DateTime<Utc>>,
    pub elapsed_secs: f64,
    pub progress: ProgressState,
    pub bytes_per_second: f64,
    pub eta_secs: Option<f64>,
    pub log: Vec<String>,
}

impl<I, R: Copy + Default> Live<I, R> {
    fn new(job_id: I, trigger: Trigger, due: Option<DateTime<Utc>>) -> Self {
        Live {
            job_id,
            trigger,
            due,
            cancel: CancelToken::new(),
            state: Mutex::new(LiveState {
                run_id: R::default(),
                phase: Phase::Queued,
                started: None,
                progress: ProgressState::default(),
                log: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LiveState<R>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn log(&self, line: impl Into<String>) {
        let line = format!("{} {}", Utc::now().format("%H:%M:%S"), line.into());
        let mut s = self.lock();
        if s.log.len() < 10_000 {
            s.log.push(line);
        }
    }

    fn log_text(&self) -> String {
        self.lock().log.join("\n")
    }

    fn set_phase(&self, phase: Phase) {
        let mut s = self.lock();
        if phase == Phase::Running && s.started.is_none() {
            s.started = Some((Utc::now(), Instant::now()));
        }
        // A cancel request wins over the worker reporting that it started.
        if !(s.phase == Phase::Canceling && phase == Phase::Running) {
            s.phase = phase;
        }
    }

    pub fn view(&self) -> LiveView<R> {
        let s = self.lock();
        let elapsed = s
            .started
            .map(|(_, i)| i.elapsed().as_secs_f64())
            .unwrap_or(0.0);
        let rate = if elapsed > 0.0 {
            s.progress.bytes as f64 / elapsed
        } else {
            0.0
        };
        let eta = (rate > 0.0 && s.progress.total_bytes >= s.progress.bytes)
            .then(|| (s.progress.total_bytes - s.progress.bytes) as f64 / rate);
        LiveView {
            run_id: s.run_id,
            phase: s.phase,
            trigger: self.trigger,
            started_at: s.started.map(|(t, _)| t),
            elapsed_secs: elapsed,
            progress: s.progress.clone(),
            bytes_per_second: rate,
            eta_secs: eta,
            log: s.log.clone(),
        }
    }
}

impl<I: Send + Sync, R: Copy + Default + Send> Progress for Live<I, R> {
    fn update(&self, state: &ProgressState) {
        self.lock().progress = state.clone();
    }
}

/// The result of asking for a run.
#[derive(Debug, PartialEq, Eq)]
pub enum Enqueued {
    /// Queued as history row `run_id`.
    Queued(RunId),
    /// The job already has an active run; recorded as skipped (history row `run_id`).
    Skipped(RunId),
    /// A manual start while the job runs (or is being renamed): refused, nothing recorded.
    Busy,
    NotFound,
}

/// Keeps a job from starting while its restore points move (a rename on a share); released
/// when dropped.
pub struct Hold {
    runner: Runner,
    job_id: JobId,
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.runner.holds().remove(&self.job_id);
    }
}

#[derive(Clone)]
pub struct Runner {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    settings: Settings,
    permits: Arc<Semaphore>,
    active: Mutex<HashMap<JobId, Arc<Live>>>,
    /// Jobs that must not start now (see [`Hold`]); taken only while `active` is locked.
    holds: Mutex<std::collections::HashSet<JobId>>,
    timers: timers::Timers,
    recoveries: Mutex<HashMap<RecoveryId, Arc<recovery::ActiveRecovery>>>,
    /// When each scheduled recovery job fires next.
    recovery_timers: Mutex<HashMap<RecoveryId, DateTime<Utc>>>,
}

impl Runner {
    pub fn new(db: Db, settings: Settings) -> Runner {
        let permits = Arc::new(Semaphore::new(settings.runner.max_concurrent_runs));
        Runner {
            inner: Arc::new(Inner {
                db,
                settings,
                permits,
                active: Mutex::new(HashMap::new()),
                holds: Mutex::new(Default::default()),
                timers: timers::Timers::default(),
                recoveries: Mutex::new(HashMap::new()),
                recovery_timers: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn active(&self) -> std::sync::MutexGuard<'_, HashMap<JobId, Arc<Live>>> {
        self.inner.active.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn holds(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<JobId>> {
        self.inner.holds.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `job_id` from starting until the guard is dropped; `None` when it has an active
    /// run (or is already held).
    pub fn hold(&self, job_id: JobId) -> Option<Hold> {
        let active = self.active();
        if active.contains_key(&job_id) || !self.holds().insert(job_id) {
            return None;
        }
        drop(active);
        Some(Hold {
            runner: self.clone(),
            job_id,
        })
    }

    /// The queued or running run of a job.
    pub fn live(&self, job_id: JobId) -> Option<Arc<Live>> {
        self.active().get(&job_id).cloned()
    }

    /// Runs waiting for a permit.
    pub fn queue_length(&self) -> usize {
        self.active()
            .values()
            .filter(|l| l.lock().phase == Phase::Queued)
            .count()
    }

    /// Queues a run of `job_id` unless it already has one (then the request is recorded as
    /// skipped). `due` is the schedule slot that caused it, if any.
    pub async fn enqueue(
        &self,
        job_id: JobId,
        trigger: Trigger,
        due: Option<DateTime<Utc>>,
    ) -> Result<Enqueued, DbError> {
        let Some((job, repo_path)) = self.job_and_repo(job_id).await? else {
            return Ok(Enqueued::NotFound);
        };
        let live = Arc::new(Live::new(job_id, trigger, due));
        let running = {
            let mut active = self.active();
            let held = self.holds().contains(&job_id);
            match active.get(&job_id) {
                _ if held && trigger == Trigger::Manual => return Ok(Enqueued::Busy),
                // A held job is being renamed: a timer's fire is recorded as skipped.
                _ if held => Some(None),
                Some(_) if trigger == Trigger::Manual => return Ok(Enqueued::Busy),
                Some(other) => Some(Some(other.lock().run_id)),
                None => {
                    active.insert(job_id, live.clone());
                    None
                }
            }
        };
        let now = Utc::now();
        let mut row = RunRow {
            job_id,
            job_name: job.name.clone(),
            partition: job.partition.clone(),
            mode: job.mode.clone(),
            repository_path: repo_path,
            trigger: trigger.as_str().into(),
            due_at: due.map(|d| d.timestamp()),
            queued_at: now.timestamp(),
            ..Default::default()
        };
        if let Some(other) = running {
            row.state = RunState::Skipped;
            row.ended_at = Some(now.timestamp());
            row.error = Some(match other {
                Some(other) => format!("not started: the job was still running (history {other})"),
                None => "not started: the job was being renamed".to_string(),
            });
            let id = self
                .inner
                .db
                .write(move |tx| db::runs::insert(tx, &row).map_err(DbError::from))
                .await?;
            tracing::warn!(job = %job.name, trigger = trigger.as_str(), "run skipped: the job is still running");
            return Ok(Enqueued::Skipped(id));
        }
        row.state = RunState::Queued;
        let id = match self
            .inner
            .db
            .write(move |tx| db::runs::insert(tx, &row).map_err(DbError::from))
            .await
        {
            Ok(id) => id,
            Err(e) => {
                self.active().remove(&job_id);
                return Err(e);
            }
        };
        live.lock().run_id = id;
        live.log(format!("queued ({})", trigger.as_str()));
        tracing::info!(job = %job.name, run = %id, trigger = trigger.as_str(), "run queued");
        let runner = self.clone();
        tokio::spawn(async move { runner.work(live, job).await });
        Ok(Enqueued::Queued(id))
    }

    async fn job_and_repo(
        &self,
        job_id: JobId,
    ) -> Result<Option<(db::jobs::JobRow, String)>, DbError> {
        self.inner
            .db
            .read(move |c| {
                let Some(job) = db::jobs::get(c, job_id)? else {
                    return Ok(None);
                };
                let path = db::repositories::get(c, job.repository_id)?
                    .map(|r| r.path)
                    .unwrap_or_default();
                Ok(Some((job, path)))
            })
            .await
    }

    async fn work(self, live: Arc<Live>, job: db::jobs::JobRow) {
        let permit = self.inner.permits.clone().acquire_owned().await;
        let runner = self.clone();
        let l = live.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let release = || runner.release(&l);
            exec::run(&runner.inner.db, &runner.inner.settings, &l, &job, &release)
        })
        .await;
        if let Err(e) = outcome {
            tracing::error!(run = %live.view().run_id, "run task failed: {e}");
        }
        self.release(&live);
    }

    /// Frees `live`'s job slot, unless a newer run already holds it.
    fn release(&self, live: &Arc<Live>) {
        free_slot(&mut self.active(), &live.job_id, live);
    }

    /// `status: stop`: cancels the active run at the next file boundary, or keeps a scheduled
    /// job from firing until it is started again. Returns whether a run was canceled.
    pub async fn stop_job(&self, job_id: JobId) -> Result<bool, DbError> {
        self.inner
            .db
            .write(move |tx| db::jobs::set_stopped(tx, job_id, true).map_err(DbError::from))
            .await?;
        self.disarm(job_id).await;
        let Some(live) = self.live(job_id) else {
            return Ok(false);
        };
        live.cancel.cancel();
        live.set_phase(Phase::Canceling);
        live.log("cancel requested");
        let run_id = live.view().run_id;
        self.inner
            .db
            .write(move |tx| {
                tx.execute(
                    "UPDATE runs SET state = 'canceling' WHERE id = ?1 AND state IN ('queued', 'running')",
                    [run_id],
                )
                .map_err(DbError::from)
            })
            .await?;
        Ok(true)
    }

    /// `status: start`: clears a stop, re-arms the schedule and queues a run now.
    pub async fn start_job(&self, job_id: JobId) -> Result<Enqueued, DbError> {
        let now = Utc::now().timestamp();
        self.inner
            .db
            .write(move |tx| {
                db::jobs::set_stopped(tx, job_id, false)?;
                // Slots that passed while the job was stopped were not missed: it was told not
                // to run.
                // (The catch-up horizon, not lastRunTime: nothing ran.)
                tx.execute(
                    "UPDATE schedules SET handled_until = ?2 WHERE id IN
                       (SELECT schedule_basic_id FROM jobs WHERE id = ?1
                        UNION SELECT schedule_advanced_id FROM jobs WHERE id = ?1)",
                    rusqlite::params![job_id, now],
                )?;
                Ok::<_, DbError>(())
            })
            .await?;
        self.arm(job_id).await;
        self.enqueue(job_id, Trigger::Manual, None).await
    }

    /// Whether `job_id` has an active run (used to refuse deleting it).
    pub fn is_active(&self, job_id: JobId) -> bool {
        self.active().contains_key(&job_id)
    }
}
