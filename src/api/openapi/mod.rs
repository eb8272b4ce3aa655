//! The OpenAPI 3.1 description of the API, served at `GET /api/openapi.json`. It is built from
//! the handlers' `#[utoipa::path]` annotations, the answers they build (`api::views`) and the
//! request bodies they accept ([`requests`]); what every operation shares (bearer auth, error
//! answers, the request ID header, the legacy alias paths) is added here once, so no annotation
//! can forget it.

pub mod params;
pub mod requests;

use super::auth::Authed;
use actix_web::HttpResponse;
use std::sync::LazyLock;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Doc, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "zdm-backupd",
        description = "The ZDM backup API of one backup appliance: jobs, schedules, runs, \
                       repositories. Every answer is a JSON envelope with `requestID`, `success`, \
                       `message` or `error`, and `timestamp`. Get a token with \
                       `POST /api/token/issue` and send it as `Authorization: Bearer <token>`.",
        license(name = "see the package")
    ),
    paths(
        super::healthz,
        crate::api::metrics::scrape,
        serve,
        super::auth::issue,
        super::backups::register,
        super::jobs::list,
        super::jobs::get,
        super::jobs::update,
        super::jobs::patch,
        super::jobs::delete,
        super::monitoring::job,
        super::monitoring::system,
        super::monitoring::histories,
        super::monitoring::history,
        super::images::server_images,
        super::images::job_images,
        super::images::files,
        super::downloads::download,
        super::downloads::link,
        super::recoveries::register,
        super::recovery_status::list,
        super::recovery_status::get,
        super::recoveries::update,
        super::recoveries::delete,
        super::recovery_status::monitor_job,
        super::recovery_status::monitor_system,
        super::recovery_status::histories,
        super::recovery_status::history,
        super::schedules::create,
        super::schedules::list,
        super::schedules::get,
        super::schedules::delete,
        super::users::list,
        super::users::get,
        super::users::update,
        super::servers::list,
        super::servers::get,
        super::servers::delete,
        super::servers::all_partitions,
        super::servers::partitions,
        super::centers::list,
        super::centers::get,
        super::centers::delete,
        super::repositories::list,
        super::repositories::by_center,
        super::repositories::create,
        super::repositories::verify,
        super::repositories::update,
        super::repositories::delete,
    ),
    components(schemas(crate::api::envelope::ErrorEnvelope, params::Sort)),
    modifiers(&Conventions),
    security(("bearer" = [])),
    tags(
        (name = "auth", description = "Tokens"),
        (name = "backups", description = "Backup jobs (spec §2, §4)"),
        (name = "monitoring", description = "Progress and run history (spec §4.5-4.7)"),
        (name = "schedules", description = "Schedule records (spec §3)"),
        (name = "recoveries", description = "Restore points, browsing and restores (RECOVERIES.md)"),
        (name = "servers", description = "This host and its partitions (spec §5.1)"),
        (name = "centers", description = "This appliance (spec §5.2)"),
        (name = "repositories", description = "Where restore points are written (spec §5.3)"),
        (name = "operations", description = "Health, metrics and this document"),
    )
)]
pub struct ApiDoc;

/// The document, built once.
pub static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_json()
        .expect("the OpenAPI document serializes")
});

/// This document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    tag = "operations",
    operation_id = "openapi",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object))
)]
pub async fn serve(_auth: Authed) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(DOCUMENT.as_str())
}

/// Paths the spec names twice; the second name answers exactly like the first.
const ALIASES: &[(&str, &str)] = &[
    ("/api/token/issue", "/api/auth/issue"),
    ("/api/zdms", "/api/zdm-centers"),
];

struct Conventions;

impl Modify for Conventions {
    fn modify(&self, doc: &mut Doc) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("A token from `POST /api/token/issue`"))
                    .build(),
            ),
        );
        for item in doc.paths.paths.values_mut() {
            operations(item).for_each(add_common_answers);
        }
        add_aliases(doc);
    }
}

/// The operations of a path (the API uses no other methods).
fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .flatten()
}

