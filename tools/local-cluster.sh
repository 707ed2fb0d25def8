#!/usr/bin/env bash
# Runs a local 3-node zkv cluster from config/local.cfg in the foreground. Ctrl-C (or SIGTERM)
# stops every node cleanly. Usage: tools/local-cluster.sh [BUILD_DIR] [CONFIG]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
CONFIG=${2:-$ROOT/config/local.cfg}
ZKVD=$BUILD/actors/zkvd
ZKV=$BUILD/client/zkv

"$BUILD/config/zkv-config-check" "$CONFIG" >/dev/null || exit 1
NODES=$(awk '/^node/{n=1} n && $1=="id"{print $3; n=0}' "$CONFIG")

pids=()
s_stop () {
    trap - INT TERM EXIT
    echo
    echo "zkv: stopping nodes ${NODES//$'\n'/ }"
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    local rc=0
    for pid in "${pids[@]}"; do wait "$pid" || rc=$?; done
    echo "zkv: all nodes stopped (last exit status $rc)"
}
trap s_stop INT TERM EXIT

for id in $NODES; do
    # zkvd's log lines name the node; they go straight to this terminal. Ctrl-C reaches every
    # node directly (same process group) and the trap below waits for them to finish.
    "$ZKVD" --config "$CONFIG" --node "$id" --foreground &
    pids+=("$!")
done

# Wait, with a deadline, until every group has a leader.
deadline=$((SECONDS + 30))
until "$ZKV" --config "$CONFIG" status 2>/dev/null | grep -q leader; do
    if [ $SECONDS -ge $deadline ]; then
        echo "zkv: no leader after 30 s; see the node logs above" >&2
        exit 1
    fi
    sleep 0.2
done

cat <<TXT

zkv: a 3-node cluster is running (config: $CONFIG). In another terminal:

    export PATH=$BUILD/client:$BUILD/actors:\$PATH
    zkv --config $CONFIG put greeting hello
    zkv --config $CONFIG get greeting
    zkv --config $CONFIG status
    zkv --config $CONFIG watch                 # the nodes' event stream
    zkv --config $CONFIG bench --clients 64 --seconds 10

Ctrl-C here stops the cluster cleanly.
TXT
wait
