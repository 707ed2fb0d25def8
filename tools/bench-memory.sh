#!/usr/bin/env bash
# Measures zkvd's resident memory while the data set grows far past LevelDB's caches, and a
# follower's while it catches up by (streamed) InstallSnapshot. A measurement, not a test.
#
# Usage: tools/bench-memory.sh [BUILD_DIR]
#   env: WRITE_SECONDS (default 150), DOWN_SECONDS (30), KEYS (100000), VALUE_BYTES (4096),
#        CLIENTS (16), SAMPLE_SECONDS (5), BASE_PORT (23000), DIR (a fresh /tmp folder)
# Prints VmRSS of every node every SAMPLE_SECONDS while writing, then kills a follower, writes
# for DOWN_SECONDS, restarts it and prints its VmRSS every second until it caught up.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
ZKVD=$BUILD/actors/zkvd
ZKV=$BUILD/client/zkv
WRITE_SECONDS=${WRITE_SECONDS:-150}
DOWN_SECONDS=${DOWN_SECONDS:-30}
KEYS=${KEYS:-100000}
VALUE_BYTES=${VALUE_BYTES:-4096}
CLIENTS=${CLIENTS:-16}
SAMPLE_SECONDS=${SAMPLE_SECONDS:-5}
BASE=${BASE_PORT:-23000}
DIR=${DIR:-$(mktemp -d /tmp/zkv-memory.XXXXXX)}

cfg=$DIR/bench.cfg
{
    echo "cluster"
    echo "    name = bench-memory"
    echo "    security = none               # memory of the store, not of CURVE"
    echo "    shards = 16"
    echo "    tick_ms = 10"
    echo "    election_ticks = 30"
    echo "    heartbeat_ticks = 3"
    echo "    snapshot_bytes = 4194304      # compact past 4 MiB of log: snapshots happen"
    echo "    max_value_bytes = 1048576"
    for i in 1 2 3; do
        echo "node"
        echo "    id = $i"
        echo "    peer = tcp://127.0.0.1:$((BASE + i))"
        echo "    client = tcp://127.0.0.1:$((BASE + 100 + i))"
        echo "    events = tcp://127.0.0.1:$((BASE + 200 + i))"
        echo "    data = $DIR/node$i"
    done
    echo "group"
    echo "    id = 0"
    echo "    members = 1, 2, 3"
    echo "group"
    echo "    id = 1"
    echo "    members = 1, 2, 3"
} > "$cfg"

declare -A pid
s_start () {
    "$ZKVD" --config "$cfg" --node "$1" --foreground >> "$DIR/node$1.log" 2>&1 &
    pid[$1]=$!
}
s_stop_all () {
    for i in "${!pid[@]}"; do kill -TERM "${pid[$i]}" 2>/dev/null || true; done
    for i in "${!pid[@]}"; do wait "${pid[$i]}" 2>/dev/null || true; done
}
trap s_stop_all EXIT

s_rss () { # VmRSS in MiB of node $1, '-' when not running
    awk '/^VmRSS/ { printf "%d", $2 / 1024; f = 1 } END { if (!f) printf "-" }' \
        "/proc/${pid[$1]}/status" 2>/dev/null || printf -- "-"
}
s_du () { du -sm "$DIR/node$1" 2>/dev/null | awk '{ print $1 }'; }
s_status () { "$ZKV" --config "$cfg" status 2>/dev/null || true; }
# s_group1 COLUMN [NODE] [ROLE]: the COLUMN (a heading of `zkv status`) of group 1's first line
# of NODE (any node if empty) in ROLE (any role if empty). By heading, not position: columns
# were added before (configuration, shards).
s_group1 () {
    s_status | awk -v col="$1" -v node="${2:-}" -v role="${3:-}" '
        NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
        $h["GROUP"] == 1 && (node == "" || $h["NODE"] == node) &&
            (role == "" || $h["ROLE"] == role) { print $h[col]; exit }'
}

for i in 1 2 3; do s_start "$i"; done
deadline=$((SECONDS + 30))
until s_status | grep -q leader; do
    [ $SECONDS -lt $deadline ] || { echo "no leader after 30 s" >&2; exit 1; }
    sleep 0.2
done
echo "LevelDB caches per node: 8 MiB block cache + a write buffer of 32, 40 and 48 MiB on nodes 1-3" \
    "(storage_write_buffer_bytes, staggered by node id)"
echo "phase 1: $CLIENTS clients put ${VALUE_BYTES}-byte values on $KEYS keys for ${WRITE_SECONDS}s"
printf "%6s %10s %10s %10s %12s\n" "t(s)" "rss1(MiB)" "rss2(MiB)" "rss3(MiB)" "data1(MiB)"
"$ZKV" --config "$cfg" --timeout 20000 bench --clients "$CLIENTS" --seconds "$WRITE_SECONDS" \
    --keys "$KEYS" --value-bytes "$VALUE_BYTES" --mix 0:100:0 > "$DIR/bench1.txt" 2>/dev/null &
bench=$!
t0=$SECONDS
while kill -0 "$bench" 2>/dev/null; do
    printf "%6d %10s %10s %10s %12s\n" $((SECONDS - t0)) "$(s_rss 1)" "$(s_rss 2)" "$(s_rss 3)" \
        "$(s_du 1)"
    sleep "$SAMPLE_SECONDS"
done
wait "$bench" || true
grep -E "ops|throughput" "$DIR/bench1.txt" | head -3 || true

# A follower of group 1 goes down; the others write on and compact past it.
leader=$(s_group1 NODE "" leader)
victim=1
for i in 1 2 3; do [ "$i" = "${leader:-0}" ] || { victim=$i; break; }; done
echo "phase 2: kill -9 follower node $victim (leader ${leader:-?}), write ${DOWN_SECONDS}s more"
kill -9 "${pid[$victim]}"
wait "${pid[$victim]}" 2>/dev/null || true
"$ZKV" --config "$cfg" --timeout 20000 bench --clients "$CLIENTS" --seconds "$DOWN_SECONDS" \
    --keys "$KEYS" --value-bytes "$VALUE_BYTES" --mix 0:100:0 > "$DIR/bench2.txt" 2>/dev/null
target=$(s_group1 COMMIT "${leader:-0}")
echo "phase 3: restart node $victim; it catches up to index ${target:-?} by InstallSnapshot"
s_start "$victim"
printf "%6s %10s %12s %9s %s\n" "t(s)" "rss$victim(MiB)" "data$victim(MiB)" "applied" "log"
t0=$SECONDS
while :; do
    applied=$(s_group1 APPLIED "$victim")
    printf "%6d %10s %12s %9s %s\n" $((SECONDS - t0)) "$(s_rss "$victim")" "$(s_du "$victim")" \
        "${applied:--}" "$(grep -E 'receiving a snapshot|installed a snapshot' \
                             "$DIR/node$victim.log" | tail -1 | sed 's/.*group/group/')"
    [ "${applied:-0}" -ge "${target:-1}" ] 2>/dev/null && break
    [ $((SECONDS - t0)) -lt 300 ] || { echo "not caught up after 300 s" >&2; break; }
    sleep 1
done
echo "snapshot streams received by node $victim: $(grep -c 'receiving a snapshot' \
    "$DIR/node$victim.log"), installed: $(grep -c 'installed a snapshot' "$DIR/node$victim.log")"
sleep 2
printf "after catch-up: rss1 %s rss2 %s rss3 %s MiB\n" "$(s_rss 1)" "$(s_rss 2)" "$(s_rss 3)"
s_status
echo "data and logs: $DIR"
