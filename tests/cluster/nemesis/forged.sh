#!/bin/bash
# forged.sh: every peer message an attacker forged against the plaintext cluster of old, sent
# again from inside: with a real node's CURVE key (zkv-peer-forge). On 3 nodes (loopback)
# hosting the controller and shard groups 1 and 2:
#   - lies about the sender, under a recorded `zkv bench` load. To each node, in each group,
#     heartbeats of a leader 1000 terms ahead, an append that commits a KV put, a streamed
#     snapshot of an empty state, successful append replies, pre-votes, votes and vote grants,
#     and forwarded replies answering requests nobody made. Each Raft message names as sender a
#     node whose key did not send it (node 2's key says it is node 3, node 3's key node 2, and
#     so on: two lies to every node). Every one must be dropped before the Raft core sees it:
#     the node logs the first and counts the rest (its count at a clean stop must equal what
#     was sent), no term reaches the forged one, no forged put is applied (they go to keys
#     written before; the bench's keys are named only when it ends), no client reads a forged
#     reply. When the bench ends, `zkv-lincheck` must find its history linearizable.
#   - the truth, wrong, with no load (a group that does not move shows any change). With node
#     2's own key (another follower's when node 2 leads the group), an append and an
#     empty-state snapshot of the current term to the other follower, which already follows the
#     group's leader: a second leader in a term, which the core must refuse. With the leader's
#     own key, an append whose prev index is the commit index but whose prev term is not the
#     one committed there: a rewrite of committed entries, refused too. The follower reports
#     both (zkv.raft.refused, whose count must grow by what was sent: the end of the wait) and
#     takes nothing: it names no other leader, its log and commit index do not pass the
#     leader's.
# Then a write in each group that every member must apply (a follower that took a forged entry
# would refuse the leader's next ones as contradicting what it committed), every key written
# before the forgeries reads back as written, no forged key exists, every node runs.
# Last, the controls, which show the checks can fail: an append of a new term from a follower's
# own key IS taken by another follower (it names the sender leader and commits the put: the
# very signs the second-leader case looks for), and heartbeats 1000 terms ahead from node 2's
# own key DO move node 1's term. Both disturb their group, so they come after every other
# check but the drop counts, read at the clean stop that ends the run.
#
#     ZKV_BUILD=build forged.sh [--seconds 25]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
seconds=25
while [ $# -gt 0 ]; do
    case $1 in
    --seconds) seconds=$2 ;;
    *) echo "usage: $0 [--seconds T]" >&2; exit 2 ;;
    esac
    shift 2
done
export CL_GROUPS="0:1,2,3 1:1,2,3 2:1,2,3"
export CL_SECURITY=curve
# shellcheck source=../lib/cluster.sh
source "$here/../lib/cluster.sh"
cl_need "$ZKV_PEER_FORGE" "$ZKV_LINCHECK"
[ "$seconds" -ge 15 ] || cl_die "--seconds must be at least 15 (the forgeries take about 10)"
cl_init 3 lo
cl_start_all
cl_wait_leaders 30
certs=$CL_DIR/certs
history=$CL_DIR/H.jsonl
snapf=$CL_DIR/status.now
kinds=heartbeat,append,snapshot,append-reply,vote,forward-reply

# ---- helpers -------------------------------------------------------------------------------

