//! The 0.0.x wire generation: exec, watch and GetSandboxConfig address a
//! sandbox by id, everything else by name plus a `workspace` string; times
//! are milliseconds, lists page with `limit`/`offset`, deletes answer a
//! `deleted` bool.
//!
//! Each handler unpacks its request, calls the core and packs the answer;
//! the rules themselves live in the gateway core (`crate::gateway`).

mod convert;
mod policy;

use openshell_proto::v0_0::openshell::sandbox::v1 as sb;
use openshell_proto::v0_0::openshell::v1 as pb;
use pb::open_shell_server::{OpenShell, OpenShellServer};
use prost::Message as _;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status, Streaming};

use self::convert::workspace;
use crate::gateway::{ConfigChange, ConfigUpdate, Deleted, Expose, Gateway, NewSandbox, Scope, Target};
use crate::wire::{self, limit_offset};

/// The generated server around this generation's handlers.
pub(crate) fn server(gateway: Gateway, max_inbound: usize) -> OpenShellServer<Service> {
    OpenShellServer::new(Service { gateway }).max_decoding_message_size(max_inbound)
}

/// The 0.0 `OpenShell` service.
#[derive(Debug, Clone)]
pub(crate) struct Service {
    gateway: Gateway,
}

type Reply<T> = Result<Response<T>, Status>;

fn reply<T>(message: T) -> Reply<T> {
    Ok(Response::new(message))
}

fn required(value: &str, field: &str) -> Result<(), Status> {
    if value.is_empty() { Err(Status::invalid_argument(format!("{field} is required"))) } else { Ok(()) }
}

fn by_name(ws: &str, name: String) -> Target {
    Target::Name { workspace: workspace(ws), name }
}

fn list_scope(ws: &str, all_workspaces: bool) -> Result<Scope, Status> {
    match (all_workspaces, ws.is_empty()) {
        (true, false) => Err(Status::invalid_argument("workspace and all_workspaces are mutually exclusive")),
        (true, true) => Ok(Scope::All),
        (false, _) => Ok(Scope::One(workspace(ws))),
    }
}

impl Service {
    fn sandbox_response(s: &crate::gateway::Sandbox) -> pb::SandboxResponse {
        pb::SandboxResponse { sandbox: Some(convert::sandbox(s)) }
    }
}

#[tonic::async_trait]
impl OpenShell for Service {
    async fn health(&self, _: Request<pb::HealthRequest>) -> Reply<pb::HealthResponse> {
        reply(pb::HealthResponse {
            status: pb::ServiceStatus::Healthy.into(),
            version: self.gateway.config().version.clone(),
        })
    }

    async fn get_current_user(&self, _: Request<pb::GetCurrentUserRequest>) -> Reply<pb::GetCurrentUserResponse> {
        reply(pb::GetCurrentUserResponse {
            subject: "local-dev".into(),
            display_name: "Local developer".into(),
            roles: vec!["platform_admin".into()],
            scopes: vec![],
            identity_provider: "openshell-testgw".into(),
        })
    }

    async fn get_gateway_info(&self, _: Request<pb::GetGatewayInfoRequest>) -> Reply<pb::GetGatewayInfoResponse> {
        reply(pb::GetGatewayInfoResponse {
            status: pb::ServiceStatus::Healthy.into(),
            gateway_version: self.gateway.config().version.clone(),
            compute_drivers: vec![pb::ComputeDriverInfo {
                name: "local".into(),
                capabilities: Some(pb::ComputeDriverCapabilities {
                    driver_name: "bubblewrap".into(),
                    driver_version: env!("CARGO_PKG_VERSION").into(),
                }),
            }],
        })
    }

    async fn get_gateway_config(&self, _: Request<sb::GetGatewayConfigRequest>) -> Reply<sb::GetGatewayConfigResponse> {
        let (settings, settings_revision) = self.gateway.gateway_settings();
        reply(sb::GetGatewayConfigResponse {
            settings: settings.iter().map(|(k, v)| (k.clone(), convert::setting_out(v))).collect(),
            settings_revision,
        })
    }

