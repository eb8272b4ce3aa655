//! `GET/PUT/PATCH/DELETE /api/backups[/{identifier}]` (spec §4.1-4.4): jobs with their computed
//! status, next run, last result and restore points; partial updates; deletion.

use super::auth::Authed;
use super::backups::{rejection, FsProbe};
use super::envelope::{ok, success, zone, ApiError, ApiResult};
use super::query::{center_filter_matches, flag, paginate, paging, Query};
use super::views::jobs as v;
use crate::db::jobs::{JobRow, TxCatalog};
use crate::db::{self, repositories::RepoRow, runs::RunRow};
use crate::domain::ids::{JobId, ScheduleId};
use crate::domain::job::{parse_update, Mode, ScriptRun, StatusChange};
use crate::domain::registration::Catalog;
use crate::domain::run::{RunKind, RunState};
use crate::domain::update::{plan_update, CurrentJob, SlotWrite};
use crate::engine::repo;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::web;
use serde_json::Value;
use std::path::PathBuf;

pub use crate::read_model::Snapshot;

/// The read model's snapshot, read on the database's reader pool.
pub async fn snapshot(state: &AppState) -> Result<Snapshot, ApiError> {
    state
        .db
        .read(|c| crate::read_model::snapshot(c).map_err(ApiError::from))
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
        snap.last.get(&job.id).map(|r| r.state),
    )
}

fn schedule_ref(snap: &Snapshot, id: Option<ScheduleId>) -> v::JobSchedulePartOrDash {
    match id.and_then(|id| snap.schedules.get(&id)) {
        Some(s) => v::JobSchedulePartOrDash::Part(v::JobSchedulePart {
            id: s.id.to_string(),
            kind: s.data.as_ref().map_or("Unknown", |d| d.kind.name()).into(),
            description: s.data.as_ref().map_or_else(|| "-".into(), |d| d.describe()),
        }),
        None => v::JobSchedulePartOrDash::Dash("-".into()),
    }
}

fn options(job: &JobRow) -> v::JobOptionsView {
    v::JobOptionsView {
        rotation: job.rotation.to_string(),
        compression: use_str(job.compression).into(),
        encryption: use_str(job.encryption).into(),
        exclude_dir: job.exclude_dir.join("|"),
        network_speed: job.network_limit.to_string(),
        auto_start: use_str(job.auto_start).into(),
        script_path: job.script_path.clone().unwrap_or_default(),
        script_run_timing: match job.script_run.as_deref() {
            Some("before") => "before job",
            Some("after") => "after job",
            _ => "",
        }
        .into(),
        notification: v::Notification {
            mail: job.mail_event.clone().unwrap_or_default(),
        },
    }
}

/// One item of the job list (spec §4.1), plus `nextRun` and `lastRun`.
pub fn item(state: &AppState, snap: &Snapshot, job: &JobRow, detail: bool) -> v::JobItem {
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
    let last_run = match last {
        Some(r) => v::LastRunOrDash::Run(v::LastRun {
            history_id: r.id,
            kind: r.kind.map_or("-", RunKind::as_str).into(),
            result: result_status(r).into(),
            start: z.format_secs(r.started_at),
            end: z.format_secs(r.ended_at),
            restore_point: r.point_id.clone().unwrap_or_else(|| "-".into()),
            error: r.error.clone().unwrap_or_else(|| "-".into()),
        }),
        None => v::LastRunOrDash::Dash("-".into()),
    };
    let info = v::JobInfo {
        id: job.id.to_string(),
        name: job.name.clone(),
        mode: job.mode.clone(),
        partition: job.partition.clone(),
        schedule: v::JobSchedule {
            basic: schedule_ref(snap, job.schedule_basic_id),
            advanced: schedule_ref(snap, job.schedule_advanced_id),
        },
        status: v::JobStatus {
            current: status_of(state, snap, job).into(),
            time: v::RunTimes {
                start,
                end,
                elapsed: el,
            },
        },
        next_run: state
            .runner
            .armed_at(job.id)
            .map_or_else(|| "-".into(), |t| z.format(t)),
        last_run,
        options: detail.then(|| options(job)),
        restore_point_count: None,
        last_restore_test: snap.proofs.get(&job.name).map(super::images::restore_test),
        restore_proof: crate::read_model::proof_state(
            snap,
            &job.name,
            chrono::Utc::now(),
            &state.settings.zone,
        )
        .into(),
    };
    v::JobItem {
        job: v::JobBlock {
            info,
            last_updated: z.format_secs(Some(job.updated_at)),
            restore_points: None,
            rejected_points: None,
        },
        repository: v::JobRepository {
            id: job.repository_id.to_string(),
            kind: repo.map_or("-", |r| r.kind.as_str()).into(),
            path: repo.map_or("-", |r| r.path.as_str()).into(),
        },
        system: v::JobSystem {
            id: "1".into(),
            name: state.settings.server_name.clone(),
            os: "Linux".into(),
        },
    }
}

