#!/usr/bin/env bash
# test_plots.sh: plots/plots.sh, scripts/report.sh and scripts/compare.sh on the fixture run in
# tests/fixtures/plots (Google Benchmark 1.7.1 CSV + JSON of a made-up 2-core AVX-512 machine: gemm, bgemm,
# attention, add, softmax; naive/tiled/avx2/avx512 and the peers blas/onednn/libxsmm; three error rows; one
# instance with 3 repetitions and aggregates). Run from the repository root; ends with `N passed, N failed`.
set -u
fix=tests/fixtures/plots
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
check() { # description, then a command that succeeds when the check holds
    local what=$1; shift
    if "$@" >/dev/null 2>&1; then
        pass=$((pass + 1)); echo "PASS $what"
    else
        fail=$((fail + 1)); echo "FAIL $what"
    fi
}

# ---- plots: every expected file, gnuplot silent ----------------------------------------------------
# what the fixture must give: 11 batch plots (3 bgemm shapes at 1 thread, 4 attention shapes x 1 and 2
# threads), square gemm at 1 and 2 threads, a roofline per thread count, and speedup over blas where blas
# ran (add and softmax have no blas rows): gemm per thread count, batched ops per shape like the batch plots
expected="batch-bgemm-M10-N8-K5-bcast0-t1 batch-bgemm-M20-N5-K10-bcast1-t1 batch-bgemm-M64-N64-K64-bcast0-t1
batch-attention-S128-D64-causal0-t1 batch-attention-S128-D64-causal0-t2 batch-attention-S128-D64-causal1-t1
batch-attention-S128-D64-causal1-t2 batch-attention-S1024-D64-causal0-t1 batch-attention-S1024-D64-causal0-t2
batch-attention-S1024-D64-causal1-t1 batch-attention-S1024-D64-causal1-t2 size-gemm-t1 size-gemm-t2
roofline-t1 roofline-t2 speedup-gemm-t1 speedup-gemm-t2 speedup-bgemm-M10-N8-K5-bcast0-t1
speedup-bgemm-M20-N5-K10-bcast1-t1 speedup-bgemm-M64-N64-K64-bcast0-t1 speedup-attention-S128-D64-causal0-t1
speedup-attention-S128-D64-causal0-t2 speedup-attention-S128-D64-causal1-t1 speedup-attention-S128-D64-causal1-t2
speedup-attention-S1024-D64-causal0-t1 speedup-attention-S1024-D64-causal0-t2
speedup-attention-S1024-D64-causal1-t1 speedup-attention-S1024-D64-causal1-t2"
nplots=$(echo $expected | wc -w)
nfiles=$((2 * nplots))

out=$tmp/plots
MB_PLOTS_DIR=$out plots/plots.sh $fix >"$tmp/plots.out" 2>"$tmp/plots.err"
check "plots.sh exits 0 on the fixture" test $? -eq 0
check "plots.sh: nothing on stderr (no gnuplot warnings)" test ! -s "$tmp/plots.err"
[ -s "$tmp/plots.err" ] && sed 's/^/    stderr: /' "$tmp/plots.err" | head -n 20
missing=0
for stem in $expected; do
    png=$out/$stem.png svg=$out/$stem.svg
    # a real PNG (signature) and a well-formed SVG, not just non-empty files
    if ! [ -s "$png" ] || [ "$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')" != 89504e470d0a1a0a ] ||
       ! $py -c 'import sys, xml.etree.ElementTree as E; assert E.parse(sys.argv[1]).getroot().tag.endswith("svg")' "$svg"; then
        echo "    missing or broken: $stem.png / $stem.svg"
        missing=$((missing + 1))
    fi
done
check "all $nplots expected plots written as PNG and SVG" test $missing -eq 0
check "no unexpected plot files" test "$(ls "$out" | wc -l)" -eq $nfiles

# ---- the data behind the plots -----------------------------------------------------------------------
data=$tmp/data
mkdir -p "$data"
$py plots/results.py plan $fix "$data" >"$tmp/jobs"
check "plan lists one job per expected plot" test "$(wc -l <"$tmp/jobs")" -eq $nplots
# the error row (avx2 at B=256) is skipped: 4 of the 5 batch sizes remain
check "error rows are skipped" test "$(wc -l <"$data/batch-bgemm-M20-N5-K10-bcast1-t1__avx2.dat")" -eq 4
# gemm/avx512/M=N=K=256 ran 3 repetitions: one point (the median), not 3 runs + 4 aggregates
check "repetitions collapse to one point per size" test "$(wc -l <"$data/size-gemm-t1__avx512.dat")" -eq 5
med=$(awk -F, '$1 ~ /avx512\/M:256\/N:256\/K:256\/threads:1_median/ {printf "%g", $12 / 1e9}' $fix/matbench.csv)
check "the repeated instance is plotted at its median" grep -qx "256 $med" "$data/size-gemm-t1__avx512.dat"
# --benchmark_report_aggregates_only: the runs are gone, the median row still stands for the instance
mkdir -p "$tmp/aggonly" "$tmp/aggdata"
grep -v '^"gemm/avx512/M:256/N:256/K:256/threads:1",' $fix/matbench.csv >"$tmp/aggonly/matbench.csv"
$py plots/results.py plan "$tmp/aggonly" "$tmp/aggdata" >/dev/null 2>&1
check "aggregates only: the median is plotted" grep -qx "256 $med" "$tmp/aggdata/size-gemm-t1__avx512.dat"
check "peers come from the context (blas libxsmm onednn)" grep -q "peers='blas libxsmm onednn'" "$tmp/jobs"
check "speedup bars only where blas ran (no add/softmax)" \
    test "$(grep -c 'speedup-add\|speedup-softmax' "$tmp/jobs")" -eq 0

