//! One file-system entry as a catalog line, and the walk order every archive and catalog uses.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    #[serde(rename = "f")]
    File,
    #[serde(rename = "d")]
    Dir,
    #[serde(rename = "l")]
    Symlink,
    /// A further name of a regular file; `link` names the first path of the group.
    #[serde(rename = "h")]
    HardLink,
    #[serde(rename = "p")]
    Fifo,
    #[serde(rename = "c")]
    Char,
    #[serde(rename = "b")]
    Block,
}

/// Paths are raw bytes (names need not be UTF-8); JSON carries them as text when they are UTF-8
/// and as base64 otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(&self.0) {
            Ok(t) if !t.starts_with("b64:") => s.serialize_str(t),
            _ => s.serialize_str(&format!("b64:{}", B64.encode(&self.0))),
        }
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.strip_prefix("b64:") {
            Some(b) => B64.decode(b).map(Bytes).map_err(serde::de::Error::custom),
            None => Ok(Bytes(s.into_bytes())),
        }
    }
}

/// A catalog line. `w` says whether this point's archive holds the entry; otherwise it is
/// unchanged since an older point of the chain, whose archive has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub p: Bytes,
    pub k: Kind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    #[serde(default)]
    pub size: u64,
    pub mtime: (i64, u32),
    pub ctime: (i64, u32),
    #[serde(default)]
    pub ino: u64,
    #[serde(default)]
    pub rdev: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub xattrs: Vec<(Bytes, Bytes)>,
    pub w: bool,
    /// Regular files: BLAKE3 of the content (hex), so a restore checks each file before it
    /// takes its final name. Absent in points written before format 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub h: Option<String>,
    /// Regular files of at least `delta::PARTED_MIN` bytes (format 3): the average part size
    /// the content was split with, and the parts (`delta::encode_parts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ps: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts: Option<String>,
    /// Only with `w`: this point's archive holds a delta member for the file, and this says
    /// where each part comes from (`delta::encode_sources`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<String>,
}

impl Entry {
    pub fn path(&self) -> &[u8] {
        &self.p.0
    }

    /// Whether the entry is unchanged since `old` (design: size, mtime, ctime, inode, mode,
    /// owner or type). ctime covers chmod, chown, xattr and link-count changes.
    pub fn same_as(&self, old: &Entry) -> bool {
        self.k == old.k
            && self.size == old.size
            && self.mtime == old.mtime
            && self.ctime == old.ctime
            && self.ino == old.ino
            && self.mode == old.mode
            && self.uid == old.uid
            && self.gid == old.gid
            && self.link == old.link
            && self.rdev == old.rdev
    }
}

/// Walk order: depth first, children by name bytes; compares component by component, so
/// `a/b` < `a-b` even though `/` > `-` as bytes. The root is `.` and comes first.
pub fn walk_cmp(a: &[u8], b: &[u8]) -> Ordering {
    fn comps(p: &[u8]) -> impl Iterator<Item = &[u8]> {
        p.split(|c| *c == b'/')
            .filter(|s| !s.is_empty() && *s != b".")
    }
    comps(a).cmp(comps(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_order_is_by_component() {
        let mut v: Vec<&[u8]> = vec![b"a-b", b"a/b", b".", b"a", b"a/b/c", b"b", b"a/c"];
        v.sort_by(|a, b| walk_cmp(a, b));
        assert_eq!(
            v,
            vec![&b"."[..], b"a", b"a/b", b"a/b/c", b"a/c", b"a-b", b"b"]
        );
    }

    #[test]
    fn non_utf8_paths_survive_json() {
        let e = Entry {
            p: Bytes(vec![b'x', 0xff, b'\n']),
            k: Kind::File,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size: 1,
            mtime: (1, 2),
            ctime: (3, 4),
            ino: 5,
            rdev: 0,
            link: Some(Bytes(b"b64:looks-encoded".to_vec())),
            xattrs: vec![(Bytes(b"user.k".to_vec()), Bytes(vec![0, 1, 2]))],
            w: true,
            h: Some("00".repeat(32)),
            ps: Some(65536),
            parts: Some("AAAA".into()),
            delta: None,
        };
        let j = serde_json::to_string(&e).unwrap();
        assert!(!j.contains('\n'));
        assert_eq!(serde_json::from_str::<Entry>(&j).unwrap(), e);
    }
}
