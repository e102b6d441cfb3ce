//! Archive safety, tested on real files: sanitize, pack and unpack.

use std::io::Cursor;
use std::path::Path;

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use proptest::prelude::*;

use super::unpack::{clear_dir, unpack_clean};
use super::{ArchiveError, Excludes, Limits, pack_dir, sanitize};

/// A raw tar entry with exactly the name and link bytes given.
fn entry(name: &[u8], kind: u8, link: &[u8], data: &[u8]) -> Vec<u8> {
    let mut h = tar::Header::new_old();
    {
        let raw = h.as_old_mut();
        raw.name[..name.len()].copy_from_slice(name);
        raw.linkname[..link.len()].copy_from_slice(link);
    }
    h.set_mode(0o644);
    h.set_size(data.len() as u64);
    h.set_entry_type(tar::EntryType::new(kind));
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

fn archive(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut out = entries.concat();
    out.extend_from_slice(&[0; 1024]);
    out
}

fn open(path: &Path) -> Dir {
    Dir::open_ambient_dir(path, ambient_authority()).unwrap()
}

fn clean(data: &[u8]) -> Result<(super::Summary, Vec<u8>), ArchiveError> {
    let mut out = Vec::new();
    let s = sanitize(Cursor::new(data), &Limits::default(), Some(&mut out))?;
    Ok((s, out))
}

#[test]
fn a_good_archive_round_trips() {
    let data = archive(&[
        entry(b"./", b'5', b"", b""),
        entry(b"pkg/", b'5', b"", b""),
        entry(b"pkg/a.txt", b'0', b"", b"alpha"),
        entry(b"pkg/deep/er/b.txt", b'0', b"", b"beta"),
        entry(b"pkg/link", b'2', b"a.txt", b""),
        entry(b"pkg/up", b'2', b"../pkg/deep", b""),
    ]);
    let (summary, out) = clean(&data).unwrap();
    assert_eq!((summary.files, summary.directories, summary.symlinks, summary.bytes), (2, 1, 2, 9));
    let tmp = tempfile::tempdir().unwrap();
    let dir = open(tmp.path());
    unpack_clean(Cursor::new(out), &dir).unwrap();
    assert_eq!(std::fs::read_to_string(tmp.path().join("pkg/link")).unwrap(), "alpha");
    assert_eq!(std::fs::read_to_string(tmp.path().join("pkg/up/er/b.txt")).unwrap(), "beta");
    assert_eq!(std::fs::read_link(tmp.path().join("pkg/link")).unwrap(), Path::new("a.txt"));
}

#[test]
fn refused_archives_write_nothing_and_name_the_member() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (archive(&[entry(b"../x", b'0', b"", b"x")]), "contains `..`"),
        (archive(&[entry(b"/etc/x", b'0', b"", b"x")]), "absolute"),
        (archive(&[entry(b"l", b'2', b"/etc", b"")]), "absolute"),
        (archive(&[entry(b"d/l", b'2', b"../../x", b"")]), "outside"),
        (archive(&[entry(b"l", b'2', b"sub", b""), entry(b"l/x", b'0', b"", b"x")]), "below the symlink"),
        (archive(&[entry(b"l", b'2', b"sub", b""), entry(b"l", b'0', b"", b"x")]), "replace the symlink"),
        (archive(&[entry(b"h", b'1', b"/etc/passwd", b"")]), "hard link"),
        (archive(&[entry(b"c", b'3', b"", b"")]), "device"),
        (archive(&[entry(b"p", b'6', b"", b"")]), "FIFO"),
    ];
    for (data, expected) in cases {
        let mut out = Vec::new();
        let err = sanitize(Cursor::new(&data), &Limits::default(), Some(&mut out)).unwrap_err();
        assert!(matches!(err, ArchiveError::Refused(_)), "{err}");
        assert!(err.to_string().contains(expected), "expected {expected:?} in {err}");
    }
}

#[test]
fn sparse_members_are_refused() {
    // Whether the tar reader rejects the header itself or hands us a sparse
    // member, nothing is written.
    let data = archive(&[entry(b"s", b'S', b"", b"")]);
    let mut out = Vec::new();
    let err = sanitize(Cursor::new(&data), &Limits::default(), Some(&mut out)).unwrap_err();
    assert!(matches!(err, ArchiveError::Refused(_) | ArchiveError::Corrupt(_)), "{err}");
}

