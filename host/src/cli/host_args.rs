//! The flags `run` and `mcp` share: what builds the [`Host`] (policy,
//! backend, stores, cache, allocator) and which sandbox a run or session
//! binds.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::run::KEEP_LABEL;
use super::{BackendArgs, SpecArgs, exit};
use crate::policy::Policy;
use crate::policy::units::parse_size;
use crate::runtime::{Host, Pooling, SandboxTarget};

/// Flags that build the host.
#[derive(Debug, Args)]
pub(super) struct HostArgs {
    /// Policy file (TOML). Without it: nothing of the host is granted, and
    /// the sandbox defaults apply.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,

    #[command(flatten)]
    backend: BackendArgs,

    /// Snapshot store directory.
    #[arg(long, env = "OPENSHELL_WASM_SNAPSHOT_DIR", value_name = "DIR")]
    snapshot_dir: Option<PathBuf>,
    /// Where requests for network access wait for an operator's answer
    /// (`openshell-wasm approvals`).
    #[arg(long, env = "OPENSHELL_WASM_APPROVALS_DIR", value_name = "DIR")]
    approvals_dir: Option<PathBuf>,

    /// Compiled-component cache directory.
    #[arg(long, env = "OPENSHELL_WASM_CACHE_DIR", value_name = "DIR")]
    cache_dir: Option<PathBuf>,

    /// Do not use the compiled-component cache.
    #[arg(long)]
    no_cache: bool,

    /// Most the compiled-component cache keeps (e.g. `512 MiB`); past it
    /// the least recently used entries go. Default 1 GiB.
    #[arg(long, env = "OPENSHELL_WASM_CACHE_MAX_SIZE", value_name = "SIZE", value_parser = parse_size)]
    cache_max_size: Option<u64>,

    /// Pooling allocator.
    #[arg(long, value_enum, default_value = "auto")]
    pooling: PoolingArg,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum PoolingArg {
    Auto,
    On,
    Off,
}

impl HostArgs {
    /// Read the policy, build (and probe) the backend, build the host.
    /// Errors carry the exit code.
    pub(super) async fn build(&self) -> Result<Host, (u8, String)> {
        let policy = match &self.policy {
            Some(p) => Policy::from_file(p).map_err(|e| (exit::USAGE, e.to_string()))?,
            None => Policy::default(),
        };
        let backend = self.backend.build(true).await.map_err(|e| (exit::BACKEND, e.to_string()))?;
        let mut builder = Host::builder().backend(backend).policy(policy).pooling(match self.pooling {
            PoolingArg::Auto => Pooling::Auto,
            PoolingArg::On => Pooling::On,
            PoolingArg::Off => Pooling::Off,
        });
        if let Some(d) = &self.approvals_dir {
            builder = builder.approvals_dir(d);
        }
        if let Some(d) = &self.snapshot_dir {
            builder = builder.snapshot_dir(d);
        }
        if self.no_cache {
            builder = builder.cache_dir(None);
        } else if let Some(d) = &self.cache_dir {
            builder = builder.cache_dir(Some(d.clone()));
        }
        if let Some(max) = self.cache_max_size {
            builder = builder.cache_max_bytes(max);
        }
        builder.build().map_err(|e| (exit::BACKEND, e.to_string()))
    }
}

/// Which sandbox a run (or an MCP session) binds.
#[derive(Debug, Args)]
pub(super) struct BindArgs {
    /// Attach to this existing sandbox instead of creating one.
    #[arg(long, value_name = "NAME")]
    sandbox: Option<String>,

    #[command(flatten)]
    spec: SpecArgs,

    /// Keep the sandboxes created (the bound one and those the guest
    /// creates) instead of deleting them at the end.
    #[arg(long)]
    pub(super) keep: bool,
}

impl BindArgs {
    /// The sandbox to bind: the named one, or a new one from the spec
    /// flags (labelled as kept with `--keep`, so `sandbox sweep` spares it).
    pub(super) fn target(&self) -> Result<SandboxTarget, (u8, String)> {
        if let Some(name) = &self.sandbox {
            return Ok(SandboxTarget::Attach(name.clone()));
        }
        let mut spec = self.spec.spec().map_err(|m| (exit::USAGE, m))?;
        if self.keep {
            spec.labels.insert(KEEP_LABEL.into(), "true".into());
        }
        Ok(SandboxTarget::Ephemeral(spec))
    }
}
