//! In-memory stand-ins for the domain's ports (`Catalog`, `HostProbe`), shared by the table
//! tests of registration and update planning.

use super::ids::{RepositoryId, ScheduleId, UserId};
use super::invalid::Invalid;
use super::job::{HostProbe, Ref, RepoKind};
use super::registration::{Catalog, StoredRepo};
use super::schedule::ScheduleData;
use std::collections::{HashMap, HashSet};

/// Every script is acceptable; `local_dirs` says whether paths are local directories.
pub struct Probe {
    pub local_dirs: bool,
}

impl HostProbe for Probe {
    fn is_local_dir(&self, _: &str) -> bool {
        self.local_dirs
    }
    fn check_script(&self, _: &str) -> Result<(), Invalid> {
        Ok(())
    }
}

/// Stored jobs (by name), schedule records and repositories; the admin is user 1.
#[derive(Default)]
pub struct MemCatalog {
    pub names: HashSet<String>,
    pub schedules: HashMap<ScheduleId, ScheduleData>,
    pub repos: Vec<StoredRepo>,
}

impl MemCatalog {
    /// With NFS repositories of these IDs, at `/backup/<id>`.
    pub fn with_repos(ids: &[i64]) -> MemCatalog {
        MemCatalog {
            repos: ids
                .iter()
                .map(|&id| StoredRepo {
                    id: RepositoryId(id),
                    kind: RepoKind::Nfs,
                    path: format!("/backup/{id}"),
                })
                .collect(),
            ..Default::default()
        }
    }
}

impl Catalog for MemCatalog {
    fn user_id(&self, r: &Ref) -> Option<UserId> {
        r.matches(1, "admin@localhost").then_some(UserId(1))
    }
    fn repository(&self, id: RepositoryId) -> Option<StoredRepo> {
        self.repos.iter().find(|r| r.id == id).cloned()
    }
    fn repository_by_path(&self, kind: RepoKind, path: &str) -> Option<RepositoryId> {
        self.repos
            .iter()
            .find(|r| r.kind == kind && r.path == path)
            .map(|r| r.id)
    }
    fn schedule(&self, id: ScheduleId) -> Option<ScheduleData> {
        self.schedules.get(&id).cloned()
    }
    fn job_name_taken(&self, name: &str) -> bool {
        self.names.contains(name)
    }
    fn job_names_with_prefix(&self, prefix: &str) -> Vec<String> {
        self.names
            .iter()
            .filter(|n| n.starts_with(prefix))
            .cloned()
            .collect()
    }
}
