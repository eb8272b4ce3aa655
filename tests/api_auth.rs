//! Authentication (decision D17), the envelope on every failure, and state that survives a
//! restart.

mod common;
use common::{assert_envelope, assert_error, Daemon};
use serde_json::json;

fn forge(secret: &[u8], sub: &str, exp_offset: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"sub": sub, "email": "admin@localhost", "iat": now, "exp": now + exp_offset, "jti": "t", "gen": 0}),
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .unwrap()
}

#[test]
fn tokens_and_401s() {
    let d = Daemon::start(&[]);
    let secret = std::fs::read_to_string(d.state.join("jwt-secret")).unwrap();
    let secret = secret.trim().as_bytes();
    let protected = [
        ("GET", "/api/servers"),
        ("GET", "/api/schedules"),
        ("POST", "/api/backups"),
        ("GET", "/api/zdms"),
        ("GET", "/api/zdms/repositories"),
        ("POST", "/api/zdms/repositories/verify"),
        ("DELETE", "/api/schedules/1"),
    ];
    let expired = format!("Bearer {}", forge(secret, "1", -3600));
    let wrong_sig = format!(
        "Bearer {}",
        forge(
            b"another-secret-another-secret-another-secret-another-secret-0000",
            "1",
            3600
        )
    );
    for (m, p) in protected {
        let body = (m != "GET" && m != "DELETE").then(|| json!({}));
        assert_error(
            &d.call(m, p, body.clone(), None),
            401,
            "Authorization token is required.",
        );
        assert_error(
            &d.call(m, p, body.clone(), Some("Bearer not-a-token")),
            401,
            "Invalid token.",
        );
        assert_error(
            &d.call(m, p, body.clone(), Some("Basic YWRtaW46eA==")),
            401,
            "Invalid token.",
        );
        assert_error(
            &d.call(m, p, body.clone(), Some(&expired)),
            401,
            "Token has expired.",
        );
        assert_error(&d.call(m, p, body, Some(&wrong_sig)), 401, "Invalid token.");
    }
    // Issue: 201 with token and expiry; alias path; a bare token is accepted too.
    let pw = d.admin_password();
    for path in ["/api/token/issue", "/api/auth/issue"] {
        let r = d.call(
            "POST",
            path,
            Some(json!({"email": "admin@localhost", "password": pw})),
            None,
        );
        assert_eq!(r.status, 201, "{}", r.body);
        assert_envelope(&r);
        assert_eq!(r.body["message"], "Token issued successfully.");
        let exp = chrono::NaiveDateTime::parse_from_str(
            r.body["data"]["expiresAt"].as_str().unwrap(),
            "%Y-%m-%d %H:%M:%S",
        );
        assert!(exp.is_ok());
        let token = r.body["data"]["token"].as_str().unwrap();
        assert_eq!(d.call("GET", "/api/servers", None, Some(token)).status, 200);
        assert_eq!(
            d.call(
                "GET",
                "/api/servers",
                None,
                Some(&format!("Bearer {token}"))
            )
            .status,
            200
        );
    }
    // Wrong password and unknown e-mail answer alike.
    let wrong = d.call(
        "POST",
        "/api/token/issue",
        Some(json!({"email": "admin@localhost", "password": "nope"})),
        None,
    );
    let unknown = d.call(
        "POST",
        "/api/token/issue",
        Some(json!({"email": "who@example.com", "password": pw})),
        None,
    );
    assert_error(&wrong, 401, "Invalid e-mail or password.");
    assert_error(&unknown, 401, "Invalid e-mail or password.");
    let bad = d.call(
        "POST",
        "/api/token/issue",
        Some(json!({"email": "nope", "pasword": "x"})),
        None,
    );
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.body["detail"]["validationErrors"]["email"][0],
        "invalid email format"
    );
    assert!(bad.body["detail"]["validationErrors"]["pasword"].is_array());
    // The password never reaches the log; its file is private.
    assert!(!d.log_text().contains(&pw));
    assert!(d.log_text().contains("admin-password"));
    use std::os::unix::fs::MetadataExt;
    for f in ["admin-password", "jwt-secret", "backup-key.txt"] {
        assert_eq!(
            std::fs::metadata(d.state.join(f)).unwrap().mode() & 0o777,
            0o600,
            "{f}"
        );
    }
    // Argon2 hash in the database.
    let hash: String = d
        .db()
        .query_row("SELECT password_hash FROM users", [], |r| r.get(0))
        .unwrap();
    assert!(hash.starts_with("$argon2id$"));
}

