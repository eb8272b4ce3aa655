//! Downloads (RECOVERIES.md §4.3): one file's content, or selected subtrees of a point as a PAX
//! tar, written straight into a sink (an HTTP response); only a file rebuilt from deltas goes
//! through an unnamed scratch file first.
//!
//! Like a restore, paths and metadata come from the point's catalog and content from the
//! newest archive of the chain that holds it; each file's content is checked against the size
//! and the BLAKE3 (or its parts') in its catalog line as it streams. A mismatch ends the stream
//! with an error: the caller aborts the connection, and the tar lacks its end-of-archive
//! blocks, so a client sees the truncation.

use super::archive::{append_entry, seek};
use super::catalog::{below, catalog_reader, roots, stepped, Stepped};
use super::content_check::ContentCheck;
use super::delta;
use super::entry::{Bytes, Entry, Kind};
use super::repo::{self, Point};
use super::stream::Shared;
use super::target::Target;
use super::{CancelToken, EngineError};
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::iter::Peekable;

/// Reads exactly what a catalog line promises, and fails at the end when the content is not it.
struct Checked<'a, R> {
    inner: R,
    left: u64,
    /// Taken when the end is reached.
    check: Option<ContentCheck>,
    what: &'a str,
}

impl<'a, R> Checked<'a, R> {
    fn new(inner: R, size: u64, check: ContentCheck, what: &'a str) -> Checked<'a, R> {
        Checked {
            inner,
            left: size,
            check: Some(check),
            what,
        }
    }
}

impl<R: Read> Read for Checked<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            if self.left != 0 {
                return Err(io::Error::other(format!(
                    "{}: the archive ends {} bytes early",
                    self.what, self.left
                )));
            }
            if let Some(check) = self.check.take() {
                check
                    .finish()
                    .map_err(|why| io::Error::other(format!("{}: {why}", self.what)))?;
            }
            return Ok(0);
        }
        let n = n.min(self.left as usize);
        self.left -= n as u64;
        if let Some(check) = &mut self.check {
            check.update(&buf[..n]);
        }
        Ok(n)
    }
}

fn show(p: &[u8]) -> String {
    String::from_utf8_lossy(p).into_owned()
}

fn archive(
    t: &dyn Target,
    p: &Point,
    identity: Option<&age::x25519::Identity>,
) -> Result<tar::Archive<Box<dyn Read + Send>>, EngineError> {
    let m = &p.manifest;
    let f = t
        .open(&p.file(&m.data_file()))
        .map_err(|e| EngineError::io(format!("archive of {}", m.id), e))?;
    Ok(tar::Archive::new(
        super::stream::reader(f, m.compression, identity, m.encryption, None)
            .map_err(|e| super::catalog::key_named(e, m))?,
    ))
}

/// Writes a whole full point as one tar: its archive, decrypted and decompressed, as it is (the
/// backup wrote it as the PAX tar of every entry, through the same `append_entry` a selection
/// uses). The archive's hash in the manifest checks every byte; the last megabyte or more, which
/// holds the tar's end, goes out only after it matched, so damage never ends in a complete tar.
/// The decoded chunks go to `emit` as they are (a download sends them without a copy).
/// Returns the bytes written.
pub fn write_archive(
    t: &dyn Target,
    point: &Point,
    identity: Option<&age::x25519::Identity>,
    emit: &mut dyn FnMut(super::stream::Chunk) -> io::Result<()>,
    cancel: &CancelToken,
) -> Result<u64, EngineError> {
    const HOLD: usize = 1 << 20;
    let m = &point.manifest;
    if m.parent.is_some() {
        return Err(EngineError::Usage(format!(
            "{} is an increment: its archive holds only what changed",
            m.id
        )));
    }
    let digest = Shared::default();
    let f = t
        .open(&point.file(&m.data_file()))
        .map_err(|e| EngineError::io(format!("archive of {}", m.id), e))?;
    let mut r = super::stream::chunks(
        f,
        m.compression,
        identity,
        m.encryption,
        Some(digest.clone()),
    )
    .map_err(|e| super::catalog::key_named(e, m))?;
    let io_err = |e: io::Error| EngineError::Io(io::Error::new(e.kind(), format!("download: {e}")));
    let mut held = std::collections::VecDeque::new();
    let mut held_bytes = 0usize;
    let mut sent = 0u64;
    loop {
        cancel.check()?;
        let chunk = r
            .next_chunk()
            .map_err(|e| EngineError::Corrupt(format!("{}: archive: {e}", m.id)))?;
        let Some(chunk) = chunk else { break };
        held_bytes += chunk.len();
        held.push_back(chunk);
        // The chunks after the first must still hold HOLD bytes for it to go.
        while held.len() > 1 && held_bytes - held[0].len() >= HOLD {
            let b = held.pop_front().expect("more than one");
            held_bytes -= b.len();
            sent += b.len() as u64;
            emit(b).map_err(io_err)?;
        }
    }
    super::catalog::finish_archive(r, &digest, m)?;
    for b in held {
        sent += b.len() as u64;
        emit(b).map_err(io_err)?;
    }
    Ok(sent)
}

