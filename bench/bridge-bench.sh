#!/usr/bin/env bash
# aioe-bridge against the floor and mosquitto's own bridge (docs/benchmarks.md,
# docs/bridge.md).
#
# For each round, each QoS (1, 0) and each forwarder (the libmosquitto floor
# bench-mosq-floor, aioe-bridge A->B, the raw Paho forwarder, mosquitto's
# `connection` bridge A->B with bridge_protocol_version mqttv50), on fresh
# brokers:
#   1. throughput: COUNT messages of 64 B published on A as fast as the
#      publisher's window allows, measured from the first publish to the last
#      arrival on B, plus the CPU time (utime+stime from /proc) of the bridge
#      process and of both brokers during that run, per message;
#   2. latency: LAT_COUNT messages at RATE msg/s, p50/p99 end to end.
# The forwarders alternate within each round (odd rounds in BRIDGES order,
# even rounds reversed), so load drift on a shared machine hits every row
# alike; each row's throughput and CPU are also given as a ratio to the
# floor's and to mosquitto's bridge's in the same round and QoS.
# Then the idle RSS of aioe-bridge with 1 and with 20 instances.
# Both brokers get explicit max_inflight_messages 1000 and
# max_queued_messages 1000000 (mosquitto's defaults, 20 and 1000, distort).
#
# Usage: bench/bridge-bench.sh [BUILDDIR]   (default /tmp/build-bridge; needs
#        examples/aioe-bridge, bench/bench-bridge-load and the reference
#        forwarders named in BRIDGES built there)
# Environment: COUNT (100000), LAT_COUNT (25000), RATE (5000), QOS_LIST ("1 0"),
#              ROUNDS (2), INFLIGHT (in-flight window of every forwarder;
#              aioe-bridge's endpoint maxInflightMessages; 1000),
#              FSYNC=1 (aioe-bridge --fsync), BRIDGES ("floor aioe paho
#              mosquitto"; "floor" is bench-mosq-floor, the single-threaded
#              libmosquitto forwarder (measurement only, no end-to-end ack);
#              "paho" / "pahosync" are bench-paho-bridge /
#              bench-paho-sync-bridge, raw Paho with no store and no library).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=../tools/broker-lib.sh
. tools/broker-lib.sh
BUILD=${1:-/tmp/build-bridge}
COUNT=${COUNT:-100000}
LAT_COUNT=${LAT_COUNT:-25000}
RATE=${RATE:-5000}
QOS_LIST=${QOS_LIST:-"1 0"}
INFLIGHT=${INFLIGHT:-1000}
ROUNDS=${ROUNDS:-2}
BRIDGES=${BRIDGES:-"floor aioe paho mosquitto"}
BRIDGE=$BUILD/examples/aioe-bridge
LOAD=$BUILD/bench/bench-bridge-load
[[ -x $BRIDGE && -x $LOAD ]] || { echo "bridge-bench: build $BRIDGE and $LOAD first" >&2; exit 2; }
ref_program() { # KIND: the reference forwarder's executable
    case $1 in
    floor) echo "$BUILD/bench/bench-mosq-floor" ;;
    paho) echo "$BUILD/bench/bench-paho-bridge" ;;
    pahosync) echo "$BUILD/bench/bench-paho-sync-bridge" ;;
    esac
}
for kind in $BRIDGES; do
    case $kind in
    aioe | mosquitto) ;;
    floor | paho | pahosync)
        [[ -x $(ref_program "$kind") ]] || { echo "bridge-bench: build $(ref_program "$kind") first" >&2; exit 2; } ;;
    *) echo "bridge-bench: unknown bridge '$kind' (floor aioe paho pahosync mosquitto)" >&2; exit 2 ;;
    esac
done
TCK=$(getconf CLK_TCK)

