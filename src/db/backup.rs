//! Online copies of the state database (`VACUUM INTO`): one at start-up when the newest is a
//! day old, one before each migration, one a day while running; the newest few are kept. And the
//! integrity check that refuses a damaged database at start.

use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};

/// The copies' directory inside the state directory.
pub const DIR: &str = "db-copies";
/// How many copies are kept.
pub const KEEP: usize = 7;
/// A copy is made when the newest is older than this.
pub const EVERY: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Why the database was refused or could not be copied.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// The first problems `quick_check` reported.
    #[error("{}", .0.join("; "))]
    Damaged(Vec<String>),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("copy of the state database: {0}")]
    Copy(#[source] rusqlite::Error),
}

/// `PRAGMA quick_check` on a read-only connection: `Ok` only when SQLite answers "ok".
pub fn check(path: &Path) -> Result<(), CopyError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let rows: Vec<String> = conn.prepare("PRAGMA quick_check").and_then(|mut st| {
        st.query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<_, _>>()
    })?;
    if rows.len() == 1 && rows[0] == "ok" {
        Ok(())
    } else {
        Err(CopyError::Damaged(rows.into_iter().take(3).collect()))
    }
}

/// The copies, oldest first (names start with a UTC time stamp).
pub fn list(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("zdm-backupd-") && n.ends_with(".db"))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

pub fn newest(dir: &Path) -> Option<PathBuf> {
    list(dir).pop()
}

/// Whether the newest copy is older than `EVERY` (or there is none).
pub fn due(dir: &Path) -> bool {
    newest(dir)
        .and_then(|p| std::fs::metadata(p).ok())
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.elapsed().ok())
        .is_none_or(|age| age >= EVERY)
}

/// Writes a consistent copy of the open database into `dir` and prunes old copies.
pub fn snapshot(conn: &Connection, dir: &Path, reason: &str) -> Result<PathBuf, CopyError> {
    std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
        .create(dir)
        .map_err(|source| CopyError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    // Time first, so names sort by age; a random tail keeps two copies in one millisecond apart.
    let name = format!(
        "zdm-backupd-{}-{reason}-{:04x}.db",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
        rand::random::<u16>()
    );
    let path = dir.join(name);
    conn.execute("VACUUM INTO ?1", [path.to_string_lossy()])
        .map_err(CopyError::Copy)?;
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).map_err(
        |source| CopyError::Io {
            path: path.clone(),
            source,
        },
    )?;
    let copies = list(dir);
    for old in copies.iter().take(copies.len().saturating_sub(KEEP)) {
        let _ = std::fs::remove_file(old);
    }
    tracing::info!(copy = %path.display(), reason, "copied the state database");
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_consistent_private_and_pruned() {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("s.db");
        let c = Connection::open(&db).unwrap();
        c.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (42);")
            .unwrap();
        let copies = d.path().join(DIR);
        assert!(due(&copies));
        for _ in 0..(KEEP + 2) {
            snapshot(&c, &copies, "test").unwrap();
        }
        assert_eq!(list(&copies).len(), KEEP);
        assert!(!due(&copies));
        let newest = newest(&copies).unwrap();
        check(&newest).unwrap();
        let x: i64 = Connection::open(&newest)
            .unwrap()
            .query_row("SELECT x FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(x, 42);
        let mode = std::fs::metadata(&newest).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
    }

    #[test]
    fn damaged_and_foreign_files_fail_the_check() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("x.db");
        std::fs::write(&f, b"this is not a database at all, just text........").unwrap();
        assert!(check(&f).is_err());
    }
}
