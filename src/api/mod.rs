//! The HTTP API: the whole route table, extractor error handlers, and the middleware that gives
//! every answer a request ID and logs it.

pub mod auth;
pub mod backups;
pub mod centers;
pub mod downloads;
pub mod envelope;
pub mod errors;
pub mod images;
pub mod jobs;
pub mod metrics;
pub mod monitoring;
pub mod openapi;
pub mod query;
pub mod query_guard;
pub mod recoveries;
pub mod recovery_status;
pub mod repositories;
pub mod schedules;
pub mod servers;
pub mod users;
pub(crate) mod views;

use crate::state::AppState;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::error::{JsonPayloadError, QueryPayloadError};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{web, FromRequest, Handler, HttpRequest, HttpResponse, Responder, Route};
use envelope::{ok, ApiError, RequestCtx, CTX};

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

/// The 405 answer of a path, naming the methods it has.
fn method_not_allowed(allow: String) -> Route {
    web::to(move |req: HttpRequest| {
        let allow = allow.clone();
        async move {
            let e = ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("Method {} is not allowed on {}", req.method(), req.path()),
            );
            let mut res = actix_web::ResponseError::error_response(&e);
            if let Ok(v) = HeaderValue::from_str(&allow) {
                res.headers_mut().insert(actix_web::http::header::ALLOW, v);
            }
            res
        }
    })
}

/// The daemon is serving.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    operation_id = "healthz",
    security(()),
    responses((status = 200, description = "Serving", body = crate::api::views::auth::HealthEnvelope))
)]
pub async fn healthz() -> HttpResponse {
    ok(
        "ok",
        views::auth::Health {
            status: "ok".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
    )
}

/// One method of a path and its handler; a GET also answers HEAD (same status and headers, no
/// body: actix-http drops the body of HEAD answers).
fn ep<F, Args>(method: Method, handler: F) -> Vec<(Method, Route)>
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    let mut out = Vec::new();
    if method == Method::GET {
        out.push((Method::GET, web::get().to(handler.clone())));
        out.push((Method::HEAD, web::head().to(handler)));
    } else {
        out.push((method.clone(), web::method(method).to(handler)));
    }
    out
}

/// Registers paths and remembers which methods each has (for 405 `Allow` and the check that
/// the OpenAPI document lists exactly the served routes).
struct Table<'a> {
    cfg: &'a mut web::ServiceConfig,
    served: Vec<(String, Method)>,
}

impl Table<'_> {
    fn add(&mut self, path: &str, routes: Vec<Vec<(Method, Route)>>) -> &mut Self {
        let mut r = web::resource(path);
        let mut allow = Vec::new();
        for (method, route) in routes.into_iter().flatten() {
            allow.push(method.to_string());
            // HEAD is implied by GET in the OpenAPI document.
            if method != Method::HEAD {
                self.served.push((path.to_string(), method));
            }
            r = r.route(route);
        }
        self.cfg
            .service(r.default_service(method_not_allowed(allow.join(", "))));
        self
    }
}

