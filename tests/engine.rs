//! The backup engine through the operator commands (the code path scheduled runs use): real
//! trees, loop-mounted ext4 when running as root, restores compared with snapshots.

mod common;
use common::points::{backup, backup_args, check_restores, points, restore_to, run, s, verify_all};
use common::tree::{
    assert_same, have_tools, is_root, noise, sh, snapshot, write, LoopFs, Snapshot,
};
use common::BIN;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

/// Builds every kind of entry the engine must keep.
fn torture(root: &Path) {
    write(&root.join("plain.txt"), b"hello\n");
    write(&root.join("empty"), b"");
    write(&root.join("docs/report.csv"), &b"a,b,c\n".repeat(5000));
    write(&root.join("big.bin"), &noise(70 * 1024 * 1024, 1));
    sh(&format!("cd '{}' && truncate -s 20M sparse && printf tail >> sparse && dd if=/dev/urandom of=sparse bs=4k count=1 seek=100 conv=notrunc status=none", root.display()));
    std::os::unix::fs::symlink("plain.txt", root.join("link")).unwrap();
    std::os::unix::fs::symlink("/nowhere/at/all", root.join("dangling")).unwrap();
    std::fs::hard_link(root.join("plain.txt"), root.join("docs/hard")).unwrap();
    std::fs::create_dir_all(root.join("emptydir")).unwrap();
    write(&root.join("cache/skip-me"), b"excluded");
    write(
        &root.join(std::str::from_utf8(b"newline\nname").unwrap()),
        b"nl",
    );
    write(&root.join(common::tree::os(b"bad\xffname")), b"not utf-8");
    let deep = root
        .join("d".repeat(100))
        .join("e".repeat(100))
        .join("f".repeat(100));
    write(&deep.join("file-in-a-path-longer-than-255-bytes"), b"deep");
    sh(&format!(
        "cd '{}' && mkfifo fifo && mknod chardev c 1 3 && mknod blockdev b 7 200 && chmod 4755 plain.txt && chown 1234:5678 docs/report.csv \
         && setfattr -n user.color -v blue docs/report.csv && setfacl -m u:4321:rx docs && chmod 0700 emptydir \
         && touch -h -d '2020-01-02 03:04:05.123456789' plain.txt && mkdir mnt && mount -t tmpfs tmpfs mnt && echo other-fs > mnt/inside",
        root.display()
    ));
}

#[test]
fn torture_round_trip_on_ext4() {
    if !is_root() {
        eprintln!("SKIPPED torture_round_trip_on_ext4: needs root for loop mounts, device nodes and chown");
        return;
    }
    if !have_tools(
        "torture_round_trip_on_ext4",
        &["mkfs.ext4", "setfacl", "setfattr", "mknod"],
    ) {
        return;
    }
    let fs = LoopFs::new(400);
    let src = fs.mount.join("src");
    std::fs::create_dir(&src).unwrap();
    torture(&src);
    let repo_dir = tempfile::tempdir().unwrap();
    let repo = repo_dir.path();
    let exclude = s(&src.join("cache"));
    let extra = ["--rotation", "10", "--exclude-dir", exclude.as_str()];
    let skip = ["cache", "lost+found"];
    let _ = std::fs::remove_dir_all(src.join("lost+found"));
    let mut snaps = HashMap::new();
    let id = backup(&src, repo, "torture", "full", &extra);
    snaps.insert(id, snapshot(&src, &skip));
    let changes = [
        "printf 'HELLO\\n' > plain.txt && echo appended >> docs/report.csv && truncate -s 1000 big.bin && rm dangling && mv empty renamed-empty \
         && chmod 0600 docs/report.csv && chown 42:42 renamed-empty && ln docs/report.csv docs/report-link && setfattr -n user.new -v 1 renamed-empty",
        "rm docs/hard && echo more > newfile && setfacl -m u:99:r newfile && rm -r emptydir && mkdir emptydir2 && touch -d '2001-01-01 00:00:00.5' newfile",
        "rm -f docs/report-link && printf x >> renamed-empty",
    ];
    for c in changes {
        sh(&format!("cd '{}' && {c}", src.display()));
        let id = backup(&src, repo, "torture", "increment", &extra);
        snaps.insert(id, snapshot(&src, &skip));
    }
    let ps = points(repo, "torture");
    assert_eq!(ps.len(), 4);
    assert_eq!(ps.iter().filter(|p| p["kind"] == "incr").count(), 3);
    // The nested mount point is kept, its contents are not.
    assert!(snaps
        .values()
        .all(|sn| sn.contains_key(&b"mnt".to_vec()) && !sn.contains_key(&b"mnt/inside".to_vec())));
    assert_eq!(verify_all(repo, "torture", &[]).code, 0);
    check_restores(repo, "torture", &snaps, &[]);
    sh(&format!("umount '{}'", src.join("mnt").display()));
}