# snap: every node's status now, into $snapf (lines of cl_status: NODE GROUP ROLE TERM LEADER
# COMMIT APPLIED LAST_INDEX SNAPSHOT_INDEX LOG_BYTES). The readers below read that one view.
snap () { cl_status 1000 > "$snapf"; }
# at NODE GROUP FIELD: a field of the last snap, or nothing.
at () {
    awk -v node="$1" -v g="$2" -v k="$3" '
        BEGIN {
            split("node group role term leader commit applied last_index snapshot_index log_bytes",
                  names, " ")
            for (c in names) col[names[c]] = c
        }
        $1 == node && $2 == g { print $(col[k]); exit }' "$snapf"
}
# leader_of G: the leader of group G in the last snap (a majority names it, it says so).
leader_of () {
    awk -v g="$1" -v n="$CL_N" -v sizes="$(cl_group_sizes)" -v strict=1 "$CL_LEADER_AWK" \
        < "$snapf" || true
}
# max_term G: the highest term a node of group G has in the last snap.
max_term () { awk -v g="$1" '$2 == g && $4 ~ /^[0-9]+$/ && $4 + 0 > m { m = $4 + 0 } END { print m + 0 }' "$snapf"; }
# groups_of KEY...: "KEY GROUP" lines, the group serving each key now.
groups_of () {
    cl_zkv ctrl shard "$@" | sed -n 's/^\(.*\): shard [0-9]*, group \([0-9]*\) .*/\1 \2/p'
}
# forge ARGS...: zkv-peer-forge with ARGS, its report on stderr; prints how many of the messages
# it sent name a sender (a node that drops them counts each).
forge () {
    local out
    out=$("$ZKV_PEER_FORGE" "$@") || cl_die "zkv-peer-forge $* failed"
    echo "  $out" >&2
    sed -n 's/.*; named \([0-9]*\)$/\1/p' <<< "$out"
}
# refused NODE GROUP: the last count of refused peer messages node NODE published for group
# GROUP (zkv.raft.refused), 0 if none yet.
refused () {
    local n
    n=$(cl_events 0 zkv.raft.refused "node=$1 group=$2" | cl_event_field index | sort -n | tail -n 1)
    echo "${n:-0}"
}
# took NODE GROUP SENDER TERM MARK: node NODE shows it took group GROUP's messages from SENDER
# as a leader's in TERM: since event MARK it named SENDER the leader of TERM, or (a fresh snap)
# its commit or last index passed the leader's.
took () {
    local f=$1 g=$2 s=$3 t=$4 m=$5 l
    [ "$(cl_event_count "$m" zkv.raft.leader "node=$f group=$g leader=$s term=$t")" = 0 ] || return 0
    snap
    l=$(leader_of "$g")
    [ -n "$l" ] && [ "$l" != "$f" ] || return 1
    local fc lc fl ll
    fc=$(at "$f" "$g" commit) lc=$(at "$l" "$g" commit)
    fl=$(at "$f" "$g" last_index) ll=$(at "$l" "$g" last_index)
    [[ "$fc$lc$fl$ll" =~ ^[0-9]+$ ]] || return 1 # someone did not answer: no verdict yet
    [ "$fc" -gt "$lc" ] || [ "$fl" -gt "$ll" ]
}
# refused_or_took NODE GROUP COUNT SENDER TERM MARK: NODE published a refused count of at least
# COUNT for GROUP (every message sent was dealt with: refused), or it took one (see took).
refused_or_took () {
    [ "$(refused "$1" "$2")" -ge "$3" ] || took "$1" "$2" "$4" "$5" "$6"
}

declare -A want group_key group_key2 named first_lie
for i in 1 2 3; do named[$i]=0; done

# ---- before: keys that must survive everything ---------------------------------------------
# At least two in each shard group, the targets of the forged puts (a put goes to a key its
# group serves, or a follower that took it would refuse to apply it anyway).
k=0
while [ -z "${group_key2[1]:-}" ] || [ -z "${group_key2[2]:-}" ] || [ $k -lt 12 ]; do
    k=$((k + 1))
    [ $k -le 64 ] || cl_die "64 keys and still not two in each of groups 1 and 2"
    key=$(printf 'key%02d' $k)
    cl_zkv --timeout 5000 put "$key" "value$k" > /dev/null || cl_die "put $key"
    want[$key]=value$k
    g=$(groups_of "$key" | awk '{ print $2 }')
    [ -n "$g" ] || cl_die "no group serves $key"
    if [ -z "${group_key[$g]:-}" ]; then
        group_key[$g]=$key
    elif [ -z "${group_key2[$g]:-}" ]; then
        group_key2[$g]=$key
    fi
done
cl_log "wrote ${#want[@]} keys; forged puts go to ${group_key[1]} and ${group_key2[1]} (group 1), ${group_key[2]} and ${group_key2[2]} (group 2)"

