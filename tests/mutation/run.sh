#!/usr/bin/env bash
# Mutation check of the simulation suite: breaks one rule of the core (Raft, the group driver,
# the frontend) at a time (tests/mutation/mutants.txt) in a scratch copy of the tree, rebuilds
# the simulator and runs every scenario plus the sweeps, stopping at the first failure. A mutant
# the suite does not catch is a hole in the tests. Each caught mutant reports how long the
# suite took to catch it.
#
#   tests/mutation/run.sh [SWEEP_SEEDS]     (default 200)
#   MUTANTS='name1 name2' tests/mutation/run.sh ...   (only these)
# Ends with "N passed, N failed": passed = mutants caught.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SEEDS=${1:-200}
WORK=$(mktemp -d /tmp/zkv-mutation.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# The committed tree, with the working copies of the core and its tests on top: other
# engineers' half-written files elsewhere in a shared checkout cannot break the build here
# (in a fresh clone both are the same).
mkdir -p "$WORK/src"
if git -C "$ROOT" rev-parse --verify -q HEAD >/dev/null; then
    git -C "$ROOT" archive HEAD | tar -xf - -C "$WORK/src"
    (cd "$ROOT" && git ls-files -co --exclude-standard -- cluster tests/sim tests/mutation |
        tar -cf - -T -) | tar -xf - -C "$WORK/src"
else
    (cd "$ROOT" && git ls-files -co --exclude-standard | grep -v '^build' | tar -cf - -T -) |
        tar -xf - -C "$WORK/src"
fi
cmake -S "$WORK/src" -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release >/dev/null || exit 1
SIM=$WORK/build/tests/sim/zkv-sim

s_why () {  # what the last failing run reported first
    local line
    line=$(grep -m1 -E '^==== (INVARIANT|check failed)|^seed [0-9]+: FAIL' "$WORK/out")
    [ -n "$line" ] || line=$(grep -m1 -iE 'abort|assert|error' "$WORK/out")
    echo "${line:-exit status only}" | sed -e 's/^==== //' | cut -c1-160
}

s_suite () {  # exit 0 if the sweeps and every scenario pass; stops at the first failure
    local scenario seed
    # The sweeps first: broad and quick, they catch most mutants within seconds.
    (timeout 900 "$SIM" sweep --seeds "$SEEDS" --fail-fast >"$WORK/out" 2>&1; exit $?) 2>/dev/null || {
        echo "    caught by the sweep: $(s_why)"; return 1; }
    (timeout 900 "$SIM" sweep --kv --seeds "$SEEDS" --fail-fast >"$WORK/out" 2>&1; exit $?) 2>/dev/null || {
        echo "    caught by the KV sweep: $(s_why)"; return 1; }
    (timeout 900 "$SIM" sweep --shards --seeds "$SEEDS" --fail-fast >"$WORK/out" 2>&1; exit $?) 2>/dev/null || {
        echo "    caught by the sharded sweep: $(s_why)"; return 1; }
    for scenario in $("$SIM" list); do
        for seed in 1 2 3; do
            (timeout 300 "$SIM" run "$scenario" --seed "$seed" >"$WORK/out" 2>&1; exit $?) 2>/dev/null || {
                echo "    caught by $scenario seed $seed: $(s_why)"; return 1; }
        done
    done
    return 0
}

cmake --build "$WORK/build" -j "$(nproc)" --target zkv-sim >/dev/null || exit 1
if ! s_suite; then
    echo "the unmutated core fails the suite: fix that first"
    exit 1
fi

caught=0 missed=0
while IFS=$'\t' read -r name file from to; do
    case "$name" in ''|'#'*) continue ;; esac
    if [ -n "${MUTANTS:-}" ] && ! [[ " $MUTANTS " == *" $name "* ]]; then continue; fi
    cp "$ROOT/$file" "$WORK/src/$file"
    FROM="$from" TO="$to" perl -0pi -e '$n = s/\Q$ENV{FROM}\E/$ENV{TO}/; END { exit($n ? 0 : 3) }' \
        "$WORK/src/$file"
    if [ $? -ne 0 ]; then
        echo "MISSING $name: text not found in $file (update mutants.txt)"
        missed=$((missed + 1))
        continue
    fi
    echo "mutant $name"
    if ! cmake --build "$WORK/build" -j "$(nproc)" --target zkv-sim >/dev/null 2>&1; then
        echo "    does not build (update mutants.txt)"
        missed=$((missed + 1))
    else
        start=$SECONDS
        if s_suite; then
            echo "SURVIVED $name: the suite does not notice it"
            missed=$((missed + 1))
        else
            echo "    caught in $((SECONDS - start)) s"
            caught=$((caught + 1))
        fi
    fi
    cp "$ROOT/$file" "$WORK/src/$file"
done < "$ROOT/tests/mutation/mutants.txt"
cmake --build "$WORK/build" --target zkv-sim >/dev/null 2>&1
echo "mutation: $caught passed, $missed failed"
[ "$missed" -eq 0 ]
