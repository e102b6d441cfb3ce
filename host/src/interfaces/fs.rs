//! `fs`: files in a sandbox, through the policy's path prefixes and size
//! limits; streaming readers and atomic writers as child resources.

use std::io::Read;

use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use tokio::io::AsyncWriteExt;
use wasmtime::component::Resource;

use super::bindings::openshell::sandbox::fs;
use super::{CallResult, SandboxCtxView, SandboxHandle, convert};
use crate::archive;
use crate::backend::{ByteStream, FileSink};
use crate::error::{ErrorCode, SandboxError};

/// Most bytes one `file-reader.read` returns.
const MAX_READ_CHUNK: u32 = 1 << 20;

/// A file open for reading in pieces.
pub struct ReaderHandle {
    size: u64,
    stream: ByteStream,
    buffer: Bytes,
    /// The stream failed after a read had already gathered bytes: those are
    /// returned first, and this error by the next read.
    failed: Option<SandboxError>,
    done: bool,
}

impl ReaderHandle {
    pub(super) fn new(size: u64, stream: ByteStream) -> Self {
        ReaderHandle { size, stream, buffer: Bytes::new(), failed: None, done: false }
    }

    /// Up to `max` bytes: waits for the first piece only, then adds the
    /// pieces that have already arrived. Backends deliver small pieces (4
    /// KiB from OpenShell), and a read per piece would cost a guest
    /// thousands of calls for a large file. `None` at the end.
    async fn read(&mut self, max: usize) -> Result<Option<Vec<u8>>, SandboxError> {
        while self.buffer.is_empty() {
            if let Some(e) = self.failed.take() {
                return Err(e);
            }
            if self.done {
                return Ok(None);
            }
            match self.stream.next().await {
                Some(Ok(chunk)) => self.buffer = chunk,
                Some(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                None => self.done = true,
            }
        }
        let mut out = Vec::with_capacity(max.min(self.buffer.len()));
        loop {
            let n = (max - out.len()).min(self.buffer.len());
            out.extend_from_slice(&self.buffer.split_to(n));
            if out.len() == max || self.done {
                break;
            }
            // Only what is ready: polling once never waits.
            match self.stream.next().now_or_never() {
                Some(Some(Ok(chunk))) => self.buffer = chunk,
                Some(Some(Err(e))) => {
                    self.done = true;
                    self.failed = Some(e);
                    break;
                }
                Some(None) => self.done = true,
                None => break,
            }
        }
        Ok(Some(out))
    }
}

impl std::fmt::Debug for ReaderHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReaderHandle").field("size", &self.size).finish_non_exhaustive()
    }
}

/// A file open for atomic writing in pieces.
pub struct WriterHandle {
    sink: Option<Box<dyn FileSink>>,
    written: u64,
    limit: u64,
    path: String,
}

impl std::fmt::Debug for WriterHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterHandle").field("path", &self.path).field("written", &self.written).finish_non_exhaustive()
    }
}

impl SandboxCtxView<'_> {
    fn too_big_to_write(&self, op: &str, path: &str, size: u64) -> Result<(), SandboxError> {
        let limit = self.ctx.policy.fs.max_write_bytes;
        if size > limit {
            return Err(SandboxError::too_large(
                op,
                format!("{path}: {size} bytes is over the {limit} byte write limit (policy fs.max-write)"),
            ));
        }
        Ok(())
    }
}

