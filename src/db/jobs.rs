//! Backup jobs: registration of a whole `POST /api/backups` request in one transaction
//! (decision D5), with the plan computed against the transaction's own view of the data.

use super::{repositories, schedules, users, Db, DbError};
use crate::domain::ids::{JobId, RepositoryId, ScheduleId, UserId};
use crate::domain::job::{Ref, RegistrationRequest, RepoKind};
use crate::domain::registration::{
    self, Catalog, Host, Outcome, PlannedJob, Rejection, RepoTarget, StoredRepo,
};
use crate::domain::schedule::ScheduleData;
use chrono::NaiveDateTime;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("registration rejected")]
    Rejected(Rejection),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<rusqlite::Error> for RegisterError {
    fn from(e: rusqlite::Error) -> Self {
        RegisterError::Db(e.into())
    }
}

/// Reads for the planner (registration and job updates). A database error here is kept and
/// reported instead of being mistaken for "not found".
pub struct TxCatalog<'a> {
    conn: &'a Connection,
    error: std::cell::RefCell<Option<rusqlite::Error>>,
}

impl<'a> TxCatalog<'a> {
    pub fn new(conn: &'a Connection) -> Self {
        TxCatalog {
            conn,
            error: Default::default(),
        }
    }

    /// The first database error a read met, if any.
    pub fn take_error(&self) -> Option<rusqlite::Error> {
        self.error.borrow_mut().take()
    }

    fn keep<T>(&self, r: rusqlite::Result<Option<T>>) -> Option<T> {
        r.unwrap_or_else(|e| {
            self.error.borrow_mut().get_or_insert(e);
            None
        })
    }
}

impl Catalog for TxCatalog<'_> {
    fn user_id(&self, r: &Ref) -> Option<UserId> {
        self.keep(users::find_id(self.conn, r))
    }
    fn repository(&self, id: RepositoryId) -> Option<StoredRepo> {
        self.keep(repositories::get(self.conn, id))
            .map(|r| StoredRepo {
                id: r.id,
                kind: r.kind,
                path: r.path,
            })
    }
    fn repository_by_path(&self, kind: RepoKind, path: &str) -> Option<RepositoryId> {
        self.keep(repositories::by_path(self.conn, kind, path))
    }
    fn schedule(&self, id: ScheduleId) -> Option<ScheduleData> {
        self.keep(schedules::get(self.conn, id))
            .and_then(|s| s.data)
    }
    fn job_name_taken(&self, name: &str) -> bool {
        let r = self
            .conn
            .prepare_cached("SELECT 1 FROM jobs WHERE name = ?1")
            .and_then(|mut st| st.exists([name]));
        self.keep(r.map(Some)).unwrap_or(false)
    }
    fn job_names_with_prefix(&self, prefix: &str) -> Vec<String> {
        // A range scan on the unique name index: names >= prefix and < prefix + U+10FFFF.
        let upper = format!("{prefix}\u{10FFFF}");
        let r = self
            .conn
            .prepare_cached("SELECT name FROM jobs WHERE name >= ?1 AND name < ?2")
            .and_then(|mut st| {
                st.query_map([prefix, upper.as_str()], |r| r.get(0))?
                    .collect()
            });
        self.keep(r.map(Some)).unwrap_or_default()
    }
}

/// Plans and stores a registration atomically: either every planned job with its schedules and
/// new repositories is committed, or nothing is. Blocking: call it from the blocking pool.
pub fn register_blocking(
    db: &Db,
    req: &RegistrationRequest,
    host: &Host,
    token_user: UserId,
    now: NaiveDateTime,
    is_local_dir: fn(&str) -> bool,
) -> Result<Vec<Outcome>, RegisterError> {
    db.write_blocking(|tx| {
        let catalog = TxCatalog::new(tx);
        let planned = registration::plan(req, host, token_user, &catalog, now);
        if let Some(e) = catalog.take_error() {
            return Err(RegisterError::from(e));
        }
        let outcomes = planned.map_err(RegisterError::Rejected)?;
        let mut new_repos: HashMap<(RepoKind, String), RepositoryId> = HashMap::new();
        for o in &outcomes {
            if let Outcome::Create(job) = o {
                insert_job(tx, job, &mut new_repos, is_local_dir)?;
            }
        }
        Ok(outcomes)
    })
}

fn insert_job(
    conn: &Connection,
    job: &PlannedJob,
    new_repos: &mut HashMap<(RepoKind, String), RepositoryId>,
    is_local_dir: fn(&str) -> bool,
) -> rusqlite::Result<()> {
    let repository_id = match &job.repository {
        RepoTarget::Existing(id) => *id,
        RepoTarget::New { kind, path } => match new_repos.get(&(*kind, path.clone())) {
            Some(id) => *id,
            None => {
                let r = repositories::NewRepo {
                    path: path.clone(),
                    local_path: is_local_dir(path).then(|| path.clone()),
                    ..Default::default()
                };
                let id = repositories::insert(conn, *kind, &r)?;
                new_repos.insert((*kind, path.clone()), id);
                id
            }
        },
    };
    let basic = job
        .basic
        .as_ref()
        .map(|d| schedules::insert(conn, d, Some(job.user_id), &job.name))
        .transpose()?;
    let advanced = job
        .advanced
        .as_ref()
        .map(|d| schedules::insert(conn, d, Some(job.user_id), &job.name))
        .transpose()?;
    let now = super::now_secs();
    let exclude = serde_json::to_string(&job.exclude_dir).unwrap_or_else(|_| "[]".into());
    conn.prepare_cached(
        "INSERT INTO jobs (name, center_id, server_id, user_id, partition, mode, repository_id,
            schedule_basic_id, schedule_advanced_id, rotation, compression, encryption, exclude_dir,
            mail_event, network_limit, auto_start, script_path, script_run, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?19)",
    )?
    .execute(params![
        job.name,
        job.center_id,
        job.server_id,
        job.user_id,
        job.partition,
        job.mode.as_str(),
        repository_id,
        basic,
        advanced,
        job.rotation,
        job.compression,
        job.encryption,
        exclude,
        job.mail_event,
        job.network_limit,
        job.auto_start,
        job.script.as_ref().map(|s| s.0.clone()),
        job.script.as_ref().map(|s| s.1.as_str()),
        now,
    ])?;
    Ok(())
}

