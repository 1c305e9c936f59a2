#!/usr/bin/env bash
# inbox-bench.sh BUILD-DIR [MESSAGES] [ROUNDS]
# Runs bench-inbox (plain receive, SIGKILL-safe inbox, power-loss inbox)
# against a mosquitto started for it (bench/with-broker.sh).
set -euo pipefail
build=${1:?usage: inbox-bench.sh BUILD-DIR [MESSAGES] [ROUNDS]}
exec "$(dirname "$0")/with-broker.sh" bench-inbox "$build" "${2:-50000}" "${3:-3}"
