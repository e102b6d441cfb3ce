//! The wasmtime engine every run shares: async, epoch interruption, and the
//! pooling allocator with copy-on-write memory images where the address
//! space allows it.

use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::limits::TICK;

/// Whether to use the pooling allocator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pooling {
    /// Use it if the engine can reserve its address space, else fall back.
    #[default]
    Auto,
    /// Always (fail if it cannot be set up).
    On,
    /// Never (allocate each instance on demand).
    Off,
}

/// Engine settings.
#[derive(Debug, Clone, Copy)]
pub struct EngineOptions {
    /// Pooling allocator choice.
    pub pooling: Pooling,
    /// How many component instances may be alive at once in the pool.
    pub max_instances: u32,
    /// Largest linear memory (the policy's `guest.memory`).
    pub max_memory_bytes: u64,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions { pooling: Pooling::Auto, max_instances: 128, max_memory_bytes: 256 << 20 }
    }
}

/// Build the engine; returns it and whether pooling is in use.
pub fn build(options: &EngineOptions) -> wasmtime::Result<(Engine, bool)> {
    if options.pooling != Pooling::Off {
        match Engine::new(&config(options, true)) {
            Ok(engine) => return Ok((engine, true)),
            Err(e) if options.pooling == Pooling::Auto => {
                tracing::info!("pooling allocator unavailable ({e}); allocating instances on demand");
            }
            Err(e) => return Err(e.context("cannot set up the pooling allocator (try --pooling off)")),
        }
    }
    Ok((Engine::new(&config(options, false))?, false))
}

fn config(options: &EngineOptions, pooling: bool) -> Config {
    let mut c = Config::new();
    c.wasm_component_model(true);
    c.epoch_interruption(true);
    // Copy-on-write memory images: instantiation maps the initial heap
    // instead of copying it.
    c.memory_init_cow(true);
    if pooling {
        let n = options.max_instances.max(1);
        let mut p = PoolingAllocationConfig::new();
        p.total_component_instances(n)
            // Components built by componentize-py and friends hold several
            // core instances, memories and tables each.
            .total_core_instances(n.saturating_mul(8))
            .total_memories(n.saturating_mul(4))
            .total_tables(n.saturating_mul(8))
            .total_stacks(n)
            .max_memory_size(usize::try_from(options.max_memory_bytes.max(1 << 20)).unwrap_or(usize::MAX))
            .table_elements(200_000)
            .max_component_instance_size(16 << 20)
            .max_core_instance_size(16 << 20)
            .linear_memory_keep_resident(1 << 20);
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(p));
    }
    c
}

/// Advances an engine's epoch every [`TICK`] on a background thread, until
/// dropped (or until the engine is gone). It also keeps its own copy of the
/// epoch count ([`EpochTicker::clock`]), which wasmtime does not expose, so
/// that CPU accounting can tell a tick spent in guest code from ticks that
/// passed while the guest waited in a host call.
#[derive(Debug)]
pub struct EpochTicker {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    clock: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl EpochTicker {
    /// Start ticking `engine`.
    pub fn start(engine: &Engine) -> Self {
        let weak = engine.weak();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let clock = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let flag = stop.clone();
        let count = clock.clone();
        let spawned = std::thread::Builder::new().name("openshell-wasm-epoch".into()).spawn(move || {
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(TICK);
                match weak.upgrade() {
                    Some(engine) => {
                        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        engine.increment_epoch();
                    }
                    None => return,
                }
            }
        });
        if let Err(e) = spawned {
            tracing::error!("cannot start the epoch ticker thread: {e}; guest CPU limits will not apply");
        }
        EpochTicker { stop, clock }
    }

    /// The shared tick counter.
    pub fn clock(&self) -> std::sync::Arc<std::sync::atomic::AtomicU64> {
        self.clock.clone()
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Number of ticks in `d` (at least 1).
pub fn ticks(d: Duration) -> u64 {
    (d.as_millis() / TICK.as_millis()).max(1) as u64
}
