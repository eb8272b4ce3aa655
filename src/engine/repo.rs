//! The repository layout: the format marker, one directory per job with its LOCK, restore point
//! directories that exist only once their MANIFEST.json is in place, and `.partial-*`
//! directories of runs in progress.

use super::target::{LockError, LockGuard, Target};
use super::trust::{AuthKey, Trust};
use super::EngineError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const MARKER: &str = "zdm-backup.json";
pub const MANIFEST: &str = "MANIFEST.json";
pub const DATA: &str = "data.tar";
pub const CATALOG: &str = "catalog.jsonl";
/// The job directory's identity: which job wrote the points in it (authenticated).
pub const JOB_ID_FILE: &str = "JOB.json";
/// Manifests written since points are authenticated and files carry their own hashes.
pub const FORMAT: u32 = 3;
/// Manifests of points on object stores, whose files lie in a run's own data directory
/// (`data_dir`); the newest format this version reads.
pub const OBJECT_FORMAT: u32 = 4;
const PARTIAL: &str = ".partial-";
/// On object stores: the data directories of runs (`.data/<uuid>`), named by their manifests.
const DATA_DIRS: &str = ".data";
const RETIRED: &str = ".retired-";
/// A point being deleted: renamed out of sight first, so a crash never leaves a visible
/// directory that is no longer a point.
const DELETED: &str = ".deleted-";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    pub size: u64,
    pub blake3: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub id: String,
    pub job: String,
    pub server: String,
    pub source: String,
    /// `full` or `incr`
    pub kind: String,
    pub parent: Option<String>,
    pub started: String,
    pub finished: String,
    /// Entries present at this point / entries this point's archive holds.
    pub entries: u64,
    pub archived: u64,
    /// Bytes of file content present at this point / written into this point's archive.
    pub source_bytes: u64,
    pub archived_bytes: u64,
    pub compression: bool,
    pub encryption: bool,
    /// The age recipient (public key) the files are encrypted to.
    pub recipient: Option<String>,
    pub files: BTreeMap<String, FileInfo>,
    #[serde(default)]
    pub warnings: Vec<String>,
    /// On object stores: where the files are, relative to the job directory (`.data/<uuid>`);
    /// absent when they are in the point's own directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<String>,
    /// The id of the job directory the point belongs to (its `JOB.json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// Keyed BLAKE3 MAC over everything above, made with this host's authentication key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<String>,
}

impl Manifest {
    /// Bytes the point occupies in the repository: its archive and catalog files as written
    /// (compressed, encrypted), plus the manifest itself.
    pub fn stored_bytes(&self) -> u64 {
        // As `write_manifest` writes it.
        let manifest = serde_json::to_vec_pretty(self).map_or(0, |v| v.len() as u64);
        self.files.values().map(|f| f.size).sum::<u64>() + manifest
    }

    fn signed_bytes(&self) -> Vec<u8> {
        let unsigned = Manifest {
            auth: None,
            ..self.clone()
        };
        serde_json::to_vec(&unsigned).expect("a manifest serializes")
    }
    /// Adds the MAC over the manifest's content.
    pub fn sign(&mut self, key: &AuthKey) {
        self.auth = Some(key.mac("manifest", &self.signed_bytes()));
    }
    /// Whether the manifest carries a valid MAC made with `key`.
    pub fn authentic(&self, key: &AuthKey) -> bool {
        self.auth
            .as_deref()
            .is_some_and(|mac| key.check("manifest", &self.signed_bytes(), mac))
    }
    pub fn is_full(&self) -> bool {
        self.kind == "full"
    }
    /// File names of the data archive and the catalog for this point's settings.
    pub fn file_names(compression: bool, encryption: bool) -> (String, String) {
        let ext = format!(
            "{}{}",
            if compression { ".zst" } else { "" },
            if encryption { ".age" } else { "" }
        );
        (format!("{DATA}{ext}"), format!("{CATALOG}{ext}"))
    }
    pub fn data_file(&self) -> String {
        Self::file_names(self.compression, self.encryption).0
    }
    pub fn catalog_file(&self) -> String {
        Self::file_names(self.compression, self.encryption).1
    }
}

/// A restore point on disk.
#[derive(Debug, Clone)]
pub struct Point {
    /// Relative to the repository root.
    pub dir: PathBuf,
    pub manifest: Manifest,
}

impl Point {
    /// Where the point's file `name` is: its own directory, or the data directory its
    /// manifest names (checked by `scan` before a point is listed).
    pub fn file(&self, name: &str) -> PathBuf {
        match &self.manifest.data_dir {
            Some(d) => self
                .dir
                .parent()
                .unwrap_or(Path::new(""))
                .join(d)
                .join(name),
            None => self.dir.join(name),
        }
    }
}

