# cluster.sh: start, fault and clean up a real zkvd cluster, on loopback or in network namespaces.
#
# Source it from a bash script that runs with `set -euo pipefail`, then:
#
#     cl_init 3 netns          # or: cl_init 3 lo      (N nodes; sets the EXIT/INT/TERM trap)
#     cl_start_all
#     cl_wait_leaders 20       # every group has a leader a majority agrees on, within 20 s
#     cl_zkv put k v           # the zkv CLI against this cluster (from the client namespace)
#     cl_kill 2 KILL; cl_start 2
#     cl_cut 1 3; cl_heal      # partitions (netns mode)
#
# Every node runs `zkvd --foreground`; its pid is in $CL_DIR/nodeI.pid, its log in
# $CL_DIR/nodeI.log, its data in $CL_DIR/dataI. The trap kills every process this library
# started (and anything else left in its namespaces), deletes the namespaces and the temp dir
# (kept, with its logs, when the script fails or CL_KEEP=1).
#
# Network (netns mode): one namespace per node (zkvtK-nI), one for clients (zkvtK-c) and one
# holding a bridge (zkvtK-b); each node or client namespace has a veth "eth0" into the bridge.
# Addresses are 10.250.K.I/24 (clients .100): they exist only inside these namespaces, so no
# packet ever leaves them, and nothing in the root namespace changes. K (0..99) is this run's
# slot, claimed atomically with mkdir under /run/zkvt so that parallel runs never collide.
# A partition is a pair of blackhole routes (/32, longer than the subnet's) in the two node
# namespaces: packets between them are silently dropped, both ways, as a cut cable would.
#
# Tools: bash, iproute2 (ip, ss), coreutils. Nothing else.

# Paths to the binaries: callers set them, or pass a build dir in ZKV_BUILD.
: "${ZKV_BUILD:=}"
: "${ZKVD:=${ZKV_BUILD:+$ZKV_BUILD/actors/zkvd}}"
: "${ZKV:=${ZKV_BUILD:+$ZKV_BUILD/client/zkv}}"
: "${ZKV_LINCHECK:=${ZKV_BUILD:+$ZKV_BUILD/checker/zkv-lincheck}}"

CL_N=0         # number of nodes
CL_MODE=lo     # lo or netns
CL_DIR=        # this run's temp dir
CL_SLOT=       # netns mode: this run's slot K
CL_BASE=       # lo mode: port base
CL_FAILED=1    # cleared by cl_pass; a failed run keeps its logs
CL_CLEANED=0   # the trap runs once
CL_RUNDIR=/run/zkvt

cl_log () {
    printf '[%s] %s\n' "$(date +%H:%M:%S.%3N)" "$*" >&2
}

# Prints the message, the tail of every node's log, and exits 1 (the trap cleans up).
cl_die () {
    cl_log "FAIL: $*"
    local i
    for ((i = 1; i <= CL_N; i++)); do
        [ -f "$CL_DIR/node$i.log" ] || continue
        echo "--- node $i log (tail)" >&2
        tail -n 15 "$CL_DIR/node$i.log" >&2 || true
    done
    exit 1
}

cl_need () {
    local t
    for t in "$@"; do
        [ -n "$t" ] && [ -x "$t" ] || cl_die "missing executable '$t' (set ZKV_BUILD or ZKVD/ZKV/ZKV_LINCHECK)"
    done
}

# cl_init N MODE: a temp dir, addresses and ports, the cleanup trap, the network (netns mode).
cl_init () {
    CL_N=$1
    CL_MODE=${2:-lo}
    [ "$CL_MODE" = lo ] || [ "$CL_MODE" = netns ] || cl_die "mode must be lo or netns"
    # A harness self-test may run stand-ins instead of zkvd (CL_NODE_CMD, see cl_start).
    [ -n "${CL_NODE_CMD:-}" ] || cl_need "$ZKVD" "$ZKV"
    CL_DIR=$(mktemp -d /tmp/zkv-cluster.XXXXXX)
    trap cl_cleanup EXIT
    trap 'cl_log "interrupted"; exit 130' INT
    trap 'cl_log "terminated"; exit 143' TERM
    if [ "$CL_MODE" = netns ]; then
        [ "$(id -u)" = 0 ] || cl_die "netns mode needs root"
        cl_reap_stale
        cl_net_up
    else
        cl_pick_ports
    fi
    cl_write_config > "$CL_DIR/cluster.cfg"
    cl_log "cluster of $CL_N nodes ($CL_MODE${CL_SLOT:+, slot $CL_SLOT}) in $CL_DIR"
}

