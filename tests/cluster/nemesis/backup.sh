#!/bin/bash
# backup.sh: `zkv snapshot save` under load, `zkvd --restore` into a fresh cluster elsewhere;
# every write acknowledged before the save began must be in the restored cluster.
#
#     ZKV_BUILD=build backup.sh [--seconds 20] [--stale]
#
# A cluster of 3 nodes (the shard controller and two shard groups, CURVE) first moves a shard
# slowly while a save runs (the save must wait until the move ends); then it runs
# `zkv bench --history H` (puts, appends and gets on a few keys); a few seconds in,
# `zkv snapshot save FILE --json` copies the cluster and prints when it began and ended on the
# bench's clock. The old cluster stops. A new one (other ports, data directories and node
# keys, the same node ids and groups) starts with every node `--restore FILE`. Then:
#   - every key the bench used is read from the new cluster, and each read is added to the
#     history as a get that ran while the save ran (began..ended): `zkv-lincheck` must find the
#     whole history linearizable. A write acknowledged before the save began must be there
#     (with its value, or a later one of a write that overlapped the save); one that began
#     after it ended must not be;
#   - the restored controller gives the nodes their new endpoints (the restore's Nodes entry);
#   - the new cluster serves writes;
#   - a monitor key's save is refused;
#   - zkvd --restore refuses, with a clear message, exit 2 and nothing written: a damaged
#     file, a file that is no backup, a cut one, a config file of another shape, and a data
#     directory that holds data.
# --stale restores a copy saved BEFORE the bench instead (a save that misses data): the test
# must then fail, saying acknowledged writes are missing (cluster.backup_detects_loss).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
seconds=20
stale=0
while [ $# -gt 0 ]; do
    case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --stale) stale=1; shift ;;
    *) echo "usage: $0 [--seconds N] [--stale]" >&2; exit 2 ;;
    esac
done
# shellcheck source=../lib/cluster.sh
source "$here/../lib/cluster.sh"
cl_need "$ZKV_LINCHECK"
[ "$seconds" -ge 8 ] || cl_die "--seconds must be at least 8"

CL_GROUPS="0:1,2,3 1:1,2,3 2:1,2,3"
cl_init 3 lo
# Shards move slowly here (100 bytes/s): a save must wait for a move to end (the new cluster's
# config is written afresh, without it).
sed -i 's/^\( *shards = 16\)$/\1\n    shard_move_bytes_per_sec = 100/' "$CL_DIR/cluster.cfg"
grep -q "shard_move_bytes_per_sec = 100" "$CL_DIR/cluster.cfg" || cl_die "could not slow shard moves"
cl_start_all
cl_wait_leaders 30

# A save while a shard moves: it waits until the move ends, then holds the shard where the
# controller says it is; the keys written before are read back from the restored cluster.
for ((k = 0; k < 80; k++)); do
    cl_zkv put "m$k" "moved-$k-$(printf '%0150d' "$k")" > /dev/null || cl_die "put m$k failed"
done
read -r shard group < <(cl_zkv ctrl shard m1 | sed -n 's/^m1: shard \([0-9]*\), group \([0-9]*\).*/\1 \2/p')
[ -n "$shard" ] || cl_die "zkv ctrl shard m1 said nothing"
cl_zkv ctrl move "$shard" $((3 - group)) > /dev/null || cl_die "zkv ctrl move $shard failed"
cl_log "shard $shard (of key m1) moves from group $group to group $((3 - group)) at 100 bytes/s; saving"
cl_zkv --timeout 10000 snapshot save "$CL_DIR/moving.zkvb" --json > "$CL_DIR/moving.json" \
    2> "$CL_DIR/moving.err" || cl_die "the save during a move failed: $(cat "$CL_DIR/moving.err")"
# Whether the save saw the move depends on when the groups learn the new configuration (they
# poll the controller): seen, it says "saving again"; either way, what it holds is checked
# below (every key written before the move reads back from the restored cluster).
if grep -q "saving again" "$CL_DIR/moving.err"; then
    cl_log "the save waited for the moving shard"
else
    cl_log "the save began before the groups started the move (it did not have to wait)"
fi

backup=$CL_DIR/cluster.zkvb
history=$CL_DIR/H.jsonl
if [ $stale = 1 ]; then
    cl_zkv snapshot save "$CL_DIR/early.zkvb" > /dev/null || cl_die "the early save failed"
    cl_log "--stale: saved a copy before any write, to restore in place of the real one"
fi

# The load: 8 clients on 12 keys for $seconds, recording the history.
cl_zkv --timeout 2000 bench --clients 8 --seconds "$seconds" --keys 12 --mix 20:40:40 \
    --history "$history" > "$CL_DIR/bench.out" 2> "$CL_DIR/bench.err" &
bench=$!
sleep_until=$((SECONDS + seconds / 3))
while [ $SECONDS -lt $sleep_until ]; do sleep 0.2; done
kill -0 "$bench" 2> /dev/null || cl_die "zkv bench ended early: $(tail -n 3 "$CL_DIR/bench.err")"

