#!/bin/bash
# metrics.sh: every node's metrics, status figures and heartbeat, as an operator meets them.
# On 3 nodes (loopback, CURVE, zkv.node.stats every 500 ms) hosting the controller and shard
# group 1:
#   - GET /metrics on every node (curl) is Prometheus text: every sample line has the format's
#     shape and a TYPE line before it; the leader of group 1 says so (zkv_group_role) and the
#     others are followers; unknown paths are 404, other methods 405;
#   - under load (zkv bench, puts and gets) the figures move: request counters grow by what
#     the bench did, latency histograms count the requests, the commit index rises, the bytes
#     in and out grow, the leader lists both followers with their lag;
#   - zkv status shows each node's version (the one /metrics gives) and uptime, and the lag of
#     each follower on the leader's line (human and --json);
#   - a `zkv watch --json --stats` hears every node's beats (seq rising, the interval given);
#     node 3 is killed with SIGKILL: the watcher reports it silent within 3 intervals of its
#     last beat, and no other node; restarted, it is reported back (restarted).
#
#     ZKV_BUILD=build metrics.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export CL_GROUPS="0:1,2,3 1:1,2,3"
export CL_SECURITY=curve
export CL_STATS_INTERVAL_MS=500
# shellcheck source=../lib/cluster.sh
source "$here/../lib/cluster.sh"
command -v curl > /dev/null || cl_die "curl is needed (tools/dev.sh deps installs it)"
cl_init 3 lo
cl_start_all
cl_wait_leaders 30
interval=$CL_STATS_INTERVAL_MS

# scrape I: node I's metrics (fails on an HTTP error or after 5 s).
scrape () {
    curl -sSf --max-time 5 "$(cl_http_url "$1")/metrics"
}

# metric NAME_AND_LABELS < TEXT: the value of the sample line with exactly that name and those
# labels, or nothing.
metric () {
    awk -v k="$1" '$1 == k { print $2; found = 1; exit } END { exit !found }'
}

# sum NAME < TEXT: the sum of every sample of NAME (any labels).
sum () {
    awk -v k="$1" 'index($1, k "{") == 1 || $1 == k { s += $2 } END { printf "%d\n", s }'
}

