//! Run history: one row per run of a job and per slot that did not run (missed, skipped).
//! A run's row is written when it is queued and updated when it starts and ends, so a crash
//! leaves a row that start-up can mark interrupted.

use crate::domain::ids::{JobId, RunId};
use crate::domain::run::{RunKind, RunState};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{params, Connection, OptionalExtension, Row};

impl ToSql for RunState {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for RunState {
    fn column_result(v: ValueRef<'_>) -> FromSqlResult<Self> {
        let s = v.as_str()?;
        RunState::parse(s)
            .ok_or_else(|| FromSqlError::Other(format!("unknown run state '{s}'").into()))
    }
}

impl ToSql for RunKind {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for RunKind {
    fn column_result(v: ValueRef<'_>) -> FromSqlResult<Self> {
        let s = v.as_str()?;
        RunKind::parse(s)
            .ok_or_else(|| FromSqlError::Other(format!("unknown run kind '{s}'").into()))
    }
}

#[derive(Debug, Clone, Default)]
pub struct RunRow {
    pub id: RunId,
    pub job_id: JobId,
    pub job_name: String,
    pub partition: String,
    pub mode: String,
    pub repository_path: String,
    pub trigger: String,
    pub kind: Option<RunKind>,
    pub state: RunState,
    pub due_at: Option<i64>,
    pub queued_at: i64,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub bytes: Option<i64>,
    pub stored_bytes: Option<i64>,
    pub files: Option<i64>,
    pub point_id: Option<String>,
    pub warnings: Vec<String>,
    pub error: Option<String>,
    pub script: Option<String>,
    pub mail: Option<String>,
    pub log: String,
}

impl RunRow {
    /// Finished states that count as the job's last result.
    pub fn is_result(&self) -> bool {
        self.state.is_result()
    }
    pub fn succeeded(&self) -> bool {
        self.state.succeeded()
    }
}

const COLS: &str = "id, job_id, job_name, partition, mode, repository_path, trigger, kind, state, \
    due_at, queued_at, started_at, ended_at, bytes, stored_bytes, files, point_id, warnings, error, \
    script, mail, log";

fn row(r: &Row) -> rusqlite::Result<RunRow> {
    let warnings: String = r.get(17)?;
    Ok(RunRow {
        id: r.get(0)?,
        job_id: r.get(1)?,
        job_name: r.get(2)?,
        partition: r.get(3)?,
        mode: r.get(4)?,
        repository_path: r.get(5)?,
        trigger: r.get(6)?,
        kind: r.get(7)?,
        state: r.get(8)?,
        due_at: r.get(9)?,
        queued_at: r.get(10)?,
        started_at: r.get(11)?,
        ended_at: r.get(12)?,
        bytes: r.get(13)?,
        stored_bytes: r.get(14)?,
        files: r.get(15)?,
        point_id: r.get(16)?,
        warnings: serde_json::from_str(&warnings).unwrap_or_default(),
        error: r.get(18)?,
        script: r.get(19)?,
        mail: r.get(20)?,
        log: r.get(21)?,
    })
}

/// Inserts a new row (queued, missed or skipped) and returns its id.
pub fn insert(conn: &Connection, r: &RunRow) -> rusqlite::Result<RunId> {
    conn.prepare_cached(
        "INSERT INTO runs (job_id, job_name, partition, mode, repository_path, trigger, kind, state,
                           due_at, queued_at, ended_at, error, mail, log)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        r.job_id,
        r.job_name,
        r.partition,
        r.mode,
        r.repository_path,
        r.trigger,
        r.kind,
        r.state,
        r.due_at,
        r.queued_at,
        r.ended_at,
        r.error,
        r.mail,
        r.log,
    ])?;
    Ok(RunId(conn.last_insert_rowid()))
}

/// Records a run's restore point as soon as it is published, so a crash during the rotation
/// that follows still shows the point in history.
pub fn set_published(
    conn: &Connection,
    id: RunId,
    point: &str,
    kind: RunKind,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE runs SET point_id = ?2, kind = ?3 WHERE id = ?1",
        params![id, point, kind],
    )?;
    Ok(())
}

pub fn set_running(conn: &Connection, id: RunId, started_at: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE runs SET state = 'running', started_at = ?2 WHERE id = ?1",
        params![id, started_at],
    )?;
    Ok(())
}

