//! Policy revisions and settings (fact sheet §3.6): UpdateConfig,
//! GetSandboxPolicyStatus, ListSandboxPolicies, GetSandboxConfig and
//! GetGatewayConfig.
//!
//! Policies are stored as the encoded `SandboxPolicy` of the generation
//! that sent them; the adapters decode them and compute merges. A revision
//! is PENDING until the sandbox is READY, when the "supervisor" loads it
//! (at once for a READY sandbox); the previously loaded one becomes
//! SUPERSEDED.

use std::collections::BTreeMap;

use sha2::{Digest as _, Sha256};
use tonic::Status;

use super::model::{Phase, PolicyRevision, PolicyState, Sandbox, SettingValue, Target};
use super::sandboxes::{find, find_mut};
use super::{Gateway, ids, page};

/// What an UpdateConfig changes (the adapter checked that exactly one of
/// policy, setting and merge was given).
#[derive(Debug, Clone)]
pub(crate) enum ConfigChange {
    /// A new full policy. `base` is set for merges: the latest version the
    /// merge was computed from (0 = none), so a concurrent update is
    /// detected instead of overwritten.
    Policy { policy: Vec<u8>, base: Option<u32> },
    /// Upsert (`value`) or delete one setting.
    Setting { key: String, value: Option<SettingValue>, delete: bool },
}

/// One UpdateConfig.
#[derive(Debug, Clone)]
pub(crate) struct ConfigUpdate {
    /// The sandbox (ignored with `global`).
    pub target: Target,
    pub global: bool,
    pub change: ConfigChange,
    /// 0 = no check.
    pub expected_resource_version: u64,
    pub annotations: BTreeMap<String, String>,
}

/// UpdateConfigResponse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigUpdated {
    pub version: u32,
    pub policy_hash: String,
    pub settings_revision: u64,
    pub deleted: bool,
    pub annotations: BTreeMap<String, String>,
}

/// GetSandboxConfigResponse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SandboxConfig {
    /// The newest revision: what the supervisor should load.
    pub policy: Option<Vec<u8>>,
    pub version: u32,
    pub policy_hash: String,
    /// Key, value and whether it comes from the global scope.
    pub settings: Vec<(String, SettingValue, bool)>,
    pub config_revision: u64,
    pub workspace: String,
    pub settings_revision: u64,
}

/// Hex SHA-256 of an encoded policy.
pub(crate) fn hash(policy: &[u8]) -> String {
    hex::encode(Sha256::digest(policy))
}

/// The supervisor loads the newest revision: it becomes LOADED and active,
/// the previously loaded one SUPERSEDED.
pub(super) fn load_latest(s: &mut Sandbox, now: i64) {
    let Some(latest) = s.policies.last().map(|r| r.version) else { return };
    for revision in &mut s.policies {
        if revision.version == latest {
            if revision.state != PolicyState::Loaded {
                revision.state = PolicyState::Loaded;
                revision.loaded_ms = now;
            }
        } else if revision.state != PolicyState::Superseded {
            revision.state = PolicyState::Superseded;
        }
    }
    s.active_policy = latest;
}

fn no_revision() -> Status {
    Status::not_found("no policy revision found for this sandbox")
}

fn concurrent(current: u64) -> Status {
    Status::aborted(format!(
        "sandbox update failed due to concurrent modification (current resource_version: {current})"
    ))
}

impl Gateway {
    /// UpdateConfig.
    pub(crate) fn update_config(&self, update: ConfigUpdate) -> Result<ConfigUpdated, Status> {
        if update.global {
            return self.update_global(update.change);
        }
        let now = ids::now_ms();
        self.mutate(|reg| {
            let s = find_mut(reg, &update.target)?;
            if update.expected_resource_version != 0 && update.expected_resource_version != s.resource_version {
                return Err(concurrent(s.resource_version));
            }
            match update.change {
                ConfigChange::Policy { policy, base } => {
                    let latest = s.policies.last().map_or(0, |r| r.version);
                    if base.is_some_and(|b| b != latest) {
                        return Err(concurrent(s.resource_version));
                    }
                    let policy_hash = hash(&policy);
                    // Re-submitting the newest policy creates no revision.
                    if s.policies.last().is_none_or(|r| r.hash != policy_hash) {
                        s.policies.push(PolicyRevision {
                            version: latest + 1,
                            hash: policy_hash,
                            state: PolicyState::Pending,
                            created_ms: now,
                            loaded_ms: 0,
                            policy,
                            provenance: update.annotations.clone(),
                        });
                    }
                    if s.phase == Phase::Ready {
                        load_latest(s, now);
                    }
                }
                ConfigChange::Setting { key, value, delete } => {
                    if delete {
                        return Err(Status::invalid_argument("delete_setting is only supported at global scope"));
                    }
                    let value = value.ok_or_else(|| Status::invalid_argument("setting_value is required"))?;
                    s.settings.insert(key, value);
                    s.settings_revision += 1;
                }
            }
            s.annotations.extend(update.annotations);
            s.resource_version += 1;
            let latest = s.policies.last();
            Ok(ConfigUpdated {
                version: latest.map_or(0, |r| r.version),
                policy_hash: latest.map(|r| r.hash.clone()).unwrap_or_default(),
                settings_revision: s.settings_revision,
                deleted: false,
                annotations: s.annotations.clone(),
            })
        })
    }

