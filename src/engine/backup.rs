//! A backup run: walk the source, compare with the parent's catalog (a merge of two sorted
//! streams), write what changed into a partial directory, publish, then rotate.

use super::catalog::catalog_reader;
use super::entry::{walk_cmp, Entry, Kind};
use super::repo::{self, Manifest};
use super::stream::{Finish, WriteOptions};
use super::walk::{abs, Walker};
use super::{
    archive, delta, rotate, CancelToken, EngineError, JobLocation, Progress, ProgressState,
};
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::iter::Peekable;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub struct BackupPlan {
    pub location: JobLocation,
    pub source: PathBuf,
    /// Full or incremental, decided under the job lock from the points listed once.
    pub kind: KindPolicy,
    pub rotation: u32,
    pub compression: bool,
    pub level: i32,
    /// Encrypt to this identity's recipient (and read encrypted parents with it).
    pub identity: Option<age::x25519::Identity>,
    pub exclude: Vec<PathBuf>,
    /// MiB/s written to the repository; 0 = unlimited.
    pub network_limit_mib: u32,
    /// Which job directory the run may write into.
    pub owner: Owner,
}

/// How a run chooses between a full point and an incremental one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KindPolicy {
    /// A full point every run.
    Full,
    /// An incremental on the newest point (a full when there is no usable chain).
    Incremental,
    /// Incremental, unless the newest full started more than `days` days ago or there is none
    /// (smart jobs, decision D19).
    FullEvery { days: u32 },
}

/// Whose job directory a run writes into. The daemon knows which directory each job created;
/// the operator's command line writes into whatever directory it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// Continue whatever job directory is there (or create one).
    Any,
    /// The directory with this id (`None`: the job has not run yet, so the directory must not
    /// belong to another job).
    Job(Option<String>),
}

#[derive(Debug)]
pub struct BackupReport {
    pub manifest: Manifest,
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
    /// The job's authenticated points after rotation (ID, bytes occupied), oldest first.
    pub points: Vec<(String, u64)>,
}

/// Counts files and bytes first so progress can show a percentage and an ETA.
fn prescan(plan: &BackupPlan, exclude: &[PathBuf]) -> (u64, u64) {
    match Walker::new(&plan.source, exclude, false) {
        Ok(w) => w.fold((0, 0), |(n, b), e| (n + 1, b + e.size)),
        Err(_) => (0, 0),
    }
}

/// Writes a restore point: [`begin`], then [`Begun::write`].
pub fn backup(
    plan: &BackupPlan,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<BackupReport, EngineError> {
    begin(plan)?.write(progress, cancel)
}

/// A run that holds its job lock, has listed the job's points once and decided full or
/// incremental; a before-script runs between [`begin`] and [`Begun::write`] knowing the kind.
pub struct Begun<'a> {
    plan: &'a BackupPlan,
    _lock: repo::JobLock,
    job_dir: PathBuf,
    exclude: Vec<PathBuf>,
    notes: Vec<String>,
    job_id: Option<String>,
    points: Vec<repo::Point>,
    parent: Option<repo::Point>,
    /// Why the point is full or incremental.
    pub reason: String,
}

impl Begun<'_> {
    pub fn is_full(&self) -> bool {
        self.parent.is_none()
    }
}

