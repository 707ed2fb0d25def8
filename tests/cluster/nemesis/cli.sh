#!/bin/bash
# cli.sh: the zkv CLI tells the truth (docs/cli.md, "Exit codes"), checked against real processes,
# one section per finding of the day-two review:
#  files     every command's --help, README.md and the docs name only files of the repository
#            (or of the build, for build/...); the README's PATH line reaches zkv, zkvd,
#            zkv-config-check and zkv-lincheck.
#  flags     a second configure of a fresh build directory changes no compile command (when
#            it did, each `tools/dev.sh run` rebuilt every object using CZMQ or libzmq).
#  down      nothing runs: `zkv put` (timeout 5 s) exits 1 within 2 s, naming every endpoint,
#            "connection refused" and "not applied", with --config and with host:port endpoints;
#            `zkv status` is as quick.
#  endpoints host:port reaches the running cluster (put, get); bad entries exit 2 with a precise
#            message; a client key the cluster does not allow fails at once (handshake).
#  rate      `zkv bench --rate 100` for 3 s sends about 300 requests, not as many as answered.
#  unknown   the followers of the key's group stop (SIGSTOP) just before a put reaches the
#            leader: exit 3, "outcome unknown" (the entry was proposed, it may yet commit).
#  quorum    two of three nodes killed, the survivor knows no leader: put exits 1, says "not the
#            leader" once and "not applied"; get exits 1.
#  ctrl-c    tools/local-cluster.sh runs this cluster's file; one node is stopped (SIGTERM) and
#            reported, then SIGINT goes to the script's process group (what Ctrl-C sends): every
#            node stops, the script exits 0 without a shell error ("pid ... is not a child of
#            this shell"), and the PATH line it printed reaches the four tools. Then again with
#            every node stopped from outside: the script reports each and ends the same way.
# Loopback, CURVE, 3 nodes. Needs ZKV_SOURCE_DIR and ZKV_BUILD_DIR (the test sets them) and CMAKE.
#
#     ZKV_BUILD=build ZKV_SOURCE_DIR=. ZKV_BUILD_DIR=build CMAKE=cmake cli.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export CL_SECURITY=curve
# shellcheck source=../lib/cluster.sh
source "$here/../lib/cluster.sh"
SRC=$(cd "${ZKV_SOURCE_DIR:-$here/../../..}" && pwd)
BUILD_DIR=$(cd "${ZKV_BUILD_DIR:-$(dirname "$(dirname "$ZKV")")}" && pwd)
CMAKE=${CMAKE:-cmake}
cl_init 3 lo
# Elections after 1..2 s without a leader: the "unknown" section needs the leader to still lead
# for a moment after its followers stop.
sed -i 's/^\( *election_ticks =\).*/\1 100/' "$CL_DIR/cluster.cfg"

failures=0
fail () {
    cl_log "FAIL: $*"
    failures=$((failures + 1))
}
now_ms () {
    date +%s%3N
}
# run OUT CMD...: runs CMD, its stdout and stderr in OUT; sets rc and ms (how long it took).
run () {
    local out=$1 t0
    shift
    t0=$(now_ms)
    rc=0
    "$@" > "$out" 2>&1 || rc=$?
    ms=$(($(now_ms) - t0))
}
client_eps () {
    local i out=""
    for ((i = 1; i <= CL_N; i++)); do out="$out${out:+,}127.0.0.1:$(cl_client_port "$i")"; done
    echo "$out"
}
server_keys () {
    local i out=""
    for ((i = 1; i <= CL_N; i++)); do out="$out${out:+,}$(cl_node_key "$i")"; done
    echo "$out"
}
# The CLI through host:port endpoints (no config file).
zkv_hp () {
    "$ZKV" --endpoints "$(client_eps)" --server-keys "$(server_keys)" \
        --key "$CL_DIR/certs/client.cert" "$@"
}

# ---- files ----------------------------------------------------------------------------------

