#!/usr/bin/env bash
# Run the whole test suite: unit tests, the component suites (every test
# guest and the example agents in Rust, Python, JavaScript and C, built from
# source), and the CLI tests.
#
#   ./scripts/test.sh [extra cargo test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_wasip2
ensure_bwrap
# componentize-py, jco and clang for the Python, JavaScript and C agents.
ensure_guest_tools

# The official OpenShell Python SDK, both generations, to prove the test
# gateway speaks the protocol (tests/python/sdk_proof.py).
ensure_sdk_venv 0.0.116 0.0
ensure_sdk_venv 0.1.5 0.1
# The official `openai` package, to prove the scripted model server speaks
# the real wire format (tests/model-server/tests/openai_proof.rs).
ensure_openai_venv
# The official MCP Python SDK and the OpenAI Agents SDK, as clients of
# `openshell-wasm mcp` (host/tests/all/mcp.rs).
ensure_mcp_venv

# A value only the host has: tests prove it never reaches a guest or sandbox.
export OPENSHELL_WASM_CANARY="canary-$(date +%s)-$$"

say "running the test suite"
cargo test --locked "$@"
