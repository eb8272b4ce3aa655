//! What makes a repository's contents trustworthy: a secret only this host holds (the
//! authentication key) and MACs made with it over manifests, job directories and the repository
//! marker; and the registry of repositories this host initialised, so a location whose marker
//! went missing (an unmounted share) is never taken for a new, empty repository.
//!
//! A repository is a share other machines can write to. The age recipient of encrypted points is
//! public (it is in every manifest), so encryption proves nothing about who wrote a point: the
//! keyed BLAKE3 MAC does.

use super::EngineError;
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The authentication key's file in the state directory, beside `backup-key.txt`.
pub const AUTH_KEY_FILE: &str = "repo-auth.key";
/// Where this host records the repositories it uses: location -> repository id.
pub const REGISTRY_FILE: &str = "repositories.json";

/// The host secret that authenticates restore points (32 random bytes, hex in a 0600 file).
#[derive(Clone)]
pub struct AuthKey(Arc<[u8; 32]>);

impl std::fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuthKey({})", self.key_id())
    }
}

fn parse_hex32(text: &str) -> Option<[u8; 32]> {
    let t = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))?;
    if t.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(t.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

impl AuthKey {
    /// A key from raw bytes (tests).
    pub fn from_bytes(b: [u8; 32]) -> AuthKey {
        AuthKey(Arc::new(b))
    }

    /// Reads the key file; it must be a regular file readable by its owner only.
    pub fn load(path: &Path) -> Result<AuthKey, EngineError> {
        let meta = std::fs::symlink_metadata(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                EngineError::NotFound(format!(
                    "no authentication key at {}: restore points cannot be authenticated without \
                     it (copy {AUTH_KEY_FILE} from the host that wrote them into the state \
                     directory)",
                    path.display()
                ))
            } else {
                EngineError::io(format!("authentication key {}", path.display()), e)
            }
        })?;
        if !meta.is_file() || meta.permissions().mode() & 0o077 != 0 {
            return Err(EngineError::Usage(format!(
                "authentication key {} must be a regular file with mode 0600 (run: chmod 600 {})",
                path.display(),
                path.display()
            )));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| EngineError::io(format!("authentication key {}", path.display()), e))?;
        parse_hex32(&text).map(AuthKey::from_bytes).ok_or_else(|| {
            EngineError::Usage(format!(
                "authentication key {} is not 64 hexadecimal digits",
                path.display()
            ))
        })
    }

    /// Loads the key, creating it (mode 0600) the first time. Returns whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(AuthKey, bool), EngineError> {
        if path.exists() {
            return Ok((AuthKey::load(path)?, false));
        }
        let key: [u8; 32] = rand::random();
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        let text = format!(
            "# zdm-backupd repository authentication key, created {}.\n# Keep a copy away from \
             this host with backup-key.txt: restores on a new host need both.\n{hex}\n",
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
        );
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .and_then(|mut f| {
                f.write_all(text.as_bytes())?;
                f.sync_all()
            });
        match created {
            Ok(()) => Ok((AuthKey::from_bytes(key), true)),
            // Another process created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Ok((AuthKey::load(path)?, false))
            }
            Err(e) => Err(EngineError::io(
                format!("cannot create authentication key {}", path.display()),
                e,
            )),
        }
    }

    /// A keyed BLAKE3 MAC over `data`, separated by purpose.
    pub fn mac(&self, purpose: &str, data: &[u8]) -> String {
        let sub = blake3::derive_key(&format!("zdm-backupd {purpose} v1"), &self.0[..]);
        blake3::keyed_hash(&sub, data).to_hex().to_string()
    }

    /// Checks a MAC in constant time.
    pub fn check(&self, purpose: &str, data: &[u8], mac: &str) -> bool {
        let sub = blake3::derive_key(&format!("zdm-backupd {purpose} v1"), &self.0[..]);
        match blake3::Hash::from_hex(mac) {
            // blake3::Hash compares in constant time.
            Ok(h) => blake3::keyed_hash(&sub, data) == h,
            Err(_) => false,
        }
    }

    /// A public name of the key (not secret): lets messages say which key made a MAC.
    pub fn key_id(&self) -> String {
        blake3::derive_key("zdm-backupd key id v1", &self.0[..])[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// How a caller lets the engine authenticate what it reads and record repositories it uses.
#[derive(Clone, Debug)]
pub struct Trust {
    pub key: AuthKey,
    /// The registry file (in the state directory); `None` records nothing (tests).
    pub registry: Option<PathBuf>,
}

impl Trust {
    /// The key and registry of a state directory; creates the key when `create` is set.
    pub fn from_state_dir(state_dir: &Path, create: bool) -> Result<Trust, EngineError> {
        let path = state_dir.join(AUTH_KEY_FILE);
        let key = if create {
            AuthKey::load_or_create(&path)?.0
        } else {
            AuthKey::load(&path)?
        };
        Ok(Trust {
            key,
            registry: Some(state_dir.join(REGISTRY_FILE)),
        })
    }

    /// The repository id this host recorded for `location`, if any.
    pub fn known_id(&self, location: &str) -> Result<Option<String>, EngineError> {
        let Some(path) = &self.registry else {
            return Ok(None);
        };
        Ok(read_registry(path)?.remove(location))
    }

    /// Serialises this host's work on one repository location (initialising it, adding this
    /// host's entry to its marker) across threads and processes: two first runs that start at
    /// once would otherwise each create a marker with its own id, and the one whose id lost
    /// would refuse every later run as "not the repository this host registered". `None` when
    /// there is no registry (tests). The lock is per location, so a share that hangs does not
    /// hold up the others.
    pub fn hold(&self, location: &str) -> Result<Option<RepoHold>, EngineError> {
        let Some(path) = &self.registry else {
            return Ok(None);
        };
        let dir = path.with_extension("locks");
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| EngineError::io(dir.display(), e))?;
        let name = blake3::hash(location.as_bytes()).to_hex();
        let lock = exclusive(&dir.join(format!("{}.lock", &name[..32])))?;
        Ok(Some(RepoHold { _lock: lock }))
    }

    /// Held by everything that reads a job's points (restores, downloads) so that rotation
    /// does not merge or delete them underneath (decision R5). Readers share it; rotation asks
    /// for it exclusively with [`Trust::retire`] and is postponed while a reader holds it.
    /// Without a registry (tests) nothing is locked.
    pub fn read_hold(&self, location: &str, job_dir: &Path) -> Result<PointsHold, EngineError> {
        self.points_lock(location, job_dir, nix::fcntl::FlockArg::LockShared)
    }

    /// The exclusive side of [`Trust::read_hold`], without waiting: `Ok(None)` while a reader
    /// holds it.
    pub fn retire(
        &self,
        location: &str,
        job_dir: &Path,
    ) -> Result<Option<PointsHold>, EngineError> {
        match self.points_lock(
            location,
            job_dir,
            nix::fcntl::FlockArg::LockExclusiveNonblock,
        ) {
            Err(EngineError::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(None),
            other => other.map(Some),
        }
    }

    fn points_lock(
        &self,
        location: &str,
        job_dir: &Path,
        how: nix::fcntl::FlockArg,
    ) -> Result<PointsHold, EngineError> {
        let Some(path) = &self.registry else {
            return Ok(PointsHold { _lock: None });
        };
        let dir = path.with_extension("readers");
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| EngineError::io(dir.display(), e))?;
        let mut h = blake3::Hasher::new();
        h.update(location.as_bytes());
        h.update(b"\0");
        h.update(job_dir.as_os_str().as_encoded_bytes());
        let file = dir.join(format!("{}.lock", &h.finalize().to_hex()[..32]));
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&file)
            .map_err(|e| EngineError::io(file.display(), e))?;
        match nix::fcntl::Flock::lock(f, how) {
            Ok(l) => Ok(PointsHold { _lock: Some(l) }),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
                Err(EngineError::Io(std::io::ErrorKind::WouldBlock.into()))
            }
            Err((_, e)) => Err(EngineError::io(file.display(), e.into())),
        }
    }

    /// Records `location` as repository `id` (atomically, under a lock on the registry).
    pub fn remember(&self, location: &str, id: &str) -> Result<(), EngineError> {
        let Some(path) = &self.registry else {
            return Ok(());
        };
        let _guard = exclusive(&path.with_extension("lock"))?;
        let mut map = read_registry(path)?;
        if map.get(location).map(String::as_str) == Some(id) {
            return Ok(());
        }
        map.insert(location.to_string(), id.to_string());
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        let text = serde_json::to_vec_pretty(&map).map_err(|e| EngineError::Io(e.into()))?;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| {
                f.write_all(&text)?;
                f.sync_all()
            })
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(|e| {
                EngineError::io(format!("cannot record repository in {}", path.display()), e)
            })
    }
}

