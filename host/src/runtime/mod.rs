//! The embeddable host: load components, bind a backend and a policy, run.
//!
//! A [`Host`] owns one wasmtime engine (with its epoch ticker and, where the
//! address space allows, the pooling allocator), one linker with WASI and
//! the sandbox interfaces, one backend, one policy and one snapshot store.
//! Loaded components are kept as `InstancePre`s, so later runs of the same
//! component only instantiate. Hosts are `Send + Sync`; share one behind an
//! `Arc` and run many agents concurrently.

pub(crate) mod agent;
mod cache;
mod call;
pub(crate) mod cleanup;
mod engine;
mod functions;
mod limits;
pub(crate) mod net;
mod output;
mod run;
mod state;
mod transfer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use wasmtime::Engine;
use wasmtime::component::Linker;

use agent::AgentInner;
pub use agent::{Agent, AgentKind, CodeSource, LoadError, provided_import};
use cache::ComponentCache;
pub use engine::{EngineOptions, Pooling};
pub use functions::{ExportedFunction, FunctionCall};
pub use limits::LimitExceeded;
pub use output::{CapturedOutput, Forward, GuestStream};
pub use run::{Collect, RunError, RunFailure, RunOutcome, RunRequest, RunStats, SandboxTarget, Seed};
pub use state::RunState;

use crate::approvals::ApprovalStore;
use crate::backend::Backend;
use crate::egress::Connector;
use crate::error::SandboxError;
use crate::ids::IdError;
use crate::policy::Policy;
use crate::snapshot_store::SnapshotStore;

/// A random run id like `run-1a2b3c4d5e6f7a8b`. Sandboxes a run creates
/// carry it as a label, and cleanup deletes by that label, so a run that
/// cannot get a random id must not start.
pub fn new_run_id() -> Result<String, IdError> {
    crate::ids::random_id("run")
}

/// Runs agent components against one backend under one policy.
pub struct Host {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<RunState>,
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) policy: Arc<Policy>,
    pub(crate) snapshots: SnapshotStore,
    pub(crate) approvals: ApprovalStore,
    pub(crate) cache: Option<ComponentCache>,
    pub(crate) pooling: bool,
    pub(crate) clock: Arc<std::sync::atomic::AtomicU64>,
    /// Opens the connections of guests' HTTP requests and model calls.
    pub(crate) connector: Arc<Connector>,
    loaded: Mutex<HashMap<String, Arc<AgentInner>>>,
    /// Shared with hosts made by [`Host::with_policy`], which use the same
    /// engine.
    _ticker: Arc<engine::EpochTicker>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("backend", &self.backend.name())
            .field("pooling", &self.pooling)
            .finish_non_exhaustive()
    }
}

/// Configures a [`Host`].
///
/// Defaults: the default [`Policy`] (nothing of the host granted), the
/// snapshot store in [`SnapshotStore::default_dir`], the compiled-component
/// cache in [`ComponentCache::default_dir`] bounded to
/// [`cache::DEFAULT_MAX_BYTES`], pooling where possible. A backend must be
/// given.
#[derive(Debug, Default)]
pub struct HostBuilder {
    backend: Option<Arc<dyn Backend>>,
    policy: Option<Policy>,
    snapshot_dir: Option<PathBuf>,
    approvals_dir: Option<PathBuf>,
    cache_dir: Option<Option<PathBuf>>,
    cache_max_bytes: Option<u64>,
    engine: EngineOptions,
}

impl HostBuilder {
    /// The backend sandboxes live in.
    pub fn backend(mut self, backend: Arc<dyn Backend>) -> Self {
        self.backend = Some(backend);
        self
    }
    /// The policy to enforce.
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = Some(policy);
        self
    }
    /// Where snapshots are stored.
    pub fn snapshot_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.snapshot_dir = Some(dir.into());
        self
    }
    /// Where requests for network access wait for a person's answer
    /// (default [`ApprovalStore::default_dir`]; `openshell-wasm approvals`
    /// reads the default).
    pub fn approvals_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.approvals_dir = Some(dir.into());
        self
    }
    /// Where compiled components are cached (`None` disables the cache).
    pub fn cache_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.cache_dir = Some(dir);
        self
    }
    /// The most bytes the compiled-component cache keeps; past it the least
    /// recently used entries are removed (default
    /// [`cache::DEFAULT_MAX_BYTES`]).
    pub fn cache_max_bytes(mut self, max_bytes: u64) -> Self {
        self.cache_max_bytes = Some(max_bytes);
        self
    }
    /// Pooling allocator choice.
    pub fn pooling(mut self, pooling: Pooling) -> Self {
        self.engine.pooling = pooling;
        self
    }
    /// How many component instances may be alive at once (pool size).
    pub fn max_instances(mut self, n: u32) -> Self {
        self.engine.max_instances = n;
        self
    }

    /// Build the host.
    pub fn build(self) -> Result<Host, HostError> {
        let backend = self.backend.ok_or_else(|| HostError("no backend given to HostBuilder".into()))?;
        let policy = self.policy.unwrap_or_default();
        let mut options = self.engine;
        options.max_memory_bytes = policy.guest.memory_bytes;
        let (engine, pooling) =
            engine::build(&options).map_err(|e| HostError(format!("cannot set up wasmtime: {e:#}")))?;
        let mut linker = Linker::new(&engine);
        crate::interfaces::add_to_linker_async(&mut linker)
            .and_then(|()| wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker))
            .map_err(|e| HostError(format!("cannot link host interfaces: {e:#}")))?;
        let snapshots = SnapshotStore::open(self.snapshot_dir.unwrap_or_else(SnapshotStore::default_dir))
            .map_err(|e| HostError(e.message))?;
        let cache = match self.cache_dir.unwrap_or_else(|| Some(ComponentCache::default_dir())) {
            None => None,
            Some(dir) => match ComponentCache::open(&dir) {
                Ok(c) => Some(match self.cache_max_bytes {
                    Some(max) => c.with_max_bytes(max),
                    None => c,
                }),
                Err(e) => {
                    tracing::warn!("compiled-component cache disabled: {}: {e}", dir.display());
                    None
                }
            },
        };
        let ticker = engine::EpochTicker::start(&engine);
        Ok(Host {
            clock: ticker.clock(),
            engine,
            linker,
            backend,
            policy: Arc::new(policy),
            snapshots,
            approvals: ApprovalStore::new(self.approvals_dir.unwrap_or_else(ApprovalStore::default_dir)),
            cache,
            pooling,
            connector: Arc::new(Connector::new()),
            loaded: Mutex::default(),
            _ticker: Arc::new(ticker),
        })
    }
}

