//! Sub-file incrementals (format 3). Regular files of at least [`PARTED_MIN`] bytes are split
//! into parts at content-defined boundaries (FastCDC), and each part's length and BLAKE3 go into
//! the file's catalog line. When such a file changed since the parent point, the incremental's
//! archive holds a *delta member*: only the parts the parent's version lacks, in order, while the
//! catalog line says, part by part, where the rest lies in the previous version. Full points
//! (merged ones included) always hold whole files. The layout is in `docs/ENGINE.md`;
//! `contrib/zdm-rebuild.py` rebuilds files from it with Python's standard library alone.

use super::catalog::{holder, Stepped};
use super::content_check::ContentCheck;
use super::entry::{Entry, Kind};
use super::EngineError;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::iter::Peekable;
use std::os::unix::fs::FileExt;

/// Files at least this large are split into parts; smaller ones are stored whole when changed.
pub const PARTED_MIN: u64 = 16 << 20;
/// `encode_sources` value of a part that the delta member holds.
pub const INLINE: u64 = u64::MAX;
/// One part record in `parts`: little-endian u32 length, then the 32-byte BLAKE3.
const RECORD: usize = 36;

/// One part of a file: its length and BLAKE3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    pub len: u32,
    pub hash: [u8; 32],
}

/// The average part size for a file of `size` bytes: about 2,048 parts per file, between 64 KiB
/// and 4 MiB (a 100 GiB file has about 25,000 parts, so its catalog line stays near 1 MiB). A
/// file keeps the size its previous version was split with while that is within a factor of 4,
/// so a growing file does not move all its boundaries at once.
pub fn part_size(size: u64, previous: Option<u32>) -> u32 {
    let natural = (size / 2048).next_power_of_two().clamp(64 << 10, 4 << 20) as u32;
    match previous {
        Some(p) if p.is_power_of_two() && (64 << 10..=4 << 20).contains(&p) => {
            if p / 4 <= natural && natural <= p.saturating_mul(4) {
                p
            } else {
                natural
            }
        }
        _ => natural,
    }
}

pub fn encode_parts(parts: &[Part]) -> String {
    let mut raw = Vec::with_capacity(parts.len() * RECORD);
    for p in parts {
        raw.extend_from_slice(&p.len.to_le_bytes());
        raw.extend_from_slice(&p.hash);
    }
    B64.encode(raw)
}

pub fn decode_parts(s: &str) -> Result<Vec<Part>, String> {
    let raw = B64.decode(s).map_err(|e| format!("part list: {e}"))?;
    if raw.len() % RECORD != 0 {
        return Err("part list: truncated record".into());
    }
    Ok(raw
        .chunks_exact(RECORD)
        .map(|r| Part {
            len: u32::from_le_bytes(r[..4].try_into().expect("4 bytes")),
            hash: r[4..].try_into().expect("32 bytes"),
        })
        .collect())
}

/// Where each part of a delta comes from: an offset into the previous version, or [`INLINE`].
pub fn encode_sources(sources: &[u64]) -> String {
    let raw: Vec<u8> = sources.iter().flat_map(|o| o.to_le_bytes()).collect();
    B64.encode(raw)
}

pub fn decode_sources(s: &str) -> Result<Vec<u64>, String> {
    let raw = B64.decode(s).map_err(|e| format!("delta: {e}"))?;
    if raw.len() % 8 != 0 {
        return Err("delta: truncated record".into());
    }
    Ok(raw
        .chunks_exact(8)
        .map(|r| u64::from_le_bytes(r.try_into().expect("8 bytes")))
        .collect())
}

/// A delta line's parts and where each comes from.
pub struct Delta {
    pub parts: Vec<Part>,
    pub sources: Vec<u64>,
}

/// A delta entry's parts and sources, checked against each other and the entry's size.
pub fn delta_of(e: &Entry) -> Result<Option<Delta>, String> {
    let Some(d) = &e.delta else { return Ok(None) };
    let parts = decode_parts(e.parts.as_deref().ok_or("a delta without parts")?)?;
    let sources = decode_sources(d)?;
    if sources.len() != parts.len() {
        return Err("delta: one source per part is needed".into());
    }
    if parts.iter().map(|p| u64::from(p.len)).sum::<u64>() != e.size {
        return Err("delta: the parts do not add up to the file's size".into());
    }
    Ok(Some(Delta { parts, sources }))
}

