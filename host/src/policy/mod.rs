//! The host policy: what a guest may do, and the limits it runs under.
//!
//! A policy is a TOML file (see `docs/policy.md` and the examples under
//! `guest-examples/*/policy.toml`). Everything that reaches the *host*
//! (host files, host environment variables, host network) is denied unless
//! granted; inside its sandbox a guest gets sensible defaults (commands may
//! run, files under the workdir may be read and written, snapshots may be
//! taken) within limits. [`Policy::default`] is what applies without a file.
//!
//! Parsing never panics; every error names the file, line and column.

mod egress;
mod file;
pub(crate) mod paths;
pub(crate) mod units;

use std::path::PathBuf;
use std::time::Duration;

pub use egress::{
    Credential, CredentialTarget, HostPattern, HttpPolicy, HttpRule, ModelAlias, ModelPolicy, Scheme, SecretSource,
    url_host,
};
pub use file::parse;
use units::{format_duration, format_size};

use crate::runtime::net::AddrPattern;

/// The effective policy for a run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct Policy {
    /// Limits on the guest component itself.
    pub guest: GuestLimits,
    /// Host resources the guest's WASI environment may use (all denied by
    /// default).
    pub host: HostGrants,
    /// Commands in the sandbox.
    pub exec: ExecPolicy,
    /// Files in the sandbox.
    pub fs: FsPolicy,
    /// Managing sandboxes.
    pub sandbox: SandboxPolicy,
    /// Network policy and ports of sandboxes.
    pub network: NetworkPolicy,
    /// Snapshots.
    pub snapshot: SnapshotPolicy,
    /// Outgoing HTTP requests from the guest (`wasi:http`).
    pub http: HttpPolicy,
    /// Model calls through the host.
    pub model: ModelPolicy,
}

/// Limits on the guest component.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct GuestLimits {
    /// Most linear memory per instance, in bytes.
    pub memory_bytes: u64,
    /// Most time the guest may spend executing its own code (host calls
    /// excluded), measured in epoch ticks of 10 ms.
    pub cpu_time: Duration,
    /// Deadline for the whole run, host calls included.
    pub wall_time: Duration,
    /// Most bytes the guest may print to stdout and stderr together; the
    /// rest is dropped and flagged.
    pub output_bytes: u64,
    /// Most `log` lines per run.
    pub log_lines: u64,
}

/// Host resources a guest may use.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
#[non_exhaustive]
pub struct HostGrants {
    /// Names of host environment variables passed into the guest.
    pub env: Vec<String>,
    /// Host directories mounted into the guest's WASI filesystem.
    pub dirs: Vec<DirGrant>,
    /// Addresses (IP literals, with a port or any) the guest may open TCP
    /// connections to; parsed once, when the policy is read.
    pub tcp_connect: Vec<AddrPattern>,
}

/// A host directory granted to the guest.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DirGrant {
    /// Host path.
    pub host: PathBuf,
    /// Path the guest sees.
    pub guest: String,
    /// Whether the guest may write.
    pub write: bool,
}

/// Commands in the sandbox.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct ExecPolicy {
    /// Timeout for commands that ask for none.
    pub default_timeout: Duration,
    /// Longest timeout a command may have.
    pub max_timeout: Duration,
    /// Most stdout (and, separately, stderr) bytes kept per buffered command.
    pub max_output_bytes: u64,
    /// If set, only these commands may run: exact names (`git`) match
    /// `argv[0]` or its file name, `/`-paths match exactly, `*` globs.
    pub allow: Option<Vec<String>>,
    /// Most processes a guest may have spawned and alive at once.
    pub max_processes: u32,
}

/// Files in the sandbox.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct FsPolicy {
    /// Path prefixes that may be read (relative ones are relative to the
    /// workdir). Default: the workdir.
    pub read: Vec<String>,
    /// Path prefixes that may be written. Default: the workdir.
    pub write: Vec<String>,
    /// Largest file `read-file` returns at once.
    pub max_read_bytes: u64,
    /// Largest file a guest may write.
    pub max_write_bytes: u64,
}

/// Managing sandboxes.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct SandboxPolicy {
    /// The guest may create sandboxes.
    pub create: bool,
    /// The guest may delete sandboxes it created.
    pub delete: bool,
    /// The guest may list sandboxes.
    pub list: bool,
    /// Name globs of existing sandboxes the guest may attach to.
    pub attach: Vec<String>,
    /// Most sandboxes a guest may create per run.
    pub max_created: u32,
    /// Image for sandboxes the guest creates (backend default if unset).
    pub image: Option<String>,
    /// How long creation waits for readiness.
    pub ready_timeout: Duration,
    /// The guest may give a sandbox it creates its own OpenShell sandbox
    /// policy (which may allow more egress than the gateway's default).
    pub policy: bool,
    /// Name globs of the credential providers the guest may attach.
    pub providers: Vec<String>,
    /// The guest may ask for GPUs.
    pub gpu: bool,
    /// Most CPU a sandbox the guest creates may ask for, in millicores;
    /// `None`: it may not ask.
    pub max_cpu_millis: Option<u64>,
    /// Most memory a sandbox the guest creates may ask for, in bytes;
    /// `None`: it may not ask.
    pub max_memory_bytes: Option<u64>,
}

/// Network policy of sandboxes.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct NetworkPolicy {
    /// The guest may read the network policy.
    pub read_policy: bool,
    /// The guest may replace the network rules.
    pub update_policy: bool,
    /// Ports the guest may expose.
    pub expose_ports: Vec<u16>,
    /// The guest may ask a person for network access.
    pub request_access: bool,
    /// How long a request for access waits for an answer before it counts
    /// as rejected.
    pub access_timeout: Duration,
}

