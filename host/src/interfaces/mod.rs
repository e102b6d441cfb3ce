//! The host side of the `openshell:sandbox` WIT package: one module per
//! interface, implemented on [`SandboxCtxView`], a borrowed view of the
//! per-store [`SandboxCtx`] and the store's `ResourceTable`.
//!
//! Every call follows the same steps: check the host policy, normalize
//! paths and clamp limits, call the [`Backend`], and convert the result
//! (conversions live in `convert`). Generated binding types never leave
//! the crate: the MCP server (`mcp`) calls the same functions a guest does.
//!
//! ```no_run
//! # async fn demo() -> wasmtime::Result<()> {
//! use std::sync::Arc;
//! use openshell_wasm::interfaces::{self, SandboxCtx, SandboxCtxView, SandboxView};
//! use openshell_wasm::backend::local::LocalBackend;
//! use openshell_wasm::backend::{Backend, SandboxSpec};
//! use wasmtime::component::{Linker, ResourceTable};
//!
//! struct MyState { sandbox: SandboxCtx, table: ResourceTable }
//! impl SandboxView for MyState {
//!     fn sandbox(&mut self) -> SandboxCtxView<'_> {
//!         SandboxCtxView { ctx: &mut self.sandbox, table: &mut self.table }
//!     }
//! }
//!
//! let engine = wasmtime::Engine::default();
//! let mut linker: Linker<MyState> = Linker::new(&engine);
//! // Link only our interfaces (the embedder links WASI itself):
//! interfaces::add_only_sandbox_to_linker(&mut linker)?;
//!
//! let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(LocalBackend::default_root())?);
//! let current = backend.create(&SandboxSpec::default()).await?;
//! let ctx = SandboxCtx::builder(backend, current).build()?;
//! # let _ = ctx; Ok(()) }
//! ```

mod access;
mod convert;
mod fs;
mod lifecycle;
mod log;
mod model;
mod network;
mod process;
mod providers;
mod sandbox;
mod snapshot;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use wasmtime::component::{HasData, Linker, ResourceTable, ResourceTableError};

use crate::approvals::ApprovalStore;
use crate::backend::{Backend, Sandbox, SandboxInfo};
use crate::egress::Connector;
use crate::error::SandboxError;
use crate::model::ModelCtx;
use crate::policy::{Policy, paths};
use crate::snapshot_store::SnapshotStore;

pub use self::fs::{ReaderHandle, WriterHandle};
pub use self::model::ModelStreamHandle;
pub use self::process::ProcessHandle;
pub use self::sandbox::SandboxHandle;

pub(crate) mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "openshell:sandbox/agent",
        imports: { default: async | trappable | tracing },
        exports: { default: async },
        // Not `Eq`: model requests carry an `f32` temperature.
        additional_derives: [PartialEq],
        with: {
            "openshell:sandbox/types.sandbox": super::SandboxHandle,
            "openshell:sandbox/process.process": super::ProcessHandle,
            "openshell:sandbox/fs.file-reader": super::ReaderHandle,
            "openshell:sandbox/fs.file-writer": super::WriterHandle,
            "openshell:sandbox/model.completion-stream": super::ModelStreamHandle,
        },
        trappable_error_type: {
            "openshell:sandbox/types.error" => super::CallError,
        },
    });
}

pub(crate) use bindings::{Agent, AgentPre};

/// A failed host call: either an error the guest sees (the WIT `error`
/// record) or a trap (a broken contract such as a stale resource handle).
#[derive(Debug)]
pub struct CallError(CallErrorKind);

#[derive(Debug)]
enum CallErrorKind {
    Guest(SandboxError),
    Trap(wasmtime::Error),
}

impl CallError {
    /// Trap the guest with `err`.
    pub fn trap(err: impl Into<wasmtime::Error>) -> Self {
        CallError(CallErrorKind::Trap(err.into()))
    }

    /// What a caller outside a guest (the MCP server) reports: the error a
    /// guest would see, or the broken contract as an `Err`.
    #[cfg(feature = "mcp")]
    pub(crate) fn into_sandbox_error(self) -> Result<SandboxError, wasmtime::Error> {
        match self.0 {
            CallErrorKind::Guest(e) => Ok(e),
            CallErrorKind::Trap(t) => Err(t),
        }
    }
}