/// The host could not be set up.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct HostError(pub String);

impl Host {
    /// Start configuring a host.
    pub fn builder() -> HostBuilder {
        HostBuilder::default()
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The snapshot store.
    pub fn snapshots(&self) -> &SnapshotStore {
        &self.snapshots
    }

    /// A host like this one (same engine, backend, stores and cache) under
    /// another policy, for components that come with their own. Its guests
    /// may not have more memory than this host's policy gives, since that
    /// sized the engine.
    pub fn with_policy(&self, policy: Policy) -> Result<Host, HostError> {
        if policy.guest.memory_bytes > self.policy.guest.memory_bytes {
            return Err(HostError(format!(
                "the policy gives guests {} bytes of memory, more than the {} bytes of the host it derives from \
                 (whose policy sized the engine); raise that policy's [guest] memory",
                policy.guest.memory_bytes, self.policy.guest.memory_bytes
            )));
        }
        Ok(Host {
            engine: self.engine.clone(),
            linker: self.linker.clone(),
            backend: self.backend.clone(),
            policy: Arc::new(policy),
            snapshots: self.snapshots.clone(),
            approvals: self.approvals.clone(),
            cache: self.cache.clone(),
            pooling: self.pooling,
            clock: self.clock.clone(),
            connector: self.connector.clone(),
            loaded: Mutex::default(),
            _ticker: self._ticker.clone(),
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Whether instances come from the pooling allocator.
    pub fn pooling(&self) -> bool {
        self.pooling
    }

    /// Load a component from a file.
    pub async fn load_file(&self, path: &Path) -> Result<Agent, LoadError> {
        let bytes =
            tokio::fs::read(path).await.map_err(|e| LoadError::Read { path: path.display().to_string(), source: e })?;
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "component".into());
        self.load_bytes(&name, bytes).await
    }

    /// Load a component from bytes. Compilation happens on a blocking
    /// thread; a component already loaded in this host is reused.
    pub async fn load_bytes(&self, name: &str, bytes: Vec<u8>) -> Result<Agent, LoadError> {
        let started = Instant::now();
        let hash = agent::sha256_hex(&bytes);
        if let Some(inner) = self.loaded.lock().unwrap_or_else(|p| p.into_inner()).get(&hash).cloned() {
            return Ok(Agent { inner, source: CodeSource::Memory, load_time: started.elapsed() });
        }
        agent::check_is_component(&bytes)?;
        let engine = self.engine.clone();
        let cache = self.cache.clone();
        let size = bytes.len() as u64;
        let h = hash.clone();
        let (component, source) =
            tokio::task::spawn_blocking(move || agent::compile(&engine, cache.as_ref(), &bytes, &h))
                .await
                .map_err(|e| LoadError::Invalid(format!("compilation task failed: {e}")))??;
        let kind = agent::classify(&self.engine, &component)?;
        let functions = match kind {
            AgentKind::Functions => {
                let found = functions::exported(&self.engine, &component);
                if found.is_empty() {
                    return Err(LoadError::NoEntryPoint(
                        "the component exports no entry point and no function callable with JSON arguments \
                         (resources, streams and futures have no JSON form)"
                            .into(),
                    ));
                }
                found
            }
            AgentKind::Agent | AgentKind::Command => Vec::new(),
        };
        let pre = agent::link(&self.engine, &self.linker, &component)?;
        let inner = Arc::new(AgentInner { name: name.to_string(), hash: hash.clone(), kind, functions, size, pre });
        self.loaded.lock().unwrap_or_else(|p| p.into_inner()).insert(hash, inner.clone());
        Ok(Agent { inner, source, load_time: started.elapsed() })
    }

    /// Compile a component into the on-disk cache without running it.
    pub async fn precompile(&self, path: &Path) -> Result<Agent, LoadError> {
        self.load_file(path).await
    }
}

impl From<SandboxError> for HostError {
    fn from(e: SandboxError) -> Self {
        HostError(e.to_string())
    }
}
