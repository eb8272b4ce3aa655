//! Repositories (spec §5.3): where restore points are written.

use super::auth::Authed;
use super::centers::check_center;
use super::envelope::ErrorDetail;
use super::envelope::{object_body, ok, success, zone, ApiError, ApiResult};
use super::query::{center_filter_matches, numeric_id, paginate, paging, Query};
use super::views::jobs::{UpdateSummary, UpdatedField};
use super::views::repositories as v;
use crate::auth::write_secret;
use crate::db::inventory::RecordedSpace;
use crate::db::{
    self,
    repositories::{NewRepo, RepoRow, S3Settings},
};
use crate::domain::fields::{integer, string, type_of, FieldErrors};
use crate::domain::ids::RepositoryId;
use crate::domain::job::{normalize_repo_path, Ref, RepoKind};
use crate::engine::target::smb::SmbLogin;
use crate::host::format_size;
use crate::read_model;
use crate::repocheck;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::web;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// One repository as the API shows it; a share's space is what its last run measured
/// (`spaceCheckedAt`), a local directory's is measured now.
fn item(r: &RepoRow, recorded: Option<&RecordedSpace>, center_name: &str) -> v::Repository {
    let space = read_model::repo_space(r, recorded);
    let dash = || "-".to_string();
    // An S3 repository is reached at its endpoint's host and port.
    let endpoint = r.s3.as_ref().and_then(|s| {
        let e = crate::engine::s3::S3Endpoint::new(&s.endpoint, &s.region, s.path_style).ok()?;
        let addr = e.socket_addr();
        let (host, port) = addr.rsplit_once(':')?;
        Some((host.to_string(), port.to_string()))
    });
    v::Repository {
        id: r.id.to_string(),
        center: center_name.into(),
        kind: r.kind.as_str().to_ascii_uppercase(),
        size: space.map(|s| s.size),
        used: space.map(|s| s.used),
        free: space.map(|s| s.free),
        usage: space.map(|s| {
            if s.size == 0 {
                0.0
            } else {
                (s.used as f64 * 1000.0 / s.size as f64).round() / 10.0
            }
        }),
        free_formatted: space.map_or_else(dash, |s| format_size(s.free, 1)),
        space_checked_at: space.map_or_else(dash, |s| {
            zone().format_secs(s.recorded_at.or(Some(crate::db::now_secs())))
        }),
        remote_path: r.path.clone(),
        local_path: r.local_path.clone().unwrap_or_else(dash),
        remote_user: r.remote_user.clone().unwrap_or_else(dash),
        ip_address: match (&r.s3, &endpoint) {
            (Some(_), Some((host, _))) => vec![host.clone()],
            _ => {
                r.ip.as_deref()
                    .map(|s| s.split('|').map(String::from).collect())
                    .unwrap_or_default()
            }
        },
        port: match endpoint {
            Some((_, port)) => port,
            None => r.port.map(|p| p.to_string()).unwrap_or_default(),
        },
        last_updated: zone().format_secs(Some(r.updated_at)),
        object_lock_days: r.s3.as_ref().and_then(|s| s.object_lock_days),
    }
}

/// Every repository as list items (statvfs runs on the blocking pool).
pub async fn items(state: &AppState) -> Result<Vec<v::Repository>, ApiError> {
    let (rows, spaces) = state
        .db
        .read(|c| Ok::<_, ApiError>((db::repositories::list(c)?, db::inventory::all_spaces(c)?)))
        .await?;
    let name = state.settings.center_name.clone();
    let z = zone();
    let v = web::block(move || {
        super::envelope::CTX.sync_scope(
            super::envelope::RequestCtx {
                id: String::new(),
                zone: z,
            },
            || {
                rows.iter()
                    .map(|r| item(r, spaces.get(&r.id), &name))
                    .collect::<Vec<_>>()
            },
        )
    })
    .await
    .map_err(ApiError::internal)?;
    Ok(v)
}

