#!/usr/bin/env bash
# bench-sim.sh MATBENCH RESULTS_DIR [FILTER]   (what `make bench-sim FILTER=...` runs)
#
# Simulated counts where the hardware has no counters: each selected benchmark runs in its own
# `valgrind --tool=callgrind --cache-sim=yes --instr-atstart=no` with --mb_sim. The suite turns
# instrumentation on when it prepares the benchmark (start-up is not simulated; the run-once and the
# validation warm the simulated caches, as on hardware), zeroes callgrind's counters right before the timed
# loop and dumps them right after (CALLGRIND_ZERO_STATS / DUMP_STATS_AT: unlike TOGGLE_COLLECT, which is
# per thread, these cover the OpenMP workers too). Per iteration: instructions (Ir), D1 misses (D1mr +
# D1mw) and LL misses (DLmr + DLmw, data): the dumps' totals divided by the iterations the suite reports it
# ran (matbench runs 1 under --mb_sim). Written to RESULTS_DIR/sim.csv and sim.json, whole or not at all.
#
# valgrind 3.19 cannot execute AVX-512 and hides it from CPUID, so the AVX-512 variants fail their
# prepare step under it ("CPU lacks avx512") and are listed as not simulated; peers dispatching on CPUID
# fall back to AVX2. Select few benchmarks: callgrind runs ~50-100x slower than the hardware.
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 MATBENCH RESULTS_DIR [FILTER]" >&2
    exit 2
fi
bin=$1 dir=$2 filter=${3:-}
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
export OMP_WAIT_POLICY=passive # spinning OpenMP workers only burn simulated time
command -v valgrind >/dev/null || { echo "$0: valgrind not found (apt-get install valgrind)" >&2; exit 1; }

mapfile -t names < <("$bin" --benchmark_list_tests ${filter:+--benchmark_filter="$filter"})
if [ ${#names[@]} -eq 0 ]; then
    echo "$0: no benchmark matches '$filter'" >&2
    exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$dir"

i=0
for name in "${names[@]}"; do
    i=$((i + 1))
    printf '[%d/%d] %s\n' "$i" "${#names[@]}" "$name" >&2
    re="^$(printf '%s' "$name" | sed 's/[][\.*^$+?(){}|]/\\&/g')\$"
    rc=0
    valgrind --tool=callgrind --cache-sim=yes --instr-atstart=no --smc-check=all-non-file \
        --callgrind-out-file="$work/$i.cg" \
        "$bin" --benchmark_filter="$re" --mb_sim --benchmark_format=json \
        >"$work/$i.json" 2>"$work/$i.err" || rc=$?
    printf '%s\n%s\n' "$name" "$rc" >"$work/$i.meta"
done

/usr/bin/python3 - "$work" "$i" "$dir" "$(valgrind --version)" <<'EOF'
import glob, json, os, re, sys

work, n, out_dir, vg = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
label = "simulated (%s callgrind, --cache-sim=yes)" % vg
rows, caches = [], {}
for i in range(1, n + 1):
    name, rc = open(f"{work}/{i}.meta").read().split("\n")[:2]
    row = {"name": name, "status": "", "iterations": None, "instructions": None, "d1_misses": None,
           "ll_misses": None, "label": label}
    err = open(f"{work}/{i}.err", errors="replace").read()
    try:
        bench = json.load(open(f"{work}/{i}.json"))["benchmarks"]
        b = next(r for r in bench if r["name"] == name)
    except (ValueError, KeyError, StopIteration):
        b = None
    if b is None:
        row["status"] = "error: valgrind/matbench exit %s: %s" % (rc, (err.strip().splitlines() or [""])[-1][:200])
    elif b.get("error_occurred"):
        msg = b.get("error_message", "")
        row["status"] = ("not simulated: valgrind 3.19 cannot execute AVX-512 (%s)" % msg
                         if "avx512" in msg.lower() else "error: " + msg)
    else:
        m = re.search(r"^matbench-sim: %s collected_iterations=(\d+)$" % re.escape(name), err, re.M)
        # one dump per timed call (<out>.1, .2, ...); the file without suffix holds the rest of the process.
        # "totals:" is the sum of the cost lines (all threads); "summary:" is unreliable after ZERO_STATS.
        ev, tot = None, None
        for path in glob.glob(f"{work}/{i}.cg.*"):
            for line in open(path, errors="replace"):
                if line.startswith("events:"):
                    ev = line.split()[1:]
                elif line.startswith("totals:"):
                    t = [int(x) for x in line.split()[1:]]
                    tot = [a + b for a, b in zip(tot or [0] * 16, t + [0] * (16 - len(t)))]
                elif line.startswith("desc:") and "cache:" in line:
                    k, v = line[5:].split(":", 1)
                    caches[k.strip()] = v.strip()
        if not m or not ev or not tot:
            row["status"] = "error: no callgrind dump of the timed loop"
        else:
            it = int(m.group(1))
            c = dict(zip(ev, tot))
            row.update(status="simulated", iterations=it, instructions=c.get("Ir", 0) / it,
                       d1_misses=(c.get("D1mr", 0) + c.get("D1mw", 0)) / it,
                       ll_misses=(c.get("DLmr", 0) + c.get("DLmw", 0)) / it)
    rows.append(row)

def fmt(v):
    return "" if v is None else "%.6g" % v

def q(s):
    return '"' + s.replace('"', '""') + '"'

cols = ["name", "status", "iterations", "instructions", "d1_misses", "ll_misses", "label"]
with open(f"{out_dir}/.sim.csv.tmp", "w") as f:
    f.write(",".join(cols) + "\n")
    for r in rows:
        f.write(",".join([q(r["name"]), q(r["status"]), fmt(r["iterations"]), fmt(r["instructions"]),
                          fmt(r["d1_misses"]), fmt(r["ll_misses"]), q(r["label"])]) + "\n")
ctx = {"tool": label, "per": "iteration (instructions = Ir; d1_misses = D1mr + D1mw; ll_misses = DLmr + DLmw)",
       "simulated_caches": caches, "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "")}
with open(f"{out_dir}/.sim.json.tmp", "w") as f:
    json.dump({"context": ctx, "benchmarks": rows}, f, indent=2)
os.replace(f"{out_dir}/.sim.csv.tmp", f"{out_dir}/sim.csv")
os.replace(f"{out_dir}/.sim.json.tmp", f"{out_dir}/sim.json")
for r in rows:
    if r["status"] == "simulated":
        print("%-60s %12.0f instr %10.0f D1 miss %10.0f LL miss  per iteration" %
              (r["name"], r["instructions"], r["d1_misses"], r["ll_misses"]))
    else:
        print("%-60s %s" % (r["name"], r["status"]))
print("bench-sim.sh: wrote %s/sim.csv and %s/sim.json (%s)" % (out_dir, out_dir, label), file=sys.stderr)
EOF
