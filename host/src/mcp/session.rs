//! One MCP session's sandboxes. A session binds its sandbox on first use
//! the way a run does (fresh and labelled with the session's id, or the
//! one named with `--sandbox`), drives it through the same host functions a
//! guest calls (so the policy applies unchanged), and deletes what it
//! created when the session ends.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{MappedMutexGuard, MutexGuard};
use wasmtime::component::{Resource, ResourceTable};

use super::ToolError;
use crate::backend::{RUN_LABEL, SandboxInfo};
use crate::interfaces::bindings::openshell::sandbox::lifecycle;
use crate::interfaces::{ProcessHandle, SandboxCtx, SandboxCtxView, SandboxHandle};
use crate::runtime::cleanup::{Cleanup, delete_with_retry};
use crate::runtime::{Host, SandboxTarget};

/// A session: its id (the run label of what it creates) and its state.
pub(crate) struct Session {
    host: Arc<Host>,
    id: String,
    target: SandboxTarget,
    keep: bool,
    state: tokio::sync::Mutex<State>,
    /// Bindings begun and finished: a difference means one was cut off
    /// (its call was cancelled) and may have left a labelled sandbox.
    binds_started: AtomicU32,
    binds_done: AtomicU32,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("id", &self.id).finish_non_exhaustive()
    }
}

enum State {
    Unbound,
    Bound(Box<Bound>),
    Closed,
}

/// A bound session: the sandbox interfaces' state and what the session
/// holds in it.
pub(crate) struct Bound {
    ctx: SandboxCtx,
    table: ResourceTable,
    current: String,
    handles: HashMap<String, Resource<SandboxHandle>>,
    /// Commands started with `exec_command`, by id.
    pub(crate) processes: BTreeMap<u32, Resource<ProcessHandle>>,
    cleanup: Cleanup,
}

impl Bound {
    /// The view the host functions run on.
    pub(crate) fn view(&mut self) -> SandboxCtxView<'_> {
        SandboxCtxView { ctx: &mut self.ctx, table: &mut self.table }
    }

    /// The session's sandbox.
    pub(crate) fn current(&self) -> &SandboxInfo {
        self.ctx.current()
    }

    /// A handle to the sandbox `name` (`None`: the session's own), attached
    /// under the policy's `sandbox.attach` on first use.
    pub(crate) async fn sandbox(&mut self, name: Option<&str>) -> Result<Resource<SandboxHandle>, ToolError> {
        let name = name.unwrap_or(&self.current).to_string();
        if !self.handles.contains_key(&name) {
            let handle = lifecycle::Host::attach(&mut self.view(), name.clone()).await?;
            self.handles.insert(name.clone(), handle);
        }
        Ok(Resource::new_borrow(self.handles[&name].rep()))
    }

    /// Remember a handle `lifecycle` returned for `name`.
    pub(crate) fn adopt(&mut self, name: String, handle: Resource<SandboxHandle>) {
        self.handles.insert(name, handle);
    }

    /// Forget the handle to a deleted sandbox.
    pub(crate) fn forget(&mut self, name: &str) -> Option<Resource<SandboxHandle>> {
        self.handles.remove(name)
    }
}

impl Session {
    pub(crate) fn new(host: Arc<Host>, id: String, target: SandboxTarget, keep: bool) -> Self {
        Session {
            host,
            id,
            target,
            keep,
            state: tokio::sync::Mutex::new(State::Unbound),
            binds_started: AtomicU32::new(0),
            binds_done: AtomicU32::new(0),
        }
    }

    /// The session's id (the run label of its sandboxes).
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// The bound state, binding the session's sandbox first if this is
    /// its first use. Calls of one session run one at a time.
    pub(crate) async fn lock(&self) -> Result<MappedMutexGuard<'_, Bound>, ToolError> {
        let mut state = self.state.lock().await;
        if matches!(*state, State::Unbound) {
            self.binds_started.fetch_add(1, Ordering::SeqCst);
            let bound = self.bind().await?;
            self.binds_done.fetch_add(1, Ordering::SeqCst);
            *state = State::Bound(Box::new(bound));
        }
        MutexGuard::try_map(state, |s| match s {
            State::Bound(b) => Some(&mut **b),
            State::Unbound | State::Closed => None,
        })
        .map_err(|_| ToolError::Closed)
    }

    async fn bind(&self) -> Result<Bound, ToolError> {
        let (info, owned) = self
            .host
            .bind_sandbox(&self.target, &self.id)
            .await
            .map_err(|e| e.context("binding the session's sandbox"))?;
        let created = Arc::new(Mutex::new(Vec::new()));
        // From here on, the sandbox is deleted on every path out.
        let cleanup = Cleanup {
            backend: self.host.backend.clone(),
            main: owned.then(|| info.name.clone()),
            created: created.clone(),
            keep: self.keep,
            done: false,
        };
        let ctx = self.host.sandbox_ctx(info.clone(), &self.id, "mcp", owned, created)?;
        tracing::info!(session = %self.id, sandbox = %info.name, owned, "MCP session bound its sandbox");
        let mut bound = Bound {
            ctx,
            table: ResourceTable::new(),
            current: info.name.clone(),
            handles: HashMap::new(),
            processes: BTreeMap::new(),
            cleanup,
        };
        let handle =
            lifecycle::Host::current(&mut bound.view()).await.map_err(|e| ToolError::Host(format!("{e:#}")))?;
        bound.handles.insert(info.name, handle);
        Ok(bound)
    }

    /// End the session: stop its commands and delete the sandboxes it
    /// created (unless kept). Returns what could not be deleted. Closing
    /// twice is harmless.
    pub(crate) async fn close(&self) -> Vec<String> {
        let state = std::mem::replace(&mut *self.state.lock().await, State::Closed);
        let mut errors = Vec::new();
        if let State::Bound(bound) = state {
            let Bound { ctx, table, handles, processes, cleanup, .. } = *bound;
            // Dropping the table ends the session's commands before their
            // sandboxes go.
            drop((processes, handles, table, ctx));
            errors = cleanup.run().await;
        }
        if !self.keep && self.binds_started.load(Ordering::SeqCst) != self.binds_done.load(Ordering::SeqCst) {
            errors.extend(self.delete_labelled().await);
        }
        for e in &errors {
            tracing::error!(session = %self.id, "{e}");
        }
        errors
    }

    /// Delete sandboxes labelled with this session's id: what a cancelled
    /// creation left behind.
    async fn delete_labelled(&self) -> Vec<String> {
        let backend = &self.host.backend;
        let found = match backend.list(&[(RUN_LABEL.to_string(), self.id.clone())]).await {
            Ok(found) => found,
            Err(e) => {
                return vec![format!(
                    "could not look for sandboxes of session {} ({RUN_LABEL}={}): {e}; remove them with `openshell-wasm sandbox sweep`",
                    self.id, self.id
                )];
            }
        };
        let mut errors = Vec::new();
        for s in found {
            if let Err(e) = delete_with_retry(&**backend, &s.name).await {
                errors.push(format!(
                    "could not delete sandbox `{}`: {e}; remove it with `openshell-wasm sandbox delete {}`",
                    s.name, s.name
                ));
            }
        }
        errors
    }
}
