#!/usr/bin/env bash
# The libaioendpoint demo: installs what is needed, builds into build/demo
# and shows the library at work, one section after another.
#
# Sections (each a function named demo_<section>, run in DEMO_SECTIONS order):
#   validate_examples  aioe-validate --json over examples/endpoints/*.yaml,
#                      our valid examples: must all be accepted
#   validate_seed      aioe-validate --json over examples/endpoints/seed/*.yaml,
#                      the seed document's examples verbatim; those holding
#                      template placeholders such as <NAMESPACE> are expected
#                      to be rejected, which does not fail the demo
#   bridge             two local mosquitto brokers, aioe-bridge running a
#                      Dataflow between them: messages move, topic templates
#                      apply, a SIGKILL mid-stream loses nothing
# To add a section: write demo_<name>() below
# and append <name> to DEMO_SECTIONS. A section fails the demo by returning
# non-zero.
#
# Usage: tools/demo.sh [SECTION...]   (default: every section)
set -euo pipefail
cd "$(dirname "$0")/.."

BUILDDIR=build/demo
DEMO_SECTIONS=(validate_examples validate_seed bridge)

section() { printf '\n===== %s =====\n' "$*"; }
say() { printf 'demo: %s\n' "$*"; }

# --- Sections. ---------------------------------------------------------------

demo_validate_examples() {
    section "Validating our examples: examples/endpoints/*.yaml"
    local files=()
    shopt -s nullglob
    files=(examples/endpoints/*.yaml)
    shopt -u nullglob
    if [[ ${#files[@]} -eq 0 ]]; then
        say "no examples in examples/endpoints/ yet"
        return 1
    fi
    say "\$ $VALIDATE --json ${files[*]}"
    local rc=0
    "$VALIDATE" --json "${files[@]}" || rc=$?
    if [[ $rc -ne 0 ]]; then
        say "FAILED: aioe-validate exited $rc on our own examples (expected 0)"
        return 1
    fi
    say "all ${#files[@]} example files are valid (one JSON line per resource above, defaults filled in)"
}

demo_validate_seed() {
    section "Validating the seed document's examples: examples/endpoints/seed/*.yaml"
    local files=()
    shopt -s nullglob
    files=(examples/endpoints/seed/*.yaml)
    shopt -u nullglob
    if [[ ${#files[@]} -eq 0 ]]; then
        say "no seed examples in examples/endpoints/seed/"
        return 1
    fi
    local errlog rc=0
    errlog=$(mktemp)
    say "\$ $VALIDATE --json ${files[*]}"
    "$VALIDATE" --json "${files[@]}" 2> "$errlog" || rc=$?
    cat "$errlog"
    case $rc in
        0)
            say "all ${#files[@]} seed files are valid"
            ;;
        1)
            say "expected: the seed examples are copied verbatim, and those still holding template placeholders such as <NAMESPACE> must be rejected rather than turned into a session to a host that does not exist"
            # A rejected file without any <PLACEHOLDER> deserves a look.
            local f
            while IFS= read -r f; do
                if [[ -f "$f" ]] && ! grep -qE '<[A-Za-z][A-Za-z0-9 _.-]*>' "$f"; then
                    say "note: $f was rejected but holds no template placeholder; check whether that is intended"
                fi
            done < <(sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error: .*/\1/p; s/^\([^:]*\): error: .*/\1/p' "$errlog" | sort -u)
            ;;
        *)
            rm -f "$errlog"
            say "FAILED: aioe-validate exited $rc (2 usage error, 3 a file that cannot be read)"
            return 1
            ;;
    esac
    rm -f "$errlog"
}

# --- bridge: two local mosquitto brokers and aioe-bridge between them. ------
# Owned by the aioe-bridge change (docs/bridge.md). Everything it starts is
# killed, and its temporary directory removed, when the section returns.

# free_port, wait_for, port_open, write_broker_conf, anon_endpoint
# shellcheck source=broker-lib.sh
. tools/broker-lib.sh

