//! `POST /api/recoveries` and `PUT /api/recoveries/{id}` request parsing (RECOVERIES.md §4.4-4.5):
//! the body's shape and per-field rules, every problem collected at once (decision D3). What
//! needs stored state (center, servers, backup jobs, points, repositories) is resolved by the
//! API layer; what needs the disk at run time (target not empty under `fail`) fails the run.

use super::fields::{
    integer, is_email, join, normalize_abs_path, reject_unknown, string, string_list, type_of,
    use_option, FieldErrors,
};
use super::job::{job_name_field, parse_repository, parse_schedule, HostProbe, Ref, RepoInput};
use super::job::{ScheduleInput, ScriptRun, MAX_NETWORK_LIMIT};
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What happens to files the target already has (decision R3), in the engine's words.
pub const POLICIES: &[&str] = &["always", "if-changed", "if-newer", "never", "fail"];

pub const TOP_FIELDS: &[&str] = &[
    "center",
    "source",
    "target",
    "platform",
    "repository",
    "mode",
    "jobName",
    "overwrite",
    "overwritePolicy",
    "delete",
    "verify",
    "retainTarget",
    "user",
    "mailEvent",
    "autoStart",
    "scriptPath",
    "scriptRun",
    "networkLimit",
    "schedule",
    "afterReboot",
    "excludePartition",
    "listOnly",
    "cloudAuth",
    "jobList",
];

pub const PART_FIELDS: &[&str] = &[
    "sourcePartition",
    "targetPartition",
    "backupJob",
    "backupFile",
    "mode",
    "overwrite",
    "repository",
    "paths",
    "excludePaths",
    "layout",
    "overwritePolicy",
    "delete",
];

/// The vendor's platform list plus `baremetal`; accepted and echoed, without effect (R7).
const PLATFORMS: &[&str] = &[
    "baremetal",
    "vmware",
    "hyperv",
    "kvm",
    "xen",
    "proxmox",
    "openstack",
    "aws",
    "azure",
    "gcp",
    "ncp",
    "kt",
    "nhn",
];

pub const MODE_MSG: &str = "mode must be one of full, increment";

/// Which point a partition restores (decision R2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind", content = "value")]
pub enum BackupFile {
    /// The newest point when the run starts.
    Latest,
    /// A point id (= `image.name`).
    Point(String),
    /// The newest point at or before this local time (`YYYY-MM-DD HH:mm:ss`).
    At(String),
}

impl BackupFile {
    pub fn parse(s: &str) -> BackupFile {
        let s = s.trim();
        if s.eq_ignore_ascii_case("latest") {
            BackupFile::Latest
        } else if NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").is_ok() {
            BackupFile::At(s.to_string())
        } else {
            BackupFile::Point(s.to_string())
        }
    }
}

/// One `jobList[]` entry as given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PartInput {
    pub source_partition: String,
    pub target_dir: String,
    pub backup_job: Option<String>,
    pub backup_file: Option<BackupFile>,
    pub mode: Option<String>,
    pub overwrite: Option<bool>,
    pub overwrite_policy: Option<String>,
    pub repository: Option<RepoInput>,
    pub paths: Vec<String>,
    pub exclude_paths: Vec<String>,
    pub flat: bool,
    pub delete: Option<bool>,
}

/// A parsed `POST /api/recoveries` body.
#[derive(Debug, Clone, PartialEq)]
pub struct RecoveryRequest {
    pub center: Ref,
    pub source: Ref,
    pub target: Ref,
    pub platform: String,
    pub repository: Option<RepoInput>,
    pub mode: String,
    pub job_name: Option<String>,
    pub overwrite: Option<bool>,
    pub overwrite_policy: Option<String>,
    pub delete: bool,
    pub verify: bool,
    pub retain_target: bool,
    pub user: Option<Ref>,
    pub mail_event: Option<String>,
    pub auto_start: bool,
    pub script_path: Option<String>,
    pub script_run: Option<ScriptRun>,
    pub network_limit: u32,
    pub schedule: Option<ScheduleInput>,
    pub exclude_partition: Vec<String>,
    pub list_only: bool,
    pub job_list: Vec<PartInput>,
}

/// What a stored recovery job restores, per partition (kept as JSON in the job's row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryPart {
    pub source_partition: String,
    pub target_dir: String,
    pub backup_job: String,
    pub repository_id: i64,
    pub backup_file: BackupFile,
    pub mode: String,
    pub overwrite_policy: String,
    pub delete: bool,
    pub paths: Vec<String>,
    pub exclude_paths: Vec<String>,
    pub flat: bool,
}

