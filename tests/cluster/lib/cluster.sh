# cluster.sh: start, fault and clean up a real zkvd cluster, on loopback or in network namespaces.
#
# Source it from a bash script that runs with `set -euo pipefail`, then:
#
#     cl_init 3 netns          # or: cl_init 3 lo      (N nodes; sets the EXIT/INT/TERM trap)
#     cl_start_all             # the nodes, and one `zkv watch --json` for all of them
#     cl_wait_leaders 20       # every group has a leader a majority agrees on, within 20 s
#     cl_zkv put k v           # the zkv CLI against this cluster (from the client namespace)
#     cl_leader 1              # who leads group 1 (zkv status --json)
#     m=$(cl_event_mark); cl_kill 2 KILL; cl_start 2
#     cl_wait_event 10 "$m" zkv.raft.leader node=3 group=1    # (zkv watch --json)
#     cl_cut 1 3; cl_heal      # partitions (netns mode)
#
# Every node runs `zkvd` in the foreground; its pid is in $CL_DIR/nodeI.pid, its log in
# $CL_DIR/nodeI.log, its data in $CL_DIR/dataI. The trap kills every process this library
# started (and anything else left in its namespaces), deletes the namespaces and the temp dir
# (kept, with its logs, when the script fails or CL_KEEP=1).
#
# What the tests know of the cluster's state they learn as a user would: leaders, terms, roles
# and indexes from `zkv status --json` (cl_status), elections, snapshots and compactions from
# `zkv watch --json` (its JSON lines in $CL_DIR/events.jsonl: cl_events, cl_wait_event). The
# node logs are read only for errors a node must or must not report.
#
# Network (netns mode): one namespace per node (zkvtK-nI), one for clients (zkvtK-c) and one
# holding a bridge (zkvtK-b); each node or client namespace has a veth "eth0" into the bridge.
# Addresses are 10.250.K.I/24 (clients .100): they exist only inside these namespaces, so no
# packet ever leaves them, and nothing in the root namespace changes. K (0..99) is this run's
# slot, claimed atomically with mkdir under /run/zkvt so that parallel runs never collide.
# A partition is a pair of blackhole routes (/32, longer than the subnet's) in the two node
# namespaces: packets between them are silently dropped, both ways, as a cut cable would.
#
# Tools: bash, iproute2 (ip, ss), coreutils, awk (Debian's mawk will do). Nothing else: the
# JSON of zkv status and zkv watch is read by the small awk readers below.

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
CL_WATCH_PID=  # the zkv watch --json subscriber (cl_watch_start)
CL_EVENTS=     # its output, one JSON event a line

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
    if [ -n "$CL_EVENTS" ] && [ -s "$CL_EVENTS" ]; then
        echo "--- events (tail of $CL_EVENTS)" >&2
        tail -n 12 "$CL_EVENTS" >&2 || true
    fi
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
    # CURVE, as a cluster runs by default, unless CL_SECURITY=none (or stand-ins run).
    [ -z "${CL_NODE_CMD:-}" ] || CL_SECURITY=${CL_SECURITY:-none}
    CL_SECURITY=${CL_SECURITY:-curve}
    [ "$CL_SECURITY" = none ] || cl_keys
    cl_write_config > "$CL_DIR/cluster.cfg"
    cl_log "cluster of $CL_N nodes ($CL_MODE${CL_SLOT:+, slot $CL_SLOT}, $CL_SECURITY) in $CL_DIR"
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
cl_http_port () {
    if [ "$CL_MODE" = netns ]; then echo 7301; else echo $((CL_BASE + 30 + $1)); fi
}
# Node I's HTTP endpoint (metrics), as a URL base: http://ADDR:PORT
cl_http_url () {
    echo "http://$(cl_addr "$1"):$(cl_http_port "$1")"
}
cl_client_ep () {
    echo "tcp://$(cl_addr "$1"):$(cl_client_port "$1")"
}
cl_peer_ep () {
    echo "tcp://$(cl_addr "$1"):$(cl_peer_port "$1")"
}

