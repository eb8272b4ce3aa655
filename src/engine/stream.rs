//! Byte streams of a restore point's files: tar/JSON -> zstd -> age -> (rate limit, hash,
//! count) -> file, and back.

use super::target::RepoFile;
use super::CancelToken;
use std::io::{self, BufRead, BufReader, Read, Write};
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
    /// Waiting for tokens stops when the run is canceled: at a low limit the write-behind
    /// buffer alone would otherwise take seconds to drain.
    cancel: CancelToken,
}

impl Throttle {
    pub fn new(bytes_per_sec: u64, cancel: CancelToken) -> Self {
        Throttle {
            rate: bytes_per_sec as f64,
            tokens: bytes_per_sec as f64,
            last: Instant::now(),
            cancel,
        }
    }

    fn take(&mut self, n: usize) -> io::Result<()> {
        let now = Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.rate);
        self.last = now;
        self.tokens -= n as f64;
        if self.tokens < 0.0 {
            let until = now + Duration::from_secs_f64(-self.tokens / self.rate);
            while let Some(left) = until.checked_duration_since(Instant::now()) {
                if self.cancel.is_canceled() {
                    return Err(io::Error::other("the run was canceled"));
                }
                std::thread::sleep(left.min(Duration::from_millis(100)));
            }
        }
        Ok(())
    }
}

/// A reader limited to the throttle's rate (a recovery's `networkLimit`: what is read from the
/// repository).
pub struct Throttled<R> {
    inner: R,
    throttle: Throttle,
}

impl<R> Throttled<R> {
    pub fn new(inner: R, bytes_per_sec: u64, cancel: CancelToken) -> Self {
        Throttled {
            inner,
            throttle: Throttle::new(bytes_per_sec, cancel),
        }
    }
}

impl<R: Read> Read for Throttled<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len().min(64 * 1024);
        let n = self.inner.read(&mut buf[..len])?;
        self.throttle.take(n)?;
        Ok(n)
    }
}

/// How much is written between write-back hints to the target.
const WRITE_BACK_EVERY: u64 = 64 * 1024 * 1024;