/// Takes the job lock, cleans up after interrupted runs, checks the job directory belongs to
/// this job, lists its points and decides the kind.
pub fn begin(plan: &BackupPlan) -> Result<Begun<'_>, EngineError> {
    plan.location.check()?;
    let t = &*plan.location.target;
    let key = &plan.location.trust.key;
    repo::ensure_repository(t, &plan.location.trust)?;
    let source_meta = std::fs::metadata(&plan.source)
        .map_err(|e| EngineError::io(format!("source {}", plan.source.display()), e))?;
    if !source_meta.is_dir() {
        return Err(EngineError::Usage(format!(
            "source {} is not a directory",
            plan.source.display()
        )));
    }
    let mut exclude = plan.exclude.clone();
    if let Some(root) = t.local_root() {
        let (repo_real, source_real) = (
            std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf()),
            std::fs::canonicalize(&plan.source).unwrap_or_else(|_| plan.source.clone()),
        );
        if source_real.starts_with(&repo_real) {
            return Err(EngineError::Usage(format!(
                "the source {} is (inside) the repository {}: a backup would read its own \
                 restore points",
                plan.source.display(),
                root.display()
            )));
        }
        // A repository on the source's file system is never backed up into itself.
        if let Ok(rel) = repo_real.strip_prefix(&source_real) {
            exclude.push(plan.source.join(rel));
        }
    }
    let job_dir = plan.location.dir();
    let lock = repo::lock(t, &job_dir, &plan.location.job)?;
    let mut notes = repo::recover(t, &job_dir);
    let existing = repo::job_identity(t, &job_dir, key, false)?;
    if let Owner::Job(expected) = &plan.owner {
        // Only points are worth protecting: a directory another job (or an interrupted first
        // run of this one) left without points is simply taken over.
        if existing.is_some() && existing != *expected && !repo::points(t, &job_dir, key).is_empty()
        {
            return Err(EngineError::Usage(format!(
                "{} holds restore points of another job with this name (for example one that was \
                 deleted and whose points were kept); this job never writes into, chains onto \
                 or rotates them. Move that directory away (its points stay restorable under \
                 the new name with `zdm-backupd restore --job NEWNAME`), or rename this job",
                plan.location.describe()
            )));
        }
    }
    let job_id = repo::job_identity(t, &job_dir, key, true)?;
    let listing = repo::scan(t, &job_dir, key);
    for r in &listing.rejected {
        notes.push(format!(
            "{} in {} is not used: {}",
            r.name,
            plan.location.describe(),
            r.reason
        ));
    }
    let points = listing.points;
    let (parent, reason) = decide(plan.kind, &points, chrono::Utc::now(), |p| {
        usable_parent(&points, p, plan)
    });
    if reason.contains(", but ") {
        notes.push(reason.clone());
    }
    Ok(Begun {
        plan,
        _lock: lock,
        job_dir,
        exclude,
        notes,
        job_id: Some(job_id).flatten(),
        points,
        parent,
        reason,
    })
}

/// The parent of an incremental, or `None` for a full point, and why.
fn decide(
    kind: KindPolicy,
    points: &[repo::Point],
    now: chrono::DateTime<chrono::Utc>,
    usable: impl Fn(&repo::Point) -> Result<(), NotUsable>,
) -> (Option<repo::Point>, String) {
    let newest = points.last();
    let newest_full_age = points
        .iter()
        .rev()
        .find(|p| p.manifest.is_full())
        .and_then(|p| chrono::DateTime::parse_from_rfc3339(&p.manifest.started).ok())
        .map(|t| now - t.with_timezone(&chrono::Utc));
    match kind {
        KindPolicy::Full => return (None, "full job".into()),
        KindPolicy::FullEvery { days } => match newest_full_age {
            None => return (None, "smart job, no full yet".into()),
            Some(age) if age > chrono::Duration::days(days.into()) => {
                return (
                    None,
                    "smart job, newest full is older than the full interval".into(),
                )
            }
            Some(_) => {}
        },
        KindPolicy::Incremental => {}
    }
    let why = match kind {
        KindPolicy::FullEvery { .. } => "smart job, recent full exists",
        _ => "incremental job",
    };
    match newest {
        None => (None, format!("{why}, but no point yet")),
        Some(p) => match usable(p) {
            Ok(()) => (Some(p.clone()), why.to_string()),
            Err(e) => (None, format!("{why}, but writing a full point: {e}")),
        },
    }
}

