//! What both generations' adapters do alike over their own generated
//! types, written once as a macro expanded in each generation's `convert`
//! module (with `pb`, `sb` and `dm` in scope), as the host's wire adapters
//! do.

macro_rules! alike {
    () => {
        /// A provider as ListSandboxProviders returns it (credentials
        /// included, as stored).
        pub(super) fn provider(p: &crate::config::ProviderSeed, workspace: &str) -> dm::Provider {
            dm::Provider {
                metadata: Some(dm::ObjectMeta {
                    name: p.name.clone(),
                    workspace: workspace.to_string(),
                    ..Default::default()
                }),
                r#type: p.kind.clone(),
                credentials: p.credentials.clone(),
                ..Default::default()
            }
        }

        /// Whether an encoded policy binds `provider`'s credentials in a
        /// network rule.
        pub(super) fn binds_provider(policy: &[u8], provider: &str) -> bool {
            sb::SandboxPolicy::decode(policy).unwrap_or_default().network_policies.values().any(|rule| {
                rule.endpoints.iter().any(|e| e.credential_binding.as_ref().is_some_and(|b| b.provider == provider))
            })
        }

        /// A draft chunk as GetDraftPolicy returns it.
        pub(super) fn chunk(c: &crate::gateway::DraftChunk) -> pb::PolicyChunk {
            pb::PolicyChunk {
                id: c.id.clone(),
                status: c.status.clone(),
                rule_name: c.rule_name.clone(),
                proposed_rule: Some(proposed_rule(c)),
                rationale: c.rationale.clone(),
                rejection_reason: String::new(),
            }
        }

        /// The rule a chunk proposes: its host and port for its binary.
        #[allow(clippy::needless_update, reason = "0.0 binaries have a field 0.1 dropped")]
        fn proposed_rule(c: &crate::gateway::DraftChunk) -> sb::NetworkPolicyRule {
            sb::NetworkPolicyRule {
                name: c.rule_name.clone(),
                endpoints: vec![sb::NetworkEndpoint {
                    host: c.host.clone(),
                    port: u32::from(c.port),
                    ports: vec![u32::from(c.port)],
                    ..Default::default()
                }],
                binaries: vec![sb::NetworkBinary { path: c.binary.clone(), ..Default::default() }],
            }
        }

        /// ApproveDraftChunk: the chunk's rule merged into the newest policy
        /// as an added rule (a new revision), then the chunk approved.
        /// Returns the new version and hash.
        pub(super) fn approve_chunk(
            gateway: &crate::gateway::Gateway,
            target: &crate::gateway::Target,
            id: &str,
        ) -> Result<(u32, String), tonic::Status> {
            let chunk = gateway.approvable(target, id)?;
            let latest = gateway.latest_policy(target)?;
            let mut current = latest
                .as_ref()
                .map(|r| sb::SandboxPolicy::decode(r.policy.as_slice()).unwrap_or_default())
                .unwrap_or_default();
            let add = pb::AddNetworkRule { rule_name: chunk.rule_name.clone(), rule: Some(proposed_rule(&chunk)) };
            let operation =
                pb::PolicyMergeOperation { operation: Some(pb::policy_merge_operation::Operation::AddRule(add)) };
            super::policy::merge(&mut current, vec![operation])?;
            let updated = gateway.update_config(crate::gateway::ConfigUpdate {
                target: target.clone(),
                global: false,
                change: crate::gateway::ConfigChange::Policy {
                    policy: current.encode_to_vec(),
                    base: Some(latest.map_or(0, |r| r.version)),
                },
                expected_resource_version: 0,
                annotations: Default::default(),
            })?;
            gateway.mark_approved(target, id)?;
            Ok((updated.version, updated.policy_hash))
        }
    };
}

pub(crate) use alike;
