//! The SQLite state database: one writer connection behind a mutex (every write is a
//! `BEGIN IMMEDIATE` transaction), a pool of reader connections, and every call run on tokio's
//! blocking pool so no async thread ever waits on SQLite.

pub mod backup;
pub mod hosts;
pub mod ids;
pub mod inventory;
pub mod jobs;
pub mod migrations;
pub mod recoveries;
pub mod repositories;
pub mod runs;
pub mod schedules;
pub mod users;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{0}")]
    Schema(String),
    #[error("database task failed: {0}")]
    Task(String),
    #[error("the state database could not be copied before its migration: {0}")]
    Copy(#[from] backup::CopyError),
}

#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

/// Per-connection settings (ARCHITECTURE.md): WAL, foreign keys, a busy timeout for the rare
/// second process (the `admin` subcommand), NORMAL sync which is durable in WAL mode except for
/// the last commits before a power cut.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(())
}

pub fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure(&conn)?;
    Ok(conn)
}

impl Db {
    /// Opens (creating if needed) the database and applies pending migrations. Refuses a
    /// database whose schema is newer than this binary knows.
    pub fn open(path: &Path) -> Result<Db, DbError> {
        let mut writer = open_connection(path)?;
        migrations::apply(&mut writer)?;
        Ok(Self::with_writer(path, writer))
    }

    /// Opens the database like `open`, and keeps copies in `copies`: before migrations change
    /// an existing database, and at start when the newest copy is a day old.
    pub fn open_with_copies(path: &Path, copies: &Path) -> Result<Db, DbError> {
        let mut writer = open_connection(path)?;
        let version: i64 = writer.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > 0 && version < migrations::latest() {
            backup::snapshot(&writer, copies, "before-migration")?;
        }
        migrations::apply(&mut writer)?;
        if backup::due(copies) {
            if let Err(e) = backup::snapshot(&writer, copies, "daily") {
                tracing::warn!(error = %e, "could not copy the state database");
            }
        }
        Ok(Self::with_writer(path, writer))
    }

    /// A daily copy while running (called periodically; cheap when none is due).
    pub fn copy_if_due(&self, copies: &Path) {
        if !backup::due(copies) {
            return;
        }
        let conn = self.inner.writer.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = backup::snapshot(&conn, copies, "daily") {
            tracing::warn!(error = %e, "could not copy the state database");
        }
    }

    fn with_writer(path: &Path, writer: Connection) -> Db {
        Db {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                writer: Mutex::new(writer),
                readers: Mutex::new(Vec::new()),
            }),
        }
    }

    fn take_reader(&self) -> Result<Connection, DbError> {
        let pooled = self
            .inner
            .readers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop();
        match pooled {
            Some(c) => Ok(c),
            None => Ok(open_connection(&self.inner.path)?),
        }
    }

    fn give_back(&self, conn: Connection) {
        let mut pool = self.inner.readers.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < 16 {
            pool.push(conn);
        }
    }

    /// Runs `f` on a reader connection (blocking; for start-up and the CLI).
    pub fn read_blocking<T, E>(&self, f: impl FnOnce(&Connection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<DbError>,
    {
        let conn = self.take_reader()?;
        let r = f(&conn);
        self.give_back(conn);
        r
    }

    /// Runs `f` inside one `BEGIN IMMEDIATE` transaction on the writer: committed when `f`
    /// returns `Ok`, rolled back otherwise (blocking; for start-up and the CLI).
    pub fn write_blocking<T, E>(&self, f: impl FnOnce(&Transaction) -> Result<T, E>) -> Result<T, E>
    where
        E: From<DbError>,
    {
        let mut conn = self.inner.writer.lock().unwrap_or_else(|e| e.into_inner());
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(DbError::from)?;
        let value = f(&tx)?;
        tx.commit().map_err(DbError::from)?;
        Ok(value)
    }

    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || db.read_blocking(f))
            .await
            .map_err(|e| E::from(DbError::Task(e.to_string())))?
    }

    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Transaction) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || db.write_blocking(f))
            .await
            .map_err(|e| E::from(DbError::Task(e.to_string())))?
    }
}

pub fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}
