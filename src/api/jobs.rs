//! `GET/PUT/PATCH/DELETE /api/backups[/{identifier}]` (spec §4.1-4.4): jobs with their computed
//! status, next run, last result and restore points; partial updates; deletion.

use super::auth::Authed;
use super::backups::{rejection, FsProbe};
use super::envelope::{ok, success, zone, ApiError, ApiResult};
use super::query::{center_filter_matches, flag, paginate, paging, Query};
use crate::db::jobs::{JobRow, TxCatalog};
use crate::db::{self, repositories::RepoRow, runs::RunRow, schedules::ScheduleRow};
use crate::domain::job::{parse_update, Mode, RepoInput, StatusChange};
use crate::domain::registration::{check_compat, resolve_schedule, Catalog, Rejection};
use crate::domain::schedule::{self, Role, ScheduleData};
use crate::engine::repo;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::web;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::path::PathBuf;

/// Everything the job views need, read in one go.
pub struct Snapshot {
    pub jobs: Vec<JobRow>,
    pub repos: HashMap<i64, RepoRow>,
    pub schedules: HashMap<i64, ScheduleRow>,
    pub last: HashMap<i64, RunRow>,
}

pub async fn snapshot(state: &AppState) -> Result<Snapshot, ApiError> {
    state
        .db
        .read(|c| {
            Ok::<_, ApiError>(Snapshot {
                jobs: db::jobs::list(c)?,
                repos: db::repositories::list(c)?
                    .into_iter()
                    .map(|r| (r.id, r))
                    .collect(),
                schedules: db::schedules::list(c)?
                    .into_iter()
                    .map(|s| (s.id, s))
                    .collect(),
                last: db::runs::last_results(c)?
                    .into_iter()
                    .map(|r| (r.job_id, r))
                    .collect(),
            })
        })
        .await
}

fn use_str(b: bool) -> &'static str {
    if b {
        "use"
    } else {
        "not use"
    }
}

/// `HH:MM:SS` of a duration in seconds (status times, monitoring, history).
pub fn elapsed(secs: i64) -> String {
    let s = secs.max(0);
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// The computed status (spec §4.9) of a job.
pub fn status_of(state: &AppState, snap: &Snapshot, job: &JobRow) -> &'static str {
    let live = state.runner.live(job.id).map(|l| l.view().phase);
    crate::runner::status::job_status(
        live,
        job.stopped,
        state.runner.armed_at(job.id).is_some(),
        snap.last.get(&job.id).map(|r| r.state.as_str()),
    )
}

fn schedule_ref(snap: &Snapshot, id: Option<i64>) -> Value {
    match id.and_then(|id| snap.schedules.get(&id)) {
        Some(s) => json!({
            "id": s.id.to_string(),
            "type": s.data.as_ref().map(|d| schedule::type_name(d.kind)).unwrap_or("Unknown"),
            "description": s.data.as_ref().map(|d| d.describe()).unwrap_or_else(|| "-".into()),
        }),
        None => json!("-"),
    }
}