/// Whether a manifest's `data_dir` is one this engine writes (`.data/<uuid>`): nothing else is
/// ever read or removed through it.
fn valid_data_dir(d: &str) -> bool {
    d.strip_prefix(DATA_DIRS)
        .and_then(|r| r.strip_prefix('/'))
        .is_some_and(|id| uuid::Uuid::try_parse(id).is_ok_and(|u| u.to_string() == id))
}

fn io_err(context: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> EngineError {
    move |e| EngineError::io(context, e)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Marker {
    format: u32,
    writer: String,
    /// Random repository id (absent in markers written before repositories had identities).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    /// Key id -> MAC over the repository id, one per host that uses the repository.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    auth: BTreeMap<String, String>,
}

/// The name under which the registry remembers a repository: the canonical directory for local
/// repositories, the share spec otherwise.
pub fn location_key(t: &dyn Target) -> String {
    match t.local_root() {
        Some(root) => std::fs::canonicalize(root)
            .unwrap_or_else(|_| root.to_path_buf())
            .display()
            .to_string(),
        None => t.describe(),
    }
}

fn read_marker(t: &dyn Target) -> Result<Option<Marker>, EngineError> {
    let marker = Path::new(MARKER);
    if !t
        .exists(marker)
        .map_err(io_err(format!("repository {}", t.describe())))?
    {
        return Ok(None);
    }
    let text = t
        .read(marker)
        .map_err(io_err(format!("repository marker of {}", t.describe())))?;
    serde_json::from_slice(&text).map(Some).map_err(|e| {
        EngineError::Corrupt(format!(
            "the repository marker {} of {} is damaged ({e}); it is never rewritten silently: \
             check the share, and move the file away only if this is the right repository",
            MARKER,
            t.describe()
        ))
    })
}

/// Writes the marker through a unique temporary name and a rename.
fn write_marker(t: &dyn Target, m: &Marker) -> Result<(), EngineError> {
    let tmp = PathBuf::from(format!(
        "{MARKER}.tmp-{}-{:x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    let mut f = t.create_new(&tmp).map_err(io_err(format!(
        "cannot write to repository {}",
        t.describe()
    )))?;
    let text = serde_json::to_vec_pretty(m).map_err(|e| EngineError::Io(e.into()))?;
    f.write_all(&text).map_err(io_err("repository marker"))?;
    f.commit().map_err(io_err("repository marker"))?;
    if let Err(e) = t.rename(&tmp, Path::new(MARKER)) {
        let _ = t.remove_file(&tmp);
        return Err(EngineError::io("repository marker", e));
    }
    let _ = t.sync_dir(Path::new(""));
    Ok(())
}

/// Whether any job directory of the repository holds something that looks like a point.
fn holds_points(t: &dyn Target) -> bool {
    let root = Path::new("");
    t.list(root).unwrap_or_default().iter().any(|s| {
        s.is_dir
            && !s.name.starts_with('.')
            && t.list(&root.join(&s.name))
                .unwrap_or_default()
                .iter()
                .any(|j| j.is_dir && point_count(t, &root.join(&s.name).join(&j.name)) > 0)
    })
}

/// Checks the repository exists and is the one this host knows at this location, and returns
/// its id. An unknown empty directory is initialised (marker with a new random id, authenticated
/// with this host's key); a known location whose marker is missing or different is refused
/// before anything is written (an unmounted share leaves an empty mount point behind); a
/// directory holding points without a marker is never initialised silently.
pub fn ensure_repository(t: &dyn Target, trust: &Trust) -> Result<String, EngineError> {
    let root = Path::new("");
    match t.is_dir(root) {
        Ok(true) => {}
        Ok(false) => {
            return Err(EngineError::NotFound(format!(
                "repository {} is not an existing directory",
                t.describe()
            )))
        }
        Err(e) => return Err(EngineError::io(format!("repository {}", t.describe()), e)),
    }
    let location = location_key(t);
    let _hold = trust.hold(&location)?;
    let known = trust.known_id(&location)?;
    let key = &trust.key;
    let mut marker = match read_marker(t)? {
        Some(m) => m,
        None => {
            if let Some(id) = known {
                return Err(EngineError::NotFound(format!(
                    "repository {location} is not the repository this host registered there \
                     (id {id}): its marker {MARKER} is missing. Is the share mounted?"
                )));
            }
            if holds_points(t) {
                return Err(EngineError::Usage(format!(
                    "{location} holds restore points but no repository marker {MARKER}; it is \
                     not initialised as a new repository. Is the right share mounted?"
                )));
            }
            let id = uuid::Uuid::new_v4().to_string();
            let m = Marker {
                format: 1,
                writer: "zdm-backupd".into(),
                id: Some(id.clone()),
                auth: BTreeMap::from([(key.key_id(), key.mac("repository", id.as_bytes()))]),
            };
            write_marker(t, &m)?;
            // This host's runs are serialised by `_hold`; another host initialising the same
            // empty share at this moment may still replace the marker: the one that stayed
            // wins, and the loser's next run refuses the location instead of mixing them.
            read_marker(t)?.unwrap_or(m)
        }
    };
    let id = match &marker.id {
        Some(id) => id.clone(),
        None => {
            // A marker from before repositories had ids: give it one, once.
            let id = uuid::Uuid::new_v4().to_string();
            marker.id = Some(id.clone());
            id
        }
    };
    if let Some(k) = &known {
        if *k != id {
            return Err(EngineError::NotFound(format!(
                "repository {location} is not the repository this host registered there (id \
                 {k}; its marker says {id}). Is the right share mounted?"
            )));
        }
    }
    match marker.auth.get(&key.key_id()) {
        Some(mac) if key.check("repository", id.as_bytes(), mac) => {}
        Some(_) => {
            return Err(EngineError::Corrupt(format!(
                "the repository marker of {location} carries an entry for this host's key that \
                 does not authenticate: someone else wrote it"
            )))
        }
        None => {
            marker
                .auth
                .insert(key.key_id(), key.mac("repository", id.as_bytes()));
            write_marker(t, &marker)?;
        }
    }
    trust.remember(&location, &id)?;
    Ok(id)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct JobIdentity {
    id: String,
    /// The job's name when the directory was created (informational: renames keep the id).
    job: String,
    created: String,
    auth: String,
}

/// The id of a job directory from its `JOB.json`, checked against this host's key; with
/// `create`, a directory without one gets a new identity (call with the job lock held).
pub fn job_identity(
    t: &dyn Target,
    job_dir: &Path,
    key: &AuthKey,
    create: bool,
) -> Result<Option<String>, EngineError> {
    let path = job_dir.join(JOB_ID_FILE);
    let where_ = describe(t, &path);
    match t.read(&path) {
        Ok(text) => {
            let j: JobIdentity = serde_json::from_slice(&text)
                .map_err(|e| EngineError::Corrupt(format!("{where_} is damaged: {e}")))?;
            if !key.check("job", j.id.as_bytes(), &j.auth) {
                return Err(EngineError::Corrupt(format!(
                    "{where_} is not authenticated by this host's key: the job directory was \
                     not created by this host (or its key file was replaced)"
                )));
            }
            Ok(Some(j.id))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if !create {
                return Ok(None);
            }
            let id = uuid::Uuid::new_v4().to_string();
            let j = JobIdentity {
                id: id.clone(),
                job: job_dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                created: chrono::Utc::now().to_rfc3339(),
                auth: key.mac("job", id.as_bytes()),
            };
            let tmp = job_dir.join(format!("{JOB_ID_FILE}.tmp-{}", uuid::Uuid::new_v4()));
            let mut f = t.create_new(&tmp).map_err(io_err(&where_))?;
            let text = serde_json::to_vec_pretty(&j).map_err(|e| EngineError::Io(e.into()))?;
            f.write_all(&text).map_err(io_err(&where_))?;
            f.commit().map_err(io_err(&where_))?;
            t.rename(&tmp, &path).map_err(io_err(&where_))?;
            t.sync_dir(job_dir).map_err(io_err("job directory"))?;
            Ok(Some(id))
        }
        Err(e) => Err(EngineError::io(where_, e)),
    }
}

/// An advisory lock on a job directory, held for a run, merge or prune.
pub struct JobLock {
    _guard: Box<dyn LockGuard>,
}

pub fn lock(t: &dyn Target, job_dir: &Path, job: &str) -> Result<JobLock, EngineError> {
    t.create_dir_all(job_dir)
        .map_err(io_err(format!("cannot create {}", describe(t, job_dir))))?;
    match t.lock(
        &job_dir.join("LOCK"),
        &format!("pid {}", std::process::id()),
    ) {
        Ok(g) => Ok(JobLock { _guard: g }),
        Err(LockError::Held(holder)) => Err(EngineError::Locked(
            job.to_string(),
            if holder.is_empty() {
                "unknown pid".into()
            } else {
                holder
            },
        )),
        Err(LockError::Io(e)) => Err(EngineError::io(
            format!("cannot lock {}", describe(t, job_dir)),
            e,
        )),
    }
}

/// A path inside a target, for messages.
pub fn describe(t: &dyn Target, path: &Path) -> String {
    let root = t.describe();
    if path.as_os_str().is_empty() {
        root
    } else {
        format!("{}/{}", root.trim_end_matches('/'), path.display())
    }
}

pub fn read_manifest(t: &dyn Target, dir: &Path) -> Option<Manifest> {
    let text = t.read(&dir.join(MANIFEST)).ok()?;
    serde_json::from_slice(&text).ok()
}

/// A directory of a job that is not a usable restore point, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Rejected {
    pub name: String,
    pub reason: String,
}

/// Everything in a job directory: the authenticated points (oldest first) and the directories
/// that look like points but cannot be trusted or read. Nothing is hidden: a damaged manifest
/// shows up as rejected.
#[derive(Debug, Default)]
pub struct Listing {
    pub job_id: Option<String>,
    pub points: Vec<Point>,
    pub rejected: Vec<Rejected>,
}

/// Why a directory of a job directory is not listed as a restore point (shown per directory by
/// `points` and the API).
#[derive(Debug, thiserror::Error)]
pub enum PointRejected {
    #[error("no {MANIFEST}: not a restore point")]
    NoManifest,
    #[error("{MANIFEST} cannot be read: {0}")]
    Unreadable(#[source] std::io::Error),
    #[error("{MANIFEST} is damaged: {0}")]
    Damaged(#[source] serde_json::Error),
    #[error("its manifest names point {0}")]
    WrongName(String),
    #[error(
        "not authenticated: the manifest carries no MAC (written before points were \
         authenticated, or forged)"
    )]
    NoMac,
    #[error(
        "not authenticated: the manifest's MAC does not match this host's key (modified, or \
         written by another host)"
    )]
    BadMac,
    /// The job directory's own identity could not be checked.
    #[error("{0}")]
    JobDirectory(String),
    #[error("it belongs to another job directory")]
    OtherJob,
    #[error(
        "format {0} is newer than this version of zdm-backupd reads ({OBJECT_FORMAT}); upgrade it"
    )]
    NewerFormat(u32),
    #[error("its manifest names a data directory this version never writes: {0:?}")]
    BadDataDir(String),
}

