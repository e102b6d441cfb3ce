//! What a store holds during one run, and how its WASI context is built
//! from the policy (nothing of the host is visible unless granted).

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::limits::StoreLimiter;
use super::net::use_allowed;
use super::output::{GuestStream, OutputCapture};
use crate::egress::HttpHooks;
use crate::interfaces::{SandboxCtx, SandboxCtxView, SandboxView};
use crate::policy::Policy;

/// The data of one run's store.
pub struct RunState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) sandbox: SandboxCtx,
    pub(crate) limiter: StoreLimiter,
    /// Epoch ticks the guest spent in its own code.
    pub(crate) cpu_ticks: u64,
    /// `wasi:http` state; requests go out through `http_hooks`.
    pub(crate) http: WasiHttpCtx,
    pub(crate) http_hooks: HttpHooks,
}

impl std::fmt::Debug for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunState")
            .field("sandbox", &self.sandbox)
            .field("cpu_ticks", &self.cpu_ticks)
            .finish_non_exhaustive()
    }
}

impl WasiView for RunState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for RunState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.http_hooks }
    }
}

impl SandboxView for RunState {
    fn sandbox(&mut self) -> SandboxCtxView<'_> {
        SandboxCtxView { ctx: &mut self.sandbox, table: &mut self.table }
    }
}

/// Build the guest's WASI context.
///
/// - arguments: the component's name, then `args`;
/// - environment: only the host variables the policy lists (`host.env`);
/// - stdin: `stdin` (a command's input), else empty;
/// - stdout/stderr: into `output` (capped, optionally forwarded);
/// - files: only the directories the policy lists (`host.dirs`);
/// - network: TCP connections only to the policy's `host.tcp-connect`
///   addresses; no UDP, no name lookups.
pub(crate) fn wasi_ctx(
    policy: &Policy,
    name: &str,
    args: &[String],
    stdin: Option<Vec<u8>>,
    output: &OutputCapture,
) -> wasmtime::Result<WasiCtx> {
    let mut b = WasiCtxBuilder::new();
    b.arg(name);
    for a in args {
        b.arg(a);
    }
    for key in &policy.host.env {
        if let Ok(value) = std::env::var(key) {
            b.env(key, value);
        }
    }
    if let Some(input) = stdin {
        b.stdin(wasmtime_wasi::p2::pipe::MemoryInputPipe::new(input));
    }
    b.stdout(output.stream(GuestStream::Stdout));
    b.stderr(output.stream(GuestStream::Stderr));
    for d in &policy.host.dirs {
        let perms = if d.write { FsPerms::ReadWrite } else { FsPerms::ReadOnly };
        b.preopened_dir(&d.host, &d.guest, perms)
            .map_err(|e| e.context(format!("cannot grant host directory {} (policy host.dirs)", d.host.display())))?;
    }
    let patterns = Arc::new(policy.host.tcp_connect.clone());
    b.allow_ip_name_lookup(false);
    b.allow_udp(false);
    b.allow_tcp(!patterns.is_empty());
    b.socket_addr_check(move |addr, how| {
        let ok = use_allowed(&patterns, addr, how);
        Box::pin(async move { ok })
    });
    Ok(b.build())
}
