//! Choosing and constructing the backend from command-line flags.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};

use crate::backend::Backend;
use crate::backend::local::LocalBackend;
use crate::error::SandboxError;

/// Which backend to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendKind {
    /// Bubblewrap sandboxes on this machine.
    Local,
}

/// Flags shared by every command that touches sandboxes.
#[derive(Debug, Clone, Args)]
pub struct BackendArgs {
    /// Where sandboxes live.
    #[arg(long, value_enum, default_value = "local", env = "OPENSHELL_WASM_BACKEND")]
    pub backend: BackendKind,

    /// State directory of the local backend.
    #[arg(long, env = "OPENSHELL_WASM_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

impl BackendArgs {
    /// Build the backend; `probe` checks up front that it can work here.
    pub async fn build(&self, probe: bool) -> Result<Arc<dyn Backend>, SandboxError> {
        match self.backend {
            BackendKind::Local => {
                let root = self.state_dir.clone().unwrap_or_else(LocalBackend::default_root);
                let backend = LocalBackend::new(root)?;
                if probe {
                    backend.probe().await?;
                }
                tracing::info!(backend = "local", state = %backend.root().display(), "using the local bubblewrap backend");
                Ok(Arc::new(backend))
            }
        }
    }
}
