//! A blocking client for one bucket: `object_store`'s S3 implementation (SigV4 on `ring`, no C
//! toolchain) driven by a small tokio runtime of its own, since the engine's repository code is
//! blocking. Call it from a blocking thread, never from inside an async task.

use super::signed::Written;
use super::{S3Endpoint, S3Keys, S3Location};
use futures_util::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder, AwsCredential};
use object_store::client::{HttpClient, HttpConnector, ReqwestConnector};
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path as Key;
use object_store::{
    ClientOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig,
    UpdateVersion,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

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
const IN_FLIGHT: usize = 3;

/// A multipart upload in progress.
struct Upload {
    id: String,
    /// Uploads under way, each answering its part number and id.
    running: JoinSet<Result<(usize, PartId), object_store::Error>>,
    done: Vec<Option<PartId>>,
}

/// A streamed upload (see [`S3Store::writer`]).
pub struct S3Writer {
    store: Arc<S3Store>,
    key: Key,
    part_size: usize,
    buf: Vec<u8>,
    /// Started at the first full part: a small object is one plain PUT.
    upload: Option<Upload>,
    /// Where the upload's id is recorded before any part is sent, so that whoever finds it
    /// after a crash can abort the upload.
    intent: Option<String>,
    finished: bool,
}

/// What an intent object records.
#[derive(serde::Serialize, serde::Deserialize)]
struct Intent {
    key: String,
    upload_id: String,
}

impl S3Writer {
    /// Completes the upload: the object now exists. Its ETag and version.
    pub fn finish(mut self) -> Result<Written, S3Error> {
        let store = self.store.clone();
        let written = match self.upload.is_some() {
            false => {
                let data = std::mem::take(&mut self.buf);
                store.rt().block_on(store.s3.put(&self.key, data.into()))?
            }
            true => {
                let last = std::mem::take(&mut self.buf);
                if !last.is_empty() {
                    self.send_part(last)?;
                }
                let mut up = self.upload.take().expect("started");
                let result = store.rt().block_on(async {
                    while let Some(r) = up.running.join_next().await {
                        let (n, part) = r.map_err(|e| S3Error::Other(e.to_string()))??;
                        up.done[n] = Some(part);
                    }
                    let parts = up
                        .done
                        .iter_mut()
                        .map(|p| p.take().expect("sent"))
                        .collect();
                    Ok::<_, S3Error>(
                        store
                            .s3
                            .complete_multipart(&self.key, &up.id, parts)
                            .await?,
                    )
                });
                match result {
                    Ok(r) => r,
                    Err(e) => {
                        self.upload = Some(up);
                        return Err(e);
                    }
                }
            }
        };
        self.finished = true;
        if let Some(intent) = &self.intent {
            let _ = store.delete(intent);
        }
        Ok(Written {
            etag: written.e_tag.unwrap_or_default(),
            version: written.version,
        })
    }

    fn start(&mut self) -> Result<(), S3Error> {
        let store = self.store.clone();
        let id = store.rt().block_on(store.s3.create_multipart(&self.key))?;
        if let Some(intent) = &self.intent {
            let body = Intent {
                key: self.key.to_string(),
                upload_id: id.clone(),
            };
            let json = serde_json::to_vec(&body).expect("serializable");
            if let Err(e) = store.put(intent, json, Put::Overwrite) {
                let _ = store
                    .rt()
                    .block_on(store.s3.abort_multipart(&self.key, &id));
                return Err(e);
            }
        }
        self.upload = Some(Upload {
            id,
            running: JoinSet::new(),
            done: Vec::new(),
        });
        Ok(())
    }

    /// Sends one part, after waiting for room among those in flight.
    fn send_part(&mut self, data: Vec<u8>) -> Result<(), S3Error> {
        if self.upload.is_none() {
            self.start()?;
        }
        let store = self.store.clone();
        let up = self.upload.as_mut().expect("started");
        while up.running.len() >= IN_FLIGHT {
            let r = store
                .rt()
                .block_on(up.running.join_next())
                .expect("running");
            let (n, part) = r.map_err(|e| S3Error::Other(e.to_string()))??;
            up.done[n] = Some(part);
        }
        let n = up.done.len();
        up.done.push(None);
        let (s3, key, id) = (store.s3.clone(), self.key.clone(), up.id.clone());
        up.running.spawn_on(
            async move {
                let part = s3.put_part(&key, &id, n, data.into()).await?;
                Ok((n, part))
            },
            store.rt().handle(),
        );
        Ok(())
    }
}

impl std::io::Write for S3Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.finished {
            return Err(std::io::Error::other("the upload is finished"));
        }
        // Parts are filled to exactly their size in buffers of exactly that size, so memory is
        // the parts in flight and one being filled, never a doubled vector.
        let mut rest = buf;
        while !rest.is_empty() {
            if self.buf.capacity() < self.part_size {
                self.buf.reserve_exact(self.part_size - self.buf.len());
            }
            let n = rest.len().min(self.part_size - self.buf.len());
            self.buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if self.buf.len() == self.part_size {
                let part = std::mem::take(&mut self.buf);
                self.send_part(part)
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for S3Writer {
    fn drop(&mut self) {
        if let Some(mut up) = self.upload.take() {
            let store = &self.store;
            store.rt().block_on(async {
                up.running.shutdown().await;
                let _ = store.s3.abort_multipart(&self.key, &up.id).await;
            });
            if let Some(intent) = &self.intent {
                let _ = store.delete(intent);
            }
        }
    }
}

/// A streamed download (see [`S3Store::reader`]): a task of the store's runtime reads ahead
/// into a bounded queue while the caller consumes.
pub struct S3Reader {
    queue: tokio::sync::mpsc::Receiver<Result<bytes::Bytes, String>>,
    current: bytes::Bytes,
    pump: tokio::task::JoinHandle<()>,
}

impl std::io::Read for S3Reader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.queue.blocking_recv() {
                None => return Ok(0),
                Some(Ok(b)) => self.current = b,
                Some(Err(e)) => return Err(std::io::Error::other(e)),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

impl Drop for S3Reader {
    fn drop(&mut self) {
        self.pump.abort();
    }
}

/// One name below a listed directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub name: String,
    /// A common prefix (a "directory"), not an object.
    pub is_dir: bool,
}

/// An object as read: its content, ETag and the store's time of its last write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub data: Vec<u8>,
    pub etag: Option<String>,
    pub modified: chrono::DateTime<chrono::Utc>,
}

pub struct S3Store {
    s3: Arc<AmazonS3>,
    /// For the requests the crate has no call for (`signed.rs`), with the same options.
    pub(super) http: HttpClient,
    pub(super) credential: AwsCredential,
    /// Always `Some` until dropped (see `Drop`).
    runtime: Option<tokio::runtime::Runtime>,
    pub location: S3Location,
    pub endpoint: S3Endpoint,
}

impl Drop for S3Store {
    // A runtime dropped where blocking is not allowed (a handle released inside an async task)
    // panics; this never waits.
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("location", &self.location.to_string())
            .field("endpoint", &self.endpoint.url)
            .finish_non_exhaustive()
    }
}

impl S3Store {
    /// A client for `location` at `endpoint`. Nothing is sent yet: [`super::preflight`] proves
    /// the store.
    pub fn new(
        location: S3Location,
        endpoint: S3Endpoint,
        keys: &S3Keys,
    ) -> Result<Arc<S3Store>, String> {
        // reqwest is built without a default TLS provider; ring is the one the daemon already
        // uses. Installing fails harmlessly when another part of the process did it first.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // Client options replace the builder's own, `allow_http` included.
        let options = ClientOptions::new()
            .with_allow_http(endpoint.url.starts_with("http://"))
            .with_connect_timeout(Duration::from_secs(10))
            .with_timeout(Duration::from_secs(120));
        let http = ReqwestConnector::default()
            .connect(&options)
            .map_err(|e| format!("S3 client for {location}: {e}"))?;
        let store = AmazonS3Builder::new()
            .with_bucket_name(&location.bucket)
            .with_region(&endpoint.region)
            .with_endpoint(&endpoint.url)
            .with_virtual_hosted_style_request(!endpoint.path_style)
            // No SHA-256 of every body, on either side: TLS (or loopback) carries the data, and
            // the manifest's BLAKE3 of every file is what proves it.
            .with_unsigned_payload(true)
            .with_access_key_id(&keys.access_key)
            .with_secret_access_key(&keys.secret_key)
            .with_client_options(options)
            // A few quick retries for a store that blips; a dead one fails within seconds,
            // not the crate's three minutes.
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(30),
                ..RetryConfig::default()
            })
            .build()
            .map_err(|e| format!("S3 client for {location}: {e}"))?;
        // Two workers: parts upload and downloads read ahead while the engine compresses.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("zdm-s3")
            .enable_all()
            .build()
            .map_err(|e| format!("S3 client runtime: {e}"))?;
        Ok(Arc::new(S3Store {
            s3: Arc::new(store),
            http,
            credential: AwsCredential {
                key_id: keys.access_key.clone(),
                secret_key: keys.secret_key.clone(),
                token: None,
            },
            runtime: Some(rt),
            location,
            endpoint,
        }))
    }

    pub(super) fn rt(&self) -> &tokio::runtime::Runtime {
        self.runtime.as_ref().expect("until dropped")
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
            .rt()
            .block_on(self.s3.put_opts(&key, PutPayload::from(data), opts))
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
        self.rt().block_on(async {
            match self.s3.get(&key).await {
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

    /// The version id of the object at `name`: `None` when there is none, or the bucket is not
    /// versioned.
    pub fn version_of(&self, name: &str) -> Result<Option<String>, S3Error> {
        let key = self.key(name)?;
        match self.rt().block_on(self.s3.head(&key)) {
            Ok(meta) => Ok(meta.version),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// A streamed upload to `name`: multipart in parts of `part_size` bytes (at least 5 MiB),
    /// at most three in flight, so memory stays about four parts whatever the object's size.
    /// The object appears only when [`S3Writer::finish`] completes the upload; a writer
    /// dropped before that aborts it. With `intent`, the upload's id is written there before
    /// its first part, and removed when it completes or is aborted: what a crash leaves is
    /// found and aborted by [`S3Store::abort_recorded`].
    pub fn writer(
        self: &Arc<Self>,
        name: &str,
        part_size: usize,
        intent: Option<&str>,
    ) -> Result<S3Writer, S3Error> {
        Ok(S3Writer {
            store: self.clone(),
            key: self.key(name)?,
            part_size: part_size.max(MIN_PART),
            buf: Vec::new(),
            upload: None,
            intent: intent.map(str::to_string),
            finished: false,
        })
    }

    /// Aborts the upload to `object` recorded in the intent object `intent`, and removes the
    /// intent. An intent naming another object (written by someone else) aborts nothing.
    pub fn abort_recorded(&self, intent: &str, object: &str) -> Result<(), S3Error> {
        if let Some(o) = self.get(intent)? {
            let recorded = serde_json::from_slice::<Intent>(&o.data).ok();
            if let Some(i) = recorded.filter(|i| i.key == self.location.key(object)) {
                let key = Key::parse(&i.key).map_err(|e| S3Error::Other(e.to_string()))?;
                // Already completed or aborted: the store no longer knows the id.
                let _ = self
                    .rt()
                    .block_on(self.s3.abort_multipart(&key, &i.upload_id));
            }
        }
        self.delete(intent)
    }

    /// A streamed read of `name`; `None` when there is none.
    pub fn reader(&self, name: &str) -> Result<Option<S3Reader>, S3Error> {
        let key = self.key(name)?;
        let got = match self.rt().block_on(self.s3.get(&key)) {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let (tx, queue) = tokio::sync::mpsc::channel(32);
        let pump = self.rt().spawn(async move {
            let mut stream = got.into_stream();
            while let Some(item) = stream.next().await {
                let item = item.map_err(|e| S3Error::from(e).to_string());
                let failed = item.is_err();
                if tx.send(item).await.is_err() || failed {
                    break;
                }
            }
        });
        Ok(Some(S3Reader {
            queue,
            current: bytes::Bytes::new(),
            pump,
        }))
    }

    /// Every object key below `dir` (below the prefix), at any depth, relative to `dir`.
    pub fn list_all(&self, dir: &str) -> Result<Vec<String>, S3Error> {
        let full = self.location.key(dir.trim_end_matches('/'));
        let key = Key::parse(&full).map_err(|e| S3Error::Other(format!("key {full}: {e}")))?;
        let base = format!("{key}/");
        let metas: Vec<_> = self.rt().block_on(async {
            let mut out = Vec::new();
            let mut stream = self.s3.list(Some(&key));
            while let Some(m) = stream.next().await {
                out.push(m?.location.to_string());
            }
            Ok::<_, object_store::Error>(out)
        })?;
        Ok(metas
            .into_iter()
            .filter_map(|k| k.strip_prefix(&base).map(str::to_string))
            .filter(|k| !k.is_empty())
            .collect())
    }

    /// Removes `name`; nothing there is not an error.
    pub fn delete(&self, name: &str) -> Result<(), S3Error> {
        let key = self.key(name)?;
        match self.rt().block_on(self.s3.delete(&key)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The names directly below `dir` (below the prefix): objects and common prefixes.
    pub fn list(&self, dir: &str) -> Result<Vec<String>, S3Error> {
        Ok(self.entries(dir)?.into_iter().map(|e| e.name).collect())
    }

    /// What lies directly below `dir`, telling objects from common prefixes.
    pub fn entries(&self, dir: &str) -> Result<Vec<Listed>, S3Error> {
        let full = match dir.trim_end_matches('/') {
            "" => self.location.prefix.clone(),
            dir => self.location.key(dir),
        };
        let key = (!full.is_empty())
            .then(|| Key::parse(&full))
            .transpose()
            .map_err(|e| S3Error::Other(format!("key {full}: {e}")))?;
        let r = self
            .rt()
            .block_on(self.s3.list_with_delimiter(key.as_ref()))?;
        let base = key.map(|k| format!("{k}/")).unwrap_or_default();
        // Only what lies below `dir`: a filer-backed store (SeaweedFS) also lists the emptied
        // "directory" itself.
        let dirs = r.common_prefixes.iter().map(|k| (k, true));
        let objects = r.objects.iter().map(|o| (&o.location, false));
        Ok(dirs
            .chain(objects)
            .filter_map(|(k, is_dir)| Some((k.as_ref().strip_prefix(&base)?, is_dir)))
            .filter(|(name, _)| !name.is_empty())
            .map(|(name, is_dir)| Listed {
                name: name.to_string(),
                is_dir,
            })
            .collect())
    }
}
