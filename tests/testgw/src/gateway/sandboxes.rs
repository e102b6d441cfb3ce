//! Create, get, list, delete, stop and start (fact sheet §3.2).

use std::collections::BTreeMap;

use openshell_wasm::backend::{Backend as _, SandboxSpec as LocalSpec};
use tonic::Status;

use super::lifecycle::{Step, enter, waiting_for_supervisor};
use super::model::{Endpoint, Phase, PolicyRevision, PolicyState, Registry, Sandbox, Scope, Target};
use super::{Gateway, ids, page, policy, sandbox_not_found, validate};

/// A CreateSandbox request, after the adapter applied the spec defaults.
#[derive(Debug, Clone, Default)]
pub(crate) struct NewSandbox {
    /// Empty: the gateway picks a petname.
    pub name: String,
    pub workspace: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// `spec.environment`.
    pub environment: BTreeMap<String, String>,
    /// The encoded spec to store and return.
    pub spec: Vec<u8>,
    /// The encoded `spec.policy`, which becomes revision 1.
    pub policy: Option<Vec<u8>>,
    /// `spec.providers`.
    pub providers: Vec<String>,
    /// Services to expose at once (0.1): name, port, authorization mode.
    pub services: Vec<(String, u32, i32)>,
}

/// What DeleteSandbox did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Deleted {
    /// Deleted now; the sandbox had this id.
    Completed(String),
    /// A deletion was already under way.
    InProgress(String),
    /// Nothing by that name (only with `allow_missing`).
    AlreadyAbsent,
}

/// NOT_FOUND for a workspace that does not exist.
pub(super) fn check_workspace(reg: &Registry, workspace: &str) -> Result<(), Status> {
    if reg.has_workspace(workspace) {
        Ok(())
    } else {
        Err(Status::not_found(format!("workspace '{workspace}' not found")))
    }
}

/// Finds a sandbox by id or by name within a workspace.
pub(super) fn find<'r>(reg: &'r Registry, target: &Target) -> Result<&'r Sandbox, Status> {
    match target {
        Target::Id(id) => reg.sandboxes.get(id).ok_or_else(sandbox_not_found),
        Target::Name { workspace, name } => {
            check_workspace(reg, workspace)?;
            reg.by_name(workspace, name).ok_or_else(sandbox_not_found)
        }
    }
}

/// Mutable [`find`].
pub(super) fn find_mut<'r>(reg: &'r mut Registry, target: &Target) -> Result<&'r mut Sandbox, Status> {
    if let Target::Name { workspace, .. } = target {
        check_workspace(reg, workspace)?;
    }
    match target {
        Target::Id(id) => reg.sandboxes.get_mut(id).ok_or_else(sandbox_not_found),
        Target::Name { workspace, name } => reg.by_name_mut(workspace, name).ok_or_else(sandbox_not_found),
    }
}

fn required_name(name: &str) -> Result<(), Status> {
    if name.is_empty() { Err(Status::invalid_argument("name is required")) } else { Ok(()) }
}

impl Gateway {
    /// CreateSandbox: validates, records the sandbox as PROVISIONING, creates
    /// the backing local sandbox and schedules READY. Returns at once.
    pub(crate) async fn create(&self, new: NewSandbox) -> Result<Sandbox, Status> {
        if !new.name.is_empty() {
            validate::sandbox_name(&new.name)?;
        }
        validate::labels(&new.labels)?;
        validate::spec_environment(&new.environment)?;
        self.check_providers(&new.providers)?;
        for (service, port, _) in &new.services {
            super::services::check_endpoint(service, *port)?;
        }
        let id = ids::uuid_v4();
        let now = ids::now_ms();
        let record = self.mutate(|reg| {
            check_workspace(reg, &new.workspace)?;
            let name = if new.name.is_empty() {
                (0..1000)
                    .map(|_| ids::petname())
                    .find(|n| reg.by_name(&new.workspace, n).is_none())
                    .ok_or_else(|| Status::resource_exhausted("no free sandbox name"))?
            } else if reg.by_name(&new.workspace, &new.name).is_some() {
                return Err(Status::already_exists(format!("sandbox '{}' already exists", new.name)));
            } else {
                new.name.clone()
            };
            let policies = new
                .policy
                .iter()
                .map(|p| PolicyRevision {
                    version: 1,
                    hash: policy::hash(p),
                    state: PolicyState::Pending,
                    created_ms: now,
                    loaded_ms: 0,
                    policy: p.clone(),
                    provenance: BTreeMap::new(),
                })
                .collect();
            let sandbox = Sandbox {
                id: id.clone(),
                name,
                workspace: new.workspace.clone(),
                labels: new.labels.clone(),
                annotations: new.annotations.clone(),
                created_ms: now,
                deletion_ms: 0,
                resource_version: 1,
                phase: Phase::Provisioning,
                conditions: waiting_for_supervisor(),
                exit_code: None,
                spec: new.spec.clone(),
                environment: new.environment.clone(),
                local_name: ids::local_name(&id),
                policies,
                active_policy: 0,
                settings: BTreeMap::new(),
                settings_revision: 0,
                providers: new.providers.clone(),
                drafts: self.proposals(),
                epoch: 0,
            };
            for (service, port, mode) in &new.services {
                reg.endpoints.push(Endpoint {
                    id: ids::uuid_v4(),
                    workspace: sandbox.workspace.clone(),
                    sandbox_id: id.clone(),
                    sandbox: sandbox.name.clone(),
                    service: service.clone(),
                    target_port: *port,
                    domain: true,
                    authorization_mode: *mode,
                    created_ms: now,
                    resource_version: 1,
                });
            }
            reg.sandboxes.insert(id.clone(), sandbox.clone());
            Ok(sandbox)
        })?;
        let mut spec = LocalSpec::default();
        spec.name = Some(record.local_name.clone());
        spec.environment = record.environment.clone();
        spec.labels = BTreeMap::from([("openshell-testgw/id".to_string(), id.clone())]);
        if let Err(e) = self.inner.backend.create(&spec).await {
            self.remove(&id);
            return Err(Status::internal(format!("create sandbox failed: {e}")));
        }
        self.schedule_ready(&id, record.epoch);
        Ok(record)
    }

