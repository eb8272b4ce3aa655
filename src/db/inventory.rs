//! What each job has in its repository and how full each repository was, as last seen by a run
//! (`sql/0006_inventory.sql`): the read side answers from here instead of reaching a share.

use super::now_secs;
use crate::domain::ids::{JobId, RepositoryId};
use rusqlite::{params, Connection};
use std::collections::HashMap;

/// A job's restore points as of its last run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    pub points: u64,
    pub bytes: u64,
    pub newest: Option<String>,
    pub updated_at: i64,
}

/// A repository's size and free space as of its last preflight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordedSpace {
    pub size: u64,
    pub free: u64,
    pub checked_at: i64,
}

/// Records the job's points (ID, bytes occupied), oldest first.
pub fn set_points(
    conn: &Connection,
    job_id: JobId,
    points: &[(String, u64)],
) -> rusqlite::Result<()> {
    let bytes: u64 = points.iter().map(|p| p.1).sum();
    conn.execute(
        "INSERT INTO point_inventory (job_id, points, bytes, newest, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (job_id) DO UPDATE SET points = ?2, bytes = ?3, newest = ?4, updated_at = ?5",
        params![
            job_id,
            points.len() as i64,
            bytes as i64,
            points.last().map(|p| p.0.as_str()),
            now_secs()
        ],
    )?;
    Ok(())
}

pub fn set_space(
    conn: &Connection,
    repository_id: RepositoryId,
    size: u64,
    free: u64,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO repository_space (repository_id, size, free, checked_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (repository_id) DO UPDATE SET size = ?2, free = ?3, checked_at = ?4",
        params![repository_id, size as i64, free as i64, now_secs()],
    )?;
    Ok(())
}

pub fn all_points(conn: &Connection) -> rusqlite::Result<HashMap<JobId, Inventory>> {
    conn.prepare("SELECT job_id, points, bytes, newest, updated_at FROM point_inventory")?
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                Inventory {
                    points: r.get::<_, i64>(1)?.max(0) as u64,
                    bytes: r.get::<_, i64>(2)?.max(0) as u64,
                    newest: r.get(3)?,
                    updated_at: r.get(4)?,
                },
            ))
        })?
        .collect()
}

pub fn all_spaces(conn: &Connection) -> rusqlite::Result<HashMap<RepositoryId, RecordedSpace>> {
    conn.prepare("SELECT repository_id, size, free, checked_at FROM repository_space")?
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                RecordedSpace {
                    size: r.get::<_, i64>(1)?.max(0) as u64,
                    free: r.get::<_, i64>(2)?.max(0) as u64,
                    checked_at: r.get(3)?,
                },
            ))
        })?
        .collect()
}