# Marks the run as passed: the trap then deletes the temp dir.
cl_pass () {
    CL_FAILED=0
}

# Picks a loopback port base below 32768 (outside the ephemeral range) where nothing listens.
cl_pick_ports () {
    local try base p busy
    for ((try = 0; try < 50; try++)); do
        base=$((20000 + ((RANDOM + $$ + try * 37) % 250) * 40))
        busy=0
        for ((p = base; p < base + 40; p++)); do
            if [ -n "$(ss -Htln "sport = :$p" 2>/dev/null)" ]; then
                busy=1
                break
            fi
        done
        if [ $busy = 0 ]; then
            CL_BASE=$base
            return 0
        fi
    done
    cl_die "no free port range found"
}

cl_addr () {
    if [ "$CL_MODE" = netns ]; then echo "10.250.$CL_SLOT.$1"; else echo 127.0.0.1; fi
}
cl_client_addr () {
    if [ "$CL_MODE" = netns ]; then echo "10.250.$CL_SLOT.100"; else echo 127.0.0.1; fi
}
cl_peer_port () {
    if [ "$CL_MODE" = netns ]; then echo 7001; else echo $((CL_BASE + $1)); fi
}
cl_client_port () {
    if [ "$CL_MODE" = netns ]; then echo 7101; else echo $((CL_BASE + 10 + $1)); fi
}
cl_events_port () {
    if [ "$CL_MODE" = netns ]; then echo 7201; else echo $((CL_BASE + 20 + $1)); fi
}
cl_client_ep () {
    echo "tcp://$(cl_addr "$1"):$(cl_client_port "$1")"
}
cl_peer_ep () {
    echo "tcp://$(cl_addr "$1"):$(cl_peer_port "$1")"
}

# The cluster config: every node in groups 0 and 1. Tunables from CL_TUNABLES (ZPL lines).
cl_write_config () {
    local i members
    members=$(seq -s ', ' 1 "$CL_N")
    echo "# generated by tests/cluster/lib/cluster.sh"
    echo "cluster"
    echo "    name = test$CL_SLOT"
    echo "    shards = 16"
    echo "    tick_ms = 10"
    echo "    election_ticks = 30"
    echo "    heartbeat_ticks = 3"
    echo "    snapshot_bytes = ${CL_SNAPSHOT_BYTES:-1048576}"
    for ((i = 1; i <= CL_N; i++)); do
        echo "node"
        echo "    id = $i"
        echo "    peer = $(cl_peer_ep "$i")"
        echo "    client = $(cl_client_ep "$i")"
        echo "    events = tcp://$(cl_addr "$i"):$(cl_events_port "$i")"
        echo "    data = $CL_DIR/data$i"
    done
    echo "group"
    echo "    id = 0"
    echo "    members = $members"
    echo "group"
    echo "    id = 1"
    echo "    members = $members"
}

cl_ns () {
    echo "zkvt$CL_SLOT-$1"
}

# Runs a command in node I's namespace (netns mode) or right here (lo mode).
cl_in_node () {
    local i=$1
    shift
    if [ "$CL_MODE" = netns ]; then ip netns exec "$(cl_ns "n$i")" "$@"; else "$@"; fi
}

# Runs a command where clients run: the client namespace, or right here.
cl_in_client () {
    if [ "$CL_MODE" = netns ]; then ip netns exec "$(cl_ns c)" "$@"; else "$@"; fi
}

# The zkv CLI against this cluster.
cl_zkv () {
    cl_in_client "$ZKV" --config "$CL_DIR/cluster.cfg" "$@"
}

