//! What every request handler shares: the database, the checked settings and the token keys.

use crate::auth::TokenKeys;
use crate::config::Settings;
use crate::db::Db;
use crate::domain::registration::Host;
use crate::host::{self, Partition};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct AppState {
    pub db: Db,
    pub settings: Settings,
    pub keys: TokenKeys,
    pub runner: crate::runner::Runner,
    pub http: crate::http_counters::HttpCounters,
    pub logins: crate::login_guard::LoginGuard,
    pub links: crate::download_links::Links,
    partitions: Mutex<Option<(Instant, Vec<Partition>)>>,
}

/// Mounts change rarely; re-reading them for every request of a burst of registrations would
/// cost more than the registration itself.
const PARTITION_TTL: Duration = Duration::from_secs(2);

impl AppState {
    pub fn new(db: Db, settings: Settings, keys: TokenKeys) -> Self {
        let runner = crate::runner::Runner::new(db.clone(), settings.clone());
        AppState {
            db,
            settings,
            keys,
            runner,
            http: Default::default(),
            logins: Default::default(),
            links: Default::default(),
            partitions: Mutex::new(None),
        }
    }

    /// Current partitions of this host (at most two seconds old). Runs on the blocking pool:
    /// `statvfs` on a stale network mount can hang.
    pub async fn partitions(&self) -> Vec<Partition> {
        if let Some((at, parts)) = &*self.partitions.lock().unwrap_or_else(|e| e.into_inner()) {
            if at.elapsed() < PARTITION_TTL {
                return parts.clone();
            }
        }
        let state_dir = self.settings.state_dir.clone();
        let extra = self.settings.extra_partitions.clone();
        let parts = tokio::task::spawn_blocking(move || host::partitions(&state_dir, &extra))
            .await
            .unwrap_or_default();
        *self.partitions.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((Instant::now(), parts.clone()));
        parts
    }

    /// This appliance as the registration planner sees it.
    pub async fn registration_host(&self) -> Host {
        Host {
            center_id: 1,
            center_name: self.settings.center_name.clone(),
            server_id: 1,
            server_name: self.settings.server_name.clone(),
            partitions: self
                .partitions()
                .await
                .into_iter()
                .map(|p| p.mount_point)
                .collect(),
        }
    }
}
