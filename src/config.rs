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
    pub runner: RunnerConfig,
    pub mail: MailConfig,
    pub metrics: MetricsConfig,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// `GET /metrics`: `off`, `localhost` (only from a loopback address) or `token` (an API
    /// token as for `/api`).
    pub access: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            access: "localhost".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RunnerConfig {
    /// Backup runs that may work at the same time (each job runs at most once at a time).
    pub max_concurrent_runs: usize,
    /// `run-once`: at start-up, the newest slot a job missed while the daemon was down runs
    /// once if it is younger than `missed_runs_window_hours`; `skip`: missed slots are only
    /// recorded.
    pub missed_runs: String,
    pub missed_runs_window_hours: u32,
    /// Before/after scripts are killed (with their children) after this many seconds.
    pub script_timeout_seconds: u32,
    /// Smart jobs with a basic-only schedule write a full when their newest full is older.
    pub smart_full_interval_days: u32,
    /// One request to an SMB share or NFS export may take this long before the run (or check)
    /// fails.
    pub share_timeout_seconds: u32,
    /// AUTH_SYS identity for NFS repositories reached directly (the export may squash it).
    pub nfs_uid: u32,
    pub nfs_gid: u32,
}

impl RunnerConfig {
    pub fn share_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.share_timeout_seconds.into())
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// SMTP relay host; empty = no mail is sent (runs record "mail: not configured").
    pub host: String,
    pub port: u16,
    /// `starttls`, `tls` or `none`.
    pub security: String,
    /// File with `user:password` for SMTP AUTH (mode 0600); empty = no authentication.
    pub credentials_file: String,
    /// Sender address.
    pub from: String,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            max_concurrent_runs: 2,
            missed_runs: "run-once".into(),
            missed_runs_window_hours: 24,
            script_timeout_seconds: 1800,
            smart_full_interval_days: 7,
            share_timeout_seconds: 30,
            nfs_uid: 0,
            nfs_gid: 0,
        }
    }
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            host: String::new(),
            port: 25,
            security: "starttls".into(),
            credentials_file: String::new(),
            from: "zdm-backupd@localhost".into(),
        }
    }
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
    /// PEM certificate chain and private key: when both are set the listener speaks HTTPS.
    pub tls_cert: String,
    pub tls_key: String,
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
            runner: RunnerConfig::default(),
            mail: MailConfig::default(),
            metrics: MetricsConfig::default(),
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
            tls_cert: String::new(),
            tls_key: String::new(),
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
    pub runner: RunnerConfig,
    /// `None` when no relay is configured.
    pub mail: Option<MailConfig>,
    pub metrics_access: String,
    /// Certificate chain and key files (PEM) when the listener speaks TLS.
    pub tls: Option<(PathBuf, PathBuf)>,
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
            if v == "." || v == ".." || v.len() > 255 {
                errs.push(format!(
                    "{key}: '{v}' cannot name a directory (not '.', '..' or over 255 bytes)"
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
        let r = &self.runner;
        if !(1..=64).contains(&r.max_concurrent_runs) {
            errs.push(format!(
                "runner.max_concurrent_runs: {} must be between 1 and 64",
                r.max_concurrent_runs
            ));
        }
        if !matches!(r.missed_runs.as_str(), "run-once" | "skip") {
            errs.push(format!(
                "runner.missed_runs: '{}' must be \"run-once\" or \"skip\"",
                r.missed_runs
            ));
        }
        if !(1..=24 * 31).contains(&r.missed_runs_window_hours) {
            errs.push("runner.missed_runs_window_hours: must be between 1 and 744".into());
        }
        if !(1..=24 * 3600).contains(&r.script_timeout_seconds) {
            errs.push("runner.script_timeout_seconds: must be between 1 and 86400".into());
        }
        if !(1..=3600).contains(&r.share_timeout_seconds) {
            errs.push("runner.share_timeout_seconds: must be between 1 and 3600".into());
        }
        if !(1..=366).contains(&r.smart_full_interval_days) {
            errs.push("runner.smart_full_interval_days: must be between 1 and 366".into());
        }
        let m = &self.mail;
        if !m.host.is_empty() {
            if !matches!(m.security.as_str(), "starttls" | "tls" | "none") {
                errs.push(format!(
                    "mail.security: '{}' must be starttls, tls or none",
                    m.security
                ));
            }
            if !crate::domain::fields::is_email(&m.from) {
                errs.push(format!("mail.from: '{}' is not an e-mail address", m.from));
            }
            if !m.credentials_file.is_empty() && !Path::new(&m.credentials_file).is_file() {
                errs.push(format!(
                    "mail.credentials_file: '{}' is not a readable file",
                    m.credentials_file
                ));
            }
        }
        let tls = match (self.http.tls_cert.as_str(), self.http.tls_key.as_str()) {
            ("", "") => None,
            ("", _) | (_, "") => {
                errs.push("http.tls_cert and http.tls_key: set both (or neither)".into());
                None
            }
            (c, k) => {
                for (key, p) in [("http.tls_cert", c), ("http.tls_key", k)] {
                    if !Path::new(p).is_file() {
                        errs.push(format!("{key}: '{p}' is not a readable file"));
                    }
                }
                Some((PathBuf::from(c), PathBuf::from(k)))
            }
        };
        if !matches!(self.metrics.access.as_str(), "off" | "localhost" | "token") {
            errs.push(format!(
                "metrics.access: '{}' must be off, localhost or token",
                self.metrics.access
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
            runner: self.runner.clone(),
            mail: (!self.mail.host.is_empty()).then(|| self.mail.clone()),
            metrics_access: self.metrics.access.clone(),
            tls,
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
