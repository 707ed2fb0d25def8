#!/bin/bash
# version_check.sh: every program answers --version with "NAME VERSION", VERSION being the
# project's and, from a git checkout, "(git DESCRIBE)" (ctest unit.version).
#
#     version_check.sh PROJECT_VERSION NAME=PATH...
set -euo pipefail
want=$1
shift
passed=0
failed=0
versions=""
for arg in "$@"; do
    name=${arg%%=*}
    path=${arg#*=}
    rc=0
    out=$("$path" --version 2>&1) || rc=$?
    re="^$name ${want//./\\.}( \\(git [0-9A-Za-z._-]+\\))?\$"
    if [ "$rc" = 0 ] && [[ $out =~ $re ]] && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ]; then
        passed=$((passed + 1))
        echo "ok: $out"
        versions="$versions${out#"$name "}"$'\n'
    else
        failed=$((failed + 1))
        echo "FAIL: $name --version: exit $rc, '$out' (want '$name $want [(git ...)]')"
    fi
done
# One build, one version.
if [ "$(printf '%s' "$versions" | sort -u | wc -l)" -gt 1 ]; then
    failed=$((failed + 1))
    echo "FAIL: the programs disagree about the version: $(printf '%s' "$versions" | sort -u)"
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