cl_pid () {
    cat "$CL_DIR/node$1.pid" 2>/dev/null || true
}

cl_alive () {
    local pid
    pid=$(cl_pid "$1")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# cl_start I: starts node I from its data dir (a restart keeps the data), records its pid.
# With CL_NODE_CMD set (harness self-tests), runs `$CL_NODE_CMD I` instead of zkvd.
cl_start () {
    local i=$1
    ! cl_alive "$i" || cl_die "node $i is already running"
    echo "=== start $(date +%H:%M:%S.%3N)" >> "$CL_DIR/node$i.log"
    # No shell function or subshell in between: ip netns exec execs its command, so $! is
    # zkvd itself and SIGSTOP / SIGKILL reach it, not a wrapper.
    local cmd=() pre=()
    [ "$CL_MODE" != netns ] || pre=(ip netns exec "$(cl_ns "n$i")")
    if [ -n "${CL_NODE_CMD:-}" ]; then
        cmd=($CL_NODE_CMD "$i")
    else
        cmd=("$ZKVD" --config "$CL_DIR/cluster.cfg" --node "$i" --foreground)
    fi
    "${pre[@]}" "${cmd[@]}" >> "$CL_DIR/node$i.log" 2>&1 < /dev/null &
    echo $! > "$CL_DIR/node$i.pid"
    echo $! >> "$CL_DIR/all.pids"
    # No "Killed" job notices: the nemesis kills nodes on purpose.
    disown $!
}

cl_start_all () {
    local i
    for ((i = 1; i <= CL_N; i++)); do cl_start "$i"; done
}

# cl_kill I SIG: sends SIG to node I; for KILL, also waits (up to 10 s) until it is gone.
cl_kill () {
    local i=$1 sig=${2:-KILL} pid
    pid=$(cl_pid "$i")
    [ -n "$pid" ] || cl_die "node $i has no pid"
    kill -s "$sig" "$pid" 2>/dev/null || true
    if [ "$sig" = KILL ] || [ "$sig" = 9 ]; then
        cl_wait_gone "$pid" 10 || cl_die "node $i (pid $pid) survived SIGKILL for 10 s"
        rm -f "$CL_DIR/node$i.pid"
    fi
}

# cl_wait_gone PID SECONDS
cl_wait_gone () {
    local pid=$1 deadline=$((SECONDS + $2))
    while kill -0 "$pid" 2>/dev/null; do
        # A zombie counts as gone (it is never reaped: cl_start disowns it), but only once
        # every thread is: a zombie group leader's other threads may still be exiting with
        # the node's database open, and a restart would then fail on LevelDB's LOCK.
        awk '$3 != "Z" && $3 != "X" { live = 1 } END { exit live }' \
            "/proc/$pid/task/"*/stat 2>/dev/null && return 0
        [ $SECONDS -ge $deadline ] && return 1
        sleep 0.05
    done
}

# cl_wait_writers SECONDS PID...: waits for each (a background writer of this script) to exit
# and reaps it; dies if one is still running after SECONDS.
cl_wait_writers () {
    local deadline=$((SECONDS + $1)) p
    shift
    for p in "$@"; do
        while kill -0 "$p" 2> /dev/null; do
            [ $SECONDS -lt $deadline ] || cl_die "a writer (pid $p) did not stop within the deadline"
            sleep 0.05
        done
        wait "$p" || true
    done
}

# cl_wait_until SECONDS WHAT CMD...: polls CMD (every 0.1 s) until it succeeds or the deadline
# passes; dies naming WHAT on timeout.
cl_wait_until () {
    local secs=$1 what=$2
    shift 2
    local deadline=$((SECONDS + secs))
    until "$@" > /dev/null 2>&1; do
        [ $SECONDS -ge $deadline ] && cl_die "timed out after ${secs}s waiting for: $what"
        sleep 0.1
    done
}

# Succeeds when every group has a leader that a majority of the nodes report (same leader,
# same term): then a request through any reachable node can be served.
cl_have_leaders () {
    local out
    out=$(cl_zkv --timeout 500 status 2> /dev/null) || true
    echo "$out" | awk -v n="$CL_N" '
        NR > 1 && $3 ~ /^[0-9]+$/ { seen[$3] = 1 }
        NR > 1 && $3 ~ /^[0-9]+$/ && $6 ~ /^[0-9]+$/ { votes[$3 " " $6 " " $5]++ }
        END {
            ng = 0
            for (g in seen) ng++
            if (ng == 0) exit 1
            for (g in seen) {
                ok = 0
                for (k in votes) { split(k, p, " "); if (p[1] == g && votes[k] > n / 2) ok = 1 }
                if (!ok) exit 1
            }
            exit 0
        }'
}

cl_wait_leaders () {
    cl_wait_until "${1:-20}" "a leader in every group" cl_have_leaders
}

# The leader node id of group G (default 1) as a majority reports it, or nothing.
cl_leader () {
    local g=${1:-1}
    cl_zkv --timeout 500 status 2> /dev/null | awk -v g="$g" -v n="$CL_N" '
        NR > 1 && $3 == g && $6 ~ /^[0-9]+$/ { votes[$6]++ }
        END { for (l in votes) if (votes[l] > n / 2) { print l; exit 0 } exit 1 }' || true
}

# ---- network (netns mode) -------------------------------------------------------------------

# Claims a free slot and builds the bridge, the node namespaces and the client namespace.
cl_net_up () {
    local k i
    mkdir -p "$CL_RUNDIR"
    for ((k = 0; k < 100; k++)); do
        if mkdir "$CL_RUNDIR/$k" 2> /dev/null; then
            CL_SLOT=$k
            echo $$ > "$CL_RUNDIR/$k/owner"
            break
        fi
    done
    [ -n "$CL_SLOT" ] || cl_die "no free namespace slot under $CL_RUNDIR"
    local br
    br=$(cl_ns b)
    ip netns add "$br"
    ip -n "$br" link set lo up
    ip -n "$br" link add br0 type bridge
    ip -n "$br" link set br0 up
    for ((i = 1; i <= CL_N; i++)); do cl_net_host "n$i" "$i"; done
    cl_net_host c 100
}

# cl_net_host NAME HOSTNUM: a namespace with a veth "eth0" into the bridge, address .HOSTNUM.
cl_net_host () {
    local name=$1 host=$2 ns br
    ns=$(cl_ns "$name")
    br=$(cl_ns b)
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$br" link add "$name" type veth peer name eth0 netns "$ns"
    ip -n "$br" link set "$name" master br0
    ip -n "$br" link set "$name" up
    ip -n "$ns" addr add "10.250.$CL_SLOT.$host/24" dev eth0
    ip -n "$ns" link set eth0 up
}

# cl_cut A B: no packet between nodes A and B, either way.
cl_cut () {
    ip -n "$(cl_ns "n$1")" route replace blackhole "$(cl_addr "$2")/32"
    ip -n "$(cl_ns "n$2")" route replace blackhole "$(cl_addr "$1")/32"
}

# cl_partition "A B" "C D E": cuts every node of the first side from every node of the second.
cl_partition () {
    local a b
    for a in $1; do
        for b in $2; do cl_cut "$a" "$b"; done
    done
}

# cl_isolate I: cuts node I from every other node (clients still reach it).
cl_isolate () {
    local j others=""
    for ((j = 1; j <= CL_N; j++)); do [ "$j" = "$1" ] || others="$others $j"; done
    cl_partition "$1" "$others"
}

# cl_heal: every cut between nodes is gone, every veth is up.
cl_heal () {
    [ "$CL_MODE" = netns ] || return 0
    local i
    for ((i = 1; i <= CL_N; i++)); do
        ip -n "$(cl_ns "n$i")" route flush type blackhole 2> /dev/null || true
        ip -n "$(cl_ns b)" link set "n$i" up 2> /dev/null || true
        ip -n "$(cl_ns "n$i")" link set eth0 up 2> /dev/null || true
    done
}

# cl_link I up|down: takes node I's cable out (it then reaches no one, clients included).
cl_link () {
    ip -n "$(cl_ns b)" link set "n$1" "$2"
}

# cl_tcp_reaches FROM_NS_NAME ADDR PORT: a TCP connect succeeds within 1 s.
cl_tcp_reaches () {
    ip netns exec "$(cl_ns "$1")" timeout 1 bash -c "exec 3<>/dev/tcp/$2/$3" 2> /dev/null
}

# cl_reaches A B: node A's namespace can open a TCP connection to node B's peer port.
cl_reaches () {
    cl_tcp_reaches "n$1" "$(cl_addr "$2")" "$(cl_peer_port "$2")"
}

# cl_check_cut A B: dies unless A and B cannot connect either way (the partition is real).
cl_check_cut () {
    ! cl_reaches "$1" "$2" || cl_die "partition $1|$2 is not real: $1 still reaches $2"
    ! cl_reaches "$2" "$1" || cl_die "partition $1|$2 is not real: $2 still reaches $1"
}

# Removes namespaces and slots of earlier runs whose owner process is gone (a run that was
# SIGKILLed never ran its trap).
cl_reap_stale () {
    local d k owner
    [ -d "$CL_RUNDIR" ] || return 0
    for d in "$CL_RUNDIR"/*; do
        [ -d "$d" ] || continue
        k=${d##*/}
        owner=$(cat "$d/owner" 2> /dev/null || true)
        if [ -n "$owner" ] && kill -0 "$owner" 2> /dev/null; then continue; fi
        # An owner file is written right after the mkdir: give a racing run a moment.
        if [ -z "$owner" ] && [ $(($(date +%s) - $(stat -c %Y "$d"))) -lt 10 ]; then continue; fi
        cl_log "reaping stale namespace slot $k (owner ${owner:-unknown} is gone)"
        cl_net_down_slot "$k"
        rm -rf "$d"
    done
}

