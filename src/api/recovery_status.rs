//! What recovery jobs are and did (RECOVERIES.md §4.5): `GET /api/recoveries[/{identifier}]`,
//! `GET /api/recoveries/monitoring/{job,system}/{identifier}` and
//! `GET /api/recoveries/histories[/{identifier}]`, in the vendor's shapes.

use super::auth::Authed;
use super::envelope::{ok, zone, ApiError, ApiResult};
use super::jobs::elapsed;
use super::query::{paging_with, Query};
use super::recoveries::{file_name, find, use_str};
use super::views::recoveries as v;
use crate::db::{self, recoveries::RecoveryRow, recoveries::RecoveryRunRow};
use crate::domain::job::Ref;
use crate::runner::recovery::{group, PartProgress};
use crate::runner::Phase;
use crate::state::AppState;
use actix_web::web;
use std::collections::HashMap;

/// What the list and get answers need besides the jobs.
struct Context {
    jobs: Vec<RecoveryRow>,
    last: HashMap<i64, RecoveryRunRow>,
    schedules: HashMap<i64, crate::db::schedules::ScheduleRow>,
    repos: HashMap<i64, crate::db::repositories::RepoRow>,
}

async fn context(state: &AppState) -> Result<Context, ApiError> {
    state
        .db
        .read(|c| {
            let jobs = db::recoveries::list(c)?;
            let mut last = HashMap::new();
            for j in &jobs {
                if let Some(r) = db::recoveries::last_run(c, j.id)? {
                    last.insert(j.id.0, r);
                }
            }
            Ok::<_, ApiError>(Context {
                jobs,
                last,
                schedules: db::schedules::list(c)?
                    .into_iter()
                    .map(|s| (s.id.0, s))
                    .collect(),
                repos: db::repositories::list(c)?
                    .into_iter()
                    .map(|r| (r.id.0, r))
                    .collect(),
            })
        })
        .await
}

/// The vendor's PascalCase status of a recovery job.
fn status(state: &AppState, ctx: &Context, job: &RecoveryRow) -> &'static str {
    if let Some(a) = state.runner.recovery(job.id) {
        return match a.live.view().phase {
            Phase::Queued => "Preparing",
            Phase::Running => "Processing",
            Phase::Canceling => "Canceling",
        };
    }
    let scheduled = !job.stopped && state.runner.recovery_armed_at(job.id).is_some();
    match ctx.last.get(&job.id.0).map(|r| r.state.as_str()) {
        Some("canceled") => "Canceled",
        Some("error" | "interrupted") => "Error",
        _ if scheduled => "Scheduled",
        Some("complete") => "Complete",
        _ => "Registered",
    }
}

fn side(state: &AppState, name: &str) -> v::SystemSide {
    let here = name == state.settings.server_name;
    v::SystemSide {
        id: if here { "1".into() } else { "-".into() },
        name: name.into(),
        os: if here {
            "Linux".into()
        } else {
            "UNKNOWN".into()
        },
    }
}

fn times(r: Option<&RecoveryRunRow>) -> v::StatusTime {
    let z = zone();
    let start = r.and_then(|r| r.started_at);
    let end = r.and_then(|r| r.ended_at);
    v::StatusTime {
        start: start
            .map(|t| z.format_secs(Some(t)))
            .unwrap_or_else(|| "-".into()),
        end: end
            .map(|t| z.format_secs(Some(t)))
            .unwrap_or_else(|| "-".into()),
        elapsed: match (start, end) {
            (Some(s), Some(e)) => elapsed(e - s),
            (Some(s), None) => elapsed(chrono::Utc::now().timestamp() - s),
            _ => "-".into(),
        },
    }
}

