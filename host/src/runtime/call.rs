//! The middle of a run, once its sandbox is bound: seed it, build the
//! guest's store (state, memory limiter, CPU accounting), call the agent or
//! the command under the wall-clock limit, map what came back, and collect.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use wasmtime::component::{ResourceTable, Val};
use wasmtime::{Store, UpdateDeadline};

use super::agent::{Agent, AgentKind};
use super::engine::ticks;
use super::functions::ExportedFunction;
use super::limits::{LimitExceeded, StoreLimiter, TICK};
use super::output::OutputCapture;
use super::run::{RunError, RunRequest, RunStats, ms};
use super::state::{RunState, wasi_ctx};
use super::{Host, transfer};
use crate::backend::SandboxInfo;
use crate::egress::{EgressRun, HttpHooks};
use crate::interfaces::{AgentPre, SandboxCtx};

/// What the steps of one run share once its sandbox is bound.
pub(super) struct RunCtx<'a> {
    pub(super) agent: &'a Agent,
    pub(super) request: &'a RunRequest,
    pub(super) run_id: &'a str,
    pub(super) sandbox: &'a SandboxInfo,
    /// Whether this run created the sandbox (and will delete it).
    pub(super) owned: bool,
    /// Sandboxes the guest creates; the run's cleanup deletes them.
    pub(super) created: Arc<Mutex<Vec<SandboxInfo>>>,
    pub(super) output: &'a OutputCapture,
    /// The exported function to call, with its arguments (functions
    /// components only).
    pub(super) function: Option<(&'a ExportedFunction, Vec<Val>)>,
}

/// What the guest returned: its result, or its error text.
type GuestResult = Result<String, String>;

impl Host {
    /// Seed, call, collect.
    pub(super) async fn run_body(&self, cx: &RunCtx<'_>, stats: &mut RunStats) -> Result<GuestResult, RunError> {
        let opened = self.backend.open(cx.sandbox);
        for s in &cx.request.seeds {
            transfer::seed(&*opened, &s.host, &s.sandbox)
                .await
                .map_err(|e| RunError::Sandbox(e.context(format!("seeding {} -> {}", s.host.display(), s.sandbox))))?;
        }
        let result = self.call(cx, stats).await?;
        for c in &cx.request.collects {
            transfer::collect(&*opened, &c.sandbox, &c.host).await.map_err(|e| {
                RunError::Sandbox(e.context(format!("collecting {} -> {}", c.sandbox, c.host.display())))
            })?;
        }
        Ok(result)
    }

    /// Instantiate and call the guest under the wall-clock limit, and
    /// record what it used.
    async fn call(&self, cx: &RunCtx<'_>, stats: &mut RunStats) -> Result<GuestResult, RunError> {
        let (mut store, egress) = self.new_store(cx)?;
        let wall = self.policy.guest.wall_time;
        let t = Instant::now();
        let call = async {
            match cx.agent.inner.kind {
                AgentKind::Agent => call_agent(cx, &mut store).await,
                AgentKind::Command => call_command(cx, &mut store).await,
                AgentKind::Functions => call_function(cx, &mut store).await,
            }
        };
        let outcome = tokio::time::timeout(wall, call).await;
        stats.call_ms = ms(t.elapsed());
        let data = store.data();
        stats.peak_memory_bytes = data.limiter.peak_memory;
        stats.cpu_ms = data.cpu_ticks * TICK.as_millis() as u64;
        stats.log_lines_dropped = data.sandbox.log_dropped();
        stats.http = egress.stats();
        stats.model = data.sandbox.model().stats();
        match outcome {
            Err(_) => Err(RunError::Limit(LimitExceeded::WallTime { limit: wall })),
            Ok(Ok((r, inst_us))) => {
                stats.instantiate_us = inst_us;
                Ok(r)
            }
            Ok(Err(e)) => {
                if let Some(limit) = e.downcast_ref::<LimitExceeded>() {
                    return Err(RunError::Limit(limit.clone()));
                }
                if let Some(limit) = store.data().limiter.exceeded.clone() {
                    return Err(RunError::Limit(limit));
                }
                // A trap, or a host function that failed fatally; both end
                // the guest, and the message (with the wasm backtrace) says
                // which.
                Err(RunError::Trap(describe_trap(&e)))
            }
        }
    }

    /// The guest's store: WASI, the sandbox interfaces, outgoing HTTP, the
    /// memory limiter and CPU accounting.
    /// The sandbox interfaces' state for `run_id`, bound to `sandbox`
    /// under this host's policy and stores.
    pub(crate) fn sandbox_ctx(
        &self,
        sandbox: SandboxInfo,
        run_id: &str,
        component: &str,
        owned: bool,
        created: Arc<Mutex<Vec<SandboxInfo>>>,
    ) -> Result<SandboxCtx, crate::error::SandboxError> {
        SandboxCtx::builder(self.backend.clone(), sandbox)
            .policy(self.policy.clone())
            .snapshots(self.snapshots.clone())
            .approvals(self.approvals.clone())
            .run_id(run_id)
            .component(component)
            .current_owned(owned)
            .created_registry(created)
            .connector(self.connector.clone())
            .build()
    }