/// History `result.status`: `COMPLETE` for successful runs, `FAIL` otherwise (spec §4.7), with
/// `MISSED`/`SKIPPED`/`CANCELED` where the vendor had no value.
pub fn result_status(r: &RunRow) -> &'static str {
    match r.state {
        RunState::Complete | RunState::Warning => "COMPLETE",
        RunState::Missed => "MISSED",
        RunState::Skipped => "SKIPPED",
        RunState::Canceled => "CANCELED",
        RunState::Queued | RunState::Running | RunState::Canceling => "RUNNING",
        RunState::Error | RunState::Interrupted => "FAIL",
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
        if id.parse::<i64>().ok() != Some(job.repository_id.0) {
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
        (status = 200, description = "Jobs", body = crate::api::views::jobs::JobListEnvelope),
    )
)]
pub async fn list(state: web::Data<AppState>, _auth: Authed, q: web::Query<Query>) -> ApiResult {
    let q = q.into_inner();
    let p = paging(&q)?;
    let detail = flag(&q, "detail")?;
    let snap = snapshot(&state).await?;
    let mut items = Vec::new();
    let mut shown = Vec::new();
    for job in &snap.jobs {
        if matches(&state, &snap, job, &q)? {
            items.push(item(&state, &snap, job, detail));
            shown.push(job.clone());
        }
    }
    if detail {
        // Counting local directories is cheap, shares answer from the inventory of their last
        // run; reading every manifest is left to the single GET.
        let server = state.settings.server_name.clone();
        let counts = web::block(move || {
            shown
                .iter()
                .map(|j| crate::read_model::point_count(&snap, &server, j))
                .collect::<Vec<_>>()
        })
        .await
        .map_err(ApiError::internal)?;
        for (item, n) in items.iter_mut().zip(counts) {
            item.job.info.restore_point_count = Some(n);
        }
    }
    let (page, meta) = paginate(items, &p);
    Ok(success(StatusCode::OK, "Backup job list", Some(page), meta))
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
        .and_then(|id| snap.jobs.iter().find(|j| j.id.0 == id))
        .or_else(|| snap.jobs.iter().find(|j| j.name == ident))
}

