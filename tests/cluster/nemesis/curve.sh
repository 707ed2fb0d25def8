#!/bin/bash
# curve.sh: the trust boundaries of a CURVE cluster (the default), tried as an outsider and as
# an insider who lies. On 3 nodes (loopback) hosting the controller and shard groups 1 and 2:
#   - the client whose key the cluster allows reads and writes; a key it does not know, and a
#     plain-text client, get no answer from any node (the handshake is refused); a key file
#     dropped into the client directory is let in without a restart, and refused once removed;
#   - an event subscriber with an unknown key or in plain text hears nothing while an allowed
#     one (a monitor key) hears the events of a shard move;
#   - a monitor key reads status and configurations, and a write with it is denied (exit 1);
#   - a peer that authenticates with node 2's certificate but says it is node 3 (heartbeats of
#     a leader a million terms ahead) is dropped and counted: node 1's term does not move. The
#     same heartbeats told truthfully as node 2 do move it (the control: the check can fail).
# Every key written is read back at the end and every node still runs.
#
#     ZKV_BUILD=build curve.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export CL_GROUPS="0:1,2,3 1:1,2,3 2:1,2,3"
export CL_SECURITY=curve
# shellcheck source=../lib/cluster.sh
source "$here/../lib/cluster.sh"
cl_need "$ZKV_PEER_FORGE"
cl_init 3 lo
cl_start_all
cl_wait_leaders 30
cfg=$CL_DIR/cluster.cfg
certs=$CL_DIR/certs

# The allowed client.
for k in 1 2 3 4 5 6 7 8; do
    cl_zkv --timeout 5000 put "key$k" "value$k" > /dev/null || cl_die "put key$k with the client key"
done
[ "$(cl_zkv get key1)" = value1 ] || cl_die "get key1 with the client key"
cl_log "the allowed client key reads and writes"

# A key the cluster does not know, and plain text: no answer from any node.
"$ZKV" keygen "$certs/stranger.cert" > /dev/null
if out=$("$ZKV" --config "$cfg" --key "$certs/stranger.cert" --timeout 2000 get key1 2>&1); then
    cl_die "a key the cluster does not know read key1: $out"
fi
for i in 1 2 3; do
    if out=$("$ZKV" --endpoints "$(cl_client_ep "$i")" --timeout 1500 get key1 2>&1); then
        cl_die "a plain-text client read key1 from node $i: $out"
    fi
done
cl_log "an unknown key and plain text get no answer"

# Keys change without a restart: the stranger's certificate dropped into the client directory is
# let in (zkvd reads it again every 5 s), and taken out again when the file goes.
cp "$certs/stranger.cert" "$certs/clients/stranger.cert"
stranger_reads () {
    "$ZKV" --config "$cfg" --key "$certs/stranger.cert" --timeout 1500 get key1 > /dev/null 2>&1
}
cl_wait_until 20 "a key added to the client directory to be let in" stranger_reads
rm "$certs/clients/stranger.cert"
stranger_refused () { ! stranger_reads; }
cl_wait_until 20 "a key removed from the client directory to be refused" stranger_refused
grep -q "client and monitor keys reloaded: 1 let in" "$CL_DIR/node1.log" ||
    cl_die "node 1 did not say it let the new key in"
cl_log "a client key added at run time was let in, and refused once removed"

# Event subscribers: a stranger and plain text hear nothing of a shard move, a monitor does.
"$ZKV" --config "$cfg" --key "$certs/monitor.cert" watch --json --count 1 > "$CL_DIR/w.monitor" 2>&1 &
w1=$!
"$ZKV" --config "$cfg" --key "$certs/stranger.cert" watch --json > "$CL_DIR/w.stranger" 2>&1 &
w2=$!
"$ZKV" --endpoints "$(cl_client_ep 1)" --events "tcp://127.0.0.1:$(cl_events_port 1)" watch --json \
    > "$CL_DIR/w.plain" 2>&1 &
