//! Per-run limits on the guest: linear memory (a [`ResourceLimiter`]), CPU
//! time (counted in epoch ticks spent in guest code), and what exceeded
//! them, so a stopped guest gets an error that names the limit.

use std::fmt;
use std::time::Duration;

use wasmtime::ResourceLimiter;

use crate::policy::units::{format_duration, format_size};

/// Which limit stopped a guest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LimitExceeded {
    /// Linear memory would have grown past the limit.
    Memory {
        /// The limit in bytes.
        limit: u64,
        /// The size the guest asked for.
        requested: u64,
    },
    /// The guest spent more time running its own code than allowed.
    CpuTime {
        /// The limit.
        #[serde(serialize_with = "ser_ms")]
        limit: Duration,
    },
    /// The whole run took longer than its deadline.
    WallTime {
        /// The limit.
        #[serde(serialize_with = "ser_ms")]
        limit: Duration,
    },
    /// Tables or instances past the host's fixed bounds.
    Resources {
        /// What was exceeded.
        what: String,
    },
}

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

impl fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LimitExceeded::Memory { limit, requested } => write!(
                f,
                "memory limit exceeded: the guest asked for {} of linear memory, the limit is {} (policy guest.memory)",
                format_size(*requested),
                format_size(*limit)
            ),
            LimitExceeded::CpuTime { limit } => write!(
                f,
                "CPU time limit exceeded: the guest ran its own code for more than {} (policy guest.cpu-time)",
                format_duration(*limit)
            ),
            LimitExceeded::WallTime { limit } => write!(
                f,
                "wall-clock limit exceeded: the run took longer than {} (policy guest.wall-time)",
                format_duration(*limit)
            ),
            LimitExceeded::Resources { what } => write!(f, "resource limit exceeded: {what}"),
        }
    }
}

impl std::error::Error for LimitExceeded {}

/// How long one epoch tick is. The ticker thread advances the engine's
/// epoch this often; a guest yields to the scheduler once per tick, and
/// each tick it spends in its own code counts against its CPU budget.
pub const TICK: Duration = Duration::from_millis(10);

/// The store's limiter: refuses memory growth past the limit and records it.
#[derive(Debug)]
pub struct StoreLimiter {
    /// Largest linear memory, bytes.
    pub memory_limit: u64,
    /// Largest memory any instance reached, bytes.
    pub peak_memory: u64,
    /// Set when a limit refused growth.
    pub exceeded: Option<LimitExceeded>,
}

impl StoreLimiter {
    /// A limiter allowing `memory_limit` bytes per memory.
    pub fn new(memory_limit: u64) -> Self {
        StoreLimiter { memory_limit, peak_memory: 0, exceeded: None }
    }
}

/// Fixed bounds on tables and instances: far above what real components
/// need, low enough that a hostile component cannot exhaust the host.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;
const MAX_INSTANCES: usize = 1_000;
const MAX_TABLES: usize = 1_000;
const MAX_MEMORIES: usize = 100;

impl ResourceLimiter for StoreLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let desired = desired as u64;
        if desired > self.memory_limit {
            let err = LimitExceeded::Memory { limit: self.memory_limit, requested: desired };
            self.exceeded = Some(err.clone());
            // Trap right here rather than letting the guest see a failed
            // `memory.grow`: most guests abort on that with an unhelpful
            // message, and a guest that keeps probing should not continue.
            return Err(wasmtime::Error::new(err));
        }
        self.peak_memory = self.peak_memory.max(desired);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            let err = LimitExceeded::Resources {
                what: format!("a table of {desired} elements (limit {MAX_TABLE_ELEMENTS})"),
            };
            self.exceeded = Some(err.clone());
            return Err(wasmtime::Error::new(err));
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_growth_past_the_limit_is_refused_and_recorded() {
        let mut l = StoreLimiter::new(1 << 20);
        assert!(l.memory_growing(0, 65536, None).unwrap());
        let err = l.memory_growing(65536, 4 << 30, None).unwrap_err();
        assert!(err.to_string().contains("memory limit exceeded"), "{err}");
        assert!(matches!(l.exceeded, Some(LimitExceeded::Memory { requested, .. }) if requested == 4 << 30));
        assert_eq!(l.peak_memory, 65536);
    }

    #[test]
    fn messages_name_the_policy_key() {
        let m = LimitExceeded::WallTime { limit: Duration::from_secs(2) }.to_string();
        assert!(m.contains("guest.wall-time") && m.contains("2s"), "{m}");
    }
}
