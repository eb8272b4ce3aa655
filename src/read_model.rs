//! The read side of jobs and repositories, shared by the API's job and repository views, the
//! monitoring endpoints and `/metrics`: one snapshot of the database, typed, plus where each
//! job's restore points are and how many there are. Nothing here reaches a share: for shares the
//! counts and free space come from the inventory the runs keep (`db::inventory`), for local
//! directories they are read live (cheap and always current).

use crate::db::inventory::{Inventory, RecordedSpace};
use crate::db::jobs::JobRow;
use crate::db::recoveries::RestoreTest;
use crate::db::repositories::RepoRow;
use crate::db::runs::RunRow;
use crate::db::schedules::ScheduleRow;
use crate::db::{self, DbError};
use crate::domain::ids::{JobId, RepositoryId, ScheduleId};
use crate::domain::schedule::ScheduleData;
use rusqlite::Connection;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Everything the job views need, read in one transaction.
pub struct Snapshot {
    pub jobs: Vec<JobRow>,
    pub repos: HashMap<RepositoryId, RepoRow>,
    pub schedules: HashMap<ScheduleId, ScheduleRow>,
    /// The newest finished run of each job.
    pub last: HashMap<JobId, RunRow>,
    pub inventory: HashMap<JobId, Inventory>,
    pub spaces: HashMap<RepositoryId, RecordedSpace>,
    /// The newest restore proof of each backup job (by name).
    pub proofs: HashMap<String, RestoreTest>,
    /// The schedule of a verifying recovery job (a drill) of each backup job it restores.
    pub drills: HashMap<String, ScheduleData>,
}

/// Whether a backup job is proven restorable (R10): `ok`, `failed`, `stale` (the drill should
/// have run again since), or `never`.
pub fn proof_state(
    snap: &Snapshot,
    job: &str,
    now: chrono::DateTime<chrono::Utc>,
    zone: &crate::clock::Zone,
) -> &'static str {
    let Some(t) = snap.proofs.get(job) else {
        return "never";
    };
    if !t.ok {
        return "failed";
    }
    let proven = chrono::DateTime::from_timestamp(t.at, 0).unwrap_or(now);
    // A drill that should have fired since, with an hour for it to run, makes the proof stale.
    let due = snap
        .drills
        .get(job)
        .and_then(|d| crate::domain::nextfire::next_fire(d, proven, zone));
    match due {
        Some(d) if d + chrono::Duration::hours(1) < now => "stale",
        _ => "ok",
    }
}

pub fn snapshot(c: &Connection) -> Result<Snapshot, DbError> {
    Ok(Snapshot {
        jobs: db::jobs::list(c)?,
        repos: db::repositories::list(c)?
            .into_iter()
            .map(|r| (r.id, r))
            .collect(),
        schedules: db::schedules::list(c)?
            .into_iter()
            .map(|s| (s.id, s))
            .collect(),
        last: db::runs::last_results(c)?
            .into_iter()
            .map(|r| (r.job_id, r))
            .collect(),
        inventory: db::inventory::all_points(c)?,
        spaces: db::inventory::all_spaces(c)?,
        proofs: db::recoveries::last_tests(c)?,
        drills: drills(c)?,
    })
}

fn drills(c: &Connection) -> Result<HashMap<String, ScheduleData>, DbError> {
    let mut out = HashMap::new();
    for r in db::recoveries::list(c)? {
        let (Some(id), true, false) = (r.schedule_id, r.spec.verify, r.stopped) else {
            continue;
        };
        let Some(d) = db::schedules::get(c, id)?.and_then(|s| s.data) else {
            continue;
        };
        for p in &r.spec.parts {
            out.entry(p.backup_job.clone()).or_insert_with(|| d.clone());
        }
    }
    Ok(out)
}

/// Where a repository can be reached on this host now: its path when that is a local
/// directory, else its registered local mount path.
pub fn local_dir(r: &RepoRow) -> Option<PathBuf> {
    [Some(&r.path), r.local_path.as_ref()]
        .into_iter()
        .flatten()
        .map(PathBuf::from)
        .find(|p| p.is_absolute() && p.is_dir())
}

