//! Choosing and constructing the backend from command-line flags.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};

use crate::backend::local::LocalBackend;
use crate::backend::openshell::OpenShellBackend;
use crate::backend::openshell::config::{self, GatewayConfig, Protocol, Secret, SessionChannel};
use crate::backend::{Backend, SandboxSpec};
use crate::error::SandboxError;

/// Which backend to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendKind {
    /// OpenShell when a gateway is configured, else local (the choice is
    /// reported on stderr).
    Auto,
    /// Bubblewrap sandboxes on this machine.
    Local,
    /// Sandboxes on an OpenShell gateway.
    Openshell,
}

/// Flags shared by every command that touches sandboxes.
#[derive(Debug, Clone, Args)]
pub struct BackendArgs {
    /// Where sandboxes live.
    #[arg(long, value_enum, default_value = "auto", env = "OPENSHELL_WASM_BACKEND")]
    pub backend: BackendKind,

    /// State directory of the local backend.
    #[arg(long, env = "OPENSHELL_WASM_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// OpenShell gateway URL (http:// or https://); overrides discovery.
    #[arg(long, value_name = "URL")]
    pub gateway: Option<String>,

    /// Use this configured gateway instead of the active one.
    #[arg(long, value_name = "NAME")]
    pub gateway_name: Option<String>,

    /// Force the gateway wire generation instead of reading it from Health.
    #[arg(long, value_name = "0.0|0.1", value_parser = parse_protocol)]
    pub protocol: Option<Protocol>,

    /// OpenShell workspace (default: $OPENSHELL_WORKSPACE, else `default`).
    #[arg(long)]
    pub workspace: Option<String>,

    /// Read the bearer token from this file (instead of discovery).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,

    /// CA certificate (PEM) for an https gateway.
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,

    /// Client certificate (PEM) for mTLS.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// Client key (PEM) for mTLS.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// The workspace directory inside OpenShell sandboxes.
    #[arg(long, value_name = "DIR", default_value = "/sandbox")]
    pub sandbox_workdir: String,

    /// Seconds each gateway call may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub rpc_timeout: u64,

    /// How small file operations reach OpenShell sandboxes: `auto` (one
    /// long-lived exec per sandbox, with a Python server when the sandbox
    /// has Python 3.10+), `shell` (the same with the bash server only), or
    /// `off` (one exec per operation; slower).
    #[arg(long, value_name = "auto|shell|off", default_value = "auto", value_parser = parse_session_channel)]
    pub session_channel: SessionChannel,
}

fn parse_session_channel(s: &str) -> Result<SessionChannel, String> {
    SessionChannel::parse(s).ok_or_else(|| format!("`{s}` is not one of auto, shell, off"))
}

fn parse_protocol(s: &str) -> Result<Protocol, String> {
    Protocol::parse(s).ok_or_else(|| format!("`{s}` is not a protocol generation; use 0.0 or 0.1"))
}

/// Options for sandboxes a command creates.
#[derive(Debug, Clone, Args)]
pub struct SpecArgs {
    /// Container image (OpenShell).
    #[arg(long)]
    pub image: Option<String>,
    /// An OpenShell sandbox policy (YAML) for the sandbox.
    #[arg(long, value_name = "FILE")]
    pub sandbox_policy: Option<PathBuf>,
    /// Environment for every command in the sandbox (repeatable).
    #[arg(long = "sandbox-env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// CPU request (OpenShell; e.g. `2` or `500m`).
    #[arg(long)]
    pub cpu: Option<String>,
    /// Memory request (OpenShell; e.g. `4Gi`).
    #[arg(long)]
    pub memory: Option<String>,
    /// GPUs (OpenShell; 0 = one, the driver's default).
    #[arg(long)]
    pub gpu: Option<u32>,
    /// A credential provider to attach (OpenShell; repeatable).
    #[arg(long = "provider", value_name = "NAME")]
    pub providers: Vec<String>,
}

