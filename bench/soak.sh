#!/usr/bin/env bash
# Soak benchmark (minutes, not CI): builds bench-soak in a scratch build
# directory and runs it, keeping the output next to it.
#   bench/soak.sh [seconds=300] [msgs_per_s=500] [restart_every_s=30] [rotate_every_s=10]
# Results: docs/benchmarks.md ("Soak").
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${AIOE_SOAK_BUILD:-/tmp/build-soak}
[[ -f $build/build.ninja ]] || meson setup "$build" "$src" -Dbuildtype=debugoptimized >/dev/null
meson compile -C "$build" bench/bench-soak >/dev/null
out=$build/soak-$(date +%Y%m%d-%H%M%S).txt
"$build/bench/bench-soak" "$@" | tee "$out"
echo "output kept in $out"