impl From<SandboxError> for CallError {
    fn from(e: SandboxError) -> Self {
        CallError(CallErrorKind::Guest(e))
    }
}

impl From<wasmtime::Error> for CallError {
    fn from(e: wasmtime::Error) -> Self {
        CallError::trap(e)
    }
}

impl From<ResourceTableError> for CallError {
    fn from(e: ResourceTableError) -> Self {
        // A handle the table does not know is a guest/host contract
        // violation, not an operation that can fail normally.
        CallError::trap(e)
    }
}

type CallResult<T> = Result<T, CallError>;

/// Per-store state of the sandbox interfaces.
#[derive(Debug)]
pub struct SandboxCtx {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) policy: Arc<Policy>,
    pub(crate) snapshots: SnapshotStore,
    pub(crate) approvals: ApprovalStore,
    /// Access requests this run made whose answer it already carried out,
    /// with the rule an approval added (empty for a rejection).
    pub(crate) applied_access: HashMap<String, String>,
    /// Requests for access this run made.
    pub(crate) access_requests: usize,
    pub(crate) run_id: String,
    pub(crate) component: String,
    pub(crate) current: Arc<dyn Sandbox>,
    pub(crate) current_owned: bool,
    /// Sandboxes the guest created. Shared with the runner, which deletes
    /// them however the run ends (even after the store is gone).
    pub(crate) created: Arc<Mutex<Vec<SandboxInfo>>>,
    pub(crate) own_snapshots: HashSet<String>,
    pub(crate) snapshot_bytes: u64,
    pub(crate) live_processes: u32,
    pub(crate) next_process_id: u32,
    pub(crate) log_lines: u64,
    pub(crate) log_dropped: u64,
    /// Model calls: the policy's aliases and the run's budget.
    pub(crate) model: ModelCtx,
}

/// Builds a [`SandboxCtx`]. Defaults: the default [`Policy`], the default
/// snapshot store, a random run id.
#[derive(Debug)]
pub struct SandboxCtxBuilder {
    backend: Arc<dyn Backend>,
    current: SandboxInfo,
    current_owned: bool,
    policy: Arc<Policy>,
    snapshots: Option<SnapshotStore>,
    approvals: Option<ApprovalStore>,
    run_id: Option<String>,
    component: String,
    created: Arc<Mutex<Vec<SandboxInfo>>>,
    connector: Option<Arc<Connector>>,
}

impl SandboxCtx {
    /// Start building the state for a guest bound to sandbox `current`.
    pub fn builder(backend: Arc<dyn Backend>, current: SandboxInfo) -> SandboxCtxBuilder {
        SandboxCtxBuilder {
            backend,
            current,
            current_owned: false,
            policy: Arc::new(Policy::default()),
            snapshots: None,
            approvals: None,
            run_id: None,
            component: "component".into(),
            created: Arc::default(),
            connector: None,
        }
    }

    /// The sandbox bound to this run.
    pub fn current(&self) -> &SandboxInfo {
        self.current.info()
    }

    /// Log lines dropped past the policy's cap.
    pub fn log_dropped(&self) -> u64 {
        self.log_dropped
    }

    /// The run's model calls so far.
    pub fn model(&self) -> &ModelCtx {
        &self.model
    }

    /// Normalize `path` against `sb`'s workdir and check it against the
    /// policy's read (or write) prefixes.
    pub(crate) fn resolve(&self, sb: &SandboxInfo, path: &str, write: bool, op: &str) -> Result<String, SandboxError> {
        let normalized =
            paths::normalize(&sb.workdir, path).map_err(|m| SandboxError::invalid(op, format!("{path:?}: {m}")))?;
        let list = if write { &self.policy.fs.write } else { &self.policy.fs.read };
        let prefixes = paths::resolve_prefixes(&sb.workdir, list);
        if !paths::allowed(&normalized, &prefixes) {
            let kind = if write { "write" } else { "read" };
            return Err(SandboxError::denied(
                op,
                format!("{normalized} is outside the paths this guest may {kind} ({prefixes:?}; policy fs.{kind})"),
            ));
        }
        Ok(normalized)
    }
}

