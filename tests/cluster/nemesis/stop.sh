#!/bin/bash
# stop.sh: zkvd stops within two seconds of SIGTERM in any state (docs/design.md, "Queues between
# actors"): nodes are stopped under heavy load, in the middle of snapshot streams (the streaming
# leader and the receiving follower) and in elections; every stop is timed and must exit 0 within
# the bound after publishing zkv.node.stopping, and no acknowledged write is lost.
#
#     ZKV_BUILD=build stop.sh [--mode netns|lo] [--seed S] [--bound-ms 2000] [--fill-mb 8]
#                             [--chunk-bytes 1048576] [--stream-clients 64] [--chain 2]
#                             [--load-rounds 4] [--stream-rounds 6] [--election-rounds 3]
#                             [--campaign-rounds 1]
#
# 3 nodes, snapshot_bytes 64 KiB (the log compacts every few dozen puts) and chunks of
# snapshot_chunk_bytes (1 MiB, zkvd's default). A writer puts unique keys (a few a second) from
# start to end; what it got acknowledged must read back at the end. A scenario whose rounds are
# set to 0 is skipped.
#  load: `zkv bench`, 64 clients, 20% gets, 80% puts. LOAD_ROUNDS times, 0.5..2 s into the
#     load, SIGTERM to the leader of group 1 or to a follower (alternating: both are hit), then
#     a restart.
#  stream: a follower F is stopped, the bench fills FILL_MB and the leader compacts its log past
#     F several times; then STREAM_CLIENTS (64) bench clients write through all the rounds, so
#     that the streaming leader is also busy applying. F restarts (observed: the watcher hears
#     its first stream), and 0..59 ms after its zkv.raft.snapshot.receiving (group 1), SIGTERM
#     to the LEADER streaming to it (the case that used to hang for good: rounds 1, 3, 4, 6...),
#     or to F itself (rounds 2, 5...). After a leader's stop comes a chain: the stopped leader
#     restarts at once, F starts over from the new leader, which is stopped 0..59 ms into its
#     stream too, CHAIN times (while F has installed nothing). A stop is mid-stream when F had
#     not installed that snapshot when the signal was sent (event times: one wall clock); at
#     least one of each kind must be. Between rounds F is stopped again (often mid-stream from
#     the new leader) and left behind again.
#     (The daemon before the group driver, a26150b, hangs here: its applier, answering a chunk
#     request, blocked for good sending to its group that had already stopped; about one leader
#     stop in five or ten under this load with 1 MiB chunks, none in 30 with 4 KiB chunks.)
#  election: the leader of group 1 is paused (SIGSTOP); at the first candidate's zkv.raft.term
#     (term risen, no leader yet), SIGTERM to that candidate or to the other node (its voter).
#     A round counts as mid-election when no zkv.raft.leader of that term was published before
#     the signal; with PreVote the vote round takes a few ms, so the signal mostly lands just
#     after it (reported, not required). The campaigns below are mid-election by construction.
#  campaign: lone campaigns. The leader and one follower are paused, so the third node
#     campaigns alone every election timeout and can never win (its messages pile up for peers
#     that do not read them): with PreVote (the default) as a pre-candidate (zkv status shows
#     the role; its term cannot rise). It gets SIGTERM; then the paused follower continues,
#     campaigns alone and gets SIGTERM; then the old leader, which steps down (CheckQuorum).
#  all: every node gets SIGTERM at once; the config is changed to pre_vote = false.
#  campaign2: the lone campaigns again without PreVote: a lone node's term rises at every
#     campaign (zkv.raft.term, role candidate); each raises it twice before its SIGTERM.
#  final: after the read-back below, every node at once again.
# Every stop: the time from kill -TERM until the process is gone (reaped: every thread exited),
# polled every 10 ms against a deadline, must be at most BOUND_MS (2000, for an ASan build too
# unless --bound-ms says otherwise); its exit status 0 (the nodes are children of this shell:
# CL_WAITABLE); a zkv.node.stopping event with its pid; no assertion, abort, sanitizer report or
# fatal error in that life's log. A node still running 10 s after SIGTERM is hung: its threads'
# kernel stacks and a gdb backtrace of every thread are saved and printed, then it gets kill -9.
# At the end the nodes converge, every acknowledged write reads back and a fresh put/get works.
# The stop times are reported: one line per stop, then per scenario count, median, p90 and max,
# and a histogram. The choices (victims, delays) come from the seed, printed; --seed S replays
# them. Any failure is listed at the end, after the report.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mode=netns
[ "$(id -u)" = 0 ] || mode=lo
seed=$(($(date +%s%N) % 1000000))
bound_ms=2000
fill_mb=8
chunk_bytes=1048576
stream_clients=64
chain=2
load_rounds=4
stream_rounds=6
election_rounds=3
campaign_rounds=1
while [ $# -gt 0 ]; do
    case $1 in
    --mode) mode=$2 ;;
    --seed) seed=$2 ;;
    --bound-ms) bound_ms=$2 ;;
    --fill-mb) fill_mb=$2 ;;
    --chunk-bytes) chunk_bytes=$2 ;;
    --stream-clients) stream_clients=$2 ;;
    --chain) chain=$2 ;;
    --load-rounds) load_rounds=$2 ;;
    --stream-rounds) stream_rounds=$2 ;;
    --election-rounds) election_rounds=$2 ;;
    --campaign-rounds) campaign_rounds=$2 ;;
    *)
        echo "usage: $0 [--mode netns|lo] [--seed S] [--bound-ms MS] [--fill-mb MB]" \
            "[--load-rounds N] [--stream-rounds N] [--election-rounds N] [--campaign-rounds N]" >&2
        exit 2
        ;;
    esac
    shift 2
