//! The two wire generations behind one generation-neutral trait.
//!
//! [`Wire`] speaks in the plain types below; `v0_0` and `v0_1` each convert
//! them to their own generated messages and back, so nothing generated
//! leaks past this module. Every unary call carries a deadline (`grpc-timeout`
//! plus a client-side timer); streams carry one sized by the caller.

mod shared;
mod v0_0;
mod v0_1;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;
use tokio::sync::mpsc;
use tonic::Status;

use super::config::{GatewayConfig, Protocol};
use super::policy::{PolicyDoc, RuleDoc};
use super::transport::Auth;
use crate::backend::{DraftChunk, ExposedPort, Phase, PolicyLoadState, ProviderInfo};

pub use v0_0::Wire00;
pub use v0_1::Wire01;

/// A sandbox as the gateway describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Gateway id (UUID).
    pub id: String,
    /// Name.
    pub name: String,
    /// Phase.
    pub phase: Phase,
    /// The `Ready` condition's reason and message, when not ready.
    pub message: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Creation time, ms since the epoch.
    pub created_ms: Option<u64>,
}

/// What to create.
#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    /// Name (gateway picks one when empty).
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Environment of every process.
    pub environment: BTreeMap<String, String>,
    /// Image.
    pub image: String,
    /// CPU, driver syntax.
    pub cpu: Option<String>,
    /// Memory, driver syntax.
    pub memory: Option<String>,
    /// GPUs.
    pub gpu: Option<u32>,
    /// Sandbox policy.
    pub policy: Option<PolicyDoc>,
    /// Providers to attach.
    pub providers: Vec<String>,
}

/// How to address a sandbox: 0.0 uses ids for exec/watch/config, 0.1 names.
#[derive(Debug, Clone)]
pub struct Target {
    /// Gateway id.
    pub id: String,
    /// Name.
    pub name: String,
}

/// One exec request.
#[derive(Debug, Clone, Default)]
pub struct ExecCall {
    /// argv.
    pub argv: Vec<String>,
    /// Working directory (empty = the sandbox default).
    pub workdir: String,
    /// Extra environment.
    pub env: BTreeMap<String, String>,
    /// Stdin bytes (non-interactive only).
    pub stdin: Vec<u8>,
    /// Server-side timeout.
    pub timeout: Option<Duration>,
    /// Allocate a PTY.
    pub tty: bool,
    /// PTY columns.
    pub cols: u32,
    /// PTY rows.
    pub rows: u32,
}

/// One event of an exec stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// stdout bytes.
    Stdout(Bytes),
    /// stderr bytes.
    Stderr(Bytes),
    /// Exit code; the last event.
    Exit(i32),
}

/// Client-to-gateway frames of an interactive exec after `start`.
#[derive(Debug, Clone)]
pub enum Input {
    /// Stdin bytes.
    Stdin(Bytes),
    /// Terminal size.
    Resize(u32, u32),
}

/// An exec's events.
pub type Events = Pin<Box<dyn Stream<Item = Result<Event, Status>> + Send>>;
/// A watch's sandbox snapshots.
pub type Snapshots = Pin<Box<dyn Stream<Item = Result<Record, Status>> + Send>>;

/// A policy revision.
#[derive(Debug, Clone)]
pub struct Revision {
    /// Its version.
    pub version: u32,
    /// Where it stands.
    pub state: PolicyLoadState,
    /// SHA-256 of the policy.
    pub hash: String,
    /// Why loading failed.
    pub load_error: String,
    /// The revision's network rules, or why this host cannot represent
    /// them without loss.
    pub rules: Result<BTreeMap<String, RuleDoc>, String>,
    /// The version the sandbox enforces.
    pub active_version: u32,
}