# Kills whatever runs in slot K's namespaces and deletes them (veths and bridge go with them).
cl_net_down_slot () {
    local k=$1 ns pids
    for ns in $(ip netns list | awk '{print $1}' | grep -E "^zkvt$k-(b|c|n[0-9]+)\$" || true); do
        pids=$(ip netns pids "$ns" 2> /dev/null || true)
        # shellcheck disable=SC2086
        [ -z "$pids" ] || kill -CONT $pids 2> /dev/null || true
        # shellcheck disable=SC2086
        [ -z "$pids" ] || kill -KILL $pids 2> /dev/null || true
        ip netns del "$ns" 2> /dev/null || true
    done
}

# The trap: stop background jobs, kill every node (continued first: a stopped process still
# dies of SIGKILL, but its children might not), delete the network, remove the temp dir.
cl_cleanup () {
    local rc=$?
    [ "$CL_CLEANED" = 1 ] && return 0
    CL_CLEANED=1
    trap - INT TERM
    set +e
    local p jobs_pids
    jobs_pids=$(jobs -p)
    [ -z "$jobs_pids" ] || kill -KILL $jobs_pids 2> /dev/null
    if [ -n "$CL_DIR" ] && [ -f "$CL_DIR/all.pids" ]; then
        for p in $(sort -u "$CL_DIR/all.pids"); do
            kill -CONT "$p" 2> /dev/null
            kill -KILL "$p" 2> /dev/null
        done
    fi
    [ -z "$jobs_pids" ] || wait $jobs_pids 2> /dev/null
    if [ -n "$CL_SLOT" ]; then
        cl_net_down_slot "$CL_SLOT"
        rm -rf "${CL_RUNDIR:?}/$CL_SLOT"
    fi
    if [ -n "$CL_DIR" ] && [ -d "$CL_DIR" ]; then
        if [ "$CL_FAILED" = 0 ] && [ "$rc" = 0 ] && [ "${CL_KEEP:-0}" != 1 ]; then
            rm -rf "$CL_DIR"
        else
            cl_log "logs and data kept in $CL_DIR"
        fi
    fi
    return $rc
}