done
# shellcheck source=../lib/cluster.sh
source "$here/../lib/cluster.sh"

hang_s=10 # a node still running this long after SIGTERM is hung: evidence, then kill -9
export CL_SNAPSHOT_BYTES=65536
# The nodes stay jobs of this shell: `wait PID` gives a stopped node's exit status.
# shellcheck disable=SC2034 # (read by lib/cluster.sh: cl_start)
CL_WAITABLE=1
asan=no
case $(ldd "$ZKVD" 2> /dev/null || true) in *libasan*) asan=yes ;; esac
cl_init 3 "$mode"
cl_log "stop: seed $seed (victims and delays), bound ${bound_ms} ms, zkvd $ZKVD (ASan: $asan)"
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
# NOW_US: the wall clock in microseconds, without a fork (EPOCHREALTIME has 6 decimals). The
# nodes' event times (time_ms) are the same clock: they run on this machine.
now_us () {
    local t=${EPOCHREALTIME//[!0-9]/}
    NOW_US=$((10#$t))
}

# zkvd still runs (a zombie does not).
running () {
    local pid
    pid=$(cl_pid "$1")
    [ -n "$pid" ] && kill -0 "$pid" 2> /dev/null &&
        [ "$(awk '{print $3}' "/proc/$pid/stat" 2> /dev/null)" != Z ]
}
node_field () {
    cl_status_field "$1" "${3:-1}" "$2"
}
# The lines of node I's current (or last) life in its log.
life_log () {
    awk '/^=== start/ { n = 0 } { l[++n] = $0 } END { for (i = 1; i <= n; i++) print l[i] }' \
        "$CL_DIR/node$1.log"
}
bad_log_re='Assertion|Abort|Sanitizer|runtime error|stopping the node|Segmentation|fatal'

# ---- stopping a node, timed ---------------------------------------------------------------

# One line per stop in $CL_DIR/stops: SCENARIO NODE MS RC WHAT...
: > "$CL_DIR/stops"
: > "$CL_DIR/failures"
fail () {
    cl_log "FAILURE: $*"
    echo "$*" >> "$CL_DIR/failures"
}

# Saves what a hung node's threads are doing: kernel stacks, states, a gdb backtrace.
hang_evidence () {
    local i=$1 pid=$2 out=$CL_DIR/hang.node$1.$2.txt t
    {
        echo "=== node $i pid $pid, $(date +%H:%M:%S.%3N), still running after SIGTERM"
        for t in /proc/"$pid"/task/*; do
            echo "--- thread ${t##*/} $(cat "$t/comm" 2> /dev/null) state $(awk '{print $3}' "$t/stat" 2> /dev/null) wchan $(cat "$t/wchan" 2> /dev/null)"
            cat "$t/stack" 2> /dev/null
        done
        if command -v gdb > /dev/null; then
            echo "=== gdb: thread apply all bt"
            timeout 60 gdb -batch -nx -p "$pid" -ex "set pagination off" -ex "thread apply all bt" 2>&1 |
                grep -vE '^\[New LWP|^warning: ' || true
        fi
        echo "=== node $i: its last life's log (tail)"
        life_log "$i" | tail -n 40
    } > "$out" 2>&1
    cat "$out" >&2
}

# stop_nodes SCENARIO WHAT I...: SIGTERM to each node I at once, then times each until its
# process is gone; records and checks every stop (see the header).
stop_nodes () {
    local sc=$1 what=$2
    shift 2
    local i pid mark left ms rc
    local -A pids=() gone=()
    for i in "$@"; do
        running "$i" || cl_die "node $i is not running before its stop ($sc)"
        # Its zkv.node.stopping must be heard: the watcher must be connected to it.
        cl_wait_until 10 "the event watcher to connect to node $i" cl_watching "$i"
        pids[$i]=$(cl_pid "$i")
    done
    mark=$(cl_event_mark)
    now_us
    local t0=$NOW_US
    KILL_MS=$((t0 / 1000))
    for i in "$@"; do kill -TERM "${pids[$i]}"; done
    left=$#
    while [ "$left" -gt 0 ]; do
        now_us
        for i in "$@"; do
            [ -z "${gone[$i]:-}" ] || continue
            if ! kill -0 "${pids[$i]}" 2> /dev/null; then
                gone[$i]=$(((NOW_US - t0) / 1000))
                left=$((left - 1))
            elif [ $((NOW_US - t0)) -gt $((hang_s * 1000000)) ]; then
                fail "$sc: node $i (pid ${pids[$i]}, $what) still running ${hang_s} s after SIGTERM: hung"
                hang_evidence "$i" "${pids[$i]}"
                kill -KILL "${pids[$i]}" 2> /dev/null || true
                gone[$i]=hung
                left=$((left - 1))
            fi
        done
        [ "$left" = 0 ] || sleep 0.01
    done
    for i in "$@"; do
        pid=${pids[$i]}
        ms=${gone[$i]}
        rc=0
        wait "$pid" 2> /dev/null || rc=$?
        rm -f "$CL_DIR/node$i.pid"
        if [ "$ms" = hung ]; then
            echo "$sc $i 99999 $rc $what" >> "$CL_DIR/stops" # (99999: hung, listed as HUNG)
            continue
        fi
        echo "$sc $i $ms $rc $what" >> "$CL_DIR/stops"
        cl_log "$sc: node $i ($what) stopped in $ms ms, exit $rc"
        [ "$ms" -le "$bound_ms" ] ||
            fail "$sc: node $i ($what) took $ms ms to stop after SIGTERM (bound $bound_ms ms)"
        [ "$rc" = 0 ] || fail "$sc: node $i ($what) exited with status $rc after SIGTERM"
        cl_next_event 5 "$mark" zkv.node.stopping node="$i" pid="$pid" > /dev/null ||
            fail "$sc: node $i (pid $pid, $what) published no zkv.node.stopping"
        if life_log "$i" | grep -m 5 -nE "$bad_log_re" >&2; then
            fail "$sc: node $i's log (pid $pid, $what) has an assertion, abort, sanitizer report or fatal error (above)"
        fi
    done
}
stop_node () {
    local i=$1 sc=$2 what=$3
    stop_nodes "$sc" "$what" "$i"
}

# Starts node I again and waits until the watcher is connected to it (its next stop is heard).
restart () {
    cl_start "$1"
    cl_wait_until 10 "the event watcher to connect to node $1" cl_watching "$1"
}

# ---- the writer -----------------------------------------------------------------------------
# Unique keys s<n>, value derived from the key, about 5 a second, from now to the end; acked
# (exit 0) and unknown (exit 3: may or may not have been applied) keys recorded.
nonce=$$.$RANDOM
value_of () { printf '%s|%s|stop' "$1" "$nonce"; }
writer () {
    local n=0 key rc
    while [ ! -e "$CL_DIR/stop-writer" ]; do
        n=$((n + 1))
        key="s$n"
        rc=0
        cl_zkv --timeout 3000 put "$key" "$(value_of "$key")" > /dev/null 2>&1 || rc=$?
        case $rc in
        0) echo "$key" >> "$CL_DIR/acked" ;;
        3) echo "$key" >> "$CL_DIR/unknown" ;;
        esac
        sleep 0.2 # a rate, not a wait
    done
}
: > "$CL_DIR/acked"
: > "$CL_DIR/unknown"
writer &
writer_pid=$!
acked () { wc -l < "$CL_DIR/acked"; }

