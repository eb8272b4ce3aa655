//! Schedule timers on tokio-cron-scheduler. Each scheduled job has one one-shot timer for its
//! next slot (the earlier of its two halves), computed by `domain::nextfire` and re-armed when
//! it fires. One function decides every fire time, so `nextRun`, the timers and the missed-slot
//! check agree, including the DST rules cron expressions would resolve differently
//! (docs/SCHEDULES.md). The callback only records the slot and queues a run.

use super::status::next_for_job;
use super::{exec, Runner, Trigger};
use crate::db::{self, jobs::JobRow, runs::RunRow, DbError};
use crate::domain::ids::{JobId, ScheduleId};
use crate::domain::nextfire::slots_between;
use crate::domain::run::RunState;
use crate::domain::schedule::{Role, ScheduleData};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use tokio_cron_scheduler::{Job, JobScheduler};
use uuid::Uuid;

/// A fire later than this after its slot (host asleep, clock jump) checks for slots it skipped.
const LATE_SECS: i64 = 60;

/// The scheduler hands due timers to their callbacks over broadcast channels of this size; a
/// burst larger than the channel loses activations, so it is sized for thousands of jobs due
/// in the same second, and the sweeper below fires any timer that still slips through.
const CHANNEL_SIZE: usize = 16 * 1024;

/// A timer still armed this long after its slot lost its activation: the sweeper fires it.
const SWEEP_GRACE_SECS: i64 = 2;

/// How often jobs without a timer are looked for (see `rearm_sweep`).
const REARM_EVERY_SECS: u64 = 20;

#[derive(Default)]
pub(super) struct Timers {
    sched: OnceLock<JobScheduler>,
    armed: Mutex<HashMap<JobId, Armed>>,
    generation: AtomicU64,
}

#[derive(Clone)]
struct Armed {
    uuid: Uuid,
    generation: u64,
    at: DateTime<Utc>,
    roles: Vec<Role>,
}

/// A job's schedule halves as the timers need them.
pub(super) struct JobSchedules {
    pub basic: Option<(ScheduleId, ScheduleData)>,
    pub advanced: Option<(ScheduleId, ScheduleData)>,
}

pub(super) fn load_schedules(
    c: &rusqlite::Connection,
    job: &JobRow,
) -> rusqlite::Result<JobSchedules> {
    let get = |id: Option<ScheduleId>| -> rusqlite::Result<Option<(ScheduleId, ScheduleData)>> {
        Ok(match id {
            Some(id) => db::schedules::get(c, id)?.and_then(|s| s.data.map(|d| (id, d))),
            None => None,
        })
    };
    Ok(JobSchedules {
        basic: get(job.schedule_basic_id)?,
        advanced: get(job.schedule_advanced_id)?,
    })
}

