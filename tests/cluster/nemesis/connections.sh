#!/bin/bash
# connections.sh: a node under a flood of idle connections, at the common limit of 1,024 file
# descriptors. One node (the controller and shard group 1) with max_connections = 200 and
# `prlimit --nofile=1024:1024`; 20 keys written; then 1,500 plain TCP connections opened to its
# client port and held open (never a ZMTP greeting). The node must stay up, say it is at its
# connection limit, keep its descriptors for storage (no "storage I/O error"), serve a put
# within a deadline while the flood still holds its sockets (unfinished handshakes are dropped
# after 5 s, connections past the limit at once), and read every key back.
# Then churn: 5,000 connection attempts (CHURN_ATTEMPTS) from 8 threads of a small python3
# client, each connecting and going again at once: some close at once (FIN or RST), some send
# part of a ZMTP greeting, a whole CURVE greeting without its HELLO, or garbage; a third are
# held a moment (the last CHURN_HOLD, default 32, of each thread: up to 8 x 32 at once, past
# max_connections, so that refusals happen under churn too) before they close. Meanwhile
# one `zkv bench` client keeps its connection and a fresh `zkv put` connects every ~0.2 s. The
# node must stay up; its descriptors (/proc/PID/fd, sampled every 100 ms) stay below the limit
# of 1,024 and come back near where they were once the churn ends; its resident memory peaks
# under CHURN_RSS_CAP_MB (default 256); the bench client completes requests in every second of
# the churn; fresh clients are served during and after it, and every key reads back. Printed
# (the FIGURES line): the attempts' outcomes, the peak descriptors and memory, the bench's and
# the fresh puts' figures.
#
#     ZKV_BUILD=build connections.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export CL_GROUPS="0:1 1:1"
# shellcheck source=../lib/cluster.sh
source "$here/../lib/cluster.sh"
command -v prlimit > /dev/null || cl_die "prlimit (util-linux) is needed"
command -v python3 > /dev/null || cl_die "python3 is needed (the churn client)"
cl_init 1 lo
sed -i 's/^    snapshot_bytes = .*/&\n    max_connections = 200/' "$CL_DIR/cluster.cfg"
grep -q "max_connections = 200" "$CL_DIR/cluster.cfg" || cl_die "config not patched"
cl_start_all
cl_wait_leaders 30
prlimit --nofile=1024:1024 --pid "$(cl_pid 1)" || cl_die "prlimit failed"
for k in $(seq 1 20); do cl_zkv --timeout 5000 put "key$k" "value$k" > /dev/null || cl_die "put key$k"; done

port=$(cl_client_port 1)
(
    ulimit -n 4096
    opened=0
    for _ in $(seq 1 1500); do
        if exec {fd}<> "/dev/tcp/127.0.0.1/$port" 2> /dev/null; then opened=$((opened + 1)); fi
    done
    echo "$opened" > "$CL_DIR/flood.opened"
    sleep 120
) &
flood=$!
cl_wait_until 60 "the flood to open its connections" test -s "$CL_DIR/flood.opened"
cl_log "the flood opened $(cat "$CL_DIR/flood.opened") connections and holds them"
at_limit () { grep -q "client connections at the limit of 200" "$CL_DIR/node1.log"; }
cl_wait_until 10 "node 1 to say it is at its connection limit" at_limit
served () { cl_zkv --timeout 2000 put during-flood yes > /dev/null 2>&1; }
cl_wait_until 30 "a put served while the flood holds its sockets" served
cl_alive 1 || cl_die "node 1 died under the flood"
kill "$flood" 2> /dev/null || true
wait "$flood" 2> /dev/null || true
for k in $(seq 1 20); do
    [ "$(cl_zkv --timeout 5000 get "key$k")" = "value$k" ] || cl_die "key$k lost"
done

