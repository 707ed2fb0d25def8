#!/usr/bin/env bash
# Runs a local zkv cluster in the foreground: the 3 nodes of config/local.cfg (the shard
# controller and shard groups 1 and 2), and the nodes config/local-group3.cfg adds (4, 5, 6,
# hosting group 3, which serves nothing until `zkv ctrl join 3 --config config/local-group3.cfg`).
# Ctrl-C (or SIGTERM) stops every node cleanly.
# Usage: tools/local-cluster.sh [BUILD_DIR] [CONFIG] [EXTRA_CONFIG]    (EXTRA_CONFIG "": none)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
CONFIG=${2:-$ROOT/config/local.cfg}
EXTRA=${3-$ROOT/config/local-group3.cfg}
ZKVD=$BUILD/actors/zkvd
ZKV=$BUILD/client/zkv

s_nodes () { awk '/^node/{n=1} n && $1=="id"{print $3; n=0}' "$1"; }

# A path a config file gives (KEY = PATH), made absolute as zkvd reads it (relative to the file).
s_paths () {
    local file=$1 key=$2 path
    for path in $(awk -v k="$key" '$1 == k { print $3 }' "$file"); do
        case $path in /*) echo "$path" ;; *) echo "$(cd "$(dirname "$file")" && pwd)/$path" ;; esac
    done
}

# The CURVE keys a config file names, made on first run: each node's certificate, the client's
# (client_cert), and the client's public key in the directory of allowed clients (client_keys).
s_keys () {
    local file=$1 path cert dir
    for path in $(s_paths "$file" cert) $(s_paths "$file" client_cert); do
        [ -f "$path" ] && continue
        mkdir -p "$(dirname "$path")"
        "$ZKV" keygen "$path" >/dev/null || exit 1
        echo "zkv: made the key $path (and ${path}_secret)"
    done
    cert=$(s_paths "$file" client_cert)
    dir=$(s_paths "$file" client_keys)
    if [ -n "$cert" ] && [ -n "$dir" ]; then
        mkdir -p "$dir"
        cp "$cert" "$dir/"
    fi
}

s_keys "$CONFIG"
[ -z "$EXTRA" ] || s_keys "$EXTRA"
"$BUILD/config/zkv-config-check" "$CONFIG" >/dev/null || exit 1
NODES=$(s_nodes "$CONFIG")
EXTRA_NODES=""
if [ -n "$EXTRA" ]; then
    "$BUILD/config/zkv-config-check" "$EXTRA" >/dev/null || exit 1
    for id in $(s_nodes "$EXTRA"); do
        grep -qx "$id" <<<"$NODES" || EXTRA_NODES="$EXTRA_NODES $id"
    done
fi

pids=()
s_stop () {
    trap - INT TERM EXIT
    echo
    echo "zkv: stopping nodes" ${NODES//$'\n'/ } $EXTRA_NODES
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    local rc=0
    for pid in "${pids[@]}"; do wait "$pid" || rc=$?; done
    echo "zkv: all nodes stopped (last exit status $rc)"
}
trap s_stop INT TERM EXIT

# zkvd's log lines name the node; they go straight to this terminal. Ctrl-C reaches every node
# directly (same process group) and the trap waits for them to finish.
for id in $NODES; do
    "$ZKVD" --config "$CONFIG" --node "$id" &
    pids+=("$!")
done
for id in $EXTRA_NODES; do
    "$ZKVD" --config "$EXTRA" --node "$id" &
    pids+=("$!")
done

# Wait, with a deadline, until every group of the first file has a leader and serves a key.
deadline=$((SECONDS + 30))
until "$ZKV" --config "$CONFIG" --timeout 1000 get zkv-started >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
        echo "zkv: the cluster does not serve after 30 s; see the node logs above" >&2
        exit 1
    fi
    sleep 0.2
done

C=${CONFIG#"$ROOT"/}
E=${EXTRA#"$ROOT"/}
cat <<TXT

zkv: the cluster is running: nodes ${NODES//$'\n'/ } ($C) host the shard controller and shard
groups 1 and 2${EXTRA_NODES:+; nodes$EXTRA_NODES ($E) host group 3, not yet joined}.
In another terminal, from the repository root:

    export PATH=\$PWD/build/client:\$PWD/build/actors:\$PWD/build/config:\$PWD/build/checker:\$PATH
    zkv put greeting hello
    zkv get greeting
    zkv ctrl query                             # which group serves which shard
    zkv status                                 # every group and shard, per node
    zkv watch                                  # the nodes' event stream
TXT
if [ -n "$EXTRA_NODES" ]; then
cat <<TXT
    zkv ctrl join 3 --config $E   # group 3 joins: shards move to it
TXT
fi
cat <<TXT
    zkv bench --clients 64 --seconds 10

Ctrl-C here stops the cluster cleanly.
TXT
wait