impl Begun<'_> {
    /// Writes the point, publishes it and rotates; the lock is released when done.
    pub fn write(
        self,
        progress: &dyn Progress,
        cancel: &CancelToken,
    ) -> Result<BackupReport, EngineError> {
        let Begun {
            plan,
            _lock,
            job_dir,
            exclude,
            mut notes,
            job_id,
            points,
            parent,
            ..
        } = self;
        let t = &*plan.location.target;
        let key = &plan.location.trust.key;
        let newest = points.last();
        let id = repo::new_id(newest.map(|p| p.manifest.id.as_str()));
        let partial = repo::new_partial(t, &job_dir)?;
        let started = chrono::Utc::now();
        let result = write_point(
            plan,
            &exclude,
            parent.as_ref(),
            &partial,
            &id,
            progress,
            cancel,
        );
        let (mut manifest, mut warnings) = match result {
            Ok(v) => v,
            Err(e) => {
                let _ = t.remove_dir_all(&partial);
                let _ = t.sync_dir(&job_dir);
                return Err(e);
            }
        };
        manifest.started = started.to_rfc3339();
        manifest.finished = chrono::Utc::now().to_rfc3339();
        manifest.job_id = job_id;
        repo::place(t, &job_dir, &partial, &mut manifest);
        manifest.sign(key);
        if let Err(e) = repo::publish(t, &partial, &job_dir, &manifest) {
            let _ = t.remove_dir_all(&partial);
            return Err(e);
        }
        progress.update(&ProgressState {
            phase: "rotate",
            point: Some((manifest.id.clone(), manifest.is_full())),
            ..Default::default()
        });
        // The new point is published: a rotation problem keeps extra points and is reported, but
        // does not turn the run into a failure. A restore reading this job's points postpones
        // rotation to a later run (R5).
        let retired = plan
            .location
            .trust
            .retire(&repo::location_key(t), &job_dir)
            .and_then(|hold| {
                let _hold = hold.ok_or_else(|| {
                    EngineError::Usage("a restore is reading this job's points".into())
                })?;
                rotate::apply(
                    t,
                    &job_dir,
                    plan.rotation,
                    plan.identity.as_ref(),
                    key,
                    cancel,
                )
            });
        let points = match retired {
            Ok((n, points)) => {
                notes.extend(n);
                points
            }
            Err(e) => {
                warnings.push(format!(
                    "rotation did not finish ({e}); older points are kept"
                ));
                repo::points(t, &job_dir, key)
            }
        };
        Ok(BackupReport {
            manifest,
            warnings,
            notes,
            points: points
                .iter()
                .map(|p| (p.manifest.id.clone(), p.manifest.stored_bytes()))
                .collect(),
        })
    }
}

/// Why the newest point cannot be the parent of an incremental (so a full is written).
#[derive(Debug, thiserror::Error)]
pub enum NotUsable {
    #[error(transparent)]
    Chain(EngineError),
    #[error("the newest point {0} is encrypted and no key was given")]
    NoKey(String),
    #[error("the encryption setting changed")]
    EncryptionChanged,
    #[error("the source changed from {0}")]
    SourceChanged(String),
}

/// An incremental needs its whole chain readable with the settings of this run.
fn usable_parent(
    points: &[repo::Point],
    p: &repo::Point,
    plan: &BackupPlan,
) -> Result<(), NotUsable> {
    repo::chain(points, &p.manifest.id).map_err(NotUsable::Chain)?;
    if p.manifest.encryption && plan.identity.is_none() {
        return Err(NotUsable::NoKey(p.manifest.id.clone()));
    }
    if p.manifest.encryption != plan.identity.is_some() {
        return Err(NotUsable::EncryptionChanged);
    }
    if p.manifest.source != plan.source.display().to_string() {
        return Err(NotUsable::SourceChanged(p.manifest.source.clone()));
    }
    Ok(())
}

/// Copies exactly `len` bytes: pads with zeros when the file shrank while being read and stops
/// at `len` when it grew, so the tar stream stays valid; `short` records that it happened.
struct Exact<R> {
    inner: R,
    left: u64,
    short: bool,
    /// BLAKE3 of exactly what went into the archive, for a file not split into parts (the
    /// parts' hashes check a split one).
    hasher: Option<blake3::Hasher>,
}

