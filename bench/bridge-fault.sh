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
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
wait_for() {
    local deadline=$(( $(date +%s) + $1 )); shift
    until "$@"; do
        [[ $(date +%s) -lt $deadline ]] || return 1
        sleep 0.05
    done
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

broker_conf() { # DIR PORT
    mkdir -p "$1"
    cat > "$1/mosquitto.conf" <<EOF
listener $2 127.0.0.1
allow_anonymous true
max_inflight_messages 1000
max_queued_messages 1000000
persistence true
persistence_location $1/
log_dest file $1/mosquitto.log
log_type error
log_type warning
user $(id -un)
EOF
}
start_broker() { # DIR PORT -> BROKER_PID
    mosquitto -c "$1/mosquitto.conf" &
    BROKER_PID=$!
    pids+=("$BROKER_PID")
    wait_for 5 port_open "$2" || { echo "bridge-fault: broker on $2 did not start" >&2; exit 1; }
}

pa=$(free_port); pb=$(free_port)
broker_conf "$tmp/a" "$pa"; start_broker "$tmp/a" "$pa"
broker_conf "$tmp/b" "$pb"; start_broker "$tmp/b" "$pb"; bpid=$BROKER_PID
cat > "$tmp/flow.yaml" <<EOF
apiVersion: connectivity.iotoperations.azure.com/v1
kind: DataflowEndpoint
metadata: {name: site}
spec:
  endpointType: Mqtt
  mqttSettings:
    host: 127.0.0.1:$pa
    authentication: {method: Anonymous, anonymousSettings: {}}
    tls: {mode: Disabled}
    clientIdPrefix: fault-
---
apiVersion: connectivity.iotoperations.azure.com/v1
kind: DataflowEndpoint
metadata: {name: cloud}
spec:
  endpointType: Mqtt
  mqttSettings:
    host: 127.0.0.1:$pb
    authentication: {method: Anonymous, anonymousSettings: {}}
    tls: {mode: Disabled}
    clientIdPrefix: fault-
---
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