#[test]
fn every_failure_answers_in_the_envelope() {
    let d = Daemon::start(&[]);
    let r = d.raw("POST", "/api/backups", Some("text/plain"), b"{}", true);
    assert_error(&r, 415, "Content-Type must be application/json");
    let r = d.raw(
        "POST",
        "/api/backups",
        Some("application/json"),
        b"{\"center\": ",
        true,
    );
    assert_eq!(r.status, 400);
    assert!(r.body["error"]
        .as_str()
        .unwrap()
        .starts_with("Malformed JSON"));
    assert_envelope(&r);
    let r = d.raw("POST", "/api/backups", Some("application/json"), b"", true);
    assert_error(&r, 400, "Request body is empty; send a JSON object");
    let big = format!("{{\"x\": \"{}\"}}", "a".repeat(2 * 1024 * 1024));
    let r = d.raw(
        "POST",
        "/api/backups",
        Some("application/json"),
        big.as_bytes(),
        true,
    );
    assert_error(
        &r,
        413,
        "Request body is larger than the limit of 1048576 bytes",
    );
    let r = d.get("/api/no-such-thing");
    assert_error(&r, 404, "No route for GET /api/no-such-thing");
    let r = d.call("PATCH", "/api/schedules", Some(json!({})), None);
    assert_error(&r, 405, "Method PATCH is not allowed on /api/schedules");
    let r = d.get("/api/schedules?page=0");
    assert_eq!(r.status, 400);
    assert_envelope(&r);
    // Health needs no token.
    let r = d.call("GET", "/healthz", None, None);
    assert_eq!(r.status, 200);
    assert_eq!(r.body["data"]["status"], "ok");
    // The bundled page is served with an ETag that revalidates.
    let agent = ureq::AgentBuilder::new().build();
    let page = agent.get(&format!("{}/", d.base)).call().unwrap();
    let etag = page.header("etag").unwrap().to_string();
    assert!(page.into_string().unwrap().contains("zdm-backupd"));
    let again = agent
        .get(&format!("{}/", d.base))
        .set("If-None-Match", &etag)
        .call()
        .unwrap();
    assert_eq!(again.status(), 304);
}

#[test]
fn state_survives_a_restart() {
    let d = Daemon::start(&["--server-name", "server-01"]);
    let token = d.token();
    let pw = d.admin_password();
    let r = d.post("/api/backups", json!({"center": 1, "server": "server-01", "type": "full", "partition": ["/"],
        "repository": {"type": "nfs", "path": "/backup"}, "jobName": "keep", "schedule": {"type": 3, "basic": {"time": "01:00"}}}));
    assert_eq!(r.status, 201, "{}", r.body);
    let counts = d.counts();
    let d = d.restart();
    assert_eq!(
        d.admin_password(),
        pw,
        "the admin password is not regenerated"
    );
    assert_eq!(d.counts(), counts);
    // The signing secret persisted: a token from before the restart still works.
    let r = d.call(
        "GET",
        "/api/schedules",
        None,
        Some(&format!("Bearer {token}")),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["data"][0]["description"],
        "[Basic] Start working at 01:00 every day."
    );
    assert_eq!(r.body["data"][0]["jobName"], "keep_ROOT");
    let r = d.post(
        "/api/backups",
        json!({"center": 1, "server": "server-01", "type": "full", "partition": ["/"],
        "repository": {"type": "nfs", "path": "/backup"}, "jobName": "keep"}),
    );
    assert_error(&r, 409, "JOB_NAME_ALREADY_EXISTS");
    let users: i64 = d
        .db()
        .query_row("SELECT count(*) FROM users", [], |r| r.get(0))
        .unwrap();
    assert_eq!(users, 1);
}

#[test]
fn a_second_daemon_on_the_same_state_is_refused() {
    let d = Daemon::start(&[]);
    let out = std::process::Command::new(common::BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
        .arg(&d.state)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("another zdm-backupd is already running"),
        "{err}"
    );
}

#[test]
fn repeated_failed_logins_are_slowed_down() {
    let d = Daemon::start(&[]);
    let _ = d.token(); // issued before the failures
    let bad = serde_json::json!({"email": "admin@localhost", "password": "wrong"});
    for _ in 0..5 {
        let r = d.call("POST", "/api/token/issue", Some(bad.clone()), None);
        assert_eq!(r.status, 401, "{}", r.body);
    }
    // The sixth attempt is refused even with the right password, and says when to retry.
    let good = serde_json::json!({"email": "admin@localhost", "password": d.admin_password()});
    let r = d.call("POST", "/api/token/issue", Some(good), None);
    assert_error(&r, 429, "");
    let retry: u64 = r
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
        .map(|(_, v)| v.parse().unwrap())
        .expect("Retry-After header");
    assert!((1..=60).contains(&retry), "{retry}");
    assert!(r.body["error"]
        .as_str()
        .unwrap()
        .contains("Too many failed logins"));
    // Valid tokens keep working for other routes.
    assert_eq!(d.get("/api/backups").status, 200);
}

