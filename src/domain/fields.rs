//! Field-level validation helpers over `serde_json::Value`.
//!
//! Request bodies are parsed by hand instead of with `#[serde(deny_unknown_fields)]` because the
//! API must report *every* problem of a request at once (decision D3), keyed by the dotted field
//! path, and serde stops at the first one.

use serde_json::{Map, Value};

/// Problems found in one request, in the order they were found.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FieldErrors {
    entries: Vec<(String, Vec<String>)>,
}

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        let field = field.into();
        let message = message.into();
        match self.entries.iter_mut().find(|(f, _)| *f == field) {
            Some((_, msgs)) => msgs.push(message),
            None => self.entries.push((field, vec![message])),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The first message found: it becomes the envelope's `error` string.
    pub fn first_message(&self) -> Option<&str> {
        self.entries
            .first()
            .and_then(|(_, m)| m.first())
            .map(String::as_str)
    }

    pub fn merge(&mut self, other: FieldErrors) {
        for (field, msgs) in other.entries {
            for m in msgs {
                self.add(field.clone(), m);
            }
        }
    }

    /// Field path -> every problem with it.
    pub fn to_map(&self) -> std::collections::BTreeMap<String, Vec<String>> {
        self.entries.iter().cloned().collect()
    }

    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        for (field, msgs) in &self.entries {
            map.insert(field.clone(), Value::from(msgs.clone()));
        }
        Value::Object(map)
    }

    pub fn into_result<T>(self, value: T) -> Result<T, FieldErrors> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

/// Joins a parent path and a key: `join("individual[0]", "type")` -> `individual[0].type`.
pub fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Reports every key of `obj` that is not in `allowed`, suggesting the closest allowed key so a
/// typo such as `rotaton` is named, not silently ignored.
pub fn reject_unknown(
    obj: &Map<String, Value>,
    allowed: &[&str],
    prefix: &str,
    errs: &mut FieldErrors,
) {
    for key in obj.keys() {
        if !allowed.contains(&key.as_str()) {
            let msg = match closest(key, allowed) {
                Some(s) => format!("unknown field '{key}' (did you mean '{s}'?)"),
                None => format!(
                    "unknown field '{key}'; allowed fields: {}",
                    allowed.join(", ")
                ),
            };
            errs.add(join(prefix, key), msg);
        }
    }
}

pub fn closest<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    let key_l = key.to_ascii_lowercase();
    allowed
        .iter()
        .map(|a| (edit_distance(&key_l, &a.to_ascii_lowercase()), *a))
        .filter(|(d, a)| *d <= 2.max(a.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A JSON type name for messages.
pub fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A request body as an object, with unknown fields and missing `required` ones reported;
/// `None` (reported too) when it is not an object.
pub fn body_object<'a>(
    body: &'a Value,
    allowed: &[&str],
    required: &[&str],
    errs: &mut FieldErrors,
) -> Option<&'a serde_json::Map<String, Value>> {
    let Value::Object(obj) = body else {
        errs.add(
            "body",
            format!("request body must be a JSON object, got {}", type_of(body)),
        );
        return None;
    };
    reject_unknown(obj, allowed, "", errs);
    for k in required {
        if obj.get(*k).is_none_or(Value::is_null) {
            errs.add(*k, format!("{k} is required"));
        }
    }
    Some(obj)
}

/// A non-empty, trimmed string.
pub fn string(v: &Value, field: &str, errs: &mut FieldErrors) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::String(_) => {
            errs.add(field, format!("{field} must not be empty"));
            None
        }
        other => {
            errs.add(
                field,
                format!("{field} must be a string, got {}", type_of(other)),
            );
            None
        }
    }
}

/// An integer given as a JSON number or a string of digits (clients written against the t1
/// implementation send both).
pub fn integer(v: &Value, field: &str, min: i64, max: i64, errs: &mut FieldErrors) -> Option<i64> {
    let n = match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if (min..=max).contains(&n) => Some(n),
        Some(n) => {
            errs.add(
                field,
                format!("{field} must be between {min} and {max}, got {n}"),
            );
            None
        }
        None => {
            errs.add(
                field,
                format!("{field} must be an integer between {min} and {max}, got {v}"),
            );
            None
        }
    }
}