fn check_point(
    t: &dyn Target,
    dir: &Path,
    name: &str,
    key: &AuthKey,
    job_id: &Result<Option<String>, String>,
) -> Result<Manifest, PointRejected> {
    let text = match t.read(&dir.join(MANIFEST)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(PointRejected::NoManifest)
        }
        Err(e) => return Err(PointRejected::Unreadable(e)),
    };
    let m: Manifest = serde_json::from_slice(&text).map_err(PointRejected::Damaged)?;
    if m.id != name {
        return Err(PointRejected::WrongName(m.id));
    }
    if m.format > OBJECT_FORMAT {
        return Err(PointRejected::NewerFormat(m.format));
    }
    if let Some(d) = m.data_dir.as_ref().filter(|d| !valid_data_dir(d)) {
        return Err(PointRejected::BadDataDir(d.clone()));
    }
    if !m.authentic(key) {
        return Err(if m.auth.is_none() {
            PointRejected::NoMac
        } else {
            PointRejected::BadMac
        });
    }
    match job_id {
        Err(e) => Err(PointRejected::JobDirectory(e.clone())),
        Ok(id) if m.job_id.is_some() && m.job_id == *id => Ok(m),
        Ok(_) => Err(PointRejected::OtherJob),
    }
}

/// Lists a job directory, authenticating every point with `key`.
pub fn scan(t: &dyn Target, job_dir: &Path, key: &AuthKey) -> Listing {
    let Ok(entries) = t.list(job_dir) else {
        return Listing::default();
    };
    let job_id = job_identity(t, job_dir, key, false).map_err(|e| e.to_string());
    let mut out = Listing {
        job_id: job_id.clone().ok().flatten(),
        ..Default::default()
    };
    let names: Vec<&str> = entries
        .iter()
        .filter(|e| e.is_dir)
        .map(|e| e.name.as_str())
        .collect();
    for e in entries.iter().filter(|e| e.is_dir) {
        // A merge interrupted between its two renames left the point as `.retired-<id>`; the
        // next run's recovery puts it back, and until then it is listed where it will be.
        let (name, dir) = match e.name.strip_prefix(RETIRED) {
            Some(id) if !names.contains(&id) => (id.to_string(), job_dir.join(&e.name)),
            _ if e.name.starts_with('.') => continue,
            _ => (e.name.clone(), job_dir.join(&e.name)),
        };
        match check_point(t, &dir, &name, key, &job_id) {
            Ok(m) => out.points.push(Point { dir, manifest: m }),
            // An object store may go on listing a prefix emptied by a deletion; nothing is ever
            // written there but the manifest.
            Err(PointRejected::NoManifest) if t.objects().is_some() => {}
            Err(why) => out.rejected.push(Rejected {
                name,
                reason: why.to_string(),
            }),
        }
    }
    out.points.sort_by(|a, b| a.manifest.id.cmp(&b.manifest.id));
    out.rejected.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Every point whose manifest can be read, authenticated or not (for an explicit
/// `--allow-unauthenticated` restore only).
pub fn unverified_points(t: &dyn Target, job_dir: &Path) -> Vec<Point> {
    let mut out: Vec<Point> = t
        .list(job_dir)
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.is_dir && !e.name.starts_with('.'))
        .filter_map(|e| {
            let dir = job_dir.join(&e.name);
            read_manifest(t, &dir)
                .filter(|m| m.id == e.name)
                .filter(|m| m.data_dir.as_deref().is_none_or(valid_data_dir))
                .map(|m| Point { dir, manifest: m })
        })
        .collect();
    out.sort_by(|a, b| a.manifest.id.cmp(&b.manifest.id));
    out
}

/// Signs a point this host's key does not authenticate, after the caller verified it: binds it
/// to the job directory (whose identity is created if missing) and rewrites its manifest
/// through a temporary file and a rename. Call with the job lock held.
pub fn adopt(
    t: &dyn Target,
    job_dir: &Path,
    point: &Point,
    key: &AuthKey,
) -> Result<(), EngineError> {
    let job_id = job_identity(t, job_dir, key, true)?;
    let mut m = point.manifest.clone();
    m.job_id = job_id;
    m.sign(key);
    let tmp = point
        .dir
        .join(format!("{MANIFEST}.adopt-{}", uuid::Uuid::new_v4()));
    let mut f = t.create_new(&tmp).map_err(io_err("manifest"))?;
    let text = serde_json::to_vec_pretty(&m).map_err(|e| EngineError::Io(e.into()))?;
    f.write_all(&text).map_err(io_err("manifest"))?;
    f.commit().map_err(io_err("manifest"))?;
    t.rename(&tmp, &point.dir.join(MANIFEST))
        .map_err(io_err(format!("cannot adopt {}", m.id)))?;
    t.sync_dir(&point.dir).map_err(io_err("point directory"))?;
    Ok(())
}

/// Authenticated restore points, oldest first. Partial and retired directories are never points.
pub fn points(t: &dyn Target, job_dir: &Path, key: &AuthKey) -> Vec<Point> {
    scan(t, job_dir, key).points
}

/// How many published points a job directory holds, from directory names alone (point ids
/// look like `20261127T120000.000Z`; partial and retired directories start with a dot).
pub fn point_count(t: &dyn Target, job_dir: &Path) -> usize {
    // An object store may list emptied prefixes: there only a manifest makes a point.
    let published = |name: &str| {
        t.objects().is_none() || t.exists(&job_dir.join(name).join(MANIFEST)).unwrap_or(true)
    };
    t.list(job_dir)
        .map(|entries| {
            entries
                .iter()
                .filter(|e| e.is_dir && is_point_name(&e.name) && published(&e.name))
                .count()
        })
        .unwrap_or(0)
}

/// Whether a directory name looks like a point id (`20261127T120000.000Z`).
fn is_point_name(name: &str) -> bool {
    let n = name.as_bytes();
    n.len() == 20 && n[0] != b'.' && n[8] == b'T' && n[19] == b'Z'
}

/// The point count of a job directory on this host.
pub fn point_count_in(job_dir: &Path) -> usize {
    point_count(&super::target::LocalTarget::new(job_dir), Path::new(""))
}

/// Removes what interrupted runs left (call with the lock held): partial directories, points
/// whose deletion was interrupted (renamed out of sight, or by older releases left without
/// their manifest), and a merge interrupted between its two renames is finished or rolled back.
pub fn recover(t: &dyn Target, job_dir: &Path) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(o) = t.objects() {
        notes.extend(collect_data_dirs(t, job_dir));
        match o.reclaim(job_dir) {
            Ok(note) => notes.extend(note),
            Err(e) => notes.push(format!("earlier versions were not reclaimed: {e}")),
        }
    }
    let Ok(entries) = t.list(job_dir) else {
        return notes;
    };
    for e in entries {
        let path = job_dir.join(&e.name);
        if e.name.starts_with(PARTIAL) || e.name.starts_with(DELETED) {
            if t.remove_dir_all(&path).is_ok() {
                notes.push(format!("removed {} left by an interrupted run", e.name));
            }
        } else if let Some(id) = e.name.strip_prefix(RETIRED) {
            let live = job_dir.join(id);
            if read_manifest(t, &live).is_some() {
                let _ = t.remove_dir_all(&path);
            } else {
                let _ = t.remove_dir_all(&live);
                if t.rename(&path, &live).is_ok() {
                    notes.push(format!("rolled back an interrupted merge of {id}"));
                }
            }
        } else if e.is_dir
            && t.objects().is_none()
            && is_point_name(&e.name)
            && !t.exists(&path.join(MANIFEST)).unwrap_or(true)
            && !t
                .exists(&job_dir.join(format!("{RETIRED}{}", e.name)))
                .unwrap_or(true)
            && t.remove_dir_all(&path).is_ok()
        {
            notes.push(format!(
                "removed {}: a point whose deletion was interrupted",
                e.name
            ));
        }
    }
    let _ = t.sync_dir(job_dir);
    notes
}

