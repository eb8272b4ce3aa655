//! Counters of answered HTTP requests, kept for the life of the process and exported by
//! `GET /metrics`.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

pub type Labels = Vec<(String, String)>;

/// Counters that accumulate while the daemon runs.
#[derive(Default)]
pub struct HttpCounters {
    pub requests: Family<Labels, Counter>,
}

impl HttpCounters {
    /// Counts one answered request by its route pattern (not the raw path: IDs would make
    /// every job its own series) and status.
    pub fn observe(&self, method: &str, route: &str, status: u16) {
        self.requests
            .get_or_create(&vec![
                ("method".into(), method.into()),
                ("route".into(), route.into()),
                ("status".into(), status.to_string()),
            ])
            .inc();
    }
}
