//! Recovery jobs (RECOVERIES.md §4.4-4.5): `POST /api/recoveries`, `PUT` and `DELETE
//! /api/recoveries/{identifier}`. Listing, monitoring and history are in `recovery_status.rs`.
//!
//! Registration resolves every reference (center, servers, repository, backup job, point,
//! schedule) and checks every target (R4) before anything is written; the job and its schedule
//! record are then inserted in one transaction.

use super::auth::Authed;
use super::backups::FsProbe;
use super::envelope::{ok, success, zone, ApiError, ApiResult};
use super::images::{locate, Located};
use super::views::recoveries as v;
use crate::db::{self, jobs::JobRow, recoveries::RecoveryRow, repositories::RepoRow};
use crate::domain::fields::FieldErrors;
use crate::domain::ids::{RecoveryId, ScheduleId};
use crate::domain::job::{Ref, RepoInput, ScheduleInput};
use crate::domain::recovery::{
    parse_registration, BackupFile, PartInput, RecoveryPart, RecoveryRequest, RecoverySpec,
};
use crate::domain::registration;
use crate::domain::registration::MSG_101;
use crate::domain::schedule::ScheduleData;
use crate::runner::recovery::RecoveryEnqueued;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::web;
use serde_json::Value;

pub const JOB_NAME_CONFLICT: &str = "JOB_NAME_ALREADY_EXISTS";

/// A schedule for a recovery job: an existing record attached as is (vendor semantics) or a
/// new one from inline data.
enum SchedulePlan {
    Attach(ScheduleId, ScheduleData),
    Insert(ScheduleData),
}

impl SchedulePlan {
    fn data(&self) -> &ScheduleData {
        match self {
            SchedulePlan::Attach(_, d) | SchedulePlan::Insert(d) => d,
        }
    }
}

/// One `jobList` entry after its references were resolved.
struct ResolvedPart {
    part: RecoveryPart,
    repo: RepoRow,
    /// The point that is newest now (or the one named), for the answer.
    point: Option<(String, String)>,
}

fn not_found(m: impl Into<String>) -> ApiError {
    ApiError::not_found(m)
}

/// R6: basic schedules only (types 0-6), the vendor's JOB-ERROR-101 otherwise. Resolved as for
/// backups; a whole schedule named by ID is attached as it is rather than copied.
fn resolve_schedule(s: &ScheduleInput, c: &rusqlite::Connection) -> Result<SchedulePlan, ApiError> {
    if let ScheduleInput::Inline {
        advanced: Some(_), ..
    } = s
    {
        return Err(ApiError::bad_request(MSG_101));
    }
    let catalog = db::jobs::TxCatalog::new(c);
    let resolved = registration::resolve_schedule(s, &catalog);
    if let Some(e) = catalog.take_error() {
        return Err(ApiError::from(e));
    }
    let r = resolved.map_err(super::backups::rejection)?;
    if r.advanced.is_some() || r.kind.is_smart() {
        return Err(ApiError::bad_request(MSG_101));
    }
    Ok(match s {
        ScheduleInput::FullId(id) => SchedulePlan::Attach(*id, r.basic),
        ScheduleInput::Inline { .. } => SchedulePlan::Insert(r.basic),
    })
}

fn resolve_repo(r: &RepoInput, repos: &[RepoRow], field: &str) -> Result<RepoRow, ApiError> {
    match r {
        RepoInput::Id { id, kind, path } => {
            let repo = repos
                .iter()
                .find(|x| x.id == *id)
                .ok_or_else(|| not_found(format!("Repository with ID '{id}' not found")))?;
            if kind.is_some_and(|k| k != repo.kind)
                || path.as_ref().is_some_and(|p| *p != repo.path)
            {
                return Err(ApiError::bad_request(format!(
                    "{field}: repository {id} is {} '{}', which does not match the type/path given",
                    repo.kind.as_str(),
                    repo.path
                )));
            }
            Ok(repo.clone())
        }
        RepoInput::Spec { kind, path } => repos
            .iter()
            .find(|x| x.kind == *kind && x.path == *path)
            .cloned()
            .ok_or_else(|| {
                not_found(format!(
                    "Repository {} '{path}' is not registered",
                    kind.as_str()
                ))
            }),
    }
}

/// What registration reads from the database in one go.
struct Stored {
    jobs: Vec<JobRow>,
    repos: Vec<RepoRow>,
    /// Newest successful run time per backup job name.
    succeeded: std::collections::HashMap<String, i64>,
    user: Option<crate::domain::ids::UserId>,
    schedule: Option<SchedulePlan>,
    names: Vec<String>,
}

