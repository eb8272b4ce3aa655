//! The operator subcommands `backup`, `points`, `restore`, `verify` and `key`: argument
//! handling, progress display and exit codes around the engine.

use crate::cli::{
    BackupArgs, CliMode, JobArgs, LsArgs, PointsArgs, RestoreArgs, UseOption, VerifyArgs,
};
use crate::engine::backup::{backup, BackupPlan};
use crate::engine::index::PointIndex;
use crate::engine::restore::{restore, Layout, Overwrite, RestoreRequest};
use crate::engine::trust::Trust;
use crate::engine::{
    keys, repo, verify, CancelToken, EngineError, JobLocation, Progress, ProgressState,
};
use crate::repocheck::S3Check;
use serde_json::json;
use std::io::{IsTerminal, Write};
use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant;

/// A share the command reaches itself: `//host/share` (or `\\host\share`) is SMB,
/// `host[:port]:/export` is NFS; anything else is a local directory.
fn share_kind(repository: &str) -> Option<crate::domain::job::RepoKind> {
    use crate::domain::job::RepoKind;
    if repository.starts_with("//") || repository.starts_with("\\\\") {
        Some(RepoKind::Smb)
    } else if !repository.starts_with('/') && repository.contains(":/") {
        Some(RepoKind::Nfs)
    } else {
        None
    }
}

/// Exit codes: 0 success, 1 failure, 3 success with warnings (2 is a usage error from clap).
pub const EXIT_WARNINGS: u8 = 3;

/// The daemon's configuration as the operator commands see it: `ZDM_BACKUPD_CONFIG`, else the
/// installed `/etc/zdm-backupd/config.toml` when it exists, else the built-in defaults.
fn daemon_config() -> crate::config::Config {
    let cfg = std::env::var_os("ZDM_BACKUPD_CONFIG")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            let installed = std::path::Path::new("/etc/zdm-backupd/config.toml");
            installed.exists().then(|| installed.to_path_buf())
        });
    crate::config::Config::load(cfg.as_deref()).unwrap_or_default()
}

/// The server name the daemon would use: the configured one, else the host name.
fn server_name(arg: &Option<String>) -> String {
    if let Some(s) = arg {
        return s.clone();
    }
    Some(daemon_config().server_name)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(crate::host::hostname)
}

/// How a command authenticates points: the state directory's key. A backup creates the key
/// the first time; reading commands need it, except an explicitly unauthenticated restore.
fn trust(j: &JobArgs, create: bool, unauthenticated_ok: bool) -> Result<Trust, EngineError> {
    let dir = j
        .state_dir
        .clone()
        .unwrap_or_else(|| daemon_config().state_dir);
    if create {
        std::fs::create_dir_all(&dir)
            .and_then(|()| {
                std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            })
            .map_err(|e| EngineError::io(format!("state directory {}", dir.display()), e))?;
    }
    match Trust::from_state_dir(&dir, create) {
        Err(EngineError::NotFound(_)) if unauthenticated_ok => Ok(Trust {
            // Nothing authenticates with a fresh random key: every point is restored as
            // unauthenticated, which the caller asked for.
            key: crate::engine::trust::AuthKey::from_bytes(rand::random()),
            registry: None,
        }),
        other => other,
    }
}

/// An `s3://` repository from the command line: keys from `--credentials` or the
/// environment, the endpoint from `--s3-endpoint`.
fn s3_target(
    j: &JobArgs,
    check: S3Check,
) -> Result<crate::engine::target::SharedTarget, EngineError> {
    use crate::engine::s3::S3Keys;
    let usage = |m: String| EngineError::Usage(format!("repository {}: {m}", j.repository));
    let endpoint = j
        .s3_endpoint
        .as_deref()
        .ok_or_else(|| usage("an s3:// repository needs --s3-endpoint URL".into()))?;
    let keys = match &j.credentials {
        Some(file) => S3Keys::from_file(file),
        None => S3Keys::from_env().unwrap_or_else(|| {
            Err(
                "no S3 keys: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pass \
                 --credentials FILE"
                    .into(),
            )
        }),
    }
    .map_err(usage)?;
    let access = crate::repocheck::S3Access {
        path: &j.repository,
        endpoint,
        region: &j.s3_region,
        path_style: j.s3_path_style,
        keys,
        object_lock_days: j.s3_object_lock_days,
    };
    let target = crate::repocheck::connect_s3(&access, check).map_err(|f| {
        EngineError::NotFound(format!(
            "repository {}: check failed at step '{}': {}",
            j.repository, f.step, f.reason
        ))
    })?;
    Ok(target)
}

