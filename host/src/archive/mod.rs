//! Tar archives that come from untrusted places (guests, snapshots, other
//! sandboxes), made safe before anything is written.
//!
//! The flow is always the same: [`sanitize`] reads an archive member by
//! member, refuses anything that could write outside the destination or
//! exhaust resources, and (on its second pass) writes a *clean* archive that
//! contains only directories, regular files and contained symlinks, with
//! normalized relative names and no owners. Backends only ever unpack clean
//! archives, and still refuse to follow symlinks out of the sandbox while
//! doing so (see [`unpack`]).
//!
//! What is refused, and why:
//! - absolute member names and `..` components (path traversal);
//! - symlinks whose target is absolute or leaves the destination;
//! - members below a symlink member, and members that replace a symlink
//!   member (write-through-symlink attacks);
//! - hard links (their target is a second name that could alias anything),
//!   device nodes, FIFOs and sparse files (sparse-file size bombs);
//! - more members, bigger files or more total content than [`Limits`] allow.

mod excludes;
mod pack;
mod sanitize;
pub(crate) mod unpack;

#[cfg(test)]
mod file_tests;

pub use excludes::Excludes;
pub use pack::pack_dir;
pub use sanitize::{sanitize, sanitize_to_stream};

use std::fmt;
use std::io::Read;

/// Bounds on what an archive may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most members (files, directories, links).
    pub max_members: u64,
    /// Most bytes of file content in total.
    pub max_total_bytes: u64,
    /// Largest single file.
    pub max_file_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_members: 100_000, max_total_bytes: 4 << 30, max_file_bytes: 1 << 30 }
    }
}

/// What a sanitized archive contains.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Regular files.
    pub files: u64,
    /// Directories.
    pub directories: u64,
    /// Symlinks.
    pub symlinks: u64,
    /// Bytes of file content.
    pub bytes: u64,
}

impl Summary {
    /// All members.
    pub fn members(&self) -> u64 {
        self.files + self.directories + self.symlinks
    }
}

/// Why an archive was refused.
#[derive(Debug)]
pub enum ArchiveError {
    /// A member is unsafe or malformed; the message names it.
    Refused(String),
    /// A limit was exceeded; the message names the limit.
    TooLarge(String),
    /// The archive could not be read (corrupt, truncated, I/O).
    Corrupt(String),
    /// Writing the clean archive or unpacking failed.
    Io(std::io::Error),
}

impl fmt::Display for ArchiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArchiveError::Refused(m) => write!(f, "archive refused: {m}"),
            ArchiveError::TooLarge(m) => write!(f, "archive too large: {m}"),
            ArchiveError::Corrupt(m) => write!(f, "archive is corrupt or truncated: {m}"),
            ArchiveError::Io(e) => write!(f, "archive I/O failed: {e}"),
        }
    }
}

impl std::error::Error for ArchiveError {}

impl ArchiveError {
    /// Convert to a sandbox error for operation `op`.
    pub fn into_sandbox_error(self, op: &str) -> crate::error::SandboxError {
        use crate::error::SandboxError;
        match self {
            ArchiveError::Refused(_) => SandboxError::invalid(op, self.to_string()),
            ArchiveError::TooLarge(_) => SandboxError::too_large(op, self.to_string()),
            ArchiveError::Corrupt(_) => SandboxError::invalid(op, self.to_string()),
            ArchiveError::Io(ref e) => SandboxError::from_io(op, "archive", e),
        }
    }
}

/// Archive compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Detect from the magic bytes.
    Auto,
    /// Plain tar.
    Tar,
    /// gzip-compressed tar.
    TarGzip,
}

/// Wrap `input` in a decompressor according to `format`, sniffing the gzip
/// magic for [`Format::Auto`].
pub fn decompress<'a>(format: Format, mut input: impl Read + Send + 'a) -> std::io::Result<Box<dyn Read + Send + 'a>> {
    let mut head = [0u8; 2];
    let mut got = 0;
    while got < head.len() {
        match input.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let gzip = match format {
        Format::TarGzip => true,
        Format::Tar => false,
        Format::Auto => got == 2 && head == [0x1f, 0x8b],
    };
    let input = std::io::Cursor::new(head[..got].to_vec()).chain(input);
    Ok(if gzip { Box::new(flate2::read::MultiGzDecoder::new(input)) } else { Box::new(input) })
}

