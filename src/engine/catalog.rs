//! A point's catalog, read safely: files of a point are copied privately and checked against
//! the manifest before anything parses them, and catalog lines must have safe paths in strict
//! walk order. Backup (the parent's catalog), restore, verify and rotation all read through here.

use super::entry::{walk_cmp, Entry};
use super::repo::{self, Manifest};
use super::stream;
use super::target::Target;
use super::EngineError;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};

/// Refuses absolute paths, `..`, empty components and NUL: such a catalog was not written by us.
pub fn safe_rel(p: &[u8]) -> bool {
    p == b"."
        || (!p.is_empty()
            && !p.starts_with(b"/")
            && !p.contains(&0)
            && p.split(|c| *c == b'/')
                .all(|c| !c.is_empty() && c != b"." && c != b".."))
}

/// Where a checked copy is kept: an unnamed temporary file, or memory where no temporary
/// directory is writable (a sandbox with a read-only /tmp).
enum Scratch {
    File(File),
    Memory(io::Cursor<Vec<u8>>),
}

impl io::Write for Scratch {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Scratch::File(f) => f.write(buf),
            Scratch::Memory(m) => m.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for Scratch {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Scratch::File(f) => f.read(buf),
            Scratch::Memory(m) => m.read(buf),
        }
    }
}

impl io::Seek for Scratch {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        match self {
            Scratch::File(f) => f.seek(pos),
            Scratch::Memory(m) => m.seek(pos),
        }
    }
}

/// A private copy of one of a point's files, checked against the manifest's size and BLAKE3
/// before anything reads it: whoever can write to the repository cannot change it between the
/// check and its use.
pub fn checked_copy(
    t: &dyn Target,
    point: &repo::Point,
    name: &str,
) -> Result<Box<dyn Read + Send>, EngineError> {
    let m = &point.manifest;
    let want = m.files.get(name).ok_or_else(|| {
        EngineError::Corrupt(format!("{}: the manifest does not list {name}", m.id))
    })?;
    let mut src = t
        .open(&point.dir.join(name))
        .map_err(|e| EngineError::io(format!("{name} of {}", m.id), e))?;
    let mut copy = match tempfile::tempfile() {
        Ok(f) => Scratch::File(f),
        Err(_) => Scratch::Memory(io::Cursor::new(Vec::new())),
    };
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(EngineError::Corrupt(format!("{}: {name}: {e}", m.id))),
        };
        hasher.update(&buf[..n]);
        io::Write::write_all(&mut copy, &buf[..n])
            .map_err(|e| EngineError::io("temporary copy of a catalog", e))?;
        size += n as u64;
    }
    if size != want.size || hasher.finalize().to_hex().as_str() != want.blake3 {
        return Err(EngineError::Corrupt(format!(
            "{}: {name} does not match its size and BLAKE3 hash in the manifest",
            m.id
        )));
    }
    io::Seek::rewind(&mut copy).map_err(|e| EngineError::io("temporary copy", e))?;
    Ok(Box::new(copy))
}

/// Catalog lines of a point, in walk order, from a copy checked against the manifest. Paths
/// must be safe and strictly increasing in walk order: a duplicate or out-of-order path means
/// the catalog was not written by us.
pub fn catalog_reader(
    t: &dyn Target,
    point: &repo::Point,
    identity: Option<&age::x25519::Identity>,
) -> Result<impl Iterator<Item = Result<Entry, EngineError>>, EngineError> {
    let m = &point.manifest;
    let f = checked_copy(t, point, &m.catalog_file())?;
    let r = stream::reader(f, m.compression, identity, m.encryption, None)
        .map_err(|e| key_named(e, m))?;
    let id = m.id.clone();
    let mut prev: Option<Vec<u8>> = None;
    Ok(BufReader::with_capacity(256 * 1024, r)
        .lines()
        .map(move |l| {
            let l = l.map_err(|e| EngineError::Corrupt(format!("catalog of {id}: {e}")))?;
            let e = serde_json::from_str::<Entry>(&l)
                .map_err(|e| EngineError::Corrupt(format!("catalog of {id}: {e}")))?;
            if !safe_rel(e.path()) {
                return Err(EngineError::Corrupt(format!(
                    "catalog of {id}: unsafe path {:?}",
                    String::from_utf8_lossy(e.path())
                )));
            }
            if let Some(p) = &prev {
                if walk_cmp(p, e.path()) != std::cmp::Ordering::Less {
                    return Err(EngineError::Corrupt(format!(
                        "catalog of {id}: {:?} is a duplicate or out of order",
                        String::from_utf8_lossy(e.path())
                    )));
                }
            }
            prev = Some(e.path().to_vec());
            Ok(e)
        }))
}

/// Names the recipient a missing key would have to match.
pub fn key_named(e: EngineError, m: &Manifest) -> EngineError {
    match e {
        EngineError::KeyNeeded(_) => {
            EngineError::KeyNeeded(m.recipient.clone().unwrap_or_else(|| "(unknown)".into()))
        }
        other => other,
    }
}