cl_log "saving under load"
cl_zkv --timeout 10000 snapshot save "$backup" --json > "$CL_DIR/save.json" 2> "$CL_DIR/save.err" ||
    cl_die "zkv snapshot save failed: $(cat "$CL_DIR/save.err")"
cat "$CL_DIR/save.json"
began=$(sed -n 's/.*"began_ns": \([0-9]*\).*/\1/p' "$CL_DIR/save.json")
ended=$(sed -n 's/.*"ended_ns": \([0-9]*\).*/\1/p' "$CL_DIR/save.json")
[ -n "$began" ] && [ -n "$ended" ] || cl_die "zkv snapshot save --json gave no began_ns / ended_ns"
cl_zkv snapshot info "$backup" || cl_die "zkv snapshot info refused the file just saved"
# A monitor key reads status, not data: its save is refused, and writes no file.
rc=0
out=$(cl_zkv --key "$CL_DIR/certs/monitor.cert" snapshot save "$CL_DIR/monitor.zkvb" 2>&1) || rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "monitor key may not save" && [ ! -e "$CL_DIR/monitor.zkvb" ] ||
    cl_die "a monitor key's save: exit $rc, file $(ls "$CL_DIR"/monitor.zkvb* 2> /dev/null), said: $out"
cl_log "refused a monitor key's save: $(echo "$out" | tail -n 1)"
# The bench goes on after the save: writes the backup must not hold.
deadline=$((SECONDS + seconds + 60))
while kill -0 "$bench" 2> /dev/null; do
    [ $SECONDS -lt $deadline ] || cl_die "zkv bench did not finish"
    sleep 0.2
done
wait "$bench" || cl_die "zkv bench failed: $(tail -n 5 "$CL_DIR/bench.err")"
acked_before=$(awk -v b="$began" '/"type": *"ok"/ && !/"f": *"get"/ {
        t = $0; sub(/.*"time": */, "", t); sub(/[^0-9].*/, "", t); if (t + 0 < b + 0) n++ }
    END { print n + 0 }' "$history")
acked_after=$(awk -v e="$ended" '/"type": *"ok"/ && !/"f": *"get"/ {
        t = $0; sub(/.*"time": */, "", t); sub(/[^0-9].*/, "", t); if (t + 0 > e + 0) n++ }
    END { print n + 0 }' "$history")
cl_log "writes acknowledged before the save began: $acked_before; after it ended: $acked_after"
[ "$acked_before" -gt 0 ] || cl_die "no write was acknowledged before the save: nothing to check"
[ $stale = 0 ] || cp "$CL_DIR/early.zkvb" "$backup"

# ---- the old cluster stops; a new one, elsewhere, from the file ---------------------------------

# stop I: SIGTERM to node I, and wait until it is gone (its database closed).
stop () {
    local pid
    pid=$(cl_pid "$1")
    cl_kill "$1" TERM
    cl_wait_gone "$pid" 10 || cl_die "node $1 did not stop within 10 s of SIGTERM"
    rm -f "$CL_DIR/node$1.pid"
}
old_base=$CL_BASE
for ((i = 1; i <= CL_N; i++)); do stop "$i"; done
[ -z "$CL_WATCH_PID" ] || kill "$CL_WATCH_PID" 2> /dev/null || true
CL_WATCH_PID=
mkdir "$CL_DIR/old"
mv "$CL_DIR/cluster.cfg" "$CL_DIR/certs" "$CL_DIR"/data* "$CL_DIR"/node*.log "$CL_DIR/events.jsonl" \
    "$CL_DIR/old/"
while cl_pick_ports && [ "$CL_BASE" = "$old_base" ]; do :; done
cl_keys
cl_write_config > "$CL_DIR/cluster.cfg"
cl_log "new cluster: ports from $CL_BASE (the old one's from $old_base), new node keys"

# zkvd --restore, by hand, on node 1 of the new cluster: exit 2, the message, nothing written.
refused () {
    local what=$1 file=$2 cfg=$3 pattern=$4 rc=0 out
    out=$(timeout -s KILL 30 "$ZKVD" --config "$cfg" --node 1 --foreground --restore "$file" 2>&1) || rc=$?
    [ $rc = 2 ] || cl_die "zkvd --restore of $what: exit $rc, not 2: $out"
    echo "$out" | grep -qi -- "$pattern" || cl_die "zkvd --restore of $what: no '$pattern' in: $out"
    [ ! -e "$CL_DIR/data1" ] || [ -z "$(ls -A "$CL_DIR/data1")" ] ||
        cl_die "zkvd --restore of $what wrote into $CL_DIR/data1"
    cl_log "refused $what: $(echo "$out" | tail -n 1)"
}
size=$(stat -c %s "$backup")
cp "$backup" "$CL_DIR/damaged.zkvb"
printf '\xff' | dd of="$CL_DIR/damaged.zkvb" bs=1 seek=$((size / 2)) conv=notrunc status=none
refused "a damaged file" "$CL_DIR/damaged.zkvb" "$CL_DIR/cluster.cfg" "damaged"
head -c $((size - 7)) "$backup" > "$CL_DIR/cut.zkvb"
refused "a cut file" "$CL_DIR/cut.zkvb" "$CL_DIR/cluster.cfg" "damaged"
refused "a file that is no backup" "$CL_DIR/cluster.cfg" "$CL_DIR/cluster.cfg" "not a zkv backup"
sed 's/^\( *shards = \).*/\18/' "$CL_DIR/cluster.cfg" > "$CL_DIR/other-shape.cfg"
refused "another cluster shape" "$backup" "$CL_DIR/other-shape.cfg" "8 shards\|shards must match"

