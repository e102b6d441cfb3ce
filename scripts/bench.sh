#!/usr/bin/env bash
# Run the benchmarks (host/benches/perf): every figure is a ratio against a
# baseline measured in the same run. Prints a table, then one JSON line.
#
#   ./scripts/bench.sh                # all figures (about 4 minutes after the build)
#   ./scripts/bench.sh --only 2,3     # some of them
#   ./scripts/bench.sh --quick        # smaller sizes: a smoke run, not a measurement
#
# The first run builds optimized code (about 7 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_wasip2
ensure_bwrap
ensure_guest_tools
# The peer of figure 7.
ensure_sdk_venv 0.1.5 0.1

cargo bench --locked -p openshell-wasm --bench perf -- "$@"
