//! Restore: the tree of a point, streamed from its chain's archives into a target directory.
//! Every target path comes from the catalog of the point; a file's content comes from the newest
//! archive of the chain that holds it. Nothing is ever written outside the target.

use super::catalog::{below, catalog_reader, roots, safe_rel, stepped, Stepped};
use super::content_check::ContentCheck;
use super::delta;
use super::entry::{walk_cmp, Entry, Kind};
use super::repo::{self, Point};
use super::safe_fs;
use super::stream::Shared;
use super::{CancelToken, EngineError, JobLocation, Progress, ProgressState};
use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read};
use std::iter::Peekable;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// What happens to something already at a path the restore writes (RECOVERIES.md R3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    /// Replace it.
    Always,
    /// Replace it when type, size, modification time, mode, owner or link target differ.
    IfChanged,
    /// Replace it when the point's copy is newer.
    IfNewer,
    /// Keep it (the entry is counted as skipped).
    Never,
    /// The target must be empty or absent.
    Fail,
}

impl Overwrite {
    pub fn parse(s: &str) -> Option<Overwrite> {
        Some(match s {
            "always" => Overwrite::Always,
            "if-changed" => Overwrite::IfChanged,
            "if-newer" => Overwrite::IfNewer,
            "never" => Overwrite::Never,
            "fail" => Overwrite::Fail,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Overwrite::Always => "always",
            Overwrite::IfChanged => "if-changed",
            Overwrite::IfNewer => "if-newer",
            Overwrite::Never => "never",
            Overwrite::Fail => "fail",
        }
    }
}

/// Where restored entries land.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// `<target>/<path relative to the partition>`.
    #[default]
    Original,
    /// Each selected path directly under the target (`home/ann/docs` -> `<target>/docs`).
    Flat,
}

pub struct RestoreRequest<'a> {
    pub location: JobLocation,
    /// A point id, or `None` for the newest.
    pub point: Option<String>,
    pub target: PathBuf,
    /// Restore only these paths (relative to the partition root) and what is below them.
    pub paths: Vec<Vec<u8>>,
    /// Skip entries (and what is below them) that match one of these globs: a pattern with a
    /// `/` matches the path relative to the partition root, one without matches the name.
    pub exclude: Vec<String>,
    pub overwrite: Overwrite,
    pub layout: Layout,
    /// Remove what the target holds below a fully selected directory and the point does not
    /// (original layout only; excluded names are left alone).
    pub delete: bool,
    /// Read back what was written and compare it with the catalog.
    pub verify: bool,
    pub identity: Option<&'a age::x25519::Identity>,
    /// Restore a point that fails authentication (disaster recovery only; loudly reported).
    pub allow_unauthenticated: bool,
    /// Read the repository at most this fast (a recovery's `networkLimit`).
    pub bytes_per_sec: Option<u64>,
}

/// The read-back of a restore: entries checked, and what did not match (the first 50).
#[derive(Debug, Default, Clone)]
pub struct Verified {
    pub checked: u64,
    pub mismatches: u64,
    pub examples: Vec<String>,
}

#[derive(Debug, Default)]
pub struct RestoreReport {
    pub point: String,
    pub entries: u64,
    pub bytes: u64,
    /// Entries left as they were in the target (the overwrite policy kept them).
    pub skipped: u64,
    /// Entries removed from the target because the point does not have them (`delete`).
    pub deleted: u64,
    /// With `verify`: what the read-back found.
    pub verify: Option<Verified>,
    pub warnings: Vec<String>,
}

fn wanted(e: &[u8], filters: &[Vec<u8>]) -> bool {
    filters.is_empty() || filters.iter().any(|f| below(e, f) || below(f, e))
}

/// Where a catalog path lands below the target; `None` for the directories above a selected
/// path in a flat layout (they are not restored).
fn place(layout: Layout, roots: &[Vec<u8>], p: &[u8]) -> Option<Vec<u8>> {
    if layout == Layout::Original {
        return Some(p.to_vec());
    }
    let root = roots.iter().find(|r| below(p, r))?;
    Some(super::catalog::flat_member(root, p))
}

/// The `exclude` globs: with a `/` they match the path relative to the partition root, without
/// one the entry's name.
#[derive(Clone)]
struct Exclude {
    paths: globset::GlobSet,
    names: globset::GlobSet,
}