fn error(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorEnvelope")))
                    .build(),
            )
            .build(),
    )
}

/// Error answers every operation can give, and the request ID header on every answer.
fn add_common_answers(op: &mut Operation) {
    let public = op
        .security
        .as_ref()
        .is_some_and(|s| s.iter().all(|r| r == &Default::default()));
    let with_body = op.request_body.is_some();
    let answers = &mut op.responses.responses;
    let mut add = |code: &str, description: &str| {
        answers
            .entry(code.to_string())
            .or_insert_with(|| error(description));
    };
    add(
        "400",
        "Bad input: `error` names the first problem, `detail.validationErrors` all of them",
    );
    if !public {
        add("401", "Missing, malformed or expired token");
    }
    add("404", "Not found (the error names what)");
    if with_body {
        add("413", "Request body larger than `http.max_body_bytes`");
        add("415", "Content-Type is not JSON");
    }
    add(
        "500",
        "Unexpected failure; details are in the daemon's log under the request ID",
    );
    for answer in answers.values_mut() {
        if let RefOr::T(r) = answer {
            r.headers.insert(
                "X-Request-ID".into(),
                HeaderBuilder::new()
                    .schema(String::schema_ref())
                    .description(Some("The request's ID, also in the body as `requestID`"))
                    .build(),
            );
        }
    }
}

trait SchemaRef {
    fn schema_ref() -> RefOr<utoipa::openapi::schema::Schema>;
}

impl SchemaRef for String {
    fn schema_ref() -> RefOr<utoipa::openapi::schema::Schema> {
        RefOr::T(utoipa::openapi::schema::Schema::Object(
            utoipa::openapi::schema::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::String)
                .build(),
        ))
    }
}