# ---- robustness: missing ceilings, CSV only, JSON only --------------------------------------------------
mkdir -p "$tmp/nopeak" "$tmp/csvonly" "$tmp/jsononly"
$py -c 'import json, sys
d = json.load(open(sys.argv[1]))
d["context"] = {k: v for k, v in d["context"].items() if not k.startswith(("peak_", "triad_"))}
json.dump(d, open(sys.argv[2], "w"), indent=2)' $fix/matbench.json "$tmp/nopeak/matbench.json"
cp $fix/matbench.csv "$tmp/nopeak/"
cp $fix/matbench.csv "$tmp/csvonly/"
cp $fix/matbench.json "$tmp/jsononly/"
for variant in nopeak csvonly jsononly; do
    MB_PLOTS_DIR=$tmp/out-$variant plots/plots.sh "$tmp/$variant" >/dev/null 2>"$tmp/$variant.err"
    rc=$?
    check "plots.sh ($variant): exit 0, no stderr, $nfiles files" \
        test $rc -eq 0 -a ! -s "$tmp/$variant.err" -a "$(ls "$tmp/out-$variant" | wc -l)" -eq $nfiles
done
plots/plots.sh "$tmp/empty-dir" >/dev/null 2>"$tmp/nodir.err"
check "plots.sh: missing results is an error with a message" test $? -ne 0 -a -s "$tmp/nodir.err"

# ---- report ------------------------------------------------------------------------------------------
rep=$tmp/results/fixturevm
mkdir -p "$rep"
cp $fix/matbench.csv $fix/matbench.json "$rep/"
MB_PLOTS_DIR=$out scripts/report.sh "$rep" >/dev/null 2>"$tmp/report.err"
check "report.sh exits 0, writes REPORT.md" test $? -eq 0 -a -s "$rep/REPORT.md"
for section in "## Machine" "## Best variant per op and shape" "### bgemm" "### attention" "## Counters" \
               "## Validation" "## Plots"; do
    check "REPORT.md has '$section'" grep -qx "$section" "$rep/REPORT.md"
done
check "REPORT.md: machine from the context (compiler, OpenBLAS core)" \
    grep -q '| compiler | gcc 12.2.0 |' "$rep/REPORT.md"
check "REPORT.md: measured peaks table" grep -q '| avx512 FMA peak | 150.2 GFLOP/s | 296.8 GFLOP/s |' "$rep/REPORT.md"
# gemm 1024^3, 1 thread: avx512 is the best own variant; its ratio against blas is time(blas)/time(avx512)
ratio=$(awk -F, '$1 ~ /^"gemm\/(avx512|blas)\/M:1024\/N:1024\/K:1024\/threads:1"$/ {t[$1 ~ /blas/] = $3}
                END {printf "%.2fx", t[1] / t[0]}' $fix/matbench.csv)
check "REPORT.md: best gemm 1024 is avx512 at $ratio vs blas" \
    grep -q "^| M=N=K=1024 | 1 | avx512 | .* | $ratio | " "$rep/REPORT.md"
check "REPORT.md: element-wise ops in GB/s" grep -q '| shape | threads | best | GB/s |' "$rep/REPORT.md"
check "REPORT.md: counter status unavailable, with the reason" \
    grep -q 'Hardware counters (PAPI): unavailable: PAPI_library_init' "$rep/REPORT.md"
check "REPORT.md: no sim.csv -> no simulated counts" grep -q 'Simulated counts: none' "$rep/REPORT.md"
check "REPORT.md: 221 validated, 3 error rows (1 failed, 2 unsupported)" \
    grep -q "221 instances validated and timed, 3 error rows: 1 failed (validation or kernel error), 2 not supported" "$rep/REPORT.md"
check "REPORT.md: error messages listed" grep -q 'max abs error 3.1e-02' "$rep/REPORT.md"
broken=0
links=$(grep -oE '\]\([^)]*\.(png|svg)\)' "$rep/REPORT.md" | cut -c3- | tr -d ')' | sort -u)
for link in $links; do
    [ -s "$rep/$link" ] || { echo "    dangling link: $link"; broken=$((broken + 1)); }
done
check "REPORT.md: $nfiles plot links, all resolve from the results directory" \
    test $broken -eq 0 -a "$(echo "$links" | wc -l)" -eq $nfiles
printf 'program,instructions\nx,1\ny,2\n' >"$rep/sim.csv"
MB_PLOTS_DIR=$out scripts/report.sh "$rep" >/dev/null 2>&1
check "REPORT.md: sim.csv present -> simulated counts" grep -q 'Simulated counts (valgrind.*2 rows' "$rep/REPORT.md"

# ---- compare -----------------------------------------------------------------------------------------
cp $fix/matbench.json "$tmp/a.json"
scripts/compare.sh "$tmp/a.json" $fix >"$tmp/cmp.out" 2>&1
rc=$?
# (plus one U-test _pvalue row for the instance with repetitions, not counted)
rows=$(grep '/threads:' "$tmp/cmp.out" | grep -vc '_pvalue')
n=$($py -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["benchmarks"]))' $fix/matbench.json)
check "compare.sh: one row per benchmark entry ($rows of $n)" test $rc -eq 0 -a "$rows" -eq "$n"
scripts/compare.sh "$tmp/a.json" >/dev/null 2>&1
check "compare.sh: a missing argument is a usage error (exit 2)" test $? -eq 2
scripts/compare.sh "$tmp/a.json" "$tmp/nope.json" >/dev/null 2>"$tmp/cmp.err"
check "compare.sh: a missing file is named (exit 1)" test $? -eq 1 -a -n "$(grep nope.json "$tmp/cmp.err")"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
