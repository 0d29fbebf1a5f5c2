#!/usr/bin/env bash
# targets.sh MATBENCH RESULTS_DIR   (what `make targets` runs)
#
# The performance table of issue 4, measured: runs only the rows it needs (ours and the peers, same run,
# --benchmark_repetitions=$MB_REPS (default 3) of --benchmark_min_time=$MB_MIN_TIME (default 0.3 s)), keeps
# the medians, and writes RESULTS_DIR/targets.json (the runs) and RESULTS_DIR/TARGETS.md (the table), whole
# or not at all. Repetitions run in Google Benchmark's random interleaving (fixed seed), so a slow phase of
# the VM falls on ours and the peers' repetitions alike instead of on whichever ran in it (run in turn, ours
# read 0.90x oneDNN at n = 1024 in one run where interleaved runs read 0.97-1.0x). Ratios are peer time /
# our time (> 1: ours faster) from wall-clock medians of the same run, so the 2-thread rows are honest. MB_RUNS (default 1) repeats the whole run: each figure is then the median
# of the runs' figures, with their range, because this VM drifts by 5-10 % over minutes (peers and ours, not
# together). Fractions of peak are a variant's best repetition against the best FMA peak seen (each run's own
# and one `--mb_peak` after each run; 180-240 GFLOP/s AVX-512 were read within minutes): best against best.
# A peer that is not installed gives "-", never a number.
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 MATBENCH RESULTS_DIR" >&2
    exit 2
fi
bin=$1 dir=$2
runs=${MB_RUNS:-1}
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
n='(256|512|1024|2048)'
filter="^(gemm/(avx512|avx2|tiled|blas|onednn)/M:$n/N:$n/K:$n/threads:1"
filter+="|gemm/(avx512|avx2)/M:(1024|2048)/N:(1024|2048)/K:(1024|2048)/threads:2"
filter+="|bgemm/(avx512|avx2|blas|libxsmm)/B:(32|64|128|256)/M:10/N:8/K:5/bcast:0/threads:1"
filter+="|bgemm/(avx512|avx2|blas|libxsmm)/B:(32|64|256)/M:64/N:64/K:64/bcast:0/threads:1"
filter+="|attention/(avx512|avx2|blas|onednn)/BH:32/S:1024/D:64/causal:(0|1)/threads:1"
filter+="|add/(avx512|avx2)/shape:4096x4096\+4096/threads:1)$"

