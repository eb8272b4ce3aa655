//! The bundled status page: files of `web/` embedded into the binary, served with ETags.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "web/"]
struct Assets;

fn serve(req: &HttpRequest, name: &str) -> Option<HttpResponse> {
    let file = Assets::get(name)?;
    let etag = format!(
        "\"{}\"",
        file.metadata
            .sha256_hash()
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut b = if matches {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    b.insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Content-Type-Options", "nosniff"));
    if matches {
        return Some(b.finish());
    }
    Some(
        b.content_type(file.metadata.mimetype())
            .body(file.data.into_owned()),
    )
}

async fn index(req: HttpRequest) -> HttpResponse {
    serve(&req, "index.html").unwrap_or_else(|| HttpResponse::NotFound().finish())
}

async fn asset(
    req: HttpRequest,
    name: web::Path<String>,
) -> Result<HttpResponse, crate::api::envelope::ApiError> {
    serve(&req, &name).ok_or_else(|| {
        crate::api::envelope::ApiError::not_found(format!("No route for GET /{name}"))
    })
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    let asset_path = "/{name:[A-Za-z0-9_.-]+\\.(?:js|css|html|svg|ico|png)}";
    cfg.route("/", web::get().to(index))
        .route("/", web::head().to(index))
        .route(asset_path, web::get().to(asset))
        .route(asset_path, web::head().to(asset));
}
