//! Users (decision D14: the admin created at first start, and whoever it adds later): list,
//! one user, and changing one's own e-mail or password, which needs the current password.
//! Answers are typed structs that also give the OpenAPI schema.

use super::auth::Authed;
use super::envelope::{object_body, ok, ApiError, ApiResult};
use super::query::{paging, Query};
use crate::db::{self, users::UserRow};
use crate::domain::fields::{is_email, string, FieldErrors};
use crate::domain::job::Ref;
use crate::state::AppState;
use actix_web::web;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// A user as the API shows it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserItem {
    pub id: String,
    pub email: String,
    /// `YYYY-MM-DD HH:mm:ss` in the configured zone.
    pub created_at: String,
    pub updated_at: String,
    /// `PUT` only: what changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_fields: Option<Vec<UserChange>>,
    /// `PUT` only: true when the password changed, which ends every earlier token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_revoked: Option<bool>,
}

/// One changed field of a user; `password` has neither value.
#[derive(Serialize, ToSchema)]
pub struct UserChange {
    pub field: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
}

/// The body of `PUT /api/users/{identifier}`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct UserUpdate {
    pub email: Option<String>,
    /// At least 8 characters.
    pub password: Option<String>,
    pub current_password: String,
}

fn item(state: &AppState, u: &UserRow) -> UserItem {
    let z = state.settings.zone;
    UserItem {
        id: u.id.to_string(),
        email: u.email.clone(),
        created_at: z.format_secs(Some(u.created_at)),
        updated_at: z.format_secs(Some(u.updated_at)),
        updated_fields: None,
        tokens_revoked: None,
    }
}

/// A user by ID or e-mail.
async fn find(state: &AppState, ident: &str) -> Result<UserRow, ApiError> {
    let r = Ref::parse_ident(ident);
    let found = state
        .db
        .read(move |c| {
            let id = db::users::find_id(c, &r)?;
            id.map(|id| db::users::get(c, id))
                .transpose()
                .map(Option::flatten)
                .map_err(ApiError::from)
        })
        .await?;
    found.ok_or_else(|| ApiError::not_found(format!("User '{ident}' not found.")))
}

/// Every user.
#[utoipa::path(
    get,
    path = "/api/users",
    tag = "auth",
    operation_id = "list_users",
    params(crate::api::openapi::params::Paging),
    responses((status = 200, description = "Users", body = crate::api::views::auth::UserListEnvelope))
)]
pub async fn list(state: web::Data<AppState>, _auth: Authed, q: web::Query<Query>) -> ApiResult {
    let p = paging(&q)?;
    let rows = state
        .db
        .read(|c| db::users::list(c).map_err(ApiError::from))
        .await?;
    let items: Vec<UserItem> = rows.iter().map(|u| item(&state, u)).collect();
    super::query::page_answer(items, &p, "User list retrieved")
}

/// One user.
#[utoipa::path(
    get,
    path = "/api/users/{identifier}",
    tag = "auth",
    operation_id = "get_user",
    params(("identifier" = String, Path, description = "User ID or e-mail")),
    responses(
        (status = 200, description = "The user", body = crate::api::views::auth::UserEnvelope),
        (status = 404, description = "No such user", body = crate::api::envelope::ErrorEnvelope),
    )
)]
pub async fn get(state: web::Data<AppState>, _auth: Authed, ident: web::Path<String>) -> ApiResult {
    let u = find(&state, &ident).await?;
    Ok(ok("User retrieved", item(&state, &u)))
}

pub const UPDATE_FIELDS: &[&str] = &["email", "password", "currentPassword"];

