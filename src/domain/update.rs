//! `PUT /api/backups/{identifier}` planned without touching storage: the stored job and the
//! parsed request go in, the new job, what to do with its schedule records and exactly which
//! fields changed come out. It reuses registration's rules (spec §4.3 cross-change table, then
//! the §2.4 compatibility rules), so an update cannot accept what a registration refuses.

use super::fields::FieldErrors;
use super::ids::{RepositoryId, ScheduleId};
use super::job::{JobUpdate, Mode, RepoInput, ScriptRun, StatusChange};
use super::registration::{
    check_compat, resolve_schedule, Catalog, Rejection, JOB_NAME_CONFLICT, MSG_101, MSG_107,
};
use super::schedule::{Role, ScheduleData};
use chrono::NaiveDateTime;
use serde_json::{json, Value};

/// The stored job as the planner sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct CurrentJob {
    pub name: String,
    pub mode: Mode,
    pub repository_id: RepositoryId,
    /// Schedule records (ID and data) of the basic and advanced halves.
    pub basic: Option<(ScheduleId, ScheduleData)>,
    pub advanced: Option<(ScheduleId, ScheduleData)>,
    pub rotation: u32,
    pub compression: bool,
    pub encryption: bool,
    pub exclude_dir: Vec<String>,
    pub mail_event: Option<String>,
    pub network_limit: u32,
    pub auto_start: bool,
    pub script: Option<(String, ScriptRun)>,
    pub stopped: bool,
    /// A run is queued or running.
    pub running: bool,
}

/// What happens to one schedule record of the job.
#[derive(Debug, Clone, PartialEq)]
pub enum SlotWrite {
    /// Unchanged (or absent and staying absent).
    Keep,
    /// The record keeps its ID and gets new data (same mode family, spec §4.3).
    Overwrite(ScheduleId, ScheduleData),
    /// A new record (the old one, if any, is released).
    Insert(ScheduleData),
    /// The job has no such half any more (the old record is released).
    Remove,
}

/// One reported change: `{field, previous, new}` in the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub field: &'static str,
    pub previous: Value,
    pub new: Value,
}

/// The outcome of planning an update.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdatePlan {
    pub name: String,
    pub mode: Mode,
    pub repository_id: RepositoryId,
    pub basic: SlotWrite,
    pub advanced: SlotWrite,
    pub rotation: u32,
    pub compression: bool,
    pub encryption: bool,
    pub exclude_dir: Vec<String>,
    pub mail_event: Option<String>,
    pub network_limit: u32,
    pub auto_start: bool,
    pub script: Option<(String, ScriptRun)>,
    /// Exactly what changed, in the order of the fields above.
    pub changes: Vec<Change>,
    /// Start or stop asked for (an action, reported even when the flag does not change).
    pub status: Option<StatusChange>,
}

impl UpdatePlan {
    /// The job's restore points move from the old name's directory to the new one.
    pub fn renamed(&self, old: &CurrentJob) -> Option<(String, String)> {
        (self.name != old.name && self.repository_id == old.repository_id)
            .then(|| (old.name.clone(), self.name.clone()))
    }
}

fn use_str(b: bool) -> &'static str {
    if b {
        "use"
    } else {
        "not use"
    }
}

fn describe(basic: &ScheduleData, advanced: Option<&ScheduleData>) -> Value {
    json!({ "type": basic.kind, "basic": basic.describe(), "advanced": advanced.map(|a| a.describe()) })
}

fn rejection_field(field: &str, message: &str) -> Rejection {
    let mut e = FieldErrors::new();
    e.add(field, message);
    Rejection::Validation(e)
}

