//! Start-up in one straight line: state directory, database and migrations, secrets, admin user,
//! host registration, then the HTTP listener. `start` is shared by `main` and the tests.

use crate::auth::{self, TokenKeys};
use crate::config::Settings;
use crate::db::{self, Db};
use crate::host;
use crate::state::AppState;
use actix_web::{web, App, HttpServer};
use anyhow::{bail, Context};
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

pub const DB_FILE: &str = "zdm-backupd.db";

/// Creates the state directory (mode 0700) when it does not exist.
pub fn ensure_state_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create state directory {}", dir.display()))?;
    }
    if !dir.is_dir() {
        bail!("state directory {} is not a directory", dir.display());
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

pub fn open_db(state_dir: &Path) -> anyhow::Result<Db> {
    let path = state_dir.join(DB_FILE);
    Db::open(&path).with_context(|| format!("cannot open state database {}", path.display()))
}

/// Creates the admin user at first start. The password goes to a 0600 file; only its path is
/// logged.
fn ensure_admin(db: &Db, s: &Settings) -> anyhow::Result<()> {
    let users = db.read_blocking(|c| db::users::count(c).map_err(db::DbError::from))?;
    if users > 0 {
        return Ok(());
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

pub const BACKUP_KEY_FILE: &str = "backup-key.txt";

/// The daemon's own age identity for encrypted jobs, created at first start (mode 0600, in the
/// state directory, never in a repository). Losing it loses the encrypted backups: the log says
/// where it is so it can be copied away.
fn ensure_backup_key(state_dir: &Path) -> anyhow::Result<()> {
    let path = state_dir.join(BACKUP_KEY_FILE);
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
    let db = open_db(&settings.state_dir)?;
    let secret = auth::load_or_create_secret(&settings.state_dir)
        .context("cannot load the token signing secret")?;
    ensure_admin(&db, &settings)?;
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

/// Runs the daemon until SIGINT/SIGTERM.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let (state, _lock) = prepare(settings)?;
    state
        .runner
        .start()
        .await
        .context("cannot start the scheduler")?;
    let listener = std::net::TcpListener::bind(state.settings.listen)
        .with_context(|| format!("cannot listen on {}", state.settings.listen))?;
    let addr = listener.local_addr()?;
    let max_body = state.settings.max_body_bytes;
    let workers = state.settings.workers;
    let state_tls = state.settings.tls.clone();
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
    let server = server.shutdown_timeout(10).run();
    tracing::info!(address = %addr, "listening on {scheme}://{addr}");
    // systemd `Type=notify`: ready only now that the socket is bound and the schedules armed.
    // Outside systemd (no NOTIFY_SOCKET) this does nothing.
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    server.await.context("HTTP server failed")?;
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
    tracing::info!("stopped");
    Ok(())
}
