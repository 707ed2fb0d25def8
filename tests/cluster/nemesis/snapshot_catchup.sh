#!/bin/bash
# snapshot_catchup.sh: a follower far behind catches up by streamed snapshots while it, and once
# the leader, are killed mid-stream; writers never stop; nothing acknowledged is lost.
#
#     ZKV_BUILD=build snapshot_catchup.sh [--mode netns|lo] [--fill-mb 8] [--kills 3]
#                                         [--writers 4] [--seed S]
#
# 3 nodes, snapshot_bytes 64 KiB and snapshot_chunk_bytes 4 KiB (the config is patched after
# cl_init): the log compacts every few dozen puts and a data set of FILL_MB spans thousands
# of chunks (a stream of 8 MB took about 0.3 s here: long enough to be hit).
# Writers put unique keys with 3000-byte values from start to end, a few per second each
# (`zkv put` exit 0 = acknowledged, recorded; exit 3 = unknown, recorded apart).
#  1. Follower F gets kill -9. `zkv bench` (one client, 4000-byte values, fresh keys, history
#     recorded) stores FILL_MB while F is down; the leader compacts its log past F.
#  2. KILLS times: F restarts, and 0..199 ms after it publishes zkv.raft.snapshot.receiving
#     (group 1) it gets kill -9. A round where the stream had already installed (or F booted
#     with a state that needs none) is a miss (F is then kept down until the leader compacted
#     past it again, and a round is added, up to 3); at least one mid-stream kill is required.
#  3. F restarts; 0..149 ms after it begins receiving, the leader L gets kill -9. F and the
#     third node must elect, and F must finish its catch-up from the new leader while L is
#     down; then L restarts.
#  3b. Once more behind (F killed until the leader compacted past it), F restarts; 0..149 ms
#     into its stream the leader is paused (SIGSTOP, as a partition); F must finish from the
#     leader the two others elect; then the old one continues, with its stale transfer.
#  4. The writers stop. Within a deadline every node applies the same index in every group
#     (`zkv status`). F is made the leader (its leader is paused until the others elect), so
#     that the reads are served from the state F rebuilt; every acknowledged write reads back
#     with its value (a write of unknown outcome: absent or any value written). No node log
#     has an assertion, abort, sanitizer report or fatal error; every node still runs; F's
#     last life began few streams and refused few (each refusal restarts its Raft core): no
#     loop. Stream, refusal, install, snapshot and compaction counts (events) are reported.
#  3c. Behind once more, F is killed 80..159% of a whole stream's duration into its stream (the
#     last chunks or the install) and restarted.
# The kill points within a stream are drawn from the seed (printed; --seed S replays them).
# Leaders, roles and indexes come from `zkv status --json`; streams begun and installed,
# snapshots taken and how long a stream took, from the events (`zkv watch --json`, see
# lib/cluster.sh); every start of a node is one the watcher hears from its first peer message
# (cl_start_observed). The logs are read for errors only.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mode=netns
[ "$(id -u)" = 0 ] || mode=lo
fill_mb=8
kills=3
seed=$(($(date +%s%N) % 1000000))
writers=4
while [ $# -gt 0 ]; do
    case $1 in
    --mode) mode=$2 ;;
    --fill-mb) fill_mb=$2 ;;
    --kills) kills=$2 ;;
    --seed) seed=$2 ;;
    --writers) writers=$2 ;;
    *)
        echo "usage: $0 [--mode netns|lo] [--fill-mb MB] [--kills K] [--writers W] [--seed S]" >&2
        exit 2
        ;;
    esac
    shift 2
done
# shellcheck source=../lib/cluster.sh
source "$here/../lib/cluster.sh"

chunk_bytes=4096
value_bytes=3000
fill_value_bytes=4000
export CL_SNAPSHOT_BYTES=65536
cl_init 3 "$mode"
cl_log "snapshot_catchup: seed $seed (the kill points; the clock decides the rest)"
# cluster.sh writes no chunk size: add it, so that a few MB are many chunks.
sed -i "s/^    snapshot_bytes = .*/&\n    snapshot_chunk_bytes = $chunk_bytes/" "$CL_DIR/cluster.cfg"
grep -q "snapshot_chunk_bytes = $chunk_bytes" "$CL_DIR/cluster.cfg" || cl_die "config not patched"
cl_start_all
cl_wait_leaders 30