fn item(
    state: &AppState,
    ctx: &Context,
    job: &RecoveryRow,
    parts: &[crate::host::Partition],
) -> v::RecoveryItem {
    let z = zone();
    let spec = &job.spec;
    let schedule = job.schedule_id.and_then(|id| {
        let row = ctx.schedules.get(&id.0)?;
        let d = row.data.as_ref()?;
        Some(v::RecoveryScheduleRef {
            id: id.0,
            kind: d.kind.name().into(),
            description: d.describe(),
        })
    });
    let updated = z.format_secs(Some(job.updated_at));
    v::RecoveryItem {
        system: v::RecoverySystem {
            source: side(state, &spec.source),
            target: side(state, &spec.target),
        },
        job: v::RecoveryJobView {
            info: v::RecoveryInfo {
                id: job.id.to_string(),
                name: job.name.clone(),
                schedule: v::ScheduleBasic { basic: schedule },
                status: v::RecoveryStatus {
                    current: status(state, ctx, job).into(),
                    time: times(ctx.last.get(&job.id.0)),
                },
                last_updated: updated.clone(),
                platform: spec.platform.clone(),
                network_speed: spec.network_limit,
                script: spec.script_path.as_ref().map(|p| v::ScriptView {
                    path: p.clone(),
                    run: spec.script_run.clone().unwrap_or_else(|| "before".into()),
                }),
                after_reboot: "maintain".into(),
                notification: v::RecoveryNotification {
                    mail: spec.mail_event.clone().unwrap_or_default(),
                },
                next_run: state.runner.recovery_armed_at(job.id).map(|t| z.format(t)),
            },
            detail: spec
                .parts
                .iter()
                .map(|p| {
                    let repo = ctx.repos.get(&p.repository_id);
                    let mount =
                        crate::restore_target::mount_of(std::path::Path::new(&p.target_dir), parts);
                    v::RecoveryDetail {
                        from: p.source_partition.clone(),
                        to: p.target_dir.clone(),
                        target_device: mount
                            .map(|m| m.device.clone())
                            .unwrap_or_else(|| "-".into()),
                        mode: p.mode.clone(),
                        backup: v::DetailBackup {
                            job_name: p.backup_job.clone(),
                            file_name: file_name(&p.backup_file),
                            latest: use_str(
                                p.backup_file == crate::domain::recovery::BackupFile::Latest,
                            )
                            .into(),
                        },
                        repository: v::RepositoryRefView {
                            id: p.repository_id,
                            path: repo.map(|r| r.path.clone()).unwrap_or_default(),
                            kind: repo
                                .map(|r| r.kind.as_str().to_string())
                                .unwrap_or_default(),
                        },
                        last_updated: updated.clone(),
                        option: v::DetailOption {
                            overwrite: if matches!(
                                p.overwrite_policy.as_str(),
                                "always" | "if-changed" | "if-newer"
                            ) {
                                "Overwritten"
                            } else {
                                "Not overwritten"
                            }
                            .into(),
                            file_system: mount
                                .map(|m| m.fs_type.clone())
                                .unwrap_or_else(|| "-".into()),
                            overwrite_policy: p.overwrite_policy.clone(),
                            paths: p.paths.clone(),
                            exclude_paths: p.exclude_paths.clone(),
                            layout: if p.flat { "flat" } else { "original" }.into(),
                            delete: p.delete,
                            verify: use_str(spec.verify).into(),
                            retain_target: use_str(spec.retain_target).into(),
                        },
                    }
                })
                .collect(),
        },
    }
}

fn enum_error(field: &str, allowed: &str, got: &str) -> ApiError {
    ApiError::field(
        field,
        format!("Invalid '{field}' value '{got}'. Allowed: {allowed}"),
    )
}