/// Writes the content of the regular file `path` (a catalog path) of the point `holder`, whose
/// archive holds it (`points` are the job's, for its chain); `size` and `hash` are its catalog
/// line's. Returns the bytes written.
#[allow(clippy::too_many_arguments)]
pub fn write_file(
    t: &dyn Target,
    points: &[Point],
    holder: &str,
    path: &[u8],
    size: u64,
    hash: Option<&str>,
    identity: Option<&age::x25519::Identity>,
    out: &mut dyn Write,
) -> Result<u64, EngineError> {
    let what = show(path);
    with_file(
        t,
        points,
        holder,
        path,
        identity,
        hash,
        &mut |rec, check| {
            let mut r = Checked::new(rec, size, check, &what);
            io::copy(&mut r, out).map_err(|e| EngineError::Corrupt(format!("{holder}: {e}")))
        },
    )
}

/// Passes `f` the content of the regular file `path` of the point `holder`, whose archive holds
/// it, read in a fresh pass: the member itself, or, when it is a delta (its PAX record says so;
/// the checks against the catalog catch a record that lies), the file rebuilt from the chain;
/// and the check of that content. `hash` is the file's hash as the browse index has it; a file
/// without one (split into parts) is checked against its parts, from its catalog line.
fn with_file(
    t: &dyn Target,
    points: &[Point],
    holder: &str,
    path: &[u8],
    identity: Option<&age::x25519::Identity>,
    hash: Option<&str>,
    f: &mut dyn FnMut(&mut dyn Read, ContentCheck) -> Result<u64, EngineError>,
) -> Result<u64, EngineError> {
    let chain = repo::chain(points, holder)?;
    let last = chain.len() - 1;
    let bad = |why: String| EngineError::Corrupt(format!("{holder}: {}: {why}", show(path)));
    let line = match hash {
        Some(_) => None,
        None => Some(holder_line(t, &chain[last], path, identity)?),
    };
    {
        let mut a = archive(t, &chain[last], identity)?;
        let mut entries = a
            .entries()
            .map_err(|e| EngineError::Corrupt(format!("archive of {holder}: {e}")))?
            .peekable();
        let mut rec = seek(&mut entries, path, holder)?.ok_or_else(|| {
            EngineError::Corrupt(format!("{holder}: the archive lacks {}", show(path)))
        })?;
        if !is_delta(&mut rec) {
            let check = match &line {
                Some(e) => ContentCheck::of(e),
                None => ContentCheck::new(hash, None),
            };
            return f(&mut rec, check.map_err(bad)?);
        }
    }
    // The holder's catalog line says how to rebuild it.
    let e = match line {
        Some(e) => e,
        None => holder_line(t, &chain[last], path, identity)?,
    };
    let check = ContentCheck::of(&e).map_err(bad)?;
    let (mut older, mut archives) = open_chain(t, &chain, identity)?;
    let mut entries = in_step(&mut archives)?;
    let ids: Vec<&str> = chain.iter().map(|p| p.manifest.id.as_str()).collect();
    let mut rec = delta::content(&mut older, &mut entries, &ids, &e, &tempfile::tempfile)?;
    f(&mut rec, check)
}

