//! Files: read, write, list, stat, make directories, remove, move, extract
//! archives. Paths are absolute or relative to the sandbox's workdir, and
//! the policy's `[fs]` prefixes and limits apply as they do to guests.

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Mode, ToolError};
use crate::interfaces::bindings::openshell::sandbox::fs::{
    self as wit, ArchiveFormat, ArchiveSource, ExtractLimits, FileKind, Host as _, WriteOptions,
};
use crate::mcp::session::Bound;

pub(super) const READ_FILE: &str = "Read a file in the sandbox. Text comes back as is; use `encoding: \"base64\"` \
    for binary files. Fails with too_large past `max_bytes` (default and upper bound: the host policy's).";
pub(super) const WRITE_FILE: &str = "Write a whole file in the sandbox, atomically, replacing it if it exists. \
    Missing parent directories are created unless `create_parents` is false. `content` is text, or base64 with \
    `encoding: \"base64\"`.";
pub(super) const LIST_DIR: &str = "List a directory in the sandbox: each entry's name, kind (file, directory, \
    symlink, other), size, mode and modification time.";
pub(super) const STAT: &str = "Describe a path in the sandbox without following a final symlink: kind, size, mode, \
    modification time and symlink target. Fails with not_found if it does not exist.";
pub(super) const MAKE_DIR: &str = "Create a directory in the sandbox, with its parents unless `parents` is false.";
pub(super) const REMOVE: &str = "Remove a file, symlink or empty directory in the sandbox; a directory with \
    everything in it if `recursive` is true. Symlinks are never followed.";
pub(super) const MOVE: &str = "Move or rename a path in the sandbox.";
pub(super) const EXTRACT_ARCHIVE: &str = "Unpack a tar or tar.gz archive into a directory in the sandbox, from a \
    file already in the sandbox (`path`) or from base64 bytes (`base64`). Members that would escape the \
    destination, devices and links out of it are refused.";

/// How file content travels in JSON.
#[derive(Debug, Default, Clone, Copy, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Encoding {
    /// UTF-8 text.
    #[default]
    Text,
    /// Base64 of the bytes.
    Base64,
}

/// Arguments of read_file.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReadFile {
    /// The file's path.
    path: String,
    /// `text` (default) or `base64`.
    #[serde(default)]
    encoding: Encoding,
    /// Fail if the file is bigger than this many bytes.
    #[serde(default)]
    max_bytes: Option<u64>,
    /// The sandbox (default: this session's).
    #[serde(default)]
    sandbox: Option<String>,
}

pub(super) async fn read_file(b: &mut Bound, a: ReadFile) -> Result<Value, ToolError> {
    let sb = b.sandbox(a.sandbox.as_deref()).await?;
    let data = b.view().read_file(sb, a.path.clone(), a.max_bytes).await?;
    let size = data.len();
    let content = match a.encoding {
        Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(&data),
        Encoding::Text => String::from_utf8(data).map_err(|_| {
            ToolError::Arguments(format!("{} is not UTF-8 text; read it with encoding \"base64\"", a.path))
        })?,
    };
    Ok(json!({ "path": a.path, "size": size, "content": content }))
}

/// Arguments of write_file.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WriteFile {
    /// The file's path.
    path: String,
    /// The new content.
    content: String,
    /// `text` (default) or `base64`.
    #[serde(default)]
    encoding: Encoding,
    /// Permission bits, as a number or an octal string like "0755" (default 0644).
    #[serde(default)]
    mode: Option<Mode>,
    /// Create missing parent directories (default true).
    #[serde(default = "yes")]
    create_parents: bool,
    /// Fail with conflict if the file exists.
    #[serde(default)]
    exclusive: bool,
    /// The sandbox (default: this session's).
    #[serde(default)]
    sandbox: Option<String>,
}

fn yes() -> bool {
    true
}

pub(super) async fn write_file(b: &mut Bound, a: WriteFile) -> Result<Value, ToolError> {
    let data = match a.encoding {
        Encoding::Text => a.content.into_bytes(),
        Encoding::Base64 => base64::engine::general_purpose::STANDARD
            .decode(a.content.as_bytes())
            .map_err(|e| ToolError::Arguments(format!("write_file: content is not valid base64: {e}")))?,
    };
    let mode = a.mode.map(|m| m.bits("write_file")).transpose()?;
    let sb = b.sandbox(a.sandbox.as_deref()).await?;
    let options = WriteOptions { mode, create_parents: a.create_parents, exclusive: a.exclusive };
    let stat = b.view().write_file(sb, a.path, data, options).await?;
    Ok(stat_json(&stat))
}

/// Arguments of list_dir.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListDir {
    /// The directory (default: the workdir).
    #[serde(default = "dot")]
    path: String,
    /// The sandbox (default: this session's).
    #[serde(default)]
    sandbox: Option<String>,
}

fn dot() -> String {
    ".".into()
}

