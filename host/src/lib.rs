//! openshell-wasm (work in progress)
pub mod archive;
pub mod backend;
pub mod cli;
pub mod error;
mod glob;
pub mod interfaces;
pub mod policy;
pub mod runtime;
pub mod snapshot_store;
pub mod stream;