/// The catalog line of the regular file `path` in `holder`'s catalog.
fn holder_line(
    t: &dyn Target,
    holder: &Point,
    path: &[u8],
    identity: Option<&age::x25519::Identity>,
) -> Result<Entry, EngineError> {
    for e in catalog_reader(t, holder, identity)? {
        let e = e?;
        if e.path() == path {
            if e.k == Kind::File {
                return Ok(e);
            }
            break;
        }
    }
    Err(EngineError::Corrupt(format!(
        "{}: its catalog lacks {}",
        holder.manifest.id,
        show(path)
    )))
}

type Archives = Vec<tar::Archive<Box<dyn Read + Send>>>;
type InStep<'a> = Vec<Peekable<tar::Entries<'a, Box<dyn Read + Send>>>>;

/// The catalogs of a chain's older points, to read in step, and the archives of all its points.
fn open_chain(
    t: &dyn Target,
    chain: &[Point],
    identity: Option<&age::x25519::Identity>,
) -> Result<(Vec<Stepped>, Archives), EngineError> {
    let older = chain[..chain.len() - 1]
        .iter()
        .map(|p| stepped(t, p, identity))
        .collect::<Result<_, _>>()?;
    let archives = chain
        .iter()
        .map(|p| archive(t, p, identity))
        .collect::<Result<_, _>>()?;
    Ok((older, archives))
}

/// The archives' entries, to read in step.
fn in_step(archives: &mut Archives) -> Result<InStep<'_>, EngineError> {
    archives
        .iter_mut()
        .map(|a| a.entries().map(Iterator::peekable))
        .collect::<io::Result<_>>()
        .map_err(|e| EngineError::Corrupt(e.to_string()))
}

/// Whether a member carries the PAX record of a delta.
fn is_delta<R: Read>(rec: &mut tar::Entry<'_, R>) -> bool {
    rec.pax_extensions()
        .ok()
        .flatten()
        .is_some_and(|mut x| x.any(|kv| kv.is_ok_and(|kv| kv.key_bytes() == b"ZDM.delta")))
}

/// The name of `p` inside the tar: relative to the parent of the selected root it is in.
/// What a tar export wrote.
#[derive(Debug, Default)]
pub struct Exported {
    pub entries: u64,
    pub bytes: u64,
}

/// Where a path's content is: the point whose archive holds it, its size and hash.
pub struct Holder {
    pub point: String,
    pub size: u64,
    pub hash: Option<String>,
}

/// What a tar export takes.
pub struct TarRequest<'a> {
    /// The job's authenticated points (for the chain).
    pub points: &'a [Point],
    pub point: &'a Point,
    /// Catalog paths; `.` for the whole point.
    pub paths: &'a [Vec<u8>],
    pub identity: Option<&'a age::x25519::Identity>,
    /// Where a path's content is (the browse index knows), for a hard link whose first name is
    /// outside the selection.
    pub written_in: &'a dyn Fn(&[u8]) -> Option<Holder>,
}