# ---- lies about the sender, under load -----------------------------------------------------
cl_zkv --timeout 2000 bench --clients 8 --seconds "$seconds" --keys 10 --mix 40:30:30 \
    --history "$history" > "$CL_DIR/bench.out" 2> "$CL_DIR/bench.err" &
bench=$!
# (Its history is written when it ends: its progress lines say it runs.)
cl_wait_until 10 "the bench to complete requests" grep -q 'ops/s' "$CL_DIR/bench.err"

declare -A forged_term
cid=7000000
for g in 1 2; do
    snap
    lead=$(leader_of "$g")
    if [ -z "$lead" ]; then
        cl_wait_leaders 30
        snap
        lead=$(leader_of "$g")
        [ -n "$lead" ] || cl_die "no leader of group $g"
    fi
    term=$(max_term "$g")
    commit=$(at "$lead" "$g" commit)
    last=$(at "$lead" "$g" last_index)
    # 1000 terms ahead: no election gets there in this run, so a term that reaches it came from
    # a forgery; within max_term_jump (1,000,000), so the core would take it, and only the
    # transport's check of the sender stands in the way.
    forged_term[$g]=$((term + 1000))
    cl_log "group $g: leader $lead, term $term, commit $commit: forging term ${forged_term[$g]}"
    for t in 1 2 3; do
        others=$(for i in 1 2 3; do [ $i = "$t" ] || echo $i; done | tr '\n' ' ')
        read -r a b <<< "$others"
        n=0
        for pair in "$a $b" "$b $a"; do
            read -r cert claim <<< "$pair"
            if [ $n = 0 ]; then key=${group_key[$g]}; else key=${group_key2[$g]}; fi
            n=$((n + 1))
            cid=$((cid + 1))
            # The first message a node drops is the one it logs.
            [ -n "${first_lie[$t]:-}" ] ||
                first_lie[$t]="says it is from node $claim but came over node $cert's connection"
            c=$(forge --cert "$certs/node$cert.cert" --server-key "$(cl_node_key "$t")" \
                --claim "$claim" --to "$t" --group "$g" --kind "$kinds" --count 3 \
                --term "${forged_term[$g]}" --index "$commit" --prev-term "$term" \
                --commit $((commit + 1)) --match "$last" --key "$key" \
                --value "FORGED:g$g:to$t:as$claim:by$cert" --client-id "$cid" \
                "$(cl_peer_ep "$t")")
            [ -n "$c" ] || cl_die "zkv-peer-forge did not say how many it sent"
            named[$t]=$((named[$t] + c))
        done
    done
done
for t in 1 2 3; do
    cl_wait_until 10 "node $t to log a message that ${first_lie[$t]}" \
        grep -q "${first_lie[$t]}" "$CL_DIR/node$t.log"
done
snap
for g in 1 2; do
    for t in 1 2 3; do
        term=$(at "$t" "$g" term)
        [[ "$term" =~ ^[0-9]+$ ]] || cl_die "node $t gave no term for group $g"
        [ "$term" -lt "${forged_term[$g]}" ] ||
            cl_die "node $t's term in group $g is $term: it took a forged message of term ${forged_term[$g]}"
    done
done
cl_log "lies about the sender dropped: every node logged one, no term reached a forged one"

# The bench stops by itself; allow it 60 s more to drain before calling it hung.
deadline=$((SECONDS + seconds + 60))
while kill -0 "$bench" 2> /dev/null; do
    [ $SECONDS -lt $deadline ] || cl_die "zkv bench did not finish"
    sleep 0.2
done
wait "$bench" || cl_die "zkv bench failed: $(tail -n 5 "$CL_DIR/bench.err")"
cat "$CL_DIR/bench.out"
if grep '"type": *"ok"' "$history" | grep -q 'FORGED'; then
    cl_die "a client read a forged value: $(grep '"type": *"ok"' "$history" | grep -m 1 FORGED)"
fi
rc=0
timeout 300 "$ZKV_LINCHECK" "$history" > "$CL_DIR/lincheck.out" 2>&1 || rc=$?
tail -n 5 "$CL_DIR/lincheck.out"
case $rc in
0) cl_log "the bench's history is linearizable" ;;
1) cl_die "NOT linearizable; history kept in $history" ;;
*) cl_die "zkv-lincheck could not decide (exit $rc); history kept in $history" ;;
esac