async fn filtered(state: &AppState, q: &Query, message: &str) -> ApiResult {
    let p = paging(q)?;
    let kind = match q.get("type") {
        Some(t) => Some(RepoKind::parse(t).ok_or_else(|| {
            ApiError::field("type", format!("type must be nfs, smb or s3, got '{t}'"))
        })?),
        None => None,
    };
    if let Some(os) = q.get("os").map(|s| s.to_ascii_lowercase()) {
        if os != "win" && os != "lin" {
            return Err(ApiError::field(
                "os",
                format!("os must be win or lin, got '{os}'"),
            ));
        }
    }
    let center_ok = center_filter_matches(q, 1, &state.settings.center_name)
        && q.get("os").is_none_or(|o| o.eq_ignore_ascii_case("lin"));
    let all = if center_ok {
        items(state).await?
    } else {
        Vec::new()
    };
    let list: Vec<v::Repository> = all
        .into_iter()
        .filter(|r| kind.is_none_or(|k| r.kind == k.as_str().to_ascii_uppercase()))
        .filter(|r| {
            q.get("path")
                .is_none_or(|p| r.remote_path == *p || r.local_path == *p)
        })
        .collect();
    let (page, pagination) = paginate(list, &p);
    Ok(success(StatusCode::OK, message, Some(page), pagination))
}

/// Lists repositories.
#[utoipa::path(
    get,
    path = "/api/zdms/repositories",
    tag = "repositories",
    operation_id = "list_repositories",
    params(
        crate::api::openapi::params::RepositoryFilters,
        crate::api::openapi::params::Paging,
    ),
    responses(
        (status = 200, description = "Repositories", body = crate::api::views::repositories::RepositoryListEnvelope),
    )
)]
pub async fn list(state: web::Data<AppState>, _auth: Authed, q: web::Query<Query>) -> ApiResult {
    filtered(&state, &q, "Repository list retrieved").await
}

/// Repositories of a center.
#[utoipa::path(
    get,
    path = "/api/zdms/{identifier}/repositories",
    tag = "repositories",
    operation_id = "list_center_repositories",
    params(
        ("identifier" = String, Path, description = "Center ID or name"),
        crate::api::openapi::params::RepositoryFilters,
        crate::api::openapi::params::Paging,
    ),
    responses(
        (status = 200, description = "Repositories", body = crate::api::views::repositories::RepositoryListEnvelope),
    )
)]
pub async fn by_center(
    state: web::Data<AppState>,
    _auth: Authed,
    ident: web::Path<String>,
    q: web::Query<Query>,
) -> ApiResult {
    check_center(&state, &ident)?;
    filtered(&state, &q, "Repository information retrieved").await
}

/// Common fields of register and verify.
struct Spec {
    kind: RepoKind,
    path: String,
    local_path: Option<String>,
    ip: Option<String>,
    port: Option<i64>,
    account: Option<String>,
    password: Option<String>,
    domain: Option<String>,
    s3: Option<S3Settings>,
}

/// The body's center, checked after the fields: a well-formed reference to another center is
/// a 404 (as for `POST /api/backups`), not a field error.
fn check_body_center(obj: &Map<String, Value>, state: &AppState) -> Result<(), ApiError> {
    let mut ignored = FieldErrors::new();
    match obj
        .get("center")
        .and_then(|v| Ref::parse(v, "center", &mut ignored))
    {
        Some(c) if !c.matches(1, &state.settings.center_name) => {
            Err(ApiError::not_found(format!("Center '{c}' not found.")))
        }
        _ => Ok(()),
    }
}