    fn update_global(&self, change: ConfigChange) -> Result<ConfigUpdated, Status> {
        let ConfigChange::Setting { key, value, delete } = change else {
            return Err(Status::invalid_argument("global policies are not supported by this test gateway"));
        };
        self.mutate(|reg| {
            let deleted = if delete {
                reg.global_settings.remove(&key).is_some()
            } else {
                let value = value.ok_or_else(|| Status::invalid_argument("setting_value is required"))?;
                reg.global_settings.insert(key, value);
                false
            };
            reg.global_settings_revision += 1;
            Ok(ConfigUpdated {
                version: 0,
                policy_hash: String::new(),
                settings_revision: reg.global_settings_revision,
                deleted,
                annotations: BTreeMap::new(),
            })
        })
    }

    /// GetSandboxPolicyStatus: revision `version` (0 = newest) and the
    /// active version.
    pub(crate) fn policy_status(&self, target: &Target, version: u32) -> Result<(PolicyRevision, u32), Status> {
        self.read(|reg| {
            let s = find(reg, target)?;
            let revision =
                if version == 0 { s.policies.last() } else { s.policies.iter().find(|r| r.version == version) };
            Ok((revision.cloned().ok_or_else(no_revision)?, s.active_policy))
        })
    }

    /// The newest revision, if any (merges start from it).
    pub(crate) fn latest_policy(&self, target: &Target) -> Result<Option<PolicyRevision>, Status> {
        self.read(|reg| Ok(find(reg, target)?.policies.last().cloned()))
    }

    /// ListSandboxPolicies: newest first.
    pub(crate) fn list_policies(
        &self,
        target: &Target,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<PolicyRevision>, bool), Status> {
        self.read(|reg| {
            let s = find(reg, target)?;
            Ok(page(s.policies.iter().rev().cloned().collect(), offset, limit))
        })
    }

    /// GetSandboxConfig.
    pub(crate) fn sandbox_config(&self, target: &Target) -> Result<SandboxConfig, Status> {
        self.read(|reg| {
            let s = find(reg, target)?;
            let latest = s.policies.last();
            let mut settings: Vec<(String, SettingValue, bool)> =
                s.settings.iter().map(|(k, v)| (k.clone(), v.clone(), false)).collect();
            for (k, v) in &reg.global_settings {
                // Global settings win over sandbox ones.
                settings.retain(|(key, _, _)| key != k);
                settings.push((k.clone(), v.clone(), true));
            }
            let policy_hash = latest.map(|r| r.hash.clone()).unwrap_or_default();
            let fingerprint =
                Sha256::digest(format!("{policy_hash}/{}/{}", s.settings_revision, reg.global_settings_revision));
            let mut revision = [0u8; 8];
            revision.copy_from_slice(&fingerprint[..8]);
            Ok(SandboxConfig {
                policy: latest.map(|r| r.policy.clone()),
                version: latest.map_or(0, |r| r.version),
                policy_hash,
                settings,
                config_revision: u64::from_be_bytes(revision),
                workspace: s.workspace.clone(),
                settings_revision: s.settings_revision + reg.global_settings_revision,
            })
        })
    }

    /// GetGatewayConfig: global settings and their revision.
    pub(crate) fn gateway_settings(&self) -> (BTreeMap<String, SettingValue>, u64) {
        self.read(|reg| (reg.global_settings.clone(), reg.global_settings_revision))
    }
}