/// A lock on one job's points; see [`Trust::read_hold`].
pub struct PointsHold {
    _lock: Option<nix::fcntl::Flock<std::fs::File>>,
}

/// Held while this host initialises or updates one repository's marker; see [`Trust::hold`].
pub struct RepoHold {
    _lock: nix::fcntl::Flock<std::fs::File>,
}

/// An exclusive lock on `path` (created 0600), held until dropped; waits for other holders.
fn exclusive(path: &Path) -> Result<nix::fcntl::Flock<std::fs::File>, EngineError> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| EngineError::io(path.display(), e))?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| EngineError::io(path.display(), e.into()))
}

fn read_registry(path: &Path) -> Result<BTreeMap<String, String>, EngineError> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| {
            EngineError::Usage(format!(
                "repository registry {} is damaged: {e}",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(EngineError::io(path.display(), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_depend_on_key_purpose_and_data() {
        let a = AuthKey::from_bytes([1; 32]);
        let b = AuthKey::from_bytes([2; 32]);
        let m = a.mac("manifest", b"x");
        assert!(a.check("manifest", b"x", &m));
        assert!(!a.check("manifest", b"y", &m));
        assert!(!a.check("job", b"x", &m));
        assert!(!b.check("manifest", b"x", &m));
        assert!(!a.check("manifest", b"x", "not hex"));
    }

    #[test]
    fn key_file_is_created_private_and_read_back() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(AUTH_KEY_FILE);
        let (k, created) = AuthKey::load_or_create(&p).unwrap();
        assert!(created);
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (k2, created) = AuthKey::load_or_create(&p).unwrap();
        assert!(!created);
        assert_eq!(k.key_id(), k2.key_id());
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = AuthKey::load(&p).unwrap_err().to_string();
        assert!(e.contains("mode 0600"), "{e}");
    }

    #[test]
    fn rotation_waits_for_readers_of_the_same_job_only() {
        let d = tempfile::tempdir().unwrap();
        let t = Trust::from_state_dir(d.path(), true).unwrap();
        let job = Path::new("web01/web01_ROOT");
        let reader = t.read_hold("/mnt/b", job).unwrap();
        let second = t.read_hold("/mnt/b", job).unwrap(); // readers share it
        assert!(t.retire("/mnt/b", job).unwrap().is_none());
        assert!(
            t.retire("/mnt/c", job).unwrap().is_some(),
            "other repository"
        );
        assert!(t
            .retire("/mnt/b", Path::new("web01/other"))
            .unwrap()
            .is_some());
        drop((reader, second));
        assert!(t.retire("/mnt/b", job).unwrap().is_some());
    }

    #[test]
    fn registry_remembers_locations() {
        let d = tempfile::tempdir().unwrap();
        let t = Trust::from_state_dir(d.path(), true).unwrap();
        assert_eq!(t.known_id("/mnt/b").unwrap(), None);
        t.remember("/mnt/b", "r1").unwrap();
        t.remember("/mnt/c", "r2").unwrap();
        assert_eq!(t.known_id("/mnt/b").unwrap().as_deref(), Some("r1"));
        assert_eq!(t.known_id("/mnt/c").unwrap().as_deref(), Some("r2"));
    }
}
