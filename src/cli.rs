//! Command-line interface.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "zdm-backupd",
    version,
    about = "Backup appliance daemon speaking the ZDM backup API"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the daemon: HTTP API, status page and scheduler.
    Serve(ServeArgs),
    /// Validate a configuration file and exit 0 (valid) or 1 (invalid, with the keys named).
    CheckConfig(ConfigArg),
    /// Write a restore point of a directory into a repository (the code path scheduled runs use).
    Backup(BackupArgs),
    /// List the restore points of a job.
    Points(PointsArgs),
    /// List a directory of a restore point (or search below it), from the point's browse index.
    Ls(LsArgs),
    /// Restore a restore point into a directory.
    Restore(RestoreArgs),
    /// Check restore points completely (hashes, decryption, decompression, archive vs catalog).
    Verify(VerifyArgs),
    /// Vouch for restore points this host's key does not authenticate (written before points
    /// were authenticated, or by another host): each is verified completely, then signed.
    Adopt(AdoptArgs),
    /// Encryption keys.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Administration of the local state.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Args, Debug, Clone)]
pub struct ConfigArg {
    /// Configuration file (TOML). Without one, the built-in defaults are used.
    #[arg(long, env = "ZDM_BACKUPD_CONFIG")]
    pub config: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// Address and port to listen on (e.g. 127.0.0.1:8420).
    #[arg(long, env = "ZDM_BACKUPD_LISTEN")]
    pub listen: Option<String>,
    /// State directory (database, secrets, admin password file).
    #[arg(long, env = "ZDM_BACKUPD_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Log level or tracing filter.
    #[arg(long, env = "ZDM_BACKUPD_LOG_LEVEL")]
    pub log_level: Option<String>,
    /// Name of this host as server 1 (default: the host name).
    #[arg(long)]
    pub server_name: Option<String>,
    /// Offer a directory as a partition of this host (repeatable).
    #[arg(long = "extra-partition")]
    pub extra_partition: Vec<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Set a new password for a user (default: the admin). A random one is generated and
    /// written to <state-dir>/admin-password unless --password-stdin is given.
    ResetPassword {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long, env = "ZDM_BACKUPD_STATE_DIR")]
        state_dir: Option<PathBuf>,
        /// The user's e-mail (default: auth.admin_email of the configuration).
        #[arg(long)]
        email: Option<String>,
        /// Read the new password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Args, Debug, Clone)]