/// On an object store: removes the data directories no manifest of the job names (runs that
/// failed, crashed or lost a publication race, merges cut short), aborting the uploads they
/// recorded. Call with the lock held: a run in progress holds it too.
fn collect_data_dirs(t: &dyn Target, job_dir: &Path) -> Vec<String> {
    let dirs = job_dir.join(DATA_DIRS);
    let Ok(runs) = t.list(&dirs) else {
        return Vec::new();
    };
    let Ok(entries) = t.list(job_dir) else {
        return Vec::new();
    };
    let mut named = Vec::new();
    for e in entries
        .iter()
        .filter(|e| e.is_dir && is_point_name(&e.name))
    {
        let read = t.read(&job_dir.join(&e.name).join(MANIFEST));
        match read.map(|text| serde_json::from_slice::<Manifest>(&text)) {
            Ok(Ok(m)) => named.extend(m.data_dir),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            // A manifest that cannot be read now might name any of them: keep them all.
            _ => return Vec::new(),
        }
    }
    let mut notes = Vec::new();
    for run in runs.iter().filter(|e| e.is_dir) {
        let dir = format!("{DATA_DIRS}/{}", run.name);
        if !named.contains(&dir) && t.remove_dir_all(&job_dir.join(&dir)).is_ok() {
            notes.push(format!(
                "removed {dir}: data of a run that published nothing"
            ));
        }
    }
    notes
}