# ---- the truth, wrong: no load --------------------------------------------------------------
cl_wait_leaders 30
cl_wait_until 30 "every group's members to apply the same index" cl_converged
declare -A forged_keys
for g in 1 2; do
    snap
    lead=$(leader_of "$g")
    [ -n "$lead" ] || cl_die "no leader of group $g"
    term=$(at "$lead" "$g" term)
    commit=$(at "$lead" "$g" commit)
    [ "$(at "$lead" "$g" last_index)" = "$commit" ] || cl_die "group $g is not settled"
    # The sender: node 2 when it follows, else the other follower; the target: the third node.
    if [ "$lead" != 2 ]; then s=2; else s=1; fi
    f=$((6 - lead - s))
    # A key of group g for each forged put, so that it would apply if taken.
    mapfile -t cand < <(groups_of forged-g$g-{1..24} | awk -v g="$g" '$2 == g { print $1 }')
    [ ${#cand[@]} -ge 2 ] || cl_die "no forged key of group $g"
    forged_keys[$g]="${cand[0]} ${cand[1]}"

    # A second leader in term $term: node $s's own key, to node $f, which follows node $lead.
    base=$(refused "$f" "$g")
    m=$(cl_event_mark)
    c=$(forge --cert "$certs/node$s.cert" --server-key "$(cl_node_key "$f")" --claim "$s" \
        --to "$f" --group "$g" --kind append,snapshot --count 3 --term "$term" --index "$commit" \
        --prev-term "$term" --commit $((commit + 1)) --key "${cand[0]}" \
        --value "FORGED:second-leader:g$g" --client-id 7100000 "$(cl_peer_ep "$f")")
    cl_wait_until 10 "node $f to refuse $c appends and snapshots of term $term from node $s, a second leader (zkv.raft.refused of group $g past $base)" \
        refused_or_took "$f" "$g" $((base + c)) "$s" "$term" "$m"
    ! took "$f" "$g" "$s" "$term" "$m" ||
        cl_die "node $f took node $s as a second leader of term $term in group $g (it follows node $lead): $(snap; grep " $g " "$snapf")"
    cl_log "group $g: node $f refused node $s's appends and snapshot as a second leader of term $term (refused count $(refused "$f" "$g"))"

    # The leader's own key, contradicting the entry it committed at $commit (of term $term).
    base=$(refused "$f" "$g")
    m=$(cl_event_mark)
    c=$(forge --cert "$certs/node$lead.cert" --server-key "$(cl_node_key "$f")" --claim "$lead" \
        --to "$f" --group "$g" --kind append --count 3 --term "$term" --index "$commit" \
        --prev-term $((term - 1)) --commit $((commit + 1)) --key "${cand[1]}" \
        --value "FORGED:commit-conflict:g$g" --client-id 7200000 "$(cl_peer_ep "$f")")
    cl_wait_until 10 "node $f to refuse $c appends contradicting its committed index $commit (zkv.raft.refused of group $g past $base)" \
        refused_or_took "$f" "$g" $((base + c)) "$lead" "$term" "$m"
    ! took "$f" "$g" "$lead" "$term" "$m" ||
        cl_die "node $f took an append contradicting its committed entry $commit in group $g: $(snap; grep " $g " "$snapf")"
    cl_log "group $g: node $f refused node $lead's appends contradicting committed index $commit (refused count $(refused "$f" "$g"))"
done

# ---- nothing was taken ---------------------------------------------------------------------
# A write in each group, applied by every member: a follower holding a forged entry where the
# leader's is would refuse the leader's next entries (they contradict what it committed), and
# never get there.
mapfile -t fresh < <(groups_of fresh-{1..16})
for g in 1 2; do
    key=$(printf '%s\n' "${fresh[@]}" | awk -v g="$g" '$2 == g { print $1; exit }')
    [ -n "$key" ] || cl_die "no fresh key of group $g"
    cl_zkv --timeout 10000 put "$key" "after the forgeries" > /dev/null || cl_die "put $key"
    want[$key]="after the forgeries"
done
cl_wait_until 30 "every group's members to apply the same index after a write in each" cl_converged
for key in "${!want[@]}"; do
    v=$(cl_zkv --timeout 10000 get "$key") || cl_die "get $key"
    [ "$v" = "${want[$key]}" ] || cl_die "$key is '$v', not '${want[$key]}'"
done
for g in 1 2; do
    for key in ${forged_keys[$g]}; do
        v=$(cl_zkv_maybe --timeout 10000 get "$key") || cl_die "get $key"
        [ -z "$v" ] || cl_die "forged key $key exists: '$v'"
    done
done
for i in 1 2 3; do cl_alive "$i" || cl_die "node $i died"; done
cl_log "every key reads back as written, no forged key exists, every node runs"

# ---- controls: the checks can fail ---------------------------------------------------------
# An append of a NEW term from a follower's own key: another follower knows no leader of that
# term yet and takes it, as Raft says it must. took sees it (the test above could fail), and
# the put it carries commits with it. It leaves group 2 forked: nothing is checked there after.
snap
lead=$(leader_of 2)
[ -n "$lead" ] || cl_die "no leader of group 2"
term=$(at "$lead" 2 term)
commit=$(at "$lead" 2 commit)
if [ "$lead" != 2 ]; then s=2; else s=1; fi
f=$((6 - lead - s))
m=$(cl_event_mark)
forge --cert "$certs/node$s.cert" --server-key "$(cl_node_key "$f")" --claim "$s" --to "$f" \
    --group 2 --kind append --count 1 --term $((term + 1)) --index "$commit" --prev-term "$term" \
    --commit $((commit + 1)) --key control --value "FORGED:control" --client-id 7300000 \
    "$(cl_peer_ep "$f")" > /dev/null
cl_wait_until 10 "node $f to take node $s's append of the new term $((term + 1)) (the control)" \
    took "$f" 2 "$s" $((term + 1)) "$m"
cl_wait_event 10 "$m" zkv.raft.leader "node=$f" group=2 "leader=$s" "term=$((term + 1))" \
    "index>$commit" > /dev/null
cl_log "control: node $f took node $s's append of term $((term + 1)) and committed it (past $commit)"
# Heartbeats 1000 terms ahead from node 2's own key move node 1's term in group 1.
t1=$(cl_status_field 1 1 term)
[[ "$t1" =~ ^[0-9]+$ ]] || cl_die "no term of group 1 on node 1"
forge --cert "$certs/node2.cert" --server-key "$(cl_node_key 1)" --claim 2 --to 1 --group 1 \
    --kind heartbeat --term $((t1 + 1000)) --count 5 "$(cl_peer_ep 1)" > /dev/null
moved () { t=$(cl_status_field 1 1 term); [[ "$t" =~ ^[0-9]+$ ]] && [ "$t" -ge $((t1 + 1000)) ]; }
cl_wait_until 10 "node 1 to take node 2's heartbeats of term $((t1 + 1000)) (the control)" moved
cl_log "control: node 2's own heartbeats moved node 1's term from $t1 to $(cl_status_field 1 1 term)"

# ---- every lie counted ---------------------------------------------------------------------
# A clean stop prints the transport's counts: every message that named a sender other than the
# key's node was dropped there, and only those (the truthful ones above reached the core).
for i in 1 2 3; do
    cl_alive "$i" || cl_die "node $i died"
    pid=$(cl_pid "$i")
    cl_kill "$i" TERM
    cl_wait_gone "$pid" 20 || cl_die "node $i did not stop within 20 s of SIGTERM"
    line=$(grep -o "zkvd $i: transport: .* unauthenticated" "$CL_DIR/node$i.log" | tail -n 1)
    n=$(sed -n 's/.* \([0-9]*\) unauthenticated$/\1/p' <<< "$line")
    [ "${n:-0}" = "${named[$i]}" ] ||
        cl_die "node $i dropped ${n:-0} unauthenticated peer messages, ${named[$i]} lies were sent to it"
    cl_log "node $i dropped and counted all ${named[$i]} lies sent to it"
done
cl_pass
echo "1 passed, 0 failed"