fn parse_spec(obj: &Map<String, Value>, state: &AppState, errs: &mut FieldErrors) -> Option<Spec> {
    match obj.get("center") {
        Some(v) => {
            Ref::parse(v, "center", errs);
        }
        None => errs.add("center", "center is required"),
    }
    if let Some(u) = obj.get("user") {
        Ref::parse(u, "user", errs);
    }
    let kind = match obj.get("type") {
        Some(Value::String(s)) => RepoKind::parse(s).or_else(|| {
            errs.add(
                "type",
                format!("type must be one of nfs, smb, s3, got '{s}'"),
            );
            None
        }),
        Some(other) => {
            errs.add(
                "type",
                format!("type must be one of nfs, smb, s3, got {}", type_of(other)),
            );
            None
        }
        None => {
            errs.add("type", "type is required");
            None
        }
    };
    let raw_path = match (obj.get("path"), obj.get("remotePath")) {
        (Some(p), _) => string(p, "path", errs),
        (None, Some(p)) => string(p, "remotePath", errs),
        (None, None) => {
            errs.add("path", "path is required");
            None
        }
    };
    let opt = |key: &str, errs: &mut FieldErrors| obj.get(key).and_then(|v| string(v, key, errs));
    let local_path = opt("localPath", errs);
    if let Some(lp) = &local_path {
        if !Path::new(lp).is_absolute() {
            errs.add(
                "localPath",
                format!("localPath must be an absolute directory, got '{lp}'"),
            );
        }
    }
    let ip = opt("ip", errs);
    if let Some(ip) = &ip {
        if ip.parse::<std::net::IpAddr>().is_err() {
            errs.add(
                "ip",
                format!("ip must be an IPv4 or IPv6 address, got '{ip}'"),
            );
        }
    }
    let port = obj
        .get("port")
        .and_then(|v| integer(v, "port", 1, 65535, errs));
    let account = opt("account", errs);
    let password = obj.get("password").and_then(|v| match v {
        Value::String(s) => Some(s.clone()),
        _ => {
            errs.add("password", "password must be a string");
            None
        }
    });
    let domain = opt("domain", errs);
    let s3 = s3_settings(obj, kind, errs);
    if kind == Some(RepoKind::S3) {
        match (&account, &password) {
            (Some(a), Some(p)) => {
                if let Err(m) = crate::engine::s3::S3Keys::new(a, p) {
                    errs.add("password", m);
                }
            }
            _ => errs.add(
                "account",
                "an S3 repository needs account (the access key) and password (the secret key)",
            ),
        }
    }
    if password.is_some() && account.is_none() {
        errs.add("account", "account is required when password is given");
    }
    if account.is_some() && kind == Some(RepoKind::Nfs) {
        errs.add(
            "account",
            "NFS repositories use AUTH_SYS and take no account/password",
        );
    }
    if let (Some(k), Some(p)) = (kind, &raw_path) {
        if account.is_none() && crate::domain::job::needs_login(k, p) {
            errs.add("account", crate::domain::job::SMB_LOGIN_MSG);
        }
    }
    let path = match (kind, raw_path) {
        (Some(k), Some(p)) => {
            match normalize_repo_path(k, &p, &super::backups::FsProbe::new(&state.settings)) {
                Ok(p) => Some(p),
                Err(m) => {
                    errs.add(
                        if obj.contains_key("path") {
                            "path"
                        } else {
                            "remotePath"
                        },
                        m,
                    );
                    None
                }
            }
        }
        _ => None,
    };
    Some(Spec {
        kind: kind?,
        path: path?,
        local_path,
        ip,
        port,
        account,
        password,
        domain,
        s3,
    })
}

/// `objectLockDays`: `Some(None)` when absent or 0 (no retention), `None` when invalid.
fn object_lock_days(obj: &Map<String, Value>, errs: &mut FieldErrors) -> Option<Option<u32>> {
    match obj.get("objectLockDays") {
        None => Some(None),
        Some(v) => {
            let days = integer(v, "objectLockDays", 0, 36500, errs)?;
            Some((days > 0).then_some(days as u32))
        }
    }
}

