//! File operations on a local sandbox's workspace, confined with cap-std: a
//! path can never reach outside the workspace directory, whether through
//! `..`, an absolute symlink or a symlink swapped in mid-operation.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use cap_std::ambient_authority;
use cap_std::fs::{Dir, MetadataExt, OpenOptions, Permissions, PermissionsExt};

use crate::archive::unpack::temp_name;
use crate::backend::{DirEntry, FileKind, FileRead, FileSink, FileStat, WriteOptions};
use crate::error::{Result, SandboxError};
use crate::policy::paths::relative_to;
use crate::stream::blocking_stream;

/// Run blocking file work off the async threads.
pub(super) async fn blocking<T: Send + 'static>(
    op: &'static str,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SandboxError::backend(op, "internal", format!("file task failed: {e}")))?
}

/// The workspace-relative form of a sandbox path (`""` for the workspace).
pub(super) fn rel(op: &str, workdir: &str, path: &str) -> Result<String> {
    relative_to(path, workdir).map(str::to_string).ok_or_else(|| {
        SandboxError::denied(
            op,
            format!("{path} is outside {workdir}; the local backend only holds files in the workspace"),
        )
    })
}

/// `"."` for the root, else the relative path (cap-std wants a non-empty path).
fn p(rel: &str) -> &str {
    if rel.is_empty() { "." } else { rel }
}

pub(super) fn open_root(op: &str, workspace: &Path) -> Result<Dir> {
    Dir::open_ambient_dir(workspace, ambient_authority()).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            SandboxError::not_found(op, "the sandbox's workspace is gone (was the sandbox deleted?)")
        } else {
            SandboxError::backend(op, "io", format!("cannot open the workspace: {e}"))
        }
    })
}

/// Map an error from a confined operation, recognizing cap-std's refusal to
/// leave the directory.
pub(super) fn map_err(op: &str, path: &str, e: &io::Error) -> SandboxError {
    if escapes(e) {
        return SandboxError::denied(op, format!("{path} leads outside the workspace (through a symlink or `..`)"));
    }
    SandboxError::from_io(op, path, e)
}

/// Whether `e` is cap-std refusing a path that leaves the directory.
///
/// cap-primitives reports an escape (a `..` or an absolute symlink it
/// resolves itself, or `openat2`'s `EXDEV` under `RESOLVE_BENEATH`) as
/// `PermissionDenied` made by `io::Error::new`, so with no OS error number;
/// a permission the kernel refused always carries one (`EACCES`, `EPERM`).
/// `ELOOP` is the kernel refusing to follow a symlink at the last component
/// (`O_NOFOLLOW`), which cap-std asks for where a link could lead out.
fn escapes(e: &io::Error) -> bool {
    (e.kind() == io::ErrorKind::PermissionDenied && e.raw_os_error().is_none()) || e.raw_os_error() == Some(libc::ELOOP)
}

fn kind_of(meta: &cap_std::fs::Metadata) -> FileKind {
    if meta.is_symlink() {
        FileKind::Symlink
    } else if meta.is_dir() {
        FileKind::Directory
    } else if meta.is_file() {
        FileKind::File
    } else {
        FileKind::Other
    }
}

fn mtime_ms(meta: &cap_std::fs::Metadata) -> i64 {
    meta.mtime() * 1000 + meta.mtime_nsec() / 1_000_000
}

pub(super) fn stat(root: &Dir, path: &str, rel: &str) -> Result<FileStat> {
    let meta = root.symlink_metadata(p(rel)).map_err(|e| map_err("fs.stat", path, &e))?;
    let kind = kind_of(&meta);
    let symlink_target = if kind == FileKind::Symlink {
        Some(root.read_link_contents(p(rel)).map_err(|e| map_err("fs.stat", path, &e))?.to_string_lossy().into_owned())
    } else {
        None
    };
    Ok(FileStat {
        path: path.to_string(),
        kind,
        size: meta.size(),
        mode: meta.mode() & 0o7777,
        mtime_ms: mtime_ms(&meta),
        symlink_target,
    })
}