/// A new directory for a run's files: `.partial-<uuid>` (renamed to the point id when
/// published), or on an object store the run's own data directory `.data/<uuid>`, which the
/// manifest names (see [`place`]).
pub fn new_partial(t: &dyn Target, job_dir: &Path) -> Result<PathBuf, EngineError> {
    let p = match t.objects() {
        Some(_) => job_dir
            .join(DATA_DIRS)
            .join(uuid::Uuid::new_v4().to_string()),
        None => job_dir.join(format!("{PARTIAL}{}", uuid::Uuid::new_v4())),
    };
    t.create_dir_all(&p)
        .map_err(io_err(format!("cannot create {}", describe(t, &p))))?;
    Ok(p)
}

/// Records in `m` where its files are, before it is signed: on an object store the run's data
/// directory, which needs manifest format 4.
pub fn place(t: &dyn Target, job_dir: &Path, partial: &Path, m: &mut Manifest) {
    if t.objects().is_some() {
        let dir = partial.strip_prefix(job_dir).unwrap_or(partial);
        m.data_dir = Some(dir.to_string_lossy().replace('\\', "/"));
        m.format = OBJECT_FORMAT;
    }
}

fn manifest_bytes(m: &Manifest) -> Result<Vec<u8>, EngineError> {
    serde_json::to_vec_pretty(m).map_err(|e| EngineError::Io(std::io::Error::other(e)))
}

