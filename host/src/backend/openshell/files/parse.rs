//! The file scripts' output: NUL-separated fields (file names may hold
//! any byte but `/` and NUL), numbers as `find -printf` prints them.

use crate::backend::{DirEntry, FileKind, FileStat};

pub(super) fn split_nul(b: &[u8]) -> Vec<&[u8]> {
    let mut v: Vec<&[u8]> = b.split(|c| *c == 0).collect();
    if v.last().is_some_and(|l| l.is_empty()) {
        v.pop();
    }
    v
}

pub(super) fn num(b: &[u8]) -> Option<u64> {
    std::str::from_utf8(b).ok()?.trim().parse().ok()
}

fn octal(b: &[u8]) -> Option<u32> {
    u32::from_str_radix(std::str::from_utf8(b).ok()?.trim(), 8).ok().map(|m| m & 0o7777)
}

fn mtime(b: &[u8]) -> Option<i64> {
    let secs: f64 = std::str::from_utf8(b).ok()?.trim().parse().ok()?;
    Some((secs * 1000.0) as i64)
}

fn kind(b: &[u8]) -> FileKind {
    match b {
        b"f" => FileKind::File,
        b"d" => FileKind::Directory,
        b"l" => FileKind::Symlink,
        _ => FileKind::Other,
    }
}

/// Parse a listing: `name\0type\0size\0mode\0mtime\0` per entry; sorted by
/// name.
pub(crate) fn parse_list(out: &[u8]) -> Option<Vec<DirEntry>> {
    let fields: Vec<&[u8]> = split_nul(out);
    if !fields.len().is_multiple_of(5) {
        return None;
    }
    let mut entries = Vec::new();
    for f in fields.chunks(5) {
        entries.push(DirEntry {
            name: String::from_utf8_lossy(f[0]).into_owned(),
            kind: kind(f[1]),
            size: num(f[2])?,
            mode: octal(f[3])?,
            mtime_ms: mtime(f[4])?,
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Some(entries)
}

/// Parse `type\0size\0mode\0mtime\0target\0`.
pub(crate) fn parse_stat(path: &str, out: &[u8]) -> Option<FileStat> {
    let f = split_nul(out);
    // A symlink-free stat ends with an empty target field.
    if f.len() < 4 {
        return None;
    }
    let k = kind(f[0]);
    Some(FileStat {
        path: path.to_string(),
        kind: k,
        size: num(f[1])?,
        mode: octal(f[2])?,
        mtime_ms: mtime(f[3])?,
        symlink_target: (k == FileKind::Symlink)
            .then(|| f.get(4).map(|t| String::from_utf8_lossy(t).into_owned()).unwrap_or_default()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_output_is_parsed() {
        let s = parse_stat("/sandbox/a", b"f\x0012\x00644\x001700000000.5000000000\x00\x00").unwrap();
        assert_eq!((s.kind, s.size, s.mode, s.mtime_ms), (FileKind::File, 12, 0o644, 1_700_000_000_500));
        assert_eq!(s.symlink_target, None);
        let l = parse_stat("/sandbox/l", b"l\x005\x00777\x001.0\x00a\nb c\x00").unwrap();
        assert_eq!(l.symlink_target.as_deref(), Some("a\nb c"));
        assert!(parse_stat("/x", b"garbage").is_none());
    }
}