pub fn plan_update(
    old: &CurrentJob,
    up: &JobUpdate,
    catalog: &dyn Catalog,
    now: NaiveDateTime,
) -> Result<UpdatePlan, Rejection> {
    let mut changes = Vec::new();
    let mut changed = |field: &'static str, previous: Value, new: Value| {
        if previous != new {
            changes.push(Change {
                field,
                previous,
                new,
            });
        }
    };
    if old.running && up.status == Some(StatusChange::Start) {
        return Err(Rejection::Conflict(format!(
            "Backup job '{}' is already running; wait for the run to finish or stop it (status: stop)",
            old.name
        )));
    }
    if up.clear_schedule && up.opts.schedule.is_some() {
        return Err(rejection_field(
            "schedule",
            "schedule is either null (remove it) or a schedule",
        ));
    }
    // Name.
    let mut name = old.name.clone();
    if let Some(n) = up.change_name.as_ref().filter(|n| **n != old.name) {
        if catalog.job_name_taken(n) {
            return Err(Rejection::Conflict(JOB_NAME_CONFLICT.into()));
        }
        if old.running {
            return Err(Rejection::Conflict(format!(
                "Backup job '{}' is running; rename it when the run has finished",
                old.name
            )));
        }
        changed("jobName", json!(old.name), json!(n));
        name = n.clone();
    }
    // Mode and schedule.
    let resolved = up
        .opts
        .schedule
        .as_ref()
        .map(|s| resolve_schedule(s, catalog))
        .transpose()?;
    let new_mode = match (up.opts.mode, &resolved) {
        (Some(m), _) => m,
        (None, Some(r)) if r.kind.is_smart() && old.mode != Mode::Smart => Mode::Smart,
        (None, Some(r)) if !r.kind.is_smart() && old.mode == Mode::Smart => Mode::Full,
        _ => old.mode,
    };
    let old_basic = old.basic.as_ref().map(|(_, d)| d);
    let old_advanced = old.advanced.as_ref().map(|(_, d)| d);
    match &resolved {
        Some(r) => check_compat(new_mode, Some(r), now)?,
        None if up.clear_schedule || old_basic.is_none() => {
            if new_mode == Mode::Smart {
                return Err(Rejection::BadRequest(MSG_107.into()));
            }
        }
        None => {
            if new_mode != Mode::Smart
                && (old_advanced.is_some() || old_basic.is_some_and(|b| b.kind.is_smart()))
            {
                return Err(Rejection::BadRequest(MSG_101.into()));
            }
        }
    }
    changed("mode", json!(old.mode.as_str()), json!(new_mode.as_str()));
    let previous_schedule = old_basic
        .map(|b| describe(b, old_advanced))
        .unwrap_or(Value::Null);
    let (mut basic, mut advanced) = (SlotWrite::Keep, SlotWrite::Keep);
    if up.clear_schedule && old_basic.is_some() {
        basic = SlotWrite::Remove;
        advanced = if old_advanced.is_some() {
            SlotWrite::Remove
        } else {
            SlotWrite::Keep
        };
        changed("schedule", previous_schedule.clone(), Value::Null);
    }
    if let Some(r) = &resolved {
        let mut b = r.basic.clone();
        b.role = Role::Basic;
        let a = r.advanced.clone().map(|mut a| {
            a.role = Role::Advanced;
            a
        });
        // The same schedule sent again changes nothing (and is not reported).
        if old_basic != Some(&b) || old_advanced != a.as_ref() {
            let same_family = (old.mode == Mode::Smart) == (new_mode == Mode::Smart);
            let slot =
                |current: &Option<(ScheduleId, ScheduleData)>, data: ScheduleData| match current {
                    Some((id, _)) if same_family => SlotWrite::Overwrite(*id, data),
                    _ => SlotWrite::Insert(data),
                };
            changed("schedule", previous_schedule, describe(&b, a.as_ref()));
            basic = slot(&old.basic, b);
            advanced = match a {
                Some(a) => slot(&old.advanced, a),
                None if old.advanced.is_some() => SlotWrite::Remove,
                None => SlotWrite::Keep,
            };
        }
    }
    // Plain fields.
    let o = &up.opts;
    let rotation = o.rotation.unwrap_or(old.rotation);
    changed("rotation", json!(old.rotation), json!(rotation));
    let compression = o.compression.unwrap_or(old.compression);
    changed(
        "compression",
        json!(use_str(old.compression)),
        json!(use_str(compression)),
    );
    let encryption = o.encryption.unwrap_or(old.encryption);
    changed(
        "encryption",
        json!(use_str(old.encryption)),
        json!(use_str(encryption)),
    );
    let exclude_dir = o
        .exclude_dir
        .clone()
        .unwrap_or_else(|| old.exclude_dir.clone());
    changed(
        "excludeDir",
        json!(old.exclude_dir.join("|")),
        json!(exclude_dir.join("|")),
    );
    let mail_event = o
        .mail_event
        .clone()
        .unwrap_or_else(|| old.mail_event.clone());
    changed("mailEvent", json!(old.mail_event), json!(mail_event));
    let network_limit = o.network_limit.unwrap_or(old.network_limit);
    changed(
        "networkLimit",
        json!(old.network_limit),
        json!(network_limit),
    );
    let auto_start = o.auto_start.unwrap_or(old.auto_start);
    changed(
        "autoStart",
        json!(use_str(old.auto_start)),
        json!(use_str(auto_start)),
    );
    // Script: null removes it; a path and a timing are set together (either may be kept).
    let (old_path, old_run) = match &old.script {
        Some((p, r)) => (Some(p.clone()), Some(*r)),
        None => (None, None),
    };
    let (mut path, mut run) = (old_path.clone(), old_run);
    if up.clear_script {
        (path, run) = (None, None);
    }
    if let Some(p) = &o.script_path {
        path = Some(p.clone());
    }
    if let Some(r) = o.script_run {
        run = Some(r);
    }
    let script = match (path, run) {
        (Some(p), Some(r)) => Some((p, r)),
        (None, None) => None,
        _ => {
            return Err(rejection_field(
                "scriptRun",
                "scriptPath and scriptRun (before or after) must be set together",
            ))
        }
    };
    changed(
        "scriptPath",
        json!(old_path),
        json!(script.as_ref().map(|s| &s.0)),
    );
    changed(
        "scriptRun",
        json!(old_run.map(ScriptRun::as_str)),
        json!(script.as_ref().map(|s| s.1.as_str())),
    );
    // Repository.
    let mut repository_id = old.repository_id;
    if let Some(r) = &o.repository {
        let id = match r {
            RepoInput::Id { id, .. } => *id,
            RepoInput::Spec { kind, path } => {
                catalog.repository_by_path(*kind, path).ok_or_else(|| {
                    Rejection::NotFound(format!("Repository '{path}' is not registered"))
                })?
            }
        };
        if catalog.repository(id).is_none() {
            return Err(Rejection::NotFound(format!(
                "Repository with ID '{id}' not found"
            )));
        }
        if id != old.repository_id && old.running {
            return Err(Rejection::Conflict(format!(
                "Backup job '{}' is running; change its repository when the run has finished",
                old.name
            )));
        }
        changed("repository", json!(old.repository_id), json!(id));
        repository_id = id;
    }
    if let Some(s) = up.status {
        let new = if s == StatusChange::Start {
            "start"
        } else {
            "stop"
        };
        let prev = if old.stopped { "stop" } else { "start" };
        changes.push(Change {
            field: "status",
            previous: json!(prev),
            new: json!(new),
        });
    }
    Ok(UpdatePlan {
        name,
        mode: new_mode,
        repository_id,
        basic,
        advanced,
        rotation,
        compression,
        encryption,
        exclude_dir,
        mail_event,
        network_limit,
        auto_start,
        script,
        changes,
        status: up.status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::job::parse_update;
    use crate::domain::testing::{MemCatalog, Probe};

    const PROBE: Probe = Probe { local_dirs: true };

    /// Repositories 5 and 6; a job named `taken` exists.
    fn mem() -> MemCatalog {
        let mut m = MemCatalog::with_repos(&[5, 6]);
        m.names.insert("taken".into());
        m
    }

    fn now() -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 6, 1)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
    }

    fn daily(time: &str) -> ScheduleData {
        let up = parse_update(
            &json!({ "schedule": {"type": 3, "basic": {"time": time}} }),
            &PROBE,
            now(),
        )
        .unwrap();
        let r = resolve_schedule(up.opts.schedule.as_ref().unwrap(), &mem()).unwrap();
        let mut b = r.basic;
        b.role = Role::Basic;
        b
    }

    fn job() -> CurrentJob {
        CurrentJob {
            name: "web".into(),
            mode: Mode::Full,
            repository_id: RepositoryId(5),
            basic: Some((ScheduleId(11), daily("03:00"))),
            advanced: None,
            rotation: 3,
            compression: true,
            encryption: false,
            exclude_dir: vec![],
            mail_event: None,
            network_limit: 0,
            auto_start: false,
            script: None,
            stopped: false,
            running: false,
        }
    }

    fn plan(old: &CurrentJob, body: serde_json::Value) -> Result<UpdatePlan, Rejection> {
        let up = parse_update(&body, &PROBE, now()).unwrap();
        plan_update(old, &up, &mem(), now())
    }

    fn fields(p: &UpdatePlan) -> Vec<&'static str> {
        p.changes.iter().map(|c| c.field).collect()
    }

    #[test]
    fn reports_exactly_what_changes() {
        let old = job();
        let cases: Vec<(serde_json::Value, Vec<&str>)> = vec![
            (json!({ "rotation": 3 }), vec![]),
            (json!({ "rotation": 4 }), vec!["rotation"]),
            (json!({ "autoStart": "use" }), vec!["autoStart"]),
            (json!({ "autoStart": "not use" }), vec![]),
            (json!({ "changeName": "web" }), vec![]),
            (json!({ "changeName": "db" }), vec!["jobName"]),
            (
                json!({ "schedule": {"type": 3, "basic": {"time": "03:00"}} }),
                vec![],
            ),
            (
                json!({ "schedule": {"type": 3, "basic": {"time": "04:00"}} }),
                vec!["schedule"],
            ),
            (json!({ "schedule": null }), vec!["schedule"]),
            (json!({ "mode": "increment" }), vec!["mode"]),
            (json!({ "repository": {"id": 5} }), vec![]),
            (
                json!({ "repository": {"type": "nfs", "path": "/backup/6"} }),
                vec!["repository"],
            ),
            (
                json!({ "scriptPath": "/s.sh", "scriptRun": "after" }),
                vec!["scriptPath", "scriptRun"],
            ),
            (json!({ "status": "stop" }), vec!["status"]),
            (
                json!({ "mailEvent": "ops@example.com", "networkLimit": 10 }),
                vec!["mailEvent", "networkLimit"],
            ),
        ];
        for (body, want) in cases {
            let p = plan(&old, body.clone()).unwrap_or_else(|e| panic!("{body}: {e:?}"));
            assert_eq!(fields(&p), want, "{body}");
        }
    }

    #[test]
    fn schedule_records_are_kept_overwritten_inserted_or_removed() {
        let old = job();
        let same = plan(
            &old,
            json!({ "schedule": {"type": 3, "basic": {"time": "03:00"}} }),
        )
        .unwrap();
        assert_eq!(
            (same.basic, same.advanced),
            (SlotWrite::Keep, SlotWrite::Keep)
        );
        let moved = plan(
            &old,
            json!({ "schedule": {"type": 3, "basic": {"time": "05:00"}} }),
        )
        .unwrap();
        assert_eq!(
            moved.basic,
            SlotWrite::Overwrite(ScheduleId(11), daily("05:00"))
        );
        let gone = plan(&old, json!({ "schedule": null })).unwrap();
        assert_eq!(gone.basic, SlotWrite::Remove);
        // Full -> smart changes the family: new records.
        let smart = plan(
            &old,
            json!({ "schedule": {"type": 7, "basic": {"day": "sun", "time": "01:00"}, "advanced": {"day": "mon", "time": "01:00"}} }),
        )
        .unwrap();
        assert_eq!(smart.mode, Mode::Smart);
        assert!(matches!(smart.basic, SlotWrite::Insert(_)));
        assert!(matches!(smart.advanced, SlotWrite::Insert(_)));
    }

    #[test]
    fn refusals() {
        let old = job();
        let running = CurrentJob {
            running: true,
            ..job()
        };
        let conflict = |r: Result<UpdatePlan, Rejection>| matches!(r, Err(Rejection::Conflict(_)));
        assert!(conflict(plan(&running, json!({ "status": "start" }))));
        assert!(conflict(plan(&running, json!({ "changeName": "db" }))));
        assert!(conflict(plan(&running, json!({ "repository": {"id": 6} }))));
        assert!(conflict(plan(&old, json!({ "changeName": "taken" }))));
        assert!(plan(&running, json!({ "status": "stop" })).is_ok());
        assert!(matches!(
            plan(&old, json!({ "repository": {"id": 9} })),
            Err(Rejection::NotFound(_))
        ));
        assert!(matches!(
            plan(&old, json!({ "scriptPath": "/s.sh" })),
            Err(Rejection::Validation(_))
        ));
        // A smart job needs its schedule.
        let smart = CurrentJob {
            mode: Mode::Smart,
            ..job()
        };
        assert!(matches!(
            plan(&smart, json!({ "schedule": null })),
            Err(Rejection::BadRequest(m)) if m == MSG_107
        ));
        assert!(matches!(
            plan(&old, json!({ "mode": "smart", "schedule": null })),
            Err(Rejection::BadRequest(m)) if m == MSG_107
        ));
    }

    #[test]
    fn a_rename_moves_points_only_within_the_same_repository() {
        let old = job();
        let p = plan(&old, json!({ "changeName": "db" })).unwrap();
        assert_eq!(p.renamed(&old), Some(("web".into(), "db".into())));
        let p = plan(&old, json!({ "changeName": "db", "repository": {"id": 6} })).unwrap();
        assert_eq!(p.renamed(&old), None);
    }
}