# ---- a. heavy load ----------------------------------------------------------------------------
# load_start NAME CLIENTS: `zkv bench` with CLIENTS clients, 20% gets, 80% puts, in the
# background until load_stop; its output in $CL_DIR/NAME.out and .err. zkv itself, not through a
# shell function (which would fork a subshell): $LOAD_PID is the process SIGTERM must end.
load_start () {
    local pre=()
    [ "$CL_MODE" != netns ] || pre=(ip netns exec "$(cl_ns c)")
    LOAD_NAME=$1
    "${pre[@]}" "$ZKV" --config "$CL_DIR/cluster.cfg" --timeout 2000 bench --clients "$2" \
        --seconds 3600 --mix 20:80:0 > "$CL_DIR/$1.out" 2> "$CL_DIR/$1.err" < /dev/null &
    LOAD_PID=$!
    echo "$LOAD_PID" >> "$CL_DIR/all.pids"
    cl_wait_until 20 "zkv bench to make progress" grep -q 'ops/s' "$CL_DIR/$1.err"
}
load_stop () {
    kill -TERM "$LOAD_PID"
    cl_wait_writers 30 "$LOAD_PID"
    cl_log "the load ($LOAD_NAME): $(grep -E '^(ops|throughput)' "$CL_DIR/$LOAD_NAME.out" |
        tr -s ' ' | paste -sd ';')"
}