demo_bridge() {
    section "aioe-bridge: a Dataflow moving messages between two local brokers"
    local bridge=$BUILDDIR/examples/aioe-bridge
    [[ -x $bridge ]] || { say "FAILED: $bridge was not built"; return 1; }
    command -v mosquitto >/dev/null || { say "FAILED: mosquitto is not installed"; return 1; }
    local tmp pids=() rc=0
    tmp=$(mktemp -d /tmp/aioe-demo-bridge.XXXXXX)
    # shellcheck disable=SC2064
    trap "trap - RETURN; kill \${pids[*]:-} 2>/dev/null; wait 2>/dev/null; rm -rf '$tmp'" RETURN
    local pa pb
    pa=$(free_port); pb=$(free_port)
    for b in a b; do
        local port=$pa; [[ $b == b ]] && port=$pb
        write_broker_conf "$tmp/$b" "$port" true
        mosquitto -c "$tmp/$b/mosquitto.conf" & pids+=($!)
    done
    say "broker A (site) on 127.0.0.1:$pa, broker B (cloud) on 127.0.0.1:$pb"
    { anon_endpoint site "$pa" demo-; anon_endpoint cloud "$pb" demo-; } > "$tmp/dataflow.yaml"
    cat >> "$tmp/dataflow.yaml" <<EOF2
apiVersion: connectivity.iotoperations.azure.com/v1
kind: Dataflow
metadata: {name: site-to-cloud}
spec:
  operations:
    - operationType: Source
      sourceSettings:
        endpointRef: site
        dataSources: ["factory/#"]
    - operationType: Destination
      destinationSettings:
        endpointRef: cloud
        dataDestination: cloud/\${inputTopic.2}/\${inputTopic}
EOF2
    { wait_for 5 port_open "$pa" && wait_for 5 port_open "$pb"; } \
        || { say "FAILED: brokers did not start"; return 1; }
    # The subscriber on B keeps a persistent session (-c) so it misses nothing.
    mosquitto_sub -p "$pb" -i demo-watcher -c -q 1 -t 'cloud/#' -v > "$tmp/received.txt" & pids+=($!)
    local args=(--state-dir "$tmp/state" "$tmp/dataflow.yaml")
    say "\$ aioe-bridge ${args[*]}"
    "$bridge" "${args[@]}" 2> "$tmp/bridge.log" & local bp=$!; pids+=($bp)
    # the first start must subscribe before anything is published on A
    wait_for 10 grep -q "subscribed to factory/#" "$tmp/bridge.log" || { cat "$tmp/bridge.log"; say "FAILED: bridge did not subscribe"; return 1; }

    mosquitto_pub -p "$pa" -q 1 -t factory/line1/temperature -m '{"celsius": 21.5}'
    mosquitto_pub -p "$pa" -q 1 -t factory/line2/pressure -m '{"bar": 1.02}'
    mosquitto_pub -p "$pa" -q 1 -t factory -m 'no second level: ${inputTopic.2} cannot resolve, dropped and counted'
    wait_for 10 bash -c "[[ \$(wc -l < '$tmp/received.txt') -ge 2 ]]" || { say "FAILED: nothing arrived on B"; return 1; }
    say "published 3 messages on A; B received (topic payload):"
    sed 's/^/    /' "$tmp/received.txt"

    say "now 2000 QoS 1 messages, and SIGKILL the bridge in the middle of the stream"
    seq -f 'm-%06g' 1 2000 > "$tmp/stream.txt"
    mosquitto_pub -p "$pa" -q 1 -t factory/stream/n -l < "$tmp/stream.txt" & local pp=$!
    wait_for 10 bash -c "[[ \$(grep -c ' m-' '$tmp/received.txt') -ge 300 ]]"
    kill -KILL "$bp"; wait "$bp" 2>/dev/null || true
    say "killed aioe-bridge (SIGKILL) after $(grep -c ' m-' "$tmp/received.txt") stream messages; restarting it"
    "$bridge" "${args[@]}" 2>> "$tmp/bridge.log" & bp=$!; pids+=($bp)
    wait "$pp"
    if ! wait_for 20 bash -c "[[ \$(grep ' m-' '$tmp/received.txt' | sort -u | wc -l) -ge 2000 ]]"; then
        say "FAILED: only $(grep ' m-' "$tmp/received.txt" | sort -u | wc -l) of 2000 distinct messages arrived"
        rc=1
    fi
    local total distinct
    total=$(grep -c ' m-' "$tmp/received.txt"); distinct=$(grep ' m-' "$tmp/received.txt" | sort -u | wc -l)
    say "B received $distinct distinct of 2000 stream messages ($((total - distinct)) duplicates, allowed at QoS 1: delivered at least once)"
    kill -TERM "$bp"; wait "$bp" || { say "FAILED: aioe-bridge did not exit 0 after SIGTERM"; rc=1; }
    say "counters printed by the restarted bridge at exit (SIGTERM drains, exit 0):"
    grep "stats" "$tmp/bridge.log" | tail -1 | sed 's/.*stats instance=[^ ]* //' | fold -s -w 96 | sed 's/^/    /'
    grep -q "cannot resolve" "$tmp/bridge.log" && say "(the 'factory' message was dropped with a warning, as AIO does)"
    return $rc
}

# (Append new demo_<name> functions here, and <name> to DEMO_SECTIONS.)

# --- Main. -------------------------------------------------------------------

sections=("$@")
[[ ${#sections[@]} -gt 0 ]] || sections=("${DEMO_SECTIONS[@]}")
for s in "${sections[@]}"; do
    declare -F "demo_$s" >/dev/null || { echo "demo: no section '$s' (have: ${DEMO_SECTIONS[*]})" >&2; exit 2; }
done

section "Dependencies"
tools/install-deps.sh

section "Building into $BUILDDIR"
opts=(-Dwarning_level=2 -Dwerror=true -Dbuildtype=debugoptimized -Dexamples=true -Dtests=false -Dbench=false)
if [[ -f $BUILDDIR/meson-private/coredata.dat ]]; then
    meson setup --reconfigure "$BUILDDIR" "${opts[@]}" >/dev/null \
        || meson setup --wipe "$BUILDDIR" "${opts[@]}" >/dev/null
else
    meson setup "$BUILDDIR" "${opts[@]}" >/dev/null
fi
if ! meson compile -C "$BUILDDIR" > "$BUILDDIR/demo-build.log" 2>&1; then
    cat "$BUILDDIR/demo-build.log"
    say "FAILED: build failed"
    exit 1
fi
say "built libaioendpoint $(sed -n 's/^#define AIOE_VERSION_STRING "\(.*\)"/\1/p' "$BUILDDIR/include/version.h")"

VALIDATE=$BUILDDIR/examples/aioe-validate
if [[ ! -x $VALIDATE ]]; then
    say "FAILED: $VALIDATE was not built (is examples/validate/ in the build yet?)"
    exit 1
fi

failed=()
for s in "${sections[@]}"; do
    "demo_$s" || failed+=("$s")
done

section "Done"
if [[ ${#failed[@]} -gt 0 ]]; then
    say "FAILED sections: ${failed[*]}"
    exit 1
fi
say "all sections passed: ${sections[*]}"