impl Timers {
    fn armed(&self) -> std::sync::MutexGuard<'_, HashMap<JobId, Armed>> {
        self.armed.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Runner {
    pub(super) async fn start_timers(&self) -> Result<(), tokio_cron_scheduler::JobSchedulerError> {
        let sched = JobScheduler::new_with_channel_size(CHANNEL_SIZE).await?;
        sched.start().await?;
        let _ = self.inner.timers.sched.set(sched);
        let runner = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            let mut n = 0u64;
            loop {
                tick.tick().await;
                runner.sweep().await;
                runner.fire_due_recoveries().await;
                n += 1;
                if n.is_multiple_of(REARM_EVERY_SECS) {
                    runner.rearm_sweep().await;
                }
            }
        });
        Ok(())
    }

    /// Re-arms every enabled, scheduled job that has no timer although it has a next slot: a
    /// fire that failed (a database error, the state disk full) never disarms a schedule for
    /// good.
    pub(super) async fn rearm_sweep(&self) {
        let armed: std::collections::HashSet<JobId> =
            self.inner.timers.armed().keys().copied().collect();
        let loaded = self
            .inner
            .db
            .read(move |c| {
                let mut out = Vec::new();
                for job in db::jobs::list(c)? {
                    if !job.stopped && job.has_schedule() && !armed.contains(&job.id) {
                        let s = load_schedules(c, &job)?;
                        out.push((job, s));
                    }
                }
                Ok::<_, DbError>(out)
            })
            .await;
        let jobs = match loaded {
            Ok(j) => j,
            Err(e) => {
                tracing::warn!("cannot check the schedules for unarmed jobs: {e}");
                return;
            }
        };
        let now = Utc::now();
        let zone = self.inner.settings.zone;
        for (job, s) in jobs {
            let next = next_for_job(
                s.basic.as_ref().map(|b| &b.1),
                s.advanced.as_ref().map(|a| &a.1),
                now,
                &zone,
            );
            if next.is_some() && self.armed_at(job.id).is_none() {
                tracing::warn!(job = %job.name, "schedule had no timer; re-armed");
                self.arm_loaded(&job, &s, now).await;
            }
        }
    }

    /// Fires timers whose activation was lost (see `CHANNEL_SIZE`). `fire` takes the armed
    /// entry under the lock, so a late activation from the scheduler cannot fire twice.
    async fn sweep(&self) {
        let limit = Utc::now() - chrono::Duration::seconds(SWEEP_GRACE_SECS);
        let overdue: Vec<(JobId, Armed)> = self
            .inner
            .timers
            .armed()
            .iter()
            .filter(|(_, a)| a.at < limit)
            .map(|(id, a)| (*id, a.clone()))
            .collect();
        for (job_id, a) in overdue {
            tracing::warn!(job = %job_id, slot = %a.at, "timer activation was lost; firing it now");
            if let Some(sched) = self.inner.timers.sched.get() {
                let _ = sched.remove(&a.uuid).await;
            }
            self.fire(job_id, a.generation, a.at, a.roles).await;
        }
    }

    /// When the job's timer fires next (`None`: not armed).
    pub fn armed_at(&self, job_id: JobId) -> Option<DateTime<Utc>> {
        self.inner.timers.armed().get(&job_id).map(|a| a.at)
    }

    /// (Re-)arms the timer of `job_id` from its stored schedules (none when stopped).
    pub async fn arm(&self, job_id: JobId) {
        let loaded = self
            .inner
            .db
            .read(move |c| {
                let Some(job) = db::jobs::get(c, job_id)? else {
                    return Ok::<_, DbError>(None);
                };
                let s = load_schedules(c, &job)?;
                Ok(Some((job, s)))
            })
            .await;
        match loaded {
            Ok(Some((job, s))) => self.arm_loaded(&job, &s, Utc::now()).await,
            Ok(None) => self.disarm(job_id).await,
            Err(e) => tracing::error!(job = %job_id, "cannot arm the schedule: {e}"),
        }
    }

    pub(super) async fn arm_loaded(&self, job: &JobRow, s: &JobSchedules, after: DateTime<Utc>) {
        self.disarm(job.id).await;
        if job.stopped {
            return;
        }
        let zone = self.inner.settings.zone;
        let Some((at, roles)) = next_for_job(
            s.basic.as_ref().map(|b| &b.1),
            s.advanced.as_ref().map(|a| &a.1),
            after,
            &zone,
        ) else {
            return;
        };
        let Some(sched) = self.inner.timers.sched.get() else {
            return;
        };
        // The scheduler counts whole seconds and checks twice a second: wake up a second early
        // and let `fire_now` sleep to the exact slot, so runs start on time, not up to 1.5 s late.
        let ms = (at - Utc::now()).num_milliseconds().max(0) as u64;
        let delay = std::time::Duration::from_secs((ms / 1000).saturating_sub(1));
        let generation = self.inner.timers.generation.fetch_add(1, Ordering::Relaxed);
        let runner = self.clone();
        let job_id = job.id;
        let armed_roles = roles.clone();
        let timer = Job::new_one_shot_async(delay, move |_, _| {
            runner.fire(job_id, generation, at, roles.clone())
        });
        let timer = match timer {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(job = %job.name, "cannot create the timer: {e}");
                return;
            }
        };
        // Recorded before the timer exists, so even an immediate fire finds its entry.
        self.inner.timers.armed().insert(
            job.id,
            Armed {
                uuid: timer.guid(),
                generation,
                at,
                roles: armed_roles,
            },
        );
        if let Err(e) = sched.add(timer).await {
            tracing::error!(job = %job.name, "cannot arm the timer: {e}");
            let mut armed = self.inner.timers.armed();
            if armed
                .get(&job.id)
                .is_some_and(|a| a.generation == generation)
            {
                armed.remove(&job.id);
            }
        }
    }

    pub async fn disarm(&self, job_id: JobId) {
        let old = self.inner.timers.armed().remove(&job_id);
        if let (Some(old), Some(sched)) = (old, self.inner.timers.sched.get()) {
            let _ = sched.remove(&old.uuid).await;
        }
    }

    /// Boxed: the timer closure armed below calls back into `fire`, a cycle an `async fn`
    /// cannot express as `Send`.
    fn fire(
        &self,
        job_id: JobId,
        generation: u64,
        at: DateTime<Utc>,
        roles: Vec<Role>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        let this = self.clone();
        Box::pin(async move { this.fire_now(job_id, generation, at, roles).await })
    }

    async fn fire_now(&self, job_id: JobId, generation: u64, at: DateTime<Utc>, roles: Vec<Role>) {
        // The scheduler keeps one-shot delays in whole seconds and may round them down: it can
        // wake up to a second early. A slot never runs before its time.
        if let Ok(early) = (at - Utc::now()).to_std() {
            tokio::time::sleep(early).await;
        }
        {
            let mut armed = self.inner.timers.armed();
            match armed.get(&job_id) {
                Some(a) if a.generation == generation => {
                    armed.remove(&job_id);
                }
                _ => return, // replaced or disarmed since
            }
        }
        let now = Utc::now();
        let zone = self.inner.settings.zone;
        let loaded = self
            .inner
            .db
            .write(move |tx| {
                let Some(job) = db::jobs::get(tx, job_id)? else {
                    return Ok::<_, DbError>(None);
                };
                let s = load_schedules(tx, &job)?;
                for (id, _) in s.basic.iter().chain(s.advanced.iter()) {
                    db::schedules::set_last_run(tx, *id, now.timestamp().max(at.timestamp()))?;
                }
                Ok(Some((job, s)))
            })
            .await;
        let (job, s) = match loaded {
            Ok(Some(v)) => v,
            Ok(None) => return,
            Err(e) => {
                // The slot is lost, not the schedule: record it as missed if the database
                // lets us, and re-arm for the next slot (the re-arm sweep retries if this fails).
                tracing::error!(job = %job_id, "timer fired but the job cannot be read: {e}");
                self.record_failed_fire(job_id, at, roles[0], &e.to_string())
                    .await;
                self.arm(job_id).await;
                return;
            }
        };
        if job.stopped {
            return;
        }
        // Asleep or suspended past further slots: record them as missed; this fire runs once.
        if (now - at).num_seconds() > LATE_SECS {
            let mut total = 0;
            for (_, d) in s.basic.iter().chain(s.advanced.iter()) {
                total += slots_between(d, at, now, &zone, 1).1;
            }
            if total > 0 {
                let row = missed_row(
                    &job,
                    "",
                    roles[0],
                    total,
                    at,
                    now,
                    &zone,
                    "the host was asleep or the daemon was blocked",
                );
                let (db, settings) = (self.inner.db.clone(), self.inner.settings.clone());
                let j = job.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    exec::record_missed(&db, &settings, &j, row)
                })
                .await;
            }
        }
        let trigger = if roles.contains(&Role::Basic) {
            Trigger::Basic
        } else {
            Trigger::Advanced
        };
        if let Err(e) = self.enqueue(job_id, trigger, Some(at)).await {
            tracing::error!(job = %job.name, "cannot queue the scheduled run: {e}");
        }
        self.arm_loaded(&job, &s, now.max(at)).await;
    }
}

