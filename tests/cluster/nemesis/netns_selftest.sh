#!/bin/bash
# netns_selftest.sh: proves the harness's faults are real, with stand-in processes (no zkvd).
#
#     netns_selftest.sh [SEED]        (root; iproute2 and /usr/bin/python3)
#
# Long-lived TCP connections between stand-in echo servers in the nodes' namespaces must stop
# carrying data across a cut, a cable pull or a SIGSTOP while other links keep flowing, and the
# SAME connections must carry data again after the heal. A seeded nemesis run over the stand-ins
# must end healed. A run interrupted by SIGINT, or SIGKILLed, must leave no namespace or process.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lib=$here/../lib/cluster.sh
seed=${1:-$(date +%s)}
if [ "$(id -u)" != 0 ]; then
    echo "netns_selftest: needs root for network namespaces; skipped"
    exit 77 # ctest SKIP_RETURN_CODE
fi
standin="/usr/bin/python3 $here/standin.py"
CL_NODE_CMD="$standin serve 0.0.0.0 7001"
# shellcheck source=../lib/cluster.sh
source "$lib"
# shellcheck source=nemesis.sh
source "$here/nemesis.sh"

passed=0
ok () {
    passed=$((passed + 1))
    cl_log "ok: $*"
}

# ---- 1. cleanup on SIGTERM and after SIGKILL --------------------------------------------------
slot_of () { sed -n 's/.*slot \([0-9]*\)[,)].*/\1/p' "$1" | head -n 1; }
slot_gone () {
    ! ip netns list | grep -qE "^zkvt$1-" && [ ! -d "/run/zkvt/$1" ]
}
tmp=$(mktemp -d /tmp/zkv-selftest.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
for how in TERM KILL; do
    CL_NODE_CMD="$CL_NODE_CMD" setsid bash -c "set -euo pipefail; source '$lib'
        cl_init 2 netns; cl_start_all; echo ready > '$tmp/ready.$how'
        while true; do sleep 0.2; done" > "$tmp/out.$how" 2>&1 &
    child=$!
    disown "$child" # no "Killed" notice
    cl_wait_until 20 "the $how child to start its cluster" test -s "$tmp/ready.$how"
    slot=$(slot_of "$tmp/out.$how")
    [ -n "$slot" ] || cl_die "no slot in $(cat "$tmp/out.$how")"
    # The shell alone: its trap must stop the stand-ins, or (SIGKILL) a later reap must.
    # (SIGTERM, not SIGINT: a background job of a script starts with SIGINT ignored.)
    kill -s "$how" "$child"
    cl_wait_gone "$child" 10 || cl_die "the $how child outlived its signal"
    if [ "$how" = KILL ]; then
        # No trap ran: its namespaces and stand-ins are left until a later run reaps them.
        ! slot_gone "$slot" || cl_die "SIGKILLed run left nothing behind?"
        [ -n "$(ip netns pids "zkvt$slot-n1")" ] || cl_die "its stand-ins died with it?"
        cl_reap_stale
    fi
    slot_gone "$slot" || cl_die "slot $slot still there after SIGTERM/reap: $(ip netns list)"
    ok "SIG$how: slot $slot's namespaces and processes are gone"
done
rm -rf "$tmp"
trap - EXIT

# ---- 2. faults on long-lived connections ----------------------------------------------------
cl_init 3 netns
cl_start_all
nem_check_healed
CL_SEED=$seed

# probe FROM TO: a long-lived echo connection from node FROM to node TO's port 7001.
probe () {
    ip netns exec "$(cl_ns "n$1")" $standin probe "$(cl_addr "$2")" 7001 "$CL_DIR/probe$1$2" \
        > "$CL_DIR/probe$1$2.log" 2>&1 < /dev/null &
    echo $! >> "$CL_DIR/all.pids"
    disown $!
}
count () { cat "$CL_DIR/probe$1" 2> /dev/null || echo 0; }
# grows NAME BY SECONDS: the probe's count grows by BY within SECONDS.
grows () {
    local start
    start=$(count "$1")
    cl_wait_until "$3" "probe $1 to grow by $2 (it stayed near $start)" \
        eval "[ \$(count $1) -ge $((start + $2)) ]"
}
# stalls NAME WHILE: NAME's count grows by at most 1 (a line in flight) while probe WHILE grows
# by 20 echoes (about a second of traffic on a link that is not cut).
stalls () {
    local before
    before=$(count "$1")
    grows "$2" 20 10
    [ "$(count "$1")" -le $((before + 1)) ] || cl_die "traffic on $1 went on: $before -> $(count "$1")"
}

probe 1 2
probe 1 3
probe 2 3
grows 12 5 10
grows 13 5 10
grows 23 5 10
ok "three long-lived connections carry data"

cl_cut 1 2
cl_check_cut 1 2
stalls 12 13
grows 23 5 10
ok "cut 1|2: connection 1->2 stalls, new connects fail both ways, 1->3 and 2->3 flow"
cl_heal
grows 12 5 20
ok "heal: the same connection 1->2 carries data again"

cl_isolate 3
nem_check_cut 3 "1 2"
stalls 13 12
stalls 23 12
cl_heal
nem_check_healed
grows 13 5 20
grows 23 5 20
ok "isolate 3 stops 1->3 and 2->3; heal restores both"

cl_link 3 down
! cl_reaches 1 3 || cl_die "node 3 reachable with its cable out"
! cl_tcp_reaches c "$(cl_addr 3)" 7001 || cl_die "the client reaches node 3 with its cable out"
stalls 13 12
cl_link 3 up
grows 13 5 20
ok "cable out of 3 stops everything to it, clients included; cable in restores it"

cl_kill 2 STOP
stalls 12 13
cl_kill 2 CONT
grows 12 5 10
ok "SIGSTOP node 2 stalls 1->2; SIGCONT resumes it"

cl_kill 2 KILL
cl_wait_until 10 "probe 1->2 to see its server die" \
    eval "! kill -0 \$(ip netns pids $(cl_ns n1) | xargs -r ps -o pid=,args= -p | awk '/probe .*7001 .*probe12/ {print \$1}') 2>/dev/null"
cl_start 2
cl_wait_until 10 "node 2 to listen again" cl_reaches 1 2
ok "kill -9 node 2 breaks 1->2; restart listens again"

# ---- 3. a seeded nemesis over the stand-ins -------------------------------------------------
nem_run 10 "$seed" "kill pause isolate minority cable" > "$CL_DIR/nemesis.out"
cat "$CL_DIR/nemesis.out"
grep -q "healed: every node runs" "$CL_DIR/nemesis.out" || cl_die "nemesis did not heal"
for i in 1 2 3; do cl_alive "$i" || cl_die "node $i not running after the nemesis"; done
ok "nemesis seed=$seed ran $(grep -c 'step=[0-9]' "$CL_DIR/nemesis.out") events and healed"

cl_pass
echo "$passed passed, 0 failed"
