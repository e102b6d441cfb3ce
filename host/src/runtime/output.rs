//! The guest's own stdout and stderr (WASI), captured with a cap and
//! optionally forwarded as they are written.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// Which guest stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestStream {
    /// stdout
    Stdout,
    /// stderr
    Stderr,
}

/// Called with every piece of guest output that fits under the cap.
pub type Forward = Arc<dyn Fn(GuestStream, &[u8]) + Send + Sync>;

/// What the guest printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapturedOutput {
    /// stdout bytes (up to the cap).
    pub stdout: Vec<u8>,
    /// stderr bytes (up to the cap).
    pub stderr: Vec<u8>,
    /// Output was dropped because it passed the cap.
    pub truncated: bool,
    /// How many bytes were dropped.
    pub dropped_bytes: u64,
}

struct State {
    limit: u64,
    used: u64,
    out: CapturedOutput,
}

/// Shared capture for both guest streams; the cap counts them together.
#[derive(Clone)]
pub struct OutputCapture {
    state: Arc<Mutex<State>>,
    forward: Option<Forward>,
}

impl std::fmt::Debug for OutputCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputCapture").finish_non_exhaustive()
    }
}

impl OutputCapture {
    /// Capture up to `limit` bytes, forwarding them to `forward` if given.
    pub fn new(limit: u64, forward: Option<Forward>) -> Self {
        OutputCapture { state: Arc::new(Mutex::new(State { limit, used: 0, out: CapturedOutput::default() })), forward }
    }

    /// A WASI stdout/stderr for `stream`.
    pub fn stream(&self, stream: GuestStream) -> GuestPipe {
        GuestPipe { capture: self.clone(), stream }
    }

    /// What was captured so far.
    pub fn snapshot(&self) -> CapturedOutput {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).out.clone()
    }

    fn write(&self, stream: GuestStream, data: &[u8]) {
        let kept = {
            let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let room = s.limit.saturating_sub(s.used) as usize;
            let keep = data.len().min(room);
            s.used += keep as u64;
            if keep < data.len() {
                s.out.truncated = true;
                s.out.dropped_bytes += (data.len() - keep) as u64;
            }
            let buf = match stream {
                GuestStream::Stdout => &mut s.out.stdout,
                GuestStream::Stderr => &mut s.out.stderr,
            };
            buf.extend_from_slice(&data[..keep]);
            keep
        };
        if kept > 0
            && let Some(f) = &self.forward
        {
            f(stream, &data[..kept]);
        }
    }
}

/// One guest output stream. Writes always succeed: past the cap the bytes
/// are counted and dropped, so a guest that prints without end cannot grow
/// host memory and is not killed by a write error either.
#[derive(Debug, Clone)]
pub struct GuestPipe {
    capture: OutputCapture,
    stream: GuestStream,
}

impl AsyncWrite for GuestPipe {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.capture.write(self.stream, buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for GuestPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestPipe {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_counts_both_streams_and_drops_the_rest() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let cap = OutputCapture::new(8, Some(Arc::new(move |_, d: &[u8]| s2.lock().unwrap().extend_from_slice(d))));
        cap.write(GuestStream::Stdout, b"hello");
        cap.write(GuestStream::Stderr, b"world!");
        let out = cap.snapshot();
        assert_eq!(out.stdout, b"hello");
        assert_eq!(out.stderr, b"wor");
        assert!(out.truncated);
        assert_eq!(out.dropped_bytes, 3);
        assert_eq!(&*seen.lock().unwrap(), b"hellowor");
    }
}
