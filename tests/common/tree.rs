//! Builds file trees and takes snapshots of them (every property a restore must keep) so a
//! restored tree can be compared with the tree as it was at backup time.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: char,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: (i64, i64),
    pub content: Option<String>,
    pub link: Option<Vec<u8>>,
    pub rdev: u64,
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    /// Other paths sharing this inode (hard links), sorted.
    pub links: Vec<Vec<u8>>,
}

pub type Snapshot = BTreeMap<Vec<u8>, Node>;

/// Everything below `root` on its file system (mount points recorded, not descended), minus
/// `skip` (relative paths).
pub fn snapshot(root: &Path, skip: &[&str]) -> Snapshot {
    let dev = std::fs::symlink_metadata(root).unwrap().dev();
    let mut out = Snapshot::new();
    let mut inodes: BTreeMap<u64, Vec<Vec<u8>>> = BTreeMap::new();
    let mut stack = vec![(root.to_path_buf(), b".".to_vec())];
    while let Some((path, rel)) = stack.pop() {
        let m = std::fs::symlink_metadata(&path).unwrap();
        let ft = m.file_type();
        let kind = if ft.is_dir() {
            'd'
        } else if ft.is_symlink() {
            'l'
        } else if ft.is_file() {
            'f'
        } else if ft.is_fifo() {
            'p'
        } else if ft.is_char_device() {
            'c'
        } else if ft.is_block_device() {
            'b'
        } else {
            's'
        };
        if kind == 's' {
            continue;
        }
        let content = (kind == 'f').then(|| {
            blake3::hash(&std::fs::read(&path).unwrap())
                .to_hex()
                .to_string()
        });
        let link = (kind == 'l').then(|| {
            std::fs::read_link(&path)
                .unwrap()
                .as_os_str()
                .as_bytes()
                .to_vec()
        });
        let mut xattrs: Vec<(Vec<u8>, Vec<u8>)> = xattr::list(&path)
            .map(|it| {
                it.map(|n| {
                    (
                        n.as_bytes().to_vec(),
                        xattr::get(&path, &n).ok().flatten().unwrap_or_default(),
                    )
                })
                .collect()
            })
            .unwrap_or_default();
        xattrs.sort();
        if kind == 'f' && m.nlink() > 1 {
            inodes.entry(m.ino()).or_default().push(rel.clone());
        }
        out.insert(
            rel.clone(),
            Node {
                kind,
                mode: m.mode() & 0o7777,
                uid: m.uid(),
                gid: m.gid(),
                size: if kind == 'f' { m.size() } else { 0 },
                // Directory times are compared too; symlink times are not restored by tar
                // either and carry no information.
                mtime: if kind == 'l' {
                    (0, 0)
                } else {
                    (m.mtime(), m.mtime_nsec())
                },
                content,
                link,
                rdev: if kind == 'c' || kind == 'b' {
                    m.rdev()
                } else {
                    0
                },
                xattrs,
                links: Vec::new(),
            },
        );
        if kind == 'd' && m.dev() == dev {
            for e in std::fs::read_dir(&path).unwrap() {
                let e = e.unwrap();
                let child_rel = if rel == b"." {
                    e.file_name().as_bytes().to_vec()
                } else {
                    [rel.as_slice(), b"/", e.file_name().as_bytes()].concat()
                };
                if skip.iter().any(|s| s.as_bytes() == child_rel.as_slice()) {
                    continue;
                }
                stack.push((e.path(), child_rel));
            }
        }
    }
    for group in inodes.values() {
        let mut g = group.clone();
        g.sort();
        for p in &g {
            out.get_mut(p).unwrap().links = g.clone();
        }
    }
    out
}

/// Asserts two snapshots are equal, naming the first differences.
pub fn assert_same(want: &Snapshot, got: &Snapshot, what: &str) {
    let mut diffs = Vec::new();
    for (p, w) in want {
        match got.get(p) {
            None => diffs.push(format!("missing {}", String::from_utf8_lossy(p))),
            Some(g) if g != w => diffs.push(format!(
                "{}: want {w:?}\n   got {g:?}",
                String::from_utf8_lossy(p)
            )),
            _ => {}
        }
    }
    for p in got.keys() {
        if !want.contains_key(p) {
            diffs.push(format!("unexpected {}", String::from_utf8_lossy(p)));
        }
    }
    assert!(
        diffs.is_empty(),
        "{what}: {} differences:\n{}",
        diffs.len(),
        diffs
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

pub fn sh(cmd: &str) {
    let st = Command::new("sh").arg("-ec").arg(cmd).status().unwrap();
    assert!(st.success(), "command failed: {cmd}");
}

pub fn write(path: &Path, data: &[u8]) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    std::fs::write(path, data).unwrap();
}

/// Deterministic pseudo-random bytes (incompressible, reproducible).
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407)
        | 1;
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// A loop-mounted ext4 file system of `mib` MiB, unmounted on drop (root only).
pub struct LoopFs {
    pub mount: PathBuf,
    _dir: tempfile::TempDir,
}

impl LoopFs {
    pub fn new(mib: u64) -> LoopFs {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("fs.img");
        let mount = dir.path().join("mnt");
        std::fs::create_dir(&mount).unwrap();
        sh(&format!("truncate -s {mib}M {0} && mkfs.ext4 -q -F -O ^has_journal {0} && mount -o loop {0} {1}", img.display(), mount.display()));
        LoopFs { mount, _dir: dir }
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
    }
}

pub fn os(p: &[u8]) -> &OsStr {
    OsStr::from_bytes(p)
}

/// Whether the external commands a test needs exist. Outside CI a missing tool skips the test
/// with a message; in CI (`CI` set) it fails, since `.ci/run` installs them.
pub fn have_tools(test: &str, tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| {
            !Command::new("sh")
                .arg("-c")
                .arg(format!("command -v {t}"))
                .stdout(std::process::Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: missing tools in CI: {missing:?}"
    );
    eprintln!("SKIPPED {test}: needs {missing:?} (bash .ci/run installs them)");
    false
}