#[test]
fn tls_listener_serves_https_with_the_configured_certificate() {
    if !common::tree::have_tools("tls", &["openssl", "curl"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key) = (tmp.path().join("cert.pem"), tmp.path().join("key.pem"));
    let st = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let cfg = tmp.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[http]\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
            cert.display(),
            key.display()
        ),
    )
    .unwrap();
    let d = Daemon::start(&["--config", cfg.to_str().unwrap()]);
    assert!(d.base.starts_with("https://"), "{}", d.base);
    let curl = |extra: &[&str]| {
        std::process::Command::new("curl")
            .args(["-sS", "--max-time", "10"])
            .args(extra)
            .arg(format!("{}/healthz", d.base))
            .output()
            .unwrap()
    };
    let ok = curl(&["--cacert", cert.to_str().unwrap()]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("\"status\":\"ok\""));
    // Without trusting the certificate the handshake is refused; plain HTTP is not served.
    assert!(!curl(&[]).status.success());
    let plain = std::process::Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .arg(d.base.replace("https://", "http://") + "/healthz")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("\"status\":\"ok\""));
}

#[test]
fn every_documented_route_needs_a_token_and_the_document_matches_the_server() {
    let d = Daemon::start(&[]);
    let token = d.token();
    let r = d.call("GET", "/api/openapi.json", None, None);
    assert_error(&r, 401, "Authorization token is required.");
    let r = d.call(
        "GET",
        "/api/openapi.json",
        None,
        Some(&format!("Bearer {token}")),
    );
    assert_eq!(r.status, 200);
    let doc = r.body;
    assert_eq!(doc["openapi"], "3.1.0");
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path.replace("{identifier}", "1").replace("{id}", "1");
        for (method, op) in item.as_object().unwrap() {
            let m = method.to_ascii_uppercase();
            let body = matches!(m.as_str(), "POST" | "PUT" | "PATCH").then(|| json!({}));
            let r = d.call(&m, &concrete, body, None);
            if op.get("security").is_some() {
                assert_ne!(r.status, 401, "{m} {path} is documented as public");
            } else {
                assert_error(&r, 401, "Authorization token is required.");
                assert!(path.starts_with("/api/"), "{m} {path}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 39, "only {checked} operations documented");
    // An undocumented method answers 405 and names the ones that exist.
    let r = d.call(
        "DELETE",
        "/api/backups",
        None,
        Some(&format!("Bearer {token}")),
    );
    assert_error(&r, 405, "Method DELETE is not allowed on /api/backups");
    assert_eq!(r.header("allow"), Some("POST, GET, HEAD"));
    // HEAD answers wherever GET does, with the same status and no body.
    let bearer = format!("Bearer {token}");
    let mut heads = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        if item.get("get").is_none() {
            continue;
        }
        let concrete = path.replace("{identifier}", "1").replace("{id}", "1");
        let get = d.call("GET", &concrete, None, Some(&bearer));
        let head = d.call("HEAD", &concrete, None, Some(&bearer));
        assert_eq!(head.status, get.status, "HEAD {concrete}");
        assert!(
            head.body.is_null() || head.body == "",
            "HEAD {concrete} sent {}",
            head.body
        );
        heads += 1;
    }
    assert!(heads >= 15, "{heads}");
    // This host and this appliance cannot be deleted: a clear refusal, not 405.
    let r = d.call("DELETE", "/api/servers/1", None, Some(&bearer));
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body["error"]
        .as_str()
        .unwrap()
        .contains("cannot be deleted through the API"));
    let r = d.call("DELETE", "/api/zdms/1", None, Some(&bearer));
    assert_eq!(r.status, 409, "{}", r.body);
    assert_error(
        &d.call("DELETE", "/api/zdms/7", None, Some(&bearer)),
        404,
        "Center with ID '7' not found",
    );
    // Every operation checks its query: unknown names and bad types are 400 (histories used
    // to ignore `center` and return every row).
    for (q, msg) in [
        (
            "/api/backups/histories?centre=1",
            "unknown query parameter 'centre' (did you mean 'center'?)",
        ),
        (
            "/api/backups?limit=ten",
            "limit must be an integer between 1 and 1000, got 'ten'",
        ),
        (
            "/api/schedules?sort=sideways",
            "Invalid enum value. Expected 'asc' | 'desc', received 'sideways'",
        ),
        (
            "/api/servers/1?detail=perhaps",
            "detail must be true or false, got 'perhaps'",
        ),
        ("/api/backups/1?bogus=1", "unknown query parameter 'bogus'"),
    ] {
        let r = d.call("GET", q, None, Some(&bearer));
        assert_eq!(r.status, 400, "{q}: {}", r.body);
        assert!(
            r.body["error"].as_str().unwrap().starts_with(msg),
            "{q}: {}",
            r.body
        );
    }
    let r = d.call(
        "GET",
        "/api/backups/histories?center=9",
        None,
        Some(&bearer),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"], json!([]));
}

/// Tokens name a user and its token generation: a correctly signed token for a user that does
/// not exist is refused, and a password reset ends every token issued before it.
#[test]
fn tokens_die_with_their_user_and_with_a_password_reset() {
    let d = Daemon::start(&[]);
    let secret = std::fs::read_to_string(d.state.join("jwt-secret")).unwrap();
    let secret = secret.trim().as_bytes();
    let ghost = format!("Bearer {}", forge(secret, "99", 3600));
    assert_error(
        &d.call("GET", "/api/backups", None, Some(&ghost)),
        401,
        "Invalid token.",
    );
    let own = format!("Bearer {}", forge(secret, "1", 3600));
    assert_eq!(d.call("GET", "/api/backups", None, Some(&own)).status, 200);
    let token = format!("Bearer {}", d.token());
    assert_eq!(
        d.call("GET", "/api/backups", None, Some(&token)).status,
        200
    );
    let out = std::process::Command::new(common::BIN)
        .args(["admin", "reset-password", "--state-dir"])
        .arg(&d.state)
        .env_remove("ZDM_BACKUPD_CONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for old in [&token, &own] {
        assert_error(
            &d.call("GET", "/api/backups", None, Some(old)),
            401,
            "Invalid token.",
        );
    }
    // The new password works and its token is accepted.
    let r = d.call(
        "POST",
        "/api/token/issue",
        Some(json!({"email": "admin@localhost", "password": d.admin_password()})),
        None,
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let fresh = format!("Bearer {}", r.body["data"]["token"].as_str().unwrap());
    assert_eq!(
        d.call("GET", "/api/backups", None, Some(&fresh)).status,
        200
    );
}

/// `curl` from a chosen loopback source address.
fn login_from(d: &Daemon, source: &str, password: &str) -> u16 {
    let out = std::process::Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--interface",
            source,
        ])
        .args(["-H", "Content-Type: application/json", "-d"])
        .arg(json!({"email": "admin@localhost", "password": password}).to_string())
        .arg(format!("{}/api/token/issue", d.base))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).parse().unwrap_or(0)
}

