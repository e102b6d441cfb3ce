//! `network.request-access` and `network.check-access`: a guest asks a
//! person for network access, behind the policy's `network.request-access`
//! grant. The request waits in the approvals store for the operator; the
//! run that asked carries out the answer (the operator's command only
//! records it): an approval becomes a rule in the sandbox's network policy.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::bindings::openshell::sandbox::network;
use super::{CallResult, SandboxCtxView};
use crate::approvals::{AccessRequest, Decision, Entry};
use crate::backend::local::now_ms;
use crate::backend::openshell::policy::{self as sandbox_policy, EndpointDoc, Enforcement, L7Doc, L7RuleDoc, RuleDoc};
use crate::backend::{DraftChunk, Sandbox};
use crate::error::{ErrorCode, Result, SandboxError};

/// Longest reason a guest may give (it is shown to a person).
const MAX_REASON: usize = 2000;
/// Most requests one run may make: each is a file for a person to read.
const MAX_REQUESTS: usize = 32;

/// The rule an approved request adds.
fn rule_name(id: &str) -> String {
    format!("approved-{id}")
}

/// Refuse what no rule could hold, and text that would garble the
/// operator's terminal.
fn check_request(r: &network::AccessRequest, op: &str) -> Result<()> {
    let bad = |m: String| Err(SandboxError::invalid(op, m));
    let printable = |s: &str| !s.chars().any(char::is_control);
    if r.host.is_empty() || r.host.len() > 253 || !printable(&r.host) || r.host.contains(['/', ' ', ':']) {
        return bad(format!("{:?} is not a host name or IP address", r.host));
    }
    if r.port == 0 {
        return bad("port 0 is not a port".into());
    }
    if let Some(m) = &r.method
        && (m.is_empty() || m.len() > 32 || !m.chars().all(|c| c.is_ascii_alphanumeric() || c == '/' || c == '*'))
    {
        return bad(format!("{m:?} is not a method"));
    }
    if let Some(p) = &r.path
        && (!p.starts_with('/') || p.len() > 1024 || !printable(p))
    {
        return bad(format!("{p:?} is not a path glob (it starts with `/`)"));
    }
    if r.reason.len() > MAX_REASON || !r.reason.chars().all(|c| c == '\n' || !c.is_control()) {
        return bad(format!("the reason must be printable text of at most {MAX_REASON} bytes"));
    }
    Ok(())
}

