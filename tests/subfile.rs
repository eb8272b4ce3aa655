//! Sub-file incrementals (issue 14): large files changed in every way a server changes them are
//! stored as their new parts, and every point of a chain restores exactly, through merges, with
//! the engine and with the documented standard-library script.

mod common;
use common::points::{backup, backup_args, check_restores, points, restore_to, run, s, verify_all};
use common::tree::{have_tools, is_root, noise, sh, snapshot, write, LoopFs, Snapshot};
use serde_json::Value;
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

const MIB: usize = 1 << 20;

/// Bytes the point's files take in the repository.
fn stored(repo: &Path, job: &str, id: &str) -> u64 {
    let p: Value = points(repo, job)
        .into_iter()
        .find(|p| p["id"] == id)
        .expect("the point");
    p["size"].as_u64().expect("size")
}

fn overwrite(path: &Path, at: u64, data: &[u8]) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(data, at).unwrap();
}

/// Inserts `data` at `at` (`remove` bytes taken out there first).
fn splice(path: &Path, at: usize, remove: usize, data: &[u8]) {
    let mut v = std::fs::read(path).unwrap();
    v.splice(at..at + remove, data.iter().copied());
    std::fs::write(path, v).unwrap();
}

fn mtime_of(path: &Path) -> String {
    let m = std::fs::metadata(path).unwrap();
    use std::os::unix::fs::MetadataExt;
    format!("@{}.{:09}", m.mtime(), m.mtime_nsec())
}

/// Every kind of change to large files, in two rounds (so deltas stack on deltas), on ext4.
fn change(src: &Path, round: u64) {
    let f = |n: &str| src.join(n);
    for i in 0..6u64 {
        overwrite(
            &f("scattered.db"),
            i * 3_700_000 + round * 1000,
            &noise(20_000, round * 10 + i),
        );
    }
    std::fs::OpenOptions::new()
        .append(true)
        .open(f("growing.log"))
        .unwrap()
        .write_all(&noise(MIB, 100 + round))
        .unwrap();
    let len = std::fs::metadata(f("shrinking.bin")).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(f("shrinking.bin"))
        .unwrap()
        .set_len(len - 3 * MIB as u64)
        .unwrap();
    splice(&f("inserted.img"), 100, 0, &noise(4096, 200 + round));
    splice(&f("deleted.img"), 5000, 4096, b"");
    // New data in a hole of the sparse file.
    overwrite(
        &f("sparse.vm"),
        (20 + round * 8) * MIB as u64,
        &noise(MIB, 300 + round),
    );
    // Same size and mtime, different content: only the ctime tells.
    let stamp = mtime_of(&f("replaced.bin"));
    std::fs::write(f("replaced.bin"), noise(20 * MIB, 400 + round)).unwrap();
    sh(&format!(
        "touch -m -d '{stamp}' '{}'",
        f("replaced.bin").display()
    ));
    write(&f("small.txt"), format!("round {round}\n").as_bytes());
}

fn large_tree(src: &Path) {
    write(&src.join("scattered.db"), &noise(24 * MIB, 1));
    write(&src.join("growing.log"), &noise(20 * MIB, 2));
    write(&src.join("shrinking.bin"), &noise(24 * MIB, 3));
    write(&src.join("inserted.img"), &noise(20 * MIB, 4));
    write(&src.join("deleted.img"), &noise(20 * MIB, 5));
    write(&src.join("replaced.bin"), &noise(20 * MIB, 6));
    write(&src.join("small.txt"), b"round 0\n");
    let sparse = std::fs::File::create(src.join("sparse.vm")).unwrap();
    sparse.set_len(64 * MIB as u64).unwrap();
    sparse.write_all_at(&noise(MIB, 7), 0).unwrap();
}