    /// GetSandbox (and every other lookup).
    pub(crate) fn get(&self, target: &Target) -> Result<Sandbox, Status> {
        if let Target::Name { name, .. } = target {
            required_name(name)?;
        }
        self.read(|reg| find(reg, target).cloned())
    }

    /// ListSandboxes: sorted by workspace and name, filtered by a
    /// `k=v,k2=v2` selector, one page of `limit` from `offset`.
    pub(crate) fn list(
        &self,
        scope: &Scope,
        selector: &str,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<Sandbox>, bool), Status> {
        let selector = validate::label_selector(selector)?;
        self.read(|reg| {
            if let Scope::One(ws) = scope {
                check_workspace(reg, ws)?;
            }
            let mut found: Vec<Sandbox> = reg
                .sandboxes
                .values()
                .filter(|s| matches!(scope, Scope::All) || matches!(scope, Scope::One(ws) if *ws == s.workspace))
                .filter(|s| selector.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
                .cloned()
                .collect();
            found.sort_by(|a, b| (&a.workspace, &a.name).cmp(&(&b.workspace, &b.name)));
            Ok(page(found, offset, limit))
        })
    }

    /// DeleteSandbox: DELETING, remove the backing sandbox, and drop the
    /// record after `deleting_linger`.
    pub(crate) async fn delete(&self, workspace: &str, name: &str, allow_missing: bool) -> Result<Deleted, Status> {
        required_name(name)?;
        let now = ids::now_ms();
        let started = self.mutate(|reg| {
            check_workspace(reg, workspace)?;
            match reg.by_name_mut(workspace, name) {
                None if allow_missing => Ok(None),
                None => Err(sandbox_not_found()),
                Some(s) if s.phase == Phase::Deleting => Ok(Some((s.id.clone(), false))),
                Some(s) => {
                    s.deletion_ms = now;
                    enter(s, Phase::Deleting, vec![]);
                    Ok(Some((s.id.clone(), true)))
                }
            }
        })?;
        Ok(match started {
            None => Deleted::AlreadyAbsent,
            Some((id, false)) => Deleted::InProgress(id),
            Some((id, true)) => {
                self.finish_delete(&id).await;
                Deleted::Completed(id)
            }
        })
    }

    /// StopSandbox: only from READY; STOPPING → STOPPED after the ready delay.
    pub(crate) fn stop(&self, workspace: &str, name: &str) -> Result<Sandbox, Status> {
        required_name(name)?;
        let target = Target::Name { workspace: workspace.into(), name: name.into() };
        let (sandbox, scheduled) = self.mutate(|reg| {
            let s = find_mut(reg, &target)?;
            match s.phase {
                Phase::Stopped | Phase::Stopping => Ok((s.clone(), false)),
                Phase::Ready => {
                    enter(s, Phase::Stopping, vec![]);
                    Ok((s.clone(), true))
                }
                other => Err(Status::failed_precondition(format!(
                    "sandbox must be Ready to stop (current phase: {})",
                    other.label()
                ))),
            }
        })?;
        if scheduled {
            self.schedule(&sandbox.id, sandbox.epoch, self.config().ready_delay, Step::Stopped);
        }
        Ok(sandbox)
    }

    /// StartSandbox: only from STOPPED; STARTING → READY after the ready delay.
    pub(crate) fn start(&self, workspace: &str, name: &str) -> Result<Sandbox, Status> {
        required_name(name)?;
        let target = Target::Name { workspace: workspace.into(), name: name.into() };
        let (sandbox, scheduled) = self.mutate(|reg| {
            let s = find_mut(reg, &target)?;
            match s.phase {
                Phase::Ready | Phase::Starting => Ok((s.clone(), false)),
                Phase::Stopped => {
                    enter(s, Phase::Starting, waiting_for_supervisor());
                    Ok((s.clone(), true))
                }
                other => Err(Status::failed_precondition(format!(
                    "sandbox must be Stopped to start (current phase: {})",
                    other.label()
                ))),
            }
        })?;
        if scheduled {
            self.schedule_ready(&sandbox.id, sandbox.epoch);
        }
        Ok(sandbox)
    }
}
