//! Rotation: keep `rotation` restore points. The oldest point goes; when incrementals depend on
//! it, it is merged with its first incremental into a new full point instead, so no chain is
//! ever cut. Planning is pure and table-tested; `apply` does the I/O under the job lock.

use super::archive::{append_entry, seek, PointWriter};
use super::catalog::{catalog_reader, stepped};
use super::content_check::ContentCheck;
use super::delta;
use super::repo::{self, Manifest, Point};
use super::stream::{self, WriteOptions};
use super::target::Target;
use super::trust::AuthKey;
use super::verify::verify_point;
use super::{CancelToken, EngineError};
use std::path::Path;

/// Checks what a merge copies against its catalog line, and hashes a file that is not split
/// into parts but has no hash yet, so the merged point has it.
struct Checking<'a> {
    inner: &'a mut dyn std::io::Read,
    check: ContentCheck,
    hasher: Option<blake3::Hasher>,
}

impl std::io::Read for Checking<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.check.update(&buf[..n]);
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Delete the point with this id.
    Delete(String),
    /// Merge the full point with its first incremental (ids: full, incremental).
    Merge(String, String),
}

/// The next step for points `(id, is_full, parent)` oldest first, or `None` when at most
/// `keep` remain.
pub fn next_step(points: &[(String, bool, Option<String>)], keep: usize) -> Option<Step> {
    if points.len() <= keep.max(1) {
        return None;
    }
    let (id, full, _) = &points[0];
    if !*full {
        // An incremental without its full can never be restored.
        return Some(Step::Delete(id.clone()));
    }
    match points.get(1) {
        Some((next, false, Some(parent))) if parent == id => {
            Some(Step::Merge(id.clone(), next.clone()))
        }
        _ => Some(Step::Delete(id.clone())),
    }
}

pub fn apply(
    t: &dyn Target,
    job_dir: &Path,
    keep: u32,
    identity: Option<&age::x25519::Identity>,
    key: &AuthKey,
    cancel: &CancelToken,
) -> Result<(Vec<String>, Vec<repo::Point>), EngineError> {
    let mut notes = Vec::new();
    loop {
        // Only authenticated points count and are touched: what this job did not write is
        // never merged or deleted.
        let points = repo::points(t, job_dir, key);
        let summary: Vec<_> = points
            .iter()
            .map(|p| {
                (
                    p.manifest.id.clone(),
                    p.manifest.is_full(),
                    p.manifest.parent.clone(),
                )
            })
            .collect();
        let Some(step) = next_step(&summary, keep as usize) else {
            return Ok((notes, points));
        };
        let find = |id: &str| {
            points
                .iter()
                .find(|p| p.manifest.id == id)
                .expect("planned from this list")
                .clone()
        };
        match step {
            Step::Delete(id) => {
                repo::delete(t, &find(&id), job_dir)?;
                notes.push(format!("rotation removed {id}"));
            }
            Step::Merge(full, incr) => {
                let (f, i) = (find(&full), find(&incr));
                for p in [&f, &i] {
                    if let Err(e) = verify_point(t, p, identity, cancel) {
                        return Err(EngineError::Corrupt(format!(
                            "{} fails verification, so it is not merged: {e}",
                            p.manifest.id
                        )));
                    }
                }
                merge(t, job_dir, &f, &i, identity, key)?;
                repo::delete(t, &f, job_dir)?;
                notes.push(format!(
                    "rotation merged {full} into {incr}, which is now a full point"
                ));
            }
        }
    }
}

