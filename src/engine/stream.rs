//! Byte streams of a restore point's files: tar/JSON -> zstd -> age -> (rate limit, hash,
//! count) -> file, and back.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::time::{Duration, Instant};

/// Size and BLAKE3 hash of what reached the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStats {
    pub size: u64,
    pub blake3: String,
}

/// A writer that must be finished (flushing trailers, syncing the file).
pub trait Finish: Write + Send {
    fn finish(self: Box<Self>) -> io::Result<FileStats>;
}

/// Token bucket on bytes written (decision D9: MiB/s after compression and encryption); bursts
/// of at most one second's worth.
pub struct Throttle {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl Throttle {
    pub fn new(bytes_per_sec: u64) -> Self {
        Throttle {
            rate: bytes_per_sec as f64,
            tokens: bytes_per_sec as f64,
            last: Instant::now(),
        }
    }

    fn take(&mut self, n: usize) {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.rate);
        self.last = now;
        self.tokens -= n as f64;
        if self.tokens < 0.0 {
            std::thread::sleep(Duration::from_secs_f64(-self.tokens / self.rate));
        }
    }
}

struct HashFile {
    file: File,
    hasher: blake3::Hasher,
    size: u64,
    throttle: Option<Throttle>,
}

impl Write for HashFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let buf = match &self.throttle {
            // Write at most 64 KiB at a time so the bucket meters smoothly.
            Some(_) => &buf[..buf.len().min(64 * 1024)],
            None => buf,
        };
        let n = self.file.write(buf)?;
        if let Some(t) = &mut self.throttle {
            t.take(n);
        }
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Finish for HashFile {
    fn finish(mut self: Box<Self>) -> io::Result<FileStats> {
        self.file.flush()?;
        self.file.sync_all()?;
        Ok(FileStats {
            size: self.size,
            blake3: self.hasher.finalize().to_hex().to_string(),
        })
    }
}

struct AgeLayer(age::stream::StreamWriter<Box<dyn Finish>>);

impl Write for AgeLayer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl Finish for AgeLayer {
    fn finish(self: Box<Self>) -> io::Result<FileStats> {
        self.0.finish()?.finish()
    }
}

struct ZstdLayer(zstd::stream::write::Encoder<'static, Box<dyn Finish>>);

impl Write for ZstdLayer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl Finish for ZstdLayer {
    fn finish(self: Box<Self>) -> io::Result<FileStats> {
        self.0.finish()?.finish()
    }
}

pub struct WriteOptions<'a> {
    pub compression: bool,
    pub level: i32,
    pub recipient: Option<&'a age::x25519::Recipient>,
    pub bytes_per_sec: Option<u64>,
}

/// Opens the write stack over a new file.
pub fn writer(file: File, o: &WriteOptions) -> io::Result<Box<dyn Finish>> {
    let mut w: Box<dyn Finish> = Box::new(HashFile {
        file,
        hasher: blake3::Hasher::new(),
        size: 0,
        throttle: o.bytes_per_sec.map(Throttle::new),
    });
    if let Some(r) = o.recipient {
        let enc = age::Encryptor::with_recipients(std::iter::once(r as &dyn age::Recipient))
            .map_err(|e| io::Error::other(format!("age: {e}")))?;
        w = Box::new(AgeLayer(enc.wrap_output(w)?));
    }
    if o.compression {
        let mut z = zstd::stream::write::Encoder::new(w, o.level)?;
        // Frame checksums let a decoder notice damage even in unencrypted points.
        z.include_checksum(true)?;
        let threads = std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1);
        if threads > 1 {
            z.multithread(threads)?;
        }
        w = Box::new(ZstdLayer(z));
    }
    Ok(w)
}

pub type Shared = std::sync::Arc<std::sync::Mutex<(blake3::Hasher, u64)>>;

/// Reads the file back through the same layers. `digest` receives the hash of the raw file.
pub fn reader(
    file: File,
    compression: bool,
    identity: Option<&age::x25519::Identity>,
    encrypted: bool,
    digest: Option<Shared>,
) -> Result<Box<dyn Read + Send>, super::EngineError> {
    struct Tap<R> {
        inner: R,
        digest: Option<Shared>,
    }
    impl<R: Read> Read for Tap<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.inner.read(buf)?;
            if let Some(d) = &self.digest {
                let mut g = d.lock().unwrap_or_else(|e| e.into_inner());
                g.0.update(&buf[..n]);
                g.1 += n as u64;
            }
            Ok(n)
        }
    }
    let raw = BufReader::with_capacity(
        256 * 1024,
        Tap {
            inner: file,
            digest,
        },
    );
    let mut r: Box<dyn Read + Send> = Box::new(raw);
    if encrypted {
        let id = identity.ok_or(super::EngineError::KeyNeeded(String::new()))?;
        let dec = age::Decryptor::new_buffered(BufReader::new(r))
            .map_err(|e| super::EngineError::Corrupt(format!("age header: {e}")))?;
        let s = dec
            .decrypt(std::iter::once(id as &dyn age::Identity))
            .map_err(|e| match e {
                age::DecryptError::NoMatchingKeys => super::EngineError::KeyNeeded(String::new()),
                other => super::EngineError::Corrupt(format!("age: {other}")),
            })?;
        r = Box::new(s);
    }
    if compression {
        r = Box::new(zstd::stream::read::Decoder::new(r)?);
    }
    Ok(r)
}