/// The job's place in its repository. `check` is how much of an object store's preflight runs:
/// all of it for what writes (and for `verify`, which proves the store), reachability for reads.
fn location(j: &JobArgs, trust: Trust, check: S3Check) -> Result<JobLocation, EngineError> {
    let s3 = j.repository.starts_with("s3://");
    if !s3 && (j.s3_endpoint.is_some() || j.s3_object_lock_days.is_some()) {
        return Err(EngineError::Usage(
            "--s3-endpoint and --s3-object-lock-days apply to s3:// repositories only".into(),
        ));
    }
    let target: crate::engine::target::SharedTarget = match share_kind(&j.repository) {
        _ if s3 => s3_target(j, check)?,
        Some(kind) => {
            let normalized = j.repository.replace('\\', "/");
            let failed = |f: crate::repocheck::Failure| {
                EngineError::NotFound(format!(
                    "repository {}: check failed at step '{}': {}",
                    j.repository, f.step, f.reason
                ))
            };
            let access = crate::repocheck::RepoAccess {
                kind,
                path: if kind == crate::domain::job::RepoKind::Smb {
                    &normalized
                } else {
                    &j.repository
                },
                local_path: None,
                login: crate::repocheck::login_from_file(
                    j.credentials.as_deref().and_then(|p| p.to_str()),
                )
                .map_err(failed)?,
                nfs_ids: (j.nfs_uid, j.nfs_gid),
            };
            // The daemon's default timeout: the command line reads no configuration for it.
            let timeout = crate::config::RunnerConfig::default().share_timeout();
            crate::repocheck::connect(&access, timeout).map_err(failed)?
        }
        None => std::sync::Arc::new(crate::engine::target::LocalTarget::new(&j.repository)),
    };
    let loc = JobLocation {
        target,
        server: server_name(&j.server),
        job: j.job.clone(),
        trust,
    };
    loc.check()?;
    Ok(loc)
}

/// A progress bar on a terminal, JSON lines with `--json`, nothing otherwise.
struct Display {
    json: bool,
    tty: bool,
    started: Instant,
    last_len: Mutex<usize>,
}

fn human(b: f64) -> String {
    crate::host::format_size(b as u64, 1)
}

impl Progress for Display {
    fn update(&self, s: &ProgressState) {
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = s.bytes as f64 / secs;
        let eta = if rate > 0.0 && s.total_bytes > s.bytes {
            Some((s.total_bytes - s.bytes) as f64 / rate)
        } else {
            None
        };
        if self.json {
            let line = json!({"event": "progress", "phase": s.phase, "files": s.files, "totalFiles": s.total_files,
                "bytes": s.bytes, "totalBytes": s.total_bytes, "bytesPerSecond": rate as u64, "etaSeconds": eta.map(|e| e as u64), "current": s.current});
            println!("{line}");
        } else if self.tty {
            let pct = if s.total_bytes > 0 {
                (s.bytes as f64 * 100.0 / s.total_bytes as f64).min(100.0)
            } else {
                0.0
            };
            let filled = (pct / 5.0) as usize;
            let bar = format!("{}{}", "#".repeat(filled), "-".repeat(20 - filled.min(20)));
            let text = format!(
                "\r{:8} [{bar}] {pct:5.1}%  {} / {}  {} files  {}/s  ETA {}",
                s.phase,
                human(s.bytes as f64),
                human(s.total_bytes as f64),
                s.files,
                human(rate),
                eta.map(|e| format!("{}:{:02}", e as u64 / 60, e as u64 % 60))
                    .unwrap_or_else(|| "-".into())
            );
            let mut last = self.last_len.lock().unwrap_or_else(|e| e.into_inner());
            let pad = last.saturating_sub(text.len());
            eprint!("{text}{}", " ".repeat(pad));
            *last = text.len();
            let _ = std::io::stderr().flush();
        }
    }
}

