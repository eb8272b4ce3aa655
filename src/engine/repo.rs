//! The repository layout: the format marker, one directory per job with its LOCK, restore point
//! directories that exist only once their MANIFEST.json is in place, and `.partial-*`
//! directories of runs in progress.

use super::EngineError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
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
    pub dir: PathBuf,
    pub manifest: Manifest,
}

/// Checks the repository exists and carries (or now gets) the format marker.
pub fn ensure_repository(repo: &Path) -> Result<(), EngineError> {
    if !repo.is_dir() {
        return Err(EngineError::NotFound(format!(
            "repository {} is not an existing directory",
            repo.display()
        )));
    }
    let marker = repo.join(MARKER);
    if !marker.exists() {
        // Unique per writer: two runs may create the marker of a new repository at once.
        let tmp = repo.join(format!(
            "{MARKER}.tmp-{}-{:x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        let mut f = File::create(&tmp).map_err(|e| {
            EngineError::io(format!("cannot write to repository {}", repo.display()), e)
        })?;
        f.write_all(b"{\"format\": 1, \"writer\": \"zdm-backupd\"}\n")
            .map_err(|e| EngineError::io("repository marker", e))?;
        f.sync_all()
            .map_err(|e| EngineError::io("repository marker", e))?;
        if let Err(e) = std::fs::rename(&tmp, &marker) {
            let _ = std::fs::remove_file(&tmp);
            if !marker.exists() {
                return Err(EngineError::io("repository marker", e));
            }
        }
    }
    Ok(())
}

/// An advisory lock on a job directory, held for a run, merge or prune.
pub struct JobLock {
    _lock: nix::fcntl::Flock<File>,
}

pub fn lock(job_dir: &Path, job: &str) -> Result<JobLock, EngineError> {
    std::fs::create_dir_all(job_dir)
        .map_err(|e| EngineError::io(format!("cannot create {}", job_dir.display()), e))?;
    let path = job_dir.join("LOCK");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| EngineError::io(format!("cannot open {}", path.display()), e))?;
    match nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock) {
        Ok(mut l) => {
            // Who holds it, for the message another process will show.
            let _ = l.set_len(0);
            let _ = writeln!(&mut *l, "pid {}", std::process::id());
            Ok(JobLock { _lock: l })
        }
        Err((_, _)) => {
            let holder = std::fs::read_to_string(&path)
                .unwrap_or_default()
                .trim()
                .to_string();
            Err(EngineError::Locked(
                job.to_string(),
                if holder.is_empty() {
                    "unknown pid".into()
                } else {
                    holder
                },
            ))
        }
    }
}

pub fn read_manifest(dir: &Path) -> Option<Manifest> {
    let text = std::fs::read_to_string(dir.join(MANIFEST)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Published restore points, oldest first. Partial and retired directories are never points.
pub fn points(job_dir: &Path) -> Vec<Point> {
    let Ok(rd) = std::fs::read_dir(job_dir) else {
        return Vec::new();
    };
    let mut out: Vec<Point> = rd
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter(|e| e.path().is_dir())
        .filter_map(|e| {
            read_manifest(&e.path()).map(|m| Point {
                dir: e.path(),
                manifest: m,
            })
        })
        .filter(|p| {
            p.dir
                .file_name()
                .is_some_and(|n| n.to_string_lossy() == p.manifest.id)
        })
        .collect();
    out.sort_by(|a, b| a.manifest.id.cmp(&b.manifest.id));
    out
}

/// How many published points a job directory holds, from directory names alone (point ids
/// look like `20261127T120000.000Z`; partial and retired directories start with a dot).
pub fn point_count(job_dir: &Path) -> usize {
    std::fs::read_dir(job_dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| {
                    let n = e.file_name();
                    let n = n.to_string_lossy();
                    !n.starts_with('.')
                        && n.len() == 20
                        && n.as_bytes()[8] == b'T'
                        && n.ends_with('Z')
                })
                .count()
        })
        .unwrap_or(0)
}

