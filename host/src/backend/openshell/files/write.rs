//! Writing files: atomically, whole through the session channel when they
//! are small, else streamed through one interactive exec.

use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};

use super::super::exec::MAX_FRAME;
use super::{Files, Op, collect, exec, flag, malformed, parse_stat, script_error, split_nul};
use crate::backend::{ExecInput, ExecSession, FileSink, FileStat, Stdin, WriteOptions};
use crate::error::{Result, SandboxError};

impl Files {
    /// A writer for `path`.
    pub fn writer(&self, path: &str, options: WriteOptions) -> OpenShellSink {
        OpenShellSink {
            files: self.clone(),
            path: path.to_string(),
            options,
            buffer: BytesMut::new(),
            size: 0,
            temp: None,
            upload: None,
        }
    }
}

/// Below this a write is sent in one operation when it finishes.
const WHOLE_WRITE: usize = MAX_FRAME;
/// Deadline of a streamed upload's exec: a guest may write a large file
/// slowly, and the upload ends anyway when the guest drops its stream.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(3600);

/// A file being written over exec: small files in one operation at
/// `finish`; larger ones streamed into a temporary file through one
/// interactive exec that writes the frames itself, committed at `finish`
/// once the temporary file holds every byte sent.
pub struct OpenShellSink {
    files: Files,
    path: String,
    options: WriteOptions,
    buffer: BytesMut,
    size: u64,
    temp: Option<String>,
    upload: Option<ExecSession>,
}

impl std::fmt::Debug for OpenShellSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenShellSink").field("path", &self.path).field("size", &self.size).finish_non_exhaustive()
    }
}

impl OpenShellSink {
    fn args(&self) -> Vec<String> {
        vec![
            self.path.clone(),
            flag(self.options.create_parents).into(),
            flag(self.options.exclusive).into(),
            format!("{:o}", self.options.mode & 0o7777),
        ]
    }

    /// Send the buffer into the upload, starting it first if needed.
    async fn flush(&mut self) -> Result<()> {
        let data = self.buffer.split().freeze();
        self.send(data).await
    }

    /// Send `data` into the upload, starting it first if needed.
    async fn send(&mut self, data: Bytes) -> Result<()> {
        let op = "fs.write-file";
        if self.temp.is_none() {
            let args = self.args();
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = self.files.ok(op, Op::WriteOpen, &refs, Bytes::new()).await?;
            let tmp = split_nul(&out)
                .first()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .ok_or_else(|| malformed(op))?;
            self.temp = Some(tmp);
        }
        if self.upload.is_none() {
            let tmp = self.temp.clone().unwrap_or_default();
            let mut req = self.files.request(Op::WriteAppend, &[&tmp], Stdin::Interactive);
            req.timeout = UPLOAD_TIMEOUT;
            self.upload =
                Some(exec::start_reading_frames(self.files.wire.clone(), self.files.target.clone(), req, op).await?);
        }
        if data.is_empty() {
            return Ok(());
        }
        let upload = self.upload.as_mut().ok_or_else(|| malformed(op))?;
        if upload.input.send(ExecInput::Stdin(data)).await.is_err() {
            // The upload ended early: its exit status says why.
            return Err(self.end_upload().await.err().unwrap_or_else(|| {
                SandboxError::unavailable(op, "the upload stream closed before all data was sent")
            }));
        }
        Ok(())
    }

    /// Close the upload's stdin and wait for it to succeed.
    async fn end_upload(&mut self) -> Result<()> {
        let op = "fs.write-file";
        let Some(upload) = self.upload.take() else { return Ok(()) };
        let _ = upload.input.send(ExecInput::CloseStdin).await;
        let out = collect(upload.events, op).await?;
        if out.code != 0 {
            return Err(script_error(op, out.code, &out.stderr));
        }
        Ok(())
    }
}

impl Drop for OpenShellSink {
    fn drop(&mut self) {
        // Unfinished: end the upload and remove the temporary file (best
        // effort).
        self.upload.take();
        if let Some(tmp) = self.temp.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let files = self.files.clone();
            rt.spawn(async move {
                let _ = files.ok("fs.write-file", Op::WriteAbort, &[&tmp], Bytes::new()).await;
            });
        }
    }
}

#[async_trait]
impl FileSink for OpenShellSink {
    async fn write(&mut self, mut data: Bytes) -> Result<()> {
        self.size += data.len() as u64;
        // Whole frames go out as they are (each costs the sandbox a read of
        // its own, so a 1 MiB write sent as 960 KiB + 64 KiB would double
        // that cost); only the remainder is kept, and copied.
        if self.buffer.is_empty() && data.len() >= WHOLE_WRITE {
            let whole = data.len() - data.len() % WHOLE_WRITE;
            self.send(data.split_to(whole)).await?;
        }
        self.buffer.extend_from_slice(&data);
        if self.buffer.len() >= WHOLE_WRITE {
            let whole = self.buffer.len() - self.buffer.len() % WHOLE_WRITE;
            let frames = self.buffer.split_to(whole).freeze();
            self.send(frames).await?;
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<FileStat> {
        let op = "fs.write-file";
        let mut args = self.args();
        args.push(self.size.to_string());
        let out = if self.temp.is_none() {
            let data = self.buffer.split().freeze();
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            self.files.ok(op, Op::Write, &refs, data).await?
        } else {
            self.flush().await?;
            self.end_upload().await?;
            let tmp = self.temp.take().unwrap_or_default();
            args.push(tmp.clone());
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = self.files.ok(op, Op::WriteFinish, &refs, Bytes::new()).await;
            if out.is_err() {
                // A failed commit removes its temporary file, but one that
                // never ran (the channel failed) would not.
                self.temp = Some(tmp);
            }
            out?
        };
        parse_stat(&self.path, &out).ok_or_else(|| malformed(op))
    }
}