/// Bytes a delta member holds: the inline parts.
pub fn inline_bytes(parts: &[Part], sources: &[u64]) -> u64 {
    parts
        .iter()
        .zip(sources)
        .filter(|(_, s)| **s == INLINE)
        .map(|(p, _)| u64::from(p.len))
        .sum()
}

/// Sources of `new` against the previous version's parts: a part whose hash the previous
/// version has is taken from there (its first occurrence), every other part is inline.
pub fn sources(previous: &[Part], new: &[Part]) -> Vec<u64> {
    let mut at: HashMap<[u8; 32], (u64, u32)> = HashMap::with_capacity(previous.len());
    let mut off = 0u64;
    for p in previous {
        at.entry(p.hash).or_insert((off, p.len));
        off += u64::from(p.len);
    }
    new.iter()
        .map(|p| match at.get(&p.hash) {
            Some((o, len)) if *len == p.len => *o,
            _ => INLINE,
        })
        .collect()
}

/// How much the splitter reads at a time: a fraction of the L2 cache.
const READ_STEP: usize = 256 * 1024;

/// Splits what it reads into parts as it passes it on: a reader over a file's content whose
/// parts are known once it is read to the end.
pub struct Parter<R> {
    inner: R,
    buf: Vec<u8>,
    /// `buf[pos..end]` is read but not passed on; `buf[pos..cut]` is the current part.
    pos: usize,
    cut: usize,
    end: usize,
    eof: bool,
    min: usize,
    avg: usize,
    max: usize,
    masks: (u64, u64),
    parts: Vec<Part>,
}

impl<R: Read> Parter<R> {
    /// Reads `inner` through `buf` (grown to what the part size needs; reused across files, as
    /// fresh zeroed pages for every file cost more than the splitting).
    pub fn new(inner: R, part_size: u32, mut buf: Vec<u8>) -> Parter<R> {
        let avg = part_size as usize;
        let max = avg * 4;
        // Several of the largest parts (at least two), so a refill moves little compared with
        // what it reads, while the buffer stays a few MiB for the usual part sizes.
        buf.resize((max * 8).clamp(4 << 20, 32 << 20).max(max * 2), 0);
        Parter {
            inner,
            buf,
            pos: 0,
            cut: 0,
            end: 0,
            eof: false,
            min: avg / 4 * 3,
            avg,
            max,
            masks: fastcdc::v2020::select_masks(avg, fastcdc::v2020::Normalization::Level1),
            parts: Vec::new(),
        }
    }

    /// The reader, the buffer (for the next file) and the parts.
    pub fn finish(self) -> (R, Vec<u8>, Vec<Part>) {
        (self.inner, self.buf, self.parts)
    }