fn small_tree(root: &Path, run: u64) {
    write(
        &root.join(format!("runs/{run}.txt")),
        format!("run {run}\n").as_bytes(),
    );
    write(
        &root.join("changing.bin"),
        &noise(100_000 + run as usize, run),
    );
    write(&root.join("stable/data"), &b"stable".repeat(1000));
    if run.is_multiple_of(3) {
        let _ = std::fs::remove_file(root.join(format!("runs/{}.txt", run - 1)));
    }
}

#[test]
fn rotation_keeps_n_restorable_points() {
    for mode in ["full", "increment", "smart"] {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(&repo).unwrap();
        let mut snaps = HashMap::new();
        for run in 1..=10u64 {
            small_tree(&src, run);
            let m = match mode {
                "smart" if run % 4 == 1 => "full",
                "smart" => "increment",
                m => m,
            };
            let id = backup(&src, &repo, "rot", m, &["--rotation", "3"]);
            snaps.insert(id, snapshot(&src, &[]));
            let ps = points(&repo, "rot");
            assert_eq!(ps.len() as u64, run.min(3), "{mode} run {run}");
            assert_eq!(
                ps[0]["kind"], "full",
                "{mode} run {run}: the oldest point is always a full"
            );
            check_restores(&repo, "rot", &snaps, &[]);
        }
        assert_eq!(verify_all(&repo, "rot", &[]).code, 0);
    }
}

#[test]
fn crash_safety_under_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    for i in 0..300 {
        write(&src.join(format!("f{i:03}")), &noise(150_000, i));
    }
    backup(&src, &repo, "crash", "increment", &["--rotation", "2"]);
    let mut seed = 12345u64;
    let mut interrupted = 0;
    for trial in 0..20u64 {
        for i in 0..30 {
            write(
                &src.join(format!("f{:03}", (trial * 31 + i) % 300)),
                &noise(150_000, 1000 + trial * 100 + i),
            );
        }
        let before: Vec<String> = points(&repo, "crash")
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_string())
            .collect();
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        let delay = std::time::Duration::from_millis((seed >> 33) % 300);
        let mut child = Command::new(BIN)
            .env("ZDM_BACKUPD_STATE_DIR", common::cli_state())
            .args(backup_args(
                &src,
                &repo,
                "crash",
                "increment",
                &["--rotation", "2"],
            ))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            interrupted += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
        let after: Vec<String> = points(&repo, "crash")
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_string())
            .collect();
        let new: Vec<&String> = after.iter().filter(|id| !before.contains(id)).collect();
        assert!(new.len() <= 1, "trial {trial}: {before:?} -> {after:?}");
        assert!(!after.is_empty(), "trial {trial}: every point is gone");
        let v = verify_all(&repo, "crash", &[]);
        assert_eq!(
            v.code, 0,
            "trial {trial} (killed after {delay:?}): {}{}",
            v.stdout, v.stderr
        );
    }
    assert!(
        interrupted >= 10,
        "only {interrupted} of 20 runs were killed while running"
    );
    let id = backup(&src, &repo, "crash", "increment", &["--rotation", "2"]);
    let job_dir = repo.join("srv/crash");
    let leftovers: Vec<_> = std::fs::read_dir(&job_dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".partial"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "partial output of killed runs is removed by the next run"
    );
    let out = dir.path().join("out");
    assert_eq!(restore_to(&repo, "crash", &id, &out, &[]).code, 0);
    assert_same(
        &snapshot(&src, &[]),
        &snapshot(&out, &[]),
        "after the crash trials",
    );
}

