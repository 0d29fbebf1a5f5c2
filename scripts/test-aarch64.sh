#!/usr/bin/env bash
# test-aarch64.sh: the NEON kernels, cross-compiled for aarch64 and run under qemu-aarch64.
#   1. make CC=aarch64-linux-gnu-gcc NO_HOSTLIBS=1 BUILD=build/aarch64 binaries  (naive + tiled + *_neon.c,
#      ops/, matbench-check, matbench-eval and the tests/*_main.c programs; no OpenBLAS / hwloc / PAPI / cmocka)
#   2. matbench-check --variant=neon over every case of tests/vectors
#   3. build/aarch64/bin/neon: the edge sweeps of tests/neon_main.c (GEMM, BINARY, SOFTMAX vs fp64)
# Ends with `N passed, N failed` (the sum of 2 and 3); exit 1 on any failure. Without the cross compiler or
# qemu-aarch64 it prints one SKIP line and `0 passed, 0 failed`. Env: CROSS_CC, QEMU, BUILD_AARCH64.
set -u
cd "$(dirname "$0")/.."
cc=${CROSS_CC:-aarch64-linux-gnu-gcc}
qemu=${QEMU:-qemu-aarch64}
build=${BUILD_AARCH64:-build/aarch64}
sysroot=/usr/aarch64-linux-gnu

for tool in "$cc" "$qemu"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "SKIP aarch64: $tool not found (Debian: gcc-aarch64-linux-gnu qemu-user)"
        echo "0 passed, 0 failed"
        exit 0
    fi
done

pass=0 fail=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "== cross build ($cc -> $build)"
if ! make --no-print-directory -s CC="$cc" NO_HOSTLIBS=1 NO_CUDA=1 MB_NO_DEPS=1 BUILD="$build" binaries >"$log" 2>&1
then
    tail -n 40 "$log"
    echo "FAIL aarch64 cross build"
    echo "0 passed, 1 failed"
    exit 1
fi
run() { "$qemu" -L "$sysroot" "$@"; }

# counts from the last `N passed, N failed[, N skipped]` line of a log; a crash without one is a failure
count() { # label log rc
    local line p=0 f=0
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$2" | tail -n 1)
    if [ -n "$line" ]; then
        p=$(echo "$line" | awk '{print $1}')
        f=$(echo "$line" | awk '{print $3}' | tr -d ,)
    fi
    if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $1: exit status $3 without a failure count"
        f=1
    fi
    pass=$((pass + p)) fail=$((fail + f))
    echo "$1: $p passed, $f failed"
}

if [ -x "$build/bin/matbench-check" ]; then
    echo "== vectors through the neon variant (qemu-aarch64)"
    run "$build/bin/matbench-check" --variant=neon tests/vectors/*/ >"$log" 2>&1
    rc=$?
    grep -E '^(FAIL|SKIP) ' "$log" | head -n 40
    count "matbench-check --variant=neon" "$log" $rc
else
    echo "SKIP vectors: $build/bin/matbench-check was not built"
fi

echo "== NEON edge sweeps (qemu-aarch64)"
run "$build/bin/neon" >"$log" 2>&1
rc=$?
grep -E '^(FAIL|SKIP|gemm/|binary/|softmax/)|first bad' "$log" | head -n 60
if grep -q '^SKIP' "$log"; then # on aarch64 every NEON kernel must be registered and runnable
    echo "FAIL neon sweeps: a NEON kernel is missing from the aarch64 build"
    fail=$((fail + 1))
fi
count "neon sweeps" "$log" $rc

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
