//! WatchSandbox (fact sheet §3.1): a snapshot now and after every change,
//! the end at READY with `stop_on_terminal`, and an OK end when the
//! sandbox is deleted. The sandbox is pinned by id when the watch starts,
//! so a new sandbox reusing the name is not followed.

use tokio::sync::mpsc;
use tonic::Status;

use super::Gateway;
use super::model::{Phase, Sandbox, Target};

/// The response stream of a watch.
pub(crate) type Snapshots = mpsc::Receiver<Result<Sandbox, Status>>;

impl Gateway {
    /// Starts a watch. Unknown sandboxes are NOT_FOUND before the stream opens.
    pub(crate) fn watch(
        &self,
        target: &Target,
        follow_status: bool,
        stop_on_terminal: bool,
    ) -> Result<Snapshots, Status> {
        let id = self.get(target)?.id;
        let (tx, rx) = mpsc::channel(16);
        let mut changes = self.inner.changes.subscribe();
        let stopping = self.stopping();
        let this = self.clone();
        tokio::spawn(async move {
            tokio::pin!(stopping);
            let mut last_sent = None;
            loop {
                // Mark the current change count seen before reading, so a
                // change made after the read wakes the loop again.
                changes.borrow_and_update();
                let Some(sandbox) = this.read(|reg| reg.sandboxes.get(&id).cloned()) else { return };
                let (version, phase) = (sandbox.resource_version, sandbox.phase);
                if follow_status && last_sent != Some(version) {
                    if tx.send(Ok(sandbox)).await.is_err() {
                        return;
                    }
                    last_sent = Some(version);
                }
                if stop_on_terminal && phase == Phase::Ready {
                    return;
                }
                tokio::select! {
                    changed = changes.changed() => if changed.is_err() { return },
                    () = tx.closed() => return,
                    () = &mut stopping => {
                        let _ = tx.send(Err(Status::unavailable("gateway is shutting down"))).await;
                        return;
                    }
                }
            }
        });
        Ok(rx)
    }
}
