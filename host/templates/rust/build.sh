#!/usr/bin/env bash
# Build this agent into a WebAssembly component.
#
#   ./build.sh                  # writes agent.wasm
#
# Rust's wasm32-wasip2 target emits a component directly; wit-bindgen
# generates the bindings from wit/ at compile time. Needs Rust 1.85 or
# later (rustup); the target is added here if it is missing.
#
# Optional environment: OUT (the component to write), CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")"
out=${OUT:-agent.wasm}
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx wasm32-wasip2; then
    echo "==> adding the wasm32-wasip2 target" >&2
    rustup target add wasm32-wasip2
fi
cargo build --release --target wasm32-wasip2
cp "${CARGO_TARGET_DIR:-target}/wasm32-wasip2/release/agent.wasm" "$out"
echo "==> built $out" >&2
