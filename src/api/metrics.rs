//! `GET /metrics` in the Prometheus text format. HTTP request counters live for the process
//! (`crate::http_counters`); job, repository and queue values come from the read model at
//! scrape time, as typed values (never from the API's rendered JSON), without reaching a share.

use crate::api::envelope::ApiError;
use crate::db;
use crate::domain::ids::JobId;
use crate::domain::run::RunState;
use crate::http_counters::Labels;
use crate::read_model;
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;

type FloatGauge = Gauge<f64, AtomicU64>;

/// Who may scrape (config `metrics.access`).
async fn allowed(state: &AppState, req: &HttpRequest) -> Result<(), ApiError> {
    match state.settings.metrics_access.as_str() {
        "off" => Err(ApiError::not_found("No route for GET /metrics")),
        "token" => crate::api::auth::authenticate(req).await.map(|_| ()),
        _ => match req.peer_addr() {
            Some(a) if a.ip().is_loopback() => Ok(()),
            _ => Err(ApiError::forbidden(
                "/metrics answers only on localhost (metrics.access = \"localhost\")",
            )),
        },
    }
}

fn gauge(reg: &mut Registry, name: &str, help: &str) -> Family<Labels, FloatGauge> {
    let f = Family::<Labels, FloatGauge>::default();
    reg.register(name, help, f.clone());
    f
}

fn job(name: &str) -> Labels {
    vec![("job".into(), name.into())]
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    operation_id = "metrics",
    security(()),
    responses(
        (status = 200, description = "Metrics", content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8", body = String),
        (status = 403, description = "Not allowed from this address or without a token (`metrics.access`)", body = crate::api::envelope::ErrorEnvelope),
    )
)]
pub async fn scrape(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    allowed(&state, &req).await?;
    let snap = super::jobs::snapshot(&state).await?;
    let (last_success, counts) = state
        .db
        .read(|c| Ok::<_, ApiError>((db::runs::last_success_times(c)?, db::runs::state_counts(c)?)))
        .await?;
    // Local directories are counted and measured (statvfs) on the blocking pool; shares answer
    // from the inventory of their last run.
    let server = state.settings.server_name.clone();
    let (snap, points, spaces) = web::block(move || {
        let points: Vec<Option<u64>> = snap
            .jobs
            .iter()
            .map(|j| read_model::point_count(&snap, &server, j))
            .collect();
        let spaces: Vec<(String, Option<read_model::RepoSpace>)> = snap
            .repos
            .values()
            .map(|r| {
                (
                    r.path.clone(),
                    read_model::repo_space(r, snap.spaces.get(&r.id)),
                )
            })
            .collect();
        (snap, points, spaces)
    })
    .await
    .map_err(ApiError::internal)?;

    let mut reg = Registry::with_prefix("zdm");
    let success = gauge(
        &mut reg,
        "job_last_success_timestamp_seconds",
        "End of the job's last successful run (Unix time).",
    );
    let result = gauge(
        &mut reg,
        "job_last_result",
        "1 for the result of the job's last finished run (label result).",
    );
    let duration = gauge(
        &mut reg,
        "job_last_duration_seconds",
        "Duration of the job's last finished run.",
    );
    let written = gauge(
        &mut reg,
        "job_last_written_bytes",
        "Bytes the job's last run wrote to the repository.",
    );
    let count = gauge(
        &mut reg,
        "job_restore_points",
        "Restore points of the job in its repository.",
    );
    let next = gauge(
        &mut reg,
        "job_next_run_timestamp_seconds",
        "When the job's schedule fires next (Unix time).",
    );
    let running = gauge(
        &mut reg,
        "job_running",
        "1 while the job has a queued or running run.",
    );
    let missed = Family::<Labels, Counter>::default();
    reg.register(
        "job_missed_runs",
        "Schedule slots recorded as missed.",
        missed.clone(),
    );
    let skipped = Family::<Labels, Counter>::default();
    reg.register(
        "job_skipped_runs",
        "Schedule slots skipped because the job was still running.",
        skipped.clone(),
    );
    let proven = gauge(
        &mut reg,
        "backup_last_restore_test_timestamp_seconds",
        "When a verifying recovery (a restore drill) last restored the job's point (Unix time; \
         label result ok or failed).",
    );
    let free = gauge(
        &mut reg,
        "repository_free_bytes",
        "Free space of the repository's file system.",
    );
    let queue = Gauge::<i64>::default();
    reg.register(
        "scheduler_queue_length",
        "Runs waiting for a free run slot.",
        queue.clone(),
    );
    reg.register(
        "http_requests",
        "HTTP requests answered, by route and status.",
        state.http.requests.clone(),
    );

    for (j, pts) in snap.jobs.iter().zip(points) {
        let l = job(&j.name);
        if let Some(t) = last_success.get(&j.id) {
            success.get_or_create(&l).set(*t as f64);
        }
        if let Some(r) = snap.last.get(&j.id) {
            let mut lr = l.clone();
            lr.push(("result".into(), r.state.to_string()));
            result.get_or_create(&lr).set(1.0);
            if let (Some(s), Some(e)) = (r.started_at, r.ended_at) {
                duration.get_or_create(&l).set((e - s) as f64);
            }
            written
                .get_or_create(&l)
                .set(r.stored_bytes.unwrap_or(0) as f64);
        }
        if let Some(n) = pts {
            count.get_or_create(&l).set(n as f64);
        }
        if let Some(t) = snap.proofs.get(&j.name) {
            let mut lr = l.clone();
            lr.push(("result".into(), if t.ok { "ok" } else { "failed" }.into()));
            proven.get_or_create(&lr).set(t.at as f64);
        }
        if let Some(t) = state.runner.armed_at(j.id) {
            next.get_or_create(&l).set(t.timestamp() as f64);
        }
        running
            .get_or_create(&l)
            .set(if state.runner.is_active(j.id) {
                1.0
            } else {
                0.0
            });
        // Every job has both series, at 0 until something is missed or skipped.
        let _ = missed.get_or_create(&l);
        let _ = skipped.get_or_create(&l);
    }
    let names: HashMap<JobId, &str> = snap.jobs.iter().map(|j| (j.id, j.name.as_str())).collect();
    for (id, st, n) in counts {
        let Some(name) = names.get(&id) else { continue };
        match st {
            RunState::Missed => missed.get_or_create(&job(name)).inc_by(n as u64),
            RunState::Skipped => skipped.get_or_create(&job(name)).inc_by(n as u64),
            _ => 0,
        };
    }
    for (path, space) in spaces {
        if let Some(s) = space {
            free.get_or_create(&vec![("repository".into(), path)])
                .set(s.free as f64);
        }
    }
    queue.set(state.runner.queue_length() as i64);
    let mut body = String::new();
    encode(&mut body, &reg).map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(body))
}
