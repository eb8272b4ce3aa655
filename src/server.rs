//! Start-up in one straight line: state directory, database and migrations, secrets, admin user,
//! host registration, then the HTTP listener. `start` is shared by `main` and the tests.

use crate::auth::{self, TokenKeys};
use crate::config::Settings;
use crate::db::{self, Db};
use crate::host;
use crate::state::AppState;
use actix_web::{web, App, HttpServer};
use anyhow::{bail, Context};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::Path;

pub const DB_FILE: &str = "zdm-backupd.db";

/// Creates the state directory (mode 0700) when it does not exist, and tightens one that
/// exists: it must be a real directory owned by this user, and it and everything in it are made
/// private (0700 directories, 0600 files), with a warning naming what was loose.
pub fn ensure_state_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create state directory {}", dir.display()))?;
    }
    let meta = std::fs::symlink_metadata(dir)
        .with_context(|| format!("state directory {}", dir.display()))?;
    if !meta.is_dir() {
        bail!(
            "state directory {} is not a directory (a symlink is refused too)",
            dir.display()
        );
    }
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        bail!(
            "state directory {} belongs to uid {}, not to this user (uid {me}); someone else \
             could replace its files: fix its owner",
            dir.display(),
            meta.uid()
        );
    }
    tighten(dir, 0o700)?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let m = std::fs::symlink_metadata(&path)?;
        if m.is_dir() {
            tighten(&path, 0o700)?;
            for inner in std::fs::read_dir(&path)? {
                let inner = inner?.path();
                if std::fs::symlink_metadata(&inner)?.is_file() {
                    tighten(&inner, 0o600)?;
                }
            }
        } else if m.is_file() {
            tighten(&path, 0o600)?;
        }
    }
    Ok(())
}

/// Removes group and other permissions from `path`, warning when there were any.
fn tighten(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let m = std::fs::symlink_metadata(path)?;
    let current = m.permissions().mode() & 0o7777;
    if current & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot tighten {}", path.display()))?;
        tracing::warn!(path = %path.display(), was = format!("{current:o}"), now = format!("{mode:o}"), "state file was readable or writable by others; tightened");
    }
    Ok(())
}

/// Holds an exclusive lock on the state directory: two daemons on one database would fight over
/// its jobs.
fn lock_state_dir(dir: &Path) -> anyhow::Result<nix::fcntl::Flock<std::fs::File>> {
    let path = dir.join("daemon.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock).map_err(|(_, e)| {
        anyhow::anyhow!(
            "another zdm-backupd is already running with state directory {} ({e})",
            dir.display()
        )
    })
}

/// Opens the state database after checking it is not empty or damaged: either would otherwise
/// start as a fresh install (all jobs gone, a new admin password) or run on broken data. The
/// refusal names the newest automatic copy to restore from.
pub fn open_db(state_dir: &Path) -> anyhow::Result<Db> {
    let path = state_dir.join(DB_FILE);
    let copies = state_dir.join(db::backup::DIR);
    let newest = || match db::backup::newest(&copies) {
        Some(c) => format!(
            "the newest automatic copy is {}: stop the daemon, copy it to {} (remove {}-wal and \
             {}-shm) and start again",
            c.display(),
            path.display(),
            path.display(),
            path.display()
        ),
        None => format!("no automatic copy exists in {}", copies.display()),
    };
    match std::fs::metadata(&path) {
        Ok(m) if m.len() == 0 => bail!(
            "the state database {} is empty (0 bytes); refusing to start it as a new install, \
             which would forget every job. {}",
            path.display(),
            newest()
        ),
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound
                && db::backup::newest(&copies).is_some() =>
        {
            bail!(
                "the state database {} is missing although this state directory has been \
                 used; refusing to start as a new install. {}",
                path.display(),
                newest()
            );
        }
        _ => {}
    }
    if path.exists() {
        if let Err(e) = db::backup::check(&path) {
            bail!(
                "the state database {} is damaged ({e}); refusing to use it. {}",
                path.display(),
                newest()
            );
        }
    }
    let db = Db::open_with_copies(&path, &copies)
        .with_context(|| format!("cannot open state database {}", path.display()))?;
    Ok(db)
}