impl Display {
    fn new(json: bool) -> Display {
        Display {
            json,
            tty: std::io::stderr().is_terminal(),
            started: Instant::now(),
            last_len: Mutex::new(0),
        }
    }
    fn done(&self) {
        if self.tty && !self.json {
            eprintln!();
        }
    }
}

fn fail(json: bool, e: &EngineError) -> ExitCode {
    if json {
        println!("{}", json!({"event": "error", "error": e.to_string()}));
    }
    eprintln!("zdm-backupd: {e}");
    ExitCode::from(1)
}

fn finish(warnings: &[String], json: bool) -> ExitCode {
    for w in warnings {
        if !json {
            eprintln!("warning: {w}");
        }
    }
    if warnings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_WARNINGS)
    }
}

fn identity(
    path: &Option<std::path::PathBuf>,
) -> Result<Option<age::x25519::Identity>, EngineError> {
    path.as_deref().map(keys::load).transpose()
}

/// Stops at the next file boundary on SIGINT/SIGTERM.
fn cancel_on_signal() -> CancelToken {
    let token = CancelToken::new();
    let t = token.clone();
    std::thread::spawn(move || {
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            rt.block_on(async {
                let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {},
                    _ = async { match &mut term { Some(s) => { s.recv().await; } None => std::future::pending::<()>().await } } => {},
                }
            });
            t.cancel();
        }
    });
    token
}

pub fn run_backup(a: BackupArgs) -> ExitCode {
    let json = a.job.json;
    let id = match (a.encryption, &a.key_file) {
        (UseOption::Use, None) => return fail(
            json,
            &EngineError::Usage(
                "--encryption use needs --key-file (create one with `zdm-backupd key generate`)"
                    .into(),
            ),
        ),
        (UseOption::Use, Some(_)) => match identity(&a.key_file) {
            Ok(i) => i,
            Err(e) => return fail(json, &e),
        },
        (UseOption::NotUse, _) => None,
    };
    let plan = BackupPlan {
        location: match trust(&a.job, true, false).and_then(|t| location(&a.job, t, S3Check::Full))
        {
            Ok(l) => l,
            Err(e) => return fail(json, &e),
        },
        source: std::fs::canonicalize(&a.source).unwrap_or(a.source.clone()),
        kind: if a.mode == CliMode::Full {
            crate::engine::backup::KindPolicy::Full
        } else {
            crate::engine::backup::KindPolicy::Incremental
        },
        rotation: a.rotation,
        compression: a.compression == UseOption::Use,
        level: 3,
        identity: id,
        exclude: a.exclude_dir.clone(),
        network_limit_mib: a.network_limit,
        owner: crate::engine::backup::Owner::Any,
    };
    let display = Display::new(json);
    let r = backup(&plan, &display, &cancel_on_signal());
    display.done();
    match r {
        Ok(rep) => {
            let m = &rep.manifest;
            if json {
                println!(
                    "{}",
                    json!({"event": "done", "point": m.id, "kind": m.kind, "entries": m.entries, "archived": m.archived,
                    "bytes": m.files.values().map(|f| f.size).sum::<u64>(), "warnings": rep.warnings, "notes": rep.notes})
                );
            } else {
                println!(
                    "{} point {} written: {} entries, {} archived, {}",
                    m.kind,
                    m.id,
                    m.entries,
                    m.archived,
                    human(m.files.values().map(|f| f.size).sum::<u64>() as f64)
                );
                for n in &rep.notes {
                    println!("{n}");
                }
            }
            finish(&rep.warnings, json)
        }
        Err(e) => fail(json, &e),
    }
}