# The groups of the cluster, "ID:MEMBERS" each (members comma-separated), in CL_GROUPS (set it
# before cl_init): e.g. CL_GROUPS="0:1,2,3 1:1,2,3 2:1,2". Default: groups 0 and 1 on every node.
cl_groups () {
    if [ -n "${CL_GROUPS:-}" ]; then
        echo "$CL_GROUPS"
    else
        local all
        all=$(seq -s , 1 "$CL_N")
        echo "0:$all 1:$all"
    fi
}

# cl_group_members G: the member node ids of group G, space-separated (nothing if no such group).
cl_group_members () {
    local g
    for g in $(cl_groups); do
        [ "${g%%:*}" != "$1" ] || { echo "${g#*:}" | tr , ' '; return 0; }
    done
}

# "G:SIZE ..." for every group: how many nodes host it (for the readers of cl_status below).
cl_group_sizes () {
    local g out=""
    for g in $(cl_groups); do
        out="$out ${g%%:*}:$(echo "${g#*:}" | tr , '\n' | grep -c .)"
    done
    echo "$out"
}

# The cluster config: the groups of cl_groups. Tunables: CL_SNAPSHOT_BYTES, CL_CHUNK_BYTES,
# CL_STATS_INTERVAL_MS (zkv.node.stats; default 1000). Every node serves HTTP (cl_http_url).
# Certificates in $CL_DIR/certs: one per node (nodeI.cert), the client's (client.cert, allowed
# through keys/clients), and a read-only monitor's (monitor.cert, through keys/monitors).
cl_keys () {
    local i
    mkdir -p "$CL_DIR/certs/clients" "$CL_DIR/certs/monitors"
    for ((i = 1; i <= CL_N; i++)); do
        "$ZKV" keygen "$CL_DIR/certs/node$i.cert" > /dev/null || cl_die "zkv keygen failed"
    done
    "$ZKV" keygen "$CL_DIR/certs/client.cert" > /dev/null || cl_die "zkv keygen failed"
    "$ZKV" keygen "$CL_DIR/certs/monitor.cert" > /dev/null || cl_die "zkv keygen failed"
    cp "$CL_DIR/certs/client.cert" "$CL_DIR/certs/clients/"
    cp "$CL_DIR/certs/monitor.cert" "$CL_DIR/certs/monitors/"
}

cl_write_config () {
    local i g m
    echo "# generated by tests/cluster/lib/cluster.sh"
    echo "cluster"
    echo "    name = test$CL_SLOT"
    echo "    security = $CL_SECURITY"
    if [ "$CL_SECURITY" != none ]; then
        echo "    client_keys = $CL_DIR/certs/clients"
        echo "    monitor_keys = $CL_DIR/certs/monitors"
        echo "    client_cert = $CL_DIR/certs/client.cert"
    fi
    echo "    shards = 16"
    echo "    tick_ms = 10"
    echo "    election_ticks = 30"
    echo "    heartbeat_ticks = 3"
    echo "    snapshot_bytes = ${CL_SNAPSHOT_BYTES:-1048576}"
    [ -z "${CL_CHUNK_BYTES:-}" ] || echo "    snapshot_chunk_bytes = $CL_CHUNK_BYTES"
    [ -z "${CL_STATS_INTERVAL_MS:-}" ] || echo "    stats_interval_ms = $CL_STATS_INTERVAL_MS"
    for ((i = 1; i <= CL_N; i++)); do
        echo "node"
        echo "    id = $i"
        echo "    peer = $(cl_peer_ep "$i")"
        echo "    client = $(cl_client_ep "$i")"
        echo "    events = tcp://$(cl_addr "$i"):$(cl_events_port "$i")"
        echo "    http = tcp://$(cl_addr "$i"):$(cl_http_port "$i")"
        echo "    data = $CL_DIR/data$i"
        [ "$CL_SECURITY" = none ] || echo "    cert = $CL_DIR/certs/node$i.cert"
    done
    for g in $(cl_groups); do
        echo "group"
        echo "    id = ${g%%:*}"
        m=${g#*:}
        echo "    members = ${m//,/, }"
    done
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

# cl_zkv_maybe ARGS...: cl_zkv for a get of a key that may not exist: its value, or nothing
# when zkv get says "not found" (exit 4); any other failure fails.
cl_zkv_maybe () {
    local rc=0
    cl_zkv "$@" 2> /dev/null || rc=$?
    [ $rc -eq 0 ] || [ $rc -eq 4 ]
}

# Node I's public key (Z85), read from its certificate.
cl_node_key () {
    sed -n 's/^ *public-key = "\(.*\)"$/\1/p' "$CL_DIR/certs/node$1.cert"
}

# The zkv CLI through node I's client endpoint alone (it forwards what it does not lead).
cl_zkv_at () {
    local i=$1
    shift
    if [ "$CL_SECURITY" = none ]; then
        cl_in_client "$ZKV" --endpoints "$(cl_client_ep "$i")" "$@"
    else
        cl_in_client "$ZKV" --endpoints "$(cl_client_ep "$i")" --server-keys "$(cl_node_key "$i")" \
            --key "$CL_DIR/certs/client.cert" "$@"
    fi
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
    # Where this life begins in the event stream (cl_life_mark).
    [ -z "$CL_WATCH_PID" ] || cl_event_mark > "$CL_DIR/node$i.mark"
    # No shell function or subshell in between: ip netns exec execs its command, so $! is
    # zkvd itself and SIGSTOP / SIGKILL reach it, not a wrapper.
    local cmd=() pre=()
    [ "$CL_MODE" != netns ] || pre=(ip netns exec "$(cl_ns "n$i")")
    # CL_NODE_PRE: a command the node runs under for this start (e.g. faketime), which must
    # exec it, as ip netns exec does.
    [ -z "${CL_NODE_PRE:-}" ] || pre+=($CL_NODE_PRE)
    if [ -n "${CL_NODE_CMD:-}" ]; then
        cmd=($CL_NODE_CMD "$i")
    else
        # CL_NODE_ARGS: more options for this start only (e.g. --rejoin).
        cmd=("$ZKVD" --config "$CL_DIR/cluster.cfg" --node "$i" ${CL_NODE_ARGS:-})
    fi
    "${pre[@]}" "${cmd[@]}" >> "$CL_DIR/node$i.log" 2>&1 < /dev/null &
    echo $! > "$CL_DIR/node$i.pid"
    echo $! >> "$CL_DIR/all.pids"
    # No "Killed" job notices: the nemesis kills nodes on purpose. With CL_WAITABLE=1 the node
    # stays a job of this shell, so that `wait PID` gives its exit status (stop.sh).
    [ "${CL_WAITABLE:-0}" = 1 ] || disown $!
}

# Starts every node; with zkvd (not a self-test's stand-ins), the event watcher first, and waits
# until it is connected to every node (events published before that are not seen: ZeroMQ's
# slow joiner).
cl_start_all () {
    local i
    [ -n "${CL_NODE_CMD:-}" ] || cl_watch_start
    for ((i = 1; i <= CL_N; i++)); do cl_start "$i"; done
    [ -n "${CL_NODE_CMD:-}" ] || cl_wait_watching 10
}

# cl_start_observed I: starts node I so that the event watcher hears every event of its new
# life that matters: its subscription is up before any peer reaches the node. In netns mode
# the node starts cut from every other node, and the cut goes once the watcher is connected.
# On loopback, which has no cuts, the node is stopped (SIGSTOP) as soon as its event port
# listens, which it binds before its peer port, and continued once the watcher is connected;
# a peer may then be connected too, but its first message takes round trips that the
# watcher's subscription does not.
cl_start_observed () {
    local i=$1
    [ -n "$CL_WATCH_PID" ] || cl_die "cl_start_observed: no event watcher (cl_start_all starts it)"
    if [ "$CL_MODE" = netns ]; then
        cl_isolate "$i"
        cl_start "$i"
        cl_wait_until 10 "the event watcher to connect to node $i" cl_watching "$i"
        cl_unisolate "$i"
    else
        cl_start "$i"
        cl_hold_until_watched "$i" "$(cl_pid "$i")"
    fi
}

# cl_hold_until_watched I PID: (loopback) stops PID, node I's zkvd, as soon as its event port
# listens, and continues it once the event watcher is connected to that port.
cl_hold_until_watched () {
    local i=$1 pid=$2 deadline=$((SECONDS + 10)) port
    port=$(cl_events_port "$i")
    # As fast as ss goes (a few ms a check): the node boots in milliseconds.
    until cl_listens "$port"; do
        kill -0 "$pid" 2> /dev/null || return 0 # it died: the caller finds out
        [ $SECONDS -lt $deadline ] || cl_die "node $i did not bind its event port within 10 s"
    done
    kill -STOP "$pid"
    # A stopped process's listening socket still completes TCP handshakes (its backlog).
    until cl_watching "$i"; do
        if [ $SECONDS -ge $deadline ]; then
            kill -CONT "$pid"
            cl_die "the event watcher did not connect to node $i within 10 s"
        fi
        sleep 0.01
    done
    kill -CONT "$pid"
}

# cl_listens PORT: something listens on TCP PORT in this namespace (ss filters in the kernel:
# a few ms however many connections there are).
cl_listens () {
    [ -n "$(ss -Hltn "sport = :$1" 2> /dev/null)" ]
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

# ---- what the nodes say: zkv status --json ----------------------------------------------------

# Reads `zkv status --json` (client/zkv_cli_status.c) on stdin and prints one line per node and
# group it hosts:
#     NODE GROUP ROLE TERM LEADER COMMIT APPLIED LAST_INDEX SNAPSHOT_INDEX LOG_BYTES
# (a missing field prints as -) and "NODE - down" for a node that did not answer. A small JSON
# reader: any key order and spacing; strings keep the escaped character.
CL_STATUS_AWK='
function f(o, k) { return ((o, k) in V) ? V[o, k] : "-" }
{ s = s $0 "\n" }
END {
    n = length(s); i = 1; d = 0; ids = 0; key = ""
    while (i <= n) {
        c = substr(s, i, 1)
        if (c == " " || c == "\t" || c == "\r" || c == "\n" || c == "," || c == ":") { i++; continue }
        if (c == "{" || c == "[") { d++; T[d] = c; K[d] = key; O[d] = ++ids; key = ""; i++; continue }
        if (c == "}" || c == "]") {
            o = O[d]
            if (c == "}" && d >= 3 && T[d - 1] == "[" && K[d - 1] == "groups") {
                p = O[d - 2]
                G[p, ++NG[p]] = f(o, "group") " " f(o, "role") " " f(o, "term") " " f(o, "leader") \
                    " " f(o, "commit") " " f(o, "applied") " " f(o, "last_index") " " \
                    f(o, "snapshot_index") " " f(o, "log_bytes")
            }
            if (c == "}" && d >= 2 && T[d - 1] == "[" && K[d - 1] == "nodes") {
                if (f(o, "ok") != "true") print f(o, "node"), "-", "down"
                else for (g = 1; g <= NG[o]; g++) print f(o, "node"), G[o, g]
            }
            d--; key = ""; i++; continue
        }
        if (c == "\"") {
            v = ""; j = i + 1
            while (j <= n && (ch = substr(s, j, 1)) != "\"") {
                if (ch == "\\") { j++; ch = substr(s, j, 1) }
                v = v ch; j++
            }
            i = j + 1
            while (i <= n && substr(s, i, 1) ~ /[ \t\r\n]/) i++
            if (substr(s, i, 1) == ":") key = v
            else { V[O[d], key] = v; key = "" }
            continue
        }
        if (match(substr(s, i, 40), /^[-+.0-9a-zA-Z]+/)) {
            V[O[d], key] = substr(s, i, RLENGTH); key = ""; i += RLENGTH; continue
        }
        i++
    }
}'

# cl_status_json [TIMEOUT_MS]: `zkv status --json` as it came (each node asked for at most
# TIMEOUT_MS, default 1000; a node that does not answer is in it with "ok": false).
cl_status_json () {
    cl_zkv --timeout "${1:-1000}" status --json 2> /dev/null || true
}

# cl_status [TIMEOUT_MS]: the status as lines (CL_STATUS_AWK above), every node and group.
cl_status () {
    cl_status_json "${1:-1000}" | awk "$CL_STATUS_AWK"
}

# cl_status_field NODE GROUP FIELD [TIMEOUT_MS]: one field of node NODE's view of group GROUP
# (role, term, leader, commit, applied, last_index, snapshot_index, log_bytes), or nothing.
cl_status_field () {
    cl_status "${4:-1000}" | awk -v node="$1" -v g="$2" -v k="$3" '
        BEGIN {
            split("node group role term leader commit applied last_index snapshot_index log_bytes",
                  names, " ")
            for (c in names) col[names[c]] = c
        }
        $1 == node && $2 == g && (k in col) { print $(col[k]); exit }'
}

# Reads status lines (cl_status) and prints the leader of group G (-v g) that a majority of its
# members (-v sizes, "G:SIZE ..." of cl_group_sizes; a group not in it: the N of -v n) name in
# one term, unless that node answered and says it does not lead in that term; with -v strict=1
# that node must have answered and said it leads. Exit 1 if none.
# With -v every=1: exits 0 when every group seen has such a leader (prints nothing).
CL_LEADER_AWK='
BEGIN { ns = split(sizes, S, " "); for (x = 1; x <= ns; x++) { split(S[x], q, ":"); size[q[1]] = q[2] } }
$2 ~ /^[0-9]+$/ { seen[$2] = 1; role[$1, $2] = $3; term[$1, $2] = $4 }
$2 ~ /^[0-9]+$/ && $5 ~ /^[1-9][0-9]*$/ { votes[$2, $5, $4]++ }
function leader(grp,   k, p, l) {
    for (k in votes) {
        split(k, p, SUBSEP)
        if (p[1] != grp || votes[k] <= ((grp in size) ? size[grp] : n) / 2) continue
        l = p[2]
        if ((l, grp) in role) { if (role[l, grp] != "leader" || term[l, grp] != p[3]) continue }
        else if (strict) continue
        return l
    }
    return ""
}
END {
    if (every) {
        ng = 0
        for (x in seen) { ng++; if (leader(x) == "") exit 1 }
        exit ng ? 0 : 1
    }
    l = leader(g)
    if (l == "") exit 1
    print l
}'

# Succeeds when every group has a leader that a majority of the nodes name in one term and
# that says so itself: then a request through any reachable node can be served.
cl_have_leaders () {
    cl_status 500 | awk -v n="$CL_N" -v sizes="$(cl_group_sizes)" -v every=1 -v strict=1 "$CL_LEADER_AWK"
}

cl_wait_leaders () {
    cl_wait_until "${1:-20}" "a leader in every group" cl_have_leaders
}

# The leader node id of group G (default 1) as a majority names it in one term (and it does
# not deny it), or nothing.
cl_leader () {
    cl_status 500 | awk -v g="${1:-1}" -v n="$CL_N" -v sizes="$(cl_group_sizes)" "$CL_LEADER_AWK" || true
}

# For cl_wait_until: a majority names a leader of group G, and not node NODE.
cl_has_leader_other_than () {
    local l
    l=$(cl_leader "$1")
    [ -n "$l" ] && [ "$l" != "$2" ]
}

# For cl_wait_until: every member of group G answers and applied it through index I or past it
# (an applied index of UINT64_MAX means incomplete data, not "past").
cl_applied_through () {
    cl_status 1000 | awk -v g="$1" -v i="$2" -v n="$(cl_group_members "$1" | wc -w)" '
        $2 == g && $7 ~ /^[0-9]+$/ && $7 + 0 >= i + 0 && $7 + 0 < 1e18 { ok++ }
        END { exit ok == n ? 0 : 1 }'
}

# For cl_wait_until: every node answered, and in every group all its members applied the same
# index, equal to their commit index (0 or UINT64_MAX mean incomplete data: not converged).
cl_converged () {
    cl_status 1000 | awk -v sizes="$(cl_group_sizes)" '
        BEGIN { ns = split(sizes, S, " "); for (x = 1; x <= ns; x++) { split(S[x], q, ":"); size[q[1]] = q[2] } }
        $2 == "-" { bad = 1 }
        $2 != "-" {
            if ($7 !~ /^[0-9]+$/ || $7 == 0 || $7 + 0 > 1e18 || $6 != $7) bad = 1
            rows[$2]++
            if (!($2 in a)) a[$2] = $7
            else if (a[$2] != $7) bad = 1
        }
        END {
            ng = 0
            for (g in rows) { ng++; if (rows[g] != size[g]) bad = 1 }
            exit (bad || ng == 0) ? 1 : 0
        }'
}

# ---- what the nodes publish: zkv watch --json -------------------------------------------------

# Reads zkv watch --json lines (client/zkv_cli_watch.c: one flat object a line) and keeps those
# whose topic is one of -v topics ("a|b"; "zkv.raft.*" is a prefix) and that pass every filter of
# -v filters ("node=3 group=1 index>=120 leader!=2": =, !=, <, <=, >, >=; numbers compare as
# numbers). -v mode=all prints them, count counts them, first prints the first and exits (1 if
# none came). A line not yet ended by "}" is not read (the watcher is writing it).
CL_EVENT_VAL_AWK='
function val(line, k,   p, r, v, ch, j) {
    p = index(line, "\"" k "\": ")
    if (!p) return "\001"
    r = substr(line, p + length(k) + 4)
    if (substr(r, 1, 1) == "\"") {
        v = ""
        for (j = 2; j <= length(r) && (ch = substr(r, j, 1)) != "\""; j++) {
            if (ch == "\\") { j++; ch = substr(r, j, 1) }
            v = v ch
        }
        return v
    }
    match(r, /^[^,} ]*/)
    return substr(r, 1, RLENGTH)
}
'
CL_EVENT_AWK=$CL_EVENT_VAL_AWK'
function num(x) { return x ~ /^-?[0-9]+(\.[0-9]+)?$/ }
function cmp(a, op, b) {
    if (num(a) && num(b)) { a += 0; b += 0 }
    if (op == "=") return a == b
    if (op == "!=") return a != b
    if (op == "<") return a < b
    if (op == "<=") return a <= b
    if (op == ">") return a > b
    return a >= b
}
BEGIN {
    nt = split(topics, TP, "|")
    nf = split(filters, FL, " ")
    for (x = 1; x <= nf; x++) {
        if (!match(FL[x], /(>=|<=|!=|=|>|<)/) || RSTART == 1) {
            print "bad event filter: " FL[x] > "/dev/stderr"
            bad = 1
            exit 2
        }
        FK[x] = substr(FL[x], 1, RSTART - 1); FO[x] = substr(FL[x], RSTART, RLENGTH)
        FV[x] = substr(FL[x], RSTART + RLENGTH)
    }
}
/}[ \t\r]*$/ {
    t = val($0, "topic"); ok = 0
    for (x = 1; x <= nt; x++)
        if (t == TP[x] || (TP[x] ~ /\*$/ && index(t, substr(TP[x], 1, length(TP[x]) - 1)) == 1))
            ok = 1
    if (!ok) next
    for (x = 1; x <= nf; x++) { v = val($0, FK[x]); if (v == "\001" || !cmp(v, FO[x], FV[x])) next }
    hits++
    if (mode == "first") { print; fflush(); exit 0 }
    if (mode == "all") print
}
END {
    if (bad) exit 2
    if (mode == "count") print hits + 0
    if (mode == "first" && !hits) exit 1
}'

# An awk that handles each line of a pipe as it comes: mawk waits for a full buffer unless
# told -W interactive (other awks do not know that option).
case $(awk -W version 2> /dev/null) in
*mawk*) CL_AWK_LIVE=(awk -W interactive) ;;
*) CL_AWK_LIVE=(awk) ;;
esac