impl Exclude {
    fn new(patterns: &[String]) -> Result<Exclude, EngineError> {
        let (mut paths, mut names) = (
            globset::GlobSetBuilder::new(),
            globset::GlobSetBuilder::new(),
        );
        for p in patterns {
            let rel = p.trim_start_matches('/');
            let glob = globset::GlobBuilder::new(rel)
                .literal_separator(true)
                .build()
                .map_err(|e| EngineError::Usage(format!("exclude pattern '{p}': {e}")))?;
            if rel.contains('/') {
                paths.add(glob);
            } else {
                names.add(glob);
            }
        }
        let built = |b: globset::GlobSetBuilder| {
            b.build()
                .map_err(|e| EngineError::Usage(format!("exclude patterns: {e}")))
        };
        Ok(Exclude {
            paths: built(paths)?,
            names: built(names)?,
        })
    }

    fn matches(&self, p: &[u8]) -> bool {
        if p == b"." {
            return false;
        }
        let path = std::ffi::OsStr::from_bytes(p);
        let name = std::ffi::OsStr::from_bytes(super::catalog::split(p).1);
        self.paths.is_match(path) || self.names.is_match(name)
    }

    /// Whether `p` or a directory above it is excluded.
    fn matches_below(&self, p: &[u8]) -> bool {
        let mut at = p;
        loop {
            if self.matches(at) {
                return true;
            }
            match at.iter().rposition(|c| *c == b'/') {
                Some(i) => at = &at[..i],
                None => return false,
            }
        }
    }
}

/// Whether what is already at a path stays, under `policy` (`Err` for policy `fail`).
fn keeps(
    policy: Overwrite,
    st: &rustix::fs::Stat,
    e: &Entry,
    link: impl FnOnce() -> Option<Vec<u8>>,
    label: &str,
) -> Result<bool, EngineError> {
    let mtime = (st.st_mtime, st.st_mtime_nsec as u32);
    Ok(match policy {
        Overwrite::Always => false,
        Overwrite::Never => true,
        Overwrite::Fail => {
            return Err(EngineError::Usage(format!(
                "{label} exists in the target (overwrite policy fail)"
            )))
        }
        Overwrite::IfNewer => e.mtime <= mtime,
        Overwrite::IfChanged => {
            let kind = rustix::fs::FileType::from_raw_mode(st.st_mode);
            let same_kind = matches!(
                (e.k, kind),
                (
                    Kind::File | Kind::HardLink,
                    rustix::fs::FileType::RegularFile
                ) | (Kind::Symlink, rustix::fs::FileType::Symlink)
                    | (Kind::Fifo, rustix::fs::FileType::Fifo)
                    | (Kind::Char, rustix::fs::FileType::CharacterDevice)
                    | (Kind::Block, rustix::fs::FileType::BlockDevice)
            );
            let meta = e.k == Kind::HardLink
                || (st.st_size as u64 == e.size
                    && mtime == e.mtime
                    && st.st_mode & 0o7777 == e.mode & 0o7777
                    && st.st_uid == e.uid
                    && st.st_gid == e.gid);
            let link_same = e.k != Kind::Symlink || link() == e.link.as_ref().map(|l| l.0.clone());
            same_kind && meta && link_same
        }
    })
}