# ---- churn: connection attempts at the descriptor limit ----------------------------------------
pid=$(cl_pid 1)
nofile=$(awk '/^Max open files/ { print $4 }' "/proc/$pid/limits")
[ "$nofile" = 1024 ] || cl_die "node 1 runs with a descriptor limit of $nofile, not 1024"
attempts=${CHURN_ATTEMPTS:-5000}
rss_cap=${CHURN_RSS_CAP_MB:-256}
fd_count () {
    local fds=("/proc/$pid/fd/"*)
    echo "${#fds[@]}"
}
vm_rss () { awk '/^VmRSS:/ { print int($2 / 1024) }' "/proc/$pid/status"; }
# The flood's connections are gone once the node has closed them.
settled () { [ "$(fd_count)" -lt 200 ]; }
cl_wait_until 30 "node 1 to close the flood's connections ($(fd_count) descriptors)" settled
fds_before=$(fd_count)
rss_before=$(vm_rss)
cl_log "churn: node 1 (pid $pid) at $fds_before descriptors, ${rss_before} MB resident before"
# Descriptors and memory (MB) every 100 ms: "EPOCH FDS VMRSS RSSANON" (no fork but sleep's).
(
    while :; do
        fds=("/proc/$pid/fd/"*)
        vm=- anon=-
        while read -r k v _; do
            case $k in
            VmRSS:) vm=$((v / 1024)) ;;
            RssAnon:) anon=$((v / 1024)) ;;
            esac
        done < "/proc/$pid/status" 2> /dev/null || true
        echo "$EPOCHREALTIME ${#fds[@]} $vm $anon"
        sleep 0.1
    done
) > "$CL_DIR/churn-samples.log" &
sampler=$!
cat > "$CL_DIR/churn.py" << 'PY'
import collections, errno, os, socket, struct, sys, threading, time
host, port, attempts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
THREADS, HOLD = 8, int(sys.argv[4])
# ZMTP 3.0 greeting: signature, version 3.0, mechanism CURVE, as-server 0, filler.
SIG = b"\xff" + b"\0" * 8 + b"\x7f"
GREETING = SIG + b"\x03\x00" + b"CURVE".ljust(20, b"\0") + b"\0" + b"\0" * 31
lock = threading.Lock()
stats = collections.Counter()
def count(k):
    with lock:
        stats[k] += 1
def close(s, rst):
    try:
        if rst:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    except OSError:
        pass
def worker(t, n):
    held = collections.deque()
    for i in range(n):
        kind = (t + i) % 6
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(2)
        try:
            s.connect((host, port))
        except OSError as e:
            name = errno.errorcode.get(e.errno, str(e)) if e.errno else type(e).__name__
            count("connect failed " + name)
            close(s, False)
            continue
        count("connected")
        try:
            if kind == 2:
                s.sendall(SIG)
            elif kind in (3, 5):
                s.sendall(GREETING)
            elif kind == 4:
                s.sendall(os.urandom(64))
        except OSError as e:
            count("send failed " + errno.errorcode.get(e.errno, str(e)))
        if kind in (0, 1, 2, 4):
            close(s, kind == 1)
        else:  # held a moment: an idle socket, or a greeting whose HELLO never comes
            held.append(s)
            if len(held) > HOLD:
                close(held.popleft(), False)
    for s in held:
        close(s, False)