# A 31-bit LCG (as nemesis.sh's): R = the next draw in 0..$1-1.
X=$seed
draw () {
    X=$(((X * 1103515245 + 12345) % 2147483648))
    R=$(((X >> 8) % $1))
}
# The timing of a fault, not a wait for a condition.
sleep_ms () {
    [ "$1" = 0 ] || sleep "$(($1 / 1000)).$(printf '%03d' $(($1 % 1000)))"
}

# A writer's value is KEY|NONCE|padding, cut to value_bytes: derived from the key, so only keys
# are recorded, and a value read under the wrong key is caught.
nonce=$$.$RANDOM
pad=$(head -c "$value_bytes" /dev/zero | tr '\0' 'p')
value_of () {
    local v="$1|$nonce|$pad"
    printf '%s' "${v:0:$value_bytes}"
}

# writer W: puts keys w<W>-<n> until the stop file appears, about 5 per second; records the key
# in acked.W (exit 0) or unknown.W (exit 3: may or may not have been applied).
writer () {
    local w=$1 n=0 key rc
    while [ ! -e "$CL_DIR/stop" ]; do
        n=$((n + 1))
        key="w$w-$n"
        rc=0
        cl_zkv --timeout 3000 put "$key" "$(value_of "$key")" > /dev/null 2>&1 || rc=$?
        case $rc in
        0) echo "$key" >> "$CL_DIR/acked.$w" ;;
        3) echo "$key" >> "$CL_DIR/unknown.$w" ;;
        esac
        sleep 0.2 # a rate (the log keeps compacting during the streams), not a wait
    done
}
acked () { cat "$CL_DIR"/acked.* 2> /dev/null | wc -l || true; }

# node_field NODE FIELD [GROUP]: node NODE's view of group GROUP (default 1) in zkv status
# --json: role, term, leader, commit, applied, last_index, snapshot_index, log_bytes.
node_field () {
    cl_status_field "$1" "${3:-1}" "$2"
}

# Counted events of node I's group 1 in its current life (since cl_start). A node that booted
# with a state that needs no stream (a stream staged whole before a kill is installed at boot,
# which publishes nothing) counts as having installed one: booted_whole, set by
# start_until_stream.
booted_whole=0
booted_applied=
life_events () {
    cl_event_count "$(cl_life_mark "$1")" "$2" node="$1" group=1
}
receiving () { life_events "$1" zkv.raft.snapshot.receiving; }
installed () { echo $(($(life_events "$1" zkv.raft.snapshot.installed) + booted_whole)); }
# The index of node I's last install, in any life (empty if none): its last
# zkv.raft.snapshot.installed, or the state it booted with if that is later.
installed_index () {
    local e
    e=$(cl_events 0 zkv.raft.snapshot.installed node="$1" group=1 | cl_event_field index | tail -n 1)
    if [ "$booted_whole" = 1 ] && [ "${e:-0}" -lt "$booted_applied" ]; then e=$booted_applied; fi
    echo "$e"
}

# zkvd still runs (a zombie does not).
running () {
    local pid
    pid=$(cl_pid "$1")
    [ -n "$pid" ] && kill -0 "$pid" 2> /dev/null &&
        [ "$(awk '{print $3}' "/proc/$pid/stat" 2> /dev/null)" != Z ]
}
# Dies with the last lines of node I's current life.
fatal_life () {
    echo "--- node $1: the end of its last life" >&2
    awk '/^=== start/ { s = NR } { l[NR] = $0 } END { for (i = (NR - 30 > s ? NR - 30 : s); i <= NR; i++) print l[i] }' \
        "$CL_DIR/node$1.log" >&2
    cl_die "node $1 $2"
}
# Dies when node I exited on its own.
must_run () {
    running "$1" || fatal_life "$1" "exited on its own ($2)"
}

# The LevelDB lock of node I's data dir is held (a POSIX lock, listed in /proc/locks).
lock_held () {
    local ino
    ino=$(stat -c %i "$CL_DIR/data$1/LOCK" 2> /dev/null) || return 1
    awk -v ino="$ino" '{ n = split($6, p, ":"); if (p[n] == ino) found = 1 } END { exit !found }' \
        /proc/locks
}
# Starts node I once its last life let go of the database. cl_kill counts a zombie as gone,
# but a zombie group leader's other threads may still be exiting with the database open (seen
# once under ASan and load: the restart failed on LevelDB's LOCK). The event watcher hears the
# new life from its first peer message (cl_start_observed): no stream goes unseen.
start_node () {
    cl_wait_until 10 "node $1's last life to release its database lock" eval "! lock_held $1"
    booted_whole=0
    cl_start_observed "$1"
}

