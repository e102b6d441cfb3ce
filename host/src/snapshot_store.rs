//! Where snapshots are kept: a local directory of `<id>.tar` archives with
//! a `<id>.json` description beside each.
//!
//! Archives are written to a temporary file while their SHA-256 is computed,
//! checked (every member must be one a hydrate would accept, so a snapshot
//! that could not be restored is refused when it is taken, not when it is
//! needed), and only then renamed into place. The hash is verified again
//! before every restore.

use std::io::Read;
use std::path::{Path, PathBuf};

use futures::StreamExt;
use sha2::{Digest, Sha256};

use crate::archive::{self, Limits};
use crate::atomic_write::{self, Durability};
use crate::backend::ByteStream;
use crate::error::{Result, SandboxError};

/// A stored snapshot's description.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SnapshotMeta {
    /// Unique id.
    pub id: String,
    /// Hex SHA-256 of the archive.
    pub sha256: String,
    /// Archive size in bytes.
    pub size: u64,
    /// Creation time, ms since the epoch.
    pub created_ms: u64,
    /// Sandbox it was taken from.
    pub sandbox: String,
    /// Directory it was taken of.
    pub root: String,
    /// Exclude patterns used.
    pub excludes: Vec<String>,
    /// Archive members.
    pub entries: u64,
    /// The run that took it.
    pub run: String,
}

/// What the caller knows about a snapshot before it is stored.
#[derive(Debug, Clone)]
pub struct NewSnapshot {
    /// Sandbox name.
    pub sandbox: String,
    /// Root directory.
    pub root: String,
    /// Excludes.
    pub excludes: Vec<String>,
    /// Run id.
    pub run: String,
}

/// A directory of snapshots.
#[derive(Debug, Clone)]
pub struct SnapshotStore {
    dir: PathBuf,
}

