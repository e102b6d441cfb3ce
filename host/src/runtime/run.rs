//! One run of an agent, as the embedder sees it: the request, the outcome
//! and its statistics, and the flow that binds a sandbox, runs the body
//! (`call`) and cleans up the sandboxes this run created on every exit path
//! (`cleanup`).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::agent::{Agent, AgentKind, CodeSource, LoadError};
use super::call::RunCtx;
use super::cleanup::{Cleanup, delete_with_retry};
use super::functions::{ExportedFunction, FunctionCall};
use super::limits::LimitExceeded;
use super::output::{CapturedOutput, Forward, GuestStream, OutputCapture};
use super::{Host, new_run_id};
use crate::backend::{OWNER_LABEL, OWNER_VALUE, RUN_LABEL, SandboxInfo, SandboxSpec};
use crate::egress::DestinationStats;
use crate::error::SandboxError;
use crate::model::ModelStats;

/// Which sandbox a run binds.
#[derive(Debug, Clone)]
pub enum SandboxTarget {
    /// Create one for this run (deleted at the end unless kept).
    Ephemeral(SandboxSpec),
    /// Use an existing sandbox by name (never deleted by the run).
    Attach(String),
}

/// Copy a host path into the sandbox before the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed {
    /// Host file or directory.
    pub host: PathBuf,
    /// Destination in the sandbox (relative to its workdir unless absolute).
    pub sandbox: String,
}

/// Copy a sandbox path to the host after the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collect {
    /// Source in the sandbox.
    pub sandbox: String,
    /// Host destination.
    pub host: PathBuf,
}

/// What to run and how.
#[derive(Clone)]
#[non_exhaustive]
pub struct RunRequest {
    /// The agent's input (`run(input)`; a command's stdin).
    pub input: String,
    /// Extra arguments (a command's argv after its name).
    pub args: Vec<String>,
    /// The sandbox to bind.
    pub sandbox: SandboxTarget,
    /// Keep sandboxes this run creates instead of deleting them.
    pub keep: bool,
    /// Host paths to copy in first.
    pub seeds: Vec<Seed>,
    /// Sandbox paths to copy out afterwards.
    pub collects: Vec<Collect>,
    /// Receives guest stdout/stderr as it is written.
    pub forward: Option<Forward>,
    /// Cancels the run (the sandboxes are still cleaned up).
    pub cancel: CancellationToken,
    /// For a [`AgentKind::Functions`] component: the function to call and
    /// its JSON arguments; the outcome's result is the returned value as
    /// JSON (see [`crate::wit_json`]).
    pub call: Option<FunctionCall>,
}

impl std::fmt::Debug for RunRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunRequest")
            .field("sandbox", &self.sandbox)
            .field("keep", &self.keep)
            .field("seeds", &self.seeds)
            .field("collects", &self.collects)
            .finish_non_exhaustive()
    }
}

impl RunRequest {
    /// A run with this input in a fresh sandbox.
    pub fn new(input: impl Into<String>) -> Self {
        RunRequest {
            input: input.into(),
            args: Vec::new(),
            sandbox: SandboxTarget::Ephemeral(SandboxSpec::default()),
            keep: false,
            seeds: Vec::new(),
            collects: Vec::new(),
            forward: None,
            cancel: CancellationToken::new(),
            call: None,
        }
    }
    /// Use an existing sandbox.
    pub fn attach(mut self, name: impl Into<String>) -> Self {
        self.sandbox = SandboxTarget::Attach(name.into());
        self
    }
    /// Create the run's sandbox from this spec.
    pub fn spec(mut self, spec: SandboxSpec) -> Self {
        self.sandbox = SandboxTarget::Ephemeral(spec);
        self
    }
    /// Keep created sandboxes.
    pub fn keep(mut self, keep: bool) -> Self {
        self.keep = keep;
        self
    }
    /// Extra arguments.
    pub fn args(mut self, args: Vec<String>) -> Self {
        self.args = args;
        self
    }
    /// Add a seed.
    pub fn seed(mut self, seed: Seed) -> Self {
        self.seeds.push(seed);
        self
    }
    /// Add a collect.
    pub fn collect(mut self, c: Collect) -> Self {
        self.collects.push(c);
        self
    }
    /// Forward guest output.
    pub fn forward(mut self, f: Forward) -> Self {
        self.forward = Some(f);
        self
    }
    /// Cancel with this token.
    pub fn cancel_token(mut self, t: CancellationToken) -> Self {
        self.cancel = t;
        self
    }
    /// Call this exported function (a [`AgentKind::Functions`] component).
    pub fn call(mut self, call: FunctionCall) -> Self {
        self.call = Some(call);
        self
    }
}