/// The vendor's filters, shared by the list and the single view.
fn matches(
    state: &AppState,
    ctx: &Context,
    job: &RecoveryRow,
    q: &Query,
) -> Result<bool, ApiError> {
    let spec = &job.spec;
    if let Some(m) = q.get("mode") {
        if spec.mode != m.trim().to_ascii_lowercase() {
            return Ok(false);
        }
    }
    if let Some(s) = q.get("status") {
        if !status(state, ctx, job).eq_ignore_ascii_case(s.trim()) {
            return Ok(false);
        }
    }
    if !server_matches(q, state, &spec.source, &spec.target) {
        return Ok(false);
    }
    if let Some(p) = q.get("partition") {
        let want: Vec<&str> = p
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if !spec
            .parts
            .iter()
            .any(|x| want.contains(&x.source_partition.as_str()))
        {
            return Ok(false);
        }
    }
    if q.get("drive").is_some() {
        return Ok(false);
    }
    if let Some(r) = q.get("repositoryID") {
        let id = super::query::numeric_id(r, "repositoryID")?;
        if !spec.parts.iter().any(|x| x.repository_id == id) {
            return Ok(false);
        }
    }
    let repo_of = |x: &crate::domain::recovery::RecoveryPart| ctx.repos.get(&x.repository_id);
    if let Some(t) = q.get("repositoryType") {
        let t = t.trim().to_ascii_lowercase();
        if !spec
            .parts
            .iter()
            .any(|x| repo_of(x).is_some_and(|r| r.kind.as_str() == t))
        {
            return Ok(false);
        }
    }
    if let Some(p) = q.get("repositoryPath") {
        if !spec
            .parts
            .iter()
            .any(|x| repo_of(x).is_some_and(|r| r.path == p.trim()))
        {
            return Ok(false);
        }
    }
    if let Some(p) = q.get("platform") {
        if !spec.platform.eq_ignore_ascii_case(p.trim()) {
            return Ok(false);
        }
    }
    if let Some(b) = q.get("backupName") {
        if !spec.parts.iter().any(|x| x.backup_job == b.trim()) {
            return Ok(false);
        }
    }
    if !super::query::center_filter_matches(q, 1, &state.settings.center_name) {
        return Ok(false);
    }
    Ok(true)
}

/// Recovery jobs.
#[utoipa::path(
    get,
    path = "/api/recoveries",
    tag = "recoveries",
    operation_id = "list_recoveries",
    params(crate::api::openapi::params::RecoveryFilters, crate::api::openapi::params::Paging),
    responses((status = 200, description = "Recovery jobs", body = v::RecoveryListEnvelope))
)]
pub async fn list(state: web::Data<AppState>, _auth: Authed, q: web::Query<Query>) -> ApiResult {
    let paging = paging_with(&q, false, 20)?;
    check_filters(&q)?;
    let ctx = context(&state).await?;
    let parts = state.partitions().await;
    let mut items = Vec::new();
    for job in &ctx.jobs {
        if let Some(id) = q.get("jobId") {
            if super::query::numeric_id(id, "jobId")? != job.id.0 {
                continue;
            }
        }
        if q.get("jobName").is_some_and(|n| n.trim() != job.name) {
            continue;
        }
        if matches(&state, &ctx, job, &q)? {
            items.push(item(&state, &ctx, job, &parts));
        }
    }
    super::query::page_answer(items, &paging, "Recovery job list")
}

/// One recovery job.
#[utoipa::path(
    get,
    path = "/api/recoveries/{identifier}",
    tag = "recoveries",
    operation_id = "get_recovery",
    params(
        ("identifier" = String, Path, description = "Recovery job ID or name"),
        crate::api::openapi::params::RecoveryViewFilters,
    ),
    responses((status = 200, description = "The recovery job", body = v::RecoveryItemEnvelope))
)]
pub async fn get(
    state: web::Data<AppState>,
    _auth: Authed,
    ident: web::Path<String>,
    q: web::Query<Query>,
) -> ApiResult {
    check_filters(&q)?;
    let job = find(&state, &ident).await?;
    let ctx = context(&state).await?;
    if !matches(&state, &ctx, &job, &q)? {
        return Err(ApiError::not_found(format!(
            "Recovery job '{}' exists, but no result matches the given filters.",
            job.name
        )));
    }
    let parts = state.partitions().await;
    Ok(ok(
        "Recovery job retrieved",
        item(&state, &ctx, &job, &parts),
    ))
}