pub(super) async fn list_dir(b: &mut Bound, a: ListDir) -> Result<Value, ToolError> {
    let sb = b.sandbox(a.sandbox.as_deref()).await?;
    let entries = b.view().list_dir(sb, a.path.clone()).await?;
    let entries: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({ "name": e.name, "kind": kind(e.kind), "size": e.size, "mode": format!("{:04o}", e.mode), "mtime_ms": e.mtime_ms })
        })
        .collect();
    Ok(json!({ "path": a.path, "entries": entries }))
}

/// Arguments of stat.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Stat {
    /// The path.
    path: String,
    /// The sandbox (default: this session's).
    #[serde(default)]
    sandbox: Option<String>,
}

pub(super) async fn stat(b: &mut Bound, a: Stat) -> Result<Value, ToolError> {
    let sb = b.sandbox(a.sandbox.as_deref()).await?;
    Ok(stat_json(&b.view().stat(sb, a.path).await?))
}

/// Arguments of make_dir.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MakeDir {
    /// The directory to create.
    path: String,
    /// Create missing parents too, and succeed if it exists (default true).
    #[serde(default = "yes")]
    parents: bool,
    /// The sandbox (default: this session's).
    #[serde(default)]
    sandbox: Option<String>,
}

pub(super) async fn make_dir(b: &mut Bound, a: MakeDir) -> Result<Value, ToolError> {
    let sb = b.sandbox(a.sandbox.as_deref()).await?;
    b.view().mkdir(sb, a.path.clone(), a.parents).await?;
    Ok(json!({ "path": a.path, "created": true }))
}

/// Arguments of remove.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Remove {
    /// The path to remove.
    path: String,
    /// Remove a directory and everything in it.
    #[serde(default)]
    recursive: bool,
    /// The sandbox (default: this session's).
    #[serde(default)]
    sandbox: Option<String>,
}

pub(super) async fn remove(b: &mut Bound, a: Remove) -> Result<Value, ToolError> {
    let sb = b.sandbox(a.sandbox.as_deref()).await?;
    b.view().remove(sb, a.path.clone(), a.recursive).await?;
    Ok(json!({ "path": a.path, "removed": true }))
}

/// Arguments of move.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Move {
    /// The path to move.
    source: String,
    /// Where it goes (an existing file there is replaced).
    destination: String,
    /// The sandbox (default: this session's).
    #[serde(default)]
    sandbox: Option<String>,
}

pub(super) async fn move_path(b: &mut Bound, a: Move) -> Result<Value, ToolError> {
    let sb = b.sandbox(a.sandbox.as_deref()).await?;
    b.view().rename(sb, a.source.clone(), a.destination.clone()).await?;
    Ok(json!({ "source": a.source, "destination": a.destination, "moved": true }))
}

/// Where an archive comes from: exactly one of `path` and `base64`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Source {
    /// An archive file in the sandbox.
    #[serde(default)]
    path: Option<String>,
    /// The archive's bytes, base64.
    #[serde(default)]
    base64: Option<String>,
}

/// An archive's format.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Format {
    /// Decide from the first bytes.
    #[default]
    Auto,
    /// Plain tar.
    Tar,
    /// Gzip-compressed tar.
    TarGzip,
}

/// Arguments of extract_archive.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExtractArchive {
    /// The archive.
    source: Source,
    /// The directory to unpack into (created if missing).
    destination: String,
    /// `auto` (default), `tar` or `tar-gzip`.
    #[serde(default)]
    format: Format,
    /// The sandbox (default: this session's).
    #[serde(default)]
    sandbox: Option<String>,
}

pub(super) async fn extract_archive(b: &mut Bound, a: ExtractArchive) -> Result<Value, ToolError> {
    let source = match (a.source.path, a.source.base64) {
        (Some(p), None) => ArchiveSource::Path(p),
        (None, Some(data)) => {
            ArchiveSource::Bytes(base64::engine::general_purpose::STANDARD.decode(data.as_bytes()).map_err(|e| {
                ToolError::Arguments(format!("extract_archive: source.base64 is not valid base64: {e}"))
            })?)
        }
        _ => {
            return Err(ToolError::Arguments(
                "extract_archive: give exactly one of source.path and source.base64".into(),
            ));
        }
    };
    let format = match a.format {
        Format::Auto => ArchiveFormat::Auto,
        Format::Tar => ArchiveFormat::Tar,
        Format::TarGzip => ArchiveFormat::TarGzip,
    };
    let sb = b.sandbox(a.sandbox.as_deref()).await?;
    let limits = ExtractLimits { max_members: None, max_total_bytes: None, max_file_bytes: None };
    let s = b.view().extract(sb, source, a.destination.clone(), format, limits).await?;
    Ok(json!({
        "destination": a.destination, "files": s.files, "directories": s.directories,
        "symlinks": s.symlinks, "bytes": s.bytes,
    }))
}

fn kind(k: FileKind) -> &'static str {
    match k {
        FileKind::File => "file",
        FileKind::Directory => "directory",
        FileKind::Symlink => "symlink",
        FileKind::Other => "other",
    }
}

fn stat_json(s: &wit::FileStat) -> Value {
    json!({
        "path": s.path, "kind": kind(s.kind), "size": s.size, "mode": format!("{:04o}", s.mode),
        "mtime_ms": s.mtime_ms, "symlink_target": s.symlink_target,
    })
}