tmp=$(mktemp -d /tmp/aioe-bridge-bench.XXXXXX)
pids=()
cleanup() {
    local p
    for p in "${pids[@]:-}"; do [[ -n $p ]] && kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# start_broker DIR PORT [EXTRA]: sets BROKER_PID
start_broker() {
    local dir=$1 port=$2 extra=${3:-}
    write_broker_conf "$dir" "$port" false "$extra"
    mosquitto -c "$dir/mosquitto.conf" &
    BROKER_PID=$!
    pids+=("$BROKER_PID")
    wait_for 5 port_open "$port" || { echo "bridge-bench: broker on $port did not start" >&2; exit 1; }
}

endpoint() { # NAME PORT QOS
    anon_endpoint "$1" "$2" bench- "    qos: $3
    maxInflightMessages: $INFLIGHT"
}

dataflow_yaml() { # PA PB QOS INSTANCES
    endpoint site "$1" "$3"
    endpoint cloud "$2" "$3"
    cat <<EOF
apiVersion: connectivity.iotoperations.azure.com/v1
kind: Dataflow
metadata: {name: bench}
spec:
  profileRef: bench
  operations:
    - operationType: Source
      sourceSettings:
        endpointRef: site
        dataSources: ["bench/in/#"]
    - operationType: Destination
      destinationSettings:
        endpointRef: cloud
        dataDestination: out/\${inputTopic.3}
---
apiVersion: connectivity.iotoperations.azure.com/v1
kind: DataflowProfile
metadata: {name: bench}
spec:
  instanceCount: $4
EOF
}

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p; s/^$1=\([^ ]*\).*/\1/p" <<< "$2" | head -1; }

# Per round/QoS/kind figures, for the ratios and the summary.
declare -A THR CPU CPUSHOWN ROW
run_case() { # KIND QOS ROUND
    local kind=$1 qos=$2 round=$3 dir=$tmp/$1-q$2-r$3 pa pb apid bpid xpid
    mkdir -p "$dir"
    pa=$(free_port); pb=$(free_port)
    start_broker "$dir/b" "$pb"; bpid=$BROKER_PID
    if [[ $kind == floor || $kind == paho || $kind == pahosync ]]; then
        start_broker "$dir/a" "$pa"; apid=$BROKER_PID
        "$(ref_program "$kind")" "$pa" "$pb" "$qos" "$INFLIGHT" 2> "$dir/bridge.log" &
        xpid=$!; pids+=("$xpid")
        wait_for 10 grep -q "subscribed to" "$dir/bridge.log" || { cat "$dir/bridge.log"; exit 1; }
    elif [[ $kind == mosquitto ]]; then
        start_broker "$dir/a" "$pa" "connection bench
address 127.0.0.1:$pb
bridge_protocol_version mqttv50
cleansession false
remote_clientid bench-mosquitto-bridge
topic # out $qos bench/in/ out/"
        apid=$BROKER_PID; xpid=$apid
    else
        start_broker "$dir/a" "$pa"; apid=$BROKER_PID
        dataflow_yaml "$pa" "$pb" "$qos" 1 > "$dir/flow.yaml"
        local fs=()
        [[ ${FSYNC:-0} == 1 ]] && fs=(--fsync)
        "$BRIDGE" --state-dir "$dir/state" "${fs[@]}" "$dir/flow.yaml" 2> "$dir/bridge.log" &
        xpid=$!; pids+=("$xpid")
        wait_for 10 grep -q "subscribed to" "$dir/bridge.log" || { cat "$dir/bridge.log"; exit 1; }
    fi
    # warm-up doubles as the readiness probe (the bridge is connected both ways)
    wait_for 20 "$LOAD" --pub-port "$pa" --sub-port "$pb" --count 100 --qos "$qos" --timeout 2 \
        --pub-topic bench/in/warm > /dev/null || { echo "bridge-bench: $kind q$qos never ready" >&2; exit 1; }

    local c0x c0a c0b c1x c1a c1b out lat
    c0x=$(cpu_ticks "$xpid"); c0a=$(cpu_ticks "$apid"); c0b=$(cpu_ticks "$bpid")
    out=$("$LOAD" --pub-port "$pa" --sub-port "$pb" --count "$COUNT" --qos "$qos" || true)
    c1x=$(cpu_ticks "$xpid"); c1a=$(cpu_ticks "$apid"); c1b=$(cpu_ticks "$bpid")
    lat=$("$LOAD" --pub-port "$pa" --sub-port "$pb" --count "$LAT_COUNT" --qos "$qos" --rate "$RATE" || true)
    echo "  round $round $kind qos $qos throughput: $out" >&2
    echo "  round $round $kind qos $qos latency@$RATE: $lat" >&2
    local n
    n=$(field distinct "$out")
    local us_x us_a us_b
    us_x=$(awk -v d=$((c1x - c0x)) -v n="$n" -v t="$TCK" 'BEGIN{printf "%.2f", n ? d / t * 1e6 / n : 0}')
    us_a=$(awk -v d=$((c1a - c0a)) -v n="$n" -v t="$TCK" 'BEGIN{printf "%.2f", n ? d / t * 1e6 / n : 0}')
    us_b=$(awk -v d=$((c1b - c0b)) -v n="$n" -v t="$TCK" 'BEGIN{printf "%.2f", n ? d / t * 1e6 / n : 0}')
    local key=$round:$qos:$kind
    THR[$key]=$(field msgs_per_s "$out")
    CPU[$key]=$us_x
    if [[ $kind == mosquitto ]]; then us_x="(in A) $us_a"; CPU[$key]=; fi
    CPUSHOWN[$key]=$us_x
    ROW[$key]="| $kind | $qos | ${THR[$key]} | $(field missing "$out") | $(field duplicates "$out") | $(field p50_us "$lat") | $(field p99_us "$lat") | $(field missing "$lat") | $us_x | $us_a | $us_b |"
    kill "$xpid" 2>/dev/null || true
    [[ $xpid != "$apid" ]] && kill "$apid" 2>/dev/null || true
    kill "$bpid" 2>/dev/null || true
    wait "$xpid" "$apid" "$bpid" 2>/dev/null || true
}

rss_case() { # INSTANCES
    local n=$1 dir=$tmp/rss-$1 pa pb xpid
    mkdir -p "$dir"
    pa=$(free_port); pb=$(free_port)
    start_broker "$dir/a" "$pa"; local apid=$BROKER_PID
    start_broker "$dir/b" "$pb"; local bpid=$BROKER_PID
    dataflow_yaml "$pa" "$pb" 1 "$n" > "$dir/flow.yaml"
    "$BRIDGE" --state-dir "$dir/state" "$dir/flow.yaml" 2> "$dir/bridge.log" &
    xpid=$!; pids+=("$xpid")
    wait_for 20 bash -c "[[ \$(grep -c 'subscribed to' '$dir/bridge.log') -ge $n ]]" || { cat "$dir/bridge.log"; exit 1; }
    wait_for 5 bash -c "[[ \$(grep -c 'destination connected' '$dir/bridge.log') -ge $n ]]" || true
    local rss
    rss=$(rss_kb "$xpid")
    RSS_RESULTS+=("| $n | $rss KiB ($(awk -v k="$rss" 'BEGIN{printf "%.1f", k/1024}') MiB) |")
    kill "$xpid" "$apid" "$bpid" 2>/dev/null || true
    wait "$xpid" "$apid" "$bpid" 2>/dev/null || true
}

# join X...: "X1 / X2 / ..."
join() { local IFS=/; local s="$*"; echo "${s//\// / }"; }
# ratio A B: A / B with two decimals, or "—" when either is missing or 0
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "" || b == "" || b + 0 == 0) print "—"; else printf "%.2f", a / b }'; }

