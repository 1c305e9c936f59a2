#!/usr/bin/env bash
# check-pubsub-hostile.sh AIOE-SUB FAKE-BROKER
# A hostile broker sends a topic holding ESC, CR, LF, NUL and 0xFF; aioe-sub
# must print it escaped (as \xHH) so nothing reaches the terminal or forges
# a line of output.
set -uo pipefail
sub=$1 fake=$2
tmp=$(mktemp -d)
broker_pid=
cleanup() { [[ -n $broker_pid ]] && kill "$broker_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

python3 "$fake" hostile-topic "$tmp/port" & broker_pid=$!
for _ in $(seq 100); do [[ -s $tmp/port ]] && break; sleep 0.05; done
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
timeout 20 "$sub" -C 1 --timeout 5 "$tmp/ep.yaml" 'evil/#' >"$tmp/out" 2>"$tmp/err"
status=$?
[[ $status -eq 0 ]] || { echo "FAIL: aioe-sub exited $status: $(cat "$tmp/err")" >&2; exit 1; }
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
# exactly the two lines of one message block; only printable ASCII
[[ $(wc -l <"$tmp/out") -eq 2 ]] || fail "expected 2 output lines, got: $(od -c "$tmp/out" | head)"
LC_ALL=C grep -q '[^[:print:]]' "$tmp/out" && fail "raw control or high bytes in the output: $(od -c "$tmp/out" | head)"
expected='evil/\x1b[31mred\x0d\x0afake line\x00nul\xffend qos=0 retain=0'
[[ $(head -1 "$tmp/out") == "$expected" ]] || fail "topic line is '$(head -1 "$tmp/out")', expected '$expected'"
[[ $failures -eq 0 ]] || exit 1
echo "aioe-sub escapes hostile topics"
