//! A blocking client for one bucket: `object_store`'s S3 implementation (SigV4 on `ring`, no C
//! toolchain) driven by a small tokio runtime of its own, since the engine's repository code is
//! blocking. Call it from a blocking thread, never from inside an async task.

use super::{S3Endpoint, S3Keys, S3Location};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as Key;
use object_store::{
    ClientOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig,
    UpdateVersion, WriteMultipart,
};
use std::time::Duration;

/// What a request to the store came to, beyond success or a failed condition.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    /// 401 or 403: the keys (or their rights) were refused.
    #[error("the store refused the keys: {0}")]
    Denied(String),
    #[error("the bucket does not exist: {0}")]
    NoBucket(String),
    #[error("{0}")]
    Other(String),
}

impl From<object_store::Error> for S3Error {
    fn from(e: object_store::Error) -> S3Error {
        // The causes too: the top error alone can be as vague as "HTTP error".
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            let more = s.to_string();
            if !text.contains(&more) {
                text = format!("{text}: {more}");
            }
            source = s.source();
        }
        // Listings report the status only in the text ("non-2xx status code: 403 Forbidden"),
        // with the S3 error code in the body.
        let denied = ["401 Unauthorized", "403 Forbidden", "SignatureDoesNotMatch"]
            .iter()
            .chain(&["InvalidAccessKeyId", "AccessDenied"])
            .any(|code| text.contains(code));
        match e {
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => S3Error::Denied(text),
            _ if text.contains("NoSuchBucket") => S3Error::NoBucket(text),
            _ if denied => S3Error::Denied(text),
            _ => S3Error::Other(text),
        }
    }
}

/// How a write treats an object already at the key.
pub enum Put<'a> {
    /// Replaces it.
    Overwrite,
    /// Only when there is none (`If-None-Match: *`).
    Create,
    /// Only when its ETag is this one (`If-Match`).
    IfMatch(&'a str),
}

/// S3's smallest part but the last.
const MIN_PART: usize = 5 << 20;
/// Parts uploading at once per writer.
const IN_FLIGHT: usize = 4;

/// A streamed upload (see [`S3Store::writer`]).
pub struct S3Writer<'a> {
    store: &'a S3Store,
    /// `None` once finished or aborted.
    upload: Option<WriteMultipart>,
}

impl S3Writer<'_> {
    /// Completes the upload: the object now exists. Its ETag.
    pub fn finish(mut self) -> Result<String, S3Error> {
        let upload = self.upload.take().expect("not finished twice");
        let r = self.store.rt.block_on(upload.finish())?;
        Ok(r.e_tag.unwrap_or_default())
    }
}

impl std::io::Write for S3Writer<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let upload = self
            .upload
            .as_mut()
            .ok_or_else(|| std::io::Error::other("the upload is finished"))?;
        // Back-pressure first, then buffer: a full part starts uploading at once, as a task
        // of this writer's runtime, driven by the next wait.
        self.store
            .rt
            .block_on(upload.wait_for_capacity(IN_FLIGHT))
            .map_err(|e| std::io::Error::other(S3Error::from(e).to_string()))?;
        let _in_runtime = self.store.rt.enter();
        upload.write(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for S3Writer<'_> {
    fn drop(&mut self) {
        if let Some(upload) = self.upload.take() {
            let _ = self.store.rt.block_on(upload.abort());
        }
    }
}

/// An object as read: its content, ETag and the store's time of its last write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub data: Vec<u8>,
    pub etag: Option<String>,
    pub modified: chrono::DateTime<chrono::Utc>,
}

pub struct S3Store {
    store: AmazonS3,
    rt: tokio::runtime::Runtime,
    pub location: S3Location,
    pub endpoint: S3Endpoint,
}