/// Snapshots.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct SnapshotPolicy {
    /// The guest may take snapshots.
    pub persist: bool,
    /// The guest may restore snapshots.
    pub hydrate: bool,
    /// The guest may list the store.
    pub list: bool,
    /// The guest may delete snapshots other runs created (its own it may
    /// always delete).
    pub delete_any: bool,
    /// Most bytes of snapshots a run may create.
    pub quota_bytes: u64,
    /// Most snapshots a run may create.
    pub max_count: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            guest: GuestLimits {
                memory_bytes: 256 << 20,
                cpu_time: Duration::from_secs(60),
                wall_time: Duration::from_secs(600),
                output_bytes: 1 << 20,
                log_lines: 10_000,
            },
            host: HostGrants::default(),
            exec: ExecPolicy {
                default_timeout: Duration::from_secs(60),
                max_timeout: Duration::from_secs(600),
                max_output_bytes: 16 << 20,
                allow: None,
                max_processes: 16,
            },
            fs: FsPolicy {
                read: vec![".".into()],
                write: vec![".".into()],
                max_read_bytes: 64 << 20,
                max_write_bytes: 1 << 30,
            },
            sandbox: SandboxPolicy {
                create: false,
                delete: false,
                list: false,
                attach: Vec::new(),
                max_created: 4,
                image: None,
                ready_timeout: Duration::from_secs(300),
                policy: false,
                providers: Vec::new(),
                gpu: false,
                max_cpu_millis: None,
                max_memory_bytes: None,
            },
            network: NetworkPolicy {
                read_policy: true,
                update_policy: false,
                expose_ports: Vec::new(),
                request_access: false,
                access_timeout: Duration::from_secs(300),
            },
            snapshot: SnapshotPolicy {
                persist: true,
                hydrate: true,
                list: true,
                delete_any: false,
                quota_bytes: 2 << 30,
                max_count: 100,
            },
            http: HttpPolicy::default(),
            model: ModelPolicy::default(),
        }
    }
}

impl Policy {
    /// Read and parse a policy file.
    pub fn from_file(path: &std::path::Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|e| PolicyError {
            file: path.display().to_string(),
            line: 0,
            column: 0,
            message: format!("cannot read the policy file: {e}"),
        })?;
        parse(&text, &path.display().to_string())
    }

    /// A few lines describing the effective policy, for `policy check` and
    /// `-v` logs.
    pub fn summary(&self) -> Vec<String> {
        let g = &self.guest;
        let mut out = vec![
            format!(
                "guest: memory {}, cpu {}, wall {}, output {}",
                format_size(g.memory_bytes),
                format_duration(g.cpu_time),
                format_duration(g.wall_time),
                format_size(g.output_bytes)
            ),
            format!(
                "host grants: env {:?}, dirs {}, tcp {:?}",
                self.host.env,
                self.host.dirs.len(),
                self.host.tcp_connect.iter().map(AddrPattern::to_string).collect::<Vec<_>>()
            ),
            format!(
                "exec: timeout {} (max {}), output cap {}, allow {}",
                format_duration(self.exec.default_timeout),
                format_duration(self.exec.max_timeout),
                format_size(self.exec.max_output_bytes),
                match &self.exec.allow {
                    None => "any command".to_string(),
                    Some(list) => format!("{list:?}"),
                }
            ),
            format!(
                "fs: read {:?}, write {:?}, max read {}, max write {}",
                self.fs.read,
                self.fs.write,
                format_size(self.fs.max_read_bytes),
                format_size(self.fs.max_write_bytes)
            ),
            format!(
                "sandboxes: create {}, delete {}, list {}, attach {:?}",
                self.sandbox.create, self.sandbox.delete, self.sandbox.list, self.sandbox.attach
            ),
            format!(
                "new sandboxes may have: own policy {}, providers {:?}, GPUs {}, CPU {}, memory {}",
                self.sandbox.policy,
                self.sandbox.providers,
                self.sandbox.gpu,
                self.sandbox.max_cpu_millis.map_or("none".into(), |m| format!("{m}m")),
                self.sandbox.max_memory_bytes.map_or("none".into(), format_size),
            ),
            format!(
                "network: update policy {}, expose ports {:?}, request access {} (answered within {})",
                self.network.update_policy,
                self.network.expose_ports,
                self.network.request_access,
                format_duration(self.network.access_timeout)
            ),
            format!(
                "snapshots: persist {}, hydrate {}, quota {} / {} snapshots",
                self.snapshot.persist,
                self.snapshot.hydrate,
                format_size(self.snapshot.quota_bytes),
                self.snapshot.max_count
            ),
            format!(
                "http: {} rules, {} requests and {} per run, bodies up to {} out / {} in, timeout {}",
                self.http.allow.len(),
                self.http.max_requests,
                format_size(self.http.max_bytes),
                format_size(self.http.max_request_body),
                format_size(self.http.max_response_body),
                format_duration(self.http.timeout)
            ),
            format!(
                "models: {:?}, {} calls, {} tokens and {} per run, timeout {}",
                self.model
                    .aliases
                    .iter()
                    .map(|a| format!("{} -> {} at {}", a.name, a.model, a.base_url()))
                    .collect::<Vec<_>>(),
                self.model.max_requests,
                self.model.max_tokens,
                format_duration(self.model.max_time),
                format_duration(self.model.timeout)
            ),
        ];
        out.retain(|l| !l.is_empty());
        out
    }
}

/// A policy file that could not be used, with where the problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// File name (or `<policy>` for strings).
    pub file: String,
    /// 1-based line (0 when not tied to a place).
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}:{}:{}: {}", self.file, self.line, self.column, self.message)
        }
    }
}

impl std::error::Error for PolicyError {}