/// The job's directory in its repository, when the repository is a local directory.
pub fn job_dir(state: &AppState, repo: Option<&RepoRow>, job: &str) -> Option<PathBuf> {
    crate::read_model::job_dir(&state.settings.server_name, repo, job)
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
    if t.objects().is_some() {
        return Err(ApiError::conflict(format!(
            "{} holds restore points, and an object store cannot rename them (it would copy \
             every archive); keep the name, or register a new job under the new name",
            repo::describe(&*t, &src)
        )));
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
pub(crate) fn auth_key(state: &AppState) -> Result<crate::engine::trust::AuthKey, ApiError> {
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
    match crate::repocheck::open_to_read(r, runner) {
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
        crate::api::openapi::params::JobViewFilters,
    ),
    responses(
        (status = 200, description = "The job", body = crate::api::views::jobs::JobEnvelope),
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
    let mut view = item(&state, &snap, job, true);
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
    view.job.rejected_points = Some(
        points
            .rejected
            .iter()
            .map(|r| v::RejectedPoint {
                id: r.name.clone(),
                reason: r.reason.clone(),
            })
            .collect(),
    );
    view.job.restore_points = Some(
        points
            .points
            .iter()
            .rev()
            .map(|p| {
                let m = &p.manifest;
                v::RestorePoint {
                    id: m.id.clone(),
                    kind: m.kind.clone(),
                    created_at: fmt(&m.finished),
                    parent: m.parent.clone(),
                    entries: m.entries,
                    source_bytes: m.source_bytes,
                    stored_bytes: m.stored_bytes(),
                    archived_bytes: m.archived_bytes,
                    compressed: m.compression,
                    encrypted: m.encryption,
                }
            })
            .collect(),
    );
    Ok(ok("Backup job retrieved", view))
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
fn release_schedule(tx: &rusqlite::Connection, id: Option<ScheduleId>) -> rusqlite::Result<()> {
    match id {
        Some(id) => db::schedules::delete_unused(tx, id),
        None => Ok(()),
    }
}

/// Carries out the plan for one schedule half; returns the record the job refers to now.
fn write_slot(
    tx: &rusqlite::Connection,
    existing: Option<ScheduleId>,
    w: &SlotWrite,
    job: &JobRow,
) -> rusqlite::Result<Option<ScheduleId>> {
    Ok(match w {
        SlotWrite::Keep => existing,
        SlotWrite::Overwrite(id, d) => {
            db::schedules::overwrite(tx, *id, d)?;
            Some(*id)
        }
        SlotWrite::Insert(d) => Some(db::schedules::insert(tx, d, job.user_id, &job.name)?),
        SlotWrite::Remove => None,
    })
}

/// The stored job as the update planner sees it.
fn current_job(catalog: &TxCatalog, old: &JobRow, running: bool) -> CurrentJob {
    let slot = |id: Option<ScheduleId>| id.and_then(|id| catalog.schedule(id).map(|d| (id, d)));
    CurrentJob {
        name: old.name.clone(),
        mode: mode_of(&old.mode),
        repository_id: old.repository_id,
        basic: slot(old.schedule_basic_id),
        advanced: slot(old.schedule_advanced_id),
        rotation: old.rotation.clamp(0, u32::MAX as i64) as u32,
        compression: old.compression,
        encryption: old.encryption,
        exclude_dir: old.exclude_dir.clone(),
        mail_event: old.mail_event.clone(),
        network_limit: old.network_limit.clamp(0, u32::MAX as i64) as u32,
        auto_start: old.auto_start,
        script: match (
            &old.script_path,
            old.script_run.as_deref().and_then(ScriptRun::parse),
        ) {
            (Some(p), Some(r)) => Some((p.clone(), r)),
            _ => None,
        },
        stopped: old.stopped,
        running,
    }
}

struct Applied {
    job: JobRow,
    fields: Vec<v::UpdatedField>,
    status: Option<StatusChange>,
    /// A rename within the same repository: its restore points move along.
    moved: Option<Moved>,
}

/// The stored job, its planner view and the plan of the request.
struct Planned {
    old: JobRow,
    current: CurrentJob,
    plan: crate::domain::update::UpdatePlan,
}

impl Planned {
    /// A rename within the same repository: its restore points move along.
    fn moved(&self, conn: &rusqlite::Connection) -> Result<Option<Moved>, ApiError> {
        Ok(match self.plan.renamed(&self.current) {
            Some((from, to)) => {
                db::repositories::get(conn, self.old.repository_id)?.map(|r| (r, from, to))
            }
            None => None,
        })
    }
}

/// A repository and the job directory names to move between.
type Moved = (RepoRow, String, String);

/// Parses and plans an update against the stored job (read only).
fn plan_for(
    state: &AppState,
    conn: &rusqlite::Connection,
    ident: &str,
    body: &Value,
    running: &dyn Fn(JobId) -> bool,
) -> Result<Planned, ApiError> {
    let now = state.settings.zone.now_local();
    let up =
        parse_update(body, &FsProbe::new(&state.settings), now).map_err(ApiError::validation)?;
    let old = db::jobs::find(conn, ident)?.ok_or_else(|| not_found(ident))?;
    let catalog = TxCatalog::new(conn);
    let current = current_job(&catalog, &old, running(old.id));
    db_error(&catalog)?;
    let plan = plan_update(&current, &up, &catalog, now);
    db_error(&catalog)?;
    let plan = plan.map_err(rejection)?;
    Ok(Planned { old, current, plan })
}

/// Plans the update in the domain and writes it; nothing here touches the repository, so the
/// database writer is held only for database work.
fn apply_update(
    state: &AppState,
    tx: &rusqlite::Transaction,
    ident: &str,
    body: &Value,
    running: &dyn Fn(JobId) -> bool,
) -> Result<Applied, ApiError> {
    let planned = plan_for(state, tx, ident, body, running)?;
    let moved = planned.moved(tx)?;
    let Planned { old, plan, .. } = planned;
    let mut job = old.clone();
    job.name = plan.name.clone();
    job.mode = plan.mode.as_str().to_string();
    job.repository_id = plan.repository_id;
    job.rotation = plan.rotation.into();
    job.compression = plan.compression;
    job.encryption = plan.encryption;
    job.exclude_dir = plan.exclude_dir.clone();
    job.mail_event = plan.mail_event.clone();
    job.network_limit = plan.network_limit.into();
    job.auto_start = plan.auto_start;
    job.script_path = plan.script.as_ref().map(|s| s.0.clone());
    job.script_run = plan.script.as_ref().map(|s| s.1.as_str().to_string());
    job.schedule_basic_id = write_slot(tx, old.schedule_basic_id, &plan.basic, &job)?;
    job.schedule_advanced_id = write_slot(tx, old.schedule_advanced_id, &plan.advanced, &job)?;
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
    Ok(Applied {
        job,
        fields: plan
            .changes
            .into_iter()
            .map(|c| v::UpdatedField {
                field: c.field,
                previous: c.previous,
                new: c.new,
            })
            .collect(),
        status: plan.status,
        moved,
    })
}

/// Moves a job's restore points on the blocking pool.
async fn move_blocking(state: &web::Data<AppState>, m: Moved) -> Result<(), ApiError> {
    let st = state.clone();
    web::block(move || move_points(&st, &m.0, &m.1, &m.2))
        .await
        .map_err(ApiError::internal)?
}

/// Undoes a committed rename whose restore points could not be moved: the job and its
/// schedule records get the old name back.
fn rename_back(tx: &rusqlite::Connection, job: &JobRow, old_name: &str) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE jobs SET name = ?2 WHERE id = ?1",
        rusqlite::params![job.id, old_name],
    )?;
    for id in [job.schedule_basic_id, job.schedule_advanced_id]
        .into_iter()
        .flatten()
    {
        db::schedules::set_job_name(tx, id, old_name)?;
    }
    Ok(())
}

/// Changes a job; `status` starts or stops it (spec §4.3).
#[utoipa::path(
    put,
    path = "/api/backups/{identifier}",
    tag = "backups",
    operation_id = "update_backup",
    request_body = crate::api::openapi::requests::UpdateRequest,
    params(
        ("identifier" = String, Path, description = "Job ID or job name"),
    ),
    responses(
        (status = 200, description = "Updated", body = crate::api::views::jobs::UpdatedEnvelope),
        (status = 409, description = "The new name exists, or the job is running", body = crate::api::envelope::ErrorEnvelope),
    )
)]
pub async fn update(
    state: web::Data<AppState>,
    _auth: Authed,
    ident: web::Path<String>,
    body: web::Json<Value>,
) -> ApiResult {
    let (ident, body) = (ident.into_inner(), body.into_inner());
    // A rename moves the job's restore points: no run of the job may start until that is done.
    let _hold = if body.get("changeName").is_some() {
        let i = ident.clone();
        let id = state
            .db
            .read(move |c| db::jobs::find(c, &i).map_err(ApiError::from))
            .await?
            .map(|j| j.id);
        id.and_then(|id| state.runner.hold(id))
    } else {
        None
    };
    // Planned first without the writer: a rename on a share moves the restore points before
    // anything is committed, so a move that fails changes nothing, and the database writer is
    // never held while the share answers.
    let (st, i, b) = (state.clone(), ident.clone(), body.clone());
    let premoved = state
        .db
        .read(move |c| {
            let runner = st.runner.clone();
            plan_for(&st, c, &i, &b, &|id| runner.is_active(id))?.moved(c)
        })
        .await?;
    if let Some(m) = premoved.clone() {
        move_blocking(&state, m).await?;
    }
    let st = state.clone();
    let applied = web::block(move || {
        let runner = st.runner.clone();
        st.db
            .write_blocking(|tx| apply_update(&st, tx, &ident, &body, &|id| runner.is_active(id)))
    })
    .await
    .map_err(ApiError::internal)
    .and_then(|r| r);
    let applied = match applied {
        Ok(a) => a,
        Err(e) => {
            // Nothing was committed: the points go back where they were.
            if let Some((repo, from, to)) = premoved {
                if let Err(back) = move_blocking(&state, (repo, to, from)).await {
                    tracing::error!(error = %back.message, "restore points could not be moved back after a failed update");
                }
            }
            return Err(e);
        }
    };
    let job = &applied.job;
    // Another request changed the job between the plan and the commit: follow what was
    // committed (rare; the points move now, and the rename is undone if they cannot).
    if applied.moved.as_ref().map(|m| (&m.1, &m.2)) != premoved.as_ref().map(|m| (&m.1, &m.2)) {
        if let Some((repo, from, to)) = premoved {
            let _ = move_blocking(&state, (repo, to, from)).await;
        }
        if let Some(m) = applied.moved.clone() {
            if let Err(e) = move_blocking(&state, m.clone()).await {
                let j = job.clone();
                let undone = state
                    .db
                    .write(move |tx| rename_back(tx, &j, &m.1).map_err(ApiError::from))
                    .await;
                tracing::warn!(job = %job.id, error = %e.message, undone = undone.is_ok(), "rename undone: the restore points could not be moved");
                undone?;
                return Err(e);
            }
        }
    }
    state.runner.arm(job.id).await;
    match applied.status {
        Some(StatusChange::Start) => {
            let started = state.runner.start_job(job.id).await?;
            // Started meanwhile by its schedule: refused like a start seen in the plan.
            if started == crate::runner::Enqueued::Busy {
                return Err(ApiError::conflict(format!(
                    "Backup job '{}' is already running; wait for the run to finish or stop it (status: stop)",
                    job.name
                )));
            }
        }
        Some(StatusChange::Stop) => {
            state.runner.stop_job(job.id).await?;
        }
        None => {}
    }
    tracing::info!(job = %job.name, fields = applied.fields.len(), "backup job updated");
    Ok(ok(
        "Backup job updated",
        v::Updated {
            job_info: vec![v::JobRef {
                id: job.id.to_string(),
                name: job.name.clone(),
                partition: job.partition.clone(),
            }],
            summary: v::UpdateSummary {
                state: "success".into(),
                updated_fields: applied.fields,
            },
        },
    ))
}

