//! OpenShell sandbox policies as YAML documents, independent of the wire
//! generation: what `--sandbox-policy FILE` reads, what `network.get-policy`
//! returns as `rules-yaml`, what `network.update-policy` accepts and what
//! `policy check --sandbox` validates.
//!
//! The document uses the proto's field names, so it reads like OpenShell's
//! own policy files, and it carries every field of `NetworkPolicyRule` and
//! `NetworkEndpoint` of both generations: reading a policy and writing it
//! back changes nothing, so no read-modify-write through these types can
//! widen access. Where OpenShell's files offer a shorter spelling (a
//! binary as a plain path, a query matcher as a plain glob,
//! `filesystem_policy`), it is accepted too. Values are checked while the
//! document is read, so every error names its line and column. An update
//! keeps the sandbox's values for everything outside `network_policies`.

mod forms;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::backend::openshell::config::Protocol;
use crate::error::SandboxError;

/// A whole sandbox policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDoc {
    /// Policy version (OpenShell's static sections are version 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// Filesystem access inside the sandbox.
    #[serde(default, alias = "filesystem_policy", skip_serializing_if = "Option::is_none")]
    pub filesystem: Option<FilesystemDoc>,
    /// Landlock settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub landlock: Option<LandlockDoc>,
    /// Process identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessDoc>,
    /// Egress rules by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub network_policies: BTreeMap<String, RuleDoc>,
}

/// Filesystem section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesystemDoc {
    /// The workdir is read-write.
    #[serde(default)]
    pub include_workdir: bool,
    /// Read-only directories.
    #[serde(default)]
    pub read_only: Vec<String>,
    /// Read-write directories.
    #[serde(default)]
    pub read_write: Vec<String>,
}

/// Landlock section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LandlockDoc {
    /// `best_effort` or `hard_requirement`.
    #[serde(default)]
    pub compatibility: String,
}

/// Process section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessDoc {
    /// User to run as.
    #[serde(default)]
    pub run_as_user: String,
    /// Group to run as.
    #[serde(default)]
    pub run_as_group: String,
}

/// One named egress rule (`NetworkPolicyRule`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDoc {
    /// The rule's `name` field when it is not its key (OpenShell writes the
    /// key there; absent means the key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Endpoints the rule allows.
    #[serde(default)]
    pub endpoints: Vec<EndpointDoc>,
    /// Binaries the rule applies to (absolute paths); empty = any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub binaries: Vec<BinaryDoc>,
}

/// A binary a rule applies to: written as its path, or as `{path, harness}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BinaryDoc {
    /// Absolute path.
    pub path: String,
    /// The deprecated `harness` flag (0.0 only; gateways ignore it).
    pub harness: bool,
}

