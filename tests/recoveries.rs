//! Restore points through the API (RECOVERIES.md §4): images of a job and of a server (deleted
//! jobs included) and browsing a point, against a real daemon, real runs and a real repository.

mod common;
use common::assert_error;
use common::tree::write;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

use common::{partition_env as env, PartitionEnv as Env};

impl Env {
    fn runs(&self, job: &str) -> Vec<Value> {
        let r = self
            .d
            .get(&format!("/api/backups/histories?jobName={job}&sort=asc"));
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["data"].as_array().unwrap().clone()
    }

    /// Starts a run of `job` and waits until it completed; returns its point id.
    fn run(&self, job: &str) -> String {
        let before = self.runs(job).len();
        let r = self
            .d
            .put(&format!("/api/backups/{job}"), json!({ "status": "start" }));
        assert_eq!(r.status, 200, "{}", r.body);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let runs = self.runs(job);
            if let Some(last) = runs.get(before) {
                if last["run"]["state"] == "complete" {
                    return last["run"]["restorePoint"].as_str().unwrap().to_string();
                }
                assert!(
                    !["error", "canceled", "interrupted"]
                        .contains(&last["run"]["state"].as_str().unwrap()),
                    "{last:#}"
                );
            }
            assert!(Instant::now() < deadline, "run never finished: {runs:#?}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn files(&self, job: &str, image: &str, query: &str) -> common::Resp {
        self.d
            .get(&format!("/api/backups/{job}/images/{image}/files?{query}"))
    }

    /// A download: status, headers and the whole body (`Err` when the body was cut off).
    fn download(&self, job: &str, image: &str, query: &str) -> (u16, ureq::Response) {
        let url = format!(
            "{}/api/backups/{job}/images/{image}/download?{query}",
            self.d.base
        );
        let r = ureq::get(&url)
            .set("Authorization", &format!("Bearer {}", self.d.token()))
            .call();
        match r {
            Ok(r) => (r.status(), r),
            Err(ureq::Error::Status(code, r)) => (code, r),
            Err(e) => panic!("{e}"),
        }
    }

    fn body(r: ureq::Response) -> std::io::Result<Vec<u8>> {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut r.into_reader(), &mut v).map(|_| v)
    }

    fn names(&self, job: &str, image: &str, query: &str) -> Vec<String> {
        let r = self.files(job, image, query);
        assert_eq!(r.status, 200, "{query}: {}", r.body);
        r.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_string())
            .collect()
    }
}

fn tree(src: &Path) {
    write(&src.join("etc/hosts"), b"127.0.0.1 localhost\n");
    write(&src.join("etc/ssh/sshd_config"), b"Port 22\n");
    for i in 0..30 {
        write(&src.join(format!("etc/conf.d/f{i:02}.conf")), b"x\n");
    }
    write(&src.join("home/ann/notes.txt"), b"notes\n");
    std::os::unix::fs::symlink("hosts", src.join("etc/hosts.link")).unwrap();
}

