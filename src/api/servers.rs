//! Servers and partitions (spec §5.1). This appliance protects one server: its own host.

use super::auth::Authed;
use super::envelope::{ok, success, zone, ApiError, ApiResult};
use super::query::{center_filter_matches, flag, paginate, paging, paging_with_default, Query};
use super::views::hosts as v;
use super::views::repositories::Repository;
use crate::db;
use crate::domain::job::Ref;
use crate::host::{self, Partition};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::web;

pub fn size(bytes: u64) -> v::Size {
    v::Size::of(bytes, 1)
}

pub fn partition_item(p: &Partition, system: Option<&str>) -> v::Partition {
    let s = p.space;
    let usage = if s.size == 0 {
        0.0
    } else {
        (s.used as f64 * 1000.0 / s.size as f64).round() / 10.0
    };
    v::Partition {
        letter: p.mount_point.clone(),
        device: p.device.clone(),
        file_system: p.fs_type.clone(),
        size: size(s.size),
        used: size(s.used),
        free: size(s.free),
        usage,
        last_updated: zone().format(chrono::Utc::now()),
        system: system.map(str::to_string),
    }
}

fn filter_partitions(parts: Vec<Partition>, q: &Query) -> Vec<Partition> {
    parts
        .into_iter()
        .filter(|p| q.get("partition").is_none_or(|x| &p.mount_point == x))
        .filter(|p| q.get("device").is_none_or(|x| &p.device == x))
        .filter(|p| {
            q.get("fileSystem")
                .is_none_or(|x| p.fs_type.eq_ignore_ascii_case(x))
        })
        .collect()
}

/// The partitions and repositories a server or center answer lists when `partition=true` or
/// `repository=true` asks for them.
pub async fn listed_with(
    state: &AppState,
    q: &Query,
) -> Result<(Option<Vec<v::Partition>>, Option<Vec<Repository>>), ApiError> {
    let partition = if flag(q, "partition")? {
        let parts = state.partitions().await;
        Some(parts.iter().map(|p| partition_item(p, None)).collect())
    } else {
        None
    };
    let repository = if flag(q, "repository")? {
        Some(super::repositories::items(state).await?)
    } else {
        None
    };
    Ok((partition, repository))
}

async fn server_item(state: &AppState, q: &Query) -> Result<v::Server, ApiError> {
    let row = state
        .db
        .read(|c| db::hosts::server(c).map_err(ApiError::from))
        .await?
        .ok_or_else(|| ApiError::internal("server 1 is not registered"))?;
    let detail = flag(q, "detail")?;
    let (partition, repository) = listed_with(state, q).await?;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    Ok(v::Server {
        id: row.id.to_string(),
        name: row.name,
        os: v::OsVersion {
            version: row.os_version,
        },
        ip: v::IpAddresses {
            public: "-".into(),
            private: host::private_ips(),
        },
        agent: v::Agent {
            mode: "Source".into(),
            version: detail.then(|| env!("CARGO_PKG_VERSION").into()),
        },
        license: v::License { id: "-".into() },
        status: v::Connect {
            connect: "connect".into(),
        },
        last_updated: zone().format_secs(Some(row.updated_at)),
        resources: detail.then(|| v::Resources {
            cpu_count: cpus.to_string(),
            kernel: row.kernel,
        }),
        partition,
        repository,
    })
}

fn server_matches(state: &AppState, ident: &str) -> bool {
    Ref::parse_ident(ident).matches(1, &state.settings.server_name)
}

fn check_filters(q: &Query) -> Result<bool, ApiError> {
    let enum_ok = |key: &str, allowed: &[&str], ours: &str| -> Result<bool, ApiError> {
        match q.get(key).map(|s| s.to_ascii_lowercase()) {
            None => Ok(true),
            Some(v) if allowed.contains(&v.as_str()) => Ok(v == ours),
            Some(v) => Err(ApiError::field(
                key,
                format!("{key} must be one of {}, got '{v}'", allowed.join(", ")),
            )),
        }
    };
    Ok(enum_ok("mode", &["source", "target"], "source")?
        & enum_ok("os", &["win", "lin", "cloud"], "lin")?
        & enum_ok("connection", &["connect", "disconnect"], "connect")?
        & enum_ok("license", &["assign", "unassign"], "unassign")?)
}

