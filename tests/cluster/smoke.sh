#!/bin/sh
# Cluster smoke test: 3 real zkvd on loopback. Elect, serve puts / gets / appends, lose the
# leader to SIGKILL (nothing acknowledged may be lost, a new leader must serve), restart it,
# then SIGTERM everyone: each must exit 0 and leave no process behind.
#
#     smoke.sh ZKVD SMOKE_CLIENT
set -u
zkvd=$1
client=$2
dir=$(mktemp -d /tmp/zkv-smoke.XXXXXX)
# Ports below 32768 (outside Linux's ephemeral range), spread by pid so parallel runs differ.
base=$((20000 + ($$ % 300) * 30))
pids=""
fail=0

cleanup () {
    for p in $pids; do kill -9 "$p" 2>/dev/null; done
    if [ $fail -eq 0 ]; then rm -rf "$dir"; else echo "logs kept in $dir"; fi
}
trap cleanup EXIT

die () {
    echo "FAIL: $*"
    for i in 1 2 3; do echo "--- node $i log (tail)"; tail -n 20 "$dir/node$i.log"; done
    fail=1
    echo "0 passed, 1 failed"
    exit 1
}

{
    echo "cluster"
    echo "    name = smoke"
    echo "    shards = 16"
    echo "    tick_ms = 10"
    echo "    election_ticks = 30"
    echo "    heartbeat_ticks = 3"
    echo "    snapshot_bytes = 65536"
    for i in 1 2 3; do
        echo "node"
        echo "    id = $i"
        echo "    peer = tcp://127.0.0.1:$((base + i))"
        echo "    client = tcp://127.0.0.1:$((base + 10 + i))"
        echo "    events = tcp://127.0.0.1:$((base + 20 + i))"
        echo "    data = $dir/data$i"
    done
    echo "group"
    echo "    id = 0"
    echo "    members = 1, 2, 3"
    echo "group"
    echo "    id = 1"
    echo "    members = 1, 2, 3"
} > "$dir/cluster.cfg"
eps="tcp://127.0.0.1:$((base + 11)),tcp://127.0.0.1:$((base + 12)),tcp://127.0.0.1:$((base + 13))"

start () {
    "$zkvd" --config "$dir/cluster.cfg" --node "$1" --foreground >> "$dir/node$1.log" 2>&1 &
    eval "pid$1=$!"
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

for i in 1 2 3; do start $i; done

leader=$("$client" "$eps" leader 1 10000) || die "no leader of group 1 within 10 s"
echo "leader of group 1: node $leader"

# A second process for a running node is refused (its database is locked), and exits.
"$zkvd" --config "$dir/cluster.cfg" --node 1 --foreground > "$dir/twice.out" 2>&1 &&
    die "a second node 1 started"
grep -q "cannot open the database" "$dir/twice.out" || die "node 1 twice: $(cat "$dir/twice.out")"

# Hostile bytes on the peer and client endpoints are counted and logged, never fatal.
"$client" - garbage "tcp://127.0.0.1:$((base + 1))"
"$client" - garbage "tcp://127.0.0.1:$((base + 11))"
n=0
until grep -q "malformed peer message" "$dir/node1.log" &&
      grep -q "another protocol version" "$dir/node1.log" &&
      grep -q "malformed client message" "$dir/node1.log"; do
    n=$((n + 1)); [ $n -gt 100 ] && die "node 1 did not log the malformed input"
    sleep 0.1
done
"$client" "$eps" put greeting hello || die "put"
[ "$("$client" "$eps" get greeting)" = "hello" ] || die "get after put"
"$client" "$eps" append greeting ", world" || die "append"
[ "$("$client" "$eps" get greeting)" = "hello, world" ] || die "get after append"
[ "$("$client" "$eps" get missing)" = "" ] || die "a missing key reads empty"
"$client" "$eps" bench 2000 16 || die "bench"
"$client" "$eps" check 2000 || die "bench keys after bench"

# Transparent forwarding: a follower alone serves a client, relaying to the leader.
follower=$((leader % 3 + 1))
feps="tcp://127.0.0.1:$((base + 10 + follower))"
"$client" "$feps" put forwarded via-$follower || die "put through follower $follower"
[ "$("$client" "$feps" get forwarded)" = "via-$follower" ] || die "get through follower $follower"

# Lose the leader without warning: every acknowledged write must survive. The survivors
# publish the election.
"$client" - watch "tcp://127.0.0.1:$((base + 20 + follower))" zkv.raft.leader 15000 \
    > "$dir/leader.event" &
watcher=$!
eval "victim=\$pid$leader"
kill -9 "$victim"
wait_gone "$victim" 50 || die "SIGKILL did not stop node $leader"
wait "$victim" 2>/dev/null
pids=$(echo "$pids" | sed "s/ $victim\b//")
eps2=""
for i in 1 2 3; do
    [ "$i" = "$leader" ] || eps2="$eps2${eps2:+,}tcp://127.0.0.1:$((base + 10 + i))"
done
new=$("$client" "$eps2" leader 1 10000 "$leader") || die "no new leader after killing node $leader"
[ "$new" != "$leader" ] || die "the dead node is still leader"
echo "new leader of group 1: node $new"
wait $watcher || die "no zkv.raft.leader event from node $follower"
cat "$dir/leader.event"
# Through all three endpoints: the client must find its way past the dead one.
[ "$("$client" "$eps" get greeting)" = "hello, world" ] || die "acknowledged write lost"
"$client" "$eps" check 2000 || die "bench keys after the leader died"
"$client" "$eps" put after-failover yes || die "put after failover"

# Enough writes while it is down that the others compact their logs past what it holds:
# it must come back through InstallSnapshot.
"$client" "$eps" bench 3000 16 || die "bench while node $leader is down"

# The old leader comes back and catches up.
start "$leader"
"$client" "$eps" put after-restart yes || die "put after restart"
target=$("$client" "tcp://127.0.0.1:$((base + 10 + new))" status | awk '/group 1 / { print $12 }')
n=0
until "$client" "tcp://127.0.0.1:$((base + 10 + leader))" status 2>/dev/null |
      awk -v l="$new" -v t="$target" '/group 1 / { ok = ($10 == l && $14 >= t) } END { exit !ok }'; do
    n=$((n + 1)); [ $n -gt 100 ] && die "node $leader did not catch up"
    sleep 0.1
done
"$client" "$eps" status
grep -q "group 1: installed a snapshot" "$dir/node$leader.log" ||
    die "node $leader caught up without InstallSnapshot"
"$client" "tcp://127.0.0.1:$((base + 10 + leader))" check 3000 || die "bench keys on node $leader"

# Clean stop: SIGTERM, exit code 0, nothing left running; zkv.node.stopping is published.
"$client" - watch "tcp://127.0.0.1:$((base + 20 + new))" zkv.node.stopping 15000 \
    > "$dir/stopping.event" &
watcher=$!
"$client" "$eps" put before-stop yes || die "put before stop"
for p in $pids; do kill -TERM "$p"; done
for p in $pids; do
    wait_gone "$p" 100 || die "process $p ignored SIGTERM for 10 s"
    wait "$p"
    rc=$?
    [ $rc -eq 0 ] || die "process $p exited $rc after SIGTERM"
done
pids=""
wait $watcher || die "no zkv.node.stopping event from node $new"
cat "$dir/stopping.event"
pgrep -f "$dir/cluster.cfg" > /dev/null && die "stray zkvd processes"
echo "1 passed, 0 failed"
