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

# The running nodes: pid -> node id. Each exit status is collected once, by s_reap, which waits
# for these pids only: a bare `wait` would also forget the statuses of nodes that ended while
# it ran, and a later `wait PID` would then fail ("pid ... is not a child of this shell").
declare -A node_of=()
failed=0   # a node exited with a status other than 0
stopping=0 # s_stop runs: the nodes are expected to exit
s_reap () {
    local pid rc
    while [ ${#node_of[@]} -gt 0 ]; do
        pid=""
        wait -n -p pid "${!node_of[@]}" && rc=0 || rc=$?
        [ -n "$pid" ] || return 0 # interrupted by a signal: its trap goes on
        [ "$rc" = 0 ] || failed=1
        if [ "$rc" != 0 ] || [ "$stopping" = 0 ]; then
            echo "zkv: node ${node_of[$pid]} (pid $pid) exited with status $rc" >&2
        fi
        unset "node_of[$pid]"
    done
}
# s_stop HOW: stops the nodes still running. After Ctrl-C or SIGTERM (HOW = signal) the script
# exits 0 when every node exited cleanly; on its own exit, with the status it had, or 1.
s_stop () {
    local status=$?
    trap - INT TERM EXIT
    [ "$1" = exit ] || status=0
    stopping=1
    echo
    local pid ids
    ids=$(for pid in "${!node_of[@]}"; do echo "${node_of[$pid]}"; done | sort -n | tr '\n' ' ')
    echo "zkv: stopping nodes ${ids:-(none running)}"
    for pid in "${!node_of[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    s_reap
    if [ "$failed" = 0 ]; then
        echo "zkv: all nodes stopped"
    else
        echo "zkv: all nodes stopped; one or more did not exit cleanly (above)" >&2
        [ "$status" != 0 ] || status=1
    fi
    exit "$status"
}
trap 's_stop signal' INT TERM
trap 's_stop exit' EXIT

# zkvd's log lines name the node; they go straight to this terminal. Ctrl-C reaches every node
# directly (same process group), and the trap collects their exit statuses.
for id in $NODES; do
    "$ZKVD" --config "$CONFIG" --node "$id" &
    node_of[$!]=$id
done
for id in $EXTRA_NODES; do
    "$ZKVD" --config "$EXTRA" --node "$id" &
    node_of[$!]=$id
done

# Wait, with a deadline, until every group of the first file has a leader and serves a key.
# An answer either way will do: the value (exit 0) or "not found" (exit 4).
deadline=$((SECONDS + 30))
served () {
    local rc=0
    "$ZKV" --config "$CONFIG" --timeout 1000 get zkv-started > /dev/null 2>&1 || rc=$?
    [ $rc -eq 0 ] || [ $rc -eq 4 ]
}
until served; do
    if [ $SECONDS -ge $deadline ]; then
        echo "zkv: the cluster does not serve after 30 s; see the node logs above" >&2
        exit 1
    fi
    sleep 0.2
done

C=${CONFIG#"$ROOT"/}
E=${EXTRA#"$ROOT"/}
B=${BUILD/#"$ROOT"/\$PWD}
cat <<TXT

zkv: the cluster is running: nodes ${NODES//$'\n'/ } ($C) host the shard controller and shard
groups 1 and 2${EXTRA_NODES:+; nodes$EXTRA_NODES ($E) host group 3, not yet joined}.
In another terminal, from the repository root:

    export PATH=$B/client:$B/actors:$B/config:$B/checker:\$PATH
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
# Until Ctrl-C (the trap stops the rest), or until every node has ended by itself.
s_reap