impl SandboxCtxView<'_> {
    pub(super) async fn ask_for_access(
        &mut self,
        sandbox: &Arc<dyn Sandbox>,
        request: network::AccessRequest,
        wait_ms: u32,
    ) -> CallResult<network::AccessStatus> {
        let op = "network.request-access";
        let policy = &self.ctx.policy.network;
        if !policy.request_access {
            return Err(SandboxError::denied(
                op,
                "this guest may not ask for network access (policy network.request-access)",
            )
            .into());
        }
        check_request(&request, op)?;
        if self.ctx.access_requests >= MAX_REQUESTS {
            return Err(SandboxError::too_large(
                op,
                format!("this run already asked for access {MAX_REQUESTS} times, the most a run may"),
            )
            .into());
        }
        if !self.ctx.backend.features().network_policy {
            return Err(SandboxError::unsupported(
                op,
                format!(
                    "the {} backend's sandboxes have no network, so there is no access to grant; use an OpenShell gateway",
                    sandbox.info().backend
                ),
            )
            .into());
        }
        let id = crate::ids::random_id("acc").map_err(|e| SandboxError::from_id(op, &e))?;
        let created_ms = now_ms();
        let timeout_ms = u64::try_from(policy.access_timeout.as_millis()).unwrap_or(u64::MAX);
        let record = AccessRequest {
            id: id.clone(),
            created_ms,
            expires_ms: created_ms.saturating_add(timeout_ms),
            run_id: self.ctx.run_id.clone(),
            component: self.ctx.component.clone(),
            sandbox: sandbox.info().name.clone(),
            backend: sandbox.info().backend.clone(),
            host: request.host,
            port: request.port,
            method: request.method,
            path: request.path,
            reason: request.reason,
        };
        self.ctx.approvals.create(&record).map_err(|e| e.with_operation(op))?;
        self.ctx.access_requests += 1;
        tracing::warn!(
            run = %self.ctx.run_id, sandbox = %record.sandbox, id = %id, host = %record.host, port = record.port,
            "the guest asks for network access; answer with `openshell-wasm approvals approve|reject {id}`"
        );
        self.settle(op, sandbox, &id, wait_ms).await
    }

    pub(super) async fn look_up_access(
        &mut self,
        sandbox: &Arc<dyn Sandbox>,
        id: &str,
        wait_ms: u32,
    ) -> CallResult<network::AccessStatus> {
        let op = "network.check-access";
        let not_ours = || SandboxError::not_found(op, format!("this run made no access request `{id}`"));
        let entry =
            self.ctx.approvals.get(id).map_err(|e| if e.code == ErrorCode::NotFound { not_ours() } else { e })?;
        if entry.request.run_id != self.ctx.run_id {
            return Err(not_ours().into());
        }
        if entry.request.sandbox != sandbox.info().name {
            return Err(SandboxError::invalid(
                op,
                format!("request `{id}` is for sandbox `{}`, not `{}`", entry.request.sandbox, sandbox.info().name),
            )
            .into());
        }
        self.settle(op, sandbox, id, wait_ms).await
    }

    /// Wait for an answer (at most `wait_ms`, at most the policy's
    /// timeout) and carry it out once: grant an approval, record a
    /// person's rejection on the gateway's draft policy.
    async fn settle(
        &mut self,
        op: &str,
        sandbox: &Arc<dyn Sandbox>,
        id: &str,
        wait_ms: u32,
    ) -> CallResult<network::AccessStatus> {
        let wait = Duration::from_millis(u64::from(wait_ms)).min(self.ctx.policy.network.access_timeout);
        let entry = self.ctx.approvals.wait(id, Instant::now() + wait).await.map_err(|e| e.with_operation(op))?;
        if entry.decision() != Decision::Pending && !self.ctx.applied_access.contains_key(id) {
            let rule = match entry.decision() {
                Decision::Approved => grant(sandbox.as_ref(), &entry.request).await.map_err(|e| {
                    e.with_operation(op).context("the request was approved, but adding its rule failed")
                })?,
                _ => {
                    if entry.answer.as_ref().is_some_and(|a| a.by_operator) {
                        reject_drafts(sandbox.as_ref(), &entry).await;
                    }
                    String::new()
                }
            };
            tracing::info!(run = %self.ctx.run_id, sandbox = %entry.request.sandbox, id, rule = %rule, "access request answered");
            self.ctx.applied_access.insert(id.to_string(), rule);
        }
        let rule = self.ctx.applied_access.get(id).cloned().unwrap_or_default();
        Ok(status(&entry, rule))
    }
}

fn status(entry: &Entry, rule: String) -> network::AccessStatus {
    network::AccessStatus {
        id: entry.request.id.clone(),
        decision: match entry.decision() {
            Decision::Pending => network::AccessDecision::Pending,
            Decision::Approved => network::AccessDecision::Approved,
            Decision::Rejected => network::AccessDecision::Rejected,
        },
        note: entry.answer.as_ref().map(|a| a.note.clone()).unwrap_or_default(),
        rule,
    }
}

/// Carry out an approval; returns the rule that grants it. Draft chunks
/// the sandbox's supervisor proposed for no more than the person approved
/// are approved on the gateway (so OpenShell's own tools show the
/// decision, and the chunk's rule is the grant); otherwise the host adds
/// a rule of its own.
async fn grant(sandbox: &dyn Sandbox, request: &AccessRequest) -> Result<String> {
    let mut granted = None;
    for chunk in drafts(sandbox).await {
        if chunk.rule.as_ref().is_some_and(|r| within(r, request)) {
            match sandbox.decide_draft(&chunk.id, true, "").await {
                Ok(()) => {
                    granted.get_or_insert(chunk.rule_name);
                }
                Err(e) => tracing::warn!(chunk = %chunk.id, "cannot approve the matching draft chunk: {e}"),
            }
        }
    }
    if let Some(rule) = granted {
        return Ok(rule);
    }
    let rule = rule_name(&request.id);
    add_rule(sandbox, request, &rule).await?;
    Ok(rule)
}

