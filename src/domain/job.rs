//! `POST /api/backups` request parsing: the body's shape, values and per-field rules, collected
//! all at once (decision D3). Resolution against stored state lives in `registration.rs`.

use super::fields::{
    integer, is_email, join, normalize_abs_path, reject_unknown, string, string_list, type_of,
    use_option, FieldErrors,
};
use super::ids::{RepositoryId, ScheduleId};
use super::invalid::Invalid;
use super::schedule::{self, parse_slot, Role, ScheduleData, ScheduleKind};
use chrono::NaiveDateTime;
use serde_json::{Map, Value};

/// A reference by numeric ID or by name (spec §1.4: digits only means ID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ref {
    Id(i64),
    Name(String),
}

impl Ref {
    pub fn parse(v: &Value, field: &str, errs: &mut FieldErrors) -> Option<Ref> {
        match v {
            Value::Number(n) => match n.as_i64() {
                Some(i) if i >= 0 => Some(Ref::Id(i)),
                _ => {
                    errs.add(
                        field,
                        format!("{field} must be an ID (a whole number) or a name"),
                    );
                    None
                }
            },
            Value::String(s) if !s.trim().is_empty() => Some(Ref::parse_ident(s.trim())),
            Value::String(_) => {
                errs.add(field, format!("{field} is required"));
                None
            }
            other => {
                errs.add(
                    field,
                    format!("{field} must be an ID or a name, got {}", type_of(other)),
                );
                None
            }
        }
    }

    pub fn parse_ident(s: &str) -> Ref {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse()
                .map(Ref::Id)
                .unwrap_or_else(|_| Ref::Name(s.to_string()))
        } else {
            Ref::Name(s.to_string())
        }
    }

    pub fn matches(&self, id: i64, name: &str) -> bool {
        match self {
            Ref::Id(i) => *i == id,
            Ref::Name(n) => n == name,
        }
    }
}

