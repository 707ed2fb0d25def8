#!/bin/bash
# logs.sh: zkvd's log lines carry an ISO-8601 UTC time with milliseconds and a level
# (util/zkv_log.h), and --log-level hides the lines below it.
#
# One node (loopback, CURVE) is run three times with --log-file, under a descriptor limit of 1024
# (below what /cluster/max_connections 1000 needs: zkvd warns about it), serving a put and a get
# each time, and stopped with SIGTERM: at the default level its file has the warning, the info
# line naming the version and the notice lines of the start and the stop, every line well
# formed, its time within the run; with --log-level warning, the warning and nothing below it;
# with --log-level error, nothing. A bad level is refused (exit 2).
#
#     ZKV_BUILD=build logs.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/cluster.sh
source "$here/../lib/cluster.sh"
cl_init 1 lo
cfg=$CL_DIR/cluster.cfg

passed=0
ok () {
    passed=$((passed + 1))
    cl_log "ok: $*"
}

line_re='^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.([0-9]{3})Z (error|warning|notice|info|debug) zkvd 1: '

# life NAME [ARGS...]: node 1 with --log-file $CL_DIR/NAME.log and ARGS, from start to SIGTERM,
# serving a put and a get; records the run's start and end (epoch ms) in T0 and T1.
life () {
    local name=$1 pid
    shift
    T0=$(date +%s%3N)
    # A descriptor limit below what the config's connection bounds need: zkvd says so (warning).
    bash -c 'ulimit -n 1024 && exec "$@"' zkvd "$ZKVD" --config "$cfg" --node 1 \
        --log-file "$CL_DIR/$name.log" "$@" > "$CL_DIR/$name.out" 2>&1 < /dev/null &
    pid=$!
    echo "$pid" >> "$CL_DIR/all.pids"
    echo "$pid" > "$CL_DIR/node1.pid"
    cl_wait_leaders 20
    cl_zkv put "log-$name" "v-$name" > /dev/null || cl_die "$name: put"
    [ "$(cl_zkv get "log-$name")" = "v-$name" ] || cl_die "$name: get"
    kill -TERM "$pid"
    wait "$pid" || cl_die "$name: zkvd exited $? after SIGTERM: $(tail -n 5 "$CL_DIR/$name.out")"
    rm -f "$CL_DIR/node1.pid"
    T1=$(date +%s%3N)
}

# check_lines FILE: every line is well formed, its time within [T0 - 1 s, T1 + 1 s].
check_lines () {
    local line n=0 t
    while IFS= read -r line; do
        n=$((n + 1))
        [[ $line =~ $line_re ]] || cl_die "$1:$n is not 'TIME LEVEL zkvd 1: ...': $line"
        t=$(date -ud "${BASH_REMATCH[1]}-${BASH_REMATCH[2]}-${BASH_REMATCH[3]} ${BASH_REMATCH[4]}:${BASH_REMATCH[5]}:${BASH_REMATCH[6]}" +%s)
        t=$((t * 1000 + 10#${BASH_REMATCH[7]}))
        [ "$t" -ge $((T0 - 1000)) ] && [ "$t" -le $((T1 + 1000)) ] ||
            cl_die "$1:$n: its time is not within the run ($T0..$T1 ms): $line"
    done < "$1"
}

# count FILE LEVEL: how many lines of that level.
count () {
    grep -cE "^[0-9T:.-]{23}Z $2 " "$1" || true
}

rc=0
"$ZKVD" --config "$cfg" --node 1 --log-level verbose > "$CL_DIR/bad.out" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "log-level: expected error, warning, notice, info or debug, got 'verbose'" \
    "$CL_DIR/bad.out" || cl_die "--log-level verbose: exit $rc, $(cat "$CL_DIR/bad.out")"
ok "--log-level verbose: exit 2, and the levels there are"

life default
log=$CL_DIR/default.log
check_lines "$log"
grep -qE " warning zkvd 1: the descriptor limit \(1024\) is below" "$log" || cl_die "no warning about the descriptor limit: $(cat "$log")"
grep -qE " info zkvd 1: zkv [0-9]+\.[0-9]+\.[0-9]+.*, log level info" "$log" || cl_die "no info line with the version: $(cat "$log")"
grep -qE " notice zkvd 1: serving clients at " "$log" || cl_die "no notice of the start: $(cat "$log")"
grep -qE " notice zkvd 1: stopping" "$log" || cl_die "no notice of the stop: $(cat "$log")"
ok "default level: $(wc -l < "$log") lines, all 'YYYY-MM-DDTHH:MM:SS.mmmZ LEVEL ...' within the run ($(count "$log" info) info, $(count "$log" notice) notice, $(count "$log" warning) warning); e.g. $(grep -m 1 ' notice ' "$log" | cut -c1-90)"

life warning --log-level warning
log=$CL_DIR/warning.log
check_lines "$log"
[ "$(count "$log" warning)" -ge 1 ] || cl_die "--log-level warning: the warning is gone too: $(cat "$log")"
for level in notice info debug; do
    [ "$(count "$log" $level)" = 0 ] || cl_die "--log-level warning: $level lines: $(grep " $level " "$log")"
done
ok "--log-level warning: $(count "$log" warning) warning line(s), no notice, info or debug line"

life error --log-level error
[ ! -s "$CL_DIR/error.log" ] || cl_die "--log-level error: lines written: $(cat "$CL_DIR/error.log")"
ok "--log-level error: nothing (the node had no error)"

cl_pass
echo "$passed passed, 0 failed"
