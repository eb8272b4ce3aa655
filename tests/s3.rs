//! S3 repositories, first part (issue 15): the client and the preflight, against a real
//! SeaweedFS started on loopback ports, and against a store that ignores conditional writes.

mod common;

use common::seaweed::{Seaweed, ACCESS_KEY, SECRET_KEY};
use std::io::Write;
use std::sync::{Arc, Barrier};
use std::time::Duration;
use zdm_backupd::engine::s3::{
    preflight, Lease, LeaseError, ObjectLock, Put, S3Endpoint, S3Keys, S3Location, S3Store, Step,
};

fn store(endpoint: &str, location: &str, secret: &str) -> Arc<S3Store> {
    S3Store::new(
        S3Location::parse(location).unwrap(),
        S3Endpoint::new(endpoint, "us-east-1", true).unwrap(),
        &S3Keys::new(ACCESS_KEY, secret).unwrap(),
    )
    .unwrap()
}

#[test]
fn preflight_passes_on_seaweedfs_and_names_the_step_that_fails() {
    let Some(w) = Seaweed::start() else { return };
    w.create_bucket("zdm-repo");
    let good = store(&w.endpoint(), "s3://zdm-repo/site-a", SECRET_KEY);
    preflight(&good, None).unwrap_or_else(|e| panic!("{e}: {}", w.log()));
    // It leaves no object behind.
    assert_eq!(good.list(".zdm-preflight").unwrap(), Vec::<String>::new());

    let e = preflight(
        &store(&w.endpoint(), "s3://zdm-repo/site-a", "wrong-secret"),
        None,
    )
    .unwrap_err();
    assert_eq!(e.step, Step::Authenticate, "{e}");
    let e = preflight(
        &store(&w.endpoint(), "s3://no-such-bucket/x", SECRET_KEY),
        None,
    )
    .unwrap_err();
    assert_eq!(e.step, Step::Bucket, "{e}");
    assert!(e.to_string().contains("no-such-bucket"), "{e}");
    let closed = common::run::free_port();
    let e = preflight(
        &store(
            &format!("http://127.0.0.1:{closed}"),
            "s3://zdm-repo",
            SECRET_KEY,
        ),
        None,
    )
    .unwrap_err();
    assert_eq!(e.step, Step::Connect, "{e}");
}

#[test]
fn object_lock_preflight_proves_retention_and_leaves_nothing() {
    let Some(w) = Seaweed::start() else { return };
    w.create_bucket("zdm-plain");
    w.create_locked_bucket("zdm-worm");
    let lock = Some(ObjectLock { days: 1 });
    // A bucket without Object Lock: refused at that step, with what to do.
    let plain = store(&w.endpoint(), "s3://zdm-plain/site", SECRET_KEY);
    let e = preflight(&plain, lock).unwrap_err();
    assert_eq!(e.step, Step::ObjectLock, "{e}");
    assert!(e.why.contains("Object Lock enabled"), "{e}");
    assert_eq!(plain.list_all("").unwrap(), Vec::<String>::new());
    // A locked bucket passes at once: a version under retention could not be deleted, and the
    // probes are hidden, their versions deleted but the retention probe's, still retained.
    let worm = store(&w.endpoint(), "s3://zdm-worm/site", SECRET_KEY);
    let started = std::time::Instant::now();
    preflight(&worm, lock).unwrap_or_else(|e| panic!("{e}: {}", w.log()));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(worm.list_all("").unwrap(), Vec::<String>::new());
    let probe_versions = || {
        let versions = worm.versions(".zdm-preflight").unwrap();
        let kept = versions.iter().filter(|v| !v.marker);
        kept.map(|v| v.name.clone()).collect::<Vec<_>>()
    };
    let first = probe_versions();
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(first[0].ends_with("-lock"), "{first:?}");
    // The next preflight after those seconds deletes it, and leaves only its own.
    std::thread::sleep(Duration::from_secs(6));
    preflight(&worm, lock).unwrap_or_else(|e| panic!("{e}: {}", w.log()));
    let second = probe_versions();
    assert_eq!(second.len(), 1, "{second:?}");
    assert!(
        second[0].ends_with("-lock") && second != first,
        "{second:?}"
    );
    assert_eq!(worm.versions(".zdm-preflight").unwrap().len(), 2);
    // Written under retention in the request itself: the version cannot be deleted.
    let w1 = worm
        .put_retained(
            "kept",
            b"kept".to_vec(),
            Put::Create,
            chrono::Utc::now() + chrono::Duration::hours(1),
        )
        .unwrap()
        .unwrap();
    let version = w1.version.unwrap();
    assert!(!worm.delete_version("kept", &version).unwrap());
    // Conditions hold for such writes too.
    let again = worm.put_retained(
        "kept",
        b"other".to_vec(),
        Put::Create,
        chrono::Utc::now() + chrono::Duration::hours(1),
    );
    assert_eq!(again.unwrap(), None);
    assert_eq!(worm.get("kept").unwrap().unwrap().data, b"kept");
}