# cl_watch_start: one `zkv watch --json` for every node, from the client namespace, into
# $CL_DIR/events.jsonl until the run ends (cl_start_all starts it).
cl_watch_start () {
    [ -z "$CL_WATCH_PID" ] || return 0
    CL_EVENTS=$CL_DIR/events.jsonl
    : > "$CL_EVENTS"
    # Not through a shell function (that would fork a subshell): $! is zkv watch itself.
    local pre=()
    [ "$CL_MODE" != netns ] || pre=(ip netns exec "$(cl_ns c)")
    "${pre[@]}" "$ZKV" --config "$CL_DIR/cluster.cfg" watch --json > "$CL_EVENTS" \
        2> "$CL_DIR/watch.err" < /dev/null &
    CL_WATCH_PID=$!
    echo "$CL_WATCH_PID" >> "$CL_DIR/all.pids"
    disown "$CL_WATCH_PID"
}

cl_watch_need () {
    [ -n "$CL_WATCH_PID" ] || cl_die "no event watcher (cl_watch_start)"
    kill -0 "$CL_WATCH_PID" 2> /dev/null ||
        cl_die "the event watcher (zkv watch --json) exited:" \
            "$(tail -n 3 "$CL_DIR/watch.err" 2> /dev/null)"
}

# cl_watching I: the event watcher has a TCP connection to node I's event port (it then gets
# what node I publishes from now on, give or take its subscription's first round trip).
cl_watching () {
    local dst
    dst=$(cl_addr "$1"):$(cl_events_port "$1")
    cl_in_client ss -Htnp state established dst "$dst" 2> /dev/null | grep -q "pid=$CL_WATCH_PID,"
}

