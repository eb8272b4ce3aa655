//! Restore points as the vendor's "images", and browsing them (RECOVERIES.md §4.1-4.2):
//! `GET /api/backups/images/server/{serverName}`, `GET /api/backups/{identifier}/images` and
//! `GET /api/backups/{identifier}/images/{image}/files`.
//!
//! Points are read through the job's repository (a local directory or a share) and listed only
//! when their manifest authenticates with this host's key. A directory is answered from the
//! point's browse index (`engine::index`), built once on first use.

use super::auth::Authed;
use super::envelope::{success, zone, ApiError, ApiResult};
use super::jobs::{find, snapshot};
use super::query::{paging_with, Query};
use super::views::hosts::Size;
use super::views::images as v;
use crate::db::jobs::JobRow;
use crate::db::repositories::RepoRow;
use crate::engine::entry::Kind;
use crate::engine::index::{self, PointIndex};
use crate::engine::repo::{self, Point};
use crate::engine::target::SharedTarget;
use crate::host::Partition;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::web;
use std::path::Path;

/// Where the browse indexes live, in the state directory.
pub const INDEX_DIR: &str = "browse-index";

/// Image and file sizes, as the vendor spells them.
fn size(bytes: u64) -> Size {
    Size::of(bytes, 2)
}

/// A job directory's authenticated points, and the repository they were read through.
pub(super) struct Located {
    pub target: SharedTarget,
    pub points: Vec<Point>,
}

/// Opens the repository and lists the job directory `<server>/<job>` in it.
pub(super) async fn locate(
    state: &AppState,
    repo: &RepoRow,
    server: &str,
    job: &str,
) -> Result<Located, ApiError> {
    let (repo, runner) = (repo.clone(), state.settings.runner.clone());
    let job_dir = Path::new(server).join(job);
    let key = super::jobs::auth_key(state)?;
    web::block(move || {
        let target = crate::repocheck::open_to_read(&repo, &runner).map_err(|f| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "Repository {} cannot be reached ({}: {}); try again when it is",
                    repo.path, f.step, f.reason
                ),
            )
        })?;
        let points = repo::scan(&*target, &job_dir, &key).points;
        Ok(Located { target, points })
    })
    .await
    .map_err(ApiError::internal)?
}

/// The partition a point was taken from, as this host mounts it now.
fn partition_of(parts: &[Partition], mount: &str) -> v::ImagePartition {
    match parts.iter().find(|p| p.mount_point == mount) {
        Some(p) => v::ImagePartition {
            mount_point: p.mount_point.clone(),
            device: p.device.clone(),
            size: size(p.space.size),
            filesystem: p.fs_type.clone(),
        },
        None => v::ImagePartition {
            mount_point: mount.to_string(),
            device: "-".into(),
            size: size(0),
            filesystem: "-".into(),
        },
    }
}

fn image_entry(
    repo: &RepoRow,
    server: &str,
    points: &[Point],
    p: &Point,
    partition: v::ImagePartition,
) -> v::ImageEntry {
    let m = &p.manifest;
    let z = zone();
    let created = chrono::DateTime::parse_from_rfc3339(&m.finished)
        .map(|t| z.format(t.with_timezone(&chrono::Utc)))
        .unwrap_or_else(|_| "-".into());
    let stored = m.stored_bytes();
    let ratio = if partition.size.raw == 0 {
        "-".to_string()
    } else {
        format!("{:.2}%", stored as f64 * 100.0 / partition.size.raw as f64)
    };
    let chain = repo::chain(points, &m.id)
        .ok()
        .and_then(|c| c.first().map(|f| f.manifest.id.clone()))
        .unwrap_or_else(|| m.id.clone());
    v::ImageEntry {
        image: v::Image {
            name: m.id.clone(),
            job_name: m.job.clone(),
            kind: if m.is_full() { "full" } else { "increment" }.into(),
            size: size(stored),
            created_at: created,
            compression: v::Compression {
                enabled: m.compression,
                ratio,
            },
            repository: v::ImageRepository {
                id: repo.id.0,
                path: repo.path.clone(),
            },
            parent: m.parent.clone(),
            chain,
            entries: m.entries,
            logical_size: size(m.source_bytes),
            encryption: v::Encryption {
                enabled: m.encryption,
            },
            verify: v::VerifyState {
                status: "unverified".into(),
                at: None,
            },
            last_restore_test: None,
        },
        server: v::ImageServer {
            name: server.to_string(),
            os: "Linux".into(),
        },
        partition,
    }
}

