//! Schedule records: one row per schedule half, multi-value fields as spec §3.3 bitmaps.

use super::now_secs;
use crate::domain::ids::{ScheduleId, UserId};
use crate::domain::schedule::{Bits, Role, ScheduleData, ScheduleKind};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};

#[derive(Debug, Clone)]
pub struct ScheduleRow {
    pub id: ScheduleId,
    pub center_id: i64,
    /// `None` for a stored number no schedule type has.
    pub kind: Option<ScheduleKind>,
    pub state: i64,
    pub job_name: String,
    /// The newest slot that was handled (run, skipped or missed).
    pub last_run_at: Option<i64>,
    /// When the schedule last changed: slots before it are not caught up.
    pub handled_until: Option<i64>,
    /// `None` when the stored record cannot be decoded (rendered as `Unknown`/`-`).
    pub data: Option<ScheduleData>,
}

const COLS: &str = "id, center_id, kind, state, job_name, last_run_at, role, once_date, time, \
                    interval_minute, interval_hour, dayweek, week, date, months, handled_until";

fn decode(r: &Row) -> rusqlite::Result<Option<ScheduleData>> {
    let Some(kind) = ScheduleKind::from_code(r.get(2)?) else {
        return Ok(None);
    };
    let role: Option<String> = r.get(6)?;
    let once: Option<String> = r.get(7)?;
    let bits = |i: usize, len: u8| -> rusqlite::Result<Option<Option<Bits>>> {
        let s: Option<String> = r.get(i)?;
        Ok(match s {
            None => Some(None),
            Some(s) => Bits::decode(&s, len).map(Some),
        })
    };
    let (Some(weekdays), Some(weeks), Some(dates), Some(months)) =
        (bits(11, 7)?, bits(12, 5)?, bits(13, 31)?, bits(14, 12)?)
    else {
        return Ok(None);
    };
    let mut d = ScheduleData {
        kind,
        role: Role::Basic,
        time: r.get(8)?,
        once: once.and_then(|s| chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d").ok()),
        interval_minute: r.get(9)?,
        interval_hour: r.get(10)?,
        weekdays,
        weeks,
        dates,
        months,
    };
    // Legacy rows without a role: the spec's count rule (multi-value -> advanced).
    d.role = match role.as_deref().and_then(Role::parse) {
        Some(role) => role,
        None if d.is_multi() => Role::Advanced,
        None => Role::Basic,
    };
    Ok(Some(d))
}

fn row(r: &Row) -> rusqlite::Result<ScheduleRow> {
    Ok(ScheduleRow {
        id: r.get(0)?,
        center_id: r.get(1)?,
        kind: ScheduleKind::from_code(r.get(2)?),
        state: r.get(3)?,
        job_name: r.get(4)?,
        last_run_at: r.get(5)?,
        handled_until: r.get(15)?,
        data: decode(r)?,
    })
}

/// The data columns of a record, in the order `insert` and `overwrite` bind them.
fn data_values(d: &ScheduleData) -> Vec<rusqlite::types::Value> {
    use rusqlite::types::Value as V;
    let text = |s: Option<String>| s.map(V::Text).unwrap_or(V::Null);
    let int = |n: Option<u32>| n.map(|n| V::Integer(n.into())).unwrap_or(V::Null);
    vec![
        V::Integer(d.kind.into()),
        V::Text(d.role.as_str().into()),
        text(d.once.map(|o| o.format("%Y-%m-%d").to_string())),
        V::Text(d.time.clone()),
        int(d.interval_minute),
        int(d.interval_hour),
        text(d.weekdays.map(|b| b.encode())),
        text(d.weeks.map(|b| b.encode())),
        text(d.dates.map(|b| b.encode())),
        text(d.months.map(|b| b.encode())),
    ]
}

pub fn insert(
    conn: &Connection,
    d: &ScheduleData,
    user_id: Option<UserId>,
    job_name: &str,
) -> rusqlite::Result<ScheduleId> {
    let head = [
        rusqlite::types::Value::from(user_id.map(i64::from)),
        rusqlite::types::Value::Text(job_name.into()),
        rusqlite::types::Value::Integer(now_secs()),
    ];
    conn.prepare_cached(
        "INSERT INTO schedules (center_id, state, user_id, job_name, created_at, kind, role, once_date,
                                time, interval_minute, interval_hour, dayweek, week, date, months)
         VALUES (1, 1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params_from_iter(head.into_iter().chain(data_values(d))))?;
    Ok(ScheduleId(conn.last_insert_rowid()))
}

pub fn get(conn: &Connection, id: ScheduleId) -> rusqlite::Result<Option<ScheduleRow>> {
    conn.prepare_cached(&format!("SELECT {COLS} FROM schedules WHERE id = ?1"))?
        .query_row([id], row)
        .optional()
}

pub fn list(conn: &Connection) -> rusqlite::Result<Vec<ScheduleRow>> {
    let mut st = conn.prepare_cached(&format!("SELECT {COLS} FROM schedules ORDER BY id"))?;
    let rows = st.query_map([], row)?;
    rows.collect()
}

/// How many job slots (basic and advanced) reference schedule `id`.
pub fn backup_references(conn: &Connection, id: ScheduleId) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT (SELECT count(*) FROM jobs WHERE schedule_basic_id = ?1)
              + (SELECT count(*) FROM jobs WHERE schedule_advanced_id = ?1)",
        [id],
        |r| r.get(0),
    )
}

/// How many recovery jobs attach schedule `id`.
pub fn recovery_references(conn: &Connection, id: ScheduleId) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT count(*) FROM recoveries WHERE schedule_id = ?1",
        [id],
        |r| r.get(0),
    )
}

/// Deletes record `id` when no backup or recovery job refers to it any more.
pub fn delete_unused(conn: &Connection, id: ScheduleId) -> rusqlite::Result<()> {
    if backup_references(conn, id)? == 0 && recovery_references(conn, id)? == 0 {
        delete(conn, id)?;
    }
    Ok(())
}

pub fn delete(conn: &Connection, id: ScheduleId) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM schedules WHERE id = ?1", [id])? == 1)
}

/// The job a schedule record belongs to, as shown in its `jobName`.
pub fn set_job_name(conn: &Connection, id: ScheduleId, name: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE schedules SET job_name = ?2 WHERE id = ?1",
        params![id, name],
    )?;
    Ok(())
}

/// Remembers the newest slot of this schedule that was handled (run, skipped or missed).
pub fn set_last_run(conn: &Connection, id: ScheduleId, at: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE schedules SET last_run_at = max(coalesce(last_run_at, 0), ?2) WHERE id = ?1",
        params![id, at],
    )?;
    Ok(())
}

/// Copies the data of `d` into record `id` (spec §4.3: an update keeps the record's id).
/// Slots before now count as handled, so the change does not look like missed runs.
pub fn overwrite(conn: &Connection, id: ScheduleId, d: &ScheduleData) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE schedules SET kind = ?2, role = ?3, once_date = ?4, time = ?5, interval_minute = ?6,
                interval_hour = ?7, dayweek = ?8, week = ?9, date = ?10, months = ?11,
                handled_until = CAST(strftime('%s', 'now') AS INTEGER)
         WHERE id = ?1",
        params_from_iter(std::iter::once(rusqlite::types::Value::Integer(id.0)).chain(data_values(d))),
    )?;
    Ok(())
}
