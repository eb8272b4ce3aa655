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
        .open(&point.file(name))
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

/// A catalog read in step with the others of its chain (walk order).
pub type Stepped = std::iter::Peekable<Box<dyn Iterator<Item = Result<Entry, EngineError>>>>;

/// Opens a point's catalog for reading in step.
pub fn stepped(
    t: &dyn Target,
    point: &repo::Point,
    identity: Option<&age::x25519::Identity>,
) -> Result<Stepped, EngineError> {
    Ok((Box::new(catalog_reader(t, point, identity)?) as Box<dyn Iterator<Item = _>>).peekable())
}

/// The newest of `older` (the catalogs of a chain's older points, oldest first) whose archive
/// holds `e`, advancing each past what precedes `e`: restore, export and the browse index find
/// where a file's content is this way, reading the chain's catalogs once, in step.
pub fn holder(older: &mut [Stepped], e: &Entry) -> Result<Option<usize>, EngineError> {
    for i in (0..older.len()).rev() {
        let c = &mut older[i];
        while let Some(Ok(p)) = c.peek() {
            if walk_cmp(p.path(), e.path()) != std::cmp::Ordering::Less {
                break;
            }
            c.next();
        }
        match c.peek() {
            Some(Err(_)) => return Err(c.next().expect("peeked").expect_err("an error")),
            Some(Ok(p)) if p.path() == e.path() && p.w => return Ok(Some(i)),
            _ => {}
        }
    }
    Ok(None)
}

/// Whether `p` is `dir` or lies below it (`.` holds everything).
pub fn below(p: &[u8], dir: &[u8]) -> bool {
    dir == b"." || p == dir || (p.len() > dir.len() && p.starts_with(dir) && p[dir.len()] == b'/')
}

/// The selected paths without those inside another selected one, in walk order; `.` (the
/// whole point) when none is selected.
pub fn roots(paths: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = if paths.is_empty() {
        vec![b".".to_vec()]
    } else {
        paths.to_vec()
    };
    v.sort_by(|a, b| walk_cmp(a, b));
    v.dedup();
    let mut out: Vec<Vec<u8>> = Vec::new();
    for p in v {
        if !out.iter().any(|r| below(&p, r)) {
            out.push(p);
        }
    }
    out
}

/// A catalog path's parent and name (`.` is the parent of a top-level name).
pub fn split(p: &[u8]) -> (&[u8], &[u8]) {
    match p.iter().rposition(|c| *c == b'/') {
        Some(i) => (&p[..i], &p[i + 1..]),
        None => (b".", p),
    }
}

/// Where `p`, below the selected `root`, goes when selections are laid out flat: the root's
/// own name and what is below it (`etc/ssh/x` under root `etc/ssh` is `ssh/x`).
pub fn flat_member(root: &[u8], p: &[u8]) -> Vec<u8> {
    if root == b"." {
        return p.to_vec();
    }
    let cut = root.iter().rposition(|c| *c == b'/').map_or(0, |i| i + 1);
    p[cut..].to_vec()
}

/// Reads what is left of a point's archive and checks the whole stream, as tapped into
/// `digest`, against the manifest's size and BLAKE3: damage anywhere fails loudly.
pub fn finish_archive(
    mut rest: impl Read,
    digest: &stream::Shared,
    m: &Manifest,
) -> Result<(), EngineError> {
    io::copy(&mut rest, &mut io::sink())
        .map_err(|e| EngineError::Corrupt(format!("{}: archive: {e}", m.id)))?;
    let g = digest.lock().unwrap_or_else(|e| e.into_inner());
    let want = &m.files[&m.data_file()];
    if g.1 != want.size || g.0.clone().finalize().to_hex().as_str() != want.blake3 {
        return Err(EngineError::Corrupt(format!(
            "{}: {} does not match its BLAKE3 hash in the manifest; what was read from it \
             cannot be trusted",
            m.id,
            m.data_file()
        )));
    }
    Ok(())
}