# (scenario a, run when --load-rounds is not 0)
scenario_load () {
    load_start load 64
    draw 2
    kind=$R # 0: the leader first, 1: a follower first; then alternating
    for ((r = 1; r <= load_rounds; r++)); do
        draw 1500
        sleep_ms $((500 + R))
        leader=$(cl_leader 1)
        [ -n "$leader" ] || { cl_wait_leaders 30; leader=$(cl_leader 1); }
        if [ $(((kind + r) % 2)) = 1 ]; then
            victim=$leader
            what="leader of group 1, 64 clients"
        else
            draw 2
            victim=$(((leader + R) % 3 + 1))
            what="follower of group 1, 64 clients"
        fi
        [ "$(cl_leader 0)" != "$victim" ] || what="$what, leader of group 0"
        stop_node "$victim" load "$what"
        restart "$victim"
        cl_wait_leaders 30
    done
    load_stop
}
[ "$load_rounds" = 0 ] || scenario_load

# ---- c. mid-snapshot-streaming ----------------------------------------------------------------
fill_value_bytes=4000
# fill BYTES: one bench client putting fresh keys of 4000 bytes, 1 s runs, until BYTES are
# acknowledged.
fill () {
    local want=$1 got=0 b ok
    for ((b = 1; got < want; b++)); do
        [ $b -le 30 ] || cl_die "30 bench runs stored only $got bytes"
        cl_zkv --timeout 3000 bench --clients 4 --seconds 1 --keys 100000000 --mix 0:100:0 \
            --value-bytes "$fill_value_bytes" > "$CL_DIR/fill.out" 2>&1 ||
            cl_die "zkv bench failed: $(tail -n 3 "$CL_DIR/fill.out")"
        ok=$(awk '$1 == "ops:" { print $2 }' "$CL_DIR/fill.out")
        got=$((got + ${ok:-0} * fill_value_bytes))
    done
    FILLED=$got
}
# For cl_wait_until: the leader of group 1 has compacted its log well past index $1 and taken
# 3 snapshots since mark $2.
left_behind () {
    local l s
    l=$(cl_leader 1)
    [ -n "$l" ] || return 1
    s=$(node_field "$l" snapshot_index)
    [ -n "$s" ] && [ "$s" -gt $(($1 + 50)) ] &&
        [ "$(cl_event_count "$2" zkv.raft.snapshot.taken node="$l" group=1)" -ge 3 ]
}
# behind I APPLIED MARK: small fills until the leader left node I (down, applied APPLIED) behind.
behind () {
    local n
    for ((n = 1; n <= 20; n++)); do
        left_behind "$2" "$3" && return 0
        fill $((256 * 1024))
    done
    cl_die "the leader of group 1 did not compact past node $1 (applied $2)"
}
# The applied index of node I in group 1 as a number (0 when unknown or incomplete).
applied_of () {
    local a
    a=$(node_field "$1" applied)
    case $a in '' | - | ????????????????????*) echo 0 ;; *) echo "$a" ;; esac
}

