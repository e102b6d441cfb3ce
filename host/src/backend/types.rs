//! Plain data types that cross the [`Backend`](super::Backend) trait.
//!
//! They are deliberately independent of both the WIT bindings and the
//! OpenShell protobufs: each side converts into them in one place.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use tokio::sync::mpsc;

use crate::error::SandboxError;

/// The label every sandbox created by this host carries, so leftovers can be
/// found (`openshell-wasm sandbox sweep`) after a crash.
pub const OWNER_LABEL: &str = "openshell-wasm/owner";
/// The value of [`OWNER_LABEL`].
pub const OWNER_VALUE: &str = "openshell-wasm";
/// A label holding the id of the host run that created the sandbox.
pub const RUN_LABEL: &str = "openshell-wasm/run";

/// A stream of bytes produced by a backend (file content, tar archives).
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, SandboxError>> + Send>>;

/// Lifecycle phase of a sandbox (mirrors OpenShell's `SandboxPhase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Being created.
    Provisioning,
    /// Accepting commands.
    Ready,
    /// Failed.
    Error,
    /// Being deleted.
    Deleting,
    /// Stopped with state retained.
    Stopped,
    /// Unknown.
    Unknown,
}

/// What to create.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SandboxSpec {
    /// Requested name; the backend picks one when `None`.
    pub name: Option<String>,
    /// Container image (remote backends).
    pub image: Option<String>,
    /// Environment for every command.
    pub environment: BTreeMap<String, String>,
    /// Labels, including the host's ownership labels.
    pub labels: BTreeMap<String, String>,
    /// CPU request, backend syntax (e.g. `2` or `500m`).
    pub cpu: Option<String>,
    /// Memory request, backend syntax (e.g. `4Gi`).
    pub memory: Option<String>,
    /// GPUs to request (`Some(0)` means "one, backend default").
    pub gpu: Option<u32>,
    /// A backend-specific sandbox policy document (OpenShell policy YAML).
    pub policy_yaml: Option<String>,
    /// Credential providers to attach, by name (OpenShell).
    pub providers: Vec<String>,
    /// How long to wait for the sandbox to become ready.
    pub ready_timeout: Duration,
}

impl SandboxSpec {
    /// The same spec, waiting `timeout` for the sandbox to become ready.
    pub fn with_ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }
}

/// A description of a sandbox.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SandboxInfo {
    /// Unique name.
    pub name: String,
    /// Backend id (OpenShell: UUID; local: the name).
    pub id: String,
    /// Backend name (`local`, `openshell`).
    pub backend: String,
    /// Phase.
    pub phase: Phase,
    /// The backend's reason for the phase, if any.
    pub message: String,
    /// Absolute workspace path inside the sandbox.
    pub workdir: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Creation time, ms since the epoch.
    pub created_ms: Option<u64>,
}

impl SandboxInfo {
    /// Whether this host (any run) created the sandbox.
    pub fn is_host_owned(&self) -> bool {
        self.labels.get(OWNER_LABEL).map(String::as_str) == Some(OWNER_VALUE)
    }
}

/// What a backend supports. Combined with the policy, this becomes the WIT
/// `capabilities` record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Features {
    /// Output is delivered as produced.
    pub streaming: bool,
    /// Stdin can be written after start.
    pub interactive_stdin: bool,
    /// PTYs and resize.
    pub pty: bool,
    /// Signals can be delivered to running processes.
    pub signals: bool,
    /// Tar export/import.
    pub snapshots: bool,
    /// Network policy read/update.
    pub network_policy: bool,
    /// Port exposure.
    pub ports: bool,
    /// Sandboxes can be created and deleted.
    pub lifecycle: bool,
}

/// Terminal size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TermSize {
    /// Columns.
    pub cols: u16,
    /// Rows.
    pub rows: u16,
}

/// How stdin is provided to a command.
#[derive(Debug, Clone)]
pub enum Stdin {
    /// These bytes, then end-of-file.
    Bytes(Bytes),
    /// Stdin stays open; the caller writes through [`ExecInput`].
    Interactive,
}

/// One command to run.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExecRequest {
    /// argv; never empty.
    pub argv: Vec<String>,
    /// Absolute working directory inside the sandbox.
    pub cwd: String,
    /// Extra environment.
    pub env: BTreeMap<String, String>,
    /// Stdin handling.
    pub stdin: Stdin,
    /// Terminal, if any.
    pub pty: Option<TermSize>,
    /// The backend must stop the command after this long and report
    /// [`ExitInfo::timed_out`].
    pub timeout: Duration,
}

impl ExecRequest {
    /// `argv` in `cwd`, stopped after `timeout`: no extra environment, empty
    /// stdin, no terminal (set the fields for more).
    pub fn new(argv: impl IntoIterator<Item = impl AsRef<str>>, cwd: impl Into<String>, timeout: Duration) -> Self {
        ExecRequest {
            argv: argv.into_iter().map(|a| a.as_ref().to_owned()).collect(),
            cwd: cwd.into(),
            env: BTreeMap::new(),
            stdin: Stdin::Bytes(Bytes::new()),
            pty: None,
            timeout,
        }
    }
}

/// Something sent to a running command.
#[derive(Debug, Clone)]
pub enum ExecInput {
    /// Bytes for stdin.
    Stdin(Bytes),
    /// Close stdin.
    CloseStdin,
    /// Resize the terminal.
    Resize(TermSize),
    /// Deliver a signal.
    Signal(Signal),
}

