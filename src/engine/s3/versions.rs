//! The versions a versioned bucket keeps (every bucket with Object Lock is one). There a delete
//! (rotation, merges, garbage collection) only hides an object behind a delete marker, so the
//! space of every deleted point would stay taken for good: once no retention holds them, the
//! earlier versions are deleted by version id. Current versions are never touched.

use super::store::{S3Error, S3Store};
use chrono::{DateTime, Utc};
use percent_encoding::utf8_percent_encode;
use serde::Deserialize;
use std::collections::BTreeMap;

/// One version of an object, or a delete marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// The key below the repository's prefix.
    pub name: String,
    pub id: String,
    pub latest: bool,
    pub marker: bool,
    pub modified: DateTime<Utc>,
    pub size: u64,
}

/// A page of `ListObjectVersions` (`ListVersionsResult`).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Page {
    #[serde(default)]
    is_truncated: bool,
    next_key_marker: Option<String>,
    next_version_id_marker: Option<String>,
    #[serde(default, rename = "Version")]
    versions: Vec<Entry>,
    #[serde(default, rename = "DeleteMarker")]
    markers: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    key: String,
    version_id: String,
    is_latest: bool,
    last_modified: DateTime<Utc>,
    #[serde(default)]
    size: u64,
}

/// What [`S3Store::reclaim_versions`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reclaimed {
    /// Versions and delete markers deleted, and the bytes of those versions.
    pub deleted: usize,
    pub bytes: u64,
    /// Versions due that the store still keeps under retention (tried again next time).
    pub retained: usize,
}

impl S3Store {
    /// Every version and delete marker below `dir` (below the prefix), at any depth.
    pub fn versions(&self, dir: &str) -> Result<Vec<Version>, S3Error> {
        let base = match self.location.prefix.as_str() {
            "" => String::new(),
            p => format!("{p}/"),
        };
        let prefix = match dir.trim_matches('/') {
            "" => base.clone(),
            d => format!("{base}{d}/"),
        };
        let value = |v: &str| utf8_percent_encode(v, super::signed::VALUE).to_string();
        let mut out = Vec::new();
        let mut from: Option<(String, String)> = None;
        loop {
            let mut query = format!("prefix={}&versions=", value(&prefix));
            if let Some((key, id)) = &from {
                query += &format!("&key-marker={}&version-id-marker={}", value(key), value(id));
            }
            let a = self.send(http::Method::GET, &self.bucket_url(&query), &[], Vec::new())?;
            if !(200..=299).contains(&a.status) {
                return Err(a.error(&format!("listing the versions below {dir}")));
            }
            let page: Page = quick_xml::de::from_str(&a.body).map_err(|e| {
                S3Error::Other(format!("the store's version listing is unreadable: {e}"))
            })?;
            let entries = page.versions.into_iter().map(|e| (e, false));
            for (e, marker) in entries.chain(page.markers.into_iter().map(|e| (e, true))) {
                if let Some(name) = e.key.strip_prefix(&base) {
                    out.push(Version {
                        name: name.to_string(),
                        id: e.version_id,
                        latest: e.is_latest,
                        marker,
                        modified: e.last_modified,
                        size: e.size,
                    });
                }
            }
            if !page.is_truncated {
                return Ok(out);
            }
            match (page.next_key_marker, page.next_version_id_marker) {
                (Some(key), Some(id)) if from.as_ref() != Some(&(key.clone(), id.clone())) => {
                    from = Some((key, id))
                }
                _ => {
                    return Err(S3Error::Other(
                        "the store's version listing is cut short without saying where it goes on"
                            .into(),
                    ))
                }
            }
        }
    }

    /// Deletes for good the earlier versions below `dir` that `due` accepts, then the delete
    /// markers that hide nothing any more. Current versions are never touched; a version the
    /// store still retains is counted and left.
    pub fn reclaim_versions(
        &self,
        dir: &str,
        due: impl Fn(&Version) -> bool,
    ) -> Result<Reclaimed, S3Error> {
        let mut by_key: BTreeMap<String, Vec<Version>> = BTreeMap::new();
        for v in self.versions(dir)? {
            by_key.entry(v.name.clone()).or_default().push(v);
        }
        let mut done = Reclaimed::default();
        for (name, versions) in by_key {
            let mut left = 0;
            for v in versions.iter().filter(|v| !v.latest) {
                if !due(v) {
                    left += 1;
                } else if self.delete_version(&name, &v.id)? {
                    done.deleted += 1;
                    done.bytes += v.size;
                } else {
                    done.retained += 1;
                    left += 1;
                }
            }
            let hiding = versions.iter().find(|v| v.latest && v.marker);
            if let Some(m) = hiding.filter(|_| left == 0) {
                if self.delete_version(&name, &m.id)? {
                    done.deleted += 1;
                }
            }
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_page_reads_versions_and_markers_interleaved() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>b</Name><Prefix>site/</Prefix><IsTruncated>true</IsTruncated>
  <NextKeyMarker>site/j/b</NextKeyMarker><NextVersionIdMarker>v3</NextVersionIdMarker>
  <Version><Key>site/j/a</Key><VersionId>v1</VersionId><IsLatest>false</IsLatest>
    <LastModified>2026-11-30T05:00:00.000Z</LastModified><ETag>"x"</ETag><Size>12</Size></Version>
  <DeleteMarker><Key>site/j/a</Key><VersionId>v2</VersionId><IsLatest>true</IsLatest>
    <LastModified>2026-11-30T06:00:00Z</LastModified></DeleteMarker>
  <Version><Key>site/j/b</Key><VersionId>v3</VersionId><IsLatest>true</IsLatest>
    <LastModified>2026-11-30T07:00:00Z</LastModified><Size>5</Size></Version>
</ListVersionsResult>"#;
        let page: Page = quick_xml::de::from_str(xml).unwrap();
        assert!(page.is_truncated);
        assert_eq!(page.next_key_marker.as_deref(), Some("site/j/b"));
        assert_eq!(page.next_version_id_marker.as_deref(), Some("v3"));
        let ids: Vec<_> = page
            .versions
            .iter()
            .map(|e| e.version_id.as_str())
            .collect();
        assert_eq!(ids, ["v1", "v3"]);
        assert_eq!(page.markers.len(), 1);
        assert!(page.markers[0].is_latest && !page.versions[0].is_latest);
        assert_eq!((page.versions[0].size, page.markers[0].size), (12, 0));
        assert_eq!(
            page.versions[1].last_modified.to_rfc3339(),
            "2026-11-30T07:00:00+00:00"
        );
    }
}