/// Compares what is at `at` below the target with its catalog line.
fn check_restored(root: BorrowedFd, at: &[u8], e: &Entry, as_root: bool) -> Result<(), String> {
    use rustix::fs::FileType as T;
    let (dir, n) = if at == b"." {
        (&b"."[..], &b"."[..])
    } else {
        super::catalog::split(at)
    };
    let parent = safe_fs::open_beneath(root, dir).map_err(|err| err.to_string())?;
    let st = safe_fs::stat_at(parent.as_fd(), n)
        .map_err(|err| err.to_string())?
        .ok_or("missing")?;
    let kind = T::from_raw_mode(st.st_mode);
    let want = match e.k {
        Kind::File | Kind::HardLink => T::RegularFile,
        Kind::Dir => T::Directory,
        Kind::Symlink => T::Symlink,
        Kind::Fifo => T::Fifo,
        Kind::Char => T::CharacterDevice,
        Kind::Block => T::BlockDevice,
    };
    if kind != want {
        return Err(format!("is a {kind:?}, the point has a {want:?}"));
    }
    if e.k == Kind::Symlink {
        let to = safe_fs::read_link(parent.as_fd(), n).map_err(|err| err.to_string())?;
        if Some(&to) != e.link.as_ref().map(|l| &l.0) {
            return Err("the link points elsewhere".into());
        }
        return Ok(());
    }
    if e.k != Kind::HardLink && st.st_mode & 0o7777 != e.mode & 0o7777 {
        return Err(format!(
            "mode {:04o}, the point has {:04o}",
            st.st_mode & 0o7777,
            e.mode & 0o7777
        ));
    }
    if as_root && e.k != Kind::HardLink && (st.st_uid != e.uid || st.st_gid != e.gid) {
        return Err(format!(
            "owner {}:{}, the point has {}:{}",
            st.st_uid, st.st_gid, e.uid, e.gid
        ));
    }
    if e.k == Kind::File {
        if st.st_size as u64 != e.size {
            return Err(format!("{} bytes, the point has {}", st.st_size, e.size));
        }
        if e.h.is_some() || e.parts.is_some() {
            let mut check = ContentCheck::of(e)?;
            let fd = rustix::fs::openat(
                parent.as_fd(),
                std::ffi::OsStr::from_bytes(n),
                rustix::fs::OFlags::RDONLY
                    | rustix::fs::OFlags::NOFOLLOW
                    | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .map_err(|err| err.to_string())?;
            io::copy(&mut File::from(fd), &mut check).map_err(|err| err.to_string())?;
            check
                .finish()
                .map_err(|why| format!("the content differs from the point's: {why}"))?;
        }
    }
    Ok(())
}

/// One open directory of the restore: the target root or a directory below it, held by a
/// descriptor from the moment it was opened (never resolved again), with the catalog entry
/// whose metadata it gets once everything below it is written.
struct Frame {
    path: Vec<u8>,
    fd: OwnedFd,
    entry: Option<Entry>,
    /// With `delete`, for a fully selected directory: the names the point has in it.
    seen: Option<HashSet<Vec<u8>>>,
}

/// Whether `dir` is `p` itself or a directory above it.
fn is_ancestor(dir: &[u8], p: &[u8]) -> bool {
    dir == b"." || below(p, dir)
}

fn show(p: &[u8]) -> String {
    String::from_utf8_lossy(p).into_owned()
}

/// The restore's directory descriptors, kept in step with the catalog's walk order.
struct Dirs {
    stack: Vec<Frame>,
    /// When this restore started: temporary files that changed before are a killed run's.
    started: std::time::SystemTime,
    as_root: bool,
    overwrite: bool,
    /// Names `delete` must leave alone.
    exclude: Exclude,
    deleted: u64,
}

impl Dirs {
    fn top(&self) -> BorrowedFd<'_> {
        self.stack.last().expect("the root stays").fd.as_fd()
    }

    /// Closes directories the walk has left, giving each its metadata now that nothing more
    /// will be written below it.
    fn leave_until(&mut self, p: &[u8], warnings: &mut Vec<String>) {
        while self.stack.len() > 1 && !is_ancestor(&self.stack.last().expect("len > 1").path, p) {
            let f = self.stack.pop().expect("len > 1");
            self.sweep(&f, warnings);
            self.prune(&f, warnings);
            if let Some(e) = &f.entry {
                safe_fs::meta_fd(f.fd.as_fd(), e, self.as_root, &show(&f.path), warnings);
            }
        }
    }

    /// Notes that the point has `name` in the top directory (for `delete`).
    fn saw(&mut self, name: &[u8]) {
        if let Some(seen) = self.stack.last_mut().and_then(|f| f.seen.as_mut()) {
            seen.insert(name.to_vec());
        }
    }

    /// Removes what a killed restore left in `f` under temporary names.
    fn sweep(&self, f: &Frame, warnings: &mut Vec<String>) {
        if let Err(e) = safe_fs::sweep_temps(f.fd.as_fd(), self.started) {
            warnings.push(format!(
                "{}: cannot remove the temporary files of an interrupted restore: {e}",
                show(&f.path)
            ));
        }
    }

    /// With `delete`: removes what `f` holds that the point does not (excluded names stay).
    fn prune(&mut self, f: &Frame, warnings: &mut Vec<String>) {
        let Some(seen) = &f.seen else { return };
        let names: Vec<Vec<u8>> = match rustix::fs::Dir::read_from(&f.fd) {
            Ok(d) => d
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_bytes().to_vec())
                .filter(|n| n != b"." && n != b"..")
                .collect(),
            Err(e) => {
                warnings.push(format!("{}: cannot list for delete: {e}", show(&f.path)));
                return;
            }
        };
        for n in names {
            let path = if f.path == b"." {
                n.clone()
            } else {
                [f.path.as_slice(), b"/", n.as_slice()].concat()
            };
            if seen.contains(&n) || self.exclude.matches(&path) {
                continue;
            }
            match safe_fs::remove(f.fd.as_fd(), &n) {
                Ok(()) => self.deleted += 1,
                Err(e) => warnings.push(format!("{}: not deleted: {e}", show(&path))),
            }
        }
    }

    /// Makes the top of the stack the directory `dir` (which lies below the current top),
    /// opening or creating each missing level without following symlinks.
    fn descend_to(&mut self, dir: &[u8]) -> Result<(), EngineError> {
        loop {
            let top = &self.stack.last().expect("the root stays").path;
            if top.as_slice() == dir {
                return Ok(());
            }
            let rest = if top.as_slice() == b"." {
                dir
            } else {
                &dir[top.len() + 1..]
            };
            let comp = rest.split(|c| *c == b'/').next().expect("non-empty");
            let path = if top.as_slice() == b"." {
                comp.to_vec()
            } else {
                [top.as_slice(), b"/", comp].concat()
            };
            let fd = self.open_or_make(comp, &path)?;
            self.stack.push(Frame {
                path,
                fd,
                entry: None,
                seen: None,
            });
        }
    }

    /// Opens directory `n` of the top directory, creating it (0700 until its metadata is set)
    /// when missing; something else in its place is replaced only with `overwrite`.
    fn open_or_make(&self, n: &[u8], path: &[u8]) -> Result<OwnedFd, EngineError> {
        let parent = self.top();
        let io = |e: io::Error| EngineError::io(format!("restoring {}", show(path)), e);
        match safe_fs::lstat(parent, n).map_err(io)? {
            Some(rustix::fs::FileType::Directory) => {}
            None => safe_fs::mkdir(parent, n).map_err(io)?,
            Some(_) if self.overwrite => {
                safe_fs::remove(parent, n).map_err(io)?;
                safe_fs::mkdir(parent, n).map_err(io)?;
            }
            Some(_) => {
                return Err(EngineError::Usage(format!(
                    "{} exists and is not a directory; use --overwrite",
                    show(path)
                )))
            }
        }
        // Opened without following: a directory swapped for a symlink in between fails here.
        safe_fs::open_dir(parent, n).map_err(|e| {
            EngineError::Usage(format!(
                "refusing to restore through {}: it is not a directory ({e})",
                show(path)
            ))
        })
    }

    /// Clears the way for a non-directory entry `n` in the top directory.
    fn clear(&self, n: &[u8], path: &[u8]) -> Result<(), EngineError> {
        let parent = self.top();
        let io = |e: io::Error| EngineError::io(format!("restoring {}", show(path)), e);
        match safe_fs::lstat(parent, n).map_err(io)? {
            None => Ok(()),
            Some(_) if !self.overwrite => Err(EngineError::Usage(format!(
                "{} exists; use --overwrite",
                show(path)
            ))),
            Some(_) => safe_fs::remove(parent, n).map_err(io),
        }
    }
}

