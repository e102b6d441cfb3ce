//! `providers`: the credential providers attached to a sandbox, behind the
//! policy's `sandbox.providers` grant. Credential values never reach this
//! module: backends hand over names, types and readiness only.

use wasmtime::component::Resource;

use super::bindings::openshell::sandbox::providers;
use super::{CallResult, SandboxCtxView, SandboxHandle, convert};
use crate::error::SandboxError;
use crate::policy::SandboxPolicy;

/// OpenShell's limit on providers per sandbox.
pub(super) const MAX_PROVIDERS: usize = 32;

/// Refuse a provider name the policy does not grant (or that no gateway
/// could hold).
pub(super) fn check_grant(policy: &SandboxPolicy, name: &str, op: &str) -> Result<(), SandboxError> {
    if name.is_empty() || name.len() > 253 || name.chars().any(char::is_control) {
        return Err(SandboxError::invalid(op, format!("{name:?} is not a provider name")));
    }
    if !policy.providers.iter().any(|pat| crate::glob::matches(pat, name)) {
        return Err(SandboxError::denied(
            op,
            format!("this guest may not attach provider `{name}` (policy sandbox.providers)"),
        ));
    }
    Ok(())
}

impl providers::Host for SandboxCtxView<'_> {
    async fn list_providers(&mut self, sandbox: Resource<SandboxHandle>) -> CallResult<Vec<providers::Provider>> {
        let op = "providers.list-providers";
        let sb = self.sandbox_of(&sandbox)?;
        let list = sb.providers().await.map_err(|e| e.with_operation(op))?;
        Ok(list.into_iter().map(convert::provider).collect())
    }

    async fn attach(&mut self, sandbox: Resource<SandboxHandle>, name: String) -> CallResult<bool> {
        let op = "providers.attach";
        check_grant(&self.ctx.policy.sandbox, &name, op)?;
        let sb = self.sandbox_of(&sandbox)?;
        tracing::info!(run = %self.ctx.run_id, sandbox = %sb.info().name, provider = %name, "guest attaches a provider");
        Ok(sb.attach_provider(&name).await.map_err(|e| e.with_operation(op))?)
    }

    async fn detach(&mut self, sandbox: Resource<SandboxHandle>, name: String) -> CallResult<bool> {
        let op = "providers.detach";
        check_grant(&self.ctx.policy.sandbox, &name, op)?;
        let sb = self.sandbox_of(&sandbox)?;
        tracing::info!(run = %self.ctx.run_id, sandbox = %sb.info().name, provider = %name, "guest detaches a provider");
        Ok(sb.detach_provider(&name).await.map_err(|e| e.with_operation(op))?)
    }
}
