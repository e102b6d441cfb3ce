//! The gateway's records, independent of either wire generation. They are
//! what `gateway.json` holds; generation-specific messages (the submitted
//! `SandboxSpec`, policies) are kept as their encoded protobuf bytes, which
//! only the adapter of the generation that wrote them decodes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The workspace every request without one lands in.
pub(crate) const DEFAULT_WORKSPACE: &str = "default";

/// Sandbox lifecycle phase (the subset of `SandboxPhase` this gateway uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Phase {
    Provisioning,
    Ready,
    Error,
    Deleting,
    Stopping,
    Stopped,
    Starting,
}

impl Phase {
    /// The spelling the real gateway uses in FAILED_PRECONDITION messages.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Phase::Provisioning => "Provisioning",
            Phase::Ready => "Ready",
            Phase::Error => "Error",
            Phase::Deleting => "Deleting",
            Phase::Stopping => "Stopping",
            Phase::Stopped => "Stopped",
            Phase::Starting => "Starting",
        }
    }
}

/// One `SandboxCondition`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Condition {
    pub kind: String,
    pub status: String,
    pub reason: String,
    pub message: String,
}

impl Condition {
    /// The `Ready` condition with the given status, reason and message.
    pub(crate) fn ready(status: &str, reason: &str, message: &str) -> Self {
        Condition { kind: "Ready".into(), status: status.into(), reason: reason.into(), message: message.into() }
    }
}

/// A sandbox record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Sandbox {
    /// UUID-shaped id, stable for the sandbox's life.
    pub id: String,
    pub name: String,
    pub workspace: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub created_ms: i64,
    /// Non-zero once deletion started.
    pub deletion_ms: i64,
    /// Bumped on every change; watchers compare it.
    pub resource_version: u64,
    pub phase: Phase,
    pub conditions: Vec<Condition>,
    /// Set when the "main process" ended (the `error_after` fault).
    pub exit_code: Option<i32>,
    /// The encoded `SandboxSpec` as submitted, after gateway defaults.
    #[serde(with = "hex_bytes")]
    pub spec: Vec<u8>,
    /// `spec.environment`, applied to every command.
    pub environment: BTreeMap<String, String>,
    /// Name of the backing local (bubblewrap) sandbox.
    pub local_name: String,
    /// Policy revisions, oldest first; versions count from 1.
    pub policies: Vec<PolicyRevision>,
    /// The revision the sandbox enforces (0 = none loaded yet).
    pub active_policy: u32,
    pub settings: BTreeMap<String, SettingValue>,
    pub settings_revision: u64,
    /// Names of the attached providers, in attach order.
    #[serde(default)]
    pub providers: Vec<String>,
    /// The draft policy: rules the supervisor proposed.
    #[serde(default)]
    pub drafts: Vec<DraftChunk>,
    /// Lifecycle generation: a scheduled transition only applies if the
    /// sandbox has not moved on since it was scheduled.
    #[serde(skip)]
    pub epoch: u64,
}

/// A proposed rule and what a person decided (`PolicyChunk`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DraftChunk {
    pub id: String,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    pub rule_name: String,
    pub host: String,
    pub port: u16,
    pub binary: String,
    pub rationale: String,
}

/// Load state of a policy revision (`PolicyStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum PolicyState {
    Pending,
    Loaded,
    Superseded,
}

/// One policy revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PolicyRevision {
    pub version: u32,
    /// Hex SHA-256 of the encoded policy.
    pub hash: String,
    pub state: PolicyState,
    pub created_ms: i64,
    pub loaded_ms: i64,
    /// The encoded `SandboxPolicy`.
    #[serde(with = "hex_bytes")]
    pub policy: Vec<u8>,
    /// Annotations given with the update.
    pub provenance: BTreeMap<String, String>,
}

/// A setting value (`SettingValue`, identical in both generations).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum SettingValue {
    String(String),
    Bool(bool),
    Int(i64),
    Bytes(#[serde(with = "hex_bytes")] Vec<u8>),
}

/// An exposed HTTP service endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Endpoint {
    pub id: String,
    pub workspace: String,
    pub sandbox_id: String,
    pub sandbox: String,
    /// May be empty (the sandbox's unnamed endpoint).
    pub service: String,
    pub target_port: u32,
    pub domain: bool,
    /// W `ServiceAuthorizationMode` as sent.
    pub authorization_mode: i32,
    pub created_ms: i64,
    pub resource_version: u64,
}

impl Endpoint {
    /// The URL handed to clients. There is no routing in this gateway, so it
    /// is the loopback port (reachable only from inside the sandbox).
    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.target_port)
    }
}

/// A workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Workspace {
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub created_ms: i64,
}

/// Everything `gateway.json` holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Registry {
    /// By id.
    pub sandboxes: BTreeMap<String, Sandbox>,
    pub endpoints: Vec<Endpoint>,
    /// By name; `default` is implicit and never stored.
    pub workspaces: BTreeMap<String, Workspace>,
    pub global_settings: BTreeMap<String, SettingValue>,
    pub global_settings_revision: u64,
}

impl Registry {
    /// The sandbox called `name` in `workspace`.
    pub(crate) fn by_name(&self, workspace: &str, name: &str) -> Option<&Sandbox> {
        self.sandboxes.values().find(|s| s.workspace == workspace && s.name == name)
    }

    /// Mutable [`Registry::by_name`].
    pub(crate) fn by_name_mut(&mut self, workspace: &str, name: &str) -> Option<&mut Sandbox> {
        self.sandboxes.values_mut().find(|s| s.workspace == workspace && s.name == name)
    }

    /// Whether a workspace exists (`default` always does).
    pub(crate) fn has_workspace(&self, name: &str) -> bool {
        name == DEFAULT_WORKSPACE || self.workspaces.contains_key(name)
    }
}

/// Which sandbox a request means: 0.0 addresses exec, watch and config by
/// id; everything else (and everything in 0.1) by name within a workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Id(String),
    Name { workspace: String, name: String },
}

/// The workspaces a list request covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    One(String),
    All,
}

/// Byte fields as hex strings in JSON.
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        hex::decode(text).map_err(serde::de::Error::custom)
    }
}
