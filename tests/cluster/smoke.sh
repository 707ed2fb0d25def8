#!/bin/bash
# Cluster smoke test: 3 real zkvd on loopback. Elect, serve puts / gets / appends, lose the
# leader to SIGKILL (nothing acknowledged may be lost, a new leader must serve), restart it,
# then SIGTERM everyone: each must exit 0 and leave no process behind.
#
#     smoke.sh ZKVD SMOKE_CLIENT ZKV
#
# Requests go through smoke_client (its own minimal client); what the test knows of the
# cluster's state it learns as a user would, with the zkv CLI: leaders and indexes from
# `zkv status --json`, elections, snapshots and stops from `zkv watch --json` (one watcher for
# all nodes, started first), read by lib/cluster.sh. The node logs are read only for the errors
# a node must report (a bad config, a second process, malformed input).
set -u
here=$(cd "$(dirname "$0")" && pwd)
zkvd=$1
client=$2
ZKV=$3
# shellcheck source=lib/cluster.sh
source "$here/lib/cluster.sh"
dir=$(mktemp -d /tmp/zkv-smoke.XXXXXX)
# Ports below 32768 (outside Linux's ephemeral range), spread by pid so parallel runs differ;
# the layout of lib/cluster.sh's loopback mode (peer base+I, client base+10+I, events base+20+I),
# so that its helpers find the nodes.
base=$((20000 + ($$ % 300) * 30))
CL_DIR=$dir CL_N=3 CL_MODE=lo CL_BASE=$base
pids=""
fail=0

cleanup () {
    local rc=$?
    for p in $pids $CL_WATCH_PID; do kill -9 "$p" 2>/dev/null; done
    if [ $fail -eq 0 ] && [ $rc -eq 0 ]; then rm -rf "$dir"; else echo "logs kept in $dir"; fi
}
trap cleanup EXIT

die () {
    fail=1
    echo "0 passed, 1 failed"
    cl_die "$*" # the nodes' logs and the last events, then exit 1
}

{
    echo "cluster"
    echo "    name = smoke"
    echo "    security = none               # plain text: raw garbage must reach the parsers"
    echo "    shards = 16"
    echo "    tick_ms = 10"
    echo "    election_ticks = 30"
    echo "    heartbeat_ticks = 3"
    echo "    snapshot_bytes = 65536"
    for i in 1 2 3; do
        echo "node"
        echo "    id = $i"
        echo "    peer = $(cl_peer_ep $i)"
        echo "    client = $(cl_client_ep $i)"
        echo "    events = tcp://127.0.0.1:$(cl_events_port $i)"
        echo "    data = $dir/data$i"
    done
    echo "group"
    echo "    id = 0"
    echo "    members = 1, 2, 3"
    echo "group"
    echo "    id = 1"
    echo "    members = 1, 2, 3"
} > "$dir/cluster.cfg"
eps="$(cl_client_ep 1),$(cl_client_ep 2),$(cl_client_ep 3)"

# A child of this shell (not disowned, unlike cl_start): its exit code is checked after SIGTERM.
start () {
    "$zkvd" --config "$dir/cluster.cfg" --node "$1" --foreground >> "$dir/node$1.log" 2>&1 &
    eval "pid$1=$!"
    echo $! > "$dir/node$1.pid"
    pids="$pids $!"
}

# Waits up to $2 tenths of a second for process $1 to end.
wait_gone () {
    n=0
    while kill -0 "$1" 2>/dev/null; do
        n=$((n + 1))
        [ $n -gt "$2" ] && return 1
        sleep 0.1
    done
    return 0
}

# A bad config and an unknown node are refused with a message, before anything starts.
"$zkvd" --config "$dir/cluster.cfg" --node 7 --foreground > "$dir/bad.out" 2>&1 && die "node 7 accepted"
grep -q "node 7 is not defined" "$dir/bad.out" || die "unknown node: $(cat "$dir/bad.out")"

sed 's/tick_ms = 10/tick_ms = 0/' "$dir/cluster.cfg" > "$dir/bad.cfg"
"$zkvd" --config "$dir/bad.cfg" --node 1 --foreground > "$dir/bad.out" 2>&1 && die "tick_ms 0 accepted"
grep -q "bad.cfg:[0-9]*: /cluster/tick_ms" "$dir/bad.out" || die "bad config: $(cat "$dir/bad.out")"

cl_watch_start
for i in 1 2 3; do start $i; done
cl_wait_watching 10
cl_wait_leaders 10
leader=$(cl_leader 1)
[ -n "$leader" ] || die "no leader of group 1"
echo "leader of group 1: node $leader"

# A second process for a running node is refused (its database is locked), and exits.
"$zkvd" --config "$dir/cluster.cfg" --node 1 --foreground > "$dir/twice.out" 2>&1 &&
    die "a second node 1 started"
grep -q "cannot open the database" "$dir/twice.out" || die "node 1 twice: $(cat "$dir/twice.out")"

# Hostile bytes on the peer and client endpoints are counted and logged, never fatal.
"$client" - garbage "$(cl_peer_ep 1)"
"$client" - garbage "$(cl_client_ep 1)"
cl_wait_until 10 "node 1 to log the malformed input" eval \
    "grep -q 'malformed peer message' '$dir/node1.log' &&
     grep -q 'another protocol version' '$dir/node1.log' &&
     grep -q 'malformed client message' '$dir/node1.log'"
