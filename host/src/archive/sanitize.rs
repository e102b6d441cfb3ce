//! Validate an untrusted tar archive and write a clean copy of it.

use std::collections::HashSet;
use std::io::{self, Read, Write};

use tar::EntryType;

use super::{ArchiveError, Format, Limits, Summary, check_symlink_target, decompress, normalize_member};
use crate::backend::ByteStream;
use crate::stream::{ChannelWriter, blocking_stream};

/// Read the archive `input` (already decompressed), check every member
/// against the rules in the module docs and `limits`, and, when `out` is
/// given, write a clean archive to it. Returns what the archive holds.
///
/// Run it once without `out` to decide, then again with `out` to produce the
/// clean copy: that way a refused archive writes nothing anywhere.
pub fn sanitize(input: impl Read, limits: &Limits, out: Option<&mut dyn Write>) -> Result<Summary, ArchiveError> {
    let mut archive = tar::Archive::new(input);
    let mut builder = out.map(tar::Builder::new);
    let mut summary = Summary::default();
    let mut symlinks: HashSet<String> = HashSet::new();
    // Directories the clean copy holds so far: every member is preceded by
    // entries for all its ancestors, so that `tar -x` replaces a symlink
    // planted where a directory belongs instead of writing through it.
    let mut dirs: HashSet<String> = HashSet::new();
    let entries = archive.entries().map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
        let raw_path = entry.path_bytes().into_owned();
        let Some(path) = normalize_member(&raw_path)? else {
            // The root directory entry (`./`) carries nothing to write.
            continue;
        };
        if summary.members() >= limits.max_members {
            return Err(ArchiveError::TooLarge(format!(
                "more than {} members (limit max-members)",
                limits.max_members
            )));
        }
        if symlinks.contains(&path) {
            return Err(ArchiveError::Refused(format!(
                "member `{path}` would replace the symlink member of the same name"
            )));
        }
        if let Some(link) = ancestors(&path).find(|a| symlinks.contains(*a)) {
            return Err(ArchiveError::Refused(format!("member `{path}` lies below the symlink member `{link}`")));
        }
        let header = entry.header();
        let mode = header.mode().unwrap_or(0o644) & 0o777;
        let mtime = header.mtime().unwrap_or(0);
        let kind = header.entry_type();
        if let Some(b) = builder.as_mut() {
            for dir in ancestors(&path) {
                // Look before inserting: most members share their parents.
                if !dirs.contains(dir) {
                    dirs.insert(dir.to_owned());
                    let mut h = clean_header(EntryType::Directory, 0o755, mtime, 0);
                    b.append_data(&mut h, dir, io::empty()).map_err(ArchiveError::Io)?;
                }
            }
        }
        match kind {
            EntryType::Regular | EntryType::Continuous => {
                let size = entry.size();
                if size > limits.max_file_bytes {
                    return Err(ArchiveError::TooLarge(format!(
                        "member `{path}` is {size} bytes, over the {} byte limit (max-file-bytes)",
                        limits.max_file_bytes
                    )));
                }
                if summary.bytes + size > limits.max_total_bytes {
                    return Err(ArchiveError::TooLarge(format!(
                        "content exceeds {} bytes in total (limit max-total-bytes)",
                        limits.max_total_bytes
                    )));
                }
                summary.files += 1;
                summary.bytes += size;
                if let Some(b) = builder.as_mut() {
                    let mut h = clean_header(EntryType::Regular, mode, mtime, size);
                    let mut counted = CountingReader { inner: &mut entry, read: 0 };
                    b.append_data(&mut h, &path, &mut counted).map_err(ArchiveError::Io)?;
                    if counted.read != size {
                        return Err(ArchiveError::Corrupt(format!("member `{path}` is truncated")));
                    }
                }
            }
            EntryType::Directory => {
                summary.directories += 1;
                if let Some(b) = builder.as_mut() {
                    dirs.insert(path.clone());
                    let mut h = clean_header(EntryType::Directory, mode | 0o700, mtime, 0);
                    b.append_data(&mut h, &path, io::empty()).map_err(ArchiveError::Io)?;
                }
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| ArchiveError::Corrupt(format!("symlink `{path}` has no target")))?
                    .into_owned();
                let target = check_symlink_target(&path, &target)?;
                summary.symlinks += 1;
                symlinks.insert(path.clone());
                if let Some(b) = builder.as_mut() {
                    let mut h = clean_header(EntryType::Symlink, 0o777, mtime, 0);
                    b.append_link(&mut h, &path, &target).map_err(ArchiveError::Io)?;
                }
            }
            EntryType::Link => {
                return Err(ArchiveError::Refused(format!(
                    "member `{path}` is a hard link; hard links are not accepted"
                )));
            }
            EntryType::Char | EntryType::Block => {
                return Err(ArchiveError::Refused(format!("member `{path}` is a device node")));
            }
            EntryType::Fifo => return Err(ArchiveError::Refused(format!("member `{path}` is a FIFO"))),
            EntryType::GNUSparse => {
                return Err(ArchiveError::Refused(format!(
                    "member `{path}` is a sparse file; sparse files are not accepted"
                )));
            }
            other => {
                return Err(ArchiveError::Refused(format!("member `{path}` has unsupported type {other:?}")));
            }
        }
    }
    if let Some(b) = builder {
        b.into_inner().map_err(ArchiveError::Io)?.flush().map_err(ArchiveError::Io)?;
    }
    Ok(summary)
}

/// Validate the archive that `open` returns, then stream a clean copy of it.
///
/// `open` is called twice (once per pass), so it must return the same bytes
/// each time: a snapshot file, or bytes held in memory.
pub async fn sanitize_to_stream<F>(
    open: F,
    format: Format,
    limits: Limits,
) -> Result<(Summary, ByteStream), ArchiveError>
where
    F: Fn() -> io::Result<Box<dyn Read + Send>> + Send + Sync + 'static,
{
    let open = std::sync::Arc::new(open);
    let first = open.clone();
    let summary = tokio::task::spawn_blocking(move || -> Result<Summary, ArchiveError> {
        let input = first().map_err(ArchiveError::Io)?;
        let reader = decompress(format, input).map_err(ArchiveError::Io)?;
        sanitize(reader, &limits, None)
    })
    .await
    .map_err(|e| ArchiveError::Io(io::Error::other(e)))??;

    let stream = blocking_stream("archive.sanitize", move |w: &mut ChannelWriter| {
        let input = open()?;
        let reader = decompress(format, input)?;
        sanitize(reader, &limits, Some(w)).map_err(io::Error::other)?;
        Ok(())
    });
    Ok((summary, stream))
}

/// A header with no owner, a clean mode and a fixed format.
fn clean_header(kind: EntryType, mode: u32, mtime: u64, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_mtime(mtime);
    h.set_size(size);
    h.set_uid(0);
    h.set_gid(0);
    h
}

/// The proper ancestors of `a/b/c`: `a`, `a/b`.
fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

struct CountingReader<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}
