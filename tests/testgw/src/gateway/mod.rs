//! The generation-neutral gateway: the sandbox registry, the lifecycle
//! clock that moves sandboxes through their phases, and the local
//! (bubblewrap) backend that really runs commands.
//!
//! Both wire adapters (`v0_0`, `v0_1`) translate requests into calls on
//! [`Gateway`] and its answers back into messages; every rule the real
//! gateway enforces lives here once. Errors are `tonic::Status` values
//! because their codes and messages are the behaviour being reproduced.

mod drafts;
mod exec;
mod ids;
mod lifecycle;
pub(crate) mod model;
mod policy;
mod providers;
mod sandboxes;
mod services;
mod shell;
mod store;
mod validate;
mod watching;
mod workspaces;

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use openshell_wasm::backend::local::LocalBackend;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tonic::Status;

pub(crate) use self::exec::{ClientFrame, ExecOutput, ExecSpec};
pub(crate) use self::model::{
    DEFAULT_WORKSPACE, DraftChunk, Endpoint, Phase, PolicyRevision, PolicyState, Sandbox, Scope, SettingValue, Target,
    Workspace,
};
pub(crate) use self::policy::{ConfigChange, ConfigUpdate};
pub(crate) use self::providers::Readiness;
pub(crate) use self::sandboxes::{Deleted, NewSandbox};
pub(crate) use self::services::Expose;
use self::store::Store;
use crate::config::Config;

/// Where the sandbox's workspace appears inside it, as in a real sandbox
/// (the home directory of the `sandbox` user).
pub(crate) const SANDBOX_WORKDIR: &str = "/sandbox";

/// A running gateway's state. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub(crate) struct Gateway {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    /// Runs every command; its sandboxes live under `state_dir/sandboxes`.
    backend: LocalBackend,
    /// All records. A std mutex: it is never held across an await.
    registry: Mutex<model::Registry>,
    /// The registry file, rewritten after every change.
    store: Store,
    /// Bumped after every change; watch streams wait on it and then compare
    /// the sandbox's `resource_version` with what they sent last.
    changes: watch::Sender<u64>,
    /// Set once when the server shuts down, so long-lived streams (exec,
    /// watch) end and the server's graceful shutdown does not wait on them.
    shutdown: watch::Sender<bool>,
    /// Scheduled lifecycle steps (READY after the ready delay, ERROR after
    /// the fault delay, ...), aborted when the gateway closes.
    tasks: Mutex<JoinSet<()>>,
}

impl Gateway {
    /// Opens the state directory, loads the registry and resumes every
    /// sandbox's pending lifecycle steps. Must run inside a Tokio runtime.
    pub(crate) fn open(config: Config) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.state_dir)?;
        let backend = LocalBackend::new(config.state_dir.join("sandboxes"))?.with_workdir(SANDBOX_WORKDIR);
        let store = Store::new(&config.state_dir);
        let registry = store.load()?;
        let gateway = Gateway {
            inner: Arc::new(Inner {
                config,
                backend,
                registry: Mutex::new(registry),
                store,
                changes: watch::channel(0).0,
                shutdown: watch::channel(false).0,
                tasks: Mutex::new(JoinSet::new()),
            }),
        };
        gateway.resume();
        Ok(gateway)
    }

    /// The configuration the gateway runs with.
    pub(crate) fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Ends every open exec and watch stream (with UNAVAILABLE).
    pub(crate) fn begin_shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }

    /// Stops the lifecycle clock. The registry on disk is already current.
    pub(crate) fn close(&self) {
        self.begin_shutdown();
        lock(&self.inner.tasks).abort_all();
    }

    /// Resolves once shutdown has begun.
    fn stopping(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.inner.shutdown.subscribe();
        async move {
            let _ = rx.wait_for(|stopping| *stopping).await;
        }
    }

    /// Reads the registry.
    fn read<R>(&self, f: impl FnOnce(&model::Registry) -> R) -> R {
        f(&lock(&self.inner.registry))
    }

    /// Changes the registry: when `f` succeeds the registry is saved and
    /// watchers are woken.
    fn mutate<R>(&self, f: impl FnOnce(&mut model::Registry) -> Result<R, Status>) -> Result<R, Status> {
        let mut registry = lock(&self.inner.registry);
        let out = f(&mut registry)?;
        if let Err(e) = self.inner.store.save(&registry) {
            tracing::warn!("cannot save the registry: {e:#}");
        }
        drop(registry);
        self.inner.changes.send_modify(|n| *n = n.wrapping_add(1));
        Ok(out)
    }

    /// Runs `task` until it finishes or the gateway closes.
    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let mut tasks = lock(&self.inner.tasks);
        while tasks.try_join_next().is_some() {}
        tasks.spawn(task);
    }
}

/// Locks a mutex, ignoring poisoning (a panicked holder left valid data:
/// every change is a plain field update).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `items[offset..offset + limit]` and whether more follow.
pub(crate) fn page<T>(items: Vec<T>, offset: usize, limit: usize) -> (Vec<T>, bool) {
    let total = items.len();
    let out: Vec<T> = items.into_iter().skip(offset).take(limit).collect();
    let more = offset.saturating_add(out.len()) < total;
    (out, more)
}

/// The NOT_FOUND every sandbox lookup answers, whether the sandbox is
/// missing or (for id-addressed calls) not the caller's.
fn sandbox_not_found() -> Status {
    Status::not_found("sandbox not found")
}