impl SpecArgs {
    /// The sandbox spec these flags describe.
    pub fn spec(&self) -> Result<SandboxSpec, String> {
        let mut environment = BTreeMap::new();
        for kv in &self.env {
            let (k, v) = kv.split_once('=').ok_or_else(|| format!("--sandbox-env {kv:?}: expected KEY=VALUE"))?;
            environment.insert(k.to_string(), v.to_string());
        }
        let policy_yaml = match &self.sandbox_policy {
            Some(p) => Some(std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?),
            None => None,
        };
        if let Some(text) = &policy_yaml {
            crate::backend::openshell::policy::parse_policy(
                text,
                &self.sandbox_policy.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            )
            .map_err(|e| e.message)?;
        }
        Ok(SandboxSpec {
            image: self.image.clone(),
            environment,
            cpu: self.cpu.clone(),
            memory: self.memory.clone(),
            gpu: self.gpu,
            policy_yaml,
            providers: self.providers.clone(),
            ..SandboxSpec::default()
        })
    }
}

impl BackendArgs {
    /// Build the backend; `probe` checks up front that it can work here.
    pub async fn build(&self, probe: bool) -> Result<Arc<dyn Backend>, SandboxError> {
        let kind = match self.backend {
            BackendKind::Auto => {
                let explicit = self.gateway.is_some() || self.gateway_name.is_some();
                match (explicit, config::configured()) {
                    (true, _) => {
                        notice("using the OpenShell backend (a gateway was given)");
                        BackendKind::Openshell
                    }
                    (false, Some(why)) => {
                        notice(&format!("using the OpenShell backend ({why}); --backend local to run locally"));
                        BackendKind::Openshell
                    }
                    (false, None) => {
                        notice("using the local backend (no OpenShell gateway configured)");
                        BackendKind::Local
                    }
                }
            }
            k => k,
        };
        match kind {
            BackendKind::Local | BackendKind::Auto => {
                let root = self.state_dir.clone().unwrap_or_else(LocalBackend::default_root);
                let backend = LocalBackend::new(root)?;
                if probe {
                    backend.probe().await?;
                }
                tracing::info!(backend = "local", state = %backend.root().display(), "using the local bubblewrap backend");
                Ok(Arc::new(backend))
            }
            BackendKind::Openshell => Ok(Arc::new(OpenShellBackend::connect(self.gateway_config()?).await?)),
        }
    }

    /// The gateway configuration: discovery, then the flags on top.
    pub fn gateway_config(&self) -> Result<GatewayConfig, SandboxError> {
        let op = "gateway.config";
        let mut cfg = config::discover(self.gateway.as_deref(), self.gateway_name.as_deref())?;
        cfg.protocol = self.protocol.or(cfg.protocol);
        if let Some(w) = &self.workspace {
            cfg.workspace = w.clone();
        }
        cfg.workdir = self.sandbox_workdir.clone();
        cfg.rpc_timeout = std::time::Duration::from_secs(self.rpc_timeout.max(1));
        cfg.session_channel = self.session_channel;
        let read = |p: &PathBuf, what: &str| {
            std::fs::read(p)
                .map_err(|e| SandboxError::invalid(op, format!("cannot read the {what} {}: {e}", p.display())))
        };
        if let Some(p) = &self.token_file {
            let t = String::from_utf8(read(p, "token file")?)
                .map_err(|_| SandboxError::invalid(op, format!("{} is not text", p.display())))?;
            cfg.token = Some(Secret::new(t.trim()));
        }
        if let Some(p) = &self.tls_ca {
            cfg.tls.ca_pem = Some(read(p, "CA certificate")?);
        }
        if let (Some(c), Some(k)) = (&self.tls_cert, &self.tls_key) {
            cfg.tls.cert_pem = Some(read(c, "client certificate")?);
            let key = String::from_utf8(read(k, "client key")?)
                .map_err(|_| SandboxError::invalid(op, format!("{} is not PEM text", k.display())))?;
            cfg.tls.key_pem = Some(Secret::new(key));
        }
        Ok(cfg)
    }
}

fn notice(msg: &str) {
    let _ = writeln!(std::io::stderr(), "openshell-wasm: {msg}");
}
