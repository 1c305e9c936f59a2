# Shell helpers shared by tools/demo.sh, bench/bridge-bench.sh and
# bench/bridge-fault.sh: free ports, polling, local mosquitto brokers and
# anonymous endpoint documents. Source it; it defines functions only.

# free_port: prints a TCP port on 127.0.0.1 that is free right now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_for SECONDS COMMAND...: polls COMMAND until it succeeds or time runs out.
wait_for() {
    local deadline=$(( $(date +%s) + $1 )); shift
    until "$@"; do
        [[ $(date +%s) -lt $deadline ]] || return 1
        sleep 0.05
    done
}

# port_open PORT: true when something accepts connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# write_broker_conf DIR PORT PERSISTENCE [EXTRA]: DIR/mosquitto.conf for an
# anonymous loopback listener, logging errors and warnings to
# DIR/mosquitto.log. PERSISTENCE is true (stored in DIR) or false.
# mosquitto's defaults for in-flight (20) and queued (1000) messages distort
# bridging, so both are set on purpose. EXTRA: more configuration lines
# (e.g. a bridge `connection` block).
write_broker_conf() {
    local dir=$1 port=$2 persist=$3 extra=${4:-}
    mkdir -p "$dir"
    {
        echo "listener $port 127.0.0.1"
        echo "allow_anonymous true"
        echo "max_inflight_messages 1000"
        echo "max_queued_messages 1000000"
        echo "persistence $persist"
        if [[ $persist == true ]]; then echo "persistence_location $dir/"; fi
        echo "log_dest file $dir/mosquitto.log"
        echo "log_type error"
        echo "log_type warning"
        echo "user $(id -un)"
        if [[ -n $extra ]]; then printf '%s\n' "$extra"; fi
    } > "$dir/mosquitto.conf"
}

# anon_endpoint NAME PORT CLIENT_ID_PREFIX [EXTRA]: prints a DataflowEndpoint
# for an anonymous plain-TCP broker on 127.0.0.1:PORT, then `---`. EXTRA:
# more mqttSettings lines, each indented by four spaces.
anon_endpoint() {
    cat <<EOF
apiVersion: connectivity.iotoperations.azure.com/v1
kind: DataflowEndpoint
metadata: {name: $1}
spec:
  endpointType: Mqtt
  mqttSettings:
    host: 127.0.0.1:$2
    authentication: {method: Anonymous, anonymousSettings: {}}
    tls: {mode: Disabled}
    clientIdPrefix: $3
EOF
    if [[ -n ${4:-} ]]; then printf '%s\n' "$4"; fi
    echo "---"
}
