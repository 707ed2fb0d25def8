#!/usr/bin/env bash
# Shard migration figures, on this machine, in one run:
#
#   tools/bench-migration.sh [BUILD_DIR]      (default: build; a Release build is best)
#
# 1. One shard of MIG_MB MB (default 100, in values of MIG_VALUE random bytes: default 1 MB)
#    moves from group 1 to group 2 on the same 3 nodes (chunks of 1 MiB): seconds from
#    `zkv ctrl move` until group 2 serves it and until group 1 deleted it, MB/s, and each
#    node's peak memory (the highest anonymous RSS sampled every 100 ms: LevelDB's mapped table
#    files are not counted) during the move against before it.
# 2. While it moves, 16 clients (50% gets, 50% puts of 128 bytes) work on keys of the other
#    shards: throughput and p99 against the same load without a move (run just before).
#    Then the same at a fixed load of half that throughput (`zkv bench --rate`: a cluster with
#    room to spare), while the shard moves back to group 1.
# 3. Put throughput (64 clients) with one shard group against two, on the same 3 nodes.
# 4. What each node wrote to disk (/proc/PID/io write_bytes) in the loads' windows with and
#    without the move, and what this disk takes in 1 MiB writes synced at the end (dd): the
#    three nodes share one disk here, and a moved byte is written to every replica's Raft log
#    and KV store and then rewritten by LevelDB's compactions.
#
# Environment: MIG_MB (100), MIG_VALUE (1000000: bytes per value), MIG_SECONDS (10: each
# load's length), MIG_RATE (bytes per second: the cluster's shard_move_bytes_per_sec; unset:
# unlimited), MIG_CHUNK (snapshot_chunk_bytes, the bytes of a pulled chunk: 1048576),
# MIG_KEEP=1 keeps the work directory (logs, every bench summary, the shard events),
# MIG_HISTORY=1 also records the fixed-rate load during the move back
# (WORK/during-rate.history, docs/history.md: which requests waited, and when, against the
# events' times), MIG_DIR (/tmp: where the nodes' data goes; /dev/shm, a tmpfs, takes the
# disk out of the figures). Ports 29001-29203. Only the processes it started are stopped.
# The machine should be otherwise idle: compare ratios within one run.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
ZKVD=$BUILD/actors/zkvd
ZKV=$BUILD/client/zkv
MB=${MIG_MB:-100}
SECS=${MIG_SECONDS:-10}
VB=${MIG_VALUE:-1000000}
NV=$((MB * 1000000 / VB)) # values in the moved shard
WORK=$(mktemp -d "${MIG_DIR:-/tmp}/zkv-migbench.XXXXXX")
PIDS=()
for b in "$ZKVD" "$ZKV"; do [ -x "$b" ] || { echo "bench-migration: no $b (build first)" >&2; exit 1; }; done