/// Guesses from rotating addresses are throttled per account, a local user's failures do not
/// lock the admin out of another address, and delays grow.
#[test]
fn login_throttling_is_per_account_and_per_address() {
    if !common::tree::have_tools("login throttling", &["curl"]) {
        return;
    }
    let d = Daemon::start(&[]);
    let mut refused = 0;
    for i in 0..40 {
        match login_from(&d, &format!("127.0.1.{}", i + 1), "wrong") {
            401 => {}
            429 => refused += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(
        refused >= 20,
        "rotating addresses: only {refused} of 40 guesses refused"
    );
    // A clean address with the right password still gets in (after the shared one-second slot).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(login_from(&d, "127.0.0.9", &d.admin_password()), 201);
    // A local user's failures on one address hold back that address only.
    let d = Daemon::start(&[]);
    for _ in 0..5 {
        assert_eq!(login_from(&d, "127.0.0.1", "wrong"), 401);
    }
    assert_eq!(login_from(&d, "127.0.0.1", "wrong"), 429);
    assert_eq!(login_from(&d, "127.0.0.2", &d.admin_password()), 201);
}

/// 1,100 clients that send headers and the first byte of a body, then stall, neither exhaust
/// the daemon's descriptors nor delay a normal client; the server drops them after its body
/// timeout.
#[test]
fn slow_clients_cannot_starve_the_api() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    use std::io::{Read, Write};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    if hard < 4096 {
        eprintln!("SKIPPED slow_clients_cannot_starve_the_api: open-file hard limit {hard}");
        return;
    }
    // The daemon starts with the usual soft limit of 1024 and must raise it itself.
    let (soft, _) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, soft.min(1024), hard).unwrap();
    let d = Daemon::start(&[]);
    setrlimit(Resource::RLIMIT_NOFILE, hard.min(65536), hard).unwrap();
    let token = d.token();
    let addr = d.base.trim_start_matches("http://").to_string();
    let mut slow = Vec::new();
    for _ in 0..1100 {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        write!(
            s,
            "POST /api/backups HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{"
        )
        .unwrap();
        slow.push(s);
    }
    let started = std::time::Instant::now();
    let r = d.get("/api/backups");
    let took = started.elapsed();
    assert_eq!(r.status, 200);
    assert!(
        took < std::time::Duration::from_secs(1),
        "a normal client waited {took:?}"
    );
    // The stalled clients are answered and dropped after the body timeout.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut closed = 0;
    for s in &mut slow {
        s.set_read_timeout(Some(
            deadline.saturating_duration_since(std::time::Instant::now())
                + std::time::Duration::from_millis(10),
        ))
        .unwrap();
        let mut buf = Vec::new();
        if s.read_to_end(&mut buf).is_ok() {
            closed += 1;
        }
    }
    assert_eq!(
        closed,
        slow.len(),
        "stalled connections still open after 30 s"
    );
    assert_eq!(d.get("/api/backups").status, 200);
}

