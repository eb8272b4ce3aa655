//! Schedules resource (spec §3.7): create, list, get, delete.

use super::auth::Authed;
use super::envelope::{object_body, ok, success, zone, ApiError, ApiResult};
use super::query::{center_filter_matches, numeric_id, paginate, paging, Query};
use super::views::schedules::{
    CenterRef, CreatedSchedule, CreatedSchedules, DeletedSchedule, ScheduleItem,
};
use crate::db::{self, schedules::ScheduleRow};
use crate::domain::fields::{string, FieldErrors};
use crate::domain::ids::ScheduleId;
use crate::domain::job::{parse_inline_schedule, Ref, ScheduleInput, SlotInput};
use crate::domain::schedule::{self, ScheduleData};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::web;
use serde_json::{Map, Value};

pub const FIELDS: &[&str] = &["center", "user", "jobName", "type", "basic", "advanced"];

/// Creates schedule record(s) (spec §3.7).
#[utoipa::path(
    post,
    path = "/api/schedules",
    tag = "schedules",
    operation_id = "create_schedule",
    request_body = crate::api::openapi::requests::ScheduleCreate,
    responses(
        (status = 201, description = "Created", body = crate::api::views::schedules::CreatedSchedulesEnvelope),
        (status = 409, description = "A smart basic part selects more than one value", body = crate::api::envelope::ErrorEnvelope),
    )
)]
pub async fn create(state: web::Data<AppState>, auth: Authed, body: web::Json<Value>) -> ApiResult {
    let mut errs = FieldErrors::new();
    let obj = object_body(body.into_inner(), FIELDS, &mut errs)?;
    let center = match obj.get("center") {
        Some(v) => Ref::parse(v, "center", &mut errs),
        None => {
            errs.add("center", "center is required");
            None
        }
    };
    let user = obj
        .get("user")
        .and_then(|v| Ref::parse(v, "user", &mut errs));
    let job_name = obj
        .get("jobName")
        .and_then(|v| string(v, "jobName", &mut errs))
        .unwrap_or_default();
    let sched: Map<String, Value> = obj
        .iter()
        .filter(|(k, _)| ["type", "basic", "advanced"].contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let now = state.settings.zone.now_local();
    let parsed = parse_inline_schedule(&sched, "", &mut errs, now);
    if !errs.is_empty() {
        return Err(ApiError::validation(errs));
    }
    let Some(ScheduleInput::Inline {
        kind,
        basic,
        advanced,
    }) = parsed
    else {
        return Err(ApiError::internal(
            "schedule parse returned nothing without errors",
        ));
    };
    let slot = |s: SlotInput, name: &str| match s {
        SlotInput::Data(d) => Ok(d),
        SlotInput::Id(_) => Err(ApiError::field(
            name,
            format!("{name} must be a schedule object here, not an ID"),
        )),
    };
    let basic = slot(basic, "basic")?;
    let advanced = advanced.map(|a| slot(a, "advanced")).transpose()?;
    if kind.is_smart() {
        if advanced.is_none() {
            return Err(ApiError::bad_request(
                "Smart Schedule requires advanced data.",
            ));
        }
        schedule::check_smart_basic_single(&basic).map_err(ApiError::conflict)?;
    }
    let center = center.expect("checked");
    if !center.matches(1, &state.settings.center_name) {
        return Err(ApiError::not_found(format!(
            "Zdm with ID '{center}' not found"
        )));
    }
    let token_user = auth.user_id;
    let (b_id, a_id) = state
        .db
        .write(move |tx| {
            let user_id = match &user {
                Some(u) => db::users::find_id(tx, u)?
                    .ok_or_else(|| ApiError::not_found(format!("User '{u}' not found.")))?,
                None => token_user,
            };
            let b = db::schedules::insert(tx, &basic, Some(user_id), &job_name)?;
            let a = advanced
                .as_ref()
                .map(|a| db::schedules::insert(tx, a, Some(user_id), &job_name))
                .transpose()?;
            Ok::<_, ApiError>(((b, basic), a.zip(advanced)))
        })
        .await?;
    let entry = |id: ScheduleId, d: &ScheduleData| CreatedSchedule {
        id: id.to_string(),
        kind: d.kind,
        state: 1,
        description: d.describe(),
    };
    let data = CreatedSchedules {
        basic: entry(b_id.0, &b_id.1),
        advanced: a_id.as_ref().map(|(id, d)| entry(*id, d)),
    };
    Ok(success(
        StatusCode::CREATED,
        "Schedule data regist result",
        Some(data),
        None,
    ))
}

fn kind_name(row: &ScheduleRow) -> String {
    row.data
        .as_ref()
        .map(|d| d.kind.name())
        .unwrap_or("Unknown")
        .into()
}

fn description(row: &ScheduleRow) -> String {
    row.data
        .as_ref()
        .map(|d| d.describe())
        .unwrap_or_else(|| "-".into())
}

fn item(row: &ScheduleRow, center_name: &str) -> ScheduleItem {
    let zone = zone();
    ScheduleItem {
        id: row.id.to_string(),
        center: CenterRef {
            id: row.center_id.to_string(),
            name: if row.center_id == 1 { center_name } else { "-" }.into(),
        },
        kind: kind_name(row),
        state: match row.state {
            1 => "Enabled",
            0 => "Disabled",
            _ => "Unknown",
        }
        .into(),
        job_name: row.job_name.clone(),
        last_run_time: zone.format_secs(row.last_run_at),
        description: description(row),
    }
}

/// Lists schedule records.
#[utoipa::path(
    get,
    path = "/api/schedules",
    tag = "schedules",
    operation_id = "list_schedules",
    params(
        crate::api::openapi::params::ScheduleFilters,
        crate::api::openapi::params::Paging,
    ),
    responses(
        (status = 200, description = "Schedules", body = crate::api::views::schedules::ScheduleListEnvelope),
    )
)]
pub async fn list(state: web::Data<AppState>, _auth: Authed, q: web::Query<Query>) -> ApiResult {
    let q = q.into_inner();
    let p = paging(&q)?;
    let id_filter = match q.get("id") {
        Some(v) => Some(
            v.trim()
                .parse::<i64>()
                .map_err(|_| ApiError::field("id", format!("id must be a number, got '{v}'")))?,
        ),
        None => None,
    };
    let type_filter = match q.get("type") {
        Some(v) => Some(
            schedule::parse_type(&Value::String(v.clone())).ok_or_else(|| {
                ApiError::field(
                    "type",
                    format!("type must be a schedule type 0 ~ 11 or its name, got '{v}'"),
                )
            })?,
        ),
        None => None,
    };
    let state_filter = match q.get("state").map(|s| s.to_ascii_lowercase()) {
        None => None,
        Some(s) if s == "enabled" => Some(1),
        Some(s) if s == "disabled" => Some(0),
        Some(s) => {
            return Err(ApiError::field(
                "state",
                format!("state must be enabled or disabled, got '{s}'"),
            ))
        }
    };
    let center_name = state.settings.center_name.clone();
    let center_ok = center_filter_matches(&q, 1, &center_name);
    let rows = state
        .db
        .read(|c| db::schedules::list(c).map_err(ApiError::from))
        .await?;
    let rows: Vec<ScheduleRow> = rows
        .into_iter()
        .filter(|r| center_ok && id_filter.is_none_or(|i| r.id.0 == i))
        .filter(|r| q.get("jobName").is_none_or(|j| &r.job_name == j))
        .filter(|r| type_filter.is_none_or(|t| r.kind.map(i64::from) == Some(i64::from(t))))
        .filter(|r| state_filter.is_none_or(|s| r.state == s))
        .collect();
    let (page, pagination) = paginate(rows, &p);
    let data: Vec<ScheduleItem> = page.iter().map(|r| item(r, &center_name)).collect();
    Ok(success(
        StatusCode::OK,
        "Schedule information list",
        Some(data),
        pagination,
    ))
}