/// Changes the caller's own e-mail and/or password; `currentPassword` proves it is them. A new
/// password ends every token issued before (the caller's too).
#[utoipa::path(
    put,
    path = "/api/users/{identifier}",
    tag = "auth",
    operation_id = "update_user",
    params(("identifier" = String, Path, description = "User ID or e-mail")),
    request_body = UserUpdate,
    responses(
        (status = 200, description = "Updated", body = crate::api::views::auth::UserEnvelope),
        (status = 403, description = "Another user's account, or a wrong current password", body = crate::api::envelope::ErrorEnvelope),
        (status = 404, description = "No such user", body = crate::api::envelope::ErrorEnvelope),
        (status = 409, description = "The e-mail belongs to another user", body = crate::api::envelope::ErrorEnvelope),
    )
)]
pub async fn update(
    state: web::Data<AppState>,
    auth: Authed,
    req: actix_web::HttpRequest,
    ident: web::Path<String>,
    body: web::Json<Value>,
) -> ApiResult {
    let mut errs = FieldErrors::new();
    let obj = object_body(body.into_inner(), UPDATE_FIELDS, &mut errs)?;
    let get = |k: &str, errs: &mut FieldErrors| obj.get(k).and_then(|v| string(v, k, errs));
    let email = get("email", &mut errs).map(|e| e.trim().to_string());
    let password = get("password", &mut errs);
    let current = get("currentPassword", &mut errs);
    if let Some(e) = &email {
        if !is_email(e) {
            errs.add(
                "email",
                format!("email must be an e-mail address, got '{e}'"),
            );
        }
    }
    if password.as_ref().is_some_and(|p| p.chars().count() < 8) {
        errs.add("password", "password must have at least 8 characters");
    }
    if email.is_none() && password.is_none() && errs.is_empty() {
        errs.add("body", "No fields provided for update (email, password)");
    }
    if current.is_none() {
        errs.add("currentPassword", "currentPassword is required");
    }
    if !errs.is_empty() {
        return Err(ApiError::validation(errs));
    }
    let user = find(&state, &ident).await?;
    if user.id != auth.user_id {
        return Err(ApiError::forbidden(
            "Users change only their own account; sign in as that user",
        ));
    }
    // The current password is guessed no faster here than at the login (same guard).
    let peer = req.peer_addr().map(|a| a.ip());
    let account = user.email.to_lowercase();
    if let Some(ip) = peer {
        if let Err(wait) = state.logins.check(ip, &account) {
            return Err(ApiError::too_many_requests(
                format!("Too many wrong passwords; try again in {wait} s."),
                wait,
            ));
        }
    }
    let me = user.email.clone();
    let stored = state
        .db
        .read(move |c| db::users::by_email(c, &me).map_err(ApiError::from))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("User '{ident}' not found.")))?;
    let current = current.expect("checked");
    let verified =
        web::block(move || crate::auth::verify_password(&current, &stored.password_hash))
            .await
            .map_err(ApiError::internal)?;
    if !verified {
        if let Some(ip) = peer {
            state.logins.failed(ip, &account);
        }
        tracing::warn!(
            user = %user.id,
            "user update refused: wrong current password"
        );
        return Err(ApiError::forbidden("currentPassword is wrong"));
    }
    let hash = match &password {
        Some(p) => {
            let p = p.clone();
            Some(
                web::block(move || crate::auth::hash_password(&p))
                    .await
                    .map_err(ApiError::internal)?
                    .map_err(ApiError::internal)?,
            )
        }
        None => None,
    };
    let (id, old_email) = (user.id, user.email.clone());
    let new_email = email.clone();
    let (row, fields) = state
        .db
        .write(move |tx| {
            let mut fields = Vec::new();
            let mut login = old_email.clone();
            if let Some(e) = new_email.filter(|e| !e.eq_ignore_ascii_case(&old_email)) {
                if db::users::by_email(tx, &e)?.is_some() {
                    return Err(ApiError::conflict(format!(
                        "E-mail '{e}' belongs to another user"
                    )));
                }
                db::users::set_email(tx, id, &e)?;
                fields.push(UserChange {
                    field: "email",
                    previous: Some(old_email.clone()),
                    new: Some(e.clone()),
                });
                login = e;
            }
            if let Some(h) = hash {
                db::users::set_password(tx, &login, &h)?;
                fields.push(UserChange {
                    field: "password",
                    previous: None,
                    new: None,
                });
            }
            let row =
                db::users::get(tx, id)?.ok_or_else(|| ApiError::internal("the user vanished"))?;
            Ok((row, fields))
        })
        .await?;
    tracing::info!(user = %id, fields = fields.len(), "user updated");
    let mut v = item(&state, &row);
    v.updated_fields = Some(fields);
    v.tokens_revoked = Some(password.is_some());
    Ok(ok("User updated", v))
}
