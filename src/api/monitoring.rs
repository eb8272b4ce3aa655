//! Live progress and history: `GET /api/backups/monitoring/{job,system}/{identifier}` (spec
//! §4.5/4.6) and `GET /api/backups/histories[/{id}]` (spec §4.7).

use super::auth::Authed;
use super::envelope::{ok, zone, ApiError, ApiResult};
use super::jobs::{find, result_status, snapshot, Snapshot};
use super::query::{paginate, paging, Query};
use super::views::jobs::RunTimes;
use super::views::monitoring::{
    HistoryItem, HistoryJob, HistoryResult, HistoryRun, JobMonitoring, MonitoredJob,
    MonitoredJobInfo, MonitoringSummary, ProgressInfo, SystemMonitoring, SystemName,
};
use crate::db::{self, jobs::JobRow, runs::RunRow};
use crate::domain::ids::RunId;
use crate::domain::job::{Mode, Ref};
use crate::domain::run::{RunKind, RunState};
use crate::state::AppState;
use actix_web::web;

fn hms(secs: f64) -> String {
    super::jobs::elapsed(secs as i64)
}

/// Spec §4.5 `job` object: live progress while a run is active, the last result otherwise;
/// and the percent done as a number, for the system summary.
fn progress(state: &AppState, snap: &Snapshot, job: &JobRow) -> (MonitoredJob, f64) {
    let z = zone();
    let status = super::jobs::status_of(state, snap, job).to_string();
    let info = MonitoredJobInfo {
        id: job.id.to_string(),
        name: job.name.clone(),
        mode: job.mode.clone(),
        partition: job.partition.clone(),
    };
    if let Some(live) = state.runner.live(job.id) {
        let v = live.view();
        let p = &v.progress;
        let pct = if p.total_bytes > 0 {
            (p.bytes as f64 * 100.0 / p.total_bytes as f64).min(100.0)
        } else {
            0.0
        };
        let pct = pct.floor();
        let progress_info = ProgressInfo {
            status,
            percent: format!("{pct}%"),
            message: v.log.last().cloned().unwrap_or_default(),
            start: v.started_at.map_or_else(|| "-".into(), |t| z.format(t)),
            end: "-".into(),
            elapsed: hms(v.elapsed_secs),
            history_id: Some(v.run_id),
            bytes_done: p.bytes,
            files_done: p.files,
            result: None,
            phase: Some(p.phase.into()),
            bytes_total: Some(p.total_bytes),
            files_total: Some(p.total_files),
            bytes_per_second: Some(v.bytes_per_second as u64),
            eta: Some(v.eta_secs.map_or_else(|| "-".into(), hms)),
            current_path: Some(p.current.clone()),
            trigger: Some(v.trigger.as_str().into()),
        };
        let job = MonitoredJob {
            info,
            progress_info,
            log: v.log,
        };
        return (job, pct);
    }
    let last = snap.last.get(&job.id);
    let (start, end, elapsed, message, log) = match last {
        Some(r) => (
            z.format_secs(r.started_at),
            z.format_secs(r.ended_at),
            match (r.started_at, r.ended_at) {
                (Some(s), Some(e)) => hms((e - s) as f64),
                _ => "-".into(),
            },
            r.error.clone().unwrap_or_else(|| {
                format!("restore point {}", r.point_id.as_deref().unwrap_or("-"))
            }),
            r.log.lines().map(str::to_string).collect::<Vec<_>>(),
        ),
        None => (
            "-".into(),
            "-".into(),
            "-".into(),
            "no run yet".into(),
            Vec::new(),
        ),
    };
    let pct = if last.is_some_and(RunRow::succeeded) {
        100.0
    } else {
        0.0
    };
    let count = |v: Option<i64>| v.unwrap_or(0).max(0) as u64;
    let progress_info = ProgressInfo {
        status,
        percent: format!("{pct}%"),
        message,
        start,
        end,
        elapsed,
        history_id: last.map(|r| r.id),
        bytes_done: count(last.and_then(|r| r.bytes)),
        files_done: count(last.and_then(|r| r.files)),
        result: Some(last.map(result_status).unwrap_or("-").into()),
        phase: None,
        bytes_total: None,
        files_total: None,
        bytes_per_second: None,
        eta: None,
        current_path: None,
        trigger: None,
    };
    let job = MonitoredJob {
        info,
        progress_info,
        log,
    };
    (job, pct)
}

fn job_filters(q: &Query, job: &JobRow) -> Result<bool, ApiError> {
    if let Some(m) = q.get("mode") {
        let mode = Mode::parse(&m.to_ascii_lowercase()).ok_or_else(|| {
            ApiError::field(
                "mode",
                format!(
                    "Invalid enum value. Expected 'full' | 'increment' | 'smart', received '{m}'"
                ),
            )
        })?;
        if mode.as_str() != job.mode {
            return Ok(false);
        }
    }
    Ok(q.get("partition").is_none_or(|p| *p == job.partition)
        && q.get("jobName").is_none_or(|n| *n == job.name)
        && q.get("drive").is_none())
}

