//! Generation 0.0 (gateways 0.0.x): exec, watch and sandbox config address
//! sandboxes by id; workspaces are plain strings; times are `*_ms`
//! integers; lists page with `limit`/`offset`.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use openshell_proto::v0_0::openshell::datamodel::v1 as dm;
use openshell_proto::v0_0::openshell::sandbox::v1 as sb;
use openshell_proto::v0_0::openshell::v1 as pb;
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
use crate::backend::openshell::policy::{self as pol, Access, BinaryDoc, Enforcement, McpDoc, PolicyDoc, RuleDoc, Tls};
use crate::backend::openshell::transport::Auth;
use crate::backend::{DraftChunk, ExposedPort, ProviderInfo, ProviderReadiness};

type Client = OpenShellClient<InterceptedService<Channel, Auth>>;

/// A 0.0 gateway.
#[derive(Debug, Clone)]
pub struct Wire00 {
    client: Client,
    workspace: String,
    timeout: Duration,
}

impl Wire00 {
    /// Over `channel`.
    pub fn new(channel: Channel, auth: Auth, cfg: &GatewayConfig) -> Self {
        let client = OpenShellClient::with_interceptor(channel, auth).max_decoding_message_size(64 << 20);
        Wire00 { client, workspace: cfg.workspace.clone(), timeout: cfg.rpc_timeout }
    }
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
        created_ms: u64::try_from(meta.created_at_ms).ok().filter(|t| *t > 0),
    }
}

fn exec_request(target: &Target, call: ExecCall) -> pb::ExecSandboxRequest {
    pb::ExecSandboxRequest {
        sandbox_id: target.id.clone(),
        command: call.argv,
        workdir: call.workdir,
        environment: call.env.into_iter().collect(),
        // 0.0 counts whole seconds; round up so the gateway never stops a
        // command before the host's own timer does.
        timeout_seconds: call
            .timeout
            .map(|d| u32::try_from(d.as_millis().div_ceil(1000)).unwrap_or(u32::MAX))
            .unwrap_or(0),
        stdin: call.stdin,
        tty: call.tty,
        cols: call.cols,
        rows: call.rows,
    }
}

// What 0.0 spells its own way: endpoint settings as the policy file's
// strings, binaries with the `harness` flag, MCP options without versions.
fn tls_to_pb(v: Option<Tls>) -> String {
    pol::setting_to_str(v)
}
fn tls_from_pb(s: &str) -> Result<Option<Tls>, String> {
    pol::setting_from_str("tls", s)
}
fn enforcement_to_pb(v: Option<Enforcement>) -> String {
    pol::setting_to_str(v)
}
fn enforcement_from_pb(s: &str) -> Result<Option<Enforcement>, String> {
    pol::setting_from_str("enforcement", s)
}
fn access_to_pb(v: Option<Access>) -> String {
    pol::setting_to_str(v)
}
fn access_from_pb(s: &str) -> Result<Option<Access>, String> {
    pol::setting_from_str("access", s)
}
fn binary_to_pb(b: &BinaryDoc) -> sb::NetworkBinary {
    sb::NetworkBinary { path: b.path.clone(), harness: b.harness }
}
fn binary_from_pb(b: sb::NetworkBinary) -> BinaryDoc {
    BinaryDoc { path: b.path, harness: b.harness }
}
fn mcp_to_pb(m: &McpDoc) -> sb::McpOptions {
    sb::McpOptions {
        strict_tool_names: m.strict_tool_names,
        allow_all_known_mcp_methods: m.allow_all_known_mcp_methods,
    }
}
fn mcp_from_pb(m: sb::McpOptions) -> McpDoc {
    McpDoc {
        strict_tool_names: m.strict_tool_names,
        allow_all_known_mcp_methods: m.allow_all_known_mcp_methods,
        versions: Vec::new(),
    }
}
fn extra_to_pb(_: &EndpointDoc, _: &mut sb::NetworkEndpoint) {}
fn extra_from_pb(_: &sb::NetworkEndpoint, _: &mut EndpointDoc) {}

shared::conversions!(Protocol::V0_0);