#[test]
fn full_repository_fails_cleanly() {
    if !is_root() {
        eprintln!(
            "SKIPPED full_repository_fails_cleanly: needs root for a small loop-mounted repository"
        );
        return;
    }
    let fs = LoopFs::new(16);
    let repo = fs.mount.clone();
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    write(&src.join("small"), &noise(1_000_000, 7));
    let first = backup(&src, &repo, "full", "full", &["--rotation", "5"]);
    write(&src.join("huge"), &noise(40 * 1024 * 1024, 8));
    let o = run(backup_args(
        &src,
        &repo,
        "full",
        "full",
        &["--rotation", "5"],
    ));
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("the repository is full"), "{}", o.stderr);
    let names: Vec<String> = std::fs::read_dir(repo.join("srv/full"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with(".partial")),
        "{names:?}"
    );
    let ps = points(&repo, "full");
    assert_eq!(ps.len(), 1);
    assert_eq!(ps[0]["id"], first.as_str());
    assert_eq!(verify_all(&repo, "full", &[]).code, 0);
}

#[test]
fn stock_tools_restore_plain_and_encrypted_points() {
    if !have_tools(
        "stock_tools_restore_plain_and_encrypted_points",
        &["age", "zstd", "tar"],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    write(&src.join("a.txt"), b"alpha\n");
    write(&src.join("sub/b.bin"), &noise(300_000, 3));
    std::os::unix::fs::symlink("a.txt", src.join("ln")).unwrap();
    let key = dir.path().join("key.txt");
    let o = run(["key", "generate", "--out", &s(&key)]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(&key).unwrap().mode() & 0o777, 0o600);
    assert_eq!(
        run(["key", "generate", "--out", &s(&key)]).code,
        1,
        "never overwrites a key"
    );
    let plain = backup(&src, &repo, "plain", "full", &[]);
    let enc = backup(
        &src,
        &repo,
        "enc",
        "full",
        &["--encryption", "use", "--key-file", &s(&key)],
    );
    let want = snapshot(&src, &[]);
    let content = |sn: &Snapshot| {
        sn.iter()
            .map(|(p, n)| {
                (
                    p.clone(),
                    (n.kind, n.content.clone(), n.link.clone(), n.mode),
                )
            })
            .collect::<Vec<_>>()
    };
    let out1 = dir.path().join("out1");
    let out2 = dir.path().join("out2");
    std::fs::create_dir_all(&out1).unwrap();
    std::fs::create_dir_all(&out2).unwrap();
    let p1 = repo.join("srv/plain").join(&plain);
    sh(&format!(
        "zstd -d -q < '{}/data.tar.zst' | tar -x -C '{}'",
        p1.display(),
        out1.display()
    ));
    let p2 = repo.join("srv/enc").join(&enc);
    sh(&format!(
        "age -d -i '{}' '{}/data.tar.zst.age' | zstd -d -q | tar -x -C '{}'",
        key.display(),
        p2.display(),
        out2.display()
    ));
    let mut got1 = snapshot(&out1, &[]);
    let mut got2 = snapshot(&out2, &[]);
    // tar does not own the target directory itself.
    for g in [&mut got1, &mut got2] {
        g.get_mut(&b".".to_vec()).unwrap().mode = want[&b".".to_vec()].mode;
    }
    assert_eq!(content(&got1), content(&want));
    assert_eq!(content(&got2), content(&want));
    // Without the key, restore and verify say which key is needed.
    let recipient = std::fs::read_to_string(&key)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("# public key: ").map(String::from))
        .unwrap();
    let o = restore_to(&repo, "enc", "latest", &dir.path().join("nokey"), &[]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains(&recipient), "{}", o.stderr);
    let other = dir.path().join("other.key");
    assert_eq!(run(["key", "generate", "--out", &s(&other)]).code, 0);
    let o = restore_to(
        &repo,
        "enc",
        "latest",
        &dir.path().join("wrongkey"),
        &["--key-file", &s(&other)],
    );
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains(&recipient), "{}", o.stderr);
    let o = restore_to(
        &repo,
        "enc",
        "latest",
        &dir.path().join("rightkey"),
        &["--key-file", &s(&key)],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_same(
        &want,
        &snapshot(&dir.path().join("rightkey"), &[]),
        "encrypted restore",
    );
    // The manifest names the recipient; the key never lands in the repository.
    let manifest = std::fs::read_to_string(p2.join("MANIFEST.json")).unwrap();
    assert!(manifest.contains(&recipient));
    assert_eq!(
        run(["key", "generate", "--out", &s(&repo.join("k.txt"))]).code,
        1,
        "no key inside a repository"
    );
}