/// One endpoint (`NetworkEndpoint`), every field of both generations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointDoc {
    /// Host or glob (`*.example.com` one label, `**.example.com` many).
    #[serde(deserialize_with = "forms::host")]
    pub host: String,
    /// The legacy single port (`ports` wins when both are set).
    #[serde(default, skip_serializing_if = "is_zero", deserialize_with = "forms::port")]
    pub port: u16,
    /// Ports.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "forms::ports")]
    pub ports: Vec<u16>,
    /// `tcp` or empty (L4 only), or the L7 protocol to inspect: `rest`,
    /// `websocket`, `graphql`, `sql`, `json-rpc`, `mcp`.
    #[serde(default, skip_serializing_if = "String::is_empty", deserialize_with = "forms::protocol")]
    pub protocol: String,
    /// TLS handling (gateway default: passthrough).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Tls>,
    /// Whether L7 rules are enforced or only audited (default: audit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforcement: Option<Enforcement>,
    /// An access preset, instead of explicit `rules`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<Access>,
    /// L7 allow rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<L7RuleDoc>,
    /// IPs or CIDRs allowed besides the SSRF check.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_ips: Vec<String>,
    /// L7 deny rules (deny wins over allow).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny_rules: Vec<L7Doc>,
    /// Keep `%2F` in paths instead of refusing it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_encoded_slash: bool,
    /// GraphQL persisted queries: `deny` (gateway default) or `allow_registered`.
    #[serde(default, skip_serializing_if = "String::is_empty", deserialize_with = "forms::persisted_queries")]
    pub persisted_queries: String,
    /// The trusted GraphQL persisted-query registry, by hash.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub graphql_persisted_queries: BTreeMap<String, GraphqlOperationDoc>,
    /// GraphQL body cap in bytes (0 = gateway default, 65536).
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub graphql_max_body_bytes: u32,
    /// HTTP path glob scoping the endpoint.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// Rewrite credential placeholders in WebSocket text frames.
    #[serde(default, skip_serializing_if = "is_false")]
    pub websocket_credential_rewrite: bool,
    /// Rewrite credential placeholders in textual request bodies.
    #[serde(default, skip_serializing_if = "is_false")]
    pub request_body_credential_rewrite: bool,
    /// Provenance marker the gateway sets on advisor-proposed endpoints.
    #[serde(default, skip_serializing_if = "is_false")]
    pub advisor_proposed: bool,
    /// Request signing: `sigv4`.
    #[serde(default, skip_serializing_if = "String::is_empty", deserialize_with = "forms::credential_signing")]
    pub credential_signing: String,
    /// The AWS service SigV4 signs for.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub signing_service: String,
    /// The AWS region SigV4 signs for.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub signing_region: String,
    /// JSON-RPC (and MCP) body cap in bytes (0 = gateway default, 65536).
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub json_rpc_max_body_bytes: u32,
    /// MCP inspection options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp: Option<McpDoc>,
    /// Which attached provider's static credentials this endpoint may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_binding: Option<CredentialBindingDoc>,
    /// Allow credentials on traffic OpenShell cannot inspect or rewrite.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_uninspected_credentials: bool,
    /// Set by the gateway for endpoints a provider credentials (a value
    /// written here is ignored by the gateway).
    #[serde(default, skip_serializing_if = "is_false")]
    pub provider_credentialed: bool,
    /// The owner of the token grant (0.1 only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token_grant_owner: String,
}

/// TLS handling of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tls {
    /// No TLS handling.
    Skip,
    /// Terminate TLS so L7 rules can see requests.
    Terminate,
    /// Pass TLS through (L4 only).
    Passthrough,
}

/// Whether an endpoint's L7 rules are enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Enforcement {
    /// Requests the rules deny are refused.
    Enforce,
    /// Requests the rules deny are logged and let through.
    Audit,
}

/// An access preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// Reads only.
    ReadOnly,
    /// Reads and writes.
    ReadWrite,
    /// Everything.
    Full,
}

/// One L7 allow rule (`L7Rule`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct L7RuleDoc {
    /// What it allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<L7Doc>,
}

/// What an L7 allow or deny rule matches (`L7Allow`, `L7DenyRule`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct L7Doc {
    /// HTTP method, JSON-RPC/MCP method, or `*`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub method: String,
    /// Path glob.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// SQL command.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub command: String,
    /// Query parameter matchers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, MatcherDoc>,
    /// GraphQL operation type.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub operation_type: String,
    /// GraphQL operation name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub operation_name: String,
    /// GraphQL fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// JSON-RPC/MCP params matchers (flat keys, e.g. `name`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, MatcherDoc>,
}

/// A value matcher: written as a glob, or as `{glob, any}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatcherDoc {
    /// Glob the value must match.
    pub glob: String,
    /// Globs of which the value must match one.
    pub any: Vec<String>,
}

/// A trusted GraphQL persisted query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphqlOperationDoc {
    /// `query`, `mutation` or `subscription`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub operation_type: String,
    /// Operation name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub operation_name: String,
    /// Top-level fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

/// MCP options (`McpOptions`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpDoc {
    /// Refuse tool names outside the MCP naming rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict_tool_names: Option<bool>,
    /// Allow every MCP method the gateway knows, besides the rules' ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_all_known_mcp_methods: Option<bool>,
    /// MCP protocol versions (0.1 only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
}

/// Which attached provider's credentials an endpoint may use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialBindingDoc {
    /// The provider's name.
    #[serde(default)]
    pub provider: String,
}

fn is_false(v: &bool) -> bool {
    !*v
}
fn is_zero(v: &u16) -> bool {
    *v == 0
}
fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

