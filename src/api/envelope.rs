//! The ZDM response envelope (spec §1.2): `requestID`, `success`, `message`/`error`, `data`,
//! `pagination`, `timestamp`, and the one error type every handler returns.

use crate::clock::Zone;
use crate::domain::fields::FieldErrors;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use utoipa::ToSchema;

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

/// A success answer as sent. [`envelope!`] names one per `data` type for the OpenAPI document,
/// with the same fields.
#[derive(Serialize)]
struct Success<'a, T: Serialize> {
    #[serde(rename = "requestID")]
    request_id: String,
    success: bool,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pagination: Option<Pagination>,
    timestamp: String,
}

/// The success envelope of one `data` type, for the OpenAPI document (spec §1.2); what is sent
/// is [`Success`], which has the same fields.
macro_rules! envelope {
    ($name:ident, $data:ty, $doc:literal) => {
        #[doc = $doc]
        #[derive(serde::Serialize, utoipa::ToSchema)]
        #[allow(dead_code)]
        pub struct $name {
            /// Also sent as the `X-Request-ID` header.
            #[serde(rename = "requestID")]
            pub request_id: String,
            pub success: bool,
            pub message: String,
            pub data: $data,
            /// Present only when `page` or `limit` was given.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub pagination: Option<$crate::api::envelope::Pagination>,
            /// `YYYY-MM-DD HH:mm:ss` in the configured zone.
            pub timestamp: String,
        }
    };
}
pub(crate) use envelope;

/// Every failure: `success` is false, `error` says what went wrong.
#[derive(Serialize, ToSchema)]
pub struct ErrorEnvelope {
    #[serde(rename = "requestID")]
    pub request_id: String,
    pub success: bool,
    pub error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<ErrorDetail>,
    pub timestamp: String,
}

/// Machine-readable detail of a failure.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    /// Field path -> every problem with that field (decision D3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_errors: Option<BTreeMap<String, Vec<String>>>,
    /// Per-partition outcome when no job of a registration could be created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub results: Option<Vec<super::views::registration::RegisterResult>>,
    /// `FAIL` for a failed repository verification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// The verification step that failed (`exists`, `write`, `fsync`, `rename`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Where a page sits in the whole list (only when `page` or `limit` was given).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    pub current_page: u64,
    pub total_pages: u64,
    pub total_items: u64,
    pub items_per_page: u64,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

/// A success answer; `data` and `pagination` are omitted when `None`.
pub fn success<T: Serialize>(
    status: StatusCode,
    message: &str,
    data: Option<T>,
    pagination: Option<Pagination>,
) -> HttpResponse {
    let c = ctx();
    HttpResponse::build(status).json(Success {
        request_id: c.id,
        success: true,
        message,
        data,
        pagination,
        timestamp: now_stamp(&c.zone),
    })
}

pub fn ok<T: Serialize>(message: &str, data: T) -> HttpResponse {
    success(StatusCode::OK, message, Some(data), None)
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Boxed: most answers have none, and every `Result` carries this type.
    pub detail: Option<Box<ErrorDetail>>,
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
    pub fn with_detail(mut self, detail: ErrorDetail) -> Self {
        self.detail = Some(Box::new(detail));
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
        Self::bad_request(msg).with_detail(ErrorDetail {
            validation_errors: Some(errs.to_map()),
            ..Default::default()
        })
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
        let c = ctx();
        let body = ErrorEnvelope {
            request_id: c.id,
            success: false,
            error: self.message.clone(),
            detail: self.detail.as_deref().cloned(),
            timestamp: now_stamp(&c.zone),
        };
        let mut b = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            b.insert_header(("WWW-Authenticate", "Bearer"));
        }
        if let Some(secs) = self.retry_after {
            b.insert_header(("Retry-After", secs.to_string()));
        }
        b.json(body)
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