start = time.time()
threads = [threading.Thread(target=worker, args=(t, attempts // THREADS + (t < attempts % THREADS)))
           for t in range(THREADS)]
for th in threads:
    th.start()
for th in threads:
    th.join()
print("%d attempts in %.1f s: %s" % (attempts, time.time() - start,
      ", ".join("%s %d" % kv for kv in sorted(stats.items()))))
PY
: > "$CL_DIR/churn-keys"
# (Not through cl_zkv, a function: $! is zkv itself, which SIGTERM stops with its summary.)
"$ZKV" --config "$CL_DIR/cluster.cfg" --timeout 2000 bench --clients 1 --seconds 600 --keys 100 \
    --mix 50:50 > "$CL_DIR/churn-bench.out" 2> "$CL_DIR/churn-bench.err" < /dev/null &
bench=$!
t0=$EPOCHREALTIME
python3 "$CL_DIR/churn.py" 127.0.0.1 "$port" "$attempts" "${CHURN_HOLD:-32}" > "$CL_DIR/churn.out" 2>&1 &
churn=$!
# Fresh clients all along: each `zkv put` a new process, its own connection and handshake.
fresh_ok=0 fresh_failed=0 n=0
while kill -0 "$churn" 2> /dev/null; do
    n=$((n + 1))
    if cl_zkv --timeout 2000 put "churn$n" "v$n" > /dev/null 2>&1; then
        fresh_ok=$((fresh_ok + 1))
        echo "churn$n" >> "$CL_DIR/churn-keys"
    else
        fresh_failed=$((fresh_failed + 1))
    fi
    sleep 0.2
done
wait "$churn" || cl_die "the churn client failed: $(tail -n 5 "$CL_DIR/churn.out")"
t1=$EPOCHREALTIME
kill -TERM "$bench" 2> /dev/null || true
cl_wait_writers 10 "$bench"
cl_log "churn: $(cat "$CL_DIR/churn.out")"
cl_alive 1 || cl_die "node 1 died under the churn"
# Its descriptors come back near where they were: nothing of the churn is kept (an unfinished
# handshake is dropped after 5 s).
fds_back () { [ "$(fd_count)" -le $((fds_before + 16)) ]; }
cl_wait_until 15 "node 1's descriptors to come back near $fds_before after the churn (now $(fd_count))" fds_back
kill "$sampler" 2> /dev/null || true
wait "$sampler" 2> /dev/null || true
read -r fds_peak rss_peak anon_peak < <(awk '
    $2 ~ /^[0-9]+$/ && $2 + 0 > f { f = $2 + 0 }
    $3 ~ /^[0-9]+$/ && $3 + 0 > r { r = $3 + 0 }
    $4 ~ /^[0-9]+$/ && $4 + 0 > a { a = $4 + 0 }
    END { print f + 0, r + 0, a + 0 }' "$CL_DIR/churn-samples.log")
# The bench's seconds wholly inside the churn (its second s covers (s-1, s] of its run).
last=$(awk -v a="$t1" -v z="$t0" 'BEGIN { print int(a - z) - 1 }')
read -r ops_min ops_mean ops_secs < <(awk -v to="$last" '
    /^\[ *[0-9]+s\] [0-9]+ ops\/s/ {
        s = $0; sub(/^\[ */, "", s); sub(/s\].*/, "", s)
        if (s + 0 < 1 || s + 0 > to) next
        o = $0; sub(/^[^]]*\] */, "", o); o += 0; n++; sum += o
        if (n == 1 || o < min) min = o
    }
    END { if (n) printf "%d %d %d\n", min, sum / n, n; else print "- - 0" }' "$CL_DIR/churn-bench.err")
cl_log "churn: FIGURES $attempts attempts in $(awk -v a="$t1" -v z="$t0" 'BEGIN { printf "%.1f", a - z }') s;" \
    "node 1 descriptors $fds_before before, peak $fds_peak (limit 1024), $(fd_count) after;" \
    "resident ${rss_before} MB before, peak ${rss_peak} MB (anonymous ${anon_peak} MB), $(vm_rss) MB after;" \
    "bench client ops/s over ${ops_secs} s of churn: mean ${ops_mean}, min ${ops_min};" \
    "fresh puts: $fresh_ok served, $fresh_failed not"
cl_log "churn: bench: $(tr -s ' \n' ' ' < "$CL_DIR/churn-bench.out")"
[ "$fds_peak" -lt 1024 ] || cl_die "node 1 reached $fds_peak descriptors under the churn (limit 1024)"
[ "$rss_peak" -lt "$rss_cap" ] ||
    cl_die "node 1's resident memory peaked at ${rss_peak} MB under the churn (cap ${rss_cap} MB)"
[ "$ops_secs" -gt 0 ] || cl_die "no bench progress during the churn"
[ "$ops_min" -gt 0 ] ||
    cl_die "the bench client was not served in some second of the churn: $(tr '\n' ' ' < "$CL_DIR/churn-bench.err")"
[ "$fresh_ok" -gt 0 ] || cl_die "no fresh client was served during the churn ($fresh_failed tried)"
served_after () { cl_zkv --timeout 2000 put after-churn yes > /dev/null 2>&1; }
cl_wait_until 10 "a fresh client served after the churn" served_after
[ "$(cl_zkv --timeout 5000 get after-churn)" = yes ] || cl_die "after-churn does not read back"
while read -r k; do
    [ "$(cl_zkv --timeout 5000 get "$k" < /dev/null)" = "v${k#churn}" ] ||
        cl_die "$k, put during the churn, lost"
done < "$CL_DIR/churn-keys"
for k in $(seq 1 20); do
    [ "$(cl_zkv --timeout 5000 get "key$k")" = "value$k" ] || cl_die "key$k lost after the churn"
done
! grep -q "storage I/O error\|Too many open files" "$CL_DIR/node1.log" || cl_die "node 1 ran out of descriptors for storage"
cl_alive 1 || cl_die "node 1 died"
cl_log "node 1 refused connections past its limit, kept serving and kept its storage, through the flood and the churn"
cl_pass
echo "1 passed, 0 failed"