# cl_wait_watching SECS: the watcher is connected to every running node within SECS.
cl_wait_watching () {
    local i
    for ((i = 1; i <= CL_N; i++)); do
        cl_alive "$i" || continue
        cl_wait_until "$1" "the event watcher to connect to node $i" cl_watching "$i"
    done
}

# cl_event_mark: how many events were received so far; a point in the stream, for SINCE below.
cl_event_mark () {
    cl_watch_need
    wc -l < "$CL_EVENTS"
}

# cl_life_mark I: the mark at which node I's current life began (cl_start).
cl_life_mark () {
    cat "$CL_DIR/node$1.mark" 2> /dev/null || echo 0
}

# cl_events SINCE TOPICS [FILTER...]: the events received after mark SINCE that match (see
# CL_EVENT_AWK), as JSON lines. cl_event_count: how many.
cl_events () {
    local since=$1 topics=$2
    shift 2
    cl_watch_need
    tail -n "+$((since + 1))" "$CL_EVENTS" |
        awk -v mode=all -v topics="$topics" -v filters="$*" "$CL_EVENT_AWK"
}
cl_event_count () {
    local since=$1 topics=$2
    shift 2
    cl_watch_need
    tail -n "+$((since + 1))" "$CL_EVENTS" |
        awk -v mode=count -v topics="$topics" -v filters="$*" "$CL_EVENT_AWK"
}

