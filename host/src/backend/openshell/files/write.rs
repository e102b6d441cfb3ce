//! Writing files: atomically, whole through the session channel when they
//! are small, else streamed through one interactive exec.

use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};

use super::super::exec::{Caller, MAX_FRAME};
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
/// Pieces of an upload at least this large are sent without copying;
/// smaller ones are gathered into messages of up to MAX_FRAME.
const OWN_MESSAGE: usize = 128 << 10;
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
            self.upload = Some(
                exec::start(self.files.wire.clone(), self.files.target.clone(), req, Caller::HostReadingFrames, op)
                    .await?,
            );
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
    async fn write(&mut self, data: Bytes) -> Result<()> {
        self.size += data.len() as u64;
        // Gathered (copied): while the file may still go whole, and pieces
        // too small to be worth a gRPC message of their own. Larger pieces
        // go out as they are, after what was gathered before them.
        let may_go_whole = self.upload.is_none() && self.size < WHOLE_WRITE as u64;
        if may_go_whole || data.len() < OWN_MESSAGE {
            self.buffer.extend_from_slice(&data);
            if !may_go_whole && self.buffer.len() >= MAX_FRAME {
                self.flush().await?;
            }
            return Ok(());
        }
        self.flush().await?;
        self.send(data).await
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

#[cfg(test)]
mod tests {
    use super::super::script::{self, code};
    use super::Op;

    /// The upload script, run by a real `sh` on frames as the host sends
    /// them: the file gets exactly the frames' bytes (whatever they hold,
    /// newlines and digits included); a stream without its end mark or
    /// with a malformed header fails, and says so.
    #[test]
    fn the_upload_script_writes_exactly_its_frames() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_string_lossy().into_owned();
        let run = |stdin: &[u8]| {
            let tmp = format!("{root}/.ow-tmp-t");
            std::fs::write(&tmp, b"").unwrap();
            let mut child = std::process::Command::new("sh")
                .args(["-c", script::FILE_BOOTSTRAP, "sh", &tmp])
                .env("OW_FS", script::encoded(Op::WriteAppend))
                .env("OW_ROOT", &root)
                .env("LC_ALL", "C")
                .current_dir(&root)
                .stdin(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(stdin).unwrap();
            let out = child.wait_with_output().unwrap();
            (out.status.code(), std::fs::read(&tmp).unwrap(), String::from_utf8_lossy(&out.stderr).into_owned())
        };
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 7) as u8 + b'0').collect();
        let mut frames = b"3\nabc0\n7\n12\nE\nx\n".to_vec();
        frames.extend_from_slice(format!("{}\n", big.len()).as_bytes());
        frames.extend_from_slice(&big);
        frames.extend_from_slice(b"E\n");
        let (status, body, stderr) = run(&frames);
        assert_eq!(status, Some(0), "{stderr}");
        assert_eq!(body, [&b"abc12\nE\nx\n"[..], &big].concat());

        let (status, body, _) = run(b"3\nabc");
        assert_eq!((status, body.as_slice()), (Some(code::CORRUPT), &b"abc"[..]));
        let (status, _, stderr) = run(b"3\nabcx3\n");
        assert_eq!(status, Some(code::INVALID), "{stderr}");
        assert!(stderr.contains("malformed upload frame"), "{stderr}");
    }
}
