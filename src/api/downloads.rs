//! Downloads from a restore point (RECOVERIES.md §4.3, R8):
//! `GET /api/backups/{identifier}/images/{image}/download?path=...[&path=...][&format=...]`.
//!
//! One regular file without `format` streams raw; anything else streams as a PAX tar (or
//! tar.zst). Everything that can fail before the first byte (job, point, paths, key) is checked
//! first and answered with the JSON envelope; a failure while streaming (a damaged archive)
//! ends the response with an error, which aborts the connection.

use super::auth::Authed;
use super::envelope::ApiError;
use super::images::{catalog_path, identity, job_and_repo, locate, pick, INDEX_DIR};
use crate::engine::entry::Kind;
use crate::engine::export;
use crate::engine::index::PointIndex;
use crate::engine::stream::Chunk;
use crate::engine::CancelToken;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use std::io::{self, Write};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Bytes handed to the response per message.
const CHUNK: usize = 256 * 1024;

/// The write end of a streamed response: a blocking writer feeding the async body.
struct ChanWriter {
    tx: mpsc::Sender<Result<Bytes, io::Error>>,
    buf: Vec<u8>,
}

impl ChanWriter {
    /// Sends what is buffered, then `block` as it is (no copy).
    fn send_owned(&mut self, block: Chunk) -> io::Result<()> {
        self.send()?;
        self.push(Bytes::from_owner(block))
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.push(chunk)
    }

    fn push(&self, b: Bytes) -> io::Result<()> {
        self.tx
            .blocking_send(Ok(b))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Write for ChanWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// The async body over the channel.
struct Body(mpsc::Receiver<Result<Bytes, io::Error>>);

impl futures_core::Stream for Body {
    type Item = Result<Bytes, io::Error>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

/// Runs `produce` on the blocking pool, its output becoming the response body; an error ends the
/// body with that error (the connection is aborted, so the client sees a truncated download).
fn stream(
    mut resp: actix_web::HttpResponseBuilder,
    what: String,
    head: bool,
    produce: impl FnOnce(&mut ChanWriter) -> Result<(), crate::engine::EngineError> + Send + 'static,
) -> HttpResponse {
    let (tx, rx) = mpsc::channel(8);
    // HEAD gets the headers (a single file's length included) without reading the point.
    if head {
        drop(tx);
        return resp.streaming(Body(rx));
    }
    tokio::task::spawn_blocking(move || {
        let mut w = ChanWriter {
            tx: tx.clone(),
            buf: Vec::with_capacity(CHUNK),
        };
        let done = produce(&mut w).and_then(|()| {
            w.flush()
                .map_err(|e| crate::engine::EngineError::io("download", e))
        });
        match done {
            Ok(()) => tracing::info!(download = %what, "download sent"),
            Err(e) => {
                tracing::warn!(download = %what, error = %crate::error_chain::chain(&e), "download aborted");
                let _ = tx.blocking_send(Err(io::Error::other(e.to_string())));
            }
        }
    });
    resp.streaming(Body(rx))
}

/// `tar` or `tar.zst`, or none (a single file then streams raw).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Raw,
    Tar,
    TarZst,
}

/// Files, directories or several paths of a restore point.
#[utoipa::path(
    get,
    path = "/api/backups/{identifier}/images/{image}/download",
    tag = "recoveries",
    operation_id = "download_image_files",
    params(
        ("identifier" = String, Path, description = "Job ID or job name"),
        ("image" = String, Path, description = "Point id, or `latest`"),
        crate::api::openapi::params::DownloadQuery,
    ),
    responses(
        (status = 200, description = "The file's bytes, or a tar of the selection", content_type = "application/octet-stream"),
        (status = 400, description = "A bad path or format", body = crate::api::envelope::ErrorEnvelope),
        (status = 404, description = "No such job, point or path", body = crate::api::envelope::ErrorEnvelope),
        (status = 503, description = "The repository cannot be reached", body = crate::api::envelope::ErrorEnvelope),
    )
)]
pub async fn download(
    state: web::Data<AppState>,
    _auth: Authed,
    ids: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (ident, image) = ids.into_inner();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string())
        .map_err(|e| ApiError::bad_request(format!("Malformed query string: {e}")))?;
    let paths: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "path")
        .map(|(_, v)| v.clone())
        .collect();
    let format = pairs
        .iter()
        .rev()
        .find(|(k, _)| k == "format")
        .map(|(_, v)| v.clone());
    let head = req.method() == actix_web::http::Method::HEAD;
    serve(&state, &ident, &image, paths, format.as_deref(), head).await
}