# mid_stream MARK INDEX: node F had not installed the snapshot at INDEX (its
# zkv.raft.snapshot.installed after MARK) when the last signal was sent (KILL_MS).
mid_stream () {
    [ "$(cl_events "$1" zkv.raft.snapshot.installed node="$f" group=1 index="$2" |
        cl_event_field time_ms | awk -v k="$KILL_MS" '$1 <= k' | wc -l)" = 0 ]
}

# (scenario c, run when --stream-rounds is not 0)
scenario_stream () {
    leader=$(cl_leader 1)
    [ -n "$leader" ] || cl_die "no leader of group 1"
    draw 2
    f=$(((leader + R) % 3 + 1))
    f_applied=$(applied_of "$f")
    down_mark=$(cl_event_mark)
    stop_node "$f" stream "follower of group 1, before it is left behind"
    fill $((fill_mb * 1048576))
    cl_log "bench stored $((FILLED / 1048576)) MB while node $f was down"
    behind "$f" "$f_applied" "$down_mark"
    # Clients keep writing through the rounds: the streaming leader is also applying, so a
    # chunk it is asked for waits behind committed entries (the old daemon's applier then
    # answered a group that had already stopped, and hung for good).
    [ "$stream_clients" = 0 ] || load_start stream-load "$stream_clients"
    hits_leader=0 hits_follower=0 rounds=0 misses=0 prepped=1
    for ((k = 1; k <= stream_rounds + 3; k++)); do
        [ $rounds -lt "$stream_rounds" ] || [ $hits_leader = 0 ] || [ $hits_follower = 0 ] || break
        # Node F is down here; left behind again unless it just was.
        [ $prepped = 1 ] || behind "$f" "$f_applied" "$down_mark"
        prepped=0
        # The victim: the leader in rounds 1, 3, 4, 6, 7, ..., node F in rounds 2, 5, 8, ...;
        # after the planned rounds, whichever kind has no mid-stream stop yet.
        if [ $rounds -lt "$stream_rounds" ]; then
            vkind=$((rounds % 3 == 1 ? 0 : 1))
        elif [ $hits_leader = 0 ]; then vkind=1; else vkind=0; fi
        draw 60
        delay=$R
        cl_start_observed "$f"
        mark=$(cl_life_mark "$f")
        ev=$(CL_FOLLOW_PID=$(cl_pid "$f") cl_next_event 30 "$mark" \
            'zkv.raft.snapshot.receiving|zkv.raft.snapshot.installed' node="$f" group=1) || ev=
        case $ev in
        *zkv.raft.snapshot.receiving*) ;;
        *)
            misses=$((misses + 1))
            running "$f" || cl_die "node $f exited on its own while catching up"
            cl_log "stream round $k: node $f began no stream (${ev:+it installed at once; }a miss)"
            f_applied=$(applied_of "$f")
            down_mark=$(cl_event_mark)
            stop_node "$f" stream "follower of group 1, after a missed round"
            continue
            ;;
        esac
        rounds=$((rounds + 1))
        sidx=$(echo "$ev" | cl_event_field index)
        streamer=$(echo "$ev" | cl_event_field leader)
        case $streamer in [1-3]) ;; *) streamer=$(cl_leader 1) ;; esac
        [ -n "$streamer" ] && [ "$streamer" != "$f" ] || cl_die "no leader streaming to node $f"
        sleep_ms "$delay"
        if [ $vkind = 1 ]; then
            victim=$streamer
            what="leader of group 1 streaming a snapshot to node $f (${delay} ms after its first chunk)"
        else
            victim=$f
            what="follower of group 1 receiving a snapshot from node $streamer (${delay} ms after its first chunk)"
        fi
        running "$victim" || cl_die "node $victim is not running"
        stop_node "$victim" stream "$what"
        # Mid-stream: F had not published zkv.raft.snapshot.installed of that stream before the signal.
        mid=0
        if mid_stream "$mark" "$sidx"; then
            mid=1
            if [ $vkind = 1 ]; then hits_leader=$((hits_leader + 1)); else hits_follower=$((hits_follower + 1)); fi
            cl_log "stream round $k: node $victim stopped mid-stream (snapshot at $sidx)"
        else
            cl_log "stream round $k: node $f had installed the snapshot at $sidx before the signal: not mid-stream"
        fi
        if [ "$victim" != "$f" ]; then
            # The chain: the stopped leader restarts at once, F starts over from the new leader
            # (its state is still the old one), and that leader is stopped 0..59 ms into its
            # stream too, CHAIN times, as long as F has installed nothing.
            for ((c = 1; c <= chain && mid; c++)); do
                mark=$(cl_event_mark)
                restart "$victim"
                ev=$(CL_FOLLOW_PID=$(cl_pid "$f") cl_next_event 10 "$mark" \
                    'zkv.raft.snapshot.receiving|zkv.raft.snapshot.installed' node="$f" group=1) || ev=
                case $ev in *zkv.raft.snapshot.receiving*) ;; *) break ;; esac
                sidx=$(echo "$ev" | cl_event_field index)
                streamer=$(echo "$ev" | cl_event_field leader)
                case $streamer in [1-3]) ;; *) break ;; esac
                [ "$streamer" != "$f" ] && running "$streamer" || break
                victim=$streamer
                draw 60
                sleep_ms "$R"
                stop_node "$victim" stream "leader of group 1 streaming a snapshot to node $f ($R ms after its first chunk; chain $c)"
                if mid_stream "$mark" "$sidx"; then
                    hits_leader=$((hits_leader + 1))
                    cl_log "stream round $k, chain $c: node $victim stopped mid-stream (snapshot at $sidx)"
                else
                    mid=0
                    cl_log "stream round $k, chain $c: node $f had installed the snapshot at $sidx: not mid-stream"
                fi
            done
            # F goes on from the new leader; the last stopped one comes back. Then F is stopped
            # (often in the middle of its stream from the new leader) and left behind again.
            if ! running "$victim"; then
                cl_wait_until 30 "a leader of group 1 other than node $victim" \
                    cl_has_leader_other_than 1 "$victim"
                restart "$victim"
            fi
            cl_wait_leaders 30
            running "$f" || cl_die "node $f exited on its own while catching up"
            f_applied=$(applied_of "$f")
            down_mark=$(cl_event_mark)
            stop_node "$f" stream "follower of group 1, catching up from a new leader"
        else
            f_applied=0
            down_mark=$(cl_event_mark)
        fi
    done
    [ $hits_leader -gt 0 ] || fail "stream: no leader was stopped mid-stream (seed $seed)"
    [ $hits_follower -gt 0 ] || fail "stream: no receiving follower was stopped mid-stream (seed $seed)"
    cl_log "streams: $hits_leader leaders and $hits_follower followers stopped mid-stream, $misses rounds without a stream"
    [ "$stream_clients" = 0 ] || load_stop
    restart "$f"
    cl_wait_leaders 30
}
hits_leader=0 hits_follower=0
[ "$stream_rounds" = 0 ] || scenario_stream