/// Size and free space of a repository, and whether they were measured now or by the last run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepoSpace {
    pub size: u64,
    pub free: u64,
    pub used: u64,
    /// `None`: measured now (a local directory); `Some(t)`: by the run at Unix time `t`.
    pub recorded_at: Option<i64>,
}

/// A local directory is measured (statvfs); a share reports what its last run saw.
pub fn repo_space(r: &RepoRow, recorded: Option<&RecordedSpace>) -> Option<RepoSpace> {
    if let Some(s) = local_dir(r).and_then(|d| crate::host::space(&d)) {
        return Some(RepoSpace {
            size: s.size,
            free: s.free,
            used: s.used,
            recorded_at: None,
        });
    }
    recorded.map(|s| RepoSpace {
        size: s.size,
        free: s.free,
        used: s.size.saturating_sub(s.free),
        recorded_at: Some(s.checked_at),
    })
}

/// The job's directory in its repository, when the repository is a local directory.
pub fn job_dir(server: &str, repo: Option<&RepoRow>, job: &str) -> Option<PathBuf> {
    let base = local_dir(repo?)?;
    Some(base.join(server).join(job))
}

/// Restore points of a job: counted in a local repository, from the inventory for a share
/// (`None` when no run has looked yet).
pub fn point_count(snap: &Snapshot, server: &str, job: &JobRow) -> Option<u64> {
    match job_dir(server, snap.repos.get(&job.repository_id), &job.name) {
        Some(dir) => Some(count_in(&dir)),
        None => snap.inventory.get(&job.id).map(|i| i.points),
    }
}

fn count_in(dir: &Path) -> u64 {
    crate::engine::repo::point_count_in(dir) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::schedule::{Role, ScheduleKind};

    fn snap() -> Snapshot {
        Snapshot {
            jobs: Vec::new(),
            repos: HashMap::new(),
            schedules: HashMap::new(),
            last: HashMap::new(),
            inventory: HashMap::new(),
            spaces: HashMap::new(),
            proofs: HashMap::new(),
            drills: HashMap::new(),
        }
    }

    fn daily(time: &str) -> ScheduleData {
        ScheduleData::at(ScheduleKind::Daily, Role::Basic, time)
    }

    #[test]
    fn a_proof_is_stale_once_its_drill_should_have_run_again() {
        let zone = crate::clock::Zone::parse("UTC").unwrap();
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-29T12:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let proof = |hours_ago: i64, ok: bool| RestoreTest {
            ok,
            at: (now - chrono::Duration::hours(hours_ago)).timestamp(),
            recovery_job: "drill".into(),
            point: None,
        };
        let mut s = snap();
        assert_eq!(proof_state(&s, "web", now, &zone), "never");
        s.proofs.insert("web".into(), proof(30, true));
        // Without a drill there is no interval to be late for.
        assert_eq!(proof_state(&s, "web", now, &zone), "ok");
        // A daily drill at 05:00: a proof from 30 hours ago missed this morning's slot.
        s.drills.insert("web".into(), daily("05:00"));
        assert_eq!(proof_state(&s, "web", now, &zone), "stale");
        // This morning's proof is current, also in the hour after the next slot.
        s.proofs.insert("web".into(), proof(7, true));
        assert_eq!(proof_state(&s, "web", now, &zone), "ok");
        let after_slot = now + chrono::Duration::hours(17) + chrono::Duration::minutes(30);
        assert_eq!(proof_state(&s, "web", after_slot, &zone), "ok");
        let late = now + chrono::Duration::hours(18) + chrono::Duration::minutes(1);
        assert_eq!(proof_state(&s, "web", late, &zone), "stale");
        s.proofs.insert("web".into(), proof(1, false));
        assert_eq!(proof_state(&s, "web", now, &zone), "failed");
    }
}