pub struct JobArgs {
    /// Repository: a local directory (or a mounted share), an SMB share
    /// (`//host[:port]/share[/dir]`), an NFS export (`host[:port]:/export[/dir]`) reached
    /// directly, or an S3 bucket (`s3://bucket[/prefix]`, with `--s3-endpoint`).
    #[arg(long)]
    pub repository: String,
    /// Credentials file, mode 0600: for SMB `username=`, `password=`, `domain=` lines; for S3
    /// `access_key=` and `secret_key=` lines (else `AWS_ACCESS_KEY_ID` and
    /// `AWS_SECRET_ACCESS_KEY` are used).
    #[arg(long)]
    pub credentials: Option<PathBuf>,
    /// S3 endpoint of an `s3://` repository: `https://host[:port]`, or `http://` to a loopback
    /// address.
    #[arg(long)]
    pub s3_endpoint: Option<String>,
    /// S3 region.
    #[arg(long, default_value = "us-east-1")]
    pub s3_region: String,
    /// Path-style S3 requests (`endpoint/bucket/key`), as most self-hosted stores need.
    #[arg(long)]
    pub s3_path_style: bool,
    /// Keep the points written under S3 Object Lock retention (COMPLIANCE) for this many days:
    /// not even these keys can delete or overwrite them before then. The bucket must have
    /// Object Lock enabled; the check proves the store enforces it.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub s3_object_lock_days: Option<u32>,
    /// AUTH_SYS uid for an NFS export (`host[:port]:/export`).
    #[arg(long, default_value_t = 0)]
    pub nfs_uid: u32,
    /// AUTH_SYS gid for an NFS export.
    #[arg(long, default_value_t = 0)]
    pub nfs_gid: u32,
    /// Server name (default: this host's server name, as the daemon uses it).
    #[arg(long)]
    pub server: Option<String>,
    /// Job name.
    #[arg(long)]
    pub job: String,
    /// State directory whose authentication key (repo-auth.key) signs and checks restore
    /// points and which records the repositories used (default: the configuration's).
    #[arg(long, env = "ZDM_BACKUPD_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Print one JSON object per line instead of text and a progress bar.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum CliMode {
    Full,
    Increment,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum UseOption {
    Use,
    #[value(name = "not-use")]
    NotUse,
}

#[derive(Args, Debug, Clone)]
pub struct BackupArgs {
    /// Directory to back up (one file system; mounts below it are skipped).
    #[arg(long)]
    pub source: PathBuf,
    #[command(flatten)]
    pub job: JobArgs,
    #[arg(long, value_enum)]
    pub mode: CliMode,
    /// Restore points to keep (1..30).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=30))]
    pub rotation: u32,
    #[arg(long, value_enum, default_value = "use")]
    pub compression: UseOption,
    #[arg(long, value_enum, default_value = "not-use")]
    pub encryption: UseOption,
    /// Directory to leave out (absolute; repeatable).
    #[arg(long = "exclude-dir")]
    pub exclude_dir: Vec<PathBuf>,
    /// MiB/s written to the repository (0 = unlimited).
    #[arg(long, default_value_t = 0)]
    pub network_limit: u32,
    /// age identity file for encryption (see `key generate`).
    #[arg(long)]
    pub key_file: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct PointsArgs {
    #[command(flatten)]
    pub job: JobArgs,
}

#[derive(Args, Debug, Clone)]
pub struct LsArgs {
    #[command(flatten)]
    pub job: JobArgs,
    /// Point id or `latest`.
    #[arg(long, default_value = "latest")]
    pub point: String,
    /// Directory to list, relative to the partition root (default: the root).
    #[arg(long, default_value = ".")]
    pub path: PathBuf,
    /// List the entries anywhere below `--path` whose name matches (a substring, or a glob).
    #[arg(long)]
    pub search: Option<String>,
    /// age identity file, for encrypted points.
    #[arg(long)]
    pub key_file: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub job: JobArgs,
    /// Point id or `latest`.
    #[arg(long, default_value = "latest")]
    pub point: String,
    /// Empty directory to restore into.
    #[arg(long)]
    pub target: PathBuf,
    /// Restore only this path (relative to the partition root) and what is below it; repeatable.
    #[arg(long = "path")]
    pub paths: Vec<PathBuf>,
    /// Allow restoring into a non-empty target, replacing what is there (the same as
    /// `--overwrite-policy always`).
    #[arg(long, conflicts_with = "overwrite_policy")]
    pub overwrite: bool,
    /// What happens to what is already in the target: `always` (replace), `if-changed`,
    /// `if-newer`, `never` (keep it) or `fail` (the default: the target must be empty).
    #[arg(long, value_parser = ["always", "if-changed", "if-newer", "never", "fail"])]
    pub overwrite_policy: Option<String>,
    /// Skip entries matching this glob and what is below them; with a `/` it matches the path
    /// (relative to the partition root), without one the name. Repeatable.
    #[arg(long = "exclude")]
    pub excludes: Vec<String>,
    /// `original` (the default): paths as in the partition; `flat`: each `--path` directly
    /// under the target.
    #[arg(long, default_value = "original", value_parser = ["original", "flat"])]
    pub layout: String,
    /// Remove what the target holds below the restored directories and the point does not
    /// (original layout; excluded names stay).
    #[arg(long)]
    pub delete: bool,
    /// Read back everything written and compare it with the point (type, size, content hash,
    /// mode, owner); mismatches fail the restore.
    #[arg(long)]
    pub verify: bool,
    /// DANGER: restore a point that fails authentication (modified, forged, or written before
    /// points were authenticated). For disaster recovery only, when you know where it came from.
    #[arg(long)]
    pub allow_unauthenticated: bool,
    /// age identity file, for encrypted points.
    #[arg(long)]
    pub key_file: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub job: JobArgs,
    /// Point id or `all`.
    #[arg(long, default_value = "all")]
    pub point: String,
    /// age identity file, for encrypted points.
    #[arg(long)]
    pub key_file: Option<PathBuf>,
}

/// The points to adopt are chosen like those to verify (`all`: every one not authenticated).
#[derive(Args, Debug, Clone)]
pub struct AdoptArgs {
    #[command(flatten)]
    pub points: VerifyArgs,
    /// Required: you know where these points came from and vouch for them.
    #[arg(long)]
    pub i_trust_this_repository: bool,
}

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Create an age identity file (mode 0600). Keep a copy outside this host: without it,
    /// encrypted backups cannot be restored.
    Generate {
        #[arg(long)]
        out: PathBuf,
    },
}