/// The S3 fields (`endpoint`, `region`, `pathStyle`, `objectLockDays`): required and checked
/// for `s3`, refused for the others; and the share fields an S3 repository has no use for are
/// refused.
fn s3_settings(
    obj: &Map<String, Value>,
    kind: Option<RepoKind>,
    errs: &mut FieldErrors,
) -> Option<S3Settings> {
    if kind != Some(RepoKind::S3) {
        for f in ["endpoint", "region", "pathStyle", "objectLockDays"] {
            if obj.contains_key(f) {
                errs.add(f, format!("{f} applies to s3 repositories only"));
            }
        }
        return None;
    }
    for f in ["localPath", "ip", "port", "domain"] {
        if obj.contains_key(f) {
            errs.add(
                f,
                format!(
                    "{f} does not apply to s3 repositories (endpoint says where the bucket is)"
                ),
            );
        }
    }
    let region = match obj.get("region") {
        Some(v) => string(v, "region", errs)?,
        None => "us-east-1".to_string(),
    };
    if region.is_empty()
        || !region
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        errs.add(
            "region",
            format!("region must be a region name such as us-east-1, got {region:?}"),
        );
        return None;
    }
    let path_style = match obj.get("pathStyle") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            errs.add(
                "pathStyle",
                format!("pathStyle must be true or false, got {}", type_of(other)),
            );
            return None;
        }
    };
    let object_lock_days = object_lock_days(obj, errs)?;
    let Some(endpoint) = obj.get("endpoint") else {
        errs.add("endpoint", "endpoint is required for an s3 repository");
        return None;
    };
    let endpoint = string(endpoint, "endpoint", errs)?;
    match crate::engine::s3::S3Endpoint::new(&endpoint, &region, path_style) {
        Ok(e) => Some(S3Settings {
            endpoint: e.url,
            region: e.region,
            path_style,
            object_lock_days,
        }),
        Err(m) => {
            errs.add("endpoint", m);
            None
        }
    }
}

/// Whether a just-registered repository can be reached: registering one that is not reachable
/// yet is allowed (the share may come later), but the answer says so. Connecting is bounded by
/// a few seconds; the full check is `POST .../repositories/verify`.
pub async fn reachability_warnings(state: &AppState, id: RepositoryId) -> Vec<String> {
    let Ok(Some(row)) = state
        .db
        .read(move |c| db::repositories::get(c, id).map_err(ApiError::from))
        .await
    else {
        return Vec::new();
    };
    let mut runner = state.settings.runner.clone();
    runner.share_timeout_seconds = runner.share_timeout_seconds.min(5);
    // The full check for an object store: a bucket without Object Lock shows here, not at the
    // first run.
    let outcome = web::block(move || repocheck::open(&row, &runner).map(|t| t.describe())).await;
    match outcome {
        Ok(Ok(_)) => Vec::new(),
        Ok(Err(f)) => vec![format!(
            "The repository cannot be reached yet (step '{}': {}); runs fail until it can. \
             POST /api/zdms/repositories/verify checks it.",
            f.step, f.reason
        )],
        Err(e) => vec![format!("The repository could not be checked: {e}")],
    }
}

/// Credentials live in a 0600 file in the state directory, never in the database: for SMB in
/// the `username=`/`password=`/`domain=` format that mount.cifs and smbclient read, for S3 as
/// `access_key=`/`secret_key=` lines (what `--credentials` takes).
fn write_credentials(
    state_dir: &Path,
    kind: RepoKind,
    account: &str,
    password: Option<&str>,
    domain: Option<&str>,
) -> std::io::Result<PathBuf> {
    let dir = state_dir.join("credentials");
    std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
        .create(&dir)?;
    let path = dir.join(format!("repo-{}.cred", uuid::Uuid::new_v4()));
    let password = password.unwrap_or("");
    let mut text = match kind {
        RepoKind::S3 => format!("access_key={account}\nsecret_key={password}\n"),
        _ => format!("username={account}\npassword={password}\n"),
    };
    if let Some(d) = domain {
        text.push_str(&format!("domain={d}\n"));
    }
    write_secret(&path, &text)?;
    Ok(path)
}

pub const REGISTER_FIELDS: &[&str] = &[
    "center",
    "type",
    "path",
    "remotePath",
    "localPath",
    "ip",
    "port",
    "account",
    "password",
    "domain",
    "endpoint",
    "region",
    "pathStyle",
    "objectLockDays",
    "user",
];

