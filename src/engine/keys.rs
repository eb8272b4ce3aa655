//! age identities: generated once, kept with mode 0600 outside any repository.

use super::EngineError;
use age::secrecy::ExposeSecret;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The daemon's own age identity for encrypted jobs, in the state directory (mode 0600).
pub const BACKUP_KEY_FILE: &str = "backup-key.txt";

/// Writes a new identity in age-keygen's format; refuses to overwrite a file or to write into a
/// repository (a key stored next to the backups protects nothing).
pub fn generate(out: &Path) -> Result<String, EngineError> {
    if let Some(dir) = out.parent() {
        let mut d = Some(dir);
        while let Some(p) = d {
            if p.join(super::repo::MARKER).exists() {
                return Err(EngineError::Usage(format!(
                    "{} is inside the repository {}; keep the key elsewhere",
                    out.display(),
                    p.display()
                )));
            }
            d = p.parent();
        }
    }
    let id = age::x25519::Identity::generate();
    let public = id.to_public().to_string();
    let text = format!(
        "# created: {}\n# public key: {public}\n{}\n",
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ"),
        id.to_string().expose_secret()
    );
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .map_err(|e| EngineError::io(format!("cannot create key file {}", out.display()), e))?;
    f.write_all(text.as_bytes())
        .map_err(|e| EngineError::io("key file", e))?;
    f.sync_all().map_err(|e| EngineError::io("key file", e))?;
    Ok(public)
}

/// Reads the first identity of an age identity file.
pub fn load(path: &Path) -> Result<age::x25519::Identity, EngineError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| EngineError::io(format!("cannot read key file {}", path.display()), e))?;
    text.lines()
        .map(str::trim)
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .and_then(|l| l.parse::<age::x25519::Identity>().ok())
        .ok_or_else(|| {
            EngineError::Usage(format!(
                "{} holds no age X25519 identity (AGE-SECRET-KEY-1...)",
                path.display()
            ))
        })
}

/// Loads the identity at `path`, creating it first when it does not exist (the daemon's own).
pub fn load_or_create(path: &Path) -> Result<age::x25519::Identity, EngineError> {
    if !path.exists() {
        generate(path)?;
    }
    load(path)
}