/// `use` / `not use` (booleans accepted as a courtesy to the vendor CLI's JSON).
pub fn use_option(v: &Value, field: &str, errs: &mut FieldErrors) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "use" => Some(true),
            "not use" => Some(false),
            _ => {
                errs.add(
                    field,
                    format!("{field} must be 'use' or 'not use', got '{s}'"),
                );
                None
            }
        },
        other => {
            errs.add(
                field,
                format!("{field} must be 'use' or 'not use', got {}", type_of(other)),
            );
            None
        }
    }
}

/// A list given as an array of strings or a string separated by `,` or `|` (decision D7).
pub fn string_list(v: &Value, field: &str, errs: &mut FieldErrors) -> Option<Vec<String>> {
    let items: Vec<String> = match v {
        Value::String(s) => s
            .split([',', '|'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        Value::Array(a) => {
            let mut out = Vec::new();
            for (i, item) in a.iter().enumerate() {
                match item {
                    Value::String(s) if !s.trim().is_empty() => out.push(s.trim().to_string()),
                    other => {
                        errs.add(
                            format!("{field}[{i}]"),
                            format!("{field}[{i}] must be a non-empty string, got {other}"),
                        );
                        return None;
                    }
                }
            }
            out
        }
        other => {
            errs.add(
                field,
                format!(
                    "{field} must be a string or an array of strings, got {}",
                    type_of(other)
                ),
            );
            return None;
        }
    };
    Some(items)
}

/// A pragmatic e-mail check: one `@`, a non-empty local part, a host name of letters, digits,
/// dots and dashes (a dotless host such as `localhost` is allowed), no spaces.
pub fn is_email(s: &str) -> bool {
    let Some((local, host)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && local.len() <= 64
        && !host.is_empty()
        && host.len() <= 253
        && !local
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '@')
        && host.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// Normalises an absolute path: collapses repeated slashes and drops a trailing one.
pub fn normalize_abs_path(p: &str) -> Option<String> {
    if !p.starts_with('/') || p.contains('\0') {
        return None;
    }
    let parts: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
    if parts.iter().any(|s| *s == "." || *s == "..") {
        return None;
    }
    Some(format!("/{}", parts.join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_fields_suggest_the_closest_name() {
        let mut errs = FieldErrors::new();
        let obj = json!({"rotaton": 3, "zzzzzzzz": 1});
        reject_unknown(
            obj.as_object().unwrap(),
            &["rotation", "type"],
            "",
            &mut errs,
        );
        let j = errs.to_json();
        assert_eq!(
            j["rotaton"][0],
            "unknown field 'rotaton' (did you mean 'rotation'?)"
        );
        assert!(j["zzzzzzzz"][0]
            .as_str()
            .unwrap()
            .contains("allowed fields: rotation, type"));
    }

    #[test]
    fn email_rules() {
        for ok in [
            "admin@localhost",
            "a.b+c@example.com",
            "x@sub-domain.example.org",
        ] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "@x",
            "a@",
            "a b@x.com",
            "a@x..com",
            "a@@x.com",
            "a@x_y.com",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn lists_accept_commas_pipes_and_arrays() {
        let mut errs = FieldErrors::new();
        assert_eq!(
            string_list(&json!("/tmp, /var/cache|/x"), "excludeDir", &mut errs).unwrap(),
            vec!["/tmp", "/var/cache", "/x"]
        );
        assert_eq!(
            string_list(&json!(["/a", "/b"]), "excludeDir", &mut errs).unwrap(),
            vec!["/a", "/b"]
        );
        assert!(errs.is_empty());
        assert!(string_list(&json!(5), "excludeDir", &mut errs).is_none());
        assert!(!errs.is_empty());
    }

    #[test]
    fn path_normalisation() {
        assert_eq!(normalize_abs_path("/").unwrap(), "/");
        assert_eq!(normalize_abs_path("//home//x/").unwrap(), "/home/x");
        assert!(normalize_abs_path("home").is_none());
        assert!(normalize_abs_path("/a/../b").is_none());
    }
}