/// Timings and resource use of a run.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[non_exhaustive]
pub struct RunStats {
    /// Where the compiled code came from.
    pub code: Option<CodeSource>,
    /// Loading time (before the run), ms.
    pub load_ms: f64,
    /// Sandbox creation or lookup, ms.
    pub sandbox_ms: f64,
    /// Instantiation, µs.
    pub instantiate_us: f64,
    /// The guest call, ms.
    pub call_ms: f64,
    /// The whole run, ms.
    pub total_ms: f64,
    /// Largest linear memory, bytes.
    pub peak_memory_bytes: u64,
    /// Time the guest spent in its own code, ms (10 ms resolution).
    pub cpu_ms: u64,
    /// Guest log lines dropped past the cap.
    pub log_lines_dropped: u64,
    /// The guest's HTTP requests, per destination (never their headers).
    pub http: Vec<DestinationStats>,
    /// The guest's model calls: usage and latency (never their text).
    pub model: ModelStats,
}

/// A finished run.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The agent's own result: `Ok` from `run`, or its `Err` (a command:
    /// stdout on exit 0, else stderr and the exit code).
    pub result: Result<String, String>,
    /// The sandbox the run was bound to.
    pub sandbox: SandboxInfo,
    /// Whether that sandbox still exists (attached, or kept).
    pub sandbox_kept: bool,
    /// What the guest printed.
    pub output: CapturedOutput,
    /// Timings.
    pub stats: RunStats,
    /// Cleanup problems (the result stands; these need attention).
    pub cleanup_errors: Vec<String>,
}

/// Why a run failed (as opposed to the agent returning an error).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The component could not be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Sandbox setup, seeding or collecting failed.
    #[error("{0}")]
    Sandbox(#[from] SandboxError),
    /// The guest exceeded a limit and was stopped.
    #[error("{0}")]
    Limit(LimitExceeded),
    /// The guest trapped (crashed).
    #[error("the guest trapped: {0}")]
    Trap(String),
    /// The run was cancelled (Ctrl-C).
    #[error("the run was interrupted")]
    Interrupted,
    /// Anything else in the host.
    #[error("host error: {0}")]
    Host(String),
}

/// A failed run, with what is known about it.
#[derive(Debug)]
pub struct RunFailure {
    /// What went wrong.
    pub error: RunError,
    /// What the guest printed before it failed.
    pub output: CapturedOutput,
    /// The sandbox, if one was bound.
    pub sandbox: Option<SandboxInfo>,
    /// Timings so far.
    pub stats: RunStats,
    /// Cleanup problems.
    pub cleanup_errors: Vec<String>,
}

impl std::fmt::Display for RunFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for RunFailure {}

/// The exported function `call` names, with its arguments converted; an
/// error if the call does not fit the component.
fn function_call<'a>(
    agent: &'a Agent,
    call: Option<&FunctionCall>,
) -> Result<Option<(&'a ExportedFunction, Vec<wasmtime::component::Val>)>, SandboxError> {
    const OP: &str = "component.call";
    match (agent.kind(), call) {
        (AgentKind::Functions, None) => Err(SandboxError::invalid(
            OP,
            format!(
                "{} exports functions, not an entry point: say which to call (RunRequest::call), or offer them \
                 as tools with `openshell-wasm mcp --component`",
                agent.name()
            ),
        )),
        (AgentKind::Agent | AgentKind::Command, Some(c)) => Err(SandboxError::invalid(
            OP,
            format!(
                "{} is an agent or command component; it exports no function `{}` to call",
                agent.name(),
                c.function
            ),
        )),
        (AgentKind::Agent | AgentKind::Command, None) => Ok(None),
        (AgentKind::Functions, Some(c)) => {
            let Some(f) = agent.functions().iter().find(|f| f.name == c.function && f.interface == c.interface) else {
                let known: Vec<String> = agent.functions().iter().map(|f| f.signature()).collect();
                return Err(SandboxError::not_found(
                    OP,
                    format!("{} exports no function `{}`; it exports {known:?}", agent.name(), c.function),
                ));
            };
            let args = f.args(&c.args).map_err(|m| SandboxError::invalid(OP, m))?;
            Ok(Some((f, args)))
        }
    }
}

