#!/usr/bin/env bash
# test_gen_cases.sh: ~150 random cases from scripts/gen_cases.py (fixed seed; numpy fp64 oracle of
# design/SEMANTICS.md, every op/option/error word of the vectors README) through matbench-check with the
# naive and blas variants, and avx2 when the CPU has it. Needs MB_BIN (the bin dir) and /usr/bin/python3
# with numpy (else it prints a skip line and `0 passed, 0 failed`); run from the repository root.
# Ends with `N passed, N failed` (the sum of the check results); exits non-zero on any failure.
set -u
bin=${MB_BIN:-build/bin}
py=${MB_PYTHON:-/usr/bin/python3}
seed=${MB_GEN_SEED:-4242}
count=${MB_GEN_COUNT:-150}
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}

if ! "$py" -c 'import numpy' >/dev/null 2>&1; then
    echo "SKIP test_gen_cases.sh: $py has no numpy"
    echo "0 passed, 0 failed"
    exit 0
fi

t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
if ! "$py" scripts/gen_cases.py "$t/cases" --seed "$seed" --count "$count"; then
    echo "FAIL scripts/gen_cases.py --seed $seed --count $count"
    echo "0 passed, 1 failed"
    exit 1
fi

variants="naive blas"
if grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo 2>/dev/null; then
    variants="$variants avx2"
else
    echo "SKIP variant avx2: this CPU has no AVX2/FMA"
fi

pass=0 fail=0
for v in $variants; do
    out=$("$bin/matbench-check" --variant="$v" "$t"/cases/* 2>&1)
    rc=$?
    grep '^FAIL' <<<"$out"
    summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' <<<"$out" | tail -n 1)
    if [ -z "$summary" ]; then # crashed before its summary
        echo "FAIL matbench-check --variant=$v: no summary (exit $rc)"
        tail -n 3 <<<"$out"
        fail=$((fail + 1))
        continue
    fi
    p=$(awk '{print $1}' <<<"$summary") f=$(awk '{print $3}' <<<"$summary")
    echo "variant $v: $summary"
    pass=$((pass + p)) fail=$((fail + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL matbench-check --variant=$v exited $rc with no failed case"
        fail=$((fail + 1))
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
