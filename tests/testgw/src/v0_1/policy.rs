//! 0.1 policy edits: the static-section rule for full replacements and the
//! incremental `merge_operations` (whose L7 edits name an `L7RuleTarget`
//! instead of the 0.0 host and port).

use openshell_proto::v0_1::openshell::sandbox::v1 as sb;
use openshell_proto::v0_1::openshell::v1 as pb;
use prost::Message as _;
use tonic::Status;

use crate::gateway::{Gateway, Target};

/// A sandbox-scoped policy may only change its network sections: the
/// static ones (filesystem, landlock, process) must equal version 1's.
pub(super) fn check_static(gateway: &Gateway, target: &Target, policy: &sb::SandboxPolicy) -> Result<(), Status> {
    let Ok((first, _)) = gateway.policy_status(target, 1) else { return Ok(()) };
    let first = sb::SandboxPolicy::decode(first.policy.as_slice()).unwrap_or_default();
    if first.filesystem != policy.filesystem || first.landlock != policy.landlock || first.process != policy.process {
        return Err(Status::invalid_argument(
            "sandbox policy updates may only change network_policies and network_middlewares: \
             filesystem, landlock and process must equal policy version 1",
        ));
    }
    Ok(())
}

fn rule_not_found(name: &str) -> Status {
    Status::invalid_argument(format!("network rule '{name}' not found"))
}

fn serves_port(endpoint: &sb::NetworkEndpoint, port: u32) -> bool {
    port == 0 || endpoint.port == port || endpoint.ports.contains(&port)
}

/// The endpoints an `L7RuleTarget` selects: in its rule (any rule when
/// unnamed), on its host, on one of its ports (any when none), at its path
/// (any when unset).
fn targeted<'p>(
    policy: &'p mut sb::SandboxPolicy,
    target: Option<&pb::L7RuleTarget>,
) -> Result<Vec<&'p mut sb::NetworkEndpoint>, Status> {
    let target = target.ok_or_else(|| Status::invalid_argument("target is required"))?;
    let found: Vec<_> = policy
        .network_policies
        .iter_mut()
        .filter(|(name, _)| target.rule_name.is_empty() || **name == target.rule_name)
        .flat_map(|(_, rule)| rule.endpoints.iter_mut())
        .filter(|e| e.host.eq_ignore_ascii_case(&target.host))
        .filter(|e| target.ports.is_empty() || target.ports.iter().any(|p| serves_port(e, *p)))
        .filter(|e| target.path.as_ref().is_none_or(|p| *p == e.path))
        .collect();
    if found.is_empty() {
        return Err(Status::invalid_argument(format!("no network endpoint matches host '{}'", target.host)));
    }
    Ok(found)
}

/// Applies merge operations in order.
pub(super) fn merge(policy: &mut sb::SandboxPolicy, operations: Vec<pb::PolicyMergeOperation>) -> Result<(), Status> {
    use pb::policy_merge_operation::Operation;
    for operation in operations {
        match operation.operation {
            Some(Operation::AddRule(add)) => {
                let mut rule = add.rule.ok_or_else(|| Status::invalid_argument("add_rule.rule is required"))?;
                if rule.name.is_empty() {
                    rule.name.clone_from(&add.rule_name);
                }
                match policy.network_policies.get_mut(&add.rule_name) {
                    Some(existing) => {
                        for endpoint in rule.endpoints {
                            if !existing.endpoints.contains(&endpoint) {
                                existing.endpoints.push(endpoint);
                            }
                        }
                        for binary in rule.binaries {
                            if !existing.binaries.iter().any(|b| b.path == binary.path) {
                                existing.binaries.push(binary);
                            }
                        }
                    }
                    None => {
                        policy.network_policies.insert(add.rule_name, rule);
                    }
                }
            }
            Some(Operation::RemoveEndpoint(remove)) => {
                let rule = policy
                    .network_policies
                    .get_mut(&remove.rule_name)
                    .ok_or_else(|| rule_not_found(&remove.rule_name))?;
                rule.endpoints.retain(|e| !(e.host.eq_ignore_ascii_case(&remove.host) && serves_port(e, remove.port)));
            }
            Some(Operation::RemoveRule(remove)) => {
                policy.network_policies.remove(&remove.rule_name).ok_or_else(|| rule_not_found(&remove.rule_name))?;
            }
            Some(Operation::AddDenyRules(add)) => {
                for endpoint in targeted(policy, add.target.as_ref())? {
                    endpoint.deny_rules.extend(add.deny_rules.iter().cloned());
                }
            }
            Some(Operation::AddAllowRules(add)) => {
                for endpoint in targeted(policy, add.target.as_ref())? {
                    endpoint.rules.extend(add.rules.iter().cloned());
                }
            }
            Some(Operation::RemoveBinary(remove)) => {
                let rule = policy
                    .network_policies
                    .get_mut(&remove.rule_name)
                    .ok_or_else(|| rule_not_found(&remove.rule_name))?;
                rule.binaries.retain(|b| b.path != remove.binary_path);
            }
            None => return Err(Status::invalid_argument("merge operation is empty")),
        }
    }
    Ok(())
}