# For start_until_stream: node I booted with a state that needs no stream: its applied index
# of group 1 is a real one and reaches the snapshot of group 1's leader (another node).
needs_no_stream () {
    local st
    st=$(cl_status 1000)
    echo "$st" | awk -v i="$1" '
        $2 == 1 && $1 == i { a = $7 }
        $2 == 1 && $1 != i && $3 == "leader" { s = $9 }
        END { exit (a ~ /^[0-9]+$/ && a > 0 && a + 0 < 1e18 && s ~ /^[0-9]+$/ && a + 0 >= s + 0) ? 0 : 1 }' ||
        return 1
    booted_applied=$(echo "$st" | awk -v i="$1" '$2 == 1 && $1 == i { print $7 }')
}

# start_until_stream I SECS: starts node I and returns the moment it publishes that it is
# receiving a group 1 snapshot (or installed one), or once its status shows it booted with a
# state that needs none (booted_whole=1); dies if nothing of the kind within SECS, or if it
# exits. The events are followed as the watcher writes them, not polled: a stream of 8 MB
# lasted about 0.3 s here.
start_until_stream () {
    local i=$1 secs=$2 deadline=$((SECONDS + $2)) mark
    start_node "$i"
    mark=$(cl_life_mark "$i")
    until CL_FOLLOW_PID=$(cl_pid "$i") cl_next_event 1 "$mark" \
        'zkv.raft.snapshot.receiving|zkv.raft.snapshot.installed' node="$i" group=1 > /dev/null; do
        must_run "$i" "restarted to catch up"
        if needs_no_stream "$i"; then
            booted_whole=1
            break
        fi
        [ $SECONDS -lt $deadline ] || cl_die "node $i began no stream within ${secs}s"
    done
    must_run "$i" "restarted to catch up"
}

# For cl_wait_until: the leader of group 1 has compacted its log well past index $1.
compacted_past () {
    local l s
    l=$(cl_leader 1)
    [ -n "$l" ] || return 1
    s=$(node_field "$l" snapshot_index)
    [ -n "$s" ] && [ "$s" -gt $(($1 + 50)) ]
}
# Sets f_applied to node I's applied index (its status; else its last install) and kills it.
applied_then_kill () {
    f_applied=$(node_field "$1" applied)
    case $f_applied in '' | 0 | ????????????????????*) f_applied=$(installed_index "$1") ;; esac
    cl_kill "$1" KILL
}
installed_or_dead () {
    ! running "$1" || [ "$(installed "$1")" -gt 0 ]
}

# ---- 1. a follower falls far behind ---------------------------------------------------------
leader=$(cl_leader 1)
[ -n "$leader" ] || cl_die "no leader of group 1"
f=$((leader % 3 + 1))
f_applied=$(node_field "$f" applied)
[ -n "$f_applied" ] || cl_die "no status of node $f"
cl_log "leader of group 1 is node $leader; follower $f (applied $f_applied) gets kill -9"
down_mark=$(cl_event_mark)
cl_kill "$f" KILL

wpids=()
for ((w = 1; w <= writers; w++)); do
    writer "$w" &
    wpids+=($!)
done
# The bulk: one bench client (its history is sequential: a key's last acknowledged put is its
# value), 1 s runs with fresh keys until FILL_MB are acknowledged.
fill_bytes=0
for ((b = 1; fill_bytes < fill_mb * 1048576; b++)); do
    [ $b -le 20 ] || cl_die "20 bench runs stored only $fill_bytes bytes"
    cl_zkv --timeout 3000 bench --clients 1 --seconds 1 --keys 1000000 --mix 0:100:0 \
        --value-bytes "$fill_value_bytes" --history "$CL_DIR/fill.$b.jsonl" \
        > "$CL_DIR/fill.$b.out" 2>&1 || cl_die "zkv bench failed: $(tail -n 3 "$CL_DIR/fill.$b.out")"
    ok=$(grep -c '"type": "ok"' "$CL_DIR/fill.$b.jsonl" || true)
    fill_bytes=$((fill_bytes + ok * fill_value_bytes))
done
cl_wait_until 30 "the leader's log compacted past node $f" compacted_past "$f_applied"
leader=$(cl_leader 1)
# Several compactions past F, not one.
taken_since_down () {
    cl_event_count "$down_mark" zkv.raft.snapshot.taken node="$leader" group=1
}
cl_wait_until 30 "node $leader to take 3 snapshots while node $f is down" \
    eval '[ "$(taken_since_down)" -ge 3 ]'
