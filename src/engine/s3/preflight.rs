//! Proves a store before a repository is kept on it, one named step at a time, so a failure
//! says what to fix: the endpoint does not answer (connect), the keys are refused
//! (authenticate), the bucket is missing (bucket), objects cannot be written, read back or
//! removed, or the store ignores conditional writes. That last one matters most: points are
//! published with `If-None-Match: *` and the job lock is taken over with `If-Match`, so a store
//! that silently ignored the conditions would let two writers both win. A repository with
//! Object Lock also proves the store keeps retention: a version under it cannot be deleted.

use super::store::{Put, S3Error, S3Store};
use super::target::ObjectLock;
use std::fmt;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Where the probes are written, at the repository's top.
const PROBES: &str = ".zdm-preflight";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Connect,
    Authenticate,
    Bucket,
    Write,
    ConditionalWrite,
    Read,
    Delete,
    ObjectLock,
}

impl Step {
    /// The steps [`preflight`] runs, in order.
    pub fn all(object_lock: bool) -> Vec<Step> {
        use Step::*;
        let mut steps = vec![
            Connect,
            Authenticate,
            Bucket,
            Write,
            ConditionalWrite,
            Read,
            Delete,
        ];
        if object_lock {
            steps.push(ObjectLock);
        }
        steps
    }

