#!/usr/bin/env bash
# zkv against etcd on the same workload, interleaved, medians side by side with their ratio.
#
#   tools/bench-compare.sh [ZKV_BUILD_DIR]
#
# Installs what is missing (Debian: zkv's build deps, etcd 3.4, Go), builds zkv (Release, in
# /tmp/zkv-bench-build; a ZKV_BUILD_DIR given is used as it is when it holds zkvd, zkv and
# zkv-config-check) and the etcd driver (tools/etcd-bench), then for each
# round starts a fresh 3-node zkv (config/local.cfg on ports 27xxx, data under /tmp), runs the
# three loads, stops it, does the same with zkv in plain text ("plain": security = none, what
# CURVE costs), then starts a fresh 3-member etcd, runs the same three loads, stops it (every
# other round the order is reversed). BENCH_NO_ETCD=1 leaves etcd out.
# The loads (README.md "Benchmarks"): 64 clients putting, 64 clients doing linearizable gets,
# 1 client putting; fsync on, 16-byte keys, 128-byte values, 1000 keys, closed loop, 10 s runs.
#
# BENCH_BEFORE=DIR adds a third system, "before": an earlier zkv built in DIR (its zkvd, zkv and
# zkv-config-check, each run with its own client), so a change is measured against the tree it
# changed and against etcd in one run; the table then also gives zkv/before.
#
# Environment: BENCH_ROUNDS (3), BENCH_SECONDS (10), ETCD_TARGET (leader | all), BENCH_KEEP=1
# keeps the work directory with every run's summary and the servers' logs (BENCH_WORK=DIR
# names it; a directory given that way is never removed). Only processes this
# script started are stopped. The machine should be otherwise idle: compare the ratios.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/etcd-bench/lib.sh"
trap s_cleanup EXIT
trap 'exit 130' INT TERM

ROUNDS=${BENCH_ROUNDS:-3}
[ $# -gt 0 ] && ZKV_BUILD=$(cd "$1" && pwd) && ZKV_BUILD_GIVEN=1
s_build_zkv
s_etcd_deps
s_build_driver
s_log "work directory $BENCH_WORK; $ROUNDS rounds of zkv then etcd, ${BENCH_SECONDS} s runs"

# zkv runs twice: with CURVE (the default) and in plain text ("plain"), to show what CURVE costs.
SYSTEMS=(zkv plain etcd)
[ -z "${BENCH_NO_ETCD:-}" ] || SYSTEMS=(zkv plain)
if [ -n "${BENCH_BEFORE:-}" ]; then
    BENCH_BEFORE=$(cd "$BENCH_BEFORE" && pwd)
    for b in actors/zkvd client/zkv config/zkv-config-check; do
        [ -x "$BENCH_BEFORE/$b" ] || s_die "BENCH_BEFORE=$BENCH_BEFORE has no $b"
    done
    SYSTEMS=(zkv plain before etcd)
    [ -z "${BENCH_NO_ETCD:-}" ] || SYSTEMS=(zkv plain before)
fi

s_round_of () { # s_round_of SYSTEM ROUND: a fresh cluster, the three loads, stop
    local sys=$1 round=$2 kind=$1 load name clients mix saved=$ZKV_BUILD
    ZKV_SECURITY=curve
    if [ "$sys" = before ]; then # the earlier zkv, with its own client
        kind=zkv
        ZKV_BUILD=$BENCH_BEFORE
    elif [ "$sys" = plain ]; then # this zkv without CURVE
        kind=zkv
        ZKV_SECURITY=none
    fi
    "s_${kind}_start" "$sys-r$round"
    for load in "${BENCH_LOADS[@]}"; do
        read -r name clients mix <<<"$load"
        s_run_load "$kind" "$clients" "$mix" "$BENCH_WORK/$sys-$name-$round.txt"
    done
    "s_${kind}_stop"
    ZKV_BUILD=$saved
}

# ABBA order (zkv etcd, etcd zkv, zkv etcd...): a load on the machine that rises or falls
# during the run then weighs on every system alike instead of on whichever always goes last.
for round in $(seq 1 "$ROUNDS"); do
    order=("${SYSTEMS[@]}")
    [ $((round % 2)) -eq 0 ] && order=($(printf '%s\n' "${SYSTEMS[@]}" | tac))
    for sys in "${order[@]}"; do
        s_round_of "$sys" "$round" || exit 1
    done
done

echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "zkv from $ZKV_BUILD (tree at $(git -C "$BENCH_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'))" \
    "vs etcd $(etcd --version | awk '/^etcd Version/{print $3}') (target $ETCD_TARGET);" \
    "3 nodes on loopback, ${BENCH_KEY_BYTES}-byte keys, ${BENCH_VALUE_BYTES}-byte values," \
    "$BENCH_KEYS keys, ${BENCH_SECONDS} s runs, median of $ROUNDS interleaved rounds (ABBA)"
echo
echo "| load | system | ops/s | (min-max) | p50 ms | p90 ms | p99 ms | p99.9 ms | server CPU µs/op | client CPU µs/op |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for load in "${BENCH_LOADS[@]}"; do
    read -r name clients mix <<<"$load"
    declare -A med=()
    for sys in "${SYSTEMS[@]}"; do
        runs=("$BENCH_WORK/$sys-$name"-*.txt)
        for f in 1 2 3 4 5 7 8; do med[$sys$f]=$(s_median $f "${runs[@]}"); done
        printf "| %s | %s | %.0f | %s | %s | %s | %s | %s | %.0f | %.0f |\n" "$(s_load_title "$name")" \
            "$sys" "${med[${sys}1]}" "$(s_range "${runs[@]}")" "${med[${sys}2]}" "${med[${sys}3]}" \
            "${med[${sys}4]}" "${med[${sys}5]}" "${med[${sys}7]}" "${med[${sys}8]}"
    done
    ratio () { awk -v a="${med[zkv$1]}" -v b="${med[$2$1]}" 'BEGIN{ if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
    for other in "${SYSTEMS[@]:1}"; do
        printf "| %s | zkv/%s | %s | | %s | %s | %s | %s | %s | %s |\n" "$(s_load_title "$name")" \
            "$other" "$(ratio 1 "$other")" "$(ratio 2 "$other")" "$(ratio 3 "$other")" \
            "$(ratio 4 "$other")" "$(ratio 5 "$other")" "$(ratio 7 "$other")" "$(ratio 8 "$other")"
    done
    unset med
done
echo
for other in "${SYSTEMS[@]:1}"; do
    echo "zkv/$other ops/s within each round (the systems ran back to back):"
    for load in "${BENCH_LOADS[@]}"; do
        read -r name clients mix <<<"$load"
        printf "  %-30s" "$(s_load_title "$name"):"
        for round in $(seq 1 "$ROUNDS"); do
            paste <(s_summary "$BENCH_WORK/zkv-$name-$round.txt") \
                <(s_summary "$BENCH_WORK/$other-$name-$round.txt") |
                awk '{ if ($9 > 0) printf " %.2f", $1 / $9; else printf " -" }'
        done
        echo
    done
done
echo
echo "zkv/etcd: above 1 for ops/s means zkv is faster; below 1 for latency or CPU means zkv is"
echo "faster or cheaper. CPU per op: user + system seconds of the 3 servers (or of the load"
echo "driver) during the run, divided by the requests answered in the window."