    async fn create_sandbox(&self, request: Request<pb::CreateSandboxRequest>) -> Reply<pb::SandboxResponse> {
        let req = request.into_inner();
        let mut spec = req.spec.ok_or_else(|| Status::invalid_argument("spec is required"))?;
        convert::default_spec(&mut spec);
        let new = NewSandbox {
            name: req.name,
            workspace: workspace(&req.workspace),
            labels: req.labels,
            annotations: req.annotations,
            environment: spec.environment.clone(),
            policy: spec.policy.as_ref().map(|p| p.encode_to_vec()),
            providers: spec.providers.clone(),
            spec: spec.encode_to_vec(),
            services: vec![],
        };
        let sandbox = self.gateway.create(new).await?;
        reply(Self::sandbox_response(&sandbox))
    }

    async fn get_sandbox(&self, request: Request<pb::GetSandboxRequest>) -> Reply<pb::SandboxResponse> {
        let req = request.into_inner();
        let sandbox = self.gateway.get(&by_name(&req.workspace, req.name))?;
        reply(Self::sandbox_response(&sandbox))
    }

    async fn list_sandboxes(&self, request: Request<pb::ListSandboxesRequest>) -> Reply<pb::ListSandboxesResponse> {
        let req = request.into_inner();
        let scope = list_scope(&req.workspace, req.all_workspaces)?;
        let (offset, limit) = limit_offset(req.limit, req.offset);
        let (sandboxes, _) = self.gateway.list(&scope, &req.label_selector, offset, limit)?;
        reply(pb::ListSandboxesResponse { sandboxes: sandboxes.iter().map(convert::sandbox).collect() })
    }

    async fn delete_sandbox(&self, request: Request<pb::DeleteSandboxRequest>) -> Reply<pb::DeleteSandboxResponse> {
        let req = request.into_inner();
        let deleted = self.gateway.delete(&workspace(&req.workspace), &req.name, false).await?;
        reply(pb::DeleteSandboxResponse { deleted: !matches!(deleted, Deleted::AlreadyAbsent) })
    }

    async fn stop_sandbox(&self, request: Request<pb::StopSandboxRequest>) -> Reply<pb::SandboxResponse> {
        let req = request.into_inner();
        let sandbox = self.gateway.stop(&workspace(&req.workspace), &req.name)?;
        reply(Self::sandbox_response(&sandbox))
    }

    async fn start_sandbox(&self, request: Request<pb::StartSandboxRequest>) -> Reply<pb::SandboxResponse> {
        let req = request.into_inner();
        let sandbox = self.gateway.start(&workspace(&req.workspace), &req.name)?;
        reply(Self::sandbox_response(&sandbox))
    }

    async fn watch_sandbox(
        &self,
        request: Request<pb::WatchSandboxRequest>,
    ) -> Reply<BoxStream<pb::SandboxStreamEvent>> {
        let req = request.into_inner();
        required(&req.id, "id")?;
        let snapshots = self.gateway.watch(&Target::Id(req.id), req.follow_status, req.stop_on_terminal)?;
        reply(wire::stream(snapshots, convert::watch_event))
    }

    async fn exec_sandbox(&self, request: Request<pb::ExecSandboxRequest>) -> Reply<BoxStream<pb::ExecSandboxEvent>> {
        let req = request.into_inner();
        required(&req.sandbox_id, "sandbox_id")?;
        let events = self.gateway.exec(convert::exec_spec(req))?;
        reply(wire::stream(events, convert::exec_event))
    }