/// Writes the manifest last, then renames the partial directory to the point id and syncs the
/// job directory: a crash leaves either no point or a complete one. On an object store the
/// manifest is written where the point is, only if no manifest is there yet: that write is the
/// publication, and of runs racing for one point id exactly one wins.
pub fn publish(
    t: &dyn Target,
    partial: &Path,
    job_dir: &Path,
    m: &Manifest,
) -> Result<PathBuf, EngineError> {
    let dest = job_dir.join(&m.id);
    if let Some(o) = t.objects() {
        // Just before the commit: a run that lost its lock publishes nothing.
        o.before_publish(job_dir).map_err(io_err("publication"))?;
        let created = o
            .put_new(&dest.join(MANIFEST), manifest_bytes(m)?)
            .map_err(io_err("manifest"))?;
        if !created {
            return Err(EngineError::Corrupt(format!(
                "point {} was published by another run meanwhile; this run's copy is dropped",
                m.id
            )));
        }
        return Ok(dest);
    }
    let mut f = t
        .create(&partial.join(MANIFEST))
        .map_err(io_err("manifest"))?;
    f.write_all(&manifest_bytes(m)?)
        .map_err(io_err("manifest"))?;
    f.commit().map_err(io_err("manifest"))?;
    t.sync_dir(partial).map_err(io_err("partial directory"))?;
    t.rename(partial, &dest)
        .map_err(io_err(format!("cannot publish {}", m.id)))?;
    t.sync_dir(job_dir).map_err(io_err("job directory"))?;
    Ok(dest)
}