/// A stored recovery job's options (the row adds name, schedule and stop flag).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecoverySpec {
    pub source: String,
    pub target: String,
    pub platform: String,
    pub mode: String,
    pub verify: bool,
    pub retain_target: bool,
    pub mail_event: Option<String>,
    pub auto_start: bool,
    pub script_path: Option<String>,
    pub script_run: Option<String>,
    pub network_limit: u32,
    pub parts: Vec<RecoveryPart>,
}

/// The overwrite policy of a partition: an explicit policy wins; `overwrite` `allow` means
/// `always`, `not allow` (the default) `never`. A contradictory pair is an error (R3).
pub fn effective_policy(
    policy: Option<&str>,
    overwrite: Option<bool>,
    field: &str,
    errs: &mut FieldErrors,
) -> String {
    match (policy, overwrite) {
        (Some(p), Some(false)) if p != "never" && p != "fail" => {
            errs.add(
                field,
                format!("overwrite 'not allow' contradicts overwritePolicy '{p}' (which replaces files); give one of them"),
            );
            p.to_string()
        }
        (Some(p), Some(true)) if p == "never" || p == "fail" => {
            errs.add(
                field,
                format!("overwrite 'allow' contradicts overwritePolicy '{p}' (which keeps files); give one of them"),
            );
            p.to_string()
        }
        (Some(p), _) => p.to_string(),
        (None, Some(true)) => "always".into(),
        (None, _) => "never".into(),
    }
}

fn allow_option(v: &Value, field: &str, errs: &mut FieldErrors) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "allow" => Some(true),
            "not allow" => Some(false),
            _ => {
                errs.add(
                    field,
                    format!("{field} must be 'allow' or 'not allow', got '{s}'"),
                );
                None
            }
        },
        other => {
            errs.add(
                field,
                format!(
                    "{field} must be 'allow' or 'not allow', got {}",
                    type_of(other)
                ),
            );
            None
        }
    }
}

fn boolean(v: &Value, field: &str, errs: &mut FieldErrors) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        other => {
            errs.add(
                field,
                format!("{field} must be true or false, got {}", type_of(other)),
            );
            None
        }
    }
}

fn policy(v: &Value, field: &str, errs: &mut FieldErrors) -> Option<String> {
    let s = string(v, field, errs)?.to_ascii_lowercase();
    if POLICIES.contains(&s.as_str()) {
        Some(s)
    } else {
        errs.add(
            field,
            format!("{field} must be one of {}, got '{s}'", POLICIES.join(", ")),
        );
        None
    }
}

fn mode(v: &Value, field: &str, errs: &mut FieldErrors) -> Option<String> {
    match v.as_str().map(|s| s.trim().to_ascii_lowercase()).as_deref() {
        Some(m @ ("full" | "increment")) => Some(m.to_string()),
        _ => {
            errs.add(field, MODE_MSG);
            None
        }
    }
}

/// An absolute original path: normalized, without `..` (which a restore would follow out of
/// the partition).
fn original_path(p: &str, field: &str, errs: &mut FieldErrors) -> Option<String> {
    if p.split('/').any(|c| c == "..") {
        errs.add(field, format!("{field} must not contain '..'"));
        return None;
    }
    match normalize_abs_path(p) {
        Some(n) => Some(n),
        None => {
            errs.add(
                field,
                format!("{field} must be an absolute path such as /etc/hosts, got '{p}'"),
            );
            None
        }
    }
}

/// A target directory: absolute, normalized, no `..`.
pub fn target_dir(v: &Value, field: &str, errs: &mut FieldErrors) -> Option<String> {
    let s = string(v, field, errs)?;
    if !s.starts_with('/') {
        errs.add(field, format!("{field} must be an absolute path"));
        return None;
    }
    original_path(&s, field, errs)
}

/// Whether `path` is `partition` or below it.
pub fn inside(path: &str, partition: &str) -> bool {
    partition == "/"
        || path == partition
        || path
            .strip_prefix(partition)
            .is_some_and(|r| r.starts_with('/'))
}