/// Signals a guest may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT
    Interrupt,
    /// SIGTERM
    Terminate,
    /// SIGKILL
    Kill,
    /// SIGHUP
    Hangup,
}

impl Signal {
    /// The POSIX signal number.
    pub fn number(self) -> i32 {
        match self {
            Signal::Interrupt => 2,
            Signal::Terminate => 15,
            Signal::Kill => 9,
            Signal::Hangup => 1,
        }
    }
    /// The name `kill -s` understands.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "INT",
            Signal::Terminate => "TERM",
            Signal::Kill => "KILL",
            Signal::Hangup => "HUP",
        }
    }
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ExitInfo {
    /// Exit code (128+n for signal n where known; 124 on timeout).
    pub code: i32,
    /// The backend stopped it because of its timeout.
    pub timed_out: bool,
    /// It ended because of a guest `kill`.
    pub killed: bool,
}

/// One event from a running command.
#[derive(Debug, Clone)]
pub enum ExecEvent {
    /// Stdout bytes (or terminal output).
    Stdout(Bytes),
    /// Stderr bytes.
    Stderr(Bytes),
    /// The command ended; no events follow.
    Exit(ExitInfo),
    /// The backend lost the command (stream dropped); no events follow.
    Failed(SandboxError),
}

/// A running command: events out, input in.
///
/// Dropping it tells the backend to kill the command.
#[derive(Debug)]
pub struct ExecSession {
    /// Output and exit events, in order. Bounded: a command that outpaces
    /// its reader is paused, not cut.
    pub events: mpsc::Receiver<ExecEvent>,
    /// Stdin, resize and signals.
    pub input: mpsc::Sender<ExecInput>,
}

/// Options for writing a file.
#[derive(Debug, Clone, Copy)]
pub struct WriteOptions {
    /// Permission bits.
    pub mode: u32,
    /// Create missing parents.
    pub create_parents: bool,
    /// Fail if the target exists.
    pub exclusive: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions { mode: 0o644, create_parents: false, exclusive: false }
    }
}

/// Kind of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// Regular file.
    File,
    /// Directory.
    Directory,
    /// Symbolic link.
    Symlink,
    /// Device, socket or FIFO.
    Other,
}

/// `lstat` of a path.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileStat {
    /// Absolute normalized path.
    pub path: String,
    /// Kind.
    pub kind: FileKind,
    /// Size in bytes.
    pub size: u64,
    /// Permission bits.
    pub mode: u32,
    /// Modification time, ms since the epoch.
    pub mtime_ms: i64,
    /// Link target for symlinks.
    pub symlink_target: Option<String>,
}

/// A directory entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DirEntry {
    /// File name.
    pub name: String,
    /// Kind (symlinks not followed).
    pub kind: FileKind,
    /// Size.
    pub size: u64,
    /// Permission bits.
    pub mode: u32,
    /// Modification time, ms since the epoch.
    pub mtime_ms: i64,
}

/// A file opened for reading.
pub struct FileRead {
    /// Size at open time.
    pub size: u64,
    /// The content. Backends verify integrity (length, and a hash where the
    /// transport can corrupt data) before yielding the final chunk.
    pub content: ByteStream,
}

impl std::fmt::Debug for FileRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileRead").field("size", &self.size).finish_non_exhaustive()
    }
}

/// A credential provider attached to a sandbox. Never carries a
/// credential value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProviderInfo {
    /// Its name.
    pub name: String,
    /// Its type (`github`, `claude`, ...).
    pub kind: String,
    /// The names of its credentials.
    pub credential_names: Vec<String>,
    /// Where it stands in the sandbox.
    pub readiness: ProviderReadiness,
    /// Why, when the backend says.
    pub reason: String,
}

/// Where an attached provider stands in the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderReadiness {
    /// Attached, not installed yet.
    Pending,
    /// In use.
    Ready,
    /// Withheld by the gateway.
    Withheld,
    /// Detached and removed.
    Revoked,
    /// Installing it failed.
    Failed,
    /// Not reported.
    Unknown,
}

/// A rule the sandbox's supervisor proposed after connections its policy
/// denied (an OpenShell draft policy chunk).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftChunk {
    /// Its id.
    pub id: String,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// The name the rule would have.
    pub rule_name: String,
    /// The proposed rule; `None` when it holds a value this host cannot
    /// represent without loss.
    pub rule: Option<crate::backend::openshell::policy::RuleDoc>,
}

/// Network policy status (OpenShell).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PolicyStatus {
    /// Revision described.
    pub version: u32,
    /// Revision enforced now.
    pub active_version: u32,
    /// `pending`, `loaded`, `failed`, `superseded` or `unknown`.
    pub state: PolicyLoadState,
    /// SHA-256 of the policy.
    pub policy_hash: String,
    /// Load failure reason.
    pub load_error: String,
    /// Network rules as YAML.
    pub rules_yaml: String,
}

/// Where a policy revision stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyLoadState {
    /// Stored, not loaded.
    Pending,
    /// Enforced.
    Loaded,
    /// Failed to load.
    Failed,
    /// Replaced.
    Superseded,
    /// Unknown.
    Unknown,
}

/// An exposed port.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExposedPort {
    /// Port in the sandbox.
    pub port: u16,
    /// Service name.
    pub name: String,
    /// URL, if routed.
    pub url: String,
}
