//! What a run's HTTP requests used, per destination, for `run --json`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::body::Direction;

/// Requests and bytes of one destination (`scheme://host:port`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DestinationStats {
    /// `scheme://host:port`.
    pub destination: String,
    /// Requests the policy allowed.
    pub requests: u64,
    /// Requests the policy refused.
    pub denied: u64,
    /// Request body bytes sent.
    pub bytes_sent: u64,
    /// Response body bytes received.
    pub bytes_received: u64,
}

/// The live counters of one destination.
#[derive(Debug, Default)]
pub(crate) struct Counter {
    requests: AtomicU64,
    denied: AtomicU64,
    sent: AtomicU64,
    received: AtomicU64,
}

impl Counter {
    pub(crate) fn add(&self, direction: Direction, n: u64) {
        match direction {
            Direction::Sent => self.sent.fetch_add(n, Ordering::Relaxed),
            Direction::Received => self.received.fetch_add(n, Ordering::Relaxed),
        };
    }
    pub(crate) fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn deny(&self) {
        self.denied.fetch_add(1, Ordering::Relaxed);
    }
}

/// Every destination a run's requests went to (or tried to).
#[derive(Debug, Default)]
pub struct EgressStats {
    by_destination: Mutex<BTreeMap<String, Arc<Counter>>>,
}

impl EgressStats {
    pub(crate) fn counter(&self, destination: &str) -> Arc<Counter> {
        let mut map = self.by_destination.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(destination.to_string()).or_default().clone()
    }

    /// The counts so far, sorted by destination.
    pub fn snapshot(&self) -> Vec<DestinationStats> {
        let map = self.by_destination.lock().unwrap_or_else(|p| p.into_inner());
        map.iter()
            .map(|(d, c)| DestinationStats {
                destination: d.clone(),
                requests: c.requests.load(Ordering::Relaxed),
                denied: c.denied.load(Ordering::Relaxed),
                bytes_sent: c.sent.load(Ordering::Relaxed),
                bytes_received: c.received.load(Ordering::Relaxed),
            })
            .collect()
    }
}