# ---- b. mid-election --------------------------------------------------------------------------
# b1. An election after the leader's pause, the signal at its first candidate's zkv.raft.term.
# (scenario b1, run when --election-rounds is not 0)
scenario_election () {
    elections_mid=0
    for ((r = 1; r <= election_rounds; r++)); do
        cl_wait_leaders 30
        leader=$(cl_leader 1)
        term=$(node_field "$leader" term)
        [ -n "$term" ] || cl_die "no term of node $leader"
        mark=$(cl_event_mark)
        kill -STOP "$(cl_pid "$leader")"
        ev=$(cl_next_event 15 "$mark" zkv.raft.term group=1 role=candidate node!="$leader" term\>"$term") ||
            cl_die "no candidate in group 1 within 15 s of pausing its leader $leader"
        cand=$(echo "$ev" | cl_event_field node)
        cterm=$(echo "$ev" | cl_event_field term)
        draw 2
        if [ "$R" = 0 ]; then
            victim=$cand
            what="candidate of group 1 in term $cterm, leader $leader paused"
        else
            victim=$((6 - leader - cand))
            what="voter of group 1 while node $cand campaigns in term $cterm, leader $leader paused"
        fi
        stop_node "$victim" election "$what"
        won=$(cl_events "$mark" zkv.raft.leader group=1 term\>="$cterm" leader!=0 |
            cl_event_field time_ms | awk -v k="$KILL_MS" '$1 <= k' | wc -l)
        if [ "$won" = 0 ]; then
            elections_mid=$((elections_mid + 1))
            cl_log "election round $r: the signal came before any leader of term $cterm: mid-election"
        else
            cl_log "election round $r: a leader of term $cterm was announced before the signal"
        fi
        kill -CONT "$(cl_pid "$leader")"
        restart "$victim"
    done
}
elections_mid=0
[ "$election_rounds" = 0 ] || scenario_election

