#!/bin/bash
# slow_follower.sh: what a leader's memory does when one follower cannot keep up. 3 nodes
# (CURVE), groups "0:1,2,3 1:1,2,3"; `zkv bench` writes 4 KiB values with 64 clients (100% puts)
# while one follower of group 1 (one that leads no group) falls behind, in two phases:
#   stopped    the follower gets SIGSTOP for PHASE seconds (default 20), then SIGCONT;
#   throttled  the follower's link is held to 1 MB/s each way (a tc tbf qdisc on both ends of
#              its veth: the bridge side shapes what it receives, its eth0 what it sends) for
#              PHASE seconds, then freed. Netns mode only: skipped, with a log line, on loopback
#              (without root, ip or tc).
# The leader of group 1's anonymous memory (/proc/PID/status RssAnon) is sampled every 200 ms
# into $CL_DIR/rss-PHASE.log (seconds since the epoch, MB). Each phase requires: the leader's
# peak stays under SLOW_CAP_MB (default 512); no election in group 1 (its term does not move, its
# leader stays); the bench completes requests in every second of the fault (the other follower
# makes the quorum); within 30 s of the follower's return the leader gives its memory back (to
# within 64 MB of before, or half its peak); the slow follower catches up (within 60 s it
# applies what the leader had committed at its return; after the bench, every member applies
# all, cl_converged). At the end every key written before the phases reads back. Both phases run
# whatever the first finds; the failures are listed at the end. Printed per phase (the FIGURES
# lines): before, peak during the fault, peak overall and after (MB), the bench's ops/s before
# and during the fault, the catch-up time; and what the leader's kernel holds for the follower
# at the fault's end (ss: Send-Q of its connections to the follower's peer port).
#
#     ZKV_BUILD=build slow_follower.sh [--seconds PHASE] [--clients 64] [--mode netns|lo]
#                                      [--phases "stopped throttled"]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
phase_secs=20
clients=64
mode=
phases="stopped throttled"
while [ $# -gt 0 ]; do
    case $1 in
    --seconds) phase_secs=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --mode) mode=$2; shift 2 ;;
    --phases) phases=$2; shift 2 ;;
    *)
        echo "usage: $0 [--seconds PHASE] [--clients N] [--mode netns|lo] [--phases LIST]" >&2
        exit 2
        ;;
    esac
done
export CL_GROUPS="0:1,2,3 1:1,2,3"
# shellcheck source=../lib/cluster.sh
source "$here/../lib/cluster.sh"
cap_mb=${SLOW_CAP_MB:-512}
warm_secs=4 # bench load before the fault
tail_secs=3 # bench load after the follower is back
if [ -z "$mode" ]; then
    mode=lo
    if [ "$(id -u)" = 0 ] && command -v tc > /dev/null && command -v ip > /dev/null; then mode=netns; fi
fi
failures=()
fail () {
    failures+=("$*")
    cl_log "FAILED: $*"
}
cl_init 3 "$mode"
cl_start_all
cl_wait_leaders 30
for k in $(seq 1 20); do cl_zkv --timeout 5000 put "key$k" "value$k" > /dev/null || cl_die "put key$k"; done

# ---- measures ----------------------------------------------------------------------------------