/// Normalize a member name: relative, `/`-separated, no `.`/`..`/empty
/// components. Returns `None` for the archive root itself (`.` or `./`).
/// A backslash is an ordinary character (archives are only ever extracted
/// on Linux), so a sandbox file named `a\b` can be snapshotted.
pub(crate) fn normalize_member(raw: &[u8]) -> Result<Option<String>, ArchiveError> {
    let name = std::str::from_utf8(raw)
        .map_err(|_| ArchiveError::Refused(format!("member name is not UTF-8: {:?}", String::from_utf8_lossy(raw))))?;
    if name.starts_with('/') {
        return Err(ArchiveError::Refused(format!("absolute member name `{name}`")));
    }
    // A PAX or GNU long name can carry NUL bytes, which a plain header
    // cannot: the tar writer refuses them, so the clean copy would fail half
    // way after the check had passed (and no file system takes them).
    if name.contains('\0') {
        return Err(ArchiveError::Refused(format!("member name {name:?} contains a NUL byte")));
    }
    let mut parts = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(ArchiveError::Refused(format!("member name `{name}` contains `..`"))),
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Ok(None);
    }
    Ok(Some(parts.join("/")))
}

/// Check that a symlink at member path `link` with `target` stays inside the
/// archive root. Returns the target, normalized.
///
/// Only targets of the form `../../a/b` (leading `..` then plain names) are
/// accepted: a `..` after a name could climb out of a directory reached
/// through another symlink, which a lexical check cannot see.
pub(crate) fn check_symlink_target(link: &str, target: &[u8]) -> Result<String, ArchiveError> {
    let t = std::str::from_utf8(target)
        .map_err(|_| ArchiveError::Refused(format!("symlink `{link}` target is not UTF-8")))?;
    if t.is_empty() {
        return Err(ArchiveError::Refused(format!("symlink `{link}` has an empty target")));
    }
    if t.starts_with('/') {
        return Err(ArchiveError::Refused(format!("symlink `{link}` -> `{t}` is absolute")));
    }
    // Likewise a PAX link path: the clean copy could not carry a NUL.
    if t.contains('\0') {
        return Err(ArchiveError::Refused(format!("symlink `{link}` target {t:?} contains a NUL byte")));
    }
    let depth = link.split('/').count() - 1; // directories above the link
    let mut ups = 0usize;
    let mut names: Vec<&str> = Vec::new();
    for part in t.split('/') {
        match part {
            "" | "." => {}
            ".." if names.is_empty() => ups += 1,
            ".." => {
                return Err(ArchiveError::Refused(format!(
                    "symlink `{link}` -> `{t}` climbs (`..`) after a name; only leading `..` are allowed"
                )));
            }
            p => names.push(p),
        }
    }
    if ups > depth {
        return Err(ArchiveError::Refused(format!("symlink `{link}` -> `{t}` points outside the destination")));
    }
    let mut out: Vec<&str> = std::iter::repeat_n("..", ups).collect();
    out.extend(names);
    if out.is_empty() {
        return Ok(".".to_string());
    }
    Ok(out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_are_normalized() {
        assert_eq!(normalize_member(b"./a//b/./c").unwrap().as_deref(), Some("a/b/c"));
        assert_eq!(normalize_member(b"./").unwrap(), None);
        assert_eq!(normalize_member(b".").unwrap(), None);
    }

    #[test]
    fn traversal_and_absolute_names_are_refused() {
        for bad in [&b"../x"[..], b"a/../../x", b"/etc/passwd", b"\xff", b"a\0b"] {
            assert!(normalize_member(bad).is_err(), "{bad:?}");
        }
        // A backslash is just a character on Linux, not a separator.
        assert_eq!(normalize_member(b"a\\..\\b").unwrap().as_deref(), Some("a\\..\\b"));
    }

    #[test]
    fn symlink_targets_must_stay_inside() {
        assert_eq!(check_symlink_target("a/b/link", b"../c").unwrap(), "../c");
        assert_eq!(check_symlink_target("a/link", b"./x/y").unwrap(), "x/y");
        assert_eq!(check_symlink_target("link", b".").unwrap(), ".");
        assert!(check_symlink_target("link", b"../x").is_err());
        assert!(check_symlink_target("a/link", b"../../x").is_err());
        assert!(check_symlink_target("a/link", b"/etc").is_err());
        assert!(check_symlink_target("a/link", b"b/../..").is_err());
        assert!(check_symlink_target("a/link", b"b/..").is_err());
        assert!(check_symlink_target("a/link", b"").is_err());
        assert!(check_symlink_target("a/link", b"b\0c").is_err());
    }

    /// Found by fuzzing (fuzz/corpus/archive/regression-pax-nul-name): a PAX
    /// `path` with a NUL byte passed the check, then writing the clean copy
    /// failed half way, after the caller had been told the archive was fine.
    #[test]
    fn a_nul_in_a_pax_name_is_refused_by_the_check() {
        let mut pax = Vec::new();
        let mut b = tar::Builder::new(&mut pax);
        b.append_pax_extensions([("path", &b"a\0b"[..])]).unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_path("a").unwrap();
        h.set_size(0);
        h.set_cksum();
        b.append(&h, std::io::empty()).unwrap();
        b.into_inner().unwrap();
        let err = sanitize(std::io::Cursor::new(&pax), &Limits::default(), None).unwrap_err();
        assert!(err.to_string().contains("NUL byte"), "{err}");
    }
}
