//! Tar records of catalog entries, written the same way by backups and merges, and found again
//! by path when restoring or merging.

use super::entry::{walk_cmp, Entry, Kind};
use super::repo::{FileInfo, Manifest};
use super::stream::{self, Finish, WriteOptions};
use super::target::Target;
use super::EngineError;
use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn pax_time(t: (i64, u32)) -> String {
    format!("{}.{:09}", t.0, t.1)
}

/// Appends `e` with `content` (regular files: exactly `e.size` bytes). Nanosecond mtimes and
/// extended attributes (POSIX ACLs included) go into PAX records that GNU tar understands.
pub fn append_entry<W: Write>(
    tar: &mut tar::Builder<W>,
    e: &Entry,
    content: Option<&mut dyn Read>,
    warnings: &mut Vec<String>,
) -> io::Result<()> {
    append_with(tar, e, content, warnings, None)
}

/// Appends the delta member of the regular file `e`: `inline` bytes, the parts its catalog line
/// marks inline, under the file's own path, flagged with the PAX record `ZDM.delta=1`.
pub fn append_delta<W: Write>(
    tar: &mut tar::Builder<W>,
    e: &Entry,
    inline: u64,
    content: &mut dyn Read,
    warnings: &mut Vec<String>,
) -> io::Result<()> {
    let member = Entry {
        size: inline,
        ..e.clone()
    };
    append_with(
        tar,
        &member,
        Some(content),
        warnings,
        Some(("ZDM.delta", b"1")),
    )
}

fn append_with<W: Write>(
    tar: &mut tar::Builder<W>,
    e: &Entry,
    content: Option<&mut dyn Read>,
    warnings: &mut Vec<String>,
    extra: Option<(&str, &[u8])>,
) -> io::Result<()> {
    let rel = std::ffi::OsStr::from_bytes(e.path());
    let mut pax: Vec<(String, Vec<u8>)> = vec![("mtime".into(), pax_time(e.mtime).into_bytes())];
    if let Some((k, v)) = extra {
        pax.push((k.into(), v.to_vec()));
    }
    for (k, v) in &e.xattrs {
        match std::str::from_utf8(&k.0) {
            Ok(k) => pax.push((format!("SCHILY.xattr.{k}"), v.0.clone())),
            Err(_) => warnings.push(format!(
                "{}: an extended attribute with a non-UTF-8 name is kept in the catalog only",
                rel.to_string_lossy()
            )),
        }
    }
    tar.append_pax_extensions(pax.iter().map(|(k, v)| (k.as_str(), v.as_slice())))?;
    let mut h = tar::Header::new_gnu();
    h.set_mode(e.mode);
    h.set_uid(e.uid as u64);
    h.set_gid(e.gid as u64);
    h.set_mtime(e.mtime.0.max(0) as u64);
    h.set_size(0);
    match e.k {
        Kind::File => {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(e.size);
            let r = content.ok_or_else(|| io::Error::other("a regular file needs content"))?;
            tar.append_data(&mut h, rel, r)
        }
        Kind::Dir => {
            h.set_entry_type(tar::EntryType::Directory);
            tar.append_data(&mut h, rel, io::empty())
        }
        Kind::Symlink | Kind::HardLink => {
            h.set_entry_type(if e.k == Kind::Symlink {
                tar::EntryType::Symlink
            } else {
                tar::EntryType::Link
            });
            let target = e.link.as_ref().map(|l| l.0.clone()).unwrap_or_default();
            tar.append_link(&mut h, rel, std::ffi::OsStr::from_bytes(&target))
        }
        Kind::Fifo | Kind::Char | Kind::Block => {
            h.set_entry_type(match e.k {
                Kind::Fifo => tar::EntryType::Fifo,
                Kind::Char => tar::EntryType::Char,
                _ => tar::EntryType::Block,
            });
            if e.k != Kind::Fifo {
                h.set_device_major(nix::sys::stat::major(e.rdev) as u32)?;
                h.set_device_minor(nix::sys::stat::minor(e.rdev) as u32)?;
            }
            tar.append_data(&mut h, rel, io::empty())
        }
    }
}