/// The newest restore proof (drill) of each job the entries belong to (R10).
async fn with_proofs(
    state: &AppState,
    mut entries: Vec<v::ImageEntry>,
) -> Result<Vec<v::ImageEntry>, ApiError> {
    let proofs = state
        .db
        .read(|c| crate::db::recoveries::last_tests(c).map_err(ApiError::from))
        .await?;
    for e in &mut entries {
        e.image.last_restore_test = proofs.get(&e.image.job_name).map(restore_test);
    }
    Ok(entries)
}

pub fn restore_test(t: &crate::db::recoveries::RestoreTest) -> v::RestoreTest {
    v::RestoreTest {
        status: if t.ok { "ok" } else { "failed" }.into(),
        at: zone().format_secs(Some(t.at)),
        recovery_job: t.recovery_job.clone(),
    }
}

/// Newest first unless `sort=asc`, then the requested page.
fn answer(mut entries: Vec<v::ImageEntry>, q: &Query) -> ApiResult {
    let p = paging_with(q, true, 20)?;
    entries.sort_by(|a, b| a.image.name.cmp(&b.image.name));
    if p.desc() {
        entries.reverse();
    }
    let meta = p.meta(entries.len());
    let page: Vec<_> = if meta.is_some() {
        entries
            .into_iter()
            .skip(p.offset())
            .take(p.limit())
            .collect()
    } else {
        entries
    };
    Ok(success(
        StatusCode::OK,
        "Backup images retrieved successfully",
        Some(page),
        meta,
    ))
}

fn job_not_found(ident: &str) -> ApiError {
    ApiError::not_found(format!("Backup job '{ident}' not found."))
}

/// The job and its repository row.
pub(super) async fn job_and_repo(
    state: &AppState,
    ident: &str,
) -> Result<(JobRow, RepoRow), ApiError> {
    let snap = snapshot(state).await?;
    let job = find(&snap, ident)
        .ok_or_else(|| job_not_found(ident))?
        .clone();
    let repo = snap
        .repos
        .get(&job.repository_id)
        .cloned()
        .ok_or_else(|| ApiError::internal(format!("job {} has no repository", job.id)))?;
    Ok((job, repo))
}

/// The restore points of one backup job.
#[utoipa::path(
    get,
    path = "/api/backups/{identifier}/images",
    tag = "recoveries",
    operation_id = "list_job_images",
    params(
        ("identifier" = String, Path, description = "Job ID or job name"),
        crate::api::openapi::params::Paging,
    ),
    responses(
        (status = 200, description = "Restore points", body = v::ImageListEnvelope),
        (status = 404, description = "No such job", body = crate::api::envelope::ErrorEnvelope),
        (status = 503, description = "The repository cannot be reached", body = crate::api::envelope::ErrorEnvelope),
    )
)]
pub async fn job_images(
    state: web::Data<AppState>,
    _auth: Authed,
    ident: web::Path<String>,
    q: web::Query<Query>,
) -> ApiResult {
    let (job, repo) = job_and_repo(&state, &ident).await?;
    let server = state.settings.server_name.clone();
    let found = locate(&state, &repo, &server, &job.name).await?;
    let parts = state.partitions().await;
    let entries = found
        .points
        .iter()
        .map(|p| {
            let part = partition_of(&parts, &p.manifest.source);
            image_entry(&repo, &server, &found.points, p, part)
        })
        .collect();
    answer(with_proofs(&state, entries).await?, &q)
}

