//! One test binary for the `openshell-wasm` command line and everything
//! else that needs the binary or the whole crate from outside (one link,
//! shared setup; the test kit is `openshell_testgw::testing`).

mod cli;
mod cli_gateway;
mod flood;
mod fuzz_corpus;
mod mcp;
mod new;
mod secrets;
mod session_server;
mod soak;

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_openshell-wasm");
