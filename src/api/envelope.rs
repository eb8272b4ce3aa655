//! The ZDM response envelope (spec §1.2): `requestID`, `success`, `message`/`error`, `data`,
//! `pagination`, `timestamp`, and the one error type every handler returns.

use crate::clock::Zone;
use crate::domain::fields::FieldErrors;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{json, Map, Value};

/// What the envelope needs to know about the request being answered.
#[derive(Clone)]
pub struct RequestCtx {
    pub id: String,
    pub zone: Zone,
}

tokio::task_local! {
    pub static CTX: RequestCtx;
}

fn ctx() -> RequestCtx {
    CTX.try_with(Clone::clone).unwrap_or_else(|_| RequestCtx {
        id: uuid::Uuid::new_v4().to_string(),
        zone: Zone::Host,
    })
}

pub fn now_stamp(zone: &Zone) -> String {
    zone.format(chrono::Utc::now())
}

/// The zone of the request being answered (for rendering times inside `data`).
pub fn zone() -> Zone {
    ctx().zone
}

fn envelope(success: bool) -> Map<String, Value> {
    let c = ctx();
    let mut m = Map::new();
    m.insert("requestID".into(), Value::String(c.id));
    m.insert("success".into(), Value::Bool(success));
    m.insert("timestamp".into(), Value::String(now_stamp(&c.zone)));
    m
}

/// A success answer; `data` and `pagination` are omitted when `None`.
pub fn success(
    status: StatusCode,
    message: &str,
    data: Option<Value>,
    pagination: Option<Value>,
) -> HttpResponse {
    let mut m = envelope(true);
    m.insert("message".into(), Value::String(message.into()));
    if let Some(d) = data {
        m.insert("data".into(), d);
    }
    if let Some(p) = pagination {
        m.insert("pagination".into(), p);
    }
    HttpResponse::build(status).json(Value::Object(m))
}

pub fn ok(message: &str, data: Value) -> HttpResponse {
    success(StatusCode::OK, message, Some(data), None)
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub detail: Option<Value>,
    /// Seconds for a `Retry-After` header (429 answers).
    pub retry_after: Option<u64>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.message)
    }
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            detail: None,
            retry_after: None,
        }
    }
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }
    pub fn too_many_requests(m: impl Into<String>, retry_after: u64) -> Self {
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, m);
        e.retry_after = Some(retry_after);
        e
    }
    pub fn with_detail(mut self, detail: Value) -> Self {
        self.detail = Some(detail);
        self
    }
    pub fn bad_request(m: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, m)
    }
    pub fn unauthorized(m: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, m)
    }
    pub fn forbidden(m: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, m)
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, m)
    }
    pub fn conflict(m: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, m)
    }
    /// Decision D3: 400 with every field problem in `detail.validationErrors`.
    pub fn validation(errs: FieldErrors) -> Self {
        let msg = errs
            .first_message()
            .unwrap_or("Request body validation failed.")
            .to_string();
        Self::bad_request(msg).with_detail(json!({ "validationErrors": errs.to_json() }))
    }
    /// A single-field validation failure.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let mut e = FieldErrors::new();
        e.add(field, message);
        Self::validation(e)
    }
    /// Unexpected failures: details go to the log, never to the client.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(request_id = %ctx().id, error = %e, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error.")
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut m = envelope(false);
        m.insert("error".into(), Value::String(self.message.clone()));
        if let Some(d) = &self.detail {
            m.insert("detail".into(), d.clone());
        }
        let mut b = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            b.insert_header(("WWW-Authenticate", "Bearer"));
        }
        if let Some(secs) = self.retry_after {
            b.insert_header(("Retry-After", secs.to_string()));
        }
        b.json(Value::Object(m))
    }
}

pub type ApiResult = Result<HttpResponse, ApiError>;

/// A request body that must be a JSON object with only `allowed` keys; unknown keys are added
/// to `errs` by name.
pub fn object_body(
    body: Value,
    allowed: &[&str],
    errs: &mut FieldErrors,
) -> Result<Map<String, Value>, ApiError> {
    match body {
        Value::Object(obj) => {
            crate::domain::fields::reject_unknown(&obj, allowed, "", errs);
            Ok(obj)
        }
        other => Err(ApiError::field(
            "body",
            format!(
                "request body must be a JSON object, got {}",
                crate::domain::fields::type_of(&other)
            ),
        )),
    }
}
