#!/bin/bash
# install_check.sh: `cmake --install` into a temp prefix puts every file where docs/deploy.md
# says, the client library exports exactly its public API, and a program builds against the
# installed library through pkg-config and runs (ctest install.check).
#
#     install_check.sh BUILD_DIR SOURCE_DIR LIBDIR [CFLAGS...]
#
# LIBDIR is CMAKE_INSTALL_LIBDIR (lib, or lib/x86_64-linux-gnu under /usr); CFLAGS are added
# to the sample's compile (the sanitizers of a ZKV_SANITIZE build).
set -euo pipefail
build=$1
src=$2
libdir=$3
shift 3
cflags=("$@")
cc=${CC:-cc}

passed=0
ok () {
    passed=$((passed + 1))
    echo "ok: $*"
}
die () {
    echo "FAIL: $*" >&2
    echo "$passed passed, 1 failed"
    exit 1
}

tmp=$(mktemp -d /tmp/zkv-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" > "$tmp/install.log" 2>&1 ||
    die "cmake --install failed: $(tail -n 5 "$tmp/install.log")"

# ---- the files ----------------------------------------------------------------------------
for p in zkvd zkv zkv-config-check zkv-lincheck; do
    [ -x "$prefix/bin/$p" ] || die "bin/$p is not installed"
    "$prefix/bin/$p" --help > /dev/null 2>&1 || die "the installed bin/$p --help fails"
done
ok "bin: zkvd, zkv, zkv-config-check, zkv-lincheck run from the prefix"

lib=$prefix/$libdir
[ -f "$lib/libzkv_client.so" ] || die "$libdir/libzkv_client.so is not installed"
soname=$(objdump -p "$lib/libzkv_client.so" | awk '$1 == "SONAME" { print $2 }')
[ -n "$soname" ] && [ -e "$lib/$soname" ] || die "the library's soname '$soname' is not installed"
[ -f "$lib/pkgconfig/zkv.pc" ] || die "$libdir/pkgconfig/zkv.pc is not installed"
# loads PROGRAM: the directory PROGRAM loads libzkv_client from (ldd, symlinks resolved).
loads () {
    local path
    path=$(ldd "$1" | awk '$1 ~ /^libzkv_client[.]so/ { print $3 }')
    [ -n "$path" ] && dirname "$(readlink -f "$path")"
}
# The installed zkv uses the installed library (its RPATH), not the build tree's.
[ "$(loads "$prefix/bin/zkv")" = "$(readlink -f "$lib")" ] ||
    die "the installed zkv does not load $lib/libzkv_client.so: $(ldd "$prefix/bin/zkv" | grep zkv)"
ok "$libdir: libzkv_client.so ($soname), pkgconfig/zkv.pc; bin/zkv loads that library"

for h in zkv_client.h zkv_error.h zkv_export.h; do
    [ -f "$prefix/include/zkv/$h" ] || die "include/zkv/$h is not installed"
done
stray=$(find "$prefix/include" -maxdepth 1 -type f)
[ -z "$stray" ] || die "headers outside include/zkv: $stray"
ok "include/zkv: zkv_client.h, zkv_error.h, zkv_export.h, and nothing at the top"

unit=$prefix/lib/systemd/system/zkvd@.service
[ -f "$unit" ] || die "lib/systemd/system/zkvd@.service is not installed"
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
[ "$exec_start" = "$prefix/bin/zkvd --config /etc/zkv/zkv.cfg --node %i" ] ||
    die "the unit's ExecStart is '$exec_start'"
for line in Type=simple Restart=on-failure "RestartPreventExitStatus=2 65" LimitNOFILE=65536; do
    grep -qx "$line" "$unit" || die "the unit has no line '$line'"
done
# systemd's own check: every line understood, the command there (it warns, and exits 0, on
# a line it ignores, so its output must be empty).
if command -v systemd-analyze > /dev/null; then
    out=$(systemd-analyze verify "$prefix/lib/systemd/system/zkvd@1.service" 2>&1) ||
        die "systemd-analyze verify: $out"
    [ -z "$out" ] || die "systemd-analyze verify: $out"
    ok "zkvd@.service: ExecStart $exec_start, Type=simple, and systemd-analyze verify is silent"
else
    ok "zkvd@.service: ExecStart $exec_start, Type=simple (systemd-analyze not installed)"
fi

# ---- the exported symbols -----------------------------------------------------------------
export PKG_CONFIG_PATH=$lib/pkgconfig
read -r -a pc_cflags <<< "$(pkg-config --cflags zkv)"
read -r -a pc_libs <<< "$(pkg-config --libs zkv)"
pc_libdir=$(pkg-config --variable=libdir zkv)
# The functions the installed headers declare, as the compiler sees them (-aux-info lists every
# prototype with its file and line).
"$cc" "${pc_cflags[@]}" -aux-info "$tmp/aux.txt" -c "$src/tests/install/sample.c" -o "$tmp/s.o"
grep -F "/include/zkv/" "$tmp/aux.txt" | sed -E 's/.* \**([A-Za-z_0-9]+) \(.*/\1/' |
    sort -u > "$tmp/declared"
nm -D --defined-only "$lib/libzkv_client.so" | awk '$2 ~ /^[TDBRVWiu]$/ { print $3 }' |
    sed 's/@.*//' | sort -u > "$tmp/exported"
[ "$(wc -l < "$tmp/declared")" -ge 20 ] || die "too few declarations read: $(cat "$tmp/declared")"
missing=$(comm -23 "$tmp/declared" "$tmp/exported")
[ -z "$missing" ] || die "declared in include/zkv but not exported (mark them ZKV_EXPORT):" \
    $missing
extra=$(comm -13 "$tmp/declared" "$tmp/exported")
[ -z "$extra" ] || die "exported but not public (declared in no installed header):" $extra
ok "libzkv_client.so exports exactly the $(wc -l < "$tmp/declared") functions its headers declare"

# ---- a program against the installed library ----------------------------------------------
"$cc" -std=c11 -Wall -Wextra -Werror "${cflags[@]}" "${pc_cflags[@]}" \
    "$src/tests/install/sample.c" -o "$tmp/sample" "${pc_libs[@]}" -Wl,-rpath,"$pc_libdir" ||
    die "the sample does not build with pkg-config --cflags --libs zkv"
out=$("$tmp/sample") || die "the sample failed: $out"
[ "$out" = "sample: ok (timed out)" ] || die "the sample said: $out"
[ "$(loads "$tmp/sample")" = "$(readlink -f "$lib")" ] || die "the sample loads another library"
ok "sample.c (#include <zkv/zkv_client.h>) builds with pkg-config, links and runs: $out"

# A C++ program includes the header too (extern "C").
if command -v c++ > /dev/null; then
    c++ -fsyntax-only -Wall -Werror "${pc_cflags[@]}" -x c++ "$src/tests/install/sample.c" ||
        die "the header does not compile as C++"
    ok "the header compiles as C++"
fi

# And the core the library absorbs stays out of reach.
if "$cc" "${cflags[@]}" "${pc_cflags[@]}" "$src/tests/install/internal.c" -o "$tmp/internal" \
    "${pc_libs[@]}" > "$tmp/internal.log" 2>&1; then
    die "a program linked against a hidden function (zkv_routing_destroy)"
fi
grep -q "undefined reference to .zkv_routing_destroy" "$tmp/internal.log" ||
    die "internal.c failed for another reason: $(cat "$tmp/internal.log")"
ok "a program calling the hidden zkv_routing_destroy does not link"

echo "$passed passed, 0 failed"