/// The user inventory: list, one user, and changing one's own e-mail and password with the
/// current password (issue 12: there was no way to see or change a user through the API).
#[test]
fn users_are_listed_and_change_their_own_login() {
    let d = Daemon::start(&[]);
    let bearer = format!("Bearer {}", d.token());
    let r = d.call("GET", "/api/users", None, Some(&bearer));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["message"], "User list retrieved");
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["data"][0]["email"], "admin@localhost");
    assert!(!r.body.to_string().contains("argon2"));
    for id in ["1", "admin@localhost"] {
        let r = d.call("GET", &format!("/api/users/{id}"), None, Some(&bearer));
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["data"]["id"], "1");
    }
    assert_error(
        &d.call("GET", "/api/users/99", None, Some(&bearer)),
        404,
        "User '99' not found.",
    );
    assert_eq!(d.call("GET", "/api/users", None, None).status, 401);
    // Refusals change nothing.
    let put =
        |body: serde_json::Value, auth: &str| d.call("PUT", "/api/users/1", Some(body), Some(auth));
    let pw = d.admin_password();
    for (body, status, msg) in [
        (
            json!({ "password": "new-password-1" }),
            400,
            "currentPassword is required",
        ),
        (
            json!({ "password": "short", "currentPassword": pw }),
            400,
            "password must have at least 8 characters",
        ),
        (
            json!({ "email": "not-an-address", "currentPassword": pw }),
            400,
            "email must be an e-mail address, got 'not-an-address'",
        ),
        (
            json!({ "colour": "red", "currentPassword": pw }),
            400,
            "unknown field 'colour'",
        ),
        (
            json!({ "password": "new-password-1", "currentPassword": "wrong one" }),
            403,
            "currentPassword is wrong",
        ),
    ] {
        let r = put(body.clone(), &bearer);
        assert_eq!(r.status, status, "{body}: {}", r.body);
        assert!(
            r.body["error"].as_str().unwrap().starts_with(msg),
            "{body}: {}",
            r.body
        );
    }
    assert_eq!(
        d.call("GET", "/api/users/1", None, Some(&bearer)).status,
        200
    );
    // A new e-mail keeps the token; a new password ends it.
    let r = put(
        json!({ "email": "ops@example.com", "currentPassword": pw }),
        &bearer,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"]["updatedFields"][0]["new"], "ops@example.com");
    assert_eq!(r.body["data"]["tokensRevoked"], false);
    let r = put(
        json!({ "password": "new-password-1", "currentPassword": pw }),
        &bearer,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"]["tokensRevoked"], true);
    assert_eq!(d.call("GET", "/api/users", None, Some(&bearer)).status, 401);
    let old = d.call(
        "POST",
        "/api/token/issue",
        Some(json!({"email": "admin@localhost", "password": pw})),
        None,
    );
    assert_eq!(old.status, 401, "{}", old.body);
    let new = d.call(
        "POST",
        "/api/token/issue",
        Some(json!({"email": "ops@example.com", "password": "new-password-1"})),
        None,
    );
    assert_eq!(new.status, 201, "{}", new.body);
}