    fn new_store(&self, cx: &RunCtx<'_>) -> Result<(Store<RunState>, Arc<EgressRun>), RunError> {
        let policy = &self.policy;
        let stdin = match cx.agent.inner.kind {
            AgentKind::Command => Some(cx.request.input.clone().into_bytes()),
            AgentKind::Agent | AgentKind::Functions => None,
        };
        let wasi = wasi_ctx(policy, cx.agent.name(), &cx.request.args, stdin, cx.output)
            .map_err(|e| RunError::Host(format!("{e:#}")))?;
        let sandbox_ctx =
            self.sandbox_ctx(cx.sandbox.clone(), cx.run_id, cx.agent.name(), cx.owned, cx.created.clone())?;
        let egress = EgressRun::new(policy.clone(), self.connector.clone());
        let state = RunState {
            wasi,
            table: ResourceTable::new(),
            sandbox: sandbox_ctx,
            limiter: StoreLimiter::new(policy.guest.memory_bytes),
            cpu_ticks: 0,
            http: wasmtime_wasi_http::WasiHttpCtx::new(),
            http_hooks: HttpHooks::new(egress.clone()),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        self.account_cpu(&mut store);
        Ok((store, egress))
    }

    /// Count the epoch ticks the guest spends in its own code and stop it
    /// past the policy's CPU time.
    fn account_cpu(&self, store: &mut Store<RunState>) {
        let cpu_time = self.policy.guest.cpu_time;
        let cpu_limit = ticks(cpu_time);
        let clock = self.clock.clone();
        let mut last_seen = clock.load(Ordering::Relaxed);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |mut ctx| {
            // Count a tick only if the guest was in its own code for all of
            // it; a jump of several ticks is time spent in a host call.
            let now = clock.load(Ordering::Relaxed);
            let state = ctx.data_mut();
            if now.saturating_sub(last_seen) <= 1 {
                state.cpu_ticks += 1;
            }
            last_seen = now;
            if state.cpu_ticks > cpu_limit {
                return Err(wasmtime::Error::new(LimitExceeded::CpuTime { limit: cpu_time }));
            }
            // Yield each tick: other runs share the executor, and the
            // wall-clock deadline can only fire at a yield point.
            Ok(UpdateDeadline::Yield(1))
        });
    }
}

/// An `agent` component: `run(input)`. Returns the result and the
/// instantiation time in microseconds.
async fn call_agent(cx: &RunCtx<'_>, store: &mut Store<RunState>) -> wasmtime::Result<(GuestResult, f64)> {
    let pre = AgentPre::new(cx.agent.inner.pre.clone())?;
    let t0 = Instant::now();
    let instance = pre.instantiate_async(&mut *store).await?;
    let inst_us = t0.elapsed().as_secs_f64() * 1e6;
    let r = instance.call_run(&mut *store, &cx.request.input).await?;
    Ok((r, inst_us))
}

/// An exported function, called with the arguments `Host::run` checked.
async fn call_function(cx: &RunCtx<'_>, store: &mut Store<RunState>) -> wasmtime::Result<(GuestResult, f64)> {
    let Some((function, args)) = &cx.function else {
        return Err(wasmtime::Error::msg("no function to call (Host::run checks this first)"));
    };
    let t0 = Instant::now();
    let instance = cx.agent.inner.pre.instantiate_async(&mut *store).await?;
    let inst_us = t0.elapsed().as_secs_f64() * 1e6;
    let func = instance
        .get_func(&mut *store, function.index)
        .ok_or_else(|| wasmtime::Error::msg(format!("the instance has no function `{}`", function.name)))?;
    let mut results = vec![Val::Bool(false); usize::from(function.result.is_some())];
    func.call_async(&mut *store, args, &mut results).await?;
    Ok((function.outcome(&results), inst_us))
}

/// A WASI command: the input is its stdin, its stdout the result, and a
/// failing exit code an error with its stderr.
async fn call_command(cx: &RunCtx<'_>, store: &mut Store<RunState>) -> wasmtime::Result<(GuestResult, f64)> {
    let pre = wasmtime_wasi::p2::bindings::CommandPre::new(cx.agent.inner.pre.clone())?;
    let t0 = Instant::now();
    let instance = pre.instantiate_async(&mut *store).await?;
    let inst_us = t0.elapsed().as_secs_f64() * 1e6;
    let code = match instance.wasi_cli_run().call_run(&mut *store).await {
        Ok(Ok(())) => 0,
        Ok(Err(())) => 1,
        Err(e) => match e.downcast_ref::<wasmtime_wasi::I32Exit>() {
            Some(exit) => exit.0,
            None => return Err(e),
        },
    };
    let out = cx.output.snapshot();
    let r = if code == 0 {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let err = String::from_utf8_lossy(&out.stderr).trim_end().to_string();
        Err(if err.is_empty() {
            format!("the command exited with code {code}")
        } else {
            format!("{err} (exit code {code})")
        })
    };
    Ok((r, inst_us))
}

/// The trap's cause first, then its wasm backtrace; never the host's own
/// stack (which says nothing about the guest).
fn describe_trap(e: &wasmtime::Error) -> String {
    let mut parts: Vec<String> = e.chain().map(|c| c.to_string()).collect();
    parts.reverse();
    parts.join("\n")
}
