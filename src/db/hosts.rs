//! Center 1 (this appliance) and server 1 (its host), registered at every start so their names
//! and OS facts follow the configuration and the host.

use super::now_secs;
use rusqlite::{params, Connection, OptionalExtension};

pub struct HostFacts {
    pub center_name: String,
    pub server_name: String,
    pub host_name: String,
    pub os_version: String,
    pub kernel: String,
    pub machine_id: String,
}

#[derive(Debug, Clone)]
pub struct CenterRow {
    pub id: i64,
    pub name: String,
    pub host_name: String,
    pub install_id: String,
    pub machine_id: String,
    pub os_version: String,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct ServerRow {
    pub id: i64,
    pub name: String,
    pub os_version: String,
    pub kernel: String,
    pub updated_at: i64,
}

pub fn register_self(conn: &Connection, f: &HostFacts) -> rusqlite::Result<()> {
    let now = now_secs();
    let install_id = uuid::Uuid::new_v4().to_string();
    conn.execute(
        "INSERT INTO centers (id, name, host_name, install_id, machine_id, os_version, created_at, updated_at)
         VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?6)
         ON CONFLICT(id) DO UPDATE SET name = ?1, host_name = ?2, machine_id = ?4, os_version = ?5, updated_at = ?6",
        params![f.center_name, f.host_name, install_id, f.machine_id, f.os_version, now],
    )?;
    conn.execute(
        "INSERT INTO servers (id, center_id, name, os_version, kernel, created_at, updated_at)
         VALUES (1, 1, ?1, ?2, ?3, ?4, ?4)
         ON CONFLICT(id) DO UPDATE SET name = ?1, os_version = ?2, kernel = ?3, updated_at = ?4",
        params![f.server_name, f.os_version, f.kernel, now],
    )?;
    Ok(())
}

pub fn center(conn: &Connection) -> rusqlite::Result<Option<CenterRow>> {
    conn.query_row(
        "SELECT id, name, host_name, install_id, machine_id, os_version, updated_at FROM centers WHERE id = 1",
        [],
        |r| {
            Ok(CenterRow {
                id: r.get(0)?,
                name: r.get(1)?,
                host_name: r.get(2)?,
                install_id: r.get(3)?,
                machine_id: r.get(4)?,
                os_version: r.get(5)?,
                updated_at: r.get(6)?,
            })
        },
    )
    .optional()
}

pub fn server(conn: &Connection) -> rusqlite::Result<Option<ServerRow>> {
    conn.query_row(
        "SELECT id, name, os_version, kernel, updated_at FROM servers WHERE id = 1",
        [],
        |r| {
            Ok(ServerRow {
                id: r.get(0)?,
                name: r.get(1)?,
                os_version: r.get(2)?,
                kernel: r.get(3)?,
                updated_at: r.get(4)?,
            })
        },
    )
    .optional()
}