struct HashFile {
    file: Box<dyn RepoFile>,
    hasher: blake3::Hasher,
    size: u64,
    throttle: Option<Throttle>,
    unflushed: u64,
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
            t.take(n)?;
        }
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        self.unflushed += n as u64;
        if self.unflushed >= WRITE_BACK_EVERY {
            self.file.write_back();
            self.unflushed = 0;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Finish for HashFile {
    fn finish(self: Box<Self>) -> io::Result<FileStats> {
        let HashFile {
            mut file,
            hasher,
            size,
            ..
        } = *self;
        file.flush()?;
        file.commit()?;
        Ok(FileStats {
            size,
            blake3: hasher.finalize().to_hex().to_string(),
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

/// Hands the compressed stream to a second thread that encrypts, hashes and writes it, so file
/// I/O and encryption overlap with reading the source and framing the archive (as in
/// `tar | zstd`, a two-stage pipeline).
struct WriteBehind {
    tx: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    buf: Vec<u8>,
    handle: Option<std::thread::JoinHandle<io::Result<FileStats>>>,
}

const CHUNK: usize = 1024 * 1024;

impl WriteBehind {
    fn new(mut inner: Box<dyn Finish>) -> io::Result<WriteBehind> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(8);
        let handle = std::thread::Builder::new()
            .name("zdm-write".into())
            .spawn(move || {
                for chunk in rx {
                    inner.write_all(&chunk)?;
                }
                inner.finish()
            })?;
        Ok(WriteBehind {
            tx: Some(tx),
            buf: Vec::with_capacity(CHUNK),
            handle: Some(handle),
        })
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        let sent = self
            .tx
            .as_ref()
            .map(|tx| tx.send(chunk).is_ok())
            .unwrap_or(false);
        if sent {
            Ok(())
        } else {
            // The writer thread stopped: its error explains why.
            Err(self
                .join()
                .err()
                .unwrap_or_else(|| io::Error::other("the writer thread stopped")))
        }
    }

    fn join(&mut self) -> io::Result<FileStats> {
        self.tx.take();
        match self.handle.take() {
            Some(h) => h
                .join()
                .map_err(|_| io::Error::other("the writer thread panicked"))?,
            None => Err(io::Error::other("the writer thread already finished")),
        }
    }
}

impl Write for WriteBehind {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(buf);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Finish for WriteBehind {
    fn finish(mut self: Box<Self>) -> io::Result<FileStats> {
        self.send()?;
        self.join()
    }
}

/// Buffers of consumed chunks, handed back to the thread that fills them: a fresh 1 MiB buffer
/// would be zeroed first, which costs the decoding thread a few percent.
#[derive(Clone, Default)]
struct Pool(std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>);

impl Pool {
    /// A buffer of CHUNK bytes (reused ones keep their old content; only growth is zeroed).
    fn take(&self) -> Vec<u8> {
        let mut b = self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_default();
        b.resize(CHUNK, 0);
        b
    }

    fn give(&self, b: Vec<u8>) {
        if b.capacity() >= CHUNK {
            let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
            if g.len() < 16 {
                g.push(b);
            }
        }
    }
}

/// A decoded chunk taken whole from a `ReadAhead`; its buffer goes back to it when dropped.
pub struct Chunk {
    buf: Vec<u8>,
    pool: Pool,
}

impl AsRef<[u8]> for Chunk {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl std::ops::Deref for Chunk {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        self.pool.give(std::mem::take(&mut self.buf));
    }
}

/// Decompresses (and decrypts) on a second thread, a chunk ahead of the consumer, so restores
/// and verifies use two cores as `zstd -d | tar -x` does.
pub struct ReadAhead {
    rx: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    cur: Vec<u8>,
    pos: usize,
    done: bool,
    pool: Pool,
}

impl ReadAhead {
    fn new(mut inner: Box<dyn Read + Send>) -> ReadAhead {
        let (tx, rx) = std::sync::mpsc::sync_channel(8);
        let pool = Pool::default();
        let filler = pool.clone();
        let spawned = std::thread::Builder::new()
            .name("zdm-read".into())
            .spawn(move || loop {
                let mut buf = filler.take();
                let mut n = 0;
                let r = loop {
                    match inner.read(&mut buf[n..]) {
                        Ok(0) => break Ok(()),
                        Ok(k) => {
                            n += k;
                            if n == buf.len() {
                                break Ok(());
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => break Err(e),
                    }
                };
                buf.truncate(n);
                let end = n == 0;
                let msg = match r {
                    Ok(()) => Ok(buf),
                    Err(e) => Err(e),
                };
                let failed = msg.is_err();
                if tx.send(msg).is_err() || end || failed {
                    return;
                }
            });
        let (tx_fail, rx_fail) = std::sync::mpsc::sync_channel(1);
        let rx = match spawned {
            Ok(_) => rx,
            Err(e) => {
                let _ = tx_fail.send(Err(e));
                rx_fail
            }
        };
        ReadAhead {
            rx,
            cur: Vec::new(),
            pos: 0,
            done: false,
            pool,
        }
    }

    /// The next chunk from the thread, the consumed one going back to the pool; false at the end.
    fn advance(&mut self) -> io::Result<bool> {
        self.pool.give(std::mem::take(&mut self.cur));
        self.pos = 0;
        while !self.done {
            match self.rx.recv() {
                Ok(Ok(chunk)) if chunk.is_empty() => self.done = true,
                Ok(Ok(chunk)) => {
                    self.cur = chunk;
                    return Ok(true);
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => self.done = true,
            }
        }
        Ok(false)
    }

    /// The next decoded chunk as it is, without a copy (what `read` has not taken of the current
    /// one, then whole chunks); `None` at the end.
    pub fn next_chunk(&mut self) -> io::Result<Option<Chunk>> {
        if self.pos == self.cur.len() && !self.advance()? {
            return Ok(None);
        }
        let mut buf = std::mem::take(&mut self.cur);
        buf.drain(..self.pos);
        self.pos = 0;
        Ok(Some(Chunk {
            buf,
            pool: self.pool.clone(),
        }))
    }
}

impl Read for ReadAhead {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let have = self.fill_buf()?;
            let n = out.len().min(have.len());
            out[..n].copy_from_slice(&have[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for ReadAhead {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.cur.len() && !self.advance()? {
            return Ok(&[]);
        }
        Ok(&self.cur[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.cur.len());
    }
}

pub struct WriteOptions<'a> {
    pub compression: bool,
    pub level: i32,
    pub recipient: Option<&'a age::x25519::Recipient>,
    pub bytes_per_sec: Option<u64>,
    pub cancel: CancelToken,
}

/// Opens the write stack over a new file.
pub fn writer(file: Box<dyn RepoFile>, o: &WriteOptions) -> io::Result<Box<dyn Finish>> {
    let mut w: Box<dyn Finish> = Box::new(HashFile {
        file,
        hasher: blake3::Hasher::new(),
        size: 0,
        throttle: o.bytes_per_sec.map(|b| Throttle::new(b, o.cancel.clone())),
        unflushed: 0,
    });
    if let Some(r) = o.recipient {
        let enc = age::Encryptor::with_recipients(std::iter::once(r as &dyn age::Recipient))
            .map_err(|e| io::Error::other(format!("age: {e}")))?;
        w = Box::new(AgeLayer(enc.wrap_output(w)?));
    }
    w = Box::new(WriteBehind::new(w)?);
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
    file: Box<dyn Read + Send>,
    compression: bool,
    identity: Option<&age::x25519::Identity>,
    encrypted: bool,
    digest: Option<Shared>,
) -> Result<Box<dyn Read + Send>, super::EngineError> {
    let raw = BufReader::with_capacity(
        256 * 1024,
        Tap {
            inner: file,
            digest,
        },
    );
    let decoded = layers(Box::new(raw), compression, identity, encrypted)?;
    Ok(Box::new(ReadAhead::new(decoded)))
}

/// `reader` for a consumer that takes the decoded chunks themselves (`ReadAhead::next_chunk`)
/// and has a core to spare: the file is also read and hashed on a thread of its own, so the
/// decoding thread does nothing else (a download then keeps pace with `zstd -dc`).
pub fn chunks(
    file: Box<dyn Read + Send>,
    compression: bool,
    identity: Option<&age::x25519::Identity>,
    encrypted: bool,
    digest: Option<Shared>,
) -> Result<ReadAhead, super::EngineError> {
    let raw = ReadAhead::new(Box::new(Tap {
        inner: file,
        digest,
    }));
    Ok(ReadAhead::new(layers(
        Box::new(raw),
        compression,
        identity,
        encrypted,
    )?))
}

/// Feeds what is read through `digest`.
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

/// Decryption and decompression over the raw file.
fn layers(
    raw: Box<dyn BufRead + Send>,
    compression: bool,
    identity: Option<&age::x25519::Identity>,
    encrypted: bool,
) -> Result<Box<dyn Read + Send>, super::EngineError> {
    if !encrypted {
        // The decoder reads the raw buffers in place (no buffer of its own to copy into).
        return Ok(if compression {
            Box::new(zstd::stream::read::Decoder::with_buffer(raw)?)
        } else {
            Box::new(raw)
        });
    }
    let id = identity.ok_or(super::EngineError::KeyNeeded(String::new()))?;
    let dec = age::Decryptor::new_buffered(raw)
        .map_err(|e| super::EngineError::Corrupt(format!("age header: {e}")))?;
    let mut r: Box<dyn Read + Send> = Box::new(
        dec.decrypt(std::iter::once(id as &dyn age::Identity))
            .map_err(|e| match e {
                age::DecryptError::NoMatchingKeys => super::EngineError::KeyNeeded(String::new()),
                other => super::EngineError::Corrupt(format!("age: {other}")),
            })?,
    );
    if compression {
        r = Box::new(zstd::stream::read::Decoder::new(r)?);
    }
    Ok(r)
}
