//! Replacing a small file whole: readers see the old content or the new,
//! never part of either, and concurrent writers of the same file never
//! share a temporary file (each gets a fresh random name beside the target,
//! so the rename stays on one filesystem).

use std::io::{self, Write};
use std::path::Path;

/// Whether the content must be on disk before the file is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// `fsync` before the rename: the file survives a crash whole.
    Durable,
    /// No `fsync`: cheaper, for files that are rewritten or rebuilt anyway.
    Relaxed,
}

/// Write `data` to `path` through a temporary file in the same directory.
pub(crate) fn write(path: &Path, data: &[u8], durability: Durability) -> io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(data)?;
    if durability == Durability::Durable {
        tmp.as_file().sync_all()?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_writers_do_not_clobber_each_other() {
        // With one fixed temporary name, a writer renames the file another
        // is still writing (a torn result), or finds it gone (ENOENT).
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.json");
        let contents: Vec<Vec<u8>> = (0..4u8).map(|i| vec![b'a' + i; 64 << 10]).collect();
        std::thread::scope(|s| {
            for data in &contents {
                let path = &path;
                s.spawn(move || {
                    for _ in 0..50 {
                        write(path, data, Durability::Relaxed).unwrap();
                        let seen = std::fs::read(path).unwrap();
                        assert!(seen.len() == data.len() && seen.iter().all(|b| *b == seen[0]), "a torn file");
                    }
                });
            }
        });
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["meta.json"], "no temporary file is left behind");
    }

    #[test]
    fn replaces_and_syncs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        write(&path, b"one", Durability::Durable).unwrap();
        write(&path, b"two", Durability::Durable).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
    }
}
