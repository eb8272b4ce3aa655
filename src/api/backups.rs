//! `POST /api/backups`: register backup jobs (spec §2, seed document).

use super::auth::Authed;
use super::envelope::ErrorDetail;
use super::envelope::{success, ApiError, ApiResult};
use super::views::registration::{
    RegisterResult, RegisterSummary, Registered, RegisteredSchedule, ScheduleSummary,
};
use crate::db::jobs::{self, RegisterError};
use crate::domain::invalid::Invalid;
use crate::domain::job::{parse_registration, HostProbe};
use crate::domain::registration::{Outcome, PlannedJob, Rejection};
use crate::domain::schedule::ScheduleData;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::web;
use serde_json::Value;
use std::path::Path;

/// The real file system behind the parser's checks.
pub struct FsProbe {
    /// The daemon's state directory, canonical when it exists.
    state_dir: String,
}

impl FsProbe {
    pub fn new(settings: &crate::config::Settings) -> FsProbe {
        let s = &settings.state_dir;
        FsProbe {
            state_dir: std::fs::canonicalize(s)
                .unwrap_or_else(|_| s.clone())
                .display()
                .to_string(),
        }
    }
}

pub fn is_local_dir(path: &str) -> bool {
    Path::new(path).is_dir()
}

impl HostProbe for FsProbe {
    fn is_local_dir(&self, path: &str) -> bool {
        is_local_dir(path)
    }

    fn check_script(&self, path: &str) -> Result<(), Invalid> {
        check_script(path).map_err(|e| Invalid(e.to_string()))
    }

    fn repository_problem(&self, path: &str) -> Option<String> {
        // Symlinks in the path must not hide that it leads somewhere forbidden.
        let real = std::fs::canonicalize(path)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| path.to_string());
        crate::domain::job::forbidden_repo_path(path, Some(&self.state_dir))
            .or_else(|| crate::domain::job::forbidden_repo_path(&real, Some(&self.state_dir)))
    }
}

/// Decision D11 and house rule 6, the same check the runner makes before each run.
pub fn check_script(path: &str) -> Result<(), crate::runner::script::ScriptRefused> {
    crate::runner::script::check_script(path)
}

/// Registers one backup job per partition (spec §2).
#[utoipa::path(
    post,
    path = "/api/backups",
    tag = "backups",
    operation_id = "register_backups",
    request_body = crate::api::openapi::requests::RegisterRequest,
    responses(
        (status = 201, description = "At least one job created; `results` has one entry per partition", body = crate::api::views::registration::RegisteredEnvelope),
        (status = 409, description = "A job name already exists", body = crate::api::envelope::ErrorEnvelope),
    )
)]
pub async fn register(
    state: web::Data<AppState>,
    auth: Authed,
    body: web::Json<Value>,
) -> ApiResult {
    let now = state.settings.zone.now_local();
    let body = body.into_inner();
    let host = state.registration_host().await;
    let db = state.db.clone();
    let probe = FsProbe::new(&state.settings);
    // Parsing stats script and repository paths, so it runs on the blocking pool too, in the
    // same hop as the transaction (outside its lock).
    let outcomes = web::block(move || {
        let req = parse_registration(&body, &probe, now)
            .map_err(|e| RegisterError::Rejected(Rejection::Validation(e)))?;
        jobs::register_blocking(&db, &req, &host, auth.user_id, now, is_local_dir)
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|e| match e {
        RegisterError::Rejected(r) => rejection(r),
        RegisterError::Db(e) => ApiError::from(e),
    })?;
    let results: Vec<RegisterResult> = outcomes.iter().map(result_entry).collect();
    let ok = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Create(_)))
        .count();
    let created: Vec<(String, bool)> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Create(j) => {
                tracing::info!(job = %j.name, partition = %j.partition, mode = j.mode.as_str(), "backup job registered");
                Some((j.name.clone(), j.auto_start))
            }
            _ => None,
        })
        .collect();
    start_created(&state, created).await?;
    let warnings = new_repository_warnings(&state, &outcomes).await?;
    let data = Registered {
        summary: RegisterSummary {
            total: outcomes.len() as u64,
            successful: ok as u64,
            failed: (outcomes.len() - ok) as u64,
        },
        results,
        warnings,
    };
    Ok(success(
        StatusCode::CREATED,
        "Backup job registration completed",
        Some(data),
        None,
    ))
}

