//! The OpenShell backend: sandboxes on an OpenShell gateway, over its gRPC
//! API, in either wire generation.
//!
//! - [`config`]: finding the gateway and its credentials.
//! - [`transport`]: the channel (plaintext, TLS, mTLS) and bearer token.
//! - `wire`: the two generations behind one trait; generated types stay
//!   there.
//! - `exec`: commands, streamed; large and interactive stdin; terminals.
//! - `files`, `script`: files and tar archives over exec.
//! - `channel`: the session channel, one long-lived exec per sandbox that
//!   carries the small file operations.
//! - [`policy`]: sandbox and network policy documents.
//!
//! The generation is read from `Health.version` before the first mutating
//! call (a client of the wrong generation can create a sandbox and then
//! fail to address it); `--protocol` overrides it, and a contradiction is
//! an error rather than silent mis-parsing.

pub(crate) mod channel;
pub mod config;
mod exec;
pub(crate) mod files;
pub mod policy;
mod sandbox;
mod script;
mod status;
pub(crate) mod transport;
mod wire;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;

pub use self::channel::Server as SessionServer;
use self::channel::Slot;
use self::config::{GatewayConfig, Protocol, SessionChannel};
use self::files::Files;
use self::sandbox::OpenShellSandbox;
use self::status::{retry, to_error};
use self::wire::{CreateRequest, Record, Target, Wire};
use super::{Backend, Features, Phase, Sandbox, SandboxInfo, SandboxSpec};
use crate::error::{Result, SandboxError};
use crate::retry::{self, Backoff, GaveUp, Reason, Verdict};

/// The environment the Python session server gets from the protocol's one
/// definition (operation names and exit codes), for its own unit tests
/// (`host/tests/all/session_server.rs`). Not a stable API.
#[doc(hidden)]
pub fn session_server_env() -> [(String, String); 2] {
    channel::python_env()
}

/// How long to wait for a deleted sandbox to disappear.
const DELETE_WAIT: Duration = Duration::from_secs(120);
/// Poll interval when the watch stream is unavailable.
const POLL: Duration = Duration::from_millis(500);
/// How long the first connection retries while nothing listens at the
/// gateway's address: enough for a gateway that is still starting, short
/// because a wrong address is the likelier cause (the full `rpc_timeout`
/// made that mistake take 30 s to report). Once the gateway has answered,
/// calls retry refusals for the full budget: it is then restarting.
const REFUSED_AT_CONNECT: Duration = Duration::from_secs(1);

/// Session channels by (sandbox id, workspace root).
type Channels = HashMap<(String, String), Arc<Slot>>;

/// Sandboxes on an OpenShell gateway.
#[derive(Debug, Clone)]
pub struct OpenShellBackend {
    wire: Arc<dyn Wire>,
    cfg: GatewayConfig,
    version: String,
    /// Session channels by sandbox id and workspace root (shared by
    /// clones, closed when the sandbox is deleted or the last clone is
    /// dropped). The root is part of the key because the channel's server
    /// confines every path to it: a handle with a narrower workdir must not
    /// reuse a channel that confines to a wider one.
    channels: Arc<Mutex<Channels>>,
}

impl OpenShellBackend {
    /// Connect to the gateway in `cfg`: ask its version (retrying while it
    /// is unavailable), pick the wire generation, and check it against
    /// `cfg.protocol` if one was forced.
    pub async fn connect(cfg: GatewayConfig) -> Result<Self> {
        let op = "gateway.connect";
        let (channel, auth) = transport::connect(&cfg)?;
        let started = Instant::now();
        let version = retry(op, cfg.rpc_timeout, || {
            let (channel, auth, cfg) = (channel.clone(), auth.clone(), cfg.clone());
            async move {
                wire::health(channel, auth, &cfg).await.map_err(|s| {
                    let mut e = to_error(op, &s);
                    if status::connection_refused(&s) && started.elapsed() >= REFUSED_AT_CONNECT {
                        e.retryable = false;
                    }
                    e
                })
            }
        })
        .await
        .map_err(|e| {
            e.context(format!(
                "cannot reach the OpenShell gateway at {} ({}); is it running?",
                cfg.endpoint, cfg.source
            ))
        })?;
        let detected = Protocol::from_version(&version);
        let protocol = match (cfg.protocol, detected) {
            (Some(forced), Some(seen)) if forced != seen => {
                return Err(SandboxError::invalid(
                    op,
                    format!(
                        "the gateway reports version {version} (protocol {}), but protocol {} was asked for; \
                         speaking the wrong generation mis-parses messages, so drop --protocol or fix it",
                        seen.as_str(),
                        forced.as_str()
                    ),
                ));
            }
            (Some(forced), _) => forced,
            (None, Some(seen)) => seen,
            (None, None) => {
                return Err(SandboxError::invalid(
                    op,
                    format!(
                        "the gateway reports version `{version}`, which names no known protocol generation; give --protocol 0.0 or 0.1"
                    ),
                ));
            }
        };
        tracing::info!(endpoint = %cfg.endpoint, %version, protocol = protocol.as_str(), source = %cfg.source, "connected to the OpenShell gateway");
        let wire: Arc<dyn Wire> = Arc::from(wire::build(protocol, channel, auth, &cfg));
        Ok(OpenShellBackend { wire, cfg, version, channels: Arc::default() })
    }

