#!/bin/sh
# plots.sh RESULTS_DIR: PNG and SVG plots of a matbench run (RESULTS_DIR/matbench.csv, context from
# matbench.json) into $MB_PLOTS_DIR (default: this directory, plots/).
# plots/results.py reads the results and writes gnuplot data files plus one job per plot
# (script, output name, gnuplot variables); each job is one gnuplot run of plots/<script>.gp.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -ne 1 ]; then
    echo "usage: plots/plots.sh RESULTS_DIR   (output: \$MB_PLOTS_DIR, default plots/)" >&2
    exit 2
fi
rdir=$1
if [ ! -f "$rdir/matbench.csv" ] && [ ! -f "$rdir/matbench.json" ]; then
    echo "plots.sh: no matbench.csv or matbench.json in '$rdir' (run 'make bench' first)" >&2
    exit 1
fi
for tool in gnuplot /usr/bin/python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "plots.sh: $tool not found (Debian: gnuplot-nox, python3)" >&2; exit 1; }
done
out=${MB_PLOTS_DIR:-$here}
mkdir -p "$out"
out=$(cd "$out" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

/usr/bin/python3 "$here/results.py" plan "$rdir" "$tmp" >"$tmp/jobs"
# plots an earlier run made but this one does not (a variant or shape gone) must not linger
for kind in batch size roofline speedup; do
    rm -f "$out/$kind"-*.png "$out/$kind"-*.svg
done

tab=$(printf '\t')
n=0 failed=0
while IFS=$tab read -r script stem code; do
    if gnuplot -e "datadir='$tmp'; outdir='$out'; gpdir='$here'; $code" "$here/$script.gp"; then
        n=$((n + 1))
    else
        echo "plots.sh: gnuplot failed on $stem ($script.gp)" >&2
        failed=$((failed + 1))
    fi
done <"$tmp/jobs"
echo "plots.sh: $n plots (PNG + SVG) in $out"
if [ "$failed" -ne 0 ]; then
    echo "plots.sh: $failed plots failed" >&2
    exit 1
fi