# Samples PID's RssAnon (MB) every 200 ms as "EPOCH MB" lines on stdout (no fork but sleep's).
rss_sampler () {
    local pid=$1 k v r
    while :; do
        r=-
        while read -r k v _; do
            if [ "$k" = RssAnon: ]; then
                r=$((v / 1024))
                break
            fi
        done < "/proc/$pid/status" 2> /dev/null || true
        echo "$EPOCHREALTIME $r"
        sleep 0.2
    done
}
rss_now () { awk '/^RssAnon:/ { print int($2 / 1024) }' "/proc/$1/status"; }
# rss_peak FILE [FROM [TO]]: the largest sample in FILE between epoch times FROM and TO.
rss_peak () {
    awk -v from="${2:-0}" -v to="${3:-1e12}" '
        $2 ~ /^[0-9]+$/ && $1 >= from && $1 <= to && $2 + 0 > p { p = $2 + 0 }
        END { print p + 0 }' "$1"
}
# rss_curve FILE: one sample a second, for the report.
rss_curve () {
    awk '$2 ~ /^[0-9]+$/ && (NR - 1) % 5 == 0 { printf "%s%s", sep, $2; sep = " " } END { print "" }' "$1"
}
# bench_ops FILE FROM_S TO_S: "MIN MEAN" of the per-second ops of zkv bench's progress lines
# ("[  5s] 812 ops/s, 4000 ops") for seconds FROM_S..TO_S of its run ("- -" if none).
bench_ops () {
    awk -v from="$2" -v to="$3" '
        /^\[ *[0-9]+s\] [0-9]+ ops\/s/ {
            s = $0; sub(/^\[ */, "", s); sub(/s\].*/, "", s)
            if (s + 0 < from || s + 0 > to) next
            o = $0; sub(/^[^]]*\] */, "", o); o += 0; n++; sum += o
            if (n == 1 || o < min) min = o
        }
        END { if (n) printf "%d %d\n", min, sum / n; else print "- -" }' "$1"
}
# send_q FROM TO: the Send-Q bytes of node FROM's TCP connections to node TO's peer port.
send_q () {
    cl_in_node "$1" ss -Htnp state established dst "$(cl_addr "$2"):$(cl_peer_port "$2")" 2> /dev/null |
        awk -v p="pid=$(cl_pid "$1")," 'index($0, p) { q += $2; n++ }
            END { printf "%d bytes in %d connection(s)\n", q, n }'
}

# ---- the faults --------------------------------------------------------------------------------

# The node that hosts group 1 and leads neither group (of three nodes, one always does).
pick_follower () {
    local l0 l1 i
    l0=$(cl_leader 0)
    l1=$(cl_leader 1)
    for i in $(cl_group_members 1); do
        [ "$i" = "$l0" ] || [ "$i" = "$l1" ] || {
            echo "$i"
            return 0
        }
    done
}

# 1 MB/s (8 Mbit/s) each way on node I's veth: the bridge end shapes what node I receives, its
# eth0 what it sends.
throttle () {
    local i=$1
    ip netns exec "$(cl_ns b)" tc qdisc replace dev "n$i" root tbf rate 8mbit burst 32kb latency 200ms
    ip netns exec "$(cl_ns "n$i")" tc qdisc replace dev eth0 root tbf rate 8mbit burst 32kb latency 200ms
}
unthrottle () {
    local i=$1
    ip netns exec "$(cl_ns b)" tc qdisc del dev "n$i" root 2> /dev/null || true
    ip netns exec "$(cl_ns "n$i")" tc qdisc del dev eth0 root 2> /dev/null || true
}
# tbf_stats NS DEV: "SENT_BYTES DROPPED OVERLIMITS" of the root qdisc of DEV in namespace NS.
tbf_stats () {
    ip netns exec "$1" tc -s qdisc show dev "$2" | awk '
        /^ Sent/ { s = $2; d = $7; o = $9; sub(/,/, "", d) }
        END { printf "sent %d bytes, dropped %d, overlimits %d", s, d, o }'
}

# ---- one phase ---------------------------------------------------------------------------------

