//! The repository layout: the format marker, one directory per job with its LOCK, restore point
//! directories that exist only once their MANIFEST.json is in place, and `.partial-*`
//! directories of runs in progress.

use super::target::{LockError, LockGuard, Target};
use super::EngineError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const MARKER: &str = "zdm-backup.json";
pub const MANIFEST: &str = "MANIFEST.json";
pub const DATA: &str = "data.tar";
pub const CATALOG: &str = "catalog.jsonl";
const PARTIAL: &str = ".partial-";
const RETIRED: &str = ".retired-";

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
}

impl Manifest {
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

fn io_err(context: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> EngineError {
    move |e| EngineError::io(context, e)
}

/// Checks the repository exists and carries (or now gets) the format marker.
pub fn ensure_repository(t: &dyn Target) -> Result<(), EngineError> {
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
    let marker = Path::new(MARKER);
    if !t
        .exists(marker)
        .map_err(io_err(format!("repository {}", t.describe())))?
    {
        // Unique per writer: two runs may create the marker of a new repository at once.
        let tmp = PathBuf::from(format!(
            "{MARKER}.tmp-{}-{:x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        let mut f = t.create_new(&tmp).map_err(io_err(format!(
            "cannot write to repository {}",
            t.describe()
        )))?;
        f.write_all(b"{\"format\": 1, \"writer\": \"zdm-backupd\"}\n")
            .map_err(io_err("repository marker"))?;
        f.commit().map_err(io_err("repository marker"))?;
        if let Err(e) = t.rename(&tmp, marker) {
            let _ = t.remove_file(&tmp);
            if !t.exists(marker).unwrap_or(false) {
                return Err(EngineError::io("repository marker", e));
            }
        }
    }
    Ok(())
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

/// Published restore points, oldest first. Partial and retired directories are never points.
pub fn points(t: &dyn Target, job_dir: &Path) -> Vec<Point> {
    let Ok(entries) = t.list(job_dir) else {
        return Vec::new();
    };
    let mut out: Vec<Point> = entries
        .into_iter()
        .filter(|e| e.is_dir && !e.name.starts_with('.'))
        .filter_map(|e| {
            let dir = job_dir.join(&e.name);
            read_manifest(t, &dir)
                .filter(|m| m.id == e.name)
                .map(|m| Point { dir, manifest: m })
        })
        .collect();
    out.sort_by(|a, b| a.manifest.id.cmp(&b.manifest.id));
    out
}

/// How many published points a job directory holds, from directory names alone (point ids
/// look like `20261127T120000.000Z`; partial and retired directories start with a dot).
pub fn point_count(t: &dyn Target, job_dir: &Path) -> usize {
    t.list(job_dir)
        .map(|entries| {
            entries
                .iter()
                .filter(|e| {
                    let n = e.name.as_bytes();
                    e.is_dir && n.len() == 20 && n[0] != b'.' && n[8] == b'T' && n[19] == b'Z'
                })
                .count()
        })
        .unwrap_or(0)
}

/// The points of a job directory on this host.
pub fn points_in(job_dir: &Path) -> Vec<Point> {
    points(&super::target::LocalTarget::new(job_dir), Path::new(""))
}

/// The point count of a job directory on this host.
pub fn point_count_in(job_dir: &Path) -> usize {
    point_count(&super::target::LocalTarget::new(job_dir), Path::new(""))
}

/// Removes what interrupted runs left (call with the lock held): partial directories, and a
/// merge interrupted between its two renames is finished or rolled back.
pub fn recover(t: &dyn Target, job_dir: &Path) -> Vec<String> {
    let mut notes = Vec::new();
    let Ok(entries) = t.list(job_dir) else {
        return notes;
    };
    for e in entries {
        let path = job_dir.join(&e.name);
        if e.name.starts_with(PARTIAL) {
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
        }
    }
    let _ = t.sync_dir(job_dir);
    notes
}

pub fn new_partial(t: &dyn Target, job_dir: &Path) -> Result<PathBuf, EngineError> {
    let p = job_dir.join(format!("{PARTIAL}{}", uuid::Uuid::new_v4()));
    t.create_dir(&p)
        .map_err(io_err(format!("cannot create {}", describe(t, &p))))?;
    Ok(p)
}

/// Writes the manifest last, then renames the partial directory to the point id and syncs the
/// job directory: a crash leaves either no point or a complete one.
pub fn publish(
    t: &dyn Target,
    partial: &Path,
    job_dir: &Path,
    m: &Manifest,
) -> Result<PathBuf, EngineError> {
    let mut f = t
        .create(&partial.join(MANIFEST))
        .map_err(io_err("manifest"))?;
    let text =
        serde_json::to_vec_pretty(m).map_err(|e| EngineError::Io(std::io::Error::other(e)))?;
    f.write_all(&text).map_err(io_err("manifest"))?;
    f.commit().map_err(io_err("manifest"))?;
    t.sync_dir(partial).map_err(io_err("partial directory"))?;
    let dest = job_dir.join(&m.id);
    t.rename(partial, &dest)
        .map_err(io_err(format!("cannot publish {}", m.id)))?;
    t.sync_dir(job_dir).map_err(io_err("job directory"))?;
    Ok(dest)
}

/// Replaces point `id` with the published contents of `partial` (a merge): the old directory
/// is renamed aside first so that a crash in between can be rolled back by `recover`.
pub fn replace(
    t: &dyn Target,
    partial: &Path,
    job_dir: &Path,
    m: &Manifest,
) -> Result<(), EngineError> {
    let live = job_dir.join(&m.id);
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
    t.remove_file(&point.dir.join(MANIFEST))
        .map_err(io_err("delete point"))?;
    t.sync_dir(&point.dir).ok();
    t.remove_dir_all(&point.dir)
        .map_err(io_err("delete point"))?;
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
