//! The HTTP API: the whole route table, extractor error handlers, and the middleware that gives
//! every answer a request ID and logs it.

pub mod auth;
pub mod backups;
pub mod centers;
pub mod envelope;
pub mod jobs;
pub mod login_guard;
pub mod monitoring;
pub mod query;
pub mod repositories;
pub mod schedules;
pub mod servers;

use crate::state::AppState;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::error::{JsonPayloadError, QueryPayloadError};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, Route};
use envelope::{ok, ApiError, RequestCtx, CTX};
use serde_json::json;

fn json_error(err: JsonPayloadError, limit: usize) -> ApiError {
    match err {
        JsonPayloadError::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json",
        ),
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("Request body is larger than the limit of {limit} bytes"),
            )
        }
        JsonPayloadError::Deserialize(e) if e.is_eof() && e.line() == 1 && e.column() == 0 => {
            ApiError::bad_request("Request body is empty; send a JSON object")
        }
        JsonPayloadError::Deserialize(e) => ApiError::bad_request(format!("Malformed JSON: {e}")),
        other => ApiError::bad_request(format!("Could not read the request body: {other}")),
    }
}

fn query_error(err: QueryPayloadError) -> ApiError {
    ApiError::bad_request(format!("Malformed query string: {err}"))
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found(format!(
        "No route for {} {}",
        req.method(),
        req.path()
    )))
}

async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("Method {} is not allowed on {}", req.method(), req.path()),
    ))
}

async fn healthz() -> HttpResponse {
    ok(
        "ok",
        json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }),
    )
}

/// A resource whose unlisted methods answer 405 in the envelope.
fn resource(path: &str, routes: Vec<Route>) -> actix_web::Resource {
    let mut r = web::resource(path);
    for route in routes {
        r = r.route(route);
    }
    r.default_service(web::to(method_not_allowed))
}

/// The route table. Order matters where a literal segment competes with a `{identifier}`.
pub fn configure(cfg: &mut web::ServiceConfig, max_body: usize) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(max_body)
            .content_type_required(true)
            .content_type(|m| m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json"))
            .error_handler(move |e, _| json_error(e, max_body).into()),
    )
    .app_data(web::QueryConfig::default().error_handler(|e, _| query_error(e).into()))
    .service(resource("/healthz", vec![web::get().to(healthz)]))
    .service(resource(
        "/metrics",
        vec![web::get().to(crate::metrics::scrape)],
    ))
    .service(resource(
        "/api/token/issue",
        vec![web::post().to(auth::issue)],
    ))
    .service(resource(
        "/api/auth/issue",
        vec![web::post().to(auth::issue)],
    ))
    .service(resource(
        "/api/backups",
        vec![web::post().to(backups::register), web::get().to(jobs::list)],
    ))
    .service(resource(
        "/api/backups/histories",
        vec![web::get().to(monitoring::histories)],
    ))
    .service(resource(
        "/api/backups/histories/{identifier}",
        vec![web::get().to(monitoring::history)],
    ))
    .service(resource(
        "/api/backups/monitoring/job/{identifier}",
        vec![web::get().to(monitoring::job)],
    ))
    .service(resource(
        "/api/backups/monitoring/system/{identifier}",
        vec![web::get().to(monitoring::system)],
    ))
    .service(resource(
        "/api/backups/{identifier}",
        vec![
            web::get().to(jobs::get),
            web::put().to(jobs::update),
            web::patch().to(jobs::update),
            web::delete().to(jobs::delete),
        ],
    ))
    .service(resource(
        "/api/schedules",
        vec![
            web::get().to(schedules::list),
            web::post().to(schedules::create),
        ],
    ))
    .service(resource(
        "/api/schedules/{id}",
        vec![
            web::get().to(schedules::get),
            web::delete().to(schedules::delete),
        ],
    ))
    .service(resource("/api/servers", vec![web::get().to(servers::list)]))
    .service(resource(
        "/api/servers/partitions",
        vec![web::get().to(servers::all_partitions)],
    ))
    .service(resource(
        "/api/servers/{identifier}",
        vec![web::get().to(servers::get)],
    ))
    .service(resource(
        "/api/servers/{identifier}/partitions",
        vec![web::get().to(servers::partitions)],
    ));
    for base in ["/api/zdms", "/api/zdm-centers"] {
        cfg.service(resource(base, vec![web::get().to(centers::list)]))
            .service(resource(
                &format!("{base}/repositories"),
                vec![
                    web::get().to(repositories::list),
                    web::post().to(repositories::create),
                ],
            ))
            .service(resource(
                &format!("{base}/repositories/verify"),
                vec![web::post().to(repositories::verify)],
            ))
            .service(resource(
                &format!("{base}/repositories/{{id}}"),
                vec![
                    web::put().to(repositories::update),
                    web::delete().to(repositories::delete),
                ],
            ))
            .service(resource(
                &format!("{base}/{{identifier}}"),
                vec![web::get().to(centers::get)],
            ))
            .service(resource(
                &format!("{base}/{{identifier}}/repositories"),
                vec![web::get().to(repositories::by_center)],
            ));
    }
    crate::web::configure(cfg);
    cfg.default_service(web::to(not_found));
}

/// Gives each request an ID (body `requestID` and `X-Request-ID` header) and logs the answer.
pub fn request_middleware<S, B>(
    req: actix_web::dev::ServiceRequest,
    srv: &S,
) -> impl std::future::Future<Output = Result<ServiceResponse<B>, actix_web::Error>>
where
    S: Service<
        actix_web::dev::ServiceRequest,
        Response = ServiceResponse<B>,
        Error = actix_web::Error,
    >,
{
    let id = uuid::Uuid::new_v4().to_string();
    let zone = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.settings.zone)
        .unwrap_or(crate::clock::Zone::Host);
    let method = req.method().clone();
    let path = req.path().to_string();
    let started = std::time::Instant::now();
    let ctx = RequestCtx {
        id: id.clone(),
        zone,
    };
    let fut = CTX.sync_scope(ctx.clone(), || srv.call(req));
    CTX.scope(ctx, async move {
        let mut res = fut.await?;
        if let Ok(v) = HeaderValue::from_str(&id) {
            res.headers_mut()
                .insert(HeaderName::from_static("x-request-id"), v);
        }
        let status = res.status().as_u16();
        if let Some(state) = res.request().app_data::<web::Data<AppState>>() {
            let route = res
                .request()
                .match_pattern()
                .unwrap_or_else(|| "unmatched".into());
            state.http.observe(method.as_str(), &route, status);
        }
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        if status >= 500 {
            tracing::warn!(%method, %path, status, ms, request_id = %id, "request failed");
        } else {
            tracing::debug!(%method, %path, status, ms, request_id = %id, "request");
        }
        Ok(res)
    })
}