fn rate(bps: f64) -> String {
    if bps <= 0.0 {
        "-".into()
    } else {
        format!("{:.1} MiB/s", bps / 1024.0 / 1024.0)
    }
}

fn percent(done: u64, total: u64) -> u64 {
    (done.min(total) * 100).checked_div(total).unwrap_or(0)
}

/// The progress of one partition of the active run.
fn part_progress(p: &PartProgress) -> v::RecoveryProgress {
    let z = zone();
    let pr = &p.progress;
    let running = p.status == "Processing";
    let (rate_s, eta) = if running {
        let el = p
            .started
            .map(|s| (chrono::Utc::now() - s).num_milliseconds() as f64 / 1000.0)
            .unwrap_or(0.0);
        let bps = if el > 0.0 { pr.bytes as f64 / el } else { 0.0 };
        let eta = if bps > 0.0 && pr.total_bytes >= pr.bytes {
            elapsed(((pr.total_bytes - pr.bytes) as f64 / bps) as i64)
        } else {
            "-".into()
        };
        (rate(bps), eta)
    } else {
        ("-".into(), "-".into())
    };
    let (done_bytes, total_bytes) = (pr.bytes, pr.total_bytes);
    v::RecoveryProgress {
        status: p.status.into(),
        percent: format!(
            "{}%",
            if p.status == "Complete" {
                100
            } else {
                percent(done_bytes, total_bytes)
            }
        ),
        message: if running {
            format!(
                "Restoring {} ({} of {} files)",
                if pr.current.is_empty() {
                    &p.partition
                } else {
                    &pr.current
                },
                group(pr.files),
                group(pr.total_files)
            )
        } else {
            p.status.to_string()
        },
        start: p.started.map(|t| z.format(t)).unwrap_or_else(|| "-".into()),
        elapsed: p
            .started
            .map(|s| elapsed((p.ended.unwrap_or_else(chrono::Utc::now) - s).num_seconds()))
            .unwrap_or_else(|| "-".into()),
        end: p.ended.map(|t| z.format(t)).unwrap_or_else(|| "-".into()),
        bytes: v::Amount {
            done: done_bytes,
            total: total_bytes,
        },
        files: v::FileAmount {
            done: pr.files,
            total: pr.total_files,
            skipped: pr.skipped,
        },
        rate: rate_s,
        eta,
    }
}

/// The progress of a finished partition, from its history row.
fn finished_part(
    p: &crate::db::recoveries::PartResult,
    run: &RecoveryRunRow,
) -> v::RecoveryProgress {
    let t = times(Some(run));
    let status = match run.state.as_str() {
        "canceled" => "Canceled",
        _ if p.ok => "Complete",
        _ => "Error",
    };
    v::RecoveryProgress {
        status: status.into(),
        percent: if p.ok { "100%".into() } else { "0%".into() },
        message: p.error.clone().unwrap_or_else(|| {
            format!(
                "Restored {} files, {} skipped",
                group(p.files),
                group(p.skipped)
            )
        }),
        start: t.start,
        elapsed: t.elapsed,
        end: t.end,
        bytes: v::Amount {
            done: p.bytes,
            total: p.bytes,
        },
        files: v::FileAmount {
            done: p.files,
            total: p.files,
            skipped: p.skipped,
        },
        rate: "-".into(),
        eta: "-".into(),
    }
}