/// Registers a repository.
#[utoipa::path(
    post,
    path = "/api/zdms/repositories",
    tag = "repositories",
    operation_id = "create_repository",
    request_body = crate::api::openapi::requests::RepositoryCreate,
    responses(
        (status = 201, description = "Registered", body = crate::api::views::repositories::RepositoryCreatedEnvelope),
        (status = 409, description = "Already registered", body = crate::api::envelope::ErrorEnvelope),
    )
)]
pub async fn create(
    state: web::Data<AppState>,
    _auth: Authed,
    body: web::Json<Value>,
) -> ApiResult {
    let mut errs = FieldErrors::new();
    let obj = object_body(body.into_inner(), REGISTER_FIELDS, &mut errs)?;
    let spec = parse_spec(&obj, &state, &mut errs);
    if !errs.is_empty() {
        return Err(ApiError::validation(errs));
    }
    check_body_center(&obj, &state)?;
    let spec = spec.expect("no errors");
    let cred = match &spec.account {
        Some(a) => Some(
            write_credentials(
                &state.settings.state_dir,
                spec.kind,
                a,
                spec.password.as_deref(),
                spec.domain.as_deref(),
            )
            .map_err(ApiError::internal)?,
        ),
        None => None,
    };
    let local = spec
        .local_path
        .clone()
        .or_else(|| Path::new(&spec.path).is_dir().then(|| spec.path.clone()));
    let new = NewRepo {
        kind: Some(spec.kind),
        path: spec.path.clone(),
        local_path: local,
        ip: spec.ip.clone(),
        port: spec.port,
        remote_user: spec.account.clone(),
        credentials_file: cred.as_ref().map(|p| p.display().to_string()),
        s3: spec.s3.clone(),
    };
    let kind = spec.kind;
    let result = state
        .db
        .write(move |tx| {
            if let Some(id) = db::repositories::by_path(tx, kind, &new.path)? {
                return Err(ApiError::conflict(format!(
                    "Repository {} '{}' is already registered (ID {id})",
                    kind.as_str(),
                    new.path
                )));
            }
            Ok(db::repositories::insert(tx, kind, &new)?)
        })
        .await;
    let id = match result {
        Ok(id) => id,
        Err(e) => {
            if let Some(c) = cred {
                let _ = std::fs::remove_file(c);
            }
            return Err(e);
        }
    };
    tracing::info!(repository = %id, kind = kind.as_str(), path = %spec.path, "repository registered");
    let warnings = reachability_warnings(&state, id).await;
    Ok(success(
        StatusCode::CREATED,
        "Repository Registration Results",
        Some(v::RepositoryCreated {
            id,
            kind: kind.as_str().to_ascii_uppercase(),
            path: spec.path,
            warnings,
        }),
        None,
    ))
}

pub const UPDATE_FIELDS: &[&str] = &[
    "center",
    "path",
    "remotePath",
    "localPath",
    "remoteUser",
    "remotePwd",
    "ip",
    "port",
    "objectLockDays",
];