/// Same as `PUT` (spec §4.3 names both).
#[utoipa::path(
    patch,
    path = "/api/backups/{identifier}",
    tag = "backups",
    operation_id = "patch_backup",
    request_body = crate::api::openapi::requests::UpdateRequest,
    params(("identifier" = String, Path, description = "Job ID or job name")),
    responses(
        (status = 200, description = "Updated", body = crate::api::views::jobs::UpdatedEnvelope),
        (status = 409, description = "The new name exists, or the job is running", body = crate::api::envelope::ErrorEnvelope),
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
        (status = 200, description = "Deleted", body = crate::api::views::jobs::DeletedEnvelope),
        (status = 403, description = "The item belongs to another center", body = crate::api::envelope::ErrorEnvelope),
        (status = 409, description = "The job is running", body = crate::api::envelope::ErrorEnvelope),
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
    // R5: a restore reading the job's points keeps it.
    if state.runner.is_reading(&job.name) {
        return Err(ApiError::conflict(format!(
            "Backup job '{}' is being restored from; wait for the recovery to finish or stop it",
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
    let deleted = v::DeletedJob {
        name: job.name.clone(),
        partition: job.partition.clone(),
        deleted_components: v::DeletedComponents {
            basic_info: true,
            detail_info: true,
            history_data: true,
            log_data: true,
        },
        restore_points: v::RestorePointsKept {
            kept: true,
            path: dir.map_or_else(|| "-".into(), |d| d.display().to_string()),
            message: "Restore points stay in the repository; restore them with `zdm-backupd \
                      restore` or delete the directory when no longer needed."
                .into(),
        },
    };
    Ok(ok(
        "Backup job deleted",
        v::Deleted {
            job_info: vec![deleted],
            summary: v::DeleteSummary {
                state: "success".into(),
                affected_components: v::AffectedComponents {
                    basic_info_deleted: 1,
                    detail_info_deleted: 1,
                    history_data_deleted: history as u64,
                    log_data_deleted: history as u64,
                },
            },
        },
    ))
}