/// Every restore point of a server in every repository, jobs deleted since included.
#[utoipa::path(
    get,
    path = "/api/backups/images/server/{serverName}",
    tag = "recoveries",
    operation_id = "list_server_images",
    params(
        ("serverName" = String, Path, description = "Server name (this host, or a server whose job directories a repository holds)"),
        crate::api::openapi::params::ImageFilters,
        crate::api::openapi::params::Paging,
    ),
    responses(
        (status = 200, description = "Restore points", body = v::ImageListEnvelope),
        (status = 404, description = "No such server, center or repository", body = crate::api::envelope::ErrorEnvelope),
    )
)]
pub async fn server_images(
    state: web::Data<AppState>,
    _auth: Authed,
    server: web::Path<String>,
    q: web::Query<Query>,
) -> ApiResult {
    let server = server.into_inner();
    if !crate::engine::is_component(&server) {
        return Err(ApiError::bad_request(format!(
            "serverName '{server}' is not a server name"
        )));
    }
    if let Some(c) = q.get("center") {
        super::centers::check_center(&state, c)?;
    }
    let snap = snapshot(&state).await?;
    let repo_id = match q.get("repositoryId") {
        None => None,
        Some(raw) => Some(raw.parse::<i64>().map_err(|_| {
            ApiError::field(
                "repositoryId",
                format!("repositoryId must be a number, got '{raw}'"),
            )
        })?),
    };
    let mut repos: Vec<RepoRow> = snap
        .repos
        .values()
        .filter(|r| repo_id.is_none_or(|id| r.id.0 == id))
        .filter(|r| q.get("repositoryPath").is_none_or(|p| *p == r.path))
        .cloned()
        .collect();
    repos.sort_by_key(|r| r.id);
    if let Some(id) = repo_id {
        if repos.is_empty() {
            return Err(ApiError::not_found(format!("Repository ID {id} not found")));
        }
    }
    let parts = state.partitions().await;
    let mut entries = Vec::new();
    for repo in &repos {
        for job in job_dirs(&state, repo, &server).await {
            if q.get("jobName").is_some_and(|n| *n != job) {
                continue;
            }
            let Ok(found) = locate(&state, repo, &server, &job).await else {
                continue;
            };
            for p in &found.points {
                if q.get("partition").is_some_and(|m| *m != p.manifest.source) {
                    continue;
                }
                let part = partition_of(&parts, &p.manifest.source);
                entries.push(image_entry(repo, &server, &found.points, p, part));
            }
        }
    }
    // A Linux host has no drive letters.
    if q.contains_key("drive") {
        entries.clear();
    }
    if entries.is_empty() && server != state.settings.server_name {
        return Err(ApiError::not_found(format!("Server '{server}' not found.")));
    }
    answer(with_proofs(&state, entries).await?, &q)
}

/// The job directories a repository holds for `server` (none when it cannot be reached).
async fn job_dirs(state: &AppState, repo: &RepoRow, server: &str) -> Vec<String> {
    let (repo, runner, server) = (
        repo.clone(),
        state.settings.runner.clone(),
        server.to_string(),
    );
    web::block(move || {
        let Ok(t) = crate::repocheck::open_to_read(&repo, &runner) else {
            return Vec::new();
        };
        let mut names: Vec<String> = t
            .list(Path::new(&server))
            .unwrap_or_default()
            .into_iter()
            .filter(|e| e.is_dir && !e.name.starts_with('.'))
            .map(|e| e.name)
            .collect();
        names.sort();
        names
    })
    .await
    .unwrap_or_default()
}