fn monitor(
    state: &AppState,
    job: &RecoveryRow,
    last: Option<&RecoveryRunRow>,
) -> v::RecoveryMonitor {
    let active = state.runner.recovery(job.id);
    let (log, details) = match &active {
        Some(a) => {
            let view = a.live.view();
            let n = view.log.len();
            (
                view.log[n.saturating_sub(50)..].to_vec(),
                a.parts()
                    .iter()
                    .map(|p| v::MonitoredPartition {
                        partition: p.partition.clone(),
                        target: p.target.clone(),
                        progress_info: part_progress(p),
                    })
                    .collect(),
            )
        }
        None => {
            let log: Vec<String> = last
                .map(|r| r.log.lines().map(String::from).collect())
                .unwrap_or_default();
            let n = log.len();
            let details = job
                .spec
                .parts
                .iter()
                .map(|p| {
                    let done = last.and_then(|r| {
                        r.parts
                            .iter()
                            .find(|x| x.source_partition == p.source_partition)
                            .map(|x| finished_part(x, r))
                    });
                    v::MonitoredPartition {
                        partition: p.source_partition.clone(),
                        target: p.target_dir.clone(),
                        progress_info: done.unwrap_or_else(|| idle(last)),
                    }
                })
                .collect();
            (log[n.saturating_sub(50)..].to_vec(), details)
        }
    };
    v::RecoveryMonitor {
        system: v::MonitoredSystem {
            source: v::NameOnly {
                name: job.spec.source.clone(),
            },
            target: v::NameOnly {
                name: job.spec.target.clone(),
            },
        },
        job: v::RecoveryMonitoredJob {
            info: v::RecoveryMonitoredInfo {
                id: job.id.to_string(),
                name: job.name.clone(),
            },
            log,
            details,
        },
    }
}

/// A partition that has not run (or whose run stopped before it).
fn idle(last: Option<&RecoveryRunRow>) -> v::RecoveryProgress {
    let status = match last.map(|r| r.state.as_str()) {
        Some("canceled") => "Canceled",
        Some("error" | "interrupted") => "Error",
        _ => "Registered",
    };
    v::RecoveryProgress {
        status: status.into(),
        percent: "0%".into(),
        message: last
            .map(|r| r.description.clone())
            .unwrap_or_else(|| status.into()),
        start: "-".into(),
        elapsed: "-".into(),
        end: "-".into(),
        bytes: v::Amount { done: 0, total: 0 },
        files: v::FileAmount {
            done: 0,
            total: 0,
            skipped: 0,
        },
        rate: "-".into(),
        eta: "-".into(),
    }
}

/// Progress of a recovery job's current run (or its last one).
#[utoipa::path(
    get,
    path = "/api/recoveries/monitoring/job/{identifier}",
    tag = "recoveries",
    operation_id = "monitor_recovery_job",
    params(("identifier" = String, Path, description = "Recovery job ID or name")),
    responses((status = 200, description = "Progress", body = v::RecoveryMonitorEnvelope))
)]
pub async fn monitor_job(
    state: web::Data<AppState>,
    _auth: Authed,
    ident: web::Path<String>,
) -> ApiResult {
    let job = find(&state, &ident).await?;
    let id = job.id;
    let last = state
        .db
        .read(move |c| db::recoveries::last_run(c, id).map_err(ApiError::from))
        .await?;
    Ok(ok(
        "Recovery monitoring info",
        monitor(&state, &job, last.as_ref()),
    ))
}

/// Progress of every recovery job of a server (as target).
#[utoipa::path(
    get,
    path = "/api/recoveries/monitoring/system/{identifier}",
    tag = "recoveries",
    operation_id = "monitor_recovery_system",
    params(
        ("identifier" = String, Path, description = "Server ID or name"),
        crate::api::openapi::params::Paging,
    ),
    responses((status = 200, description = "Progress of each recovery job", body = v::SystemMonitorEnvelope))
)]
pub async fn monitor_system(
    state: web::Data<AppState>,
    _auth: Authed,
    ident: web::Path<String>,
    q: web::Query<Query>,
) -> ApiResult {
    if !Ref::parse_ident(ident.trim()).matches(1, &state.settings.server_name) {
        return Err(ApiError::not_found(format!("Server '{ident}' not found.")));
    }
    let paging = paging_with(&q, false, 20)?;
    let ctx = context(&state).await?;
    let mut jobs = Vec::new();
    let (mut completed, mut running, mut failed, mut pending) = (0, 0, 0, 0);
    let (mut done, mut total) = (0u64, 0u64);
    for job in &ctx.jobs {
        let m = monitor(&state, job, ctx.last.get(&job.id.0));
        match status(&state, &ctx, job) {
            "Complete" => completed += 1,
            "Preparing" | "Processing" | "Canceling" => running += 1,
            "Error" | "Canceled" => failed += 1,
            _ => pending += 1,
        }
        for d in &m.job.details {
            done += d.progress_info.bytes.done;
            total += d.progress_info.bytes.total;
        }
        jobs.push(m);
    }
    let count = jobs.len();
    let (jobs, pagination) = super::query::paginate(jobs, &paging);
    Ok(ok(
        "Server recovery monitoring info",
        v::SystemMonitor {
            summary: v::MonitorSummary {
                total: count as u64,
                completed,
                in_progress: running,
                failed,
                pending,
                overall_progress: format!("{}%", percent(done, total)),
            },
            jobs,
            pagination,
        },
    ))
}

