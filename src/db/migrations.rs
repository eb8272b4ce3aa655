//! Schema migrations: the files of `sql/`, applied in order at start-up, before the listener
//! binds. `PRAGMA user_version` records how many were applied.

use super::DbError;
use rusqlite::{Connection, TransactionBehavior};

const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init", include_str!("../../sql/0001_init.sql")),
    ("0002_runs", include_str!("../../sql/0002_runs.sql")),
    ("0003_trust", include_str!("../../sql/0003_trust.sql")),
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
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)
            .map_err(|e| DbError::Schema(format!("migration {name} failed: {e}")))?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
        tracing::info!(migration = name, "applied database migration");
    }
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
}
