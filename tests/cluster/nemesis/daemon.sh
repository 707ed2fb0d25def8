#!/bin/bash
# daemon.sh: zkvd stays in the foreground unless told --daemon; --daemon needs --log-file and
# --pid-file, and reports a failed start-up (a bad config file, a port in use, a corrupt data
# directory) with the message and exit status zkvd gives in the foreground, before it detaches.
# A good start returns 0 once the node serves, writes the pid file and the log file, and lets
# the terminal go; SIGHUP opens the log file again (logrotate); SIGTERM stops the node and
# removes the pid file.
#
#     ZKV_BUILD=build daemon.sh
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

# run NAME ARGS...: zkvd with ARGS (bounded: a zkvd --daemon that never answers fails here), its
# stdout and stderr in $CL_DIR/NAME.out; sets rc.
run () {
    local name=$1
    shift
    rc=0
    timeout -s KILL 30 "$ZKVD" "$@" > "$CL_DIR/$name.out" 2>&1 < /dev/null || rc=$?
}
# The error lines of FILE without their time: what a user reads, to compare two runs.
errors_of () {
    sed -nE 's/^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z (error .*)/\1/p; s/^E: \([^)]*\) [0-9 :-]+ (.*)/error \1/p' "$1"
}
# same_failure NAME WANT: the daemon's run NAME failed as the foreground's run NAME.fg did.
same_failure () {
    local name=$1 want=$2 fg_rc
    run "$name.fg" "${@:3}"
    fg_rc=$rc
    run "$name" "${@:3}" --daemon --log-file "$CL_DIR/$name.log" --pid-file "$CL_DIR/$name.pid"
    [ "$fg_rc" = "$want" ] || cl_die "$name in the foreground exited $fg_rc (not $want): $(cat "$CL_DIR/$name.fg.out")"
    [ "$rc" = "$want" ] || cl_die "$name with --daemon exited $rc (not $want): $(cat "$CL_DIR/$name.out")"
    [ ! -e "$CL_DIR/$name.pid" ] || cl_die "$name with --daemon left a pid file"
}

# ---- arguments --------------------------------------------------------------------------------
for args in "--daemon" "--daemon --log-file $CL_DIR/a.log" "--daemon --pid-file $CL_DIR/a.pid"; do
    # shellcheck disable=SC2086
    run args --config "$cfg" --node 1 $args
    [ "$rc" = 2 ] && grep -q "zkvd: --daemon needs --log-file FILE and --pid-file FILE" "$CL_DIR/args.out" ||
        cl_die "zkvd $args: exit $rc, $(cat "$CL_DIR/args.out")"
done
[ ! -e "$CL_DIR/a.log" ] && [ ! -e "$CL_DIR/a.pid" ] || cl_die "a refused --daemon wrote a file"
ok "--daemon without --log-file or --pid-file: exit 2, and says what it needs"

sed 's/^    tick_ms = .*/    tick_ms = 0/' "$cfg" > "$CL_DIR/bad.cfg"
same_failure badcfg 2 --config "$CL_DIR/bad.cfg" --node 1
grep -q "tick_ms" "$CL_DIR/badcfg.out" && cmp -s "$CL_DIR/badcfg.out" "$CL_DIR/badcfg.fg.out" ||
    cl_die "a bad config file: the daemon said '$(cat "$CL_DIR/badcfg.out")', the foreground '$(cat "$CL_DIR/badcfg.fg.out")'"
ok "a bad config file: exit 2 and the same message as in the foreground: $(cat "$CL_DIR/badcfg.out")"

# ---- a good start -----------------------------------------------------------------------------
log=$CL_DIR/node1.daemon.log
pidf=$CL_DIR/node1.daemon.pid
start=$SECONDS
run good --config "$cfg" --node 1 --daemon --log-file "$log" --pid-file "$pidf"
[ "$rc" = 0 ] || cl_die "zkvd --daemon exited $rc: $(cat "$CL_DIR/good.out")"
[ -s "$pidf" ] || cl_die "zkvd --daemon returned 0 and wrote no pid file"
pid=$(cat "$pidf")
echo "$pid" >> "$CL_DIR/all.pids" # the trap kills it if the test fails
echo "$pid" > "$CL_DIR/node1.pid"  # and cl_kill knows it
kill -0 "$pid" 2> /dev/null || cl_die "the pid file names $pid, which is not running"
tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "--daemon" || cl_die "pid $pid is not the daemon"
[ "$(ps -o sid= -p "$pid" | tr -d ' ')" = "$pid" ] || cl_die "the daemon has no session of its own"
[ "$(ps -o ppid= -p "$pid" | tr -d ' ')" != $$ ] || cl_die "the daemon is still this shell's child"
# Its stdout and stderr went to the log file: the terminal is free.
for fd in 1 2; do
    [ "$(readlink "/proc/$pid/fd/$fd")" = "$log" ] || cl_die "the daemon's fd $fd is $(readlink "/proc/$pid/fd/$fd")"