/// Copies each aliased path (and everything under it) to its second name, with operation IDs
/// made unique.
fn add_aliases(doc: &mut Doc) {
    let mut extra = Vec::new();
    for (path, item) in &doc.paths.paths {
        for (from, to) in ALIASES {
            if let Some(rest) = path.strip_prefix(from) {
                if rest.is_empty() || rest.starts_with('/') {
                    let mut item = item.clone();
                    for op in operations(&mut item) {
                        if let Some(id) = &mut op.operation_id {
                            id.push_str("_alias");
                        }
                        op.description = Some(format!("Same as `{from}{rest}`."));
                    }
                    extra.push((format!("{to}{rest}"), item));
                }
            }
        }
    }
    doc.paths.paths.extend(extra);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented_and_every_documented_route_exists() {
        let doc = ApiDoc::openapi();
        let mut documented: Vec<(String, String)> = Vec::new();
        for (path, item) in &doc.paths.paths {
            for (method, op) in [
                ("GET", &item.get),
                ("PUT", &item.put),
                ("POST", &item.post),
                ("DELETE", &item.delete),
                ("PATCH", &item.patch),
            ] {
                if op.is_some() {
                    documented.push((method.to_string(), path.clone()));
                }
            }
        }
        documented.sort();
        let mut served: Vec<(String, String)> = super::super::route_inventory()
            .into_iter()
            .map(|(path, m)| (m.to_string(), path))
            .collect();
        served.sort();
        assert_eq!(documented, served);
    }

    #[test]
    fn document_is_openapi_3_1_with_bearer_auth() {
        let v: serde_json::Value = serde_json::from_str(&DOCUMENT).unwrap();
        assert_eq!(v["openapi"], "3.1.0");
        assert_eq!(
            v["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        assert_eq!(v["security"][0]["bearer"], serde_json::json!([]));
        let issue = &v["paths"]["/api/token/issue"]["post"];
        assert_eq!(issue["security"], serde_json::json!([{}]));
        assert!(issue["responses"]["429"].is_object());
        assert!(issue["responses"].get("401").is_none());
        let list = &v["paths"]["/api/backups"]["get"];
        assert!(list["responses"]["401"].is_object());
        assert!(list.get("security").is_none());
    }

    /// Property names of a component schema, following `$ref` and `allOf`.
    fn properties(doc: &serde_json::Value, name: &str) -> Vec<String> {
        fn walk(doc: &serde_json::Value, s: &serde_json::Value, out: &mut Vec<String>) {
            if let Some(r) = s["$ref"].as_str() {
                let name = r.rsplit('/').next().unwrap();
                return walk(doc, &doc["components"]["schemas"][name], out);
            }
            if let Some(all) = s["allOf"].as_array() {
                all.iter().for_each(|p| walk(doc, p, out));
            }
            if let Some(props) = s["properties"].as_object() {
                out.extend(props.keys().cloned());
            }
        }
        let mut out = Vec::new();
        walk(doc, &doc["components"]["schemas"][name], &mut out);
        out.sort();
        out
    }

    fn sorted(list: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    }

    /// utoipa names a schema after its Rust type and keeps the last of two with one name, so
    /// two answer types called alike would silently document one shape for both.
    #[test]
    fn schema_types_have_distinct_names() {
        let sources = [
            include_str!("../views/auth.rs"),
            include_str!("../views/hosts.rs"),
            include_str!("../views/images.rs"),
            include_str!("../views/jobs.rs"),
            include_str!("../views/monitoring.rs"),
            include_str!("../views/recoveries.rs"),
            include_str!("../views/registration.rs"),
            include_str!("../views/repositories.rs"),
            include_str!("../views/schedules.rs"),
            include_str!("../envelope.rs"),
            include_str!("../downloads.rs"),
            include_str!("requests.rs"),
            include_str!("params.rs"),
        ];
        let mut seen = std::collections::HashSet::new();
        for src in sources {
            for line in src.lines() {
                let Some(rest) = line
                    .strip_prefix("pub struct ")
                    .or_else(|| line.strip_prefix("pub enum "))
                else {
                    continue;
                };
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                assert!(seen.insert(name.clone()), "two schema types named {name}");
            }
        }
        let views = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/src/api/views"))
            .unwrap()
            .count();
        assert_eq!(views, 10, "a new views file: add it to the list above");
    }

    #[test]
    fn request_bodies_list_exactly_the_fields_the_handlers_accept() {
        let doc: serde_json::Value = serde_json::from_str(&DOCUMENT).unwrap();
        use crate::domain::job;
        for (schema, accepted) in [
            ("TokenRequest", super::super::auth::FIELDS),
            ("RegisterRequest", job::TOP_FIELDS),
            ("IndividualOverride", job::INDIVIDUAL_FIELDS),
            ("UpdateRequest", job::UPDATE_FIELDS),
            ("RecoveryRegister", crate::domain::recovery::TOP_FIELDS),
            ("RecoveryPartRequest", crate::domain::recovery::PART_FIELDS),
            ("RecoveryUpdate", super::super::recoveries::UPDATE_FIELDS),
            (
                "RecoveryPartUpdate",
                super::super::recoveries::UPDATE_PART_FIELDS,
            ),
            ("ScheduleCreate", super::super::schedules::FIELDS),
            (
                "RepositoryCreate",
                super::super::repositories::REGISTER_FIELDS,
            ),
            (
                "RepositoryUpdate",
                super::super::repositories::UPDATE_FIELDS,
            ),
            (
                "RepositoryVerify",
                super::super::repositories::VERIFY_FIELDS,
            ),
        ] {
            assert_eq!(properties(&doc, schema), sorted(accepted), "{schema}");
        }
    }

    #[test]
    fn every_operation_documents_its_errors_and_the_request_id() {
        let doc: serde_json::Value = serde_json::from_str(&DOCUMENT).unwrap();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let answers = op["responses"].as_object().unwrap();
                for code in ["400", "404", "500"] {
                    assert!(answers.contains_key(code), "{method} {path} lacks {code}");
                }
                let public = op.get("security").is_some();
                assert_eq!(answers.contains_key("401"), !public, "{method} {path}");
                for (code, a) in answers {
                    assert!(
                        a["headers"]["X-Request-ID"].is_object(),
                        "{method} {path} {code}"
                    );
                }
            }
        }
    }
}