/// A stored job as the read endpoints and the runner see it.
#[derive(Debug, Clone)]
pub struct JobRow {
    pub id: JobId,
    pub name: String,
    pub partition: String,
    pub mode: String,
    pub repository_id: RepositoryId,
    pub schedule_basic_id: Option<ScheduleId>,
    pub schedule_advanced_id: Option<ScheduleId>,
    pub rotation: i64,
    pub compression: bool,
    pub encryption: bool,
    pub exclude_dir: Vec<String>,
    pub mail_event: Option<String>,
    pub network_limit: i64,
    pub auto_start: bool,
    pub script_path: Option<String>,
    pub script_run: Option<String>,
    pub user_id: Option<UserId>,
    pub stopped: bool,
    pub created_at: i64,
    pub updated_at: i64,
    /// The id of the job directory (its `JOB.json`) this job owns in the repository; `None`
    /// until its first run.
    pub dir_id: Option<String>,
}

impl JobRow {
    pub fn has_schedule(&self) -> bool {
        self.schedule_basic_id.is_some() || self.schedule_advanced_id.is_some()
    }
}

const COLS: &str =
    "id, name, partition, mode, repository_id, schedule_basic_id, schedule_advanced_id,
    rotation, compression, encryption, exclude_dir, mail_event, network_limit, auto_start,
    script_path, script_run, user_id, stopped, created_at, updated_at, dir_id";

fn row(r: &rusqlite::Row) -> rusqlite::Result<JobRow> {
    let exclude: String = r.get(10)?;
    Ok(JobRow {
        id: r.get(0)?,
        name: r.get(1)?,
        partition: r.get(2)?,
        mode: r.get(3)?,
        repository_id: r.get(4)?,
        schedule_basic_id: r.get(5)?,
        schedule_advanced_id: r.get(6)?,
        rotation: r.get(7)?,
        compression: r.get(8)?,
        encryption: r.get(9)?,
        exclude_dir: serde_json::from_str(&exclude).unwrap_or_default(),
        mail_event: r.get(11)?,
        network_limit: r.get(12)?,
        auto_start: r.get(13)?,
        script_path: r.get(14)?,
        script_run: r.get(15)?,
        user_id: r.get(16)?,
        stopped: r.get(17)?,
        created_at: r.get(18)?,
        updated_at: r.get(19)?,
        dir_id: r.get(20)?,
    })
}

/// Records the job directory a run created (the first run, or one after the directory was
/// removed by hand).
pub fn set_dir_id(conn: &Connection, id: JobId, dir_id: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE jobs SET dir_id = ?2 WHERE id = ?1",
        rusqlite::params![id, dir_id],
    )?;
    Ok(())
}

pub fn list(conn: &Connection) -> rusqlite::Result<Vec<JobRow>> {
    let mut st = conn.prepare_cached(&format!("SELECT {COLS} FROM jobs ORDER BY id"))?;
    let rows = st.query_map([], row)?;
    rows.collect()
}

pub fn get(conn: &Connection, id: JobId) -> rusqlite::Result<Option<JobRow>> {
    conn.prepare_cached(&format!("SELECT {COLS} FROM jobs WHERE id = ?1"))?
        .query_row([id], row)
        .optional()
}

/// A job by ID (digits) or name (spec §1.4).
pub fn find(conn: &Connection, identifier: &str) -> rusqlite::Result<Option<JobRow>> {
    if let Ok(id) = identifier.parse::<i64>() {
        if let Some(j) = get(conn, JobId(id))? {
            return Ok(Some(j));
        }
    }
    conn.prepare_cached(&format!("SELECT {COLS} FROM jobs WHERE name = ?1"))?
        .query_row([identifier], row)
        .optional()
}

pub fn set_stopped(conn: &Connection, id: JobId, stopped: bool) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE jobs SET stopped = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, stopped, super::now_secs()],
    )?;
    Ok(())
}

/// Writes every changeable column of `j` back.
pub fn update(conn: &Connection, j: &JobRow) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE jobs SET name = ?2, mode = ?3, repository_id = ?4, schedule_basic_id = ?5,
            schedule_advanced_id = ?6, rotation = ?7, compression = ?8, encryption = ?9,
            exclude_dir = ?10, mail_event = ?11, network_limit = ?12, script_path = ?13,
            script_run = ?14, updated_at = ?15, auto_start = ?16
         WHERE id = ?1",
    )?
    .execute(params![
        j.id,
        j.name,
        j.mode,
        j.repository_id,
        j.schedule_basic_id,
        j.schedule_advanced_id,
        j.rotation,
        j.compression,
        j.encryption,
        serde_json::to_string(&j.exclude_dir).unwrap_or_else(|_| "[]".into()),
        j.mail_event,
        j.network_limit,
        j.script_path,
        j.script_run,
        super::now_secs(),
        j.auto_start,
    ])?;
    Ok(())
}

pub fn delete(conn: &Connection, id: JobId) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM jobs WHERE id = ?1", [id])? == 1)
}
