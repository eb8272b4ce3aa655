//! Turns a parsed `POST /api/backups` request into per-partition jobs: resolves references,
//! applies the mode/schedule rules and naming (spec §2.4-2.6, decisions D2-D7, D19), in the
//! order spec §2.4 gives. Pure: stored state is read through `Catalog`.

use super::fields::FieldErrors;
use super::ids::{RepositoryId, ScheduleId, UserId};
use super::job::{
    JobOptions, Mode, Ref, RegistrationRequest, RepoInput, RepoKind, ScheduleInput, ScriptRun,
    SlotInput,
};
use super::partition::suffix;
use super::schedule::{self, Role, ScheduleData, ScheduleKind};
use chrono::NaiveDateTime;
use std::collections::HashSet;

/// Why a registration is refused as a whole.
#[derive(Debug, Clone, PartialEq)]
pub enum Rejection {
    Validation(FieldErrors),
    BadRequest(String),
    NotFound(String),
    Conflict(String),
    /// Nothing could be created; per-partition reasons go to `detail`.
    NothingCreated {
        message: String,
        failures: Vec<(String, String)>,
    },
}

pub const JOB_NAME_CONFLICT: &str = "JOB_NAME_ALREADY_EXISTS";
pub const MSG_101: &str = "For full/increment job types, schedule must contain only basic.";
pub const MSG_102: &str = "For smart job type, schedule must contain both basic and advanced.";
pub const MSG_107: &str = "Schedule is required for Smart Backup.";

