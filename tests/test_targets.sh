#!/usr/bin/env bash
# test_targets.sh: `make targets` (scripts/targets.sh) on a short run (2 runs x 2 repetitions of 1 iteration):
# both files written, every target row carries the verdict its printed medians give, the range column is there
# with several runs, and a failing run leaves no table and no temporary files. Env: MB_BIN; cwd = repo root.
. "$(dirname "$0")/cli_lib.sh"

MB_RUNS=2 MB_REPS=2 MB_MIN_TIME=1x bash scripts/targets.sh "$bin/matbench" "$t/out" >"$t/stdout" 2>"$t/stderr"
check "exits 0" test $? -eq 0
check "TARGETS.md written" test -s "$t/out/TARGETS.md"
check "targets.json holds both runs" /usr/bin/python3 -c "
import json, sys; d = json.load(open('$t/out/targets.json')); sys.exit(len(d['runs']) != 2 or not d['runs'][1]['benchmarks'])"
check "no temporary files left" bash -c "[ -z \"\$(ls -A '$t/out' | grep -v -e '^TARGETS.md\$' -e '^targets.json\$')\" ]"
md="$t/out/TARGETS.md"
check "header names 2 runs" grep -q '^`make targets`: 2 runs of 2 repetitions' "$md"
check "the peaks' range is shown" grep -qE 'AVX2 [0-9.]+ \([0-9.]+-[0-9.]+\)' "$md"
check "the CPU is named" grep -qE ', CPU .+ \(ISA: [a-z0-9 ]+' "$md"
check "21 table rows with a range column" test "$(grep -cE '^\| [^|]+ \| [^|]+ \| (-|[0-9.]+-[0-9.]+)( / (-|[0-9.]+-[0-9.]+))* \|' "$md")" -eq 21
# each verdict from the printed medians: met iff every median >= the target
check "every verdict follows from its medians" /usr/bin/python3 - "$md" <<'EOF'
import re, sys
rows = [l.split("|")[1:-1] for l in open(sys.argv[1]) if l.startswith("| ") and not l.startswith("| what")]
bad = 0
for what, med, rng, target, verdict in rows:
    m = re.match(r" >= ([0-9.]+)", target)
    if not m:
        bad += verdict.strip() != ""
        continue
    cells = med.split(" / ")
    if verdict.strip().startswith("not measured ("):  # an ISA this CPU lacks: nothing measured
        bad += any(c.strip() != "-" for c in cells)
        continue
    if any(c.strip() == "-" for c in cells):  # a peer not installed
        bad += verdict.strip() != "not all measured"
        continue
    vals = [float(c) for c in cells]
    bad += verdict.strip() != ("met" if min(vals) >= float(m.group(1)) else "**missed**")
sys.exit(bad)
EOF

# without AVX-512 (MB_ISA caps it; on a CPU without it the same): its rows say why they are empty, the rows
# not about one ISA (batched, attention, add, 2 threads) come from the AVX2 variants and carry numbers
MB_ISA=avx2 MB_RUNS=1 MB_REPS=1 MB_MIN_TIME=1x bash scripts/targets.sh "$bin/matbench" "$t/avx2" >/dev/null 2>&1
check "capped at AVX2: exits 0" test $? -eq 0
m2="$t/avx2/TARGETS.md"
check "... AVX-512 peak not claimed" grep -q 'AVX-512 not on this CPU' "$m2"
check "... AVX-512 SGEMM rows say why they are empty" \
    test "$(grep -cE '^\| \.\.\. (of the AVX-512 FMA peak|x OpenBLAS|x oneDNN) \| - / - / - / - \| >= [0-9.]+ \| not measured \(capped by MB_ISA\) \|$' "$m2")" -eq 3
check "... batched, attention, add from avx2 with numbers" \
    test "$(grep -cE '^\| (batched 10x5 @ 5x8|attention|broadcast add) \(avx2\)[^|]*\| [0-9.]+' "$m2")" -eq 3
check "... 2-thread row from avx2" grep -qE '^\| SGEMM avx2 2 threads x 1 thread, n = 1024 / 2048 \| [0-9.]+ / [0-9.]+ \|' "$m2"

# a run that fails (a binary that is not there): no table, nothing left behind
bash scripts/targets.sh "$t/no-such-matbench" "$t/bad" >/dev/null 2>&1
check "a failed run exits non-zero" test $? -ne 0
check "... and writes no table" test ! -e "$t/bad/TARGETS.md"
check "... and leaves no temporary directory" bash -c "[ -z \"\$(ls -A '$t/bad')\" ]"

finish
