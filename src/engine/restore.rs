//! Restore: the tree of a point, streamed from its chain's archives into a target directory.
//! Every target path comes from the catalog of the point; a file's content comes from the newest
//! archive of the chain that holds it. Nothing is ever written outside the target.

use super::archive::seek;
use super::backup::catalog_reader;
use super::entry::{walk_cmp, Entry, Kind};
use super::repo::{self, Point};
use super::stream::Shared;
use super::walk::abs;
use super::{CancelToken, EngineError, JobLocation, Progress, ProgressState};
use nix::sys::stat::{Mode, SFlag};
use nix::sys::time::TimeSpec;
use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::iter::Peekable;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub struct RestoreRequest<'a> {
    pub location: JobLocation,
    /// A point id, or `None` for the newest.
    pub point: Option<String>,
    pub target: PathBuf,
    /// Restore only these paths (relative to the partition root) and what is below them.
    pub paths: Vec<Vec<u8>>,
    pub overwrite: bool,
    pub identity: Option<&'a age::x25519::Identity>,
}

#[derive(Debug, Default)]
pub struct RestoreReport {
    pub point: String,
    pub entries: u64,
    pub bytes: u64,
    pub warnings: Vec<String>,
}

/// Refuses absolute paths, `..`, empty components and NUL: such a catalog was not written by us.
pub fn safe_rel(p: &[u8]) -> bool {
    p == b"."
        || (!p.is_empty()
            && !p.starts_with(b"/")
            && !p.contains(&0)
            && p.split(|c| *c == b'/')
                .all(|c| !c.is_empty() && c != b"." && c != b".."))
}

fn below(p: &[u8], dir: &[u8]) -> bool {
    dir == b"." || p == dir || (p.len() > dir.len() && p.starts_with(dir) && p[dir.len()] == b'/')
}

fn wanted(e: &[u8], filters: &[Vec<u8>]) -> bool {
    filters.is_empty() || filters.iter().any(|f| below(e, f) || below(f, e))
}

type Catalog = Peekable<Box<dyn Iterator<Item = Result<Entry, EngineError>>>>;

/// Finds, among the older points of the chain (newest first), the one whose archive holds `e`.
fn source_of(catalogs: &mut [Catalog], e: &Entry) -> Result<Option<usize>, EngineError> {
    for i in (0..catalogs.len()).rev() {
        let c = &mut catalogs[i];
        loop {
            match c.peek() {
                Some(Ok(p)) if walk_cmp(p.path(), e.path()) == std::cmp::Ordering::Less => {
                    c.next();
                }
                Some(Err(_)) => {
                    return Err(c.next().expect("peeked").expect_err("peeked an error"))
                }
                _ => break,
            }
        }
        if let Some(Ok(p)) = c.peek() {
            if p.path() == e.path() && p.w {
                return Ok(Some(i));
            }
        }
    }
    Ok(None)
}

/// Makes sure every directory above `rel` exists inside `target` as a real directory (never a
/// symlink that could lead outside).
fn ensure_parents(target: &Path, rel: &[u8], verified: &mut Vec<u8>) -> Result<(), EngineError> {
    let Some(pos) = rel.iter().rposition(|c| *c == b'/') else {
        return Ok(());
    };
    let parent = &rel[..pos];
    if parent == verified.as_slice() {
        return Ok(());
    }
    let mut cur = target.to_path_buf();
    for comp in parent.split(|c| *c == b'/') {
        cur.push(OsStr::from_bytes(comp));
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(EngineError::Corrupt(format!(
                    "refusing to restore through {}: it is not a directory",
                    cur.display()
                )))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                std::fs::create_dir(&cur)
                    .map_err(|e| EngineError::io(format!("cannot create {}", cur.display()), e))?;
            }
            Err(e) => return Err(EngineError::io(cur.display(), e)),
        }
    }
    *verified = parent.to_vec();
    Ok(())
}