pub(super) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl Host {
    /// Run `agent` once. See [`RunRequest`] for the options.
    ///
    /// Returns the agent's result (which may itself be an error the agent
    /// reported), or a [`RunFailure`] when the run could not complete:
    /// a limit was exceeded, the guest trapped, the sandbox could not be
    /// set up, or the run was cancelled. Sandboxes the run created are
    /// deleted in every case unless `keep` is set.
    pub async fn run(&self, agent: &Agent, request: RunRequest) -> Result<RunOutcome, RunFailure> {
        let started = Instant::now();
        let mut stats = RunStats { code: Some(agent.source), load_ms: ms(agent.load_time), ..RunStats::default() };
        // A command's stdout is its result: capture it, but forward only
        // its stderr as it runs.
        let forward = match agent.kind() {
            AgentKind::Agent | AgentKind::Functions => request.forward.clone(),
            AgentKind::Command => request.forward.clone().map(|f| {
                Arc::new(move |s: GuestStream, d: &[u8]| {
                    if s == GuestStream::Stderr {
                        f(s, d);
                    }
                }) as Forward
            }),
        };
        let output = OutputCapture::new(self.policy.guest.output_bytes, forward);
        let created = Arc::new(Mutex::new(Vec::new()));
        let cancel = request.cancel.clone();
        let fail = |error: RunError, sandbox: Option<SandboxInfo>, stats: RunStats, cleanup_errors: Vec<String>| {
            RunFailure { error, output: output.snapshot(), sandbox, stats, cleanup_errors }
        };
        let run_id = match new_run_id() {
            Ok(id) => id,
            Err(e) => return Err(fail(RunError::Host(e.to_string()), None, stats, Vec::new())),
        };

        // 0. The call, checked before any sandbox exists.
        let function = match function_call(agent, request.call.as_ref()) {
            Ok(f) => f,
            Err(e) => return Err(fail(RunError::Sandbox(e), None, stats, Vec::new())),
        };

        // 1. The sandbox.
        let t = Instant::now();
        let bound = tokio::select! {
            r = self.bind_sandbox(&request.sandbox, &run_id) => r,
            () = cancel.cancelled() => Err(SandboxError::unavailable("sandbox.create", "interrupted")),
        };
        stats.sandbox_ms = ms(t.elapsed());
        let (sandbox, owned) = match bound {
            Ok(b) => b,
            Err(e) if cancel.is_cancelled() => {
                let _ = e;
                let cleanup_errors = self.delete_unbound(&request, &run_id).await;
                return Err(fail(RunError::Interrupted, None, stats, cleanup_errors));
            }
            Err(e) => return Err(fail(RunError::Sandbox(e), None, stats, Vec::new())),
        };
        let cleanup = Cleanup {
            backend: self.backend.clone(),
            main: owned.then(|| sandbox.name.clone()),
            created: created.clone(),
            keep: request.keep,
            done: false,
        };
        tracing::info!(run = %run_id, sandbox = %sandbox.name, backend = self.backend.name(), owned, "sandbox bound");

        // 2.-4. Seed, call, collect; any failure still reaches cleanup.
        let cx = RunCtx {
            agent,
            request: &request,
            run_id: &run_id,
            sandbox: &sandbox,
            owned,
            created,
            output: &output,
            function,
        };
        let body = self.run_body(&cx, &mut stats);
        let result = tokio::select! {
            r = body => r,
            () = cancel.cancelled() => Err(RunError::Interrupted),
        };
        let cleanup_errors = cleanup.run().await;
        for e in &cleanup_errors {
            tracing::error!("{e}");
        }
        stats.total_ms = ms(started.elapsed());
        let sandbox_kept = !owned || request.keep;
        match result {
            Ok(agent_result) => Ok(RunOutcome {
                result: agent_result,
                sandbox,
                sandbox_kept,
                output: output.snapshot(),
                stats,
                cleanup_errors,
            }),
            Err(e) => Err(fail(e, Some(sandbox), stats, cleanup_errors)),
        }
    }

    /// After an interruption dropped the creation of the run's sandbox (the
    /// create may already have reached the backend, and no [`Cleanup`]
    /// knows the sandbox's name yet): delete whatever carries this run's
    /// label. Returns the cleanup errors.
    async fn delete_unbound(&self, request: &RunRequest, run_id: &str) -> Vec<String> {
        if request.keep || !matches!(request.sandbox, SandboxTarget::Ephemeral(_)) {
            return Vec::new();
        }
        let found = match self.backend.list(&[(RUN_LABEL.to_string(), run_id.to_string())]).await {
            Ok(found) => found,
            Err(e) => {
                return vec![format!(
                    "could not look for the sandbox this interrupted run was creating ({RUN_LABEL}={run_id}): {e}; \
                     remove it with `openshell-wasm sandbox sweep`"
                )];
            }
        };
        let mut errors = Vec::new();
        for s in found {
            let name = s.name;
            match delete_with_retry(&*self.backend, &name).await {
                Ok(()) => tracing::debug!(sandbox = %name, "deleted the sandbox of an interrupted creation"),
                Err(e) => errors.push(format!(
                    "could not delete sandbox `{name}`: {e}; remove it with `openshell-wasm sandbox delete {name}` \
                     or `sandbox sweep`"
                )),
            }
        }
        errors
    }

    pub(crate) async fn bind_sandbox(
        &self,
        target: &SandboxTarget,
        run_id: &str,
    ) -> Result<(SandboxInfo, bool), SandboxError> {
        match target {
            SandboxTarget::Attach(name) => Ok((self.backend.get(name).await?, false)),
            SandboxTarget::Ephemeral(spec) => {
                let mut spec = spec.clone();
                spec.labels.insert(OWNER_LABEL.into(), OWNER_VALUE.into());
                spec.labels.insert(RUN_LABEL.into(), run_id.into());
                if spec.ready_timeout.is_zero() {
                    spec.ready_timeout = self.policy.sandbox.ready_timeout;
                }
                if spec.image.is_none() {
                    spec.image = self.policy.sandbox.image.clone();
                }
                Ok((self.backend.create(&spec).await?, true))
            }
        }
    }
}
