#!/bin/bash
# overload.sh: a client that writes 64 KiB puts as fast as it can and never reads an answer,
# against the leader of a 3-node group (CURVE, its own client key). The leader must refuse what
# passes its bounds (busy answers, dropped answers) instead of buffering it: its peak anonymous
# memory stays under OVERLOAD_CAP_MB (default 512), it keeps serving another client, no election
# happens (group 1's term does not move), it gives its memory back within 30 s of the
# flood's end (to within 64 MB of where it was, or half its peak), and afterwards every key written before reads
# back.
#
#     ZKV_BUILD=build overload.sh [--seconds 10]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
seconds=10
[ "${1:-}" != --seconds ] || seconds=$2
export CL_GROUPS="0:1,2,3 1:1,2,3"
# shellcheck source=../lib/cluster.sh
source "$here/../lib/cluster.sh"
cl_need "$ZKV_NOREAD"
cap_mb=${OVERLOAD_CAP_MB:-512}
cl_init 3 lo
cl_start_all
cl_wait_leaders 30
for k in $(seq 1 20); do cl_zkv --timeout 5000 put "key$k" "value$k" > /dev/null || cl_die "put key$k"; done
leader=$(cl_leader 1)
[ -n "$leader" ] || cl_die "no leader of group 1"
term=$(cl_status_field "$leader" 1 term)
pid=$(cl_pid "$leader")
rss () { awk '/^RssAnon:/ { print int($2 / 1024) }' "/proc/$pid/status"; }
before=$(rss)
cl_log "leader of group 1: node $leader (term $term), ${before} MB anonymous before the flood"
"$ZKV_NOREAD" --key "$CL_DIR/certs/client.cert" --server-key "$(cl_node_key "$leader")" \
    --seconds "$seconds" --value-bytes 65536 "$(cl_client_ep "$leader")" > "$CL_DIR/noread.out" &
flood=$!
peak=$before
served=0
while kill -0 "$flood" 2> /dev/null; do
    r=$(rss)
    [ "$r" -le "$peak" ] || peak=$r
    if [ $served = 0 ] && cl_zkv --timeout 1000 put during-flood yes > /dev/null 2>&1; then served=1; fi
    sleep 0.2
done
wait "$flood" || cl_die "zkv-noread failed"
cat "$CL_DIR/noread.out"
# Memory is given back once the flood ends (the node trims its allocator every few seconds).
limit=$((before + 64))
[ $((peak / 2)) -le "$limit" ] || limit=$((peak / 2))
given_back () { [ "$(rss)" -le "$limit" ]; }
cl_wait_until 30 "node $leader to give back its memory (peak ${peak} MB, now $(rss) MB)" given_back
after=$(rss)
cl_log "node $leader: ${before} MB before, peak ${peak} MB during the flood, ${after} MB after"
[ "$peak" -lt "$cap_mb" ] || cl_die "the leader peaked at ${peak} MB under a client that does not read (cap ${cap_mb} MB)"
[ $served = 1 ] || cl_die "another client was not served during the flood"
# Overload alone must not cost the leader its term: the flood is refused at the bounds, and no
# write or sync stalls a node long enough for an election timeout (300-600 ms here).
now=$(cl_status_field "$leader" 1 term)
[ "$now" = "$term" ] || cl_die "group 1's term moved from $term to $now during the flood: an election"
cl_log "no election during the flood (term $term)"
# Big answers nobody reads: gets of a 120 KB value for 5 s. The node disconnects the client once
# max_queued_replies answers wait for it, instead of queueing them (which the small answers
# of the put flood never came to: the kernel's socket buffers held them).
big=$(head -c 120000 /dev/zero | tr '\0' b)
cl_zkv --timeout 5000 put big "$big" > /dev/null || cl_die "put big"
before=$(rss)
"$ZKV_NOREAD" --key "$CL_DIR/certs/client.cert" --server-key "$(cl_node_key "$leader")" \
    --seconds 5 --get big "$(cl_client_ep "$leader")" > "$CL_DIR/noread-get.out" &
flood=$!
peak=$before
while kill -0 "$flood" 2> /dev/null; do
    r=$(rss)
    [ "$r" -le "$peak" ] || peak=$r
    sleep 0.2
done
wait "$flood" || cl_die "zkv-noread --get failed"
cat "$CL_DIR/noread-get.out"
disconnected () { grep -q "disconnected a client that does not read its answers" "$CL_DIR/node$leader.log"; }
cl_wait_until 10 "node $leader to disconnect the client that does not read" disconnected
cl_log "gets of 120 KB nobody reads: node $leader disconnected the client; ${before} MB before, peak ${peak} MB"
[ "$peak" -lt "$cap_mb" ] || cl_die "the leader peaked at ${peak} MB under big answers nobody reads"
for k in $(seq 1 20); do
    [ "$(cl_zkv --timeout 5000 get "key$k")" = "value$k" ] || cl_die "key$k lost"
done
for i in 1 2 3; do cl_alive "$i" || cl_die "node $i died"; done
cl_pass
echo "1 passed, 0 failed"