impl Runner {
    /// Best effort: a `missed` history row for a slot whose fire failed.
    async fn record_failed_fire(&self, job_id: JobId, at: DateTime<Utc>, role: Role, why: &str) {
        let Ok(Some(job)) = self
            .inner
            .db
            .read(move |c| db::jobs::get(c, job_id).map_err(DbError::from))
            .await
        else {
            return;
        };
        let zone = self.inner.settings.zone;
        let row = missed_row(
            &job,
            "",
            role,
            1,
            at,
            Utc::now(),
            &zone,
            &format!("the state database failed at the slot: {why}"),
        );
        let (db, settings) = (self.inner.db.clone(), self.inner.settings.clone());
        let _ = tokio::task::spawn_blocking(move || exec::record_missed(&db, &settings, &job, row))
            .await;
    }
}

/// A history row for missed slots of `job`.
#[allow(clippy::too_many_arguments)]
pub(super) fn missed_row(
    job: &JobRow,
    repository_path: &str,
    role: Role,
    count: usize,
    newest: DateTime<Utc>,
    now: DateTime<Utc>,
    zone: &crate::clock::Zone,
    why: &str,
) -> RunRow {
    RunRow {
        job_id: job.id,
        job_name: job.name.clone(),
        partition: job.partition.clone(),
        mode: job.mode.clone(),
        repository_path: repository_path.to_string(),
        trigger: role.as_str().into(),
        state: RunState::Missed,
        due_at: Some(newest.timestamp()),
        queued_at: now.timestamp(),
        ended_at: Some(now.timestamp()),
        error: Some(format!(
            "{count} scheduled run(s) missed ({why}); newest slot {}",
            zone.format(newest)
        )),
        ..Default::default()
    }
}
