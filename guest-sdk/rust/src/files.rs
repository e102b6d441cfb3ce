//! Files: whole-file helpers on [`Sandbox`], and streaming readers/writers.

use crate::bindings::openshell::sandbox::fs::{self, ArchiveSource, WriteOptions};
use crate::{ArchiveFormat, DirEntry, ExtractLimits, ExtractSummary, FileStat, Result, Sandbox};

impl Sandbox {
    /// Read a whole file.
    pub fn read(&self, path: &str) -> Result<Vec<u8>> {
        Ok(fs::read_file(&self.0, path, None)?)
    }
    /// Read a whole file as UTF-8 (lossy).
    pub fn read_string(&self, path: &str) -> Result<String> {
        Ok(String::from_utf8_lossy(&self.read(path)?).into_owned())
    }
    /// Write a whole file atomically, creating parent directories.
    pub fn write(&self, path: &str, data: impl AsRef<[u8]>) -> Result<FileStat> {
        let opts = WriteOptions { mode: None, create_parents: true, exclusive: false };
        Ok(fs::write_file(&self.0, path, data.as_ref(), opts)?)
    }
    /// Write with explicit options.
    pub fn write_with(&self, path: &str, data: impl AsRef<[u8]>, mode: Option<u32>, create_parents: bool, exclusive: bool) -> Result<FileStat> {
        Ok(fs::write_file(&self.0, path, data.as_ref(), WriteOptions { mode, create_parents, exclusive })?)
    }
    /// Open a file for reading in pieces.
    pub fn open_read(&self, path: &str) -> Result<Reader> {
        Ok(Reader(fs::open_read(&self.0, path)?))
    }
    /// Open a file for atomic writing in pieces (parents created).
    pub fn open_write(&self, path: &str) -> Result<Writer> {
        let opts = WriteOptions { mode: None, create_parents: true, exclusive: false };
        Ok(Writer(fs::open_write(&self.0, path, opts)?))
    }
    /// List a directory.
    pub fn list_dir(&self, path: &str) -> Result<Vec<DirEntry>> {
        Ok(fs::list_dir(&self.0, path)?)
    }
    /// `lstat`.
    pub fn stat(&self, path: &str) -> Result<FileStat> {
        Ok(fs::stat(&self.0, path)?)
    }
    /// Whether a path exists.
    pub fn exists(&self, path: &str) -> Result<bool> {
        Ok(fs::exists(&self.0, path)?)
    }
    /// `mkdir -p`.
    pub fn mkdir_all(&self, path: &str) -> Result<()> {
        Ok(fs::mkdir(&self.0, path, true)?)
    }
    /// `mkdir`.
    pub fn mkdir(&self, path: &str) -> Result<()> {
        Ok(fs::mkdir(&self.0, path, false)?)
    }
    /// Remove a file or empty directory.
    pub fn remove(&self, path: &str) -> Result<()> {
        Ok(fs::remove(&self.0, path, false)?)
    }
    /// Remove recursively.
    pub fn remove_all(&self, path: &str) -> Result<()> {
        Ok(fs::remove(&self.0, path, true)?)
    }
    /// Rename.
    pub fn rename(&self, from: &str, to: &str) -> Result<()> {
        Ok(fs::rename(&self.0, from, to)?)
    }
    /// Canonical path.
    pub fn realpath(&self, path: &str) -> Result<String> {
        Ok(fs::realpath(&self.0, path)?)
    }
    /// `chmod`.
    pub fn chmod(&self, path: &str, mode: u32) -> Result<()> {
        Ok(fs::chmod(&self.0, path, mode)?)
    }
    /// Unpack an archive held in memory into `dest`.
    pub fn extract_bytes(&self, archive: &[u8], dest: &str, limits: ExtractLimits) -> Result<ExtractSummary> {
        Ok(fs::extract(&self.0, &ArchiveSource::Bytes(archive.to_vec()), dest, ArchiveFormat::Auto, limits)?)
    }
    /// Unpack an archive file in the sandbox into `dest`.
    pub fn extract_file(&self, archive: &str, dest: &str, limits: ExtractLimits) -> Result<ExtractSummary> {
        Ok(fs::extract(&self.0, &ArchiveSource::Path(archive.to_string()), dest, ArchiveFormat::Auto, limits)?)
    }
}

impl Default for ExtractLimits {
    fn default() -> Self {
        ExtractLimits { max_members: None, max_total_bytes: None, max_file_bytes: None }
    }
}

/// Reads a file in pieces.
#[derive(Debug)]
pub struct Reader(fs::FileReader);

impl Reader {
    /// Size when opened.
    pub fn size(&self) -> u64 {
        self.0.size()
    }
    /// Up to `max` bytes; `None` at the end.
    pub fn read_chunk(&self, max: u32) -> Result<Option<Vec<u8>>> {
        Ok(self.0.read(max)?)
    }
}

impl std::io::Read for Reader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let max = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        match self.0.read(max) {
            Ok(Some(data)) => {
                buf[..data.len()].copy_from_slice(&data);
                Ok(data.len())
            }
            Ok(None) => Ok(0),
            Err(e) => Err(std::io::Error::other(crate::Error(e).to_string())),
        }
    }
}

/// Writes a file in pieces; nothing appears until [`Writer::finish`].
#[derive(Debug)]
pub struct Writer(fs::FileWriter);

impl Writer {
    /// Append bytes.
    pub fn write_chunk(&self, data: &[u8]) -> Result<()> {
        Ok(self.0.write(data)?)
    }
    /// Commit atomically.
    pub fn finish(self) -> Result<FileStat> {
        Ok(self.0.finish()?)
    }
}
