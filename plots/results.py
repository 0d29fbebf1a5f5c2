#!/usr/bin/python3
"""results.py: read a matbench results directory (Google Benchmark 1.7.1 CSV + JSON) for the plots and
the report. Standard library only; run with Debian's /usr/bin/python3.

    results.py plan   RESULTS_DIR DATA_DIR    write gnuplot data files into DATA_DIR and print the plot
                                              jobs, one per line: <script>.gp TAB <output stem> TAB <gnuplot -e code>
    results.py report RESULTS_DIR PLOTS_DIR   print REPORT.md on stdout

Names are <op>/<variant>/<key>:<value>/.../threads:<n>. Nothing here knows a kernel or variant name except
the baseline `blas`; which variants are library peers comes from the context key "peers".
"""
import csv
import json
import math
import os
import re
import sys

BASELINE = "blas"            # the OpenBLAS variant every speedup is measured against
BATCH_KEYS = ("B", "BH")     # the argument that is the batch size (BH: batch x heads for attention)
# name components Google Benchmark itself appends; they are run settings, not part of the shape
GB_MODIFIERS = {"threads", "min_time", "min_warmup_time", "iterations", "repeats", "real_time",
                "process_time", "manual_time"}
UNIT_S = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
AGG_RE = re.compile(r"_(mean|median|stddev|cv)$")
MEMORY_BOUND_AI = 1.0        # ops whose every instance is below 1 FLOP/byte are reported in GB/s


def die(msg):
    sys.exit("results.py: " + msg)


def num(s):
    try:
        v = float(s)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