cl_log "bench stored $((fill_bytes / 1048576)) MB; $(acked) writer puts acknowledged; leader $leader:" \
    "snapshot at $(node_field "$leader" snapshot_index), $(taken_since_down) snapshots taken" \
    "since node $f went down; node $f applied $f_applied"

# ---- 2. kill -9 the follower mid-stream, several times ----------------------------------------
# The kill lands DELAY ms after the stream's first chunk (its zkv.raft.snapshot.receiving; 0 in
# the first round, then drawn from the seed, 0..199): a stream of 8 MB lasts about 0.3 s, so
# some kills leave most of it staged. A kill that came after the install is a miss; rounds go on
# until KILLS mid-stream kills or KILLS + 3 rounds.
mid=0
for ((k = 1; mid < kills && k <= kills + 3; k++)); do
    delay=0
    [ $k = 1 ] || { draw 200; delay=$R; }
    start_until_stream "$f" 30
    sleep_ms "$delay"
    must_run "$f" "receiving a stream, round $k"
    cl_kill "$f" KILL
    if [ "$(installed "$f")" -gt 0 ]; then
        f_applied=$(installed_index "$f")
        if [ "$booted_whole" = 1 ]; then
            cl_log "round $k: node $f booted with its state at $f_applied, which needs no stream: a miss"
        else
            cl_log "round $k: node $f installed the snapshot at $f_applied before the kill" \
                "(${delay} ms after its first chunk): a miss"
        fi
        cl_wait_until 30 "the leader's log compacted past node $f again" compacted_past "$f_applied"
    else
        mid=$((mid + 1))
        cl_log "round $k: node $f killed mid-stream, ${delay} ms after its first chunk" \
            "($(receiving "$f") stream(s) begun, none installed)"
    fi
    must_run "$leader" "serving node $f's stream"
done
[ $mid -gt 0 ] || cl_die "no kill of node $f landed mid-stream in $((k - 1)) rounds (seed $seed)"

# ---- 3. kill -9 the leader while the follower is mid-stream ------------------------------------
leader=$(cl_leader 1)
[ -n "$leader" ] || cl_die "no leader of group 1 with node $f down"
[ "$leader" != "$f" ] || cl_die "node $f is down but reported as leader"
leader_pid=$(cl_pid "$leader")
draw 150
delay=$R
start_until_stream "$f" 30
sleep_ms "$delay"
kill -KILL "$leader_pid"
if [ "$(installed "$f")" = 0 ]; then
    leader_mid=1
    cl_log "leader $leader killed ${delay} ms after node $f's first chunk, mid-stream" \
        "($(receiving "$f") stream(s) begun)"
else
    leader_mid=0
    cl_log "leader $leader killed ${delay} ms after node $f's first chunk, but node $f had" \
        "installed already: not mid-stream"
fi
cl_kill "$leader" KILL
must_run "$f" "catching up when its leader died"
cl_wait_leaders 30
cl_log "new leader of group 1: node $(cl_leader 1); node $f must finish its catch-up from it"
cl_wait_until 60 "node $f to install a snapshot while node $leader is down" installed_or_dead "$f"
must_run "$f" "catching up from the new leader"
start_node "$leader"
cl_log "node $f installed the snapshot at $(installed_index "$f"); node $leader restarted"
cl_wait_leaders 30

# ---- 3b. pause the leader while the follower is mid-stream -------------------------------------
# As a partition would: the two others elect, F must finish from the new leader, and the old
# one wakes up with a transfer in flight and a stale term.
applied_then_kill "$f"
cl_wait_until 30 "the leader's log compacted past node $f" compacted_past "$f_applied"
leader=$(cl_leader 1)
if [ -z "$leader" ] || [ "$leader" = "$f" ]; then cl_die "no leader of group 1 but node $f"; fi
draw 150
delay=$R
start_until_stream "$f" 30
sleep_ms "$delay"
cl_kill "$leader" STOP
if [ "$(installed "$f")" = 0 ]; then
    pause_mid=1
    cl_log "leader $leader paused ${delay} ms after node $f's first chunk, mid-stream"
else
    pause_mid=0
    cl_log "leader $leader paused ${delay} ms after node $f's first chunk, but node $f had" \
        "installed already: not mid-stream"
fi
cl_wait_until 30 "a leader of group 1 while node $leader is paused" \
    cl_has_leader_other_than 1 "$leader"
