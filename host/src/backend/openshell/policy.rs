//! OpenShell sandbox policies as YAML documents, independent of the wire
//! generation: what `--sandbox-policy FILE` reads, what `network.get-policy`
//! returns as `rules-yaml` and what `network.update-policy` accepts.
//!
//! The document follows the proto's field names (`filesystem`, `landlock`,
//! `process`, `network_policies`). Network endpoints carry the fields that
//! matter for egress control (host, ports, protocol, TLS mode, enforcement,
//! access preset, allowed IPs, path); L7 rules, credential settings and
//! middlewares are not expressed here, and an update keeps the sandbox's
//! existing values for everything outside `network_policies`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::SandboxError;

/// A whole sandbox policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDoc {
    /// Policy version (OpenShell's static sections are version 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// Filesystem access inside the sandbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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

/// One named egress rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDoc {
    /// Endpoints the rule allows.
    #[serde(default)]
    pub endpoints: Vec<EndpointDoc>,
    /// Binaries the rule applies to (absolute paths); empty = any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub binaries: Vec<String>,
}

/// One endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointDoc {
    /// Host or glob (`*.example.com`).
    pub host: String,
    /// Ports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<u32>,
    /// `tcp` (default), `rest`, `websocket`, ...
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub protocol: String,
    /// `passthrough` (default), `terminate` or `skip`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tls: String,
    /// `audit` (default) or `enforce`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub enforcement: String,
    /// `read-only`, `read-write` or `full`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub access: String,
    /// IPs or CIDRs allowed besides the SSRF check.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_ips: Vec<String>,
    /// HTTP path glob.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
}

/// Parse a whole policy document.
pub fn parse_policy(text: &str, what: &str) -> Result<PolicyDoc, SandboxError> {
    let doc: PolicyDoc = serde_yaml::from_str(text)
        .map_err(|e| SandboxError::invalid("gateway.policy", format!("{what}: not a valid OpenShell policy: {e}")))?;
    validate_rules(&doc.network_policies, what)?;
    Ok(doc)
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
    let rules = match serde_yaml::from_str::<Wrapped>(text) {
        Ok(w) => w.network_policies,
        Err(_) => serde_yaml::from_str::<BTreeMap<String, RuleDoc>>(text)
            .map_err(|e| SandboxError::invalid(op, format!("the rules document is not a map of network rules: {e}")))?,
    };
    validate_rules(&rules, "the rules document")?;
    Ok(rules)
}

/// Render rules as YAML (`network_policies:` at the top).
pub fn render_rules(rules: &BTreeMap<String, RuleDoc>) -> String {
    #[derive(Serialize)]
    struct Wrapped<'a> {
        network_policies: &'a BTreeMap<String, RuleDoc>,
    }
    serde_yaml::to_string(&Wrapped { network_policies: rules }).unwrap_or_default()
}

fn validate_rules(rules: &BTreeMap<String, RuleDoc>, what: &str) -> Result<(), SandboxError> {
    let bad = |m: String| SandboxError::invalid("gateway.policy", format!("{what}: {m}"));
    for (name, rule) in rules {
        for ep in &rule.endpoints {
            if ep.host.is_empty() {
                return Err(bad(format!("rule `{name}` has an endpoint without a host")));
            }
            if ep.ports.iter().any(|p| *p == 0 || *p > 65535) {
                return Err(bad(format!("rule `{name}`: ports must be 1-65535")));
            }
            check_one_of(&ep.tls, &["", "passthrough", "terminate", "skip"], "tls", name).map_err(bad)?;
            check_one_of(&ep.enforcement, &["", "audit", "enforce"], "enforcement", name).map_err(bad)?;
            check_one_of(&ep.access, &["", "read-only", "read-write", "full"], "access", name).map_err(bad)?;
        }
        if let Some(b) = rule.binaries.iter().find(|b| !b.starts_with('/')) {
            return Err(bad(format!("rule `{name}`: binary `{b}` must be an absolute path")));
        }
    }
    Ok(())
}

fn check_one_of(v: &str, allowed: &[&str], field: &str, rule: &str) -> Result<(), String> {
    if allowed.contains(&v) {
        Ok(())
    } else {
        Err(format!("rule `{rule}`: {field} `{v}` is not one of {:?}", &allowed[1..]))
    }
}

/// 0.1 enum values of the endpoint string settings (0 = unspecified).
pub fn tls_enum(s: &str) -> i32 {
    match s {
        "skip" => 1,
        "terminate" => 2,
        "passthrough" => 3,
        _ => 0,
    }
}
/// See [`tls_enum`].
pub fn enforcement_enum(s: &str) -> i32 {
    match s {
        "enforce" => 1,
        "audit" => 2,
        _ => 0,
    }
}
/// See [`tls_enum`].
pub fn access_enum(s: &str) -> i32 {
    match s {
        "read-only" => 1,
        "read-write" => 2,
        "full" => 3,
        _ => 0,
    }
}
/// Inverse of [`tls_enum`].
pub fn tls_str(v: i32) -> &'static str {
    match v {
        1 => "skip",
        2 => "terminate",
        3 => "passthrough",
        _ => "",
    }
}
/// Inverse of [`enforcement_enum`].
pub fn enforcement_str(v: i32) -> &'static str {
    match v {
        1 => "enforce",
        2 => "audit",
        _ => "",
    }
}
/// Inverse of [`access_enum`].
pub fn access_str(v: i32) -> &'static str {
    match v {
        1 => "read-only",
        2 => "read-write",
        3 => "full",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_round_trip_and_validate() {
        let text = "github:\n  endpoints:\n    - host: api.github.com\n      ports: [443]\n      access: read-only\n  binaries: [/usr/bin/git]\n";
        let rules = parse_rules(text).unwrap();
        assert_eq!(rules["github"].endpoints[0].ports, vec![443]);
        let again = parse_rules(&render_rules(&rules)).unwrap();
        assert_eq!(rules, again);
        assert!(parse_rules("x:\n  endpoints:\n    - host: h\n      access: everything\n").is_err());
        assert!(parse_rules("x:\n  endpoints:\n    - host: ''\n").is_err());
        assert!(parse_rules("x:\n  binaries: [git]\n").is_err());
        assert!(parse_rules("not: [valid, rules").is_err());
        let p = parse_policy("version: 1\nfilesystem:\n  include_workdir: true\nnetwork_policies: {}\n", "f").unwrap();
        assert!(p.filesystem.unwrap().include_workdir);
        assert!(parse_policy("versoin: 1\n", "f").is_err());
    }

    #[test]
    fn enums_round_trip() {
        for s in ["skip", "terminate", "passthrough"] {
            assert_eq!(tls_str(tls_enum(s)), s);
        }
        for s in ["enforce", "audit"] {
            assert_eq!(enforcement_str(enforcement_enum(s)), s);
        }
        for s in ["read-only", "read-write", "full"] {
            assert_eq!(access_str(access_enum(s)), s);
        }
    }
}
