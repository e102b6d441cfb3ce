//! Generation 0.1 (gateways 0.1.x): every sandbox RPC takes the sandbox's
//! name and a `WorkspaceSelector`; times are `Timestamp`/`Duration` at the
//! old field number + 100; lists page with tokens; deletes report an
//! outcome; three endpoint settings are enums.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use openshell_proto::v0_1::openshell::datamodel::v1 as dm;
use openshell_proto::v0_1::openshell::sandbox::v1 as sb;
use openshell_proto::v0_1::openshell::v1 as pb;
use pb::open_shell_client::OpenShellClient;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use super::{
    CreateRequest, Event, Events, ExecCall, Input, Record, Revision, Snapshots, Target, Wire, request, shared, unary,
};
use crate::backend::openshell::config::{GatewayConfig, Protocol};
use crate::backend::openshell::policy::{Access, BinaryDoc, Enforcement, McpDoc, PolicyDoc, RuleDoc, Tls};
use crate::backend::openshell::transport::Auth;
use crate::backend::{DraftChunk, ExposedPort, ProviderInfo, ProviderReadiness};

type Client = OpenShellClient<InterceptedService<Channel, Auth>>;

/// A 0.1 gateway.
#[derive(Debug, Clone)]
pub struct Wire01 {
    client: Client,
    workspace: String,
    timeout: Duration,
}

impl Wire01 {
    /// Over `channel`.
    pub fn new(channel: Channel, auth: Auth, cfg: &GatewayConfig) -> Self {
        let client = OpenShellClient::with_interceptor(channel, auth).max_decoding_message_size(64 << 20);
        Wire01 { client, workspace: cfg.workspace.clone(), timeout: cfg.rpc_timeout }
    }
}

fn scope(workspace: &str) -> Option<openshell_proto::v0_1::openshell::datamodel::v1::WorkspaceSelector> {
    use openshell_proto::v0_1::openshell::datamodel::v1::{WorkspaceSelector, workspace_selector::Selection};
    Some(WorkspaceSelector { selection: Some(Selection::Workspace(workspace.to_string())) })
}

