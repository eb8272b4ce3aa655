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