    /// The gateway's version.
    pub fn gateway_version(&self) -> &str {
        &self.version
    }

    /// The wire generation in use.
    pub fn protocol(&self) -> Protocol {
        self.wire.protocol()
    }

    fn info(&self, r: Record) -> SandboxInfo {
        SandboxInfo {
            name: r.name,
            id: r.id,
            backend: "openshell".into(),
            phase: r.phase,
            message: r.message,
            workdir: self.cfg.workdir.clone(),
            labels: r.labels,
            created_ms: r.created_ms,
        }
    }

    fn target(sb: &SandboxInfo) -> Target {
        Target { id: sb.id.clone(), name: sb.name.clone() }
    }

    fn files(&self, sb: &SandboxInfo) -> Files {
        let target = Self::target(sb);
        let mode = self.cfg.session_channel;
        let channel = (mode != SessionChannel::Off).then(|| {
            let mut map = self.channels.lock().unwrap_or_else(|p| p.into_inner());
            map.entry((sb.id.clone(), sb.workdir.clone()))
                .or_insert_with(|| Arc::new(Slot::new(self.wire.clone(), target.clone(), sb.workdir.clone(), mode)))
                .clone()
        });
        Files { wire: self.wire.clone(), target, root: sb.workdir.clone(), channel }
    }

    /// Which server the session channel of `sandbox` runs, opening the
    /// channel if needed; `None` when it is off or cannot start (then every
    /// file operation takes its own exec). For diagnostics.
    pub async fn session_server(&self, sandbox: &SandboxInfo) -> Option<SessionServer> {
        let slot = self.files(sandbox).channel?;
        Some(slot.get().await?.server())
    }

    /// Close the session channel of sandbox `name`, if any.
    fn close_channel(&self, name: &str) {
        let mut map = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, slot| slot.name() != name);
    }

    async fn get_record(&self, name: &str, op: &str) -> Result<Record> {
        retry(op, self.cfg.rpc_timeout, || async { self.wire.get(name).await.map_err(|s| to_error(op, &s)) }).await
    }

    /// Wait until `created` is READY, through `WatchSandbox`, falling back
    /// to polling `GetSandbox` when the watch is unavailable or ends.
    async fn wait_ready(&self, created: &Record, deadline: Instant) -> Result<Record> {
        let op = "sandbox.create";
        let target = Target { id: created.id.clone(), name: created.name.clone() };
        let left = deadline.saturating_duration_since(Instant::now());
        if let Ok(mut snapshots) = self.wire.watch(&target, left).await {
            loop {
                let next = tokio::time::timeout_at(deadline.into(), snapshots.next()).await;
                match next {
                    Err(_) => return Err(not_ready(op, &created.name, "watch")),
                    Ok(Some(Ok(r))) => {
                        if let Some(done) = settled(r, op)? {
                            return Ok(done);
                        }
                    }
                    // The stream failed or ended: poll instead.
                    Ok(Some(Err(_)) | None) => break,
                }
            }
        }
        if Instant::now() >= deadline {
            return Err(not_ready(op, &created.name, "poll"));
        }
        // `None` is "not settled yet"; errors the gateway may outgrow are
        // polled through too, until the deadline.
        let polled = retry::retry(
            &Backoff::constant(POLL).until(deadline.into()),
            |_| async {
                match self.wire.get(&created.name).await {
                    Ok(r) => settled(r, op).map_err(Some)?.ok_or(None),
                    Err(s) => Err(Some(to_error(op, &s))),
                }
            },
            |e: &Option<SandboxError>| e.as_ref().map_or(Verdict::Retry, retry::if_retryable),
        )
        .await;
        match polled {
            Ok(done) => Ok(done),
            Err(GaveUp { error: Some(e), reason: Reason::NotRetryable, .. }) => Err(e),
            Err(_) => Err(not_ready(op, &created.name, "poll")),
        }
    }
}

