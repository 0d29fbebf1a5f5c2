#!/bin/sh
# test_compare.sh: Google Benchmark's tools/compare.py (Debian libbenchmark-tools) reads matbench's JSON
# and drives the matbench binary itself. compare.py exits 0 even when nothing matched, so every check
# counts the rows it printed. Env: MB_BIN=<dir with matbench>; cwd = the repo root.
set -u
BIN=${MB_BIN:-build/bin}
MB="$BIN/matbench"
COMPARE=/usr/share/benchmark/compare.py
PY=/usr/bin/python3 # the python3 on PATH may lack numpy/scipy, which compare.py needs
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
pass=0 fail=0

check() { # check <description> <command...>: the command's status decides
    desc=$1
    shift
    if "$@"; then
        pass=$((pass + 1))
        echo "PASS $desc"
    else
        fail=$((fail + 1))
        echo "FAIL $desc"
    fi
}

if [ ! -x "$MB" ] || [ ! -f "$COMPARE" ] || ! $PY -c 'import numpy, scipy' 2>/dev/null; then
    echo "FAIL prerequisites: $MB, $COMPARE and $PY with numpy+scipy are needed"
    echo "0 passed, 1 failed"
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# a few tiny benchmarks, found by listing (the suite names them; nothing here keeps a list)
"$MB" --benchmark_list_tests --benchmark_filter='^bgemm/naive/B:[124]/M:10/' >"$tmp/names" 2>"$tmp/err"
n=$(wc -l <"$tmp/names")
check "list_tests finds the 3 tiny benchmarks (found $n)" test "$n" -eq 3
filter='^bgemm/naive/B:[124]/M:10/'
one=$(head -n 1 "$tmp/names")

# data rows of compare.py's table: the lines after the dashed line that follows "Comparing ..." (when
# compare.py runs the binary, matbench's own console table comes before it)
rows() { awk 'seen { print } cmp && /^-+$/ { seen = 1 } /^Comparing / { cmp = 1 }' "$1"; }

for r in a b; do
    "$MB" --benchmark_filter="$filter" --benchmark_min_time=0.01 --benchmark_out="$tmp/$r.json" >/dev/null 2>&1
    check "matbench run $r wrote JSON that Python parses" $PY -c "import json,sys; json.load(open(sys.argv[1]))" "$tmp/$r.json"
done

$PY $COMPARE --no-color benchmarks "$tmp/a.json" "$tmp/b.json" >"$tmp/out" 2>&1
check "compare.py benchmarks a.json b.json exits 0" test $? -eq 0
check "first line names both files" grep -qx "Comparing $tmp/a.json to $tmp/b.json" "$tmp/out"
check "header: Benchmark ... Time Old" grep -q '^Benchmark  *Time  *CPU  *Time Old  *Time New  *CPU Old  *CPU New$' "$tmp/out"
k=$(rows "$tmp/out" | grep -c '^bgemm/naive/')
check "one row per benchmark ($k of $n)" test "$k" -eq "$n"
while read -r name; do
    check "row for $name" grep -q "^$name " "$tmp/out"
done <"$tmp/names"
check "OVERALL_GEOMEAN row" grep -q '^OVERALL_GEOMEAN ' "$tmp/out"

# repetitions: aggregates and U-test rows, and -a (aggregates only)
for r in a b; do
    "$MB" --benchmark_filter="$filter" --benchmark_min_time=0.01 --benchmark_repetitions=3 \
        --benchmark_out="$tmp/r$r.json" >/dev/null 2>&1
done
$PY $COMPARE --no-color benchmarks "$tmp/ra.json" "$tmp/rb.json" >"$tmp/rout" 2>&1
check "compare.py with repetitions exits 0" test $? -eq 0
k=$(rows "$tmp/rout" | grep -c '^bgemm/naive/.*/threads:1  ')
check "3 repetition rows per benchmark ($k of $((3 * n)))" test "$k" -eq $((3 * n))
for stat in mean median stddev cv pvalue; do
    k=$(rows "$tmp/rout" | grep -c "^bgemm/naive/.*_$stat ")
    check "one _$stat row per benchmark ($k of $n)" test "$k" -eq "$n"
done
$PY $COMPARE --no-color -a benchmarks "$tmp/ra.json" "$tmp/rb.json" >"$tmp/aout" 2>&1
check "compare.py -a exits 0" test $? -eq 0
k=$(rows "$tmp/aout" | grep -c '^bgemm/naive/')
check "-a: aggregates and pvalue only ($k of $((5 * n)) rows)" test "$k" -eq $((5 * n))

# compare.py runs our binary itself (it checks for an ELF file and passes --benchmark_out=<tmp>)
$PY $COMPARE --no-color benchmarks "$MB" "$MB" --benchmark_filter="^$one\$" --benchmark_min_time=0.01 \
    >"$tmp/bout" 2>&1
check "compare.py driving matbench exits 0" test $? -eq 0
k=$(rows "$tmp/bout" | grep -c '^bgemm/naive/')
check "driving matbench: one row ($k)" test "$k" -eq 1
check "driving matbench: OVERALL_GEOMEAN" grep -q '^OVERALL_GEOMEAN ' "$tmp/bout"
$PY $COMPARE --no-color -a benchmarks "$MB" "$MB" --benchmark_filter="^$one\$" --benchmark_min_time=0.01 \
    --benchmark_repetitions=3 >"$tmp/baout" 2>&1
k=$(rows "$tmp/baout" | grep -c '^bgemm/naive/.*_\(mean\|median\|stddev\|cv\|pvalue\) ')
check "driving matbench -a with 3 repetitions: 5 aggregate rows ($k)" test "$k" -eq 5

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