/// A catalog path from a command-line path relative to the partition root (`/`, `.`, `etc`,
/// `/etc/ssh` all name directories of the point).
fn catalog_rel(p: &std::path::Path) -> Vec<u8> {
    let parts: Vec<&[u8]> = p
        .as_os_str()
        .as_bytes()
        .split(|c| *c == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .collect();
    if parts.is_empty() {
        b".".to_vec()
    } else {
        parts.join(&b'/')
    }
}

pub fn run_ls(a: LsArgs) -> ExitCode {
    let json = a.job.json;
    let id = match identity(&a.key_file) {
        Ok(i) => i,
        Err(e) => return fail(json, &e),
    };
    let loc = match trust(&a.job, false, false).and_then(|t| location(&a.job, t, S3Check::Read)) {
        Ok(l) => l,
        Err(e) => return fail(json, &e),
    };
    let points = repo::points(&*loc.target, &loc.dir(), &loc.trust.key);
    let point = if a.point == "latest" {
        points.last()
    } else {
        points.iter().find(|p| p.manifest.id == a.point)
    };
    let Some(point) = point else {
        return fail(
            json,
            &EngineError::NotFound(format!(
                "no authenticated restore point '{}' in job {} (see `zdm-backupd points`)",
                a.point, loc.job
            )),
        );
    };
    let state = a
        .job
        .state_dir
        .clone()
        .unwrap_or_else(|| daemon_config().state_dir);
    let cache = state.join("browse-index");
    let ix = match PointIndex::open_or_build(&cache, &*loc.target, &points, point, id.as_ref()) {
        Ok(ix) => ix,
        Err(e) => return fail(json, &e),
    };
    let dir = catalog_rel(&a.path);
    match ix.entry(&dir) {
        Ok(Some(e)) if e.kind == crate::engine::entry::Kind::Dir => {}
        Ok(_) => {
            return fail(
                json,
                &EngineError::NotFound(format!(
                    "{} is not a directory of point {}",
                    a.path.display(),
                    point.manifest.id
                )),
            )
        }
        Err(e) => return fail(json, &e),
    }
    let q = crate::engine::index::Query {
        dir,
        search: a.search.clone(),
        limit: u64::MAX >> 1,
        ..Default::default()
    };
    let rows = match ix.list(&q) {
        Ok((rows, _)) => rows,
        Err(e) => return fail(json, &e),
    };
    for l in rows {
        let path = String::from_utf8_lossy(&l.path);
        let kind = crate::engine::index::kind_code(l.kind);
        let link = l
            .link
            .as_ref()
            .map(|t| String::from_utf8_lossy(t).into_owned());
        if json {
            println!(
                "{}",
                json!({"path": path, "type": kind, "size": l.size, "mode": format!("{:04o}", l.mode & 0o7777),
                       "uid": l.uid, "gid": l.gid, "mtime": l.mtime, "link": link, "writtenIn": l.written_in})
            );
        } else {
            let when = chrono::DateTime::from_timestamp(l.mtime, 0)
                .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default();
            let shown = match (&link, l.kind) {
                (Some(t), crate::engine::entry::Kind::Symlink) => format!("{path} -> {t}"),
                (_, crate::engine::entry::Kind::Dir) => format!("{path}/"),
                _ => path.into_owned(),
            };
            println!(
                "{kind} {:04o} {:>5}:{:<5} {:>10} {when}  {shown}",
                l.mode & 0o7777,
                l.uid,
                l.gid,
                l.size
            );
        }
    }
    ExitCode::SUCCESS
}

pub fn run_points(a: PointsArgs) -> ExitCode {
    let loc = match trust(&a.job, false, false).and_then(|t| location(&a.job, t, S3Check::Read)) {
        Ok(l) => l,
        Err(e) => return fail(a.job.json, &e),
    };
    let listing = repo::scan(&*loc.target, &loc.dir(), &loc.trust.key);
    let points = &listing.points;
    if a.job.json {
        for p in points {
            let m = &p.manifest;
            println!(
                "{}",
                json!({"id": m.id, "kind": m.kind, "time": m.finished, "size": m.files.values().map(|f| f.size).sum::<u64>(),
                "entries": m.entries, "parent": m.parent, "encrypted": m.encryption})
            );
        }
    } else {
        println!(
            "{:<26} {:<5} {:<26} {:>12} {:>10}  parent",
            "id", "kind", "time", "size", "entries"
        );
        for p in points {
            let m = &p.manifest;
            println!(
                "{:<26} {:<5} {:<26} {:>12} {:>10}  {}",
                m.id,
                m.kind,
                m.finished.get(..19).unwrap_or(&m.finished),
                human(m.files.values().map(|f| f.size).sum::<u64>() as f64),
                m.entries,
                m.parent.as_deref().unwrap_or("-")
            );
        }
    }
    // Nothing is hidden: what cannot be trusted is listed with the reason, and the exit code
    // says something is wrong.
    for r in &listing.rejected {
        if a.job.json {
            println!(
                "{}",
                json!({"id": r.name, "rejected": true, "reason": r.reason})
            );
        } else {
            println!("{:<26} REJECTED: {}", r.name, r.reason);
        }
    }
    if listing.rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "zdm-backupd: {} director{} of job {} cannot be used as restore points",
            listing.rejected.len(),
            if listing.rejected.len() == 1 {
                "y"
            } else {
                "ies"
            },
            loc.job
        );
        ExitCode::from(EXIT_WARNINGS)
    }
}