/// One item of the job list (spec §4.1), plus `nextRun` and `lastRun`.
pub fn item(state: &AppState, snap: &Snapshot, job: &JobRow, detail: bool) -> Value {
    let z = zone();
    let repo = snap.repos.get(&job.repository_id);
    let live = state.runner.live(job.id).map(|l| l.view());
    let last = snap.last.get(&job.id);
    let (start, el, end) = match (&live, last) {
        (Some(v), _) => (
            v.started_at
                .map(|t| z.format(t))
                .unwrap_or_else(|| "-".into()),
            elapsed(v.elapsed_secs as i64),
            "-".to_string(),
        ),
        (None, Some(r)) => (
            z.format_secs(r.started_at),
            match (r.started_at, r.ended_at) {
                (Some(s), Some(e)) => elapsed(e - s),
                _ => "-".into(),
            },
            z.format_secs(r.ended_at),
        ),
        (None, None) => ("-".into(), "-".into(), "-".into()),
    };
    let mut info = json!({
        "id": job.id.to_string(),
        "name": job.name,
        "mode": job.mode,
        "partition": job.partition,
        "schedule": {
            "basic": schedule_ref(snap, job.schedule_basic_id),
            "advanced": schedule_ref(snap, job.schedule_advanced_id),
        },
        "status": {
            "current": status_of(state, snap, job),
            "time": { "start": start, "elapsed": el, "end": end },
        },
        "nextRun": state.runner.armed_at(job.id).map(|t| z.format(t)).unwrap_or_else(|| "-".into()),
        "lastRun": last.map(|r| json!({
            "historyId": r.id,
            "result": result_status(r),
            "kind": r.kind.as_deref().unwrap_or("-"),
            "start": z.format_secs(r.started_at),
            "end": z.format_secs(r.ended_at),
            "restorePoint": r.point_id.as_deref().unwrap_or("-"),
            "error": r.error.as_deref().unwrap_or("-"),
        })).unwrap_or_else(|| json!("-")),
    });
    if detail {
        info["options"] = json!({
            "compression": use_str(job.compression),
            "encryption": use_str(job.encryption),
            "rotation": job.rotation.to_string(),
            "excludeDir": job.exclude_dir.join("|"),
            "networkSpeed": job.network_limit.to_string(),
            "notification": { "mail": job.mail_event.as_deref().unwrap_or("") },
            "autoStart": use_str(job.auto_start),
            "scriptPath": job.script_path.as_deref().unwrap_or(""),
            "scriptRunTiming": match job.script_run.as_deref() {
                Some("before") => "before job",
                Some("after") => "after job",
                _ => "",
            },
        });
    }
    json!({
        "system": { "id": "1", "name": state.settings.server_name, "os": "Linux" },
        "job": { "info": info, "lastUpdated": z.format_secs(Some(job.updated_at)) },
        "repository": {
            "id": job.repository_id.to_string(),
            "type": repo.map(|r| r.kind.as_str()).unwrap_or("-"),
            "path": repo.map(|r| r.path.as_str()).unwrap_or("-"),
        },
    })
}

/// History `result.status`: `COMPLETE` for successful runs, `FAIL` otherwise (spec §4.7), with
/// `MISSED`/`SKIPPED`/`CANCELED` where the vendor had no value.
pub fn result_status(r: &RunRow) -> &'static str {
    match r.state.as_str() {
        "complete" | "warning" => "COMPLETE",
        "missed" => "MISSED",
        "skipped" => "SKIPPED",
        "canceled" => "CANCELED",
        "queued" | "running" | "canceling" => "RUNNING",
        _ => "FAIL",
    }
}

const STATUSES: [&str; 8] = [
    "preparing",
    "processing",
    "complete",
    "scheduled",
    "registered",
    "canceling",
    "canceled",
    "error",
];

fn enum_error(field: &str, allowed: &[&str], got: &str) -> ApiError {
    let list: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
    ApiError::field(
        field,
        format!(
            "Invalid enum value. Expected {}, received '{got}'",
            list.join(" | ")
        ),
    )
}

/// The filters of spec §4.1/4.2 (already validated).
fn matches(state: &AppState, snap: &Snapshot, job: &JobRow, q: &Query) -> Result<bool, ApiError> {
    let repo = snap.repos.get(&job.repository_id);
    if !center_filter_matches(q, 1, &state.settings.center_name) {
        return Ok(false);
    }
    let eq = |k: &str, v: &str| q.get(k).is_none_or(|want| want == v);
    if let Some(s) = q.get("server") {
        if !crate::domain::job::Ref::parse_ident(s).matches(1, &state.settings.server_name) {
            return Ok(false);
        }
    }
    if let Some(m) = q.get("mode") {
        let m = m.to_ascii_lowercase();
        if Mode::parse(&m).is_none() {
            return Err(enum_error("mode", &["full", "increment", "smart"], &m));
        }
        if Mode::parse(&m).map(|m| m.as_str()) != Some(job.mode.as_str()) {
            return Ok(false);
        }
    }
    if let Some(s) = q.get("status") {
        let s = s.to_ascii_lowercase();
        if !STATUSES.contains(&s.as_str()) {
            return Err(enum_error("status", &STATUSES, &s));
        }
        if status_of(state, snap, job).to_ascii_lowercase() != s {
            return Ok(false);
        }
    }
    if let Some(t) = q.get("repositoryType") {
        let t = t.to_ascii_lowercase();
        if t != "nfs" && t != "smb" {
            return Err(enum_error("repositoryType", &["smb", "nfs"], &t));
        }
        if repo.map(|r| r.kind.as_str()) != Some(t.as_str()) {
            return Ok(false);
        }
    }
    if let Some(id) = q.get("repositoryID") {
        if id.parse::<i64>().ok() != Some(job.repository_id) {
            return Ok(false);
        }
    }
    // A Linux host has no drives: a drive filter matches nothing.
    Ok(eq("jobId", &job.id.to_string())
        && eq("jobName", &job.name)
        && eq("partition", &job.partition)
        && q.get("drive").is_none()
        && eq(
            "repositoryPath",
            repo.map(|r| r.path.as_str()).unwrap_or(""),
        ))
}

