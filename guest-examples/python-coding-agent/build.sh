#!/usr/bin/env bash
# Build the coding agent into a WebAssembly component with componentize-py.
#
#   ./build.sh                  # writes agent.wasm
#   python3 -m unittest         # tests logic.py, no build needed
#
# The first run creates .venv/ here with componentize-py 0.25.1 from PyPI
# (about 50 MB; it bundles CPython, so nothing else is needed). Each run
# also writes the bindings generated from wit/ to bindings/, so an editor
# knows the types of the `wit_world` imports (see ../python-agent/README.md).
#
# Optional environment: COMPONENTIZE_PY (an installed componentize-py
# 0.25.1 to use instead of .venv), OUT (the component to write).
set -euo pipefail
cd "$(dirname "$0")"
version=0.25.1
out=${OUT:-agent.wasm}

if [ -z "${COMPONENTIZE_PY:-}" ]; then
    COMPONENTIZE_PY=.venv/bin/componentize-py
    if ! "$COMPONENTIZE_PY" --version 2>/dev/null | grep -qx "componentize-py $version"; then
        command -v python3 >/dev/null 2>&1 || { echo "error: python3 (3.9 or later) is needed to install componentize-py" >&2; exit 1; }
        echo "==> installing componentize-py $version into .venv" >&2
        python3 -m venv .venv
        .venv/bin/pip install -q --disable-pip-version-check "componentize-py==$version"
    fi
fi

rm -rf bindings  # generated; componentize-py refuses to write over it
"$COMPONENTIZE_PY" -d wit -w openshell:sandbox/agent bindings bindings
"$COMPONENTIZE_PY" -d wit -w openshell:sandbox/agent componentize app -p . -o "$out"
echo "==> built $out" >&2