#[test]
fn earlier_versions_are_reclaimed_only_once_no_retention_holds_them() {
    use zdm_backupd::engine::s3::S3Target;
    use zdm_backupd::engine::target::Target;
    let Some(w) = Seaweed::start() else { return };
    w.create_locked_bucket("zdm-reclaim");
    let s = store(&w.endpoint(), "s3://zdm-reclaim/site", SECRET_KEY);
    let soon = || chrono::Utc::now() + chrono::Duration::seconds(2);
    let hour = || chrono::Utc::now() + chrono::Duration::hours(1);
    let retained = |name: &str, data: &[u8], until, mode| {
        s.put_retained(name, data.to_vec(), mode, until)
            .unwrap()
            .unwrap();
    };
    // A deleted point's volume whose retention ends in seconds, one still retained, a merged
    // manifest's earlier version, the lease's earlier versions, and a deleted object of
    // another job, which is not this job's to reclaim.
    retained("job/.data/r1/a", b"aaaa", soon(), Put::Create);
    s.delete("job/.data/r1/a").unwrap();
    retained("job/.data/r2/b", b"bb", hour(), Put::Create);
    s.delete("job/.data/r2/b").unwrap();
    retained("job/p/MANIFEST.json", b"first", soon(), Put::Create);
    retained("job/p/MANIFEST.json", b"second", hour(), Put::Overwrite);
    for holder in ["one", "two", "three"] {
        s.put("job/LOCK", holder.as_bytes().to_vec(), Put::Overwrite)
            .unwrap();
    }
    retained("other/x", b"x", soon(), Put::Create);
    s.delete("other/x").unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let count = |dir: &str| s.versions(dir).unwrap().len();
    assert_eq!((count("job"), count("other")), (9, 2));

    // A run with 1 day of retention reclaims what holds nothing (the lease's earlier versions)
    // and leaves what was written less than a day ago, even if the store would let it go.
    let t = S3Target::new(s.clone(), Duration::from_secs(600))
        .with_object_lock(Some(ObjectLock { days: 1 }));
    let note = t.objects().unwrap().reclaim(std::path::Path::new("job"));
    let note = note.unwrap().unwrap();
    assert!(
        note.starts_with("deleted 2 earlier object versions"),
        "{note}"
    );
    assert_eq!(count("job"), 7);
    // Without Object Lock nothing is reclaimed: earlier versions may be the administrator's.
    let plain = S3Target::new(s.clone(), Duration::from_secs(600));
    let note = plain
        .objects()
        .unwrap()
        .reclaim(std::path::Path::new("job"));
    assert_eq!(note.unwrap(), None);

    // Everything due: the store deletes what retention no longer holds, and the delete markers
    // left hiding nothing; it refuses the version still retained, whose marker stays.
    let done = s.reclaim_versions("job", |_| true).unwrap();
    assert_eq!(
        (done.deleted, done.retained, done.bytes),
        (3, 1, 4 + 5),
        "{done:?}"
    );
    let mut left: Vec<_> = s
        .versions("job")
        .unwrap()
        .into_iter()
        .map(|v| (v.name, v.latest, v.marker))
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            (".data/r2/b".to_string(), false, false),
            (".data/r2/b".to_string(), true, true),
            ("LOCK".to_string(), true, false),
            ("p/MANIFEST.json".to_string(), true, false),
        ]
        .into_iter()
        .map(|(n, l, m)| (format!("job/{n}"), l, m))
        .collect::<Vec<_>>()
    );
    assert_eq!(
        s.get("job/p/MANIFEST.json").unwrap().unwrap().data,
        b"second"
    );
    assert_eq!(s.get("job/LOCK").unwrap().unwrap().data, b"three");
    assert_eq!(count("other"), 2);
    let again = s.reclaim_versions("job", |_| true).unwrap();
    assert_eq!((again.deleted, again.retained), (0, 1));
}

