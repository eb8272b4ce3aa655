//! File-system operations for restores that a local user cannot redirect: everything is done
//! relative to directory descriptors opened without following symlinks, metadata is set through
//! descriptors of the very inode that was created, and no path is ever resolved again later.
//!
//! The target directory may belong to an unprivileged user who swaps directories for symlinks
//! while root restores into it; with these operations the swap only ever affects where that
//! user could write anyway.

use super::entry::{Entry, Kind};
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, ResolveFlags, Timestamps};
use rustix::fs::{Gid, Uid};
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn name(b: &[u8]) -> &OsStr {
    OsStr::from_bytes(b)
}

/// Opens the restore target itself (the operator's path; symlinks in it are the operator's).
pub fn open_root(path: &Path) -> io::Result<OwnedFd> {
    Ok(rfs::open(
        path,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Opens the directory `n` in `parent`, refusing a symlink.
pub fn open_dir(parent: BorrowedFd, n: &[u8]) -> io::Result<OwnedFd> {
    Ok(rfs::openat(
        parent,
        name(n),
        OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Opens the directory `rel` below `root`: with `openat2` (beneath the root, no symlinks at
/// all) where the kernel has it, otherwise one no-follow component at a time.
pub fn open_beneath(root: BorrowedFd, rel: &[u8]) -> io::Result<OwnedFd> {
    if rel.is_empty() || rel == b"." {
        return Ok(rfs::openat(
            root,
            ".",
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )?);
    }
    match rfs::openat2(
        root,
        name(rel),
        OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    ) {
        Err(rustix::io::Errno::NOSYS) => {}
        other => return Ok(other?),
    }
    let mut cur = open_beneath(root, b".")?;
    for comp in rel.split(|c| *c == b'/') {
        cur = open_dir(cur.as_fd(), comp)?;
    }
    Ok(cur)
}

/// What is at `n` in `parent`, without following a symlink; `None` if nothing.
pub fn lstat(parent: BorrowedFd, n: &[u8]) -> io::Result<Option<FileType>> {
    match rfs::statat(parent, name(n), AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(FileType::from_raw_mode(st.st_mode))),
        Err(rustix::io::Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// What is at `n` in `parent` now (not following a symlink), if anything.
pub fn stat_at(parent: BorrowedFd, n: &[u8]) -> io::Result<Option<rfs::Stat>> {
    match rfs::statat(parent, name(n), AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(rustix::io::Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Where the symlink `n` in `parent` points.
pub fn read_link(parent: BorrowedFd, n: &[u8]) -> io::Result<Vec<u8>> {
    Ok(rfs::readlinkat(parent, name(n), Vec::new())?.into_bytes())
}

/// Removes `n` from `parent`: a file or symlink is unlinked, a directory removed with all it
/// holds (descending through no-follow descriptors, never through a symlink).
pub fn remove(parent: BorrowedFd, n: &[u8]) -> io::Result<()> {
    match lstat(parent, n)? {
        None => Ok(()),
        Some(FileType::Directory) => {
            let dir = open_dir(parent, n)?;
            let mut names = Vec::new();
            for ent in rfs::Dir::read_from(&dir)? {
                let ent = ent?;
                let b = ent.file_name().to_bytes();
                if b != b"." && b != b".." {
                    names.push(b.to_vec());
                }
            }
            for child in names {
                remove(dir.as_fd(), &child)?;
            }
            Ok(rfs::unlinkat(parent, name(n), AtFlags::REMOVEDIR)?)
        }
        Some(_) => Ok(rfs::unlinkat(parent, name(n), AtFlags::empty())?),
    }
}

/// The name prefix of the files a restore writes before renaming them into place.
const TEMP_PREFIX: &str = ".zdm-restore-";

/// Removes the temporary files a restore killed before it could rename them left in `dir`:
/// regular files with the temporary prefix whose inode last changed before `since`, when the
/// sweeping restore started (a restore running now changes its own files' inodes as it writes
/// them). Compared to the nanosecond, less the file system clock's coarseness (a few
/// milliseconds): a run killed and restarted within the same second left files the next run
/// must remove. Returns how many went.
pub fn sweep_temps(dir: BorrowedFd, since: std::time::SystemTime) -> io::Result<u64> {
    const COARSE: std::time::Duration = std::time::Duration::from_millis(20);
    let since = (since - COARSE)
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let since = (since.as_secs() as i64, since.subsec_nanos() as i64);
    let mut gone = 0;
    for e in rfs::Dir::read_from(dir)? {
        let e = e?;
        let n = e.file_name().to_bytes();
        if !n.starts_with(TEMP_PREFIX.as_bytes()) {
            continue;
        }
        let st = rfs::statat(dir, name(n), AtFlags::SYMLINK_NOFOLLOW)?;
        let changed = (st.st_ctime as i64, st.st_ctime_nsec as i64);
        if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile && changed < since {
            rfs::unlinkat(dir, name(n), AtFlags::empty())?;
            gone += 1;
        }
    }
    Ok(gone)
}

/// Creates a new file under a unique temporary name in `parent` (mode 0600, never through a
/// symlink); returns it and its name.
pub fn create_temp(parent: BorrowedFd) -> io::Result<(File, Vec<u8>)> {
    loop {
        let tmp = format!("{TEMP_PREFIX}{:016x}", rand::random::<u64>()).into_bytes();
        match rfs::openat(
            parent,
            name(&tmp),
            OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::WRONLY | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        ) {
            Ok(fd) => return Ok((File::from(fd), tmp)),
            Err(rustix::io::Errno::EXIST) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// An unnamed scratch file (mode 0600) on the file system of `dir`, gone when closed; in the
/// temporary directory where the file system has no unnamed files.
pub fn scratch(dir: BorrowedFd) -> io::Result<File> {
    match rfs::openat(
        dir,
        ".",
        OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    ) {
        Ok(fd) => Ok(File::from(fd)),
        Err(_) => tempfile::tempfile(),
    }
}

pub fn rename(parent: BorrowedFd, from: &[u8], to: &[u8]) -> io::Result<()> {
    Ok(rfs::renameat(parent, name(from), parent, name(to))?)
}

pub fn unlink(parent: BorrowedFd, n: &[u8]) -> io::Result<()> {
    Ok(rfs::unlinkat(parent, name(n), AtFlags::empty())?)
}

pub fn mkdir(parent: BorrowedFd, n: &[u8]) -> io::Result<()> {
    Ok(rfs::mkdirat(parent, name(n), Mode::from_raw_mode(0o700))?)
}

pub fn symlink(parent: BorrowedFd, n: &[u8], to: &[u8]) -> io::Result<()> {
    Ok(rfs::symlinkat(name(to), parent, name(n))?)
}

/// A hard link at `n` in `parent` to the file `from_name` in `from_dir` (never following a
/// symlink at the source).
pub fn hard_link(
    from_dir: BorrowedFd,
    from_name: &[u8],
    parent: BorrowedFd,
    n: &[u8],
) -> io::Result<()> {
    if lstat(from_dir, from_name)? != Some(FileType::RegularFile) {
        return Err(io::Error::other(
            "the link's first name is not a regular file",
        ));
    }
    Ok(rfs::linkat(
        from_dir,
        name(from_name),
        parent,
        name(n),
        AtFlags::empty(),
    )?)
}

/// A fifo or device node, created with mode 0600 (metadata follows through `meta_node`).
pub fn mknod(parent: BorrowedFd, n: &[u8], kind: Kind, rdev: u64) -> io::Result<()> {
    let ft = match kind {
        Kind::Fifo => FileType::Fifo,
        Kind::Char => FileType::CharacterDevice,
        _ => FileType::BlockDevice,
    };
    Ok(rfs::mknodat(
        parent,
        name(n),
        ft,
        Mode::from_raw_mode(0o600),
        rdev,
    )?)
}

fn times(e: &Entry) -> Timestamps {
    let t = rustix::fs::Timespec {
        tv_sec: e.mtime.0,
        tv_nsec: e.mtime.1 as _,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

fn owner(e: &Entry) -> (Option<Uid>, Option<Gid>) {
    (Some(Uid::from_raw(e.uid)), Some(Gid::from_raw(e.gid)))
}

/// Owner, mode, extended attributes and times of an open file or directory, in that order
/// (chown clears set-id bits, so the mode comes after it).
pub fn meta_fd(fd: BorrowedFd, e: &Entry, as_root: bool, label: &str, warnings: &mut Vec<String>) {
    if as_root {
        let (u, g) = owner(e);
        if let Err(err) = rfs::fchown(fd, u, g) {
            warnings.push(format!("{label}: chown: {err}"));
        }
    }
    if let Err(err) = rfs::fchmod(fd, Mode::from_raw_mode(e.mode & 0o7777)) {
        warnings.push(format!("{label}: chmod: {err}"));
    }
    for (k, v) in &e.xattrs {
        if let Err(err) = rfs::fsetxattr(fd, name(&k.0), &v.0, rfs::XattrFlags::empty()) {
            warnings.push(format!(
                "{label}: xattr {}: {err}",
                String::from_utf8_lossy(&k.0)
            ));
        }
    }
    if let Err(err) = rfs::futimens(fd, &times(e)) {
        warnings.push(format!("{label}: times: {err}"));
    }
}

/// Metadata of a symlink, fifo or device node just created at `n` in `parent`. The node is
/// opened with `O_PATH | O_NOFOLLOW` and checked to be of the expected type, and changes go to
/// that inode, so a node swapped for a symlink is never followed.
pub fn meta_node(
    parent: BorrowedFd,
    n: &[u8],
    e: &Entry,
    as_root: bool,
    label: &str,
    warnings: &mut Vec<String>,
) {
    let fd = match rfs::openat(
        parent,
        name(n),
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(err) => {
            warnings.push(format!("{label}: {err}"));
            return;
        }
    };
    let want = match e.k {
        Kind::Symlink => FileType::Symlink,
        Kind::Fifo => FileType::Fifo,
        Kind::Char => FileType::CharacterDevice,
        _ => FileType::BlockDevice,
    };
    match rfs::fstat(&fd) {
        Ok(st) if FileType::from_raw_mode(st.st_mode) == want => {}
        _ => {
            warnings.push(format!(
                "{label}: replaced while being restored; left as is"
            ));
            return;
        }
    }
    if as_root {
        let (u, g) = owner(e);
        if let Err(err) = rfs::chownat(&fd, "", u, g, AtFlags::EMPTY_PATH) {
            warnings.push(format!("{label}: chown: {err}"));
        }
    }
    // The /proc magic link names exactly the inode held by `fd`.
    let proc_path = format!("/proc/self/fd/{}", fd.as_raw_fd());
    if e.k != Kind::Symlink {
        if let Err(err) = rfs::chmod(proc_path.as_str(), Mode::from_raw_mode(e.mode & 0o7777)) {
            warnings.push(format!("{label}: chmod: {err}"));
        }
        for (k, v) in &e.xattrs {
            if let Err(err) = rfs::setxattr(
                proc_path.as_str(),
                name(&k.0),
                &v.0,
                rfs::XattrFlags::empty(),
            ) {
                warnings.push(format!(
                    "{label}: xattr {}: {err}",
                    String::from_utf8_lossy(&k.0)
                ));
            }
        }
    } else if !e.xattrs.is_empty() {
        warnings.push(format!(
            "{label}: extended attributes of symlinks are not restored"
        ));
    }
    if let Err(err) = rfs::utimensat(parent, name(n), &times(e), AtFlags::SYMLINK_NOFOLLOW) {
        warnings.push(format!("{label}: times: {err}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweeps_temps_older_than_the_restore_even_within_the_same_second() {
        let d = tempfile::tempdir().unwrap();
        let root = open_root(d.path()).unwrap();
        let (_, killed) = create_temp(root.as_fd()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(30));
        let since = std::time::SystemTime::now();
        std::thread::sleep(std::time::Duration::from_millis(30));
        let (_, current) = create_temp(root.as_fd()).unwrap();
        std::fs::write(d.path().join(".zdm-restore-plain-name"), b"x").unwrap();
        std::fs::rename(
            d.path().join(".zdm-restore-plain-name"),
            d.path().join("kept"),
        )
        .unwrap();
        assert_eq!(sweep_temps(root.as_fd(), since).unwrap(), 1);
        let left: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        let killed = String::from_utf8(killed).unwrap();
        let current = String::from_utf8(current).unwrap();
        assert!(!left.contains(&killed), "{left:?}");
        assert!(left.contains(&current), "{left:?}");
        assert!(left.contains(&"kept".to_string()), "{left:?}");
    }

    #[test]
    fn never_opens_through_a_symlink() {
        let d = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("real")).unwrap();
        std::os::unix::fs::symlink(outside.path(), d.path().join("a")).unwrap();
        let root = open_root(d.path()).unwrap();
        assert!(open_dir(root.as_fd(), b"a").is_err());
        assert!(open_beneath(root.as_fd(), b"a").is_err());
        assert!(open_beneath(root.as_fd(), b"real").is_ok());
        std::os::unix::fs::symlink("..", d.path().join("real/up")).unwrap();
        assert!(open_beneath(root.as_fd(), b"real/up").is_err());
        // Removing a symlink to a directory removes the link, not what it points to.
        std::fs::write(outside.path().join("keep"), b"x").unwrap();
        remove(root.as_fd(), b"a").unwrap();
        assert!(outside.path().join("keep").exists());
        let (f, tmp) = create_temp(root.as_fd()).unwrap();
        drop(f);
        rename(root.as_fd(), &tmp, b"file").unwrap();
        assert!(d.path().join("file").is_file());
    }
}