/// Changes a repository.
#[utoipa::path(
    put,
    path = "/api/zdms/repositories/{id}",
    tag = "repositories",
    operation_id = "update_repository",
    request_body = crate::api::openapi::requests::RepositoryUpdate,
    params(
        ("id" = String, Path, description = "Repository ID"),
    ),
    responses(
        (status = 200, description = "Updated", body = crate::api::views::repositories::RepositoryUpdatedEnvelope),
        (status = 403, description = "The item belongs to another center", body = crate::api::envelope::ErrorEnvelope),
        (status = 409, description = "Duplicate address or path", body = crate::api::envelope::ErrorEnvelope),
    )
)]
pub async fn update(
    state: web::Data<AppState>,
    _auth: Authed,
    id: web::Path<String>,
    body: web::Json<Value>,
) -> ApiResult {
    let id = RepositoryId(numeric_id(&id, "repository identifier")?);
    let mut errs = FieldErrors::new();
    let obj = object_body(body.into_inner(), UPDATE_FIELDS, &mut errs)?;
    if let Some(c) = obj
        .get("center")
        .and_then(|v| Ref::parse(v, "center", &mut errs))
    {
        if !c.matches(1, &state.settings.center_name) {
            return Err(ApiError::not_found(format!("Center '{c}' not found")));
        }
    }
    if !errs.is_empty() {
        return Err(ApiError::validation(errs));
    }
    if !obj.keys().any(|k| k != "center") {
        return Err(ApiError::bad_request("No fields provided for update"));
    }
    let state_dir = state.settings.state_dir.clone();
    let probe = super::backups::FsProbe::new(&state.settings);
    let (row_id, changes) = state
        .db
        .write(move |tx| {
            let mut row = db::repositories::get(tx, id)?.ok_or_else(|| {
                ApiError::not_found(format!("Repository with ID '{id}' not found"))
            })?;
            let mut errs = FieldErrors::new();
            let mut changes: Vec<UpdatedField> = Vec::new();
            let mut change = |field: &'static str, previous: Value, new: Value| {
                // A password change is always reported, masked on both sides.
                if previous != new || field == "remotePwd" {
                    changes.push(UpdatedField {
                        field,
                        previous,
                        new,
                    });
                }
            };
            if let Some(p) = obj.get("path").or_else(|| obj.get("remotePath")) {
                if let Some(p) = string(p, "path", &mut errs) {
                    match normalize_repo_path(row.kind, &p, &probe) {
                        Ok(p) => {
                            if let Some(other) =
                                db::repositories::by_path(tx, row.kind, &p)?.filter(|o| *o != id)
                            {
                                return Err(ApiError::conflict(format!(
                                    "Repository {} '{p}' is already registered (ID {other})",
                                    row.kind.as_str()
                                )));
                            }
                            change("remotePath", json!(row.path), json!(p));
                            row.path = p;
                        }
                        Err(m) => errs.add("path", m),
                    }
                }
            }
            if row.kind == RepoKind::S3 {
                for f in ["localPath", "ip", "port"] {
                    if obj.contains_key(f) {
                        errs.add(f, format!("{f} does not apply to s3 repositories"));
                    }
                }
            }
            // Retention applies to the points written from now on; those kept stay locked.
            match row.s3.as_mut() {
                Some(s3) if obj.contains_key("objectLockDays") => {
                    if let Some(days) = object_lock_days(&obj, &mut errs) {
                        change(
                            "objectLockDays",
                            json!(s3.object_lock_days.unwrap_or(0)),
                            json!(days.unwrap_or(0)),
                        );
                        s3.object_lock_days = days;
                    }
                }
                None if obj.contains_key("objectLockDays") => errs.add(
                    "objectLockDays",
                    "objectLockDays applies to s3 repositories only",
                ),
                _ => {}
            }
            if let Some(v) = obj.get("localPath") {
                if let Some(lp) = string(v, "localPath", &mut errs) {
                    change("localPath", json!(row.local_path), json!(lp));
                    row.local_path = Some(lp);
                }
            }
            if let Some(v) = obj.get("ip") {
                if let Some(ip) = string(v, "ip", &mut errs) {
                    if ip.parse::<std::net::IpAddr>().is_err() {
                        errs.add(
                            "ip",
                            format!("ip must be an IPv4 or IPv6 address, got '{ip}'"),
                        );
                    } else {
                        let mut list: Vec<String> = row
                            .ip
                            .as_deref()
                            .map(|s| s.split('|').map(String::from).collect())
                            .unwrap_or_default();
                        if list.contains(&ip) {
                            errs.add(
                                "ip",
                                format!("ip '{ip}' is already registered for this repository"),
                            );
                        } else {
                            list.push(ip);
                            let joined = list.join("|");
                            change("ipAddress", json!(row.ip), json!(joined));
                            row.ip = Some(joined);
                        }
                    }
                }
            }
            if let Some(v) = obj.get("port") {
                if let Some(p) = integer(v, "port", 1, 65535, &mut errs) {
                    change("port", json!(row.port), json!(p));
                    row.port = Some(p);
                }
            }
            let user = obj
                .get("remoteUser")
                .and_then(|v| string(v, "remoteUser", &mut errs));
            let pwd = obj.get("remotePwd").map(|v| v.as_str().map(String::from));
            if let Some(None) = pwd {
                errs.add("remotePwd", "remotePwd must be a string");
            }
            if !errs.is_empty() {
                return Err(ApiError::validation(errs));
            }
            if user.is_some() || pwd.is_some() {
                if row.kind == RepoKind::Nfs {
                    return Err(ApiError::field(
                        "remoteUser",
                        "NFS repositories use AUTH_SYS and take no account/password",
                    ));
                }
                let account = user.clone().or(row.remote_user.clone()).ok_or_else(|| {
                    ApiError::field("remoteUser", "remoteUser is required to set a password")
                })?;
                if row.kind == RepoKind::S3 && pwd.is_none() {
                    return Err(ApiError::field(
                        "remotePwd",
                        "remotePwd (the secret key) is required to change an S3 access key",
                    ));
                }
                let pwd = pwd.flatten();
                if row.kind == RepoKind::S3 {
                    crate::engine::s3::S3Keys::new(&account, pwd.as_deref().unwrap_or(""))
                        .map_err(|m| ApiError::field("remotePwd", m))?;
                }
                let path = write_credentials(&state_dir, row.kind, &account, pwd.as_deref(), None)
                    .map_err(ApiError::internal)?;
                if let Some(old) = row.credentials_file.replace(path.display().to_string()) {
                    let _ = std::fs::remove_file(old);
                }
                if user.is_some() {
                    change("remoteUser", json!(row.remote_user), json!(account));
                }
                if obj.contains_key("remotePwd") {
                    change("remotePwd", json!("********"), json!("********"));
                }
                row.remote_user = Some(account);
            }
            db::repositories::update(tx, &row)?;
            Ok((row.id, changes))
        })
        .await?;
    if changes.is_empty() {
        return Err(ApiError::bad_request("No fields changed"));
    }
    Ok(ok(
        "Repository updated successfully",
        v::RepositoryUpdated {
            repository_info: v::RepositoryInfo {
                id: row_id,
                center_name: state.settings.center_name.clone(),
            },
            summary: UpdateSummary {
                state: "success".into(),
                updated_fields: changes,
            },
        },
    ))
}

