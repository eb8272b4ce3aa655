use clap::Parser;
use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;
use zdm_backupd::cli::{AdminCommand, Cli, Command, KeyCommand};
use zdm_backupd::config::{Config, Overrides};
use zdm_backupd::{auth, db, server};

fn init_logging(level: &str) {
    // The scheduler crate logs every timer it creates at info, and the SMB client logs routine
    // events (a missing file, no multi-channel) as warnings and errors; ours say what matters.
    let quiet = |l: &str| {
        if l.contains('=') || l.contains(',') {
            l.to_string()
        } else {
            format!("{l},tokio_cron_scheduler=warn,smb=off,smb_transport=off,sspi=off")
        }
    };
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| tracing_subscriber::EnvFilter::try_new(quiet(&v)).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new(quiet(level)));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn load(
    config: Option<&std::path::Path>,
    o: &Overrides,
) -> Result<zdm_backupd::config::Settings, Vec<String>> {
    let mut c = Config::load(config)?;
    c.apply(o);
    c.check()
}

fn fail(errs: &[String]) -> ExitCode {
    for e in errs {
        eprintln!("config error: {e}");
    }
    ExitCode::from(1)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig(a) => {
            let path = a.config.as_deref();
            match load(path, &Overrides::default()) {
                Ok(_) => {
                    match path {
                        Some(p) => println!("config OK: {}", p.display()),
                        None => println!("config OK: built-in defaults"),
                    }
                    ExitCode::SUCCESS
                }
                Err(errs) => fail(&errs),
            }
        }
        Command::Serve(a) => {
            let o = Overrides {
                listen: a.listen,
                state_dir: a.state_dir,
                log_level: a.log_level,
                server_name: a.server_name,
                extra_partitions: a.extra_partition,
            };
            let settings = match load(a.config.config.as_deref(), &o) {
                Ok(s) => s,
                Err(errs) => return fail(&errs),
            };
            init_logging(&settings.log_level);
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("cannot start the runtime: {e}");
                    return ExitCode::from(1);
                }
            };
            match rt.block_on(
                actix_web::rt::System::new()
                    .block_on(async { server::run(settings).await })
                    .pipe_ok(),
            ) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("{e:#}");
                    eprintln!("zdm-backupd: {e:#}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Backup(a) => zdm_backupd::ops::run_backup(a),
        Command::Points(a) => zdm_backupd::ops::run_points(a),
        Command::Ls(a) => zdm_backupd::ops::run_ls(a),
        Command::Restore(a) => zdm_backupd::ops::run_restore(a),
        Command::Verify(a) => zdm_backupd::ops::run_verify(a),
        Command::Adopt(a) => zdm_backupd::ops::run_adopt(a),
        Command::Key {
            command: KeyCommand::Generate { out },
        } => zdm_backupd::ops::run_key_generate(&out),
        Command::Admin {
            command:
                AdminCommand::ResetPassword {
                    config,
                    state_dir,
                    email,
                    password_stdin,
                },
        } => {
            let o = Overrides {
                state_dir,
                ..Overrides::default()
            };
            let settings = match load(config.config.as_deref(), &o) {
                Ok(s) => s,
                Err(errs) => return fail(&errs),
            };
            match reset_password(&settings, email, password_stdin) {
                Ok(msg) => {
                    println!("{msg}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("zdm-backupd: {e:#}");
                    ExitCode::from(1)
                }
            }
        }
    }
}

trait PipeOk {
    fn pipe_ok(self) -> std::future::Ready<Self>
    where
        Self: Sized;
}
impl<T> PipeOk for T {
    fn pipe_ok(self) -> std::future::Ready<Self> {
        std::future::ready(self)
    }
}

fn reset_password(
    s: &zdm_backupd::config::Settings,
    email: Option<String>,
    from_stdin: bool,
) -> anyhow::Result<String> {
    let email = email.unwrap_or_else(|| s.admin_email.clone());
    let db_path = s.state_dir.join(server::DB_FILE);
    if !db_path.exists() {
        anyhow::bail!(
            "no state database at {}; start the daemon once first (or pass --state-dir)",
            db_path.display()
        );
    }
    let db = server::open_db(&s.state_dir)?;
    let (password, file) = if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        let p = line.trim_end_matches(['\n', '\r']).to_string();
        if p.len() < 8 {
            anyhow::bail!("the new password must have at least 8 characters");
        }
        (p, None)
    } else {
        (
            auth::random_password(),
            Some(s.state_dir.join(auth::ADMIN_PASSWORD_FILE)),
        )
    };
    let hash = auth::hash_password(&password).map_err(anyhow::Error::msg)?;
    let found = db.write_blocking(|tx| {
        db::users::set_password(tx, &email, &hash).map_err(db::DbError::from)
    })?;
    if !found {
        anyhow::bail!("no user with e-mail {email}");
    }
    match file {
        Some(f) => {
            auth::write_secret(&f, &format!("{password}\n"))?;
            Ok(format!(
                "new password for {email} written to {}",
                f.display()
            ))
        }
        None => Ok(format!("password for {email} changed")),
    }
}