# shape < TEXT: every line is a comment, or a sample of a family whose TYPE came before it, in
# the format's shape (name{label="value",...} value). Prints the first bad line.
shape () {
    awk '
        /^# TYPE / { type[$3] = $4; next }
        /^#/ { next }
        {
            name = $1; sub(/\{.*/, "", name)
            base = name; sub(/_(bucket|sum|count)$/, "", base)
            ok = $0 ~ /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? [-+0-9.eEInfNa]+$/
            if (!ok || !((name in type) || (type[base] == "histogram"))) { print "bad line: " $0; bad = 1; exit }
            samples++
        }
        END { if (!bad && samples < 50) { print "only " samples + 0 " samples"; bad = 1 } exit bad }'
}

# agreed: the nodes' metrics agree on group 1's leader: exactly one says it leads, and every
# node names it (an election may still settle right after the start). Sets leader.
agreed () {
    local i text roles="" names=""
    for i in 1 2 3; do
        text=$(scrape "$i") || return 1
        [ "$(metric 'zkv_group_role{group="1",role="leader"}' <<< "$text")" != 1 ] ||
            roles="$roles $i"
        names="$names $(metric 'zkv_group_leader{group="1"}' <<< "$text")"
    done
    leader=${roles# }
    [ -n "$leader" ] && [ "$leader" = "${roles# }" ] && [ "$(wc -w <<< "$roles")" = 1 ] &&
        [ "$names" = " $leader $leader $leader" ]
}
leader=
until agreed; do
    [ $SECONDS -lt 60 ] || cl_die "the nodes' metrics do not agree on a leader of group 1: leaders '$leader'"
    sleep 0.1
done
declare -A before
for i in 1 2 3; do
    text=$(scrape "$i") || cl_die "no metrics from node $i at $(cl_http_url "$i")/metrics"
    why=$(shape <<< "$text") || cl_die "node $i's metrics are not exposition format: $why"
    for name in zkv_requests_total zkv_request_duration_seconds zkv_group_role zkv_group_term \
        zkv_group_commit_index zkv_group_applied_index zkv_group_log_bytes \
        zkv_group_snapshots_total zkv_group_elections_total zkv_requests_forwarded_total \
        zkv_client_received_bytes_total zkv_client_sent_bytes_total zkv_db_size_bytes \
        zkv_uptime_seconds zkv_group_sessions zkv_requests_pending; do
        grep -q "^# TYPE $name " <<< "$text" || cl_die "node $i has no metric $name"
        grep -q "^# HELP $name " <<< "$text" || cl_die "node $i's $name has no HELP"
    done
    want=0
    [ "$i" != "$leader" ] || want=1
    role=$(metric 'zkv_group_role{group="1",role="leader"}' <<< "$text") ||
        cl_die "node $i has no leader role gauge for group 1"
    [ "$role" = "$want" ] || cl_die "node $i: zkv_group_role leader = $role, but the leader is $leader"
    [ "$i" = "$leader" ] || [ "$(metric 'zkv_group_role{group="1",role="follower"}' <<< "$text")" = 1 ] ||
        cl_die "node $i does not say it follows in group 1"
    before[$i,put]=$(sum zkv_request_duration_seconds_count <<< "$(grep 'kind="put"' <<< "$text")")
    before[$i,ok]=$(grep -E 'outcome="(ok|not_found)"' <<< "$text" | sum zkv_requests_total)
    before[$i,in]=$(metric zkv_client_received_bytes_total <<< "$text")
    before[$i,out]=$(metric zkv_client_sent_bytes_total <<< "$text")
    before[$i,commit]=$(metric 'zkv_group_commit_index{group="1"}' <<< "$text")
done
cl_log "every node serves Prometheus text; node $leader says it leads group 1, the others follow"

code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$(cl_http_url 1)/nope")
[ "$code" = 404 ] || cl_die "GET /nope answered $code, not 404"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X POST -d x "$(cl_http_url 1)/metrics")
[ "$code" = 405 ] || cl_die "POST /metrics answered $code, not 405"
grep -q '^zkv_http_requests_total{code="404"} 1$' <<< "$(scrape 1)" ||
    cl_die "the 404 was not counted: $(scrape 1 | grep zkv_http_requests_total)"

# Load: puts and gets for 4 s through every node.
summary=$(cl_zkv bench --clients 8 --seconds 4 --mix 50:50:0 --json 2> /dev/null) ||
    cl_die "zkv bench failed"
ops=$(sed -n 's/.*"ok": *\([0-9]*\).*/\1/p' <<< "$summary")
[ -n "$ops" ] && [ "$ops" -gt 100 ] || cl_die "the bench did too little: $summary"
cl_log "bench: $ops operations"

# The nodes put their figures on the board every 100 ms: wait (2 s at most) until the last
# answers of the bench are on every node's.
oks_now () {
    local total=0 i o
    for i in 1 2 3; do
        o=$(scrape "$i" | grep -E 'outcome="(ok|not_found)"' | sum zkv_requests_total)
        total=$((total + o - before[$i,ok]))
    done
    [ "$total" -ge "$ops" ]
}
cl_wait_until 3 "the nodes' figures to count the bench's answers" oks_now

puts=0 oks=0 commit_rose=0 bytes_in=0 bytes_out=0
for i in 1 2 3; do
    text=$(scrape "$i") || cl_die "no metrics from node $i after the load"
    p=$(sum zkv_request_duration_seconds_count <<< "$(grep 'kind="put"' <<< "$text")")
    o=$(grep -E 'outcome="(ok|not_found)"' <<< "$text" | sum zkv_requests_total)
    puts=$((puts + p - before[$i,put]))
    oks=$((oks + o - before[$i,ok]))
    in=$(metric zkv_client_received_bytes_total <<< "$text")
    out=$(metric zkv_client_sent_bytes_total <<< "$text")
    commit=$(metric 'zkv_group_commit_index{group="1"}' <<< "$text")
    [ "$commit" -gt "${before[$i,commit]}" ] && commit_rose=$((commit_rose + 1))
    bytes_in=$((bytes_in + in - before[$i,in]))
    bytes_out=$((bytes_out + out - before[$i,out]))
    if [ "$i" = "$leader" ]; then
        for f in 1 2 3; do
            [ "$f" != "$leader" ] || continue
            lag=$(metric "zkv_group_follower_lag_entries{group=\"1\",follower=\"$f\"}" <<< "$text") ||
                cl_die "the leader lists no lag for follower $f"
            cl_log "leader $leader: follower $f lags $lag entries"
        done
    fi
done
# Every operation the bench counted done was answered so by the node it asked (a get of a key
# never written may be "not found"); retries may add a few.
[ "$oks" -ge "$ops" ] || cl_die "the nodes counted $oks requests answered ok, the bench $ops"
[ "$puts" -ge $((ops / 4)) ] || cl_die "the nodes' put latency histograms counted $puts of ~$((ops / 2)) puts"
[ "$commit_rose" = 3 ] || cl_die "the commit index of group 1 rose on $commit_rose nodes, not 3"
# Clients send to the leaders they know: the bytes grew where they went, at least a request's
# and an answer's worth per operation.
[ "$bytes_in" -ge $((ops * 20)) ] && [ "$bytes_out" -ge $((ops * 20)) ] ||
    cl_die "client bytes grew by $bytes_in in and $bytes_out out for $ops operations"
cl_log "the figures moved: $oks requests answered ok ($puts puts timed), $bytes_in bytes in, $bytes_out out, the commit index rose everywhere"

# zkv status: version and uptime per node, the followers' lag on the leader's line.
version=$(scrape 1 | sed -n 's/^zkv_node_info{node="1",version="\([^"]*\)"} 1$/\1/p')
[ -n "$version" ] || cl_die "no version in node 1's zkv_node_info"
json=$(cl_zkv status --json) || cl_die "zkv status --json failed"
for i in 1 2 3; do
    line=$(tr -d '\n' <<< "$json" | grep -o "{\"node\": $i, \"endpoint\": [^[]*" | head -1)
    grep -q "\"version\": \"$version\"" <<< "$line" || cl_die "node $i's status has no version $version: $line"
    up=$(sed -n 's/.*"uptime_ms": \([0-9]*\).*/\1/p' <<< "$line")
    [ -n "$up" ] && [ "$up" -gt 1000 ] || cl_die "node $i's status has no uptime: $line"
done
followers=$(tr -d '\n' <<< "$json" | grep -o '"group": 1, "role": "leader"[^]]*"followers": \[[^]]*\]' |
    grep -o '"lag": [0-9]*' | wc -l)
[ "$followers" = 2 ] || cl_die "the leader of group 1 lists $followers followers with a lag in zkv status --json"
table=$(cl_zkv status) || cl_die "zkv status failed"
head -1 <<< "$table" | grep -q 'UPTIME.*VERSION.*LAG' || cl_die "zkv status has no UPTIME, VERSION, LAG: $(head -1 <<< "$table")"
lagline=$(awk -v l="$leader" '$1 == l && $5 == 1 && $6 == "leader"' <<< "$table")
others=$(for f in 1 2 3; do [ "$f" = "$leader" ] || printf '%s ' "$f"; done)
for f in $others; do
    grep -Eq "(^| )$f:[0-9]+( |$)" <<< "$lagline" || cl_die "the leader's line shows no lag of node $f: $lagline"
done
grep -q " $version " <<< "$lagline" || cl_die "the leader's line shows no version: $lagline"
cl_log "zkv status: version $version, uptimes, and on the leader's line: $(awk '{print $NF, $(NF-1)}' <<< "$lagline")"

# Liveness: a watcher of the beats; node 3 killed; reported silent within 3 intervals.
beats=$CL_DIR/beats.jsonl
"$ZKV" --config "$CL_DIR/cluster.cfg" watch --json --stats > "$beats" 2> "$CL_DIR/beats.err" &
watcher=$!
echo "$watcher" >> "$CL_DIR/all.pids"
disown "$watcher"
# beat_from I: the watcher heard node I's beats twice, the interval given, seq rising.
beat_from () {
    awk -v n="$1" -v iv="$interval" '
        /"topic": "zkv.node.stats"/ && index($0, "\"from\": " n ",") {
            if (!index($0, "\"interval_ms\": " iv ",")) bad = 1
            match($0, /"seq": [0-9]+/); s = substr($0, RSTART + 7, RLENGTH - 7) + 0
            if (s <= last) bad = 1
            last = s; c++
        }
        END { exit !(c >= 2 && !bad) }' "$beats"
}
for i in 1 2 3; do cl_wait_until 10 "the watcher to hear node $i's beats" beat_from "$i"; done
grep -q '"follower_lags": \[[0-9]' "$beats" || cl_die "no beat carries a follower's lag"
cl_log "the watcher hears every node's zkv.node.stats every $interval ms"

mark=$(wc -l < "$beats")
killed_at=$(date +%s%3N)
cl_kill 3 KILL
# The report, as the watcher writes it (follow the file, no poll).
silent=$(CL_EVENTS=$beats CL_FOLLOW_PID=$watcher CL_WATCH_PID=$watcher \
    cl_next_event $((3 * interval / 1000 + 5)) "$mark" zkv.watch.silent node=3) ||
    cl_die "the watcher did not report node 3 silent within $((3 * interval / 1000 + 5)) s"
said_at=$(date +%s%3N)
silent_ms=$(sed -n 's/.*"silent_ms": \([0-9]*\).*/\1/p' <<< "$silent")
last_beat=$(grep '"topic": "zkv.node.stats", "from": 3,' "$beats" | tail -n 1 |
    sed -n 's/.*"time_ms": \([0-9]*\).*/\1/p')
[ -n "$last_beat" ] || cl_die "no beat of node 3 in $beats"
# Within 3 intervals of its last beat (a little more for scheduling on a busy machine), and not
# before 3 intervals without one.
[ "$silent_ms" -ge $((3 * interval)) ] || cl_die "node 3 reported silent after $silent_ms ms without a beat"
[ $((said_at - last_beat)) -le $((3 * interval + 1000)) ] ||
    cl_die "node 3 reported silent $((said_at - last_beat)) ms after its last beat (3 intervals: $((3 * interval)) ms)"
[ $((said_at - killed_at)) -le $((3 * interval + 1000)) ] ||
    cl_die "node 3 reported silent $((said_at - killed_at)) ms after it was killed"
cl_log "node 3 killed; reported silent $((said_at - killed_at)) ms later ($((said_at - last_beat)) ms after its last beat)"
sleep "$(awk -v i="$interval" 'BEGIN { print 4 * i / 1000 }')" # 4 more intervals: others must stay heard
if grep -E '"topic": "zkv.watch.silent", "from": (1|2),' "$beats"; then
    cl_die "a live node was reported silent"
fi
cl_start 3
back=$(CL_EVENTS=$beats CL_FOLLOW_PID=$watcher CL_WATCH_PID=$watcher \
    cl_next_event 20 "$mark" zkv.watch.back node=3) || cl_die "node 3 was not reported back after its restart"
grep -q '"restarted": true' <<< "$back" || cl_die "node 3's return is not told as a restart: $back"
cl_log "node 3 restarted and reported back"
cl_wait_leaders 30
kill "$watcher" 2> /dev/null || true
cl_pass
cl_log "PASS"
