#!/usr/bin/env bash
# with-broker.sh PROGRAM BUILD-DIR MESSAGES ROUNDS
# Starts a mosquitto on a free loopback port (Receive Maximum 100, a queue
# large enough to drop nothing), runs BUILD-DIR/bench/PROGRAM PORT MESSAGES
# ROUNDS against it (prefixed by $PERF when set, e.g. PERF="perf stat"),
# and stops it. Shared by publish-bench.sh and inbox-bench.sh.
set -euo pipefail
program=$1 build=$2 messages=$3 rounds=$4
work=$(mktemp -d)
pid=
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
max_inflight_messages 100
max_queued_messages 1000000
log_type error
user $(id -un)
CONF
mosquitto -c "$work/mosquitto.conf" >"$work/log" 2>&1 &
pid=$!
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.05
done
${PERF:-} "$build/bench/$program" "$port" "$messages" "$rounds"
