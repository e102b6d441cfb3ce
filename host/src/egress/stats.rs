//! What a run's HTTP requests used, per destination, for `run --json`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::body::Direction;

/// Destinations counted by name; the rest are counted together.
const MAX_DESTINATIONS: usize = 64;

/// The entry that counts destinations past [`MAX_DESTINATIONS`].
const OTHER: &str = "(other destinations)";

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
    /// The counters of `destination`. Past [`MAX_DESTINATIONS`] names (the
    /// guest picks them), new ones share one entry, so the map stays small.
    pub(crate) fn counter(&self, destination: &str) -> Arc<Counter> {
        let mut map = self.by_destination.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = map.get(destination) {
            return c.clone();
        }
        let key = if map.len() < MAX_DESTINATIONS { destination } else { OTHER };
        map.entry(key.to_string()).or_default().clone()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_picked_names_cannot_grow_the_map_without_end() {
        let stats = EgressStats::default();
        for i in 0..1000 {
            stats.counter(&format!("https://h{i}.example:443")).deny();
        }
        let all = stats.snapshot();
        assert_eq!(all.len(), MAX_DESTINATIONS + 1);
        assert_eq!(all.iter().map(|d| d.denied).sum::<u64>(), 1000);
        assert_eq!(all.iter().find(|d| d.destination == OTHER).unwrap().denied, 1000 - MAX_DESTINATIONS as u64);
    }
}