fn history_item(r: &RecoveryRunRow) -> v::RecoveryHistoryItem {
    let status = match r.state.as_str() {
        "complete" => "COMPLETE",
        "queued" | "running" | "canceling" => "RUNNING",
        _ => "FAIL",
    };
    v::RecoveryHistoryItem {
        id: r.id.0,
        system: v::NameOnly {
            name: r.source.clone(),
        },
        job: v::RecoveryHistoryJob {
            name: r.job_name.clone(),
            id: r.recovery_id.map(|i| i.0),
            recovery_system_name: r.target.clone(),
            recover_drive: r.parts.iter().map(|p| p.target_dir.clone()).collect(),
        },
        result: v::RecoveryHistoryResult {
            status: status.into(),
            description: r.description.clone(),
            stats: v::HistoryStats {
                files: r.files,
                bytes: r.bytes,
                skipped: r.skipped,
                errors: r.errors,
            },
            verify: v::HistoryVerify {
                status: r.verify.clone().unwrap_or_else(|| "not used".into()),
                mismatches: r.mismatches.unwrap_or(0),
            },
        },
        backup: r
            .parts
            .iter()
            .map(|p| v::HistoryBackup {
                job_name: p.backup_job.clone(),
                file_name: p.point.clone().unwrap_or_else(|| "-".into()),
            })
            .collect(),
        trigger: r.trigger.clone(),
        time: times(Some(r)),
    }
}

const STATUSES: &str =
    "preparing, processing, complete, scheduled, registered, canceling, canceled, error";

/// Checks filter values before any job is looked at, so a bad value is a 400 even when there
/// is nothing to filter.
fn check_filters(q: &Query) -> Result<(), ApiError> {
    if let Some(m) = q.get("mode") {
        let m = m.trim().to_ascii_lowercase();
        if m != "full" && m != "increment" {
            return Err(enum_error("mode", "full, increment", &m));
        }
    }
    if let Some(s) = q.get("status") {
        let s = s.trim().to_ascii_lowercase();
        if !STATUSES.split(", ").any(|a| a == s) {
            return Err(enum_error("status", STATUSES, &s));
        }
    }
    for k in ["repositoryID", "jobId"] {
        if let Some(v) = q.get(k) {
            super::query::numeric_id(v, k)?;
        }
    }
    if let Some(res) = q.get("result") {
        if !matches!(res.trim(), "success" | "failed") {
            return Err(ApiError::field(
                "result",
                format!(
                    "Invalid enum value. Expected 'success' | 'failed', received '{}'",
                    res.trim()
                ),
            ));
        }
    }
    match q.get("serverType").map(|s| s.trim().to_ascii_lowercase()) {
        Some(t) if !t.is_empty() && t != "source" && t != "target" => {
            Err(enum_error("serverType", "source, target", &t))
        }
        _ => Ok(()),
    }
}

