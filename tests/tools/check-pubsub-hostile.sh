#!/usr/bin/env bash
# check-pubsub-hostile.sh AIOE-SUB AIOE-PUB FAKE-BROKER
# aioe-sub and aioe-pub against a hostile broker (fake_broker.py):
# 1. a topic holding ESC, CR, LF, NUL and 0xFF: aioe-sub prints it escaped
#    (as \xHH), so nothing reaches the terminal or forges a line of output;
# 2. a broker that never sends PUBACK: aioe-pub fails after --timeout
#    instead of waiting for ever;
# 3. a broker that never sends SUBACK: aioe-sub likewise.
set -uo pipefail
sub=$1 pub=$2 fake=$3
tmp=$(mktemp -d)
broker_pid=
stop_fake() { [[ -n $broker_pid ]] && kill "$broker_pid" 2>/dev/null; broker_pid=; }
cleanup() { stop_fake; rm -rf "$tmp"; }
trap cleanup EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# start_fake MODE: runs the fake broker and writes $tmp/ep.yaml for it.
start_fake() {
    stop_fake
    rm -f "$tmp/port"
    python3 "$fake" "$1" "$tmp/port" & broker_pid=$!
    for _ in $(seq 200); do [[ -s $tmp/port ]] && break; sleep 0.05; done
    [[ -s $tmp/port ]] || { echo "FAIL: fake broker did not start" >&2; exit 1; }
    cat >"$tmp/ep.yaml" <<YAML
apiVersion: connectivity.iotoperations.azure.com/v1
kind: DataflowEndpoint
metadata:
  name: hostile
spec:
  endpointType: Mqtt
  mqttSettings:
    host: 127.0.0.1:$(cat "$tmp/port")
    authentication:
      method: Anonymous
      anonymousSettings: {}
    tls:
      mode: Disabled
YAML
}

# 1. hostile topic
start_fake hostile-topic
timeout 20 "$sub" -C 1 --timeout 5 "$tmp/ep.yaml" 'evil/#' >"$tmp/out" 2>"$tmp/err"
status=$?
if [[ $status -ne 0 ]]; then
    fail "aioe-sub exited $status: $(cat "$tmp/err")"
else
    # exactly the two lines of one message block; only printable ASCII
    [[ $(wc -l <"$tmp/out") -eq 2 ]] || fail "expected 2 output lines, got: $(od -c "$tmp/out" | head)"
    LC_ALL=C grep -q '[^[:print:]]' "$tmp/out" && fail "raw control or high bytes in the output: $(od -c "$tmp/out" | head)"
    expected='evil/\x1b[31mred\x0d\x0afake line\x00nul\xffend qos=0 retain=0'
    [[ $(head -1 "$tmp/out") == "$expected" ]] || fail "topic line is '$(head -1 "$tmp/out")', expected '$expected'"
fi

# 2. no PUBACK: exit 3 (runtime failure) after the 1 s acknowledgement timeout (timeout(1)
#    would say 124 if it hung)
start_fake no-ack
timeout 20 "$pub" --timeout 1 -q 1 -m hello "$tmp/ep.yaml" t/x >"$tmp/out" 2>"$tmp/err"
status=$?
[[ $status -eq 3 ]] || fail "aioe-pub without PUBACK exited $status (124: hung): $(cat "$tmp/err")"
grep -q "1 of 1 publishes failed (last: timed out" "$tmp/err" || fail "aioe-pub message: $(cat "$tmp/err")"

# 3. no SUBACK
timeout 20 "$sub" --timeout 1 -q 1 "$tmp/ep.yaml" 't/#' >"$tmp/out" 2>"$tmp/err"
status=$?
[[ $status -eq 3 ]] || fail "aioe-sub without SUBACK exited $status (124: hung): $(cat "$tmp/err")"
grep -q "no SUBACK for t/# within the timeout" "$tmp/err" || fail "aioe-sub message: $(cat "$tmp/err")"

[[ $failures -eq 0 ]] || exit 1
echo "aioe-sub / aioe-pub: hostile broker checks passed"
