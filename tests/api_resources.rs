//! Schedules, servers, partitions, centers and repositories over real HTTP.

mod common;
use common::{assert_envelope, assert_error, Daemon};
use serde_json::json;

#[test]
fn schedules_resource() {
    let d = Daemon::start(&["--server-name", "server-01"]);
    let r = d.post("/api/schedules", json!({"center": "1", "jobName": "label", "type": 7,
        "basic": {"day": "mon", "time": "01:00"}, "advanced": {"day": "tue, fri", "time": "13:00"}}));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["message"], "Schedule data regist result");
    let b = &r.body["data"]["basic"];
    assert_eq!(
        (b["type"].clone(), b["state"].clone()),
        (json!(7), json!(1))
    );
    assert_eq!(
        b["description"],
        "[Basic] Start working every Monday at 01:00"
    );
    assert_eq!(
        r.body["data"]["advanced"]["description"],
        "[Advanced] Start working every Tuesday, Friday at 13:00"
    );
    let bid = b["id"].as_str().unwrap().to_string();

    // Errors of spec §3.5 / §3.7, none of which stores anything.
    let before = d.counts();
    let cases = vec![
        (json!({"center": 1, "type": 3}), 400, "basic schedule data is required"),
        (json!({"center": 1, "type": 7, "basic": {"day": "mon", "time": "01:00"}}), 400, "Smart Schedule requires advanced data."),
        (json!({"center": 999, "type": 3, "basic": {"time": "01:00"}}), 404, "Zdm with ID '999' not found"),
        (json!({"center": 1, "type": 12, "basic": {"time": "01:00"}}), 400, "invalid schedule type (must be 0 ~ 11)"),
        (json!({"center": 1, "type": 3, "basic": {"time": "7:00"}}), 400, "time must be in 'HH:mm' format (00:00 ~ 23:59)."),
        (json!({"center": 1, "type": 7, "basic": {"day": "mon,tue", "time": "01:00"}, "advanced": {"day": "wed", "time": "01:00"}}), 409,
            "Smart Weekly (Specific Day of the Week) type schedule does not allow multiple weekday selections in basic. (Currently selected weekdays: Monday, Tuesday)"),
        (json!({"center": 1, "user": "ghost@example.com", "type": 3, "basic": {"time": "01:00"}}), 404, "User 'ghost@example.com' not found."),
    ];
    for (body, status, msg) in cases {
        assert_error(&d.post("/api/schedules", body.clone()), status, msg);
        assert_eq!(d.counts(), before, "{body}");
    }

    // List, filters, pagination.
    let r = d.get("/api/schedules");
    assert_eq!(r.body["message"], "Schedule information list");
    assert_eq!(r.body["data"].as_array().unwrap().len(), 2);
    assert!(r.body.get("pagination").is_none());
    assert_eq!(
        r.body["data"][0]["description"],
        "[Advanced] Start working every Tuesday, Friday at 13:00"
    );
    assert_eq!(
        r.body["data"][1]["type"],
        "Smart Weekly (Specific Day of the Week)"
    );
    assert_eq!(r.body["data"][1]["state"], "Enabled");
    assert_eq!(r.body["data"][1]["lastRunTime"], "-");
    assert_eq!(
        r.body["data"][1]["center"],
        json!({"id": "1", "name": d.get("/api/zdms").body["data"][0]["name"]["center"]})
    );
    let r = d.get("/api/schedules?page=2&limit=1&sort=asc");
    assert_eq!(
        r.body["pagination"],
        json!({"currentPage": 2, "totalPages": 2, "totalItems": 2, "itemsPerPage": 1, "hasNextPage": false, "hasPreviousPage": true})
    );
    assert_eq!(
        r.body["data"][0]["description"],
        "[Advanced] Start working every Tuesday, Friday at 13:00"
    );
    assert_eq!(d.get("/api/schedules?type=daily").body["data"], json!([]));
    assert_eq!(
        d.get("/api/schedules?jobName=label&state=enabled").body["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(d.get("/api/schedules?state=sleepy").status, 400);

    // Get one.
    let r = d.get(&format!("/api/schedules/{bid}"));
    assert_eq!(r.body["message"], "Schedule information retrieved");
    assert_eq!(r.body["data"]["id"], bid);
    assert_error(
        &d.get("/api/schedules/999"),
        404,
        "Schedule with ID '999' not found",
    );
    assert_error(
        &d.get("/api/schedules/abc"),
        404,
        "Schedule with ID 'abc' not found",
    );

    // Delete: refused while a job uses it, 403 for a foreign center, 400 for a non-numeric id.
    let r = d.post("/api/backups", json!({"center": 1, "server": 1, "type": "full", "partition": ["/"],
        "repository": {"type": "nfs", "path": "/b"}, "schedule": {"type": 3, "basic": {"time": "04:00"}}}));
    assert_eq!(r.status, 201);
    let used: i64 = d
        .db()
        .query_row("SELECT schedule_basic_id FROM jobs", [], |r| r.get(0))
        .unwrap();
    assert_error(
        &d.delete(&format!("/api/schedules/{used}")),
        409,
        &format!("Schedule ID '{used}' is referenced by: backup(1)"),
    );
    assert_error(
        &d.delete(&format!("/api/schedules/{bid}?center=other")),
        403,
        "Schedule does not belong to center 'other'",
    );
    assert_eq!(d.delete("/api/schedules/x1").status, 400);
    assert_error(
        &d.delete("/api/schedules/424242"),
        404,
        "Schedule with ID '424242' not found",
    );
    let r = d.delete(&format!("/api/schedules/{bid}"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["message"], "Schedule has been successfully deleted");
    assert_eq!(r.body["data"]["name"], "label");
    assert_eq!(
        r.body["data"]["type"],
        "Smart Weekly (Specific Day of the Week)"
    );
    assert_eq!(d.get(&format!("/api/schedules/{bid}")).status, 404);
}

#[test]
fn servers_partitions_and_centers() {
    let extra = tempfile::tempdir().unwrap();
    let extra_path = extra.path().to_str().unwrap().to_string();
    let d = Daemon::start(&[
        "--server-name",
        "server-01",
        "--extra-partition",
        &extra_path,
    ]);
    let r = d.get("/api/servers");
    assert_eq!(r.status, 200);
    assert_envelope(&r);
    assert_eq!(r.body["message"], "Server information list");
    assert_eq!(r.body["data"][0]["id"], "1");
    assert_eq!(r.body["data"][0]["name"], "server-01");
    assert_eq!(r.body["data"][0]["agent"]["mode"], "Source");
    for id in ["1", "server-01"] {
        let r = d.get(&format!("/api/servers/{id}?partition=true&detail=true"));
        assert_eq!(r.body["message"], "Server information retrieved");
        let parts = r.body["data"]["partition"].as_array().unwrap();
        assert!(parts.iter().any(|p| p["letter"] == extra_path.as_str()));
    }
    assert_error(&d.get("/api/servers/nope"), 404, "Server 'nope' not found.");
    assert_eq!(d.get("/api/servers?os=win").body["data"], json!([]));
    assert_eq!(d.get("/api/servers?os=beos").status, 400);
    let r = d.get("/api/servers/server-01/partitions");
    assert_eq!(r.body["message"], "Partition information retrieved");
    let p = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["letter"] == extra_path.as_str())
        .unwrap()
        .clone();
    assert_eq!(p["system"], "server-01");
    assert!(p["size"]["raw"].as_u64().unwrap() > 0);
    assert!(p["free"]["formatted"].as_str().unwrap().ends_with('B'));
    let r = d.get("/api/servers/partitions");
    assert_eq!(r.body["message"], "Partition information list");
    let r = d.get(&format!("/api/servers/partitions?partition={extra_path}"));
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
    // A directory given as a partition can be backed up.
    let r = d.post(
        "/api/backups",
        json!({"center": 1, "server": "server-01", "type": "full", "partition": [extra_path],
        "repository": {"type": "nfs", "path": "/b"}}),
    );
    assert_eq!(r.status, 201, "{}", r.body);

    for base in ["/api/zdms", "/api/zdm-centers"] {
        let r = d.get(base);
        assert_eq!(r.body["message"], "ZDM information list");
        let c = &r.body["data"][0];
        assert_eq!(c["id"]["center"], "1");
        let name = c["name"]["center"].as_str().unwrap().to_string();
        for ident in ["1".to_string(), name] {
            let r = d.get(&format!("{base}/{ident}?repository=true"));
            assert_eq!(r.body["message"], "ZDM information retrieved", "{}", r.body);
            assert_eq!(r.body["data"]["repository"].as_array().unwrap().len(), 1);
        }
    }
    assert_error(&d.get("/api/zdms/7"), 404, "Center with ID '7' not found");
    assert_error(
        &d.get("/api/zdms/7/repositories"),
        404,
        "Center with ID '7' not found",
    );
}

#[test]
fn repositories_resource() {
    let d = Daemon::start(&["--server-name", "server-01"]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap().to_string();
    // Register a mounted directory.
    let r = d.post(
        "/api/zdms/repositories",
        json!({"center": 1, "type": "nfs", "path": format!("{path}/")}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["message"], "Repository Registration Results");
    let id = r.body["data"]["id"].as_i64().unwrap();
    assert_error(
        &d.post(
            "/api/zdms/repositories",
            json!({"center": 1, "type": "nfs", "path": path}),
        ),
        409,
        &format!("Repository nfs '{path}' is already registered (ID {id})"),
    );
    // An SMB share with credentials: the password lives only in a 0600 file.
    let r = d.post(
        "/api/zdms/repositories",
        json!({"center": "1", "type": "smb", "remotePath": "\\\\127.0.0.1\\share",
        "account": "backup", "password": "Sup3r-secret", "domain": "WORK"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let smb = r.body["data"]["id"].as_i64().unwrap();
    assert_eq!(r.body["data"]["path"], "//127.0.0.1/share");
    let cred: String = d
        .db()
        .query_row(
            "SELECT credentials_file FROM repositories WHERE id = ?1",
            [smb],
            |r| r.get(0),
        )
        .unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(&cred).unwrap().mode() & 0o777, 0o600);
    assert!(std::fs::read_to_string(&cred)
        .unwrap()
        .contains("password=Sup3r-secret"));
    let list = d.get("/api/zdms/repositories");
    assert_eq!(list.body["message"], "Repository list retrieved");
    assert!(!list.body.to_string().contains("Sup3r-secret"));
    assert!(!d.log_text().contains("Sup3r-secret"));
    let items = list.body["data"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let local = items
        .iter()
        .find(|i| i["id"] == id.to_string().as_str())
        .unwrap();
    assert_eq!(local["type"], "NFS");
    assert!(local["free"].as_u64().unwrap() > 0);
    assert_eq!(
        d.get("/api/zdms/repositories?type=smb").body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        d.get("/api/zdms/1/repositories").body["message"],
        "Repository information retrieved"
    );
    // Validation.
    let before = d.counts();
    for (body, field) in [
        (
            json!({"center": 1, "type": "smb", "path": "not-unc"}),
            "path",
        ),
        (json!({"center": 1, "type": "ftp", "path": "/x"}), "type"),
        (
            json!({"center": 1, "type": "smb", "path": "//h/s", "password": "x"}),
            "account",
        ),
        // A share without its login (spec: 400 SMB without account), on both paths.
        (
            json!({"center": 1, "type": "smb", "path": "//h/s"}),
            "account",
        ),
        (json!({"type": "nfs", "path": "/x"}), "center"),
        (
            json!({"center": 1, "type": "nfs", "path": "/x", "colour": "red"}),
            "colour",
        ),
    ] {
        let r = d.post("/api/zdms/repositories", body.clone());
        assert_eq!(r.status, 400, "{body}");
        assert!(
            r.body["detail"]["validationErrors"][field].is_array(),
            "{body}: {}",
            r.body
        );
        assert_eq!(d.counts(), before);
        if field == "account" {
            let r = d.post("/api/zdms/repositories/verify", body.clone());
            assert_eq!(r.status, 400, "{body}");
            assert!(r.body["detail"]["validationErrors"][field].is_array());
        }
    }
    // Another center is a 404 (it was a 400 field error), as for POST /api/backups.
    for ep in ["/api/zdms/repositories", "/api/zdms/repositories/verify"] {
        let r = d.post(ep, json!({"center": 999, "type": "nfs", "path": "/x"}));
        assert_error(&r, 404, "Center '999' not found.");
        assert_eq!(d.counts(), before);
    }
    // A repository that cannot be reached yet is registered, with a warning that says so.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = d.post(
        "/api/zdms/repositories",
        json!({"center": 1, "type": "smb", "path": format!("//127.0.0.1:{dead}/later"),
               "account": "u", "password": "p"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let w = r.body["data"]["warnings"].as_array().unwrap();
    assert!(
        w.len() == 1 && w[0].as_str().unwrap().contains("step 'connect'"),
        "{}",
        r.body
    );
    let reachable = tempfile::tempdir().unwrap();
    let r = d.post(
        "/api/zdms/repositories",
        json!({"center": 1, "type": "nfs", "path": reachable.path()}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["data"]["warnings"], json!([]));
    let fine = r.body["data"]["id"].as_i64().unwrap();
    for id in [fine, fine - 1] {
        let r = d.delete(&format!("/api/zdms/repositories/{id}"));
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert_eq!(d.counts(), before);
    // Verify: a local directory passes every step and leaves nothing behind.
    let r = d.post(
        "/api/zdms/repositories/verify",
        json!({"center": 1, "type": "nfs", "path": path}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["message"], "Repository Verify Results");
    assert_eq!(r.body["data"]["result"], "SUCCESS");
    assert!(r.body["data"]["free"]["raw"].as_u64().unwrap() > 0);
    assert_eq!(std::fs::read_dir(&path).unwrap().count(), 0);
    // A share whose server does not answer says so.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = d.post(
        "/api/zdms/repositories/verify",
        json!({"center": 1, "type": "smb", "path": format!("//127.0.0.1:{closed}/backup"),
               "account": "u", "password": "p"}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.body["detail"]["step"], "connect");
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .contains("connection refused"),
        "{}",
        r.body
    );
    let r = d.post(
        "/api/zdms/repositories/verify",
        json!({"center": 1, "type": "nfs", "path": "/does/not/exist"}),
    );
    assert_eq!(r.body["detail"]["step"], "exists");
    // Update.
    let r = d.put(
        &format!("/api/zdms/repositories/{smb}"),
        json!({"center": 1, "ip": "127.0.0.1", "remoteUser": "other", "remotePwd": "n3w"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["message"], "Repository updated successfully");
    let fields = r.body["data"]["summary"]["updatedFields"]
        .as_array()
        .unwrap();
    assert!(fields
        .iter()
        .any(|f| f["field"] == "remotePwd" && f["new"] == "********"));
    assert!(!r.body.to_string().contains("n3w"));
    assert!(
        std::fs::metadata(&cred).is_err(),
        "the old credentials file is replaced"
    );
    assert_error(
        &d.put(
            &format!("/api/zdms/repositories/{smb}"),
            json!({"center": 1, "ip": "127.0.0.1"}),
        ),
        400,
        "",
    );
    assert_error(
        &d.put(
            &format!("/api/zdms/repositories/{smb}"),
            json!({"center": 1}),
        ),
        400,
        "No fields provided for update",
    );
    assert_error(
        &d.put("/api/zdms/repositories/999", json!({"ip": "10.0.0.1"})),
        404,
        "Repository with ID '999' not found",
    );
    assert_eq!(
        d.put("/api/zdms/repositories/abc", json!({"ip": "10.0.0.1"}))
            .status,
        400
    );
    // Delete: refused while a job uses it.
    let r = d.post("/api/backups", json!({"center": 1, "server": 1, "type": "full", "partition": ["/"], "repository": {"id": id}, "jobName": "uses-it"}));
    assert_eq!(r.status, 201, "{}", r.body);
    let r = d.delete(&format!("/api/zdms/repositories/{id}"));
    assert_eq!(r.status, 409);
    assert!(r.body["error"].as_str().unwrap().contains("uses-it_ROOT"));
    assert_error(
        &d.delete(&format!("/api/zdms/repositories/{smb}?center=9")),
        403,
        "Repository does not belong to center '9'",
    );
    let r = d.delete(&format!("/api/zdms/repositories/{smb}"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["message"], "Repository deleted successfully");
    assert_eq!(
        d.get("/api/zdms/repositories").body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        std::fs::read_dir(d.state.join("credentials"))
            .unwrap()
            .count(),
        0
    );
}