    /// The step's name in messages and in the API's `detail.step`.
    pub fn name(self) -> &'static str {
        match self {
            Step::Connect => "connect",
            Step::Authenticate => "authenticate",
            Step::Bucket => "bucket",
            Step::Write => "write",
            Step::ConditionalWrite => "conditional write",
            Step::Read => "read",
            Step::Delete => "delete",
            Step::ObjectLock => "object lock",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("S3 preflight failed at step \"{step}\": {why}")]
pub struct PreflightError {
    pub step: Step,
    pub why: String,
}

fn fail(step: Step) -> impl Fn(String) -> PreflightError {
    move |why| PreflightError { step, why }
}

/// Only what reading needs: the endpoint answers, and a signed listing shows the keys are
/// accepted and the bucket exists. For opening a repository to list or read its points.
pub fn reachable(store: &S3Store) -> Result<(), PreflightError> {
    connect(&store.endpoint.socket_addr()).map_err(fail(Step::Connect))?;
    // A listing is the first signed request: it tells refused keys from a missing bucket.
    store.list("").map_err(|e| match e {
        S3Error::Denied(why) => fail(Step::Authenticate)(why),
        S3Error::NoBucket(why) => fail(Step::Bucket)(format!(
            "{why} (create bucket {} first)",
            store.location.bucket
        )),
        S3Error::Other(why) => fail(Step::Bucket)(why),
    })?;
    Ok(())
}

/// Runs every step against `store`, leaving no object behind when it succeeds (the probes are
/// removed, and on a versioned bucket their versions too, but for a retention probe's until
/// its seconds are over). With `lock`, the store must also keep Object Lock retention.
pub fn preflight(store: &S3Store, lock: Option<ObjectLock>) -> Result<(), PreflightError> {
    reachable(store)?;
    let probe = format!("{PROBES}/{}", uuid::Uuid::new_v4());
    let first = b"zdm-backupd preflight 1".to_vec();
    let etag = store
        .put(&probe, first.clone(), Put::Overwrite)
        .map_err(|e| fail(Step::Write)(e.to_string()))?
        .ok_or_else(|| fail(Step::Write)("an unconditional write was refused".into()))?;
    let conditional =
        conditional_writes(store, &probe, &etag).map_err(fail(Step::ConditionalWrite));
    let read = conditional.and_then(|()| {
        let got: Result<(), String> = match store.get(&probe) {
            Ok(Some(o)) if o.data == b"zdm-backupd preflight 3" => Ok(()),
            Ok(Some(_)) => Err("the object read back is not what was written".into()),
            Ok(None) => Err("the object just written is not there".into()),
            Err(e) => Err(e.to_string()),
        };
        got.map_err(fail(Step::Read))
    });
    // The probe goes even when a step failed, and its removal is checked.
    let removed = store
        .delete(&probe)
        .map_err(|e| e.to_string())
        .and_then(|()| match store.get(&probe) {
            Ok(None) => Ok(()),
            Ok(Some(_)) => Err("the object is still there after it was deleted".into()),
            Err(e) => Err(e.to_string()),
        })
        .map_err(fail(Step::Delete));
    read.and(removed)?;
    if lock.is_some() {
        retention(store, &format!("{probe}-lock")).map_err(fail(Step::ObjectLock))?;
    }
    // On a versioned bucket the deletes above only hid the probes: their versions go too, and
    // those of earlier preflights (a retention probe once its seconds are over). Best effort:
    // what is left is a few bytes, tried again next time.
    let _ = store.reclaim_versions(PROBES, |_| true);
    Ok(())
}

/// Writes a probe under a few seconds of retention and checks that deleting that version is
/// refused (a delete that succeeds only proves something if the retention was still running).
/// The probe is then hidden by a plain delete without waiting for its retention to end: its
/// version stays until a later preflight finds the retention over and deletes it.
fn retention(store: &S3Store, probe: &str) -> Result<(), String> {
    let until = chrono::Utc::now() + chrono::Duration::seconds(5);
    let written = store
        .put_retained(
            probe,
            b"zdm-backupd preflight 4".to_vec(),
            Put::Overwrite,
            until,
        )
        .map_err(|e| {
            format!(
                "{e}: the bucket must have Object Lock enabled (most stores allow that only \
                 when the bucket is created)"
            )
        })?
        .ok_or("an unconditional write was refused")?;
    let version = written.version.ok_or(
        "the store gave the object no version id: the bucket is not versioned, so it has no \
         Object Lock",
    )?;
    let deleted = store
        .delete_version(probe, &version)
        .map_err(|e| e.to_string())?;
    if deleted {
        // The written date has whole seconds: at least four of the five were left, unless the
        // store took that long, and then the delete proves nothing.
        let in_time = chrono::Utc::now() < until - chrono::Duration::seconds(1);
        return Err(match in_time {
            true => "the store deleted an object version under COMPLIANCE retention: it does \
                     not enforce Object Lock, so points kept on it could be deleted"
                .into(),
            false => "the store took over four seconds to answer the probe: try again".into(),
        });
    }
    store.delete(probe).map_err(|e| e.to_string())
}

fn connect(addr: &str) -> Result<(), String> {
    let addrs: Vec<_> = addr
        .to_socket_addrs()
        .map_err(|e| format!("{addr}: {e}"))?
        .collect();
    let mut last = format!("{addr}: no address");
    for a in addrs {
        match TcpStream::connect_timeout(&a, Duration::from_secs(10)) {
            Ok(_) => return Ok(()),
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    Err(last)
}

/// `If-None-Match: *` on an existing object and `If-Match` with a wrong ETag must both be
/// refused, and `If-Match` with the right one accepted.
fn conditional_writes(store: &S3Store, probe: &str, etag: &str) -> Result<(), String> {
    let put = |data: &[u8], mode: Put<'_>| {
        store
            .put(probe, data.to_vec(), mode)
            .map_err(|e| e.to_string())
    };
    if put(b"zdm-backupd preflight 2", Put::Create)?.is_some() {
        return Err(
            "the store accepted If-None-Match: * over an existing object: it ignores conditional \
             writes, so locks and publication would not be safe on it"
                .into(),
        );
    }
    if put(
        b"zdm-backupd preflight 2",
        Put::IfMatch("\"0000-not-the-etag\""),
    )?
    .is_some()
    {
        return Err(
            "the store accepted If-Match with a wrong ETag: it ignores conditional writes, so \
             locks and publication would not be safe on it"
                .into(),
        );
    }
    if put(b"zdm-backupd preflight 3", Put::IfMatch(etag))?.is_none() {
        return Err("the store refused If-Match with the object's own ETag".into());
    }
    Ok(())
}