/// Removes a repository no job uses (its files stay).
#[utoipa::path(
    delete,
    path = "/api/zdms/repositories/{id}",
    tag = "repositories",
    operation_id = "delete_repository",
    params(
        ("id" = String, Path, description = "Repository ID"),
        crate::api::openapi::params::CenterQuery,
    ),
    responses(
        (status = 200, description = "Removed", body = crate::api::views::repositories::RepositoryDeletedEnvelope),
        (status = 403, description = "The item belongs to another center", body = crate::api::envelope::ErrorEnvelope),
        (status = 409, description = "A job uses the repository", body = crate::api::envelope::ErrorEnvelope),
    )
)]
pub async fn delete(
    state: web::Data<AppState>,
    _auth: Authed,
    id: web::Path<String>,
    q: web::Query<Query>,
) -> ApiResult {
    let id = RepositoryId(numeric_id(&id, "repository identifier")?);
    if let Some(c) = q.get("center") {
        if !Ref::parse_ident(c.trim()).matches(1, &state.settings.center_name) {
            return Err(ApiError::forbidden(format!(
                "Repository does not belong to center '{c}'"
            )));
        }
    }
    let row = state
        .db
        .write(move |tx| {
            let row = db::repositories::get(tx, id)?
                .ok_or_else(|| ApiError::not_found(format!("Repository with ID '{id}' not found")))?;
            let jobs = db::repositories::jobs_using(tx, id)?;
            if !jobs.is_empty() {
                return Err(ApiError::conflict(format!(
                    "Repository {id} is used by {} job(s): {}; delete those jobs or move them to another repository first",
                    jobs.len(),
                    jobs.join(", ")
                )));
            }
            db::repositories::delete(tx, id)?;
            Ok(row)
        })
        .await?;
    if let Some(c) = &row.credentials_file {
        let _ = std::fs::remove_file(c);
    }
    Ok(ok(
        "Repository deleted successfully",
        v::RepositoryDeleted {
            id: row.id,
            center_name: state.settings.center_name.clone(),
            remote_path: row.path,
            local_path: row.local_path.unwrap_or_else(|| "-".into()),
        },
    ))
}

pub const VERIFY_FIELDS: &[&str] = &[
    "center",
    "type",
    "path",
    "remotePath",
    "localPath",
    "account",
    "password",
    "domain",
    "endpoint",
    "region",
    "pathStyle",
    "objectLockDays",
    "user",
];