/// Repositories this registration created get the same check as `POST /api/zdms/repositories`:
/// whether they can be reached yet, and whether a share has the login it needs.
async fn new_repository_warnings(
    state: &AppState,
    outcomes: &[Outcome],
) -> Result<Vec<String>, ApiError> {
    let mut new: Vec<(crate::domain::job::RepoKind, String)> = Vec::new();
    for o in outcomes {
        if let Outcome::Create(j) = o {
            if let crate::domain::registration::RepoTarget::New { kind, path } = &j.repository {
                if !new.iter().any(|(k, p)| k == kind && p == path) {
                    new.push((*kind, path.clone()));
                }
            }
        }
    }
    let mut out = Vec::new();
    for (kind, path) in new {
        let p = path.clone();
        let id = state
            .db
            .read(move |c| crate::db::repositories::by_path(c, kind, &p).map_err(ApiError::from))
            .await?;
        let Some(id) = id else { continue };
        if crate::domain::job::needs_login(kind, &path) {
            out.push(format!(
                "Repository {id} ({path}) was registered without an account, so runs connect as guest; \
                 if the share needs a login, set it with PUT /api/zdms/repositories/{id} (account, password)"
            ));
        }
        for w in super::repositories::reachability_warnings(state, id).await {
            out.push(format!("Repository {id} ({path}): {w}"));
        }
    }
    Ok(out)
}

/// Arms the new jobs' timers and runs the `autoStart` ones now (decision D13).
async fn start_created(state: &AppState, created: Vec<(String, bool)>) -> Result<(), ApiError> {
    let ids = state
        .db
        .read(move |c| {
            let mut ids = Vec::new();
            for (name, auto) in &created {
                if let Some(j) = jobs::find(c, name)? {
                    ids.push((j.id, *auto));
                }
            }
            Ok::<_, ApiError>(ids)
        })
        .await?;
    for (id, auto) in ids {
        state.runner.arm(id).await;
        if auto {
            state
                .runner
                .enqueue(id, crate::runner::Trigger::AutoStart, None)
                .await?;
        }
    }
    Ok(())
}

pub fn rejection(r: Rejection) -> ApiError {
    match r {
        Rejection::Validation(errs) => ApiError::validation(errs),
        Rejection::BadRequest(m) => ApiError::bad_request(m),
        Rejection::NotFound(m) => ApiError::not_found(m),
        Rejection::Conflict(m) => ApiError::conflict(m),
        Rejection::NothingCreated { message, failures } => {
            let msgs: Vec<String> = failures.iter().map(|(p, m)| format!("{p}: {m}")).collect();
            let results = failures.iter().map(|(p, m)| fail_entry(p, m)).collect();
            ApiError::bad_request(message).with_detail(ErrorDetail {
                validation_errors: Some([("partition".to_string(), msgs)].into()),
                results: Some(results),
                ..Default::default()
            })
        }
    }
}

fn fail_entry(partition: &str, message: &str) -> RegisterResult {
    RegisterResult {
        state: "fail".into(),
        job_name: "-".into(),
        partition: partition.into(),
        job_mode: "-".into(),
        auto_start: "-".into(),
        schedule: None,
        script_path: None,
        script_run_timing: None,
        error_message: Some(message.into()),
    }
}

fn use_str(b: bool) -> &'static str {
    if b {
        "use"
    } else {
        "not use"
    }
}

fn result_entry(o: &Outcome) -> RegisterResult {
    match o {
        Outcome::Fail { partition, message } => fail_entry(partition, message),
        Outcome::Create(j) => created_entry(j),
    }
}

fn summary(d: &ScheduleData) -> ScheduleSummary {
    ScheduleSummary {
        kind: d.kind.name().into(),
        description: d.describe(),
    }
}

fn created_entry(j: &PlannedJob) -> RegisterResult {
    RegisterResult {
        state: "success".into(),
        job_name: j.name.clone(),
        partition: j.partition.clone(),
        job_mode: j.mode.display().into(),
        auto_start: use_str(j.auto_start).into(),
        schedule: j.basic.as_ref().map(|b| RegisteredSchedule {
            basic: summary(b),
            advanced: j.advanced.as_ref().map(summary),
        }),
        script_path: j.script.as_ref().map(|(p, _)| p.clone()),
        script_run_timing: j.script.as_ref().map(|(_, r)| r.timing().into()),
        error_message: None,
    }
}