#[async_trait]
impl Wire for Wire00 {
    fn protocol(&self) -> Protocol {
        Protocol::V0_0
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
            workspace: self.workspace.clone(),
            ..Default::default()
        };
        let mut c = self.client.clone();
        let resp = unary(self.timeout, c.create_sandbox(request(msg, self.timeout))).await?;
        resp.sandbox.map(record).ok_or_else(|| Status::internal("CreateSandbox returned no sandbox"))
    }

    async fn get(&self, name: &str) -> Result<Record, Status> {
        let msg = pb::GetSandboxRequest { name: name.to_string(), workspace: self.workspace.clone() };
        let mut c = self.client.clone();
        let resp = unary(self.timeout, c.get_sandbox(request(msg, self.timeout))).await?;
        resp.sandbox.map(record).ok_or_else(|| Status::internal("GetSandbox returned no sandbox"))
    }

    async fn list_page(&self, selector: &str, cursor: &str) -> Result<(Vec<Record>, Option<String>), Status> {
        const PAGE: u32 = 500;
        let offset: u32 = cursor.parse().unwrap_or(0);
        let msg = pb::ListSandboxesRequest {
            limit: PAGE,
            offset,
            label_selector: selector.to_string(),
            workspace: self.workspace.clone(),
            all_workspaces: false,
        };
        let mut c = self.client.clone();
        let resp = unary(self.timeout, c.list_sandboxes(request(msg, self.timeout))).await?;
        let n = resp.sandboxes.len() as u32;
        let next = (n == PAGE).then(|| (offset + n).to_string());
        Ok((resp.sandboxes.into_iter().map(record).collect(), next))
    }

    async fn delete(&self, name: &str) -> Result<(), Status> {
        let msg = pb::DeleteSandboxRequest { name: name.to_string(), workspace: self.workspace.clone() };
        let mut c = self.client.clone();
        unary(self.timeout, c.delete_sandbox(request(msg, self.timeout))).await.map(|_| ())
    }

    async fn watch(&self, target: &Target, deadline: Duration) -> Result<Snapshots, Status> {
        let msg = pb::WatchSandboxRequest { id: target.id.clone(), follow_status: true, ..Default::default() };
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
        let stream = unary(self.timeout, c.exec_sandbox(request(exec_request(target, call), deadline))).await?;
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
        let start = pb::ExecSandboxInput { payload: Some(Payload::Start(exec_request(target, call))) };
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
            name: target.name.clone(),
            version,
            global: false,
            workspace: self.workspace.clone(),
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
            c.get_sandbox_config(request(sb::GetSandboxConfigRequest { sandbox_id: target.id.clone() }, self.timeout)),
        )
        .await?;
        let mut policy = cfg.policy.unwrap_or_default();
        policy.network_policies = rules_to_pb(rules);
        let msg = pb::UpdateConfigRequest {
            name: target.name.clone(),
            policy: Some(policy),
            workspace: self.workspace.clone(),
            ..Default::default()
        };
        Ok(unary(self.timeout, c.update_config(request(msg, self.timeout))).await?.version)
    }

    async fn expose(&self, target: &Target, port: u16, service: &str) -> Result<ExposedPort, Status> {
        let msg = pb::ExposeServiceRequest {
            sandbox: target.name.clone(),
            service: service.to_string(),
            target_port: u32::from(port),
            domain: false,
            workspace: self.workspace.clone(),
        };
        let mut c = self.client.clone();
        let resp = unary(self.timeout, c.expose_service(request(msg, self.timeout))).await?;
        Ok(ExposedPort { port, name: service.to_string(), url: resp.url })
    }

    async fn draft_chunks(&self, target: &Target, status: &str) -> Result<Vec<DraftChunk>, Status> {
        let msg = pb::GetDraftPolicyRequest {
            name: target.name.clone(),
            status_filter: status.to_string(),
            workspace: self.workspace.clone(),
        };
        let mut c = self.client.clone();
        let resp = unary(self.timeout, c.get_draft_policy(request(msg, self.timeout))).await?;
        Ok(resp.chunks.into_iter().map(chunk).collect())
    }

    async fn decide_draft(&self, target: &Target, chunk_id: &str, approve: bool, reason: &str) -> Result<(), Status> {
        let mut c = self.client.clone();
        if approve {
            let msg = pb::ApproveDraftChunkRequest {
                name: target.name.clone(),
                chunk_id: chunk_id.to_string(),
                workspace: self.workspace.clone(),
                review_token: String::new(),
            };
            unary(self.timeout, c.approve_draft_chunk(request(msg, self.timeout))).await?;
        } else {
            let msg = pb::RejectDraftChunkRequest {
                name: target.name.clone(),
                chunk_id: chunk_id.to_string(),
                reason: reason.to_string(),
                workspace: self.workspace.clone(),
            };
            unary(self.timeout, c.reject_draft_chunk(request(msg, self.timeout))).await?;
        }
        Ok(())
    }

    async fn providers(&self, target: &Target) -> Result<Vec<ProviderInfo>, Status> {
        let msg =
            pb::ListSandboxProvidersRequest { sandbox_name: target.name.clone(), workspace: self.workspace.clone() };
        let mut c = self.client.clone();
        let resp = unary(self.timeout, c.list_sandbox_providers(request(msg, self.timeout))).await?;
        // 0.0 gateways do not report readiness.
        Ok(resp.providers.into_iter().map(provider).collect())
    }

    async fn attach_provider(&self, target: &Target, provider: &str) -> Result<bool, Status> {
        let msg = pb::AttachSandboxProviderRequest {
            sandbox_name: target.name.clone(),
            provider_name: provider.to_string(),
            expected_resource_version: 0,
            workspace: self.workspace.clone(),
        };
        let mut c = self.client.clone();
        Ok(unary(self.timeout, c.attach_sandbox_provider(request(msg, self.timeout))).await?.attached)
    }

    async fn detach_provider(&self, target: &Target, provider: &str) -> Result<bool, Status> {
        let msg = pb::DetachSandboxProviderRequest {
            sandbox_name: target.name.clone(),
            provider_name: provider.to_string(),
            expected_resource_version: 0,
            workspace: self.workspace.clone(),
        };
        let mut c = self.client.clone();
        Ok(unary(self.timeout, c.detach_sandbox_provider(request(msg, self.timeout))).await?.detached)
    }
}