s_log () { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
WATCH=""
s_stop () {
    local p
    [ -z "$WATCH" ] || { kill -TERM "$WATCH" 2> /dev/null || true; wait "$WATCH" 2> /dev/null || true; }
    WATCH=""
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2> /dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2> /dev/null || true; done
    PIDS=()
}
s_cleanup () {
    s_stop
    touch "$WORK/rss0.txt.stop" "$WORK/rss.txt.stop" # memory samplers still running
    if [ "${MIG_KEEP:-0}" = 1 ]; then s_log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap s_cleanup EXIT
trap 'exit 130' INT TERM

# s_config NAME GROUPS: a 3-node cluster file with the controller and the shard groups GROUPS.
s_config () {
    local name=$1 groups=$2 i g
    mkdir -p "$WORK/$name"
    {
        echo "cluster"
        echo "    name = $name"
        # Plain text, as these figures were first measured; tools/bench-compare.sh gives what
        # CURVE costs.
        echo "    security = none"
        echo "    shards = 16"
        echo "    snapshot_chunk_bytes = ${MIG_CHUNK:-1048576}"
        [ -z "${MIG_RATE:-}" ] || echo "    shard_move_bytes_per_sec = $MIG_RATE"
        for i in 1 2 3; do
            echo "node"
            echo "    id = $i"
            echo "    peer = tcp://127.0.0.1:2900$i"
            echo "    client = tcp://127.0.0.1:2910$i"
            echo "    events = tcp://127.0.0.1:2920$i"
            echo "    data = $WORK/$name/data$i"
        done
        for g in 0 $groups; do
            echo "group"
            echo "    id = $g"
            echo "    members = 1, 2, 3"
        done
    } > "$WORK/$name/cluster.cfg"
    echo "$WORK/$name/cluster.cfg"
}

# s_start CFG: its 3 nodes, until a key reads.
s_start () {
    local cfg=$1 i deadline=$((SECONDS + 30))
    for i in 1 2 3; do
        "$ZKVD" --config "$cfg" --node "$i" --foreground > "$(dirname "$cfg")/node$i.log" 2>&1 &
        PIDS+=("$!")
    done
    # A read answered, "not found" (exit 4) included, is a cluster that serves.
    local rc
    while :; do
        rc=0
        "$ZKV" --config "$cfg" --timeout 1000 get ready > /dev/null 2>&1 || rc=$?
        [ "$rc" != 0 ] && [ "$rc" != 4 ] || break
        [ $SECONDS -lt $deadline ] || { s_log "the cluster does not serve"; exit 1; }
        sleep 0.2
    done
}

# The anonymous RSS (kB) of each node, sampled every 100 ms into FILE until FILE.stop exists.
s_sample_rss () {
    local file=$1 p rss
    : > "$file"
    while [ ! -e "$file.stop" ]; do
        for p in "${PIDS[@]}"; do
            # Anonymous memory only: LevelDB maps its table files, and the pages of the files a
            # move reads count in VmRSS while they stay cached (the kernel reclaims them).
            rss=$(awk '/^RssAnon:/ { print $2 }' "/proc/$p/status" 2> /dev/null || echo 0)
            echo "$p ${rss:-0}" >> "$file"
        done
        sleep 0.1
    done
}
s_peak () { # s_peak FILE PID: highest sample
    awk -v p="$2" '$1 == p && $2 > m { m = $2 } END { print m + 0 }' "$1"
}

# Bytes each node wrote to disk so far, one line of numbers in PIDS order.
s_written () {
    local p
    for p in "${PIDS[@]}"; do awk '/^write_bytes:/ { printf "%s ", $2 }' "/proc/$p/io"; done
    echo
}
# MB written between two s_written lines, per node: "a / b / c".
s_written_mb () {
    awk -v a="$1" -v b="$2" 'BEGIN { n = split (a, x, " "); split (b, y, " ")
        for (i = 1; i <= n; i++) printf "%s%.0f", (i > 1 ? " / " : ""), (y[i] - x[i]) / 1e6 }'
}

# Throughput and p99 of a bench --json summary.
s_ops () { sed -e 's/.*"ops_per_sec": *\([0-9.]*\).*/\1/' "$1"; }
s_p99 () { sed -e 's/.*"p99": *\([0-9.]*\).*/\1/' "$1"; }

# s_load OUT [ARGS...]: SECS s of the load on the other shards (16 clients, 50% gets, 50% puts of
# 128 bytes; ARGS: more zkv bench options), its JSON summary in WORK/OUT.
s_load () {
    local out=$1
    shift
    "${Z[@]}" bench --clients 16 --seconds "$SECS" --keys 1000 --mix 50:50:0 --avoid-shard "$shard/16" \
        "$@" --json > "$WORK/$out" 2> /dev/null
}

# s_wait_move SHARD TO FROM T0: sets served (ns: TO's leader applied zkv.shard.pull.finished of
# SHARD) and deleted (FROM's leader applied its zkv.shard.gc), from events after T0 (ns), by the
# events' own times: watching costs the nodes nothing, where polling `zkv status` would take CPU
# from the load being measured.
s_wait_move () {
    local shard=$1 to=$2 from=$3 t0=$4
    served="" deleted=""
    while [ -z "$deleted" ]; do
        sleep 0.1
        read -r served deleted < <(awk -v s="$shard" -v to="$to" -v from="$from" -v t0="${t0%??????}" '
            function t_ms () { t = $0; sub (/.*"time_ms": /, "", t); sub (/,.*/, "", t); return t }
            $0 ~ "\"shard\": " s "," && t_ms () + 0 >= t0 + 0 {
                if (/"topic": "zkv.shard.pull.finished"/ && $0 ~ "\"group\": " to ",")
                    if (!f || t < f) f = t
                if (/"topic": "zkv.shard.gc"/ && $0 ~ "\"group\": " from ",")
                    if (!g || t < g) g = t }
            END { printf "%s %s\n", (f ? f "000000" : "-"), (g ? g "000000" : "") }' "$WORK/events.jsonl")
        [ "$served" != - ] || served=""
        [ $((($(date +%s%N) - t0) / 1000000000)) -lt 300 ] || { s_log "the move did not finish in 300 s"; exit 1; }
    done
}

# s_move_under_load OUT TO FROM [ARGS...]: the shard moves from group FROM to group TO while
# s_load OUT [ARGS...] runs (started a second before); sets moved_at (ns), served and deleted.
s_move_under_load () {
    local out=$1 to=$2 from=$3 bench
    shift 3
    s_load "$out" "$@" &
    bench=$!
    sleep 1
    s_log "moving shard $shard from group $from to group $to"
    moved_at=$(date +%s%N)
    "${Z[@]}" ctrl move "$shard" "$to" > /dev/null
    s_wait_move "$shard" "$to" "$from" "$moved_at"
    wait "$bench"
}

# --- 1 and 2: one shard moves --------------------------------------------------------------
CFG=$(s_config move "1 2")
s_start "$CFG"
Z=("$ZKV" --config "$CFG" --timeout 20000)
"$ZKV" --config "$CFG" watch --json --topic zkv.shard > "$WORK/events.jsonl" 2> /dev/null &
WATCH=$!
# A shard of group 1, and keys in it.
shard=$("${Z[@]}" ctrl query --json | sed -e 's/.*"shard_groups":\[\([0-9,]*\)\].*/\1/' |
    tr , '\n' | awk '$1 == 1 { print NR - 1; exit }')
keys=$(seq -f "mig-%.0f" 0 $((NV * 24)) | xargs "${Z[@]}" ctrl shard |
    awk -v s="$shard" -v n="$NV" '$3 == s "," && c < n { sub(/:$/, "", $1); print $1; c++ }')
[ "$(echo "$keys" | wc -l)" = "$NV" ] || { s_log "not enough keys in shard $shard"; exit 1; }
s_log "filling shard $shard (group 1) with $NV values of $VB bytes"
# Four puts at a time: small values would take minutes one by one.
echo "$keys" | xargs -P 4 -I{} bash -c 'head -c "$2" /dev/urandom |
    "$0" --config "$1" --timeout 20000 put {} > /dev/null' "$ZKV" "$CFG" "$VB"
s_log "baseline: $SECS s of load on the other shards"
# The memory sampler runs in both windows, so that both carry its cost.
s_sample_rss "$WORK/rss0.txt" &
sampler=$!
io_base0=$(s_written)
s_load base.json
io_base1=$(s_written)
touch "$WORK/rss0.txt.stop"
wait "$sampler"
sleep 1
s_sample_rss "$WORK/rss.txt" &
sampler=$!
sleep 1
rss_before=()
for p in "${PIDS[@]}"; do rss_before+=("$(s_peak "$WORK/rss.txt" "$p")"); done
io_move0=$(s_written)
s_move_under_load during.json 2 1
t0=$moved_at
io_move1=$(s_written)
touch "$WORK/rss.txt.stop"
wait "$sampler"
move_s=$(awk -v a="$t0" -v b="$served" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
gc_s=$(awk -v a="$t0" -v b="$deleted" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
mbps=$(awk -v mb="$MB" -v s="$move_s" 'BEGIN { printf "%.1f", mb / s }')
for k in $(echo "$keys" | head -n 3); do
    [ "$("${Z[@]}" get --raw "$k" | wc -c)" = "$VB" ] || { s_log "$k did not survive the move"; exit 1; }
done
# 2b. The same at a fixed load, half the baseline's throughput (a service with room to spare,
# as clusters are run): the shard moves back to group 1 meanwhile.
rate=$(awk -v a="$(s_ops "$WORK/base.json")" 'BEGIN { printf "%d", a / 2 }')
sleep 10 # the first move's deletion and LevelDB's compactions after it settle
s_log "baseline at a fixed $rate requests/s"
s_load base-rate.json --rate "$rate"
hist=()
[ "${MIG_HISTORY:-0}" != 1 ] || hist=(--history "$WORK/during-rate.history")
s_move_under_load during-rate.json 1 2 --rate "$rate" "${hist[@]}"
back_s=$(awk -v a="$moved_at" -v b="$served" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
peaks=""
for i in 0 1 2; do
    peaks="$peaks node $((i + 1)): $((rss_before[i] / 1024)) -> $(($(s_peak "$WORK/rss.txt" "${PIDS[i]}") / 1024)) MB;"
done
s_stop

# --- 3: one shard group against two ----------------------------------------------------------
declare -A puts
for groups in "1" "1 2"; do
    CFG=$(s_config "g${groups// /}" "$groups")
    s_start "$CFG"
    "$ZKV" --config "$CFG" bench --clients 64 --seconds "$SECS" --keys 1000 --mix 0:100:0 --json \
        > "$WORK/g${groups// /}.json" 2> /dev/null
    puts[$groups]=$(s_ops "$WORK/g${groups// /}.json")
    s_stop
done

# --- 4: the disk ------------------------------------------------------------------------------
disk=$(dd if=/dev/zero of="$WORK/dd" bs=1M count=512 conv=fdatasync 2>&1 |
    awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") printf "%.0f", 536.870912 / $(i - 1) }')
rm -f "$WORK/dd"

base_ops=$(s_ops "$WORK/base.json") during_ops=$(s_ops "$WORK/during.json")
base_p99=$(s_p99 "$WORK/base.json") during_p99=$(s_p99 "$WORK/during.json")
echo
echo "zkv shard migration, $(nproc) cores, $(date +%Y-%m-%d)"
echo
echo "| measure | value |"
echo "| --- | --- |"
echo "| one shard of $MB MB ($NV values of $VB bytes) from group 1 to group 2 | served by group 2 after $move_s s ($mbps MB/s); deleted from group 1 after $gc_s s |"
echo "| memory (anonymous RSS) during the move, before -> peak |$peaks |"
echo "| other shards, 16 clients 50:50, without a move | $base_ops ops/s, p99 $base_p99 ms |"
echo "| ... during the move | $during_ops ops/s ($(awk -v a="$during_ops" -v b="$base_ops" 'BEGIN { printf "%.2f", a / b }')x), p99 $during_p99 ms ($(awk -v a="$during_p99" -v b="$base_p99" 'BEGIN { printf "%.2f", a / b }')x) |"
echo "| written to disk per node in those ${SECS} s windows: without / with the move | $(s_written_mb "$io_base0" "$io_base1") MB / $(s_written_mb "$io_move0" "$io_move1") MB (this disk: $disk MB/s writing 512 MiB in 1 MiB writes, synced at the end) |"
rb_ops=$(s_ops "$WORK/base-rate.json") rd_ops=$(s_ops "$WORK/during-rate.json")
rb_p99=$(s_p99 "$WORK/base-rate.json") rd_p99=$(s_p99 "$WORK/during-rate.json")
echo "| other shards at a fixed $rate requests/s, without a move | $rb_ops ops/s, p99 $rb_p99 ms |"
echo "| ... while the shard moves back (served after $back_s s) | $rd_ops ops/s ($(awk -v a="$rd_ops" -v b="$rb_ops" 'BEGIN { printf "%.2f", a / b }')x), p99 $rd_p99 ms ($(awk -v a="$rd_p99" -v b="$rb_p99" 'BEGIN { printf "%.2f", a / b }')x) |"
echo "| puts, 64 clients: one shard group / two | ${puts[1]} / ${puts[1 2]} ops/s ($(awk -v a="${puts[1 2]}" -v b="${puts[1]}" 'BEGIN { printf "%.2f", a / b }')x) |"