impl SandboxCtxBuilder {
    /// The policy to enforce.
    pub fn policy(mut self, policy: Arc<Policy>) -> Self {
        self.policy = policy;
        self
    }
    /// The snapshot store.
    pub fn snapshots(mut self, store: SnapshotStore) -> Self {
        self.snapshots = Some(store);
        self
    }
    /// Where requests for network access wait for an answer (default
    /// [`ApprovalStore::default_dir`]).
    pub fn approvals(mut self, store: ApprovalStore) -> Self {
        self.approvals = Some(store);
        self
    }
    /// The run id (used in labels and logs).
    pub fn run_id(mut self, id: impl Into<String>) -> Self {
        self.run_id = Some(id.into());
        self
    }
    /// The component's name (used in logs).
    pub fn component(mut self, name: impl Into<String>) -> Self {
        self.component = name.into();
        self
    }
    /// Whether this run created `current` (and will delete it).
    pub fn current_owned(mut self, owned: bool) -> Self {
        self.current_owned = owned;
        self
    }
    /// Share the list of guest-created sandboxes with the caller, which is
    /// then responsible for deleting them.
    pub fn created_registry(mut self, created: Arc<Mutex<Vec<SandboxInfo>>>) -> Self {
        self.created = created;
        self
    }
    /// The connector model calls go through (shared by a host's runs, so
    /// TLS roots load once); a new one by default.
    pub fn connector(mut self, connector: Arc<Connector>) -> Self {
        self.connector = Some(connector);
        self
    }
    /// Build the context.
    pub fn build(self) -> Result<SandboxCtx, SandboxError> {
        let snapshots = match self.snapshots {
            Some(s) => s,
            None => SnapshotStore::open(SnapshotStore::default_dir())?,
        };
        let run_id = match self.run_id {
            Some(id) => id,
            None => crate::runtime::new_run_id().map_err(|e| SandboxError::from_id("run.start", &e))?,
        };
        let model = ModelCtx::new(self.policy.clone(), self.connector.unwrap_or_default());
        let current = self.backend.open(&self.current);
        Ok(SandboxCtx {
            backend: self.backend,
            policy: self.policy,
            snapshots,
            approvals: self.approvals.unwrap_or_else(|| ApprovalStore::new(ApprovalStore::default_dir())),
            applied_access: HashMap::new(),
            access_requests: 0,
            run_id,
            component: self.component,
            current,
            current_owned: self.current_owned,
            created: self.created,
            own_snapshots: HashSet::new(),
            snapshot_bytes: 0,
            live_processes: 0,
            next_process_id: 1,
            log_lines: 0,
            log_dropped: 0,
            model,
        })
    }
}

/// The borrowed view every host function runs on.
#[derive(Debug)]
pub struct SandboxCtxView<'a> {
    /// Sandbox state.
    pub ctx: &'a mut SandboxCtx,
    /// The store's resource table.
    pub table: &'a mut ResourceTable,
}

/// Implemented by an embedder's store type to expose the sandbox state.
pub trait SandboxView: Send {
    /// The view for one host call.
    fn sandbox(&mut self) -> SandboxCtxView<'_>;
}

struct HasSandbox;

impl HasData for HasSandbox {
    type Data<'a> = SandboxCtxView<'a>;
}

/// Add the `openshell:sandbox` interfaces (not WASI) to `linker`.
pub fn add_only_sandbox_to_linker<T: SandboxView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    Agent::add_to_linker::<T, HasSandbox>(linker, |t| t.sandbox())
}

/// Add WASI 0.2 (async) and the `openshell:sandbox` interfaces to `linker`.
pub fn add_to_linker_async<T>(linker: &mut Linker<T>) -> wasmtime::Result<()>
where
    T: SandboxView + wasmtime_wasi::WasiView + 'static,
{
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    add_only_sandbox_to_linker(linker)
}