    /// Makes `buf[pos..]` hold at least `max` bytes, or everything left. It reads in small steps
    /// only as far as the next cut needs, so each byte is still in cache when it is hashed,
    /// scanned for the cut, hashed as a part and passed on: filling the whole buffer at once
    /// made each of those a pass over main memory.
    fn fill(&mut self) -> io::Result<()> {
        if self.end - self.pos >= self.max || self.eof {
            return Ok(());
        }
        if self.buf.len() - self.pos < self.max {
            // Out of room: what is left moves to the front, once per buffer's worth.
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.cut -= self.pos;
            self.pos = 0;
        }
        while self.end - self.pos < self.max {
            let to = (self.end + READ_STEP).min(self.buf.len());
            match self.inner.read(&mut self.buf[self.end..to]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for Parter<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.cut {
            self.fill()?;
            if self.pos == self.end {
                return Ok(0);
            }
            let (_, n) = fastcdc::v2020::cut(
                &self.buf[self.pos..self.end],
                self.min,
                self.avg,
                self.max,
                self.masks.0,
                self.masks.1,
                self.masks.0 << 1,
                self.masks.1 << 1,
            );
            self.cut = self.pos + n;
            self.parts.push(Part {
                len: n as u32,
                hash: *blake3::hash(&self.buf[self.pos..self.cut]).as_bytes(),
            });
        }
        let n = out.len().min(self.cut - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The inline parts of a delta, read again from the source file at their offsets (zeros past
/// its end, like a file that shrank while read). A part whose content is no longer what the
/// first pass saw is stored as it is now, and its hash in `parts` follows it; `changed` says so.
pub struct InlineReader<'a> {
    file: &'a File,
    parts: &'a mut [Part],
    sources: &'a [u64],
    /// The part being read, its offset in the file and how much of it is read.
    index: usize,
    offset: u64,
    done: u32,
    hasher: blake3::Hasher,
    pub changed: bool,
}

impl<'a> InlineReader<'a> {
    pub fn new(file: &'a File, parts: &'a mut [Part], sources: &'a [u64]) -> InlineReader<'a> {
        InlineReader {
            file,
            parts,
            sources,
            index: 0,
            offset: 0,
            done: 0,
            hasher: blake3::Hasher::new(),
            changed: false,
        }
    }
}

impl Read for InlineReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.index < self.parts.len()
            && (self.sources[self.index] != INLINE || self.done == self.parts[self.index].len)
        {
            if self.sources[self.index] == INLINE {
                let h = *std::mem::take(&mut self.hasher).finalize().as_bytes();
                if h != self.parts[self.index].hash {
                    self.parts[self.index].hash = h;
                    self.changed = true;
                }
            }
            self.offset += u64::from(self.parts[self.index].len);
            self.index += 1;
            self.done = 0;
        }
        let Some(part) = self.parts.get(self.index) else {
            return Ok(0);
        };
        let want = out.len().min((part.len - self.done) as usize);
        let at = self.offset + u64::from(self.done);
        let n = match self.file.read_at(&mut out[..want], at)? {
            0 => {
                out[..want].fill(0);
                want
            }
            n => n,
        };
        self.hasher.update(&out[..n]);
        self.done += n as u32;
        Ok(n)
    }
}

/// Where a piece of the rebuilt file is in the scratch file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Piece {
    at: u64,
    len: u64,
}

/// The pieces of `version` (offset order) covering `[from, from + len)` of it.
fn map_range(version: &[(u64, Piece)], from: u64, len: u64, out: &mut Vec<Piece>) -> bool {
    let mut i = version.partition_point(|(start, p)| start + p.len <= from);
    let (mut from, mut left) = (from, len);
    while left > 0 {
        let Some((start, p)) = version.get(i) else {
            return false;
        };
        let skip = from - start;
        let take = (p.len - skip).min(left);
        let piece = Piece {
            at: p.at + skip,
            len: take,
        };
        match out.last_mut() {
            Some(last) if last.at + last.len == piece.at => last.len += piece.len,
            _ => out.push(piece),
        }
        from += take;
        left -= take;
        i += 1;
    }
    true
}

/// Copies a member into `scratch` at `at` and checks it as `check` says: a whole previous
/// version against its catalog line (size, and hash or parts), or a delta's inline parts each
/// against its own hash. Returns the bytes copied.
fn spool(
    member: &mut dyn Read,
    scratch: &File,
    at: u64,
    check: Check<'_>,
    what: &str,
) -> Result<u64, EngineError> {
    let bad = |why: String| EngineError::Corrupt(format!("{what}: {why}"));
    let mut buf = vec![0u8; 1 << 20];
    let write = |data: &[u8], at: u64| {
        scratch
            .write_all_at(data, at)
            .map_err(|e| EngineError::io("a scratch file for rebuilding a file", e))
    };
    let mut copied = 0u64;
    match check {
        Check::Whole(line) => {
            let mut check = ContentCheck::of(line).map_err(&bad)?;
            loop {
                let n = member.read(&mut buf).map_err(|e| bad(e.to_string()))?;
                if n == 0 {
                    break;
                }
                check.update(&buf[..n]);
                write(&buf[..n], at + copied)?;
                copied += n as u64;
            }
            if copied != line.size {
                return Err(bad(format!(
                    "the previous version has {copied} bytes, its catalog line {}",
                    line.size
                )));
            }
            check
                .finish()
                .map_err(|why| bad(format!("the previous version: {why}")))?;
        }
        Check::Parts { parts, sources } => {
            each_inline(member, parts, sources, &mut buf, |data| {
                write(data, at + copied).map_err(|e| e.to_string())?;
                copied += data.len() as u64;
                Ok(())
            })
            .map_err(bad)?;
        }
    }
    Ok(copied)
}

enum Check<'a> {
    /// A whole version, against its catalog line.
    Whole(&'a Entry),
    Parts {
        parts: &'a [Part],
        sources: &'a [u64],
    },
}

/// A file rebuilt from a whole version and the deltas after it, read in order from the pieces
/// spooled into a scratch file.
pub struct Assembled {
    scratch: File,
    pieces: Vec<Piece>,
    index: usize,
    done: u64,
}

impl Read for Assembled {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self
            .pieces
            .get(self.index)
            .is_some_and(|p| self.done == p.len)
        {
            self.index += 1;
            self.done = 0;
        }
        let Some(p) = self.pieces.get(self.index) else {
            return Ok(0);
        };
        let want = out.len().min((p.len - self.done) as usize);
        let n = self.scratch.read_at(&mut out[..want], p.at + self.done)?;
        if n == 0 {
            return Err(io::Error::other("the scratch file ends early"));
        }
        self.done += n as u64;
        Ok(n)
    }
}

/// The content of a regular file as one point of a chain has it.
pub enum Content<'a, R: Read> {
    /// A whole member of one archive.
    Member(Box<tar::Entry<'a, R>>),
    /// Rebuilt from a whole member and deltas.
    Assembled(BufReader<Assembled>),
}

impl<R: Read> Read for Content<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Content::Member(m) => m.read(buf),
            Content::Assembled(a) => a.read(buf),
        }
    }
}