#[test]
fn limits_are_enforced_before_content_is_read() {
    let many = archive(&(0..11).map(|i| entry(format!("f{i}").as_bytes(), b'0', b"", b"")).collect::<Vec<_>>());
    let limits = Limits { max_members: 10, ..Limits::default() };
    assert!(
        matches!(sanitize(Cursor::new(&many), &limits, None), Err(ArchiveError::TooLarge(m)) if m.contains("max-members"))
    );

    let big = archive(&[entry(b"a", b'0', b"", &[1; 600]), entry(b"b", b'0', b"", &[1; 600])]);
    let limits = Limits { max_total_bytes: 1000, ..Limits::default() };
    assert!(
        matches!(sanitize(Cursor::new(&big), &limits, None), Err(ArchiveError::TooLarge(m)) if m.contains("max-total-bytes"))
    );
    let limits = Limits { max_file_bytes: 500, ..Limits::default() };
    assert!(
        matches!(sanitize(Cursor::new(&big), &limits, None), Err(ArchiveError::TooLarge(m)) if m.contains("max-file-bytes"))
    );

    // A header claiming 10 GiB is refused from the header alone.
    let mut claim = entry(b"huge", b'0', b"", b"");
    let mut h = tar::Header::from_byte_slice(&claim[..512]).clone();
    h.set_size(10 << 30);
    h.set_cksum();
    claim[..512].copy_from_slice(h.as_bytes());
    assert!(matches!(
        sanitize(Cursor::new(archive(&[claim])), &Limits::default(), None),
        Err(ArchiveError::TooLarge(_))
    ));
}

#[test]
fn corrupt_archives_are_reported_as_such() {
    let good = archive(&[entry(b"a", b'0', b"", &[7; 2000])]);
    assert!(matches!(sanitize(Cursor::new(&good[..1000]), &Limits::default(), None), Err(ArchiveError::Corrupt(_))));
    let mut bad_sum = good.clone();
    bad_sum[0] = b'z';
    assert!(matches!(sanitize(Cursor::new(&bad_sum), &Limits::default(), None), Err(ArchiveError::Corrupt(_))));
}

