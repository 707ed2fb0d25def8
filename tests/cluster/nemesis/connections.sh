#!/bin/bash
# connections.sh: a node under a flood of idle connections, at the common limit of 1,024 file
# descriptors. One node (the controller and shard group 1) with max_connections = 200 and
# `prlimit --nofile=1024:1024`; 20 keys written; then 1,500 plain TCP connections opened to its
# client port and held open (never a ZMTP greeting). The node must stay up, say it is at its
# connection limit, keep its descriptors for storage (no "storage I/O error"), serve a put
# within a deadline while the flood still holds its sockets (unfinished handshakes are dropped
# after 5 s, connections past the limit at once), and read every key back.
#
#     ZKV_BUILD=build connections.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export CL_GROUPS="0:1 1:1"
# shellcheck source=../lib/cluster.sh
source "$here/../lib/cluster.sh"
command -v prlimit > /dev/null || cl_die "prlimit (util-linux) is needed"
cl_init 1 lo
sed -i 's/^    snapshot_bytes = .*/&\n    max_connections = 200/' "$CL_DIR/cluster.cfg"
grep -q "max_connections = 200" "$CL_DIR/cluster.cfg" || cl_die "config not patched"
cl_start_all
cl_wait_leaders 30
prlimit --nofile=1024:1024 --pid "$(cl_pid 1)" || cl_die "prlimit failed"
for k in $(seq 1 20); do cl_zkv --timeout 5000 put "key$k" "value$k" > /dev/null || cl_die "put key$k"; done

port=$(cl_client_port 1)
(
    ulimit -n 4096
    opened=0
    for _ in $(seq 1 1500); do
        if exec {fd}<> "/dev/tcp/127.0.0.1/$port" 2> /dev/null; then opened=$((opened + 1)); fi
    done
    echo "$opened" > "$CL_DIR/flood.opened"
    sleep 120
) &
flood=$!
cl_wait_until 60 "the flood to open its connections" test -s "$CL_DIR/flood.opened"
cl_log "the flood opened $(cat "$CL_DIR/flood.opened") connections and holds them"
at_limit () { grep -q "client connections at the limit of 200" "$CL_DIR/node1.log"; }
cl_wait_until 10 "node 1 to say it is at its connection limit" at_limit
served () { cl_zkv --timeout 2000 put during-flood yes > /dev/null 2>&1; }
cl_wait_until 30 "a put served while the flood holds its sockets" served
cl_alive 1 || cl_die "node 1 died under the flood"
kill "$flood" 2> /dev/null || true
wait "$flood" 2> /dev/null || true
for k in $(seq 1 20); do
    [ "$(cl_zkv --timeout 5000 get "key$k")" = "value$k" ] || cl_die "key$k lost"
done
! grep -q "storage I/O error\|Too many open files" "$CL_DIR/node1.log" || cl_die "node 1 ran out of descriptors for storage"
cl_alive 1 || cl_die "node 1 died"
cl_log "node 1 refused connections past its limit, kept serving and kept its storage"
cl_pass
echo "1 passed, 0 failed"