cl_wait_until 60 "node $f to install a snapshot while node $leader is paused" installed_or_dead "$f"
must_run "$f" "catching up while its first leader is paused"
cl_kill "$leader" CONT
cl_log "node $f installed the snapshot at $(installed_index "$f") from node $(cl_leader 1);" \
    "node $leader continued"
cl_wait_leaders 30

# ---- 3c. kill -9 the follower near the end of a stream ----------------------------------------
# 80..159% of the last whole stream's duration after its first chunk: the last chunks or the
# install itself (a staged stream whose Raft snapshot was saved is installed at the restart).
# (From F's events: a stream's first chunk and its install carry the same snapshot index.)
dur=$(cl_events 0 'zkv.raft.snapshot.receiving|zkv.raft.snapshot.installed' node="$f" group=1 |
    awk "$CL_EVENT_VAL_AWK"'
        { t = val($0, "topic"); i = val($0, "index"); ms = val($0, "time_ms") }
        t == "zkv.raft.snapshot.receiving" { r[i] = ms }
        t == "zkv.raft.snapshot.installed" && (i in r) { d = ms - r[i] }
        END { print d + 0 }')
if [ "$dur" -gt 0 ]; then
    applied_then_kill "$f"
    cl_wait_until 30 "the leader's log compacted past node $f" compacted_past "$f_applied"
    draw 80
    delay=$((dur * (80 + R) / 100))
    start_until_stream "$f" 30
    sleep_ms "$delay"
    cl_kill "$f" KILL
    if [ "$(installed "$f")" = 0 ]; then
        cl_log "node $f killed ${delay} ms into a stream (a whole one took ${dur} ms): before its install"
    else
        cl_log "node $f killed ${delay} ms into a stream (a whole one took ${dur} ms): after its install"
    fi
    start_node "$f"
    cl_wait_leaders 30
    must_run "$f" "restarted after a kill near an install"
else
    cl_log "no whole stream of node $f was timed: no kill near an install"
fi

# ---- 4. the writers stop; everything converges and reads back ---------------------------------
touch "$CL_DIR/stop"
cl_wait_writers 30 "${wpids[@]}"
for ((i = 1; i <= 3; i++)); do must_run "$i" "before the convergence check"; done
cl_wait_until 60 "every node to apply the same index in every group" cl_converged
cl_zkv status > "$CL_DIR/converged.status" 2>&1 || true
cl_log "converged:"
cat "$CL_DIR/converged.status" >&2
# The reads are served by the leader: make it F, so that they read the state F rebuilt from
# streams. Its leader (not F) is paused until the two others elect, which F wins half the time.
for ((t = 1; t <= 8; t++)); do
    leader=$(cl_leader 1)
    [ "$leader" != "$f" ] || break
    [ -n "$leader" ] || { cl_wait_leaders 30; continue; }
    # Only a node as up to date as the others can win; F is, once all agree.
    cl_wait_until 60 "every node to apply the same index before election $t" cl_converged
    cl_kill "$leader" STOP
    cl_wait_until 30 "a leader of group 1 while node $leader is paused" \
        cl_has_leader_other_than 1 "$leader"
    cl_kill "$leader" CONT
done
leader=$(cl_leader 1)
[ "$leader" = "$f" ] || cl_die "node $f did not become the leader of group 1 in 8 elections"
cl_wait_until 60 "every node to apply the same index in every group (node $f leading)" cl_converged
cl_zkv status >&2 || true

# What must read back, one key a line: "A KEY VALUE" (acknowledged: exactly VALUE) or
# "U KEY V1 V2..." (unknown outcome: absent or one of the Vs). Bench keys: a key's last put
# decides, unless one of its puts timed out (then any of its values may be the last applied).
for w in "$CL_DIR"/acked.*; do
    while read -r key; do echo "A $key $(value_of "$key")"; done < "$w"
done > "$CL_DIR/expect"
for w in "$CL_DIR"/unknown.*; do
    [ -e "$w" ] || continue
    while read -r key; do echo "U $key $(value_of "$key")"; done < "$w"
done >> "$CL_DIR/expect"
cat "$CL_DIR"/fill.*.jsonl | awk '
    /"f": "put"/ && /"type": "(ok|info)"/ {
        match ($0, /"key": "[^"]*"/); k = substr ($0, RSTART + 8, RLENGTH - 9)
        match ($0, /"value": "[^"]*"/); v = substr ($0, RSTART + 10, RLENGTH - 11)
        if (!(k in last)) order[++n] = k
        last[k] = v; all[k] = all[k] " " v
        if ($0 ~ /"type": "info"/) unk[k] = 1
    }
    END { for (i = 1; i <= n; i++) { k = order[i]; if (k in unk) print "U " k all[k]; else print "A " k " " last[k] } }' \
    >> "$CL_DIR/expect"
total=$(grep -c '^A' "$CL_DIR/expect" || true)
unknown=$(grep -c '^U' "$CL_DIR/expect" || true)
cl_log "reading back $total acknowledged keys ($unknown more of unknown outcome) through node" \
    "$f, the leader, 8 readers"
# reader R: checks lines R, R+8, ... of the expect file.
reader () {
    local r=$1 kind key want got
    while read -r kind key want; do
        if ! got=$(cl_zkv_maybe --timeout 5000 get "$key"); then
            echo "GET FAILED: $key" >> "$CL_DIR/bad.$r"
        elif [ "$kind" = A ] && [ "$got" != "$want" ]; then
            echo "LOST: $key: got ${#got} bytes '${got:0:40}', want '${want:0:40}...'" >> "$CL_DIR/bad.$r"
        elif [ "$kind" = U ] && [ -n "$got" ] && [[ " $want " != *" $got "* ]]; then
            echo "WRONG: $key (unknown outcome) holds '${got:0:40}...'" >> "$CL_DIR/bad.$r"
        fi
    done < <(awk -v r="$r" 'NR % 8 == r % 8' "$CL_DIR/expect")
}
rpids=()
for ((r = 1; r <= 8; r++)); do
    reader "$r" &
    rpids+=($!)
done
for p in "${rpids[@]}"; do wait "$p" || cl_die "a reader failed"; done
bad=$(cat "$CL_DIR"/bad.* 2> /dev/null | wc -l || true)
if [ "$bad" != 0 ]; then
    cat "$CL_DIR"/bad.* | head -n 20 >&2 || true
    cl_die "$bad of $total acknowledged (+$unknown unknown) keys did not read back correctly"
fi

# ---- the logs -------------------------------------------------------------------------------
for ((i = 1; i <= 3; i++)); do
    must_run "$i" "at the end"
    if grep -m 10 -nE 'Assertion|Abort|Sanitizer|runtime error|stopping the node|Segmentation' \
        "$CL_DIR/node$i.log" >&2; then
        cl_die "node $i's log has an assertion, abort, sanitizer report or fatal error (above)"
    fi
done
streams_last=$(receiving "$f")
[ "$streams_last" -le 5 ] || cl_die "node $f began $streams_last streams in its last life: a loop"
# (Each refused chunk or stream, zkv.raft.snapshot.rejected, restarts the group's Raft core.)
restarts=$(life_events "$f" zkv.raft.snapshot.rejected)
[ "$restarts" -le 5 ] || cl_die "node $f restarted its Raft core $restarts times in its last life"
cl_log "node $f's last life: $streams_last stream(s) begun, $restarts refused (Raft restarts)"

ev () { cl_event_count 0 "$1" node="$2" group=1; }
for ((i = 1; i <= 3; i++)); do
    cl_log "node $i, group 1 (events): $(ev zkv.raft.snapshot.receiving "$i") streams begun," \
        "$(ev zkv.raft.snapshot.rejected "$i") refused, $(ev zkv.raft.snapshot.installed "$i") installed," \
        "$(ev zkv.raft.snapshot.taken "$i") taken, $(ev zkv.raft.compacted "$i") compactions"
done
# Warnings are not failures, but they tell what the catch-up went through: the kinds, counted.
cat "$CL_DIR"/node*.log | sed -n 's/^W: ([^)]*) [0-9-]* [0-9:]* //p' | sed 's/[0-9][0-9]*/N/g' |
    sort | uniq -c | sort -rn | head -n 8 | while read -r line; do cl_log "warning: $line"; done
[ "$(cl_leader 1)" = "$f" ] || cl_log "note: node $f lost the leadership during the read-back"
cl_log "about $((fill_bytes / chunk_bytes)) chunks of $chunk_bytes bytes per full stream (the" \
    "events count no chunks); $mid mid-stream kills of node $f; the leader killed" \
    "($leader_mid) and paused ($pause_mid) mid-stream; all $total acknowledged writes read back (seed $seed)"
cl_pass
echo "1 passed, 0 failed"
