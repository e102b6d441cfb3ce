//! `openshell-testgw`: an OpenShell-compatible gRPC gateway for tests.
//!
//! It speaks either wire generation of the OpenShell gateway API (`0.0.x`
//! or `0.1.x`, see `openshell_proto`) over real HTTP/2 and runs every
//! command for real, in bubblewrap sandboxes of the host's local backend.
//! What it reproduces is the gateway's *observable contract* from the
//! protocol fact sheet: phases and their timing, validation order and
//! error statuses, the shell string an exec becomes, 4 KiB output events,
//! exit 124 on timeout, the 1 MiB inbound limit, interactive-exec rules —
//! plus faults injected on purpose (latency, a warm-up period of
//! UNAVAILABLE, dropped exec relays, sandboxes that never become ready or
//! die later) and a state directory that survives a restart.
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use openshell_testgw::{Config, Protocol, serve};
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! let config = Config::new(Protocol::V0_1, "/tmp/testgw-state");
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let server = tokio::spawn(serve(listener, config, async { let _ = stopped.await; }));
//! // ... talk to http://{addr} with an OpenShell client ...
//! # let _ = addr;
//! let _ = stop.send(());
//! server.await??;
//! # Ok(()) }
//! ```
//!
//! # Layout
//!
//! - [`config`]: [`Config`], [`Faults`], [`Protocol`], [`TlsFiles`].
//! - `server`: [`serve`] — TLS, the inbound limit, the listener.
//! - `gate`: delay, warm-up faults and bearer auth in front of every call.
//! - `gateway`: the generation-neutral gateway (registry, lifecycle, exec,
//!   watch, policies, services, workspaces) over the local backend.
//! - `v0_0`, `v0_1`: one adapter per wire generation, converting messages
//!   to and from the gateway core.
//! - [`cli`]: the `openshell-testgw` command line.
//! - [`Instance`]: a gateway on a runtime of its own, which a test can kill
//!   like a crashed process and restart on the same address and state.
//! - [`testing`]: a gateway in the test's own runtime, and certificates.

pub mod cli;
pub mod config;
mod gate;
mod gateway;
mod instance;
mod server;
mod shared;
pub mod testing;
mod v0_0;
mod v0_1;
mod wire;

pub use config::{Config, DraftProposal, Faults, Protocol, ProviderSeed, Stats, TlsFiles};
pub use instance::Instance;
pub use server::{MAX_INBOUND_MESSAGE, serve};