/// Creates the admin user at first start. The password goes to a 0600 file; only its path is
/// logged.
fn ensure_admin(db: &Db, s: &Settings, fresh: bool) -> anyhow::Result<()> {
    let users = db.read_blocking(|c| db::users::count(c).map_err(db::DbError::from))?;
    if users > 0 {
        return Ok(());
    }
    if !fresh {
        // Only a first start writes the password file: an existing database without users was
        // emptied by someone, and quietly replacing the password would hide that.
        bail!(
            "the state database {} has no users although it is not new; refusing to create a \
             new admin password. Restore an automatic copy from {} (see the README)",
            s.state_dir.join(DB_FILE).display(),
            s.state_dir.join(db::backup::DIR).display()
        );
    }
    let password = auth::random_password();
    let hash = auth::hash_password(&password).map_err(anyhow::Error::msg)?;
    let file = s.state_dir.join(auth::ADMIN_PASSWORD_FILE);
    auth::write_secret(&file, &format!("{password}\n"))
        .with_context(|| format!("cannot write {}", file.display()))?;
    let email = s.admin_email.clone();
    db.write_blocking(|tx| db::users::insert(tx, &email, &hash).map_err(db::DbError::from))?;
    tracing::info!(email = %s.admin_email, password_file = %file.display(), "created the admin user; its password is in the password file");
    Ok(())
}

/// The daemon's own age identity for encrypted jobs, created at first start (mode 0600, in the
/// state directory, never in a repository). Losing it loses the encrypted backups: the log says
/// where it is so it can be copied away.
fn ensure_backup_key(state_dir: &Path) -> anyhow::Result<()> {
    let path = state_dir.join(crate::engine::keys::BACKUP_KEY_FILE);
    if path.exists() {
        crate::engine::keys::load(&path).map_err(|e| anyhow::anyhow!("{e}"))?;
        return Ok(());
    }
    let public = crate::engine::keys::generate(&path).map_err(|e| anyhow::anyhow!("{e}"))?;
    tracing::warn!(key_file = %path.display(), recipient = %public, "created the encryption key for encrypted jobs; keep a copy of this file away from this host");
    Ok(())
}

/// The host secret that authenticates restore points, created at first start beside the
/// encryption key; both must be copied away for a replacement host to restore.
fn ensure_auth_key(state_dir: &Path) -> anyhow::Result<()> {
    let path = state_dir.join(crate::engine::trust::AUTH_KEY_FILE);
    let (_, created) =
        crate::engine::trust::AuthKey::load_or_create(&path).map_err(|e| anyhow::anyhow!("{e}"))?;
    if created {
        tracing::warn!(key_file = %path.display(), "created the key that authenticates restore points; keep a copy of this file away from this host together with backup-key.txt");
    }
    Ok(())
}

fn register_host(db: &Db, s: &Settings) -> anyhow::Result<()> {
    let (sys, release) = host::kernel();
    let facts = db::hosts::HostFacts {
        center_name: s.center_name.clone(),
        server_name: s.server_name.clone(),
        host_name: host::hostname(),
        os_version: host::os_version(),
        kernel: format!("{sys} {release}"),
        machine_id: host::machine_id(),
    };
    db.write_blocking(|tx| db::hosts::register_self(tx, &facts).map_err(db::DbError::from))?;
    Ok(())
}

