#!/bin/bash
# shards.sh: shard groups join and leave a real cluster under client load while the nemesis
# kills, pauses and partitions nodes. Then: the client history is linearizable, every shard
# group settles in the controller's latest configuration once the faults are healed, every key
# written before the run reads back, and a group that gave all its shards away keeps next to
# nothing of them.
#
#     ZKV_BUILD=build shards.sh [--nodes 3] [--seed S] [--seconds 40] [--mode netns|lo]
#
# The cluster: the controller (group 0) and shard groups 1, 2 and 3 on every node; configuration
# 1 (the config file) deals the 16 shards to all three. Before the run, a load of 600 keys of
# 1 KiB (so that shards carry bytes, in several chunks of 64 KiB). During the run, every 1..3 s
# (drawn from the seed): group 2 or 3 leaves or joins (never the last group), or a shard moves;
# `zkv bench` writes and reads 20 other keys with its history. The nemesis (nemesis.sh) runs for
# the first T-10 s, then heals. At the end group 3 leaves (if it is in) and its stored data must
# drop under 1/8 of what it held.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
nodes=3
seed=$(($(date +%s%N) % 1000000))
seconds=40
mode=netns
[ "$(id -u)" = 0 ] || mode=lo
while [ $# -gt 0 ]; do
    case $1 in
    --nodes) nodes=$2 ;;
    --seed) seed=$2 ;;
    --seconds) seconds=$2 ;;
    --mode) mode=$2 ;;
    *) echo "usage: $0 [--nodes N] [--seed S] [--seconds T] [--mode netns|lo]" >&2; exit 2 ;;
    esac
    shift 2
done
all=$(seq -s , 1 "$nodes")
export CL_GROUPS="0:$all 1:$all 2:$all 3:$all"
# Chunks of 64 KiB: each shard moves in several.
export CL_CHUNK_BYTES=65536
# shellcheck source=../lib/cluster.sh
source "$here/../lib/cluster.sh"
# shellcheck source=nemesis.sh
source "$here/nemesis.sh"
cl_need "$ZKV_LINCHECK"
[ "$seconds" -ge 20 ] || cl_die "--seconds must be at least 20 (the last 10 are fault-free)"

cl_log "shards: $nodes nodes, seed $seed, ${seconds}s, mode $mode"
cl_init "$nodes" "$mode"
cl_start_all
cl_wait_leaders 30

# The latest configuration as "NUM G G G" (its shard groups), or nothing when no answer.
latest () {
    cl_zkv --timeout 3000 ctrl query --json 2> /dev/null |
        awk '{ n = $0; sub(/^\{"num":/, "", n); sub(/,.*/, "", n)
               g = $0; sub(/.*"groups":\[/, "", g); sub(/\],"shard_groups".*/, "", g)
               out = n; while (match (g, /"group":[0-9]+/)) {
                   id = substr (g, RSTART + 8, RLENGTH - 8); if (id != 0) out = out " " id
                   g = substr (g, RSTART + RLENGTH) }
               print out }'
}

# Every node's every shard group in configuration $1 with nothing pulling or waiting for GC.
settled () {
    local want=$1
    cl_zkv --timeout 2000 status --json 2> /dev/null | awk -v want="$want" '
        /"config": [0-9]+/ {
            n = split ($0, parts, /\{"group": /)
            for (i = 2; i <= n; i++) {
                p = parts[i]; c = p; sub (/.*"config": /, "", c); sub (/[,}].*/, "", c)
                if (c == 0) continue                      # the controller
                if (c != want) bad = 1
                if (p ~ /"pulling": [1-9]/ || p ~ /"waiting_gc": [1-9]/) bad = 1
                seen++
            }
        }
        /"ok": false/ { bad = 1 }
        END { exit (bad || !seen) }'
}

# Group $1's data bytes on every node, summed (zkv status --json).
group_bytes () {
    cl_zkv --timeout 2000 status --json 2> /dev/null | awk -v g="$1" '
        { n = split ($0, parts, /\{"group": /)
          for (i = 2; i <= n; i++) if (parts[i] ~ ("^" g ",")) {
              b = parts[i]; sub (/.*"data_bytes": /, "", b); sub (/[,}].*/, "", b); sum += b } }
        END { print sum + 0 }'
}

# A load that shards carry: 600 keys of 1 KiB, each read back at the end. Random bytes (as
# base64), each key its own: LevelDB compresses its files, and a repeated value would shrink to
# nothing there, leaving nothing to measure at the end.
cl_log "loading 600 keys of 1 KiB"
declare -a value
for ((k = 0; k < 600; k++)); do
    value[k]=$(head -c 750 /dev/urandom | base64 -w0)
    cl_zkv --timeout 10000 put "load$k" "${value[k]}" > /dev/null || cl_die "load put $k failed"
done
cfg=$(latest)
cl_log "configuration before the run: $cfg"

history=$CL_DIR/H.jsonl
cl_zkv --timeout 2000 bench --clients 8 --seconds "$seconds" --keys 20 --mix 40:30:30 \
    --history "$history" > "$CL_DIR/bench.out" 2> "$CL_DIR/bench.err" &
bench=$!