/// The largest policy or rules document a guest may submit (OpenShell's
/// own cap on a rules document).
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// Parse a whole policy document; `what` names it in errors.
pub fn parse_policy(text: &str, what: &str) -> Result<PolicyDoc, SandboxError> {
    serde_yaml::from_str(text).map_err(|e| {
        SandboxError::invalid("gateway.policy", format!("{what}: not a valid OpenShell policy: {}", located(&e)))
    })
}

/// serde_yaml's message with the position first, always (it leaves the
/// position out for the document's first character).
fn located(e: &serde_yaml::Error) -> String {
    let text = e.to_string();
    match e.location() {
        Some(l) => {
            let at = format!(" at line {} column {}", l.line(), l.column());
            format!("line {} column {}: {}", l.line(), l.column(), text.strip_suffix(&at).unwrap_or(&text))
        }
        None => text,
    }
}

/// Parse a `network_policies` document (a map of rules, optionally under a
/// `network_policies:` key).
pub fn parse_rules(text: &str) -> Result<BTreeMap<String, RuleDoc>, SandboxError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Wrapped {
        network_policies: BTreeMap<String, RuleDoc>,
    }
    let op = "network.update-policy";
    let invalid = |e: serde_yaml::Error| SandboxError::invalid(op, format!("the rules document: {}", located(&e)));
    // Which shape the document has decides which error is the useful one.
    let value: serde_yaml::Value = serde_yaml::from_str(text).map_err(invalid)?;
    if value.get("network_policies").is_some() {
        Ok(serde_yaml::from_str::<Wrapped>(text).map_err(invalid)?.network_policies)
    } else {
        serde_yaml::from_str(text).map_err(invalid)
    }
}

/// Render rules as YAML (`network_policies:` at the top).
pub fn render_rules(rules: &BTreeMap<String, RuleDoc>) -> String {
    #[derive(Serialize)]
    struct Wrapped<'a> {
        network_policies: &'a BTreeMap<String, RuleDoc>,
    }
    serde_yaml::to_string(&Wrapped { network_policies: rules }).unwrap_or_default()
}

/// Refuse what the gateway's generation cannot carry, instead of dropping
/// it on the way.
pub fn check_generation(rules: &BTreeMap<String, RuleDoc>, protocol: Protocol) -> Result<(), SandboxError> {
    let lacks = |rule: &str, field: &str| {
        Err(SandboxError::invalid(
            "gateway.policy",
            format!(
                "rule `{rule}` sets `{field}`, which {} gateways do not have; remove it or use a gateway that has it",
                protocol.as_str()
            ),
        ))
    };
    for (name, rule) in rules {
        match protocol {
            Protocol::V0_0 => {
                for e in &rule.endpoints {
                    if !e.token_grant_owner.is_empty() {
                        return lacks(name, "token_grant_owner");
                    }
                    if e.mcp.as_ref().is_some_and(|m| !m.versions.is_empty()) {
                        return lacks(name, "mcp.versions");
                    }
                }
            }
            Protocol::V0_1 => {
                if rule.binaries.iter().any(|b| b.harness) {
                    return lacks(name, "harness");
                }
            }
        }
    }
    Ok(())
}

impl EndpointDoc {
    /// The ports the endpoint covers: `ports`, else the legacy `port`.
    pub fn effective_ports(&self) -> Vec<u16> {
        if self.ports.is_empty() { vec![self.port] } else { self.ports.clone() }
    }
}

/// An endpoint setting as the policy file spells it (and 0.0's wire
/// value): the serde spelling, so it is written down once; empty when
/// unset.
pub fn setting_to_str<T: Serialize>(value: Option<T>) -> String {
    match value.map(|v| serde_yaml::to_value(v)) {
        Some(Ok(serde_yaml::Value::String(s))) => s,
        _ => String::new(),
    }
}

/// Read an endpoint setting the gateway sent as a string (0.0): empty is
/// unset, anything this host does not know is an error rather than unset,
/// which could widen access when written back.
pub fn setting_from_str<T: for<'de> Deserialize<'de>>(field: &str, s: &str) -> Result<Option<T>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    serde_yaml::from_value(serde_yaml::Value::String(s.to_string())).map(Some).map_err(|_| {
        format!("the gateway's policy has {field} `{s}`, which this host does not know; upgrade openshell-wasm")
    })
}

#[cfg(test)]
pub(crate) mod tests;