/// The backup job a partition restores from, or why it has none (a per-partition failure).
fn backup_job_for<'a>(
    p: &PartInput,
    stored: &'a Stored,
    on_host: bool,
    repo: &RepoRow,
    server: &str,
) -> Result<Result<Option<&'a JobRow>, String>, ApiError> {
    let no_backups = || {
        format!(
            "Partition '{}' has no backups on server '{server}'.",
            p.source_partition
        )
    };
    if let Some(name) = &p.backup_job {
        if !crate::engine::is_component(name) {
            return Err(ApiError::field(
                "jobList.backupJob",
                format!("backupJob '{name}' is not a job name"),
            ));
        }
        return match stored.jobs.iter().find(|j| &j.name == name) {
            Some(j) if on_host && j.partition != p.source_partition => {
                Err(ApiError::bad_request(format!(
                    "Backup job '{name}' backs up partition '{}', not '{}'.",
                    j.partition, p.source_partition
                )))
            }
            Some(j) if on_host => Ok(Ok(Some(j))),
            // A deleted job or another server's directory: its points are read as they are.
            _ => Ok(Ok(None)),
        };
    }
    if !on_host {
        return Ok(Err(no_backups()));
    }
    // The vendor's rule: the job of this partition that last succeeded.
    let best = stored
        .jobs
        .iter()
        .filter(|j| j.partition == p.source_partition && j.repository_id == repo.id)
        .max_by_key(|j| stored.succeeded.get(&j.name).copied().unwrap_or(0));
    Ok(best.map(Some).ok_or_else(no_backups))
}

fn policy_allows(policy: &str) -> bool {
    matches!(policy, "always" | "if-changed" | "if-newer")
}

fn point_time(p: &crate::engine::repo::Point) -> String {
    chrono::DateTime::parse_from_rfc3339(&p.manifest.finished)
        .map(|t| zone().format(t.with_timezone(&chrono::Utc)))
        .unwrap_or_else(|_| "-".into())
}

/// The point `file` names among `points`, or a 404 in the spec's words.
fn point_for(
    state: &AppState,
    points: &[crate::engine::repo::Point],
    file: &BackupFile,
    job: &str,
) -> Result<Option<(String, String)>, ApiError> {
    let missing =
        |what: &str| not_found(format!("Backup image '{what}' not found for job '{job}'."));
    let p = match file {
        BackupFile::Latest => points.last(),
        BackupFile::Point(id) => Some(
            points
                .iter()
                .find(|p| &p.manifest.id == id)
                .ok_or_else(|| missing(id))?,
        ),
        BackupFile::At(at) => {
            let local = chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M:%S")
                .map_err(ApiError::internal)?;
            let limit = state
                .settings
                .zone
                .instant(local)
                .ok_or_else(|| missing(at))?;
            Some(
                points
                    .iter()
                    .rev()
                    .find(|p| {
                        chrono::DateTime::parse_from_rfc3339(&p.manifest.finished)
                            .is_ok_and(|f| f.with_timezone(&chrono::Utc) <= limit)
                    })
                    .ok_or_else(|| missing(at))?,
            )
        }
    };
    Ok(p.map(|p| (p.manifest.id.clone(), point_time(p))))
}

async fn read_stored(
    state: &AppState,
    req: &RecoveryRequest,
    auth: &Authed,
) -> Result<Stored, ApiError> {
    let (user, schedule) = (req.user.clone(), req.schedule.clone());
    let me = auth.user_id;
    state
        .db
        .read(move |c| {
            let user = match &user {
                Some(r) => Some(
                    db::users::find_id(c, r)?
                        .ok_or_else(|| not_found(format!("User '{r}' not found")))?,
                ),
                None => Some(me),
            };
            let schedule = schedule
                .as_ref()
                .map(|s| resolve_schedule(s, c))
                .transpose()?;
            let mut succeeded = std::collections::HashMap::new();
            let mut st = c.prepare(
                "SELECT job_name, max(ended_at) FROM runs WHERE state IN ('complete', 'warning')
                 GROUP BY job_name",
            )?;
            for r in st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
                let (n, t) = r?;
                succeeded.insert(n, t);
            }
            Ok::<_, ApiError>(Stored {
                jobs: db::jobs::list(c)?,
                repos: db::repositories::list(c)?,
                succeeded,
                user,
                schedule,
                names: db::recoveries::list(c)?
                    .into_iter()
                    .map(|r| r.name)
                    .collect(),
            })
        })
        .await
}

/// `<backupJob>_Recovery_<n>` with the smallest free n.
fn default_name(base: &str, taken: &[String]) -> String {
    (1..)
        .map(|n| format!("{base}_Recovery_{n}"))
        .find(|n| !taken.contains(n))
        .expect("a free name exists")
}

fn schedule_ref(id: Option<ScheduleId>, d: &ScheduleData) -> v::RecoveryScheduleRef {
    v::RecoveryScheduleRef {
        id: id.map(|i| i.0).unwrap_or(0),
        kind: d.kind.name().into(),
        description: d.describe(),
    }
}