/// The route table. Order matters where a literal segment competes with a `{identifier}`.
fn routes(cfg: &mut web::ServiceConfig) -> Vec<(String, Method)> {
    use Method as M;
    let mut t = Table {
        cfg,
        served: Vec::new(),
    };
    t.add("/healthz", vec![ep(M::GET, healthz)])
        .add("/metrics", vec![ep(M::GET, crate::api::metrics::scrape)])
        .add("/api/openapi.json", vec![ep(M::GET, openapi::serve)])
        .add("/api/token/issue", vec![ep(M::POST, auth::issue)])
        .add("/api/auth/issue", vec![ep(M::POST, auth::issue)])
        .add(
            "/api/backups",
            vec![ep(M::POST, backups::register), ep(M::GET, jobs::list)],
        )
        .add(
            "/api/backups/histories",
            vec![ep(M::GET, monitoring::histories)],
        )
        .add(
            "/api/backups/histories/{identifier}",
            vec![ep(M::GET, monitoring::history)],
        )
        .add(
            "/api/backups/monitoring/job/{identifier}",
            vec![ep(M::GET, monitoring::job)],
        )
        .add(
            "/api/backups/monitoring/system/{identifier}",
            vec![ep(M::GET, monitoring::system)],
        )
        .add(
            "/api/backups/images/server/{serverName}",
            vec![ep(M::GET, images::server_images)],
        )
        .add(
            "/api/backups/{identifier}/images",
            vec![ep(M::GET, images::job_images)],
        )
        .add(
            "/api/backups/{identifier}/images/{image}/files",
            vec![ep(M::GET, images::files)],
        )
        .add(
            "/api/backups/{identifier}/images/{image}/download",
            vec![ep(M::GET, downloads::download)],
        )
        .add(
            "/api/backups/{identifier}/images/{image}/download-url",
            vec![ep(M::POST, downloads::link)],
        )
        .add(
            "/api/backups/{identifier}",
            vec![
                ep(M::GET, jobs::get),
                ep(M::PUT, jobs::update),
                ep(M::PATCH, jobs::patch),
                ep(M::DELETE, jobs::delete),
            ],
        )
        .add(
            "/api/recoveries",
            vec![
                ep(M::POST, recoveries::register),
                ep(M::GET, recovery_status::list),
            ],
        )
        .add(
            "/api/recoveries/histories",
            vec![ep(M::GET, recovery_status::histories)],
        )
        .add(
            "/api/recoveries/histories/{identifier}",
            vec![ep(M::GET, recovery_status::history)],
        )
        .add(
            "/api/recoveries/monitoring/job/{identifier}",
            vec![ep(M::GET, recovery_status::monitor_job)],
        )
        .add(
            "/api/recoveries/monitoring/system/{identifier}",
            vec![ep(M::GET, recovery_status::monitor_system)],
        )
        .add(
            "/api/recoveries/{identifier}",
            vec![
                ep(M::GET, recovery_status::get),
                ep(M::PUT, recoveries::update),
                ep(M::DELETE, recoveries::delete),
            ],
        )
        .add(
            "/api/schedules",
            vec![ep(M::GET, schedules::list), ep(M::POST, schedules::create)],
        )
        .add(
            "/api/schedules/{id}",
            vec![ep(M::GET, schedules::get), ep(M::DELETE, schedules::delete)],
        )
        .add("/api/users", vec![ep(M::GET, users::list)])
        .add(
            "/api/users/{identifier}",
            vec![ep(M::GET, users::get), ep(M::PUT, users::update)],
        )
        .add("/api/servers", vec![ep(M::GET, servers::list)])
        .add(
            "/api/servers/partitions",
            vec![ep(M::GET, servers::all_partitions)],
        )
        .add(
            "/api/servers/{identifier}",
            vec![ep(M::GET, servers::get), ep(M::DELETE, servers::delete)],
        )
        .add(
            "/api/servers/{identifier}/partitions",
            vec![ep(M::GET, servers::partitions)],
        );
    for base in ["/api/zdms", "/api/zdm-centers"] {
        t.add(base, vec![ep(M::GET, centers::list)])
            .add(
                &format!("{base}/repositories"),
                vec![
                    ep(M::GET, repositories::list),
                    ep(M::POST, repositories::create),
                ],
            )
            .add(
                &format!("{base}/repositories/verify"),
                vec![ep(M::POST, repositories::verify)],
            )
            .add(
                &format!("{base}/repositories/{{id}}"),
                vec![
                    ep(M::PUT, repositories::update),
                    ep(M::DELETE, repositories::delete),
                ],
            )
            .add(
                &format!("{base}/{{identifier}}"),
                vec![ep(M::GET, centers::get), ep(M::DELETE, centers::delete)],
            )
            .add(
                &format!("{base}/{{identifier}}/repositories"),
                vec![ep(M::GET, repositories::by_center)],
            );
    }
    t.served
}

/// Every served (path, method) of the API.
pub fn route_inventory() -> Vec<(String, Method)> {
    let mut served = Vec::new();
    let _ = actix_web::App::new().configure(|cfg| served = routes(cfg));
    served
}

/// The API, the status page, and the envelope answers for bad bodies and unknown paths.
pub fn configure(cfg: &mut web::ServiceConfig, max_body: usize) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(max_body)
            .content_type_required(true)
            .content_type(|m| m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json"))
            .error_handler(move |e, _| json_error(e, max_body).into()),
    )
    .app_data(web::QueryConfig::default().error_handler(|e, _| query_error(e).into()));
    routes(cfg);
    // Signed links are their own credential: outside /api, where every route needs a token.
    cfg.route("/downloads/{token}", web::get().to(downloads::redeem));
    crate::web::configure(cfg);
    cfg.default_service(web::to(not_found));
}

/// Gives each request an ID (body `requestID` and `X-Request-ID` header) and logs the answer.
/// A request body must arrive completely within this time from the request's start; a client
/// that sends headers and then trickles (or stops) gets 400 and its connection is closed.
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The request payload with a deadline (see `BODY_TIMEOUT`).
struct Deadline {
    inner: actix_web::dev::Payload,
    sleep: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl futures_core::Stream for Deadline {
    type Item = Result<actix_web::web::Bytes, actix_web::error::PayloadError>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::future::Future;
        use std::task::Poll;
        if let Poll::Ready(item) = std::pin::Pin::new(&mut self.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(actix_web::error::PayloadError::Io(
                std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "the request body did not arrive within {} s",
                        BODY_TIMEOUT.as_secs()
                    ),
                ),
            ))));
        }
        Poll::Pending
    }
}

pub fn request_middleware<S, B>(
    mut req: actix_web::dev::ServiceRequest,
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
    let payload = actix_web::HttpMessage::take_payload(&mut req);
    req.set_payload(actix_web::dev::Payload::Stream {
        payload: Box::pin(Deadline {
            inner: payload,
            sleep: Box::pin(tokio::time::sleep(BODY_TIMEOUT)),
        }),
    });
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
