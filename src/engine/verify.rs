//! Verify: re-read a point's files, check sizes and BLAKE3 hashes against the manifest, decrypt,
//! decompress and parse the whole archive, and check it holds exactly the entries its catalog
//! says it holds.

use super::archive::normalize;
use super::catalog::key_named;
use super::content_check::ContentCheck;
use super::entry::{walk_cmp, Entry, Kind};
use super::repo::{Manifest, Point};
use super::stream::{self, Shared};
use super::target::Target;
use super::{CancelToken, EngineError};
use std::io::{self, BufRead, BufReader, Read};

fn open(
    t: &dyn Target,
    point: &Point,
    name: &str,
    identity: Option<&age::x25519::Identity>,
) -> Result<(Box<dyn Read + Send>, Shared), EngineError> {
    let m = &point.manifest;
    let info = m.files.get(name).ok_or_else(|| {
        EngineError::Corrupt(format!("{}: the manifest does not list {name}", m.id))
    })?;
    let path = point.file(name);
    let f = t
        .open(&path)
        .map_err(|e| EngineError::Corrupt(format!("{}: {name}: {e}", m.id)))?;
    if let Some(root) = t.local_root() {
        // A cheap early answer for a truncated or grown file; the digest check covers shares.
        let len = std::fs::metadata(root.join(&path))
            .map(|md| md.len())
            .unwrap_or(0);
        if len != info.size {
            return Err(EngineError::Corrupt(format!(
                "{}: {name} has {len} bytes, the manifest says {}",
                m.id, info.size
            )));
        }
    }
    let digest: Shared = Default::default();
    let r = stream::reader(
        f,
        m.compression,
        identity,
        m.encryption,
        Some(digest.clone()),
    )
    .map_err(|e| key_named(e, m))?;
    Ok((r, digest))
}

fn check_digest(
    m: &Manifest,
    name: &str,
    mut rest: impl Read,
    digest: &Shared,
) -> Result<(), EngineError> {
    io::copy(&mut rest, &mut io::sink())
        .map_err(|e| EngineError::Corrupt(format!("{}: {name}: {e}", m.id)))?;
    let g = digest.lock().unwrap_or_else(|e| e.into_inner());
    let hash = g.0.clone().finalize().to_hex().to_string();
    let want = &m.files[name];
    if g.1 != want.size {
        return Err(EngineError::Corrupt(format!(
            "{}: {name} has {} bytes, the manifest says {}",
            m.id, g.1, want.size
        )));
    }
    if hash != want.blake3 {
        return Err(EngineError::Corrupt(format!(
            "{}: {name} does not match its BLAKE3 hash in the manifest",
            m.id
        )));
    }
    Ok(())
}

/// A catalog line restore would refuse.
#[derive(Debug, thiserror::Error)]
pub enum CatalogViolation {
    #[error("unsafe path {0:?}")]
    UnsafePath(String),
    #[error("{0:?} is a duplicate or out of order")]
    OutOfOrder(String),
    #[error("{0:?} has a delta but is not a regular file this point's archive holds")]
    StrayDelta(String),
    #[error("hard link {link:?} names {to:?}, which is not an earlier file of the point")]
    DanglingLink { link: String, to: String },
}

/// What restore demands of a catalog, checked line by line so verify never passes a point that
/// restore would refuse: safe paths, strictly increasing walk order (no duplicates), hard links
/// only to earlier regular files of the same point.
#[derive(Default)]
pub struct CatalogRules {
    prev: Option<Vec<u8>>,
    files: std::collections::HashSet<[u8; 16]>,
}

impl CatalogRules {
    fn key(p: &[u8]) -> [u8; 16] {
        blake3::hash(p).as_bytes()[..16]
            .try_into()
            .expect("16 bytes")
    }