/// Copies a file's content out of an archive into `to`, passing it through `check`: read errors
/// mean a damaged point, write errors a problem with the target.
fn copy_content(
    from: &mut dyn Read,
    to: &mut File,
    buf: &mut [u8],
    check: &mut ContentCheck,
    id: &str,
    path: &[u8],
) -> Result<u64, EngineError> {
    let mut total = 0u64;
    loop {
        let n = match from.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(EngineError::Corrupt(format!("{id}: archive: {e}"))),
        };
        check.update(&buf[..n]);
        io::Write::write_all(to, &buf[..n])
            .map_err(|e| EngineError::io(format!("restoring {}", show(path)), e))?;
        total += n as u64;
    }
}

/// The point to restore and its chain. Only authenticated points are candidates unless the
/// request explicitly allows unauthenticated ones; a rejected point asked for by id is named
/// with the reason.
fn select(req: &RestoreRequest, warnings: &mut Vec<String>) -> Result<Vec<Point>, EngineError> {
    req.location.check()?;
    let t = &*req.location.target;
    let job_dir = req.location.dir();
    let listing = repo::scan(t, &job_dir, &req.location.trust.key);
    let candidates = if req.allow_unauthenticated {
        repo::unverified_points(t, &job_dir)
    } else {
        listing.points.clone()
    };
    let point = match &req.point {
        None => {
            let p = candidates.last().cloned().ok_or_else(|| {
                EngineError::NotFound(format!(
                    "job {} has no authenticated restore point in {}{}",
                    req.location.job,
                    req.location.describe(),
                    if listing.rejected.is_empty() {
                        String::new()
                    } else {
                        format!(" ({} rejected: see `points`)", listing.rejected.len())
                    }
                ))
            })?;
            for r in listing.rejected.iter().filter(|r| r.name > p.manifest.id) {
                warnings.push(format!("{} is newer but not used: {}", r.name, r.reason));
            }
            p
        }
        Some(id) => match candidates.iter().find(|p| &p.manifest.id == id) {
            Some(p) => p.clone(),
            None => {
                return Err(match listing.rejected.iter().find(|r| &r.name == id) {
                    Some(r) => EngineError::Corrupt(format!(
                        "restore point {id} is refused: {}. Restoring it anyway needs \
                         --allow-unauthenticated (only for disaster recovery, when you know \
                         where it came from)",
                        r.reason
                    )),
                    None => EngineError::NotFound(format!(
                        "job {} has no restore point {id}",
                        req.location.job
                    )),
                })
            }
        },
    };
    let chain = repo::chain(&candidates, &point.manifest.id)?;
    if req.allow_unauthenticated {
        for p in &chain {
            if !listing
                .points
                .iter()
                .any(|a| a.manifest.id == p.manifest.id)
            {
                warnings.push(format!(
                    "{} is NOT authenticated and was restored only because \
                     --allow-unauthenticated was given",
                    p.manifest.id
                ));
            }
        }
    }
    Ok(chain)
}