#[test]
fn conditional_writes_race_to_exactly_one_winner() {
    let Some(w) = Seaweed::start() else { return };
    w.create_bucket("zdm-race");
    let endpoint = w.endpoint();
    // 16 writers create the same key (publication of one point id): one wins.
    let race = |mode: &'static str, etag: Option<String>| -> usize {
        let barrier = Arc::new(Barrier::new(16));
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let (barrier, endpoint, etag) = (barrier.clone(), endpoint.clone(), etag.clone());
                std::thread::spawn(move || {
                    let s = store(&endpoint, "s3://zdm-race/srv/job", SECRET_KEY);
                    barrier.wait();
                    let put = match &etag {
                        None => Put::Create,
                        Some(t) => Put::IfMatch(t),
                    };
                    let won = s
                        .put(mode, format!("writer {i}").into_bytes(), put)
                        .unwrap();
                    won.is_some()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|won| *won)
            .count()
    };
    assert_eq!(race("MANIFEST.json", None), 1);
    // 16 writers swap the same version (a lease taken over): one wins.
    let s = store(&endpoint, "s3://zdm-race/srv/job", SECRET_KEY);
    let etag = s
        .put("LOCK", b"free".to_vec(), Put::Overwrite)
        .unwrap()
        .unwrap();
    assert_eq!(race("LOCK", Some(etag)), 1);
    let held = s.get("LOCK").unwrap().unwrap().data;
    assert!(held.starts_with(b"writer "), "{held:?}");
    assert_eq!(s.get("absent").unwrap(), None);
}

#[test]
fn a_store_that_ignores_conditional_writes_is_refused() {
    let port = common::seaweed::careless_store();
    let s = store(
        &format!("http://127.0.0.1:{port}"),
        "s3://careless/repo",
        SECRET_KEY,
    );
    let e = preflight(&s, None).unwrap_err();
    assert_eq!(e.step, Step::ConditionalWrite, "{e}");
    assert!(e.to_string().contains("ignores conditional writes"), "{e}");
}