fn remove_existing(path: &Path, overwrite: bool, keep_dir: bool) -> Result<(), EngineError> {
    match std::fs::symlink_metadata(path) {
        Err(_) => Ok(()),
        Ok(m) if m.is_dir() && keep_dir => Ok(()),
        Ok(_) if !overwrite => Err(EngineError::Usage(format!(
            "{} exists; use --overwrite",
            path.display()
        ))),
        Ok(m) if m.is_dir() => {
            std::fs::remove_dir_all(path).map_err(|e| EngineError::io(path.display(), e))
        }
        Ok(_) => std::fs::remove_file(path).map_err(|e| EngineError::io(path.display(), e)),
    }
}

/// Owner, mode, extended attributes and times, in that order (chown clears set-id bits).
fn apply_meta(path: &Path, e: &Entry, as_root: bool, warnings: &mut Vec<String>) {
    if as_root {
        if let Err(err) = nix::unistd::fchownat(
            None,
            path,
            Some(e.uid.into()),
            Some(e.gid.into()),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        ) {
            warnings.push(format!("{}: chown: {err}", path.display()));
        }
    }
    if e.k != Kind::Symlink {
        if let Err(err) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(e.mode)) {
            warnings.push(format!("{}: chmod: {err}", path.display()));
        }
    }
    for (k, v) in &e.xattrs {
        if let Err(err) = xattr::set(path, OsStr::from_bytes(&k.0), &v.0) {
            warnings.push(format!(
                "{}: xattr {}: {err}",
                path.display(),
                String::from_utf8_lossy(&k.0)
            ));
        }
    }
    let t = TimeSpec::new(e.mtime.0, e.mtime.1 as i64);
    if let Err(err) = nix::sys::stat::utimensat(
        None,
        path,
        &t,
        &t,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    ) {
        warnings.push(format!("{}: times: {err}", path.display()));
    }
}

/// Copies a file's content out of an archive: read errors mean a damaged point, write errors
/// a problem with the target.
fn copy_content(
    from: &mut dyn Read,
    to: &mut File,
    buf: &mut [u8],
    id: &str,
    path: &Path,
) -> Result<u64, EngineError> {
    let mut total = 0u64;
    loop {
        let n = match from.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(EngineError::Corrupt(format!("{id}: archive: {e}"))),
        };
        io::Write::write_all(to, &buf[..n])
            .map_err(|e| EngineError::io(format!("restoring {}", path.display()), e))?;
        total += n as u64;
    }
}