pub fn run_restore(a: RestoreArgs) -> ExitCode {
    let json = a.job.json;
    let id = match identity(&a.key_file) {
        Ok(i) => i,
        Err(e) => return fail(json, &e),
    };
    let req = RestoreRequest {
        location: match trust(&a.job, false, a.allow_unauthenticated)
            .and_then(|t| location(&a.job, t, S3Check::Read))
        {
            Ok(l) => l,
            Err(e) => return fail(json, &e),
        },
        point: (a.point != "latest").then(|| a.point.clone()),
        target: a.target.clone(),
        paths: a
            .paths
            .iter()
            .map(|p| {
                p.as_os_str()
                    .as_bytes()
                    .strip_prefix(b"/")
                    .unwrap_or(p.as_os_str().as_bytes())
                    .to_vec()
            })
            .collect(),
        exclude: a.excludes.clone(),
        overwrite: match (&a.overwrite_policy, a.overwrite) {
            (Some(p), _) => Overwrite::parse(p).unwrap_or(Overwrite::Fail),
            (None, true) => Overwrite::Always,
            (None, false) => Overwrite::Fail,
        },
        delete: a.delete,
        verify: a.verify,
        layout: if a.layout == "flat" {
            Layout::Flat
        } else {
            Layout::Original
        },
        identity: id.as_ref(),
        allow_unauthenticated: a.allow_unauthenticated,
        bytes_per_sec: None,
    };
    let display = Display::new(json);
    let r = restore(&req, &display, &cancel_on_signal());
    display.done();
    // A read-back that found differences fails the restore, naming them.
    let r = r.and_then(|rep| match &rep.verify {
        Some(v) if v.mismatches > 0 => Err(EngineError::Corrupt(format!(
            "verify: {} of {} restored entries differ from point {}: {}",
            v.mismatches,
            v.checked,
            rep.point,
            v.examples.join("; ")
        ))),
        _ => Ok(rep),
    });
    match r {
        Ok(rep) => {
            if json {
                println!(
                    "{}",
                    json!({"event": "done", "point": rep.point, "entries": rep.entries, "bytes": rep.bytes,
                           "skipped": rep.skipped, "deleted": rep.deleted,
                           "verified": rep.verify.as_ref().map(|v| v.checked),
                           "warnings": rep.warnings})
                );
            } else {
                println!(
                    "restored {} entries ({}) of point {} into {}{}",
                    rep.entries,
                    human(rep.bytes as f64),
                    rep.point,
                    a.target.display(),
                    if rep.skipped > 0 {
                        format!("; {} already there were kept", rep.skipped)
                    } else {
                        String::new()
                    }
                );
            }
            finish(&rep.warnings, json)
        }
        Err(e) => fail(json, &e),
    }
}

