//! The source walk: depth first, children sorted by name bytes, one file system, excluded
//! directories skipped. Memory grows with the largest directory and the depth, plus one entry
//! per multiply-linked file (to recognise hard links), never with the number of files.

use super::entry::{Bytes, Entry, Kind};
use std::collections::HashMap;
use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

struct Dir {
    rel: Vec<u8>,
    children: std::vec::IntoIter<OsString>,
}

pub struct Walker {
    root: PathBuf,
    dev: u64,
    excludes: Vec<Vec<u8>>,
    stack: Vec<Dir>,
    started: bool,
    links: HashMap<(u64, u64), Vec<u8>>,
    with_xattrs: bool,
    pub warnings: Vec<String>,
}

/// Joins a relative walk path and a child name (`.` is the root).
pub fn child_path(parent: &[u8], name: &[u8]) -> Vec<u8> {
    if parent == b"." {
        name.to_vec()
    } else {
        let mut p = Vec::with_capacity(parent.len() + 1 + name.len());
        p.extend_from_slice(parent);
        p.push(b'/');
        p.extend_from_slice(name);
        p
    }
}

pub fn abs(root: &Path, rel: &[u8]) -> PathBuf {
    if rel == b"." {
        root.to_path_buf()
    } else {
        root.join(std::ffi::OsStr::from_bytes(rel))
    }
}

fn sorted_children(dir: &Path) -> io::Result<Vec<OsString>> {
    let mut names: Vec<OsString> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

pub fn read_xattrs(path: &Path) -> Vec<(Bytes, Bytes)> {
    let Ok(names) = xattr::list(path) else {
        return Vec::new();
    };
    let mut out: Vec<(Bytes, Bytes)> = names
        .filter_map(|n| {
            let v = xattr::get(path, &n).ok()??;
            Some((Bytes(n.into_vec()), Bytes(v)))
        })
        .collect();
    out.sort_by(|a, b| a.0 .0.cmp(&b.0 .0));
    out
}

impl Walker {
    /// `excludes` are absolute paths; those below `root` are skipped with everything under them.
    pub fn new(root: &Path, excludes: &[PathBuf], with_xattrs: bool) -> io::Result<Walker> {
        let meta = std::fs::symlink_metadata(root)?;
        if !meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a directory", root.display()),
            ));
        }
        let excludes = excludes
            .iter()
            .filter_map(|e| e.strip_prefix(root).ok())
            .filter(|r| !r.as_os_str().is_empty())
            .map(|r| r.as_os_str().as_bytes().to_vec())
            .collect();
        Ok(Walker {
            root: root.to_path_buf(),
            dev: meta.dev(),
            excludes,
            stack: Vec::new(),
            started: false,
            links: HashMap::new(),
            with_xattrs,
            warnings: Vec::new(),
        })
    }

    fn excluded(&self, rel: &[u8]) -> bool {
        self.excludes.iter().any(|e| rel == e.as_slice())
    }

    fn entry(&mut self, rel: Vec<u8>, meta: &std::fs::Metadata, path: &Path) -> Option<Entry> {
        let ft = meta.file_type();
        let mut link = None;
        let kind = if ft.is_dir() {
            Kind::Dir
        } else if ft.is_symlink() {
            match std::fs::read_link(path) {
                Ok(t) => link = Some(Bytes(t.into_os_string().into_vec())),
                Err(e) => {
                    self.warnings
                        .push(format!("{}: cannot read link: {e}", path.display()));
                    return None;
                }
            }
            Kind::Symlink
        } else if ft.is_file() {
            if meta.nlink() > 1 {
                match self.links.get(&(meta.dev(), meta.ino())) {
                    Some(first) => {
                        link = Some(Bytes(first.clone()));
                        Kind::HardLink
                    }
                    None => {
                        self.links.insert((meta.dev(), meta.ino()), rel.clone());
                        Kind::File
                    }
                }
            } else {
                Kind::File
            }
        } else if ft.is_fifo() {
            Kind::Fifo
        } else if ft.is_char_device() {
            Kind::Char
        } else if ft.is_block_device() {
            Kind::Block
        } else {
            return None; // sockets are recreated by their programs
        };
        let xattrs = if self.with_xattrs && kind != Kind::HardLink {
            read_xattrs(path)
        } else {
            Vec::new()
        };
        Some(Entry {
            p: Bytes(rel),
            k: kind,
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            size: if kind == Kind::File { meta.size() } else { 0 },
            mtime: (meta.mtime(), meta.mtime_nsec() as u32),
            ctime: (meta.ctime(), meta.ctime_nsec() as u32),
            ino: meta.ino(),
            rdev: if matches!(kind, Kind::Char | Kind::Block) {
                meta.rdev()
            } else {
                0
            },
            link,
            xattrs,
            w: false,
            h: None,
            ps: None,
            parts: None,
            delta: None,
        })
    }
}

impl Iterator for Walker {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        if !self.started {
            self.started = true;
            let root = self.root.clone();
            let meta = std::fs::symlink_metadata(&root).ok()?;
            match sorted_children(&root) {
                Ok(c) => self.stack.push(Dir {
                    rel: b".".to_vec(),
                    children: c.into_iter(),
                }),
                Err(e) => self.warnings.push(format!("{}: {e}", root.display())),
            }
            return self.entry(b".".to_vec(), &meta, &root);
        }
        loop {
            let top = self.stack.last_mut()?;
            let Some(name) = top.children.next() else {
                self.stack.pop();
                continue;
            };
            let rel = child_path(&top.rel, name.as_bytes());
            if self.excluded(&rel) {
                continue;
            }
            let path = abs(&self.root, &rel);
            let meta = match std::fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue, // deleted meanwhile
                Err(e) => {
                    self.warnings.push(format!("{}: {e}", path.display()));
                    continue;
                }
            };
            let Some(entry) = self.entry(rel.clone(), &meta, &path) else {
                continue;
            };
            // Other file systems mounted below are separate partitions: keep the mount point,
            // not its contents.
            if entry.k == Kind::Dir && meta.dev() == self.dev {
                match sorted_children(&path) {
                    Ok(c) => self.stack.push(Dir {
                        rel,
                        children: c.into_iter(),
                    }),
                    Err(e) => self.warnings.push(format!("{}: {e}", path.display())),
                }
            }
            return Some(entry);
        }
    }
}