fn parse_format(f: Option<&str>) -> Result<Format, ApiError> {
    match f {
        None => Ok(Format::Raw),
        Some("tar") => Ok(Format::Tar),
        Some("tar.zst") => Ok(Format::TarZst),
        Some(other) => Err(ApiError::field(
            "format",
            format!("format must be tar or tar.zst, got '{other}'"),
        )),
    }
}

/// The body of `POST .../download-url`.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// Absolute original paths (default: the whole partition).
    #[serde(default)]
    pub paths: Vec<String>,
    /// `tar` or `tar.zst`; without it a single regular file downloads raw.
    pub format: Option<String>,
}

/// A signed download link.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Link {
    /// Relative to this server; works once, without a token, until `expiresAt`.
    pub url: String,
    pub expires_at: String,
}

crate::api::envelope::envelope!(LinkEnvelope, Link, "A single-use download link.");

/// A signed link for a browser (`<a href>` cannot send a token): single use, 60 seconds.
#[utoipa::path(
    post,
    path = "/api/backups/{identifier}/images/{image}/download-url",
    tag = "recoveries",
    operation_id = "download_link",
    request_body = LinkRequest,
    params(
        ("identifier" = String, Path, description = "Job ID or job name"),
        ("image" = String, Path, description = "Point id, or `latest`"),
    ),
    responses(
        (status = 201, description = "The link", body = LinkEnvelope),
        (status = 400, description = "A bad path or format", body = crate::api::envelope::ErrorEnvelope),
        (status = 404, description = "No such job or point", body = crate::api::envelope::ErrorEnvelope),
    )
)]
pub async fn link(
    state: web::Data<AppState>,
    _auth: Authed,
    ids: web::Path<(String, String)>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let (ident, image) = ids.into_inner();
    let body: LinkRequest = serde_json::from_value(body.into_inner())
        .map_err(|e| ApiError::field("body", format!("invalid download request: {e}")))?;
    parse_format(body.format.as_deref())?;
    let (job, repo) = job_and_repo(&state, &ident).await?;
    for p in &body.paths {
        catalog_path(p, &job.partition, &job.name)?;
    }
    let server = state.settings.server_name.clone();
    let found = locate(&state, &repo, &server, &job.name).await?;
    let point = pick(&found.points, &image, &job.name)?;
    let grant = crate::download_links::Grant {
        job: job.id.to_string(),
        image: point.manifest.id.clone(),
        paths: body.paths,
        format: body.format,
        exp: 0,
        nonce: 0,
    };
    let (token, exp) = state.links.sign(grant, chrono::Utc::now().timestamp());
    let data = Link {
        url: format!("/downloads/{token}"),
        expires_at: super::envelope::zone().format_secs(Some(exp)),
    };
    Ok(super::envelope::success(
        actix_web::http::StatusCode::CREATED,
        "Download link created",
        Some(data),
        None,
    ))
}

/// `GET /downloads/{token}`: the download a signed link names (no bearer token: the link is
/// the credential, once).
pub async fn redeem(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    use crate::download_links::LinkError;
    let grant = state
        .links
        .redeem(&token, chrono::Utc::now().timestamp())
        .map_err(|e| match e {
            LinkError::Invalid => ApiError::forbidden(e.to_string()),
            LinkError::Expired | LinkError::Used => {
                ApiError::new(actix_web::http::StatusCode::GONE, e.to_string())
            }
        })?;
    serve(
        &state,
        &grant.job,
        &grant.image,
        grant.paths,
        grant.format.as_deref(),
        false,
    )
    .await
}