/// The generation-neutral gateway API this crate uses.
#[async_trait]
pub trait Wire: Send + Sync + std::fmt::Debug {
    /// Which generation this speaks.
    fn protocol(&self) -> Protocol;
    /// `Health`: the gateway's version.
    async fn health(&self) -> Result<String, Status>;
    /// `CreateSandbox` (returns at once, usually PROVISIONING).
    async fn create(&self, req: &CreateRequest) -> Result<Record, Status>;
    /// `GetSandbox` by name.
    async fn get(&self, name: &str) -> Result<Record, Status>;
    /// One page of `ListSandboxes`; returns the next page's cursor.
    async fn list_page(&self, selector: &str, cursor: &str) -> Result<(Vec<Record>, Option<String>), Status>;
    /// `DeleteSandbox` by name.
    async fn delete(&self, name: &str) -> Result<(), Status>;
    /// `WatchSandbox` status snapshots.
    async fn watch(&self, target: &Target, deadline: Duration) -> Result<Snapshots, Status>;
    /// `ExecSandbox`.
    async fn exec(&self, target: &Target, call: ExecCall, deadline: Duration) -> Result<Events, Status>;
    /// `ExecSandboxInteractive`: `start`, then `input` frames until it closes.
    async fn exec_interactive(
        &self,
        target: &Target,
        call: ExecCall,
        input: mpsc::Receiver<Input>,
        deadline: Duration,
    ) -> Result<Events, Status>;
    /// `GetSandboxPolicyStatus` (`version` 0 = latest).
    async fn policy_status(&self, target: &Target, version: u32) -> Result<Revision, Status>;
    /// `GetSandboxConfig` then `UpdateConfig` with the network rules
    /// replaced; returns the new version.
    async fn update_rules(&self, target: &Target, rules: &BTreeMap<String, RuleDoc>) -> Result<u32, Status>;
    /// `ExposeService`.
    async fn expose(&self, target: &Target, port: u16, service: &str) -> Result<ExposedPort, Status>;
    /// `GetDraftPolicy`: chunks of `status` (empty: all).
    async fn draft_chunks(&self, target: &Target, status: &str) -> Result<Vec<DraftChunk>, Status>;
    /// `ApproveDraftChunk` or `RejectDraftChunk`.
    async fn decide_draft(&self, target: &Target, chunk_id: &str, approve: bool, reason: &str) -> Result<(), Status>;
    /// `ListSandboxProviders` (every page), each with its readiness where
    /// the generation reports it (`GetSandboxProviderStatus`).
    async fn providers(&self, target: &Target) -> Result<Vec<ProviderInfo>, Status>;
    /// `AttachSandboxProvider`; false when it already was.
    async fn attach_provider(&self, target: &Target, provider: &str) -> Result<bool, Status>;
    /// `DetachSandboxProvider`; false when it was not attached.
    async fn detach_provider(&self, target: &Target, provider: &str) -> Result<bool, Status>;
}

/// A wire client of the given generation over `channel`.
pub fn build(protocol: Protocol, channel: tonic::transport::Channel, auth: Auth, cfg: &GatewayConfig) -> Box<dyn Wire> {
    match protocol {
        Protocol::V0_0 => Box::new(Wire00::new(channel, auth, cfg)),
        Protocol::V0_1 => Box::new(Wire01::new(channel, auth, cfg)),
    }
}

/// `Health` is identical in both generations, so either client can ask it
/// before the generation is known.
pub async fn health(channel: tonic::transport::Channel, auth: Auth, cfg: &GatewayConfig) -> Result<String, Status> {
    Wire00::new(channel, auth, cfg).health().await
}

/// A request with a deadline.
pub(super) fn request<T>(msg: T, deadline: Duration) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.set_timeout(deadline);
    r
}

/// Run a unary call with a client-side timer too (the `grpc-timeout`
/// header alone does not help if the connection hangs).
pub(super) async fn unary<T>(
    deadline: Duration,
    call: impl Future<Output = Result<tonic::Response<T>, Status>>,
) -> Result<T, Status> {
    let started = std::time::Instant::now();
    match tokio::time::timeout(deadline + Duration::from_secs(1), call).await {
        // tonic reports its own deadline as CANCELLED, and the source that
        // says so is lost when the status travels inside another error: a
        // cancellation once the deadline has passed is that deadline.
        Ok(Err(s)) if s.code() == tonic::Code::Cancelled && started.elapsed() >= deadline => {
            Err(Status::deadline_exceeded(format!("{} (no answer within {} s)", s.message(), deadline.as_secs_f32())))
        }
        Ok(r) => r.map(tonic::Response::into_inner),
        Err(_) => Err(Status::deadline_exceeded(format!("no answer within {} s", deadline.as_secs()))),
    }
}

/// Map a generation's phase number (identical values in both) to [`Phase`].
pub(super) fn phase(v: i32) -> Phase {
    match v {
        1 | 8 => Phase::Provisioning,
        2 => Phase::Ready,
        3 => Phase::Error,
        4 => Phase::Deleting,
        6 | 7 => Phase::Stopped,
        // 9 = COMPLETED (0.1): the main process finished.
        9 => Phase::Stopped,
        _ => Phase::Unknown,
    }
}

/// Map a policy status number (identical in both) to [`PolicyLoadState`].
pub(super) fn load_state(v: i32) -> PolicyLoadState {
    match v {
        1 => PolicyLoadState::Pending,
        2 => PolicyLoadState::Loaded,
        3 => PolicyLoadState::Failed,
        4 => PolicyLoadState::Superseded,
        _ => PolicyLoadState::Unknown,
    }
}

/// `k=v,k2=v2` for a label filter.
pub fn selector(labels: &[(String, String)]) -> String {
    labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// Build the `Ready` condition text.
pub(super) fn ready_message(conditions: &[(String, String, String, String)]) -> String {
    conditions
        .iter()
        .find(|(t, s, _, _)| t == "Ready" && s != "True")
        .map(|(_, _, reason, msg)| if msg.is_empty() { reason.clone() } else { format!("{reason}: {msg}") })
        .unwrap_or_default()
}
