#!/bin/bash
# deploy.sh: docs/deploy.md, step by step, on network namespaces (ctest cluster.deploy).
#
#     deploy.sh BUILD_DIR        (root: namespaces and nftables)
#
# Each machine of the guide is a node namespace (zkv1..zkv6 are nodes 1..6 at 10.250.K.1..6; the
# operator's machine is the client namespace, .100) with a root of its own under the run's temp
# dir: the guide's /etc/zkv and /var/lib/zkv become $CL_DIR/mN/etc/zkv and $CL_DIR/mN/var/lib/zkv,
# its addresses 10.0.0.X become 10.250.K.X. Then, as the guide says:
#   1. cmake --install into a temp prefix; every program used below is the installed one;
#   2. a key per node (zkv keygen), public halves copied to every machine, a client key allowed;
#   3. the config file of the guide's "deploy.sh: zkv.cfg" block on every machine, checked with
#      zkv-config-check --node N;
#   4. the guide's nftables rules ("deploy.sh: zkv.nft") in every node namespace: the client
#      reaches the client port and not the peer port, nodes reach each other's peer port, and
#      a node listens on the ports the guide lists and no other;
#   5. each node started as the installed unit's ExecStart (its %i, its LimitNOFILE) starts it;
#      a put and a get with ZKV_CONFIG and ZKV_KEY as the guide sets them;
#   rolling restart: under a recorded `zkv bench` and a writer of fresh keys, each node in turn
#      gets SIGTERM (systemctl restart), starts again and is waited for until it has applied
#      what its groups' leaders had committed when it came back; the bench's history must be
#      linearizable (zkv-lincheck);
#   6. three more machines with the "deploy.sh: zkv-grown.cfg" block, `zkv ctrl join 2 --config`,
#      until every shard group settles in the new configuration; group 2 serves shards, and every
#      acknowledged key reads back with its value (those of group 2's shards too).
# Not done here: useradd and systemctl (no systemd in a namespace; the unit itself is checked by
# systemd-analyze in install.check).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: deploy.sh BUILD_DIR}
build=$(cd "$build" && pwd)
guide=$here/../../../docs/deploy.md
if [ "$(id -u)" != 0 ]; then
    echo "deploy: needs root for network namespaces and nftables; skipped"
    exit 77
fi
export CL_SECURITY=none # the library's own keys: this test makes the guide's
export CL_GROUPS="0:1,2,3 1:1,2,3"
ZKVD=$build/actors/zkvd
ZKV=$build/client/zkv
# shellcheck source=../lib/cluster.sh
source "$here/../lib/cluster.sh"
command -v nft > /dev/null || cl_die "nft is not installed (Debian's nftables; tools/dev.sh deps)"
cl_init 6 netns

passed=0
ok () {
    passed=$((passed + 1))
    cl_log "ok: $*"
}