# b2. Lone campaigns: with the two others paused, a node campaigns alone, every election
# timeout, and can never win. With PreVote (the default) it stays a pre-candidate (its term
# cannot rise without a majority's pre-votes: zkv status shows the role); without PreVote its
# term rises at every campaign (zkv.raft.term). Its messages to the paused peers pile up.
# role_of I: node I's role in group 1, asked of node I alone (the others may be paused).
role_of () {
    cl_zkv_at "$1" --timeout 500 status --json 2> /dev/null |
        awk "$CL_STATUS_AWK" | awk '$2 == 1 { print $3 }'
}
# campaigning I MARK: node I campaigns alone: it has raised its term as a candidate of group 1
# twice since MARK (without PreVote), or is a pre-candidate (with PreVote).
campaigning () {
    if [ "$prevote" = on ]; then
        [ "$(role_of "$1")" = pre-candidate ]
    else
        [ "$(cl_event_count "$2" zkv.raft.term node="$1" group=1 role=candidate)" -ge 2 ]
    fi
}
campaign_desc () {
    if [ "$prevote" = on ]; then echo "lone pre-candidate"; else
        echo "lone candidate in term $(cl_events "$2" zkv.raft.term node="$1" group=1 role=candidate |
            cl_event_field term | tail -n 1)"
    fi
}
lone_campaigns () {
    local r leader a b mark
    for ((r = 1; r <= campaign_rounds; r++)); do
        cl_wait_leaders 30
        leader=$(cl_leader 1)
        draw 2
        a=$(((leader + R) % 3 + 1))
        b=$((6 - leader - a))
        mark=$(cl_event_mark)
        kill -STOP "$(cl_pid "$leader")" "$(cl_pid "$b")"
        cl_wait_until 20 "node $a to campaign alone" campaigning "$a" "$mark"
        draw 300
        sleep_ms "$R"
        stop_node "$a" "$1" "$(campaign_desc "$a" "$mark") of group 1, nodes $leader and $b paused"
        mark=$(cl_event_mark)
        kill -CONT "$(cl_pid "$b")"
        cl_wait_until 20 "node $b to campaign alone" campaigning "$b" "$mark"
        stop_node "$b" "$1" "$(campaign_desc "$b" "$mark") of group 1, node $leader paused, node $a down"
        mark=$(cl_event_mark)
        kill -CONT "$(cl_pid "$leader")"
        cl_wait_until 20 "node $leader to campaign alone" campaigning "$leader" "$mark"
        stop_node "$leader" "$1" "$(campaign_desc "$leader" "$mark") of group 1, the old leader, nodes $a and $b down"
        for i in 1 2 3; do cl_start "$i"; done
        cl_wait_watching 10
    done
}
prevote=on
lone_campaigns campaign

# ---- all at once, then without PreVote ----------------------------------------------------------
cl_wait_leaders 30
stop_nodes all "every node at once" 1 2 3
sed -i "s/^    snapshot_bytes = .*/&\n    pre_vote = false/" "$CL_DIR/cluster.cfg"
grep -q "pre_vote = false" "$CL_DIR/cluster.cfg" || cl_die "config not patched"
for i in 1 2 3; do cl_start "$i"; done
cl_wait_watching 10
prevote=off
lone_campaigns campaign2
cl_wait_leaders 30

