#!/usr/bin/env bash
# run-tests.sh BUILD: every correctness check of `make test`, summed into one closing line
# `N passed, N failed` (what CI reads).
#   1. unit tests: every BUILD/bin/test_* (cmocka) and tests/test_*.sh (each ends `N passed, N failed`)
#   2. matbench-check over tests/vectors for every variant this CPU runs
#   3. the same unit tests and vectors built with -fsanitize=address,undefined (BUILD/asan)
#   4. the aarch64 build (NEON) under qemu, and the CUDA kernels through the CPU emulator
# Set MB_TEST_QUICK=1 to skip 3 and 4 while iterating.
set -u
build=${1:-build}
bin=$build/bin
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
export MB_BIN=$bin
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
total_pass=0 total_fail=0
failed_suites=()

# add the counts of one suite from its output: cmocka's summary lines, or a `N passed, N failed` line
tally() { # name file rc
    local name=$1 out=$2 rc=$3 p=0 f=0 line
    if grep -q '^\[==========\]' "$out"; then
        p=$(grep -E '^\[  PASSED  \] [0-9]+ test' "$out" | awk '{s+=$4} END {print s+0}')
        f=$(grep -E '^\[  FAILED  \] [0-9]+ test' "$out" | awk '{s+=$4} END {print s+0}')
    elif line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1) && [ -n "$line" ]; then
        p=$(echo "$line" | awk '{print $1}')
        f=$(echo "$line" | awk '{print $3}')
    fi
    # a crash or a non-zero exit without a failure count still fails the suite
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    [ "$f" -ne 0 ] && failed_suites+=("$name")
    printf '%-44s %5d passed, %d failed\n' "$name" "$p" "$f"
}

run() { # name cmd...
    local name=$1; shift
    local out="$log/$(echo "$name" | tr '/ ' '__').out"
    "$@" >"$out" 2>&1 </dev/null
    local rc=$?
    tally "$name" "$out" $rc
    if [ $rc -ne 0 ] || grep -qE '^\[  FAILED  \]|^FAIL ' "$out"; then
        echo "---- $name output (failures) ----"
        grep -E 'FAIL|ERROR|error|Assert|Sanitizer|runtime error' "$out" | head -n 40
        echo "----"
    fi
}

unit_suites() { # bin dir, label
    local b=$1 label=$2
    for t in "$b"/test_*; do
        [ -x "$t" ] || continue
        run "$label$(basename "$t")" "$t"
    done
}

echo "== unit tests"
unit_suites "$bin" ""
for s in tests/test_*.sh; do
    [ -f "$s" ] || continue
    run "$(basename "$s")" bash "$s"
done

echo "== vectors (matbench-check, every variant)"
run "matbench-check tests/vectors" "$bin/matbench-check" tests/vectors/*

if [ "${MB_TEST_QUICK:-0}" != 1 ]; then
    echo "== ASan + UBSan build"
    asan=$build/asan
    if make --no-print-directory -s BUILD="$asan" MB_NO_DEPS=1 NO_CUDA=1 \
        CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
        binaries >"$log/asan-build.out" 2>&1; then
        export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
        unit_suites "$asan/bin" "asan/"
        run "asan/matbench-check tests/vectors" "$asan/bin/matbench-check" tests/vectors/*
        unset ASAN_OPTIONS UBSAN_OPTIONS
    else
        tail -n 30 "$log/asan-build.out"
        tally "asan build" /dev/null 1
    fi

    echo "== other architectures and devices"
    [ -f scripts/test-aarch64.sh ] && run "aarch64 NEON under qemu" bash scripts/test-aarch64.sh
    [ -f scripts/test-cuda-emu.sh ] && run "CUDA kernels in the CPU emulator" bash scripts/test-cuda-emu.sh
fi

echo
if [ ${#failed_suites[@]} -gt 0 ]; then echo "failed suites: ${failed_suites[*]}"; fi
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