/// The content of `e`, a regular file's line in the catalog of the newest point of a chain
/// whose archives `entries` (oldest first, points named by `ids`) and older points' catalogs
/// `older` are read in step. A delta is rebuilt through a scratch file from `scratch` (the
/// previous versions' members and the deltas' parts, each checked against its catalog line as
/// it is spooled); the caller checks the result against `e` with a [`ContentCheck`].
pub fn content<'a, R: Read>(
    older: &mut [Stepped],
    entries: &mut [Peekable<tar::Entries<'a, R>>],
    ids: &[&str],
    e: &Entry,
    scratch: &dyn Fn() -> io::Result<File>,
) -> Result<Content<'a, R>, EngineError> {
    let label = || String::from_utf8_lossy(e.path()).into_owned();
    let member = |entries: &mut [Peekable<tar::Entries<'a, R>>], i: usize| {
        super::archive::seek(&mut entries[i], e.path(), ids[i])?.ok_or_else(|| {
            EngineError::Corrupt(format!("{}: the archive lacks {}", ids[i], label()))
        })
    };
    let missing = || EngineError::Corrupt(format!("no archive of the chain holds {}", label()));
    // The holder of `e`; nearly always its member is the whole file.
    let last = entries.len() - 1;
    let (holder_i, holder_line) = if e.w {
        (last, e.delta.is_some().then(|| e.clone()))
    } else {
        held(older, e)?.ok_or_else(missing)?
    };
    let Some(holder_line) = holder_line else {
        return Ok(Content::Member(Box::new(member(entries, holder_i)?)));
    };
    // The versions to read, newest first: the holder's delta, then while that is a delta the
    // holder of its previous version, down to a whole one.
    let mut versions: Vec<(usize, Entry)> = vec![(holder_i, holder_line)];
    loop {
        let (i, _) = versions.last().expect("not empty");
        let (j, line) = held(&mut older[..*i], e)?.ok_or_else(missing)?;
        let line = match line {
            Some(delta) => delta,
            None => older_line(older, j, e)?,
        };
        let is_delta = line.delta.is_some();
        versions.push((j, line));
        if !is_delta {
            break;
        }
    }
    let label = label();
    let (base_i, base) = versions.pop().expect("at least one version");
    let scratch = scratch().map_err(|err| EngineError::io("a scratch file", err))?;
    let what = format!("{}: {label}", ids[base_i]);
    let mut next = spool(
        &mut member(entries, base_i)?,
        &scratch,
        0,
        Check::Whole(&base),
        &what,
    )?;
    let mut pieces: Vec<(u64, Piece)> = vec![(
        0,
        Piece {
            at: 0,
            len: base.size,
        },
    )];
    let mut size = base.size;
    for (i, v) in versions.into_iter().rev() {
        let what = format!("{}: {label}", ids[i]);
        let Delta { parts, sources } = delta_of(&v)
            .map_err(|why| EngineError::Corrupt(format!("{what}: {why}")))?
            .expect("a delta");
        let inline_at = next;
        next += spool(
            &mut member(entries, i)?,
            &scratch,
            inline_at,
            Check::Parts {
                parts: &parts,
                sources: &sources,
            },
            &what,
        )?;
        let mut now: Vec<Piece> = Vec::with_capacity(parts.len());
        let mut inline = inline_at;
        for (p, s) in parts.iter().zip(&sources) {
            let len = u64::from(p.len);
            if *s == INLINE {
                match now.last_mut() {
                    Some(last) if last.at + last.len == inline => last.len += len,
                    _ => now.push(Piece { at: inline, len }),
                }
                inline += len;
            } else if s.checked_add(len).is_none_or(|end| end > size)
                || !map_range(&pieces, *s, len, &mut now)
            {
                return Err(EngineError::Corrupt(format!(
                    "{what}: a part lies outside the previous version"
                )));
            }
        }
        let mut start = 0u64;
        pieces = now
            .into_iter()
            .map(|p| {
                let s = start;
                start += p.len;
                (s, p)
            })
            .collect();
        size = v.size;
    }
    Ok(Content::Assembled(BufReader::with_capacity(
        1 << 20,
        Assembled {
            scratch,
            pieces: pieces.into_iter().map(|(_, p)| p).collect(),
            index: 0,
            done: 0,
        },
    )))
}

