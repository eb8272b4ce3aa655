//! What every request handler shares: the database, the checked settings and the token keys.

use crate::auth::TokenKeys;
use crate::config::Settings;
use crate::db::Db;
use crate::domain::registration::Host;
use crate::host::{self, Partition};

pub struct AppState {
    pub db: Db,
    pub settings: Settings,
    pub keys: TokenKeys,
}

impl AppState {
    /// Current partitions of this host. Runs on the blocking pool: `statvfs` on a stale network
    /// mount can hang.
    pub async fn partitions(&self) -> Vec<Partition> {
        let state_dir = self.settings.state_dir.clone();
        let extra = self.settings.extra_partitions.clone();
        tokio::task::spawn_blocking(move || host::partitions(&state_dir, &extra))
            .await
            .unwrap_or_default()
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
