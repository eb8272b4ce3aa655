//! Token issue (decision D17) and the `Authed` extractor that every other `/api` handler takes,
//! so no handler can forget authentication.

use super::envelope::{object_body, success, ApiError, ApiResult};
use super::views::auth::Token;
use crate::auth::{self, TokenError};
use crate::db;
use crate::domain::fields::{is_email, FieldErrors};
use crate::domain::ids::UserId;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest};
use serde_json::Value;

pub const MISSING: &str = "Authorization token is required.";
pub const EXPIRED: &str = "Token has expired.";
pub const INVALID: &str = "Invalid token.";
pub const BAD_LOGIN: &str = "Invalid e-mail or password.";

/// The authenticated user of a request.
pub struct Authed {
    pub user_id: UserId,
    pub email: String,
}

impl FromRequest for Authed {
    type Error = ApiError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let who = authenticate(&req).await?;
            // Every authenticated operation checks its query string the same way.
            super::query_guard::check(&req)?;
            Ok(who)
        })
    }
}

/// Checks the request's token (also used by `/metrics` in token mode): signature, expiry, and
/// that its user still exists with the same token generation (a password change or reset
/// makes older tokens stale).
pub async fn authenticate(req: &HttpRequest) -> Result<Authed, ApiError> {
    let (state, claimed) = token_claims(req)?;
    let (user_id, email, gen) = claimed;
    let current = state
        .db
        .read(move |c| db::users::token_generation(c, user_id).map_err(ApiError::from))
        .await?;
    match current {
        Some(g) if g == gen => Ok(Authed { user_id, email }),
        _ => Err(ApiError::unauthorized(INVALID)),
    }
}

type Claimed = (web::Data<AppState>, (UserId, String, i64));

fn token_claims(req: &HttpRequest) -> Result<Claimed, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal("application state missing"))?;
    let raw = req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or("");
    // `Bearer <token>`, or the bare token older clients send (spec §1.1).
    let token = match raw.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        Some(_) => return Err(ApiError::unauthorized(INVALID)),
        None => raw,
    };
    if token.is_empty() {
        return Err(ApiError::unauthorized(MISSING));
    }
    match state.keys.verify_user(token) {
        Ok(c) => Ok((state.clone(), c)),
        Err(TokenError::Expired) => Err(ApiError::unauthorized(EXPIRED)),
        Err(TokenError::Invalid) => Err(ApiError::unauthorized(INVALID)),
    }
}

/// Issues a token for an e-mail and password.
///
pub const FIELDS: &[&str] = &["email", "password"];

/// `POST /api/token/issue` (alias `/api/auth/issue`).
#[utoipa::path(
    post,
    path = "/api/token/issue",
    tag = "auth",
    operation_id = "issue_token",
    security(()),
    request_body = crate::api::openapi::requests::TokenRequest,
    responses(
        (status = 201, description = "Token issued", body = crate::api::views::auth::TokenEnvelope),
        (status = 429, description = "Too many failed logins from this address; see `Retry-After`", body = crate::api::envelope::ErrorEnvelope),
    )
)]
pub async fn issue(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> ApiResult {
    let peer = req.peer_addr().map(|a| a.ip());
    let mut errs = FieldErrors::new();
    let obj = object_body(body.into_inner(), FIELDS, &mut errs)?;
    let email = match obj.get("email") {
        Some(Value::String(s)) if is_email(s.trim()) => Some(s.trim().to_string()),
        Some(_) => {
            errs.add("email", "invalid email format");
            None
        }
        None => {
            errs.add("email", "email is required");
            None
        }
    };
    let password = match obj.get("password") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(_) => {
            errs.add("password", "password must be a non-empty string");
            None
        }
        None => {
            errs.add("password", "password is required");
            None
        }
    };
    let (Some(email), Some(password)) = (email, password) else {
        return Err(ApiError::validation(errs));
    };
    if !errs.is_empty() {
        return Err(ApiError::validation(errs));
    }
    if let Some(ip) = peer {
        if let Err(wait) = state.logins.check(ip, &email.to_lowercase()) {
            tracing::warn!(%ip, "token issue refused: too many failed logins");
            return Err(ApiError::too_many_requests(
                format!("Too many failed logins; try again in {wait} s."),
                wait,
            ));
        }
    }
    let lookup = email.clone();
    let user = state
        .db
        .read(move |c| db::users::by_email(c, &lookup).map_err(ApiError::from))
        .await?;
    // Verify against a dummy hash for unknown e-mails so both failures cost the same.
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| auth::dummy_hash().to_string());
    let ok = web::block(move || auth::verify_password(&password, &hash))
        .await
        .map_err(ApiError::internal)?;
    let user = match user {
        Some(u) if ok => u,
        _ => {
            if let Some(ip) = peer {
                state.logins.failed(ip, &email.to_lowercase());
            }
            tracing::warn!(email = %email, "token issue refused: wrong e-mail or password");
            return Err(ApiError::unauthorized(BAD_LOGIN));
        }
    };
    if let Some(ip) = peer {
        state.logins.succeeded(ip);
    }
    let (token, exp) = state
        .keys
        .issue(user.id, &user.email, user.token_generation)
        .map_err(ApiError::internal)?;
    let zone = state.settings.zone;
    Ok(success(
        StatusCode::CREATED,
        "Token issued successfully.",
        Some(Token {
            token,
            expires_at: zone.format_secs(Some(exp)),
        }),
        None,
    ))
}