/// Everything before the listener: returns the shared state and keeps the state lock.
pub fn prepare(settings: Settings) -> anyhow::Result<(AppState, nix::fcntl::Flock<std::fs::File>)> {
    ensure_state_dir(&settings.state_dir)?;
    let lock = lock_state_dir(&settings.state_dir)?;
    let fresh = !settings.state_dir.join(DB_FILE).exists();
    let db = open_db(&settings.state_dir)?;
    let secret = auth::load_or_create_secret(&settings.state_dir)
        .context("cannot load the token signing secret")?;
    ensure_admin(&db, &settings, fresh)?;
    ensure_backup_key(&settings.state_dir)?;
    ensure_auth_key(&settings.state_dir)?;
    register_host(&db, &settings)?;
    let keys = TokenKeys::new(&secret, settings.token_lifetime_minutes);
    Ok((AppState::new(db, settings, keys), lock))
}

/// The TLS settings for the listener: the configured chain and key, ring's safe defaults.
fn tls_config(cert: &Path, key: &Path) -> anyhow::Result<rustls::ServerConfig> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("cannot read the certificate chain {}", cert.display()))?;
    if chain.is_empty() {
        anyhow::bail!("{} holds no PEM certificate", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("cannot read the private key {}", key.display()))?;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the certificate and key do not form a usable pair")
}

/// Raises the soft open-file limit to the hard one (the unit sets `LimitNOFILE`); returns it.
fn raise_open_files() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) => {
            if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
                hard
            } else {
                soft
            }
        }
        Err(_) => 1024,
    }
}

/// Connections per worker: the open-file limit less a reserve for the database, repositories,
/// scripts and logs, shared by the workers.
fn connection_cap(open_files: u64, workers: usize) -> usize {
    let workers = if workers == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        workers
    } as u64;
    let usable = open_files.saturating_sub(256).clamp(64, 1 << 20);
    (usable / workers).max(16) as usize
}

/// Runs the daemon until SIGINT/SIGTERM.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let (state, _lock) = prepare(settings)?;
    state
        .runner
        .start()
        .await
        .context("cannot start the scheduler")?;
    // The daily copy of the state database while the daemon runs.
    {
        let db = state.db.clone();
        let copies = state.settings.state_dir.join(db::backup::DIR);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
            loop {
                tick.tick().await;
                let (db, copies) = (db.clone(), copies.clone());
                let _ = tokio::task::spawn_blocking(move || db.copy_if_due(&copies)).await;
            }
        });
    }
    let listener = std::net::TcpListener::bind(state.settings.listen)
        .with_context(|| format!("cannot listen on {}", state.settings.listen))?;
    let addr = listener.local_addr()?;
    let max_body = state.settings.max_body_bytes;
    let workers = state.settings.workers;
    let state_tls = state.settings.tls.clone();
    let max_connections = connection_cap(raise_open_files(), workers);
    let data = web::Data::new(state);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .wrap_fn(crate::api::request_middleware)
            .configure(|cfg| crate::api::configure(cfg, max_body))
    });
    let scheme = if let Some((cert, key)) = &state_tls {
        server = server.listen_rustls_0_23(listener, tls_config(cert, key)?)?;
        "https"
    } else {
        server = server.listen(listener)?;
        "http"
    };
    if workers > 0 {
        server = server.workers(workers);
    }
    // Slow clients cannot hold the listener: headers must arrive within 5 s (bodies within
    // `api::BODY_TIMEOUT`, see the request middleware), and connections are capped below the
    // open-file limit so there is always a descriptor for the next client and for runs.
    let server = server
        .client_request_timeout(std::time::Duration::from_secs(5))
        .client_disconnect_timeout(std::time::Duration::from_secs(2))
        .max_connections(max_connections)
        .shutdown_timeout(10)
        .run();
    tracing::info!(address = %addr, "listening on {scheme}://{addr}");
    // systemd `Type=notify`: ready only now that the socket is bound and the schedules armed.
    // Outside systemd (no NOTIFY_SOCKET) this does nothing.
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    server.await.context("HTTP server failed")?;
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    tracing::info!("stopped");
    Ok(())
}