/// Register a recovery job.
#[utoipa::path(
    post,
    path = "/api/recoveries",
    tag = "recoveries",
    operation_id = "register_recovery",
    request_body = crate::api::openapi::requests::RecoveryRegister,
    responses(
        (status = 201, description = "Registered; `partitions` has one entry per jobList item", body = v::RegisteredRecoveryEnvelope),
        (status = 409, description = "The job name exists", body = crate::api::envelope::ErrorEnvelope),
    )
)]
pub async fn register(
    state: web::Data<AppState>,
    auth: Authed,
    body: web::Json<Value>,
) -> ApiResult {
    let now = state.settings.zone.now_local();
    let probe = FsProbe::new(&state.settings);
    let body = body.into_inner();
    let req = web::block(move || parse_registration(&body, &probe, now))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::validation)?;
    let host = state.registration_host().await;
    if !req.center.matches(host.center_id, &host.center_name) {
        return Err(not_found(match &req.center {
            Ref::Id(i) => format!("Zdm with ID '{i}' not found"),
            Ref::Name(n) => format!("Zdm with name '{n}' not found"),
        }));
    }
    if !req.target.matches(host.server_id, &host.server_name) {
        return Err(not_found(format!("Server '{}' not found.", req.target)));
    }
    let on_host = req.source.matches(host.server_id, &host.server_name);
    let source = match (&req.source, on_host) {
        (_, true) => host.server_name.clone(),
        (Ref::Name(n), false) if crate::engine::is_component(n) => n.clone(),
        (r, false) => return Err(not_found(format!("Server '{r}' not found."))),
    };
    let stored = read_stored(&state, &req, &auth).await?;
    let top_repo = req
        .repository
        .as_ref()
        .map(|r| resolve_repo(r, &stored.repos, "repository"))
        .transpose()?;
    let forbidden = crate::runner::recovery::forbidden(&state.settings, &stored.repos);
    let parts_now = state.partitions().await;
    let mut resolved: Vec<ResolvedPart> = Vec::new();
    let mut failures: Vec<(PartInput, String)> = Vec::new();
    let mut errs = FieldErrors::new();
    for (i, p) in req.job_list.iter().enumerate() {
        if req.exclude_partition.contains(&p.source_partition) {
            continue;
        }
        let repo = match &p.repository {
            Some(r) => resolve_repo(r, &stored.repos, &format!("jobList[{i}].repository"))?,
            None => top_repo.clone().expect("repository is required"),
        };
        let job = match backup_job_for(p, &stored, on_host, &repo, &source)? {
            Ok(j) => j,
            Err(why) => {
                failures.push((p.clone(), why));
                continue;
            }
        };
        let job_name = job
            .map(|j| j.name.clone())
            .or(p.backup_job.clone())
            .expect("a name or a job");
        let Located { points, .. } = locate(&state, &repo, &source, &job_name).await?;
        if points.is_empty() {
            if p.backup_job.is_some() && job.is_none() {
                return Err(not_found(format!("Backup job '{job_name}' not found.")));
            }
            failures.push((
                p.clone(),
                format!(
                    "Partition '{}' has no backups on server '{source}'.",
                    p.source_partition
                ),
            ));
            continue;
        }
        let file = p.backup_file.clone().unwrap_or(BackupFile::Latest);
        let point = point_for(&state, &points, &file, &job_name)?;
        let target = std::path::PathBuf::from(&p.target_dir);
        let f = &forbidden;
        let problem = web::block({
            let (t, places) = (target.clone(), f.places.clone());
            move || crate::restore_target::problem(&t, &crate::restore_target::Forbidden { places })
        })
        .await
        .map_err(ApiError::internal)?;
        let field = format!("jobList[{i}].targetPartition");
        if let Some(m) = problem {
            errs.add(&field, m);
        }
        if !req.retain_target && host.partitions.contains(&p.target_dir) {
            errs.add(
                &field,
                format!("retainTarget 'not use' would delete '{}', a mounted partition; use a scratch directory", p.target_dir),
            );
        }
        resolved.push(ResolvedPart {
            part: RecoveryPart {
                source_partition: p.source_partition.clone(),
                target_dir: p.target_dir.clone(),
                backup_job: job_name,
                repository_id: repo.id.0,
                backup_file: file,
                mode: p.mode.clone().unwrap_or(req.mode.clone()),
                overwrite_policy: p.overwrite_policy.clone().unwrap_or_else(|| "never".into()),
                delete: p.delete.unwrap_or(false),
                paths: p.paths.clone(),
                exclude_paths: p.exclude_paths.clone(),
                flat: p.flat,
            },
            repo,
            point,
        });
    }
    if !errs.is_empty() {
        return Err(ApiError::validation(errs));
    }
    if resolved.is_empty() {
        let msgs: Vec<String> = failures
            .iter()
            .map(|(p, m)| format!("{}: {m}", p.source_partition))
            .collect();
        return Err(
            ApiError::bad_request("NO_PARTITIONS_TO_PROCESS").with_detail(
                super::envelope::ErrorDetail {
                    validation_errors: Some([("jobList".to_string(), msgs)].into()),
                    ..Default::default()
                },
            ),
        );
    }
    let name = match &req.job_name {
        Some(n) if stored.names.contains(n) => return Err(ApiError::conflict(JOB_NAME_CONFLICT)),
        Some(n) => n.clone(),
        None => default_name(&resolved[0].part.backup_job, &stored.names),
    };
    let spec = RecoverySpec {
        source: source.clone(),
        target: host.server_name.clone(),
        platform: req.platform.clone(),
        mode: req.mode.clone(),
        verify: req.verify,
        retain_target: req.retain_target,
        mail_event: req.mail_event.clone(),
        auto_start: req.auto_start,
        script_path: req.script_path.clone(),
        script_run: req.script_path.as_ref().map(|_| {
            req.script_run
                .map(|r| r.as_str())
                .unwrap_or("before")
                .to_string()
        }),
        network_limit: req.network_limit,
        parts: resolved.iter().map(|r| r.part.clone()).collect(),
    };
    let schedule = stored.schedule;
    let (user, n2, s2, sched_data) = (
        stored.user,
        name.clone(),
        spec.clone(),
        schedule.as_ref().map(|s| s.data().clone()),
    );
    let (id, schedule_id) = state
        .db
        .write(move |tx| {
            if db::recoveries::find(tx, &n2)?.is_some() {
                return Err(ApiError::conflict(JOB_NAME_CONFLICT));
            }
            let sched = match &schedule {
                Some(SchedulePlan::Attach(id, _)) => Some((*id, false)),
                Some(SchedulePlan::Insert(d)) => {
                    Some((db::schedules::insert(tx, d, user, &n2)?, true))
                }
                None => None,
            };
            let id = db::recoveries::insert(tx, &n2, user, sched, &s2)?;
            Ok::<_, ApiError>((id, sched.map(|s| s.0)))
        })
        .await?;
    tracing::info!(recovery = %name, id = %id, "recovery job registered");
    state.runner.arm_recovery(id).await;
    if req.auto_start {
        state
            .runner
            .enqueue_recovery(id, crate::runner::Trigger::AutoStart)
            .await?;
    }
    let mut partitions: Vec<v::RegisteredPartition> = resolved
        .iter()
        .map(|r| registered_part(r, &parts_now))
        .collect();
    partitions.extend(failures.iter().map(|(p, m)| v::RegisteredPartition {
        state: "fail".into(),
        source_partition: p.source_partition.clone(),
        target_partition: p.target_dir.clone(),
        job_mode: p.mode.clone().unwrap_or(req.mode.clone()),
        overwrite: "not allow".into(),
        overwrite_policy: p.overwrite_policy.clone().unwrap_or_default(),
        file_system: "-".into(),
        paths: p.paths.clone(),
        backup: None,
        repository: None,
        error_message: Some(m.clone()),
    }));
    let data = v::RegisteredRecovery {
        id: id.0,
        common: v::RegisteredCommon {
            state: "success".into(),
            job_name: name,
            auto_start: use_str(req.auto_start).into(),
            platform: req.platform.clone(),
            boot_mode: "-".into(),
            schedule: sched_data.as_ref().map(|d| schedule_ref(schedule_id, d)),
            script_path: req.script_path.clone(),
            script_run_timing: spec.script_run.as_deref().map(|r| format!("{r} job")),
            error_message: None,
        },
        summary: v::RecoverySummary {
            total: partitions.len() as u64,
            successful: resolved.len() as u64,
            failed: failures.len() as u64,
        },
        partitions,
    };
    Ok(success(
        StatusCode::CREATED,
        "Recovery job registration completed",
        Some(data),
        None,
    ))
}

