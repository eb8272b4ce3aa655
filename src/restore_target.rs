//! Where a recovery may write (decision R4): never into a repository or the state directory,
//! never onto a file system this process sees read-only. Checked when a recovery is registered
//! and again when it runs (the disk may have changed in between); the engine's restore then
//! keeps every write below the target.

use std::path::{Path, PathBuf};

/// Directories a restore target must not be in (or contain), with what they are.
pub struct Forbidden {
    pub places: Vec<(PathBuf, String)>,
}

/// A path with symlinks resolved as far as it exists; the rest appended as given.
fn resolved(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    loop {
        if let Ok(c) = existing.canonicalize() {
            let mut out = c;
            for r in rest.iter().rev() {
                out.push(r);
            }
            return out;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(p), Some(n)) => {
                rest.push(n.to_os_string());
                existing = p.to_path_buf();
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// The nearest directory of `path` that exists (where a new target would be created).
fn nearest_existing(path: &Path) -> PathBuf {
    let mut p = path.to_path_buf();
    while !p.exists() {
        match p.parent() {
            Some(parent) => p = parent.to_path_buf(),
            None => break,
        }
    }
    p
}

fn overlaps(a: &Path, b: &Path) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// Why `target` cannot take a restore, if it cannot.
pub fn problem(target: &Path, forbidden: &Forbidden) -> Option<String> {
    let t = resolved(target);
    for (place, what) in &forbidden.places {
        let p = resolved(place);
        if overlaps(&t, &p) {
            return Some(format!(
                "Target '{}' overlaps {what} '{}'; restore somewhere else",
                target.display(),
                place.display()
            ));
        }
    }
    if matches!(
        t.components().nth(1),
        Some(std::path::Component::Normal(n)) if n == "proc" || n == "sys" || n == "dev"
    ) {
        return Some(format!(
            "Target '{}' is a kernel file system",
            target.display()
        ));
    }
    let at = nearest_existing(&t);
    if !at.is_dir() {
        return Some(format!(
            "Target '{}' is not a directory ('{}' is a file)",
            target.display(),
            at.display()
        ));
    }
    match nix::sys::statvfs::statvfs(&at) {
        Ok(st) if st.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY) => Some(format!(
            "Target '{}' is on a file system that is read-only for zdm-backupd. The packaged \
             service sees most of the file system read-only (ProtectSystem=strict) and may write \
             below /var/lib/zdm-backupd, /srv/restore, /mnt, /media and /srv/backup; to restore \
             elsewhere (in place included) allow the directory with `systemctl edit zdm-backupd`: \
             [Service] ReadWritePaths={}",
            target.display(),
            target.display()
        )),
        Ok(_) => None,
        Err(e) => Some(format!(
            "Target '{}' cannot be checked: {e}",
            target.display()
        )),
    }
}

/// The mounted file system a target is (or will be created) on.
pub fn mount_of<'a>(
    target: &Path,
    parts: &'a [crate::host::Partition],
) -> Option<&'a crate::host::Partition> {
    let at = nearest_existing(&resolved(target));
    parts
        .iter()
        .filter(|p| at.starts_with(&p.mount_point))
        .max_by_key(|p| p.mount_point.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_repositories_state_and_files_and_follows_symlinks() {
        let d = tempfile::tempdir().unwrap();
        let repo = d.path().join("repo");
        let state = d.path().join("state");
        std::fs::create_dir_all(&repo).unwrap();
        std::fs::create_dir_all(&state).unwrap();
        std::fs::write(d.path().join("file"), b"x").unwrap();
        std::os::unix::fs::symlink(&repo, d.path().join("link")).unwrap();
        let f = Forbidden {
            places: vec![
                (repo.clone(), "repository".into()),
                (state.clone(), "the state directory".into()),
            ],
        };
        let p = |x: &str| problem(&d.path().join(x), &f);
        assert!(p("repo/sub").unwrap().contains("overlaps repository"));
        assert!(p("link/new").unwrap().contains("overlaps repository"));
        assert!(p("state").unwrap().contains("state directory"));
        assert!(problem(d.path(), &f).unwrap().contains("overlaps"));
        assert!(p("file/x").unwrap().contains("is not a directory"));
        assert_eq!(p("fresh/target"), None);
    }
}
