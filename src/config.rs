//! The configuration file (TOML, unknown keys rejected), its defaults, and the command-line and
//! environment overrides. `Config::check` turns it into values the daemon can trust.

use crate::clock::Zone;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The default configuration, also shipped as `packaging/config.toml` with comments.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address and port the HTTP API listens on.
    pub listen: String,
    /// Where the SQLite database, secrets and the admin password file live.
    pub state_dir: PathBuf,
    /// `error`, `warn`, `info`, `debug` or `trace` (or a tracing filter directive).
    pub log_level: String,
    /// IANA time zone for timestamps and schedules; `host` uses the host's zone.
    pub timezone: String,
    /// Name of this host as server 1; empty = the host name.
    pub server_name: String,
    /// Name of this appliance as center 1; empty = the host name.
    pub center_name: String,
    /// Directories offered as partitions in addition to the mounted file systems.
    pub extra_partitions: Vec<PathBuf>,
    pub auth: AuthConfig,
    pub http: HttpConfig,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// E-mail of the admin user created at first start.
    pub admin_email: String,
    /// Lifetime of issued tokens, in minutes.
    pub token_lifetime_minutes: u32,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// HTTP worker threads; 0 = one per CPU core.
    pub workers: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8420".into(),
            state_dir: PathBuf::from("state"),
            log_level: "info".into(),
            timezone: "host".into(),
            server_name: String::new(),
            center_name: String::new(),
            extra_partitions: Vec::new(),
            auth: AuthConfig::default(),
            http: HttpConfig::default(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            admin_email: "admin@localhost".into(),
            token_lifetime_minutes: 60,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_body_bytes: 1024 * 1024,
            workers: 0,
        }
    }
}

/// Values from the command line or the environment that win over the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<String>,
    pub state_dir: Option<PathBuf>,
    pub log_level: Option<String>,
    pub server_name: Option<String>,
    pub extra_partitions: Vec<PathBuf>,
}

/// A configuration whose values were checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub state_dir: PathBuf,
    pub log_level: String,
    pub zone: Zone,
    pub server_name: String,
    pub center_name: String,
    pub extra_partitions: Vec<PathBuf>,
    pub admin_email: String,
    pub token_lifetime_minutes: u32,
    pub max_body_bytes: usize,
    pub workers: usize,
}