pub fn use_str(b: bool) -> &'static str {
    if b {
        "use"
    } else {
        "not use"
    }
}

fn registered_part(r: &ResolvedPart, parts: &[crate::host::Partition]) -> v::RegisteredPartition {
    let p = &r.part;
    v::RegisteredPartition {
        state: "success".into(),
        source_partition: p.source_partition.clone(),
        target_partition: p.target_dir.clone(),
        job_mode: p.mode.clone(),
        overwrite: if policy_allows(&p.overwrite_policy) {
            "allow"
        } else {
            "not allow"
        }
        .into(),
        overwrite_policy: p.overwrite_policy.clone(),
        file_system: crate::restore_target::mount_of(std::path::Path::new(&p.target_dir), parts)
            .map(|m| m.fs_type.clone())
            .unwrap_or_else(|| "-".into()),
        paths: p.paths.clone(),
        backup: Some(v::BackupSource {
            use_latest: (p.backup_file == BackupFile::Latest).to_string(),
            backup_file: r.point.as_ref().map(|x| x.0.clone()).unwrap_or_default(),
            backup_job: p.backup_job.clone(),
            created_at: r.point.as_ref().map(|x| x.1.clone()).unwrap_or_default(),
        }),
        repository: Some(v::RepositoryRefView {
            id: r.repo.id.0,
            path: r.repo.path.clone(),
            kind: r.repo.kind.as_str().into(),
        }),
        error_message: None,
    }
}