impl SnapshotStore {
    /// Open (creating it, mode 0700) the store at `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| {
            SandboxError::backend(
                "snapshot.store",
                "io",
                format!("cannot create the snapshot store {}: {e}", dir.display()),
            )
        })?;
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
        Ok(SnapshotStore { dir })
    }

    /// `$XDG_DATA_HOME/openshell-wasm/snapshots`, else
    /// `~/.local/share/openshell-wasm/snapshots`.
    pub fn default_dir() -> PathBuf {
        crate::dirs::ours(crate::dirs::Base::Data, "snapshots")
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn paths(&self, id: &str) -> (PathBuf, PathBuf) {
        (self.dir.join(format!("{id}.tar")), self.dir.join(format!("{id}.json")))
    }

    /// Store the archive `stream` as a new snapshot. Fails with `too-large`
    /// once more than `max_bytes` arrive (nothing is kept then).
    pub async fn put(&self, mut stream: ByteStream, max_bytes: u64, new: NewSnapshot) -> Result<SnapshotMeta> {
        let op = "snapshot.persist";
        let id = new_id().map_err(|e| SandboxError::from_id(op, &e))?;
        let (tar_path, json_path) = self.paths(&id);
        let tmp = tempfile::Builder::new()
            .prefix(".incoming-")
            .tempfile_in(&self.dir)
            .map_err(|e| SandboxError::backend(op, "io", format!("cannot create a file in the snapshot store: {e}")))?;
        let (file, tmp_path) = tmp.into_parts();
        // Exec output arrives in small events (4 KiB on OpenShell); each
        // write of a tokio file is a trip to the blocking pool, so gather
        // them first.
        let mut file = tokio::io::BufWriter::with_capacity(1 << 20, tokio::fs::File::from_std(file));
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| e.with_operation(op))?;
            size += chunk.len() as u64;
            if size > max_bytes {
                return Err(SandboxError::too_large(
                    op,
                    format!(
                        "the snapshot passed {max_bytes} bytes, the remaining snapshot quota of this run (policy snapshot.quota)"
                    ),
                ));
            }
            hasher.update(&chunk);
            tokio::io::AsyncWriteExt::write_all(&mut file, &chunk)
                .await
                .map_err(|e| SandboxError::backend(op, "io", format!("writing the snapshot failed: {e}")))?;
        }
        tokio::io::AsyncWriteExt::flush(&mut file)
            .await
            .map_err(|e| SandboxError::backend(op, "io", format!("writing the snapshot failed: {e}")))?;
        let file = file.into_inner().into_std().await;
        let sha256 = hex::encode(hasher.finalize());
        // The archive must be on disk before it is reported as taken, and
        // restorable: the sync and the check (reading it back from the page
        // cache) run side by side.
        let synced = tokio::task::spawn_blocking(move || file.sync_all());
        let check_path = tmp_path.to_path_buf();
        let checked = tokio::task::spawn_blocking(move || -> Result<u64> {
            let reader =
                std::fs::File::open(&check_path).map_err(|e| SandboxError::backend(op, "io", e.to_string()))?;
            let limits = Limits { max_members: u64::MAX, max_total_bytes: u64::MAX, max_file_bytes: u64::MAX };
            archive::sanitize(std::io::BufReader::new(reader), &limits, None).map(|s| s.members()).map_err(|e| {
                e.into_sandbox_error(op).context("the sandbox produced an archive that could not be restored")
            })
        });
        let (synced, checked) = tokio::join!(synced, checked);
        let internal = |e: tokio::task::JoinError| SandboxError::backend(op, "internal", e.to_string());
        synced
            .map_err(internal)?
            .map_err(|e| SandboxError::backend(op, "io", format!("syncing the snapshot failed: {e}")))?;
        let entries = checked.map_err(internal)??;
        let meta = SnapshotMeta {
            id: id.clone(),
            sha256,
            size,
            created_ms: crate::backend::local::now_ms(),
            sandbox: new.sandbox,
            root: new.root,
            excludes: new.excludes,
            entries,
            run: new.run,
        };
        tmp_path
            .persist(&tar_path)
            .map_err(|e| SandboxError::backend(op, "io", format!("cannot store the snapshot: {e}")))?;
        let json =
            serde_json::to_vec_pretty(&meta).map_err(|e| SandboxError::backend(op, "internal", e.to_string()))?;
        atomic_write::write(&json_path, &json, Durability::Durable).map_err(|e| {
            let _ = std::fs::remove_file(&tar_path);
            SandboxError::backend(op, "io", format!("cannot store the snapshot's description: {e}"))
        })?;
        Ok(meta)
    }

    /// A snapshot's description.
    pub fn get(&self, id: &str) -> Result<SnapshotMeta> {
        check_id(id)?;
        let (_, json) = self.paths(id);
        let text = std::fs::read(&json).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                SandboxError::not_found("snapshot.get", format!("no snapshot `{id}` in {}", self.dir.display()))
            } else {
                SandboxError::backend("snapshot.get", "io", e.to_string())
            }
        })?;
        serde_json::from_slice(&text).map_err(|e| {
            SandboxError::backend("snapshot.get", "corrupt", format!("{} is not valid: {e}", json.display()))
        })
    }

    /// The archive of snapshot `id`, after checking its hash. A snapshot
    /// whose file was altered or truncated fails here, before anything is
    /// restored from it.
    pub async fn open_verified(&self, id: &str) -> Result<(SnapshotMeta, PathBuf)> {
        let op = "snapshot.hydrate";
        let meta = self.get(id).map_err(|e| e.with_operation(op))?;
        let (tar, _) = self.paths(id);
        let path = tar.clone();
        let expected = meta.clone();
        tokio::task::spawn_blocking(move || -> Result<()> {
            let mut f = std::fs::File::open(&path)
                .map_err(|e| SandboxError::backend(op, "corrupt", format!("the archive of snapshot `{}` is missing: {e}", expected.id)))?;
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; 256 * 1024];
            let mut size = 0u64;
            loop {
                let n = f.read(&mut buf).map_err(|e| SandboxError::backend(op, "io", e.to_string()))?;
                if n == 0 {
                    break;
                }
                size += n as u64;
                hasher.update(&buf[..n]);
            }
            let actual = hex::encode(hasher.finalize());
            if actual != expected.sha256 || size != expected.size {
                return Err(SandboxError::backend(
                    op,
                    "corrupt",
                    format!(
                        "snapshot `{}` is corrupt: its archive hashes to {actual} ({size} bytes) but was stored as {} ({} bytes); nothing was restored",
                        expected.id, expected.sha256, expected.size
                    ),
                ));
            }
            Ok(())
        })
        .await
        .map_err(|e| SandboxError::backend(op, "internal", e.to_string()))??;
        Ok((meta, tar))
    }

    /// All snapshots, newest first.
    pub fn list(&self) -> Result<Vec<SnapshotMeta>> {
        let mut out = Vec::new();
        let entries =
            std::fs::read_dir(&self.dir).map_err(|e| SandboxError::backend("snapshot.list", "io", e.to_string()))?;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(id) = name.strip_suffix(".json")
                && let Ok(meta) = self.get(id)
            {
                out.push(meta);
            }
        }
        out.sort_by(|a, b| b.created_ms.cmp(&a.created_ms).then(b.id.cmp(&a.id)));
        Ok(out)
    }

    /// Delete snapshot `id`.
    pub fn delete(&self, id: &str) -> Result<()> {
        self.get(id).map_err(|e| e.with_operation("snapshot.delete"))?;
        let (tar, json) = self.paths(id);
        std::fs::remove_file(&json).map_err(|e| SandboxError::backend("snapshot.delete", "io", e.to_string()))?;
        let _ = std::fs::remove_file(tar);
        Ok(())
    }
}

fn check_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(SandboxError::invalid("snapshot.get", format!("`{id}` is not a snapshot id")));
    }
    Ok(())
}

/// `snap-<creation time in ms, hex>-<random>`.
fn new_id() -> Result<String, crate::ids::IdError> {
    crate::ids::random_id(&format!("snap-{:x}", crate::backend::local::now_ms()))
}