# cl_event_field FIELD: FIELD of each JSON event line on stdin, one a line.
cl_event_field () {
    awk -v k="$1" "$CL_EVENT_VAL_AWK"'
        { v = val($0, k); if (v != "\001") print v }'
}

# cl_next_event SECS SINCE TOPICS [FILTER...]: prints the first matching event after mark SINCE
# as soon as the watcher writes it; exit 1 if none within SECS. It follows the file (no poll):
# CL_FOLLOW_PID=P stops the wait early when process P is gone (default: the watcher).
cl_next_event () {
    local secs=$1 since=$2 topics=$3 pid=${CL_FOLLOW_PID:-$CL_WATCH_PID}
    shift 3
    cl_watch_need
    # (The tail ends at the deadline, or when P is gone, or at its next line once awk is done.)
    "${CL_AWK_LIVE[@]}" -v mode=first -v topics="$topics" -v filters="$*" "$CL_EVENT_AWK" \
        < <(timeout "$secs" tail --pid="$pid" -n "+$((since + 1))" -F "$CL_EVENTS" \
            2> /dev/null < /dev/null)
}

# cl_wait_event SECS SINCE TOPICS [FILTER...]: as cl_next_event, but dies naming the event when
# none came within SECS.
cl_wait_event () {
    local secs=$1 since=$2
    shift 2
    cl_next_event "$secs" "$since" "$@" && return 0
    cl_watch_need
    cl_die "timed out after ${secs}s waiting for the event: $*"
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

# cl_unisolate I: the cuts cl_isolate I made are gone (other cuts stay).
cl_unisolate () {
    local j
    for ((j = 1; j <= CL_N; j++)); do
        [ "$j" != "$1" ] || continue
        ip -n "$(cl_ns "n$1")" route del blackhole "$(cl_addr "$j")/32" 2> /dev/null || true
        ip -n "$(cl_ns "n$j")" route del blackhole "$(cl_addr "$1")/32" 2> /dev/null || true
    done
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
