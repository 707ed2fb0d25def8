# nemesis.sh: a seeded schedule of faults against a cluster started with lib/cluster.sh.
#
# Source it after lib/cluster.sh, then run it in the background while a workload runs:
#
#     nem_run SECONDS SEED [OPS] &      # OPS: default "kill pause isolate minority leader"
#     nem_pid=$!; ...; wait $nem_pid    # it heals everything before it returns
#
# One fault at a time: pick an op and a victim from the seed, hold it for 0.5..3.5 s, undo it,
# stay quiet 0.5..2.5 s, repeat until SECONDS have passed; then heal everything (continue
# paused nodes, restart dead ones, flush every cut, cables in) and check that the nodes reach
# each other again. Every step is printed with the seed and its step number, to stdout and to
# $CL_DIR/nemesis.log. The same seed draws the same ops, victims and durations (the clock
# decides only how many steps fit; "leader" ops hit whichever node leads at that moment).
#
#   kill      kill -9 a node, restart it from its data dir after the hold
#   pause     SIGSTOP a node, SIGCONT it after the hold
#   kill-leader, pause-leader   the same, aimed at the current leader of group 1
#   isolate   cut one node from every other node (netns only; clients still reach it)
#   minority  cut floor((N-1)/2) nodes from the rest (netns only; the minority keeps its links)
#   leader    cut the current leader of group 1 from the others (netns only)
#   cable     take one node's cable out: no peer and no client reaches it (netns only)
# Partition ops are checked: after the cut, a TCP connect across it must fail both ways; after
# the heal, it must succeed again (within a deadline), or the nemesis fails.

NEM_X=1

# A 31-bit LCG of our own, so that a seed draws the same schedule under every bash version.
nem_rand () {
    NEM_X=$(((NEM_X * 1103515245 + 12345) % 2147483648))
    NEM_R=$(((NEM_X >> 8) % $1))
}

nem_say () {
    local line
    line=$(printf '[%s] nemesis seed=%s step=%s: %s' "$(date +%H:%M:%S.%3N)" "$NEM_SEED" \
        "$NEM_STEP" "$*")
    echo "$line"
    echo "$line" >> "$CL_DIR/nemesis.log"
}

# Holds for a drawn 0.5..3.5 s (or quiet 0.5..2.5 s), but never past the end of the run.
nem_hold () {
    nem_rand "$1"
    local ms=$((500 + NEM_R))
    sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
}

# The nodes other than those given.
nem_others () {
    local j out=""
    for ((j = 1; j <= CL_N; j++)); do
        case " $* " in *" $j "*) ;; *) out="$out $j" ;; esac
    done
    echo "$out"
}

# Checks that every pair across a cut is really cut (a TCP connect fails both ways).
nem_check_cut () {
    local a b
    for a in $1; do
        for b in $2; do cl_check_cut "$a" "$b"; done
    done
}

# After a heal: every node's namespace reaches every other node's peer port within 10 s.
nem_check_healed () {
    local a b
    for ((a = 1; a <= CL_N; a++)); do
        for ((b = 1; b <= CL_N; b++)); do
            [ "$a" = "$b" ] || cl_wait_until 10 "node $a reaches node $b after the heal" \
                cl_reaches "$a" "$b"
        done
    done
}

# Continues paused nodes, restarts dead ones, heals the network, checks the heal.
nem_heal_all () {
    local i pid
    for ((i = 1; i <= CL_N; i++)); do
        pid=$(cl_pid "$i")
        if [ -n "$pid" ] && kill -0 "$pid" 2> /dev/null; then
            kill -CONT "$pid" 2> /dev/null || true
        else
            nem_say "heal: node $i is not running, restarting it"
            cl_start "$i"
        fi
    done
    if [ "$CL_MODE" = netns ]; then
        cl_heal
        nem_check_healed
    fi
    nem_say "healed: every node runs, every link is up"
}

nem_partition () {
    local side rest
    side=$(echo $1)
    rest=$(echo $(nem_others $side))
    nem_say "partition {$side} | {$rest}"
    cl_partition "$side" "$rest"
    nem_check_cut "$side" "$rest"
    nem_hold 3000
    cl_heal
    nem_check_healed
    nem_say "heal partition {$side} | {$rest}"
}

# One step: op $1 on a drawn victim.
nem_step () {
    local op=$1 v i side
    nem_rand "$CL_N"
    v=$((NEM_R + 1))
    # The -leader variants aim at whoever leads group 1 now (the drawn node if none does).
    case $op in
    kill-leader | pause-leader)
        local l
        l=$(cl_leader 1)
        [ -z "$l" ] || v=$l
        nem_say "the leader of group 1 is node ${l:-unknown}"
        op=${op%-leader}
        ;;
    esac
    case $op in
    kill)
        nem_say "kill -9 node $v (pid $(cl_pid "$v"))"
        cl_kill "$v" KILL
        nem_hold 3000
        cl_start "$v"
        nem_say "restart node $v from its data dir (pid $(cl_pid "$v"))"
        ;;
    pause)
        nem_say "SIGSTOP node $v (pid $(cl_pid "$v"))"
        cl_kill "$v" STOP
        nem_hold 3000
        cl_kill "$v" CONT
        nem_say "SIGCONT node $v"
        ;;
    isolate)
        nem_partition "$v"
        ;;
    minority)
        side=""
        for ((i = 0; i < (CL_N - 1) / 2; i++)); do side="$side $(((v + i - 1) % CL_N + 1))"; done
        nem_partition "$side"
        ;;
    leader)
        local l
        l=$(cl_leader 1)
        [ -n "$l" ] || l=$v
        nem_say "the leader of group 1 is node $l"
        nem_partition "$l"
        ;;
    cable)
        nem_say "cable out: node $v"
        cl_link "$v" down
        ! cl_reaches "$(((v % CL_N) + 1))" "$v" || cl_die "node $v still reachable with its cable out"
        nem_hold 3000
        cl_link "$v" up
        nem_check_healed
        nem_say "cable in: node $v"
        ;;
    *)
        cl_die "nemesis: unknown op '$op'"
        ;;
    esac
}

# nem_run SECONDS SEED [OPS]
nem_run () {
    local secs=$1 ops
    NEM_SEED=$2
    ops=(${3:-kill pause isolate minority leader})
    if [ "$CL_MODE" != netns ]; then
        # Only process faults make sense on loopback.
        local o kept=()
        for o in "${ops[@]}"; do
            case $o in kill | pause | kill-leader | pause-leader) kept+=("$o") ;; esac
        done
        ops=("${kept[@]}")
    fi
    [ ${#ops[@]} -gt 0 ] || cl_die "nemesis: no op left to run in $CL_MODE mode"
    NEM_X=$((NEM_SEED % 2147483648))
    NEM_STEP=0
    local deadline=$((SECONDS + secs))
    nem_say "start: ${secs}s of {${ops[*]}} on $CL_N nodes ($CL_MODE)"
    while [ $SECONDS -lt $deadline ]; do
        NEM_STEP=$((NEM_STEP + 1))
        nem_rand ${#ops[@]}
        nem_step "${ops[$NEM_R]}"
        [ $SECONDS -lt $deadline ] || break
        nem_hold 2000
    done
    NEM_STEP=end
    nem_heal_all
}
