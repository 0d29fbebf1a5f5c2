#!/bin/sh
# report.sh RESULTS_DIR: write RESULTS_DIR/REPORT.md from a matbench run (matbench.csv + matbench.json,
# sim.csv when `make bench-sim` ran): machine, best variant per op and shape against blas and the peers,
# counter status, validation summary and the plots of `make plots` ($MB_PLOTS_DIR, default plots/).
# The tables come from plots/results.py, which the plots use too, so both read the results the same way.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -ne 1 ]; then
    echo "usage: scripts/report.sh RESULTS_DIR" >&2
    exit 2
fi
rdir=$1
if [ ! -f "$rdir/matbench.csv" ] && [ ! -f "$rdir/matbench.json" ]; then
    echo "report.sh: no matbench.csv or matbench.json in '$rdir' (run 'make bench' first)" >&2
    exit 1
fi
tmp=$(mktemp "$rdir/.REPORT.md.XXXXXX")
trap 'rm -f "$tmp"' EXIT INT TERM
/usr/bin/python3 "$root/plots/results.py" report "$rdir" "${MB_PLOTS_DIR:-$root/plots}" >"$tmp"
chmod 644 "$tmp"
mv "$tmp" "$rdir/REPORT.md"   # whole or not at all
echo "report.sh: wrote $rdir/REPORT.md"