    async fn exec_sandbox_interactive(
        &self,
        request: Request<Streaming<pb::ExecSandboxInput>>,
    ) -> Reply<BoxStream<pb::ExecSandboxEvent>> {
        use pb::exec_sandbox_input::Payload;
        let mut inputs = request.into_inner();
        let start = match inputs.message().await? {
            None => return Err(Status::invalid_argument("empty stream: expected start message")),
            Some(pb::ExecSandboxInput { payload: Some(Payload::Start(start)) }) => start,
            Some(_) => return Err(Status::invalid_argument("first message must be a start payload")),
        };
        required(&start.sandbox_id, "sandbox_id")?;
        let frames = futures::StreamExt::map(inputs, |input| input.map(convert::client_frame));
        let events = self.gateway.exec_interactive(convert::exec_spec(start), frames)?;
        reply(wire::stream(events, convert::exec_event))
    }

    async fn expose_service(&self, request: Request<pb::ExposeServiceRequest>) -> Reply<pb::ServiceEndpointResponse> {
        let req = request.into_inner();
        let endpoint = self.gateway.expose(&Expose {
            workspace: workspace(&req.workspace),
            sandbox: req.sandbox,
            service: req.service,
            target_port: req.target_port,
            authorization_mode: 0,
        })?;
        reply(convert::endpoint(&endpoint))
    }

    async fn get_service(&self, request: Request<pb::GetServiceRequest>) -> Reply<pb::ServiceEndpointResponse> {
        let req = request.into_inner();
        let endpoint = self.gateway.get_service(&workspace(&req.workspace), &req.sandbox, &req.service)?;
        reply(convert::endpoint(&endpoint))
    }

    async fn list_services(&self, request: Request<pb::ListServicesRequest>) -> Reply<pb::ListServicesResponse> {
        let req = request.into_inner();
        let scope = list_scope(&req.workspace, req.all_workspaces)?;
        let (offset, limit) = limit_offset(req.limit, req.offset);
        let (endpoints, _) = self.gateway.list_services(&scope, &req.sandbox, offset, limit)?;
        reply(pb::ListServicesResponse { services: endpoints.iter().map(convert::endpoint).collect() })
    }

    async fn delete_service(&self, request: Request<pb::DeleteServiceRequest>) -> Reply<pb::DeleteServiceResponse> {
        let req = request.into_inner();
        let deleted = self.gateway.delete_service(&workspace(&req.workspace), &req.sandbox, &req.service, false)?;
        reply(pb::DeleteServiceResponse { deleted })
    }

    async fn get_draft_policy(&self, request: Request<pb::GetDraftPolicyRequest>) -> Reply<pb::GetDraftPolicyResponse> {
        let req = request.into_inner();
        required(&req.name, "name")?;
        let target = by_name(&req.workspace, req.name.clone());
        let chunks = self.gateway.drafts(&target, &req.status_filter)?;
        reply(pb::GetDraftPolicyResponse { chunks: chunks.iter().map(convert::chunk).collect() })
    }

    async fn approve_draft_chunk(
        &self,
        request: Request<pb::ApproveDraftChunkRequest>,
    ) -> Reply<pb::ApproveDraftChunkResponse> {
        let req = request.into_inner();
        required(&req.name, "name")?;
        required(&req.chunk_id, "chunk_id")?;
        let target = by_name(&req.workspace, req.name.clone());
        let (policy_version, policy_hash) = convert::approve_chunk(&self.gateway, &target, &req.chunk_id)?;
        reply(pb::ApproveDraftChunkResponse { policy_version, policy_hash })
    }

    async fn reject_draft_chunk(
        &self,
        request: Request<pb::RejectDraftChunkRequest>,
    ) -> Reply<pb::RejectDraftChunkResponse> {
        let req = request.into_inner();
        required(&req.name, "name")?;
        required(&req.chunk_id, "chunk_id")?;
        let target = by_name(&req.workspace, req.name.clone());
        self.gateway.reject_draft(&target, &req.chunk_id)?;
        reply(pb::RejectDraftChunkResponse {})
    }

