//! Reading files: whole through the session channel when they are small,
//! else streamed straight from the gateway's exec stream.

use bytes::{Bytes, BytesMut};
use futures::StreamExt;

use super::super::status::exec_error;
use super::super::wire::{Event, Events};
use super::parse::num;
use super::{Files, OP_TIMEOUT, Op, Output, channel, code, exec, incomplete, keep_stderr, malformed, script_error};
use crate::backend::{ByteStream, FileRead, Stdin};
use crate::error::{Result, SandboxError};

impl Files {
    /// Open a file for reading: its size comes first, then its bytes, and
    /// the stream's last step checks that every byte arrived and that the
    /// file did not change while it was read.
    pub async fn read(&self, path: &str) -> Result<FileRead> {
        let op = "fs.read-file";
        let max = channel::MAX_READ.to_string();
        match self.via_channel(op, Op::Read, &[path, &max], &Bytes::new()).await {
            Some(Ok(out)) if out.code == code::TOO_BIG => {}
            Some(Ok(out)) => return small_read(op, &out),
            Some(Err(e)) => return Err(e),
            None => {}
        }
        // The content is polled straight from the gateway's stream (no
        // relay task in between: a hop per chunk costs more than the copy).
        let (call, _) =
            exec::prepare(&self.request(Op::Read, &[path], Stdin::Bytes(Bytes::new())), op, exec::Caller::Host)?;
        let mut events = self.wire.exec(&self.target, call, OP_TIMEOUT).await.map_err(|s| exec_error(op, &s))?;
        // The header line: the size.
        let mut head = BytesMut::new();
        let mut stderr = Vec::new();
        let (size, rest) = loop {
            match events.next().await {
                Some(Ok(Event::Stdout(b))) => {
                    head.extend_from_slice(&b);
                    if let Some(i) = head.iter().position(|c| *c == b'\n') {
                        let size = num(&head[..i]).ok_or_else(|| malformed(op))?;
                        break (size, head.split_off(i + 1).freeze());
                    }
                    if head.len() > 64 {
                        return Err(malformed(op));
                    }
                }
                Some(Ok(Event::Stderr(b))) => keep_stderr(&mut stderr, &b),
                Some(Ok(Event::Exit(code))) => return Err(script_error(op, code, &String::from_utf8_lossy(&stderr))),
                Some(Err(s)) => return Err(exec_error(op, &s)),
                None => return Err(SandboxError::unavailable(op, "the exec stream ended early")),
            }
        };
        let state = Download {
            events,
            size,
            got: rest.len() as u64,
            first: (!rest.is_empty()).then_some(rest),
            stderr,
            done: false,
        };
        if state.got > size {
            return Err(incomplete(op, state.got, size));
        }
        let content: ByteStream = Box::pin(futures::stream::unfold(state, move |mut st| async move {
            let item = st.next(op).await?;
            Some((item, st))
        }));
        Ok(FileRead { size, content })
    }
}

/// A whole file read through the session channel: `SIZE\n` and the bytes,
/// checked against the size.
fn small_read(op: &str, out: &Output) -> Result<FileRead> {
    if out.code != 0 {
        return Err(script_error(op, out.code, &out.stderr));
    }
    let nl = out.stdout.iter().position(|c| *c == b'\n').ok_or_else(|| malformed(op))?;
    let size = num(&out.stdout[..nl]).ok_or_else(|| malformed(op))?;
    let content = out.stdout.slice(nl + 1..);
    if content.len() as u64 != size {
        return Err(incomplete(op, content.len() as u64, size));
    }
    let content: ByteStream = if content.is_empty() {
        Box::pin(futures::stream::empty())
    } else {
        Box::pin(futures::stream::once(async move { Ok(content) }))
    };
    Ok(FileRead { size, content })
}

/// A streamed read after its header: the file's bytes, then a check that
/// all of them came and the file did not change meanwhile.
struct Download {
    events: Events,
    size: u64,
    got: u64,
    first: Option<Bytes>,
    stderr: Vec<u8>,
    done: bool,
}

impl Download {
    /// The next piece, the final error, or `None` at a clean end.
    async fn next(&mut self, op: &str) -> Option<Result<Bytes>> {
        if self.done {
            return None;
        }
        if let Some(b) = self.first.take() {
            return Some(Ok(b));
        }
        loop {
            let failed = match self.events.next().await {
                Some(Ok(Event::Stdout(b))) => {
                    self.got += b.len() as u64;
                    if self.got <= self.size {
                        return Some(Ok(b));
                    }
                    SandboxError::backend(op, "corrupt", "the file grew while it was read; read it again")
                }
                Some(Ok(Event::Stderr(b))) => {
                    keep_stderr(&mut self.stderr, &b);
                    continue;
                }
                Some(Ok(Event::Exit(0))) if self.got == self.size => {
                    self.done = true;
                    return None;
                }
                Some(Ok(Event::Exit(0))) => incomplete(op, self.got, self.size),
                Some(Ok(Event::Exit(code))) => script_error(op, code, &String::from_utf8_lossy(&self.stderr)),
                Some(Err(s)) => exec_error(op, &s),
                None => SandboxError::unavailable(op, "the exec stream ended before the file was complete"),
            };
            self.done = true;
            return Some(Err(failed));
        }
    }
}