/// The holder of `e` among `older`, with its catalog line there when that is a delta.
fn held(older: &mut [Stepped], e: &Entry) -> Result<Option<(usize, Option<Entry>)>, EngineError> {
    let Some(i) = holder(older, e)? else {
        return Ok(None);
    };
    match older[i].peek() {
        Some(Ok(line)) if line.k == Kind::File => {
            Ok(Some((i, line.delta.is_some().then(|| line.clone()))))
        }
        _ => Err(not_a_file(e)),
    }
}

fn not_a_file(e: &Entry) -> EngineError {
    EngineError::Corrupt(format!(
        "{} is not a regular file where the chain holds it",
        String::from_utf8_lossy(e.path())
    ))
}

/// The catalog line of `e`'s path where `older[i]` stands (its holder).
fn older_line(older: &mut [Stepped], i: usize, e: &Entry) -> Result<Entry, EngineError> {
    match older[i].peek() {
        Some(Ok(line)) if line.k == Kind::File && line.path() == e.path() => Ok(line.clone()),
        _ => Err(not_a_file(e)),
    }
}

/// Reads the inline parts of a delta member in order, passing each piece to `f` and checking
/// each part against its hash; nothing may follow them.
fn each_inline(
    member: &mut dyn Read,
    parts: &[Part],
    sources: &[u64],
    buf: &mut [u8],
    mut f: impl FnMut(&[u8]) -> Result<(), String>,
) -> Result<(), String> {
    for (p, _) in parts.iter().zip(sources).filter(|(_, s)| **s == INLINE) {
        let mut hasher = blake3::Hasher::new();
        let mut left = p.len as usize;
        while left > 0 {
            let n = left.min(buf.len());
            member
                .read_exact(&mut buf[..n])
                .map_err(|err| format!("the delta ends early: {err}"))?;
            hasher.update(&buf[..n]);
            f(&buf[..n])?;
            left -= n;
        }
        if *hasher.finalize().as_bytes() != p.hash {
            return Err("a part of the delta does not match its hash".into());
        }
    }
    if member.read(buf).map_err(|err| err.to_string())? != 0 {
        return Err("the delta holds more than its parts".into());
    }
    Ok(())
}

