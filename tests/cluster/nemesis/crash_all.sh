#!/bin/bash
# crash_all.sh: kill -9 every node at once, while writes are in flight; restart them all;
# every acknowledged write must be there with its value.
#
#     ZKV_BUILD=build crash_all.sh [--nodes 3] [--keys 300] [--rounds 2] [--mode netns|lo]
#
# Each round: 4 writers put fresh keys (one `zkv put` each, exit 0 = acknowledged, recorded),
# and once KEYS/ROUNDS more are acknowledged every node gets SIGKILL in one kill(1) call while
# the writers keep going. The nodes restart from their data dirs; after the last round every
# acknowledged key, from every round, is read back and must hold exactly the value written.
# A put whose outcome was unknown (timed out, exit 3) may be present or not, but if present it
# must hold its value too.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
nodes=3
keys=300
rounds=2
mode=netns
[ "$(id -u)" = 0 ] || mode=lo
while [ $# -gt 0 ]; do
    case $1 in
    --nodes) nodes=$2 ;;
    --keys) keys=$2 ;;
    --rounds) rounds=$2 ;;
    --mode) mode=$2 ;;
    *) echo "usage: $0 [--nodes N] [--keys K] [--rounds R] [--mode netns|lo]" >&2; exit 2 ;;
    esac
    shift 2
done
# shellcheck source=../lib/cluster.sh
source "$here/../lib/cluster.sh"

cl_init "$nodes" "$mode"
cl_start_all
cl_wait_leaders 30
writers=4

# writer W ROUND: puts keys r<ROUND>-w<W>-<n> until the stop file appears; appends "key value"
# to acked.W (exit 0) or unknown.W (exit 3: may or may not have been applied).
writer () {
    local w=$1 r=$2 n=0 key val rc
    while [ ! -e "$CL_DIR/stop" ]; do
        n=$((n + 1))
        key="r$r-w$w-$n"
        val="v-$key-$$"
        rc=0
        cl_zkv --timeout 3000 put "$key" "$val" > /dev/null 2>&1 || rc=$?
        case $rc in
        0) echo "$key $val" >> "$CL_DIR/acked.$w" ;;
        3) echo "$key $val" >> "$CL_DIR/unknown.$w" ;;
        esac
        [ $rc = 0 ] || [ -e "$CL_DIR/stop" ] || sleep 0.05 # no cluster: do not spin
    done
}
acked () { cat "$CL_DIR"/acked.* 2> /dev/null | wc -l || true; }

per_round=$(((keys + rounds - 1) / rounds))
for ((r = 1; r <= rounds; r++)); do
    rm -f "$CL_DIR/stop"
    target=$(($(acked) + per_round))
    wpids=()
    for ((w = 1; w <= writers; w++)); do
        writer "$w" "$r" &
        wpids+=($!)
    done
    cl_wait_until 120 "$per_round acknowledged puts in round $r" eval "[ \$(acked) -ge $target ]"
    pids=()
    for ((i = 1; i <= nodes; i++)); do pids+=("$(cl_pid "$i")"); done
    kill -KILL "${pids[@]}"
    cl_log "round $r: $(acked) acknowledged so far; SIGKILL to every node at once (${pids[*]})"
    for ((i = 1; i <= nodes; i++)); do cl_kill "$i" KILL; done
    # Writers now fail fast (nothing listens) or time out; stop them, within a deadline.
    touch "$CL_DIR/stop"
    cl_wait_writers 30 "${wpids[@]}"
    cl_start_all
    cl_wait_leaders 30
    cl_log "round $r: all $nodes nodes restarted, leaders elected"
done

total=$(acked)
unknown=$(cat "$CL_DIR"/unknown.* 2> /dev/null | wc -l || true)
cl_log "reading back $total acknowledged keys ($unknown more of unknown outcome)"
missing=0
while read -r key val; do
    got=$(cl_zkv_maybe --timeout 5000 get "$key") || cl_die "get $key failed"
    if [ "$got" != "$val" ]; then
        echo "LOST: $key: want '$val', got '$got'" >&2
        missing=$((missing + 1))
    fi
done < <(cat "$CL_DIR"/acked.*)
while read -r key val; do
    got=$(cl_zkv_maybe --timeout 5000 get "$key") || cl_die "get $key failed"
    [ -z "$got" ] || [ "$got" = "$val" ] || cl_die "$key of unknown outcome holds '$got', not '$val'"
done < <(cat "$CL_DIR"/unknown.* 2> /dev/null || true)
[ $missing = 0 ] || cl_die "$missing of $total acknowledged writes lost after kill -9 of all nodes"
cl_log "all $total acknowledged writes survived $rounds crashes of every node"
cl_pass
echo "1 passed, 0 failed"
