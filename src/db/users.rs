//! Users: the admin created at first start, and look-ups for `user` references (decision D14).

use super::now_secs;
use crate::domain::ids::UserId;
use crate::domain::job::Ref;
use rusqlite::{params, Connection, OptionalExtension};

pub struct UserAuth {
    pub id: UserId,
    pub email: String,
    pub password_hash: String,
    pub token_generation: i64,
}

pub fn count(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT count(*) FROM users", [], |r| r.get(0))
}

pub fn insert(conn: &Connection, email: &str, password_hash: &str) -> rusqlite::Result<UserId> {
    let now = now_secs();
    conn.execute(
        "INSERT INTO users (email, password_hash, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
        params![email, password_hash, now],
    )?;
    Ok(UserId(conn.last_insert_rowid()))
}

pub fn by_email(conn: &Connection, email: &str) -> rusqlite::Result<Option<UserAuth>> {
    conn.query_row(
        "SELECT id, email, password_hash, token_generation FROM users WHERE email = ?1",
        [email],
        |r| {
            Ok(UserAuth {
                id: r.get(0)?,
                email: r.get(1)?,
                password_hash: r.get(2)?,
                token_generation: r.get(3)?,
            })
        },
    )
    .optional()
}

pub fn exists(conn: &Connection, id: UserId) -> rusqlite::Result<bool> {
    conn.query_row("SELECT 1 FROM users WHERE id = ?1", [id], |_| Ok(()))
        .optional()
        .map(|o| o.is_some())
}

/// Resolves a user reference: digits are an ID, anything else an e-mail.
pub fn find_id(conn: &Connection, r: &Ref) -> rusqlite::Result<Option<UserId>> {
    match r {
        Ref::Id(id) => Ok(exists(conn, UserId(*id))?.then_some(UserId(*id))),
        Ref::Name(email) => Ok(by_email(conn, email)?.map(|u| u.id)),
    }
}

/// Returns false when no user has that e-mail. Bumps the token generation: every token issued
/// before stops working.
pub fn set_password(conn: &Connection, email: &str, password_hash: &str) -> rusqlite::Result<bool> {
    let n = conn.execute(
        "UPDATE users SET password_hash = ?2, updated_at = ?3, \
         token_generation = token_generation + 1 WHERE email = ?1",
        params![email, password_hash, now_secs()],
    )?;
    Ok(n == 1)
}

/// The token generation of a user; `None` when the user does not exist.
pub fn token_generation(conn: &Connection, id: UserId) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT token_generation FROM users WHERE id = ?1",
        [id],
        |r| r.get(0),
    )
    .optional()
}

/// A user as the API shows it (never the hash).
#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: UserId,
    pub email: String,
    pub created_at: i64,
    pub updated_at: i64,
}

fn user_row(r: &rusqlite::Row) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        id: r.get(0)?,
        email: r.get(1)?,
        created_at: r.get(2)?,
        updated_at: r.get(3)?,
    })
}

/// Every user, by ID.
pub fn list(conn: &Connection) -> rusqlite::Result<Vec<UserRow>> {
    conn.prepare("SELECT id, email, created_at, updated_at FROM users ORDER BY id")?
        .query_map([], user_row)?
        .collect()
}

pub fn get(conn: &Connection, id: UserId) -> rusqlite::Result<Option<UserRow>> {
    conn.query_row(
        "SELECT id, email, created_at, updated_at FROM users WHERE id = ?1",
        [id],
        user_row,
    )
    .optional()
}

/// Changes a user's e-mail (the login name); tokens name the user by ID and stay valid.
pub fn set_email(conn: &Connection, id: UserId, email: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE users SET email = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, email, now_secs()],
    )?;
    Ok(())
}
