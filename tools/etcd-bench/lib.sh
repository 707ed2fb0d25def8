# Shell helpers shared by tools/bench-etcd.sh and tools/bench-compare.sh (sourced, not run):
# install what is missing, build the etcd load driver and zkv, start and stop a 3-member etcd
# and a 3-node zkv on loopback (own ports, own data dirs), run one load, parse and summarise.
#
# Only processes started here are ever signalled, by their PIDs; other engineers' zkvd and
# etcd processes (and their ports) are left alone.

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# Work directory (driver, data dirs, logs, run summaries); removed at exit only if made here.
if [ -z "${BENCH_WORK:-}" ]; then
    BENCH_WORK=$(mktemp -d /tmp/zkv-etcd-bench.XXXXXX)
    BENCH_WORK_OURS=1
fi
mkdir -p "$BENCH_WORK"
BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_KEYS=${BENCH_KEYS:-1000}
BENCH_KEY_BYTES=${BENCH_KEY_BYTES:-16}
BENCH_VALUE_BYTES=${BENCH_VALUE_BYTES:-128}
# etcd: clients on 22381..22383, peers on 22391..22393. zkv: config/local.cfg's ports with 17xxx
# moved to 27xxx (27001.., 27101.., 27201..). All below Linux's ephemeral range (32768-60999).
ETCD_CLIENT_BASE=${ETCD_CLIENT_BASE:-22380}
ETCD_PEER_BASE=${ETCD_PEER_BASE:-22390}
ZKV_PORT_PREFIX=${ZKV_PORT_PREFIX:-27}
ETCD_TARGET=${ETCD_TARGET:-leader} # leader (like zkv's client) or all

# The three loads of README.md "Benchmarks": name, clients, get:put mix.
BENCH_LOADS=("put64 64 0:100:0" "get64 64 100:0:0" "put1 1 0:100:0")

ETCD_PIDS=()
ZKV_PIDS=()

s_log () { echo "bench: $*" >&2; }
s_die () { echo "bench: $*" >&2; exit 1; }

