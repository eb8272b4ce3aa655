//! The job lock on S3, where there is no `flock` and no exclusive create that a crash could not
//! leave behind: a lease object (`<job>/LOCK`, JSON) that is never deleted. It is taken with
//! `If-None-Match: *` when absent, or with `If-Match` on the ETag read when it is free or stale,
//! so of any number of contenders exactly one wins. The holder renews it with `If-Match` on its
//! own ETag; a refused renewal means another run took the lease over, and the holder must stop
//! without publishing. Staleness is judged by the store's clock alone (the `Last-Modified` of a
//! probe written now against the lease's), so hosts with wrong clocks cannot steal or keep it.

use super::store::{Put, S3Error, S3Store};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// The lease object's name in its job directory.
pub const LEASE: &str = "LOCK";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
struct Body {
    /// `held` or `free`.
    state: String,
    host: String,
    pid: u32,
    run_id: String,
    lease_seconds: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Another run holds a live lease.
    #[error("the job is locked by pid {pid} on {host} (run {run_id})")]
    Busy {
        host: String,
        pid: u32,
        run_id: String,
    },
    /// The lease was taken over (it went stale) or changed under its holder.
    #[error("the job lock was lost: another run took it over")]
    Lost,
    #[error("the job lock: {0}")]
    Store(#[from] S3Error),
}

/// A lease held by this run.
pub struct Lease {
    store: Arc<S3Store>,
    key: String,
    etag: String,
    body: Body,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("key", &self.key)
            .field("run_id", &self.body.run_id)
            .finish_non_exhaustive()
    }
}

impl Lease {
    /// Takes the lock of the job directory `job` (relative to the repository prefix) for
    /// `lease` at a time, or says who holds it.
    pub fn acquire(
        store: &Arc<S3Store>,
        job: &str,
        lease: Duration,
        host: &str,
    ) -> Result<Lease, LeaseError> {
        let key = format!("{}/{LEASE}", job.trim_end_matches('/'));
        let body = Body {
            state: "held".into(),
            host: host.into(),
            pid: std::process::id(),
            run_id: uuid::Uuid::new_v4().to_string(),
            lease_seconds: lease.as_secs().max(1),
        };
        let json = serde_json::to_vec(&body).expect("serializable");
        if let Some(etag) = store.put(&key, json.clone(), Put::Create)? {
            return Lease::claimed(store, key, body, Some(etag));
        }
        let Some(current) = store.get(&key)? else {
            // Never deleted by us; removed by hand between the two requests: one more try.
            let etag = store.put(&key, json, Put::Create)?;
            return Lease::claimed(store, key, body, etag);
        };
        let theirs: Option<Body> = serde_json::from_slice(&current.data).ok();
        let takeable = match &theirs {
            Some(b) if b.state == "held" => {
                let now = server_now(store, job, &body.run_id)?;
                (now - current.modified).num_seconds() > b.lease_seconds as i64
            }
            // Free, or not a lease at all (damaged): taken over, by compare-and-swap as well.
            _ => true,
        };
        if !takeable {
            let b = theirs.expect("held");
            return Err(LeaseError::Busy {
                host: b.host,
                pid: b.pid,
                run_id: b.run_id,
            });
        }
        let Some(etag) = current.etag else {
            return Err(S3Error::Other("the store gave the lock no ETag".into()).into());
        };
        let etag = store.put(&key, json, Put::IfMatch(&etag))?;
        Lease::claimed(store, key, body, etag)
    }

    /// The lease when this run's write of it went through (`etag`), else who holds it.
    fn claimed(
        store: &Arc<S3Store>,
        key: String,
        body: Body,
        etag: Option<String>,
    ) -> Result<Lease, LeaseError> {
        match etag {
            Some(etag) => Ok(Lease {
                store: store.clone(),
                key,
                etag,
                body,
            }),
            None => Err(busy(store, &key)?),
        }
    }

    /// Extends the lease from now; `Lost` when another run has taken it over.
    pub fn renew(&mut self) -> Result<(), LeaseError> {
        let json = serde_json::to_vec(&self.body).expect("serializable");
        match self.store.put(&self.key, json, Put::IfMatch(&self.etag))? {
            Some(etag) => {
                self.etag = etag;
                Ok(())
            }
            None => Err(LeaseError::Lost),
        }
    }

    /// Marks the lease free (it is never deleted: that would need a conditional delete, which
    /// not every store has); `Lost` when it was no longer ours.
    pub fn release(self) -> Result<(), LeaseError> {
        let body = Body {
            state: "free".into(),
            ..self.body.clone()
        };
        let json = serde_json::to_vec(&body).expect("serializable");
        match self.store.put(&self.key, json, Put::IfMatch(&self.etag))? {
            Some(_) => Ok(()),
            None => Err(LeaseError::Lost),
        }
    }

    pub fn run_id(&self) -> &str {
        &self.body.run_id
    }
}

/// Who holds `key` now, as a `Busy` error (after losing a race for it).
fn busy(store: &S3Store, key: &str) -> Result<LeaseError, S3Error> {
    let holder = store
        .get(key)?
        .and_then(|o| serde_json::from_slice::<Body>(&o.data).ok());
    Ok(match holder {
        Some(b) => LeaseError::Busy {
            host: b.host,
            pid: b.pid,
            run_id: b.run_id,
        },
        None => LeaseError::Busy {
            host: "?".into(),
            pid: 0,
            run_id: "?".into(),
        },
    })
}

/// The store's clock: the `Last-Modified` of a probe written now (and removed).
fn server_now(
    store: &S3Store,
    job: &str,
    run_id: &str,
) -> Result<chrono::DateTime<chrono::Utc>, S3Error> {
    let probe = format!("{}/.clock/{run_id}", job.trim_end_matches('/'));
    store.put(&probe, Vec::new(), Put::Overwrite)?;
    let now = store.get(&probe)?.map(|o| o.modified);
    store.delete(&probe)?;
    now.ok_or_else(|| S3Error::Other("the clock probe vanished".into()))
}
