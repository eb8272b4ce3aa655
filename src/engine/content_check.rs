//! Checks a regular file's content against its catalog line as the content streams past. A
//! file below [`super::delta::PARTED_MIN`] is checked against `h`, the BLAKE3 of the whole file.
//! A file split into parts (format 3) has no `h`: the BLAKE3 of each part, in order and with
//! its length, covers every byte as well, and hashing the file a second time as a whole cost a
//! full backup more than splitting it did. A line with both is checked against both.

use super::delta::{decode_parts, Part};
use super::entry::Entry;
use std::io;

pub struct ContentCheck {
    whole: Option<(blake3::Hasher, String)>,
    parts: Vec<Part>,
    /// The part being hashed, and how many of its bytes are still to come.
    next: usize,
    left: u64,
    part: blake3::Hasher,
    /// The first mismatch seen; reported by `finish`.
    bad: Option<String>,
}

impl ContentCheck {
    /// The check of `e`'s content; a part list that does not decode is an error.
    pub fn of(e: &Entry) -> Result<ContentCheck, String> {
        ContentCheck::new(e.h.as_deref(), e.parts.as_deref())
    }

    /// The check against a whole-file hash and an encoded part list, each optional.
    pub fn new(h: Option<&str>, parts: Option<&str>) -> Result<ContentCheck, String> {
        let parts = parts.map(decode_parts).transpose()?.unwrap_or_default();
        Ok(ContentCheck {
            whole: h.map(|h| (blake3::Hasher::new(), h.to_owned())),
            left: parts.first().map_or(0, |p| u64::from(p.len)),
            parts,
            next: 0,
            part: blake3::Hasher::new(),
            bad: None,
        })
    }

    pub fn update(&mut self, mut data: &[u8]) {
        if let Some((hasher, _)) = &mut self.whole {
            hasher.update(data);
        }
        if self.parts.is_empty() || self.bad.is_some() {
            return;
        }
        while !data.is_empty() {
            let Some(want) = self.parts.get(self.next) else {
                self.bad = Some("the content is longer than its parts".into());
                return;
            };
            let n = data.len().min(self.left as usize);
            self.part.update(&data[..n]);
            data = &data[n..];
            self.left -= n as u64;
            if self.left == 0 {
                if *self.part.finalize().as_bytes() != want.hash {
                    self.bad = Some(format!(
                        "part {} of the content does not match its hash in the catalog",
                        self.next + 1
                    ));
                    return;
                }
                self.part.reset();
                self.next += 1;
                self.left = self.parts.get(self.next).map_or(0, |p| u64::from(p.len));
            }
        }
    }

    /// Whether everything seen is the content the catalog line describes.
    pub fn finish(self) -> Result<(), String> {
        if let Some(bad) = self.bad {
            return Err(bad);
        }
        if self.next < self.parts.len() {
            return Err("the content ends before its last part".into());
        }
        match self.whole {
            Some((hasher, want)) if hasher.finalize().to_hex().as_str() != want => {
                Err("the content does not match its hash in the catalog".into())
            }
            _ => Ok(()),
        }
    }
}

/// Lets `io::copy` feed the check.
impl io::Write for ContentCheck {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::delta::encode_parts;

    fn parts_of(data: &[u8], lens: &[usize]) -> String {
        let mut at = 0;
        let parts: Vec<Part> = lens
            .iter()
            .map(|&n| {
                let p = Part {
                    len: n as u32,
                    hash: *blake3::hash(&data[at..at + n]).as_bytes(),
                };
                at += n;
                p
            })
            .collect();
        encode_parts(&parts)
    }

    fn check(h: Option<&str>, parts: Option<&str>, data: &[u8], step: usize) -> Result<(), String> {
        let mut c = ContentCheck::new(h, parts)?;
        for piece in data.chunks(step) {
            c.update(piece);
        }
        c.finish()
    }

    #[test]
    fn parts_check_every_byte_in_any_read_size() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let parts = parts_of(&data, &[3000, 4000, 3000]);
        for step in [1, 7, 3000, 4096, 10_000] {
            assert_eq!(check(None, Some(&parts), &data, step), Ok(()));
        }
        for at in [0, 2999, 3000, 6999, 9999] {
            let mut bad = data.clone();
            bad[at] ^= 1;
            assert!(check(None, Some(&parts), &bad, 4096).is_err(), "byte {at}");
        }
        assert!(check(None, Some(&parts), &data[..9999], 4096).is_err());
        let mut longer = data.clone();
        longer.push(0);
        assert!(check(None, Some(&parts), &longer, 4096).is_err());
        // The right parts in another order are not the content.
        let swapped = [&data[3000..7000], &data[..3000], &data[7000..]].concat();
        assert!(check(None, Some(&parts), &swapped, 4096).is_err());
    }

    #[test]
    fn a_whole_hash_is_checked_alone_or_with_parts() {
        let data = vec![5u8; 5000];
        let h = blake3::hash(&data).to_hex().to_string();
        let parts = parts_of(&data, &[5000]);
        assert_eq!(check(Some(&h), None, &data, 100), Ok(()));
        assert_eq!(check(Some(&h), Some(&parts), &data, 100), Ok(()));
        assert!(check(Some(&h), None, &data[..4999], 100).is_err());
        let wrong = blake3::hash(b"other").to_hex().to_string();
        assert!(check(Some(&wrong), Some(&parts), &data, 100).is_err());
        assert_eq!(check(None, None, b"anything", 3), Ok(()));
        assert!(ContentCheck::new(None, Some("not base64!")).is_err());
    }
}
