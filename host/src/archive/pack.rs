//! Write a tar archive of a directory tree, without following symlinks.

use std::io::{self, Read, Write};

use cap_std::fs::{Dir, MetadataExt};
use tar::EntryType;

use super::{Excludes, Summary};

/// Archive everything below `dir` (member names relative to it, sorted, so
/// the same tree always gives the same archive) into `out`, leaving out what
/// `excludes` matches. Symlinks are stored as links; sockets, FIFOs and
/// devices are skipped. All access goes through `dir`, so nothing outside
/// it can be read even if the tree changes while it is archived.
pub fn pack_dir(dir: &Dir, excludes: &Excludes, out: &mut dyn Write) -> io::Result<Summary> {
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    let mut summary = Summary::default();
    walk(dir, "", excludes, &mut builder, &mut summary)?;
    builder.into_inner()?.flush()?;
    Ok(summary)
}

fn walk(
    dir: &Dir,
    prefix: &str,
    excludes: &Excludes,
    builder: &mut tar::Builder<&mut dyn Write>,
    summary: &mut Summary,
) -> io::Result<()> {
    let mut names = Vec::new();
    for entry in dir.entries()? {
        let entry = entry?;
        match entry.file_name().into_string() {
            Ok(name) => names.push(name),
            Err(raw) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{prefix}{}: file name is not UTF-8", raw.to_string_lossy()),
                ));
            }
        }
    }
    names.sort();
    for name in names {
        let rel = format!("{prefix}{name}");
        if excludes.matches(&rel) {
            continue;
        }
        let meta = dir.symlink_metadata(&name)?;
        let mtime = meta.mtime().max(0) as u64;
        let mode = meta.mode() & 0o7777;
        if meta.is_dir() {
            let mut h = header(EntryType::Directory, mode, mtime, 0);
            builder.append_data(&mut h, format!("{rel}/"), io::empty())?;
            summary.directories += 1;
            let sub = dir.open_dir(&name)?;
            walk(&sub, &format!("{rel}/"), excludes, builder, summary)?;
        } else if meta.is_symlink() {
            let target = dir.read_link_contents(&name)?;
            let mut h = header(EntryType::Symlink, 0o777, mtime, 0);
            builder.append_link(&mut h, &rel, target)?;
            summary.symlinks += 1;
        } else if meta.is_file() {
            let file = dir.open(&name)?;
            let size = file.metadata()?.len();
            let mut h = header(EntryType::Regular, mode, mtime, size);
            let mut limited = file.take(size);
            builder.append_data(&mut h, &rel, &mut ShortReadCheck { inner: &mut limited, left: size, name: &rel })?;
            summary.files += 1;
            summary.bytes += size;
        }
        // Sockets, FIFOs and devices have no content to keep.
    }
    Ok(())
}

fn header(kind: EntryType, mode: u32, mtime: u64, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_mtime(mtime);
    h.set_size(size);
    h
}

/// Fails instead of producing a corrupt archive when a file shrinks while
/// it is being read.
struct ShortReadCheck<'a, R> {
    inner: R,
    left: u64,
    name: &'a str,
}

impl<R: Read> Read for ShortReadCheck<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.left > 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{} shrank while it was being archived", self.name),
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}