/// Checks a delta member against its catalog line as it is read (verify).
pub fn check_member(member: &mut dyn Read, e: &Entry) -> Result<(), String> {
    let Delta { parts, sources } = delta_of(e)?.ok_or("not a delta")?;
    each_inline(
        member,
        &parts,
        &sources,
        &mut vec![0u8; 1 << 20],
        |_| Ok(()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(data: &[u8], ps: u32) -> Vec<Part> {
        let mut p = Parter::new(data, ps, Vec::new());
        io::copy(&mut p, &mut io::sink()).unwrap();
        p.finish().2
    }

    #[test]
    fn parts_cover_the_content_and_an_insertion_moves_only_nearby_boundaries() {
        let mut data = vec![0u8; 3 << 20];
        let mut x = 7u64;
        for b in data.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        let a = split(&data, 64 << 10);
        assert_eq!(a.iter().map(|p| p.len as usize).sum::<usize>(), data.len());
        assert!(a.len() > 20, "{}", a.len());
        let mut moved = b"inserted near the start".to_vec();
        moved.extend_from_slice(&data);
        let b = split(&moved, 64 << 10);
        let src = sources(&a, &b);
        let inline = inline_bytes(&b, &src);
        assert!(inline < 600 << 10, "{inline} bytes inline");
        assert_eq!(
            decode_parts(&encode_parts(&b)).unwrap(),
            b,
            "parts survive their encoding"
        );
        assert_eq!(decode_sources(&encode_sources(&src)).unwrap(), src);
    }

    #[test]
    fn a_part_changed_between_the_two_reads_is_stored_as_read_and_its_hash_follows() {
        let mut data = vec![7u8; 1 << 20];
        data[300_000..400_000].fill(9);
        let mut parts = split(&data, 64 << 10);
        let sources: Vec<u64> = (0..parts.len())
            .map(|i| if i == 1 { INLINE } else { 0 })
            .collect();
        let mut f = tempfile::tempfile().unwrap();
        io::Write::write_all(&mut f, &data).unwrap();
        let at = u64::from(parts[0].len);
        f.write_all_at(b"changed", at + 5).unwrap();
        let before = parts[1].hash;
        let mut r = InlineReader::new(&f, &mut parts, &sources);
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        assert!(r.changed);
        assert_eq!(&got[5..12], b"changed");
        assert_ne!(parts[1].hash, before);
        assert_eq!(parts[1].hash, *blake3::hash(&got).as_bytes());
    }

    #[test]
    fn part_sizes_are_bounded_and_stable_while_a_file_grows() {
        assert_eq!(part_size(8 << 20, None), 64 << 10);
        assert_eq!(part_size(512 << 20, None), 256 << 10);
        assert_eq!(part_size(100 << 30, None), 4 << 20);
        assert_eq!(part_size(1 << 30, Some(256 << 10)), 256 << 10);
        assert_eq!(part_size(8 << 30, Some(256 << 10)), 4 << 20);
        assert_eq!(part_size(1 << 30, Some(3)), 512 << 10);
    }

    #[test]
    fn ranges_map_through_pieces() {
        let v = vec![
            (0, Piece { at: 100, len: 10 }),
            (10, Piece { at: 500, len: 5 }),
            (15, Piece { at: 110, len: 10 }),
        ];
        let mut out = Vec::new();
        assert!(map_range(&v, 8, 10, &mut out));
        assert_eq!(
            out,
            vec![
                Piece { at: 108, len: 2 },
                Piece { at: 500, len: 5 },
                Piece { at: 110, len: 3 }
            ]
        );
        assert!(!map_range(&v, 20, 10, &mut Vec::new()));
    }
}