/// The point an `image` names: its id, or `latest`.
pub(super) fn pick<'a>(points: &'a [Point], image: &str, job: &str) -> Result<&'a Point, ApiError> {
    let found = if image == "latest" {
        points.last()
    } else {
        points.iter().find(|p| p.manifest.id == image)
    };
    found.ok_or_else(|| {
        ApiError::not_found(format!("Backup image '{image}' not found for job '{job}'."))
    })
}

/// An absolute original path as the catalog names it (relative to the partition's root).
pub fn catalog_path(path: &str, mount: &str, job: &str) -> Result<Vec<u8>, ApiError> {
    if !path.starts_with('/') {
        return Err(ApiError::field("path", "path must be absolute"));
    }
    let clean: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    if clean.iter().any(|c| *c == "." || *c == "..") {
        return Err(ApiError::field(
            "path",
            format!("path '{path}' must not contain '.' or '..' components"),
        ));
    }
    let base: Vec<&str> = mount.split('/').filter(|c| !c.is_empty()).collect();
    if clean.len() < base.len() || clean[..base.len()] != base[..] {
        return Err(ApiError::bad_request(format!(
            "Path '{path}' is outside partition '{mount}' of job '{job}'."
        )));
    }
    let rel = clean[base.len()..].join("/");
    Ok(if rel.is_empty() {
        b".".to_vec()
    } else {
        rel.into_bytes()
    })
}

/// The absolute original path of a catalog path.
pub(super) fn original_path(mount: &str, rel: &[u8]) -> String {
    let rel = String::from_utf8_lossy(rel);
    match (mount.trim_end_matches('/'), rel.as_ref()) {
        ("", ".") => "/".into(),
        (m, ".") => m.into(),
        (m, r) => format!("{m}/{r}"),
    }
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::File => "file",
        Kind::Dir => "dir",
        Kind::Symlink => "symlink",
        Kind::HardLink => "hardlink",
        Kind::Fifo => "fifo",
        Kind::Char => "char",
        Kind::Block => "block",
    }
}

fn kind_named(s: &str) -> Result<Option<Kind>, ApiError> {
    Ok(Some(match s {
        "file" => Kind::File,
        "dir" => Kind::Dir,
        "symlink" => Kind::Symlink,
        "hardlink" => Kind::HardLink,
        "fifo" => Kind::Fifo,
        "char" => Kind::Char,
        "block" => Kind::Block,
        // The walk skips sockets: a point has none.
        "socket" => return Ok(None),
        other => {
            return Err(ApiError::field(
                "type",
                format!(
                    "type must be one of file, dir, symlink, hardlink, fifo, socket, char, block, got '{other}'"
                ),
            ))
        }
    }))
}

fn user_name(uid: u32) -> Option<String> {
    nix::unistd::User::from_uid(uid.into())
        .ok()
        .flatten()
        .map(|u| u.name)
}

fn group_name(gid: u32) -> Option<String> {
    nix::unistd::Group::from_gid(gid.into())
        .ok()
        .flatten()
        .map(|g| g.name)
}

fn file_entry(mount: &str, l: &index::Listed) -> v::FileEntry {
    v::FileEntry {
        name: String::from_utf8_lossy(&l.name).into_owned(),
        path: original_path(mount, &l.path),
        kind: kind_name(l.kind).into(),
        size: size(l.size),
        mtime: zone().format_secs(Some(l.mtime)),
        mode: format!("{:04o}", l.mode & 0o7777),
        uid: l.uid,
        gid: l.gid,
        owner: user_name(l.uid),
        group: group_name(l.gid),
        link_target: l.link.as_ref().map(|t| match l.kind {
            // A hard link names the first path of its group, relative to the partition root.
            Kind::HardLink => original_path(mount, t),
            _ => String::from_utf8_lossy(t).into_owned(),
        }),
        has_children: l.has_children,
        written_in: l.written_in.clone(),
    }
}

