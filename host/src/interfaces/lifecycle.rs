//! `lifecycle`: the run's sandbox, and creating, attaching to, listing and
//! deleting others under the policy's `[sandbox]` grants.

use std::collections::BTreeMap;

use wasmtime::component::Resource;

use super::bindings::openshell::sandbox::{lifecycle, types};
use super::providers::{MAX_PROVIDERS, check_grant};
use super::{CallResult, SandboxCtxView, SandboxHandle, convert};
use crate::backend::local::validate_name;
use crate::backend::openshell::policy as sandbox_policy;
use crate::backend::{OWNER_LABEL, OWNER_VALUE, RUN_LABEL, SandboxSpec};
use crate::error::SandboxError;
use crate::policy::{SandboxPolicy, units};

/// Longest wait for readiness a guest may ask for.
const MAX_READY_MS: u32 = 30 * 60 * 1000;

/// Put what the guest asked for into `spec`, each against its grant.
fn apply_options(
    policy: &SandboxPolicy,
    options: lifecycle::SandboxOptions,
    spec: &mut SandboxSpec,
    op: &str,
) -> Result<(), SandboxError> {
    let denied = |what: &str, grant: &str| {
        SandboxError::denied(op, format!("this guest may not {what} (policy sandbox.{grant})"))
    };
    if let Some(doc) = options.policy_yaml {
        if !policy.policy {
            return Err(denied("give a sandbox its own policy", "policy"));
        }
        if doc.len() > sandbox_policy::MAX_DOCUMENT_BYTES {
            return Err(SandboxError::too_large(
                op,
                format!("the sandbox policy is over {} bytes", sandbox_policy::MAX_DOCUMENT_BYTES),
            ));
        }
        // Checked here, not only by the backend that uses it, so a bad
        // document is `invalid-argument` on every backend (one without
        // sandbox policies would otherwise only say `unsupported`).
        sandbox_policy::parse_policy(&doc, "the sandbox policy").map_err(|e| e.with_operation(op))?;
        spec.policy_yaml = Some(doc);
    }
    if options.providers.len() > MAX_PROVIDERS {
        return Err(SandboxError::too_large(op, format!("a sandbox has at most {MAX_PROVIDERS} providers")));
    }
    for name in &options.providers {
        check_grant(policy, name, op)?;
    }
    spec.providers = options.providers;
    if let Some(n) = options.gpu {
        if !policy.gpu {
            return Err(denied("ask for GPUs", "gpu"));
        }
        spec.gpu = Some(n);
    }
    let bounded =
        |asked: Option<String>, parse: fn(&str) -> Result<u64, String>, max: Option<u64>, what: &str, key: &str| {
            let Some(asked) = asked else { return Ok(None) };
            let amount = parse(&asked).map_err(|m| SandboxError::invalid(op, m))?;
            match max {
                None => Err(denied(&format!("ask for {what}"), key)),
                Some(max) if amount > max => {
                    Err(SandboxError::denied(op, format!("`{asked}` is more {what} than policy sandbox.{key} allows")))
                }
                Some(_) => Ok(Some(asked)),
            }
        };
    spec.cpu = bounded(options.cpu, units::parse_cpu, policy.max_cpu_millis, "CPU", "max-cpu")?;
    spec.memory = bounded(options.memory, units::parse_memory, policy.max_memory_bytes, "memory", "max-memory")?;
    Ok(())
}