/// Replaces point `id` with the published contents of `partial` (a merge): the old directory
/// is renamed aside first so that a crash in between can be rolled back by `recover`. On an
/// object store the manifest is swapped only over the version read, and only if that is still
/// `replaced` (the manifest the merge verified): compare-and-swap; then the replaced data
/// directory is removed, and a crash in between leaves it for `recover`.
pub fn replace(
    t: &dyn Target,
    partial: &Path,
    job_dir: &Path,
    m: &Manifest,
    replaced: &Manifest,
) -> Result<(), EngineError> {
    let live = job_dir.join(&m.id);
    if let Some(o) = t.objects() {
        let path = live.join(MANIFEST);
        let (old, tag) = o
            .get_tagged(&path)
            .map_err(io_err("manifest"))?
            .ok_or_else(|| EngineError::Corrupt(format!("point {} vanished", m.id)))?;
        let changed = || {
            EngineError::Corrupt(format!(
                "point {} changed while it was merged; the merge is dropped",
                m.id
            ))
        };
        if serde_json::from_slice::<Manifest>(&old).ok().as_ref() != Some(replaced) {
            return Err(changed());
        }
        o.before_publish(job_dir).map_err(io_err("publication"))?;
        if !o
            .put_if_match(&path, manifest_bytes(m)?, &tag)
            .map_err(io_err("manifest"))?
        {
            return Err(changed());
        }
        let old_dir = replaced.data_dir.as_ref().filter(|d| valid_data_dir(d));
        if let Some(d) = old_dir.filter(|d| Some(*d) != m.data_dir.as_ref()) {
            t.remove_dir_all(&job_dir.join(d))
                .map_err(io_err("remove merged point"))?;
        }
        return Ok(());
    }
    let retired = job_dir.join(format!("{RETIRED}{}", m.id));
    t.rename(&live, &retired)
        .map_err(io_err("retire merged point"))?;
    t.sync_dir(job_dir).map_err(io_err("job directory"))?;
    publish(t, partial, job_dir, m)?;
    t.remove_dir_all(&retired)
        .map_err(io_err("remove merged point"))?;
    t.sync_dir(job_dir).map_err(io_err("job directory"))?;
    Ok(())
}

/// Deletes a point: the manifest goes first, so a crash leaves a directory that is no point.
pub fn delete(t: &dyn Target, point: &Point, job_dir: &Path) -> Result<(), EngineError> {
    if t.objects().is_some() {
        t.remove_file(&point.dir.join(MANIFEST))
            .map_err(io_err("delete point"))?;
        if let Some(d) = point
            .manifest
            .data_dir
            .as_ref()
            .filter(|d| valid_data_dir(d))
        {
            t.remove_dir_all(&job_dir.join(d))
                .map_err(io_err("delete point"))?;
        }
        return t.remove_dir_all(&point.dir).map_err(io_err("delete point"));
    }
    let gone = job_dir.join(format!(
        "{DELETED}{}-{}",
        point.manifest.id,
        uuid::Uuid::new_v4()
    ));
    t.rename(&point.dir, &gone)
        .map_err(io_err("delete point"))?;
    t.sync_dir(job_dir).map_err(io_err("job directory"))?;
    t.remove_dir_all(&gone).map_err(io_err("delete point"))?;
    t.sync_dir(job_dir).map_err(io_err("job directory"))?;
    Ok(())
}

/// A point id: UTC time with milliseconds, strictly after `after` (ids sort by time).
pub fn new_id(after: Option<&str>) -> String {
    let mut t = chrono::Utc::now();
    loop {
        let id = t.format("%Y%m%dT%H%M%S%.3fZ").to_string();
        if after.is_none_or(|a| id.as_str() > a) {
            return id;
        }
        t += chrono::Duration::milliseconds(1);
    }
}