    async fn list_sandbox_providers(
        &self,
        request: Request<pb::ListSandboxProvidersRequest>,
    ) -> Reply<pb::ListSandboxProvidersResponse> {
        let req = request.into_inner();
        required(&req.sandbox_name, "sandbox_name")?;
        let ws = workspace(&req.workspace);
        let providers = self.gateway.sandbox_providers(&by_name(&req.workspace, req.sandbox_name))?;
        reply(pb::ListSandboxProvidersResponse {
            providers: providers.iter().map(|p| convert::provider(p, &ws)).collect(),
        })
    }

    async fn attach_sandbox_provider(
        &self,
        request: Request<pb::AttachSandboxProviderRequest>,
    ) -> Reply<pb::AttachSandboxProviderResponse> {
        let req = request.into_inner();
        required(&req.sandbox_name, "sandbox_name")?;
        required(&req.provider_name, "provider_name")?;
        let target = by_name(&req.workspace, req.sandbox_name);
        let (sandbox, attached) = self.gateway.attach_provider(&target, &req.provider_name)?;
        reply(pb::AttachSandboxProviderResponse { sandbox: Some(convert::sandbox(&sandbox)), attached })
    }

    async fn detach_sandbox_provider(
        &self,
        request: Request<pb::DetachSandboxProviderRequest>,
    ) -> Reply<pb::DetachSandboxProviderResponse> {
        let req = request.into_inner();
        required(&req.sandbox_name, "sandbox_name")?;
        required(&req.provider_name, "provider_name")?;
        let target = by_name(&req.workspace, req.sandbox_name);
        let (sandbox, detached) = self.gateway.detach_provider(&target, &req.provider_name, convert::binds_provider)?;
        reply(pb::DetachSandboxProviderResponse { sandbox: Some(convert::sandbox(&sandbox)), detached })
    }