fn parse_part(
    obj: &Map<String, Value>,
    prefix: &str,
    probe: &dyn HostProbe,
    errs: &mut FieldErrors,
) -> Option<PartInput> {
    reject_unknown(obj, PART_FIELDS, prefix, errs);
    let f = |k: &str| join(prefix, k);
    for k in ["sourcePartition", "targetPartition"] {
        if obj.get(k).is_none_or(Value::is_null) {
            errs.add(f(k), format!("{} is required", f(k)));
        }
    }
    let source = obj.get("sourcePartition").and_then(|v| {
        let s = string(v, &f("sourcePartition"), errs)?;
        original_path(&s, &f("sourcePartition"), errs)
    });
    let target = obj
        .get("targetPartition")
        .and_then(|v| target_dir(v, &f("targetPartition"), errs));
    let mut part = PartInput {
        backup_job: obj
            .get("backupJob")
            .and_then(|v| string(v, &f("backupJob"), errs)),
        backup_file: obj
            .get("backupFile")
            .and_then(|v| string(v, &f("backupFile"), errs))
            .map(|s| BackupFile::parse(&s)),
        mode: obj.get("mode").and_then(|v| mode(v, &f("mode"), errs)),
        overwrite: obj
            .get("overwrite")
            .and_then(|v| allow_option(v, &f("overwrite"), errs)),
        overwrite_policy: obj
            .get("overwritePolicy")
            .and_then(|v| policy(v, &f("overwritePolicy"), errs)),
        repository: obj
            .get("repository")
            .and_then(|v| parse_repository(v, &f("repository"), probe, errs)),
        delete: obj
            .get("delete")
            .and_then(|v| boolean(v, &f("delete"), errs)),
        ..Default::default()
    };
    if let Some(v) = obj.get("layout") {
        match v.as_str().map(|s| s.trim().to_ascii_lowercase()).as_deref() {
            Some("original") => {}
            Some("flat") => part.flat = true,
            _ => errs.add(f("layout"), "layout must be one of original, flat"),
        }
    }
    if let Some(v) = obj.get("paths") {
        if let Some(list) = string_list(v, &f("paths"), errs) {
            for (i, p) in list.iter().enumerate() {
                let field = format!("{}[{i}]", f("paths"));
                if let Some(p) = original_path(p, &field, errs) {
                    match &source {
                        Some(s) if !inside(&p, s) => {
                            errs.add(&field, format!("{field} is outside partition '{s}'"))
                        }
                        _ if !part.paths.contains(&p) => part.paths.push(p),
                        _ => {}
                    }
                }
            }
        }
    }
    if let Some(v) = obj.get("excludePaths") {
        if let Some(list) = string_list(v, &f("excludePaths"), errs) {
            for (i, g) in list.iter().enumerate() {
                if let Err(e) = globset::Glob::new(g) {
                    errs.add(
                        format!("{}[{i}]", f("excludePaths")),
                        format!("{}[{i}] is not a valid glob: {e}", f("excludePaths")),
                    );
                }
            }
            part.exclude_paths = list;
        }
    }
    if part.delete == Some(true) && part.flat {
        errs.add(
            f("delete"),
            "delete works with the original layout only (a flat layout mixes directories)",
        );
    }
    part.source_partition = source?;
    part.target_dir = target?;
    Some(part)
}