impl S3Store {
    /// A client for `location` at `endpoint`. Nothing is sent yet: [`super::preflight`] proves
    /// the store.
    pub fn new(
        location: S3Location,
        endpoint: S3Endpoint,
        keys: &S3Keys,
    ) -> Result<S3Store, String> {
        // reqwest is built without a default TLS provider; ring is the one the daemon already
        // uses. Installing fails harmlessly when another part of the process did it first.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let store = AmazonS3Builder::new()
            .with_bucket_name(&location.bucket)
            .with_region(&endpoint.region)
            .with_endpoint(&endpoint.url)
            .with_virtual_hosted_style_request(!endpoint.path_style)
            .with_access_key_id(&keys.access_key)
            .with_secret_access_key(&keys.secret_key)
            .with_client_options(
                // Client options replace the builder's own, `allow_http` included.
                ClientOptions::new()
                    .with_allow_http(endpoint.url.starts_with("http://"))
                    .with_connect_timeout(Duration::from_secs(10))
                    .with_timeout(Duration::from_secs(120)),
            )
            // A few quick retries for a store that blips; a dead one fails within seconds,
            // not the crate's three minutes.
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(30),
                ..RetryConfig::default()
            })
            .build()
            .map_err(|e| format!("S3 client for {location}: {e}"))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("S3 client runtime: {e}"))?;
        Ok(S3Store {
            store,
            rt,
            location,
            endpoint,
        })
    }

    fn key(&self, name: &str) -> Result<Key, S3Error> {
        Key::parse(self.location.key(name)).map_err(|e| S3Error::Other(format!("key {name}: {e}")))
    }

    /// Writes `data` at `name` (below the prefix). `Ok(Some(etag))` when written, `Ok(None)`
    /// when the condition did not hold.
    pub fn put(&self, name: &str, data: Vec<u8>, mode: Put<'_>) -> Result<Option<String>, S3Error> {
        let key = self.key(name)?;
        let mode = match mode {
            Put::Overwrite => PutMode::Overwrite,
            Put::Create => PutMode::Create,
            Put::IfMatch(etag) => PutMode::Update(UpdateVersion {
                e_tag: Some(etag.to_string()),
                version: None,
            }),
        };
        let opts = PutOptions {
            mode,
            ..PutOptions::default()
        };
        match self
            .rt
            .block_on(self.store.put_opts(&key, PutPayload::from(data), opts))
        {
            Ok(r) => Ok(Some(r.e_tag.unwrap_or_default())),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The object at `name`; `None` when there is none.
    pub fn get(&self, name: &str) -> Result<Option<Object>, S3Error> {
        let key = self.key(name)?;
        self.rt.block_on(async {
            match self.store.get(&key).await {
                Ok(r) => {
                    let (etag, modified) = (r.meta.e_tag.clone(), r.meta.last_modified);
                    Ok(Some(Object {
                        data: r.bytes().await?.to_vec(),
                        etag,
                        modified,
                    }))
                }
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e.into()),
            }
        })
    }

    /// A streamed upload to `name`: multipart in parts of `part_size` bytes, at most four in
    /// flight, so memory stays about five parts whatever the object's size. The object appears
    /// only when [`S3Writer::finish`] completes the upload; a writer dropped before that aborts
    /// it, so a failed run leaves no half object (a crash can; the repository's GC aborts
    /// those).
    pub fn writer(&self, name: &str, part_size: usize) -> Result<S3Writer<'_>, S3Error> {
        let key = self.key(name)?;
        let upload = self.rt.block_on(self.store.put_multipart(&key))?;
        Ok(S3Writer {
            store: self,
            upload: Some(WriteMultipart::new_with_chunk_size(
                upload,
                part_size.max(MIN_PART),
            )),
        })
    }

    /// Removes `name`; nothing there is not an error.
    pub fn delete(&self, name: &str) -> Result<(), S3Error> {
        let key = self.key(name)?;
        match self.rt.block_on(self.store.delete(&key)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The names directly below `dir` (below the prefix): objects and common prefixes.
    pub fn list(&self, dir: &str) -> Result<Vec<String>, S3Error> {
        let full = match dir.trim_end_matches('/') {
            "" => self.location.prefix.clone(),
            dir => self.location.key(dir),
        };
        let key = (!full.is_empty())
            .then(|| Key::parse(&full))
            .transpose()
            .map_err(|e| S3Error::Other(format!("key {full}: {e}")))?;
        let r = self
            .rt
            .block_on(self.store.list_with_delimiter(key.as_ref()))?;
        let base = key.map(|k| format!("{k}/")).unwrap_or_default();
        // Only what lies below `dir`: a filer-backed store (SeaweedFS) also lists the emptied
        // "directory" itself.
        Ok(r.common_prefixes
            .iter()
            .chain(r.objects.iter().map(|o| &o.location))
            .filter_map(|k| k.as_ref().strip_prefix(&base))
            .filter(|name| !name.is_empty())
            .map(str::to_string)
            .collect())
    }
}