# ---- the cluster still serves; nothing acknowledged is lost ----------------------------------
touch "$CL_DIR/stop-writer"
cl_wait_writers 30 "$writer_pid"
cl_wait_until 60 "every node to apply the same index in every group" cl_converged
cl_zkv put after-stops "seed $seed" || cl_die "a put after the stops failed"
[ "$(cl_zkv get after-stops)" = "seed $seed" ] || cl_die "a get after the stops failed"
{
    while read -r key; do echo "A $key"; done < "$CL_DIR/acked"
    while read -r key; do echo "U $key"; done < "$CL_DIR/unknown"
} > "$CL_DIR/expect"
reader () {
    local r=$1 kind key got
    while read -r kind key; do
        if ! got=$(cl_zkv_maybe --timeout 5000 get "$key"); then
            echo "GET FAILED: $key" >> "$CL_DIR/bad.$r"
        elif [ "$kind" = A ] && [ "$got" != "$(value_of "$key")" ]; then
            echo "LOST: $key: got '$got'" >> "$CL_DIR/bad.$r"
        elif [ "$kind" = U ] && [ -n "$got" ] && [ "$got" != "$(value_of "$key")" ]; then
            echo "WRONG: $key (unknown outcome) holds '$got'" >> "$CL_DIR/bad.$r"
        fi
    done < <(awk -v r="$r" 'NR % 4 == r % 4' "$CL_DIR/expect")
}
rpids=()
for ((r = 1; r <= 4; r++)); do
    reader "$r" &
    rpids+=($!)
done
for p in "${rpids[@]}"; do wait "$p" || cl_die "a reader failed"; done
bad=$(cat "$CL_DIR"/bad.* 2> /dev/null | wc -l || true)
if [ "$bad" != 0 ]; then
    head -n 20 "$CL_DIR"/bad.* >&2 || true
    fail "$bad of $(acked) acknowledged writes did not read back"
fi
cl_log "all $(acked) acknowledged writes read back ($(wc -l < "$CL_DIR/unknown") of unknown outcome checked)"
for ((i = 1; i <= 3; i++)); do
    running "$i" || fail "node $i is not running at the end"
    if grep -m 5 -nE "$bad_log_re" "$CL_DIR/node$i.log" >&2; then
        fail "node $i's log has an assertion, abort, sanitizer report or fatal error (above)"
    fi
done

# And a last clean stop of every node, after all of the above.
stop_nodes final "every node at once, at the end" 1 2 3

# ---- the report ----------------------------------------------------------------------------------
echo "stop times (ms from SIGTERM until the process is gone; bound $bound_ms ms; zkvd ASan: $asan; seed $seed):"
awk '{ printf "  %-9s node %s  %6s ms  exit %-3s  ", $1, $2, $3 == 99999 ? "HUNG" : $3, $4
       for (i = 5; i <= NF; i++) printf "%s ", $i; print "" }' \
    "$CL_DIR/stops"
summary () {
    sort -n | awk -v name="$1" '
        function h(x) { return x == 99999 ? "HUNG" : x }
        { v[++n] = $1 }
        END {
            if (!n) exit
            p50 = v[int((n + 1) / 2)]; p90 = v[int(n * 0.9 + 0.999)]
            printf "  %-9s %3d stops: min %s  median %s  p90 %s  max %s ms\n", name, n, h(v[1]), h(p50), h(p90), h(v[n])
        }'
}
for sc in load stream election campaign all campaign2 final; do
    awk -v s="$sc" '$1 == s { print $3 }' "$CL_DIR/stops" | summary "$sc"
done
awk '{ print $3 }' "$CL_DIR/stops" | summary total
awk '{ ms = $3
       b = ms < 50 ? "<50" : ms < 100 ? "50-99" : ms < 250 ? "100-249" : ms < 500 ? "250-499" : ms < 1000 ? "500-999" : ms <= 2000 ? "1000-2000" : ">2000"
       h[b]++ }
     END { split("<50 50-99 100-249 250-499 500-999 1000-2000 >2000", o, " ")
           printf "  histogram:"; for (i = 1; i <= 7; i++) printf " %s:%d", o[i], h[o[i]] + 0; print "" }' \
    "$CL_DIR/stops"
echo "mid-stream stops: $hits_leader streaming leaders, $hits_follower receiving followers;" \
    "mid-election stops: $elections_mid of $election_rounds; lone campaigners stopped:" \
    "$((campaign_rounds * 3)) pre-candidates, $((campaign_rounds * 3)) candidates"
if [ -s "$CL_DIR/failures" ]; then
    echo "failures:" >&2
    sed 's/^/  /' "$CL_DIR/failures" >&2
    cl_die "$(wc -l < "$CL_DIR/failures") failure(s) (seed $seed), the first: $(head -n 1 "$CL_DIR/failures")"
fi
cl_pass
echo "1 passed, 0 failed"
