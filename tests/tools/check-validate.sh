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

# 1. Valid files: exit 0, one JSON line per endpoint, exact keys in order.
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
lines = open(sys.argv[1]).read().splitlines()
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
grep -q "note: skipped Dataflow 'factory-to-cloud'" "$tmp/err" || fail "skipped note missing"
[[ $(grep -c ": ok: " "$tmp/out") -eq 2 ]] || fail "ok lines: $(cat "$tmp/out")"
run 0 --quiet "$examples/endpoints/x509-websockets.yaml"
[[ ! -s $tmp/err && ! -s $tmp/out ]] || fail "--quiet printed something"

if [[ $failures -gt 0 ]]; then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "aioe-validate: all checks passed"