#[test]
fn pack_then_unpack_restores_the_tree_exactly() {
    use std::os::unix::fs::PermissionsExt;
    let src = tempfile::tempdir().unwrap();
    let p = src.path();
    std::fs::create_dir_all(p.join("a/b")).unwrap();
    std::fs::write(p.join("a/file.txt"), "content").unwrap();
    std::fs::write(p.join("a/b/exec.sh"), "#!/bin/sh").unwrap();
    std::fs::set_permissions(p.join("a/b/exec.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(p.join("a/b/secret"), "s").unwrap();
    std::fs::set_permissions(p.join("a/b/secret"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink("file.txt", p.join("a/link")).unwrap();
    std::fs::create_dir_all(p.join("node_modules/x")).unwrap();
    std::fs::write(p.join("node_modules/x/big.js"), "excluded").unwrap();
    std::fs::write(p.join("name with spaces 'and' \"quotes\""), "odd").unwrap();

    let mut tar = Vec::new();
    let excludes = Excludes::new(&["node_modules".to_string()]).unwrap();
    let packed = pack_dir(&open(p), &excludes, &mut tar).unwrap();
    assert_eq!((packed.files, packed.symlinks), (4, 1));
    let (_, cleaned) = clean(&tar).unwrap();
    let dst = tempfile::tempdir().unwrap();
    unpack_clean(Cursor::new(cleaned), &open(dst.path())).unwrap();
    let d = dst.path();
    assert_eq!(std::fs::read_to_string(d.join("a/file.txt")).unwrap(), "content");
    assert_eq!(std::fs::metadata(d.join("a/b/exec.sh")).unwrap().permissions().mode() & 0o777, 0o755);
    assert_eq!(std::fs::metadata(d.join("a/b/secret")).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::read_link(d.join("a/link")).unwrap(), Path::new("file.txt"));
    assert!(!d.join("node_modules").exists());
    assert_eq!(std::fs::read_to_string(d.join("name with spaces 'and' \"quotes\"")).unwrap(), "odd");
}

#[test]
fn unpack_replaces_a_planted_symlink_instead_of_following_it() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("target.txt"), "original").unwrap();
    let dst = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path().join("target.txt"), dst.path().join("victim")).unwrap();
    std::os::unix::fs::symlink(outside.path(), dst.path().join("dirlink")).unwrap();
    let data = archive(&[entry(b"victim", b'0', b"", b"new")]);
    let (_, cleaned) = clean(&data).unwrap();
    unpack_clean(Cursor::new(cleaned), &open(dst.path())).unwrap();
    assert_eq!(std::fs::read_to_string(outside.path().join("target.txt")).unwrap(), "original");
    assert_eq!(std::fs::read_to_string(dst.path().join("victim")).unwrap(), "new");
    assert!(!std::fs::symlink_metadata(dst.path().join("victim")).unwrap().file_type().is_symlink());
    // Writing below a planted directory symlink is refused by cap-std.
    let through = archive(&[entry(b"dirlink/evil.txt", b'0', b"", b"evil")]);
    let err = unpack_clean(Cursor::new(through), &open(dst.path())).unwrap_err();
    assert!(err.to_string().contains("dirlink"), "{err}");
    assert!(!outside.path().join("evil.txt").exists());
}

#[test]
fn clear_dir_keeps_only_what_matches() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path();
    std::fs::create_dir_all(p.join("src/node_modules/m")).unwrap();
    std::fs::write(p.join("src/main.rs"), "x").unwrap();
    std::fs::write(p.join("src/node_modules/m/i.js"), "x").unwrap();
    std::fs::write(p.join("top.txt"), "x").unwrap();
    clear_dir(&open(p), &Excludes::new(&["node_modules".to_string()]).unwrap()).unwrap();
    assert!(p.join("src/node_modules/m/i.js").exists());
    assert!(!p.join("src/main.rs").exists());
    assert!(!p.join("top.txt").exists());
    clear_dir(&open(p), &Excludes::default()).unwrap();
    assert_eq!(std::fs::read_dir(p).unwrap().count(), 0);
}

proptest! {
    /// Whatever the member names and link targets, a clean archive unpacks
    /// only inside its destination.
    #[test]
    fn nothing_lands_outside(
        names in proptest::collection::vec("(\\.\\./|\\./|/|a/|b/|\\.\\.|x|y|l){1,6}", 1..8),
        targets in proptest::collection::vec("(\\.\\./|\\./|/|a/|x|\\.\\.){0,5}", 1..8),
    ) {
        let parent = tempfile::tempdir().unwrap();
        let dst = parent.path().join("dst");
        std::fs::create_dir(&dst).unwrap();
        let mut entries = Vec::new();
        for (i, n) in names.iter().enumerate() {
            if n.len() >= 100 { continue; }
            match i % 3 {
                0 => entries.push(entry(n.as_bytes(), b'0', b"", b"data")),
                1 => entries.push(entry(n.as_bytes(), b'5', b"", b"")),
                _ => {
                    let t = &targets[i % targets.len()];
                    entries.push(entry(n.as_bytes(), b'2', t.as_bytes(), b""));
                }
            }
        }
        let data = archive(&entries);
        if let Ok((_, cleaned)) = clean(&data) {
            let _ = unpack_clean(Cursor::new(cleaned), &open(&dst));
        }
        // Only `dst` may exist in the parent, and nothing in `dst` may be a
        // symlink resolving outside it.
        let siblings: Vec<_> = std::fs::read_dir(parent.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        prop_assert_eq!(siblings, vec![std::ffi::OsString::from("dst")]);
        let root = std::fs::canonicalize(&dst).unwrap();
        let mut stack = vec![dst.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let e = e.unwrap();
                let path = e.path();
                let meta = std::fs::symlink_metadata(&path).unwrap();
                if meta.file_type().is_symlink() {
                    if let Ok(real) = std::fs::canonicalize(&path) {
                        prop_assert!(real.starts_with(&root), "{} -> {}", path.display(), real.display());
                    }
                } else if meta.is_dir() {
                    stack.push(path);
                }
            }
        }
    }
}