#[test]
fn corruption_is_named_and_contained() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    write(&src.join("data"), &noise(2_000_000, 9));
    for compression in ["use", "not-use"] {
        let job = format!("bad-{compression}");
        let good = format!("good-{compression}");
        let id = backup(&src, &repo, &job, "full", &["--compression", compression]);
        backup(&src, &repo, &good, "full", &["--compression", compression]);
        let dir_of = repo.join("srv").join(&job).join(&id);
        let data = std::fs::read_dir(&dir_of)
            .unwrap()
            .filter_map(Result::ok)
            .find(|e| e.file_name().to_string_lossy().starts_with("data.tar"))
            .unwrap()
            .path();
        let mut bytes = std::fs::read(&data).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x40;
        std::fs::write(&data, bytes).unwrap();
        let v = verify_all(&repo, &job, &[]);
        assert_eq!(v.code, 1);
        assert!(v.stdout.contains(&format!("{id} FAILED")), "{}", v.stdout);
        let o = restore_to(&repo, &job, &id, &dir.path().join(format!("r-{job}")), &[]);
        assert_eq!(
            o.code, 1,
            "restore of a damaged point must fail: {}",
            o.stdout
        );
        assert!(o.stderr.contains("damaged"), "{}", o.stderr);
        let o = restore_to(
            &repo,
            &good,
            "latest",
            &dir.path().join(format!("r-{good}")),
            &[],
        );
        assert_eq!(o.code, 0, "{}", o.stderr);
    }
}

#[test]
fn rotation_never_merges_a_damaged_point() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    write(&src.join("data"), &noise(500_000, 21));
    let full = backup(&src, &repo, "rot", "increment", &["--rotation", "2"]);
    write(&src.join("more"), b"1");
    backup(&src, &repo, "rot", "increment", &["--rotation", "2"]);
    let data = repo.join("srv/rot").join(&full).join("data.tar.zst");
    let mut bytes = std::fs::read(&data).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&data, bytes).unwrap();
    write(&src.join("more"), b"2");
    let o = run(backup_args(
        &src,
        &repo,
        "rot",
        "increment",
        &["--rotation", "2"],
    ));
    assert_eq!(
        o.code, 3,
        "the new point is written, rotation warns: {}{}",
        o.stdout, o.stderr
    );
    assert!(o.stderr.contains("fails verification"), "{}", o.stderr);
    let ps = points(&repo, "rot");
    assert_eq!(ps.len(), 3, "nothing was merged or deleted");
    assert_eq!(ps[0]["id"], full.as_str());
}

#[test]
fn locking_restore_safety_and_paths() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    write(&src.join("etc/ssh/sshd_config"), b"Port 22\n");
    write(&src.join("etc/hosts"), b"127.0.0.1 localhost\n");
    write(&src.join("var/log/x"), b"log\n");
    backup(&src, &repo, "j", "full", &[]);
    // A second writer of the same job fails fast.
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .open(repo.join("srv/j/LOCK"))
        .unwrap();
    let held = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusiveNonblock).unwrap();
    let t = std::time::Instant::now();
    let o = run(backup_args(&src, &repo, "j", "full", &[]));
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("is locked by another process"),
        "{}",
        o.stderr
    );
    assert!(t.elapsed().as_secs() < 5);
    drop(held);
    // Non-empty targets need --overwrite.
    let target = dir.path().join("t");
    write(&target.join("existing"), b"x");
    let o = restore_to(&repo, "j", "latest", &target, &[]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("not empty"), "{}", o.stderr);
    assert_eq!(
        restore_to(&repo, "j", "latest", &target, &["--overwrite"]).code,
        0
    );
    assert_eq!(
        std::fs::read(target.join("etc/hosts")).unwrap(),
        b"127.0.0.1 localhost\n"
    );
    // Restore of a sub path only.
    let part = dir.path().join("part");
    let o = restore_to(&repo, "j", "latest", &part, &["--path", "etc/ssh"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(part.join("etc/ssh/sshd_config").exists());
    assert!(!part.join("etc/hosts").exists() && !part.join("var").exists());
    assert_eq!(
        restore_to(
            &repo,
            "j",
            "latest",
            &dir.path().join("p2"),
            &["--path", "../etc"]
        )
        .code,
        1
    );
    assert_eq!(
        restore_to(&repo, "j", "nope", &dir.path().join("p3"), &[]).code,
        1
    );
    // Unknown repository directory.
    let o = run(backup_args(
        &src,
        Path::new("/nonexistent/repo"),
        "j",
        "full",
        &[],
    ));
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("not an existing directory"),
        "{}",
        o.stderr
    );
}