/// This appliance: center 1 and its host, server 1 (decision D6).
#[derive(Debug, Clone)]
pub struct Host {
    pub center_id: i64,
    pub center_name: String,
    pub server_id: i64,
    pub server_name: String,
    /// Partitions with free space > 0, as backup sources.
    pub partitions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRepo {
    pub id: RepositoryId,
    pub kind: RepoKind,
    pub path: String,
}

/// Read access to stored state during planning (implemented over the write transaction).
pub trait Catalog {
    fn user_id(&self, r: &Ref) -> Option<UserId>;
    fn repository(&self, id: RepositoryId) -> Option<StoredRepo>;
    fn repository_by_path(&self, kind: RepoKind, path: &str) -> Option<RepositoryId>;
    fn schedule(&self, id: ScheduleId) -> Option<ScheduleData>;
    fn job_name_taken(&self, name: &str) -> bool;
    /// Names of stored jobs that start with `prefix` (for automatic numbering).
    fn job_names_with_prefix(&self, prefix: &str) -> Vec<String>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoTarget {
    Existing(RepositoryId),
    New { kind: RepoKind, path: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlannedJob {
    pub partition: String,
    pub name: String,
    pub mode: Mode,
    pub user_id: UserId,
    pub center_id: i64,
    pub server_id: i64,
    pub repository: RepoTarget,
    pub basic: Option<ScheduleData>,
    pub advanced: Option<ScheduleData>,
    pub rotation: u32,
    pub compression: bool,
    pub encryption: bool,
    pub exclude_dir: Vec<String>,
    pub mail_event: Option<String>,
    pub network_limit: u32,
    pub auto_start: bool,
    pub script: Option<(String, ScriptRun)>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Create(Box<PlannedJob>),
    Fail { partition: String, message: String },
}

/// One target partition with its effective options and where its fields came from.
struct Target {
    partition: String,
    opts: JobOptions,
    /// `individual[i]` prefix or "" for top-level fields.
    prefix: String,
    explicit_name: Option<String>,
}

fn field(prefix: &str, key: &str) -> String {
    super::fields::join(prefix, key)
}

pub fn plan(
    req: &RegistrationRequest,
    host: &Host,
    token_user: UserId,
    catalog: &dyn Catalog,
    now: NaiveDateTime,
) -> Result<Vec<Outcome>, Rejection> {
    let targets = targets(req, host)?;

    // 2. smart without any schedule (JOB-ERROR-107)
    for t in &targets {
        if t.opts.mode == Some(Mode::Smart) && t.opts.schedule.is_none() {
            return Err(Rejection::BadRequest(MSG_107.into()));
        }
    }

    // 3. center / server / repository / user
    let top = &req.top;
    let center = top.center.as_ref().expect("parsed");
    if !center.matches(host.center_id, &host.center_name) {
        return Err(Rejection::NotFound(format!("Center '{center}' not found.")));
    }
    let server = top.server.as_ref().expect("parsed");
    if !server.matches(host.server_id, &host.server_name) {
        return Err(Rejection::NotFound(format!("Server '{server}' not found.")));
    }
    let user_id = match &req.user {
        Some(u) => catalog
            .user_id(u)
            .ok_or_else(|| Rejection::NotFound(format!("User '{u}' not found.")))?,
        None => token_user,
    };
    let mut repos = Vec::with_capacity(targets.len());
    for t in &targets {
        repos.push(resolve_repository(t, catalog)?);
    }

    // 4. schedule ID look-ups
    let mut schedules = Vec::with_capacity(targets.len());
    for t in &targets {
        schedules.push(match &t.opts.schedule {
            None => None,
            Some(s) => Some(resolve_schedule(s, catalog)?),
        });
    }

    // 5-6. mode <-> schedule compatibility, then schedule value rules
    for (t, s) in targets.iter().zip(&schedules) {
        check_compat(t.opts.mode.expect("parsed"), s.as_ref(), now)?;
    }

    // 7. names
    let names = names(req, host, &targets, catalog)?;

    // 8. per-partition outcomes
    let mut out = Vec::with_capacity(targets.len());
    for (((t, repo), sched), name) in targets.into_iter().zip(repos).zip(schedules).zip(names) {
        if let Some(msg) = per_partition_failure(&t, host) {
            out.push(Outcome::Fail {
                partition: t.partition,
                message: msg,
            });
            continue;
        }
        let o = &t.opts;
        let (basic, advanced) = match sched {
            Some(r) => (Some(r.basic), r.advanced),
            None => (None, None),
        };
        out.push(Outcome::Create(Box::new(PlannedJob {
            partition: t.partition,
            name,
            mode: o.mode.expect("parsed"),
            user_id,
            center_id: host.center_id,
            server_id: host.server_id,
            repository: repo,
            basic,
            advanced,
            rotation: o.rotation.unwrap_or(1),
            compression: o.compression.unwrap_or(true),
            encryption: o.encryption.unwrap_or(false),
            exclude_dir: o.exclude_dir.clone().unwrap_or_default(),
            mail_event: o.mail_event.clone().flatten(),
            network_limit: o.network_limit.unwrap_or(0),
            auto_start: o.auto_start.unwrap_or(false),
            script: o.script_path.clone().zip(o.script_run),
        })));
    }
    if !out.iter().any(|o| matches!(o, Outcome::Create(_))) {
        let failures: Vec<(String, String)> = out
            .into_iter()
            .filter_map(|o| match o {
                Outcome::Fail { partition, message } => Some((partition, message)),
                Outcome::Create(_) => None,
            })
            .collect();
        let message = failures.first().map(|f| f.1.clone()).unwrap_or_default();
        return Err(Rejection::NothingCreated { message, failures });
    }
    Ok(out)
}

/// Decision D7 and spec §2.5: `[]` means every partition of the server; `excludePartition`
/// filters either form.
fn targets(req: &RegistrationRequest, host: &Host) -> Result<Vec<Target>, Rejection> {
    let base: Vec<String> = if req.partitions.is_empty() {
        host.partitions.clone()
    } else {
        req.partitions.clone()
    };
    let list: Vec<String> = base
        .into_iter()
        .filter(|p| !req.exclude_partition.contains(p))
        .collect();
    if list.is_empty() {
        return Err(Rejection::BadRequest(
            "NO_PARTITIONS_TO_PROCESS: no partition is left to back up after applying partition and excludePartition".into(),
        ));
    }
    let mut errs = FieldErrors::new();
    for (i, ind) in req.individual.iter().enumerate() {
        if !list.contains(&ind.partition) {
            errs.add(
                format!("individual[{i}].partition"),
                format!(
                    "partition '{}' is not one of the partitions this request backs up ({})",
                    ind.partition,
                    list.join(", ")
                ),
            );
        }
    }
    if !errs.is_empty() {
        return Err(Rejection::Validation(errs));
    }
    Ok(list
        .into_iter()
        .map(
            |p| match req.individual.iter().position(|i| i.partition == p) {
                Some(i) => {
                    let ind = &req.individual[i];
                    Target {
                        partition: p,
                        opts: ind.options.over(&req.top),
                        prefix: format!("individual[{i}]"),
                        explicit_name: ind.job_name.clone(),
                    }
                }
                None => Target {
                    partition: p,
                    opts: req.top.clone(),
                    prefix: String::new(),
                    explicit_name: None,
                },
            },
        )
        .collect())
}

fn per_partition_failure(t: &Target, host: &Host) -> Option<String> {
    if let Some(c) = &t.opts.center {
        if !c.matches(host.center_id, &host.center_name) {
            return Some(format!("Center '{c}' not found."));
        }
    }
    if let Some(s) = &t.opts.server {
        if !s.matches(host.server_id, &host.server_name) {
            return Some(format!("Server '{s}' not found."));
        }
    }
    if !host.partitions.contains(&t.partition) {
        return Some(format!(
            "Partition '{}' not found on server '{}'.",
            t.partition, host.server_name
        ));
    }
    None
}

fn resolve_repository(t: &Target, catalog: &dyn Catalog) -> Result<RepoTarget, Rejection> {
    match t.opts.repository.as_ref().expect("parsed") {
        RepoInput::Id { id, kind, path } => {
            let repo = catalog.repository(*id).ok_or_else(|| {
                Rejection::NotFound(format!("Repository with ID '{id}' not found"))
            })?;
            if kind.is_some_and(|k| k != repo.kind)
                || path.as_ref().is_some_and(|p| *p != repo.path)
            {
                return Err(Rejection::BadRequest(format!(
                    "{}: repository {id} is {} '{}', which does not match the type/path given",
                    field(&t.prefix, "repository"),
                    repo.kind.as_str(),
                    repo.path
                )));
            }
            Ok(RepoTarget::Existing(*id))
        }
        RepoInput::Spec { kind, path } => Ok(match catalog.repository_by_path(*kind, path) {
            Some(id) => RepoTarget::Existing(id),
            // An S3 repository needs an endpoint and keys, which only registration takes.
            None if *kind == RepoKind::S3 => {
                return Err(Rejection::NotFound(format!(
                    "{}: no s3 repository '{path}' is registered; register it first with POST \
                     /api/zdms/repositories (endpoint and keys), then refer to it by id or path",
                    field(&t.prefix, "repository")
                )))
            }
            None => RepoTarget::New {
                kind: *kind,
                path: path.clone(),
            },
        }),
    }
}

/// A schedule after ID references were read: the records to copy for this job.
#[derive(Debug, Clone)]
pub struct ResolvedSchedule {
    pub kind: ScheduleKind,
    pub basic: ScheduleData,
    pub advanced: Option<ScheduleData>,
    /// Slots that came from an ID reference (for JOB-ERROR-108).
    basic_ref: Option<ScheduleId>,
    advanced_ref: Option<ScheduleId>,
}

pub fn resolve_schedule(
    s: &ScheduleInput,
    catalog: &dyn Catalog,
) -> Result<ResolvedSchedule, Rejection> {
    match s {
        ScheduleInput::FullId(id) => {
            let mut d = catalog
                .schedule(*id)
                .ok_or_else(|| Rejection::NotFound(format!("Schedule ID '{id}' not found")))?;
            // Only the basic part is copied (spec §2.3).
            d.role = Role::Basic;
            Ok(ResolvedSchedule {
                kind: d.kind,
                basic: d,
                advanced: None,
                basic_ref: Some(*id),
                advanced_ref: None,
            })
        }
        ScheduleInput::Inline {
            kind,
            basic,
            advanced,
        } => {
            let slot = |s: &SlotInput,
                        role: Role|
             -> Result<(ScheduleData, Option<ScheduleId>), Rejection> {
                match s {
                    SlotInput::Data(d) => Ok((d.clone(), None)),
                    SlotInput::Id(id) => {
                        let mut d = catalog.schedule(*id).ok_or_else(|| {
                            Rejection::NotFound(format!("Schedule ID '{id}' not found."))
                        })?;
                        if d.kind != *kind {
                            return Err(Rejection::BadRequest(format!(
                                "Schedule ID '{id}' is of type {} ({}), but schedule.type is {kind} ({}).",
                                d.kind,
                                d.kind.name(),
                                kind.name()
                            )));
                        }
                        d.role = role;
                        Ok((d, Some(*id)))
                    }
                }
            };
            let (b, basic_ref) = slot(basic, Role::Basic)?;
            let (a, advanced_ref) = match advanced {
                Some(a) => {
                    let (d, r) = slot(a, Role::Advanced)?;
                    (Some(d), r)
                }
                None => (None, None),
            };
            Ok(ResolvedSchedule {
                kind: *kind,
                basic: b,
                advanced: a,
                basic_ref,
                advanced_ref,
            })
        }
    }
}

/// Spec §2.4 mode <-> schedule rules (also for `PUT /api/backups`).
pub fn check_compat(
    mode: Mode,
    s: Option<&ResolvedSchedule>,
    now: NaiveDateTime,
) -> Result<(), Rejection> {
    let Some(s) = s else { return Ok(()) };
    let smart_kind = s.kind.is_smart();
    match mode {
        Mode::Full | Mode::Increment if smart_kind || s.advanced.is_some() => {
            return Err(Rejection::BadRequest(MSG_101.into()));
        }
        Mode::Smart if smart_kind && s.advanced.is_none() => {
            return Err(Rejection::BadRequest(MSG_102.into()));
        }
        _ => {}
    }
    if smart_kind {
        // JOB-ERROR-108: a referenced record's pattern decides which slot it may fill.
        if let Some(id) = s.basic_ref.filter(|_| s.basic.is_multi()) {
            return Err(Rejection::BadRequest(format!(
                "Schedule ID '{id}' selects several values ({}) and can only be used as advanced, not basic.",
                s.basic.describe()
            )));
        }
        if let Some(id) = s
            .advanced_ref
            .filter(|_| s.advanced.as_ref().is_some_and(|a| !a.is_multi()))
        {
            return Err(Rejection::BadRequest(format!(
                "Schedule ID '{id}' selects single values and can only be used as basic, not advanced."
            )));
        }
        if mode == Mode::Smart {
            if let Err(m) = schedule::check_smart_basic_single(&s.basic) {
                return Err(Rejection::Conflict(m.into()));
            }
        }
    }
    // A copied Once record may have expired since it was stored.
    for d in std::iter::once(&s.basic).chain(s.advanced.as_ref()) {
        if let Err(m) = schedule::check_not_past(d, now) {
            return Err(Rejection::BadRequest(m.into()));
        }
    }
    Ok(())
}

/// Decision D4: individual names verbatim, a top-level name plus the partition suffix, otherwise
/// `<server><suffix>_Backup_<n>` with the smallest free n. Explicit names that exist -> 409.
fn names(
    req: &RegistrationRequest,
    host: &Host,
    targets: &[Target],
    catalog: &dyn Catalog,
) -> Result<Vec<String>, Rejection> {
    let mut explicit: Vec<Option<String>> = Vec::with_capacity(targets.len());
    let mut taken: HashSet<String> = HashSet::new();
    // One name given to two jobs of this request is the request's mistake (400, naming both),
    // not a clash with an existing job (409).
    let mut given: Vec<(String, String)> = Vec::new();
    for t in targets {
        let name = t.explicit_name.clone().or_else(|| {
            req.job_name
                .as_ref()
                .map(|j| format!("{j}{}", suffix(&t.partition)))
        });
        if let Some(n) = &name {
            if let Err(m) = super::job::check_job_name(n) {
                let mut errs = FieldErrors::new();
                errs.add(field(&t.prefix, "jobName"), m);
                return Err(Rejection::Validation(errs));
            }
            if let Some((_, first)) = given.iter().find(|(g, _)| g == n) {
                let mut errs = FieldErrors::new();
                errs.add(
                    field(&t.prefix, "jobName"),
                    format!(
                        "job name '{n}' would be given to two jobs of this request (partitions {first} and {})",
                        t.partition
                    ),
                );
                return Err(Rejection::Validation(errs));
            }
            given.push((n.clone(), t.partition.clone()));
            if catalog.job_name_taken(n) || !taken.insert(n.clone()) {
                return Err(Rejection::Conflict(JOB_NAME_CONFLICT.into()));
            }
        }
        explicit.push(name);
    }
    let mut out = Vec::with_capacity(targets.len());
    for (t, name) in targets.iter().zip(explicit) {
        let name = match name {
            Some(n) => n,
            None => {
                let base = format!("{}{}_Backup_", host.server_name, suffix(&t.partition));
                let used: HashSet<u64> = catalog
                    .job_names_with_prefix(&base)
                    .iter()
                    .chain(taken.iter())
                    .filter_map(|n| n.strip_prefix(&base)?.parse().ok())
                    .collect();
                let n = (1u64..).find(|n| !used.contains(n)).expect("a free number");
                let candidate = format!("{base}{n}");
                taken.insert(candidate.clone());
                candidate
            }
        };
        out.push(name);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::job::parse_registration;
    use crate::domain::testing::{MemCatalog as Mem, Probe};
    use serde_json::{json, Value};

    /// Repository 5 exists; nothing is a local directory.
    fn mem() -> Mem {
        Mem::with_repos(&[5])
    }
    const PROBE: Probe = Probe { local_dirs: false };

    fn host() -> Host {
        Host {
            center_id: 1,
            center_name: "appliance".into(),
            server_id: 1,
            server_name: "server-01".into(),
            partitions: vec!["/".into(), "/boot/efi".into(), "/home".into()],
        }
    }

    fn now() -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 27)
            .unwrap()
            .and_hms_opt(8, 0, 0)
            .unwrap()
    }

    fn run(body: Value, cat: &Mem) -> Result<Vec<Outcome>, Rejection> {
        let req = parse_registration(&body, &PROBE, now()).expect("valid body");
        plan(&req, &host(), UserId(1), cat, now())
    }

    fn base(extra: Value) -> Value {
        let mut b = json!({"center": "1", "server": "server-01", "type": "full", "partition": ["/"],
            "repository": {"type": "nfs", "path": "/backup/server-01"}});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    }

    fn created(o: &[Outcome]) -> Vec<&PlannedJob> {
        o.iter()
            .filter_map(|o| match o {
                Outcome::Create(j) => Some(&**j),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn names_follow_d4() {
        let mut cat = mem();
        let o = run(
            base(json!({"partition": ["/", "/boot/efi"], "jobName": "backupTest"})),
            &cat,
        )
        .unwrap();
        let names: Vec<_> = created(&o).iter().map(|j| j.name.clone()).collect();
        assert_eq!(names, vec!["backupTest_ROOT", "backupTest_boot_efi"]);
        cat.names.insert("server-01_ROOT_Backup_1".into());
        cat.names.insert("server-01_ROOT_Backup_3".into());
        let o = run(base(json!({})), &cat).unwrap();
        assert_eq!(created(&o)[0].name, "server-01_ROOT_Backup_2");
        cat.names.insert("server-01_ROOT_Backup_2".into());
        let o = run(base(json!({})), &cat).unwrap();
        assert_eq!(created(&o)[0].name, "server-01_ROOT_Backup_4");
        cat.names.insert("backupTest_ROOT".into());
        assert_eq!(
            run(base(json!({"jobName": "backupTest"})), &cat),
            Err(Rejection::Conflict(JOB_NAME_CONFLICT.into()))
        );
    }

    #[test]
    fn defaults_follow_d10() {
        let o = run(base(json!({})), &mem()).unwrap();
        let j = created(&o)[0];
        assert!(j.compression && !j.encryption && !j.auto_start);
        assert_eq!((j.rotation, j.network_limit), (1, 0));
        assert_eq!(
            j.repository,
            RepoTarget::New {
                kind: RepoKind::Nfs,
                path: "/backup/server-01".into()
            }
        );
    }

    #[test]
    fn mode_schedule_rules() {
        let cat = mem();
        assert_eq!(
            run(base(json!({"type": "smart"})), &cat),
            Err(Rejection::BadRequest(MSG_107.into()))
        );
        let smart7 = json!({"type": 7, "basic": {"day": "mon", "time": "01:00"}});
        assert_eq!(
            run(base(json!({"type": "smart", "schedule": smart7})), &cat),
            Err(Rejection::BadRequest(MSG_102.into()))
        );
        let full7 = json!({"type": 7, "basic": {"day": "mon", "time": "01:00"}, "advanced": {"day": "tue,wed", "time": "01:00"}});
        assert_eq!(
            run(base(json!({"schedule": full7})), &cat),
            Err(Rejection::BadRequest(MSG_101.into()))
        );
        // D19: smart with a basic-only daily schedule is accepted.
        assert!(run(
            base(json!({"type": "smart", "schedule": {"type": 3, "basic": {"time": "02:00"}}})),
            &cat
        )
        .is_ok());
        let multi = json!({"type": 7, "basic": {"day": "mon,tue", "time": "01:00"}, "advanced": {"day": "wed", "time": "01:00"}});
        assert!(matches!(
            run(base(json!({"type": "smart", "schedule": multi})), &cat),
            Err(Rejection::Conflict(_))
        ));
    }

    #[test]
    fn references() {
        let mut cat = mem();
        assert_eq!(
            run(base(json!({"center": "2"})), &cat),
            Err(Rejection::NotFound("Center '2' not found.".into()))
        );
        assert_eq!(
            run(base(json!({"server": "x"})), &cat),
            Err(Rejection::NotFound("Server 'x' not found.".into()))
        );
        assert_eq!(
            run(base(json!({"user": "who@example.com"})), &cat),
            Err(Rejection::NotFound(
                "User 'who@example.com' not found.".into()
            ))
        );
        assert_eq!(
            run(base(json!({"repository": {"id": 9}})), &cat),
            Err(Rejection::NotFound(
                "Repository with ID '9' not found".into()
            ))
        );
        assert_eq!(
            run(base(json!({"schedule": 999})), &cat),
            Err(Rejection::NotFound("Schedule ID '999' not found".into()))
        );
        let s = json!({"type": 7, "basic": {"day": "mon", "time": "01:00"}, "advanced": 999});
        assert_eq!(
            run(base(json!({"type": "smart", "schedule": s})), &cat),
            Err(Rejection::NotFound("Schedule ID '999' not found.".into()))
        );
        // Full-ID copies only the basic part.
        let req = parse_registration(
            &json!({"type": 3, "basic": {"time": "02:00"}}),
            &PROBE,
            now(),
        );
        assert!(req.is_err());
        let mut errs = FieldErrors::new();
        let d = schedule::parse_slot(
            ScheduleKind::Daily,
            Role::Basic,
            json!({"time": "02:00"}).as_object().unwrap(),
            "b",
            &mut errs,
        )
        .unwrap();
        cat.schedules.insert(ScheduleId(42), d);
        let o = run(base(json!({"schedule": 42})), &cat).unwrap();
        assert_eq!(
            created(&o)[0].basic.as_ref().unwrap().describe(),
            "[Basic] Start working at 02:00 every day."
        );
    }

    #[test]
    fn per_partition_failures_and_partial_success() {
        let cat = mem();
        let body = base(
            json!({"partition": ["/", "/nope"], "individual": [{"partition": "/", "server": "backup-server"}]}),
        );
        let err = run(body, &cat).unwrap_err();
        match err {
            Rejection::NothingCreated { failures, .. } => {
                assert_eq!(
                    failures[0],
                    ("/".into(), "Server 'backup-server' not found.".into())
                );
                assert_eq!(
                    failures[1],
                    (
                        "/nope".into(),
                        "Partition '/nope' not found on server 'server-01'.".into()
                    )
                );
            }
            other => panic!("{other:?}"),
        }
        let o = run(base(json!({"partition": ["/", "/nope"]})), &cat).unwrap();
        assert_eq!(created(&o).len(), 1);
        assert!(matches!(&o[1], Outcome::Fail { partition, .. } if partition == "/nope"));
    }

    #[test]
    fn all_partitions_minus_excluded() {
        let o = run(
            base(json!({"partition": [], "excludePartition": "/boot/efi"})),
            &mem(),
        )
        .unwrap();
        let parts: Vec<_> = created(&o).iter().map(|j| j.partition.clone()).collect();
        assert_eq!(parts, vec!["/", "/home"]);
        assert!(
            matches!(run(base(json!({"excludePartition": ["/"]})), &mem()), Err(Rejection::BadRequest(m)) if m.starts_with("NO_PARTITIONS_TO_PROCESS"))
        );
    }
}