s_installed () { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

s_apt_install () {
    local missing=()
    for p in "$@"; do s_installed "$p" || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    s_log "installing ${missing[*]}"
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Debian 12: etcd 3.4.23 (server, etcdctl) and its Go source (clientv3 and its dependencies as
# golang-*-dev packages under /usr/share/gocode), so the driver builds offline in GOPATH mode.
s_etcd_deps () { s_apt_install etcd-server etcd-client golang-go golang-etcd-server-dev; }

s_build_driver () {
    ETCD_BENCH=$BENCH_WORK/etcd-bench
    s_log "building the etcd load driver (tools/etcd-bench) into $ETCD_BENCH"
    (cd "$BENCH_ROOT" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$BENCH_WORK/gocache \
        GOFLAGS= go build -o "$ETCD_BENCH" ./tools/etcd-bench) || s_die "cannot build the driver"
}

# zkv: the packages tools/dev.sh installs, then a Release build of the three binaries needed,
# unless ZKV_BUILD already holds them (a build directory given on the command line is used as
# it is, so a known-good build can be measured while the working tree changes).
s_build_zkv () {
    ZKV_BUILD=${ZKV_BUILD:-/tmp/zkv-bench-build}
    "$BENCH_ROOT/tools/dev.sh" deps
    if [ -x "$ZKV_BUILD/actors/zkvd" ] && [ -x "$ZKV_BUILD/client/zkv" ] &&
        [ -x "$ZKV_BUILD/config/zkv-config-check" ] && [ -n "${ZKV_BUILD_GIVEN:-}" ]; then
        s_log "using the zkv binaries in $ZKV_BUILD as they are"
        return 0
    fi
    s_log "building zkv (Release) in $ZKV_BUILD"
    cmake -S "$BENCH_ROOT" -B "$ZKV_BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null \
        || s_die "cmake configure failed"
    cmake --build "$ZKV_BUILD" -j "$(nproc 2>/dev/null || echo 2)" \
        --target zkvd zkv zkv-config-check >/dev/null || s_die "zkv build failed"
}

s_port_busy () { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Waits up to 30 s for "$@" to succeed.
s_wait_for () {
    local deadline=$((SECONDS + 30))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.2
    done
}

# Stops the given PIDs (ours): TERM, then KILL after 10 s.
s_stop_pids () {
    local pid
    for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
    local deadline=$((SECONDS + 10))
    for pid in "$@"; do
        while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}

ETCD_ENDPOINTS=
s_etcd_start () { # s_etcd_start TAG
    local dir=$BENCH_WORK/etcd-$1 cluster="" i
    for i in 1 2 3; do
        s_port_busy $((ETCD_CLIENT_BASE + i)) && s_die "port $((ETCD_CLIENT_BASE + i)) is in use"
        s_port_busy $((ETCD_PEER_BASE + i)) && s_die "port $((ETCD_PEER_BASE + i)) is in use"
        cluster+="${cluster:+,}m$i=http://127.0.0.1:$((ETCD_PEER_BASE + i))"
    done
    ETCD_ENDPOINTS=127.0.0.1:$((ETCD_CLIENT_BASE + 1)),127.0.0.1:$((ETCD_CLIENT_BASE + 2)),127.0.0.1:$((ETCD_CLIENT_BASE + 3))
    mkdir -p "$dir"
    ETCD_PIDS=()
    for i in 1 2 3; do
        # Defaults otherwise: the WAL is fsynced before a write is acknowledged, Range is
        # linearizable, heartbeat 100 ms, election 1000 ms, snapshot every 100,000 entries.
        etcd --name "m$i" --data-dir "$dir/m$i" \
            --listen-client-urls "http://127.0.0.1:$((ETCD_CLIENT_BASE + i))" \
            --advertise-client-urls "http://127.0.0.1:$((ETCD_CLIENT_BASE + i))" \
            --listen-peer-urls "http://127.0.0.1:$((ETCD_PEER_BASE + i))" \
            --initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PEER_BASE + i))" \
            --initial-cluster "$cluster" --initial-cluster-state new \
            --initial-cluster-token "zkv-bench-$$-$1" \
            --logger zap --log-level warn >"$dir/m$i.log" 2>&1 &
        ETCD_PIDS+=("$!")
    done
    s_wait_for env ETCDCTL_API=3 etcdctl --endpoints="$ETCD_ENDPOINTS" --command-timeout=2s \
        endpoint health || { s_etcd_stop; s_die "etcd did not become healthy; logs in $dir"; }
}

s_etcd_stop () {
    [ ${#ETCD_PIDS[@]} -gt 0 ] && s_stop_pids "${ETCD_PIDS[@]}"
    ETCD_PIDS=()
}

ZKV_CONFIG=
s_zkv_start () { # s_zkv_start TAG
    local dir=$BENCH_WORK/zkv-$1 p
    mkdir -p "$dir"
    ZKV_CONFIG=$dir/bench.cfg
    # config/local.cfg as the README measured it, on our own ports, data directories and keys.
    # ZKV_SECURITY=none runs it in plain text; a zkv without `zkv keygen` (an earlier build)
    # knows no security options and runs plain text.
    sed -e "s#tcp://127.0.0.1:17#tcp://127.0.0.1:$ZKV_PORT_PREFIX#" -e "s#/tmp/zkv/node#$dir/node#" \
        -e "s#/tmp/zkv/keys#$dir/keys#" "$BENCH_ROOT/config/local.cfg" >"$ZKV_CONFIG"
    if ! "$ZKV_BUILD/client/zkv" --help 2>&1 | grep -q keygen; then
        sed -i -e '/^    cert = /d' -e '/^    client_keys = /d' -e '/^    client_cert = /d' "$ZKV_CONFIG"
    elif [ "${ZKV_SECURITY:-curve}" = none ]; then
        sed -i -e '/^    cert = /d' -e '/^    client_keys = /d' -e '/^    client_cert = /d' \
            -e 's/^cluster$/cluster\n    security = none/' "$ZKV_CONFIG"
    else
        mkdir -p "$dir/keys/clients"
        for p in $(awk '$1 == "cert" || $1 == "client_cert" { print $3 }' "$ZKV_CONFIG"); do
            "$ZKV_BUILD/client/zkv" keygen "$p" >/dev/null || s_die "zkv keygen $p failed"
        done
        cp "$dir/keys/client.cert" "$dir/keys/clients/"
    fi
    for p in $(grep -o "127.0.0.1:[0-9]*" "$ZKV_CONFIG" | cut -d: -f2); do
        s_port_busy "$p" && s_die "port $p is in use"
    done
    "$ZKV_BUILD/config/zkv-config-check" "$ZKV_CONFIG" >/dev/null || s_die "bad config $ZKV_CONFIG"
    ZKV_PIDS=()
    local id
    for id in $(awk '/^node/{n=1} n && $1=="id"{print $3; n=0}' "$ZKV_CONFIG"); do
        "$ZKV_BUILD/actors/zkvd" --config "$ZKV_CONFIG" --node "$id" --foreground \
            >"$dir/node$id.log" 2>&1 &
        ZKV_PIDS+=("$!")
    done
    s_wait_for s_zkv_ready || { s_zkv_stop; s_die "zkv has no leader in every group; logs in $dir"; }
}

# Every group (the controller and the data group) has a leader.
s_zkv_ready () {
    local st
    st=$("$ZKV_BUILD/client/zkv" --config "$ZKV_CONFIG" status --json 2>/dev/null) || return 1
    echo "$st" | grep -q '"group": 0, [^}]*"role": "leader"' &&
        echo "$st" | grep -q '"group": 1, [^}]*"role": "leader"'
}

s_zkv_stop () {
    [ ${#ZKV_PIDS[@]} -gt 0 ] && s_stop_pids "${ZKV_PIDS[@]}"
    ZKV_PIDS=()
}

s_cleanup () {
    s_etcd_stop
    s_zkv_stop
    [ -n "${BENCH_KEEP:-}" ] || [ -z "${BENCH_WORK_OURS:-}" ] || rm -rf "$BENCH_WORK"
}

# CPU seconds (user + system) used so far by the given PIDs.
s_cpu_of () {
    local ticks=0 pid t
    for pid in "$@"; do
        t=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null) || t=0
        ticks=$((ticks + ${t:-0}))
    done
    awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", t / hz}'
}

# s_run_load SYSTEM CLIENTS MIX OUTFILE: one closed-loop run. OUTFILE gets the summary in zkv
# bench's format plus a line "cpu: client C server S" (CPU seconds of the load driver and of the
# three servers during the run); stderr gets the one-line s_summary.
s_run_load () {
    local sys=$1 clients=$2 mix=$3 out=$4 servers rc
    local common=(--clients "$clients" --seconds "$BENCH_SECONDS" --keys "$BENCH_KEYS"
        --key-bytes "$BENCH_KEY_BYTES" --value-bytes "$BENCH_VALUE_BYTES" --mix "$mix")
    local cmd
    if [ "$sys" = etcd ]; then
        cmd=("$ETCD_BENCH" --endpoints "$ETCD_ENDPOINTS" --target "$ETCD_TARGET" "${common[@]}")
        servers=("${ETCD_PIDS[@]}")
    else
        cmd=("$ZKV_BUILD/client/zkv" --config "$ZKV_CONFIG" bench "${common[@]}")
        servers=("${ZKV_PIDS[@]}")
    fi
    local before after TIMEFORMAT='%U %S'
    before=$(s_cpu_of "${servers[@]}")
    { time "${cmd[@]}" >"$out" 2>"$out.err"; } 2>"$out.time"
    rc=$?
    after=$(s_cpu_of "${servers[@]}")
    [ $rc -eq 0 ] && grep -q '^throughput:' "$out" || {
        cat "$out" "$out.err" >&2
        s_die "$sys run failed (exit $rc)"
    }
    awk -v b="$before" -v a="$after" '{printf "cpu: client %.2f server %.2f\n", $1 + $2, a - b}' \
        "$out.time" >>"$out"
    local summary
    summary=$(s_summary "$out")
    s_log "$sys $(basename "$out" .txt): $summary"
    # Timed-out or failed requests do not count as throughput; say so rather than hide them.
    [ "$(echo "$summary" | awk '{print $6}')" = 0 ] ||
        s_log "warning: $sys $(basename "$out" .txt) had requests that timed out or failed: $(grep '^ops:' "$out")"
}

# One run's "ops/s p50 p90 p99 p99.9 errors server-CPU-us/op client-CPU-us/op".
s_summary () {
    awk '/^ops:/{ok=$2; bad=$4+$9} /^throughput:/{t=$2} /^latency ms:/{l=$4" "$6" "$8" "$10}
         /^cpu:/{c=$3; s=$5}
         END{printf "%s %s %d %.0f %.0f\n", t, l, bad, ok ? s*1e6/ok : 0, ok ? c*1e6/ok : 0}' "$1"
}

# s_median FIELD FILES...: the median of one field of s_summary over the runs.
s_median () {
    local f=$1
    shift
    for r in "$@"; do s_summary "$r" | awk -v f="$f" '{print $f}'; done | sort -g |
        awk '{v[NR]=$1} END{if (NR%2) print v[(NR+1)/2]; else printf "%.3f\n", (v[NR/2]+v[NR/2+1])/2}'
}

s_range () { # s_range FILES...: min-max of ops/s
    for r in "$@"; do s_summary "$r" | awk '{print $1}'; done | sort -g |
        awk 'NR==1{lo=$1} {hi=$1} END{printf "%.0f-%.0f", lo, hi}'
}

s_load_title () {
    case $1 in
    put64) echo "64 clients, puts" ;;
    get64) echo "64 clients, linearizable gets" ;;
    put1) echo "1 client, puts" ;;
    esac
}