pub fn run_verify(a: VerifyArgs) -> ExitCode {
    let json = a.job.json;
    let id = match identity(&a.key_file) {
        Ok(i) => i,
        Err(e) => return fail(json, &e),
    };
    let loc = match trust(&a.job, false, false).and_then(|t| location(&a.job, t, S3Check::Full)) {
        Ok(l) => l,
        Err(e) => return fail(json, &e),
    };
    let listing = repo::scan(&*loc.target, &loc.dir(), &loc.trust.key);
    let chosen: Vec<_> = listing
        .points
        .iter()
        .filter(|p| a.point == "all" || p.manifest.id == a.point)
        .collect();
    let refused: Vec<_> = listing
        .rejected
        .iter()
        .filter(|r| a.point == "all" || r.name == a.point)
        .collect();
    if chosen.is_empty() && refused.is_empty() {
        return fail(
            json,
            &EngineError::NotFound(format!("job {} has no restore point {}", loc.job, a.point)),
        );
    }
    let cancel = cancel_on_signal();
    let mut bad = 0;
    // A point that cannot be authenticated (or whose manifest is damaged) fails verification.
    for r in refused {
        bad += 1;
        if json {
            println!(
                "{}",
                json!({"event": "verified", "point": r.name, "ok": false, "error": r.reason})
            );
        } else {
            println!("{} FAILED: {}", r.name, r.reason);
        }
    }
    for p in chosen {
        match verify::verify_point(&*loc.target, p, id.as_ref(), &cancel) {
            Ok(n) => {
                if json {
                    println!(
                        "{}",
                        json!({"event": "verified", "point": p.manifest.id, "ok": true, "entries": n})
                    );
                } else {
                    println!("{} OK ({n} archive entries)", p.manifest.id);
                }
            }
            Err(e) => {
                bad += 1;
                if json {
                    println!(
                        "{}",
                        json!({"event": "verified", "point": p.manifest.id, "ok": false, "error": e.to_string()})
                    );
                } else {
                    println!("{} FAILED: {e}", p.manifest.id);
                }
            }
        }
    }
    if bad > 0 {
        eprintln!("zdm-backupd: {bad} restore point(s) failed verification");
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

pub fn run_adopt(adopt: crate::cli::AdoptArgs) -> ExitCode {
    let a = &adopt.points;
    let json = a.job.json;
    if !adopt.i_trust_this_repository {
        return fail(
            json,
            &EngineError::Usage(
                "adopting signs points with this host's key, so that restores, verify and \
                 rotation trust them: pass --i-trust-this-repository if you know where they \
                 came from"
                    .into(),
            ),
        );
    }
    let id = match identity(&a.key_file) {
        Ok(i) => i,
        Err(e) => return fail(json, &e),
    };
    let loc = match trust(&a.job, true, false).and_then(|t| location(&a.job, t, S3Check::Full)) {
        Ok(l) => l,
        Err(e) => return fail(json, &e),
    };
    let t = &*loc.target;
    let dir = loc.dir();
    let _lock = match repo::lock(t, &dir, &loc.job) {
        Ok(l) => l,
        Err(e) => return fail(json, &e),
    };
    let authentic: Vec<String> = repo::points(t, &dir, &loc.trust.key)
        .into_iter()
        .map(|p| p.manifest.id)
        .collect();
    let candidates: Vec<_> = repo::unverified_points(t, &dir)
        .into_iter()
        .filter(|p| !authentic.contains(&p.manifest.id))
        .filter(|p| a.point == "all" || p.manifest.id == a.point)
        .collect();
    if candidates.is_empty() {
        println!(
            "nothing to adopt: every readable point of job {} is authenticated",
            loc.job
        );
        return ExitCode::SUCCESS;
    }
    let cancel = cancel_on_signal();
    let mut bad = 0;
    for p in &candidates {
        let checked = verify::verify_point(t, p, id.as_ref(), &cancel)
            .and_then(|_| repo::adopt(t, &dir, p, &loc.trust.key));
        match checked {
            Ok(()) => println!(
                "{} adopted (verified, now signed by this host)",
                p.manifest.id
            ),
            Err(e) => {
                bad += 1;
                println!("{} NOT adopted: {e}", p.manifest.id);
            }
        }
    }
    if bad > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

pub fn run_key_generate(out: &std::path::Path) -> ExitCode {
    match keys::generate(out) {
        Ok(public) => {
            println!("wrote {} (mode 0600); public key: {public}", out.display());
            println!("keep a copy of this file somewhere safe: without it encrypted backups cannot be restored");
            ExitCode::SUCCESS
        }
        Err(e) => fail(false, &e),
    }
}
