//! Deleting the sandboxes a run created, on every exit path: at the end of
//! the run, and from `Drop` when the run's future is dropped instead.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::backend::{Backend, SandboxInfo};
use crate::error::{ErrorCode, SandboxError};
use crate::retry::{Backoff, if_retryable, retry};

/// Deletes the sandboxes a run created. Runs explicitly at the end of a run;
/// if the run's future is dropped instead, `Drop` schedules the deletion on
/// the runtime, so no exit path leaks a sandbox.
pub(crate) struct Cleanup {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) main: Option<String>,
    pub(crate) created: Arc<Mutex<Vec<SandboxInfo>>>,
    pub(crate) keep: bool,
    pub(crate) done: bool,
}

impl Cleanup {
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.main.iter().cloned().collect();
        names.extend(self.created.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|s| s.name.clone()));
        names
    }

    pub(crate) async fn run(mut self) -> Vec<String> {
        self.done = true;
        if self.keep {
            for n in self.names() {
                tracing::info!(sandbox = %n, "keeping sandbox (--keep)");
            }
            return Vec::new();
        }
        let mut errors = Vec::new();
        for name in self.names() {
            match delete_with_retry(&*self.backend, &name).await {
                Ok(()) => tracing::debug!(sandbox = %name, "deleted sandbox"),
                Err(e) => errors.push(format!("could not delete sandbox `{name}`: {e}; remove it with `openshell-wasm sandbox delete {name}` or `sandbox sweep`")),
            }
        }
        errors
    }
}

pub(crate) async fn delete_with_retry(backend: &dyn Backend, name: &str) -> Result<(), SandboxError> {
    // Three attempts, 200 ms and 400 ms apart.
    let policy = Backoff::exponential(Duration::from_millis(200), 2, Duration::from_millis(800)).attempts(3);
    let deleted = retry(
        &policy,
        |_| async {
            match backend.delete(name).await {
                Err(e) if e.code == ErrorCode::NotFound => Ok(()),
                other => other,
            }
        },
        if_retryable,
    )
    .await;
    deleted.map_err(|g| g.error)
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if self.done || self.keep {
            return;
        }
        let names = self.names();
        if names.is_empty() {
            return;
        }
        let backend = self.backend.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    for name in names {
                        if let Err(e) = delete_with_retry(&*backend, &name).await {
                            tracing::error!(sandbox = %name, "could not delete abandoned sandbox: {e}");
                        }
                    }
                });
            }
            Err(_) => {
                tracing::error!(?names, "run dropped outside a runtime; sandboxes left behind (use `sandbox sweep`)");
            }
        }
    }
}
