//! Bridges between blocking code (tar, file I/O) and async byte streams,
//! with bounded buffers so that large archives and files never sit in
//! memory whole.

use std::io::{self, Read, Write};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::io::SyncIoBridge;

use crate::archive::ArchiveError;
use crate::backend::ByteStream;
use crate::error::SandboxError;

/// Size of the chunks streams are cut into.
pub const CHUNK: usize = 64 * 1024;

/// How many chunks may wait in a stream's buffer (so at most
/// `CHUNK * DEPTH` bytes are in flight per stream).
const DEPTH: usize = 8;

/// An `io::Write` that sends what is written, in [`CHUNK`]-sized pieces,
/// down a bounded channel. Must be used from a blocking thread.
#[derive(Debug)]
pub struct ChannelWriter {
    tx: mpsc::Sender<Result<Bytes, SandboxError>>,
    buf: BytesMut,
}

impl ChannelWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = self.buf.split().freeze();
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the reader of this stream went away"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// Run `produce` on a blocking thread and return what it writes as a
/// stream. An error from `produce` becomes the stream's last item.
///
/// Not tokio-util's `SyncIoBridge` over a pipe read by a `ReaderStream`:
/// that copies every byte once more (into the pipe, then out of it), wakes
/// the reader per write, and has no way to end the stream with the
/// producer's error; here each chunk moves down the channel as it is.
pub fn blocking_stream<F>(op: &'static str, produce: F) -> ByteStream
where
    F: FnOnce(&mut ChannelWriter) -> io::Result<()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(DEPTH);
    let err_tx = tx.clone();
    tokio::task::spawn_blocking(move || {
        let mut w = ChannelWriter { tx, buf: BytesMut::with_capacity(CHUNK) };
        let result = produce(&mut w).and_then(|()| w.flush());
        if let Err(e) = result
            && e.kind() != io::ErrorKind::BrokenPipe
        {
            let _ = err_tx.blocking_send(Err(io_to_sandbox(op, e)));
        }
    });
    Box::pin(ReceiverStream::new(rx))
}

/// Turn an I/O error from a stream producer into a sandbox error, keeping the
/// archive error kind when that is what it carries.
pub fn io_to_sandbox(op: &str, e: io::Error) -> SandboxError {
    if e.get_ref().is_some_and(|inner| inner.is::<ArchiveError>()) {
        let inner = e.into_inner().and_then(|b| b.downcast::<ArchiveError>().ok());
        if let Some(archive) = inner {
            return archive.into_sandbox_error(op);
        }
        return SandboxError::backend(op, "io", "archive error");
    }
    SandboxError::from_io(op, "stream", &e)
}

/// A blocking `io::Read` over an async byte stream. Use only on a blocking
/// thread (it waits on the runtime for each chunk).
///
/// tokio-util's `StreamReader` and `SyncIoBridge` do the reading; this
/// keeps the stream's own error, which an `io::Read` can only pass on as
/// text, for [`take_error`](Self::take_error).
pub struct StreamReader {
    inner: SyncIoBridge<tokio_util::io::StreamReader<IoStream, Bytes>>,
    failed: Arc<Mutex<Option<SandboxError>>>,
}

/// A byte stream whose errors are I/O errors.
type IoStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

impl std::fmt::Debug for StreamReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamReader").finish_non_exhaustive()
    }
}

impl StreamReader {
    /// Wrap `stream`; must be created on a runtime thread.
    pub fn new(stream: ByteStream) -> Self {
        let failed = Arc::new(Mutex::new(None));
        let slot = failed.clone();
        let stream: IoStream = Box::pin(stream.map(move |item| {
            item.map_err(|e| {
                let msg = e.to_string();
                *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                io::Error::other(msg)
            })
        }));
        StreamReader { inner: SyncIoBridge::new(tokio_util::io::StreamReader::new(stream)), failed }
    }

    /// The stream's own error, if reading stopped because of one.
    pub fn take_error(&mut self) -> Option<SandboxError> {
        self.failed.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

impl Read for StreamReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

/// A stream of the given bytes, cut into chunks.
#[cfg(test)]
pub fn bytes_stream(data: &Bytes) -> ByteStream {
    let chunks: Vec<Result<Bytes, SandboxError>> =
        (0..data.len()).step_by(CHUNK).map(|i| Ok(data.slice(i..(i + CHUNK).min(data.len())))).collect();
    Box::pin(futures::stream::iter(chunks))
}

/// Collect a stream into memory, failing with `too-large` past `limit`.
pub async fn collect(mut stream: ByteStream, limit: u64, op: &str) -> Result<Bytes, SandboxError> {
    let mut out = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if out.len() as u64 + chunk.len() as u64 > limit {
            return Err(SandboxError::too_large(op, format!("more than {limit} bytes")));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reader_reads_the_chunks_then_keeps_the_streams_error() {
        let items: Vec<Result<Bytes, SandboxError>> = vec![
            Ok(Bytes::from_static(b"hello ")),
            Ok(Bytes::new()),
            Ok(Bytes::from_static(b"world")),
            Err(SandboxError::unavailable("x", "the gateway went away")),
        ];
        let mut reader = StreamReader::new(Box::pin(futures::stream::iter(items)));
        let (text, err, kept) = tokio::task::spawn_blocking(move || {
            let mut text = Vec::new();
            let err = reader.read_to_end(&mut text).unwrap_err();
            (text, err, reader.take_error())
        })
        .await
        .unwrap();
        assert_eq!(text, b"hello world");
        assert!(err.to_string().contains("the gateway went away"), "{err}");
        assert_eq!(kept, Some(SandboxError::unavailable("x", "the gateway went away")));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reader_ends_with_the_stream() {
        let data = Bytes::from(vec![7u8; 3 * CHUNK + 5]);
        let mut reader = StreamReader::new(bytes_stream(&data));
        let (read, kept) = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            reader.read_to_end(&mut out).unwrap();
            (out, reader.take_error())
        })
        .await
        .unwrap();
        assert_eq!(read, data);
        assert_eq!(kept, None);
    }
}
