//! A file written by a thread of its own: the caller's writes are gathered into 1 MiB chunks and
//! queued, so compression and hashing go on while the network works. Share targets use it for
//! every file they write.

use super::RepoFile;
use std::io::{self, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

/// Bytes per chunk handed to the thread.
pub const CHUNK: usize = 1024 * 1024;
/// Chunks queued ahead of the thread.
const QUEUE: usize = 8;

/// Starts `body` on a thread named `name`. It sends `Ok(())` (or why the file cannot be
/// written) on `ready` first, then writes every chunk it receives, then makes the file durable;
/// its result is what `commit` returns.
pub fn spawn(
    name: &str,
    body: impl FnOnce(Receiver<Vec<u8>>, SyncSender<io::Result<()>>) -> io::Result<()> + Send + 'static,
) -> io::Result<Box<dyn RepoFile>> {
    let (tx, rx) = sync_channel::<Vec<u8>>(QUEUE);
    let (ready_tx, ready_rx) = sync_channel::<io::Result<()>>(1);
    let handle = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || body(rx, ready_tx))?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(Box::new(PipeWriter {
            tx: Some(tx),
            buf: Vec::with_capacity(CHUNK),
            handle: Some(handle),
        })),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(match handle.join() {
            Ok(Err(e)) => e,
            _ => io::Error::other(format!("{name} ended before the file was open")),
        }),
    }
}

struct PipeWriter {
    tx: Option<SyncSender<Vec<u8>>>,
    buf: Vec<u8>,
    handle: Option<JoinHandle<io::Result<()>>>,
}

impl PipeWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        let sent = self.tx.as_ref().map(|tx| tx.send(chunk));
        match sent {
            Some(Ok(())) => Ok(()),
            // The thread stopped taking chunks: its result says why.
            _ => Err(self
                .join()
                .err()
                .unwrap_or_else(|| io::Error::other("the writer thread stopped early"))),
        }
    }

    fn join(&mut self) -> io::Result<()> {
        self.tx.take();
        match self.handle.take().map(|h| h.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(io::Error::other("the writer thread panicked")),
            None => Err(io::Error::other("the file was already closed")),
        }
    }
}

impl Write for PipeWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.send()?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl RepoFile for PipeWriter {
    fn commit(mut self: Box<Self>) -> io::Result<()> {
        self.send()?;
        self.join()
    }
}

impl Drop for PipeWriter {
    fn drop(&mut self) {
        if self.handle.is_some() {
            let _ = self.join();
        }
    }
}
