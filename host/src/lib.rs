//! Run WebAssembly agent components against sandboxes.
//!
//! An agent is a component that targets the `openshell:sandbox/agent` world
//! (see the `wit/` folder): it exports `run(input) -> result<string, string>`
//! and imports interfaces for processes, files, snapshots, sandbox
//! lifecycle, network policy and logging. This crate is the host: it loads
//! the component, binds it to a sandbox on a [`backend`], enforces a
//! [`policy`] and limits, runs it, and cleans up.
//!
//! # Embedding
//!
//! Build a [`Host`](runtime::Host) once (it owns the wasmtime engine, the
//! compiled-component cache, the backend and the policy), load components,
//! and run them as often and as concurrently as you like:
//!
//! ```
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use openshell_wasm::backend::local::LocalBackend;
//! use openshell_wasm::policy::Policy;
//! use openshell_wasm::runtime::{Host, RunRequest};
//! # let tmp = tempfile::tempdir()?;
//! # let state_dir = tmp.path().join("state");
//! # let snapshot_dir = tmp.path().join("snapshots");
//! # let component = std::path::Path::new(test_artifacts::SMOKE_ECHO.path());
//!
//! // Sandboxes on this machine, isolated with bubblewrap.
//! let backend = Arc::new(LocalBackend::new(state_dir)?);
//! let host = Host::builder()
//!     .backend(backend)
//!     .policy(Policy::default()) // nothing of the host granted
//!     .snapshot_dir(snapshot_dir)
//!     .build()?;
//!
//! let agent = host.load_file(component).await?;
//! let outcome = host.run(&agent, RunRequest::new("hello")).await?;
//! assert_eq!(outcome.result, Ok("hello\n".to_string()));
//! // The sandbox the run created is gone again.
//! assert!(!outcome.sandbox_kept);
//! # Ok(()) }
//! ```
//!
//! [`runtime::RunRequest`] chooses the sandbox (fresh or existing), seeds
//! and collects files, forwards guest output and carries a cancellation
//! token; [`runtime::RunOutcome`] and [`runtime::RunFailure`] say what
//! happened, with timings. Embedders that build their own linker can add
//! only the sandbox interfaces with
//! [`interfaces::add_only_sandbox_to_linker`].
//!
//! # Layout
//!
//! - [`runtime`]: engine, cache, limits, the host and a run's flow.
//! - [`interfaces`]: the WIT interfaces, implemented on a borrowed view.
//! - [`backend`]: the backend trait and the backends.
//! - [`egress`]: outgoing HTTP for guests and model calls: rules, address
//!   checks, credentials, limits.
//! - [`model`]: model calls through the host, with budgets.
//! - [`archive`]: safe handling of untrusted tar archives.
//! - [`policy`]: the policy file.
//! - [`snapshot_store`]: where snapshots are kept.
//! - [`approvals`]: network access requests a person decides.
//! - `mcp`: MCP server mode: sandboxes and components as tools (the `mcp`
//!   feature, on with `cli`).
//! - [`wit_json`]: component-model values as JSON, with schemas.
//! - [`ids`]: random ids of runs, sandboxes and snapshots.
//! - `cli`: the `openshell-wasm` command line (the default `cli` feature;
//!   embedders turn it off and do not compile clap or rmcp).

#![deny(missing_docs)]

pub mod approvals;
pub mod archive;
mod atomic_write;
pub mod backend;
#[cfg(feature = "cli")]
pub mod cli;
mod dirs;
pub mod egress;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
mod glob;
pub mod ids;
pub mod interfaces;
#[cfg(feature = "mcp")]
pub mod mcp;
pub mod model;
pub mod policy;
mod retry;
pub mod runtime;
pub mod snapshot_store;
pub(crate) mod stream;
pub mod wit_json;

#[doc(no_inline)]
pub use wasmtime;
