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

# The official OpenShell Python SDK, both generations, to prove the test
# gateway speaks the protocol (tests/python/sdk_proof.py).
ensure_sdk_venv() {
    local version=$1 dir=.venv-openshell-$2
    if ! "$dir/bin/python" -c "import openshell" >/dev/null 2>&1; then
        say "creating $dir with openshell==$version from PyPI"
        command -v python3 >/dev/null 2>&1 || die "python3 is needed for the SDK compatibility tests"
        rm -rf "$dir"
        python3 -m venv "$dir" || die "python3 -m venv failed (Debian/Ubuntu: apt-get install python3-venv)"
        "$dir/bin/pip" install -q --disable-pip-version-check "openshell==$version" || die "pip could not install openshell==$version"
    fi
}
ensure_sdk_venv 0.0.116 0.0
ensure_sdk_venv 0.1.5 0.1

# A value only the host has: tests prove it never reaches a guest or sandbox.
export OPENSHELL_WASM_CANARY="canary-$(date +%s)-$$"

say "running the test suite"
cargo test --locked "$@"
