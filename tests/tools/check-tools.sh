#!/usr/bin/env bash
# check-tools.sh SOURCE-ROOT VERSION AIOE-VALIDATE AIOE-PUB AIOE-SUB AIOE-BRIDGE
# The exit-status convention shared by every tool (examples/common/tool.h,
# docs/tools.md): 0 success, 1 invalid input or refused, 2 usage,
# 3 runtime failure; --version and --help on each. Each tool is driven
# into every status, the pub/sub ones against a local mosquitto broker
# (an ACL refuses publishes outside allowed/#).
set -uo pipefail
src=$1 version=$2
declare -A bin=([aioe-validate]=$3 [aioe-pub]=$4 [aioe-sub]=$5 [aioe-bridge]=$6)
tools=(aioe-validate aioe-pub aioe-sub aioe-bridge)
# free_port, wait_for, port_open, write_broker_conf, anon_endpoint
# shellcheck source=../../tools/broker-lib.sh
. "$src/tools/broker-lib.sh"

tmp=$(mktemp -d)
broker_pid=
cleanup() {
    [[ -n $broker_pid ]] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# run EXPECTED-STATUS TOOL ARGS...: runs the tool (at most 30 s), keeps
# stdout/stderr in $tmp/out and $tmp/err.
run() {
    local want=$1 tool=$2
    shift 2
    timeout 30 "${bin[$tool]}" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
    local got=$?
    [[ $got -eq $want ]] || fail "$tool $* exited $got, expected $want; stderr: $(cat "$tmp/err")"
}

# --- Inputs. ------------------------------------------------------------------
port=$(free_port)
closed=$(free_port)   # nothing listens there
echo "topic readwrite allowed/#" > "$tmp/acl"
write_broker_conf "$tmp/broker" "$port" false "acl_file $tmp/acl"
mosquitto -c "$tmp/broker/mosquitto.conf" >/dev/null 2>&1 &
broker_pid=$!
wait_for 10 port_open "$port" || { echo "FAIL: mosquitto did not start" >&2; exit 1; }

anon_endpoint local "$port" check-tools > "$tmp/ok.yaml"
anon_endpoint local "$closed" check-tools > "$tmp/closed.yaml"
cat >"$tmp/bad.yaml" <<'YAML'
apiVersion: connectivity.iotoperations.azure.com/v1
kind: DataflowEndpoint
metadata:
  name: bad
spec:
  endpointType: Mqtt
  mqttSettings:
    qos: 2
YAML
dataflow() {   # dataflow NAME SOURCE-REF DESTINATION-REF
    cat <<YAML
apiVersion: connectivity.iotoperations.azure.com/v1
kind: Dataflow
metadata: {name: $1}
spec:
  operations:
    - operationType: Source
      sourceSettings: {endpointRef: $2, dataSources: ["allowed/in/#"]}
    - operationType: Destination
      destinationSettings: {endpointRef: $3, dataDestination: allowed/out}
YAML
}
{ anon_endpoint a "$port" bridge-a; anon_endpoint b "$port" bridge-b; dataflow f a b; } > "$tmp/flow.yaml"
{ anon_endpoint a "$port" bridge-a; dataflow f a nowhere; } > "$tmp/badflow.yaml"
# An endpoint whose service account token file does not exist: it cannot
# authenticate, a runtime failure.
cat >"$tmp/sat.yaml" <<YAML
apiVersion: connectivity.iotoperations.azure.com/v1
kind: DataflowEndpoint
metadata: {name: a}
spec:
  endpointType: Mqtt
  mqttSettings:
    host: 127.0.0.1:$port
    authentication:
      method: ServiceAccountToken
      serviceAccountTokenSettings: {audience: aio-internal}
    tls: {mode: Disabled}
---
YAML
{ cat "$tmp/sat.yaml"; anon_endpoint b "$port" bridge-b; dataflow f a b; } > "$tmp/satflow.yaml"

# --- Every tool: --help, --version, usage errors, unreadable and invalid input.
for t in "${tools[@]}"; do
    run 0 "$t" --help
    grep -q "^Exit status: 0 success, 1 invalid input or refused, 2 usage error,$" "$tmp/out" \
        || fail "$t --help does not state the exit-status convention"
    grep -q -- "--version" "$tmp/out" || fail "$t --help does not list --version"
    for v in --version -V; do
        run 0 "$t" "$v"
        [[ $(sed -n 1p "$tmp/out") == "$t $version" ]] || fail "$t $v line 1: $(sed -n 1p "$tmp/out")"
        grep -qx "libaioendpoint $version" "$tmp/out" || fail "$t $v: no library version"
        grep -qE "^Eclipse Paho MQTT C [0-9]+\.[0-9]+" "$tmp/out" || fail "$t $v: no Paho version"
        grep -qE "^OpenSSL [0-9]+\.[0-9]+" "$tmp/out" || fail "$t $v: no OpenSSL version"
    done
    run 2 "$t"
    run 2 "$t" --no-such-option "$tmp/ok.yaml" topic
    grep -q "usage:" "$tmp/err" || fail "$t: no usage text on stderr for a bad option"
done
run 3 aioe-validate "$tmp/missing.yaml"
run 3 aioe-pub "$tmp/missing.yaml" allowed/x
run 3 aioe-sub "$tmp/missing.yaml" 'allowed/#'
run 3 aioe-bridge --check "$tmp/missing.yaml"
run 1 aioe-validate "$tmp/bad.yaml"
run 1 aioe-pub "$tmp/bad.yaml" allowed/x
run 1 aioe-sub "$tmp/bad.yaml" 'allowed/#'
run 1 aioe-bridge --check "$tmp/bad.yaml"

# --- aioe-validate: success. ---------------------------------------------------
run 0 aioe-validate "$tmp/ok.yaml"

# --- aioe-pub: acknowledged 0, refused by the broker 1, usage 2, no broker 3.
run 0 aioe-pub -m hello "$tmp/ok.yaml" allowed/x
run 1 aioe-pub -m hello "$tmp/ok.yaml" denied/x
grep -q "not authorized" "$tmp/err" || fail "aioe-pub refused publish: $(cat "$tmp/err")"
run 2 aioe-pub --qos 7 "$tmp/ok.yaml" allowed/x
run 3 aioe-pub --timeout 1 -m hello "$tmp/closed.yaml" allowed/x
grep -q "cannot connect to endpoint" "$tmp/err" || fail "aioe-pub no broker: $(cat "$tmp/err")"

# --- aioe-sub: a retained message then exit 0, usage 2, no broker 3. ---------
mosquitto_pub -p "$port" -q 1 -r -t allowed/retained -m kept || fail "mosquitto_pub"
run 0 aioe-sub -C 1 "$tmp/ok.yaml" 'allowed/#'
grep -q "payload (4 bytes): kept" "$tmp/out" || fail "aioe-sub output: $(cat "$tmp/out")"
run 2 aioe-sub "$tmp/ok.yaml" 'bad/#/filter'
run 3 aioe-sub --timeout 1 "$tmp/closed.yaml" 'allowed/#'

# --- aioe-bridge: a valid plan 0, invalid plan 1, usage 2, cannot authenticate 3.
run 0 aioe-bridge --check "$tmp/flow.yaml"
grep -q "dataflow f: a -> b" "$tmp/out" || fail "aioe-bridge --check output: $(cat "$tmp/out")"
run 1 aioe-bridge --check "$tmp/badflow.yaml"
grep -q "unknown endpointRef 'nowhere'" "$tmp/err" || fail "aioe-bridge: $(cat "$tmp/err")"
run 2 aioe-bridge --high-water 20 --low-water 30 "$tmp/flow.yaml"
run 3 aioe-bridge --state-dir "$tmp/state" --token-file "$tmp/no-token" "$tmp/satflow.yaml"
grep -q "cannot start" "$tmp/err" || fail "aioe-bridge no token: $(cat "$tmp/err")"

if [[ $failures -gt 0 ]]; then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "tools: all exit-status checks passed"
