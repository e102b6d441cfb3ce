//! Sandboxes: the session's own, and creating, attaching to, listing and
//! deleting others under the policy's `[sandbox]` grants.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::ToolError;
use crate::interfaces::bindings::openshell::sandbox::lifecycle::{Host as _, SandboxOptions, SandboxSpec};
use crate::interfaces::bindings::openshell::sandbox::types::{self, HostSandbox as _, SandboxPhase};
use crate::mcp::session::Bound;

pub(super) const INFO: &str = "Describe a sandbox (default: this session's): name, backend, phase, workdir, \
    labels. Every other tool acts on this session's sandbox unless given `sandbox`.";
pub(super) const CREATE: &str = "Create another sandbox (the host policy's `sandbox.create` must allow it). It \
    belongs to this session and is deleted when the session ends. Pass its name as `sandbox` to the other tools.";
pub(super) const ATTACH: &str = "Attach to an existing sandbox by name (one this session created, or one the host \
    policy's `sandbox.attach` patterns allow), and describe it.";
pub(super) const LIST: &str = "List the sandboxes this session may use.";
pub(super) const DELETE: &str = "Delete a sandbox this session created with sandbox_create.";

/// Arguments of sandbox_info.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Info {
    /// The sandbox (default: this session's).
    #[serde(default)]
    sandbox: Option<String>,
}

pub(super) async fn info(b: &mut Bound, a: Info) -> Result<Value, ToolError> {
    let sb = b.sandbox(a.sandbox.as_deref()).await?;
    let info = b.view().info(sb).await?;
    Ok(info_json(&info))
}

/// Arguments of sandbox_create.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Create {
    /// The sandbox's name (default: a generated one).
    #[serde(default)]
    name: Option<String>,
    /// The image (default: the host policy's).
    #[serde(default)]
    image: Option<String>,
    /// Environment variables every command in it sees.
    #[serde(default)]
    env: BTreeMap<String, String>,
    /// Labels.
    #[serde(default)]
    labels: BTreeMap<String, String>,
    /// The sandbox's own OpenShell policy document (YAML; policy `sandbox.policy`).
    #[serde(default)]
    policy_yaml: Option<String>,
    /// Credential providers to attach (policy `sandbox.providers`).
    #[serde(default)]
    providers: Vec<String>,
    /// GPUs (policy `sandbox.gpu`).
    #[serde(default)]
    gpu: Option<u32>,
    /// CPU as a Kubernetes quantity such as "2" or "500m" (policy `sandbox.max-cpu`).
    #[serde(default)]
    cpu: Option<String>,
    /// Memory as a Kubernetes quantity such as "4Gi" (policy `sandbox.max-memory`).
    #[serde(default)]
    memory: Option<String>,
}

pub(super) async fn create(b: &mut Bound, a: Create) -> Result<Value, ToolError> {
    let spec = SandboxSpec {
        name: a.name,
        image: a.image,
        environment: a.env.into_iter().collect(),
        labels: a.labels.into_iter().collect(),
        ready_timeout_ms: None,
    };
    let options =
        SandboxOptions { policy_yaml: a.policy_yaml, providers: a.providers, gpu: a.gpu, cpu: a.cpu, memory: a.memory };
    let handle = b.view().create_with(spec, options).await?;
    let rep = handle.rep();
    let info = b.view().info(wasmtime::component::Resource::new_borrow(rep)).await;
    let name = b
        .view()
        .name(wasmtime::component::Resource::new_borrow(rep))
        .await
        .map_err(|e| ToolError::Host(format!("{e:#}")))?;
    b.adopt(name, handle);
    Ok(info_json(&info?))
}

/// Arguments of sandbox_attach.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Attach {
    /// The sandbox's name.
    name: String,
}

pub(super) async fn attach(b: &mut Bound, a: Attach) -> Result<Value, ToolError> {
    let sb = b.sandbox(Some(&a.name)).await?;
    let info = b.view().info(sb).await?;
    Ok(info_json(&info))
}

/// Arguments of sandbox_list (none).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListSandboxes {}

pub(super) async fn list(b: &mut Bound, _: ListSandboxes) -> Result<Value, ToolError> {
    let current = b.current().name.clone();
    let all = b.view().list_sandboxes().await?;
    let listed: Vec<Value> = all
        .iter()
        .map(|s| {
            let mut v = info_json(s);
            v["current"] = json!(s.name == current);
            v
        })
        .collect();
    Ok(json!({ "sandboxes": listed }))
}

/// Arguments of sandbox_delete.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Delete {
    /// The sandbox's name.
    name: String,
}

pub(super) async fn delete(b: &mut Bound, a: Delete) -> Result<Value, ToolError> {
    b.view().delete(a.name.clone()).await?;
    if let Some(handle) = b.forget(&a.name) {
        let _ = types::HostSandbox::drop(&mut b.view(), handle).await;
    }
    Ok(json!({ "name": a.name, "deleted": true }))
}

fn info_json(s: &types::SandboxInfo) -> Value {
    let phase = match s.phase {
        SandboxPhase::Provisioning => "provisioning",
        SandboxPhase::Ready => "ready",
        SandboxPhase::Error => "error",
        SandboxPhase::Deleting => "deleting",
        SandboxPhase::Stopped => "stopped",
        SandboxPhase::Unknown => "unknown",
    };
    let labels: BTreeMap<&str, &str> = s.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    json!({
        "name": s.name, "id": s.id, "backend": s.backend, "phase": phase, "message": s.message,
        "workdir": s.workdir, "labels": labels, "created_ms": s.created_ms, "owned": s.owned,
    })
}
