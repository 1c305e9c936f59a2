#!/usr/bin/env bash
# publish-bench.sh BUILD-DIR [MESSAGES] [ROUNDS]
# Runs bench-publish (library vs raw Paho publishing) against a mosquitto
# started for it (bench/with-broker.sh).
set -euo pipefail
build=${1:?usage: publish-bench.sh BUILD-DIR [MESSAGES] [ROUNDS]}
exec "$(dirname "$0")/with-broker.sh" bench-publish "$build" "${2:-100000}" "${3:-3}"