    pub fn check(&mut self, e: &Entry) -> Result<(), CatalogViolation> {
        let p = e.path();
        let shown = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        if !super::catalog::safe_rel(p) {
            return Err(CatalogViolation::UnsafePath(shown(p)));
        }
        if let Some(prev) = &self.prev {
            if walk_cmp(prev, p) != std::cmp::Ordering::Less {
                return Err(CatalogViolation::OutOfOrder(shown(p)));
            }
        }
        self.prev = Some(p.to_vec());
        if e.delta.is_some() && !(e.w && e.k == Kind::File) {
            return Err(CatalogViolation::StrayDelta(shown(p)));
        }
        match e.k {
            Kind::File => {
                self.files.insert(Self::key(p));
            }
            Kind::HardLink => {
                let to = e.link.as_ref().map(|l| l.0.as_slice()).unwrap_or_default();
                if !self.files.contains(&Self::key(to)) {
                    return Err(CatalogViolation::DanglingLink {
                        link: shown(p),
                        to: shown(to),
                    });
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Checks one point completely. Returns the number of archive entries checked.
pub fn verify_point(
    t: &dyn Target,
    point: &Point,
    identity: Option<&age::x25519::Identity>,
    cancel: &CancelToken,
) -> Result<u64, EngineError> {
    let m = &point.manifest;
    let (cat_name, data_name) = (m.catalog_file(), m.data_file());
    let (cat, cat_digest) = open(t, point, &cat_name, identity)?;
    let mut lines = BufReader::with_capacity(256 * 1024, cat);
    let mut expected: Vec<Entry> = Vec::new();
    let mut entries = 0u64;
    let (data, data_digest) = open(t, point, &data_name, identity)?;
    let mut archive = tar::Archive::new(data);
    let mut checked = 0u64;
    {
        let mut it = archive
            .entries()
            .map_err(|e| EngineError::Corrupt(format!("{}: archive: {e}", m.id)))?;
        let mut line = String::new();
        let mut rules = CatalogRules::default();
        loop {
            cancel.check()?;
            // Next catalog entry that this point's archive holds.
            let want = loop {
                line.clear();
                let n = lines
                    .read_line(&mut line)
                    .map_err(|e| EngineError::Corrupt(format!("{}: catalog: {e}", m.id)))?;
                if n == 0 {
                    break None;
                }
                let e: Entry = serde_json::from_str(&line)
                    .map_err(|e| EngineError::Corrupt(format!("{}: catalog: {e}", m.id)))?;
                rules
                    .check(&e)
                    .map_err(|why| EngineError::Corrupt(format!("{}: catalog: {why}", m.id)))?;
                entries += 1;
                if e.w {
                    break Some(e);
                }
            };
            let got = it
                .next()
                .transpose()
                .map_err(|e| EngineError::Corrupt(format!("{}: archive: {e}", m.id)))?;
            match (want, got) {
                (None, None) => break,
                (Some(w), None) => {
                    return Err(EngineError::Corrupt(format!(
                        "{}: the archive ends before {}",
                        m.id,
                        String::from_utf8_lossy(w.path())
                    )))
                }
                (None, Some(g)) => {
                    return Err(EngineError::Corrupt(format!(
                        "{}: the archive holds {} that the catalog does not list",
                        m.id,
                        String::from_utf8_lossy(&g.path_bytes())
                    )))
                }
                (Some(w), Some(mut g)) => {
                    let path = normalize(&g.path_bytes());
                    if path != w.path() {
                        return Err(EngineError::Corrupt(format!(
                            "{}: the archive holds {} where the catalog lists {}",
                            m.id,
                            String::from_utf8_lossy(&path),
                            String::from_utf8_lossy(w.path())
                        )));
                    }
                    if w.delta.is_some() && m.parent.is_none() {
                        return Err(EngineError::Corrupt(format!(
                            "{}: a full point holds a delta of {}",
                            m.id,
                            String::from_utf8_lossy(&path)
                        )));
                    }
                    if w.k == Kind::File && w.delta.is_some() {
                        // A delta member: the parts its catalog line marks inline, each checked
                        // against its hash (the previous version is its own point's to check).
                        crate::engine::delta::check_member(&mut g, &w).map_err(|why| {
                            EngineError::Corrupt(format!(
                                "{}: the delta of {}: {why}",
                                m.id,
                                String::from_utf8_lossy(&path)
                            ))
                        })?;
                    } else if w.k == Kind::File {
                        let bad = |why: String| {
                            EngineError::Corrupt(format!(
                                "{}: {}: {why}",
                                m.id,
                                String::from_utf8_lossy(&path)
                            ))
                        };
                        let mut check = ContentCheck::of(&w).map_err(bad)?;
                        let n = io::copy(&mut g, &mut check)
                            .map_err(|e| EngineError::Corrupt(format!("{}: archive: {e}", m.id)))?;
                        if n != w.size {
                            return Err(bad(format!(
                                "{n} bytes in the archive, {} in the catalog",
                                w.size
                            )));
                        }
                        check.finish().map_err(bad)?;
                    }
                    checked += 1;
                    expected.clear();
                }
            }
        }
    }
    if entries != m.entries {
        return Err(EngineError::Corrupt(format!(
            "{}: the catalog has {entries} entries, the manifest says {}",
            m.id, m.entries
        )));
    }
    check_digest(m, &cat_name, lines, &cat_digest)?;
    check_digest(m, &data_name, archive.into_inner(), &data_digest)?;
    Ok(checked)
}
