//! Files that hold secrets (share passwords, S3 keys): read only when they are regular files,
//! not symlinks, owned by the user the daemon runs as, and closed to group and others.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The content of `path`, or an error that says how to fix the file.
pub fn read_private(path: &Path) -> io::Result<String> {
    let meta = std::fs::symlink_metadata(path)?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ));
    }
    if meta.mode() & 0o077 != 0 || meta.uid() != nix::unistd::geteuid().as_raw() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "credentials file {} must be owned by this user with mode 0600 (it is {:o}); \
                 run: chmod 600 {}",
                path.display(),
                meta.mode() & 0o777,
                path.display()
            ),
        ));
    }
    std::fs::read_to_string(path)
}
