//! Backends: where sandboxes actually live.
//!
//! A [`Backend`] creates, finds and deletes sandboxes; the [`Sandbox`] it
//! opens for one runs commands in it and moves files and tar archives in
//! and out. It speaks only the plain types
//! in [`types`]; the guest-facing layer (`interfaces`) does policy checks,
//! path normalization, output caps and error attribution on top, so a
//! backend implements mechanism, never policy.
//!
//! Two backends ship: [`local`] (bubblewrap on this machine, the default)
//! and `openshell` (a gateway's gRPC API).

pub mod local;
pub mod openshell;
pub mod types;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::{Result, SandboxError};
pub use types::*;

/// A file being written: bytes go in with [`FileSink::write`], and nothing
/// is visible at the target until [`FileSink::finish`] succeeds. Dropping a
/// sink without finishing discards what was written.
#[async_trait]
pub trait FileSink: Send {
    /// Append bytes.
    async fn write(&mut self, data: Bytes) -> Result<()>;
    /// Verify, move into place, and return the new file's metadata.
    async fn finish(self: Box<Self>) -> Result<FileStat>;
}

/// A place where sandboxes live: their lifecycle. What runs inside one
/// goes through the [`Sandbox`] that [`Backend::open`] returns. See the
/// module docs.
#[async_trait]
pub trait Backend: Send + Sync + std::fmt::Debug + 'static {
    /// Short name: `local` or `openshell`.
    fn name(&self) -> &'static str;

    /// What this backend can do.
    fn features(&self) -> Features;

    /// Create a sandbox and wait until it is ready (within
    /// `spec.ready_timeout`). A sandbox that fails to become ready is
    /// deleted before the error is returned.
    async fn create(&self, spec: &SandboxSpec) -> Result<SandboxInfo>;

    /// Look a sandbox up by name.
    async fn get(&self, name: &str) -> Result<SandboxInfo>;

    /// List sandboxes, optionally only those carrying all `labels`.
    async fn list(&self, labels: &[(String, String)]) -> Result<Vec<SandboxInfo>>;

    /// Delete a sandbox and wait until it is gone. Deleting a sandbox that
    /// does not exist fails with `not-found`.
    async fn delete(&self, name: &str) -> Result<()>;

    /// Bind to one sandbox: what every operation on it needs (its
    /// layout, its session channel) is derived here once and held by the
    /// returned handle. Opening does not check that the sandbox still
    /// exists; operations on one that is gone fail with `not-found`.
    fn open(&self, sandbox: &SandboxInfo) -> Arc<dyn Sandbox>;
}

/// One sandbox's commands, files, archives and network, opened with
/// [`Backend::open`].
///
/// Every path given to a sandbox is absolute and already normalized and
/// checked against the host policy; implementations still confine what they
/// touch to the sandbox (symlinks must not lead out of it).
#[async_trait]
pub trait Sandbox: Send + Sync + std::fmt::Debug + 'static {
    /// The sandbox as it was when opened.
    fn info(&self) -> &SandboxInfo;

    /// Start a command. Output, the exit status and failures arrive on
    /// [`ExecSession::events`].
    async fn exec(&self, request: ExecRequest) -> Result<ExecSession>;

    /// Open a file for reading.
    async fn read_file(&self, path: &str) -> Result<FileRead>;

    /// Open a file for atomic writing.
    async fn write_file(&self, path: &str, options: WriteOptions) -> Result<Box<dyn FileSink>>;

    /// `lstat`.
    async fn stat(&self, path: &str) -> Result<FileStat>;

    /// Directory listing, sorted by name.
    async fn list_dir(&self, path: &str) -> Result<Vec<DirEntry>>;

    /// `mkdir` / `mkdir -p`.
    async fn mkdir(&self, path: &str, parents: bool) -> Result<()>;

    /// Remove a path (recursively if asked); symlinks are never followed.
    async fn remove(&self, path: &str, recursive: bool) -> Result<()>;

    /// `rename`.
    async fn rename(&self, from: &str, to: &str) -> Result<()>;

    /// `realpath -e`.
    async fn realpath(&self, path: &str) -> Result<String>;

    /// `chmod`.
    async fn chmod(&self, path: &str, mode: u32) -> Result<()>;

    /// Stream a tar archive of `root` (member names relative to `root`),
    /// leaving out paths that match `excludes` (see `archive::Excludes`).
    async fn export_tar(&self, root: &str, excludes: &[String]) -> Result<ByteStream>;

    /// Unpack a tar archive into `root`, creating it if missing. The host has
    /// already validated and normalized every member (`archive::sanitize`);
    /// implementations still refuse to write through symlinks.
    ///
    /// With `clear_except = Some(excludes)`, everything in `root` that does
    /// not match `excludes` is removed first, so the result is exactly the
    /// archive (plus the excluded paths).
    async fn import_tar(&self, root: &str, archive: ByteStream, clear_except: Option<&[String]>) -> Result<()>;

    /// The sandbox's network policy.
    async fn network_policy(&self) -> Result<PolicyStatus> {
        Err(unsupported(&self.info().backend, "network.get-policy", "network policies"))
    }

    /// Replace the sandbox's network rules.
    async fn update_network_policy(&self, rules_yaml: &str) -> Result<PolicyStatus> {
        let _ = rules_yaml;
        Err(unsupported(&self.info().backend, "network.update-policy", "network policies"))
    }

    /// Expose a port.
    async fn expose_port(&self, port: u16, name: &str) -> Result<ExposedPort> {
        let _ = (port, name);
        Err(unsupported(&self.info().backend, "network.expose-port", "exposed ports"))
    }

    /// The sandbox's draft policy chunks of `status` (empty: all).
    async fn draft_chunks(&self, status: &str) -> Result<Vec<DraftChunk>> {
        let _ = status;
        Err(unsupported(&self.info().backend, "network.draft-policy", "draft policies"))
    }

    /// Approve (merging its rule into the policy) or reject a draft chunk.
    async fn decide_draft(&self, chunk_id: &str, approve: bool, reason: &str) -> Result<()> {
        let _ = (chunk_id, approve, reason);
        Err(unsupported(&self.info().backend, "network.draft-policy", "draft policies"))
    }

    /// The credential providers attached to the sandbox.
    async fn providers(&self) -> Result<Vec<ProviderInfo>> {
        Err(unsupported(&self.info().backend, "providers.list-providers", "credential providers"))
    }

    /// Attach a provider; false when it already was.
    async fn attach_provider(&self, name: &str) -> Result<bool> {
        let _ = name;
        Err(unsupported(&self.info().backend, "providers.attach", "credential providers"))
    }

    /// Detach a provider; false when it was not attached.
    async fn detach_provider(&self, name: &str) -> Result<bool> {
        let _ = name;
        Err(unsupported(&self.info().backend, "providers.detach", "credential providers"))
    }
}

fn unsupported(backend: &str, op: &str, what: &str) -> SandboxError {
    SandboxError::unsupported(op, format!("the {backend} backend has no {what}"))
}