#[test]
fn images_of_jobs_and_servers_and_browsing_them() {
    let e = env(tree);
    let part = e.src.to_str().unwrap().to_string();
    let r = e.d.post(
        "/api/backups",
        json!({
            "center": 1, "server": 1, "type": "increment", "rotation": 5,
            "partition": [part],
            "repository": { "type": "nfs", "path": e.repo.to_str().unwrap() },
            "individual": [{ "partition": part, "jobName": "web" }],
        }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let full = e.run("web");
    write(&e.src.join("etc/hosts"), b"10.0.0.1 changed\n");
    let incr = e.run("web");

    // The job's images: newest first, the vendor's fields and the extensions.
    let r = e.d.get("/api/backups/web/images");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["message"], "Backup images retrieved successfully");
    let imgs = r.body["data"].as_array().unwrap();
    assert_eq!(imgs.len(), 2, "{:#}", r.body);
    let (newest, oldest) = (&imgs[0]["image"], &imgs[1]["image"]);
    assert_eq!(newest["name"], incr.as_str());
    assert_eq!(newest["type"], "increment");
    assert_eq!(newest["parent"], full.as_str());
    assert_eq!(newest["chain"], full.as_str());
    assert_eq!(newest["jobName"], "web");
    assert_eq!(oldest["type"], "full");
    assert_eq!(oldest["parent"], Value::Null);
    assert_eq!(newest["entries"], oldest["entries"]);
    assert_eq!(newest["encryption"]["enabled"], false);
    assert_eq!(newest["verify"]["status"], "unverified");
    assert_eq!(imgs[0]["partition"]["mountPoint"], part.as_str());
    assert_eq!(imgs[0]["server"]["name"], "srv");
    let on_disk: u64 = std::fs::read_dir(e.repo.join("srv/web").join(&incr))
        .unwrap()
        .map(|f| f.unwrap().metadata().unwrap().len())
        .sum();
    assert_eq!(newest["size"]["raw"], on_disk);
    let asc = e.d.get("/api/backups/web/images?sort=asc&limit=1&page=2");
    assert_eq!(asc.body["data"][0]["image"]["name"], incr.as_str());
    assert_eq!(asc.body["pagination"]["totalItems"], 2);

    // Browse: the partition root by default, directories first, then names.
    assert_eq!(e.names("web", &incr, ""), vec!["etc", "home"]);
    let r = e.files("web", "latest", &format!("path={part}/etc"));
    assert_eq!(r.status, 200, "{}", r.body);
    let etc = r.body["data"].as_array().unwrap();
    let names: Vec<&str> = etc.iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["conf.d", "ssh", "hosts", "hosts.link"]);
    assert_eq!(etc[0]["type"], "dir");
    assert_eq!(etc[0]["hasChildren"], true);
    assert_eq!(etc[0]["path"], format!("{part}/etc/conf.d"));
    let hosts = &etc[2];
    assert_eq!(hosts["type"], "file");
    assert_eq!(hosts["size"]["raw"], 17);
    assert_eq!(hosts["writtenIn"], incr.as_str());
    assert_eq!(hosts["linkTarget"], Value::Null);
    assert_eq!(etc[3]["type"], "symlink");
    assert_eq!(etc[3]["linkTarget"], "hosts");
    let mode = std::fs::metadata(e.src.join("etc/hosts")).unwrap();
    assert_eq!(
        hosts["mode"],
        format!(
            "{:04o}",
            std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o7777
        )
    );
    // The older point has the old content, written in itself; an unchanged file of the newest
    // point is written in the full.
    let r = e.files("web", &full, &format!("path={part}/etc&type=file"));
    assert_eq!(r.body["data"][0]["size"]["raw"], 20, "{}", r.body);
    let r = e.files("web", &incr, &format!("path={part}/etc/ssh"));
    assert_eq!(r.body["data"][0]["writtenIn"], full.as_str(), "{}", r.body);

    // Pages of a 30-entry directory are exact.
    let q = format!("path={part}/etc/conf.d&limit=7");
    let r = e.files("web", &incr, &format!("{q}&page=5"));
    assert_eq!(r.status, 200, "{}", r.body);
    let got: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec!["f28.conf", "f29.conf"]);
    assert_eq!(r.body["pagination"]["totalItems"], 30);
    assert_eq!(r.body["pagination"]["totalPages"], 5);
    assert_eq!(r.body["pagination"]["hasNextPage"], false);
    let desc = e.names("web", &incr, &format!("{q}&sort=desc"));
    assert_eq!(desc[0], "f29.conf");
    // Search below a path: substring or glob, anywhere below.
    assert_eq!(e.names("web", &incr, "search=sshd"), vec!["sshd_config"]);
    assert_eq!(
        e.names("web", &incr, &format!("path={part}/etc&search=f1*.conf"))
            .len(),
        10
    );
    assert_eq!(
        e.names("web", &incr, &format!("path={part}/home&search=sshd")),
        Vec::<String>::new()
    );
    assert_eq!(e.names("web", &incr, "type=socket"), Vec::<String>::new());

    // Refusals: each names what was wrong.
    assert_error(
        &e.files("web", "20000101T000000.000Z", ""),
        404,
        "Backup image '20000101T000000.000Z' not found for job 'web'.",
    );
    assert_error(
        &e.d.get("/api/backups/nope/images"),
        404,
        "Backup job 'nope' not found.",
    );
    assert_error(
        &e.files("web", &incr, &format!("path={part}/etc/nope")),
        404,
        &format!("Path '{part}/etc/nope' not found in backup image '{incr}'."),
    );
    assert_error(
        &e.files("web", &incr, "path=/var/x"),
        400,
        &format!("Path '/var/x' is outside partition '{part}' of job 'web'."),
    );
    assert_error(
        &e.files("web", &incr, "path=etc"),
        400,
        "path must be absolute",
    );
    assert_error(
        &e.files("web", &incr, &format!("path={part}/etc/hosts")),
        400,
        &format!("Path '{part}/etc/hosts' is not a directory in backup image '{incr}'."),
    );
    let r = e.files("web", &incr, "type=pipe");
    assert_eq!(r.status, 400, "{}", r.body);
    let r = e.files("web", &incr, "limit=5000");
    assert_eq!(r.status, 400, "{}", r.body);
    let r = e.files("web", &incr, "serch=x");
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body["error"].as_str().unwrap().contains("search"),
        "{}",
        r.body
    );

    // Downloads: one file raw, with its name, size and time.
    let (code, r) = e.download("web", &incr, &format!("path={part}/etc/hosts"));
    assert_eq!(code, 200);
    assert_eq!(r.header("Content-Type"), Some("application/octet-stream"));
    assert_eq!(
        r.header("Content-Disposition"),
        Some("attachment; filename=\"hosts\"")
    );
    assert_eq!(r.header("Content-Length"), Some("17"));
    assert!(r.header("Last-Modified").unwrap().ends_with(" GMT"));
    assert_eq!(Env::body(r).unwrap(), b"10.0.0.1 changed\n");
    // HEAD answers the headers, the length included, without reading the point.
    let url = format!(
        "{}/api/backups/web/images/{incr}/download?path={part}/etc/hosts",
        e.d.base
    );
    let sent = |d: &common::Daemon| d.log_text().matches("download sent").count();
    // The last GET's "sent" line may come a moment after its body.
    std::thread::sleep(Duration::from_millis(300));
    let before = sent(&e.d);
    let h = ureq::head(&url)
        .set("Authorization", &format!("Bearer {}", e.d.token()))
        .call()
        .unwrap();
    assert_eq!(h.status(), 200);
    assert_eq!(h.header("Content-Length"), Some("17"));
    assert_eq!(h.header("Content-Type"), Some("application/octet-stream"));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(sent(&e.d), before, "HEAD streamed the file");
    let (_, r) = e.download("web", &full, &format!("path={part}/etc/hosts"));
    assert_eq!(Env::body(r).unwrap(), b"127.0.0.1 localhost\n");
    // A directory, and several paths, as a tar named from each path's parent.
    let tar_names = |bytes: &[u8]| -> Vec<(String, u64)> {
        let mut a = tar::Archive::new(bytes);
        a.entries()
            .unwrap()
            .map(|x| {
                let x = x.unwrap();
                (
                    x.path().unwrap().to_string_lossy().into_owned(),
                    x.header().size().unwrap(),
                )
            })
            .collect()
    };
    let (code, r) = e.download(
        "web",
        &incr,
        &format!("path={part}/etc/ssh&path={part}/home"),
    );
    assert_eq!(code, 200);
    assert_eq!(r.header("Content-Type"), Some("application/x-tar"));
    assert_eq!(
        r.header("Content-Disposition"),
        Some(format!("attachment; filename=\"web_{incr}.tar\"").as_str())
    );
    let got = tar_names(&Env::body(r).unwrap());
    let got: Vec<&str> = got.iter().map(|(n, _)| n.trim_end_matches('/')).collect();
    assert_eq!(
        got,
        vec![
            "ssh",
            "ssh/sshd_config",
            "home",
            "home/ann",
            "home/ann/notes.txt"
        ]
    );
    let (_, r) = e.download("web", &incr, &format!("path={part}/etc&format=tar.zst"));
    assert_eq!(r.header("Content-Type"), Some("application/zstd"));
    let tar = zstd::decode_all(Env::body(r).unwrap().as_slice()).unwrap();
    let mut a = tar::Archive::new(tar.as_slice());
    let mut seen = 0;
    for x in a.entries().unwrap() {
        let mut x = x.unwrap();
        let name = x.path().unwrap().to_string_lossy().into_owned();
        if name == "etc/hosts" {
            let mut c = Vec::new();
            std::io::Read::read_to_end(&mut x, &mut c).unwrap();
            assert_eq!(c, b"10.0.0.1 changed\n");
        }
        if name == "etc/hosts.link" {
            assert_eq!(x.link_name().unwrap().unwrap().to_str(), Some("hosts"));
        }
        seen += 1;
    }
    assert_eq!(
        seen, 36,
        "etc, conf.d and its 30 files, ssh and its file, hosts and its link"
    );
    // The whole point by default.
    let (_, r) = e.download("web", "latest", "format=tar");
    assert_eq!(tar_names(&Env::body(r).unwrap()).len(), 39);
    // Refusals before the first byte use the envelope.
    let (code, r) = e.download("web", &incr, &format!("path={part}/nope"));
    assert_eq!(code, 404);
    assert!(r
        .into_string()
        .unwrap()
        .contains("not found in backup image"));
    let (code, _) = e.download("web", &incr, "format=zip");
    assert_eq!(code, 400);
    // A signed link: no token needed, once, for what it names only.
    let r = e.d.post(
        &format!("/api/backups/web/images/{incr}/download-url"),
        json!({ "paths": [format!("{part}/etc/hosts")] }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let url = r.body["data"]["url"].as_str().unwrap().to_string();
    assert!(url.starts_with("/downloads/"), "{url}");
    let get = |u: &str| match ureq::get(&format!("{}{u}", e.d.base)).call() {
        Ok(r) => (r.status(), Env::body(r).unwrap()),
        Err(ureq::Error::Status(c, r)) => (c, Env::body(r).unwrap()),
        Err(x) => panic!("{x}"),
    };
    assert_eq!(get(&url), (200, b"10.0.0.1 changed\n".to_vec()));
    let (code, body) = get(&url);
    assert_eq!(code, 410, "{}", String::from_utf8_lossy(&body));
    let mut forged = url.clone();
    forged.insert(12, 'x');
    assert_eq!(get(&forged).0, 403);
    let r = e.d.post(
        &format!("/api/backups/web/images/{incr}/download-url"),
        json!({ "paths": ["/elsewhere"] }),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let r = e.d.post(
        &format!("/api/backups/web/images/{incr}/download-url"),
        json!({ "paths": [], "format": "zip" }),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let r = e.d.call(
        "POST",
        &format!("/api/backups/web/images/{incr}/download-url"),
        Some(json!({})),
        None,
    );
    assert_eq!(r.status, 401);
    // `..` never walks out of the partition, in any of the three ways to name a path.
    for bad in [
        format!("{part}/etc/../.."),
        format!("{part}/../srv"),
        format!("{part}/./etc"),
    ] {
        let q = format!("path={}", urlencoding(&bad));
        let r = e.files("web", &incr, &q);
        assert_eq!(r.status, 400, "browse {bad}: {}", r.body);
        assert!(
            r.body.to_string().contains("must not contain"),
            "{}",
            r.body
        );
        let (code, _) = e.download("web", &incr, &q);
        assert_eq!(code, 400, "download {bad}");
        let r = e.d.post(
            &format!("/api/backups/web/images/{incr}/download-url"),
            json!({ "paths": [bad] }),
        );
        assert_eq!(r.status, 400, "link {bad}: {}", r.body);
    }

    // Damaged content found while streaming cuts the download off: the client cannot take a
    // truncated file for a whole one. Both checks: per file (a selection of an increment) and
    // the whole archive (a whole full point).
    let damaged_download_aborts = |job: &str, point: &str, needle: &[u8], query: &str| {
        let data = std::fs::read_dir(e.repo.join("srv").join(job).join(point))
            .unwrap()
            .map(|f| f.unwrap().path())
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("data.tar")
            })
            .unwrap();
        let original = std::fs::read(&data).unwrap();
        let mut bad = original.clone();
        // The file's bytes when the archive is plain, else the middle of the stream.
        let at = bad
            .windows(needle.len())
            .position(|w| w == needle)
            .unwrap_or(bad.len() / 2);
        for b in &mut bad[at..at + needle.len()] {
            *b ^= 0xff;
        }
        std::fs::write(&data, &bad).unwrap();
        // The damage is found before the first chunk went out (the connection closes without
        // an answer) or after (the body breaks off): never a complete answer.
        let url = format!(
            "{}/api/backups/{job}/images/{point}/download?{query}",
            e.d.base
        );
        let r = ureq::get(&url)
            .set("Authorization", &format!("Bearer {}", e.d.token()))
            .call();
        match r {
            Ok(r) => assert!(
                Env::body(r).is_err(),
                "a damaged archive must abort the download ({point} {query})"
            ),
            Err(ureq::Error::Transport(_)) => {}
            Err(other) => panic!("{other}"),
        }
        std::fs::write(&data, &original).unwrap();
    };
    // Uncompressed archives, so that the damage is content a tar reader takes as it is.
    let r = e.d.post(
        "/api/backups",
        json!({
            "center": 1, "server": 1, "type": "full", "compression": "not use",
            "partition": [part],
            "repository": { "type": "nfs", "path": e.repo.to_str().unwrap() },
            "individual": [{ "partition": part, "jobName": "plain" }],
        }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let plain = e.run("plain");
    for (job, point) in [("web", &incr), ("plain", &plain)] {
        damaged_download_aborts(
            job,
            point,
            b"10.0.0.1",
            &format!("path={part}/etc&format=tar"),
        );
    }
    damaged_download_aborts("plain", &plain, b"Port 22", "format=tar");
    damaged_download_aborts("plain", &plain, b"notes", "format=tar.zst");
    damaged_download_aborts("web", &full, b"127.0.0.1", "format=tar");
    // Undamaged, the whole full point is complete.
    let (code, r) = e.download("web", &full, "format=tar");
    assert_eq!(code, 200);
    assert!(Env::body(r).is_ok());
    // A whole full point is its archive as it is: stock tar extracts the source's tree, and
    // tar.zst is the same tar compressed.
    let (code, r) = e.download("plain", &plain, "format=tar");
    assert_eq!(code, 200);
    let whole = Env::body(r).unwrap();
    let (_, r) = e.download("plain", &plain, "format=tar.zst");
    assert!(zstd::decode_all(Env::body(r).unwrap().as_slice()).unwrap() == whole);
    let out = e.tmp.path().join("whole");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(e.tmp.path().join("whole.tar"), &whole).unwrap();
    common::tree::sh(&format!(
        "tar -x -f '{}' -C '{}'",
        e.tmp.path().join("whole.tar").display(),
        out.display()
    ));
    let shape = |root: &Path| {
        common::tree::snapshot(root, &[])
            .into_iter()
            .filter(|(p, _)| p != b".")
            .map(|(p, n)| (p, (n.kind, n.content, n.link, n.mode)))
            .collect::<Vec<_>>()
    };
    assert!(
        shape(&e.src) == shape(&out),
        "the whole-point tar extracts the source"
    );

    // The browse index is built once and kept in the state directory.
    let built: Vec<_> = std::fs::read_dir(e.d.state.join("browse-index"))
        .unwrap()
        .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(built.len(), 3, "{built:?}");

    // The server's images include those of a job deleted since (its points stay).
    let r = e.d.delete("/api/backups/web");
    assert_eq!(r.status, 200, "{}", r.body);
    let r = e.d.get("/api/backups/images/server/srv");
    assert_eq!(r.status, 200, "{}", r.body);
    let imgs = r.body["data"].as_array().unwrap();
    assert_eq!(imgs.len(), 3, "{:#}", r.body);
    let of_web = imgs
        .iter()
        .filter(|i| i["image"]["jobName"] == "web")
        .count();
    assert_eq!(of_web, 2, "{:#}", r.body);
    let r = e.d.get("/api/backups/images/server/srv?jobName=other");
    assert_eq!(r.body["data"], json!([]));
    assert_error(
        &e.d.get("/api/backups/images/server/elsewhere"),
        404,
        "Server 'elsewhere' not found.",
    );
    assert_error(
        &e.d.get("/api/backups/images/server/srv?repositoryId=99"),
        404,
        "Repository ID 99 not found",
    );
    // Without a token, nothing.
    let r =
        e.d.call("GET", "/api/backups/images/server/srv", None, None);
    assert_eq!(r.status, 401);
}

/// Percent-encodes a query value (enough for paths).
fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Large files stored as deltas come back whole through every download: one file, a hard link
/// whose first name is outside the selection, a subtree and the whole incremental point.
#[test]
fn large_files_stored_as_deltas_download_whole() {
    let big = |seed: u64| common::tree::noise(17 << 20, seed);
    let e = env(|src| {
        write(&src.join("data/big.db"), &big(1));
        write(&src.join("data/small"), b"small\n");
        std::fs::create_dir_all(src.join("other")).unwrap();
        std::fs::hard_link(src.join("data/big.db"), src.join("other/big.link")).unwrap();
    });
    let part = e.src.to_str().unwrap().to_string();
    let r = e.d.post(
        "/api/backups",
        json!({
            "center": 1, "server": 1, "type": "increment", "rotation": 5,
            "compression": "not use",
            "partition": [part],
            "repository": { "type": "nfs", "path": e.repo.to_str().unwrap() },
            "individual": [{ "partition": part, "jobName": "db" }],
        }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let full = e.run("db");
    let mut versions = Vec::new();
    for round in 0..2u64 {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(e.src.join("data/big.db"))
            .unwrap();
        std::os::unix::fs::FileExt::write_all_at(
            &f,
            &common::tree::noise(300_000, 10 + round),
            (2 + round * 5) << 20,
        )
        .unwrap();
        drop(f);
        let id = e.run("db");
        versions.push((id, std::fs::read(e.src.join("data/big.db")).unwrap()));
    }
    for (id, want) in &versions {
        // The increment holds a delta, not the file.
        let data = e.repo.join("srv/db").join(id).join("data.tar");
        assert!(
            std::fs::metadata(&data).unwrap().len() < 2 << 20,
            "{id} stores the whole file"
        );
        let (code, r) = e.download("db", id, &format!("path={part}/data/big.db"));
        assert_eq!(code, 200);
        assert_eq!(r.header("Content-Length"), Some("17825792"));
        assert!(Env::body(r).unwrap() == *want, "{id}: data/big.db");
        let listed = e.files("db", id, &format!("path={}/data", urlencoding(&part)));
        assert_eq!(listed.status, 200, "{}", listed.body);
        let tar_member = |query: &str, name: &str| -> Vec<u8> {
            let (code, r) = e.download("db", id, query);
            assert_eq!(code, 200, "{query}");
            let bytes = Env::body(r).unwrap();
            let mut a = tar::Archive::new(&bytes[..]);
            let mut m = a
                .entries()
                .unwrap()
                .map(Result::unwrap)
                .find(|m| m.path().unwrap().to_string_lossy() == name)
                .unwrap_or_else(|| panic!("{query}: no {name}"));
            let mut v = Vec::new();
            std::io::Read::read_to_end(&mut m, &mut v).unwrap();
            v
        };
        // The hard link's first name is outside the selection: its content goes in here.
        assert!(tar_member(&format!("path={part}/other&format=tar"), "other/big.link") == *want);
        assert!(tar_member(&format!("path={part}/data&format=tar"), "data/big.db") == *want);
        assert!(tar_member("format=tar", "data/big.db") == *want);
    }
    // One flipped byte in the full point's copy (a large file has no whole-file hash; its
    // parts' hashes check it) cuts off every download that reads it.
    let data = e.repo.join("srv/db").join(&full).join("data.tar");
    let mut b = std::fs::read(&data).unwrap();
    let needle = big(1)[5 << 20..(5 << 20) + 64].to_vec();
    let at = b.windows(64).position(|w| w == needle).unwrap();
    b[at] ^= 1;
    std::fs::write(&data, &b).unwrap();
    let (id, _) = &versions[1];
    for (point, query) in [
        (&full, format!("path={part}/data/big.db")),
        (id, format!("path={part}/data/big.db")),
        (&full, format!("path={part}/other&format=tar")),
        (id, format!("path={part}/data&format=tar")),
    ] {
        let url = format!(
            "{}/api/backups/db/images/{point}/download?{query}",
            e.d.base
        );
        match ureq::get(&url)
            .set("Authorization", &format!("Bearer {}", e.d.token()))
            .call()
        {
            Ok(r) => assert!(Env::body(r).is_err(), "{point} {query}: complete"),
            Err(ureq::Error::Transport(_)) => {}
            Err(other) => panic!("{other}"),
        }
    }
}
