#!/usr/bin/env bash
# test_mb_shape.sh: `matbench --mb_shape` as a user meets it: their shapes replace the default lists for every
# variant (validated before timing like any other row, no size caps), duplicates collapse, MB_SHAPE works like
# the flag, and a bad spec exits 1 with a message naming the spec and what is wrong, before anything runs or
# any --benchmark_out file is written. Env: MB_BIN (the bin dir); cwd = the repo root.
. "$(dirname "$0")/cli_lib.sh"
mb="$bin/matbench"

# the registry's GEMM variants, from the default suite's names
variants=$("$mb" --benchmark_list_tests --benchmark_filter='^gemm/' | cut -d/ -f2 | sort -u)
list=$("$mb" --mb_shape=gemm/M:7/N:5/K:3 --benchmark_list_tests)
check "every listed name has the given shape" bash -c "! grep -vqE '^gemm/[a-z0-9_]+/M:7/N:5/K:3/threads:[0-9]+\$' <<<'$list'"
check "every GEMM variant of the registry is listed" test "$(cut -d/ -f2 <<<"$list" | sort -u)" = "$variants"
check "naive is listed (no size cap for asked-for shapes)" grep -q '^gemm/naive/M:7/N:5/K:3/threads:1$' <<<"$list"
check "arguments in any order give the same names" \
    test "$("$mb" --mb_shape=gemm/K:3/M:7/N:5 --benchmark_list_tests)" = "$list"
check "a repeated spec lists each benchmark once" \
    test "$("$mb" --mb_shape=gemm/M:7/N:5/K:3,gemm/M:7/N:5/K:3 --benchmark_list_tests)" = "$list"
check "MB_SHAPE works as the flag" test "$(MB_SHAPE=gemm/M:7/N:5/K:3 "$mb" --benchmark_list_tests)" = "$list"
two=$("$mb" --mb_shape=softmax/R:3/N:1000,attention/BH:2/S:33/D:16/causal:1 --benchmark_list_tests)
check "two specs of two ops list both and nothing else" \
    bash -c "! grep -vqE '^(softmax/[a-z0-9_]+/R:3/N:1000|attention/[a-z0-9_]+/BH:2/S:33/D:16/causal:1)/threads:[0-9]+\$' <<<'$two' &&
             grep -q ^softmax/naive/ <<<'$two' && grep -q ^attention/naive/ <<<'$two'"

# they run, validated against the reference: no error rows for the always-present variants
"$mb" --mb_shape=gemm/M:7/N:5/K:3,linear/M:33/N:65/K:17/bias:1,add/shape:8x4x16+4x1,mul/shape:5x3+1 \
    --benchmark_filter='/(naive|blas)/' --benchmark_min_time=2x --benchmark_format=json >"$t/run.json" 2>"$t/err"
check "the run exits 0" test $? -eq 0
check "each asked-for naive row ran" test "$(grep -cE '"name": "(gemm|linear|add|mul)/naive/' "$t/run.json")" -eq 4
check "the custom broadcast shape ran" grep -q '"name": "add/naive/shape:8x4x16+4x1/threads:1"' "$t/run.json"
check "no row failed validation" bash -c "! grep -q error_occurred '$t/run.json'"

# bad specs: exit 1, the spec and the reason on stderr, no output file
bad() { # description, spec, expected message (an ERE)
    rm -f "$t/out.json"
    "$mb" --mb_shape="$2" --benchmark_out="$t/out.json" >"$t/o" 2>"$t/e"
    local rc=$?
    check "$1: exit 1" test $rc -eq 1
    check "$1: says '$3'" grep -qE -- "$3" "$t/e"
    check "$1: no --benchmark_out file" test ! -e "$t/out.json"
}
bad "unknown op" foo/M:1 "--mb_shape: foo/M:1: unknown op 'foo'; ops: gemm"
bad "missing argument" gemm/M:1/N:2 "gemm needs K \(missing\)"
bad "zero size" gemm/M:1/N:2/K:0 "K:0: expected an integer in 1\.\.2147483647"
bad "not a number" gemm/M:1/N:2/K:3x "K:3x: expected an integer"
bad "unknown argument" gemm/M:1/N:2/K:3/Q:4 "unknown argument 'Q'; gemm takes M:<n> N:<n> K:<n>"
bad "repeated argument" gemm/M:1/M:2/N:2/K:3 "repeated argument 'M'"
bad "flag not 0/1" attention/BH:1/S:8/D:4/causal:2 "causal:2: expected 0 or 1"
bad "y not broadcastable" add/shape:3x4+5 "y's dim 0 \(size 5\) does not broadcast to x's dim 1 \(size 4\)"
bad "y of higher rank" add/shape:3x4+2x3x4 "y has rank 3 > x's 2"
bad "malformed binary shape" add/shape:3xx4 "shape:3xx4: expected <x dims>\+<y dims>"
bad "too large for memory" gemm/M:100000/N:100000/K:100000 "needs [0-9.]+ GiB of operands, more than half"
bad "one bad spec among good ones" gemm/M:7/N:5/K:3,gemm/M:7 "--mb_shape: gemm/M:7: gemm needs N \(missing\)"

finish