impl Config {
    /// Reads `path`; a missing path means the built-in defaults.
    pub fn load(path: Option<&Path>) -> Result<Config, Vec<String>> {
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| vec![format!("{}: cannot read: {e}", path.display())])?;
        toml::from_str(&text)
            .map_err(|e| vec![format!("{}: {}", path.display(), e.to_string().trim_end())])
    }

    pub fn apply(&mut self, o: &Overrides) {
        if let Some(v) = &o.listen {
            self.listen = v.clone();
        }
        if let Some(v) = &o.state_dir {
            self.state_dir = v.clone();
        }
        if let Some(v) = &o.log_level {
            self.log_level = v.clone();
        }
        if let Some(v) = &o.server_name {
            self.server_name = v.clone();
        }
        for p in &o.extra_partitions {
            if !self.extra_partitions.contains(p) {
                self.extra_partitions.push(p.clone());
            }
        }
    }

    /// Validates every key and names the ones that are wrong.
    pub fn check(&self) -> Result<Settings, Vec<String>> {
        let mut errs = Vec::new();
        let listen = match self.listen.parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                errs.push(format!(
                    "listen: '{}' is not an address:port such as 127.0.0.1:8420",
                    self.listen
                ));
                None
            }
        };
        if self.state_dir.as_os_str().is_empty() {
            errs.push("state_dir: must not be empty".into());
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log_level).is_err() {
            errs.push(format!(
                "log_level: '{}' is not a level (error, warn, info, debug, trace)",
                self.log_level
            ));
        }
        let zone = match Zone::parse(&self.timezone) {
            Ok(z) => Some(z),
            Err(e) => {
                errs.push(format!("timezone: {e}"));
                None
            }
        };
        for (key, v) in [
            ("server_name", &self.server_name),
            ("center_name", &self.center_name),
        ] {
            if v.bytes().all(|b| b.is_ascii_digit()) && !v.is_empty() {
                errs.push(format!(
                    "{key}: '{v}' must not be all digits (digits mean an ID in the API)"
                ));
            }
            if v.contains('/') || v.chars().any(char::is_control) {
                errs.push(format!(
                    "{key}: '{v}' must not contain '/' or control characters"
                ));
            }
        }
        let mut extra = Vec::new();
        for p in &self.extra_partitions {
            if !p.is_absolute() {
                errs.push(format!(
                    "extra_partitions: '{}' must be an absolute path",
                    p.display()
                ));
            } else if !p.is_dir() {
                errs.push(format!(
                    "extra_partitions: '{}' is not an existing directory",
                    p.display()
                ));
            } else {
                let s = p.to_string_lossy();
                match crate::domain::fields::normalize_abs_path(&s) {
                    Some(n) => extra.push(PathBuf::from(n)),
                    None => errs.push(format!(
                        "extra_partitions: '{s}' must not contain '.' or '..'"
                    )),
                }
            }
        }
        if !crate::domain::fields::is_email(&self.auth.admin_email) {
            errs.push(format!(
                "auth.admin_email: '{}' is not an e-mail address",
                self.auth.admin_email
            ));
        }
        if !(1..=7 * 24 * 60).contains(&self.auth.token_lifetime_minutes) {
            errs.push(format!(
                "auth.token_lifetime_minutes: {} must be between 1 and 10080 (one week)",
                self.auth.token_lifetime_minutes
            ));
        }
        if !(1024..=64 * 1024 * 1024).contains(&self.http.max_body_bytes) {
            errs.push(format!(
                "http.max_body_bytes: {} must be between 1024 and 67108864",
                self.http.max_body_bytes
            ));
        }
        if self.http.workers > 256 {
            errs.push(format!(
                "http.workers: {} must be between 0 and 256",
                self.http.workers
            ));
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        let host = crate::host::hostname();
        let or_host = |s: &str| {
            if s.is_empty() {
                host.clone()
            } else {
                s.to_string()
            }
        };
        Ok(Settings {
            listen: listen.expect("checked"),
            state_dir: self.state_dir.clone(),
            log_level: self.log_level.clone(),
            zone: zone.expect("checked"),
            server_name: or_host(&self.server_name),
            center_name: or_host(&self.center_name),
            extra_partitions: extra,
            admin_email: self.auth.admin_email.clone(),
            token_lifetime_minutes: self.auth.token_lifetime_minutes,
            max_body_bytes: self.http.max_body_bytes,
            workers: self.http.workers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_config_equals_the_defaults() {
        let text = include_str!("../packaging/config.toml");
        let mut c: Config = toml::from_str(text).unwrap();
        // The package points state at /var/lib; everything else is the default.
        assert_eq!(c.state_dir, PathBuf::from("/var/lib/zdm-backupd"));
        c.state_dir = Config::default().state_dir;
        assert_eq!(c, Config::default());
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = toml::from_str::<Config>("listn = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `listn`"), "{e}");
        let e = toml::from_str::<Config>("[auth]\nadmin_mail = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("admin_mail"), "{e}");
    }

    #[test]
    fn bad_values_are_named() {
        let c = Config {
            listen: "nowhere".into(),
            timezone: "Mars/Olympus".into(),
            server_name: "123".into(),
            ..Config::default()
        };
        let errs = c.check().unwrap_err();
        assert!(errs.iter().any(|e| e.starts_with("listen:")));
        assert!(errs.iter().any(|e| e.starts_with("timezone:")));
        assert!(errs.iter().any(|e| e.starts_with("server_name:")));
    }
}
