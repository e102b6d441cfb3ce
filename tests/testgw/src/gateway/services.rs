//! HTTP service endpoints (fact sheet §3.5): ExposeService, GetService,
//! ListServices, DeleteService. Endpoints are only recorded; this gateway
//! routes nothing, so their URL is the sandbox-local port.

use std::collections::BTreeMap;

use tonic::Status;

use super::model::{Endpoint, Scope, Target};
use super::sandboxes::{check_workspace, find};
use super::{Gateway, ids, page, validate};

/// An ExposeService request.
#[derive(Debug, Clone)]
pub(crate) struct Expose {
    pub workspace: String,
    pub sandbox: String,
    /// May be empty.
    pub service: String,
    pub target_port: u32,
    pub authorization_mode: i32,
}

fn endpoint_not_found() -> Status {
    Status::not_found("service endpoint not found")
}

/// Service name (empty allowed) and port checks.
pub(super) fn check_endpoint(service: &str, port: u32) -> Result<(), Status> {
    if !service.is_empty() {
        validate::sandbox_name(service)?;
    }
    if !(1..=65535).contains(&port) {
        return Err(Status::invalid_argument("target_port must be between 1 and 65535"));
    }
    Ok(())
}

fn required_sandbox(sandbox: &str) -> Result<(), Status> {
    if sandbox.is_empty() { Err(Status::invalid_argument("sandbox is required")) } else { Ok(()) }
}

impl Gateway {
    /// ExposeService: creates or updates the endpoint. The sandbox must
    /// exist but need not be READY.
    pub(crate) fn expose(&self, e: &Expose) -> Result<Endpoint, Status> {
        required_sandbox(&e.sandbox)?;
        check_endpoint(&e.service, e.target_port)?;
        let now = ids::now_ms();
        self.mutate(|reg| {
            let target = Target::Name { workspace: e.workspace.clone(), name: e.sandbox.clone() };
            let sandbox_id = find(reg, &target)?.id.clone();
            let existing = reg.endpoints.iter_mut().find(|p| p.sandbox_id == sandbox_id && p.service == e.service);
            let endpoint = match existing {
                Some(p) => {
                    p.target_port = e.target_port;
                    p.authorization_mode = e.authorization_mode;
                    p.resource_version += 1;
                    p.clone()
                }
                None => {
                    let p = Endpoint {
                        id: ids::uuid_v4(),
                        workspace: e.workspace.clone(),
                        sandbox_id,
                        sandbox: e.sandbox.clone(),
                        service: e.service.clone(),
                        target_port: e.target_port,
                        // The 0.0 gateway records domain=true whatever was asked.
                        domain: true,
                        authorization_mode: e.authorization_mode,
                        created_ms: now,
                        resource_version: 1,
                    };
                    reg.endpoints.push(p.clone());
                    p
                }
            };
            Ok(endpoint)
        })
    }

    /// GetService.
    pub(crate) fn get_service(&self, workspace: &str, sandbox: &str, service: &str) -> Result<Endpoint, Status> {
        required_sandbox(sandbox)?;
        self.read(|reg| {
            check_workspace(reg, workspace)?;
            reg.endpoints
                .iter()
                .find(|p| p.workspace == workspace && p.sandbox == sandbox && p.service == service)
                .cloned()
                .ok_or_else(endpoint_not_found)
        })
    }

    /// ListServices: of one sandbox, or all when `sandbox` is empty.
    pub(crate) fn list_services(
        &self,
        scope: &Scope,
        sandbox: &str,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<Endpoint>, bool), Status> {
        self.read(|reg| {
            if let Scope::One(ws) = scope {
                check_workspace(reg, ws)?;
            }
            let mut found: Vec<Endpoint> = reg
                .endpoints
                .iter()
                .filter(|p| matches!(scope, Scope::All) || matches!(scope, Scope::One(ws) if *ws == p.workspace))
                .filter(|p| sandbox.is_empty() || p.sandbox == sandbox)
                .cloned()
                .collect();
            found.sort_by(|a, b| (&a.workspace, &a.sandbox, &a.service).cmp(&(&b.workspace, &b.sandbox, &b.service)));
            Ok(page(found, offset, limit))
        })
    }

    /// DeleteService: `Ok(false)` when absent and `allow_missing`.
    pub(crate) fn delete_service(
        &self,
        workspace: &str,
        sandbox: &str,
        service: &str,
        allow_missing: bool,
    ) -> Result<bool, Status> {
        required_sandbox(sandbox)?;
        self.mutate(|reg| {
            check_workspace(reg, workspace)?;
            let before = reg.endpoints.len();
            reg.endpoints.retain(|p| !(p.workspace == workspace && p.sandbox == sandbox && p.service == service));
            if before != reg.endpoints.len() {
                Ok(true)
            } else if allow_missing {
                Ok(false)
            } else {
                Err(endpoint_not_found())
            }
        })
    }

    /// Service name → URL for a sandbox (0.1 `SandboxResponse.service_urls`;
    /// the key "" is the unnamed service).
    pub(crate) fn service_urls(&self, sandbox_id: &str) -> BTreeMap<String, String> {
        self.read(|reg| {
            reg.endpoints.iter().filter(|p| p.sandbox_id == sandbox_id).map(|p| (p.service.clone(), p.url())).collect()
        })
    }
}