/// Decompresses a point's archive and catalog for the script, as docs/ENGINE.md says.
fn unpack(point_dir: &Path, into: &Path) {
    std::fs::create_dir_all(into).unwrap();
    for (from, to) in [
        ("data.tar.zst", "data.tar"),
        ("catalog.jsonl.zst", "catalog.jsonl"),
    ] {
        sh(&format!(
            "zstd -qd < '{}' > '{}'",
            point_dir.join(from).display(),
            into.join(to).display()
        ));
    }
}

/// Runs contrib/zdm-rebuild.py over the chain ending at `upto` and compares its regular files
/// with the snapshot taken at that run.
fn script_rebuilds(repo: &Path, job: &str, chain: &[String], want: &Snapshot) {
    let work = tempfile::tempdir().unwrap();
    let mut args = vec![s(&work.path().join("out"))];
    for (i, id) in chain.iter().enumerate() {
        let dir = work.path().join(format!("{i}"));
        unpack(&repo.join("srv").join(job).join(id), &dir);
        args.push(s(&dir));
    }
    let o = std::process::Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/contrib/zdm-rebuild.py"
        ))
        .args(&args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = snapshot(&work.path().join("out"), &[]);
    let files = |sn: &Snapshot| -> Vec<(Vec<u8>, Option<String>)> {
        sn.iter()
            .filter(|(_, n)| n.kind == 'f')
            .map(|(p, n)| (p.clone(), n.content.clone()))
            .collect()
    };
    assert_eq!(
        files(&got),
        files(want),
        "the script's rebuild of {chain:?}"
    );
}

#[test]
fn every_kind_of_change_to_large_files_round_trips_on_ext4() {
    if !is_root() {
        eprintln!("SKIPPED every_kind_of_change_to_large_files_round_trips_on_ext4: needs root");
        return;
    }
    if !have_tools(
        "every_kind_of_change_to_large_files_round_trips_on_ext4",
        &["mkfs.ext4", "zstd", "python3"],
    ) {
        return;
    }
    let fs = LoopFs::new(300);
    let src = fs.mount.join("src");
    let _ = std::fs::remove_dir_all(fs.mount.join("lost+found"));
    large_tree(&src);
    let repo_dir = tempfile::tempdir().unwrap();
    let repo = repo_dir.path();
    let extra = ["--rotation", "10"];
    let mut snaps = HashMap::new();
    let mut chain = Vec::new();
    let full = backup(&src, repo, "large", "full", &extra);
    snaps.insert(full.clone(), snapshot(&src, &[]));
    chain.push(full.clone());
    let full_bytes = stored(repo, "large", &full);
    for round in 1..=2 {
        change(&src, round);
        let id = backup(&src, repo, "large", "increment", &extra);
        snaps.insert(id.clone(), snapshot(&src, &[]));
        chain.push(id.clone());
        // Changed: ~120 KB scattered, 1 MiB appended, two 4 KiB edits near the start, 1 MiB in
        // a hole, one 20 MiB file replaced (stored whole: all of it is new). Whole files would
        // be about 130 MiB.
        let added = stored(repo, "large", &id);
        assert!(
            added < 28 * MIB as u64,
            "round {round}: the incremental takes {added} bytes (the full {full_bytes})"
        );
    }
    assert_eq!(verify_all(repo, "large", &[]).code, 0);
    check_restores(repo, "large", &snaps, &[]);
    // One delta file alone, through --path.
    let out = tempfile::tempdir().unwrap();
    let o = restore_to(
        repo,
        "large",
        &chain[2],
        &out.path().join("t"),
        &["--path", "inserted.img"],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        std::fs::read(out.path().join("t/inserted.img")).unwrap(),
        std::fs::read(src.join("inserted.img")).unwrap()
    );
    script_rebuilds(repo, "large", &chain[..2], &snaps[&chain[1]]);
    script_rebuilds(repo, "large", &chain, &snaps[&chain[2]]);
}