/// Parses and validates a `POST /api/recoveries` body; nothing here looks at stored state.
pub fn parse_registration(
    body: &Value,
    probe: &dyn HostProbe,
    now: NaiveDateTime,
) -> Result<RecoveryRequest, FieldErrors> {
    let mut errs = FieldErrors::new();
    let required = [
        "center",
        "source",
        "target",
        "repository",
        "mode",
        "jobList",
    ];
    let Some(obj) = super::fields::body_object(body, TOP_FIELDS, &required, &mut errs) else {
        return Err(errs);
    };
    let r = |k: &str, errs: &mut FieldErrors| obj.get(k).and_then(|v| Ref::parse(v, k, errs));
    let center = r("center", &mut errs);
    let source = r("source", &mut errs);
    let target = r("target", &mut errs);
    let user = r("user", &mut errs);
    let platform = match obj.get("platform") {
        None | Some(Value::Null) => "baremetal".to_string(),
        Some(v) => match string(v, "platform", &mut errs).map(|s| s.to_ascii_lowercase()) {
            Some(p) if PLATFORMS.contains(&p.as_str()) => p,
            Some(p) => {
                errs.add(
                    "platform",
                    format!(
                        "platform must be one of {}, got '{p}'",
                        PLATFORMS.join(", ")
                    ),
                );
                p
            }
            None => String::new(),
        },
    };
    let repository = obj
        .get("repository")
        .and_then(|v| parse_repository(v, "repository", probe, &mut errs));
    let mode = obj.get("mode").and_then(|v| mode(v, "mode", &mut errs));
    let job_name = obj
        .get("jobName")
        .and_then(|v| job_name_field(v, "jobName", &mut errs));
    let overwrite = obj
        .get("overwrite")
        .and_then(|v| allow_option(v, "overwrite", &mut errs));
    let overwrite_policy = obj
        .get("overwritePolicy")
        .and_then(|v| policy(v, "overwritePolicy", &mut errs));
    let flag = |k: &str, errs: &mut FieldErrors| obj.get(k).and_then(|v| boolean(v, k, errs));
    let delete = flag("delete", &mut errs).unwrap_or(false);
    let list_only = flag("listOnly", &mut errs).unwrap_or(false);
    let opt = |k: &str, errs: &mut FieldErrors| obj.get(k).and_then(|v| use_option(v, k, errs));
    let verify = opt("verify", &mut errs).unwrap_or(false);
    let retain_target = opt("retainTarget", &mut errs).unwrap_or(true);
    let auto_start = opt("autoStart", &mut errs).unwrap_or(false);
    let mail_event = match obj.get("mailEvent") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) if is_email(s.trim()) => Some(s.trim().to_string()),
        Some(other) => {
            errs.add(
                "mailEvent",
                format!("mailEvent must be an e-mail address, got {other}"),
            );
            None
        }
    };
    let network_limit = obj
        .get("networkLimit")
        .and_then(|v| integer(v, "networkLimit", 0, MAX_NETWORK_LIMIT, &mut errs))
        .unwrap_or(0) as u32;
    let script_path = obj.get("scriptPath").and_then(|v| {
        let p = string(v, "scriptPath", &mut errs)?;
        match probe.check_script(&p) {
            Ok(()) => Some(p),
            Err(m) => {
                errs.add("scriptPath", m);
                None
            }
        }
    });
    let script_run = obj.get("scriptRun").and_then(|v| {
        let r = v
            .as_str()
            .map(|s| s.trim().to_ascii_lowercase())
            .as_deref()
            .and_then(ScriptRun::parse);
        if r.is_none() {
            errs.add("scriptRun", "scriptRun must be one of before, after");
        }
        r
    });
    if script_run.is_some() && script_path.is_none() && !obj.contains_key("scriptPath") {
        errs.add("scriptRun", "scriptRun needs scriptPath");
    }
    let schedule = obj
        .get("schedule")
        .filter(|v| !v.is_null())
        .and_then(|v| parse_schedule(v, "schedule", &mut errs, now));
    if let Some(v) = obj.get("afterReboot") {
        if let Some(s) = string(v, "afterReboot", &mut errs) {
            if !s.eq_ignore_ascii_case("maintain") {
                errs.add(
                    "afterReboot",
                    format!("afterReboot '{s}' is not supported on this appliance"),
                );
            }
        }
    }
    let exclude_partition = obj
        .get("excludePartition")
        .and_then(|v| string_list(v, "excludePartition", &mut errs))
        .unwrap_or_default();
    let mut job_list = Vec::new();
    match obj.get("jobList") {
        Some(Value::Array(a)) if a.is_empty() => errs.add(
            "jobList",
            "jobList must name at least one partition and its target directory",
        ),
        Some(Value::Array(a)) => {
            for (i, item) in a.iter().enumerate() {
                let prefix = format!("jobList[{i}]");
                match item {
                    Value::Object(o) => {
                        if let Some(p) = parse_part(o, &prefix, probe, &mut errs) {
                            if job_list
                                .iter()
                                .any(|q: &PartInput| q.source_partition == p.source_partition)
                            {
                                errs.add(
                                    join(&prefix, "sourcePartition"),
                                    format!(
                                        "partition '{}' is listed more than once",
                                        p.source_partition
                                    ),
                                );
                            } else {
                                job_list.push(p);
                            }
                        }
                    }
                    other => errs.add(
                        &prefix,
                        format!("{prefix} must be an object, got {}", type_of(other)),
                    ),
                }
            }
        }
        Some(Value::Null) | None => {}
        Some(other) => errs.add(
            "jobList",
            format!("jobList must be an array, got {}", type_of(other)),
        ),
    }
    // Policies of every partition, with the top-level values as defaults (R3); restoring onto
    // the partition itself needs an explicit choice.
    for (i, p) in job_list.iter_mut().enumerate() {
        let field = format!("jobList[{i}].overwritePolicy");
        let explicit = p.overwrite_policy.is_some()
            || p.overwrite.is_some()
            || overwrite_policy.is_some()
            || overwrite.is_some();
        if p.target_dir == p.source_partition && !explicit {
            errs.add(
                format!("jobList[{i}].targetPartition"),
                format!(
                    "jobList[{i}].targetPartition is the partition itself: restoring in place needs overwrite or overwritePolicy given explicitly"
                ),
            );
        }
        let pol = p.overwrite_policy.clone().or(overwrite_policy.clone());
        let ow = p.overwrite.or(overwrite);
        p.overwrite_policy = Some(effective_policy(pol.as_deref(), ow, &field, &mut errs));
        if p.delete.is_none() {
            p.delete = Some(delete && !p.flat);
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(RecoveryRequest {
        center: center.expect("checked"),
        source: source.expect("checked"),
        target: target.expect("checked"),
        platform,
        repository,
        mode: mode.expect("checked"),
        job_name,
        overwrite,
        overwrite_policy,
        delete,
        verify,
        retain_target,
        user,
        mail_event,
        auto_start,
        script_path,
        script_run,
        network_limit,
        schedule,
        exclude_partition,
        list_only,
        job_list,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::testing::Probe;
    use serde_json::json;

    fn now() -> NaiveDateTime {
        NaiveDateTime::parse_from_str("2026-11-29 10:00:00", "%Y-%m-%d %H:%M:%S").unwrap()
    }

    fn base() -> Value {
        json!({"center": 1, "source": "web01", "target": "web01", "repository": {"id": 1},
               "mode": "full",
               "jobList": [{"sourcePartition": "/", "targetPartition": "/srv/restore"}]})
    }

    fn errors(body: Value) -> Vec<String> {
        let e = parse_registration(&body, &Probe { local_dirs: true }, now()).unwrap_err();
        e.to_map().into_values().flatten().collect()
    }

    #[test]
    fn defaults_follow_the_vendor() {
        let r = parse_registration(&base(), &Probe { local_dirs: true }, now()).unwrap();
        assert_eq!(r.platform, "baremetal");
        assert!(!r.verify && r.retain_target && !r.auto_start);
        let p = &r.job_list[0];
        assert_eq!(p.overwrite_policy.as_deref(), Some("never"));
        assert_eq!(p.backup_file, None);
        assert!(!p.flat);
    }

    #[test]
    fn every_field_error_is_reported() {
        let mut b = base();
        b["afterReboot"] = json!("reboot");
        b["mode"] = json!("smart");
        b["overwrite"] = json!("not allow");
        b["overwritePolicy"] = json!("always");
        b["jobList"] = json!([{"sourcePartition": "/home", "targetPartition": "rel",
            "paths": ["/etc/x", "/home/../etc"], "layout": "tree", "excludePaths": ["["]}]);
        let all = errors(b).join("\n");
        for want in [
            "afterReboot 'reboot' is not supported on this appliance",
            MODE_MSG,
            "targetPartition must be an absolute path",
            "paths[0] is outside partition '/home'",
            "paths[1] must not contain '..'",
            "layout must be one of original, flat",
            "is not a valid glob",
        ] {
            assert!(all.contains(want), "{want} missing in:\n{all}");
        }
    }

    #[test]
    fn a_contradictory_overwrite_pair_is_refused() {
        let mut b = base();
        b["overwrite"] = json!("not allow");
        b["overwritePolicy"] = json!("always");
        assert!(errors(b.clone())
            .join(" ")
            .contains("contradicts overwritePolicy 'always'"));
        b["overwrite"] = json!("allow");
        b["jobList"][0]["overwritePolicy"] = json!("fail");
        assert!(errors(b)
            .join(" ")
            .contains("contradicts overwritePolicy 'fail'"));
    }

    #[test]
    fn restoring_in_place_needs_an_explicit_policy() {
        let mut b = base();
        b["jobList"][0]["targetPartition"] = json!("/");
        assert!(errors(b.clone())
            .join(" ")
            .contains("restoring in place needs overwrite"));
        b["jobList"][0]["overwritePolicy"] = json!("if-newer");
        let r = parse_registration(&b, &Probe { local_dirs: true }, now()).unwrap();
        assert_eq!(r.job_list[0].overwrite_policy.as_deref(), Some("if-newer"));
    }

    #[test]
    fn backup_file_is_a_point_latest_or_a_time() {
        assert_eq!(BackupFile::parse("latest"), BackupFile::Latest);
        assert_eq!(
            BackupFile::parse("2026-11-27 06:00:00"),
            BackupFile::At("2026-11-27 06:00:00".into())
        );
        assert_eq!(
            BackupFile::parse("20261127T020000Z-full"),
            BackupFile::Point("20261127T020000Z-full".into())
        );
    }
}
