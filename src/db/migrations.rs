//! Schema migrations: the files of `sql/`, applied in order at start-up, before the listener
//! binds. `PRAGMA user_version` records how many were applied.

use super::DbError;
use rusqlite::{Connection, TransactionBehavior};

const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init", include_str!("../../sql/0001_init.sql")),
    ("0002_runs", include_str!("../../sql/0002_runs.sql")),
    ("0003_trust", include_str!("../../sql/0003_trust.sql")),
    ("0004_ids", include_str!("../../sql/0004_ids.sql")),
    (
        "0005_schedule_horizon",
        include_str!("../../sql/0005_schedule_horizon.sql"),
    ),
    (
        "0006_inventory",
        include_str!("../../sql/0006_inventory.sql"),
    ),
    (
        "0007_recoveries",
        include_str!("../../sql/0007_recoveries.sql"),
    ),
    ("0008_s3", include_str!("../../sql/0008_s3.sql")),
    (
        "0009_s3_object_lock",
        include_str!("../../sql/0009_s3_object_lock.sql"),
    ),
];

/// The schema version this binary writes.
pub fn latest() -> i64 {
    MIGRATIONS.len() as i64
}

pub fn apply(conn: &mut Connection) -> Result<(), DbError> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > latest() {
        return Err(DbError::Schema(format!(
            "the state database has schema version {current}, but this zdm-backupd knows only versions up to {}: \
             it was written by a newer release. Install that release (or newer) again; do not downgrade.",
            latest()
        )));
    }
    for (i, (name, sql)) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        // Rebuilding a table drops the old one, which foreign keys would refuse (or cascade);
        // the switch cannot change inside a transaction, and the check below replaces it.
        conn.pragma_update(None, "foreign_keys", "OFF")?;
        let applied = apply_one(conn, name, sql, i as i64 + 1);
        conn.pragma_update(None, "foreign_keys", "ON")?;
        applied?;
        tracing::info!(migration = name, "applied database migration");
    }
    Ok(())
}

fn apply_one(conn: &mut Connection, name: &str, sql: &str, version: i64) -> Result<(), DbError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(sql)
        .map_err(|e| DbError::Schema(format!("migration {name} failed: {e}")))?;
    let broken: i64 = tx.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
        r.get(0)
    })?;
    if broken > 0 {
        return Err(DbError::Schema(format!(
            "migration {name} would leave {broken} rows pointing at rows that do not exist"
        )));
    }
    tx.pragma_update(None, "user_version", version)?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_once_and_refuses_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let mut c = crate::db::open_connection(&path).unwrap();
        apply(&mut c).unwrap();
        apply(&mut c).unwrap();
        let v: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, latest());
        c.pragma_update(None, "user_version", latest() + 1).unwrap();
        let e = apply(&mut c).unwrap_err().to_string();
        assert!(e.contains("newer release"), "{e}");
    }

    #[test]
    fn ids_survive_the_rebuild_and_are_never_reused() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = crate::db::open_connection(&dir.path().join("s.db")).unwrap();
        // A database of the release before 0004, with rows and a gap.
        for (_, sql) in &MIGRATIONS[..3] {
            c.execute_batch(sql).unwrap();
        }
        c.pragma_update(None, "user_version", 3).unwrap();
        c.execute_batch(
            "INSERT INTO users (id, email, password_hash, created_at, updated_at) VALUES
                 (1, 'a@x', 'h', 0, 0), (7, 'b@x', 'h', 0, 0);
             INSERT INTO centers VALUES (1, 'c', 'h', 'i', 'm', 'o', 0, 0);
             INSERT INTO repositories (id, center_id, kind, path, created_at, updated_at)
                 VALUES (3, 1, 'nfs', 'h:/e', 0, 0);",
        )
        .unwrap();
        apply(&mut c).unwrap();
        let ids: Vec<i64> = c
            .prepare("SELECT id FROM users ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(ids, [1, 7]);
        // Deleting the newest row does not hand its ID to the next one.
        c.execute("DELETE FROM users WHERE id = 7", []).unwrap();
        c.execute(
            "INSERT INTO users (email, password_hash, created_at, updated_at) VALUES ('c@x', 'h', 0, 0)",
            [],
        )
        .unwrap();
        assert_eq!(c.last_insert_rowid(), 8);
        c.execute("DELETE FROM repositories WHERE id = 3", [])
            .unwrap();
        c.execute(
            "INSERT INTO repositories (center_id, kind, path, created_at, updated_at) VALUES (1, 'nfs', 'h:/f', 0, 0)",
            [],
        )
        .unwrap();
        assert_eq!(c.last_insert_rowid(), 4);
        let fk: bool = c
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert!(fk, "foreign keys are back on");
    }
}