/// Moves through one archive's entries (in walk order) to the entry at `path`, skipping the
/// ones before it. `Ok(None)`: the archive does not hold `path`.
pub fn seek<'a, R: Read>(
    entries: &mut std::iter::Peekable<tar::Entries<'a, R>>,
    path: &[u8],
    point: &str,
) -> Result<Option<tar::Entry<'a, R>>, EngineError> {
    loop {
        let order = match entries.peek() {
            None => return Ok(None),
            Some(Err(_)) => {
                let e = entries
                    .next()
                    .expect("peeked")
                    .err()
                    .expect("peeked an error");
                return Err(EngineError::Corrupt(format!("archive of {point}: {e}")));
            }
            Some(Ok(ent)) => walk_cmp(&normalize(&ent.path_bytes()), path),
        };
        match order {
            std::cmp::Ordering::Less => {
                entries.next();
            }
            std::cmp::Ordering::Equal => {
                return entries
                    .next()
                    .transpose()
                    .map_err(|e| EngineError::Corrupt(format!("archive of {point}: {e}")))
            }
            std::cmp::Ordering::Greater => return Ok(None),
        }
    }
}

/// Tar adds a trailing `/` to directory names and may start paths with `./`.
pub fn normalize(p: &[u8]) -> Vec<u8> {
    let p = p.strip_prefix(b"./").unwrap_or(p);
    let p = if p.len() > 1 {
        p.strip_suffix(b"/").unwrap_or(p)
    } else {
        p
    };
    if p.is_empty() {
        b".".to_vec()
    } else {
        p.to_vec()
    }
}

/// The two files of a point being written: the archive and the catalog, with the same
/// compression and encryption. Backups and merges write points through it.
pub struct PointWriter {
    pub tar: tar::Builder<Box<dyn Finish>>,
    catalog: io::BufWriter<Box<dyn Finish>>,
    names: (String, String),
}

impl PointWriter {
    pub fn create(
        t: &dyn Target,
        partial: &Path,
        opts: &WriteOptions,
    ) -> Result<PointWriter, EngineError> {
        let names = Manifest::file_names(opts.compression, opts.recipient.is_some());
        let open = |name: &str| -> Result<Box<dyn Finish>, EngineError> {
            let f = t
                .create(&partial.join(name))
                .map_err(|e| EngineError::io(format!("cannot create {name}"), e))?;
            stream::writer(f, opts).map_err(|e| EngineError::io(name, e))
        };
        let mut tar = tar::Builder::new(open(&names.0)?);
        tar.mode(tar::HeaderMode::Complete);
        let catalog = io::BufWriter::with_capacity(256 * 1024, open(&names.1)?);
        Ok(PointWriter {
            tar,
            catalog,
            names,
        })
    }

    pub fn catalog_line(&mut self, e: &Entry) -> Result<(), EngineError> {
        serde_json::to_writer(&mut self.catalog, e)
            .map_err(|err| EngineError::io("writing the catalog", io::Error::other(err)))?;
        self.catalog
            .write_all(b"\n")
            .map_err(|err| EngineError::io("writing the catalog", err))
    }

    /// Finishes and syncs both files; returns them as the manifest lists them.
    pub fn finish(self) -> Result<BTreeMap<String, FileInfo>, EngineError> {
        let data = self
            .tar
            .into_inner()
            .and_then(|w| w.finish())
            .map_err(|e| EngineError::io("finishing the archive", e))?;
        let cat = self
            .catalog
            .into_inner()
            .map_err(|e| EngineError::io("finishing the catalog", e.into_error()))?
            .finish()
            .map_err(|e| EngineError::io("finishing the catalog", e))?;
        let (data_name, cat_name) = self.names;
        let info = |s: stream::FileStats| FileInfo {
            size: s.size,
            blake3: s.blake3,
        };
        Ok(BTreeMap::from([
            (data_name, info(data)),
            (cat_name, info(cat)),
        ]))
    }
}