/// The appliance's age identity, for encrypted points (absent when no job was ever encrypted).
pub fn identity(state: &AppState) -> Result<Option<age::x25519::Identity>, ApiError> {
    let path = state
        .settings
        .state_dir
        .join(crate::engine::keys::BACKUP_KEY_FILE);
    if !path.exists() {
        return Ok(None);
    }
    crate::engine::keys::load(&path)
        .map(Some)
        .map_err(|e| ApiError::internal(format!("Encryption identity not available: {e}")))
}

/// One directory of a restore point, or the matches of a search below it.
#[utoipa::path(
    get,
    path = "/api/backups/{identifier}/images/{image}/files",
    tag = "recoveries",
    operation_id = "list_image_files",
    params(
        ("identifier" = String, Path, description = "Job ID or job name"),
        ("image" = String, Path, description = "Point id, or `latest`"),
        crate::api::openapi::params::BrowseQuery,
        crate::api::openapi::params::Paging,
    ),
    responses(
        (status = 200, description = "Entries, directories first", body = v::FileListEnvelope),
        (status = 400, description = "A bad path or filter", body = crate::api::envelope::ErrorEnvelope),
        (status = 404, description = "No such job, point or path", body = crate::api::envelope::ErrorEnvelope),
        (status = 503, description = "The repository cannot be reached", body = crate::api::envelope::ErrorEnvelope),
    )
)]
pub async fn files(
    state: web::Data<AppState>,
    _auth: Authed,
    path: web::Path<(String, String)>,
    q: web::Query<Query>,
) -> ApiResult {
    let (ident, image) = path.into_inner();
    let p = paging_with(&q, false, 100)?;
    let kind = match q.get("type") {
        Some(t) => match kind_named(&t.to_ascii_lowercase())? {
            Some(k) => Some(k),
            // No point holds sockets: an empty list.
            None => {
                let meta = p.meta(0);
                return Ok(success(
                    StatusCode::OK,
                    "Backup image files retrieved successfully",
                    Some(Vec::<v::FileEntry>::new()),
                    meta,
                ));
            }
        },
        None => None,
    };
    let (job, repo) = job_and_repo(&state, &ident).await?;
    let mount = job.partition.clone();
    let dir_path = q.get("path").cloned().unwrap_or_else(|| mount.clone());
    let rel = catalog_path(&dir_path, &mount, &job.name)?;
    let server = state.settings.server_name.clone();
    let found = locate(&state, &repo, &server, &job.name).await?;
    let point = pick(&found.points, &image, &job.name)?.clone();
    let cache = state.settings.state_dir.join(INDEX_DIR);
    let identity = identity(&state)?;
    let search = q.get("search").filter(|s| !s.is_empty()).cloned();
    let query = index::Query {
        dir: rel.clone(),
        search,
        kind,
        descending: p.desc(),
        offset: p.offset() as u64,
        limit: p.limit() as u64,
    };
    let point_id = point.manifest.id.clone();
    let listed = web::block(move || {
        let ix = PointIndex::open_or_build(
            &cache,
            &*found.target,
            &found.points,
            &point,
            identity.as_ref(),
        )?;
        let at = ix.entry(&rel)?;
        Ok::<_, crate::engine::EngineError>(match at {
            Some(e) if e.kind == Kind::Dir => Some(Ok(ix.list(&query)?)),
            Some(_) => Some(Err(())),
            None => None,
        })
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::from)?;
    let (rows, total) = match listed {
        Some(Ok(l)) => l,
        Some(Err(())) => {
            return Err(ApiError::bad_request(format!(
                "Path '{dir_path}' is not a directory in backup image '{point_id}'."
            )))
        }
        None => {
            return Err(ApiError::not_found(format!(
                "Path '{dir_path}' not found in backup image '{point_id}'."
            )))
        }
    };
    let data: Vec<v::FileEntry> = rows.iter().map(|l| file_entry(&mount, l)).collect();
    Ok(success(
        StatusCode::OK,
        "Backup image files retrieved successfully",
        Some(data),
        p.meta(total as usize),
    ))
}
