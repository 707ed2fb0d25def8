#!/bin/bash
# amnesiac_zkvd.sh: a deliberately broken zkvd for testing the tests: it wipes the node's data
# dir before every start after the first, so a crash loses everything. crash_all.sh run with
# ZKVD=amnesiac_zkvd.sh (and ZKVD_REAL=the real zkvd) must fail (ctest WILL_FAIL).
#
#     amnesiac_zkvd.sh --config FILE --node I [OPTION...]
set -euo pipefail
: "${ZKVD_REAL:?set ZKVD_REAL to the real zkvd}"
config=$2
node=$4
data=$(dirname "$config")/data$node # lib/cluster.sh's layout
if [ -e "$data.started" ]; then
    rm -rf "$data"
fi
touch "$data.started"
exec "$ZKVD_REAL" "$@"
