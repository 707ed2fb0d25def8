#!/bin/bash
# groups.sh: clusters whose shard groups are not "group 1 on every node" serve every key through
# every node, each key in the group its shard is dealt to.
#
#     ZKV_BUILD=build groups.sh [--mode netns|lo] [--variant both|02|012] [--keys-per-shard 2]
#
# Variants (3 nodes each, in turn, each its own cluster; --variant runs one):
#   02   groups 0 and 2, no group 1, on every node: group 2 serves every shard.
#   012  groups 0 and 1 on every node, group 2 on nodes 1 and 2 only: shards are dealt in turn
#        to groups 1 and 2 (shard s to the (s mod 2)-th shard group in id order); node 3 hosts
#        no replica of group 2, so it forwards the requests for group 2's keys.
# (The routing deals shards in turn to the groups other than 0, in id order: shard s goes to
# the (s mod n)-th. A key's shard is FNV-1a 64 of its bytes mod the shard count, computed here in
# bash the same way, cluster/zkv_shard.h.)
# For each variant:
#  1. Every group has a leader that a majority of its members name (`zkv status --json`), one
#     of its members; every node reports exactly the groups the config gives it.
#  2. Keys are drawn until every shard has KEYS_PER_SHARD keys for each node. Then, one shard
#     group at a time, its keys are written: a put through the node the key is dealt to (its
#     endpoint alone: `zkv --endpoints`), an append through the next node. That group's commit
#     index must grow by at least two entries per key and every member apply it; the other
#     groups' commit indexes must not move (unless a new term began: a leader's no-op entry).
#  3. Every key is read through every node's endpoint and must hold its put and its append.
#  4. Every node applied the same index in each of its groups; no zkv.client.error was published.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mode=netns
[ "$(id -u)" = 0 ] || mode=lo
variant=both
per=2
while [ $# -gt 0 ]; do
    case $1 in
    --mode) mode=$2 ;;
    --variant) variant=$2 ;;
    --keys-per-shard) per=$2 ;;
    *)
        echo "usage: $0 [--mode netns|lo] [--variant both|02|012] [--keys-per-shard N]" >&2
        exit 2
        ;;
    esac
    shift 2
done

case $variant in
both)
    # Each variant in its own process: its own cluster, temp dir and cleanup.
    rc=0
    for v in 02 012; do
        bash "$0" --mode "$mode" --variant "$v" --keys-per-shard "$per" || rc=1
    done
    [ $rc = 0 ] && echo "groups: both variants passed"
    exit $rc
    ;;
02) export CL_GROUPS="0:1,2,3 2:1,2,3" ;;
012) export CL_GROUPS="0:1,2,3 1:1,2,3 2:1,2" ;;
*) echo "$0: --variant must be both, 02 or 012" >&2 && exit 2 ;;
esac

# shellcheck source=../lib/cluster.sh
source "$here/../lib/cluster.sh"
cl_init 3 "$mode"
cl_log "groups: variant $variant (groups $CL_GROUPS)"
cl_start_all
cl_wait_leaders 30