#[test]
fn the_job_lease_has_one_holder_goes_stale_by_the_stores_clock_and_is_lost_when_taken_over() {
    let Some(w) = Seaweed::start() else { return };
    w.create_bucket("zdm-lease");
    let endpoint = w.endpoint();
    // 16 runs start at once: one holds the lock, 15 are told who does.
    let (start, tried) = (Arc::new(Barrier::new(16)), Arc::new(Barrier::new(16)));
    let handles: Vec<_> = (0..16)
        .map(|i| {
            let (start, tried, endpoint) = (start.clone(), tried.clone(), endpoint.clone());
            std::thread::spawn(move || {
                let s = store(&endpoint, "s3://zdm-lease/repo", SECRET_KEY);
                start.wait();
                let got = Lease::acquire(&s, "srv/job", Duration::from_secs(600), &format!("h{i}"));
                // Held until everyone has tried.
                tried.wait();
                match got {
                    Ok(l) => {
                        let id = l.run_id().to_string();
                        l.release().unwrap();
                        Some(id)
                    }
                    Err(LeaseError::Busy { host, .. }) => {
                        assert!(host.starts_with('h'), "{host}");
                        None
                    }
                    Err(e) => panic!("{e}"),
                }
            })
        })
        .collect();
    let winners: Vec<String> = handles
        .into_iter()
        .filter_map(|h| h.join().unwrap())
        .collect();
    assert_eq!(winners.len(), 1, "{winners:?}");

    let s = store(&endpoint, "s3://zdm-lease/repo", SECRET_KEY);
    // Released: the next run takes it.
    let mut a = Lease::acquire(&s, "srv/job", Duration::from_secs(2), "a").unwrap();
    match Lease::acquire(&s, "srv/job", Duration::from_secs(600), "b") {
        Err(LeaseError::Busy { host, .. }) => assert_eq!(host, "a"),
        other => panic!("{other:?}"),
    }
    // Renewed, it stays live past its first term.
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(1100));
        a.renew().unwrap();
    }
    assert!(matches!(
        Lease::acquire(&s, "srv/job", Duration::from_secs(600), "b"),
        Err(LeaseError::Busy { .. })
    ));
    // Not renewed for longer than its term (by the store's clock): taken over, and the old
    // holder learns it at its next renewal instead of publishing.
    std::thread::sleep(Duration::from_secs(4));
    let b = Lease::acquire(&s, "srv/job", Duration::from_secs(600), "b").unwrap();
    assert!(matches!(a.renew(), Err(LeaseError::Lost)));
    assert!(matches!(a.release(), Err(LeaseError::Lost)));
    b.release().unwrap();
    // A damaged lock object is taken over too, by compare-and-swap.
    s.put("srv/job/LOCK", b"not json".to_vec(), Put::Overwrite)
        .unwrap();
    Lease::acquire(&s, "srv/job", Duration::from_secs(600), "c")
        .unwrap()
        .release()
        .unwrap();
    // The clock probes are gone.
    assert_eq!(s.list("srv/job/.clock").unwrap(), Vec::<String>::new());
}

#[test]
fn a_streamed_upload_appears_whole_only_when_finished() {
    let Some(w) = Seaweed::start() else { return };
    w.create_bucket("zdm-stream");
    let s = store(&w.endpoint(), "s3://zdm-stream/repo", SECRET_KEY);
    let data = common::tree::noise(23 << 20, 7);
    let mut up = s.writer("srv/job/p1/data.tar.zst", 5 << 20, None).unwrap();
    for chunk in data.chunks(1 << 20) {
        up.write_all(chunk).unwrap();
    }
    // Several parts are uploaded by now, but there is no object until the upload completes.
    assert_eq!(s.get("srv/job/p1/data.tar.zst").unwrap(), None);
    let etag = up.finish().unwrap();
    let got = s.get("srv/job/p1/data.tar.zst").unwrap().unwrap();
    assert!(got.data == data, "the object differs from what was written");
    assert_eq!(got.etag.as_deref(), Some(etag.etag.as_str()));
    // A writer given up on (a failed run) leaves no object.
    let mut up = s.writer("srv/job/p2/data.tar.zst", 5 << 20, None).unwrap();
    up.write_all(&data[..12 << 20]).unwrap();
    drop(up);
    assert_eq!(s.get("srv/job/p2/data.tar.zst").unwrap(), None);
    assert_eq!(s.list("srv/job").unwrap(), vec!["p1".to_string()]);
}

#[test]
fn retention_requests_are_tried_again_when_the_store_is_briefly_unavailable() {
    use std::sync::atomic::Ordering;
    let until = chrono::Utc::now() + chrono::Duration::hours(1);
    // Two refusals, then it answers: the third try succeeds.
    let (port, seen) = common::seaweed::flaky_store(2);
    let s = store(
        &format!("http://127.0.0.1:{port}"),
        "s3://flaky/x",
        SECRET_KEY,
    );
    s.retain("k", "v1", until).unwrap();
    assert_eq!(seen.load(Ordering::SeqCst), 3);
    // Three refusals: the error names the status, after three tries and no more.
    let (port, seen) = common::seaweed::flaky_store(3);
    let s = store(
        &format!("http://127.0.0.1:{port}"),
        "s3://flaky/x",
        SECRET_KEY,
    );
    let e = s.retain("k", "v1", until).unwrap_err();
    assert!(e.to_string().contains("503"), "{e}");
    assert_eq!(seen.load(Ordering::SeqCst), 3);
}