impl fs::Host for SandboxCtxView<'_> {
    async fn read_file(
        &mut self,
        sandbox: Resource<SandboxHandle>,
        path: String,
        max_bytes: Option<u64>,
    ) -> CallResult<Vec<u8>> {
        let op = "fs.read-file";
        let sb = self.sandbox_of(&sandbox)?;
        let path = self.ctx.resolve(sb.info(), &path, false, op)?;
        let policy_max = self.ctx.policy.fs.max_read_bytes;
        let limit = max_bytes.unwrap_or(policy_max).min(policy_max);
        let read = sb.read_file(&path).await.map_err(|e| e.with_operation(op))?;
        if read.size > limit {
            return Err(SandboxError::too_large(
                op,
                format!("{path} is {} bytes, over the {limit} byte limit; read it in pieces with open-read", read.size),
            )
            .into());
        }
        let data = crate::stream::collect(read.content, limit, op).await.map_err(|e| e.with_operation(op))?;
        Ok(data.to_vec())
    }

    async fn write_file(
        &mut self,
        sandbox: Resource<SandboxHandle>,
        path: String,
        data: Vec<u8>,
        options: fs::WriteOptions,
    ) -> CallResult<fs::FileStat> {
        let op = "fs.write-file";
        let sb = self.sandbox_of(&sandbox)?;
        let path = self.ctx.resolve(sb.info(), &path, true, op)?;
        self.too_big_to_write(op, &path, data.len() as u64)?;
        let mut sink = sb.write_file(&path, convert::write_options(options)).await.map_err(|e| e.with_operation(op))?;
        sink.write(Bytes::from(data)).await.map_err(|e| e.with_operation(op))?;
        let stat = sink.finish().await.map_err(|e| e.with_operation(op))?;
        Ok(convert::file_stat(stat))
    }

    async fn open_read(
        &mut self,
        sandbox: Resource<SandboxHandle>,
        path: String,
    ) -> CallResult<Resource<ReaderHandle>> {
        let op = "fs.open-read";
        let sb = self.sandbox_of(&sandbox)?;
        let path = self.ctx.resolve(sb.info(), &path, false, op)?;
        let read = sb.read_file(&path).await.map_err(|e| e.with_operation(op))?;
        let handle = ReaderHandle::new(read.size, read.content);
        Ok(self.table.push_child(handle, &sandbox)?)
    }

    async fn open_write(
        &mut self,
        sandbox: Resource<SandboxHandle>,
        path: String,
        options: fs::WriteOptions,
    ) -> CallResult<Resource<WriterHandle>> {
        let op = "fs.open-write";
        let sb = self.sandbox_of(&sandbox)?;
        let path = self.ctx.resolve(sb.info(), &path, true, op)?;
        let sink = sb.write_file(&path, convert::write_options(options)).await.map_err(|e| e.with_operation(op))?;
        let handle = WriterHandle { sink: Some(sink), written: 0, limit: self.ctx.policy.fs.max_write_bytes, path };
        Ok(self.table.push_child(handle, &sandbox)?)
    }

    async fn list_dir(&mut self, sandbox: Resource<SandboxHandle>, path: String) -> CallResult<Vec<fs::DirEntry>> {
        let op = "fs.list-dir";
        let sb = self.sandbox_of(&sandbox)?;
        let path = self.ctx.resolve(sb.info(), &path, false, op)?;
        let entries = sb.list_dir(&path).await.map_err(|e| e.with_operation(op))?;
        Ok(entries.into_iter().map(convert::dir_entry).collect())
    }

    async fn stat(&mut self, sandbox: Resource<SandboxHandle>, path: String) -> CallResult<fs::FileStat> {
        let op = "fs.stat";
        let sb = self.sandbox_of(&sandbox)?;
        let path = self.ctx.resolve(sb.info(), &path, false, op)?;
        Ok(convert::file_stat(sb.stat(&path).await.map_err(|e| e.with_operation(op))?))
    }

    async fn exists(&mut self, sandbox: Resource<SandboxHandle>, path: String) -> CallResult<bool> {
        let op = "fs.exists";
        let sb = self.sandbox_of(&sandbox)?;
        let path = self.ctx.resolve(sb.info(), &path, false, op)?;
        match sb.stat(&path).await {
            Ok(_) => Ok(true),
            Err(e) if e.code == ErrorCode::NotFound => Ok(false),
            Err(e) => Err(e.with_operation(op).into()),
        }
    }

    async fn mkdir(&mut self, sandbox: Resource<SandboxHandle>, path: String, parents: bool) -> CallResult<()> {
        let op = "fs.mkdir";
        let sb = self.sandbox_of(&sandbox)?;
        let path = self.ctx.resolve(sb.info(), &path, true, op)?;
        Ok(sb.mkdir(&path, parents).await.map_err(|e| e.with_operation(op))?)
    }

    async fn remove(&mut self, sandbox: Resource<SandboxHandle>, path: String, recursive: bool) -> CallResult<()> {
        let op = "fs.remove";
        let sb = self.sandbox_of(&sandbox)?;
        let path = self.ctx.resolve(sb.info(), &path, true, op)?;
        if path == sb.info().workdir || path == "/" {
            return Err(
                SandboxError::denied(op, format!("{path} is the workspace itself and cannot be removed")).into()
            );
        }
        Ok(sb.remove(&path, recursive).await.map_err(|e| e.with_operation(op))?)
    }

    async fn rename(
        &mut self,
        sandbox: Resource<SandboxHandle>,
        source: String,
        destination: String,
    ) -> CallResult<()> {
        let op = "fs.rename";
        let sb = self.sandbox_of(&sandbox)?;
        let from = self.ctx.resolve(sb.info(), &source, true, op)?;
        let to = self.ctx.resolve(sb.info(), &destination, true, op)?;
        if from == sb.info().workdir {
            return Err(SandboxError::denied(op, "the workspace itself cannot be renamed").into());
        }
        Ok(sb.rename(&from, &to).await.map_err(|e| e.with_operation(op))?)
    }

    async fn realpath(&mut self, sandbox: Resource<SandboxHandle>, path: String) -> CallResult<String> {
        let op = "fs.realpath";
        let sb = self.sandbox_of(&sandbox)?;
        let path = self.ctx.resolve(sb.info(), &path, false, op)?;
        let real = sb.realpath(&path).await.map_err(|e| e.with_operation(op))?;
        // The resolved path must itself be readable, or symlinks would
        // reveal what lies outside the allowed area.
        self.ctx.resolve(sb.info(), &real, false, op)?;
        Ok(real)
    }

    async fn chmod(&mut self, sandbox: Resource<SandboxHandle>, path: String, mode: u32) -> CallResult<()> {
        let op = "fs.chmod";
        let sb = self.sandbox_of(&sandbox)?;
        let path = self.ctx.resolve(sb.info(), &path, true, op)?;
        Ok(sb.chmod(&path, mode & 0o7777).await.map_err(|e| e.with_operation(op))?)
    }

    async fn extract(
        &mut self,
        sandbox: Resource<SandboxHandle>,
        source: fs::ArchiveSource,
        destination: String,
        format: fs::ArchiveFormat,
        limits: fs::ExtractLimits,
    ) -> CallResult<fs::ExtractSummary> {
        let op = "fs.extract";
        let sb = self.sandbox_of(&sandbox)?;
        let dest = self.ctx.resolve(sb.info(), &destination, true, op)?;
        let policy = &self.ctx.policy;
        let defaults = archive::Limits::default();
        let limits = archive::Limits {
            max_members: limits.max_members.map(u64::from).unwrap_or(defaults.max_members),
            max_total_bytes: limits.max_total_bytes.unwrap_or(defaults.max_total_bytes),
            max_file_bytes: limits.max_file_bytes.unwrap_or(policy.fs.max_write_bytes).min(policy.fs.max_write_bytes),
        };
        // Hold the archive somewhere it can be read twice (check, then write).
        let mut staged: Option<tempfile::TempPath> = None;
        let open: Box<dyn Fn() -> std::io::Result<Box<dyn Read + Send>> + Send + Sync> = match source {
            fs::ArchiveSource::Bytes(b) => {
                let bytes = Bytes::from(b);
                Box::new(move || Ok(Box::new(std::io::Cursor::new(bytes.clone())) as Box<dyn Read + Send>))
            }
            fs::ArchiveSource::Path(p) => {
                let path = self.ctx.resolve(sb.info(), &p, false, op)?;
                let read = sb.read_file(&path).await.map_err(|e| e.with_operation(op))?;
                // A compressed archive is smaller than its content; allow
                // the content bound plus a header block per member.
                let input_cap = limits.max_total_bytes.saturating_add(limits.max_members.saturating_mul(1024));
                if read.size > input_cap {
                    return Err(SandboxError::too_large(
                        op,
                        format!("{path} is {} bytes, over the archive limits", read.size),
                    )
                    .into());
                }
                let tmp = stage(read.content, input_cap, op).await?;
                let reopen = tmp.to_path_buf();
                staged = Some(tmp);
                Box::new(move || {
                    Ok(Box::new(std::io::BufReader::new(std::fs::File::open(&reopen)?)) as Box<dyn Read + Send>)
                })
            }
        };
        let (summary, stream) = archive::sanitize_to_stream(open, convert::archive_format(format), limits)
            .await
            .map_err(|e| e.into_sandbox_error(op))?;
        let result = sb.import_tar(&dest, stream, None).await.map_err(|e| e.with_operation(op));
        drop(staged);
        result?;
        Ok(convert::extract_summary(summary))
    }
}