impl Exact<&File> {
    fn of(f: &File, size: u64) -> Exact<&File> {
        Exact {
            inner: f,
            left: size,
            short: false,
            hasher: (size < delta::PARTED_MIN).then(blake3::Hasher::new),
        }
    }
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = buf.len().min(self.left as usize);
        let n = if self.short {
            0
        } else {
            self.inner.read(&mut buf[..want])?
        };
        let n = if n == 0 {
            self.short = true;
            buf[..want].fill(0);
            want
        } else {
            n
        };
        self.left -= n as u64;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// What `append` did with an entry.
enum Appended {
    /// The source could not be read: nothing was written and the entry is left out.
    Skipped,
    /// Written; `bytes` of file content went into the archive.
    Written { bytes: u64 },
}

/// Whether a file read for `e` is not what the walk saw: it shrank while read, or its size or
/// times differ now.
fn changed_while_read(path: &Path, e: &Entry, short: bool) -> bool {
    short
        || std::fs::symlink_metadata(path).map_or(true, |m| {
            m.size() != e.size
                || (m.mtime(), m.mtime_nsec() as u32) != e.mtime
                || (m.ctime(), m.ctime_nsec() as u32) != e.ctime
        })
}

/// What `append` reuses from one file to the next.
struct Reading {
    buf: Vec<u8>,
    cancel: CancelToken,
}

/// Appends `e` to the archive and completes its catalog line (content hash, parts). A large
/// file that changed since `previous` (its line in the parent point) becomes a delta member when
/// at most half of it is new.
fn append(
    tar: &mut tar::Builder<Box<dyn Finish>>,
    root: &Path,
    e: &mut Entry,
    previous: Option<&Entry>,
    reading: &mut Reading,
    warnings: &mut Vec<String>,
) -> Result<Appended, EngineError> {
    let write = |e: io::Error| EngineError::io("writing the archive", e);
    if e.k != Kind::File {
        archive::append_entry(tar, e, None, warnings).map_err(write)?;
        return Ok(Appended::Written { bytes: 0 });
    }
    let path = abs(root, e.path());
    // Open before writing any header, so an unreadable file leaves no trace in the archive.
    let f = match File::open(&path) {
        Ok(f) => f,
        Err(err) => {
            warnings.push(format!(
                "{}: cannot read, not backed up: {err}",
                path.display()
            ));
            return Ok(Appended::Skipped);
        }
    };
    let warn_changed = |warnings: &mut Vec<String>| {
        warnings.push(format!(
            "{}: changed while being read; the copy may be inconsistent",
            path.display()
        ))
    };
    if e.size < delta::PARTED_MIN {
        let mut r = Exact::of(&f, e.size);
        // Large reads: the copy into the archive asks for 8 KiB at a time.
        let mut buffered = BufReader::with_capacity(512 * 1024, &mut r);
        archive::append_entry(tar, e, Some(&mut buffered), warnings).map_err(write)?;
        drop(buffered);
        if changed_while_read(&path, e, r.short) {
            warn_changed(warnings);
        }
        e.h = r.hasher.map(|h| h.finalize().to_hex().to_string());
        return Ok(Appended::Written { bytes: e.size });
    }
    let ps = delta::part_size(e.size, previous.and_then(|p| p.ps));
    let base = previous
        .filter(|p| p.k == Kind::File && p.ps == Some(ps))
        .and_then(|p| delta::decode_parts(p.parts.as_deref()?).ok());
    if let Some(base) = base {
        // First pass: split and hash, writing nothing; the parts the previous version lacks
        // are read again in a second pass, into the delta member.
        let mut r = delta::Parter::new(Exact::of(&f, e.size), ps, std::mem::take(&mut reading.buf));
        let mut sink = vec![0u8; 1 << 20];
        loop {
            // Nothing is written in this pass, so nothing else would notice a cancel.
            reading.cancel.check()?;
            match r.read(&mut sink) {
                Ok(0) => break,
                Ok(_) => {}
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => {
                    return Err(EngineError::io(format!("reading {}", path.display()), err))
                }
            }
        }
        let (first, buf, mut parts) = r.finish();
        reading.buf = buf;
        let sources = delta::sources(&base, &parts);
        let inline = delta::inline_bytes(&parts, &sources);
        if inline.saturating_mul(2) <= e.size {
            let mut ir = delta::InlineReader::new(&f, &mut parts, &sources);
            archive::append_delta(tar, e, inline, &mut ir, warnings).map_err(write)?;
            let part_changed = ir.changed;
            if part_changed || changed_while_read(&path, e, first.short) {
                warn_changed(warnings);
            }
            // A part that changed between the passes is stored as read the second time, and
            // its hash follows it: the parts check the file (it has no `h`).
            e.h = None;
            e.ps = Some(ps);
            e.parts = Some(delta::encode_parts(&parts));
            e.delta = Some(delta::encode_sources(&sources));
            return Ok(Appended::Written { bytes: inline });
        }
        // Mostly new: stored whole, read again below.
        io::Seek::rewind(&mut &f).map_err(|err| EngineError::io(path.display(), err))?;
    }
    let mut r = delta::Parter::new(Exact::of(&f, e.size), ps, std::mem::take(&mut reading.buf));
    archive::append_entry(tar, e, Some(&mut r), warnings).map_err(write)?;
    let (read, buf, parts) = r.finish();
    reading.buf = buf;
    if changed_while_read(&path, e, read.short) {
        warn_changed(warnings);
    }
    e.h = None;
    e.ps = Some(ps);
    e.parts = Some(delta::encode_parts(&parts));
    Ok(Appended::Written { bytes: e.size })
}

type Parent = Peekable<Box<dyn Iterator<Item = Result<Entry, EngineError>>>>;

/// Advances the parent catalog to `e`'s path and returns the parent's line there, if any.
fn parent_line(parent: &mut Option<Parent>, e: &Entry) -> Result<Option<Entry>, EngineError> {
    let Some(it) = parent else { return Ok(None) };
    loop {
        match it.peek() {
            None => return Ok(None),
            Some(Err(_)) => return Err(it.next().expect("peeked").expect_err("peeked an error")),
            Some(Ok(p)) => match walk_cmp(p.path(), e.path()) {
                std::cmp::Ordering::Less => {
                    it.next();
                }
                std::cmp::Ordering::Equal => return it.next().transpose(),
                std::cmp::Ordering::Greater => return Ok(None),
            },
        }
    }
}

fn write_point(
    plan: &BackupPlan,
    exclude: &[PathBuf],
    parent: Option<&repo::Point>,
    partial: &Path,
    id: &str,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<(Manifest, Vec<String>), EngineError> {
    let parent_id = parent.map(|p| p.manifest.id.clone());
    let (total_files, total_bytes) = prescan(plan, exclude);
    let recipient = plan.identity.as_ref().map(|i| i.to_public());
    let opts = WriteOptions {
        compression: plan.compression,
        level: plan.level,
        recipient: recipient.as_ref(),
        bytes_per_sec: (plan.network_limit_mib > 0)
            .then(|| u64::from(plan.network_limit_mib) * 1024 * 1024),
        cancel: cancel.clone(),
    };
    let t = &*plan.location.target;
    let mut out = archive::PointWriter::create(t, partial, &opts)?;
    let mut parent: Option<Parent> = match parent {
        Some(p) => Some(
            (Box::new(catalog_reader(t, p, plan.identity.as_ref())?)
                as Box<dyn Iterator<Item = _>>)
                .peekable(),
        ),
        None => None,
    };
    let mut walker = Walker::new(&plan.source, exclude, true)
        .map_err(|e| EngineError::io(format!("source {}", plan.source.display()), e))?;
    let mut warnings = Vec::new();
    let mut state = ProgressState {
        phase: "backup",
        total_files,
        total_bytes,
        ..Default::default()
    };
    let (mut entries, mut archived, mut source_bytes, mut archived_bytes) =
        (0u64, 0u64, 0u64, 0u64);
    let mut last_report = std::time::Instant::now();
    let mut reading = Reading {
        buf: Vec::new(),
        cancel: cancel.clone(),
    };
    for mut e in walker.by_ref() {
        cancel.check()?;
        let previous = parent_line(&mut parent, &e)?;
        match previous {
            // Unchanged (the design's test): nothing is read; hash and parts still hold.
            Some(old) if e.same_as(&old) && e.xattrs == old.xattrs => {
                e.w = false;
                e.h = old.h;
                e.ps = old.ps;
                e.parts = old.parts;
            }
            previous => {
                e.w = true;
                match append(
                    &mut out.tar,
                    &plan.source,
                    &mut e,
                    previous.as_ref(),
                    &mut reading,
                    &mut warnings,
                )? {
                    Appended::Skipped => continue,
                    Appended::Written { bytes } => {
                        archived += 1;
                        archived_bytes += bytes;
                    }
                }
            }
        }
        entries += 1;
        source_bytes += e.size;
        out.catalog_line(&e)?;
        state.files += 1;
        state.bytes += e.size;
        if last_report.elapsed().as_millis() >= 200 {
            state.current = String::from_utf8_lossy(e.path()).into_owned();
            progress.update(&state);
            last_report = std::time::Instant::now();
        }
    }
    warnings.append(&mut walker.warnings);
    let files = out.finish()?;
    state.phase = "publish";
    progress.update(&state);
    let manifest = Manifest {
        format: repo::FORMAT,
        id: id.to_string(),
        job: plan.location.job.clone(),
        server: plan.location.server.clone(),
        source: plan.source.display().to_string(),
        kind: if parent_id.is_some() {
            "incr".into()
        } else {
            "full".into()
        },
        parent: parent_id,
        started: String::new(),
        finished: String::new(),
        entries,
        archived,
        source_bytes,
        archived_bytes,
        compression: plan.compression,
        encryption: recipient.is_some(),
        recipient: recipient.map(|r| r.to_string()),
        files,
        warnings: warnings.clone(),
        data_dir: None,
        job_id: None,
        auth: None,
    };
    Ok((manifest, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, Utc};

    fn point(id: &str, full: bool, age_days: i64) -> repo::Point {
        let started = (Utc::now() - Duration::days(age_days)).to_rfc3339();
        let m: Manifest = serde_json::from_value(serde_json::json!({
            "format": 2, "id": id, "job": "j", "server": "s", "source": "/src",
            "kind": if full { "full" } else { "incr" }, "parent": null,
            "started": started, "finished": started, "entries": 0, "archived": 0,
            "source_bytes": 0, "archived_bytes": 0, "compression": false, "encryption": false,
            "recipient": null, "files": {},
        }))
        .unwrap();
        repo::Point {
            dir: PathBuf::from(id),
            manifest: m,
        }
    }

    #[test]
    fn the_kind_is_decided_from_the_points_listed_under_the_lock() {
        let ok = |_: &repo::Point| Ok(());
        let now = Utc::now();
        let every = KindPolicy::FullEvery { days: 7 };
        let recent = [point("a", true, 2), point("b", false, 1)];
        let old = [point("a", true, 9), point("b", false, 1)];
        let full = |k, pts: &[repo::Point]| decide(k, pts, now, ok).0.is_none();
        assert!(full(KindPolicy::Full, &recent));
        assert!(!full(KindPolicy::Incremental, &recent));
        assert!(full(KindPolicy::Incremental, &[]));
        // D19: incremental while the newest full is recent, full once it is too old or missing.
        assert!(!full(every, &recent));
        assert!(full(every, &old));
        assert!(full(every, &[point("b", false, 1)]));
        assert_eq!(decide(every, &recent, now, ok).0.unwrap().manifest.id, "b");
        // An unusable chain falls back to a full point and says why.
        let (parent, why) = decide(KindPolicy::Incremental, &recent, now, |_| {
            Err(NotUsable::SourceChanged("/srv".into()))
        });
        assert!(parent.is_none());
        assert!(
            why.contains("but writing a full point: the source changed from /srv"),
            "{why}"
        );
    }
}
