//! Snapshots: persist a directory of the sandbox to the host's snapshot
//! store, restore one into a sandbox, list them.

use serde::Deserialize;
use serde_json::{Value, json};

use super::ToolError;
use crate::interfaces::bindings::openshell::sandbox::snapshot::{self as wit, Host as _, HydrateMode};
use crate::mcp::session::Bound;

pub(super) const PERSIST: &str = "Save a directory of the sandbox (default: the workdir) as a snapshot in the \
    host's snapshot store, leaving out paths matching `excludes` (globs such as \"node_modules\" or \"*.pyc\"). \
    Returns the snapshot's id, which snapshot_hydrate takes.";
pub(super) const HYDRATE: &str = "Restore a snapshot into a directory of the sandbox. `replace` (default) makes the \
    directory exactly the snapshot (keeping only excluded paths); `merge` writes the snapshot's files over what is \
    there.";
pub(super) const LIST: &str = "List the snapshots in the host's snapshot store.";

/// Arguments of snapshot_persist.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Persist {
    /// The directory to save (default: the workdir).
    #[serde(default = "dot")]
    root: String,
    /// Globs of paths to leave out.
    #[serde(default)]
    excludes: Vec<String>,
    /// The sandbox (default: this session's).
    #[serde(default)]
    sandbox: Option<String>,
}

fn dot() -> String {
    ".".into()
}

pub(super) async fn persist(b: &mut Bound, a: Persist) -> Result<Value, ToolError> {
    let sb = b.sandbox(a.sandbox.as_deref()).await?;
    Ok(info_json(&b.view().persist(sb, a.root, a.excludes).await?))
}

/// How a snapshot is restored.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Mode {
    /// The directory becomes exactly the snapshot.
    #[default]
    Replace,
    /// The snapshot's files are written over the directory.
    Merge,
}

/// Arguments of snapshot_hydrate.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Hydrate {
    /// The snapshot's id.
    id: String,
    /// The directory to restore into (default: the workdir).
    #[serde(default = "dot")]
    root: String,
    /// `replace` (default) or `merge`.
    #[serde(default)]
    mode: Mode,
    /// The sandbox (default: this session's).
    #[serde(default)]
    sandbox: Option<String>,
}

pub(super) async fn hydrate(b: &mut Bound, a: Hydrate) -> Result<Value, ToolError> {
    let mode = match a.mode {
        Mode::Replace => HydrateMode::Replace,
        Mode::Merge => HydrateMode::Merge,
    };
    let sb = b.sandbox(a.sandbox.as_deref()).await?;
    b.view().hydrate(sb, a.id.clone(), a.root.clone(), mode).await?;
    Ok(json!({ "id": a.id, "root": a.root, "hydrated": true }))
}

/// Arguments of snapshot_list (none).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListSnapshots {}

pub(super) async fn list(b: &mut Bound, _: ListSnapshots) -> Result<Value, ToolError> {
    let all = b.view().list_snapshots().await?;
    Ok(json!({ "snapshots": all.iter().map(info_json).collect::<Vec<_>>() }))
}

fn info_json(s: &wit::SnapshotInfo) -> Value {
    json!({
        "id": s.id, "sha256": s.sha256, "size": s.size, "created_ms": s.created_ms, "sandbox": s.sandbox,
        "root": s.root, "excludes": s.excludes, "entries": s.entries,
    })
}
