//! The sandbox's network: its egress policy and exposed ports.

use serde::Deserialize;
use serde_json::{Value, json};

use super::ToolError;
use crate::interfaces::bindings::openshell::sandbox::network::{Host as _, PolicyLoadState};
use crate::mcp::session::Bound;

pub(super) const GET_POLICY: &str = "Show the sandbox's network policy: its version, load state and rules as YAML \
    (OpenShell's network_policies document).";
pub(super) const UPDATE_POLICY: &str = "Replace the sandbox's network rules with `rules_yaml` (the same YAML \
    network_get_policy returns) and wait until the sandbox has loaded them. The host policy's \
    `network.update-policy` must allow it.";
pub(super) const EXPOSE_PORT: &str = "Make a port the sandbox listens on reachable, and return its URL (ports the \
    host policy's `network.expose-ports` lists).";

/// Arguments of network_get_policy.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct GetPolicy {
    /// The sandbox (default: this session's).
    #[serde(default)]
    sandbox: Option<String>,
}

pub(super) async fn get_policy(b: &mut Bound, a: GetPolicy) -> Result<Value, ToolError> {
    let sb = b.sandbox(a.sandbox.as_deref()).await?;
    let s = b.view().get_policy(sb).await?;
    Ok(status_json(&s))
}

/// Arguments of network_update_policy.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdatePolicy {
    /// The new rules: a YAML `network_policies` map.
    rules_yaml: String,
    /// The sandbox (default: this session's).
    #[serde(default)]
    sandbox: Option<String>,
}

pub(super) async fn update_policy(b: &mut Bound, a: UpdatePolicy) -> Result<Value, ToolError> {
    let sb = b.sandbox(a.sandbox.as_deref()).await?;
    let s = b.view().update_policy(sb, a.rules_yaml).await?;
    Ok(status_json(&s))
}

/// Arguments of expose_port.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExposePort {
    /// The port the sandbox listens on.
    port: u16,
    /// A name for the service.
    #[serde(default)]
    name: String,
    /// The sandbox (default: this session's).
    #[serde(default)]
    sandbox: Option<String>,
}

pub(super) async fn expose_port(b: &mut Bound, a: ExposePort) -> Result<Value, ToolError> {
    let sb = b.sandbox(a.sandbox.as_deref()).await?;
    let p = b.view().expose_port(sb, a.port, a.name).await?;
    Ok(json!({ "port": p.port, "name": p.name, "url": p.url }))
}

fn status_json(s: &crate::interfaces::bindings::openshell::sandbox::network::PolicyStatus) -> Value {
    let state = match s.state {
        PolicyLoadState::Pending => "pending",
        PolicyLoadState::Loaded => "loaded",
        PolicyLoadState::Failed => "failed",
        PolicyLoadState::Superseded => "superseded",
        PolicyLoadState::Unknown => "unknown",
    };
    json!({
        "version": s.version, "active_version": s.active_version, "state": state, "policy_hash": s.policy_hash,
        "load_error": s.load_error, "rules_yaml": s.rules_yaml,
    })
}