/// A recovery job by ID (digits) or name.
pub async fn find(state: &AppState, ident: &str) -> Result<RecoveryRow, ApiError> {
    let ident = ident.to_string();
    state
        .db
        .read(move |c| {
            let found = match Ref::parse_ident(&ident) {
                Ref::Id(id) => db::recoveries::get(c, RecoveryId(id))?,
                Ref::Name(n) => db::recoveries::find(c, &n)?,
            };
            found.ok_or_else(|| {
                not_found(match Ref::parse_ident(&ident) {
                    Ref::Id(id) => format!("Recovery job with ID '{id}' not found"),
                    Ref::Name(n) => format!("Recovery job '{n}' not found"),
                })
            })
        })
        .await
}

/// The body fields `PUT /api/recoveries/{identifier}` takes.
pub const UPDATE_FIELDS: &[&str] = &[
    "center",
    "changeName",
    "platform",
    "schedule",
    "mode",
    "afterReboot",
    "mailEvent",
    "networkLimit",
    "scriptPath",
    "scriptRun",
    "status",
    "jobList",
    "verify",
    "retainTarget",
];

pub const UPDATE_PART_FIELDS: &[&str] = &[
    "partition",
    "mode",
    "backupFile",
    "targetPartition",
    "overwritePolicy",
    "paths",
];