/// Proves a repository is usable: exists, write, fsync, rename, read, delete, space.
#[utoipa::path(
    post,
    path = "/api/zdms/repositories/verify",
    tag = "repositories",
    operation_id = "verify_repository",
    request_body = crate::api::openapi::requests::RepositoryVerify,
    responses(
        (status = 200, description = "Every step passed; a failed step is a 400 naming it", body = crate::api::views::repositories::VerifiedEnvelope),
    )
)]
pub async fn verify(
    state: web::Data<AppState>,
    _auth: Authed,
    body: web::Json<Value>,
) -> ApiResult {
    let mut errs = FieldErrors::new();
    let obj = object_body(body.into_inner(), VERIFY_FIELDS, &mut errs)?;
    let spec = parse_spec(&obj, &state, &mut errs);
    if !errs.is_empty() {
        return Err(ApiError::validation(errs));
    }
    check_body_center(&obj, &state)?;
    let spec = spec.expect("no errors");
    let login = spec.account.clone().map(|user| SmbLogin {
        user,
        password: spec.password.clone().unwrap_or_default(),
        domain: spec.domain.clone().unwrap_or_default(),
    });
    let (kind, path, local_path) = (spec.kind, spec.path.clone(), spec.local_path.clone());
    let timeout = state.settings.runner.share_timeout();
    let nfs_ids = (state.settings.runner.nfs_uid, state.settings.runner.nfs_gid);
    let s3 = spec.s3.clone();
    let object_lock = s3.as_ref().is_some_and(|s| s.object_lock_days.is_some());
    let outcome = web::block(move || {
        if let (Some(s3), Some(login)) = (s3, &login) {
            // The preflight is the whole check: an object store has no size or free space.
            let keys =
                crate::engine::s3::S3Keys::new(&login.user, &login.password).map_err(|m| {
                    repocheck::Failure {
                        step: "credentials",
                        reason: m,
                    }
                })?;
            let access = repocheck::S3Access {
                path: &path,
                endpoint: &s3.endpoint,
                region: &s3.region,
                path_style: s3.path_style,
                keys,
                object_lock_days: s3.object_lock_days,
            };
            let target = repocheck::connect_s3(&access, repocheck::S3Check::Full)?;
            let report = repocheck::Report { size: 0, free: 0 };
            return Ok((crate::engine::target::Target::describe(&*target), report));
        }
        let access = repocheck::RepoAccess {
            kind,
            path: &path,
            local_path: local_path.as_deref(),
            login,
            nfs_ids,
        };
        let target = repocheck::connect(&access, timeout)?;
        let checked = target.describe();
        repocheck::check(&*target).map(|r| (checked, r))
    })
    .await
    .map_err(ApiError::internal)?;
    match outcome {
        Ok((dir, r)) => Ok(ok(
            "Repository Verify Results",
            v::Verified {
                checks: verify_steps(&dir, object_lock),
                path: spec.path,
                checked_path: dir,
                result: "SUCCESS".into(),
                size: super::servers::size(r.size),
                free: super::servers::size(r.free),
            },
        )),
        Err(f) => Err(ApiError::bad_request(format!(
            "Repository verify failed at step '{}': {}",
            f.step, f.reason
        ))
        .with_detail(ErrorDetail {
            result: Some("FAIL".into()),
            step: Some(f.step.into()),
            reason: Some(f.reason),
            ..Default::default()
        })),
    }
}

/// The steps a verification of `checked` (as `Target::describe` names it) went through; an S3
/// repository's are its preflight's, `object lock` included when it keeps points locked.
fn verify_steps(checked: &str, object_lock: bool) -> Vec<String> {
    let names: &[&str] = if checked.starts_with("s3://") {
        let steps = crate::engine::s3::Step::all(object_lock);
        return steps.iter().map(|s| s.name().to_string()).collect();
    } else if checked.starts_with("//") {
        &[
            "connect",
            "authenticate",
            "share",
            "exists",
            "write",
            "fsync",
            "rename",
            "read",
            "delete",
            "space",
        ]
    } else if !checked.starts_with('/') {
        &[
            "connect", "export", "exists", "write", "fsync", "rename", "read", "delete", "space",
        ]
    } else {
        &[
            "exists", "write", "fsync", "rename", "read", "delete", "space",
        ]
    };
    names.iter().map(|s| s.to_string()).collect()
}