/// Progress of a job's run (spec §4.5).
#[utoipa::path(
    get,
    path = "/api/backups/monitoring/job/{identifier}",
    tag = "monitoring",
    operation_id = "monitor_job",
    params(
        ("identifier" = String, Path, description = "Job ID or job name"),
        crate::api::openapi::params::MonitoringFilters,
    ),
    responses(
        (status = 200, description = "Progress", body = crate::api::views::monitoring::JobMonitoringEnvelope),
    )
)]
pub async fn job(
    state: web::Data<AppState>,
    _auth: Authed,
    ident: web::Path<String>,
    q: web::Query<Query>,
) -> ApiResult {
    let (ident, q) = (ident.into_inner(), q.into_inner());
    let snap = snapshot(&state).await?;
    let job = find(&snap, &ident)
        .ok_or_else(|| ApiError::not_found(format!("No Backup job matching Name '{ident}'")))?;
    if !job_filters(&q, job)? {
        return Err(ApiError::not_found(format!(
            "No Backup job matching Name '{ident}' with the given filters"
        )));
    }
    let (job, _) = progress(&state, &snap, job);
    Ok(ok(
        "Backup monitoring info",
        JobMonitoring {
            job,
            system: SystemName {
                name: state.settings.server_name.clone(),
            },
        },
    ))
}

/// Progress of every job of a server (spec §4.6).
#[utoipa::path(
    get,
    path = "/api/backups/monitoring/system/{identifier}",
    tag = "monitoring",
    operation_id = "monitor_system",
    params(
        ("identifier" = String, Path, description = "Server ID or name"),
        crate::api::openapi::params::MonitoringFilters,
    ),
    responses(
        (status = 200, description = "Progress", body = crate::api::views::monitoring::SystemMonitoringEnvelope),
    )
)]
pub async fn system(
    state: web::Data<AppState>,
    _auth: Authed,
    ident: web::Path<String>,
    q: web::Query<Query>,
) -> ApiResult {
    let (ident, q) = (ident.into_inner(), q.into_inner());
    if !Ref::parse_ident(&ident).matches(1, &state.settings.server_name) {
        return Err(ApiError::not_found(format!("Server '{ident}' not found.")));
    }
    let p = paging(&q)?;
    let snap = snapshot(&state).await?;
    let mut jobs = Vec::new();
    for j in &snap.jobs {
        if job_filters(&q, j)? {
            jobs.push(j);
        }
    }
    if jobs.is_empty() {
        let msg = match q.get("partition") {
            Some(part) => format!(
                "No Backup job for partition '{part}' on server '{}'",
                state.settings.server_name
            ),
            None => format!(
                "No Backup job registered on server '{}'",
                state.settings.server_name
            ),
        };
        return Err(ApiError::not_found(msg));
    }
    let (mut completed, mut in_progress, mut failed, mut pending) = (0, 0, 0, 0);
    let mut pct_sum = 0.0;
    let mut items = Vec::new();
    for j in &jobs {
        let (job, pct) = progress(&state, &snap, j);
        match job.progress_info.status.as_str() {
            "Complete" | "Scheduled" => completed += 1,
            "Preparing" | "Processing" | "Canceling" => in_progress += 1,
            "Error" | "Canceled" => failed += 1,
            _ => pending += 1,
        }
        pct_sum += pct;
        items.push(job);
    }
    let total = jobs.len();
    let (page, pagination) = paginate(items, &p);
    let data = SystemMonitoring {
        job: page,
        summary: MonitoringSummary {
            total: total as u64,
            completed,
            failed,
            in_progress,
            pending,
            overall_progress: format!("{}%", (pct_sum / total as f64).round() as u64),
        },
        system: SystemName {
            name: state.settings.server_name.clone(),
        },
        pagination,
    };
    Ok(ok("Server backup monitoring info", data))
}

fn history_item(state: &AppState, r: &RunRow) -> HistoryItem {
    let z = zone();
    let elapsed = match (r.started_at, r.ended_at) {
        (Some(s), Some(e)) => hms((e - s) as f64),
        _ => "-".into(),
    };
    let kind = r.kind.map_or("-", RunKind::as_str);
    let point = r.point_id.as_deref().unwrap_or("-");
    let description = match r.state {
        RunState::Complete => format!("{kind} backup complete: restore point {point}"),
        RunState::Warning => {
            format!("{kind} backup complete with warnings: restore point {point}")
        }
        RunState::Queued => "waiting for a free run slot".into(),
        RunState::Running => "running".into(),
        _ => r.error.clone().unwrap_or_else(|| r.state.to_string()),
    };
    let or_dash = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".into());
    HistoryItem {
        id: r.id,
        job: HistoryJob {
            id: r.job_id,
            name: r.job_name.clone(),
            drive: r.partition.clone(),
            backup_type: Mode::parse(&r.mode).map_or("-", |m| m.display()).into(),
            repository_path: r.repository_path.clone(),
        },
        system: SystemName {
            name: state.settings.server_name.clone(),
        },
        run: HistoryRun {
            trigger: r.trigger.clone(),
            state: r.state,
            kind: kind.into(),
            due: z.format_secs(r.due_at),
            restore_point: point.into(),
            bytes: r.bytes,
            stored_bytes: r.stored_bytes,
            files: r.files,
            warnings: r.warnings.clone(),
            error: or_dash(&r.error),
            script: or_dash(&r.script),
            mail: or_dash(&r.mail),
        },
        result: HistoryResult {
            status: result_status(r).into(),
            description,
        },
        time: RunTimes {
            start: z.format_secs(r.started_at.or(Some(r.queued_at))),
            end: z.format_secs(r.ended_at),
            elapsed,
        },
        log: None,
    }
}