/// This host as server 1.
#[utoipa::path(
    get,
    path = "/api/servers",
    tag = "servers",
    operation_id = "list_servers",
    params(
        crate::api::openapi::params::ServerFilters,
        crate::api::openapi::params::ServerQuery,
        crate::api::openapi::params::Paging,
    ),
    responses(
        (status = 200, description = "Servers", body = crate::api::views::hosts::ServerListEnvelope),
    )
)]
pub async fn list(state: web::Data<AppState>, _auth: Authed, q: web::Query<Query>) -> ApiResult {
    let p = paging(&q)?;
    let matches = check_filters(&q)? && center_filter_matches(&q, 1, &state.settings.center_name);
    let items = if matches {
        vec![server_item(&state, &q).await?]
    } else {
        vec![]
    };
    super::query::page_answer(items, &p, "Server information list")
}

/// This host.
#[utoipa::path(
    get,
    path = "/api/servers/{identifier}",
    tag = "servers",
    operation_id = "get_server",
    params(
        ("identifier" = String, Path, description = "Server ID or name"),
        crate::api::openapi::params::ServerQuery,
    ),
    responses(
        (status = 200, description = "The server", body = crate::api::views::hosts::ServerEnvelope),
    )
)]
pub async fn get(
    state: web::Data<AppState>,
    _auth: Authed,
    ident: web::Path<String>,
    q: web::Query<Query>,
) -> ApiResult {
    if !server_matches(&state, &ident) {
        return Err(ApiError::not_found(format!("Server '{ident}' not found.")));
    }
    Ok(ok(
        "Server information retrieved",
        server_item(&state, &q).await?,
    ))
}

/// This host cannot be deleted through its own API: the answer says so (instead of 405).
#[utoipa::path(
    delete,
    path = "/api/servers/{identifier}",
    tag = "servers",
    operation_id = "delete_server",
    params(("identifier" = String, Path, description = "Server ID or name")),
    responses(
        (status = 404, description = "No such server", body = crate::api::envelope::ErrorEnvelope),
        (status = 409, description = "The server is this host", body = crate::api::envelope::ErrorEnvelope),
    )
)]
pub async fn delete(
    state: web::Data<AppState>,
    _auth: Authed,
    ident: web::Path<String>,
) -> ApiResult {
    if !server_matches(&state, &ident) {
        return Err(ApiError::not_found(format!("Server '{ident}' not found.")));
    }
    Err(ApiError::conflict(format!(
        "Server '{}' is the host this daemon runs on and cannot be deleted through the API; \
         delete its backup jobs with DELETE /api/backups/{{identifier}}, or remove the package to retire the host",
        state.settings.server_name
    )))
}

/// Partitions of every server.
#[utoipa::path(
    get,
    path = "/api/servers/partitions",
    tag = "servers",
    operation_id = "list_all_partitions",
    params(
        crate::api::openapi::params::PartitionFilters,
        crate::api::openapi::params::Paging,
    ),
    responses(
        (status = 200, description = "Partitions", body = crate::api::views::hosts::PartitionListEnvelope),
    )
)]
pub async fn all_partitions(
    state: web::Data<AppState>,
    _auth: Authed,
    q: web::Query<Query>,
) -> ApiResult {
    let p = paging_with_default(&q, false)?;
    let parts = if center_filter_matches(&q, 1, &state.settings.center_name) {
        filter_partitions(state.partitions().await, &q)
    } else {
        vec![]
    };
    let (page, pagination) = paginate(parts, &p);
    let name = state.settings.server_name.clone();
    let data: Vec<v::Partition> = page
        .iter()
        .map(|x| partition_item(x, Some(&name)))
        .collect();
    Ok(success(
        StatusCode::OK,
        "Partition information list",
        Some(data),
        pagination,
    ))
}

/// Partitions of a server that can be backed up.
#[utoipa::path(
    get,
    path = "/api/servers/{identifier}/partitions",
    tag = "servers",
    operation_id = "list_partitions",
    params(
        ("identifier" = String, Path, description = "Server ID or name"),
        crate::api::openapi::params::PartitionFilters,
        crate::api::openapi::params::Paging,
    ),
    responses(
        (status = 200, description = "Partitions", body = crate::api::views::hosts::PartitionListEnvelope),
    )
)]
pub async fn partitions(
    state: web::Data<AppState>,
    _auth: Authed,
    ident: web::Path<String>,
    q: web::Query<Query>,
) -> ApiResult {
    if !server_matches(&state, &ident) {
        return Err(ApiError::not_found(format!("Server '{ident}' not found.")));
    }
    let p = paging_with_default(&q, false)?;
    let parts = filter_partitions(state.partitions().await, &q);
    let (page, pagination) = paginate(parts, &p);
    let name = state.settings.server_name.clone();
    let data: Vec<v::Partition> = page
        .iter()
        .map(|x| partition_item(x, Some(&name)))
        .collect();
    Ok(success(
        StatusCode::OK,
        "Partition information retrieved",
        Some(data),
        pagination,
    ))
}
