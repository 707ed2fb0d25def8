#!/usr/bin/env bash
# Runs zkv's cluster benchmark workload against a 3-member etcd on loopback and prints a table.
#
#   tools/bench-etcd.sh            installs etcd 3.4 + Go from Debian if missing, builds the
#                                  driver (tools/etcd-bench), starts etcd (fresh data dirs under
#                                  /tmp), runs the three loads, stops etcd
#
# Environment: BENCH_ROUNDS (default 1; medians when more), BENCH_SECONDS (10), ETCD_TARGET
# (leader: every client talks to the leader, as zkv's client does; all: spread over members),
# ETCD_CLIENT_BASE / ETCD_PEER_BASE (ports base+1..3; 22380 / 22390), BENCH_KEEP=1 keeps the
# work directory (logs, raw summaries). For zkv side by side, use tools/bench-compare.sh.
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/etcd-bench/lib.sh"
trap s_cleanup EXIT
trap 'exit 130' INT TERM

ROUNDS=${BENCH_ROUNDS:-1}
s_etcd_deps
s_build_driver
s_log "work directory $BENCH_WORK; $ROUNDS round(s) of ${BENCH_SECONDS} s runs"

for round in $(seq 1 "$ROUNDS"); do
    s_etcd_start "r$round"
    for load in "${BENCH_LOADS[@]}"; do
        read -r name clients mix <<<"$load"
        s_run_load etcd "$clients" "$mix" "$BENCH_WORK/etcd-$name-$round.txt"
    done
    s_etcd_stop
done

echo
echo "etcd $(etcd --version | awk '/^etcd Version/{print $3}'), 3 members on loopback," \
    "target $ETCD_TARGET, ${BENCH_KEY_BYTES}-byte keys, ${BENCH_VALUE_BYTES}-byte values," \
    "$BENCH_KEYS keys, ${BENCH_SECONDS} s runs, median of $ROUNDS"
echo
echo "| load | ops/s | p50 ms | p90 ms | p99 ms | p99.9 ms | server CPU µs/op | client CPU µs/op |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for load in "${BENCH_LOADS[@]}"; do
    read -r name clients mix <<<"$load"
    runs=("$BENCH_WORK"/etcd-"$name"-*.txt)
    printf "| %s | %.0f | %s | %s | %s | %s | %.0f | %.0f |\n" "$(s_load_title "$name")" \
        "$(s_median 1 "${runs[@]}")" "$(s_median 2 "${runs[@]}")" "$(s_median 3 "${runs[@]}")" \
        "$(s_median 4 "${runs[@]}")" "$(s_median 5 "${runs[@]}")" "$(s_median 7 "${runs[@]}")" \
        "$(s_median 8 "${runs[@]}")"
done
