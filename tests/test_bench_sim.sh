#!/usr/bin/env bash
# test_bench_sim.sh: scripts/bench-sim.sh on two tiny benchmarks (one AVX2 when the registry has it, one
# AVX-512) checks that simulated counts are present and positive, that a threads:2 run counts the work of
# every thread (about the same instructions as threads:1), and that AVX-512 is reported as not simulated.
# Env: MB_BIN (bin dir). Ends with `N passed, N failed`.
set -u
bin=${MB_BIN:-build/bin}/matbench
pass=0 fail=0
check() { # description, then a command that must succeed
    local what=$1
    shift
    if "$@"; then
        pass=$((pass + 1))
        echo "ok   $what"
    else
        fail=$((fail + 1))
        echo "FAIL $what"
    fi
}
finish() {
    echo "$pass passed, $fail failed"
    exit $((fail > 0))
}
if ! command -v valgrind >/dev/null || [ ! -x "$bin" ]; then
    echo "FAIL valgrind or $bin missing"
    fail=1
    finish
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

variant=avx2
"$bin" --benchmark_list_tests --benchmark_filter='^gemm/avx2/M:64/' | grep -q . || variant=naive
filter="^gemm/$variant/M:64/N:64/K:64/|^gemm/avx512/M:64/N:64/K:64/threads:1\$|^add/naive/shape:32x10\\+10/"
scripts/bench-sim.sh "$bin" "$out" "$filter" >"$out/log" 2>&1
check "bench-sim.sh exits 0" test $? -eq 0
check "sim.csv and sim.json written" test -s "$out/sim.csv" -a -s "$out/sim.json"
check "no temporary files left" test -z "$(find "$out" -name '.sim*')"

/usr/bin/python3 - "$out/sim.json" "$variant" >"$out/checks" <<'EOF'
import json, sys
rows = {r["name"]: r for r in json.load(open(sys.argv[1]))["benchmarks"]}
v = sys.argv[2]
def show(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
for name in ["gemm/%s/M:64/N:64/K:64/threads:1" % v, "add/naive/shape:32x10+10/threads:1"]:
    r = rows.get(name, {})
    show(r.get("status") == "simulated", name + " simulated")
    show(all((r.get(k) or 0) > 0 for k in ("iterations", "instructions")) and (r.get("d1_misses") or 0) >= 0,
         name + " instructions and iterations positive")
    show("simulated (valgrind" in r.get("label", ""), name + " labelled simulated")
r1 = rows.get("gemm/%s/M:64/N:64/K:64/threads:1" % v, {})
# 2 flops per multiply-add, at most 32 per instruction (AVX-512): a floor that catches an empty loop
show((r1.get("instructions") or 0) > 2 * 64 ** 3 / 32, "gemm instruction count covers the work")
r2 = rows.get("gemm/%s/M:64/N:64/K:64/threads:2" % v)
if r2 and r1:
    ratio = (r2.get("instructions") or 0) / (r1.get("instructions") or 1)
    show(0.8 < ratio < 2.0, "threads:2 counts every thread (instructions ratio %.2f vs threads:1)" % ratio)
a = [r for n, r in rows.items() if n.startswith("gemm/avx512/")]
show(all(r["status"].startswith("not simulated: valgrind 3.19 cannot execute AVX-512") for r in a),
     "avx512 variants reported as not simulated (%d)" % len(a))
EOF
while read -r line; do
    case $line in
    ok*) pass=$((pass + 1)) ;;
    *) fail=$((fail + 1)) ;;
    esac
    echo "$line"
done <"$out/checks"
[ -s "$out/checks" ] || check "sim.json parsed" false
[ $fail -eq 0 ] || sed -n '1,40p' "$out/log"
finish