/// Writes the outcome of a run.
pub fn finish(conn: &Connection, r: &RunRow) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE runs SET state = ?2, kind = ?3, started_at = coalesce(started_at, ?4), ended_at = ?5,
                bytes = ?6, stored_bytes = ?7, files = ?8, point_id = ?9, warnings = ?10, error = ?11,
                script = ?12, log = ?13
         WHERE id = ?1",
        params![
            r.id,
            r.state,
            r.kind,
            r.started_at,
            r.ended_at,
            r.bytes,
            r.stored_bytes,
            r.files,
            r.point_id,
            serde_json::to_string(&r.warnings).unwrap_or_else(|_| "[]".into()),
            r.error,
            r.script,
            r.log,
        ],
    )?;
    Ok(())
}

pub fn set_mail(conn: &Connection, id: RunId, outcome: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE runs SET mail = ?2 WHERE id = ?1",
        params![id, outcome],
    )?;
    Ok(())
}

/// Runs a previous process left queued or running: it died with them. Returns how many.
pub fn mark_interrupted(conn: &Connection, now: i64) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE runs SET state = 'interrupted', ended_at = ?1,
                error = CASE WHEN point_id IS NULL
                  THEN 'interrupted: the daemon stopped during this run; the next run removes its partial output'
                  ELSE 'interrupted after restore point ' || point_id || ' was published (during rotation); the point is complete and the next run finishes the rotation'
                END
         WHERE state IN ('queued', 'running', 'canceling')",
        [now],
    )
}

pub fn get(conn: &Connection, id: RunId) -> rusqlite::Result<Option<RunRow>> {
    conn.prepare_cached(&format!("SELECT {COLS} FROM runs WHERE id = ?1"))?
        .query_row([id], row)
        .optional()
}

/// History rows matching the filter, by id in `desc`ending or ascending order.
#[derive(Debug, Default)]
pub struct Filter {
    pub job_id: Option<i64>,
    pub job_name: Option<String>,
    pub partition: Option<String>,
    /// `Some(true)`: succeeded runs; `Some(false)`: failed runs, missed and skipped slots.
    pub success: Option<bool>,
    pub desc: bool,
}

pub fn list(conn: &Connection, f: &Filter) -> rusqlite::Result<Vec<RunRow>> {
    let order = if f.desc { "DESC" } else { "ASC" };
    let sql = format!(
        "SELECT {COLS} FROM runs
         WHERE (?1 IS NULL OR job_id = ?1) AND (?2 IS NULL OR job_name = ?2)
           AND (?3 IS NULL OR partition = ?3)
           AND (?4 IS NULL OR (?4 = 1 AND state IN ('complete', 'warning'))
                           OR (?4 = 0 AND state IN ('error', 'canceled', 'interrupted', 'missed', 'skipped')))
         ORDER BY id {order}"
    );
    let mut st = conn.prepare_cached(&sql)?;
    let rows = st.query_map(
        params![f.job_id, f.job_name, f.partition, f.success.map(i64::from)],
        row,
    )?;
    rows.collect()
}

/// The newest finished run of every job (the job's "last result").
pub fn last_results(conn: &Connection) -> rusqlite::Result<Vec<RunRow>> {
    let mut st = conn.prepare_cached(&format!(
        "SELECT {COLS} FROM runs WHERE id IN (
             SELECT max(id) FROM runs
             WHERE state IN ('complete', 'warning', 'error', 'canceled', 'interrupted')
             GROUP BY job_id)"
    ))?;
    let rows = st.query_map([], row)?;
    rows.collect()
}

pub fn last_result(conn: &Connection, job_id: JobId) -> rusqlite::Result<Option<RunRow>> {
    conn.prepare_cached(&format!(
        "SELECT {COLS} FROM runs WHERE job_id = ?1
           AND state IN ('complete', 'warning', 'error', 'canceled', 'interrupted')
         ORDER BY id DESC LIMIT 1"
    ))?
    .query_row([job_id], row)
    .optional()
}

pub fn delete_for_job(conn: &Connection, job_id: JobId) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM runs WHERE job_id = ?1", [job_id])
}

/// When each job last succeeded (complete or warning), by job.
pub fn last_success_times(
    conn: &Connection,
) -> rusqlite::Result<std::collections::HashMap<JobId, i64>> {
    conn.prepare_cached(
        "SELECT job_id, max(ended_at) FROM runs WHERE state IN ('complete', 'warning')
         GROUP BY job_id",
    )?
    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
    .collect()
}

/// How many runs each job has in each state.
pub fn state_counts(conn: &Connection) -> rusqlite::Result<Vec<(JobId, RunState, i64)>> {
    conn.prepare_cached("SELECT job_id, state, count(*) FROM runs GROUP BY job_id, state")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect()
}