pub fn restore(
    req: &RestoreRequest,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<RestoreReport, EngineError> {
    let t = &*req.location.target;
    for f in &req.paths {
        if !safe_rel(f) {
            return Err(EngineError::Usage(format!(
                "--path {} must be relative to the partition root, without '..'",
                String::from_utf8_lossy(f)
            )));
        }
    }
    if req.delete && req.layout == Layout::Flat {
        return Err(EngineError::Usage(
            "delete works with the original layout only (a flat layout mixes directories)".into(),
        ));
    }
    // Rotation leaves the points alone while they are read (R5).
    let _reading = req
        .location
        .trust
        .read_hold(&super::repo::location_key(t), &req.location.dir())?;
    let mut warnings = Vec::new();
    let chain = select(req, &mut warnings)?;
    let point = chain.last().expect("a chain is never empty").clone();
    std::fs::create_dir_all(&req.target).map_err(|e| {
        EngineError::io(format!("cannot create target {}", req.target.display()), e)
    })?;
    let root = safe_fs::open_root(&req.target)
        .map_err(|e| EngineError::io(format!("target {}", req.target.display()), e))?;
    let non_empty = std::fs::read_dir(&req.target)
        .map_err(|e| EngineError::io(req.target.display(), e))?
        .next()
        .is_some();
    if non_empty && req.overwrite == Overwrite::Fail {
        return Err(EngineError::Usage(format!(
            "target {} is not empty; restore into an empty directory or choose what happens to \
             what is there (overwrite policy always, if-changed, if-newer or never)",
            req.target.display()
        )));
    }
    let exclude = Exclude::new(&req.exclude)?;
    let roots = roots(&req.paths);
    // Catalog paths the overwrite policy kept as they were (not verified).
    let mut kept: HashSet<u64> = HashSet::new();
    let as_root = nix::unistd::geteuid().is_root();
    let mut report = RestoreReport {
        point: point.manifest.id.clone(),
        warnings,
        ..Default::default()
    };
    if !as_root {
        report
            .warnings
            .push("not running as root: owners and device nodes are not restored".into());
    }
    let (older, _) = chain.split_at(chain.len() - 1);
    let mut older_catalogs: Vec<Stepped> = older
        .iter()
        .map(|p| stepped(t, p, req.identity))
        .collect::<Result<_, _>>()?;
    let digests: Vec<Shared> = chain.iter().map(|_| Shared::default()).collect();
    let mut archives: Vec<tar::Archive<Box<dyn Read + Send>>> = chain
        .iter()
        .zip(&digests)
        .map(|(p, d)| {
            let m = &p.manifest;
            let f = t
                .open(&p.file(&m.data_file()))
                .map_err(|e| EngineError::io(format!("archive of {}", m.id), e))?;
            let f: Box<dyn Read + Send> = match req.bytes_per_sec {
                Some(rate) => Box::new(super::stream::Throttled::new(f, rate, cancel.clone())),
                None => f,
            };
            let tap = Some(d.clone());
            Ok(tar::Archive::new(
                super::stream::reader(f, m.compression, req.identity, m.encryption, tap)
                    .map_err(|e| super::catalog::key_named(e, m))?,
            ))
        })
        .collect::<Result<_, EngineError>>()?;
    let mut entries: Vec<Peekable<tar::Entries<'_, Box<dyn Read + Send>>>> = archives
        .iter_mut()
        .map(|a| a.entries().map(Iterator::peekable))
        .collect::<io::Result<_>>()
        .map_err(|e| EngineError::Corrupt(e.to_string()))?;
    let ids: Vec<&str> = chain.iter().map(|p| p.manifest.id.as_str()).collect();
    let mut state = ProgressState {
        phase: "restore",
        total_files: point.manifest.entries,
        total_bytes: point.manifest.source_bytes,
        ..Default::default()
    };
    let mut dirs = Dirs {
        started: std::time::SystemTime::now(),
        stack: vec![Frame {
            path: b".".to_vec(),
            fd: root,
            entry: None,
            seen: (req.delete && roots == [b".".to_vec()]).then(HashSet::new),
        }],
        exclude: exclude.clone(),
        deleted: 0,
        as_root,
        // What the policy lets the restore replace once it decided to (keeps() said so).
        overwrite: matches!(
            req.overwrite,
            Overwrite::Always | Overwrite::IfChanged | Overwrite::IfNewer
        ),
    };
    // Paths excluded with everything below them: the newest excluded directory.
    let mut excluded: Option<Vec<u8>> = None;
    // Regular files written so far (a hash of each path): a hard link may only name one.
    let mut files_written: HashSet<u64> = HashSet::new();
    let path_key = |p: &[u8]| {
        let h = blake3::hash(p);
        u64::from_le_bytes(h.as_bytes()[..8].try_into().expect("8 bytes"))
    };
    let mut copy_buf = vec![0u8; 1024 * 1024];
    let mut tick = std::time::Instant::now();
    for e in catalog_reader(t, &point, req.identity)? {
        cancel.check()?;
        let e = e?;
        if !wanted(e.path(), &req.paths) {
            continue;
        }
        if excluded.as_ref().is_some_and(|x| below(e.path(), x)) {
            continue;
        }
        if exclude.matches(e.path()) {
            excluded = Some(e.path().to_vec());
            continue;
        }
        let Some(rel) = place(req.layout, &roots, e.path()) else {
            continue; // above a selected path in a flat layout
        };
        let label = show(e.path());
        dirs.leave_until(&rel, &mut report.warnings);
        if rel == b"." {
            dirs.stack[0].entry = Some(e);
            report.entries += 1;
            state.files += 1;
            continue;
        }
        let (parent, n) = super::catalog::split(&rel);
        dirs.descend_to(parent)?;
        dirs.saw(n);
        if e.k != Kind::Dir {
            let existing = safe_fs::stat_at(dirs.top(), n)
                .map_err(|err| EngineError::io(format!("restoring {label}"), err))?;
            if let Some(st) = existing {
                let link = || safe_fs::read_link(dirs.top(), n).ok();
                if keeps(req.overwrite, &st, &e, link, &label)? {
                    kept.insert(path_key(e.path()));
                    report.skipped += 1;
                    state.skipped = report.skipped;
                    state.files += 1;
                    if e.k == Kind::File {
                        files_written.insert(path_key(e.path()));
                    }
                    continue;
                }
            }
        }
        match e.k {
            Kind::Dir => {
                let fd = dirs.open_or_make(n, &rel)?;
                let whole = roots.iter().any(|r| below(e.path(), r));
                dirs.stack.push(Frame {
                    path: rel.clone(),
                    fd,
                    entry: Some(e.clone()),
                    seen: (req.delete && whole).then(HashSet::new),
                });
            }
            Kind::File => {
                let id = &point.manifest.id;
                let mut check = ContentCheck::of(&e)
                    .map_err(|why| EngineError::Corrupt(format!("{id}: {label}: {why}")))?;
                // A delta is rebuilt through a scratch file beside where the file goes.
                let mut rec = delta::content(&mut older_catalogs, &mut entries, &ids, &e, &|| {
                    safe_fs::scratch(dirs.top())
                })?;
                // Written under a temporary name; it takes its own only once its size and
                // hash (or parts) match the catalog, so tampered content never sits under a
                // final name.
                let (mut out, tmp) = safe_fs::create_temp(dirs.top())
                    .map_err(|err| EngineError::io(format!("cannot create {label}"), err))?;
                let written = copy_content(&mut rec, &mut out, &mut copy_buf, &mut check, id, &rel);
                let checked = written.and_then(|n_bytes| {
                    if n_bytes != e.size {
                        return Err(EngineError::Corrupt(format!(
                            "{id}: {label} has {n_bytes} bytes, the catalog says {}",
                            e.size
                        )));
                    }
                    check
                        .finish()
                        .map_err(|why| EngineError::Corrupt(format!("{id}: {label}: {why}")))?;
                    Ok(n_bytes)
                });
                let n_bytes = match checked {
                    Ok(b) => b,
                    Err(err) => {
                        drop(out);
                        let _ = safe_fs::unlink(dirs.top(), &tmp);
                        return Err(err);
                    }
                };
                safe_fs::meta_fd(out.as_fd(), &e, as_root, &label, &mut report.warnings);
                drop(out);
                // A rename replaces a file but not a directory; only `--overwrite` gets here
                // with something in the way.
                let in_the_way = dirs.overwrite
                    && matches!(
                        safe_fs::lstat(dirs.top(), n),
                        Ok(Some(rustix::fs::FileType::Directory))
                    );
                let placed = if in_the_way {
                    dirs.clear(n, &rel)
                } else {
                    Ok(())
                }
                .and_then(|()| {
                    safe_fs::rename(dirs.top(), &tmp, n)
                        .map_err(|err| EngineError::io(format!("restoring {label}"), err))
                });
                if let Err(err) = placed {
                    let _ = safe_fs::unlink(dirs.top(), &tmp);
                    return Err(err);
                }
                files_written.insert(path_key(e.path()));
                report.bytes += n_bytes;
                state.bytes += n_bytes;
            }
            Kind::HardLink => {
                let to = e.link.as_ref().map(|l| l.0.clone()).unwrap_or_default();
                if !safe_rel(&to) || walk_cmp(&to, e.path()) != std::cmp::Ordering::Less {
                    return Err(EngineError::Corrupt(format!(
                        "{}: hard link {label} names {:?}, which is not an earlier entry of the \
                         point",
                        point.manifest.id,
                        show(&to)
                    )));
                }
                if !files_written.contains(&path_key(&to)) {
                    if wanted(&to, &req.paths) && !exclude.matches_below(&to) {
                        return Err(EngineError::Corrupt(format!(
                            "{}: hard link {label} names {:?}, which is not a file of the point",
                            point.manifest.id,
                            show(&to)
                        )));
                    }
                    report.warnings.push(format!(
                        "{label}: not restored: its first name {} is outside the selected paths",
                        show(&to)
                    ));
                    continue;
                }
                dirs.clear(n, &rel)?;
                let to = place(req.layout, &roots, &to).unwrap_or(to);
                let (to_dir, to_name) = super::catalog::split(&to);
                let linked = safe_fs::open_beneath(dirs.stack[0].fd.as_fd(), to_dir)
                    .and_then(|d| safe_fs::hard_link(d.as_fd(), to_name, dirs.top(), n));
                if let Err(err) = linked {
                    report
                        .warnings
                        .push(format!("{label}: hard link to {}: {err}", show(&to)));
                }
                report.entries += 1;
                continue; // shares the inode (and its metadata) with its first name
            }
            Kind::Symlink => {
                dirs.clear(n, &rel)?;
                let to = e.link.as_ref().map(|l| l.0.clone()).unwrap_or_default();
                safe_fs::symlink(dirs.top(), n, &to)
                    .map_err(|err| EngineError::io(format!("restoring {label}"), err))?;
                safe_fs::meta_node(dirs.top(), n, &e, as_root, &label, &mut report.warnings);
            }
            Kind::Fifo | Kind::Char | Kind::Block => {
                dirs.clear(n, &rel)?;
                if e.k != Kind::Fifo && !as_root {
                    report
                        .warnings
                        .push(format!("{label}: device node not restored (needs root)"));
                    continue;
                }
                safe_fs::mknod(dirs.top(), n, e.k, e.rdev)
                    .map_err(|err| EngineError::io(format!("restoring {label}"), err))?;
                safe_fs::meta_node(dirs.top(), n, &e, as_root, &label, &mut report.warnings);
            }
        }
        report.entries += 1;
        state.files += 1;
        if tick.elapsed().as_millis() >= 200 {
            state.current = label;
            progress.update(&state);
            tick = std::time::Instant::now();
        }
    }
    // Every archive read is checked against its manifest hash, so damage fails the restore
    // loudly instead of leaving a silently wrong file.
    drop(entries);
    for ((a, d), p) in archives.into_iter().zip(&digests).zip(&chain) {
        super::catalog::finish_archive(a.into_inner(), d, &p.manifest)?;
    }
    // Directories last (deepest first, the root at the very end): their times and modes would
    // change while children are written.
    dirs.leave_until(b"\0", &mut report.warnings);
    let root = dirs.stack.pop().expect("the root stays");
    dirs.sweep(&root, &mut report.warnings);
    dirs.prune(&root, &mut report.warnings);
    report.deleted = dirs.deleted;
    if req.verify {
        state.phase = "verify";
        progress.update(&state);
        let mut v = Verified::default();
        for e in catalog_reader(t, &point, req.identity)? {
            cancel.check()?;
            let e = e?;
            if !wanted(e.path(), &req.paths)
                || exclude.matches_below(e.path())
                || kept.contains(&path_key(e.path()))
            {
                continue;
            }
            let Some(at) = place(req.layout, &roots, e.path()) else {
                continue;
            };
            v.checked += 1;
            if let Err(why) = check_restored(root.fd.as_fd(), &at, &e, as_root) {
                v.mismatches += 1;
                if v.examples.len() < 50 {
                    v.examples.push(format!("{}: {why}", show(&at)));
                }
            }
        }
        report.verify = Some(v);
    }
    if let Some(e) = &root.entry {
        safe_fs::meta_fd(root.fd.as_fd(), e, as_root, ".", &mut report.warnings);
    }
    state.phase = "done";
    progress.update(&state);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_paths_are_refused() {
        for ok in [&b"."[..], b"a", b"a/b", b"a/.b", b"..a"] {
            assert!(safe_rel(ok), "{:?}", String::from_utf8_lossy(ok));
        }
        for bad in [
            &b""[..],
            b"/etc",
            b"../x",
            b"a/../../x",
            b"a//b",
            b"a/./b",
            b"a\0b",
        ] {
            assert!(!safe_rel(bad), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    /// The read-back finds content, size, mode and type differences, and passes what matches.
    #[test]
    fn read_back_finds_differences() {
        use crate::engine::entry::Bytes;
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("dir")).unwrap();
        std::fs::write(d.path().join("dir/f"), b"right\n").unwrap();
        std::fs::set_permissions(
            d.path().join("dir/f"),
            std::os::unix::fs::PermissionsExt::from_mode(0o640),
        )
        .unwrap();
        let root = safe_fs::open_root(d.path()).unwrap();
        let entry = |content: &[u8], mode: u32, k: Kind| Entry {
            p: Bytes(b"dir/f".to_vec()),
            k,
            mode,
            uid: nix::unistd::geteuid().as_raw(),
            gid: nix::unistd::getegid().as_raw(),
            size: content.len() as u64,
            mtime: (0, 0),
            ctime: (0, 0),
            ino: 0,
            rdev: 0,
            link: None,
            xattrs: vec![],
            w: true,
            h: Some(blake3::hash(content).to_hex().to_string()),
            ps: None,
            parts: None,
            delta: None,
        };
        let check = |e: &Entry| check_restored(root.as_fd(), b"dir/f", e, false);
        assert_eq!(check(&entry(b"right\n", 0o640, Kind::File)), Ok(()));
        assert!(check(&entry(b"wrong\n", 0o640, Kind::File))
            .unwrap_err()
            .contains("content"));
        assert!(check(&entry(b"longer\n", 0o640, Kind::File))
            .unwrap_err()
            .contains("bytes"));
        assert!(check(&entry(b"right\n", 0o600, Kind::File))
            .unwrap_err()
            .contains("mode"));
        assert!(check(&entry(b"", 0o640, Kind::Dir))
            .unwrap_err()
            .contains("Directory"));
        assert_eq!(
            check_restored(
                root.as_fd(),
                b"dir/nope",
                &entry(b"", 0o640, Kind::File),
                false
            ),
            Err("missing".to_string())
        );
    }

    #[test]
    fn filters() {
        let f = vec![b"etc/ssh".to_vec()];
        assert!(wanted(b"etc", &f));
        assert!(wanted(b"etc/ssh/sshd_config", &f));
        assert!(!wanted(b"etc/sshx", &f));
        assert!(wanted(b"anything", &[]));
    }
}