load_start=$(uptime)
echo "bridge-bench: COUNT=$COUNT LAT_COUNT=$LAT_COUNT RATE=$RATE INFLIGHT=$INFLIGHT FSYNC=${FSYNC:-0} ROUNDS=$ROUNDS BRIDGES=\"$BRIDGES\"" >&2
echo "bridge-bench: start:$load_start" >&2
read -r -a order <<< "$BRIDGES"
for ((round = 1; round <= ROUNDS; round++)); do
    for qos in $QOS_LIST; do
        for ((i = 0; i < ${#order[@]}; i++)); do
            # even rounds run the forwarders in reverse order
            if ((round % 2)); then kind=${order[i]}; else kind=${order[${#order[@]} - 1 - i]}; fi
            run_case "$kind" "$qos" "$round"
        done
    done
done
load_end=$(uptime)
RSS_RESULTS=()
rss_case 1
rss_case 20

echo
echo "load average at the start:$load_start"
echo "load average at the end:  $load_end"
echo
echo "| bridge | QoS | msgs/s | missing | dups | p50 µs @${RATE}/s | p99 µs @${RATE}/s | missing (lat) | bridge CPU µs/msg | broker A CPU µs/msg | broker B CPU µs/msg | round | msgs/s ÷ floor | msgs/s ÷ mosquitto | CPU ÷ floor |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for qos in $QOS_LIST; do
    for kind in $BRIDGES; do
        for ((round = 1; round <= ROUNDS; round++)); do
            k=$round:$qos:$kind
            echo "${ROW[$k]} $round | $(ratio "${THR[$k]}" "${THR[$round:$qos:floor]:-}") | $(ratio "${THR[$k]}" "${THR[$round:$qos:mosquitto]:-}") | $(ratio "${CPU[$k]}" "${CPU[$round:$qos:floor]:-}") |"
        done
    done
done
# Per QoS and forwarder, every round's figure side by side (round 1 / round 2 ...).
echo
echo "| bridge | QoS | msgs/s | ÷ floor | ÷ mosquitto's bridge | bridge CPU µs/msg | CPU ÷ floor |"
echo "|---|---|---|---|---|---|---|"
for qos in $QOS_LIST; do
    for kind in $BRIDGES; do
        thr=() rf=() rm=() cpu=() cf=()
        for ((round = 1; round <= ROUNDS; round++)); do
            k=$round:$qos:$kind
            thr+=("${THR[$k]}")
            rf+=("$(ratio "${THR[$k]}" "${THR[$round:$qos:floor]:-}")")
            rm+=("$(ratio "${THR[$k]}" "${THR[$round:$qos:mosquitto]:-}")")
            cpu+=("${CPUSHOWN[$k]}")
            cf+=("$(ratio "${CPU[$k]}" "${CPU[$round:$qos:floor]:-}")")
        done
        echo "| $kind | $qos | $(join "${thr[@]}") | $(join "${rf[@]}") | $(join "${rm[@]}") | $(join "${cpu[@]}") | $(join "${cf[@]}") |"
    done
done
echo
echo "| aioe-bridge instances | idle RSS |"
echo "|---|---|"
for r in "${RSS_RESULTS[@]}"; do echo "$r"; done