    async fn update_config(&self, request: Request<pb::UpdateConfigRequest>) -> Reply<pb::UpdateConfigResponse> {
        let req = request.into_inner();
        let given = [req.policy.is_some(), !req.setting_key.is_empty(), !req.merge_operations.is_empty()];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(Status::invalid_argument("exactly one of policy, setting_key or merge_operations must be set"));
        }
        if !req.global {
            required(&req.name, "name")?;
        }
        let target = by_name(&req.workspace, req.name);
        let change = if let Some(policy) = req.policy {
            if !req.global {
                policy::check_static(&self.gateway, &target, &policy)?;
            }
            ConfigChange::Policy { policy: policy.encode_to_vec(), base: None }
        } else if !req.setting_key.is_empty() {
            ConfigChange::Setting {
                key: req.setting_key,
                value: req.setting_value.and_then(convert::setting_in),
                delete: req.delete_setting,
            }
        } else if req.global {
            ConfigChange::Policy { policy: vec![], base: None }
        } else {
            let latest = self.gateway.latest_policy(&target)?;
            let mut current = latest
                .as_ref()
                .map(|r| sb::SandboxPolicy::decode(r.policy.as_slice()).unwrap_or_default())
                .unwrap_or_default();
            policy::merge(&mut current, req.merge_operations)?;
            ConfigChange::Policy { policy: current.encode_to_vec(), base: Some(latest.map_or(0, |r| r.version)) }
        };
        let updated = self.gateway.update_config(ConfigUpdate {
            target,
            global: req.global,
            change,
            expected_resource_version: req.expected_resource_version,
            annotations: req.annotations,
        })?;
        reply(pb::UpdateConfigResponse {
            version: updated.version,
            policy_hash: updated.policy_hash,
            settings_revision: updated.settings_revision,
            deleted: updated.deleted,
            annotations: updated.annotations.clone(),
        })
    }

    async fn get_sandbox_config(
        &self,
        request: Request<sb::GetSandboxConfigRequest>,
    ) -> Reply<sb::GetSandboxConfigResponse> {
        let req = request.into_inner();
        required(&req.sandbox_id, "sandbox_id")?;
        let config = self.gateway.sandbox_config(&Target::Id(req.sandbox_id))?;
        reply(sb::GetSandboxConfigResponse {
            policy: config.policy.map(|p| sb::SandboxPolicy::decode(p.as_slice()).unwrap_or_default()),
            version: config.version,
            policy_hash: config.policy_hash,
            settings: config
                .settings
                .iter()
                .map(|(key, value, global)| {
                    let scope = if *global { sb::SettingScope::Global } else { sb::SettingScope::Sandbox };
                    let setting =
                        sb::EffectiveSetting { value: Some(convert::setting_out(value)), scope: scope.into() };
                    (key.clone(), setting)
                })
                .collect(),
            config_revision: config.config_revision,
            policy_source: sb::PolicySource::Sandbox.into(),
            global_policy_version: 0,
            provider_env_revision: 0,
            supervisor_middleware_services: vec![],
            workspace: config.workspace,
            policy_validation_failure_mode: "fail_closed".into(),
            extension_authentication_enabled: false,
        })
    }

    async fn get_sandbox_policy_status(
        &self,
        request: Request<pb::GetSandboxPolicyStatusRequest>,
    ) -> Reply<pb::GetSandboxPolicyStatusResponse> {
        let req = request.into_inner();
        if req.global {
            // Global policies are not supported, so there is never one.
            return Err(Status::not_found("no policy revision found for this sandbox"));
        }
        required(&req.name, "name")?;
        let (revision, active_version) = self.gateway.policy_status(&by_name(&req.workspace, req.name), req.version)?;
        reply(pb::GetSandboxPolicyStatusResponse {
            revision: Some(convert::policy_revision(&revision, true)),
            active_version,
        })
    }

    async fn list_sandbox_policies(
        &self,
        request: Request<pb::ListSandboxPoliciesRequest>,
    ) -> Reply<pb::ListSandboxPoliciesResponse> {
        let req = request.into_inner();
        if req.global {
            return reply(pb::ListSandboxPoliciesResponse { revisions: vec![] });
        }
        required(&req.name, "name")?;
        let (offset, limit) = limit_offset(req.limit, req.offset);
        let (revisions, _) = self.gateway.list_policies(&by_name(&req.workspace, req.name), offset, limit)?;
        reply(pb::ListSandboxPoliciesResponse {
            revisions: revisions.iter().map(|r| convert::policy_revision(r, false)).collect(),
        })
    }

    async fn create_workspace(
        &self,
        request: Request<pb::CreateWorkspaceRequest>,
    ) -> Reply<pb::CreateWorkspaceResponse> {
        let req = request.into_inner();
        let created = self.gateway.create_workspace(&req.name, req.labels)?;
        reply(pb::CreateWorkspaceResponse { workspace: Some(convert::workspace_msg(&created)) })
    }

    async fn get_workspace(&self, request: Request<pb::GetWorkspaceRequest>) -> Reply<pb::GetWorkspaceResponse> {
        let found = self.gateway.get_workspace(&request.into_inner().name)?;
        reply(pb::GetWorkspaceResponse { workspace: Some(convert::workspace_msg(&found)) })
    }

    async fn list_workspaces(&self, request: Request<pb::ListWorkspacesRequest>) -> Reply<pb::ListWorkspacesResponse> {
        let req = request.into_inner();
        let (offset, limit) = limit_offset(req.limit, req.offset);
        let (found, _) = self.gateway.list_workspaces(&req.label_selector, offset, limit)?;
        reply(pb::ListWorkspacesResponse { workspaces: found.iter().map(convert::workspace_msg).collect() })
    }

    async fn delete_workspace(
        &self,
        request: Request<pb::DeleteWorkspaceRequest>,
    ) -> Reply<pb::DeleteWorkspaceResponse> {
        let deleted = self.gateway.delete_workspace(&request.into_inner().name, false)?;
        reply(pb::DeleteWorkspaceResponse { deleted })
    }
}