impl std::fmt::Display for Ref {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ref::Id(i) => write!(f, "{i}"),
            Ref::Name(n) => f.write_str(n),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Full,
    Increment,
    Smart,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "full" => Some(Mode::Full),
            "increment" | "inc" => Some(Mode::Increment),
            "smart" => Some(Mode::Smart),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Full => "full",
            Mode::Increment => "increment",
            Mode::Smart => "smart",
        }
    }
    /// Decision D15.
    pub fn display(self) -> &'static str {
        match self {
            Mode::Full => "Full Backup",
            Mode::Increment => "Increment Backup",
            Mode::Smart => "Smart Backup",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RepoKind {
    Nfs,
    Smb,
    /// S3-compatible object storage (our extension of the ZDM API).
    S3,
}

impl RepoKind {
    pub fn parse(s: &str) -> Option<RepoKind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "nfs" => Some(RepoKind::Nfs),
            "smb" | "cifs" => Some(RepoKind::Smb),
            "s3" => Some(RepoKind::S3),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            RepoKind::Nfs => "nfs",
            RepoKind::Smb => "smb",
            RepoKind::S3 => "s3",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoInput {
    /// `{ "id": N }`, optionally with `type`/`path` that must match the registered repository.
    Id {
        id: RepositoryId,
        kind: Option<RepoKind>,
        path: Option<String>,
    },
    /// The seed form `{ "type": ..., "path": ... }` (decision D2).
    Spec { kind: RepoKind, path: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotInput {
    Data(ScheduleData),
    Id(ScheduleId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleInput {
    /// `"schedule": 42`: copy the basic part of record 42.
    FullId(ScheduleId),
    Inline {
        kind: ScheduleKind,
        basic: SlotInput,
        advanced: Option<SlotInput>,
    },
}

impl ScheduleInput {
    /// The schedule type when it is known without a database look-up.
    pub fn known_kind(&self) -> Option<ScheduleKind> {
        match self {
            ScheduleInput::FullId(_) => None,
            ScheduleInput::Inline { kind, .. } => Some(*kind),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptRun {
    Before,
    After,
}

impl ScriptRun {
    pub fn as_str(self) -> &'static str {
        match self {
            ScriptRun::Before => "before",
            ScriptRun::After => "after",
        }
    }
    pub fn timing(self) -> &'static str {
        match self {
            ScriptRun::Before => "before job",
            ScriptRun::After => "after job",
        }
    }
    pub fn parse(s: &str) -> Option<ScriptRun> {
        match s {
            "before" => Some(ScriptRun::Before),
            "after" => Some(ScriptRun::After),
            _ => None,
        }
    }
}

/// The fields a per-partition `individual` entry may override (all optional here).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobOptions {
    pub center: Option<Ref>,
    pub server: Option<Ref>,
    pub mode: Option<Mode>,
    pub repository: Option<RepoInput>,
    pub schedule: Option<ScheduleInput>,
    pub rotation: Option<u32>,
    pub compression: Option<bool>,
    pub encryption: Option<bool>,
    pub exclude_dir: Option<Vec<String>>,
    pub mail_event: Option<Option<String>>,
    pub network_limit: Option<u32>,
    pub auto_start: Option<bool>,
    pub script_path: Option<String>,
    pub script_run: Option<ScriptRun>,
}

impl JobOptions {
    /// `self` overlaid on `base`: fields set here win.
    pub fn over(&self, base: &JobOptions) -> JobOptions {
        JobOptions {
            center: self.center.clone().or_else(|| base.center.clone()),
            server: self.server.clone().or_else(|| base.server.clone()),
            mode: self.mode.or(base.mode),
            repository: self.repository.clone().or_else(|| base.repository.clone()),
            schedule: self.schedule.clone().or_else(|| base.schedule.clone()),
            rotation: self.rotation.or(base.rotation),
            compression: self.compression.or(base.compression),
            encryption: self.encryption.or(base.encryption),
            exclude_dir: self
                .exclude_dir
                .clone()
                .or_else(|| base.exclude_dir.clone()),
            mail_event: self.mail_event.clone().or_else(|| base.mail_event.clone()),
            network_limit: self.network_limit.or(base.network_limit),
            auto_start: self.auto_start.or(base.auto_start),
            script_path: self
                .script_path
                .clone()
                .or_else(|| base.script_path.clone()),
            script_run: self.script_run.or(base.script_run),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Individual {
    pub partition: String,
    pub job_name: Option<String>,
    pub options: JobOptions,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationRequest {
    pub top: JobOptions,
    pub partitions: Vec<String>,
    pub job_name: Option<String>,
    pub user: Option<Ref>,
    pub exclude_partition: Vec<String>,
    pub individual: Vec<Individual>,
}

/// The I/O the parser needs, kept behind a trait so the parser stays testable.
pub trait HostProbe {
    /// Whether `path` is an existing local directory (a mounted share is used as is).
    fn is_local_dir(&self, path: &str) -> bool;
    /// Decision D11: absolute, a regular executable file, owned by root, not writable by
    /// group or others.
    fn check_script(&self, path: &str) -> Result<(), Invalid>;
    /// Why a local directory (normalized, absolute) cannot hold a repository, if it cannot.
    fn repository_problem(&self, path: &str) -> Option<String> {
        forbidden_repo_path(path, None)
    }
}

/// Places that must never hold a repository: kernel file systems (`/proc`, `/sys`, `/dev`),
/// the root directory, and the daemon's own state directory (or anything containing it): the
/// state's secrets would then sit on a share that others can write to.
pub fn forbidden_repo_path(path: &str, state_dir: Option<&str>) -> Option<String> {
    let under = |p: &str, dir: &str| {
        p == dir || (p.starts_with(dir) && p.as_bytes().get(dir.len()) == Some(&b'/'))
    };
    if path == "/" {
        return Some("repository path must not be / (the root directory)".into());
    }
    for sys in ["/proc", "/sys", "/dev"] {
        if under(path, sys) {
            return Some(format!(
                "repository path '{path}' is inside {sys}, a kernel file system"
            ));
        }
    }
    if let Some(s) = state_dir.map(|s| s.trim_end_matches('/')) {
        if !s.is_empty() && (under(path, s) || under(s, path)) {
            return Some(format!(
                "repository path '{path}' overlaps the daemon's state directory {s}; keep \
                 repositories and state apart"
            ));
        }
    }
    None
}

pub const TOP_FIELDS: &[&str] = &[
    "center",
    "server",
    "type",
    "partition",
    "repository",
    "jobName",
    "user",
    "schedule",
    "rotation",
    "compression",
    "encryption",
    "excludeDir",
    "excludePartition",
    "mailEvent",
    "networkLimit",
    "autoStart",
    "scriptPath",
    "scriptRun",
    "individual",
];

pub const INDIVIDUAL_FIELDS: &[&str] = &[
    "partition",
    "center",
    "server",
    "type",
    "repository",
    "jobName",
    "schedule",
    "description",
    "rotation",
    "compression",
    "encryption",
    "excludeDir",
    "excludePartition",
    "mailEvent",
    "networkLimit",
    "autoStart",
    "scriptPath",
    "scriptRun",
];

pub const UPDATE_FIELDS: &[&str] = &[
    "changeName",
    "mode",
    "status",
    "rotation",
    "compression",
    "encryption",
    "excludeDir",
    "mailEvent",
    "networkLimit",
    "schedule",
    "repository",
    "scriptPath",
    "scriptRun",
    "autoStart",
];

/// An SMB share reached directly needs a login; a mounted share (a local directory) does not.
pub fn needs_login(kind: RepoKind, path: &str) -> bool {
    kind == RepoKind::Smb && (path.starts_with("//") || path.starts_with("\\\\"))
}

pub const SMB_LOGIN_MSG: &str = "an SMB share needs an account and password (for a guest share: account 'guest' and an empty password)";

pub const MODE_MSG: &str = "type must be one of full, increment, smart";
/// networkLimit is MiB/s (decision D9); 1 TiB/s is far beyond any link.
pub const MAX_NETWORK_LIMIT: i64 = 1_048_576;

/// A body field that must hold a job name (`jobName`, `changeName`), problems reported.
pub fn job_name_field(v: &Value, field: &str, errs: &mut FieldErrors) -> Option<String> {
    let n = string(v, field, errs)?;
    match check_job_name(&n) {
        Ok(()) => Some(n),
        Err(m) => {
            errs.add(field, m);
            None
        }
    }
}

/// Job names become directory names in the repository and are also looked up by name in URLs,
/// so they must be usable as both.
pub fn check_job_name(name: &str) -> Result<(), Invalid> {
    if name.is_empty() || name.chars().count() > 128 {
        return Err(Invalid::new(format!(
            "job name must be 1 to 128 characters, got {} characters",
            name.chars().count()
        )));
    }
    // A directory name holds at most 255 bytes; 128 characters of UTF-8 can be more.
    if name.len() > 255 {
        return Err(Invalid::new(format!(
            "job name must be at most 255 bytes in UTF-8 (it names a directory), got {} bytes",
            name.len()
        )));
    }
    if name == "." || name == ".." || name.starts_with(".partial") {
        return Err(Invalid::new(format!("job name '{name}' is reserved")));
    }
    if name.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Invalid::new(format!(
            "job name '{name}' must not be all digits (digits identify a job by ID)"
        )));
    }
    if let Some(c) = name
        .chars()
        .find(|c| matches!(c, '/' | '\\') || c.is_control())
    {
        return Err(Invalid::new(format!(
            "job name '{name}' must not contain {c:?}"
        )));
    }
    Ok(())
}

pub(crate) fn parse_repository(
    v: &Value,
    field: &str,
    probe: &dyn HostProbe,
    errs: &mut FieldErrors,
) -> Option<RepoInput> {
    let Value::Object(obj) = v else {
        errs.add(field, format!("{field} must be an object such as {{\"type\": \"nfs\", \"path\": \"/backup\"}}, got {}", type_of(v)));
        return None;
    };
    reject_unknown(obj, &["id", "type", "path"], field, errs);
    let id = obj
        .get("id")
        .and_then(|v| integer(v, &join(field, "id"), 1, i64::MAX, errs));
    let kind = obj
        .get("type")
        .and_then(|t| match t.as_str().and_then(RepoKind::parse) {
            Some(k) => Some(k),
            None => {
                errs.add(
                    join(field, "type"),
                    format!("{field}.type must be one of nfs, smb, s3"),
                );
                None
            }
        });
    let path = obj
        .get("path")
        .and_then(|p| string(p, &join(field, "path"), errs));
    let path = match (kind, path) {
        (Some(k), Some(p)) => match normalize_repo_path(k, &p, probe) {
            Ok(p) => Some(p),
            Err(m) => {
                errs.add(join(field, "path"), m);
                None
            }
        },
        (_, p) => p,
    };
    if let Some(id) = id {
        return Some(RepoInput::Id {
            id: RepositoryId(id),
            kind,
            path,
        });
    }
    if obj.get("id").is_some() {
        return None;
    }
    match (kind, path) {
        (Some(kind), Some(path)) => Some(RepoInput::Spec { kind, path }),
        _ => {
            for k in ["type", "path"] {
                if !obj.contains_key(k) {
                    errs.add(
                        join(field, k),
                        format!("{field}.{k} is required (or give {field}.id)"),
                    );
                }
            }
            None
        }
    }
}

/// Validates a repository path for its type and puts it into one canonical spelling, so the same
/// share given twice is recognised as one repository.
pub fn normalize_repo_path(
    kind: RepoKind,
    path: &str,
    probe: &dyn HostProbe,
) -> Result<String, Invalid> {
    let p = path.trim();
    if p.contains('\0') {
        return Err(Invalid::new("repository path must not contain NUL"));
    }
    if kind == RepoKind::S3 {
        return crate::engine::s3::S3Location::parse(p)
            .map(|l| l.to_string())
            .map_err(Invalid);
    }
    if p.starts_with('/') && !p.starts_with("//") {
        let n = normalize_abs_path(p).ok_or_else(|| {
            format!("repository path '{p}' must not contain '.' or '..' components")
        })?;
        if let Some(m) = probe.repository_problem(&n) {
            return Err(Invalid(m));
        }
        if kind == RepoKind::Smb && !probe.is_local_dir(&n) {
            return Err(Invalid::new(format!(
                "SMB path format is invalid. Expected UNC path (e.g., \\\\server\\share) or an existing local directory, got '{p}'"
            )));
        }
        return Ok(n);
    }
    match kind {
        RepoKind::Smb => {
            let unc = p.replace('\\', "/");
            let rest = unc.strip_prefix("//").unwrap_or("");
            let mut parts = rest.split('/').filter(|s| !s.is_empty());
            match (parts.next(), parts.next()) {
                (Some(host), Some(share)) if !host.is_empty() && !share.is_empty() => {
                    let tail: Vec<&str> = parts.collect();
                    if tail.iter().any(|s| *s == "." || *s == "..") {
                        return Err(Invalid::new(format!("SMB path '{p}' must not contain '.' or '..' components")));
                    }
                    let mut out = format!("//{host}/{share}");
                    for t in tail {
                        out.push('/');
                        out.push_str(t);
                    }
                    Ok(out)
                }
                _ => Err(Invalid::new(format!(
                    "SMB path format is invalid. Expected UNC path (e.g., \\\\server\\share), got '{p}'"
                ))),
            }
        }
        RepoKind::S3 => unreachable!("s3:// paths are parsed above"),
        RepoKind::Nfs => {
            // host:/export or host:port:/export
            match p.split_once(":/") {
                Some((host, export)) if !host.is_empty() && !host.contains('/') => {
                    let export = normalize_abs_path(&format!("/{export}")).ok_or_else(|| {
                        format!("NFS export in '{p}' must not contain '.' or '..' components")
                    })?;
                    Ok(format!("{host}:{export}"))
                }
                _ => Err(Invalid::new(format!(
                    "NFS path must be host:/export, host:port:/export or an absolute local path, got '{p}'"
                ))),
            }
        }
    }
}

pub(crate) fn parse_schedule(
    v: &Value,
    field: &str,
    errs: &mut FieldErrors,
    now: NaiveDateTime,
) -> Option<ScheduleInput> {
    match v {
        Value::Number(_) => {
            integer(v, field, 1, i64::MAX, errs).map(|i| ScheduleInput::FullId(ScheduleId(i)))
        }
        Value::String(s)
            if s.trim().bytes().all(|b| b.is_ascii_digit()) && !s.trim().is_empty() =>
        {
            integer(v, field, 1, i64::MAX, errs).map(|i| ScheduleInput::FullId(ScheduleId(i)))
        }
        Value::Object(obj) => parse_inline_schedule(obj, field, errs, now),
        other => {
            errs.add(
                field,
                format!(
                    "{field} must be a schedule object or a schedule ID, got {}",
                    type_of(other)
                ),
            );
            None
        }
    }
}

/// `{type, basic, advanced?}` where each slot is an object or a schedule ID.
pub fn parse_inline_schedule(
    obj: &Map<String, Value>,
    field: &str,
    errs: &mut FieldErrors,
    now: NaiveDateTime,
) -> Option<ScheduleInput> {
    reject_unknown(obj, &["type", "basic", "advanced"], field, errs);
    let type_field = join(field, "type");
    let kind = match obj.get("type") {
        None => {
            errs.add(&type_field, "schedule type is required (0 ~ 11)");
            None
        }
        Some(t) => match schedule::parse_type(t) {
            Some(k) => Some(k),
            None => {
                errs.add(&type_field, schedule::TYPE_MSG);
                None
            }
        },
    };
    let kind = kind?;
    let slot = |name: &str, role: Role, errs: &mut FieldErrors| -> Option<SlotInput> {
        let f = join(field, name);
        match obj.get(name)? {
            Value::Object(o) => {
                let d = parse_slot(kind, role, o, &f, errs)?;
                if let Err(m) = schedule::check_not_past(&d, now) {
                    errs.add(&f, m);
                    return None;
                }
                Some(SlotInput::Data(d))
            }
            v @ (Value::Number(_) | Value::String(_)) => {
                integer(v, &f, 1, i64::MAX, errs).map(|i| SlotInput::Id(ScheduleId(i)))
            }
            other => {
                errs.add(
                    &f,
                    format!(
                        "{f} must be an object or a schedule ID, got {}",
                        type_of(other)
                    ),
                );
                None
            }
        }
    };
    let basic_field = join(field, "basic");
    if !obj.contains_key("basic") {
        errs.add(&basic_field, "basic schedule data is required");
    }
    let basic = slot("basic", Role::Basic, errs);
    let advanced = slot("advanced", Role::Advanced, errs);
    if obj.contains_key("advanced") && !kind.is_smart() {
        errs.add(
            join(field, "advanced"),
            format!(
                "advanced is only used by smart schedule types 7 ~ 11; type {kind} ({}) takes basic only",
                kind.name()
            ),
        );
        return None;
    }
    Some(ScheduleInput::Inline {
        kind,
        basic: basic?,
        advanced,
    })
}

fn parse_options(
    obj: &Map<String, Value>,
    prefix: &str,
    probe: &dyn HostProbe,
    now: NaiveDateTime,
    errs: &mut FieldErrors,
) -> JobOptions {
    let f = |k: &str| join(prefix, k);
    let mut o = JobOptions::default();
    if let Some(v) = obj.get("center") {
        o.center = Ref::parse(v, &f("center"), errs);
    }
    if let Some(v) = obj.get("server") {
        o.server = Ref::parse(v, &f("server"), errs);
    }
    if let Some(v) = obj.get("type") {
        o.mode = v.as_str().and_then(Mode::parse);
        if o.mode.is_none() {
            errs.add(f("type"), MODE_MSG);
        }
    }
    if let Some(v) = obj.get("repository") {
        o.repository = parse_repository(v, &f("repository"), probe, errs);
    }
    if let Some(v) = obj.get("schedule") {
        o.schedule = parse_schedule(v, &f("schedule"), errs, now);
    }
    if let Some(v) = obj.get("rotation") {
        o.rotation = integer(v, &f("rotation"), 1, 30, errs).map(|n| n as u32);
    }
    if let Some(v) = obj.get("compression") {
        o.compression = use_option(v, &f("compression"), errs);
    }
    if let Some(v) = obj.get("encryption") {
        o.encryption = use_option(v, &f("encryption"), errs);
    }
    if let Some(v) = obj.get("autoStart") {
        o.auto_start = use_option(v, &f("autoStart"), errs);
    }
    if let Some(v) = obj.get("networkLimit") {
        o.network_limit =
            integer(v, &f("networkLimit"), 0, MAX_NETWORK_LIMIT, errs).map(|n| n as u32);
    }
    if let Some(v) = obj.get("excludeDir") {
        let field = f("excludeDir");
        if let Some(list) = string_list(v, &field, errs) {
            let mut dirs = Vec::new();
            for d in list {
                match normalize_abs_path(&d) {
                    Some(n) if n != "/" => {
                        if !dirs.contains(&n) {
                            dirs.push(n)
                        }
                    }
                    _ => errs.add(&field, format!("excludeDir entries must be absolute directories below a partition, got '{d}'")),
                }
            }
            o.exclude_dir = Some(dirs);
        }
    }
    if let Some(v) = obj.get("mailEvent") {
        let field = f("mailEvent");
        match v {
            Value::String(s) if s.trim().is_empty() => o.mail_event = Some(None),
            Value::String(s) if is_email(s.trim()) => {
                o.mail_event = Some(Some(s.trim().to_string()))
            }
            Value::Null => o.mail_event = Some(None),
            other => errs.add(
                field,
                format!("mailEvent must be an e-mail address, got {other}"),
            ),
        }
    }
    if let Some(v) = obj.get("scriptPath") {
        let field = f("scriptPath");
        if let Some(p) = string(v, &field, errs) {
            match probe.check_script(&p) {
                Ok(()) => o.script_path = Some(p),
                Err(m) => errs.add(field, m),
            }
        }
    }
    if let Some(v) = obj.get("scriptRun") {
        match v
            .as_str()
            .map(|s| s.trim().to_ascii_lowercase())
            .as_deref()
            .and_then(ScriptRun::parse)
        {
            Some(r) => o.script_run = Some(r),
            None => errs.add(f("scriptRun"), "scriptRun must be one of before, after"),
        }
    }
    o
}

fn parse_partition_name(v: &Value, field: &str, errs: &mut FieldErrors) -> Option<String> {
    let s = string(v, field, errs)?;
    match normalize_abs_path(&s) {
        Some(p) => Some(p),
        None => {
            errs.add(
                field,
                format!("{field} must be an absolute mount point such as / or /home, got '{s}'"),
            );
            None
        }
    }
}

/// Parses and validates the whole body. Every problem is reported; nothing here looks at the
/// database.
pub fn parse_registration(
    body: &Value,
    probe: &dyn HostProbe,
    now: NaiveDateTime,
) -> Result<RegistrationRequest, FieldErrors> {
    let mut errs = FieldErrors::new();
    let required = ["center", "server", "type", "partition", "repository"];
    let Some(obj) = super::fields::body_object(body, TOP_FIELDS, &required, &mut errs) else {
        return Err(errs);
    };
    let top = parse_options(obj, "", probe, now, &mut errs);
    let mut partitions = Vec::new();
    match obj.get("partition") {
        Some(Value::Array(a)) => {
            for (i, p) in a.iter().enumerate() {
                let field = format!("partition[{i}]");
                if let Some(p) = parse_partition_name(p, &field, &mut errs) {
                    if partitions.contains(&p) {
                        errs.add(field, format!("partition '{p}' is listed more than once"));
                    } else {
                        partitions.push(p);
                    }
                }
            }
        }
        Some(Value::Null) | None => {}
        Some(other) => errs.add(
            "partition",
            format!(
                "partition must be an array (use [] for every partition), got {}",
                type_of(other)
            ),
        ),
    }
    let job_name = obj
        .get("jobName")
        .and_then(|v| job_name_field(v, "jobName", &mut errs));
    let user = match obj.get("user") {
        Some(v) => {
            let r = Ref::parse(v, "user", &mut errs);
            if let Some(Ref::Name(n)) = &r {
                if !is_email(n) {
                    errs.add(
                        "user",
                        format!("user must be a user ID or an e-mail address, got '{n}'"),
                    );
                }
            }
            r
        }
        None => None,
    };
    let exclude_partition = match obj.get("excludePartition") {
        Some(v) => string_list(v, "excludePartition", &mut errs)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| {
                normalize_abs_path(&p).or_else(|| {
                    errs.add(
                        "excludePartition",
                        format!(
                            "excludePartition entries must be absolute mount points, got '{p}'"
                        ),
                    );
                    None
                })
            })
            .collect(),
        None => Vec::new(),
    };
    let mut individual = Vec::new();
    match obj.get("individual") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let prefix = format!("individual[{i}]");
                let Value::Object(io) = item else {
                    errs.add(
                        &prefix,
                        format!("{prefix} must be an object, got {}", type_of(item)),
                    );
                    continue;
                };
                reject_unknown(io, INDIVIDUAL_FIELDS, &prefix, &mut errs);
                let pfield = join(&prefix, "partition");
                let partition = match io.get("partition") {
                    Some(v) => parse_partition_name(v, &pfield, &mut errs),
                    None => {
                        errs.add(&pfield, format!("{pfield} is required"));
                        None
                    }
                };
                let jfield = join(&prefix, "jobName");
                let job_name = io
                    .get("jobName")
                    .and_then(|v| job_name_field(v, &jfield, &mut errs));
                if io.contains_key("excludePartition") {
                    // It filters the request's partition set, which an entry for one
                    // partition cannot change: refused rather than silently ignored.
                    errs.add(
                        join(&prefix, "excludePartition"),
                        "excludePartition applies to the whole request (top level); an individual entry names one partition, to leave it out remove the entry",
                    );
                }
                if io.contains_key("description") {
                    errs.add(
                        join(&prefix, "description"),
                        "description is not stored (the ZDM API dropped it in 2.0.0); remove it",
                    );
                }
                let options = parse_options(io, &prefix, probe, now, &mut errs);
                if let Some(partition) = partition {
                    if individual
                        .iter()
                        .any(|x: &Individual| x.partition == partition)
                    {
                        errs.add(
                            &pfield,
                            format!("partition '{partition}' has more than one individual entry"),
                        );
                    } else if !partitions.is_empty() && !partitions.contains(&partition) {
                        errs.add(
                            &pfield,
                            format!(
                                "partition '{partition}' is not in the request's partition list"
                            ),
                        );
                    } else {
                        individual.push(Individual {
                            partition,
                            job_name,
                            options,
                        });
                    }
                }
            }
        }
        Some(other) => errs.add(
            "individual",
            format!("individual must be an array, got {}", type_of(other)),
        ),
    }
    let req = RegistrationRequest {
        top,
        partitions,
        job_name,
        user,
        exclude_partition,
        individual,
    };
    check_scripts(&req, &mut errs);
    errs.into_result(req)
}

/// scriptRun is required with scriptPath and meaningless without it (decision D11).
/// `PUT /api/backups/{id}` `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusChange {
    Start,
    Stop,
}

/// The body of `PUT /api/backups/{identifier}` (spec §4.3): only the fields present change.
#[derive(Debug, Clone, Default)]
pub struct JobUpdate {
    pub change_name: Option<String>,
    pub status: Option<StatusChange>,
    /// `scriptPath`/`scriptRun` sent as `null`: the job runs no script any more.
    pub clear_script: bool,
    /// `schedule: null`: the job runs only when started (not for smart jobs).
    pub clear_schedule: bool,
    /// `mode` arrives as `opts.mode`; registration-only fields stay `None`.
    pub opts: JobOptions,
}

pub fn parse_update(
    body: &Value,
    probe: &dyn HostProbe,
    now: NaiveDateTime,
) -> Result<JobUpdate, FieldErrors> {
    let mut errs = FieldErrors::new();
    let Value::Object(obj) = body else {
        errs.add("body", "request body must be a JSON object");
        return Err(errs);
    };
    reject_unknown(obj, UPDATE_FIELDS, "", &mut errs);
    if obj.is_empty() {
        errs.add("body", "No fields provided for update");
        return Err(errs);
    }
    // Registration calls the mode `type`; parse it here and the rest with the shared parser.
    let mut rest = obj.clone();
    let mode = rest.remove("mode");
    // `null` removes the script or the schedule (the other fields always have a value).
    let mut clear_script = false;
    for k in ["scriptPath", "scriptRun"] {
        if rest.get(k).is_some_and(Value::is_null) {
            rest.remove(k);
            clear_script = true;
        }
    }
    if clear_script && (rest.contains_key("scriptPath") || rest.contains_key("scriptRun")) {
        errs.add(
            "scriptPath",
            "scriptPath and scriptRun are removed together: send both as null",
        );
    }
    let clear_schedule = rest.get("schedule").is_some_and(Value::is_null);
    if clear_schedule {
        rest.remove("schedule");
    }
    let mut up = JobUpdate {
        opts: parse_options(&rest, "", probe, now, &mut errs),
        clear_script,
        clear_schedule,
        ..Default::default()
    };
    if let Some(v) = mode {
        up.opts.mode = v.as_str().and_then(Mode::parse);
        if up.opts.mode.is_none() {
            errs.add("mode", "mode must be one of full, increment, smart");
        }
    }
    if let Some(v) = obj.get("changeName") {
        up.change_name = job_name_field(v, "changeName", &mut errs);
    }
    if let Some(v) = obj.get("status") {
        match v.as_str().map(|s| s.trim().to_ascii_lowercase()).as_deref() {
            Some("start") => up.status = Some(StatusChange::Start),
            Some("stop") => up.status = Some(StatusChange::Stop),
            _ => errs.add("status", "status must be one of start, stop"),
        }
    }
    errs.into_result(up)
}

fn check_scripts(req: &RegistrationRequest, errs: &mut FieldErrors) {
    let check =
        |o: &JobOptions, prefix: &str, errs: &mut FieldErrors| match (&o.script_path, o.script_run)
        {
            (Some(_), None) => errs.add(
                join(prefix, "scriptRun"),
                "scriptRun (before or after) is required when scriptPath is set",
            ),
            (None, Some(_)) => errs.add(
                join(prefix, "scriptPath"),
                "scriptPath is required when scriptRun is set",
            ),
            _ => {}
        };
    for (i, ind) in req.individual.iter().enumerate() {
        let merged = ind.options.over(&req.top);
        let overrides = ind.options.script_path.is_some() || ind.options.script_run.is_some();
        if overrides {
            check(&merged, &format!("individual[{i}]"), errs);
        }
    }
    check(&req.top, "", errs);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Probe;
    impl HostProbe for Probe {
        fn is_local_dir(&self, path: &str) -> bool {
            path == "/mnt/backup"
        }
        fn check_script(&self, path: &str) -> Result<(), Invalid> {
            if path == "/usr/local/bin/ok.sh" {
                Ok(())
            } else {
                Err(Invalid(format!("scriptPath '{path}' does not exist")))
            }
        }
    }

    fn now() -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 27)
            .unwrap()
            .and_hms_opt(8, 0, 0)
            .unwrap()
    }

    fn parse(v: Value) -> Result<RegistrationRequest, Value> {
        parse_registration(&v, &Probe, now()).map_err(|e| e.to_json())
    }

    #[test]
    fn seed_example_parses() {
        let r = parse(json!({
            "center": "1", "server": "server-01", "type": "full", "partition": ["/", "/home"],
            "repository": {"type": "nfs", "path": "/backup/server-01"}, "jobName": "daily-backup", "rotation": 7
        }))
        .unwrap();
        assert_eq!(r.top.center, Some(Ref::Id(1)));
        assert_eq!(r.top.server, Some(Ref::Name("server-01".into())));
        assert_eq!(r.partitions, vec!["/", "/home"]);
        assert_eq!(r.top.rotation, Some(7));
        assert_eq!(
            r.top.repository,
            Some(RepoInput::Spec {
                kind: RepoKind::Nfs,
                path: "/backup/server-01".into()
            })
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let e = parse(json!({
            "server": 1, "type": "fast", "partition": "/", "repository": {"type": "ftp"},
            "rotaton": 3, "rotation": 31, "compression": "yes", "mailEvent": "nobody",
            "networkLimit": -1, "scriptRun": "during"
        }))
        .unwrap_err();
        for k in [
            "center",
            "type",
            "partition",
            "repository.type",
            "repository.path",
            "rotaton",
            "rotation",
            "compression",
            "mailEvent",
            "networkLimit",
            "scriptRun",
        ] {
            assert!(e.get(k).is_some(), "missing {k} in {e}");
        }
        assert_eq!(e["type"][0], MODE_MSG);
        assert_eq!(
            e["rotaton"][0],
            "unknown field 'rotaton' (did you mean 'rotation'?)"
        );
    }

    #[test]
    fn repository_paths() {
        let p = &Probe;
        assert_eq!(
            normalize_repo_path(RepoKind::Smb, "//192.168.1.100/backup/", p).unwrap(),
            "//192.168.1.100/backup"
        );
        assert_eq!(
            normalize_repo_path(RepoKind::Smb, "\\\\srv\\share\\sub", p).unwrap(),
            "//srv/share/sub"
        );
        assert!(normalize_repo_path(RepoKind::Smb, "//srv", p)
            .unwrap_err()
            .0
            .contains("SMB path format is invalid"));
        assert!(normalize_repo_path(RepoKind::Smb, "/not/there", p).is_err());
        assert_eq!(
            normalize_repo_path(RepoKind::Smb, "/mnt/backup/", p).unwrap(),
            "/mnt/backup"
        );
        assert_eq!(
            normalize_repo_path(RepoKind::Nfs, "nas:/export//x/", p).unwrap(),
            "nas:/export/x"
        );
        assert_eq!(
            normalize_repo_path(RepoKind::Nfs, "127.0.0.1:2049:/export", p).unwrap(),
            "127.0.0.1:2049:/export"
        );
        assert!(normalize_repo_path(RepoKind::Nfs, "relative/path", p).is_err());
    }

    #[test]
    fn individual_rules() {
        let e = parse(json!({
            "center": 1, "server": 1, "type": "full", "partition": ["/"],
            "repository": {"id": 1},
            "individual": [{"partition": "/data"}, {"rotation": 2}]
        }))
        .unwrap_err();
        assert!(e["individual[0].partition"][0]
            .as_str()
            .unwrap()
            .contains("not in the request's partition list"));
        assert_eq!(
            e["individual[1].partition"][0],
            "individual[1].partition is required"
        );
    }

    #[test]
    fn scripts_need_both_fields() {
        let e = parse(json!({"center": 1, "server": 1, "type": "full", "partition": [], "repository": {"id": 1},
            "scriptPath": "/usr/local/bin/ok.sh"})).unwrap_err();
        assert!(e["scriptRun"][0].as_str().unwrap().contains("required"));
        let e = parse(json!({"center": 1, "server": 1, "type": "full", "partition": [], "repository": {"id": 1},
            "scriptPath": "/tmp/x.sh", "scriptRun": "before"})).unwrap_err();
        assert!(e["scriptPath"][0]
            .as_str()
            .unwrap()
            .contains("does not exist"));
        assert!(parse(json!({"center": 1, "server": 1, "type": "full", "partition": [], "repository": {"id": 1},
            "scriptPath": "/usr/local/bin/ok.sh", "scriptRun": "after"})).is_ok());
    }

    #[test]
    fn job_names() {
        assert!(check_job_name("daily-backup").is_ok());
        assert!(check_job_name("a/b").is_err());
        assert!(check_job_name("123").is_err());
        assert!(check_job_name("..").is_err());
        assert!(check_job_name(&"x".repeat(129)).is_err());
        assert!(check_job_name(&"한".repeat(85)).is_ok());
        let e = check_job_name(&"한".repeat(86)).unwrap_err().0;
        assert!(e.contains("255 bytes"), "{e}");
    }

    #[test]
    fn advanced_only_with_smart_types() {
        let e = parse(json!({"center": 1, "server": 1, "type": "full", "partition": [], "repository": {"id": 1},
            "schedule": {"type": 3, "basic": {"time": "02:00"}, "advanced": {"time": "03:00"}}})).unwrap_err();
        assert!(e["schedule.advanced"][0]
            .as_str()
            .unwrap()
            .contains("types 7 ~ 11"));
        let e = parse(json!({"center": 1, "server": 1, "type": "full", "partition": [], "repository": {"id": 1},
            "schedule": {"type": 100, "basic": {"time": "02:00"}}})).unwrap_err();
        assert_eq!(e["schedule.type"][0], schedule::TYPE_MSG);
    }
}