# ---- loading ------------------------------------------------------------------------------------
def load_context(rdir):
    path = os.path.join(rdir, "matbench.json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f).get("context", {})


def raw_rows(rdir):
    """Rows as dicts with the CSV column names. The CSV may start with GB's context lines."""
    path = os.path.join(rdir, "matbench.csv")
    if os.path.exists(path):
        with open(path, newline="") as f:
            lines = f.read().splitlines()
        start = next((i for i, l in enumerate(lines) if l.startswith("name,iterations,")), None)
        if start is None:
            die(path + ": no Google Benchmark CSV header (name,iterations,...)")
        return list(csv.DictReader(lines[start:]))
    path = os.path.join(rdir, "matbench.json")
    if not os.path.exists(path):
        die("no matbench.csv or matbench.json in " + rdir)
    with open(path) as f:
        rows = json.load(f).get("benchmarks", [])
    for r in rows:  # JSON says aggregate explicitly; make the CSV rule below see the same thing
        r["error_occurred"] = "true" if r.get("error_occurred") else ""
        if r.get("run_type") == "aggregate" and "aggregate_name" in r:
            r["name"] = r["run_name"] + "_" + r["aggregate_name"]
    return rows


def parse_name(name):
    parts = name.split("/")
    args, threads = [], 1
    for p in parts[2:]:
        k, sep, v = p.partition(":")
        if not sep:
            continue                       # bare modifiers such as real_time
        if k == "threads":
            threads = int(v)
        elif k not in GB_MODIFIERS:
            args.append((k, v))
    return parts[0], (parts[1] if len(parts) > 1 else ""), args, threads


def load(rdir):
    """One record per benchmark instance: the median aggregate when there were repetitions, else the
    mean of its iteration rows; an instance whose rows all failed is an error record."""
    rows = raw_rows(rdir)
    names = {r["name"] for r in rows}
    by_name, order = {}, []
    for r in rows:
        name, agg = r["name"], None
        m = AGG_RE.search(name)
        # our names end in threads:<n>, so a suffix there is an aggregate even without its runs
        # (--benchmark_report_aggregates_only)
        if m and (name[:m.start()] in names or re.search(r"/threads:\d+$", name[:m.start()])):
            name, agg = name[:m.start()], m.group(1)
        if agg not in (None, "median"):
            continue
        if name not in by_name:
            by_name[name] = {"iter": [], "median": [], "err": []}
            order.append(name)
        if r.get("error_occurred") == "true":
            by_name[name]["err"].append(r.get("error_message") or "")
        else:
            by_name[name]["median" if agg else "iter"].append(r)
    out = []
    for name in order:
        g = by_name[name]
        use = g["median"] or g["iter"]
        op, variant, args, threads = parse_name(name)
        rec = {"name": name, "op": op, "variant": variant, "args": args, "threads": threads,
               "error": None if use else "; ".join(g["err"])}
        if use:
            def mean(key):
                vals = [num(r.get(key)) for r in use]
                vals = [v for v in vals if v is not None]
                return sum(vals) / len(vals) if vals else None
            rec["time_s"] = mean("real_time") * UNIT_S.get(use[0].get("time_unit"), 1e-9)
            rec["flops"] = mean("FLOPS")          # FLOP/s
            rec["bps"] = mean("bytes_per_second")
            rec["ai"] = mean("AI")
            rec["pct"] = mean("pct_peak")
        out.append(rec)
    return out


def peers(ctx):
    return set(re.split(r"[,\s]+", str(ctx.get("peers", "")).strip())) - {""} | {BASELINE}


def peaks(ctx):
    """{'1t': [(isa, GFLOP/s), ...], 'all': [...]} sorted high to low, and {'1t': GB/s, 'all': GB/s}."""
    fl, bw = {"1t": [], "all": []}, {}
    for k, v in ctx.items():
        m = re.fullmatch(r"peak_gflops_(\w+)_(1t|all)", k)
        if m and num(v):
            fl[m.group(2)].append((m.group(1), num(v)))
        m = re.fullmatch(r"triad_gbs_(1t|all)", k)
        if m and num(v):
            bw[m.group(1)] = num(v)
    for l in fl.values():
        l.sort(key=lambda p: -p[1])
    return fl, bw


def ceiling_set(ctx, threads):
    """Which measured ceilings apply to a thread count: 1 thread, or all cores (the harness's threads_all,
    e.g. "2 (one per core, ...)", else num_cpus)."""
    if threads == 1:
        return "1t"
    m = re.match(r"\s*(\d+)", str(ctx.get("threads_all", ctx.get("num_cpus", ""))))
    return "all" if m and threads == int(m.group(1)) else None


# ---- shapes and labels ----------------------------------------------------------------------------
def batch_key(args):
    return next((k for k, _ in args if k in BATCH_KEYS), None)


def compact(args):
    """M:64/N:64/K:64 -> 'M=N=K=64': neighbours with equal values share one '=value' (never the batch)."""
    out, i = [], 0
    while i < len(args):
        j = i
        while (j + 1 < len(args) and args[j + 1][1] == args[i][1] and args[i][0] not in BATCH_KEYS
               and args[j + 1][0] not in BATCH_KEYS):
            j += 1
        out.append("=".join(k for k, _ in args[i:j + 1]) + "=" + args[i][1])
        i = j + 1
    return " ".join(out)


def slug(s):
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", s).strip("_")


def nthreads(t):
    return "%d thread%s" % (t, "" if t == 1 else "s")


def gp_str(s):
    return "'" + str(s).replace("'", "") + "'"


def ordered(items):
    return list(dict.fromkeys(items))


def value(args, key):
    return next(v for k, v in args if k == key)


# ---- plot plan ------------------------------------------------------------------------------------
def plan(rdir, ddir, emit=True):
    """Write the gnuplot data files and return the jobs [(script, stem, code)]. emit=False only lists."""
    ctx = load_context(rdir)
    recs = [r for r in load(rdir) if not r["error"]]
    host = ctx.get("host_name") or os.path.basename(os.path.abspath(rdir))
    allvars = ordered(r["variant"] for r in recs)       # fixed colour per variant across all plots
    peerset = peers(ctx)
    flpk, bwpk = peaks(ctx)
    jobs = []

    def write(fname, lines):
        if emit:
            with open(os.path.join(ddir, fname), "w") as f:
                f.write("\n".join(lines) + "\n")

    def job(script, stem, title, **kv):
        kv.update(title=title, stem=stem, variants=" ".join(allvars), peers=" ".join(sorted(peerset)))
        code = "; ".join("%s=%s" % (k, gp_str(v) if isinstance(v, str) else repr(v)) for k, v in kv.items())
        jobs.append((script, stem, code))

    def top_peak(threads):
        cs = ceiling_set(ctx, threads)
        return flpk[cs][0] if cs and flpk[cs] else ("", 0.0)

    def series(stem, recs_, xfun, stem_title, xlabel, script="lines", extra=None):
        """One data file per variant (x, GFLOP/s), sorted by x; a line plot if it has >= 2 x values."""
        pts = [r for r in recs_ if r["flops"] and r["flops"] > 0]
        if len({xfun(r) for r in pts}) < 2:
            return
        vs = sorted(ordered(r["variant"] for r in pts), key=allvars.index)
        for v in vs:
            write("%s__%s.dat" % (stem, v),
                  ["%g %g" % (x, y) for x, y in sorted((xfun(r), r["flops"] / 1e9) for r in pts if r["variant"] == v)])
        isa, pk = top_peak(pts[0]["threads"])
        ys = [r["flops"] / 1e9 for r in pts] + ([pk] if pk else [])
        job(script, stem, stem_title, xlabel=xlabel, vars=" ".join(vs), peak=pk, peak_isa=isa,
            logy=int(max(ys) / min(ys) > 20), **(extra or {}))

    # (a) throughput vs batch size: one plot per op, shape (all args but the batch) and thread count
    groups = {}
    for r in recs:
        bk = batch_key(r["args"])
        if bk:
            shape = tuple(a for a in r["args"] if a[0] != bk)
            groups.setdefault((r["op"], shape, r["threads"], bk), []).append(r)
    for (op, shape, t, bk), rs in groups.items():
        stem = slug("batch-%s-%s-t%d" % (op, "-".join(k + v for k, v in shape), t))
        series(stem, rs, lambda r, bk=bk: float(value(r["args"], bk)),
               "%s  %s  (%s, %s)" % (op, compact(list(shape)), host, nthreads(t)),
               "batch size %s (problems per call)" % bk)

    # (b) square GEMM-like ops: every arg of the shape is the same number (M=N=K), no batch
    square = {}
    for r in recs:
        vals = {v for _, v in r["args"]}
        if len(r["args"]) >= 2 and len(vals) == 1 and not batch_key(r["args"]) and num(next(iter(vals))):
            square.setdefault((r["op"], "=".join(k for k, _ in r["args"]), r["threads"]), []).append(r)
    for (op, keys, t), rs in square.items():
        series(slug("size-%s-t%d" % (op, t)), rs, lambda r: float(r["args"][0][1]),
               "%s  square %s  (%s, %s)" % (op, keys, host, nthreads(t)), "matrix size n (%s = n)" % keys)

    # (c) roofline per thread count: points (AI, GFLOP/s) per variant x op, measured ceilings
    for t in sorted({r["threads"] for r in recs}):
        pts = [r for r in recs if r["threads"] == t and r["ai"] and r["flops"] and r["ai"] > 0 and r["flops"] > 0]
        if not pts:
            continue
        stem = "roofline-t%d" % t
        ops = ordered(r["op"] for r in pts)
        pairs = ordered((r["variant"], r["op"]) for r in pts)
        for v, op in pairs:
            write("%s__%s__%s.dat" % (stem, v, op),
                  ["%g %g" % (r["ai"], r["flops"] / 1e9) for r in pts if r["variant"] == v and r["op"] == op])
        cs = ceiling_set(ctx, t)
        ceil = flpk[cs] if cs else []
        bw = bwpk.get(cs, 0.0) if cs else 0.0
        ais = [r["ai"] for r in pts]
        gfs = [r["flops"] / 1e9 for r in pts] + [p for _, p in ceil]
        job("roofline", stem, "roofline  (%s, %s)" % (host, nthreads(t)),
            vars=" ".join(ordered(v for v, _ in pairs)), ops=" ".join(ops),
            pairs=" ".join("%s__%s" % p for p in pairs),
            ceil_isa=" ".join(i for i, _ in ceil), ceil_gf=" ".join("%g" % p for _, p in ceil), bw=bw,
            xmin=10 ** math.floor(math.log10(min(ais) / 1.5)), xmax=10 ** math.ceil(math.log10(max(ais) * 1.5)),
            ymin=10 ** math.floor(math.log10(min(gfs) / 1.5)), ymax=10 ** math.ceil(math.log10(max(gfs) * 1.5)))

    # (d) speedup over the baseline, same shape and threads: bars per shape, one chart per op and thread
    # count; batched ops get one chart per shape with the batch sizes as bars, like their batch plots
    charts = {}
    for r in recs:
        bk = batch_key(r["args"])
        group = tuple(a for a in r["args"] if a[0] != bk) if bk else ()
        charts.setdefault((r["op"], group, r["threads"]), []).append(r)
    for (op, group, t), rs in charts.items():
        base = {tuple(r["args"]): r["time_s"] for r in rs if r["variant"] == BASELINE and r["time_s"] > 0}
        shapes = ordered(tuple(r["args"]) for r in rs if tuple(r["args"]) in base)
        vs = [v for v in ordered(r["variant"] for r in rs if tuple(r["args"]) in base) if v != BASELINE]
        if not shapes or not vs:
            continue
        vs.sort(key=allvars.index)
        # args that never change go to the title, the rest label the bars
        keys = ordered(k for s in shapes for k, _ in s)
        fixed = [k for k in keys if len({dict(s).get(k) for s in shapes}) == 1]
        tim = {(r["variant"], tuple(r["args"])): r["time_s"] for r in rs}
        stem = slug("speedup-%s-%s-t%d" % (op, "-".join(k + v for k, v in group), t)).replace("--", "-")
        lines, maxlabel = ["# shape " + " ".join(vs)], 0
        for s in shapes:
            label = compact([a for a in s if a[0] not in fixed]) or compact(list(s))
            cells = ["%g" % (base[s] / tim[(v, s)]) if tim.get((v, s)) else "-" for v in vs]
            lines.append('"%s" %s' % (label, " ".join(cells)))
            maxlabel = max(maxlabel, len(label))
        write(stem + ".dat", lines)
        sub = compact([a for a in shapes[0] if a[0] in fixed])
        job("speedup", stem, "%s%s  speedup over %s  (%s, %s)" % (op, "  " + sub if sub else "", BASELINE,
            host, nthreads(t)), vars=" ".join(vs), nshapes=len(shapes), baseline=BASELINE, maxlabel=maxlabel)
    return jobs


# ---- report ---------------------------------------------------------------------------------------
def human_bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return "%g %s" % (n, unit)
        n /= 1024.0


def row(cells):
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def fmt(v, nd=3):
    return "%.*g" % (nd, v) if v is not None else "-"


def report(rdir, pdir):
    ctx = load_context(rdir)
    recs = load(rdir)
    ok = [r for r in recs if not r["error"]]
    bad = [r for r in recs if r["error"]]
    peerset = peers(ctx)
    host = ctx.get("host_name") or os.path.basename(os.path.abspath(rdir))
    out = []
    w = out.append
    w("# matbench results: %s" % host)
    w("")
    w("Generated by `scripts/report.sh` from `matbench.csv` and `matbench.json` (Google Benchmark 1.7.1 formats). "
      "Run %s." % (ctx.get("date", "date unknown")))
    w("")

    w("## Machine")
    w("")
    w("| key | value |")
    w("|---|---|")
    if "num_cpus" in ctx:
        w("| CPUs | %s x %s MHz |" % (ctx["num_cpus"], ctx.get("mhz_per_cpu", "?")))
    for c in ctx.get("caches", []):
        w("| L%s %s cache | %s (shared by %s) |" % (c.get("level"), c.get("type"), human_bytes(c.get("size", 0)),
                                                    c.get("num_sharing")))
    if ctx.get("load_avg"):
        w("| load average | %s |" % ", ".join("%.2f" % x for x in ctx["load_avg"]))
    std = {"date", "host_name", "num_cpus", "mhz_per_cpu", "caches", "load_avg", "json_schema_version"}
    for k, v in ctx.items():  # everything else the harness recorded, in its order (compiler, flags, git, BLAS...)
        if k not in std and not re.match(r"(peak_gflops_|triad_gbs_)", k):
            w(row([k, (v if isinstance(v, str) else json.dumps(v)).replace("\n", " ")]))
    w("")
    flpk, bwpk = peaks(ctx)
    if any(flpk.values()) or bwpk:
        w("Measured peaks (`matbench --mb_peak`: FMA-throughput loop per ISA, triad bandwidth):")
        w("")
        w("| ceiling | 1 thread | all cores |")
        w("|---|---|---|")
        isas = ordered(i for l in flpk.values() for i, _ in l)
        for isa in isas:
            w("| %s FMA peak | %s | %s |" % (isa, *("%s GFLOP/s" % fmt(dict(flpk[c]).get(isa), 4)
                                                  if isa in dict(flpk[c]) else "-" for c in ("1t", "all"))))
        if bwpk:
            w("| triad bandwidth | %s | %s |" % tuple("%s GB/s" % fmt(bwpk[c], 4) if c in bwpk else "-"
                                                    for c in ("1t", "all")))
        w("")
    if ctx.get("peak_all_cores"):  # bench/peak.c: the all-cores FMA rate did not scale
        w("**Warning:** %s." % ctx["peak_all_cores"])
        w("")

    w("## Best variant per op and shape")
    w("")
    w("Best of our own variants (library peers when no own variant ran), and how it compares: a ratio is peer "
      "time / best time, so > 1 means ours is faster. Rates are GFLOP/s; ops below %g FLOP/byte are memory-bound "
      "and shown in GB/s. %%peak is the harness's `pct_peak` (of the roofline bound)." % MEMORY_BOUND_AI)
    w("")
    for op in ordered(r["op"] for r in ok):
        rs = [r for r in ok if r["op"] == op]
        mem = all(r["ai"] is not None and r["ai"] < MEMORY_BOUND_AI for r in rs)
        metric, unit = ("bps", "GB/s") if mem else ("flops", "GFLOP/s")
        ps = [p for p in sorted(peerset, key=lambda p: (p != BASELINE, p)) if any(r["variant"] == p for r in rs)]
        w("### %s" % op)
        w("")
        w(row(["shape", "threads", "best", unit, "%peak"] + ["vs " + p for p in ps]))
        w(row(["---", "---:", "---", "---:", "---:"] + ["---:"] * len(ps)))
        for shape in ordered((tuple(r["args"]), r["threads"]) for r in rs):
            cand = [r for r in rs if (tuple(r["args"]), r["threads"]) == shape]
            own = [r for r in cand if r["variant"] not in peerset] or cand
            best = min(own, key=lambda r: r["time_s"])
            tim = {r["variant"]: r["time_s"] for r in cand}
            rate = best[metric] / 1e9 if best[metric] else None
            ratios = ["%.2fx" % (tim[p] / best["time_s"]) if p in tim else "-" for p in ps]
            w(row([compact(list(shape[0])), str(shape[1]), best["variant"], fmt(rate), fmt(best["pct"])] + ratios))
        w("")

    w("## Counters")
    w("")
    w("- Hardware counters (PAPI): %s" % ctx.get("perf_counters", "not recorded in the context"))
    sim = os.path.join(rdir, "sim.csv")
    if os.path.exists(sim):
        with open(sim, newline="") as f:
            n = max(0, sum(1 for l in f if l.strip()) - 1)
        w("- Simulated counts (valgrind, `make bench-sim`): [sim.csv](sim.csv), %d rows; instruction and cache-miss "
          "counts there are simulated, not measured." % n)
    else:
        w("- Simulated counts: none (`make bench-sim FILTER=...` writes sim.csv here).")
    w("- Timing counters (FLOPS, bytes_per_second, AI, pct_peak) are computed from the measured time and the "
      "per-iteration FLOP and byte counts.")
    w("")

    w("## Validation")
    w("")
    w("Every instance is validated against the reference before it is timed; a failure is an error row.")
    w("")
    if "validation" in ctx:
        w("- Validation setting of this run: %s." % ctx["validation"])
    # error rows are data: a variant the CPU cannot run or a case it does not handle is not a wrong answer
    skip = [r for r in bad if r["error"].startswith("skipped")]
    unsup = [r for r in bad if r not in skip and re.search(r"not supported|unsupported|ENOTSUP", r["error"])]
    fails = [r for r in bad if r not in skip and r not in unsup]
    w("- %d instances validated and timed, %d error rows: %d failed (validation or kernel error), %d not supported "
      "by their variant, %d skipped (this machine cannot run the variant)."
      % (len(ok), len(bad), len(fails), len(unsup), len(skip)))
    if fails:
        w("")
        w(row(["failed", "error"]))
        w("|---|---|")
        for r in fails:
            w(row(["`%s`" % r["name"], r["error"]]))
    for rs, head in ((unsup, "not supported"), (skip, "skipped")):
        if rs:
            w("")
            w(row([head, "instances", "first"]))
            w("|---|---:|---|")
            for msg in ordered(r["error"] for r in rs):
                same = [r for r in rs if r["error"] == msg]
                w(row([msg, str(len(same)), "`%s`" % same[0]["name"]]))
    w("")

    w("## Plots")
    w("")
    rel = os.path.relpath(os.path.abspath(pdir), os.path.abspath(rdir))
    stems = [s for _, s, _ in plan(rdir, None, emit=False)]
    have = [s for s in stems if os.path.exists(os.path.join(pdir, s + ".png"))]
    if not have:
        w("No plots found in %s (`make plots`)." % pdir)
    else:
        w("PNG and SVG of each, from `make plots`. The roofline's memory roof is the measured triad bandwidth and "
          "AI counts compulsory traffic only, so problems that stay in cache can sit above that roof.")
        w("")
    for kind, head in (("roofline", "Roofline"), ("batch", "Throughput vs batch size"),
                       ("size", "GFLOP/s vs matrix size"), ("speedup", "Speedup over " + BASELINE)):
        mine = [s for s in have if s.startswith(kind + "-")]
        if not mine:
            continue
        w("### %s" % head)
        w("")
        for s in mine:
            w("![%s](%s/%s.png)  " % (s, rel, s))
            w("`%s` ([PNG](%s/%s.png), [SVG](%s/%s.svg))" % (s, rel, s, rel, s))
            w("")
    return "\n".join(out) + "\n"


def main(argv):
    if len(argv) != 4 or argv[1] not in ("plan", "report"):
        die("usage: results.py plan RESULTS_DIR DATA_DIR | results.py report RESULTS_DIR PLOTS_DIR")
    if argv[1] == "plan":
        for j in plan(argv[2], argv[3]):
            print("\t".join(j))
    else:
        sys.stdout.write(report(argv[2], argv[3]))


if __name__ == "__main__":
    main(sys.argv)