#[test]
fn network_limit_throttles_writes() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    write(&src.join("blob"), &noise(3 * 1024 * 1024, 5));
    let t = std::time::Instant::now();
    backup(
        &src,
        &repo,
        "slow",
        "full",
        &["--network-limit", "1", "--compression", "not-use"],
    );
    // 3 MiB at 1 MiB/s with a one-second burst: at least ~2 s.
    assert!(t.elapsed().as_secs_f64() >= 1.8, "took {:?}", t.elapsed());
}

#[test]
fn a_file_changing_while_read_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let busy = src.join("busy.log");
    write(&busy, &noise(40 * 1024 * 1024, 11));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s2 = stop.clone();
    let b2 = busy.clone();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(&b2).unwrap();
        while !s2.load(std::sync::atomic::Ordering::SeqCst) {
            f.write_all(b"more log\n").unwrap();
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    });
    let o = run(backup_args(&src, &repo, "busy", "full", &[]));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.join().unwrap();
    assert_eq!(o.code, 3, "success with warnings: {}{}", o.stdout, o.stderr);
    assert!(
        o.stderr.contains("changed while being read"),
        "{}",
        o.stderr
    );
    // The point is still complete and verifies.
    assert_eq!(verify_all(&repo, "busy", &[]).code, 0);
}