/// Lists backup jobs (spec §4.1).
#[utoipa::path(
    get,
    path = "/api/backups",
    tag = "backups",
    operation_id = "list_backups",
    params(
        crate::api::openapi::params::JobFilters,
        crate::api::openapi::params::Paging,
    ),
    responses(
        (status = 200, description = "Jobs", body = crate::api::openapi::schemas::JobListEnvelope),
    )
)]
pub async fn list(state: web::Data<AppState>, _auth: Authed, q: web::Query<Query>) -> ApiResult {
    let q = q.into_inner();
    let p = paging(&q)?;
    let detail = flag(&q, "detail")?;
    let snap = snapshot(&state).await?;
    let mut items = Vec::new();
    let mut dirs = Vec::new();
    for job in &snap.jobs {
        if matches(&state, &snap, job, &q)? {
            items.push(item(&state, &snap, job, detail));
            dirs.push(job_dir(
                &state,
                snap.repos.get(&job.repository_id),
                &job.name,
            ));
        }
    }
    if detail {
        // Counting directories is cheap; reading every manifest is left to the single GET.
        let counts = web::block(move || {
            dirs.iter()
                .map(|d| d.as_deref().map(repo::point_count_in))
                .collect::<Vec<_>>()
        })
        .await
        .map_err(ApiError::internal)?;
        for (v, n) in items.iter_mut().zip(counts) {
            v["job"]["info"]["restorePointCount"] = json!(n);
        }
    }
    let (page, meta) = paginate(items, &p);
    Ok(success(
        StatusCode::OK,
        "Backup job list",
        Some(Value::Array(page)),
        meta,
    ))
}

fn not_found(ident: &str) -> ApiError {
    if ident.bytes().all(|b| b.is_ascii_digit()) {
        ApiError::not_found(format!("Backup job with ID '{ident}' not found"))
    } else {
        ApiError::not_found(format!("Backup job '{ident}' not found"))
    }
}

pub fn find<'a>(snap: &'a Snapshot, ident: &str) -> Option<&'a JobRow> {
    ident
        .parse::<i64>()
        .ok()
        .and_then(|id| snap.jobs.iter().find(|j| j.id == id))
        .or_else(|| snap.jobs.iter().find(|j| j.name == ident))
}

/// The job's directory in its repository, when the repository is a local directory.
pub fn job_dir(state: &AppState, repo: Option<&RepoRow>, job: &str) -> Option<PathBuf> {
    let r = repo?;
    let base = r.local_path.clone().unwrap_or_else(|| r.path.clone());
    Some(
        PathBuf::from(base)
            .join(&state.settings.server_name)
            .join(job),
    )
}

/// Moves a renamed job's directory in its repository (a local directory or a share). A
/// repository directory that does not exist yet holds nothing to move; a share that cannot be
/// reached refuses the rename, so no restore points are left behind under the old name.
fn move_points(state: &AppState, r: &RepoRow, from: &str, to: &str) -> Result<(), ApiError> {
    let t = match crate::repocheck::open(r, &state.settings.runner) {
        Ok(t) => t,
        Err(f) if f.step == "credentials" => {
            return Err(ApiError::conflict(format!("{}: {}", f.step, f.reason)))
        }
        Err(f) if f.step == "exists" && crate::repocheck::is_local_path(&r.path) => return Ok(()),
        Err(f) => {
            return Err(ApiError::conflict(format!(
                "repository {} cannot be reached to move the job's restore points ({}: {}); \
                 rename the job when it is reachable",
                r.path, f.step, f.reason
            )))
        }
    };
    let server = std::path::Path::new(&state.settings.server_name);
    let (src, dst) = (server.join(from), server.join(to));
    let io = |e: std::io::Error| {
        ApiError::internal(format!(
            "moving {} to {}: {e}",
            src.display(),
            dst.display()
        ))
    };
    if !t.is_dir(&src).map_err(io)? {
        return Ok(());
    }
    if t.exists(&dst).map_err(io)? {
        return Err(ApiError::conflict(format!(
            "{} already exists in the repository; choose another name",
            repo::describe(&*t, &dst)
        )));
    }
    t.rename(&src, &dst).map_err(io)?;
    t.sync_dir(server).map_err(io)
}

