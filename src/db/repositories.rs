//! Backup repositories (NFS/SMB shares or mounted directories).

use super::now_secs;
use crate::domain::ids::RepositoryId;
use crate::domain::job::RepoKind;
use rusqlite::{params, Connection, OptionalExtension, Row};

#[derive(Debug, Clone)]
pub struct RepoRow {
    pub id: RepositoryId,
    pub kind: RepoKind,
    pub path: String,
    pub local_path: Option<String>,
    pub ip: Option<String>,
    pub port: Option<i64>,
    pub remote_user: Option<String>,
    pub credentials_file: Option<String>,
    pub updated_at: i64,
    pub s3: Option<S3Settings>,
}

/// Where an S3 repository's bucket is served (its keys are in the credentials file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Settings {
    pub endpoint: String,
    pub region: String,
    pub path_style: bool,
    /// Object Lock retention of new points, in days.
    pub object_lock_days: Option<u32>,
}

#[derive(Debug, Clone, Default)]
pub struct NewRepo {
    pub kind: Option<RepoKind>,
    pub path: String,
    pub local_path: Option<String>,
    pub ip: Option<String>,
    pub port: Option<i64>,
    pub remote_user: Option<String>,
    pub credentials_file: Option<String>,
    pub s3: Option<S3Settings>,
}

const COLS: &str = "id, kind, path, local_path, ip, port, remote_user, credentials_file, \
                    updated_at, s3_endpoint, s3_region, s3_path_style, \
                    s3_object_lock_days";

fn row(r: &Row) -> rusqlite::Result<RepoRow> {
    let kind: String = r.get(1)?;
    Ok(RepoRow {
        id: r.get(0)?,
        kind: RepoKind::parse(&kind).unwrap_or(RepoKind::Nfs),
        path: r.get(2)?,
        local_path: r.get(3)?,
        ip: r.get(4)?,
        port: r.get(5)?,
        remote_user: r.get(6)?,
        credentials_file: r.get(7)?,
        updated_at: r.get(8)?,
        s3: match r.get::<_, Option<String>>(9)? {
            Some(endpoint) => Some(S3Settings {
                endpoint,
                region: r.get::<_, Option<String>>(10)?.unwrap_or_default(),
                path_style: r.get(11)?,
                object_lock_days: r.get(12)?,
            }),
            None => None,
        },
    })
}

pub fn list(conn: &Connection) -> rusqlite::Result<Vec<RepoRow>> {
    let mut st = conn.prepare_cached(&format!("SELECT {COLS} FROM repositories ORDER BY id"))?;
    let rows = st.query_map([], row)?;
    rows.collect()
}

pub fn get(conn: &Connection, id: RepositoryId) -> rusqlite::Result<Option<RepoRow>> {
    conn.prepare_cached(&format!("SELECT {COLS} FROM repositories WHERE id = ?1"))?
        .query_row([id], row)
        .optional()
}

pub fn by_path(
    conn: &Connection,
    kind: RepoKind,
    path: &str,
) -> rusqlite::Result<Option<RepositoryId>> {
    conn.prepare_cached("SELECT id FROM repositories WHERE kind = ?1 AND path = ?2")?
        .query_row(params![kind.as_str(), path], |r| r.get(0))
        .optional()
}

pub fn insert(conn: &Connection, kind: RepoKind, r: &NewRepo) -> rusqlite::Result<RepositoryId> {
    let now = now_secs();
    conn.prepare_cached(
        "INSERT INTO repositories (center_id, kind, path, local_path, ip, port, remote_user, credentials_file, created_at, updated_at,
                                   s3_endpoint, s3_region, s3_path_style, s3_object_lock_days)
         VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        kind.as_str(),
        r.path,
        r.local_path,
        r.ip,
        r.port,
        r.remote_user,
        r.credentials_file,
        now,
        r.s3.as_ref().map(|s| &s.endpoint),
        r.s3.as_ref().map(|s| &s.region),
        r.s3.as_ref().is_some_and(|s| s.path_style),
        r.s3.as_ref().and_then(|s| s.object_lock_days),
    ])?;
    Ok(RepositoryId(conn.last_insert_rowid()))
}

pub fn update(conn: &Connection, r: &RepoRow) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE repositories SET path = ?2, local_path = ?3, ip = ?4, port = ?5, remote_user = ?6,
                credentials_file = ?7, updated_at = ?8, s3_endpoint = ?9, s3_region = ?10,
                s3_path_style = ?11, s3_object_lock_days = ?12 WHERE id = ?1",
        params![
            r.id,
            r.path,
            r.local_path,
            r.ip,
            r.port,
            r.remote_user,
            r.credentials_file,
            now_secs(),
            r.s3.as_ref().map(|s| &s.endpoint),
            r.s3.as_ref().map(|s| &s.region),
            r.s3.as_ref().is_some_and(|s| s.path_style),
            r.s3.as_ref().and_then(|s| s.object_lock_days),
        ],
    )?;
    Ok(())
}

/// Names of the jobs that write into repository `id`.
pub fn jobs_using(conn: &Connection, id: RepositoryId) -> rusqlite::Result<Vec<String>> {
    let mut st =
        conn.prepare_cached("SELECT name FROM jobs WHERE repository_id = ?1 ORDER BY id")?;
    let rows = st.query_map([id], |r| r.get(0))?;
    rows.collect()
}

pub fn delete(conn: &Connection, id: RepositoryId) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM repositories WHERE id = ?1", [id])? == 1)
}