fn record(s: pb::Sandbox) -> Record {
    let meta = s.metadata.unwrap_or_default();
    let status = s.status.unwrap_or_default();
    let conds: Vec<(String, String, String, String)> =
        status.conditions.into_iter().map(|c| (c.r#type, c.status, c.reason, c.message)).collect();
    Record {
        id: meta.id,
        name: meta.name,
        phase: super::phase(status.phase),
        message: super::ready_message(&conds),
        labels: meta.labels.into_iter().collect(),
        created_ms: meta.created_time.and_then(|t| {
            u64::try_from(t.seconds).ok().map(|s| s * 1000 + u64::try_from(t.nanos).unwrap_or(0) / 1_000_000)
        }),
    }
}

fn exec_request(target: &Target, call: ExecCall, workspace: &str) -> pb::ExecSandboxRequest {
    pb::ExecSandboxRequest {
        sandbox: target.name.clone(),
        command: call.argv,
        workdir: call.workdir,
        environment: call.env.into_iter().collect(),
        execution_timeout: call.timeout.map(|d| prost_types::Duration {
            seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
        }),
        stdin: call.stdin,
        tty: call.tty,
        cols: call.cols,
        rows: call.rows,
        workspace_scope: scope(workspace),
        ..Default::default()
    }
}

// What 0.1 spells its own way: endpoint settings as enums, binaries
// without `harness`, MCP versions and the token grant owner.
fn tls_to_pb(v: Option<Tls>) -> i32 {
    match v {
        None => 0,
        Some(Tls::Skip) => 1,
        Some(Tls::Terminate) => 2,
        Some(Tls::Passthrough) => 3,
    }
}
fn tls_from_pb(v: &i32) -> Result<Option<Tls>, String> {
    [None, Some(Tls::Skip), Some(Tls::Terminate), Some(Tls::Passthrough)]
        .get(index(*v))
        .copied()
        .ok_or_else(|| unknown("tls", *v))
}
fn enforcement_to_pb(v: Option<Enforcement>) -> i32 {
    match v {
        None => 0,
        Some(Enforcement::Enforce) => 1,
        Some(Enforcement::Audit) => 2,
    }
}
fn enforcement_from_pb(v: &i32) -> Result<Option<Enforcement>, String> {
    [None, Some(Enforcement::Enforce), Some(Enforcement::Audit)]
        .get(index(*v))
        .copied()
        .ok_or_else(|| unknown("enforcement", *v))
}
fn access_to_pb(v: Option<Access>) -> i32 {
    match v {
        None => 0,
        Some(Access::ReadOnly) => 1,
        Some(Access::ReadWrite) => 2,
        Some(Access::Full) => 3,
    }
}
fn access_from_pb(v: &i32) -> Result<Option<Access>, String> {
    [None, Some(Access::ReadOnly), Some(Access::ReadWrite), Some(Access::Full)]
        .get(index(*v))
        .copied()
        .ok_or_else(|| unknown("access", *v))
}
fn index(v: i32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}
// An enum value newer than this host is an error, not "unset": unset
// could widen access when the policy is written back.
fn unknown(field: &str, v: i32) -> String {
    format!("the gateway's policy has {field} value {v}, which this host does not know; upgrade openshell-wasm")
}
fn binary_to_pb(b: &BinaryDoc) -> sb::NetworkBinary {
    sb::NetworkBinary { path: b.path.clone() }
}
fn binary_from_pb(b: sb::NetworkBinary) -> BinaryDoc {
    BinaryDoc { path: b.path, harness: false }
}
fn mcp_to_pb(m: &McpDoc) -> sb::McpOptions {
    sb::McpOptions {
        strict_tool_names: m.strict_tool_names,
        allow_all_known_mcp_methods: m.allow_all_known_mcp_methods,
        versions: m.versions.clone(),
    }
}
fn mcp_from_pb(m: sb::McpOptions) -> McpDoc {
    McpDoc {
        strict_tool_names: m.strict_tool_names,
        allow_all_known_mcp_methods: m.allow_all_known_mcp_methods,
        versions: m.versions,
    }
}
fn extra_to_pb(e: &EndpointDoc, ep: &mut sb::NetworkEndpoint) {
    ep.token_grant_owner = e.token_grant_owner.clone();
}
fn extra_from_pb(ep: &sb::NetworkEndpoint, e: &mut EndpointDoc) {
    e.token_grant_owner = ep.token_grant_owner.clone();
}

shared::conversions!(Protocol::V0_1);

#[async_trait]
impl Wire for Wire01 {
    fn protocol(&self) -> Protocol {
        Protocol::V0_1
    }

    async fn health(&self) -> Result<String, Status> {
        let mut c = self.client.clone();
        Ok(unary(self.timeout, c.health(request(pb::HealthRequest {}, self.timeout))).await?.version)
    }

    async fn create(&self, req: &CreateRequest) -> Result<Record, Status> {
        let msg = pb::CreateSandboxRequest {
            spec: Some(spec_to_pb(req)),
            name: req.name.clone(),
            labels: req.labels.clone().into_iter().collect(),
            workspace_scope: scope(&self.workspace),
            ..Default::default()
        };
        let mut c = self.client.clone();
        let resp = unary(self.timeout, c.create_sandbox(request(msg, self.timeout))).await?;
        resp.sandbox.map(record).ok_or_else(|| Status::internal("CreateSandbox returned no sandbox"))
    }

    async fn get(&self, name: &str) -> Result<Record, Status> {
        let msg = pb::GetSandboxRequest { name: name.to_string(), workspace_scope: scope(&self.workspace) };
        let mut c = self.client.clone();
        let resp = unary(self.timeout, c.get_sandbox(request(msg, self.timeout))).await?;
        resp.sandbox.map(record).ok_or_else(|| Status::internal("GetSandbox returned no sandbox"))
    }

    async fn list_page(&self, selector: &str, cursor: &str) -> Result<(Vec<Record>, Option<String>), Status> {
        let msg = pb::ListSandboxesRequest {
            page_size: 500,
            page_token: cursor.to_string(),
            label_selector: selector.to_string(),
            workspace_scope: scope(&self.workspace),
        };
        let mut c = self.client.clone();
        let resp = unary(self.timeout, c.list_sandboxes(request(msg, self.timeout))).await?;
        let next = (!resp.next_page_token.is_empty()).then_some(resp.next_page_token);
        Ok((resp.sandboxes.into_iter().map(record).collect(), next))
    }

    async fn delete(&self, name: &str) -> Result<(), Status> {
        let msg = pb::DeleteSandboxRequest {
            name: name.to_string(),
            workspace_scope: scope(&self.workspace),
            ..Default::default()
        };
        let mut c = self.client.clone();
        unary(self.timeout, c.delete_sandbox(request(msg, self.timeout))).await.map(|_| ())
    }

    async fn watch(&self, target: &Target, deadline: Duration) -> Result<Snapshots, Status> {
        let msg = pb::WatchSandboxRequest {
            sandbox: target.name.clone(),
            follow_status: true,
            workspace_scope: scope(&self.workspace),
            ..Default::default()
        };
        let mut c = self.client.clone();
        let stream = unary(self.timeout, c.watch_sandbox(request(msg, deadline))).await?;
        Ok(Box::pin(stream.filter_map(|item| async move {
            match item {
                Err(s) => Some(Err(s)),
                Ok(ev) => match ev.payload {
                    Some(pb::sandbox_stream_event::Payload::Sandbox(s)) => Some(Ok(record(s))),
                    _ => None,
                },
            }
        })))
    }

    async fn exec(&self, target: &Target, call: ExecCall, deadline: Duration) -> Result<Events, Status> {
        let mut c = self.client.clone();
        let stream =
            unary(self.timeout, c.exec_sandbox(request(exec_request(target, call, &self.workspace), deadline))).await?;
        Ok(events(stream))
    }

    async fn exec_interactive(
        &self,
        target: &Target,
        call: ExecCall,
        input: mpsc::Receiver<Input>,
        deadline: Duration,
    ) -> Result<Events, Status> {
        use pb::exec_sandbox_input::Payload;
        let start = pb::ExecSandboxInput { payload: Some(Payload::Start(exec_request(target, call, &self.workspace))) };
        let frames = ReceiverStream::new(input).map(|i| pb::ExecSandboxInput {
            payload: Some(match i {
                Input::Stdin(b) => Payload::Stdin(b.to_vec()),
                Input::Resize(cols, rows) => Payload::Resize(pb::ExecSandboxWindowResize { cols, rows }),
            }),
        });
        let outbound = futures::stream::once(async move { start }).chain(frames);
        let mut c = self.client.clone();
        let stream = unary(self.timeout, c.exec_sandbox_interactive(request(outbound, deadline))).await?;
        Ok(events(stream))
    }

    async fn policy_status(&self, target: &Target, version: u32) -> Result<Revision, Status> {
        let msg = pb::GetSandboxPolicyStatusRequest {
            sandbox: target.name.clone(),
            version,
            global: false,
            workspace_scope: scope(&self.workspace),
        };
        let mut c = self.client.clone();
        let resp = unary(self.timeout, c.get_sandbox_policy_status(request(msg, self.timeout))).await?;
        let rev = resp.revision.ok_or_else(|| Status::not_found("no policy revision found for this sandbox"))?;
        Ok(Revision {
            version: rev.version,
            state: super::load_state(rev.status),
            hash: rev.policy_hash,
            load_error: rev.load_error,
            rules: rev.policy.map(|p| rules_from_pb(p.network_policies)).unwrap_or_else(|| Ok(BTreeMap::new())),
            active_version: resp.active_version,
        })
    }

    async fn update_rules(&self, target: &Target, rules: &BTreeMap<String, RuleDoc>) -> Result<u32, Status> {
        let mut c = self.client.clone();
        let cfg = unary(
            self.timeout,
            c.get_sandbox_config(request(
                sb::GetSandboxConfigRequest { name: target.name.clone(), workspace_scope: scope(&self.workspace) },
                self.timeout,
            )),
        )
        .await?;
        let mut policy = cfg.policy.unwrap_or_default();
        policy.network_policies = rules_to_pb(rules);
        let msg = pb::UpdateConfigRequest {
            sandbox: target.name.clone(),
            policy: Some(policy),
            workspace_scope: scope(&self.workspace),
            ..Default::default()
        };
        Ok(unary(self.timeout, c.update_config(request(msg, self.timeout))).await?.version)
    }

    async fn expose(&self, target: &Target, port: u16, service: &str) -> Result<ExposedPort, Status> {
        let msg = pb::ExposeServiceRequest {
            sandbox: target.name.clone(),
            name: service.to_string(),
            target_port: u32::from(port),
            domain: false,
            workspace_scope: scope(&self.workspace),
            ..Default::default()
        };
        let mut c = self.client.clone();
        let resp = unary(self.timeout, c.expose_service(request(msg, self.timeout))).await?;
        Ok(ExposedPort { port, name: service.to_string(), url: resp.url })
    }

    async fn draft_chunks(&self, target: &Target, status: &str) -> Result<Vec<DraftChunk>, Status> {
        let msg = pb::GetDraftPolicyRequest {
            sandbox: target.name.clone(),
            status_filter: status.to_string(),
            workspace_scope: scope(&self.workspace),
        };
        let mut c = self.client.clone();
        let resp = unary(self.timeout, c.get_draft_policy(request(msg, self.timeout))).await?;
        Ok(resp.chunks.into_iter().map(chunk).collect())
    }

    async fn decide_draft(&self, target: &Target, chunk_id: &str, approve: bool, reason: &str) -> Result<(), Status> {
        let mut c = self.client.clone();
        if approve {
            let msg = pb::ApproveDraftChunkRequest {
                sandbox: target.name.clone(),
                chunk_id: chunk_id.to_string(),
                workspace_scope: scope(&self.workspace),
                ..Default::default()
            };
            unary(self.timeout, c.approve_draft_chunk(request(msg, self.timeout))).await?;
        } else {
            let msg = pb::RejectDraftChunkRequest {
                sandbox: target.name.clone(),
                chunk_id: chunk_id.to_string(),
                reason: reason.to_string(),
                workspace_scope: scope(&self.workspace),
                ..Default::default()
            };
            unary(self.timeout, c.reject_draft_chunk(request(msg, self.timeout))).await?;
        }
        Ok(())
    }

    async fn providers(&self, target: &Target) -> Result<Vec<ProviderInfo>, Status> {
        let mut out = Vec::new();
        let mut token = String::new();
        loop {
            let msg = pb::ListSandboxProvidersRequest {
                sandbox: target.name.clone(),
                workspace_scope: scope(&self.workspace),
                page_size: 100,
                page_token: token,
            };
            let mut c = self.client.clone();
            let resp = unary(self.timeout, c.list_sandbox_providers(request(msg, self.timeout))).await?;
            out.extend(resp.providers.into_iter().map(provider));
            if resp.next_page_token.is_empty() {
                break;
            }
            token = resp.next_page_token;
        }
        for p in &mut out {
            let msg = pb::GetSandboxProviderStatusRequest {
                sandbox: target.name.clone(),
                provider: p.name.clone(),
                receipt_id: String::new(),
                workspace_scope: scope(&self.workspace),
            };
            let mut c = self.client.clone();
            let status = unary(self.timeout, c.get_sandbox_provider_status(request(msg, self.timeout))).await?.status;
            let status = status.unwrap_or_default();
            p.readiness = readiness(status.state());
            p.reason = reason(status.reason());
        }
        Ok(out)
    }

    async fn attach_provider(&self, target: &Target, provider: &str) -> Result<bool, Status> {
        let msg = pb::AttachSandboxProviderRequest {
            sandbox: target.name.clone(),
            provider: provider.to_string(),
            workspace_scope: scope(&self.workspace),
            ..Default::default()
        };
        let mut c = self.client.clone();
        Ok(unary(self.timeout, c.attach_sandbox_provider(request(msg, self.timeout))).await?.attached)
    }

    async fn detach_provider(&self, target: &Target, provider: &str) -> Result<bool, Status> {
        let msg = pb::DetachSandboxProviderRequest {
            sandbox: target.name.clone(),
            provider: provider.to_string(),
            workspace_scope: scope(&self.workspace),
            ..Default::default()
        };
        let mut c = self.client.clone();
        Ok(unary(self.timeout, c.detach_sandbox_provider(request(msg, self.timeout))).await?.detached)
    }
}

fn readiness(state: pb::ProviderReadinessState) -> ProviderReadiness {
    use pb::ProviderReadinessState as S;
    match state {
        S::Persisted | S::Pending => ProviderReadiness::Pending,
        S::Ready => ProviderReadiness::Ready,
        S::Withheld => ProviderReadiness::Withheld,
        S::Revoked | S::Superseded => ProviderReadiness::Revoked,
        S::Failed => ProviderReadiness::Failed,
        S::Unspecified => ProviderReadiness::Unknown,
    }
}

/// `PROVIDER_READINESS_REASON_WAITING_FOR_PROCESS` as `waiting-for-process`.
fn reason(r: pb::ProviderReadinessReason) -> String {
    if r == pb::ProviderReadinessReason::Unspecified {
        return String::new();
    }
    r.as_str_name().trim_start_matches("PROVIDER_READINESS_REASON_").to_ascii_lowercase().replace('_', "-")
}