/// The host key that authenticates restore points (created at start-up).
fn auth_key(state: &AppState) -> Result<crate::engine::trust::AuthKey, ApiError> {
    crate::engine::trust::AuthKey::load(
        &state
            .settings
            .state_dir
            .join(crate::engine::trust::AUTH_KEY_FILE),
    )
    .map_err(ApiError::internal)
}

/// The restore points of a job on an SMB share or NFS export; none when it cannot be reached
/// (the job's runs say why).
fn share_points(
    r: &RepoRow,
    server: &str,
    job: &str,
    runner: &crate::config::RunnerConfig,
    key: &crate::engine::trust::AuthKey,
) -> repo::Listing {
    match crate::repocheck::open(r, runner) {
        Ok(t) => repo::scan(&*t, &std::path::Path::new(server).join(job), key),
        Err(_) => repo::Listing::default(),
    }
}

/// One backup job with its restore points (spec §4.2).
#[utoipa::path(
    get,
    path = "/api/backups/{identifier}",
    tag = "backups",
    operation_id = "get_backup",
    params(
        ("identifier" = String, Path, description = "Job ID or job name"),
    ),
    responses(
        (status = 200, description = "The job", body = crate::api::openapi::schemas::JobEnvelope),
    )
)]
pub async fn get(
    state: web::Data<AppState>,
    _auth: Authed,
    ident: web::Path<String>,
    q: web::Query<Query>,
) -> ApiResult {
    let (ident, q) = (ident.into_inner(), q.into_inner());
    let snap = snapshot(&state).await?;
    let job = find(&snap, &ident).ok_or_else(|| not_found(&ident))?;
    if !matches(&state, &snap, job, &q)? {
        return Err(ApiError::not_found(format!(
            "Backup job named '{}' exists but no result matches the given filters",
            job.name
        )));
    }
    let mut v = item(&state, &snap, job, true);
    let points = match snap.repos.get(&job.repository_id) {
        Some(r) if !crate::repocheck::is_local_path(&r.path) => {
            // A share the daemon reaches itself: list the points over SMB or NFS.
            let (r, name, server) = (
                r.clone(),
                job.name.clone(),
                state.settings.server_name.clone(),
            );
            let runner = state.settings.runner.clone();
            let key = auth_key(&state)?;
            web::block(move || share_points(&r, &server, &name, &runner, &key))
                .await
                .map_err(ApiError::internal)?
        }
        r => {
            let dir = job_dir(&state, r, &job.name);
            let key = auth_key(&state)?;
            web::block(move || {
                dir.map(|d| {
                    repo::scan(
                        &crate::engine::target::LocalTarget::new(d),
                        std::path::Path::new(""),
                        &key,
                    )
                })
                .unwrap_or_default()
            })
            .await
            .map_err(ApiError::internal)?
        }
    };
    let z = zone();
    let fmt = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| z.format(t.with_timezone(&chrono::Utc)))
            .unwrap_or_else(|_| "-".into())
    };
    v["job"]["rejectedPoints"] = points
        .rejected
        .iter()
        .map(|r| json!({ "id": r.name, "reason": r.reason }))
        .collect();
    v["job"]["restorePoints"] = points
        .points
        .iter()
        .rev()
        .map(|p| {
            let m = &p.manifest;
            json!({
                "id": m.id, "kind": m.kind, "parent": m.parent, "createdAt": fmt(&m.finished),
                "entries": m.entries, "sourceBytes": m.source_bytes, "storedBytes": m.stored_bytes(), "archivedBytes": m.archived_bytes,
                "encrypted": m.encryption, "compressed": m.compression,
            })
        })
        .collect();
    Ok(ok("Backup job retrieved", v))
}