"$client" "$eps" put greeting hello || die "put"
[ "$("$client" "$eps" get greeting)" = "hello" ] || die "get after put"
"$client" "$eps" append greeting ", world" || die "append"
[ "$("$client" "$eps" get greeting)" = "hello, world" ] || die "get after append"
rc=0
"$client" "$eps" get missing > "$dir/missing.out" || rc=$?
[ $rc -eq 4 ] && [ ! -s "$dir/missing.out" ] || die "a missing key: exit $rc (not 4), '$(cat "$dir/missing.out")'"
"$client" "$eps" bench 2000 16 || die "bench"
"$client" "$eps" check 2000 || die "bench keys after bench"

# Transparent forwarding: a follower alone serves a client, relaying to the leader.
follower=$((leader % 3 + 1))
feps=$(cl_client_ep $follower)
"$client" "$feps" put forwarded via-$follower || die "put through follower $follower"
[ "$("$client" "$feps" get forwarded)" = "via-$follower" ] || die "get through follower $follower"

# Lose the leader without warning: every acknowledged write must survive. The survivors elect
# a new leader of group 1, and the follower publishes that it learned it. (The leader is read
# again, after the mark: it may have changed since the start, and the events of any election
# from here on count.)
mark=$(cl_event_mark)
current_leader () {
    leader=$(cl_leader 1)
    [ -n "$leader" ]
}
cl_wait_until 10 "a leader of group 1 before the kill" current_leader
follower=$((leader % 3 + 1))
echo "leader of group 1 before the kill: node $leader"
eval "victim=\$pid$leader"
disown "$victim" # no "Killed" notice
kill -9 "$victim"
wait_gone "$victim" 50 || die "SIGKILL did not stop node $leader"
pids=$(echo "$pids" | sed "s/ $victim\b//")
rm -f "$dir/node$leader.pid"
new_leader () {
    new=$(cl_leader 1)
    [ -n "$new" ] && [ "$new" != "$leader" ]
}
cl_wait_until 10 "a new leader of group 1 after killing node $leader" new_leader
echo "new leader of group 1: node $new"
cl_next_event 15 "$mark" zkv.raft.leader node=$follower group=1 leader=$new ||
    die "no zkv.raft.leader event from node $follower naming node $new"
# Through all three endpoints: the client must find its way past the dead one.
[ "$("$client" "$eps" get greeting)" = "hello, world" ] || die "acknowledged write lost"
"$client" "$eps" check 2000 || die "bench keys after the leader died"
"$client" "$eps" put after-failover yes || die "put after failover"

# Enough writes while it is down that the others compact their logs past what it holds:
# it must come back through InstallSnapshot.
"$client" "$eps" bench 3000 16 || die "bench while node $leader is down"

# The old leader comes back and catches up. The watcher must hear its first events: the node
# is held (SIGSTOP) from the moment its event port listens until the watcher is connected.
mark=$(cl_event_mark)
start "$leader"
cl_hold_until_watched "$leader" "$(cl_pid "$leader")"
"$client" "$eps" put after-restart yes || die "put after restart"
target=$(cl_status_field "$new" 1 commit)
[ -n "$target" ] && [ "$target" != - ] || die "no status of group 1 from its leader, node $new"
caught_up () {
    cl_status 500 | awk -v n="$leader" -v l="$new" -v t="$target" '
        $1 == n && $2 == 1 { ok = ($5 == l && $7 ~ /^[0-9]+$/ && $7 + 0 >= t + 0 && $7 + 0 < 1e18) }
        END { exit !ok }'
}
cl_wait_until 10 "node $leader to catch up with node $new (group 1 applied through $target)" caught_up
cl_zkv status
cl_next_event 5 "$mark" zkv.raft.snapshot.installed node=$leader group=1 ||
    die "node $leader caught up without InstallSnapshot (no zkv.raft.snapshot.installed)"
"$client" "$(cl_client_ep $leader)" check 3000 || die "bench keys on node $leader"

# Clean stop: SIGTERM, exit code 0, nothing left running; every node publishes zkv.node.stopping.
"$client" "$eps" put before-stop yes || die "put before stop"
mark=$(cl_event_mark)
for p in $pids; do kill -TERM "$p"; done
for p in $pids; do
    wait_gone "$p" 100 || die "process $p ignored SIGTERM for 10 s"
    wait "$p"
    rc=$?
    [ $rc -eq 0 ] || die "process $p exited $rc after SIGTERM"
done
pids=""
for i in 1 2 3; do
    cl_next_event 15 "$mark" zkv.node.stopping node=$i > /dev/null ||
        die "no zkv.node.stopping event from node $i"
done
cl_events "$mark" zkv.node.stopping
kill "$CL_WATCH_PID"
cl_wait_gone "$CL_WATCH_PID" 10 || die "the event watcher ignored SIGTERM"
pgrep -f "$dir/cluster.cfg" > /dev/null && die "stray zkvd processes"
echo "1 passed, 0 failed"
