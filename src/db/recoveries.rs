//! Recovery jobs, their runs and the restore proofs of backup jobs (`sql/0007_recoveries.sql`).

use crate::domain::ids::{RecoveryId, RecoveryRunId, ScheduleId, UserId};
use crate::domain::recovery::RecoverySpec;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone)]
pub struct RecoveryRow {
    pub id: RecoveryId,
    pub name: String,
    pub user_id: Option<UserId>,
    pub schedule_id: Option<ScheduleId>,
    pub owns_schedule: bool,
    pub stopped: bool,
    pub spec: RecoverySpec,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLS: &str =
    "id, name, user_id, schedule_id, owns_schedule, stopped, spec, created_at, updated_at";

fn json_err(e: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
}

fn row(r: &Row) -> rusqlite::Result<RecoveryRow> {
    let spec: String = r.get(6)?;
    Ok(RecoveryRow {
        id: r.get(0)?,
        name: r.get(1)?,
        user_id: r.get(2)?,
        schedule_id: r.get(3)?,
        owns_schedule: r.get(4)?,
        stopped: r.get(5)?,
        spec: serde_json::from_str(&spec).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(6, rusqlite::types::Type::Text, Box::new(e))
        })?,
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
    })
}

pub fn insert(
    c: &Connection,
    name: &str,
    user_id: Option<UserId>,
    schedule: Option<(ScheduleId, bool)>,
    spec: &RecoverySpec,
) -> rusqlite::Result<RecoveryId> {
    let now = super::now_secs();
    c.execute(
        "INSERT INTO recoveries (name, user_id, schedule_id, owns_schedule, spec, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        params![
            name,
            user_id,
            schedule.map(|s| s.0),
            schedule.is_some_and(|s| s.1),
            serde_json::to_string(spec).map_err(json_err)?,
            now
        ],
    )?;
    Ok(RecoveryId(c.last_insert_rowid()))
}

pub fn get(c: &Connection, id: RecoveryId) -> rusqlite::Result<Option<RecoveryRow>> {
    c.prepare_cached(&format!("SELECT {COLS} FROM recoveries WHERE id = ?1"))?
        .query_row([id], row)
        .optional()
}

pub fn find(c: &Connection, name: &str) -> rusqlite::Result<Option<RecoveryRow>> {
    c.prepare_cached(&format!("SELECT {COLS} FROM recoveries WHERE name = ?1"))?
        .query_row([name], row)
        .optional()
}

pub fn list(c: &Connection) -> rusqlite::Result<Vec<RecoveryRow>> {
    let mut st = c.prepare_cached(&format!("SELECT {COLS} FROM recoveries ORDER BY id"))?;
    let rows = st.query_map([], row)?;
    rows.collect()
}

/// Stores changed fields of a job (name, schedule, stop flag, options).
pub fn update(c: &Connection, r: &RecoveryRow) -> rusqlite::Result<()> {
    c.execute(
        "UPDATE recoveries SET name = ?2, schedule_id = ?3, owns_schedule = ?4, stopped = ?5,
                spec = ?6, updated_at = ?7 WHERE id = ?1",
        params![
            r.id,
            r.name,
            r.schedule_id,
            r.owns_schedule,
            r.stopped,
            serde_json::to_string(&r.spec).map_err(json_err)?,
            super::now_secs()
        ],
    )?;
    Ok(())
}

pub fn set_stopped(c: &Connection, id: RecoveryId, stopped: bool) -> rusqlite::Result<()> {
    c.execute(
        "UPDATE recoveries SET stopped = ?2 WHERE id = ?1",
        params![id, stopped],
    )?;
    Ok(())
}

pub fn delete(c: &Connection, id: RecoveryId) -> rusqlite::Result<bool> {
    Ok(c.execute("DELETE FROM recoveries WHERE id = ?1", [id])? == 1)
}

/// What one partition of a run restored, and how it went.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartResult {
    pub source_partition: String,
    pub target_dir: String,
    pub backup_job: String,
    pub point: Option<String>,
    pub ok: bool,
    pub files: u64,
    pub bytes: u64,
    pub skipped: u64,
    pub deleted: u64,
    pub verified: Option<bool>,
    pub mismatches: u64,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct RecoveryRunRow {
    pub id: RecoveryRunId,
    pub recovery_id: Option<RecoveryId>,
    pub job_name: String,
    pub source: String,
    pub target: String,
    pub trigger: String,
    pub state: String,
    pub queued_at: i64,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub parts: Vec<PartResult>,
    pub files: i64,
    pub bytes: i64,
    pub skipped: i64,
    pub errors: i64,
    pub verify: Option<String>,
    pub mismatches: Option<i64>,
    pub description: String,
    pub log: String,
}

const RUN_COLS: &str = "id, recovery_id, job_name, source, target, trigger, state, queued_at, \
    started_at, ended_at, parts, files, bytes, skipped, errors, verify, mismatches, description, log";

