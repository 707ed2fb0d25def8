#!/usr/bin/env bash
# zkv developer entry point: installs what is missing, builds, and runs the main job or the tests.
#
#   tools/dev.sh run     build and run a local 3-node cluster in the foreground (Ctrl-C stops it)
#   tools/dev.sh demo    build and run the simulator's demo: a 5-node Raft group under faults
#   tools/dev.sh test    build (plain and with ASan+UBSan) and run the tests (the slow mutation
#                        check and the fuzzer run apart: ctest -L mutation, ctest -L fuzz)
#   tools/dev.sh build   build only
#   tools/dev.sh deps    install missing Debian packages only
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${ZKV_BUILD_DIR:-$ROOT/build}
ASAN_BUILD=${ZKV_ASAN_BUILD_DIR:-$ROOT/build-asan}
JOBS=$(nproc 2>/dev/null || echo 2)

# Debian 12 packages the build and the tests need (iproute2: ss and ip, for the cluster tests).
# libmicrohttpd-dev: the nodes' HTTP endpoint (metrics); curl: the metrics test scrapes it.
# chromium, chromium-driver, python3: the status page's test drives a headless browser.
# systemd: systemd-analyze verifies the unit (install.check); nftables: the firewall rules of
# docs/deploy.md (cluster.deploy); faketime: nodes restarted hours later (cluster.sessions).
PACKAGES=(build-essential cmake pkg-config libczmq-dev libzmq3-dev libmsgpack-dev libleveldb-dev
          libmicrohttpd-dev curl
          chromium chromium-driver python3
          systemd nftables iproute2 faketime)

s_as_root () {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

s_deps () {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "zkv: installing ${missing[*]}"
        s_as_root apt-get update -qq
        s_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

s_build () {  # s_build DIR [cmake options...]
    local dir=$1
    shift
    cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
    cmake --build "$dir" -j "$JOBS"
}

case "${1:-}" in
deps)
    s_deps
    ;;
build)
    s_deps
    s_build "$BUILD"
    ;;
run)
    s_deps
    s_build "$BUILD"
    exec "$ROOT/tools/local-cluster.sh" "$BUILD"
    ;;
demo)
    s_deps
    s_build "$BUILD"
    shift
    exec "$BUILD/tests/sim/zkv-sim" demo "$@"
    ;;
test)
    s_deps
    s_build "$BUILD"
    # The sanitized build runs each lab scenario under 3 seeds (the plain build under 10): it
    # is there for memory errors, and runs several times slower.
    s_build "$ASAN_BUILD" -DZKV_SANITIZE=ON -DZKV_SIM_LAB_SEEDS=3
    echo "== tests (plain build) =="
    (cd "$BUILD" && ctest --output-on-failure -j "$JOBS" -LE 'fuzz|soak|mutation')
    echo "== unit and simulation tests under AddressSanitizer + UndefinedBehaviorSanitizer =="
    (cd "$ASAN_BUILD" && ctest --output-on-failure -j "$JOBS" -L 'unit|sim')
    ;;
*)
    sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
