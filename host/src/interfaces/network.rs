//! `network`: a sandbox's network policy and exposed ports, behind the
//! policy's `[network]` grants.

use wasmtime::component::Resource;

use super::bindings::openshell::sandbox::network;
use super::{CallResult, SandboxCtxView, SandboxHandle, convert};
use crate::backend::openshell::policy::MAX_DOCUMENT_BYTES;
use crate::error::SandboxError;

impl network::Host for SandboxCtxView<'_> {
    async fn get_policy(&mut self, sandbox: Resource<SandboxHandle>) -> CallResult<network::PolicyStatus> {
        let op = "network.get-policy";
        if !self.ctx.policy.network.read_policy {
            return Err(SandboxError::denied(
                op,
                "this guest may not read network policies (policy network.read-policy)",
            )
            .into());
        }
        let sb = self.sandbox_of(&sandbox)?;
        let status = sb.network_policy().await.map_err(|e| e.with_operation(op))?;
        Ok(convert::policy_status(status))
    }

    async fn update_policy(
        &mut self,
        sandbox: Resource<SandboxHandle>,
        rules_yaml: String,
    ) -> CallResult<network::PolicyStatus> {
        let op = "network.update-policy";
        if !self.ctx.policy.network.update_policy {
            return Err(SandboxError::denied(
                op,
                "this guest may not change network policies (policy network.update-policy)",
            )
            .into());
        }
        if rules_yaml.len() > MAX_DOCUMENT_BYTES {
            return Err(
                SandboxError::too_large(op, format!("the rules document is over {MAX_DOCUMENT_BYTES} bytes")).into()
            );
        }
        let sb = self.sandbox_of(&sandbox)?;
        tracing::info!(run = %self.ctx.run_id, sandbox = %sb.info().name, "guest updates the network policy");
        let status = sb.update_network_policy(&rules_yaml).await.map_err(|e| e.with_operation(op))?;
        Ok(convert::policy_status(status))
    }

    async fn request_access(
        &mut self,
        sandbox: Resource<SandboxHandle>,
        request: network::AccessRequest,
        wait_ms: u32,
    ) -> CallResult<network::AccessStatus> {
        let sb = self.sandbox_of(&sandbox)?;
        self.ask_for_access(&sb, request, wait_ms).await
    }

    async fn check_access(
        &mut self,
        sandbox: Resource<SandboxHandle>,
        id: String,
        wait_ms: u32,
    ) -> CallResult<network::AccessStatus> {
        let sb = self.sandbox_of(&sandbox)?;
        self.look_up_access(&sb, &id, wait_ms).await
    }

    async fn expose_port(
        &mut self,
        sandbox: Resource<SandboxHandle>,
        port: u16,
        name: String,
    ) -> CallResult<network::ExposedPort> {
        let op = "network.expose-port";
        if !self.ctx.policy.network.expose_ports.contains(&port) {
            return Err(SandboxError::denied(
                op,
                format!("port {port} is not among the ports this guest may expose (policy network.expose-ports)"),
            )
            .into());
        }
        let sb = self.sandbox_of(&sandbox)?;
        let exposed = sb.expose_port(port, &name).await.map_err(|e| e.with_operation(op))?;
        Ok(convert::exposed_port(exposed))
    }
}
