//! openshell-wasm (work in progress)
pub mod archive;
pub mod backend;
pub mod error;
pub mod policy;
pub mod runtime { pub mod net; }
pub mod stream;