/// Change a recovery job; `status` `start` runs it now, `stop` cancels its run.
#[utoipa::path(
    put,
    path = "/api/recoveries/{identifier}",
    tag = "recoveries",
    operation_id = "update_recovery",
    params(("identifier" = String, Path, description = "Recovery job ID or name")),
    request_body = crate::api::openapi::requests::RecoveryUpdate,
    responses(
        (status = 200, description = "Updated", body = v::RecoveryUpdatedEnvelope),
        (status = 409, description = "The new name exists, or the job runs", body = crate::api::envelope::ErrorEnvelope),
    )
)]
pub async fn update(
    state: web::Data<AppState>,
    _auth: Authed,
    ident: web::Path<String>,
    body: web::Json<Value>,
) -> ApiResult {
    let body = body.into_inner();
    let mut errs = FieldErrors::new();
    let Some(obj) =
        crate::domain::fields::body_object(&body, UPDATE_FIELDS, &["center"], &mut errs)
    else {
        return Err(ApiError::validation(errs));
    };
    let center = obj
        .get("center")
        .and_then(|v| Ref::parse(v, "center", &mut errs));
    let now = state.settings.zone.now_local();
    let probe = FsProbe::new(&state.settings);
    // The shared rules of the registration parse every field the update shares with it.
    let mut as_reg = serde_json::Map::new();
    for k in [
        "platform",
        "mode",
        "afterReboot",
        "mailEvent",
        "networkLimit",
        "scriptPath",
        "scriptRun",
        "verify",
        "retainTarget",
        "schedule",
    ] {
        if let Some(v) = obj.get(k) {
            as_reg.insert(k.into(), v.clone());
        }
    }
    let parsed = {
        let mut probe_body = as_reg.clone();
        for (k, v) in [
            ("center", Value::from(1)),
            ("source", Value::from(1)),
            ("target", Value::from(1)),
            ("repository", serde_json::json!({"id": 1})),
            (
                "jobList",
                serde_json::json!([{"sourcePartition": "/", "targetPartition": "/x"}]),
            ),
        ] {
            probe_body.insert(k.into(), v);
        }
        probe_body
            .entry("mode")
            .or_insert_with(|| Value::from("full"));
        let b = Value::Object(probe_body);
        web::block(move || parse_registration(&b, &probe, now))
            .await
            .map_err(ApiError::internal)?
    };
    let parsed = match parsed {
        Ok(p) => Some(p),
        Err(e) => {
            errs.merge(e);
            None
        }
    };
    let change_name = obj
        .get("changeName")
        .and_then(|v| crate::domain::job::job_name_field(v, "changeName", &mut errs));
    let status = obj.get("status").and_then(|v| {
        match v.as_str().map(|s| s.trim().to_ascii_lowercase()).as_deref() {
            Some(s @ ("start" | "stop")) => Some(s.to_string()),
            _ => {
                errs.add("status", "status must be one of start, stop");
                None
            }
        }
    });
    let mut part_changes: Vec<(String, serde_json::Map<String, Value>)> = Vec::new();
    if let Some(list) = obj.get("jobList") {
        match list {
            Value::Array(a) => {
                for (i, item) in a.iter().enumerate() {
                    let prefix = format!("jobList[{i}]");
                    let Value::Object(o) = item else {
                        errs.add(&prefix, format!("{prefix} must be an object"));
                        continue;
                    };
                    crate::domain::fields::reject_unknown(
                        o,
                        UPDATE_PART_FIELDS,
                        &prefix,
                        &mut errs,
                    );
                    match o.get("partition").and_then(|v| v.as_str()) {
                        Some(p) => part_changes.push((p.trim().to_string(), o.clone())),
                        None => errs.add(
                            format!("{prefix}.partition"),
                            format!("{prefix}.partition is required"),
                        ),
                    }
                }
            }
            _ => errs.add("jobList", "jobList must be an array"),
        }
    }
    if !errs.is_empty() {
        return Err(ApiError::validation(errs));
    }
    let parsed = parsed.expect("no errors");
    if let Some(c) = &center {
        if !c.matches(1, &state.settings.center_name) {
            return Err(not_found(format!("Zdm with ID '{c}' not found")));
        }
    }
    let mut job = find(&state, &ident).await?;
    let before = job.clone();
    let mut changed: Vec<v::RecoveryUpdatedField> = Vec::new();
    let mut note = |field: &str, previous: String, new: String| {
        if previous != new {
            changed.push(v::RecoveryUpdatedField {
                field: field.into(),
                previous,
                new,
            });
        }
    };
    if let Some(n) = &change_name {
        note("Job Name", job.name.clone(), n.clone());
        job.name = n.clone();
    }
    if obj.contains_key("mode") {
        note("Recovery Mode", job.spec.mode.clone(), parsed.mode.clone());
        job.spec.mode = parsed.mode.clone();
        for p in &mut job.spec.parts {
            p.mode = parsed.mode.clone();
        }
    }
    if obj.contains_key("platform") {
        note(
            "Platform",
            job.spec.platform.clone(),
            parsed.platform.clone(),
        );
        job.spec.platform = parsed.platform.clone();
    }
    if obj.contains_key("mailEvent") {
        note(
            "Mail Event",
            job.spec.mail_event.clone().unwrap_or_default(),
            parsed.mail_event.clone().unwrap_or_default(),
        );
        job.spec.mail_event = parsed.mail_event.clone();
    }
    if obj.contains_key("networkLimit") {
        note(
            "Network Limit",
            job.spec.network_limit.to_string(),
            parsed.network_limit.to_string(),
        );
        job.spec.network_limit = parsed.network_limit;
    }
    if obj.contains_key("scriptPath") {
        note(
            "Script Path",
            job.spec.script_path.clone().unwrap_or_default(),
            parsed.script_path.clone().unwrap_or_default(),
        );
        job.spec.script_path = parsed.script_path.clone();
    }
    if obj.contains_key("scriptRun") {
        let r = parsed.script_run.map(|r| r.as_str().to_string());
        note(
            "Script Run",
            job.spec.script_run.clone().unwrap_or_default(),
            r.clone().unwrap_or_default(),
        );
        job.spec.script_run = r;
    }
    if job.spec.script_path.is_some() && job.spec.script_run.is_none() {
        job.spec.script_run = Some("before".into());
    }
    if obj.contains_key("verify") {
        note(
            "Verify",
            use_str(job.spec.verify).into(),
            use_str(parsed.verify).into(),
        );
        job.spec.verify = parsed.verify;
    }
    if obj.contains_key("retainTarget") {
        note(
            "Retain Target",
            use_str(job.spec.retain_target).into(),
            use_str(parsed.retain_target).into(),
        );
        job.spec.retain_target = parsed.retain_target;
    }
    let mut each: Vec<v::PartUpdate> = Vec::new();
    let mut perrs = FieldErrors::new();
    for (i, (partition, o)) in part_changes.iter().enumerate() {
        let prefix = format!("jobList[{i}]");
        let Some(p) = job
            .spec
            .parts
            .iter_mut()
            .find(|p| &p.source_partition == partition)
        else {
            return Err(not_found(format!(
                "Partition '{partition}' is not part of recovery job '{}'.",
                job.name
            )));
        };
        let mut fields = Vec::new();
        let mut set = |field: &str, prev: String, new: String| {
            if prev != new {
                fields.push(v::RecoveryUpdatedField {
                    field: field.into(),
                    previous: prev,
                    new,
                });
            }
        };
        if let Some(m) = o.get("mode") {
            match m.as_str().map(|s| s.trim().to_ascii_lowercase()).as_deref() {
                Some(m @ ("full" | "increment")) => {
                    set("Recovery Mode", p.mode.clone(), m.into());
                    p.mode = m.into();
                }
                _ => perrs.add(format!("{prefix}.mode"), crate::domain::recovery::MODE_MSG),
            }
        }
        if let Some(b) = o.get("backupFile") {
            match b.as_str() {
                Some(s) if !s.trim().is_empty() => {
                    let f = BackupFile::parse(s);
                    set("Backup File", file_name(&p.backup_file), file_name(&f));
                    p.backup_file = f;
                }
                _ => perrs.add(
                    format!("{prefix}.backupFile"),
                    "backupFile must be a point id, latest or a time",
                ),
            }
        }
        if let Some(t) = o.get("targetPartition") {
            if let Some(t) = crate::domain::recovery::target_dir(
                t,
                &format!("{prefix}.targetPartition"),
                &mut perrs,
            ) {
                set("Target", p.target_dir.clone(), t.clone());
                p.target_dir = t;
            }
        }
        if let Some(pol) = o.get("overwritePolicy") {
            match pol.as_str().map(|s| s.trim().to_ascii_lowercase()) {
                Some(s) if crate::domain::recovery::POLICIES.contains(&s.as_str()) => {
                    set("Overwrite Policy", p.overwrite_policy.clone(), s.clone());
                    p.overwrite_policy = s;
                }
                _ => perrs.add(
                    format!("{prefix}.overwritePolicy"),
                    format!(
                        "{prefix}.overwritePolicy must be one of {}",
                        crate::domain::recovery::POLICIES.join(", ")
                    ),
                ),
            }
        }
        if let Some(list) = o.get("paths") {
            if let Some(list) =
                crate::domain::fields::string_list(list, &format!("{prefix}.paths"), &mut perrs)
            {
                for (j, x) in list.iter().enumerate() {
                    if x.split('/').any(|c| c == "..") {
                        perrs.add(
                            format!("{prefix}.paths[{j}]"),
                            format!("{prefix}.paths[{j}] must not contain '..'"),
                        );
                    } else if !x.starts_with('/')
                        || !crate::domain::recovery::inside(x, &p.source_partition)
                    {
                        perrs.add(
                            format!("{prefix}.paths[{j}]"),
                            format!(
                                "{prefix}.paths[{j}] is outside partition '{}'",
                                p.source_partition
                            ),
                        );
                    }
                }
                set("Paths", p.paths.join(","), list.join(","));
                p.paths = list;
            }
        }
        each.push(v::PartUpdate {
            partition: partition.clone(),
            summary: v::PartUpdateSummary {
                state: "success".into(),
                common_updated_fields: fields,
            },
        });
    }
    for (i, p) in job.spec.parts.iter().enumerate() {
        if p.target_dir == p.source_partition
            && !policy_allows(&p.overwrite_policy)
            && p.overwrite_policy != "never"
        {
            perrs.add(
                format!("jobList[{i}].overwritePolicy"),
                "restoring in place needs overwritePolicy always, if-changed, if-newer or never",
            );
        }
    }
    if !perrs.is_empty() {
        return Err(ApiError::validation(perrs));
    }
    // Targets changed by this update are checked like at registration (R4).
    let repos = state
        .db
        .read(|c| db::repositories::list(c).map_err(ApiError::from))
        .await?;
    let forbidden = crate::runner::recovery::forbidden(&state.settings, &repos);
    for (i, p) in job.spec.parts.iter().enumerate() {
        if before.spec.parts.get(i).map(|b| &b.target_dir) != Some(&p.target_dir) {
            let (t, places) = (
                std::path::PathBuf::from(&p.target_dir),
                forbidden.places.clone(),
            );
            if let Some(m) = web::block(move || {
                crate::restore_target::problem(&t, &crate::restore_target::Forbidden { places })
            })
            .await
            .map_err(ApiError::internal)?
            {
                return Err(ApiError::field(&format!("jobList[{i}].targetPartition"), m));
            }
        }
    }
    let new_schedule = match obj.get("schedule") {
        Some(Value::Null) => Some(None),
        Some(_) => {
            let s = parsed.schedule.clone().expect("parsed");
            let plan = state.db.read(move |c| resolve_schedule(&s, c)).await?;
            Some(Some(plan))
        }
        None => None,
    };
    if let Some(s) = &new_schedule {
        let describe =
            |id: Option<ScheduleId>| id.map(|i| i.to_string()).unwrap_or_else(|| "-".into());
        let new = match s {
            Some(SchedulePlan::Attach(id, _)) => id.to_string(),
            Some(SchedulePlan::Insert(d)) => d.describe(),
            None => "-".into(),
        };
        note("Schedule", describe(job.schedule_id), new);
    }
    if let Some(s) = &status {
        note(
            "Status",
            if job.stopped { "stop" } else { "start" }.into(),
            s.clone(),
        );
    }
    let running = state.runner.recovery(job.id).is_some();
    if running
        && (change_name.is_some() || !part_changes.is_empty())
        && status.as_deref() != Some("stop")
    {
        return Err(ApiError::conflict(format!(
            "Recovery job '{}' is running; stop it or wait before changing its name or partitions",
            before.name
        )));
    }
    let user = job.user_id;
    let j = job.clone();
    let job = state
        .db
        .write(move |tx| {
            let mut job = j;
            if job.name != before.name && db::recoveries::find(tx, &job.name)?.is_some() {
                return Err(ApiError::conflict(JOB_NAME_CONFLICT));
            }
            let old = (job.schedule_id, job.owns_schedule);
            if let Some(s) = new_schedule {
                match s {
                    Some(SchedulePlan::Attach(id, _)) => {
                        job.schedule_id = Some(id);
                        job.owns_schedule = false;
                    }
                    Some(SchedulePlan::Insert(d)) => match old {
                        (Some(id), true) => db::schedules::overwrite(tx, id, &d)?,
                        _ => {
                            job.schedule_id = Some(db::schedules::insert(tx, &d, user, &job.name)?);
                            job.owns_schedule = true;
                        }
                    },
                    None => {
                        job.schedule_id = None;
                        job.owns_schedule = false;
                    }
                }
            }
            db::recoveries::update(tx, &job)?;
            // A record this job created and no longer uses goes (after the row let go of it).
            if let (Some(id), true) = old {
                if job.schedule_id != Some(id) {
                    db::schedules::delete_unused(tx, id)?;
                }
            }
            Ok::<_, ApiError>(job)
        })
        .await?;
    match status.as_deref() {
        Some("stop") => {
            state.runner.stop_recovery(job.id).await?;
        }
        Some("start") => {
            if state.runner.start_recovery(job.id).await? == RecoveryEnqueued::Busy {
                return Err(ApiError::conflict(format!(
                    "Recovery job '{}' is already running",
                    job.name
                )));
            }
        }
        _ => state.runner.arm_recovery(job.id).await,
    }
    Ok(ok(
        "Recovery job Update completed",
        v::RecoveryUpdated {
            job_info: v::JobInfoRef {
                id: job.id.to_string(),
                name: job.name.clone(),
            },
            summary: v::RecoveryUpdateSummary {
                state: "success".into(),
                common_updated_fields: changed,
                each_updated_fields: each,
            },
        },
    ))
}

