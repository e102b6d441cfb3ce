//! Seeding a sandbox from host files before a run and collecting results
//! after it, through the backend trait, so both work on every backend.
//!
//! Directories travel as tar archives that go through the same checks as
//! guest archives: a host symlink pointing outside the seeded directory is
//! refused rather than followed, and collected archives cannot write outside
//! the chosen host directory.

use std::path::{Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::archive::{self, Excludes, Limits};
use crate::backend::{FileKind, Sandbox, WriteOptions};
use crate::error::{Result, SandboxError};
use crate::policy::paths;
use crate::stream::StreamReader;

/// Copy host `src` (a file or a directory) to `dest` in the sandbox.
pub(crate) async fn seed(sb: &dyn Sandbox, src: &Path, dest: &str) -> Result<()> {
    let op = "seed";
    let dest = paths::normalize(&sb.info().workdir, dest).map_err(|m| SandboxError::invalid(op, m))?;
    let meta = tokio::fs::metadata(src)
        .await
        .map_err(|e| SandboxError::from_io(op, &src.display().to_string(), &e).context("seed source"))?;
    if meta.is_file() {
        let mut file =
            tokio::fs::File::open(src).await.map_err(|e| SandboxError::from_io(op, &src.display().to_string(), &e))?;
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        let mut sink = sb.write_file(&dest, WriteOptions { mode, create_parents: true, exclusive: false }).await?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = tokio::io::AsyncReadExt::read(&mut file, &mut buf)
                .await
                .map_err(|e| SandboxError::from_io(op, &src.display().to_string(), &e))?;
            if n == 0 {
                break;
            }
            sink.write(bytes::Bytes::copy_from_slice(&buf[..n])).await?;
        }
        sink.finish().await?;
        return Ok(());
    }
    if !meta.is_dir() {
        return Err(SandboxError::invalid(op, format!("{} is neither a file nor a directory", src.display())));
    }
    // Pack to a temporary file, then check and send it like any archive.
    let dir = Dir::open_ambient_dir(src, ambient_authority())
        .map_err(|e| SandboxError::from_io(op, &src.display().to_string(), &e))?;
    let staged = tempfile::NamedTempFile::new().map_err(|e| SandboxError::backend(op, "io", e.to_string()))?;
    let (file, path) = staged.into_parts();
    tokio::task::spawn_blocking(move || -> Result<()> {
        let mut w = std::io::BufWriter::new(file);
        archive::pack_dir(&dir, &Excludes::default(), &mut w)
            .map_err(|e| SandboxError::backend(op, "io", e.to_string()))?;
        std::io::Write::flush(&mut w).map_err(|e| SandboxError::backend(op, "io", e.to_string()))
    })
    .await
    .map_err(|e| SandboxError::backend(op, "internal", e.to_string()))??;
    let reopen: PathBuf = path.to_path_buf();
    let open = move || -> std::io::Result<Box<dyn std::io::Read + Send>> {
        Ok(Box::new(std::io::BufReader::new(std::fs::File::open(&reopen)?)))
    };
    let limits = Limits { max_members: u64::MAX, max_total_bytes: u64::MAX, max_file_bytes: u64::MAX };
    let (_, stream) = archive::sanitize_to_stream(open, archive::Format::Tar, limits)
        .await
        .map_err(|e| e.into_sandbox_error(op).context(format!("seeding {}", src.display())))?;
    let result = sb.import_tar(&dest, stream, None).await;
    drop(path);
    result
}

/// Copy `src` (a file or directory in the sandbox) to host `dest`.
pub(crate) async fn collect(sb: &dyn Sandbox, src: &str, dest: &Path) -> Result<()> {
    let op = "collect";
    let src = paths::normalize(&sb.info().workdir, src).map_err(|m| SandboxError::invalid(op, m))?;
    let stat = sb.stat(&src).await.map_err(|e| e.with_operation(op))?;
    match stat.kind {
        FileKind::File => {
            let mut read = sb.read_file(&src).await?;
            if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|e| SandboxError::from_io(op, &parent.display().to_string(), &e))?;
            }
            let parent = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let tmp =
                tempfile::NamedTempFile::new_in(parent).map_err(|e| SandboxError::backend(op, "io", e.to_string()))?;
            let (file, tmp_path) = tmp.into_parts();
            let mut file = tokio::fs::File::from_std(file);
            while let Some(chunk) = read.content.next().await {
                let chunk = chunk?;
                file.write_all(&chunk).await.map_err(|e| SandboxError::backend(op, "io", e.to_string()))?;
            }
            file.sync_all().await.map_err(|e| SandboxError::backend(op, "io", e.to_string()))?;
            tmp_path
                .persist(dest)
                .map_err(|e| SandboxError::backend(op, "io", format!("cannot write {}: {e}", dest.display())))?;
            Ok(())
        }
        FileKind::Directory => {
            let stream = sb.export_tar(&src, &[]).await?;
            let staged = stage(stream, op).await?;
            let reopen = staged.to_path_buf();
            let open = move || -> std::io::Result<Box<dyn std::io::Read + Send>> {
                Ok(Box::new(std::io::BufReader::new(std::fs::File::open(&reopen)?)))
            };
            let limits = Limits { max_members: u64::MAX, max_total_bytes: u64::MAX, max_file_bytes: u64::MAX };
            let (_, clean) = archive::sanitize_to_stream(open, archive::Format::Tar, limits)
                .await
                .map_err(|e| e.into_sandbox_error(op))?;
            std::fs::create_dir_all(dest).map_err(|e| SandboxError::from_io(op, &dest.display().to_string(), &e))?;
            let dir = Dir::open_ambient_dir(dest, ambient_authority())
                .map_err(|e| SandboxError::from_io(op, &dest.display().to_string(), &e))?;
            let mut reader = StreamReader::new(clean);
            let result = tokio::task::spawn_blocking(move || {
                let r = archive::unpack::unpack_clean(&mut reader, &dir);
                (r, reader.take_error())
            })
            .await
            .map_err(|e| SandboxError::backend(op, "internal", e.to_string()))?;
            drop(staged);
            if let Some(e) = result.1 {
                return Err(e.with_operation(op));
            }
            result.0.map(|_| ()).map_err(|e| e.into_sandbox_error(op))
        }
        _ => Err(SandboxError::invalid(op, format!("{src} is neither a file nor a directory"))),
    }
}

async fn stage(mut stream: crate::backend::ByteStream, op: &str) -> Result<tempfile::TempPath> {
    let tmp = tempfile::NamedTempFile::new().map_err(|e| SandboxError::backend(op, "io", e.to_string()))?;
    let (file, path) = tmp.into_parts();
    let mut file = tokio::fs::File::from_std(file);
    while let Some(chunk) = stream.next().await {
        file.write_all(&chunk?).await.map_err(|e| SandboxError::backend(op, "io", e.to_string()))?;
    }
    file.flush().await.map_err(|e| SandboxError::backend(op, "io", e.to_string()))?;
    Ok(path)
}