/// `Some(record)` once READY; an error once in a phase READY cannot follow.
fn settled(r: Record, op: &str) -> Result<Option<Record>> {
    match r.phase {
        Phase::Ready => Ok(Some(r)),
        Phase::Error => Err(SandboxError::backend(
            op,
            "sandbox-error",
            format!(
                "sandbox `{}` entered ERROR: {}",
                r.name,
                if r.message.is_empty() { "no reason given" } else { &r.message }
            ),
        )),
        Phase::Stopped | Phase::Deleting => {
            Err(SandboxError::conflict(op, format!("sandbox `{}` is {:?} before becoming ready", r.name, r.phase)))
        }
        _ => Ok(None),
    }
}

fn not_ready(op: &str, name: &str, how: &str) -> SandboxError {
    SandboxError::timeout(op, format!("sandbox `{name}` did not become ready in time ({how}); it was deleted"))
}

#[async_trait]
impl Backend for OpenShellBackend {
    fn name(&self) -> &'static str {
        "openshell"
    }

    fn features(&self) -> Features {
        Features {
            streaming: true,
            interactive_stdin: true,
            pty: true,
            signals: true,
            snapshots: true,
            network_policy: true,
            ports: true,
            lifecycle: true,
        }
    }

    async fn create(&self, spec: &SandboxSpec) -> Result<SandboxInfo> {
        let op = "sandbox.create";
        let started = Instant::now();
        let policy = match &spec.policy_yaml {
            Some(text) => {
                let doc = policy::parse_policy(text, "the sandbox policy")?;
                policy::check_generation(&doc.network_policies, self.wire.protocol())?;
                Some(doc)
            }
            None => None,
        };
        let req = CreateRequest {
            name: spec.name.clone().unwrap_or_default(),
            labels: spec.labels.clone(),
            environment: spec.environment.clone(),
            image: spec.image.clone().unwrap_or_default(),
            cpu: spec.cpu.clone(),
            memory: spec.memory.clone(),
            gpu: spec.gpu,
            policy,
            providers: spec.providers.clone(),
        };
        // Not retried: a create that reached the gateway must not be sent
        // twice.
        let created = self.wire.create(&req).await.map_err(|s| to_error(op, &s))?;
        let deadline =
            started + if spec.ready_timeout.is_zero() { Duration::from_secs(300) } else { spec.ready_timeout };
        match self.wait_ready(&created, deadline).await {
            Ok(r) => Ok(self.info(r)),
            Err(e) => {
                // Never leave a half-created sandbox behind.
                if let Err(d) = self.delete(&created.name).await {
                    tracing::error!(sandbox = %created.name, "could not delete the sandbox that failed to start: {d}");
                }
                Err(e)
            }
        }
    }

    async fn get(&self, name: &str) -> Result<SandboxInfo> {
        Ok(self.info(self.get_record(name, "sandbox.get").await?))
    }

    async fn list(&self, labels: &[(String, String)]) -> Result<Vec<SandboxInfo>> {
        let op = "sandbox.list";
        let selector = wire::selector(labels);
        let mut out = Vec::new();
        let mut cursor = String::new();
        for _ in 0..1000 {
            let (page, next) = retry(op, self.cfg.rpc_timeout, || async {
                self.wire.list_page(&selector, &cursor).await.map_err(|s| to_error(op, &s))
            })
            .await?;
            out.extend(page.into_iter().map(|r| self.info(r)));
            match next {
                Some(n) if n != cursor => cursor = n,
                _ => break,
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    async fn delete(&self, name: &str) -> Result<()> {
        let op = "sandbox.delete";
        self.close_channel(name);
        retry(op, self.cfg.rpc_timeout, || async { self.wire.delete(name).await.map_err(|s| to_error(op, &s)) })
            .await?;
        // The record may linger in DELETING; wait until it is gone.
        let gone = retry::retry(
            &Backoff::constant(POLL).within(DELETE_WAIT),
            |_| async {
                match self.wire.get(name).await {
                    Err(s) if s.code() == tonic::Code::NotFound => Ok(()),
                    // A new sandbox took the name meanwhile: ours is gone.
                    Ok(r) if r.phase != Phase::Deleting && r.phase != Phase::Unknown => Ok(()),
                    _ => Err(()),
                }
            },
            |()| Verdict::Retry,
        )
        .await;
        gone.map_err(|_| {
            SandboxError::timeout(op, format!("sandbox `{name}` was still being deleted after {DELETE_WAIT:?}"))
        })
    }

    fn open(&self, sandbox: &SandboxInfo) -> Arc<dyn Sandbox> {
        Arc::new(OpenShellSandbox::new(self.clone(), sandbox.clone()))
    }
}
