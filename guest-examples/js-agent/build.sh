#!/usr/bin/env bash
# Build this agent into a WebAssembly component with jco's QuickJS backend.
#
#   ./build.sh                  # writes agent.wasm
#
# The first run installs the exact tool versions of package-lock.json
# (@bytecodealliance/jco 1.35.0 and what it needs) into node_modules/ with
# `npm ci`. Each run also writes TypeScript declarations of the WIT imports
# to types/ (`jco guest-types`) and type-checks app.js against them with
# the TypeScript compiler jco brings (`// @ts-check`, jsconfig.json); a
# type error stops the build (CHECK=0 skips the check).
#
# Optional environment: NODE_MODULES (a node_modules folder where this
# package-lock.json is already installed), OUT (the component to write).
set -euo pipefail
cd "$(dirname "$0")"
out=${OUT:-agent.wasm}
version=1.35.0

if [ -z "${NODE_MODULES:-}" ]; then
    NODE_MODULES=node_modules
    installed=$(node -p "require('./node_modules/@bytecodealliance/jco/package.json').version" 2>/dev/null || true)
    if [ "$installed" != "$version" ]; then
        command -v npm >/dev/null 2>&1 || { echo "error: Node.js 20 or later with npm is needed" >&2; exit 1; }
        echo "==> installing @bytecodealliance/jco $version into node_modules (npm ci)" >&2
        npm ci --no-audit --no-fund --loglevel=error
    fi
fi
jco="$NODE_MODULES/@bytecodealliance/jco/dist/jco.js"
[ -f "$jco" ] || { echo "error: no jco in $NODE_MODULES (run npm ci)" >&2; exit 1; }

node --import ./jco-preopen.mjs "$jco" guest-types wit --world-name agent -o types -q
if [ "${CHECK:-1}" != 0 ]; then
    node "$NODE_MODULES/typescript/bin/tsc" -p jsconfig.json
fi
node "$jco" componentize app.js --wit wit --world-name agent \
    --backend quickjs --backend-qjs-disable-async -o "$out" >&2
echo "==> built $out" >&2
