#!/usr/bin/env bash
# bench.sh MATBENCH RESULTS_DIR [FILTER] [matbench args...]   (what `make bench` runs)
#
# Runs the default suite once: the console table on the terminal, the JSON report to a temporary file;
# the CSV (Google Benchmark's CSV layout, no context header: the context is in the JSON) is converted from
# that JSON, so the suite is not run twice. RESULTS_DIR/matbench.json and .csv appear whole or not at all
# (temporary names in the same directory, then rename); a failed run leaves the previous results alone.
#
# Bounded time: --benchmark_min_time=$MB_MIN_TIME (default 0.05 s per instance; the suite's own size limits
# keep the slow portable variants off the largest problems). Extra args go to matbench after ours, so they
# win (e.g. --benchmark_repetitions=3, --mb_quick).
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 MATBENCH RESULTS_DIR [FILTER] [matbench args...]" >&2
    exit 2
fi
bin=$1 dir=$2 filter=${3:-}
shift $(($# < 3 ? $# : 3))
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell} # older OpenBLAS misdetects newer CPUs
py=/usr/bin/python3

mkdir -p "$dir"
tmp=$(mktemp "$dir/.matbench.XXXXXX")
trap 'rm -f "$tmp" "$tmp.json" "$tmp.csv"' EXIT

args=(--benchmark_min_time="${MB_MIN_TIME:-0.05}" --benchmark_out="$tmp.json" --benchmark_out_format=json)
[ -n "$filter" ] && args+=(--benchmark_filter="$filter")
start=$SECONDS
"$bin" "${args[@]}" "$@"
if [ ! -s "$tmp.json" ]; then # GB's way: a filter matching nothing exits 0 and reports nothing
    echo "bench.sh: nothing measured; $dir left as it was" >&2
    exit 1
fi

# JSON -> CSV, as matbench's own CSV reporter writes it (Google Benchmark's CSVReporter): fixed header,
# then every user counter (the union over all rows, sorted) quoted; error rows are short (10 fields); cv
# rows are ratios without a time unit.
"$py" - "$tmp.json" "$tmp.csv" <<'EOF'
import json, sys

FIXED = {"name", "family_index", "per_family_instance_index", "run_name", "run_type", "repetitions",
         "repetition_index", "threads", "iterations", "real_time", "cpu_time", "time_unit", "bytes_per_second",
         "items_per_second", "label", "error_occurred", "error_message", "aggregate_name", "aggregate_unit",
         "big_o", "rms", "skipped", "skip_message"}
HEADER = ("name,iterations,real_time,cpu_time,time_unit,bytes_per_second,items_per_second,label,"
          "error_occurred,error_message")

def q(s):
    return '"' + s.replace('"', '""') + '"'

def g(v):
    return "" if v is None else "%g" % v

with open(sys.argv[1]) as f:
    rows = json.load(f)["benchmarks"]
counters = sorted({k for r in rows for k in r if k not in FIXED}, key=lambda k: k.encode())
with open(sys.argv[2], "w") as out:
    out.write(HEADER + "".join(',"%s"' % c for c in counters) + "\n")
    for r in rows:
        if r.get("error_occurred"):
            out.write(q(r["name"]) + ",,,,,,,,true," + q(r.get("error_message", "")) + "\n")
            continue
        unit = "" if r.get("aggregate_unit") == "percentage" else r.get("time_unit", "")
        f = [q(r["name"]), str(r.get("iterations", "")), g(r.get("real_time")), g(r.get("cpu_time")), unit,
             g(r.get("bytes_per_second")), g(r.get("items_per_second")),
             q(r["label"]) if r.get("label") else "", "", ""]
        f += [g(r.get(c)) for c in counters]
        out.write(",".join(f) + "\n")
EOF

mv -f "$tmp.json" "$dir/matbench.json"
mv -f "$tmp.csv" "$dir/matbench.csv"
echo "bench.sh: wrote $dir/matbench.json and $dir/matbench.csv in $((SECONDS - start)) s" >&2