# Prints the paths TEXT (stdin) names that do not exist: repository paths (docs/..., tools/...),
# file names with a source or doc extension (found anywhere in the repository), build/... paths
# (in the build directory). A path may name a prefix ("cluster/zkv_kv*"). app.c is the reader's
# own file in a library example.
missing_paths () {
    local text p
    text=$(cat)
    { grep -oE '(^|[^A-Za-z0-9_./$-])(docs|tools|tests|config|client|cluster|actors|checker|messages|storage|build)/[A-Za-z0-9_./-]*[A-Za-z0-9_]' <<< "$text" || true; } |
        sed -E 's/^[^A-Za-z]//' | sort -u | while read -r p; do
        case $p in
        build/*) [ -e "$BUILD_DIR/${p#build/}" ] || echo "$p" ;;
        *) compgen -G "$SRC/$p*" > /dev/null || echo "$p" ;;
        esac
    done
    { grep -oE '(^|[^A-Za-z0-9_./$-])[A-Za-z0-9_][A-Za-z0-9_.-]*\.(md|c|h|sh|cfg|py)\b' <<< "$text" || true; } |
        sed -E 's/^[^A-Za-z0-9_]//' | sort -u | while read -r p; do
        # Files the reader writes, not the repository's: a program (docs/cli.md), the config
        # files of a new cluster and of the machines of docs/deploy.md.
        case $p in app.c | NEW.cfg | zkv.cfg | zkv-grown.cfg) continue ;; esac
        grep -qxF "$p" "$CL_DIR/repo-files" || echo "$p"
    done
}
# The names of the repository's files (build directories and .git left out).
find "$SRC" \( -name '.git' -o -name 'build*' -o -path "$BUILD_DIR" \) -prune -o -type f -printf '%f\n' |
    sort -u > "$CL_DIR/repo-files"

cl_log "files: help texts and docs name only files that exist"
helps=$("$ZKV" --help 2>&1)
for cmd in $(awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { exit }' <<< "$helps"); do
    helps="$helps"$'\n'"$("$ZKV" "$cmd" --help 2>&1)"
done
[ "$(grep -c '^usage: zkv bench' <<< "$helps")" = 1 ] || fail "zkv bench --help was not read"
for tool in "$ZKVD" "$BUILD_DIR/config/zkv-config-check" "$ZKV_LINCHECK"; do
    helps="$helps"$'\n'"$("$tool" --help 2>&1 || true)"
done
bad=$(missing_paths <<< "$helps")
[ -z "$bad" ] || fail "help texts name what does not exist: $(echo $bad)"
for doc in "$SRC"/README.md "$SRC"/docs/*.md "$SRC"/*/README.md "$SRC"/tests/*/README.md; do
    bad=$(missing_paths < "$doc")
    [ -z "$bad" ] || fail "${doc#$SRC/} names what does not exist: $(echo $bad)"
done
# The test itself must see a missing file: a made-up one is reported.
[ "$(echo 'see docs/NO-SUCH.md and NOSUCH.md' | missing_paths | wc -l)" = 2 ] ||
    fail "the file check does not see missing files"

# path_reaches LINE: the "export PATH=..." LINE ($PWD the repository) holds zkv, zkvd,
# zkv-config-check and zkv-lincheck; prints the ones it misses.
path_misses () {
    local dirs tool d found
    dirs=$(sed -E 's/^ *export PATH=//; s/:\$PATH$//; s/\\//g' <<< "$1" | tr ':' '\n' |
        sed -E "s#^\\\$PWD/build#$BUILD_DIR#; s#^\\\$PWD#$SRC#")
    for tool in zkv zkvd zkv-config-check zkv-lincheck; do
        found=0
        for d in $dirs; do [ -x "$d/$tool" ] && found=1; done
        [ $found = 1 ] || echo "$tool"
    done
}
line=$(grep -m1 '^export PATH=' "$SRC/README.md" || true)
[ -n "$line" ] || fail "README.md has no export PATH= line"
bad=$(path_misses "$line")
[ -z "$bad" ] || fail "README's PATH line ($line) misses: $(echo $bad)"

# ---- flags ----------------------------------------------------------------------------------

cl_log "flags: a second configure changes no compile command"
cfg=$CL_DIR/configure
"$CMAKE" -S "$SRC" -B "$cfg" > "$CL_DIR/configure1.log" 2>&1 || cl_die "configure: $(tail -5 "$CL_DIR/configure1.log")"
cp "$cfg/compile_commands.json" "$CL_DIR/compile_commands.first.json"
"$CMAKE" -S "$SRC" -B "$cfg" > "$CL_DIR/configure2.log" 2>&1 || cl_die "configure again"
if ! cmp -s "$CL_DIR/compile_commands.first.json" "$cfg/compile_commands.json"; then
    fail "the second configure changed compile commands (every such object is rebuilt):
$(diff "$CL_DIR/compile_commands.first.json" "$cfg/compile_commands.json" | head -4 | cut -c1-300)"
fi
rm -rf "$cfg"

# ---- down -----------------------------------------------------------------------------------

cl_log "down: nothing listens"
check_down () { # check_down WHAT OUT: a fast, definite failure naming every endpoint
    local what=$1 out=$2 i
    [ "$rc" = 1 ] || fail "$what: exit $rc (not 1): $(cat "$out")"
    [ "$ms" -lt 2000 ] || fail "$what: took $ms ms (a refused connection is known at once)"
    grep -q 'no node reachable' "$out" && grep -q 'connection refused' "$out" &&
        grep -q 'not sent: not applied' "$out" || fail "$what says: $(cat "$out")"
    for ((i = 1; i <= CL_N; i++)); do
        grep -q "tcp://127.0.0.1:$(cl_client_port "$i")" "$out" || fail "$what: node $i's endpoint not named"
    done
    cl_log "$what: exit $rc after $ms ms: $(cat "$out")"
}
run "$CL_DIR/down1.out" cl_zkv put k v
check_down "put, cluster down" "$CL_DIR/down1.out"
run "$CL_DIR/down2.out" zkv_hp put k v
check_down "put to host:port endpoints, cluster down" "$CL_DIR/down2.out"
# A bench finds nothing to load: it runs its seconds, counting failures, without spinning.
run "$CL_DIR/down-bench.out" cl_zkv bench --clients 2 --seconds 2 --json
failed=$(sed -n 's/.*"failed": \([0-9]*\).*/\1/p' "$CL_DIR/down-bench.out")
[ "$rc" = 0 ] && [ -n "$failed" ] && [ "$failed" -ge 2 ] && [ "$failed" -le 100 ] ||
    fail "bench, cluster down: exit $rc, $failed failed (2..100 expected): $(tail -3 "$CL_DIR/down-bench.out")"
run "$CL_DIR/down3.out" cl_zkv status
[ "$rc" = 1 ] && [ "$ms" -lt 2000 ] && [ "$(grep -c 'connection refused' "$CL_DIR/down3.out")" = 3 ] ||
    fail "status, cluster down: exit $rc after $ms ms: $(cat "$CL_DIR/down3.out")"

# ---- endpoints ------------------------------------------------------------------------------

cl_start_all
cl_wait_leaders 30
cl_log "endpoints: host:port, and bad ones"
run "$CL_DIR/hp1.out" zkv_hp --timeout 10000 put hp-key hp-value
[ "$rc" = 0 ] || fail "put through host:port: exit $rc: $(cat "$CL_DIR/hp1.out")"
run "$CL_DIR/hp2.out" zkv_hp --timeout 10000 get hp-key
[ "$rc" = 0 ] && [ "$(cat "$CL_DIR/hp2.out")" = hp-value ] ||
    fail "get through host:port: exit $rc: $(cat "$CL_DIR/hp2.out")"
bad_endpoint () { # bad_endpoint ENDPOINT EXPECTED-TEXT
    run "$CL_DIR/bad.out" "$ZKV" --endpoints "$1" get k
    [ "$rc" = 2 ] && grep -qF -- "$2" "$CL_DIR/bad.out" ||
        fail "--endpoints '$1': exit $rc, '$(cat "$CL_DIR/bad.out")' (expected 2 and '$2')"
}
bad_endpoint "tcp://127.0.0.1" "'tcp://127.0.0.1' has no port"
bad_endpoint "127.0.0.1" "has no port (expected host:port, tcp://host:port or ipc://path)"
bad_endpoint "127.0.0.1:0" "the port must be a number in 1..65535, not '0'"
bad_endpoint "127.0.0.1:1,http://x:80" "unknown transport 'http://'"
bad_endpoint "::1:80" "an IPv6 address goes in brackets"
run "$CL_DIR/bad.out" "$ZKV" --endpoints 127.0.0.1:1 --events "127.0.0.1" watch --count 1
[ "$rc" = 2 ] && grep -qF -- "--events: '127.0.0.1' has no port" "$CL_DIR/bad.out" ||
    fail "--events 127.0.0.1: exit $rc, $(cat "$CL_DIR/bad.out")"
# A key the cluster does not allow: its handshakes fail, and the client says so at once.
"$ZKV" keygen "$CL_DIR/stranger.cert" > /dev/null
run "$CL_DIR/stranger.out" cl_zkv --key "$CL_DIR/stranger.cert" put k v
[ "$rc" = 1 ] && [ "$ms" -lt 3000 ] && grep -q 'closed in its handshake' "$CL_DIR/stranger.out" ||
    fail "an unknown client key: exit $rc after $ms ms: $(cat "$CL_DIR/stranger.out")"
cl_log "unknown key: exit $rc after $ms ms: $(cat "$CL_DIR/stranger.out")"

# ---- rate -----------------------------------------------------------------------------------

# zkv bench --rate: 100 requests/s for 3 s are about 300, where as fast as answered is
# thousands; the summary says the rate asked.
run "$CL_DIR/rate.out" cl_zkv bench --clients 4 --seconds 3 --rate 100 --json
ok=$(sed -n 's/.*"ok": \([0-9]*\).*/\1/p' "$CL_DIR/rate.out")
[ "$rc" = 0 ] && [ -n "$ok" ] && [ "$ok" -ge 240 ] && [ "$ok" -le 310 ] &&
    grep -q '"rate": 100,' "$CL_DIR/rate.out" ||
    fail "bench --rate 100 for 3 s: exit $rc, ok '$ok' (expected 240..310): $(cat "$CL_DIR/rate.out")"
cl_log "rate: bench --rate 100 for 3 s answered $ok requests"

# ---- unknown --------------------------------------------------------------------------------

cl_log "unknown: the followers stop as the put reaches the leader"
leader=$(cl_leader 1)
[ -n "$leader" ] || cl_die "no leader of group 1"
followers=$(cl_group_members 1 | tr ' ' '\n' | grep -vx "$leader" | tr '\n' ' ')
mkfifo "$CL_DIR/value"
client_ports="( $(for ((i = 1; i <= CL_N; i++)); do echo -n "dport = :$(cl_client_port "$i") or "; done) dport = :1 )"
connected_before=$(ss -Htn state established "$client_ports" | wc -l)
# The put connects first, then reads its value: it is sent the moment the value's pipe closes.
cl_zkv --timeout 3000 put unknown-key < "$CL_DIR/value" > "$CL_DIR/unknown.out" 2>&1 &
put_pid=$!
exec 7> "$CL_DIR/value"
connected () { [ "$(ss -Htn state established "$client_ports" | wc -l)" -ge $((connected_before + CL_N)) ]; }
cl_wait_until 10 "the put's client to connect to every node" connected
for f in $followers; do cl_kill "$f" STOP; done
printf 'maybe' >&7
exec 7>&-
rc=0
wait "$put_pid" || rc=$?
for f in $followers; do cl_kill "$f" CONT; done
[ "$rc" = 3 ] && grep -q 'outcome unknown' "$CL_DIR/unknown.out" ||
    fail "put while the followers stop: exit $rc (not 3): $(cat "$CL_DIR/unknown.out")"
cl_log "put while the followers stop: exit $rc: $(cat "$CL_DIR/unknown.out")"
cl_wait_leaders 30

# ---- quorum ---------------------------------------------------------------------------------

cl_log "quorum: two of three nodes killed"
leader=$(cl_leader 1)
[ -n "$leader" ] || cl_die "no leader of group 1"
survivor=$(cl_group_members 1 | tr ' ' '\n' | grep -vx "$leader" | head -1)
for ((i = 1; i <= CL_N; i++)); do [ "$i" = "$survivor" ] || cl_kill "$i" KILL; done
knows_no_leader () {
    local l0 l1
    l0=$(cl_status_field "$survivor" 0 leader)
    l1=$(cl_status_field "$survivor" 1 leader)
    [ "$l0" = 0 ] && [ "$l1" = 0 ]
}
cl_wait_until 30 "node $survivor to know no leader" knows_no_leader
run "$CL_DIR/quorum1.out" cl_zkv --timeout 2000 put quorum-key v
said=$(grep -o 'not the leader' "$CL_DIR/quorum1.out" | wc -l)
[ "$rc" = 1 ] && [ "$said" = 1 ] && grep -q 'not applied' "$CL_DIR/quorum1.out" &&
    grep -q 'it knows no leader' "$CL_DIR/quorum1.out" ||
    fail "put without quorum: exit $rc, 'not the leader' said $said times: $(cat "$CL_DIR/quorum1.out")"
cl_log "put without quorum: exit $rc after $ms ms: $(cat "$CL_DIR/quorum1.out")"
run "$CL_DIR/quorum2.out" cl_zkv --timeout 1000 get quorum-key
said=$(grep -o 'not the leader' "$CL_DIR/quorum2.out" | wc -l)
[ "$rc" = 1 ] && [ "$said" = 1 ] || fail "get without quorum: exit $rc: $(cat "$CL_DIR/quorum2.out")"
cl_kill "$survivor" KILL

# ---- ctrl-c ---------------------------------------------------------------------------------

# The process group of pid, and the zkvd processes of a process group, from /proc (no procps).
pgrp_of () {
    sed -E 's/^.*\) //' "/proc/$1/stat" 2> /dev/null | cut -d' ' -f3
}
zkvd_of_group () {
    local f pid
    for f in /proc/[0-9]*/stat; do
        pid=${f#/proc/}
        pid=${pid%/stat}
        [ "$(cat "/proc/$pid/comm" 2> /dev/null)" = zkvd ] && [ "$(pgrp_of "$pid")" = "$1" ] &&
            echo "$pid"
    done
    return 0
}

# lc_start NAME: tools/local-cluster.sh on this cluster's file, leading its own process group
# (so that a signal to the group reaches it and its nodes, as Ctrl-C does), its output in
# $CL_DIR/NAME.out; waits until it says the cluster runs. Sets lc (its pid), out, nodes (pids).
lc_start () {
    out=$CL_DIR/$1.out
    # Started in the background, a script ignores SIGINT; a terminal's foreground job does not.
    env --default-signal=INT setsid bash "$SRC/tools/local-cluster.sh" "$BUILD_DIR" \
        "$CL_DIR/cluster.cfg" "" > "$out" 2>&1 < /dev/null &
    lc=$!
    echo "$lc" >> "$CL_DIR/all.pids"
    leads () { [ "$(pgrp_of "$lc")" = "$lc" ]; }
    cl_wait_until 10 "local-cluster.sh to lead its process group (setsid)" leads
    started () { grep -q 'Ctrl-C here stops the cluster' "$out"; }
    cl_wait_until 60 "local-cluster.sh to say the cluster runs" started
    nodes=$(zkvd_of_group "$lc")
    [ "$(echo $nodes | wc -w)" = "$CL_N" ] || fail "local-cluster.sh runs $(echo $nodes | wc -w) zkvd, not $CL_N"
    echo $nodes | tr ' ' '\n' >> "$CL_DIR/all.pids"
}
# lc_end WHAT: waits for local-cluster.sh to end; checks it exited 0 with every node gone, said
# so, and printed no shell error.
lc_end () {
    gone () { ! kill -0 "$lc" 2> /dev/null; }
    cl_wait_until 30 "local-cluster.sh to end ($1)" gone
    rc=0
    wait "$lc" || rc=$?
    for p in $nodes; do kill -0 "$p" 2> /dev/null && fail "$1: zkvd $p still runs"; done
    [ "$rc" = 0 ] || fail "$1: local-cluster.sh exited $rc"
    grep -q 'zkv: all nodes stopped$' "$out" || fail "$1: local-cluster.sh did not say every node stopped"
    ! grep -q 'not a child of this shell' "$out" || fail "$1: $(grep 'not a child' "$out" | head -2)"
    cl_log "$1: exit $rc; $(grep -c 'zkvd [0-9]*: stopping' "$out") nodes said 'stopping'; $(grep '^zkv: ' "$out" | tail -3 | tr '\n' ' ')"
}

cl_log "ctrl-c: tools/local-cluster.sh on this cluster's file, one node stopped, then SIGINT"
lc_start local-cluster
run "$CL_DIR/lc-put.out" cl_zkv --timeout 10000 put lc-key lc-value
[ "$rc" = 0 ] || fail "put to the local cluster: exit $rc: $(cat "$CL_DIR/lc-put.out")"
# A node that ends while the cluster runs is reported, and its exit status kept for the end.
first=$(echo $nodes | cut -d' ' -f1)
kill -TERM "$first"
cl_wait_gone "$first" 20 || cl_die "zkvd $first did not stop on SIGTERM"
deadline=$((SECONDS + 10))
until grep -q "(pid $first) exited with status 0" "$out"; do
    [ $SECONDS -lt $deadline ] || { fail "local-cluster.sh did not report zkvd $first's exit"; break; }
    sleep 0.1
done
kill -INT -- -"$lc"
lc_end "Ctrl-C"
for ((i = 1; i <= CL_N; i++)); do
    grep -q "zkvd $i: stopping" "$out" || fail "node $i did not stop cleanly (no 'stopping' line)"
done
line=$(grep -m1 'export PATH=' "$out" || true)
bad=$(path_misses "$line")
[ -n "$line" ] && [ -z "$bad" ] || fail "local-cluster.sh's PATH line ($line) misses: $(echo $bad)"

# Every node stopped from outside: the script ends by itself. Its nodes were all reaped by the
# time its exit trap ran, which then failed on `wait PID`: "pid ... is not a child of this shell".
cl_log "ctrl-c: every node of tools/local-cluster.sh stopped from outside"
lc_start local-cluster2
kill -TERM $nodes
lc_end "nodes stopped from outside"
[ "$(grep -c 'exited with status 0' "$out")" = "$CL_N" ] || fail "not every node's exit was reported"

if [ "$failures" != 0 ]; then
    cl_log "$failures check(s) failed"
    echo "0 passed, 1 failed"
    exit 1
fi
cl_pass
echo "1 passed, 0 failed"