/// A database error met by a catalog read, instead of the "not found" it would look like.
fn db_error(catalog: &TxCatalog) -> Result<(), ApiError> {
    match catalog.take_error() {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

fn mode_of(s: &str) -> Mode {
    Mode::parse(s).unwrap_or(Mode::Full)
}

/// Deletes schedule records no job refers to any more.
fn release_schedule(tx: &rusqlite::Connection, id: Option<i64>) -> rusqlite::Result<()> {
    if let Some(id) = id {
        if db::schedules::backup_references(tx, id)? == 0 {
            db::schedules::delete(tx, id)?;
        }
    }
    Ok(())
}

/// Writes `d` into the job's slot: in place when the job keeps its mode family (spec §4.3),
/// as a new record otherwise.
fn store_slot(
    tx: &rusqlite::Connection,
    existing: Option<i64>,
    in_place: bool,
    d: &ScheduleData,
    job: &JobRow,
) -> rusqlite::Result<i64> {
    match existing {
        Some(id) if in_place => {
            db::schedules::overwrite(tx, id, d)?;
            Ok(id)
        }
        _ => db::schedules::insert(tx, d, job.user_id, &job.name),
    }
}

struct Applied {
    job: JobRow,
    fields: Vec<Value>,
    /// A rename within the same repository: its restore points move along.
    moved: Option<(RepoRow, String, String)>,
}

fn apply_update(
    state: &AppState,
    tx: &rusqlite::Transaction,
    ident: &str,
    body: &Value,
    running: &dyn Fn(i64) -> bool,
) -> Result<Applied, ApiError> {
    let now = state.settings.zone.now_local();
    let up =
        parse_update(body, &FsProbe::new(&state.settings), now).map_err(ApiError::validation)?;
    let old = db::jobs::find(tx, ident)?.ok_or_else(|| not_found(ident))?;
    let mut job = old.clone();
    let mut fields = Vec::new();
    let mut changed = |field: &str, prev: Value, new: Value| {
        if prev != new {
            fields.push(json!({ "field": field, "previous": prev, "new": new }));
        }
    };
    let busy = running(old.id);
    if busy && up.status == Some(StatusChange::Start) {
        return Err(ApiError::conflict(format!(
            "Backup job '{}' is already running; wait for the run to finish or stop it (status: stop)",
            old.name
        )));
    }
    if up.clear_schedule && up.opts.schedule.is_some() {
        return Err(ApiError::field(
            "schedule",
            "schedule is either null (remove it) or a schedule",
        ));
    }
    if let Some(n) = &up.change_name {
        if *n != old.name {
            if db::jobs::find(tx, n)?.is_some_and(|j| j.id != old.id) {
                return Err(ApiError::conflict("JOB_NAME_ALREADY_EXISTS"));
            }
            if busy {
                return Err(ApiError::conflict(format!(
                    "Backup job '{}' is running; rename it when the run has finished",
                    old.name
                )));
            }
            job.name = n.clone();
            changed("jobName", json!(old.name), json!(n));
        }
    }
    // Mode and schedule (spec §4.3 cross-change table, then the §2.4 rules).
    let catalog = TxCatalog::new(tx);
    let resolved = up
        .opts
        .schedule
        .as_ref()
        .map(|s| resolve_schedule(s, &catalog));
    db_error(&catalog)?;
    let resolved = resolved.transpose().map_err(rejection)?;
    let old_mode = mode_of(&old.mode);
    let new_mode = match (up.opts.mode, &resolved) {
        (Some(m), _) => m,
        (None, Some(r)) if schedule::is_smart(r.kind) && old_mode != Mode::Smart => Mode::Smart,
        (None, Some(r)) if !schedule::is_smart(r.kind) && old_mode == Mode::Smart => Mode::Full,
        _ => old_mode,
    };
    match &resolved {
        Some(r) => check_compat(new_mode, Some(r), now).map_err(rejection)?,
        None if up.clear_schedule => {
            if new_mode == Mode::Smart {
                return Err(rejection(Rejection::BadRequest(
                    crate::domain::registration::MSG_107.into(),
                )));
            }
        }
        None => {
            let basic = old.schedule_basic_id.and_then(|id| catalog.schedule(id));
            let advanced = old.schedule_advanced_id.and_then(|id| catalog.schedule(id));
            db_error(&catalog)?;
            if new_mode == Mode::Smart && basic.is_none() {
                return Err(rejection(Rejection::BadRequest(
                    crate::domain::registration::MSG_107.into(),
                )));
            }
            if new_mode != Mode::Smart
                && (advanced.is_some()
                    || basic.as_ref().is_some_and(|b| schedule::is_smart(b.kind)))
            {
                return Err(rejection(Rejection::BadRequest(
                    crate::domain::registration::MSG_101.into(),
                )));
            }
        }
    }
    job.mode = new_mode.as_str().to_string();
    changed("mode", json!(old.mode), json!(job.mode));
    let describe = |b: &ScheduleData, a: Option<&ScheduleData>| json!({ "type": b.kind, "basic": b.describe(), "advanced": a.map(|a| a.describe()) });
    let old_basic = old.schedule_basic_id.and_then(|id| catalog.schedule(id));
    let old_advanced = old.schedule_advanced_id.and_then(|id| catalog.schedule(id));
    db_error(&catalog)?;
    let prev_schedule = old_basic
        .as_ref()
        .map(|b| describe(b, old_advanced.as_ref()))
        .unwrap_or(Value::Null);
    // The same schedule sent again changes nothing (and is not reported).
    let resolved = resolved.filter(|r| {
        let mut b = r.basic.clone();
        b.role = Role::Basic;
        let a = r.advanced.clone().map(|mut a| {
            a.role = Role::Advanced;
            a
        });
        old_basic.as_ref() != Some(&b) || old_advanced != a
    });
    if up.clear_schedule && old_basic.is_some() {
        job.schedule_basic_id = None;
        job.schedule_advanced_id = None;
        changed("schedule", prev_schedule.clone(), Value::Null);
    }
    if let Some(r) = &resolved {
        let same_family = (old_mode == Mode::Smart) == (new_mode == Mode::Smart);
        let mut basic = r.basic.clone();
        basic.role = Role::Basic;
        job.schedule_basic_id = Some(store_slot(
            tx,
            old.schedule_basic_id,
            same_family,
            &basic,
            &job,
        )?);
        job.schedule_advanced_id = match &r.advanced {
            Some(a) => {
                let mut a = a.clone();
                a.role = Role::Advanced;
                Some(store_slot(
                    tx,
                    old.schedule_advanced_id,
                    same_family,
                    &a,
                    &job,
                )?)
            }
            None => None,
        };
        let new = describe(&basic, r.advanced.as_ref());
        changed("schedule", prev_schedule, new);
    }
    if let Some(v) = up.opts.rotation {
        job.rotation = v as i64;
        changed("rotation", json!(old.rotation), json!(job.rotation));
    }
    if let Some(v) = up.opts.compression {
        job.compression = v;
        changed(
            "compression",
            json!(use_str(old.compression)),
            json!(use_str(v)),
        );
    }
    if let Some(v) = up.opts.encryption {
        job.encryption = v;
        changed(
            "encryption",
            json!(use_str(old.encryption)),
            json!(use_str(v)),
        );
    }
    if let Some(v) = &up.opts.exclude_dir {
        job.exclude_dir = v.clone();
        changed(
            "excludeDir",
            json!(old.exclude_dir.join("|")),
            json!(v.join("|")),
        );
    }
    if let Some(v) = &up.opts.mail_event {
        job.mail_event = v.clone();
        changed("mailEvent", json!(old.mail_event), json!(v));
    }
    if let Some(v) = up.opts.network_limit {
        job.network_limit = v as i64;
        changed(
            "networkLimit",
            json!(old.network_limit),
            json!(job.network_limit),
        );
    }
    if let Some(v) = up.opts.auto_start {
        job.auto_start = v;
        changed(
            "autoStart",
            json!(use_str(old.auto_start)),
            json!(use_str(v)),
        );
    }
    if up.clear_script {
        job.script_path = None;
        job.script_run = None;
        changed("scriptPath", json!(old.script_path), Value::Null);
        changed("scriptRun", json!(old.script_run), Value::Null);
    }
    if let Some(p) = &up.opts.script_path {
        job.script_path = Some(p.clone());
        changed("scriptPath", json!(old.script_path), json!(p));
    }
    if let Some(r) = up.opts.script_run {
        job.script_run = Some(r.as_str().to_string());
        changed("scriptRun", json!(old.script_run), json!(r.as_str()));
    }
    if job.script_path.is_some() != job.script_run.is_some() {
        return Err(ApiError::field(
            "scriptRun",
            "scriptPath and scriptRun (before or after) must be set together",
        ));
    }
    if let Some(r) = &up.opts.repository {
        let id = match r {
            RepoInput::Id { id, .. } => *id,
            RepoInput::Spec { kind, path } => {
                let found = catalog.repository_by_path(*kind, path);
                db_error(&catalog)?;
                found.ok_or_else(|| {
                    ApiError::not_found(format!("Repository '{path}' is not registered"))
                })?
            }
        };
        let exists = catalog.repository(id).is_some();
        db_error(&catalog)?;
        if !exists {
            return Err(ApiError::not_found(format!(
                "Repository with ID '{id}' not found"
            )));
        }
        if id != old.repository_id && busy {
            return Err(ApiError::conflict(format!(
                "Backup job '{}' is running; change its repository when the run has finished",
                old.name
            )));
        }
        job.repository_id = id;
        changed("repository", json!(old.repository_id), json!(id));
    }
    if let Some(s) = up.status {
        // Asking for a run (or a stop) is an action even when the flag does not change.
        let new = if s == StatusChange::Start {
            "start"
        } else {
            "stop"
        };
        let prev = if old.stopped { "stop" } else { "start" };
        fields.push(json!({ "field": "status", "previous": prev, "new": new }));
    }
    db_error(&catalog)?;
    db::jobs::update(tx, &job)?;
    if job.name != old.name {
        for id in [job.schedule_basic_id, job.schedule_advanced_id]
            .into_iter()
            .flatten()
        {
            db::schedules::set_job_name(tx, id, &job.name)?;
        }
    }
    if job.schedule_basic_id != old.schedule_basic_id {
        release_schedule(tx, old.schedule_basic_id)?;
    }
    if job.schedule_advanced_id != old.schedule_advanced_id {
        release_schedule(tx, old.schedule_advanced_id)?;
    }
    let moved = if job.name != old.name && job.repository_id == old.repository_id {
        db::repositories::get(tx, old.repository_id)?
            .map(|r| (r, old.name.clone(), job.name.clone()))
    } else {
        None
    };
    Ok(Applied { job, fields, moved })
}

/// Changes a job; `status` starts or stops it (spec §4.3).
#[utoipa::path(
    put,
    path = "/api/backups/{identifier}",
    tag = "backups",
    operation_id = "update_backup",
    request_body = crate::api::openapi::schemas::UpdateRequest,
    params(
        ("identifier" = String, Path, description = "Job ID or job name"),
    ),
    responses(
        (status = 200, description = "Updated", body = crate::api::openapi::schemas::UpdatedEnvelope),
        (status = 409, description = "The new name exists, or the job is running", body = crate::api::openapi::schemas::ErrorEnvelope),
    )
)]
pub async fn update(
    state: web::Data<AppState>,
    _auth: Authed,
    ident: web::Path<String>,
    body: web::Json<Value>,
) -> ApiResult {
    let (ident, body) = (ident.into_inner(), body.into_inner());
    let st = state.clone();
    let applied = web::block(move || {
        let runner = st.runner.clone();
        st.db.write_blocking(|tx| {
            let a = apply_update(&st, tx, &ident, &body, &|id| runner.is_active(id))?;
            // A renamed job keeps its restore points: its directory moves with it.
            if let Some((repo, from, to)) = &a.moved {
                move_points(&st, repo, from, to)?;
            }
            Ok::<_, ApiError>(a)
        })
    })
    .await
    .map_err(ApiError::internal)??;
    let job = &applied.job;
    state.runner.arm(job.id).await;
    let status = applied
        .fields
        .iter()
        .find(|f| f["field"] == "status")
        .map(|f| f["new"].clone());
    match status.as_ref().and_then(Value::as_str) {
        Some("start") => {
            state.runner.start_job(job.id).await?;
        }
        Some("stop") => {
            state.runner.stop_job(job.id).await?;
        }
        _ => {}
    }
    tracing::info!(job = %job.name, fields = applied.fields.len(), "backup job updated");
    Ok(ok(
        "Backup job updated",
        json!({
            "jobInfo": [{ "id": job.id.to_string(), "name": job.name, "partition": job.partition }],
            "summary": { "state": "success", "updatedFields": applied.fields },
        }),
    ))
}

