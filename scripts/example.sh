#!/usr/bin/env bash
# Build the Rust example agent and the host, and run the agent once on the
# local (bubblewrap) backend. Prints the agent's JSON report on stdout.
#
#   ./scripts/example.sh [INPUT]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_wasip2
ensure_bwrap

say "building the example agent (guest-examples/rust-agent, wasm32-wasip2)"
cargo build --locked -q -p rust-agent --target wasm32-wasip2 --profile guest --target-dir target/guest
say "building the host (openshell-wasm)"
cargo build --locked -q -p openshell-wasm --release
say "running the agent on the local backend"
exec target/release/openshell-wasm run --backend local target/guest/wasm32-wasip2/guest/rust_agent.wasm --input "${1:-demo}"