# Reconfigurations, drawn from the seed; a command that times out in a fault may or may not
# take effect, so each step decides from the configuration the controller answers now.
reconfigure () {
    local x=$((seed * 2 + 1)) end=$((SECONDS + seconds - 12)) cur groups op n=0
    while [ $SECONDS -lt $end ]; do
        x=$(((x * 1103515245 + 12345) % 2147483648))
        sleep "$((1 + (x >> 8) % 3))"
        cur=$(latest)
        [ -n "$cur" ] || continue
        groups=" ${cur#* } "
        x=$(((x * 1103515245 + 12345) % 2147483648))
        case $(((x >> 8) % 5)) in
        0 | 1)
            for g in 2 3; do
                case $groups in *" $g "*) ;; *) op="join $g"; break ;; esac
                op=""
            done ;;
        2 | 3)
            op=""
            [ "$(echo "$groups" | wc -w)" -gt 1 ] || continue
            for g in 3 2; do case $groups in *" $g "*) op="leave $g"; break ;; esac; done ;;
        *)
            g=$(echo "$groups" | awk -v r=$((x >> 12)) '{ print $((r % NF) + 1) }')
            op="move $(((x >> 16) % 16)) $g" ;;
        esac
        [ -n "$op" ] || continue
        n=$((n + 1))
        # shellcheck disable=SC2086
        if out=$(cl_zkv --timeout 5000 ctrl $op 2>&1); then
            cl_log "reconfiguration $n: ctrl $op: $out"
        else
            cl_log "reconfiguration $n: ctrl $op: $out (during a fault: may or may not have taken effect)"
        fi
    done
}
reconfigure &
reconf=$!

nem_run $((seconds - 10)) "$seed" "kill pause kill-leader pause-leader isolate minority leader" &
nemesis=$!
wait "$nemesis" || cl_die "the nemesis failed (seed $seed)"
wait "$reconf" || true
deadline=$((SECONDS + seconds + 60))
while kill -0 "$bench" 2> /dev/null; do
    [ $SECONDS -lt $deadline ] || cl_die "zkv bench did not finish"
    sleep 0.2
done
wait "$bench" || cl_die "zkv bench failed: $(tail -n 5 "$CL_DIR/bench.err")"
cat "$CL_DIR/bench.out"

cl_wait_leaders 30
cfg=$(latest)
[ -n "$cfg" ] || cl_die "no configuration from the controller after the heal"
cl_log "latest configuration after the heal: $cfg"
cl_wait_until 90 "every shard group settled in configuration ${cfg%% *} (seed $seed)" settled "${cfg%% *}"

for t in invoke ok fail info; do
    printf '%s=%s ' "$t" "$(grep -c "\"type\": *\"$t\"" "$history" || true)"
done
echo
rc=0
timeout 300 "$ZKV_LINCHECK" "$history" > "$CL_DIR/lincheck.out" 2>&1 || rc=$?
tail -n 5 "$CL_DIR/lincheck.out"
case $rc in
0) cl_log "linearizable (seed $seed)" ;;
1) cl_die "NOT linearizable (seed $seed); history kept in $history" ;;
*) cl_die "zkv-lincheck could not decide (exit $rc; seed $seed); history kept in $history" ;;
esac

# Nothing written before the run was lost by all the moving.
for ((k = 0; k < 600; k++)); do
    got=$(cl_zkv --timeout 10000 get "load$k") || cl_die "get load$k failed after the run"
    [ "$got" = "${value[k]}" ] || cl_die "load$k lost or wrong after the run (seed $seed): '${got:0:40}...'"
done
cl_log "the 600 loaded keys read back"

# A group that gives all its shards away keeps next to nothing of them.
groups=" ${cfg#* } "
case $groups in
*" 3 "*) ;;
*)
    cl_zkv --timeout 10000 ctrl join 3 > /dev/null || cl_die "group 3 could not join"
    cfg=$(latest)
    cl_wait_until 60 "group 3 joined and settled" settled "${cfg%% *}"
    ;;
esac
# LevelDB counts only what is in its files: flush the memtables by restarting each node.
for ((i = 1; i <= nodes; i++)); do
    pid=$(cl_pid "$i")
    cl_kill "$i" TERM
    cl_wait_gone "$pid" 10 || cl_die "node $i did not stop on SIGTERM"
    rm -f "$CL_DIR/node$i.pid"
    cl_start "$i"
done
cl_wait_leaders 30
before=$(group_bytes 3)
cl_zkv --timeout 10000 ctrl leave 3 > /dev/null || cl_die "group 3 could not leave"
cfg=$(latest)
cl_wait_until 60 "the groups settled after group 3 left" settled "${cfg%% *}"
[ "$before" -gt 100000 ] || cl_die "group 3 held only $before bytes before it left: nothing to measure"
# The space comes back once the deleted ranges are compacted: at once, or when the last view
# that still sees them closes (a snapshot being sent, an unread one after a few seconds).
dropped () { [ $(($(group_bytes 3) * 8)) -lt "$before" ]; }
cl_wait_until 30 "group 3 gave back the space of its shards (it held $before bytes)" dropped
cl_log "group 3 stored $before bytes before it left, $(group_bytes 3) after"
for ((k = 0; k < 600; k += 37)); do
    [ "$(cl_zkv --timeout 10000 get "load$k")" = "${value[k]}" ] || cl_die "load$k lost after group 3 left"
done
cl_pass
echo "1 passed, 0 failed"