fn run_row(r: &Row) -> rusqlite::Result<RecoveryRunRow> {
    let parts: String = r.get(10)?;
    Ok(RecoveryRunRow {
        id: r.get(0)?,
        recovery_id: r.get(1)?,
        job_name: r.get(2)?,
        source: r.get(3)?,
        target: r.get(4)?,
        trigger: r.get(5)?,
        state: r.get(6)?,
        queued_at: r.get(7)?,
        started_at: r.get(8)?,
        ended_at: r.get(9)?,
        parts: serde_json::from_str(&parts).unwrap_or_default(),
        files: r.get(11)?,
        bytes: r.get(12)?,
        skipped: r.get(13)?,
        errors: r.get(14)?,
        verify: r.get(15)?,
        mismatches: r.get(16)?,
        description: r.get(17)?,
        log: r.get(18)?,
    })
}

pub fn insert_run(c: &Connection, r: &RecoveryRunRow) -> rusqlite::Result<RecoveryRunId> {
    c.execute(
        "INSERT INTO recovery_runs (recovery_id, job_name, source, target, trigger, state, queued_at,
                                    ended_at, description)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            r.recovery_id,
            r.job_name,
            r.source,
            r.target,
            r.trigger,
            r.state,
            r.queued_at,
            r.ended_at,
            r.description
        ],
    )?;
    Ok(RecoveryRunId(c.last_insert_rowid()))
}

pub fn set_run_state(
    c: &Connection,
    id: RecoveryRunId,
    state: &str,
    at: Option<i64>,
) -> rusqlite::Result<()> {
    c.execute(
        "UPDATE recovery_runs SET state = ?2, started_at = coalesce(?3, started_at) WHERE id = ?1",
        params![id, state, at],
    )?;
    Ok(())
}

/// Writes a finished run and, for a verifying run, one proof row per backup job it restored.
pub fn finish_run(c: &Connection, r: &RecoveryRunRow, verify: bool) -> rusqlite::Result<()> {
    c.execute(
        "UPDATE recovery_runs SET state = ?2, started_at = ?3, ended_at = ?4, parts = ?5, files = ?6,
                bytes = ?7, skipped = ?8, errors = ?9, verify = ?10, mismatches = ?11,
                description = ?12, log = ?13
         WHERE id = ?1",
        params![
            r.id,
            r.state,
            r.started_at,
            r.ended_at,
            serde_json::to_string(&r.parts).map_err(json_err)?,
            r.files,
            r.bytes,
            r.skipped,
            r.errors,
            r.verify,
            r.mismatches,
            r.description,
            r.log
        ],
    )?;
    if verify && r.state != "canceled" {
        for p in &r.parts {
            c.execute(
                "INSERT INTO restore_tests (run_id, backup_job_id, backup_job, point_id, ok, at, recovery_job)
                 VALUES (?1, (SELECT id FROM jobs WHERE name = ?2), ?2, ?3, ?4, ?5, ?6)",
                params![
                    r.id,
                    p.backup_job,
                    p.point,
                    p.ok && p.verified == Some(true),
                    r.ended_at.unwrap_or_else(super::now_secs),
                    r.job_name
                ],
            )?;
        }
    }
    Ok(())
}

pub fn get_run(c: &Connection, id: RecoveryRunId) -> rusqlite::Result<Option<RecoveryRunRow>> {
    c.prepare_cached(&format!(
        "SELECT {RUN_COLS} FROM recovery_runs WHERE id = ?1"
    ))?
    .query_row([id], run_row)
    .optional()
}

pub fn runs(c: &Connection) -> rusqlite::Result<Vec<RecoveryRunRow>> {
    let mut st = c.prepare_cached(&format!("SELECT {RUN_COLS} FROM recovery_runs ORDER BY id"))?;
    let rows = st.query_map([], run_row)?;
    rows.collect()
}

/// The newest run of a recovery job.
pub fn last_run(
    c: &Connection,
    recovery_id: RecoveryId,
) -> rusqlite::Result<Option<RecoveryRunRow>> {
    c.prepare_cached(&format!(
        "SELECT {RUN_COLS} FROM recovery_runs WHERE recovery_id = ?1 ORDER BY id DESC LIMIT 1"
    ))?
    .query_row([recovery_id], run_row)
    .optional()
}

/// Runs a crash left queued or running: marked interrupted at start-up.
pub fn interrupt_unfinished(c: &Connection, now: i64) -> rusqlite::Result<usize> {
    c.execute(
        "UPDATE recovery_runs SET state = 'interrupted', ended_at = ?1,
                description = 'Interrupted: the daemon stopped while the restore ran'
         WHERE state IN ('queued', 'running', 'canceling')",
        [now],
    )
}

/// The newest restore proof of a backup job (`lastRestoreTest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreTest {
    pub ok: bool,
    pub at: i64,
    pub recovery_job: String,
    pub point: Option<String>,
}

/// The newest restore proof of every backup job (by name).
pub fn last_tests(
    c: &Connection,
) -> rusqlite::Result<std::collections::HashMap<String, RestoreTest>> {
    let mut st = c.prepare_cached(
        "SELECT backup_job, ok, at, recovery_job, point_id FROM restore_tests
         WHERE id IN (SELECT max(id) FROM restore_tests GROUP BY backup_job)",
    )?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            RestoreTest {
                ok: r.get(1)?,
                at: r.get(2)?,
                recovery_job: r.get(3)?,
                point: r.get(4)?,
            },
        ))
    })?;
    rows.collect()
}