pub(super) fn list_dir(root: &Dir, path: &str, rel: &str) -> Result<Vec<DirEntry>> {
    let op = "fs.list-dir";
    // Follows symlinks (confined to the workspace): listing a link to a
    // directory inside the workspace lists that directory.
    let meta = root.metadata(p(rel)).map_err(|e| map_err(op, path, &e))?;
    if !meta.is_dir() {
        return Err(SandboxError::conflict(op, format!("{path} is not a directory")));
    }
    let dir = root.open_dir(p(rel)).map_err(|e| map_err(op, path, &e))?;
    let mut out = Vec::new();
    for entry in dir.entries().map_err(|e| map_err(op, path, &e))? {
        let entry = entry.map_err(|e| map_err(op, path, &e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let meta = match dir.symlink_metadata(&name) {
            Ok(m) => m,
            // Removed between listing and stat: skip it.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(map_err(op, path, &e)),
        };
        out.push(DirEntry {
            name,
            kind: kind_of(&meta),
            size: meta.size(),
            mode: meta.mode() & 0o7777,
            mtime_ms: mtime_ms(&meta),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

pub(super) fn open_read(root: &Dir, path: &str, rel: &str) -> Result<FileRead> {
    let op = "fs.read-file";
    let meta = root.symlink_metadata(p(rel)).map_err(|e| map_err(op, path, &e))?;
    if meta.is_dir() {
        return Err(SandboxError::conflict(op, format!("{path} is a directory")));
    }
    let file = root.open(p(rel)).map_err(|e| map_err(op, path, &e))?;
    let size = file.metadata().map_err(|e| map_err(op, path, &e))?.len();
    let mut file = file.into_std();
    let content = blocking_stream("fs.read-file", move |w| {
        let copied = io::copy(&mut io::Read::by_ref(&mut file), w)?;
        if copied != size {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the file changed size while it was read"));
        }
        Ok(())
    });
    Ok(FileRead { size, content })
}

pub(super) fn mkdir(root: &Dir, path: &str, rel: &str, parents: bool) -> Result<()> {
    let op = "fs.mkdir";
    if rel.is_empty() {
        return if parents { Ok(()) } else { Err(SandboxError::conflict(op, format!("{path} exists"))) };
    }
    let result = if parents { root.create_dir_all(rel) } else { root.create_dir(rel) };
    result.map_err(|e| map_err(op, path, &e))
}

pub(super) fn remove(root: &Dir, path: &str, rel: &str, recursive: bool) -> Result<()> {
    let op = "fs.remove";
    if rel.is_empty() {
        return Err(SandboxError::denied(op, "the workspace itself cannot be removed"));
    }
    let meta = root.symlink_metadata(rel).map_err(|e| map_err(op, path, &e))?;
    let result = if meta.is_dir() {
        if recursive { root.remove_dir_all(rel) } else { root.remove_dir(rel) }
    } else {
        root.remove_file(rel)
    };
    result.map_err(|e| {
        if e.kind() == io::ErrorKind::DirectoryNotEmpty {
            SandboxError::conflict(op, format!("{path} is a non-empty directory; remove it with recursive"))
        } else {
            map_err(op, path, &e)
        }
    })
}

pub(super) fn rename(root: &Dir, from: (&str, &str), to: (&str, &str)) -> Result<()> {
    let op = "fs.rename";
    if from.1.is_empty() || to.1.is_empty() {
        return Err(SandboxError::denied(op, "the workspace itself cannot be renamed"));
    }
    root.rename(from.1, root, to.1).map_err(|e| map_err(op, from.0, &e))
}

pub(super) fn realpath(root: &Dir, workdir: &str, path: &str, rel: &str) -> Result<String> {
    let resolved: PathBuf = root.canonicalize(p(rel)).map_err(|e| map_err("fs.realpath", path, &e))?;
    let s = resolved.to_string_lossy();
    Ok(if s.is_empty() || s == "." { workdir.to_string() } else { format!("{workdir}/{s}") })
}

pub(super) fn chmod(root: &Dir, path: &str, rel: &str, mode: u32) -> Result<()> {
    let op = "fs.chmod";
    let meta = root.symlink_metadata(p(rel)).map_err(|e| map_err(op, path, &e))?;
    if meta.is_symlink() {
        return Err(SandboxError::invalid(
            op,
            format!("{path} is a symlink; symlinks have no permissions of their own"),
        ));
    }
    root.set_permissions(p(rel), Permissions::from_mode(mode & 0o7777)).map_err(|e| map_err(op, path, &e))
}

/// A file being written to a temporary name beside its target.
pub(super) struct LocalSink {
    pub root: Dir,
    pub path: String,
    pub rel: String,
    pub tmp: String,
    pub file: Option<std::fs::File>,
    pub mode: u32,
    pub exclusive: bool,
}

impl LocalSink {
    pub(super) fn open(root: Dir, path: &str, rel: &str, options: WriteOptions) -> Result<LocalSink> {
        let op = "fs.write-file";
        if rel.is_empty() {
            return Err(SandboxError::conflict(op, format!("{path} is a directory")));
        }
        let (parent, name) = match rel.rfind('/') {
            Some(i) => (&rel[..i], &rel[i + 1..]),
            None => ("", rel),
        };
        if !parent.is_empty() {
            // `metadata` follows a symlinked parent, but only within the
            // workspace; one that leads out is refused by cap-std.
            match root.metadata(parent) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => return Err(SandboxError::conflict(op, format!("the parent of {path} is not a directory"))),
                Err(e) if e.kind() == io::ErrorKind::NotFound && options.create_parents => {
                    root.create_dir_all(parent).map_err(|e| map_err(op, path, &e))?;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(SandboxError::not_found(
                        op,
                        format!("the parent directory of {path} does not exist (set create-parents)"),
                    ));
                }
                Err(e) => return Err(map_err(op, path, &e)),
            }
        }
        match root.symlink_metadata(rel) {
            Ok(m) if m.is_dir() => return Err(SandboxError::conflict(op, format!("{path} is a directory"))),
            Ok(_) if options.exclusive => return Err(SandboxError::conflict(op, format!("{path} already exists"))),
            _ => {}
        }
        let tmp = temp_name(parent, name);
        let file = root
            .open_with(&tmp, OpenOptions::new().write(true).create_new(true))
            .map_err(|e| map_err(op, path, &e))?
            .into_std();
        Ok(LocalSink {
            root,
            path: path.to_string(),
            rel: rel.to_string(),
            tmp,
            file: Some(file),
            mode: options.mode & 0o7777,
            exclusive: options.exclusive,
        })
    }
}

impl Drop for LocalSink {
    fn drop(&mut self) {
        if self.file.is_some() {
            // Not finished: discard.
            let _ = self.root.remove_file(&self.tmp);
        }
    }
}

#[async_trait]
impl FileSink for LocalSink {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        let mut file =
            self.file.take().ok_or_else(|| SandboxError::conflict("fs.write", "the writer is already finished"))?;
        let path = self.path.clone();
        let (file, result) = tokio::task::spawn_blocking(move || {
            let r = file.write_all(&data);
            (file, r)
        })
        .await
        .map_err(|e| SandboxError::backend("fs.write", "internal", e.to_string()))?;
        self.file = Some(file);
        result.map_err(|e| SandboxError::from_io("fs.write", &path, &e))
    }

    async fn finish(mut self: Box<Self>) -> Result<FileStat> {
        let file =
            self.file.take().ok_or_else(|| SandboxError::conflict("fs.write", "the writer is already finished"))?;
        blocking("fs.write-file", move || {
            let op = "fs.write-file";
            let done = (|| -> io::Result<()> {
                file.sync_all()?;
                file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(self.mode))?;
                drop(file);
                if self.exclusive && self.root.symlink_metadata(&self.rel).is_ok() {
                    return Err(io::Error::new(io::ErrorKind::AlreadyExists, "already exists"));
                }
                self.root.rename(&self.tmp, &self.root, &self.rel)
            })();
            if let Err(e) = done {
                let _ = self.root.remove_file(&self.tmp);
                return Err(map_err(op, &self.path, &e));
            }
            stat(&self.root, &self.path, &self.rel)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn escapes_are_told_by_kind_and_errno_not_by_message() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = tmp.path().join("ws");
        std::fs::create_dir(&ws).unwrap();
        std::fs::write(tmp.path().join("secret"), b"s").unwrap();
        std::os::unix::fs::symlink(tmp.path().join("secret"), ws.join("abs")).unwrap();
        std::os::unix::fs::symlink("../secret", ws.join("rel")).unwrap();
        let root = open_root("x", &ws).unwrap();
        for path in ["../secret", "abs", "rel"] {
            let e = root.open(path).unwrap_err();
            assert_eq!(map_err("fs.read-file", path, &e).code, ErrorCode::PermissionDenied, "{path}: {e:?}");
        }
        // A permission the kernel refused is not an escape.
        let kernel = io::Error::from_raw_os_error(libc::EACCES);
        assert_eq!(kernel.kind(), io::ErrorKind::PermissionDenied);
        assert_eq!(map_err("fs.read-file", "a", &kernel).code, ErrorCode::Backend("io".into()));
        // Nor does the wording decide.
        let worded = io::Error::other("a path led outside of the filesystem");
        assert_eq!(map_err("fs.read-file", "a", &worded).code, ErrorCode::Backend("io".into()));
    }
}