/// Writes the entries of the point at and below each selected path as a PAX tar into `out`.
pub fn write_tar<W: Write>(
    t: &dyn Target,
    req: &TarRequest,
    out: W,
    cancel: &CancelToken,
) -> Result<Exported, EngineError> {
    let TarRequest {
        points,
        point,
        paths,
        identity,
        written_in,
    } = *req;
    let chain = repo::chain(points, &point.manifest.id)?;
    let ids: Vec<&str> = chain.iter().map(|p| p.manifest.id.as_str()).collect();
    let roots = roots(paths);
    let (mut older, mut archives) = open_chain(t, &chain, identity)?;
    let mut entries = in_step(&mut archives)?;
    let mut tar = tar::Builder::new(out);
    tar.mode(tar::HeaderMode::Complete);
    let mut done = Exported::default();
    // Regular files already in the tar: catalog path -> member name (for hard links).
    let mut members: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
    let mut warnings = Vec::new();
    let io_err = |e: io::Error| EngineError::Io(io::Error::new(e.kind(), format!("download: {e}")));
    for e in catalog_reader(t, point, identity)? {
        cancel.check()?;
        let e = e?;
        let Some(root) = roots.iter().find(|r| below(e.path(), r)) else {
            continue;
        };
        if e.path() == b"." {
            continue;
        }
        let name = super::catalog::flat_member(root, e.path());
        let mut out_e = Entry {
            p: Bytes(name.clone()),
            ..e.clone()
        };
        match e.k {
            Kind::File => {
                let id = &point.manifest.id;
                let rec = delta::content(&mut older, &mut entries, &ids, &e, &tempfile::tempfile)?;
                let what = show(e.path());
                let check = ContentCheck::of(&e)
                    .map_err(|why| EngineError::Corrupt(format!("{id}: {what}: {why}")))?;
                let mut r = Checked::new(rec, e.size, check, &what);
                append_entry(&mut tar, &out_e, Some(&mut r), &mut warnings).map_err(|err| {
                    if err.kind() == io::ErrorKind::Other {
                        EngineError::Corrupt(format!("{id}: {err}"))
                    } else {
                        io_err(err)
                    }
                })?;
                members.insert(e.path().to_vec(), name);
                done.bytes += e.size;
            }
            Kind::HardLink => {
                let first = e.link.as_ref().map(|l| l.0.clone()).unwrap_or_default();
                match members.get(&first) {
                    Some(m) => {
                        out_e.link = Some(Bytes(m.clone()));
                        append_entry(&mut tar, &out_e, None, &mut warnings).map_err(io_err)?;
                    }
                    None => {
                        // Its first name is outside the selection: the content goes in here,
                        // read from a fresh pass over the archive that holds it.
                        let Holder {
                            point: holder_id,
                            size,
                            hash,
                        } = written_in(&first).ok_or_else(|| {
                            EngineError::Corrupt(format!(
                                "hard link {} names {}, which the point lacks",
                                show(e.path()),
                                show(&first)
                            ))
                        })?;
                        if !chain.iter().any(|p| p.manifest.id == holder_id) {
                            return Err(EngineError::Corrupt(format!(
                                "{holder_id} is not in the chain"
                            )));
                        }
                        let what = show(&first);
                        out_e.k = Kind::File;
                        out_e.size = size;
                        out_e.link = None;
                        let hash = hash.as_deref();
                        with_file(
                            t,
                            points,
                            &holder_id,
                            &first,
                            identity,
                            hash,
                            &mut |rec, c| {
                                let mut r = Checked::new(rec, size, c, &what);
                                append_entry(&mut tar, &out_e, Some(&mut r), &mut warnings)
                                    .map_err(|err| {
                                        EngineError::Corrupt(format!("{holder_id}: {err}"))
                                    })?;
                                Ok(size)
                            },
                        )?;
                        members.insert(first, name);
                        done.bytes += size;
                    }
                }
            }
            _ => append_entry(&mut tar, &out_e, None, &mut warnings).map_err(io_err)?,
        }
        done.entries += 1;
    }
    tar.into_inner().map_err(io_err)?.flush().map_err(io_err)?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections_are_reduced_to_their_roots_and_named_from_their_parent() {
        let r = roots(&[
            b"etc/ssh".to_vec(),
            b"etc".to_vec(),
            b"home/a".to_vec(),
            b"etc".to_vec(),
        ]);
        assert_eq!(r, vec![b"etc".to_vec(), b"home/a".to_vec()]);
        assert_eq!(
            roots(&[b".".to_vec(), b"etc".to_vec()]),
            vec![b".".to_vec()]
        );
        assert_eq!(
            crate::engine::catalog::flat_member(b"etc/ssh", b"etc/ssh/sshd_config"),
            b"ssh/sshd_config"
        );
        assert_eq!(
            crate::engine::catalog::flat_member(b"etc", b"etc/hosts"),
            b"etc/hosts"
        );
        assert_eq!(
            crate::engine::catalog::flat_member(b".", b"etc/hosts"),
            b"etc/hosts"
        );
    }
}
