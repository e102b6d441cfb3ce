//! The lifecycle clock: the phase changes that happen after an RPC has
//! returned (PROVISIONING → READY, READY → ERROR under the `error_after`
//! fault, STOPPING → STOPPED, DELETING → gone), and resuming them when a
//! gateway restarts on an existing state directory.

use std::time::Duration;

use openshell_wasm::backend::Backend as _;
use openshell_wasm::error::ErrorCode;

use super::model::{Condition, Phase, Sandbox};
use super::{Gateway, ids, policy};

/// A phase change scheduled for later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// The supervisor connected.
    Ready,
    /// The main process exited.
    Error,
    /// The stop finished.
    Stopped,
}

/// Moves a sandbox into `phase` with `conditions`. Bumping `epoch` makes
/// steps scheduled for the previous phase stale.
pub(super) fn enter(s: &mut Sandbox, phase: Phase, conditions: Vec<Condition>) {
    s.phase = phase;
    s.conditions = conditions;
    s.epoch += 1;
    s.resource_version += 1;
}

/// The `Ready` condition of a sandbox that waits for its supervisor.
pub(super) fn waiting_for_supervisor() -> Vec<Condition> {
    vec![Condition::ready("False", "SupervisorNotConnected", "Backend ready; waiting for supervisor session")]
}

fn apply(s: &mut Sandbox, step: Step) {
    match step {
        Step::Ready => {
            enter(s, Phase::Ready, vec![Condition::ready("True", "DependenciesReady", "Supervisor session connected")]);
            // The supervisor loads the newest policy as soon as it connects.
            policy::load_latest(s, ids::now_ms());
        }
        Step::Error => {
            s.exit_code = Some(1);
            enter(
                s,
                Phase::Error,
                vec![Condition::ready("False", "MainProcessExited", "main process exited with code 1")],
            );
        }
        Step::Stopped => {
            let suspended = Condition {
                kind: "Suspended".into(),
                status: "True".into(),
                reason: "Stopped".into(),
                message: "Sandbox stopped; persistent state retained".into(),
            };
            enter(s, Phase::Stopped, vec![suspended, Condition::ready("False", "Stopped", "Sandbox is stopped")]);
        }
    }
}

impl Gateway {
    /// Runs `step` on sandbox `id` after `after`, unless the sandbox has
    /// changed phase (its epoch moved) in the meantime.
    pub(super) fn schedule(&self, id: &str, epoch: u64, after: Duration, step: Step) {
        let this = self.clone();
        let id = id.to_string();
        self.spawn(async move {
            tokio::time::sleep(after).await;
            this.run_step(&id, epoch, step);
        });
    }

    fn run_step(&self, id: &str, epoch: u64, step: Step) {
        let error_after = self.config().faults.error_after;
        let next = self.mutate(|reg| {
            let Some(s) = reg.sandboxes.get_mut(id).filter(|s| s.epoch == epoch) else { return Ok(None) };
            apply(s, step);
            Ok(match (step, error_after) {
                (Step::Ready, Some(after)) => Some((s.epoch, after)),
                _ => None,
            })
        });
        if let Ok(Some((epoch, after))) = next {
            self.schedule(id, epoch, after, Step::Error);
        }
    }

    /// Schedules READY for a sandbox that just entered PROVISIONING or
    /// STARTING (never, under the `never_ready` fault).
    pub(super) fn schedule_ready(&self, id: &str, epoch: u64) {
        if !self.config().faults.never_ready {
            self.schedule(id, epoch, self.config().ready_delay, Step::Ready);
        }
    }

    /// After a restart: every sandbox continues where it was, with its
    /// timers started afresh.
    pub(super) fn resume(&self) {
        let pending: Vec<(String, Phase)> =
            self.read(|reg| reg.sandboxes.values().map(|s| (s.id.clone(), s.phase)).collect());
        for (id, phase) in pending {
            match phase {
                Phase::Provisioning | Phase::Starting => self.schedule_ready(&id, 0),
                Phase::Stopping => self.schedule(&id, 0, self.config().ready_delay, Step::Stopped),
                Phase::Ready => {
                    if let Some(after) = self.config().faults.error_after {
                        self.schedule(&id, 0, after, Step::Error);
                    }
                }
                Phase::Deleting => {
                    let this = self.clone();
                    self.spawn(async move { this.finish_delete(&id).await });
                }
                Phase::Error | Phase::Stopped => {}
            }
        }
    }

    /// Removes the backing sandbox (killing whatever runs in it), then the
    /// record, after `deleting_linger`.
    pub(super) async fn finish_delete(&self, id: &str) {
        let local = self.read(|reg| reg.sandboxes.get(id).map(|s| s.local_name.clone()));
        if let Some(local) = local
            && let Err(e) = self.inner.backend.delete(&local).await
            && e.code != ErrorCode::NotFound
        {
            tracing::warn!(sandbox = id, "deleting the local sandbox failed: {e}");
        }
        let linger = self.config().deleting_linger;
        if linger.is_zero() {
            self.remove(id);
        } else {
            let this = self.clone();
            let id = id.to_string();
            self.spawn(async move {
                tokio::time::sleep(linger).await;
                this.remove(&id);
            });
        }
    }

    /// Drops a sandbox record and its service endpoints.
    pub(super) fn remove(&self, id: &str) {
        let _ = self.mutate(|reg| {
            reg.sandboxes.remove(id);
            reg.endpoints.retain(|e| e.sandbox_id != id);
            Ok(())
        });
    }
}