mkdir -p "$dir"
tmp=$(mktemp -d "$dir/.targets.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for r in $(seq 1 "$runs"); do
    [ "$runs" -gt 1 ] && echo "targets.sh: run $r of $runs" >&2
    "$bin" --benchmark_filter="$filter" --benchmark_repetitions="${MB_REPS:-3}" \
        --benchmark_min_time="${MB_MIN_TIME:-0.3}" --benchmark_display_aggregates_only=true \
        --benchmark_enable_random_interleaving=true \
        --benchmark_out="$tmp/run$r.json" --benchmark_out_format=json >&2
    "$bin" --mb_peak >"$tmp/peaks$r.txt"
done

/usr/bin/python3 - "$tmp" "$runs" <<'EOF'
import json, re, statistics, sys

tmp, nruns = sys.argv[1], int(sys.argv[2])
runs = [json.load(open(f"{tmp}/run{r}.json")) for r in range(1, nruns + 1)]

# peaks: every run's context and every --mb_peak after a run; the best is the machine's capability
seen = {k: [] for k in ("avx512", "avx2", "sse2", "triad")}
for r, run in enumerate(runs, 1):
    ctx = run["context"]
    for k in ("avx512", "avx2", "sse2"):
        seen[k].append(float(ctx.get(f"peak_gflops_{k}_1t", "nan")))
    seen["triad"].append(float(ctx.get("triad_gbs_1t", "nan")))
    for line in open(f"{tmp}/peaks{r}.txt"):  # "<isa> GFLOP/s (fp32)  <1 thread>  <all>", "triad GB/s  <1>  <all>"
        m = re.match(r"(\w+) +(?:GFLOP/s \(fp32\)|GB/s) +([0-9.]+)", line)
        if m and m.group(1) in seen:
            seen[m.group(1)].append(float(m.group(2)))
seen = {k: [x for x in v if x == x] for k, v in seen.items()}  # NaN: not measured
peak = {k: max(v) if v else float("nan") for k, v in seen.items()}
spread = lambda k: f"{peak[k]:g}" + (f" ({min(seen[k]):g}-{max(seen[k]):g})" if len(seen[k]) > 1 else "")

# the widest SIMD ISA this CPU runs (the context's isa, "avx512 avx2 scalar", capped by MB_ISA): the rows
# that are not about one ISA (batched, attention, add, 2 threads, tiled against SIMD) use its variant, so an
# AVX2-only machine still gets a table; the AVX-512 SGEMM rows then say why they are empty
ctx = runs[0]["context"]
isa = ctx.get("isa", "")
simd = "avx512" if isa.split()[:1] == ["avx512"] else "avx2"
SIMD = {"avx512": "AVX-512", "avx2": "AVX2"}[simd]
why_empty = {} if simd == "avx512" else {"avx512": "capped by MB_ISA" if "capped" in isa else "CPU lacks AVX-512"}

# one run's figures for a benchmark: its wall-clock median (ns) for the ratios between variants, and rates per
# wall-clock second (GB's rate counters are per CPU second) of its median or, against a peak, of its best
# repetition: the peak is a best-of-tries too, and best against best is like for like on a VM that drifts
def timer(med):
    return lambda name: med[name]["real_time"] if name in med else None

def rater(med, best):
    def rate(name, key, of=med):
        b = of.get(name)
        return b[key] * b["cpu_time"] / b["real_time"] / 1e9 if b and key in b else None
    rate.best = lambda name, key: rate(name, key, best)
    return rate

# rows: (label, [f(t, rate) -> float or None per column], target, digits)
g = lambda v, s, th=1: f"gemm/{v}/M:{s}/N:{s}/K:{s}/threads:{th}"
bt = lambda v, b: f"bgemm/{v}/B:{b}/M:10/N:8/K:5/bcast:0/threads:1"
b6 = lambda v, b: f"bgemm/{v}/B:{b}/M:64/N:64/K:64/bcast:0/threads:1"
at = lambda v, c: f"attention/{v}/BH:32/S:1024/D:64/causal:{c}/threads:1"
ADD = f"add/{simd}/shape:4096x4096+4096/threads:1"
sizes, small = (256, 512, 1024, 2048), (256, 512, 1024)  # the suite keeps the portable variants off 2048

def ratio(peer, ours):
    return lambda t, rate: t(peer) / t(ours) if t(peer) and t(ours) else None

def frac(name, isa):
    return lambda t, rate: rate.best(name, "FLOPS") / peak[isa] if rate.best(name, "FLOPS") and peak[isa] == peak[isa] \
        else None

def gflops(name):
    return lambda t, rate: rate(name, "FLOPS")

# rows: (label, columns, target, digits, the ISA the row needs or None); a row whose ISA this CPU lacks is
# "not measured (why)", not "missed"
rows = [
    ("SGEMM avx512 n = 256 / 512 / 1024 / 2048, GFLOP/s", [gflops(g("avx512", s)) for s in sizes], "", 0, "avx512"),
    ("... of the AVX-512 FMA peak", [frac(g("avx512", s), "avx512") for s in sizes], ">= 0.93", 2, "avx512"),
    ("... oneDNN's, for reference", [frac(g("onednn", s), "avx512") for s in sizes], "", 2, "avx512"),
    ("... x OpenBLAS", [ratio(g("blas", s), g("avx512", s)) for s in sizes], ">= 1.9", 2, "avx512"),
    ("... x oneDNN", [ratio(g("onednn", s), g("avx512", s)) for s in sizes], ">= 1.0", 2, "avx512"),
    ("SGEMM avx2 n = 256 / 512 / 1024 / 2048, GFLOP/s", [gflops(g("avx2", s)) for s in sizes], "", 0, "avx2"),
    ("... of the AVX2 FMA peak", [frac(g("avx2", s), "avx2") for s in sizes], ">= 0.9", 2, "avx2"),
    ("... x OpenBLAS (Haswell: AVX2 too)", [ratio(g("blas", s), g("avx2", s)) for s in sizes], "", 2, "avx2"),
    ("... x oneDNN", [ratio(g("onednn", s), g("avx2", s)) for s in sizes], "", 2, "avx2"),
    (f"SGEMM {simd} 2 threads x 1 thread, n = 1024 / 2048", [ratio(g(simd, s), g(simd, s, 2)) for s in (1024, 2048)],
     ">= 1.8", 2, None),
    ("SGEMM tiled C n = 256 / 512 / 1024, of the SSE2 peak (its ISA)", [frac(g("tiled", s), "sse2") for s in small],
     ">= 0.35", 2, None),
    (f"... of the {SIMD} peak", [frac(g("tiled", s), simd) for s in small], "", 2, None),
    (f"batched 10x5 @ 5x8 ({simd}), B = 32 / 64 / 128 / 256, x OpenBLAS loop",
     [ratio(bt("blas", b), bt(simd, b)) for b in (32, 64, 128, 256)], ">= 8", 2, None),
    ("... x LIBXSMM", [ratio(bt("libxsmm", b), bt(simd, b)) for b in (32, 64, 128, 256)], ">= 1.0", 2, None),
    (f"batched 64^3 ({simd}), B = 32 / 64 / 256, x OpenBLAS loop",
     [ratio(b6("blas", b), b6(simd, b)) for b in (32, 64, 256)], ">= 2.2", 2, None),
    ("... x LIBXSMM", [ratio(b6("libxsmm", b), b6(simd, b)) for b in (32, 64, 256)], "", 2, None),
    ("... LIBXSMM x OpenBLAS loop, for reference", [ratio(b6("blas", b), b6("libxsmm", b)) for b in (32, 64, 256)],
     "", 2, None),
    (f"attention ({simd}) BH 32, S 1024, d 64, causal 0 / 1, x naive-BLAS",
     [ratio(at("blas", c), at(simd, c)) for c in (0, 1)], ">= 4.5", 2, None),
    ("... x oneDNN GEMMs + vector softmax", [ratio(at("onednn", c), at(simd, c)) for c in (0, 1)], ">= 1.1", 2, None),
    (f"broadcast add ({simd}) 4096x4096 + 4096 (64 MiB), GB/s", [lambda t, rate: rate(ADD, "bytes_per_second")], "",
     1, None),
    ("... x triad", [lambda t, rate: rate(ADD, "bytes_per_second") / peak["triad"] if rate(ADD, "bytes_per_second")
                     else None], ">= 0.9", 2, None),
]

per_run = []  # [run][row][column]
for run in runs:
    ok = [b for b in run["benchmarks"] if not b.get("error_occurred")]
    best = {}
    for b in ok:
        if b.get("run_type") == "iteration" and (b["run_name"] not in best or b["real_time"] < best[b["run_name"]]["real_time"]):
            best[b["run_name"]] = b
    med = dict(best)  # MB_REPS=1: no aggregates
    med.update({b["run_name"]: b for b in ok if b.get("aggregate_name") == "median"})
    t, rate = timer(med), rater(med, best)
    per_run.append([[f(t, rate) for f in fs] for _, fs, _, _, _ in rows])

out_rows = []
for i, (what, fs, target, dig, needs) in enumerate(rows):
    cols = [[per_run[r][i][c] for r in range(nruns) if per_run[r][i][c] is not None] for c in range(len(fs))]
    fmt = lambda x: f"{x:.{dig}f}"
    measured = " / ".join(fmt(statistics.median(v)) if v else "-" for v in cols)
    rng = " / ".join(f"{fmt(min(v))}-{fmt(max(v))}" if v else "-" for v in cols) if nruns > 1 else ""
    verdict = ""
    m = re.match(r">= ([0-9.]+)", target)
    if needs in why_empty:
        verdict = f"not measured ({why_empty[needs]})" if target else ""
    elif m:  # on the medians as printed
        if any(not v for v in cols):
            verdict = "not all measured"
        else:
            verdict = "met" if all(float(fmt(statistics.median(v))) >= float(m.group(1)) for v in cols) else "**missed**"
    out_rows.append((what, measured, rng, target, verdict))

head = ["| what | " + ("median of the runs | range" if nruns > 1 else "measured") + " | target | |",
        "|---|---|" + ("---|" if nruns > 1 else "") + "---|---|"]
out = [f"# Issue-4 targets on {ctx.get('host_name', '?')}", "",
       f"`make targets`: {nruns} run{'s' if nruns > 1 else ''} of {runs[0]['benchmarks'][0]['repetitions'] if runs[0]['benchmarks'] else '?'} "
       f"repetitions, randomly interleaved (medians of wall-clock time), {ctx.get('date', '')}" +
       (f" to {runs[-1]['context'].get('date', '')}" if nruns > 1 else "") +
       f", git {ctx.get('git_revision', '?')}, CPU {ctx.get('cpu_model', '?')} (ISA: {isa or '?'}), OpenBLAS core {ctx.get('openblas_core', '?')}, peers: "
       f"{ctx.get('peers', '?')}.",
       f"Measured peaks (1 thread; the best of {max(len(v) for v in seen.values())} measurements, at the start of each run and "
       f"after it, their range in brackets): AVX-512 {spread('avx512') if seen['avx512'] else 'not on this CPU'}, AVX2 {spread('avx2')}, SSE2 "
       f"{spread('sse2')} GFLOP/s; triad {spread('triad')} GB/s. Fractions of peak: a variant's best repetition "
       f"against that best peak. Ratios: peer time / our time, medians of the same run.", ""]
out += head
for what, measured, rng, target, verdict in out_rows:
    out.append(f"| {what} | {measured} | " + (f"{rng} | " if nruns > 1 else "") + f"{target} | {verdict} |")
open(f"{tmp}/TARGETS.md", "w").write("\n".join(out) + "\n")
json.dump({"runs": runs, "peaks_seen": seen}, open(f"{tmp}/targets.json", "w"), indent=1)
EOF
mv "$tmp/targets.json" "$dir/targets.json"
mv "$tmp/TARGETS.md" "$dir/TARGETS.md"
cat "$dir/TARGETS.md"