/// A person's rejection, recorded on the pending draft chunks that propose
/// the same host and port.
async fn reject_drafts(sandbox: &dyn Sandbox, entry: &Entry) {
    let request = &entry.request;
    let note = entry.answer.as_ref().map(|a| a.note.as_str()).unwrap_or_default();
    let reason = format!("rejected with openshell-wasm approvals ({}): {note}", request.id);
    for chunk in drafts(sandbox).await {
        let names = chunk.rule.as_ref().is_some_and(|r| {
            r.endpoints
                .iter()
                .any(|e| e.host.eq_ignore_ascii_case(&request.host) && e.effective_ports().contains(&request.port))
        });
        if names && let Err(e) = sandbox.decide_draft(&chunk.id, false, &reason).await {
            tracing::warn!(chunk = %chunk.id, "cannot reject the matching draft chunk: {e}");
        }
    }
}

/// The sandbox's pending draft chunks; none where the backend has no draft
/// policy or cannot say (the answer is carried out either way).
async fn drafts(sandbox: &dyn Sandbox) -> Vec<DraftChunk> {
    match sandbox.draft_chunks("pending").await {
        Ok(chunks) => chunks,
        Err(e) => {
            if e.code != ErrorCode::Unsupported {
                tracing::warn!("cannot read the sandbox's draft policy: {e}");
            }
            Vec::new()
        }
    }
}

/// Whether `rule` allows no more than `request` asked: the same host and
/// port only, nothing narrowed away (a request for a method or path is
/// narrower than any whole-host rule), and no way around the address
/// checks or to credentials.
fn within(rule: &RuleDoc, request: &AccessRequest) -> bool {
    request.method.is_none()
        && request.path.is_none()
        && !rule.endpoints.is_empty()
        && rule.endpoints.iter().all(|e| {
            e.host.eq_ignore_ascii_case(&request.host)
                && e.effective_ports().iter().all(|p| *p == request.port)
                && e.allowed_ips.is_empty()
                && e.credential_binding.is_none()
                && e.credential_signing.is_empty()
                && !e.allow_uninspected_credentials
                && !e.websocket_credential_rewrite
                && !e.request_body_credential_rewrite
        })
}

/// Add the approved access to the sandbox's rules (read, add, write back:
/// the rules round-trip without loss, so nothing else changes).
async fn add_rule(sandbox: &dyn Sandbox, request: &AccessRequest, name: &str) -> Result<()> {
    let mut rules = match sandbox.network_policy().await {
        Ok(current) => sandbox_policy::parse_rules(&current.rules_yaml)?,
        Err(e) if e.code == ErrorCode::NotFound => BTreeMap::new(),
        Err(e) => return Err(e),
    };
    let mut endpoint = EndpointDoc { host: request.host.clone(), ports: vec![request.port], ..Default::default() };
    if request.method.is_some() || request.path.is_some() {
        // Narrowed to a method or path: the endpoint is inspected (L7) and
        // the rule enforced, not only audited.
        endpoint.protocol = "rest".into();
        endpoint.enforcement = Some(Enforcement::Enforce);
        let allow = L7Doc {
            method: request.method.clone().unwrap_or_else(|| "*".into()),
            path: request.path.clone().unwrap_or_else(|| "/**".into()),
            ..Default::default()
        };
        endpoint.rules = vec![L7RuleDoc { allow: Some(allow) }];
    }
    rules.insert(name.to_string(), RuleDoc { name: None, endpoints: vec![endpoint], binaries: Vec::new() });
    sandbox.update_network_policy(&sandbox_policy::render_rules(&rules)).await?;
    Ok(())
}