/// Same as `PUT` (spec §4.3 names both).
#[utoipa::path(
    patch,
    path = "/api/backups/{identifier}",
    tag = "backups",
    operation_id = "patch_backup",
    request_body = crate::api::openapi::schemas::UpdateRequest,
    params(("identifier" = String, Path, description = "Job ID or job name")),
    responses(
        (status = 200, description = "Updated", body = crate::api::openapi::schemas::UpdatedEnvelope),
        (status = 409, description = "The new name exists, or the job is running", body = crate::api::openapi::schemas::ErrorEnvelope),
    )
)]
pub async fn patch(
    state: web::Data<AppState>,
    auth: Authed,
    ident: web::Path<String>,
    body: web::Json<Value>,
) -> ApiResult {
    update(state, auth, ident, body).await
}

/// Deletes a job, its schedules and history; restore points stay (spec §4.4).
#[utoipa::path(
    delete,
    path = "/api/backups/{identifier}",
    tag = "backups",
    operation_id = "delete_backup",
    params(
        ("identifier" = String, Path, description = "Job ID or job name"),
        crate::api::openapi::params::JobSelector,
    ),
    responses(
        (status = 200, description = "Deleted", body = crate::api::openapi::schemas::DeletedEnvelope),
        (status = 403, description = "The item belongs to another center", body = crate::api::openapi::schemas::ErrorEnvelope),
        (status = 409, description = "The job is running", body = crate::api::openapi::schemas::ErrorEnvelope),
    )
)]
pub async fn delete(
    state: web::Data<AppState>,
    _auth: Authed,
    ident: web::Path<String>,
    q: web::Query<Query>,
) -> ApiResult {
    let (ident, q) = (ident.into_inner(), q.into_inner());
    if !center_filter_matches(&q, 1, &state.settings.center_name) {
        return Err(ApiError::forbidden(format!(
            "Backup job does not belong to center '{}'",
            q.get("center").cloned().unwrap_or_default()
        )));
    }
    let snap = snapshot(&state).await?;
    let job = find(&snap, &ident)
        .ok_or_else(|| not_found(&ident))?
        .clone();
    if q.get("partition").is_some_and(|p| *p != job.partition) {
        return Err(ApiError::not_found(format!(
            "Backup job '{}' has no partition '{}'",
            job.name,
            q.get("partition").cloned().unwrap_or_default()
        )));
    }
    if state.runner.is_active(job.id) {
        return Err(ApiError::conflict(format!(
            "Backup job '{}' is running; stop it first (PUT status: stop)",
            job.name
        )));
    }
    let dir = job_dir(&state, snap.repos.get(&job.repository_id), &job.name);
    let j = job.clone();
    let history = state
        .db
        .write(move |tx| {
            let n = db::runs::delete_for_job(tx, j.id)?;
            db::jobs::delete(tx, j.id)?;
            release_schedule(tx, j.schedule_basic_id)?;
            release_schedule(tx, j.schedule_advanced_id)?;
            Ok::<_, ApiError>(n)
        })
        .await?;
    state.runner.disarm(job.id).await;
    tracing::info!(job = %job.name, "backup job deleted; its restore points stay in the repository");
    let mut m = Map::new();
    m.insert("name".into(), json!(job.name));
    m.insert("partition".into(), json!(job.partition));
    m.insert(
        "deletedComponents".into(),
        json!({ "basicInfo": true, "detailInfo": true, "historyData": true, "logData": true }),
    );
    m.insert(
        "restorePoints".into(),
        json!({
            "kept": true,
            "path": dir.map(|d| d.display().to_string()).unwrap_or_else(|| "-".into()),
            "message": "Restore points stay in the repository; restore them with `zdm-backupd restore` or delete the directory when no longer needed.",
        }),
    );
    Ok(ok(
        "Backup job deleted",
        json!({
            "jobInfo": [Value::Object(m)],
            "summary": { "state": "success", "affectedComponents": {
                "basicInfoDeleted": 1, "detailInfoDeleted": 1,
                "historyDataDeleted": history, "logDataDeleted": history } },
        }),
    ))
}
