//! `snapshot`: tar snapshots of sandbox directories, kept in the host's
//! snapshot store, under the policy's grants and quota.

use wasmtime::component::Resource;

use super::bindings::openshell::sandbox::snapshot;
use super::{CallResult, SandboxCtxView, SandboxHandle, convert};
use crate::archive::{self, Excludes};
use crate::error::SandboxError;
use crate::snapshot_store::NewSnapshot;

impl snapshot::Host for SandboxCtxView<'_> {
    async fn persist(
        &mut self,
        sandbox: Resource<SandboxHandle>,
        root: String,
        excludes: Vec<String>,
    ) -> CallResult<snapshot::SnapshotInfo> {
        let op = "snapshot.persist";
        let policy = self.ctx.policy.clone();
        if !policy.snapshot.persist {
            return Err(SandboxError::denied(op, "this guest may not take snapshots (policy snapshot.persist)").into());
        }
        if !self.ctx.backend.features().snapshots {
            return Err(SandboxError::unsupported(op, "this backend cannot take snapshots").into());
        }
        let count = self.ctx.own_snapshots.len() as u32;
        if count >= policy.snapshot.max_count {
            return Err(SandboxError::too_large(
                op,
                format!("this run already took {count} snapshots (policy snapshot.max-count)"),
            )
            .into());
        }
        Excludes::new(&excludes).map_err(|m| SandboxError::invalid(op, m))?;
        let sb = self.sandbox_of(&sandbox)?;
        let root = self.ctx.resolve(sb.info(), &root, false, op)?;
        let remaining = policy.snapshot.quota_bytes.saturating_sub(self.ctx.snapshot_bytes);
        let stream = sb.export_tar(&root, &excludes).await.map_err(|e| e.with_operation(op))?;
        let meta = self
            .ctx
            .snapshots
            .put(
                stream,
                remaining,
                NewSnapshot { sandbox: sb.info().name.clone(), root, excludes, run: self.ctx.run_id.clone() },
            )
            .await?;
        self.ctx.snapshot_bytes += meta.size;
        self.ctx.own_snapshots.insert(meta.id.clone());
        tracing::info!(run = %self.ctx.run_id, snapshot = %meta.id, bytes = meta.size, entries = meta.entries, "snapshot persisted");
        Ok(convert::snapshot_info(meta))
    }

    async fn hydrate(
        &mut self,
        sandbox: Resource<SandboxHandle>,
        id: String,
        root: String,
        mode: snapshot::HydrateMode,
    ) -> CallResult<()> {
        let op = "snapshot.hydrate";
        if !self.ctx.policy.snapshot.hydrate {
            return Err(
                SandboxError::denied(op, "this guest may not restore snapshots (policy snapshot.hydrate)").into()
            );
        }
        let sb = self.sandbox_of(&sandbox)?;
        let root = self.ctx.resolve(sb.info(), &root, true, op)?;
        let (meta, path) = self.ctx.snapshots.open_verified(&id).await?;
        let open = move || -> std::io::Result<Box<dyn std::io::Read + Send>> {
            Ok(Box::new(std::io::BufReader::new(std::fs::File::open(&path)?)))
        };
        let limits = archive::Limits {
            max_members: u64::MAX,
            max_total_bytes: u64::MAX,
            max_file_bytes: self.ctx.policy.fs.max_write_bytes,
        };
        let (_, stream) = archive::sanitize_to_stream(open, archive::Format::Tar, limits)
            .await
            .map_err(|e| e.into_sandbox_error(op))?;
        let clear = match mode {
            snapshot::HydrateMode::Replace => Some(meta.excludes.as_slice()),
            snapshot::HydrateMode::Merge => None,
        };
        sb.import_tar(&root, stream, clear).await.map_err(|e| e.with_operation(op))?;
        Ok(())
    }

    async fn list_snapshots(&mut self) -> CallResult<Vec<snapshot::SnapshotInfo>> {
        if !self.ctx.policy.snapshot.list {
            return Err(SandboxError::denied(
                "snapshot.list",
                "this guest may not list snapshots (policy snapshot.list)",
            )
            .into());
        }
        Ok(self.ctx.snapshots.list()?.into_iter().map(convert::snapshot_info).collect())
    }

    async fn delete(&mut self, id: String) -> CallResult<()> {
        let op = "snapshot.delete";
        if !self.ctx.own_snapshots.contains(&id) && !self.ctx.policy.snapshot.delete_any {
            return Err(SandboxError::denied(
                op,
                format!("snapshot `{id}` was not taken by this run (policy snapshot.delete-any)"),
            )
            .into());
        }
        self.ctx.snapshots.delete(&id)?;
        self.ctx.own_snapshots.remove(&id);
        Ok(())
    }
}