done
grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z notice zkvd 1: serving clients at ' "$log" ||
    cl_die "the log file has no 'serving clients' line: $(cat "$log")"
cl_wait_leaders 20
cl_zkv put daemon-key daemon-value > /dev/null || cl_die "put through the daemon"
[ "$(cl_zkv get daemon-key)" = daemon-value ] || cl_die "get through the daemon"
ok "--daemon: exit 0 in $((SECONDS - start)) s, pid $pid in the pid file (own session), the log file has the start, the node serves"

# ---- a port in use ------------------------------------------------------------------------------
# The same node's ports, with another data directory (so it is the ports that collide, not the
# database's lock).
sed "s#^    data = $CL_DIR/data1\$#    data = $CL_DIR/data1b#" "$cfg" > "$CL_DIR/twin.cfg"
grep -q "data1b" "$CL_DIR/twin.cfg" || cl_die "twin.cfg: no data1b"
same_failure port 1 --config "$CL_DIR/twin.cfg" --node 1
grep -q "Address already in use" "$CL_DIR/port.out" ||
    cl_die "a port in use: the daemon said $(cat "$CL_DIR/port.out")"
[ "$(errors_of "$CL_DIR/port.out")" = "$(errors_of "$CL_DIR/port.fg.out")" ] ||
    cl_die "a port in use: the daemon said '$(errors_of "$CL_DIR/port.out")', the foreground '$(errors_of "$CL_DIR/port.fg.out")'"
ps -eo args | grep -F -- "--config $CL_DIR/twin.cfg" | grep -qv grep &&
    cl_die "a zkvd of twin.cfg is still running"
ok "a port in use: exit 1, the foreground's message: $(errors_of "$CL_DIR/port.out" | cut -c1-120)"

# ---- logrotate, then a stop ----------------------------------------------------------------------
mv "$log" "$log.1"
kill -HUP "$pid"
cl_wait_until 10 "the daemon to open its log file again" test -e "$log"
for fd in 1 2; do
    cl_wait_until 5 "the daemon's fd $fd to follow the new log file" \
        eval "[ \"\$(readlink /proc/$pid/fd/$fd)\" = '$log' ]"
done
kill -TERM "$pid"
cl_wait_gone "$pid" 15 || cl_die "the daemon did not stop within 15 s of SIGTERM"
grep -q "notice zkvd 1: stopping" "$log" || cl_die "the new log file has no 'stopping': $(cat "$log")"
! grep -q "stopping" "$log.1" || cl_die "the rotated log file got the stop"
[ ! -e "$pidf" ] || cl_die "the pid file is still there after the stop"
ok "SIGHUP: the log file opened again (stdout and stderr too); SIGTERM: stopped, pid file removed"

# ---- a corrupt data directory ---------------------------------------------------------------------
f=$(ls "$CL_DIR"/data1/MANIFEST-* | head -1)
printf 'zkv-daemon-test-zkv-daemon-test-zkv-daemon-test' |
    dd of="$f" bs=1 seek=$(($(stat -c %s "$f") / 3)) conv=notrunc 2> /dev/null
same_failure corrupt 65 --config "$cfg" --node 1
grep -q "is corrupt" "$CL_DIR/corrupt.out" || cl_die "corrupt: the daemon said $(cat "$CL_DIR/corrupt.out")"
[ "$(errors_of "$CL_DIR/corrupt.out")" = "$(errors_of "$CL_DIR/corrupt.fg.out")" ] ||
    cl_die "corrupt: the daemon said '$(errors_of "$CL_DIR/corrupt.out")', the foreground '$(errors_of "$CL_DIR/corrupt.fg.out")'"
[ "$(errors_of "$CL_DIR/corrupt.log")" = "$(errors_of "$CL_DIR/corrupt.out")" ] ||
    cl_die "corrupt: the log file says '$(errors_of "$CL_DIR/corrupt.log")'"
ok "a corrupt data directory: exit 65, the foreground's message, in the log file too"

cl_pass
echo "$passed passed, 0 failed"