CL_NODE_ARGS="--restore $backup" cl_start_all
cl_wait_leaders 30
grep -h "restored from" "$CL_DIR"/node*.log | head -n 3 >&2 || true

# Every key the bench used, read from the restored cluster: gets that ran during the save.
keys=$(sed -n 's/.*"key": *"\([^"]*\)".*/\1/p' "$history" | sort -u)
nkeys=$(echo "$keys" | grep -c .)
checked=$CL_DIR/H-restored.jsonl
cp "$history" "$checked"
p=1000000
for key in $keys; do
    rc=0
    val=$(cl_zkv --timeout 10000 get "$key" 2> "$CL_DIR/get.err") || rc=$?
    # A missing key: zkv get exits 4 ("not found"), and the history reads null.
    json=null
    if [ $rc = 4 ]; then
        val=
    elif [ $rc != 0 ]; then
        cl_die "get $key from the restored cluster: $(cat "$CL_DIR/get.err")"
    else
        json="\"$(printf '%s' "$val" | sed 's/\\/\\\\/g; s/"/\\"/g')\""
    fi
    p=$((p + 1))
    printf '{"process": %d, "type": "invoke", "f": "get", "key": "%s", "value": null, "time": %s}\n' \
        "$p" "$key" "$began" >> "$checked"
    printf '{"process": %d, "type": "ok", "f": "get", "key": "%s", "value": %s, "time": %s}\n' \
        "$p" "$key" "$json" "$ended" >> "$checked"
done
cl_log "read $nkeys keys from the restored cluster"
# The keys written before the move, the moved shard's among them.
for ((k = 0; k < 80; k++)); do
    got=$(cl_zkv_maybe --timeout 10000 get "m$k") || cl_die "get m$k from the restored cluster failed"
    [ "$got" = "moved-$k-$(printf '%0150d' "$k")" ] ||
        cl_die "acknowledged writes missing from the restored cluster: m$k holds '$got'"
done
cl_log "the 80 keys written before the shard move are there"
if ! "$ZKV_LINCHECK" "$checked" > "$CL_DIR/lincheck.out" 2>&1; then
    cat "$CL_DIR/lincheck.out" >&2
    cl_die "acknowledged writes missing from the restored cluster (or writes that came after the save): its state is no copy of the cluster during the save"
fi
cat "$CL_DIR/lincheck.out"

# The controller gives the nodes where they are now: a configuration after the saved one, with
# the new client endpoints.
config=$(sed -n 's/.*"config": \([0-9]*\).*/\1/p' "$CL_DIR/save.json")
new_config () {
    local q
    q=$(cl_zkv ctrl query --json) || return 1
    echo "$q" | grep -q "\"num\":$((config + 1))," || return 1
    echo "$q" | grep -qF "\"client\":\"$(cl_client_ep 1)\""
}
cl_wait_until 30 "configuration $((config + 1)) naming the new endpoints" new_config
cl_log "configuration $((config + 1)) names the nodes' new endpoints"

cl_zkv put after-restore yes > /dev/null || cl_die "the restored cluster does not take a write"
[ "$(cl_zkv get after-restore)" = yes ] || cl_die "the restored cluster lost a write"

# A restore into a directory that holds data is refused.
stop 1
out=$(timeout -s KILL 30 "$ZKVD" --config "$CL_DIR/cluster.cfg" --node 1 --foreground --restore "$backup" 2>&1) && rc=0 || rc=$?
[ $rc = 2 ] || cl_die "zkvd --restore into a directory with data: exit $rc, not 2: $out"
echo "$out" | grep -q "already holds data" || cl_die "zkvd --restore into a directory with data said: $out"
cl_log "refused a data directory that holds data: $(echo "$out" | grep "already holds data" | head -n 1)"
cl_start 1
cl_wait_leaders 30
[ "$(cl_zkv get after-restore)" = yes ] || cl_die "node 1 lost its data to a refused restore"

cl_log "every write acknowledged before the save is in the restored cluster ($acked_before before it, $nkeys keys)"
cl_pass
echo "1 passed, 0 failed"
