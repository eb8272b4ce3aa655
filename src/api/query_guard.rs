//! Every query string is checked against the OpenAPI document before a handler runs: a name the
//! operation does not take is a 400 with "did you mean", and booleans, integers and enums are
//! checked by their declared type. One rule for every endpoint, from the same document clients
//! read, so a handler cannot quietly ignore a filter it does not know.

use super::envelope::ApiError;
use actix_web::HttpRequest;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::LazyLock;

#[derive(Debug, Clone)]
enum Kind {
    Bool,
    Int { min: Option<i64>, max: Option<i64> },
    Enum(Vec<String>),
    Text,
}

type Operations = HashMap<(String, String), Vec<(String, Kind)>>;

/// (METHOD, path template) -> the query parameters it takes.
static OPERATIONS: LazyLock<Operations> = LazyLock::new(|| {
    let doc: Value = serde_json::from_str(&super::openapi::DOCUMENT).unwrap_or_default();
    operations(&doc)
});

fn operations(doc: &Value) -> Operations {
    let mut out = Operations::new();
    let Some(paths) = doc["paths"].as_object() else {
        return out;
    };
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, op) in item {
            let params = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "query")
                        .filter_map(|p| {
                            let name = p["name"].as_str()?.to_string();
                            Some((name, kind(doc, &p["schema"])))
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.insert((method.to_ascii_uppercase(), path.clone()), params);
        }
    }
    out
}

fn kind(doc: &Value, schema: &Value) -> Kind {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or_default();
        return kind(doc, &doc["components"]["schemas"][name]);
    }
    for alt in ["oneOf", "anyOf"] {
        if let Some(first) = schema[alt]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["type"] != "null"))
        {
            return kind(doc, first);
        }
    }
    if let Some(values) = schema["enum"].as_array() {
        return Kind::Enum(
            values
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
        );
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if types.contains(&"boolean") {
        Kind::Bool
    } else if types.contains(&"integer") {
        Kind::Int {
            min: schema["minimum"].as_i64(),
            max: schema["maximum"].as_i64(),
        }
    } else {
        Kind::Text
    }
}

/// Checks the query of a routed request; requests to paths the document does not describe
/// (the status page) pass.
pub fn check(req: &HttpRequest) -> Result<(), ApiError> {
    let Some(pattern) = req.match_pattern() else {
        return Ok(());
    };
    let method = match req.method().as_str() {
        "HEAD" => "GET".to_string(),
        m => m.to_string(),
    };
    let Some(params) = OPERATIONS.get(&(method, pattern)) else {
        return Ok(());
    };
    check_against(req.query_string(), params)
}

fn check_against(query: &str, params: &[(String, Kind)]) -> Result<(), ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|e| ApiError::bad_request(format!("Malformed query string: {e}")))?;
    for (key, value) in pairs {
        let Some((_, kind)) = params.iter().find(|(n, _)| *n == key) else {
            let names: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
            let hint = match crate::domain::fields::closest(&key, &names) {
                Some(c) => format!(" (did you mean '{c}'?)"),
                None if names.is_empty() => " (this operation takes none)".to_string(),
                None => format!(" (it takes: {})", names.join(", ")),
            };
            return Err(ApiError::field(
                &key,
                format!("unknown query parameter '{key}'{hint}"),
            ));
        };
        let v = value.trim();
        match kind {
            Kind::Bool => {
                if !["true", "false", "1", "0"].contains(&v.to_ascii_lowercase().as_str()) {
                    return Err(ApiError::field(
                        &key,
                        format!("{key} must be true or false, got '{value}'"),
                    ));
                }
            }
            Kind::Int { min, max } => {
                let n = v
                    .parse::<i64>()
                    .ok()
                    .filter(|n| min.is_none_or(|m| *n >= m) && max.is_none_or(|m| *n <= m));
                if n.is_none() {
                    let range = match (min, max) {
                        (Some(a), Some(b)) => format!(" between {a} and {b}"),
                        (Some(a), None) => format!(" of at least {a}"),
                        _ => String::new(),
                    };
                    return Err(ApiError::field(
                        &key,
                        format!("{key} must be an integer{range}, got '{value}'"),
                    ));
                }
            }
            Kind::Enum(allowed) => {
                if !allowed.iter().any(|a| a.eq_ignore_ascii_case(v)) {
                    let list: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
                    return Err(ApiError::field(
                        &key,
                        format!(
                            "Invalid enum value. Expected {}, received '{value}'",
                            list.join(" | ")
                        ),
                    ));
                }
            }
            Kind::Text => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_list_operation_is_known() {
        let ops = &*OPERATIONS;
        let get = |p: &str| ops.get(&("GET".to_string(), p.to_string())).unwrap();
        let names = |p: &str| -> Vec<String> { get(p).iter().map(|(n, _)| n.clone()).collect() };
        assert!(names("/api/backups").contains(&"repositoryType".to_string()));
        assert!(names("/api/backups/histories").contains(&"center".to_string()));
        assert!(names("/api/schedules").contains(&"type".to_string()));
        let backups = get("/api/backups");
        let msg = |q: &str| check_against(q, backups).unwrap_err().to_string();
        assert!(
            msg("limt=5").contains("did you mean 'limit'"),
            "{}",
            msg("limt=5")
        );
        assert!(msg("limit=x").contains("limit must be an integer between 1 and 1000"));
        assert!(msg("detail=maybe").contains("detail must be true or false"));
        assert!(
            msg("sort=up").contains("Expected 'asc' | 'desc'"),
            "{}",
            msg("sort=up")
        );
        assert!(check_against("limit=5&sort=ASC&detail=true&center=1", backups).is_ok());
    }
}
