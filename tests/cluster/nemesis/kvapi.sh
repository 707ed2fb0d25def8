#!/bin/bash
# kvapi.sh: the KV API through the zkv CLI on real processes: found and not found are told
# apart (exit 4), delete, revisions that grow with every write, conditional writes (exit 5 when
# the condition fails, and nothing changes), the --json forms, the CLI's own refusals (an empty
# key never leaves the client), and a counter and a lock built from compare-and-set by
# concurrent processes: no increment lost, never two holders.
# On 3 nodes (loopback, CURVE) hosting the controller and shard groups 1 and 2.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export CL_GROUPS="0:1,2,3 1:1,2,3 2:1,2,3"
export CL_SECURITY=curve
# shellcheck source=../lib/cluster.sh
source "$here/../lib/cluster.sh"
cl_init 3 lo
cl_start_all
cl_wait_leaders 30

# expect CODE CMD...: runs the CLI, which must exit CODE; its stdout is in $out, stderr in $err.
expect () {
    local want=$1 rc=0
    shift
    out=$(cl_zkv --timeout 5000 "$@" 2> "$CL_DIR/err") || rc=$?
    err=$(cat "$CL_DIR/err")
    [ "$rc" -eq "$want" ] || cl_die "zkv $* exited $rc, not $want (stdout: $out; stderr: $err)"
}
# json_field FIELD: the field of the JSON object in $out.
json_field () {
    python3 -c 'import json,sys; v=json.loads(sys.argv[1])[sys.argv[2]]; print(json.dumps(v) if isinstance(v,bool) else v)' "$out" "$1"
}

cl_log "found and not found"
expect 4 get nokey
[ -z "$out" ] || cl_die "a get of a missing key printed '$out'"
grep -q "not found" <<< "$err" || cl_die "no 'not found' message: $err"
expect 0 put empty ""
expect 0 get empty
[ "$out" = "" ] || cl_die "an empty value read as '$out'"
cl_zkv get empty | od -c | grep -q '\\n' || cl_die "get prints no newline"
[ "$(cl_zkv get --raw empty | wc -c)" -eq 0 ] || cl_die "get --raw added bytes"
expect 4 get --json nokey2
[ "$(json_field found)" = false ] || cl_die "--json of a missing key: $out"

cl_log "revisions and delete"
expect 0 put --json k v1
r1=$(json_field revision)
expect 0 get --json k
[ "$(json_field value)" = v1 ] && [ "$(json_field revision)" = "$r1" ] ||
    cl_die "get --json after put (revision $r1): $out"
expect 0 append --json k +
r2=$(json_field revision)
[ "$r2" -gt "$r1" ] || cl_die "append's revision $r2 not above the put's $r1"
expect 0 delete --json k
[ "$(json_field revision)" -gt "$r2" ] || cl_die "delete's revision not above $r2: $out"
expect 4 get k
expect 0 delete --json k
[ "$(json_field revision)" = 0 ] || cl_die "deleting a missing key: $out"
expect 0 put --json k v3
r3=$(json_field revision)
[ "$r3" -gt "$r2" ] || cl_die "a key written again after a delete got revision $r3, not above $r2"

cl_log "conditional writes"
expect 5 put --if-revision "$r1" k stale
grep -q "compare failed" <<< "$err" || cl_die "no 'compare failed': $err"
expect 0 get k
[ "$out" = v3 ] || cl_die "a failed condition changed the value to '$out'"
expect 5 put --json --if-absent k x
[ "$(json_field applied)" = false ] && [ "$(json_field revision)" = "$r3" ] ||
    cl_die "--if-absent on an existing key: $out"
expect 0 put --json --if-revision "$r3" k v4
r4=$(json_field revision)
expect 5 cas k v3 v5
expect 0 cas k v4 v5
expect 0 get k
[ "$out" = v5 ] || cl_die "cas k v4 v5 left '$out'"
expect 0 put --if-absent fresh new
expect 5 delete --if-value other fresh
expect 0 delete --if-value new fresh
expect 4 get fresh
expect 5 cas nokey3 a b
expect 4 get nokey3

cl_log "refused by the CLI itself"
expect 2 put "" v
grep -q "empty key" <<< "$err" || cl_die "no 'empty key' message: $err"
expect 2 get ""
expect 2 put --if-revision abc k v

# A counter: P processes each add 1 N times with read / cas-on-revision retry loops; every
# increment that reported success is in the final count, exactly once.
P=3 N=8
cl_log "counter: $P processes x $N increments by compare-and-set"
expect 0 put counter 0
workers=()
for p in $(seq 1 $P); do
    (
        done_n=0
        while [ $done_n -lt $N ]; do
            got=$(cl_zkv --timeout 5000 get --json counter) || continue
            v=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["value"])' "$got")
            r=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["revision"])' "$got")
            rc=0
            cl_zkv --timeout 5000 put --if-revision "$r" counter $((v + 1)) 2> /dev/null || rc=$?
            case $rc in
            0) done_n=$((done_n + 1)) ;;
            5) ;; # another process won this round
            *) echo "increment outcome $rc" >&2; exit 1 ;;
            esac
        done
    ) &
    workers+=("$!")
done
wait_rc=0
for w in "${workers[@]}"; do wait "$w" || wait_rc=1; done
[ $wait_rc -eq 0 ] || cl_die "a counter process failed"
expect 0 get counter
[ "$out" -eq $((P * N)) ] || cl_die "counter is $out after $((P * N)) successful increments"

# A lock: holders take it with --if-absent, append their name to a log while holding it, and
# release it with delete --if-value NAME. Two holders at once would interleave their marks.
cl_log "lock: $P processes x 3 critical sections"
workers=()
for p in $(seq 1 $P); do
    (
        for i in 1 2 3; do
            until cl_zkv --timeout 5000 put --if-absent lock "p$p" 2> /dev/null; do :; done
            cl_zkv --timeout 5000 append trail "<p$p" > /dev/null
            cl_zkv --timeout 5000 append trail "p$p>" > /dev/null
            cl_zkv --timeout 5000 delete --if-value "p$p" lock > /dev/null ||
                { echo "p$p lost its lock" >&2; exit 1; }
        done
    ) &
    workers+=("$!")
done
wait_rc=0
for w in "${workers[@]}"; do wait "$w" || wait_rc=1; done
[ $wait_rc -eq 0 ] || cl_die "a lock process failed"
expect 0 get trail
python3 - "$out" "$P" << 'EOF' || cl_die "two holders of the lock at once: $out"
import re, sys
trail, procs = sys.argv[1], int(sys.argv[2])
marks = re.findall(r"<p(\d+)|p(\d+)>", trail)
assert len(marks) == 2 * procs * 3, len(marks)
for i in range(0, len(marks), 2):
    enter, leave = marks[i], marks[i + 1]
    assert enter[0] and leave[1] and enter[0] == leave[1], (i, marks[i:i + 2])
EOF
cl_log "kvapi: all checks passed"
echo "1 passed, 0 failed"