/// Checks everything that can fail before the first byte, then streams.
async fn serve(
    state: &AppState,
    ident: &str,
    image: &str,
    mut paths: Vec<String>,
    format: Option<&str>,
    head: bool,
) -> Result<HttpResponse, ApiError> {
    let format = parse_format(format)?;
    let (job, repo) = job_and_repo(state, ident).await?;
    if paths.is_empty() {
        paths.push(job.partition.clone());
    }
    let rels = paths
        .iter()
        .map(|p| catalog_path(p, &job.partition, &job.name))
        .collect::<Result<Vec<_>, _>>()?;
    let server = state.settings.server_name.clone();
    let found = locate(state, &repo, &server, &job.name).await?;
    let point = pick(&found.points, image, &job.name)?.clone();
    let identity = identity(state)?;
    if point.manifest.encryption && identity.is_none() {
        return Err(ApiError::new(
            actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
            "Encryption identity not available.",
        ));
    }
    let cache = state.settings.state_dir.join(INDEX_DIR);
    let (target, points) = (found.target.clone(), found.points.clone());
    let (p2, id2, r2) = (point.clone(), identity.clone(), rels.clone());
    let ix = web::block(move || {
        let ix = PointIndex::open_or_build(&cache, &*target, &points, &p2, id2.as_ref())?;
        let at = r2
            .iter()
            .map(|r| ix.entry(r))
            .collect::<Result<Vec<_>, _>>()?;
        Ok::<_, crate::engine::EngineError>((ix, at))
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::from)?;
    let (ix, at) = ix;
    for (p, e) in paths.iter().zip(&at) {
        if e.is_none() {
            return Err(ApiError::not_found(format!(
                "Path '{p}' not found in backup image '{}'.",
                point.manifest.id
            )));
        }
    }
    let what = format!("{}:{} {}", job.name, point.manifest.id, paths.join(","));
    let t = found.target.clone();
    let single = (at.len() == 1 && format == Format::Raw)
        .then(|| at[0].clone().expect("checked"))
        .filter(|e| matches!(e.kind, Kind::File | Kind::HardLink));
    if let Some(mut e) = single {
        // A hard link's content is its first name's.
        if e.kind == Kind::HardLink {
            let first = e.link.clone().unwrap_or_default();
            e = web::block(move || ix.entry(&first))
                .await
                .map_err(ApiError::internal)?
                .map_err(ApiError::from)?
                .ok_or_else(|| ApiError::internal("a hard link names a missing file"))?;
        }
        if !found.points.iter().any(|p| p.manifest.id == e.written_in) {
            return Err(ApiError::internal(format!(
                "point {} is gone",
                e.written_in
            )));
        }
        let points = found.points.clone();
        let name = String::from_utf8_lossy(&e.name).replace('"', "_");
        let modified = chrono::DateTime::from_timestamp(e.mtime, 0)
            .unwrap_or_default()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let mut resp = HttpResponse::Ok();
        resp.content_type("application/octet-stream")
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ))
            .insert_header((header::LAST_MODIFIED, modified))
            .no_chunking(e.size);
        return Ok(stream(resp, what, head, move |w| {
            export::write_file(
                &*t,
                &points,
                &e.written_in,
                &e.path,
                e.size,
                e.hash.as_deref(),
                identity.as_ref(),
                w,
            )
            .map(drop)
        }));
    }
    let zst = format == Format::TarZst;
    let file = format!(
        "{}_{}.tar{}",
        job.name.replace('"', "_"),
        point.manifest.id,
        if zst { ".zst" } else { "" }
    );
    let mut resp = HttpResponse::Ok();
    resp.content_type(if zst {
        "application/zstd"
    } else {
        "application/x-tar"
    })
    .insert_header((
        header::CONTENT_DISPOSITION,
        format!("attachment; filename=\"{file}\""),
    ));
    // A whole full point is its archive as it is (checked by the archive's hash).
    if rels.iter().any(|r| r == b".") && point.manifest.parent.is_none() {
        return Ok(stream(resp, what, head, move |w| {
            let cancel = CancelToken::new();
            if zst {
                let mut enc = zstd::Encoder::new(w, 3)
                    .map_err(|e| crate::engine::EngineError::io("download", e))?;
                let mut emit = |b: Chunk| enc.write_all(&b);
                export::write_archive(&*t, &point, identity.as_ref(), &mut emit, &cancel)?;
                enc.finish()
                    .map_err(|e| crate::engine::EngineError::io("download", e))?;
            } else {
                let mut emit = |b: Chunk| w.send_owned(b);
                export::write_archive(&*t, &point, identity.as_ref(), &mut emit, &cancel)?;
            }
            Ok(())
        }));
    }
    let points = found.points.clone();
    let ix = Arc::new(std::sync::Mutex::new(ix));
    Ok(stream(resp, what, head, move |w| {
        let written_in = |p: &[u8]| {
            let ix = ix.lock().unwrap_or_else(|e| e.into_inner());
            ix.entry(p).ok().flatten().map(|e| export::Holder {
                point: e.written_in,
                size: e.size,
                hash: e.hash,
            })
        };
        let cancel = CancelToken::new();
        let req = export::TarRequest {
            points: &points,
            point: &point,
            paths: &rels,
            identity: identity.as_ref(),
            written_in: &written_in,
        };
        if zst {
            let mut enc = zstd::Encoder::new(w, 3)
                .map_err(|e| crate::engine::EngineError::io("download", e))?;
            export::write_tar(&*t, &req, &mut enc, &cancel)?;
            enc.finish()
                .map_err(|e| crate::engine::EngineError::io("download", e))?;
        } else {
            export::write_tar(&*t, &req, &mut *w, &cancel)?;
        }
        Ok(())
    }))
}
