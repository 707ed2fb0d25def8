#!/bin/bash
# sessions.sh: a cluster restarted hours later, then written by new clients (each `zkv put` is
# one), serves them without refusing a single request "session expired".
# On 3 nodes (loopback, CURVE) hosting the controller and shard groups 1 and 2: 24 keys are put,
# each by its own CLI run, which leaves a client session on most shards. Every node is stopped
# and started again under faketime, its clock 3 hours ahead: the first command each group then
# applies moves its log time past the sessions' hour, and they all expire (cluster/zkv_kv.h,
# "Client sessions"). New CLI runs put the same keys again. Every put must succeed, no node may
# have answered any request "session expired" (zkv_requests_total, outcome session_expired), and
# every key reads back its new value. A client that began with no log time (session_t0 0) was
# refused on every shard that had evicted a session; with a retry in between, its caller got an
# unknown outcome.
#
#     ZKV_BUILD=build sessions.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export CL_GROUPS="0:1,2,3 1:1,2,3 2:1,2,3"
export CL_SECURITY=curve
# shellcheck source=../lib/cluster.sh
source "$here/../lib/cluster.sh"
# libfaketime, preloaded through env (which execs zkvd, so that the pid the harness keeps is
# zkvd's: the faketime command forks and waits instead).
libft=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2> /dev/null | head -1)
[ -n "$libft" ] || cl_die "libfaketime is needed (tools/dev.sh deps installs faketime)"
command -v curl > /dev/null || cl_die "curl is needed (tools/dev.sh deps installs it)"
cl_init 3 lo
cl_start_all
cl_wait_leaders 30
keys=24

# put_all TAG: every key put by a CLI run of its own, value "TAG-<key>".
put_all () {
    local k rc
    for ((k = 1; k <= keys; k++)); do
        rc=0
        cl_zkv --timeout 10000 put "key$k" "$1-key$k" > "$CL_DIR/put.out" 2>&1 || rc=$?
        [ $rc = 0 ] || cl_die "put key$k ($1) exited $rc: $(cat "$CL_DIR/put.out")"
    done
}

# refused: requests the nodes answered "session expired", every kind, summed over the nodes.
refused () {
    local i n=0 text
    for ((i = 1; i <= 3; i++)); do
        text=$(curl -sSf --max-time 5 "$(cl_http_url "$i")/metrics") ||
            cl_die "node $i's metrics: curl failed"
        n=$((n + $(awk '/^zkv_requests_total\{/ && /outcome="session_expired"/ { s += $2 }
                       END { printf "%d\n", s }' <<< "$text")))
    done
    echo "$n"
}

# sessions I: the client sessions node I's replicas of the shard groups keep.
sessions () {
    curl -sSf --max-time 5 "$(cl_http_url "$1")/metrics" |
        awk '/^zkv_group_sessions\{/ && !/group="0"/ { s += $2 } END { printf "%d\n", s }'
}

put_all old
# Node 1 applies every put, and its figures (refreshed every 100 ms) show a session per client.
all_old () { [ "$(sessions 1)" -ge $keys ]; }
cl_wait_until 20 "node 1 to keep a session per client ($keys)" all_old
before=$(sessions 1)
cl_log "$keys keys put, each by a new client: $before sessions"
for ((i = 1; i <= 3; i++)); do cl_kill "$i" TERM; done
for ((i = 1; i <= 3; i++)); do
    cl_wait_gone "$(cl_pid "$i")" 15 || cl_die "node $i did not stop"
    rm -f "$CL_DIR/node$i.pid"
done
# Three hours later, as the nodes' wall clocks see it (their monotonic clocks are left alone).
CL_NODE_PRE="env LD_PRELOAD=$libft FAKETIME=+3h FAKETIME_DONT_FAKE_MONOTONIC=1"
for ((i = 1; i <= 3; i++)); do cl_start "$i"; done
CL_NODE_PRE=
cl_wait_leaders 30
[ "$(refused)" = 0 ] || cl_die "requests refused 'session expired' before the test's puts"
put_all new
n=$(refused)
[ "$n" = 0 ] || cl_die "the nodes answered $n requests of new clients 'session expired'"
for ((k = 1; k <= keys; k++)); do
    v=$(cl_zkv --timeout 10000 get "key$k") || cl_die "get key$k failed"
    [ "$v" = "new-key$k" ] || cl_die "key$k reads '$v', not 'new-key$k'"
done
# The old sessions did expire (else this test would test nothing): node 1 keeps the new
# clients' sessions only, as it kept the old ones' before.
only_new () { [ "$(sessions 1)" = "$before" ]; }
cl_wait_until 20 "node 1 to keep $before sessions, the new clients' only (it keeps $(sessions 1))" only_new
cl_log "restarted 3 h later: $before old sessions expired; $keys new clients' puts, none refused 'session expired'"
cl_pass "sessions"
