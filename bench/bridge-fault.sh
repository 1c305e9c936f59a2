#!/usr/bin/env bash
# Full-size fault run for aioe-bridge (the short versions are in
# tests/integration/test-bridge.c): COUNT QoS 1 messages through
# aioe-bridge A->B while the bridge is SIGKILLed every KILL_EVERY seconds
# and restarted, and broker B (persistence on) is restarted once in the
# middle. The subscriber on B has a persistent session. Pass: zero missing.
#
# Usage: bench/bridge-fault.sh [BUILDDIR]   (default /tmp/build-bridge)
# Environment: COUNT (100000), KILL_EVERY (2 seconds), RATE (5000 msg/s).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=../tools/broker-lib.sh
. tools/broker-lib.sh
BUILD=${1:-/tmp/build-bridge}
COUNT=${COUNT:-100000}
KILL_EVERY=${KILL_EVERY:-2}
RATE=${RATE:-5000}
BRIDGE=$BUILD/examples/aioe-bridge
LOAD=$BUILD/bench/bench-bridge-load
[[ -x $BRIDGE && -x $LOAD ]] || { echo "bridge-fault: build $BRIDGE and $LOAD first" >&2; exit 2; }

tmp=$(mktemp -d /tmp/aioe-bridge-fault.XXXXXX)
pids=()
cleanup() {
    local p
    for p in "${pids[@]:-}"; do [[ -n $p ]] && kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

start_broker() { # DIR PORT -> BROKER_PID
    mosquitto -c "$1/mosquitto.conf" &
    BROKER_PID=$!
    pids+=("$BROKER_PID")
    wait_for 5 port_open "$2" || { echo "bridge-fault: broker on $2 did not start" >&2; exit 1; }
}

pa=$(free_port); pb=$(free_port)
write_broker_conf "$tmp/a" "$pa" true; start_broker "$tmp/a" "$pa"
write_broker_conf "$tmp/b" "$pb" true; start_broker "$tmp/b" "$pb"; bpid=$BROKER_PID
{ anon_endpoint site "$pa" fault-; anon_endpoint cloud "$pb" fault-; } > "$tmp/flow.yaml"
cat >> "$tmp/flow.yaml" <<EOF
apiVersion: connectivity.iotoperations.azure.com/v1
kind: Dataflow
metadata: {name: fault}
spec:
  operations:
    - operationType: Source
      sourceSettings: {endpointRef: site, dataSources: ["bench/in/#"]}
    - operationType: Destination
      destinationSettings: {endpointRef: cloud, dataDestination: "out/\${inputTopic.3}"}
EOF
args=(--state-dir "$tmp/state" --reconnect-max-ms 500 "$tmp/flow.yaml")
"$BRIDGE" "${args[@]}" 2> "$tmp/bridge.log" & xpid=$!; pids+=("$xpid")
wait_for 10 grep -q "subscribed to" "$tmp/bridge.log" || { cat "$tmp/bridge.log"; exit 1; }

"$LOAD" --pub-port "$pa" --sub-port "$pb" --count "$COUNT" --qos 1 --rate "$RATE" \
    --persistent --timeout 120 > "$tmp/load.out" & lpid=$!; pids+=("$lpid")
kills=0; restarted_b=0
start=$(date +%s)
while kill -0 "$lpid" 2>/dev/null; do
    sleep "$KILL_EVERY"
    kill -0 "$lpid" 2>/dev/null || break
    kill -KILL "$xpid"; wait "$xpid" 2>/dev/null || true
    kills=$((kills + 1))
    if [[ $restarted_b -eq 0 && $(( $(date +%s) - start )) -ge $(( COUNT / RATE / 2 )) ]]; then
        kill -TERM "$bpid"; wait "$bpid" 2>/dev/null || true
        start_broker "$tmp/b" "$pb"; bpid=$BROKER_PID
        restarted_b=1
        echo "bridge-fault: restarted broker B" >&2
    fi
    "$BRIDGE" "${args[@]}" 2>> "$tmp/bridge.log" & xpid=$!; pids+=("$xpid")
done
wait "$lpid" && rc=0 || rc=$?
kill -TERM "$xpid"; wait "$xpid" || true
echo "bridge-fault: COUNT=$COUNT RATE=$RATE: $kills SIGKILLs, broker B restarted $restarted_b time(s)"
echo "load: $(cat "$tmp/load.out")"
echo "replays at start (suspected duplicates per run): $(grep -o '[0-9]* not yet acknowledged' "$tmp/bridge.log" | awk '{s+=$1} END {print s+0}') in total"
grep "stats" "$tmp/bridge.log" | tail -1
[[ $rc -eq 0 ]] && echo "PASS: zero messages missing" || echo "FAIL: messages missing"
exit "$rc"
