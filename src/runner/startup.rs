//! Start-up: runs a previous process left unfinished are marked interrupted, slots missed while
//! the daemon was down are recorded (and the newest one of each job run once, by policy), and
//! every schedule is armed.

use super::timers::{load_schedules, missed_row, JobSchedules};
use super::{exec, Runner, Trigger};
use crate::db::{self, jobs::JobRow, DbError};
use crate::domain::ids::{RepositoryId, ScheduleId};
use crate::domain::nextfire::slots_between;
use chrono::{DateTime, Utc};

impl Runner {
    pub async fn start(&self) -> anyhow::Result<()> {
        let now = Utc::now();
        let interrupted = self
            .inner
            .db
            .write(move |tx| db::runs::mark_interrupted(tx, now.timestamp()).map_err(DbError::from))
            .await?;
        if interrupted > 0 {
            tracing::warn!(
                runs = interrupted,
                "marked runs of the previous process as interrupted"
            );
        }
        self.start_timers().await?;
        self.start_recoveries().await?;
        let (jobs, handled) = self
            .inner
            .db
            .read(|c| {
                let repos: std::collections::HashMap<RepositoryId, String> =
                    db::repositories::list(c)?
                        .into_iter()
                        .map(|r| (r.id, r.path))
                        .collect();
                // The newest handled slot of every schedule record, read once.
                let last_runs: std::collections::HashMap<ScheduleId, i64> = db::schedules::list(c)?
                    .into_iter()
                    .filter_map(|s| s.last_run_at.max(s.handled_until).map(|t| (s.id, t)))
                    .collect();
                let mut out = Vec::new();
                for job in db::jobs::list(c)? {
                    if job.has_schedule() {
                        let s = load_schedules(c, &job)?;
                        let repo = repos.get(&job.repository_id).cloned().unwrap_or_default();
                        out.push((job, s, repo));
                    }
                }
                Ok::<_, DbError>((out, last_runs))
            })
            .await?;
        let mut catch_up = Vec::new();
        let mut last_runs = Vec::new();
        for (job, s, repo) in &jobs {
            if job.stopped {
                continue;
            }
            if let Some((newest, role, row)) = self.missed(job, s, repo, &handled, now) {
                let (db, settings, j) = (
                    self.inner.db.clone(),
                    self.inner.settings.clone(),
                    job.clone(),
                );
                tokio::task::spawn_blocking(move || exec::record_missed(&db, &settings, &j, row))
                    .await?;
                for (id, _) in s.basic.iter().chain(s.advanced.iter()) {
                    last_runs.push((*id, newest.timestamp()));
                }
                let window = chrono::Duration::hours(
                    self.inner.settings.runner.missed_runs_window_hours as i64,
                );
                if self.inner.settings.runner.missed_runs == "run-once" && now - newest <= window {
                    catch_up.push((job.id, role, newest));
                }
            }
        }
        self.inner
            .db
            .write(move |tx| {
                for (id, at) in &last_runs {
                    db::schedules::set_last_run(tx, *id, *at)?;
                }
                Ok::<_, DbError>(())
            })
            .await?;
        for (job, s, _) in &jobs {
            self.arm_loaded(job, s, now).await;
        }
        for (job_id, role, at) in catch_up {
            self.enqueue(job_id, Trigger::CatchUp(role), Some(at))
                .await?;
        }
        tracing::info!(jobs = jobs.len(), "schedules armed");
        Ok(())
    }

    /// Slots of `job` between the last one handled and `now`: the newest, its half, and the
    /// history row describing them.
    fn missed(
        &self,
        job: &JobRow,
        s: &JobSchedules,
        repo: &str,
        handled: &std::collections::HashMap<ScheduleId, i64>,
        now: DateTime<Utc>,
    ) -> Option<(
        DateTime<Utc>,
        crate::domain::schedule::Role,
        db::runs::RunRow,
    )> {
        let zone = self.inner.settings.zone;
        let mut total = 0;
        let mut newest: Option<(DateTime<Utc>, crate::domain::schedule::Role)> = None;
        for (id, d) in s.basic.iter().chain(s.advanced.iter()) {
            let since = handled
                .get(id)
                .copied()
                .unwrap_or(job.created_at)
                .max(job.created_at);
            let from = DateTime::<Utc>::from_timestamp(since, 0)?;
            let (kept, n) = slots_between(d, from, now, &zone, 1);
            total += n;
            if let Some(t) = kept.last() {
                // Both halves due at once: the basic (full) half wins, as when a timer fires.
                if newest.is_none_or(|(best, _)| *t > best) {
                    newest = Some((*t, d.role));
                }
            }
        }
        let (at, role) = newest?;
        let row = missed_row(
            job,
            repo,
            role,
            total,
            at,
            now,
            &zone,
            "the daemon was not running",
        );
        Some((at, role, row))
    }
}