/// Removes what interrupted runs left (call with the lock held): partial directories, and a
/// merge interrupted between its two renames is finished or rolled back.
pub fn recover(job_dir: &Path) -> Vec<String> {
    let mut notes = Vec::new();
    let Ok(rd) = std::fs::read_dir(job_dir) else {
        return notes;
    };
    for e in rd.filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(PARTIAL) {
            if std::fs::remove_dir_all(e.path()).is_ok() {
                notes.push(format!("removed {name} left by an interrupted run"));
            }
        } else if let Some(id) = name.strip_prefix(RETIRED) {
            let live = job_dir.join(id);
            if read_manifest(&live).is_some() {
                let _ = std::fs::remove_dir_all(e.path());
            } else {
                let _ = std::fs::remove_dir_all(&live);
                if std::fs::rename(e.path(), &live).is_ok() {
                    notes.push(format!("rolled back an interrupted merge of {id}"));
                }
            }
        }
    }
    let _ = sync_dir(job_dir);
    notes
}

pub fn new_partial(job_dir: &Path) -> Result<PathBuf, EngineError> {
    let p = job_dir.join(format!("{PARTIAL}{}", uuid::Uuid::new_v4()));
    std::fs::create_dir(&p)
        .map_err(|e| EngineError::io(format!("cannot create {}", p.display()), e))?;
    Ok(p)
}

pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes the manifest last, then renames the partial directory to the point id and syncs the
/// job directory: a crash leaves either no point or a complete one.
pub fn publish(partial: &Path, job_dir: &Path, m: &Manifest) -> Result<PathBuf, EngineError> {
    let path = partial.join(MANIFEST);
    let mut f = File::create(&path).map_err(|e| EngineError::io("manifest", e))?;
    let text =
        serde_json::to_vec_pretty(m).map_err(|e| EngineError::Io(std::io::Error::other(e)))?;
    f.write_all(&text)
        .map_err(|e| EngineError::io("manifest", e))?;
    f.sync_all().map_err(|e| EngineError::io("manifest", e))?;
    sync_dir(partial).map_err(|e| EngineError::io("partial directory", e))?;
    let dest = job_dir.join(&m.id);
    std::fs::rename(partial, &dest)
        .map_err(|e| EngineError::io(format!("cannot publish {}", m.id), e))?;
    sync_dir(job_dir).map_err(|e| EngineError::io("job directory", e))?;
    Ok(dest)
}

/// Replaces point `id` with the published contents of `partial` (a merge): the old directory
/// is renamed aside first so that a crash in between can be rolled back by `recover`.
pub fn replace(partial: &Path, job_dir: &Path, m: &Manifest) -> Result<(), EngineError> {
    let live = job_dir.join(&m.id);
    let retired = job_dir.join(format!("{RETIRED}{}", m.id));
    std::fs::rename(&live, &retired).map_err(|e| EngineError::io("retire merged point", e))?;
    sync_dir(job_dir).map_err(|e| EngineError::io("job directory", e))?;
    publish(partial, job_dir, m)?;
    std::fs::remove_dir_all(&retired).map_err(|e| EngineError::io("remove merged point", e))?;
    sync_dir(job_dir).map_err(|e| EngineError::io("job directory", e))?;
    Ok(())
}

/// Deletes a point: the manifest goes first, so a crash leaves a directory that is no point.
pub fn delete(point: &Point, job_dir: &Path) -> Result<(), EngineError> {
    std::fs::remove_file(point.dir.join(MANIFEST))
        .map_err(|e| EngineError::io("delete point", e))?;
    sync_dir(&point.dir).ok();
    std::fs::remove_dir_all(&point.dir).map_err(|e| EngineError::io("delete point", e))?;
    sync_dir(job_dir).map_err(|e| EngineError::io("job directory", e))?;
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