impl SandboxCtxView<'_> {
    fn created_names(&self) -> Vec<String> {
        self.ctx.created.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|s| s.name.clone()).collect()
    }

    async fn create_sandbox(
        &mut self,
        op: &str,
        spec: lifecycle::SandboxSpec,
        options: Option<lifecycle::SandboxOptions>,
    ) -> CallResult<Resource<SandboxHandle>> {
        let policy = self.ctx.policy.clone();
        if !policy.sandbox.create {
            return Err(SandboxError::denied(op, "this guest may not create sandboxes (policy sandbox.create)").into());
        }
        if !self.ctx.backend.features().lifecycle {
            return Err(SandboxError::unsupported(op, "this backend cannot create sandboxes").into());
        }
        let count = self.created_names().len() as u32;
        if count >= policy.sandbox.max_created {
            return Err(SandboxError::too_large(
                op,
                format!("this run already created {count} sandboxes, the most allowed (policy sandbox.max-created)"),
            )
            .into());
        }
        if let Some(name) = &spec.name {
            validate_name(name).map_err(|m| SandboxError::invalid(op, m))?;
        }
        let mut environment = BTreeMap::new();
        for (k, v) in spec.environment {
            super::process::check_env_name(&k, op)?;
            environment.insert(k, v);
        }
        let mut labels: BTreeMap<String, String> = spec.labels.into_iter().collect();
        labels.insert(OWNER_LABEL.into(), OWNER_VALUE.into());
        labels.insert(RUN_LABEL.into(), self.ctx.run_id.clone());
        let ready_ms = spec
            .ready_timeout_ms
            .unwrap_or(u32::try_from(policy.sandbox.ready_timeout.as_millis()).unwrap_or(u32::MAX));
        let mut backend_spec = SandboxSpec {
            name: spec.name,
            image: spec.image.or_else(|| policy.sandbox.image.clone()),
            environment,
            labels,
            ready_timeout: std::time::Duration::from_millis(u64::from(ready_ms.min(MAX_READY_MS))),
            ..SandboxSpec::default()
        };
        if let Some(options) = options {
            apply_options(&policy.sandbox, options, &mut backend_spec, op)?;
        }
        let info = self.ctx.backend.create(&backend_spec).await.map_err(|e| e.with_operation(op))?;
        tracing::info!(run = %self.ctx.run_id, sandbox = %info.name, "guest created a sandbox");
        self.ctx.created.lock().unwrap_or_else(|p| p.into_inner()).push(info.clone());
        Ok(self.new_handle(&info, true)?)
    }

    fn may_attach(&self, name: &str) -> bool {
        name == self.ctx.current.info().name
            || self.created_names().iter().any(|n| n == name)
            || self.ctx.policy.sandbox.attach.iter().any(|pat| crate::glob::matches(pat, name))
    }
}

impl lifecycle::Host for SandboxCtxView<'_> {
    async fn current(&mut self) -> wasmtime::Result<Resource<SandboxHandle>> {
        let sandbox = self.ctx.current.clone();
        let owned = self.ctx.current_owned;
        Ok(self.table.push(SandboxHandle { sandbox, owned })?)
    }

    async fn create(&mut self, spec: lifecycle::SandboxSpec) -> CallResult<Resource<SandboxHandle>> {
        self.create_sandbox("lifecycle.create", spec, None).await
    }

    async fn create_with(
        &mut self,
        spec: lifecycle::SandboxSpec,
        options: lifecycle::SandboxOptions,
    ) -> CallResult<Resource<SandboxHandle>> {
        self.create_sandbox("lifecycle.create-with", spec, Some(options)).await
    }

    async fn attach(&mut self, name: String) -> CallResult<Resource<SandboxHandle>> {
        let op = "lifecycle.attach";
        if !self.may_attach(&name) {
            return Err(SandboxError::denied(
                op,
                format!("this guest may not attach to `{name}` (policy sandbox.attach)"),
            )
            .into());
        }
        let info = self.ctx.backend.get(&name).await.map_err(|e| e.with_operation(op))?;
        let owned =
            self.created_names().contains(&name) || (name == self.ctx.current.info().name && self.ctx.current_owned);
        Ok(self.new_handle(&info, owned)?)
    }

    async fn list_sandboxes(&mut self) -> CallResult<Vec<types::SandboxInfo>> {
        let op = "lifecycle.list";
        if !self.ctx.policy.sandbox.list {
            return Err(SandboxError::denied(op, "this guest may not list sandboxes (policy sandbox.list)").into());
        }
        let all = self.ctx.backend.list(&[]).await.map_err(|e| e.with_operation(op))?;
        let created = self.created_names();
        Ok(all
            .iter()
            .filter(|s| self.may_attach(&s.name))
            .map(|s| {
                let owned =
                    created.contains(&s.name) || (s.name == self.ctx.current.info().name && self.ctx.current_owned);
                convert::sandbox_info(s, owned)
            })
            .collect())
    }

    async fn delete(&mut self, name: String) -> CallResult<()> {
        let op = "lifecycle.delete";
        if !self.ctx.policy.sandbox.delete {
            return Err(SandboxError::denied(op, "this guest may not delete sandboxes (policy sandbox.delete)").into());
        }
        if name == self.ctx.current.info().name {
            return Err(SandboxError::denied(op, "the sandbox bound to the run cannot be deleted by the guest").into());
        }
        if !self.created_names().contains(&name) {
            return Err(SandboxError::denied(
                op,
                format!("`{name}` was not created by this run; guests may only delete their own"),
            )
            .into());
        }
        self.ctx.backend.delete(&name).await.map_err(|e| e.with_operation(op))?;
        self.ctx.created.lock().unwrap_or_else(|p| p.into_inner()).retain(|s| s.name != name);
        Ok(())
    }
}