/// What each overwrite policy does to a target that already holds some of the files, exactly;
/// excludes and the flat layout.
#[test]
fn overwrite_policies_excludes_and_flat_layout() {
    let d = tempfile::tempdir().unwrap();
    let (src, repo) = (d.path().join("src"), d.path().join("repo"));
    write(&src.join("a.txt"), b"backed up a\n");
    write(&src.join("b.txt"), b"backed up b\n");
    write(&src.join("c.txt"), b"backed up c\n");
    write(&src.join("logs/x.log"), b"log\n");
    write(&src.join("docs/deep/r.md"), b"readme\n");
    // b.txt is old in the backup, c.txt new.
    filetime_set(&src.join("b.txt"), 1_000_000_000);
    filetime_set(&src.join("c.txt"), 2_000_000_000);
    std::fs::create_dir_all(&repo).unwrap();
    let point = backup(&src, &repo, "p", "full", &[]);
    // A target where a.txt is the same as backed up (a restored copy), b.txt and c.txt differ.
    let fresh = |name: &str| {
        let t = d.path().join(name);
        let o = restore_to(&repo, "p", &point, &t, &["--path", "a.txt"]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        write(&t.join("b.txt"), b"local b, newer\n");
        filetime_set(&t.join("b.txt"), 1_500_000_000);
        write(&t.join("c.txt"), b"local c, older\n");
        filetime_set(&t.join("c.txt"), 1_500_000_000);
        write(&t.join("only-local"), b"mine\n");
        t
    };
    let read = |t: &Path, n: &str| std::fs::read_to_string(t.join(n)).unwrap();
    let done = |o: &common::run::Out| -> Value {
        assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
        o.stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v["event"] == "done")
            .unwrap()
    };
    let run_policy = |policy: &str| {
        let t = fresh(policy);
        let o = restore_to(
            &repo,
            "p",
            &point,
            &t,
            &["--overwrite-policy", policy, "--json"],
        );
        (t, o)
    };
    // fail: the target is not empty.
    let (_, o) = run_policy("fail");
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("is not empty"), "{}", o.stderr);
    // never: everything already there stays; the rest is restored.
    let (t, o) = run_policy("never");
    let r = done(&o);
    assert_eq!(r["skipped"], 3, "{r}");
    assert_eq!(read(&t, "b.txt"), "local b, newer\n");
    assert_eq!(read(&t, "c.txt"), "local c, older\n");
    assert_eq!(read(&t, "logs/x.log"), "log\n");
    // always: replaced.
    let (t, o) = run_policy("always");
    assert_eq!(done(&o)["skipped"], 0);
    assert_eq!(read(&t, "b.txt"), "backed up b\n");
    assert_eq!(read(&t, "c.txt"), "backed up c\n");
    assert_eq!(read(&t, "only-local"), "mine\n");
    // if-newer: only c.txt (newer in the backup) is replaced.
    let (t, o) = run_policy("if-newer");
    assert_eq!(
        done(&o)["skipped"],
        2,
        "a.txt (same time) and b.txt (newer here)"
    );
    assert_eq!(read(&t, "b.txt"), "local b, newer\n");
    assert_eq!(read(&t, "c.txt"), "backed up c\n");
    // if-changed: a.txt is unchanged and kept, b.txt and c.txt differ and are replaced.
    let (t, o) = run_policy("if-changed");
    assert_eq!(done(&o)["skipped"], 1);
    assert_eq!(read(&t, "b.txt"), "backed up b\n");
    assert_eq!(read(&t, "c.txt"), "backed up c\n");

    // Excludes: by name anywhere, or by path.
    let t = d.path().join("excluded");
    let o = restore_to(
        &repo,
        "p",
        &point,
        &t,
        &["--exclude", "*.log", "--exclude", "docs/deep"],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(t.join("logs").is_dir() && !t.join("logs/x.log").exists());
    assert!(t.join("docs").is_dir() && !t.join("docs/deep").exists());
    assert_eq!(read(&t, "a.txt"), "backed up a\n");
    let o = restore_to(
        &repo,
        "p",
        &point,
        &d.path().join("bad"),
        &["--exclude", "[oops"],
    );
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("exclude pattern"), "{}", o.stderr);

    // delete: what the point does not have goes (below the restored directories); excluded
    // names stay. verify: everything written is read back.
    let t = fresh("delete");
    write(&t.join("logs/old.log"), b"stale\n");
    write(&t.join("stray/x"), b"stray\n");
    let o = restore_to(
        &repo,
        "p",
        &point,
        &t,
        &[
            "--overwrite-policy",
            "always",
            "--delete",
            "--verify",
            "--exclude",
            "only-local",
            "--json",
        ],
    );
    let r = done(&o);
    assert_eq!(
        r["deleted"], 2,
        "{r}: logs/old.log is not excluded (*.log is not given here), stray goes"
    );
    assert_eq!(r["verified"], 9, "{r}");
    assert!(
        t.join("only-local").exists()
            && !t.join("stray").exists()
            && !t.join("logs/old.log").exists()
    );
    // A restored file changed behind its back is found by a later verify-only pass (never
    // policy keeps everything, so nothing is checked: a forced rewrite + verify is the proof).
    let o = restore_to(
        &repo,
        "p",
        &point,
        &t,
        &["--delete", "--layout", "flat", "--path", "a.txt"],
    );
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("original layout"), "{}", o.stderr);

    // `ls` lists a directory of the point (directories first), or searches below one.
    let ls = |extra: &[&str]| -> Vec<Value> {
        let mut args = vec![
            "ls",
            "--json",
            "--server",
            "srv",
            "--repository",
            repo.to_str().unwrap(),
            "--job",
            "p",
        ];
        args.extend_from_slice(extra);
        let o = run(&args);
        assert_eq!(o.code, 0, "{}", o.stderr);
        o.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let root: Vec<String> = ls(&[])
        .iter()
        .map(|v| v["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(root, vec!["docs", "logs", "a.txt", "b.txt", "c.txt"]);
    let deep = ls(&["--path", "/docs/deep"]);
    assert_eq!(deep.len(), 1);
    assert_eq!(deep[0]["path"], "docs/deep/r.md");
    assert_eq!(deep[0]["size"], 7);
    assert_eq!(deep[0]["writtenIn"], point.as_str());
    assert_eq!(ls(&["--search", "*.log"])[0]["path"], "logs/x.log");
    let o = run([
        "ls",
        "--server",
        "srv",
        "--repository",
        repo.to_str().unwrap(),
        "--job",
        "p",
        "--path",
        "a.txt",
    ]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("is not a directory"), "{}", o.stderr);

    // Flat: each --path directly under the target, nothing above it.
    let t = d.path().join("flat");
    let o = restore_to(
        &repo,
        "p",
        &point,
        &t,
        &["--path", "docs/deep", "--path", "b.txt", "--layout", "flat"],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let mut got = common::run::names(&t);
    got.sort();
    assert_eq!(got, vec!["b.txt", "deep"]);
    assert_eq!(read(&t, "deep/r.md"), "readme\n");
}

fn filetime_set(p: &Path, secs: i64) {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs as u64);
    std::fs::File::options()
        .write(true)
        .open(p)
        .unwrap()
        .set_modified(t)
        .unwrap();
}
