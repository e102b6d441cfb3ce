//! Workspaces: `default` always exists; others can be created and deleted.
//! Requests naming an unknown workspace answer NOT_FOUND "workspace '<w>'
//! not found", which is also what a 0.0 gateway says to a 0.1 client whose
//! `WorkspaceSelector` it reads as a string.

use std::collections::BTreeMap;

use tonic::Status;

use super::model::{DEFAULT_WORKSPACE, Workspace};
use super::{Gateway, ids, page, validate};

/// The `default` workspace's fixed id.
const DEFAULT_ID: &str = "00000000-0000-4000-8000-000000000000";

fn default_workspace() -> Workspace {
    Workspace { id: DEFAULT_ID.into(), name: DEFAULT_WORKSPACE.into(), labels: BTreeMap::new(), created_ms: 0 }
}

fn not_found(name: &str) -> Status {
    Status::not_found(format!("workspace '{name}' not found"))
}

impl Gateway {
    /// CreateWorkspace.
    pub(crate) fn create_workspace(&self, name: &str, labels: BTreeMap<String, String>) -> Result<Workspace, Status> {
        validate::sandbox_name(name)?;
        validate::labels(&labels)?;
        self.mutate(|reg| {
            if reg.has_workspace(name) {
                return Err(Status::already_exists(format!("workspace '{name}' already exists")));
            }
            let workspace = Workspace { id: ids::uuid_v4(), name: name.into(), labels, created_ms: ids::now_ms() };
            reg.workspaces.insert(name.into(), workspace.clone());
            Ok(workspace)
        })
    }

    /// GetWorkspace.
    pub(crate) fn get_workspace(&self, name: &str) -> Result<Workspace, Status> {
        if name == DEFAULT_WORKSPACE {
            return Ok(default_workspace());
        }
        self.read(|reg| reg.workspaces.get(name).cloned().ok_or_else(|| not_found(name)))
    }

    /// ListWorkspaces, `default` first.
    pub(crate) fn list_workspaces(
        &self,
        selector: &str,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<Workspace>, bool), Status> {
        let selector = validate::label_selector(selector)?;
        let all = self.read(|reg| {
            std::iter::once(default_workspace())
                .chain(reg.workspaces.values().cloned())
                .filter(|w| selector.iter().all(|(k, v)| w.labels.get(k) == Some(v)))
                .collect()
        });
        Ok(page(all, offset, limit))
    }

    /// DeleteWorkspace: `Ok(false)` when absent and `allow_missing`.
    pub(crate) fn delete_workspace(&self, name: &str, allow_missing: bool) -> Result<bool, Status> {
        if name == DEFAULT_WORKSPACE {
            return Err(Status::failed_precondition("the default workspace cannot be deleted"));
        }
        self.mutate(|reg| {
            if !reg.workspaces.contains_key(name) {
                return if allow_missing { Ok(false) } else { Err(not_found(name)) };
            }
            if reg.sandboxes.values().any(|s| s.workspace == name) {
                return Err(Status::failed_precondition(format!("workspace '{name}' still has sandboxes")));
            }
            reg.workspaces.remove(name);
            Ok(true)
        })
    }
}