w3=$!
sleep 1 # subscriptions take a moment to reach the publishers (no event to wait for yet)
# "key1: shard S, group G (configuration N)"
where=$(cl_zkv ctrl shard key1)
shard=$(sed -n 's/.*shard \([0-9]*\),.*/\1/p' <<< "$where")
group=$(sed -n 's/.*group \([0-9]*\) .*/\1/p' <<< "$where")
[ -n "$shard" ] && [ -n "$group" ] || cl_die "no shard or group for key1: $where"
other=$((3 - group))
cl_zkv ctrl move "$shard" "$other" > /dev/null || cl_die "ctrl move $shard $other"
cl_wait_until 20 "the monitor key to hear an event" test -s "$CL_DIR/w.monitor"
wait "$w1" || cl_die "zkv watch with the monitor key failed: $(cat "$CL_DIR/w.monitor")"
sleep 1
kill "$w2" "$w3" 2> /dev/null || true
wait "$w2" "$w3" 2> /dev/null || true
grep -q '"topic"' "$CL_DIR/w.stranger" && cl_die "a stranger heard events: $(head -c 300 "$CL_DIR/w.stranger")"
grep -q '"topic"' "$CL_DIR/w.plain" && cl_die "a plain subscriber heard events: $(head -c 300 "$CL_DIR/w.plain")"
cl_log "only the monitor key heard the shard move"

# A monitor key reads status and configurations, and may not write.
"$ZKV" --config "$cfg" --key "$certs/monitor.cert" --timeout 3000 status > /dev/null ||
    cl_die "zkv status with the monitor key"
"$ZKV" --config "$cfg" --key "$certs/monitor.cert" --timeout 3000 ctrl query > /dev/null ||
    cl_die "zkv ctrl query with the monitor key"
rc=0
out=$("$ZKV" --config "$cfg" --key "$certs/monitor.cert" --timeout 3000 put key1 forged 2>&1) || rc=$?
[ $rc -eq 1 ] && grep -q denied <<< "$out" || cl_die "a write with the monitor key: exit $rc, '$out'"
[ "$(cl_zkv get key1)" = value1 ] || cl_die "key1 changed"
cl_log "the monitor key reads and is denied a write ($out)"

# An insider who lies: node 2's key, claiming to be node 3.
term_of () { cl_status_field "$1" 1 term; }
before=$(term_of 1)
[ -n "$before" ] && [ "$before" != - ] || cl_die "no term of group 1 on node 1"
"$ZKV_PEER_FORGE" --cert "$certs/node2.cert" --server-key "$(cl_node_key 1)" --claim 3 --to 1 \
    --group 1 --term 1000000 --count 30 "$(cl_peer_ep 1)"
forged_counted () { grep -q "says it is from node 3 but came over node 2's connection" "$CL_DIR/node1.log"; }
cl_wait_until 10 "node 1 to count the forged heartbeats" forged_counted
after=$(term_of 1)
[ "$after" -lt 1000000 ] || cl_die "node 1's term went from $before to $after on heartbeats forged as node 3"
cl_log "heartbeats forged as node 3 over node 2's key were dropped (term $before -> $after)"
# An insider who is wrong: node 2 itself, a term of 2^64 - 1 (which would leave no term to
# campaign in), past /cluster/max_term_jump: dropped. Then, over the same connection (taken in
# order), heartbeats within the jump, which node 1 believes (the control: node 2's key is
# trusted for itself): its term then shows 500000, which it could not had it taken 2^64 - 1.
"$ZKV_PEER_FORGE" --cert "$certs/node2.cert" --server-key "$(cl_node_key 1)" --claim 2 --to 1 \
    --group 1 --term 18446744073709551615 --count 10 --then-term 500000 --then-count 5 \
    "$(cl_peer_ep 1)"
moved () { t=$(term_of 1); [ "$t" != - ] && [ "$t" -ge 500000 ]; }
cl_wait_until 10 "node 1 to believe heartbeats from node 2's key (term now $(term_of 1))" moved
after=$(term_of 1)
# Node 2 sends nothing more at term 500000, so node 1 may campaign at once: a term or a few
# past it. 2^64 - 1 is far out of that range (and reads as negative in the shell's arithmetic).
[ ${#after} -le 7 ] && [ "$after" -ge 500000 ] && [ "$after" -lt 500100 ] ||
    cl_die "node 1's term is $after: it took node 2's term 2^64-1"
cl_log "node 2's heartbeats of term 2^64-1 were refused, its term 500000 taken (the check can fail)"

cl_wait_leaders 30
for k in 1 2 3 4 5 6 7 8; do
    [ "$(cl_zkv --timeout 10000 get "key$k")" = "value$k" ] || cl_die "key$k lost"
done
for i in 1 2 3; do cl_alive "$i" || cl_die "node $i died"; done
cl_pass
echo "1 passed, 0 failed"
