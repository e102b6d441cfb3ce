//! Unpack a *clean* archive (see [`super::sanitize`]) into a directory, with
//! every access confined to that directory by cap-std.

use std::io::{self, Read, Write};

use cap_std::fs::{Dir, OpenOptions, Permissions, PermissionsExt};
use tar::EntryType;

use super::{ArchiveError, Excludes, Summary, check_symlink_target, normalize_member};

/// Unpack the clean archive `input` into `dir`.
///
/// Files are written to a temporary name and renamed into place, so a reader
/// never sees half a file. An existing file or symlink at a member's path is
/// replaced (the symlink itself, never what it points to); an existing
/// directory where a file should go is a conflict. Directory modes are
/// applied last, so read-only directories can still be filled.
///
/// Member names and link targets are checked again here, so a caller that
/// skipped [`super::sanitize`] still cannot write outside `dir`.
pub fn unpack_clean(input: impl Read, dir: &Dir) -> Result<Summary, ArchiveError> {
    let mut archive = tar::Archive::new(input);
    let mut summary = Summary::default();
    let mut dir_modes: Vec<(String, u32)> = Vec::new();
    for entry in archive.entries().map_err(|e| ArchiveError::Corrupt(e.to_string()))? {
        let mut entry = entry.map_err(|e| ArchiveError::Corrupt(e.to_string()))?;
        let Some(path) = normalize_member(&entry.path_bytes())? else { continue };
        let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
        match entry.header().entry_type() {
            EntryType::Directory => {
                ensure_dir(dir, &path)?;
                dir_modes.push((path, mode));
                summary.directories += 1;
            }
            EntryType::Regular | EntryType::Continuous => {
                let (parent, name) = split(&path);
                if !parent.is_empty() {
                    ensure_dir(dir, parent)?;
                }
                let size = entry.size();
                write_atomic(dir, &path, parent, name, mode, &mut entry, size)?;
                summary.files += 1;
                summary.bytes += size;
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| ArchiveError::Corrupt(format!("symlink `{path}` has no target")))?;
                let target = check_symlink_target(&path, &target)?;
                let (parent, _) = split(&path);
                if !parent.is_empty() {
                    ensure_dir(dir, parent)?;
                }
                remove_non_dir(dir, &path)?;
                dir.symlink(&target, &path).map_err(|e| io_err(&path, &e))?;
                summary.symlinks += 1;
            }
            other => {
                return Err(ArchiveError::Refused(format!(
                    "member `{path}` has type {other:?}, not allowed in a clean archive"
                )));
            }
        }
    }
    // Deepest first, so a parent's mode cannot block its children.
    dir_modes.sort_by_key(|d| std::cmp::Reverse(d.0.len()));
    for (path, mode) in dir_modes {
        dir.set_permissions(&path, Permissions::from_mode(mode | 0o700)).map_err(|e| io_err(&path, &e))?;
    }
    Ok(summary)
}

/// Remove everything in `dir` except what `keep` matches. Directories that
/// hold kept paths stay (with only those paths inside).
pub fn clear_dir(dir: &Dir, keep: &Excludes) -> io::Result<()> {
    clear_below(dir, "", keep)
}

fn clear_below(dir: &Dir, prefix: &str, keep: &Excludes) -> io::Result<()> {
    for entry in dir.entries()? {
        let entry = entry?;
        let name = entry.file_name();
        let rel = format!("{prefix}{}", name.to_string_lossy());
        if keep.matches(&rel) {
            continue;
        }
        let meta = dir.symlink_metadata(&name)?;
        if meta.is_dir() {
            if keep.is_empty() {
                dir.remove_dir_all(&name)?;
            } else {
                let sub = dir.open_dir(&name)?;
                clear_below(&sub, &format!("{rel}/"), keep)?;
                // Still holds kept paths: leave it.
                let _ = dir.remove_dir(&name);
            }
        } else {
            dir.remove_file(&name)?;
        }
    }
    Ok(())
}

fn ensure_dir(dir: &Dir, path: &str) -> Result<(), ArchiveError> {
    match dir.symlink_metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(ArchiveError::Io(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("`{path}` exists and is not a directory"),
        ))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => dir.create_dir_all(path).map_err(|e| io_err(path, &e)),
        Err(e) => Err(io_err(path, &e)),
    }
}

fn remove_non_dir(dir: &Dir, path: &str) -> Result<(), ArchiveError> {
    match dir.symlink_metadata(path) {
        Ok(m) if m.is_dir() => Err(ArchiveError::Io(io::Error::new(
            io::ErrorKind::IsADirectory,
            format!("`{path}` is a directory in the destination"),
        ))),
        Ok(_) => dir.remove_file(path).map_err(|e| io_err(path, &e)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(path, &e)),
    }
}

fn write_atomic(
    dir: &Dir,
    path: &str,
    parent: &str,
    name: &str,
    mode: u32,
    content: &mut impl Read,
    size: u64,
) -> Result<(), ArchiveError> {
    if let Ok(m) = dir.symlink_metadata(path)
        && m.is_dir()
    {
        return Err(ArchiveError::Io(io::Error::new(
            io::ErrorKind::IsADirectory,
            format!("`{path}` is a directory in the destination"),
        )));
    }
    let tmp = temp_name(parent, name);
    let mut file =
        dir.open_with(&tmp, OpenOptions::new().write(true).create_new(true)).map_err(|e| io_err(path, &e))?;
    let result = (|| -> io::Result<()> {
        let copied = io::copy(&mut content.take(size), &mut file)?;
        if copied != size {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "archive member is truncated"));
        }
        file.flush()?;
        file.set_permissions(Permissions::from_mode(mode))?;
        drop(file);
        // `rename` replaces a file or a symlink at `path`; it never follows
        // a symlink in the last component.
        dir.rename(&tmp, dir, path)
    })();
    if let Err(e) = result {
        let _ = dir.remove_file(&tmp);
        return Err(io_err(path, &e));
    }
    Ok(())
}

/// A temporary name beside `name` that no archive member can have (member
/// names never start with `.ow-tmp-` followed by our process id and a
/// counter, and `create_new` refuses collisions anyway).
pub(crate) fn temp_name(parent: &str, name: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let short: String = name.chars().take(32).collect();
    let file = format!(".ow-tmp-{}-{n}-{short}", std::process::id());
    if parent.is_empty() { file } else { format!("{parent}/{file}") }
}

fn split(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
}

fn io_err(path: &str, e: &io::Error) -> ArchiveError {
    ArchiveError::Io(io::Error::new(e.kind(), format!("{path}: {e}")))
}