/// A chain of 10 incrementals with rotation 3, plain and encrypted: merges rebuild deltas into
/// whole files, and every point restores to the snapshot of its run after every run.
#[test]
fn ten_incrementals_with_rotation_3_restore_after_merges() {
    let dir = tempfile::tempdir().unwrap();
    let key = s(&dir.path().join("key.txt"));
    assert_eq!(run(["key", "generate", "--out", &key]).code, 0);
    ten_incrementals(dir.path(), "plain", &["--rotation", "3"], &[]);
    ten_incrementals(
        dir.path(),
        "sealed",
        &["--rotation", "3", "--encryption", "use", "--key-file", &key],
        &["--key-file", &key],
    );
}

fn ten_incrementals(dir: &Path, job: &str, extra: &[&str], read: &[&str]) {
    let src = dir.join(job).join("src");
    let repo = dir.join(job).join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    write(&src.join("db"), &noise(20 * MIB, 1));
    write(&src.join("log"), &noise(17 * MIB, 2));
    let mut snaps = HashMap::new();
    let id = backup(&src, &repo, "rot", "full", extra);
    snaps.insert(id, snapshot(&src, &[]));
    for run in 1..=10u64 {
        overwrite(&src.join("db"), run * 1_500_000, &noise(30_000, 50 + run));
        splice(&src.join("log"), 10, run as usize, &noise(700, run));
        let id = backup(&src, &repo, "rot", "increment", extra);
        snaps.insert(id.clone(), snapshot(&src, &[]));
        let ps = points(&repo, "rot");
        assert_eq!(ps.len(), 3.min(run as usize + 1), "{job} run {run}");
        assert_eq!(ps[0]["kind"], "full");
        assert!(
            stored(&repo, "rot", &id) < 3 * MIB as u64,
            "{job} run {run}: an incremental of two small edits"
        );
        check_restores(&repo, "rot", &snaps, read);
    }
    assert_eq!(verify_all(&repo, "rot", read).code, 0);
}