/// Copy a backend stream to a host temporary file, at most `cap` bytes.
async fn stage(mut stream: ByteStream, cap: u64, op: &str) -> Result<tempfile::TempPath, SandboxError> {
    let tmp = tempfile::NamedTempFile::new()
        .map_err(|e| SandboxError::backend(op, "io", format!("cannot stage the archive: {e}")))?;
    let (file, path) = tmp.into_parts();
    let mut file = tokio::fs::File::from_std(file);
    let mut total = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| e.with_operation(op))?;
        total += chunk.len() as u64;
        if total > cap {
            return Err(SandboxError::too_large(op, "the archive is larger than its limits allow"));
        }
        file.write_all(&chunk).await.map_err(|e| SandboxError::backend(op, "io", e.to_string()))?;
    }
    file.flush().await.map_err(|e| SandboxError::backend(op, "io", e.to_string()))?;
    Ok(path)
}

impl fs::HostFileReader for SandboxCtxView<'_> {
    async fn size(&mut self, reader: Resource<ReaderHandle>) -> wasmtime::Result<u64> {
        Ok(self.table.get(&reader)?.size)
    }

    async fn read(&mut self, reader: Resource<ReaderHandle>, max_bytes: u32) -> CallResult<Option<Vec<u8>>> {
        let r = self.table.get_mut(&reader)?;
        let max = max_bytes.clamp(1, MAX_READ_CHUNK) as usize;
        Ok(r.read(max).await.map_err(|e| e.with_operation("fs.file-reader.read"))?)
    }

    async fn drop(&mut self, reader: Resource<ReaderHandle>) -> wasmtime::Result<()> {
        self.table.delete(reader)?;
        Ok(())
    }
}