pub fn restore(
    req: &RestoreRequest,
    progress: &dyn Progress,
    cancel: &CancelToken,
) -> Result<RestoreReport, EngineError> {
    let t = &*req.location.target;
    let job_dir = req.location.dir();
    let points = repo::points(t, &job_dir);
    let point = match &req.point {
        None => points.last().cloned().ok_or_else(|| {
            EngineError::NotFound(format!(
                "job {} has no restore point in {}",
                req.location.job,
                req.location.describe()
            ))
        })?,
        Some(id) => points
            .iter()
            .find(|p| &p.manifest.id == id)
            .cloned()
            .ok_or_else(|| {
                EngineError::NotFound(format!(
                    "job {} has no restore point {id}",
                    req.location.job
                ))
            })?,
    };
    for f in &req.paths {
        if !safe_rel(f) {
            return Err(EngineError::Usage(format!(
                "--path {} must be relative to the partition root, without '..'",
                String::from_utf8_lossy(f)
            )));
        }
    }
    let chain = repo::chain(&points, &point.manifest.id)?;
    std::fs::create_dir_all(&req.target).map_err(|e| {
        EngineError::io(format!("cannot create target {}", req.target.display()), e)
    })?;
    let target =
        std::fs::canonicalize(&req.target).map_err(|e| EngineError::io(req.target.display(), e))?;
    let non_empty = std::fs::read_dir(&target)
        .map_err(|e| EngineError::io(target.display(), e))?
        .next()
        .is_some();
    if non_empty && !req.overwrite {
        return Err(EngineError::Usage(format!(
            "target {} is not empty; restore into an empty directory or pass --overwrite",
            target.display()
        )));
    }
    let as_root = nix::unistd::geteuid().is_root();
    let mut report = RestoreReport {
        point: point.manifest.id.clone(),
        ..Default::default()
    };
    if !as_root {
        report
            .warnings
            .push("not running as root: owners and device nodes are not restored".into());
    }
    let open_catalog = |p: &Point| -> Result<Catalog, EngineError> {
        Ok(
            (Box::new(catalog_reader(t, p, req.identity)?) as Box<dyn Iterator<Item = _>>)
                .peekable(),
        )
    };
    let (older, _) = chain.split_at(chain.len() - 1);
    let mut older_catalogs: Vec<Catalog> =
        older.iter().map(open_catalog).collect::<Result<_, _>>()?;
    let digests: Vec<Shared> = chain.iter().map(|_| Shared::default()).collect();
    let mut archives: Vec<tar::Archive<Box<dyn Read + Send>>> = chain
        .iter()
        .zip(&digests)
        .map(|(p, d)| {
            let m = &p.manifest;
            let f = t
                .open(&p.dir.join(m.data_file()))
                .map_err(|e| EngineError::io(format!("archive of {}", m.id), e))?;
            let tap = Some(d.clone());
            Ok(tar::Archive::new(
                super::stream::reader(f, m.compression, req.identity, m.encryption, tap)
                    .map_err(|e| super::backup::key_named(e, m))?,
            ))
        })
        .collect::<Result<_, EngineError>>()?;
    let mut entries: Vec<Peekable<tar::Entries<'_, Box<dyn Read + Send>>>> = archives
        .iter_mut()
        .map(|a| a.entries().map(Iterator::peekable))
        .collect::<io::Result<_>>()
        .map_err(|e| EngineError::Corrupt(e.to_string()))?;
    let last = chain.len() - 1;
    let total = point.manifest.source_bytes;
    let mut state = ProgressState {
        phase: "restore",
        total_files: point.manifest.entries,
        total_bytes: total,
        ..Default::default()
    };
    let mut verified = Vec::new();
    let mut copy_buf = vec![0u8; 1024 * 1024];
    let mut tick = std::time::Instant::now();
    for e in catalog_reader(t, &point, req.identity)? {
        cancel.check()?;
        let e = e?;
        if !safe_rel(e.path()) {
            return Err(EngineError::Corrupt(format!(
                "{}: unsafe path {:?} in the catalog",
                point.manifest.id,
                String::from_utf8_lossy(e.path())
            )));
        }
        if !wanted(e.path(), &req.paths) {
            continue;
        }
        let path = abs(&target, e.path());
        ensure_parents(&target, e.path(), &mut verified)?;
        match e.k {
            Kind::Dir => {
                if e.path() != b"." {
                    remove_existing(&path, req.overwrite, true)?;
                    if !path.exists() {
                        std::fs::create_dir(&path)
                            .map_err(|err| EngineError::io(path.display(), err))?;
                    }
                }
            }
            Kind::File => {
                let src = if e.w {
                    Some(last)
                } else {
                    source_of(&mut older_catalogs, &e)?
                };
                let src = src.ok_or_else(|| {
                    EngineError::Corrupt(format!(
                        "no archive of the chain holds {}",
                        String::from_utf8_lossy(e.path())
                    ))
                })?;
                let id = &chain[src].manifest.id;
                let mut rec = seek(&mut entries[src], e.path(), id)?.ok_or_else(|| {
                    EngineError::Corrupt(format!(
                        "{id}: the archive lacks {}",
                        String::from_utf8_lossy(e.path())
                    ))
                })?;
                remove_existing(&path, req.overwrite, false)?;
                let mut out = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .custom_flags(nix::libc::O_NOFOLLOW)
                    .mode(0o600)
                    .open(&path)
                    .map_err(|err| {
                        EngineError::io(format!("cannot create {}", path.display()), err)
                    })?;
                let n = copy_content(&mut rec, &mut out, &mut copy_buf, id, &path)?;
                if n != e.size {
                    return Err(EngineError::Corrupt(format!(
                        "{id}: {} has {n} bytes, the catalog says {}",
                        String::from_utf8_lossy(e.path()),
                        e.size
                    )));
                }
                report.bytes += n;
                state.bytes += n;
            }
            Kind::HardLink => {
                let to = abs(
                    &target,
                    &e.link.as_ref().map(|l| l.0.clone()).unwrap_or_default(),
                );
                remove_existing(&path, req.overwrite, false)?;
                if let Err(err) = std::fs::hard_link(&to, &path) {
                    report.warnings.push(format!(
                        "{}: hard link to {}: {err}",
                        path.display(),
                        to.display()
                    ));
                }
                report.entries += 1;
                continue; // shares the inode (and its metadata) with its first name
            }
            Kind::Symlink => {
                remove_existing(&path, req.overwrite, false)?;
                let to =
                    OsStr::from_bytes(&e.link.as_ref().map(|l| l.0.clone()).unwrap_or_default())
                        .to_owned();
                std::os::unix::fs::symlink(&to, &path)
                    .map_err(|err| EngineError::io(path.display(), err))?;
            }
            Kind::Fifo | Kind::Char | Kind::Block => {
                remove_existing(&path, req.overwrite, false)?;
                let kind = match e.k {
                    Kind::Fifo => SFlag::S_IFIFO,
                    Kind::Char => SFlag::S_IFCHR,
                    _ => SFlag::S_IFBLK,
                };
                if e.k != Kind::Fifo && !as_root {
                    report.warnings.push(format!(
                        "{}: device node not restored (needs root)",
                        path.display()
                    ));
                    continue;
                }
                nix::sys::stat::mknod(&path, kind, Mode::from_bits_truncate(0o600), e.rdev)
                    .map_err(|err| EngineError::io(path.display(), err.into()))?;
            }
        }
        if e.k != Kind::Dir {
            apply_meta(&path, &e, as_root, &mut report.warnings);
        }
        report.entries += 1;
        state.files += 1;
        if tick.elapsed().as_millis() >= 200 {
            state.current = String::from_utf8_lossy(e.path()).into_owned();
            progress.update(&state);
            tick = std::time::Instant::now();
        }
    }
    // Every archive read is checked against its manifest hash, so damage fails the restore
    // loudly instead of leaving a silently wrong file.
    drop(entries);
    for ((a, d), p) in archives.into_iter().zip(&digests).zip(&chain) {
        let m = &p.manifest;
        io::copy(&mut a.into_inner(), &mut io::sink())
            .map_err(|e| EngineError::Corrupt(format!("{}: archive: {e}", m.id)))?;
        let g = d.lock().unwrap_or_else(|e| e.into_inner());
        let want = &m.files[&m.data_file()];
        if g.1 != want.size || g.0.clone().finalize().to_hex().as_str() != want.blake3 {
            return Err(EngineError::Corrupt(format!("{}: {} does not match its BLAKE3 hash in the manifest; the restored files cannot be trusted", m.id, m.data_file())));
        }
    }
    // Directories last: their times and modes would change while children are written.
    for e in catalog_reader(t, &point, req.identity)? {
        let e = e?;
        if e.k == Kind::Dir && wanted(e.path(), &req.paths) {
            apply_meta(&abs(&target, e.path()), &e, as_root, &mut report.warnings);
        }
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

    #[test]
    fn never_writes_through_a_symlinked_parent() {
        let d = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), d.path().join("a")).unwrap();
        let mut verified = Vec::new();
        let e = ensure_parents(d.path(), b"a/b/c", &mut verified).unwrap_err();
        assert!(e.to_string().contains("refusing to restore through"), "{e}");
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
        ensure_parents(d.path(), b"x/y/z", &mut verified).unwrap();
        assert!(d.path().join("x/y").is_dir());
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
