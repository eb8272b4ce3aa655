//! Operator commands of the real binary: check-config, admin reset-password, and start-up
//! refusals.

mod common;
use common::{Daemon, BIN};
use std::process::Command;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("ZDM_BACKUPD_CONFIG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_config_names_the_key() {
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/config.toml");
    let (code, out, _) = run(&["check-config", "--config", shipped]);
    assert_eq!(code, 0);
    assert!(out.contains("config OK"));
    assert_eq!(
        run(&["check-config"]).0,
        0,
        "the built-in defaults are valid"
    );
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "listn = \"127.0.0.1:1\"\n").unwrap();
    let (code, _, err) = run(&["check-config", "--config", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown field `listn`"), "{err}");
    std::fs::write(
        &bad,
        "listen = \"nowhere\"\ntimezone = \"Mars/Base\"\n[auth]\ntoken_lifetime_minutes = 0\n",
    )
    .unwrap();
    let (code, _, err) = run(&["check-config", "--config", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    for key in ["listen:", "timezone:", "auth.token_lifetime_minutes:"] {
        assert!(err.contains(key), "{key} not in {err}");
    }
    let (code, _, err) = run(&["check-config", "--config", "/nonexistent/zdm.toml"]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot read"), "{err}");
    // serve refuses the same file before touching anything.
    let (code, _, err) = run(&[
        "serve",
        "--config",
        bad.to_str().unwrap(),
        "--state-dir",
        dir.path().join("s").to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("listen:"));
    assert!(!dir.path().join("s").exists());
}

#[test]
fn config_file_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    let state = dir.path().join("st");
    std::fs::write(&cfg, format!("state_dir = \"{}\"\nserver_name = \"from-file\"\n[auth]\nadmin_email = \"root@example.com\"\n", state.display())).unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("ZDM_BACKUPD_CONFIG", &cfg)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The state directory from the file is used: wait for the password file.
    let pw_file = state.join("admin-password");
    for _ in 0..300 {
        if pw_file.exists() && state.join("zdm-backupd.db").exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(pw_file.exists());
    let db = rusqlite::Connection::open(state.join("zdm-backupd.db")).unwrap();
    let (email, server): (String, String) = db
        .query_row("SELECT u.email, s.name FROM users u, servers s", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(
        (email.as_str(), server.as_str()),
        ("root@example.com", "from-file")
    );
}

#[test]
fn reset_password() {
    let d = Daemon::start(&[]);
    let old = d.admin_password();
    let state = d.state.to_str().unwrap().to_string();
    let (code, out, err) = run(&["admin", "reset-password", "--state-dir", &state]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("admin-password"), "{out}");
    let new = d.admin_password();
    assert_ne!(old, new);
    let login = |pw: &str| {
        d.call(
            "POST",
            "/api/token/issue",
            Some(serde_json::json!({"email": "admin@localhost", "password": pw})),
            None,
        )
        .status
    };
    assert_eq!(login(&old), 401);
    assert_eq!(login(&new), 201);
    let (code, _, err) = run(&[
        "admin",
        "reset-password",
        "--state-dir",
        &state,
        "--email",
        "nobody@example.com",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("no user with e-mail nobody@example.com"));
    let (code, _, err) = run(&[
        "admin",
        "reset-password",
        "--state-dir",
        "/nonexistent-state",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("start the daemon once first"), "{err}");
}

#[test]
fn a_newer_schema_is_refused() {
    let d = Daemon::start(&[]);
    let state = d.state.clone();
    let _keep = d.stop();
    let db = rusqlite::Connection::open(state.join("zdm-backupd.db")).unwrap();
    db.pragma_update(None, "user_version", 999).unwrap();
    drop(db);
    let (code, _, err) = run(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--state-dir",
        state.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("schema version 999"), "{err}");
    assert!(err.contains("newer release"), "{err}");
}

#[test]
fn version_and_help() {
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("zdm-backupd "));
    let (_, out, _) = run(&["serve", "--help"]);
    for opt in [
        "--listen",
        "--state-dir",
        "--server-name",
        "--extra-partition",
        "ZDM_BACKUPD_LISTEN",
        "ZDM_BACKUPD_STATE_DIR",
        "ZDM_BACKUPD_CONFIG",
    ] {
        assert!(out.contains(opt), "{opt} missing in help");
    }
}