impl fs::HostFileWriter for SandboxCtxView<'_> {
    async fn write(&mut self, writer: Resource<WriterHandle>, data: Vec<u8>) -> CallResult<()> {
        let op = "fs.file-writer.write";
        let w = self.table.get_mut(&writer)?;
        let Some(sink) = w.sink.as_mut() else {
            return Err(SandboxError::conflict(op, "the writer is already finished").into());
        };
        let total = w.written + data.len() as u64;
        if total > w.limit {
            // Discard everything: a capped file must not be committed.
            w.sink = None;
            return Err(SandboxError::too_large(
                op,
                format!("{}: over the {} byte write limit (policy fs.max-write)", w.path, w.limit),
            )
            .into());
        }
        sink.write(Bytes::from(data)).await.map_err(|e| e.with_operation(op))?;
        w.written = total;
        Ok(())
    }

    async fn finish(&mut self, writer: Resource<WriterHandle>) -> CallResult<fs::FileStat> {
        let op = "fs.file-writer.finish";
        let w = self.table.get_mut(&writer)?;
        let Some(sink) = w.sink.take() else {
            return Err(
                SandboxError::conflict(op, "the writer is already finished or was abandoned after an error").into()
            );
        };
        let stat = sink.finish().await.map_err(|e| e.with_operation(op))?;
        Ok(convert::file_stat(stat))
    }

    async fn drop(&mut self, writer: Resource<WriterHandle>) -> wasmtime::Result<()> {
        // Dropping an unfinished sink discards the temporary file.
        self.table.delete(writer)?;
        Ok(())
    }
}