/// A large file rewritten in place while an incremental reads it: exit 3 with a warning, and
/// the point restores to a file that matches its catalog (the restore checks every file).
#[test]
fn a_large_file_changing_while_read_still_restores_consistently() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let busy = src.join("busy.db");
    write(&busy, &noise(48 * MIB, 1));
    backup(&src, &repo, "busy", "full", &[]);
    overwrite(&busy, 0, &noise(MIB, 2));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (s2, b2) = (stop.clone(), busy.clone());
    let writer = std::thread::spawn(move || {
        let mut f = std::fs::OpenOptions::new().write(true).open(&b2).unwrap();
        let mut i = 0u64;
        while !s2.load(std::sync::atomic::Ordering::SeqCst) {
            // Rewrites scattered ranges, among them the part changed above.
            f.seek(SeekFrom::Start((i * 7_919_993) % (47 * MIB as u64)))
                .unwrap();
            f.write_all(&noise(64 * 1024, 1000 + i)).unwrap();
            i += 1;
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    });
    let o = run(backup_args(&src, &repo, "busy", "increment", &[]));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.join().unwrap();
    assert_eq!(o.code, 3, "success with warnings: {}{}", o.stdout, o.stderr);
    assert!(
        o.stderr.contains("changed while being read"),
        "{}",
        o.stderr
    );
    assert_eq!(verify_all(&repo, "busy", &[]).code, 0);
    let newest = points(&repo, "busy").last().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = tempfile::tempdir().unwrap();
    let o = restore_to(&repo, "busy", &newest, &out.path().join("t"), &["--verify"]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    let mut restored = Vec::new();
    std::fs::File::open(out.path().join("t/busy.db"))
        .unwrap()
        .read_to_end(&mut restored)
        .unwrap();
    assert_eq!(restored.len(), 48 * MIB);
}

/// Rewrites a point as format 2 wrote it (catalog lines without parts, format 2 in the
/// manifest), re-signed with this host's key: what a repository written before sub-file
/// incrementals holds.
fn as_format_2(point_dir: &Path) {
    use zdm_backupd::engine::repo::Manifest;
    let cat = point_dir.join("catalog.jsonl");
    let mut out = String::new();
    for line in std::fs::read_to_string(&cat).unwrap().lines() {
        let mut v: Value = serde_json::from_str(line).unwrap();
        for k in ["ps", "parts", "delta"] {
            v.as_object_mut().unwrap().remove(k);
        }
        out.push_str(&format!("{v}\n"));
    }
    std::fs::write(&cat, &out).unwrap();
    let mpath = point_dir.join("MANIFEST.json");
    let mut m: Manifest = serde_json::from_slice(&std::fs::read(&mpath).unwrap()).unwrap();
    m.format = 2;
    let info = m.files.get_mut("catalog.jsonl").unwrap();
    info.size = out.len() as u64;
    info.blake3 = blake3::hash(out.as_bytes()).to_hex().to_string();
    let trust =
        zdm_backupd::engine::trust::Trust::from_state_dir(common::cli_state(), false).unwrap();
    m.sign(&trust.key);
    std::fs::write(&mpath, serde_json::to_vec(&m).unwrap()).unwrap();
}

/// Points written before this change restore, and an incremental on one stores the changed
/// large file whole once (its parent has no parts), then as deltas.
#[test]
fn points_of_format_2_still_restore_and_grow_deltas() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    write(&src.join("db"), &noise(16 * MIB, 1));
    write(&src.join("note"), b"note\n");
    let plain = ["--compression", "not-use", "--rotation", "5"];
    let mut snaps = HashMap::new();
    let old = backup(&src, &repo, "old", "full", &plain);
    snaps.insert(old.clone(), snapshot(&src, &[]));
    as_format_2(&repo.join("srv/old").join(&old));
    let listed = points(&repo, "old");
    assert_eq!(
        listed.len(),
        1,
        "the rewritten point is still authentic: {listed:?}"
    );
    let mut sizes = Vec::new();
    for round in 0..2u64 {
        overwrite(&src.join("db"), MIB as u64, &noise(50_000, 9 + round));
        let id = backup(&src, &repo, "old", "increment", &plain);
        snaps.insert(id.clone(), snapshot(&src, &[]));
        sizes.push(stored(&repo, "old", &id));
    }
    assert!(sizes[0] > 16 * MIB as u64, "whole once: {sizes:?}");
    assert!(sizes[1] < 2 * MIB as u64, "then a delta: {sizes:?}");
    assert_eq!(verify_all(&repo, "old", &[]).code, 0);
    check_restores(&repo, "old", &snaps, &[]);
}

/// A delta whose new parts were altered in the repository fails the restore, and nothing takes
/// the file's name (the part is checked against its hash before the file is assembled).
#[test]
fn a_damaged_delta_fails_the_restore_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    write(&src.join("db"), &noise(17 * MIB, 1));
    let plain = ["--compression", "not-use", "--rotation", "5"];
    backup(&src, &repo, "dmg", "full", &plain);
    let marker = b"a recognisable change".repeat(100);
    overwrite(&src.join("db"), 5 * MIB as u64, &marker);
    let incr = backup(&src, &repo, "dmg", "increment", &plain);
    let data = repo.join("srv/dmg").join(&incr).join("data.tar");
    let mut bytes = std::fs::read(&data).unwrap();
    let at = bytes
        .windows(marker.len())
        .position(|w| w == marker)
        .expect("the delta holds the new part");
    bytes[at + 7] ^= 0xff;
    std::fs::write(&data, &bytes).unwrap();
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("t");
    let o = restore_to(&repo, "dmg", &incr, &target, &[]);
    assert_eq!(o.code, 1, "{}{}", o.stdout, o.stderr);
    assert!(o.stderr.contains("does not match"), "{}", o.stderr);
    assert!(!target.join("db").exists());
    assert_ne!(verify_all(&repo, "dmg", &[]).code, 0);
}