/// The chain ending at `target`: its full and the incrementals up to it, oldest first.
pub fn chain(points: &[Point], target: &str) -> Result<Vec<Point>, EngineError> {
    let mut out = Vec::new();
    let mut id = Some(target.to_string());
    while let Some(cur) = id {
        let p = points
            .iter()
            .find(|p| p.manifest.id == cur)
            .ok_or_else(|| {
                EngineError::Corrupt(format!("point {cur} of the chain of {target} is missing"))
            })?;
        out.push(p.clone());
        id = if p.manifest.is_full() {
            None
        } else {
            p.manifest.parent.clone()
        };
        if out.len() > 10_000 {
            return Err(EngineError::Corrupt(format!("the chain of {target} loops")));
        }
    }
    out.reverse();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::target::LocalTarget;

    /// Many first runs on one new repository at once (a burst of due jobs) all agree on one id,
    /// and it is the one the host registered: before the per-location hold, one in a few hundred
    /// runs recorded an id whose marker had been replaced and refused the repository afterwards.
    #[test]
    fn simultaneous_first_runs_agree_on_one_repository_id() {
        for _round in 0..5 {
            let state = tempfile::tempdir().unwrap();
            let repo = tempfile::tempdir().unwrap();
            let trust = Trust::from_state_dir(state.path(), true).unwrap();
            let ids: Vec<String> = std::thread::scope(|s| {
                let hs: Vec<_> = (0..16)
                    .map(|_| {
                        let trust = trust.clone();
                        let root = repo.path().to_path_buf();
                        s.spawn(move || ensure_repository(&LocalTarget::new(&root), &trust))
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap().unwrap()).collect()
            });
            assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
            let t = LocalTarget::new(repo.path());
            assert_eq!(read_marker(&t).unwrap().unwrap().id.as_ref(), Some(&ids[0]));
            let location = location_key(&t);
            assert_eq!(trust.known_id(&location).unwrap().as_ref(), Some(&ids[0]));
            // And a later run still accepts it.
            assert_eq!(ensure_repository(&t, &trust).unwrap(), ids[0]);
        }
    }

    #[test]
    fn recovery_removes_points_whose_deletion_was_interrupted() {
        let d = tempfile::tempdir().unwrap();
        let t = LocalTarget::new(d.path());
        let job = Path::new("srv/j");
        for dir in ["20261127T120000.000Z", "20261127T130000.000Z", "keep-me"] {
            std::fs::create_dir_all(d.path().join(job).join(dir)).unwrap();
            std::fs::write(d.path().join(job).join(dir).join("data.tar"), b"x").unwrap();
        }
        std::fs::write(
            d.path()
                .join(job)
                .join("20261127T130000.000Z")
                .join(MANIFEST),
            b"{}",
        )
        .unwrap();
        let notes = recover(&t, job);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(!d.path().join(job).join("20261127T120000.000Z").exists());
        assert!(d.path().join(job).join("20261127T130000.000Z").exists());
        assert!(d.path().join(job).join("keep-me").exists());
    }

    /// A manifest's `data_dir` is read and removed through, so only the names this engine
    /// writes pass: never a path out of the job directory, nor another spelling of one.
    #[test]
    fn only_data_directories_this_engine_writes_are_followed() {
        let id = "0b0e6f5e-6a55-4c8e-9b59-1f1e2d3c4b5a";
        assert!(valid_data_dir(&format!(".data/{id}")));
        for bad in [
            "".to_string(),
            ".data".into(),
            ".data/".into(),
            format!(".data/{id}/"),
            format!(".data/{id}/.."),
            format!(".data/../{id}"),
            format!("../.data/{id}"),
            format!("/.data/{id}"),
            format!(".data/{}", id.to_uppercase()),
            format!(".data/{}", id.replace('-', "")),
            format!(".partial-{id}"),
            "20261127T120000.000Z".into(),
        ] {
            assert!(!valid_data_dir(&bad), "{bad:?}");
        }
        // And a point whose manifest names another is not listed, even unauthenticated.
        let d = tempfile::tempdir().unwrap();
        let t = LocalTarget::new(d.path());
        let point = Path::new("job/20261127T120000.000Z");
        t.create_dir_all(point).unwrap();
        let m = serde_json::json!({"format": 4, "id": "20261127T120000.000Z", "job": "j",
            "server": "s", "source": "/", "kind": "full", "parent": null, "started": "",
            "finished": "", "entries": 0, "archived": 0, "source_bytes": 0,
            "archived_bytes": 0, "compression": false, "encryption": false, "recipient": null,
            "files": {}, "data_dir": "../../etc"});
        std::fs::write(d.path().join(point).join(MANIFEST), m.to_string()).unwrap();
        assert!(unverified_points(&t, Path::new("job")).is_empty());
        let key = AuthKey::from_bytes([7; 32]);
        let listing = scan(&t, Path::new("job"), &key);
        assert!(listing.points.is_empty());
        assert!(
            listing.rejected[0].reason.contains("data directory"),
            "{:?}",
            listing.rejected
        );
    }
}
