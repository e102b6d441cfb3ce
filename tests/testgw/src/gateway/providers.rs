//! Credential providers attached to sandboxes (fact sheet §2.9): the
//! providers are the configured [`ProviderSeed`]s, present in every
//! workspace.

use tonic::Status;

use super::Gateway;
use super::model::{Phase, Sandbox, Target};
use super::sandboxes::{find, find_mut};
use crate::config::ProviderSeed;

/// The real gateway's limit per sandbox.
const MAX_PER_SANDBOX: usize = 32;

/// Where an attached provider stands (0.1 `ProviderReadinessState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Readiness {
    /// The sandbox is not ready, so nothing installed it yet.
    Pending,
    /// Installed.
    Ready,
}

fn not_found(name: &str) -> Status {
    Status::failed_precondition(format!("provider '{name}' not found"))
}

impl Gateway {
    fn seed(&self, name: &str) -> Option<&ProviderSeed> {
        self.config().providers.iter().find(|p| p.name == name)
    }

    /// Every name exists and there are not too many (CreateSandbox and
    /// attach check alike).
    pub(super) fn check_providers(&self, names: &[String]) -> Result<(), Status> {
        if let Some(missing) = names.iter().find(|n| self.seed(n).is_none()) {
            return Err(not_found(missing));
        }
        if names.len() > MAX_PER_SANDBOX {
            return Err(Status::failed_precondition(format!("a sandbox may have at most {MAX_PER_SANDBOX} providers")));
        }
        Ok(())
    }

    /// ListSandboxProviders.
    pub(crate) fn sandbox_providers(&self, target: &Target) -> Result<Vec<ProviderSeed>, Status> {
        let names = self.read(|reg| find(reg, target).map(|s| s.providers.clone()))?;
        Ok(names.iter().filter_map(|n| self.seed(n).cloned()).collect())
    }

    /// AttachSandboxProvider: the sandbox and whether it was attached now.
    pub(crate) fn attach_provider(&self, target: &Target, name: &str) -> Result<(Sandbox, bool), Status> {
        if self.seed(name).is_none() {
            return Err(not_found(name));
        }
        self.mutate(|reg| {
            let s = find_mut(reg, target)?;
            if s.providers.iter().any(|p| p == name) {
                return Ok((s.clone(), false));
            }
            if s.providers.len() >= MAX_PER_SANDBOX {
                return Err(Status::failed_precondition(format!(
                    "a sandbox may have at most {MAX_PER_SANDBOX} providers"
                )));
            }
            s.providers.push(name.to_string());
            s.resource_version += 1;
            Ok((s.clone(), true))
        })
    }

    /// DetachSandboxProvider. `bound` says whether a policy revision's
    /// network rules bind the provider's credentials (decoding the policy
    /// is the generation's business); the gateway refuses to detach then.
    pub(crate) fn detach_provider(
        &self,
        target: &Target,
        name: &str,
        bound: impl Fn(&[u8], &str) -> bool,
    ) -> Result<(Sandbox, bool), Status> {
        self.mutate(|reg| {
            let s = find_mut(reg, target)?;
            if !s.providers.iter().any(|p| p == name) {
                return Ok((s.clone(), false));
            }
            if s.policies.last().is_some_and(|r| bound(&r.policy, name)) {
                return Err(Status::failed_precondition(format!(
                    "provider '{name}' is referenced by a network policy credential binding"
                )));
            }
            s.providers.retain(|p| p != name);
            s.resource_version += 1;
            Ok((s.clone(), true))
        })
    }

    /// GetSandboxProviderStatus (0.1) for the current attachment.
    pub(crate) fn provider_readiness(&self, target: &Target, name: &str) -> Result<Readiness, Status> {
        self.read(|reg| {
            let s = find(reg, target)?;
            if !s.providers.iter().any(|p| p == name) {
                return Err(Status::not_found(format!("provider '{name}' is not attached to this sandbox")));
            }
            Ok(if s.phase == Phase::Ready { Readiness::Ready } else { Readiness::Pending })
        })
    }
}