/// The filter of a history query; `None` when its center or server is not this host, so no
/// run can match (as `GET /api/backups` answers an empty list for them).
fn history_filter(state: &AppState, q: &Query) -> Result<Option<db::runs::Filter>, ApiError> {
    let elsewhere = q
        .get("server")
        .is_some_and(|s| !Ref::parse_ident(s).matches(1, &state.settings.server_name))
        || !super::query::center_filter_matches(q, 1, &state.settings.center_name);
    let success = match q.get("result").map(|s| s.to_ascii_lowercase()) {
        None => None,
        Some(s) if s == "success" => Some(true),
        Some(s) if s == "failed" => Some(false),
        Some(s) => {
            return Err(ApiError::field(
                "result",
                format!("Invalid enum value. Expected 'success' | 'failed', received '{s}'"),
            ))
        }
    };
    let job_id =
        match q.get("jobId") {
            Some(v) => Some(v.parse::<i64>().map_err(|_| {
                ApiError::field("jobId", format!("jobId must be a number, got '{v}'"))
            })?),
            None => None,
        };
    if elsewhere {
        return Ok(None);
    }
    Ok(Some(db::runs::Filter {
        job_id,
        job_name: q.get("jobName").cloned(),
        partition: q.get("partition").cloned(),
        success,
        desc: false,
    }))
}

/// Runs, newest first (spec §4.7).
#[utoipa::path(
    get,
    path = "/api/backups/histories",
    tag = "monitoring",
    operation_id = "list_histories",
    params(
        crate::api::openapi::params::HistoryFilters,
        crate::api::openapi::params::Paging,
    ),
    responses(
        (status = 200, description = "Runs", body = crate::api::views::monitoring::HistoryListEnvelope),
    )
)]
pub async fn histories(
    state: web::Data<AppState>,
    _auth: Authed,
    q: web::Query<Query>,
) -> ApiResult {
    let q = q.into_inner();
    let p = paging(&q)?;
    let rows = match history_filter(&state, &q)? {
        Some(f) => {
            state
                .db
                .read(move |c| db::runs::list(c, &f).map_err(ApiError::from))
                .await?
        }
        None => Vec::new(),
    };
    history_page(&state, &rows, &p)
}

fn history_page(state: &AppState, rows: &[RunRow], p: &super::query::Paging) -> ApiResult {
    let items: Vec<HistoryItem> = rows.iter().map(|r| history_item(state, r)).collect();
    super::query::page_answer(items, p, "Backup history list")
}

/// One run with its log (spec §4.7).
///
/// A numeric identifier is a history id (one object, with the run's log); a name lists that
/// job's history (spec §4.7, §6).
#[utoipa::path(
    get,
    path = "/api/backups/histories/{identifier}",
    tag = "monitoring",
    operation_id = "get_history",
    params(
        ("identifier" = String, Path, description = "History (run) ID, or a job ID or name for its newest run"),
        crate::api::openapi::params::HistoryFilters,
        crate::api::openapi::params::Paging,
    ),
    responses(
        (status = 200, description = "The run", body = crate::api::views::monitoring::HistoryEnvelope),
    )
)]
pub async fn history(
    state: web::Data<AppState>,
    _auth: Authed,
    ident: web::Path<String>,
    q: web::Query<Query>,
) -> ApiResult {
    let (ident, q) = (ident.into_inner(), q.into_inner());
    if let Ok(id) = ident.parse::<i64>().map(RunId) {
        let row = state
            .db
            .read(move |c| db::runs::get(c, id).map_err(ApiError::from))
            .await?
            .ok_or_else(|| {
                ApiError::not_found(format!("Backup history not found for ID '{ident}'"))
            })?;
        let mut v = history_item(&state, &row);
        v.log = Some(row.log.lines().map(str::to_string).collect());
        return Ok(ok("Backup history retrieved", v));
    }
    let p = paging(&q)?;
    let rows = match history_filter(&state, &q)? {
        Some(mut f) => {
            f.job_name = Some(ident.clone());
            state
                .db
                .read(move |c| db::runs::list(c, &f).map_err(ApiError::from))
                .await?
        }
        None => Vec::new(),
    };
    if rows.is_empty() {
        return Err(ApiError::not_found(format!(
            "Backup history not found for job '{ident}'"
        )));
    }
    history_page(&state, &rows, &p)
}
