//! Requests that leave the host on a guest's behalf: the guest's own
//! `wasi:http` requests and the model calls the host makes for it.
//!
//! Everything is denied unless the policy allows it. A request is matched
//! against the policy's rules (scheme, host, port, method, path), its host
//! name is resolved and every address checked (loopback, private,
//! link-local and metadata addresses only when a rule names them), the
//! connection goes to the checked address itself (so a name cannot be
//! re-resolved elsewhere in between), credentials are added by the host,
//! and bodies, counts and time are capped. The guest never holds a
//! credential: it is read from the host's environment or a file when the
//! request is sent, and never logged, reported or put in an error.

mod body;
mod connect;
mod credentials;
mod error;
mod rules;
mod stats;
mod wasi;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use connect::{Connector, Target};
pub use credentials::{apply_credentials, redact};
pub use error::EgressError;
pub use stats::{DestinationStats, EgressStats};
pub use wasi::HttpHooks;

use crate::policy::Policy;

/// Refusals logged at warn level per run.
const LOGGED_REFUSALS: u64 = 20;

/// The egress state of one run: the policy, the shared connector, and what
/// the run has used so far.
#[derive(Debug)]
pub struct EgressRun {
    pub(crate) policy: Arc<Policy>,
    pub(crate) connector: Arc<Connector>,
    requests: AtomicU64,
    refusals: AtomicU64,
    bytes: Arc<AtomicU64>,
    pub(crate) stats: EgressStats,
}

impl EgressRun {
    /// A run's egress state under `policy`.
    pub fn new(policy: Arc<Policy>, connector: Arc<Connector>) -> Arc<EgressRun> {
        Arc::new(EgressRun {
            policy,
            connector,
            requests: AtomicU64::new(0),
            refusals: AtomicU64::new(0),
            bytes: Arc::new(AtomicU64::new(0)),
            stats: EgressStats::default(),
        })
    }

    /// Count one more `wasi:http` request against `http.max-requests`.
    fn take_request(&self) -> Result<(), EgressError> {
        let limit = self.policy.http.max_requests;
        let used = self.requests.fetch_add(1, Ordering::Relaxed);
        if used >= limit {
            return Err(EgressError::Budget(format!(
                "this run has sent its {limit} HTTP requests (policy http.max-requests)"
            )));
        }
        Ok(())
    }

    /// Log a refused or failed request: the first [`LOGGED_REFUSALS`] at
    /// warn level, the rest at debug, so a guest that loops on refusals
    /// cannot flood the host's log.
    fn log_refusal(&self, method: &str, destination: &str, path: &str, e: &EgressError) {
        let n = self.refusals.fetch_add(1, Ordering::Relaxed);
        // Paths are the guest's: keep the log line short.
        let path: String = path.chars().take(200).collect();
        if n < LOGGED_REFUSALS {
            tracing::warn!(target: "egress", %method, %destination, %path, "HTTP request refused or failed: {e}");
        } else {
            if n == LOGGED_REFUSALS {
                tracing::warn!(target: "egress", "more HTTP requests were refused or failed; logging them at debug level");
            }
            tracing::debug!(target: "egress", %method, %destination, %path, "HTTP request refused or failed: {e}");
        }
    }

    /// What the run's HTTP requests used, per destination.
    pub fn stats(&self) -> Vec<DestinationStats> {
        self.stats.snapshot()
    }
}
