#!/bin/sh
# Fuzzes zkv's message decoder with libFuzzer for SECONDS (default 60); non-zero exit on a crash.
#
#     tools/fuzz.sh [SECONDS]
#
# Configures build-fuzz/ with clang and ZKV_FUZZ=ON, builds tests/fuzz/fuzz_decode (ASan, UBSan),
# writes a seed corpus of valid encodings and runs the fuzzer on it. The corpus it grows is kept
# in build-fuzz/fuzz-corpus/ for the next run; a failing input is saved in build-fuzz/fuzz-crashes/
# and replays with: build-fuzz/tests/fuzz/fuzz_decode FILE
set -eu

seconds=${1:-60}
case $seconds in
'' | *[!0-9]*)
    echo "usage: $0 [SECONDS]" >&2
    exit 2
    ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-fuzz
mkdir -p "$build"

# RelWithDebInfo: the fuzzer runs several times faster than at -O0 (asserts stay on in every
# build type).
if ! cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DZKV_FUZZ=ON >"$build/fuzz-configure.log" 2>&1; then
    cat "$build/fuzz-configure.log" >&2
    exit 1
fi
cmake --build "$build" -j2 --target fuzz_decode zkv_fuzz_seeds

seeds=$build/fuzz-seeds
corpus=$build/fuzz-corpus
crashes=$build/fuzz-crashes
mkdir -p "$seeds" "$corpus" "$crashes"
"$build/tests/fuzz/zkv_fuzz_seeds" "$seeds"

# The first directory receives new inputs; the seeds are read only. Leaks count as failures
# (libFuzzer's -detect_leaks is on with ASan).
"$build/tests/fuzz/fuzz_decode" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$crashes/" "$corpus" "$seeds"