# run_phase NAME: the bench, the fault on a follower of group 1 for PHASE seconds, its undoing,
# the checks above (failures recorded, the run goes on), the figures.
run_phase () {
    local name=$1 leader term follower pid before mark t0 t_on t_off bench sampler
    leader=$(cl_leader 1)
    [ -n "$leader" ] || cl_die "$name: no leader of group 1"
    term=$(cl_status_field "$leader" 1 term)
    [ -n "$term" ] && [ "$term" != - ] || cl_die "$name: no term for group 1 from node $leader"
    follower=$(pick_follower)
    [ -n "$follower" ] || cl_die "$name: no follower of group 1 that leads nothing"
    pid=$(cl_pid "$leader")
    before=$(rss_now "$pid")
    cl_log "$name: leader of group 1 node $leader (term $term, pid $pid, ${before} MB anonymous)," \
        "slow follower node $follower"
    local rsslog=$CL_DIR/rss-$name.log
    rss_sampler "$pid" > "$rsslog" &
    sampler=$!
    mark=$(cl_event_mark)
    t0=$EPOCHREALTIME
    cl_zkv --timeout 2000 bench --clients "$clients" --seconds $((warm_secs + phase_secs + tail_secs)) \
        --mix 0:100 --value-bytes 4096 > "$CL_DIR/bench-$name.out" 2> "$CL_DIR/bench-$name.err" &
    bench=$!
    sleep "$warm_secs"
    kill -0 "$bench" 2> /dev/null ||
        cl_die "$name: zkv bench exited early: $(tail -n 3 "$CL_DIR/bench-$name.err")"
    t_on=$EPOCHREALTIME
    if [ "$name" = stopped ]; then
        cl_kill "$follower" STOP
        cl_log "$name: node $follower stopped (SIGSTOP) for ${phase_secs} s"
    else
        throttle "$follower"
        cl_log "$name: node $follower throttled to 1 MB/s each way for ${phase_secs} s"
    fi
    sleep "$phase_secs"
    # What the leader's kernel holds for the follower (the rest of a backlog is in zkvd).
    local sq
    sq=$(send_q "$leader" "$follower")
    if [ "$name" = stopped ]; then
        cl_kill "$follower" CONT
    else
        local lag sb sf
        lag="$(cl_status_field "$follower" 1 applied 500)/$(cl_status_field "$leader" 1 commit 500)"
        sb=$(tbf_stats "$(cl_ns b)" "n$follower")
        sf=$(tbf_stats "$(cl_ns "n$follower")" eth0)
        unthrottle "$follower"
        cl_log "$name: tbf to node $follower: $sb; from it: $sf; its applied index/the" \
            "leader's commit at the end: $lag"
    fi
    t_off=$EPOCHREALTIME
    cl_log "$name: node $follower is back; the leader's Send-Q to it at the fault's end: $sq"
    # It catches up with what the leader had committed at its return (the bench goes on).
    local commit_back catchup
    commit_back=$(cl_status_field "$leader" 1 commit 500)
    [ -n "$commit_back" ] && [ "$commit_back" != - ] || cl_die "$name: no commit index from node $leader"
    cl_wait_until 60 "$name: node $follower to apply group 1 through $commit_back, the leader's commit at its return" \
        cl_applied_through 1 "$commit_back"
    catchup=$(awk -v a="$EPOCHREALTIME" -v z="$t_off" 'BEGIN { printf "%.1f", a - z }')
    cl_log "$name: node $follower applied group 1 through $commit_back (the leader's commit at its" \
        "return) ${catchup} s after it"
    cl_wait_writers 30 "$bench"
    grep -q "ops" "$CL_DIR/bench-$name.out" || cl_die "$name: zkv bench printed no summary"

    # Memory given back within 30 s of the follower's return.
    local peak peak_fault limit after given=1
    peak=$(rss_peak "$rsslog")
    limit=$((before + 64))
    [ $((peak / 2)) -le "$limit" ] || limit=$((peak / 2))
    until [ "$(rss_now "$pid")" -le "$limit" ]; do
        if [ "$(awk -v a="$EPOCHREALTIME" -v z="$t_off" 'BEGIN { print (a - z >= 30) }')" = 1 ]; then
            given=0
            break
        fi
        sleep 0.2
    done
    after=$(rss_now "$pid")
    local back_s
    back_s=$(awk -v a="$EPOCHREALTIME" -v z="$t_off" 'BEGIN { printf "%.1f", a - z }')
    kill "$sampler" 2> /dev/null || true
    wait "$sampler" 2> /dev/null || true
    peak=$(rss_peak "$rsslog")
    peak_fault=$(rss_peak "$rsslog" "$t_on" "$t_off")
    # The bench's seconds wholly inside the fault (its second s covers (s-1, s] of its run,
    # which began a little after t0).
    local from to ops_before ops_fault
    from=$(awk -v a="$t_on" -v z="$t0" 'BEGIN { print int(a - z) + 2 }')
    to=$(awk -v a="$t_off" -v z="$t0" 'BEGIN { print int(a - z) - 1 }')
    ops_before=$(bench_ops "$CL_DIR/bench-$name.err" 2 "$((from - 2))")
    ops_fault=$(bench_ops "$CL_DIR/bench-$name.err" "$from" "$to")
    cl_log "$name: bench: $(tr -s ' \n' ' ' < "$CL_DIR/bench-$name.out")"
    cl_log "$name: RssAnon of node $leader, one sample a second: $(rss_curve "$rsslog")"
    cl_log "$name: FIGURES leader node $leader RssAnon before ${before} MB, peak during the fault" \
        "${peak_fault} MB, peak overall ${peak} MB, after ${after} MB (${back_s} s after the return;" \
        "limit ${limit} MB);" \
        "bench ($clients clients) ops/s before ${ops_before#* } (min ${ops_before% *}), during the" \
        "fault (its seconds $from-$to) ${ops_fault#* } (min ${ops_fault% *}); node $follower" \
        "caught up ${catchup} s after its return"

    # The checks.
    [ "$peak" -lt "$cap_mb" ] ||
        fail "$name: the leader (node $leader) peaked at ${peak} MB with a slow follower (cap ${cap_mb} MB; samples in $rsslog)"
    [ "$given" = 1 ] ||
        fail "$name: the leader (node $leader) did not give back its memory within 30 s of node $follower's return (peak ${peak} MB, ${after} MB then, limit ${limit} MB)"
    if [ "${ops_fault% *}" = - ]; then
        fail "$name: no bench progress lines for its seconds $from-$to"
    elif [ "${ops_fault% *}" -le 0 ]; then
        fail "$name: the bench completed no request in some second of the fault (seconds $from-$to: $(sed -n "${from},${to}p" "$CL_DIR/bench-$name.err" | tr '\n' ' '))"
    fi
    local now l terms
    now=$(cl_status_field "$leader" 1 term)
    l=$(cl_leader 1)
    terms=$(cl_event_count "$mark" zkv.raft.term group=1)
    if [ "$now" != "$term" ] || [ "$l" != "$leader" ]; then
        fail "$name: an election in group 1: term $term -> ${now:-?}, leader $leader -> ${l:-none} ($terms zkv.raft.term events in group 1)"
    else
        cl_log "$name: no election in group 1 (term $term, leader $leader; zkv.raft.term events: $terms)"
    fi
    # Once the bench is over, every member applies all the leader committed.
    local commit
    commit=$(cl_status_field "$leader" 1 commit)
    [ -n "$commit" ] && [ "$commit" != - ] || cl_die "$name: no commit index from node $leader"
    cl_wait_until 60 "$name: node $follower to apply group 1 through $commit (it is at $(cl_status_field "$follower" 1 applied))" \
        cl_applied_through 1 "$commit"
    cl_wait_until 30 "$name: the cluster to converge" cl_converged
    cl_log "$name: every member applied group 1 through $commit; the cluster converged"
    local i
    for i in 1 2 3; do cl_alive "$i" || cl_die "$name: node $i died"; done
}

for p in $phases; do
    case $p in
    stopped) run_phase stopped ;;
    throttled)
        if [ "$CL_MODE" = netns ]; then
            run_phase throttled
        else
            cl_log "SKIP phase throttled: it needs netns mode (root, ip and tc); this run is on loopback"
        fi
        ;;
    *) cl_die "unknown phase $p" ;;
    esac
done
for k in $(seq 1 20); do
    [ "$(cl_zkv --timeout 5000 get "key$k")" = "value$k" ] || fail "key$k lost"
done
if [ ${#failures[@]} -gt 0 ]; then
    for f in "${failures[@]}"; do cl_log "failure: $f"; done
    cl_die "${#failures[@]} check(s) failed"
fi
cl_log "every key written before the phases reads back"
cl_pass
echo "1 passed, 0 failed"