/// The `server` filter (a name, or `1` for this server) against the side `serverType` names
/// (`source`, or the target by default).
fn server_matches(q: &Query, state: &AppState, source: &str, target: &str) -> bool {
    let Some(srv) = q.get("server").map(|s| s.trim()) else {
        return true;
    };
    let name = if srv == "1" {
        state.settings.server_name.as_str()
    } else {
        srv
    };
    let side = match q.get("serverType").map(|t| t.trim().to_ascii_lowercase()) {
        Some(t) if t == "source" => source,
        _ => target,
    };
    side == name
}

/// Whether a run passes the history filters (values checked by `check_filters`).
fn history_matches(r: &RecoveryRunRow, q: &Query, state: &AppState) -> Result<bool, ApiError> {
    if let Some(id) = q.get("jobId") {
        if r.recovery_id.map(|i| i.0) != Some(super::query::numeric_id(id, "jobId")?) {
            return Ok(false);
        }
    }
    if q.get("jobName").is_some_and(|n| n.trim() != r.job_name) {
        return Ok(false);
    }
    if let Some(res) = q.get("result") {
        if (res.trim() == "success") != (r.state == "complete") {
            return Ok(false);
        }
    }
    if !server_matches(q, state, &r.source, &r.target) {
        return Ok(false);
    }
    if let Some(p) = q.get("partition") {
        if !r
            .parts
            .iter()
            .any(|x| x.target_dir == p.trim() || x.source_partition == p.trim())
        {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Runs of recovery jobs.
#[utoipa::path(
    get,
    path = "/api/recoveries/histories",
    tag = "recoveries",
    operation_id = "recovery_histories",
    params(crate::api::openapi::params::RecoveryHistoryFilters, crate::api::openapi::params::Paging),
    responses((status = 200, description = "Runs", body = v::RecoveryHistoryListEnvelope))
)]
pub async fn histories(
    state: web::Data<AppState>,
    _auth: Authed,
    q: web::Query<Query>,
) -> ApiResult {
    let paging = paging_with(&q, true, 20)?;
    check_filters(&q)?;
    let runs = state
        .db
        .read(|c| db::recoveries::runs(c).map_err(ApiError::from))
        .await?;
    let mut items = Vec::new();
    for r in &runs {
        if history_matches(r, &q, &state)? {
            items.push(history_item(r));
        }
    }
    super::query::page_answer(items, &paging, "Recovery history list")
}

/// One run (digits: history ID) or the runs of one recovery job (a name).
#[utoipa::path(
    get,
    path = "/api/recoveries/histories/{identifier}",
    tag = "recoveries",
    operation_id = "recovery_history",
    params(("identifier" = String, Path, description = "History ID, or a recovery job name")),
    responses((status = 200, description = "One run, or the runs of a job", body = v::RecoveryHistoryEnvelope))
)]
pub async fn history(
    state: web::Data<AppState>,
    _auth: Authed,
    ident: web::Path<String>,
) -> ApiResult {
    match Ref::parse_ident(ident.trim()) {
        Ref::Id(id) => {
            let run = state
                .db
                .read(move |c| {
                    db::recoveries::get_run(c, crate::domain::ids::RecoveryRunId(id))
                        .map_err(ApiError::from)
                })
                .await?
                .ok_or_else(|| {
                    ApiError::not_found(format!("Recovery history not found for ID '{id}'"))
                })?;
            Ok(ok(
                "Recovery history retrieved",
                v::HistoryAnswer::One(Box::new(history_item(&run))),
            ))
        }
        Ref::Name(name) => {
            let n = name.clone();
            let runs = state
                .db
                .read(move |c| db::recoveries::runs(c).map_err(ApiError::from))
                .await?;
            let items: Vec<v::RecoveryHistoryItem> = runs
                .iter()
                .rev()
                .filter(|r| r.job_name == n)
                .map(history_item)
                .collect();
            if items.is_empty() {
                return Err(ApiError::not_found(format!(
                    "Recovery history not found for job '{name}'"
                )));
            }
            Ok(ok("Recovery history list", v::HistoryAnswer::Many(items)))
        }
    }
}