nshards=$(awk '$1 == "shards" { print $3; exit }' "$CL_DIR/cluster.cfg")
[ -n "$nshards" ] || cl_die "no shard count in the config"
# The shard groups: every group but 0, in id order.
mapfile -t sgroups < <(for g in $(cl_groups); do echo "${g%%:*}"; done | awk '$1 != 0' | sort -n)
[ ${#sgroups[@]} -gt 0 ] || cl_die "no shard group"

# shard_of KEY: FNV-1a 64 of KEY's bytes (ASCII here) mod nshards, as an unsigned 64-bit number
# (bash's arithmetic is signed 64-bit and wraps, as C's unsigned does, bit for bit).
shard_of () {
    local key=$1 h=-3750763034362895579 i c m t # 0xcbf29ce484222325, the FNV offset basis
    for ((i = 0; i < ${#key}; i++)); do
        printf -v c '%d' "'${key:i:1}"
        h=$(((h ^ (c & 255)) * 1099511628211))
    done
    m=$((h % nshards))
    if ((h < 0)); then
        # h stands for h + 2^64; 2^64 mod n = 2 * ((2^63 - 1) mod n + 1) mod n.
        t=$((((9223372036854775807 % nshards) + 1) * 2 % nshards))
        m=$(((m + nshards + t) % nshards))
    fi
    SHARD=$m
}
group_of_shard () {
    echo "${sgroups[$(($1 % ${#sgroups[@]}))]}"
}

# ---- 1. leaders and membership ------------------------------------------------------------------
cl_status 1000 > "$CL_DIR/status.0"
for ((i = 1; i <= 3; i++)); do
    want=$(for g in $(cl_groups); do
        [[ ",${g#*:}," != *",$i,"* ]] || echo "${g%%:*}"
    done | sort -n | paste -sd ' ')
    got=$(awk -v i="$i" '$1 == i && $2 != "-" { print $2 }' "$CL_DIR/status.0" | sort -n | paste -sd ' ')
    [ "$got" = "$want" ] || cl_die "node $i reports groups '$got', the config gives it '$want'"
done
for g in $(cl_groups); do
    id=${g%%:*}
    l=$(cl_leader "$id")
    [ -n "$l" ] || cl_die "no leader of group $id"
    [[ ",${g#*:}," == *",$l,"* ]] || cl_die "group $id is led by node $l, not one of its members ${g#*:}"
    cl_log "group $id (members ${g#*:}): leader node $l, term $(cl_status_field "$l" "$id" term)"
done
for ((s = 0; s < nshards; s++)); do
    printf '%s ' "$s:$(group_of_shard $s)"
done > "$CL_DIR/deal"
cl_log "shards dealt (shard:group): $(cat "$CL_DIR/deal")"

# ---- 2. keys for every shard and node --------------------------------------------------------
# KEY SHARD GROUP NODE, one a line: NODE is the node the put goes through.
declare -A have=()
: > "$CL_DIR/keys"
need=$((nshards * 3 * per))
for ((n = 1, made = 0; made < need; n++)); do
    [ $n -le 100000 ] || cl_die "could not draw keys for every shard"
    key="g$variant-$n"
    shard_of "$key"
    c=${have[$SHARD]:-0}
    [ "$c" -lt $((3 * per)) ] || continue
    have[$SHARD]=$((c + 1))
    echo "$key $SHARD $(group_of_shard "$SHARD") $((c % 3 + 1))" >> "$CL_DIR/keys"
    made=$((made + 1))
done
cl_log "$need keys, $per per shard and node (drawn from $((n - 1)) names)"

# zkv through node I's endpoint alone (it forwards what it does not lead).
zkv_via () {
    local i=$1
    shift
    cl_zkv_at "$i" --timeout 5000 "$@"
}
put_value () { echo "P.$1.via$2"; }
append_value () { echo ".A.via$1"; }

# group_state G: "COMMIT TERM" of group G: the highest commit index and term its members report.
group_state () {
    cl_status 1000 | awk -v g="$1" '
        $2 == g && $6 ~ /^[0-9]+$/ { if ($6 + 0 > c) c = $6 + 0; if ($4 + 0 > t) t = $4 + 0 }
        END { print c + 0, t + 0 }'
}

# writer I G: puts through node I, then appends through the next node, every key of group G
# dealt to node I.
writer () {
    local i=$1 g=$2 j=$(($1 % 3 + 1)) key s kg node
    while read -r key s kg node; do
        [ "$kg" = "$g" ] && [ "$node" = "$i" ] || continue
        zkv_via "$i" put "$key" "$(put_value "$key" "$i")" ||
            echo "put $key through node $i failed" >> "$CL_DIR/bad.w$i"
        zkv_via "$j" append "$key" "$(append_value "$j")" ||
            echo "append $key through node $j failed" >> "$CL_DIR/bad.w$i"
    done < "$CL_DIR/keys"
}

summary=()
for g in "${sgroups[@]}"; do
    count=$(awk -v g="$g" '$3 == g' "$CL_DIR/keys" | wc -l)
    declare -A before=() bterm=()
    for x in $(cl_groups); do
        read -r "before[${x%%:*}]" "bterm[${x%%:*}]" < <(group_state "${x%%:*}")
    done
    pids=()
    for ((i = 1; i <= 3; i++)); do
        writer "$i" "$g" &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
    if cat "$CL_DIR"/bad.w* 2> /dev/null | head -n 10 >&2; then
        cl_die "writes of group $g's keys failed (above)"
    fi
    read -r after _ < <(group_state "$g")
    grew=$((after - before[$g]))
    [ "$grew" -ge $((2 * count)) ] ||
        cl_die "group $g's commit index grew by $grew for $count keys (a put and an append each)"
    cl_wait_until 20 "every member of group $g to apply through $after" cl_applied_through "$g" "$after"
    for x in $(cl_groups); do
        o=${x%%:*}
        [ "$o" != "$g" ] || continue
        read -r oc ot < <(group_state "$o")
        if [ "$oc" != "${before[$o]}" ]; then
            [ "$ot" != "${bterm[$o]}" ] ||
                cl_die "group $o's commit index moved from ${before[$o]} to $oc while only group $g's keys were written"
            cl_log "group $o's commit moved from ${before[$o]} to $oc with a new term ($ot): a leader's entry"
        fi
    done
    cl_log "group $g: $count keys ($((count / 3)) a node), commit index ${before[$g]} -> $after; the other groups' unchanged"
    summary+=("group $g: $count keys, commit ${before[$g]} -> $after")
done

# ---- 3. every key through every node ------------------------------------------------------------
reader () {
    local i=$1 key s g node want got
    while read -r key s g node; do
        want="$(put_value "$key" "$node")$(append_value $((node % 3 + 1)))"
        if ! got=$(zkv_via "$i" get "$key"); then
            echo "get $key (group $g) through node $i failed" >> "$CL_DIR/bad.r$i"
        elif [ "$got" != "$want" ]; then
            echo "get $key (group $g) through node $i: '$got', want '$want'" >> "$CL_DIR/bad.r$i"
        fi
    done < "$CL_DIR/keys"
}
pids=()
for ((i = 1; i <= 3; i++)); do
    reader "$i" &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
if cat "$CL_DIR"/bad.r* 2> /dev/null | head -n 20 >&2; then
    cl_die "$(cat "$CL_DIR"/bad.r* | wc -l) reads of $((need * 3)) were wrong (above)"
fi
cl_log "all $need keys read back through each of the 3 nodes"

# ---- 4. converged, no client errors ---------------------------------------------------------------
cl_wait_until 30 "every member of every group to apply the same index" cl_converged
cl_zkv status >&2 || true
errors=$(cl_event_count 0 zkv.client.error)
[ "$errors" = 0 ] || cl_die "$errors zkv.client.error events: $(cl_events 0 zkv.client.error | head -n 3)"
cl_log "variant $variant: ${summary[*]}"
cl_pass
echo "1 passed, 0 failed (variant $variant)"
