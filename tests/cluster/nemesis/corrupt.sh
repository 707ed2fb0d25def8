#!/bin/bash
# corrupt.sh: a node whose data directory is corrupt stops once, with one message that names the
# directory and says what to do, and an exit status (65) that tells a service manager not to
# restart it; the recovery the message gives works.
# On 3 nodes (loopback, CURVE) hosting the controller and shard groups 1 and 2: keys are
# written, node 3 is stopped and its database damaged (MANIFEST bytes, then a table's bytes in a
# second round); zkvd on it must exit 65 within 15 s with exactly one error line, which names
# the directory and the way out. Each time the way out is taken: the directory moved away, node 3
# started with --rejoin takes every group's state from its leader (the leaders' logs still hold
# everything: a plain start would not do, as a leader believes what the node acknowledged
# before), and at the end every key reads back. --rejoin on a directory with data is refused.
#
#     ZKV_BUILD=build corrupt.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export CL_GROUPS="0:1,2,3 1:1,2,3 2:1,2,3"
export CL_SECURITY=curve
export CL_WAITABLE=1
# shellcheck source=../lib/cluster.sh
source "$here/../lib/cluster.sh"
cl_init 3 lo
cl_start_all
cl_wait_leaders 30
data=$CL_DIR/data3

for k in $(seq 1 40); do
    cl_zkv --timeout 5000 put "key$k" "value$k-$(head -c 600 /dev/zero | tr '\0' x)" > /dev/null ||
        cl_die "put key$k"
done
cl_wait_until 30 "every member to apply every write" cl_converged

# damage KIND: overwrites bytes inside one file of node 3's stopped database.
damage () {
    local f
    case $1 in
    manifest) f=$(ls "$data"/MANIFEST-* | head -1) ;;
    table) f=$(ls -S "$data"/*.ldb 2> /dev/null | head -1) ;;
    esac
    [ -n "$f" ] && [ -s "$f" ] || cl_die "no $1 file to damage in $data: $(ls "$data")"
    printf 'zkv-corrupt-test-zkv-corrupt-test-zkv-corrupt-test' |
        dd of="$f" bs=1 seek=$(($(stat -c %s "$f") / 3)) conv=notrunc 2> /dev/null
    cl_log "damaged $(basename "$f") ($1)"
}

# zkvd's error lines (util/zkv_log.h; CZMQ's "E:" for the actors that still log through it).
error_re='^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z error |E: )'

# refused KIND: node 3 on a database with damaged KIND exits 65 with one error line.
refused () {
    cl_kill 3 TERM
    cl_wait_gone "$(cl_pid 3)" 15 || cl_die "node 3 did not stop"
    rm -f "$CL_DIR/node3.pid"
    # A table exists only once LevelDB compacted its write-ahead log into one: a copy of the
    # database then holds tables whatever the workload left.
    [ "$1" != table ] || ls "$data"/*.ldb > /dev/null 2>&1 ||
        cl_die "node 3's database has no table file to damage: $(ls "$data")"
    damage "$1"
    local log=$CL_DIR/node3.$1.log rc=0
    timeout -s KILL 15 "$ZKVD" --config "$CL_DIR/cluster.cfg" --node 3 --foreground > "$log" 2>&1 ||
        rc=$?
    [ $rc -eq 65 ] || cl_die "zkvd on a database with a damaged $1 exited $rc (not 65): $(cat "$log")"
    local errors
    errors=$(grep -cE "$error_re" "$log" || true)
    [ "$errors" = 1 ] || cl_die "$errors error lines (not 1) for a damaged $1: $(cat "$log")"
    grep -E "$error_re" "$log" | grep -q "the data directory $data is corrupt" ||
        cl_die "the message does not name $data: $(grep -E "$error_re" "$log")"
    grep -E "$error_re" "$log" | grep -q "move it away" || cl_die "the message says nothing to do: $(grep -E "$error_re" "$log")"
    # ... and which file: the MANIFEST LevelDB could not recover, or a table.
    local file="MANIFEST-"
    [ "$1" != table ] || file="a table file"
    grep -E "$error_re" "$log" | grep -q "$file" || cl_die "the message does not name the file ($file): $(grep -E "$error_re" "$log")"
    cl_log "a damaged $1: exit 65, one line: $(grep -E "$error_re" "$log" | cut -c1-160)..."
}

refused manifest
# The way out, as the message says: move the directory away, start the node with --rejoin.
mv "$data" "$data.corrupt1"
CL_NODE_ARGS=--rejoin cl_start 3
cl_wait_until 60 "node 3, rejoining, to catch up in every group" cl_converged
# --rejoin on a directory that holds data is refused (exit 2), and nothing is changed.
cl_kill 3 TERM
cl_wait_gone "$(cl_pid 3)" 15 || cl_die "node 3 did not stop"
rm -f "$CL_DIR/node3.pid"
rc=0
timeout -s KILL 15 "$ZKVD" --config "$CL_DIR/cluster.cfg" --node 3 --foreground --rejoin \
    > "$CL_DIR/node3.rejoin.log" 2>&1 || rc=$?
[ $rc -eq 2 ] && grep -q "rejoin is for a node whose data is lost" "$CL_DIR/node3.rejoin.log" ||
    cl_die "--rejoin on a full directory: exit $rc, $(cat "$CL_DIR/node3.rejoin.log")"
cl_start 3
cl_wait_until 30 "node 3 to serve again" cl_converged
# More writes, so that node 3's database holds tables (LevelDB writes one when its memtable
# fills, 4 MB, or when it opens a large write-ahead log).
for k in $(seq 41 140); do
    cl_zkv --timeout 5000 put "key$k" "value$k-$(head -c 60000 /dev/zero | tr '\0' y)" > /dev/null ||
        cl_die "put key$k"
done
cl_wait_until 30 "every member to apply every write" cl_converged
cl_kill 3 TERM
cl_wait_gone "$(cl_pid 3)" 15 || cl_die "node 3 did not stop"
rm -f "$CL_DIR/node3.pid"
cl_start 3 # opening it turns its write-ahead log into a table
cl_wait_until 30 "node 3 to serve again" cl_converged
refused table

mv "$data" "$data.corrupt2"
CL_NODE_ARGS=--rejoin cl_start 3
cl_wait_until 60 "node 3, rejoining, to catch up in every group" cl_converged
for k in $(seq 1 140); do
    v=$(cl_zkv --timeout 10000 get "key$k") || cl_die "get key$k"
    case $v in "value$k-"*) ;; *) cl_die "key$k reads '${v:0:40}'" ;; esac
done
for i in 1 2 3; do cl_alive "$i" || cl_die "node $i died"; done
cl_log "node 3 rejoined twice: every group converged, 140 keys read back"
cl_pass
echo "1 passed, 0 failed"