/// How a partition's point choice reads in answers: the point id, `latest`, or the time.
pub fn file_name(f: &BackupFile) -> String {
    match f {
        BackupFile::Latest => "latest".into(),
        BackupFile::Point(p) | BackupFile::At(p) => p.clone(),
    }
}

/// Delete a recovery job (its history stays; restored files are never touched).
#[utoipa::path(
    delete,
    path = "/api/recoveries/{identifier}",
    tag = "recoveries",
    operation_id = "delete_recovery",
    params(
        ("identifier" = String, Path, description = "Recovery job ID or name"),
        crate::api::openapi::params::CenterQuery,
    ),
    responses(
        (status = 200, description = "Deleted", body = v::RecoveryDeletedEnvelope),
        (status = 409, description = "The job is running", body = crate::api::envelope::ErrorEnvelope),
    )
)]
pub async fn delete(
    state: web::Data<AppState>,
    _auth: Authed,
    ident: web::Path<String>,
    q: web::Query<super::query::Query>,
) -> ApiResult {
    if let Some(c) = q.get("center") {
        if !Ref::parse_ident(c.trim()).matches(1, &state.settings.center_name) {
            return Err(not_found(format!("Zdm with ID '{c}' not found")));
        }
    }
    let job = find(&state, &ident).await?;
    if state.runner.recovery(job.id).is_some() {
        return Err(ApiError::conflict(format!(
            "Recovery job '{}' is running; stop it first (PUT status: stop)",
            job.name
        )));
    }
    let j = job.clone();
    state
        .db
        .write(move |tx| {
            db::recoveries::delete(tx, j.id)?;
            if let (Some(id), true) = (j.schedule_id, j.owns_schedule) {
                db::schedules::delete_unused(tx, id)?;
            }
            Ok::<_, ApiError>(())
        })
        .await?;
    state.runner.disarm_recovery(job.id);
    tracing::info!(recovery = %job.name, "recovery job deleted");
    Ok(ok(
        "Recovery job deleted",
        v::RecoveryDeleted {
            job_info: job
                .spec
                .parts
                .iter()
                .map(|p| v::RecoveryDeletedJob {
                    name: job.name.clone(),
                    partition: p.source_partition.clone(),
                    deleted_components: v::RecoveryDeletedParts {
                        basic_info: true,
                        additional_info: true,
                        detail_info: true,
                        history_data: false,
                        log_data: false,
                    },
                })
                .collect(),
            summary: v::RecoveryDeleteSummary {
                state: "success".into(),
                affected_components: v::RecoveryAffected {
                    basic_info_deleted: 1,
                    additional_info_deleted: u64::from(job.owns_schedule),
                    detail_info_deleted: job.spec.parts.len() as u64,
                    history_data_deleted: 0,
                    log_data_deleted: 0,
                },
            },
        },
    ))
}