/// One schedule record.
#[utoipa::path(
    get,
    path = "/api/schedules/{id}",
    tag = "schedules",
    operation_id = "get_schedule",
    params(
        ("id" = String, Path, description = "Schedule ID"),
    ),
    responses(
        (status = 200, description = "The schedule", body = crate::api::views::schedules::ScheduleEnvelope),
        (status = 422, description = "The stored schedule cannot be described", body = crate::api::envelope::ErrorEnvelope),
    )
)]
pub async fn get(state: web::Data<AppState>, _auth: Authed, id: web::Path<String>) -> ApiResult {
    let raw = id.into_inner();
    let not_found = || ApiError::not_found(format!("Schedule with ID '{raw}' not found"));
    let Ok(id) = raw.parse::<i64>().map(ScheduleId) else {
        return Err(not_found());
    };
    let row = state
        .db
        .read(move |c| db::schedules::get(c, id).map_err(ApiError::from))
        .await?;
    let row = row.ok_or_else(not_found)?;
    if row.data.is_none() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Schedule description conversion failed.",
        ));
    }
    Ok(ok(
        "Schedule information retrieved",
        item(&row, &state.settings.center_name),
    ))
}

/// Deletes a schedule record no job uses.
#[utoipa::path(
    delete,
    path = "/api/schedules/{id}",
    tag = "schedules",
    operation_id = "delete_schedule",
    params(
        ("id" = String, Path, description = "Schedule ID"),
        crate::api::openapi::params::CenterQuery,
    ),
    responses(
        (status = 200, description = "Deleted", body = crate::api::views::schedules::DeletedScheduleEnvelope),
        (status = 403, description = "The item belongs to another center", body = crate::api::envelope::ErrorEnvelope),
        (status = 409, description = "A job uses the schedule", body = crate::api::envelope::ErrorEnvelope),
    )
)]
pub async fn delete(
    state: web::Data<AppState>,
    _auth: Authed,
    id: web::Path<String>,
    q: web::Query<Query>,
) -> ApiResult {
    let raw = id.into_inner();
    let id = ScheduleId(numeric_id(&raw, "schedule identifier")?);
    if let Some(c) = q.get("center") {
        if !Ref::parse_ident(c.trim()).matches(1, &state.settings.center_name) {
            return Err(ApiError::forbidden(format!(
                "Schedule does not belong to center '{c}'"
            )));
        }
    }
    let row = state
        .db
        .write(move |tx| {
            let row = db::schedules::get(tx, id)?
                .ok_or_else(|| ApiError::not_found(format!("Schedule with ID '{id}' not found")))?;
            let refs = db::schedules::backup_references(tx, id)?;
            let recoveries = db::schedules::recovery_references(tx, id)?;
            if refs > 0 || recoveries > 0 {
                let mut by = Vec::new();
                if refs > 0 {
                    by.push(format!("backup({refs})"));
                }
                if recoveries > 0 {
                    by.push(format!("recovery({recoveries})"));
                }
                return Err(ApiError::conflict(format!(
                    "Schedule ID '{id}' is referenced by: {}",
                    by.join(", ")
                )));
            }
            db::schedules::delete(tx, id)?;
            Ok(row)
        })
        .await?;
    let name = if row.job_name.is_empty() {
        format!("Schedule-{id}")
    } else {
        row.job_name.clone()
    };
    Ok(ok(
        "Schedule has been successfully deleted",
        DeletedSchedule {
            id: id.0,
            name,
            kind: kind_name(&row),
            description: description(&row),
        },
    ))
}