/// Writes the full point as of `incr` (every entry of its catalog, content from whichever of the
/// two archives holds it) and swaps it in under `incr`'s id.
fn merge(
    t: &dyn Target,
    job_dir: &Path,
    full: &Point,
    incr: &Point,
    identity: Option<&age::x25519::Identity>,
    key: &AuthKey,
) -> Result<(), EngineError> {
    let m = &incr.manifest;
    let partial = repo::new_partial(t, job_dir)?;
    let result = (|| -> Result<Manifest, EngineError> {
        let recipient = identity.map(|i| i.to_public());
        if m.encryption && recipient.is_none() {
            return Err(EngineError::KeyNeeded(
                m.recipient.clone().unwrap_or_default(),
            ));
        }
        let opts = WriteOptions {
            compression: m.compression,
            level: 3,
            recipient: recipient.as_ref().filter(|_| m.encryption),
            bytes_per_sec: None,
            cancel: super::CancelToken::new(), // merges are not throttled
        };
        let mut out = PointWriter::create(t, &partial, &opts)?;
        let open = |p: &Point| -> Result<tar::Archive<Box<dyn std::io::Read + Send>>, EngineError> {
            let pm = &p.manifest;
            let f = t
                .open(&p.file(&pm.data_file()))
                .map_err(|e| EngineError::io(format!("archive of {}", pm.id), e))?;
            Ok(tar::Archive::new(stream::reader(
                f,
                pm.compression,
                identity,
                pm.encryption,
                None,
            )?))
        };
        let mut archives = [open(full)?, open(incr)?];
        let mut entries: Vec<_> = archives
            .iter_mut()
            .map(|a| a.entries().map(Iterator::peekable))
            .collect::<std::io::Result<_>>()
            .map_err(|e| EngineError::Corrupt(e.to_string()))?;
        let ids = [full.manifest.id.as_str(), m.id.as_str()];
        let mut older = [stepped(t, full, identity)?];
        let mut warnings = Vec::new();
        let (mut entries_n, mut bytes) = (0u64, 0u64);
        for e in catalog_reader(t, incr, identity)? {
            let mut e = e?;
            if e.k == super::entry::Kind::File {
                // Deltas are rebuilt: a merged point is a full one, with whole files.
                let mut rec =
                    delta::content(&mut older, &mut entries, &ids, &e, &tempfile::tempfile)?;
                let shown = String::from_utf8_lossy(e.path()).into_owned();
                let bad = |why: String| EngineError::Corrupt(format!("{}: {shown}: {why}", m.id));
                let mut checking = Checking {
                    inner: &mut rec,
                    check: ContentCheck::of(&e).map_err(bad)?,
                    hasher: (e.h.is_none() && e.parts.is_none()).then(blake3::Hasher::new),
                };
                e.delta = None;
                append_entry(&mut out.tar, &e, Some(&mut checking), &mut warnings)
                    .map_err(|err| EngineError::io("merge", err))?;
                let Checking { check, hasher, .. } = checking;
                check.finish().map_err(bad)?;
                if let Some(h) = hasher {
                    e.h = Some(h.finalize().to_hex().to_string());
                }
            } else {
                let (i, id) = if e.w {
                    (1, &m.id)
                } else {
                    (0, &full.manifest.id)
                };
                seek(&mut entries[i], e.path(), id)?.ok_or_else(|| {
                    EngineError::Corrupt(format!(
                        "{id}: the archive lacks {}",
                        String::from_utf8_lossy(e.path())
                    ))
                })?;
                append_entry(&mut out.tar, &e, None, &mut warnings)
                    .map_err(|err| EngineError::io("merge", err))?;
            }
            e.w = true;
            entries_n += 1;
            bytes += e.size;
            out.catalog_line(&e)?;
        }
        drop(entries);
        let files = out.finish()?;
        let mut merged = Manifest {
            format: repo::FORMAT,
            kind: "full".into(),
            parent: None,
            entries: entries_n,
            archived: entries_n,
            source_bytes: bytes,
            archived_bytes: bytes,
            files,
            ..m.clone()
        };
        repo::place(t, job_dir, &partial, &mut merged);
        merged.sign(key);
        Ok(merged)
    })();
    match result {
        Ok(manifest) => repo::replace(t, &partial, job_dir, &manifest, &incr.manifest),
        Err(e) => {
            let _ = t.remove_dir_all(&partial);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(id: &str, full: bool, parent: Option<&str>) -> (String, bool, Option<String>) {
        (id.into(), full, parent.map(String::from))
    }

    #[test]
    fn retention_table() {
        let fulls = vec![
            p("1", true, None),
            p("2", true, None),
            p("3", true, None),
            p("4", true, None),
        ];
        assert_eq!(next_step(&fulls, 3), Some(Step::Delete("1".into())));
        assert_eq!(next_step(&fulls, 4), None);
        let chain = vec![
            p("1", true, None),
            p("2", false, Some("1")),
            p("3", false, Some("2")),
            p("4", false, Some("3")),
        ];
        assert_eq!(
            next_step(&chain, 3),
            Some(Step::Merge("1".into(), "2".into()))
        );
        assert_eq!(
            next_step(&chain, 1),
            Some(Step::Merge("1".into(), "2".into()))
        );
        let orphan = vec![p("2", false, Some("1")), p("3", true, None)];
        assert_eq!(next_step(&orphan, 1), Some(Step::Delete("2".into())));
        // Rotation 0 is treated as 1: the newest point always stays.
        assert_eq!(next_step(&[p("1", true, None)], 0), None);
    }
}
