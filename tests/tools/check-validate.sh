#!/usr/bin/env bash
# check-validate.sh AIOE-VALIDATE EXAMPLES-DIR
# The aioe-validate command line: exit statuses, the error line format on
# stderr, and the exact keys of the --json output.
set -uo pipefail
validate=$1 examples=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# run EXPECTED-STATUS ARGS...: runs the tool, keeps stdout/stderr in $tmp.
run() {
    local want=$1
    shift
    "$validate" "$@" >"$tmp/out" 2>"$tmp/err"
    local got=$?
    [[ $got -eq $want ]] || fail "aioe-validate $* exited $got, expected $want; stderr: $(cat "$tmp/err")"
}

# 1. Valid files: exit 0, one JSON line per resource, exact keys in order.
run 0 --json "$examples"/endpoints/*.yaml
python3 - "$tmp/out" <<'PY' || fail "--json output"
import json, sys
keys = ["name", "namespace", "host", "port", "authentication", "tls", "clientIdPrefix",
        "qos", "retain", "sessionExpirySeconds", "protocol", "maxInflightMessages",
        "keepAliveSeconds", "cloudEventAttributes"]
auth = {"ServiceAccountToken": ["method", "audience"],
        "SystemAssignedManagedIdentity": ["method", "audience"],
        "X509Certificate": ["method", "secretRef"],
        "UserAssignedManagedIdentity": ["method", "clientId", "tenantId", "scope"],
        "Anonymous": ["method"]}
objs = [json.loads(l) for l in open(sys.argv[1]).read().splitlines()]
flows = [o for o in objs if o.get("kind") == "Dataflow"]
assert len(flows) == 1, flows           # one Dataflow in the examples
assert list(flows[0]) == ["kind", "name", "namespace", "profileRef", "mode", "source",
                          "transformation", "destination"], list(flows[0])
assert flows[0]["source"] == {"endpointRef": "factory-broker", "dataSources": ["factory/#"]}
lines = [l for l in open(sys.argv[1]).read().splitlines() if '"kind"' not in l]
assert len(lines) == 4, lines           # 1 + 1 + 2 endpoints in the examples
for line in lines:
    o = json.loads(line)
    assert list(o) == keys, list(o)
    assert isinstance(o["port"], int) and isinstance(o["host"], str)
    assert list(o["authentication"]) == auth[o["authentication"]["method"]], o["authentication"]
    assert list(o["tls"]) == ["mode", "trustedCaCertificateConfigMapRef"], o["tls"]
names = [json.loads(l)["name"] for l in lines]
assert "ipv6-lab-broker" in names and "local-mosquitto" in names, names
PY
if grep -v "note: skipped" "$tmp/err" | grep -q .; then
    fail "unexpected stderr for valid files: $(cat "$tmp/err")"
fi

# 2. An invalid file: exit 1, FILE:LINE:COL: error: PATH: message.
cat >"$tmp/bad.yaml" <<'YAML'
apiVersion: connectivity.iotoperations.azure.com/v1
kind: DataflowEndpoint
metadata:
  name: bad
spec:
  endpointType: Mqtt
  mqttSettings:
    qos: 2
    retain: keep
YAML
run 1 "$tmp/bad.yaml"
grep -qx "$tmp/bad.yaml:8:10: error: spec.mqttSettings.qos: 2 is out of range; allowed 0..1 (hint: .*)" "$tmp/err" \
    || fail "qos error line: $(cat "$tmp/err")"
grep -q "^$tmp/bad.yaml:9:13: error: spec.mqttSettings.retain: 'keep' is not a valid value" "$tmp/err" \
    || fail "retain error line: $(cat "$tmp/err")"
[[ $(wc -l <"$tmp/err") -eq 2 ]] || fail "expected exactly two error lines"
[[ ! -s $tmp/out ]] || fail "invalid file printed to stdout"

# 3. Valid and invalid together: 1, and the valid endpoint still printed.
run 1 --json "$examples/endpoints/local-mosquitto.yaml" "$tmp/bad.yaml"
[[ $(wc -l <"$tmp/out") -eq 1 ]] || fail "valid endpoint missing next to an invalid file"

# 4. Files that cannot be read: 3; usage errors: 2 (examples/common/tool.h).
run 3 "$tmp/does-not-exist.yaml"
grep -q "^$tmp/does-not-exist.yaml: error: cannot open" "$tmp/err" || fail "missing file message: $(cat "$tmp/err")"
run 3 "$tmp"
run 3 "$tmp/bad.yaml" "$tmp/does-not-exist.yaml"   # I/O outranks invalid
run 3 "$tmp/does-not-exist.yaml" "$tmp/bad.yaml"
run 2
run 2 --bogus "$tmp/bad.yaml"
run 0 --help
run 0 --version

# 5. Skipped documents are notes, not errors; --quiet hides notes and ok lines.
run 0 "$examples/endpoints/x509-websockets.yaml"
grep -q "note: skipped ConfigMap 'factory-ca'" "$tmp/err" || fail "skipped note missing"
[[ $(grep -c ": ok: " "$tmp/out") -eq 3 ]] || fail "ok lines: $(cat "$tmp/out")"
grep -q ": ok: dataflow factory-to-cloud: factory-broker (1 topic filter) -> ipv6-lab-broker" \
    "$tmp/out" || fail "dataflow ok line: $(cat "$tmp/out")"
run 0 --quiet "$examples/endpoints/x509-websockets.yaml"
[[ ! -s $tmp/err && ! -s $tmp/out ]] || fail "--quiet printed something"

# 6. All kinds, across files (issue #18): a Dataflow's endpointRef resolves
#    against the endpoints of every file given; a missing one is an error at
#    the reference, FILE:LINE:COL, naming it.
cat >"$tmp/flow.yaml" <<'YAML'
apiVersion: connectivity.iotoperations.azure.com/v1
kind: Dataflow
metadata:
  name: to-cloud
spec:
  operations:
    - operationType: Source
      sourceSettings:
        endpointRef: local-mosquitto
        dataSources: ["sensors/#"]
    - operationType: Destination
      destinationSettings:
        endpointRef: cloud
        dataDestination: up/${inputTopic}
YAML
run 1 "$tmp/flow.yaml" "$examples/endpoints/local-mosquitto.yaml"
grep -qx "$tmp/flow.yaml:13:22: error: spec.operations\[1\].destinationSettings.endpointRef: dataflow 'to-cloud': Destination endpointRef 'cloud' names no valid DataflowEndpoint in the given files (hint: .*)" "$tmp/err" \
    || fail "missing endpointRef line: $(cat "$tmp/err")"
[[ $(wc -l <"$tmp/err") -eq 1 ]] || fail "expected one error line: $(cat "$tmp/err")"
sed -i 's/endpointRef: cloud/endpointRef: factory-broker/' "$tmp/flow.yaml"
run 0 --json "$tmp/flow.yaml" "$examples/endpoints/local-mosquitto.yaml" "$examples/endpoints/x509-websockets.yaml"
grep -q '"kind":"Dataflow","name":"to-cloud"' "$tmp/out" || fail "dataflow JSON: $(cat "$tmp/out")"
# Dataflows alone: the reference cannot resolve.
run 1 "$tmp/flow.yaml"

# 7. Event Grid's WebSockets host form (issue #18).
cat >"$tmp/ws.yaml" <<'YAML'
apiVersion: connectivity.iotoperations.azure.com/v1
kind: DataflowEndpoint
metadata:
  name: eventgrid-ws
spec:
  endpointType: Mqtt
  mqttSettings:
    host: contoso.westus2-1.ts.eventgrid.azure.net:443/mqtt
    protocol: WebSockets
    authentication:
      method: SystemAssignedManagedIdentity
      systemAssignedManagedIdentitySettings: {}
YAML
run 0 "$tmp/ws.yaml"
grep -q "ok: eventgrid-ws -> contoso.westus2-1.ts.eventgrid.azure.net:443/mqtt" "$tmp/out" \
    || fail "websocket ok line: $(cat "$tmp/out")"
# 8. A FIFO with no writer used to hang in open() (issue #15 item 7): it reads
#    as empty at once; a pipe with a writer is read to its end.
mkfifo "$tmp/fifo"
timeout 10 "$validate" "$tmp/fifo" >"$tmp/out" 2>"$tmp/err"
got=$?
[[ $got -ne 124 ]] || fail "aioe-validate hung on a FIFO with no writer"
run 0 <(cat "$examples/endpoints/local-mosquitto.yaml")
grep -q ": ok: local-mosquitto" "$tmp/out" || fail "endpoint read from a pipe: $(cat "$tmp/out" "$tmp/err")"

if [[ $failures -gt 0 ]]; then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "aioe-validate: all checks passed"
