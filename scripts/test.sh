#!/usr/bin/env bash
# Run the whole test suite: unit tests, the component suites (every test
# guest and the example agent, built from source), and the CLI tests.
#
#   ./scripts/test.sh [extra cargo test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_wasip2
ensure_bwrap

# A value only the host has: tests prove it never reaches a guest or sandbox.
export OPENSHELL_WASM_CANARY="canary-$(date +%s)-$$"

say "running the test suite"
cargo test --locked "$@"
