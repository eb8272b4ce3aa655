//! ZDM centers (spec §5.2). This appliance is the one center.

use super::auth::Authed;
use super::envelope::{ok, zone, ApiError, ApiResult};
use super::query::{flag, paging, Query};
use super::views::hosts as v;
use crate::db;
use crate::domain::job::Ref;
use crate::host;
use crate::state::AppState;
use actix_web::web;

async fn center_item(state: &AppState, q: &Query) -> Result<v::Center, ApiError> {
    let row = state
        .db
        .read(|c| db::hosts::center(c).map_err(ApiError::from))
        .await?
        .ok_or_else(|| ApiError::internal("center 1 is not registered"))?;
    let install = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "-".into());
    let (partition, repository) = super::servers::listed_with(state, q).await?;
    Ok(v::Center {
        id: v::CenterIds {
            center: row.id.to_string(),
            install: row.install_id,
            machine: row.machine_id,
        },
        name: v::CenterNames {
            center: row.name,
            host: row.host_name,
        },
        os: v::OsVersion {
            version: row.os_version,
        },
        ip: v::IpAddresses {
            public: "-".into(),
            private: host::private_ips(),
        },
        status: v::CenterStatus {
            connect: "connect".into(),
            activate: "ok".into(),
        },
        path: v::CenterPaths {
            install,
            log_file: "journald (stderr)".into(),
        },
        last_updated: zone().format_secs(Some(row.updated_at)),
        partition,
        repository,
        zos_repository: flag(q, "zosRepository")?.then(Vec::new),
    })
}

/// Resolves a center path identifier; only this appliance exists.
pub fn check_center(state: &AppState, ident: &str) -> Result<(), ApiError> {
    let r = Ref::parse_ident(ident);
    if r.matches(1, &state.settings.center_name) {
        return Ok(());
    }
    Err(ApiError::not_found(match r {
        Ref::Id(_) => format!("Center with ID '{ident}' not found"),
        Ref::Name(_) => format!("Center '{ident}' not found"),
    }))
}

/// This appliance as center 1.
#[utoipa::path(
    get,
    path = "/api/zdms",
    tag = "centers",
    operation_id = "list_centers",
    params(
        crate::api::openapi::params::CenterListFilters,
        crate::api::openapi::params::CenterFlags,
        crate::api::openapi::params::Paging,
    ),
    responses(
        (status = 200, description = "Centers", body = crate::api::views::hosts::CenterListEnvelope),
    )
)]
pub async fn list(state: web::Data<AppState>, _auth: Authed, q: web::Query<Query>) -> ApiResult {
    let p = paging(&q)?;
    let mut matches = true;
    for (key, allowed, ours) in [
        ("connection", ["connect", "disconnect"], "connect"),
        ("activation", ["ok", "fail"], "ok"),
    ] {
        if let Some(v) = q.get(key).map(|s| s.to_ascii_lowercase()) {
            if !allowed.contains(&v.as_str()) {
                return Err(ApiError::field(
                    key,
                    format!("{key} must be one of {}, got '{v}'", allowed.join(", ")),
                ));
            }
            matches &= v == ours;
        }
    }
    let items = if matches {
        vec![center_item(&state, &q).await?]
    } else {
        vec![]
    };
    super::query::page_answer(items, &p, "ZDM information list")
}

/// This appliance cannot be deleted through its own API: the answer says so (instead of 405).
#[utoipa::path(
    delete,
    path = "/api/zdms/{identifier}",
    tag = "centers",
    operation_id = "delete_center",
    params(("identifier" = String, Path, description = "Center ID or name")),
    responses(
        (status = 404, description = "No such center", body = crate::api::envelope::ErrorEnvelope),
        (status = 409, description = "The center is this appliance", body = crate::api::envelope::ErrorEnvelope),
    )
)]
pub async fn delete(
    state: web::Data<AppState>,
    _auth: Authed,
    ident: web::Path<String>,
) -> ApiResult {
    check_center(&state, &ident)?;
    Err(ApiError::conflict(
        "ZDM center 1 is this appliance and cannot be deleted through the API; \
         delete its repositories and backup jobs instead, or remove the package to retire it",
    ))
}

/// This appliance.
#[utoipa::path(
    get,
    path = "/api/zdms/{identifier}",
    tag = "centers",
    operation_id = "get_center",
    params(
        ("identifier" = String, Path, description = "Center ID or name"),
        crate::api::openapi::params::CenterFlags,
    ),
    responses(
        (status = 200, description = "The center", body = crate::api::views::hosts::CenterEnvelope),
    )
)]
pub async fn get(
    state: web::Data<AppState>,
    _auth: Authed,
    ident: web::Path<String>,
    q: web::Query<Query>,
) -> ApiResult {
    check_center(&state, &ident)?;
    Ok(ok(
        "ZDM information retrieved",
        center_item(&state, &q).await?,
    ))
}