# block NAME: the code block of the guide marked <!-- deploy.sh: NAME -->.
block () {
    awk -v name="$1" '
        $0 == "<!-- deploy.sh: " name " -->" { want = 1; next }
        want && /^```/ { if (inside) exit; inside = 1; next }
        inside { print; n++ }
        END { if (!n) exit 1 }' "$guide" || cl_die "docs/deploy.md has no block 'deploy.sh: $1'"
}
# root M: machine M's root (1..6, or op).
root () {
    echo "$CL_DIR/m$1"
}
# localize M: the guide's text on stdin as machine M sees it.
localize () {
    local r
    r=$(root "$1")
    sed -e "s#/etc/zkv#$r/etc/zkv#g" -e "s#/var/lib/zkv#$r/var/lib/zkv#g" \
        -e "s#/root/#$r/root/#g" -e "s#10\.0\.0\.#10.250.$CL_SLOT.#g"
}

# ---- 1. install ------------------------------------------------------------------------------------
prefix=$CL_DIR/usr-local
cmake --install "$build" --prefix "$prefix" > "$CL_DIR/install.log" 2>&1 ||
    cl_die "cmake --install: $(tail -n 5 "$CL_DIR/install.log")"
ZKVD=$prefix/bin/zkvd
ZKV=$prefix/bin/zkv
ZKV_LINCHECK=$prefix/bin/zkv-lincheck
unit=$prefix/lib/systemd/system/zkvd@.service
for f in "$ZKVD" "$ZKV" "$ZKV_LINCHECK" "$prefix/bin/zkv-config-check" "$unit"; do
    [ -e "$f" ] || cl_die "cmake --install did not install $f"
done
"$ZKVD" --version | grep -q '^zkvd ' || cl_die "the installed zkvd --version: $("$ZKVD" --version 2>&1)"
ok "installed into $prefix: $("$ZKVD" --version)"

# machine M: the guide's directories of step 1 on machine M.
machine () {
    mkdir -p "$(root "$1")/etc/zkv/keys/clients" "$(root "$1")/etc/zkv/keys/monitors" \
        "$(root "$1")/var/lib/zkv" "$(root "$1")/root"
}
for m in 1 2 3 op; do machine "$m"; done

# ---- 2. keys ---------------------------------------------------------------------------------------
# key N: node N's key made on its machine; its public half copied to machines $2...
key () {
    local n=$1 m
    shift
    "$ZKV" keygen "$(root "$n")/etc/zkv/keys/node$n.cert" > /dev/null || cl_die "keygen node $n"
    [ "$(stat -c %a "$(root "$n")/etc/zkv/keys/node$n.cert_secret")" = 600 ] ||
        cl_die "node$n.cert_secret is not 0600"
    for m in "$@"; do
        [ "$m" = "$n" ] || cp "$(root "$n")/etc/zkv/keys/node$n.cert" "$(root "$m")/etc/zkv/keys/"
    done
}
for n in 1 2 3; do key "$n" 1 2 3 op; done
"$ZKV" keygen "$(root op)/root/zkv-client.cert" > /dev/null || cl_die "keygen client"
for m in 1 2 3; do cp "$(root op)/root/zkv-client.cert" "$(root "$m")/etc/zkv/keys/clients/"; done
for m in 1 2 3 op; do
    ! ls "$(root "$m")"/etc/zkv/keys/*_secret 2> /dev/null | grep -v "node$m.cert_secret" ||
        cl_die "a secret key left its machine: $(ls "$(root "$m")"/etc/zkv/keys/)"
done
export ZKV_KEY=$(root op)/root/zkv-client.cert
ok "a key per node, public halves on every machine, secrets on their own; the client's key allowed"

# ---- 3. the config file ---------------------------------------------------------------------------
# config NAME M: the guide's block NAME as machine M's /etc/zkv/zkv.cfg; checked for node M.
config () {
    local m=$2 file
    file=$(root "$m")/etc/zkv/zkv.cfg
    block "$1" | localize "$m" > "$file"
    [ "$m" = op ] && return 0
    "$prefix/bin/zkv-config-check" "$file" --node "$m" > "$CL_DIR/check$m.out" 2>&1 ||
        cl_die "zkv-config-check on machine $m: $(cat "$CL_DIR/check$m.out")"
}
for m in 1 2 3 op; do config zkv.cfg "$m"; done
cp "$(root op)/etc/zkv/zkv.cfg" "$CL_DIR/cluster.cfg" # what the library's status readers use
ok "the guide's zkv.cfg on every machine; zkv-config-check --node N passes on each"

# ---- 4. firewall -----------------------------------------------------------------------------------
firewall () {
    block zkv.nft | localize "$1" > "$CL_DIR/zkv$1.nft"
    ip netns exec "$(cl_ns "n$1")" nft -f "$CL_DIR/zkv$1.nft" ||
        cl_die "nft -f on machine $1: $(cat "$CL_DIR/zkv$1.nft")"
}
for m in 1 2 3; do firewall "$m"; done
# Loaded twice (a reload), the rules stay one table.
firewall 1
[ "$(ip netns exec "$(cl_ns n1)" nft list tables | grep -c 'inet zkv')" = 1 ] ||
    cl_die "the rules loaded twice make two tables"
ok "the guide's nftables rules loaded in nodes 1-3 (twice on node 1: still one table)"

# ---- 5. run: the unit's ExecStart ---------------------------------------------------------------------
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
limit=$(sed -n 's/^LimitNOFILE=//p' "$unit")
[ -n "$exec_start" ] && [ -n "$limit" ] || cl_die "the unit has no ExecStart or LimitNOFILE"
# systemd sets the unit's limit; a process without CAP_SYS_RESOURCE (a container) cannot raise
# its hard limit that far, and then runs the nodes at its own hard limit.
if ! (ulimit -n "$limit") 2> /dev/null; then
    cl_log "LimitNOFILE=$limit is above this shell's hard limit: the nodes get $(ulimit -Hn)"
    limit=$(ulimit -Hn)
fi
# start N: node N as systemd would start zkvd@N on its machine.
start () {
    local n=$1 cmd
    cmd=$(echo "${exec_start//%i/$n}" | localize "$n")
    echo "=== start $(date +%H:%M:%S.%3N): $cmd" >> "$CL_DIR/node$n.log"
    # ip netns exec and bash exec: the pid is zkvd's own.
    # shellcheck disable=SC2086
    ip netns exec "$(cl_ns "n$n")" bash -c "ulimit -n $limit && exec $cmd" \
        >> "$CL_DIR/node$n.log" 2>&1 < /dev/null &
    echo $! > "$CL_DIR/node$n.pid"
    echo $! >> "$CL_DIR/all.pids"
    disown $!
}
for n in 1 2 3; do start "$n"; done
cl_wait_leaders 30
out=$(cl_in_client env ZKV_CONFIG="$(root op)/etc/zkv/zkv.cfg" ZKV_KEY="$ZKV_KEY" "$ZKV" put greeting hello &&
    cl_in_client env ZKV_CONFIG="$(root op)/etc/zkv/zkv.cfg" ZKV_KEY="$ZKV_KEY" "$ZKV" get greeting) ||
    cl_die "put / get as the guide does: $out"
[ "$out" = hello ] || cl_die "get greeting: '$out'"
pid=$(cl_pid 1)
[ "$(awk '/^Max open files/ { print $4 }' "/proc/$pid/limits")" = "$limit" ] ||
    cl_die "node 1's descriptor limit is not the unit's $limit: $(grep 'open files' "/proc/$pid/limits")"
ok "nodes 1-3 started as '$exec_start' (descriptors: $limit); leaders elected; put and get as the guide does"

# The ports: what a node listens on is what the guide's table says, and the rules hold.
ports=$(ip netns exec "$(cl_ns n1)" ss -Hltn | awk '{ sub(/.*:/, "", $4); print $4 }' | sort -u | xargs)
[ "$ports" = "7001 7101 7201" ] || cl_die "node 1 listens on '$ports', not the guide's 7001 7101 7201"
cl_tcp_reaches c "$(cl_addr 1)" 7101 || cl_die "the operator cannot reach node 1's client port"
cl_tcp_reaches c "$(cl_addr 1)" 7201 || cl_die "the operator cannot reach node 1's event port"
! cl_tcp_reaches c "$(cl_addr 1)" 7001 || cl_die "the operator reaches node 1's peer port through the firewall"
cl_tcp_reaches n2 "$(cl_addr 1)" 7001 || cl_die "node 2 cannot reach node 1's peer port"
ok "node 1 listens on 7001 7101 7201; the operator reaches 7101 and 7201 but not 7001; node 2 reaches 7001"

# ---- rolling restart under load -------------------------------------------------------------------
# writer: puts fresh keys until the stop file appears: "key value" to acked (exit 0) or unknown.
writer () {
    local n=0 key val rc
    while [ ! -e "$CL_DIR/stop" ]; do
        n=$((n + 1))
        key="deploy-$n"
        val="v$n-$RANDOM"
        rc=0
        cl_zkv --timeout 3000 put "$key" "$val" > /dev/null 2>&1 || rc=$?
        case $rc in
        0) echo "$key $val" >> "$CL_DIR/acked" ;;
        *) echo "$key $val" >> "$CL_DIR/unknown" ;;
        esac
    done
}
acked () { wc -l < "$CL_DIR/acked" 2> /dev/null || echo 0; }

history=$CL_DIR/H.jsonl
cl_zkv --timeout 2000 bench --clients 4 --seconds 25 --keys 10 --mix 40:30:30 --history "$history" \
    > "$CL_DIR/bench.out" 2> "$CL_DIR/bench.err" &
bench=$!
writer &
wpid=$!
cl_wait_until 20 "the first acknowledged writes" eval "[ \$(acked) -ge 20 ]"

# commit_of G: group G's commit index as its leader reports it.
commit_of () {
    local l
    l=$(cl_leader "$1")
    [ -n "$l" ] && cl_status_field "$l" "$1" commit
}
for n in 1 2 3; do
    before=$(acked)
    pid=$(cl_pid "$n")
    kill -TERM "$pid"
    cl_wait_gone "$pid" 15 || cl_die "node $n did not stop within 15 s of SIGTERM"
    start "$n"
    cl_wait_until 30 "node $n to answer again" eval "[ -n \"\$(cl_status_field $n 1 role)\" ]"
    cl_wait_leaders 30
    for g in 0 1; do
        c=$(commit_of "$g")
        [ -n "$c" ] || cl_die "no commit index for group $g's leader"
        cl_wait_until 60 "node $n to apply group $g through $c" cl_applied_through "$g" "$c"
    done
    cl_log "node $n restarted and caught up ($(($(acked) - before)) writes acknowledged meanwhile)"
done
touch "$CL_DIR/stop"
cl_wait_writers 30 "$wpid"
cl_wait_until 90 "zkv bench to finish" eval "! kill -0 $bench 2> /dev/null"
wait "$bench" || cl_die "zkv bench failed: $(tail -n 5 "$CL_DIR/bench.err")"
ops=$(grep -c '"type": *"ok"' "$history" || true)
[ "$ops" -gt 100 ] || cl_die "the bench completed only $ops operations"
rc=0
timeout 300 "$ZKV_LINCHECK" "$history" > "$CL_DIR/lincheck.out" 2>&1 || rc=$?
[ $rc = 0 ] || cl_die "the history of the rolling restart is not linearizable (exit $rc): $(tail -n 5 "$CL_DIR/lincheck.out")"
ok "rolling restart of nodes 1, 2, 3 under load: $(acked) writes acknowledged; the bench's $ops operations linearizable"

# ---- 6. growing by a shard group -------------------------------------------------------------------
for m in 4 5 6; do machine "$m"; done
for n in 4 5 6; do key "$n" 4 5 6 op; done
for n in 1 2 3; do
    for m in 4 5 6; do cp "$(root "$n")/etc/zkv/keys/node$n.cert" "$(root "$m")/etc/zkv/keys/"; done
done
for m in 4 5 6; do cp "$(root op)/root/zkv-client.cert" "$(root "$m")/etc/zkv/keys/clients/"; done
for m in 4 5 6 op; do config zkv-grown.cfg "$m"; done
for m in 4 5 6; do firewall "$m"; done
for n in 4 5 6; do start "$n"; done
cp "$(root op)/etc/zkv/zkv.cfg" "$CL_DIR/cluster.cfg"
CL_GROUPS="0:1,2,3 1:1,2,3 2:4,5,6"
cl_wait_leaders 30
out=$(cl_zkv --timeout 10000 ctrl join 2 --config "$(root op)/etc/zkv/zkv.cfg") ||
    cl_die "zkv ctrl join 2: $out"
num=$(echo "$out" | sed -n 's/^configuration \([0-9]*\)$/\1/p')
[ -n "$num" ] || cl_die "zkv ctrl join 2 printed '$out'"

# settled N: every shard group of every node applied configuration N, nothing pulling or
# waiting for GC (zkv status --json).
settled () {
    cl_zkv --timeout 2000 status --json 2> /dev/null | awk -v want="$1" '
        /"config": [0-9]+/ {
            n = split ($0, parts, /\{"group": /)
            for (i = 2; i <= n; i++) {
                p = parts[i]; c = p; sub (/.*"config": /, "", c); sub (/[,}].*/, "", c)
                if (c == 0) continue
                if (c != want) bad = 1
                if (p ~ /"pulling": [1-9]/ || p ~ /"waiting_gc": [1-9]/) bad = 1
                seen++
            }
        }
        /"ok": false/ { bad = 1 }
        END { exit (bad || seen < 6) }'
}
cl_wait_until 90 "every shard group to settle in configuration $num" settled "$num"
shards2=$(cl_zkv ctrl query --json | sed 's/.*"shard_groups":\[//; s/\].*//' | tr , '\n' | grep -cx 2 || true)
[ "$shards2" -gt 0 ] || cl_die "group 2 serves no shard after joining: $(cl_zkv ctrl query)"
ok "nodes 4-6 started, group 2 joined (configuration $num) and serves $shards2 of 64 shards; every group settled"

# Every acknowledged key reads back with its value; one of unknown outcome, if there, with its.
bad=0
in2=0
while read -r key val; do
    got=$(cl_zkv --timeout 10000 get "$key") || { cl_log "get $key failed"; bad=$((bad + 1)); continue; }
    [ "$got" = "$val" ] || { cl_log "$key: '$got', not '$val'"; bad=$((bad + 1)); }
done < "$CL_DIR/acked"
[ "$bad" = 0 ] || cl_die "$bad of $(acked) acknowledged keys did not read back"
if [ -s "$CL_DIR/unknown" ]; then
    while read -r key val; do
        got=$(cl_zkv_maybe --timeout 10000 get "$key") || cl_die "get $key (unknown outcome) failed"
        [ -z "$got" ] || [ "$got" = "$val" ] || cl_die "$key (unknown outcome) holds '$got'"
    done < "$CL_DIR/unknown"
fi
# shellcheck disable=SC2046
in2=$(cl_zkv ctrl shard $(awk '{ print $1 }' "$CL_DIR/acked") | grep -c ', group 2 ' || true)
[ "$in2" -gt 0 ] || cl_die "no acknowledged key is in a shard of group 2"
ok "all $(acked) acknowledged keys read back ($in2 of them now served by group 2)"

cl_pass
echo "$passed passed, 0 failed"
