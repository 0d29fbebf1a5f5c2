#!/usr/bin/env bash
# test_check_cli.sh: matbench-check and matbench-eval as a user meets them: a tampered expectation and a
# wrong error word must FAIL (exit 1), bad usage exits 2, eval writes a result equal to expected.npy and
# writes nothing for invalid input. Needs MB_BIN (the bin dir); run from the repository root.
. "$(dirname "$0")/cli_lib.sh"

cp -r tests/vectors/000_s000_add_32x10 "$t/ok"
check "an untouched case passes (exit 0)" "$bin/matbench-check" --variant=naive "$t/ok"

cp -r tests/vectors/000_s000_add_32x10 "$t/wrong"
sed -i 's/^out_shape .*/out_shape 32 11/' "$t/wrong/case.txt"
out=$("$bin/matbench-check" --variant=naive "$t/wrong"); rc=$?
check "a wrong out_shape fails with exit 1" test "$rc" -eq 1
check "the failure line names case, variant and the shapes" grep -q '^FAIL  wrong .* naive .*(32,10).*(32,11)' <<<"$out"
check "the summary line counts it" grep -qx '0 passed, 1 failed, 0 skipped' <<<"$out"

cp -r tests/vectors/000_s000_add_32x10 "$t/values"
sed -i 's/^atol .*/atol 0/; s/^rtol .*/rtol 0/' "$t/values/case.txt"
cp tests/vectors/001_s000_sub_32x10/expected.npy "$t/values/expected.npy" # a - b instead of a + b
out=$("$bin/matbench-check" --variant=naive "$t/values"); rc=$?
check "wrong values fail with exit 1" test "$rc" -eq 1
check "the failure gives the first differing index" grep -q 'first at (0,0)' <<<"$out"

cp -r tests/vectors/102_x_add_broadcast "$t/word"
sed -i 's/^expect error .*/expect error subscript/' "$t/word/case.txt"
check "an error case with the wrong word fails" bash -c "! '$bin/matbench-check' --variant=naive '$t/word'"

cp -r tests/vectors/102_x_add_broadcast "$t/okerr"
sed -i 's/^expect error .*/expect ok/' "$t/okerr/case.txt"
check "an ok case that errors fails" bash -c "! '$bin/matbench-check' --variant=naive '$t/okerr'"

mkdir "$t/malformed" && printf 'op add\ninputs a b\nrtol x\n' >"$t/malformed/case.txt"
msg=$("$bin/matbench-check" "$t/malformed" 2>&1); rc=$?
check "a malformed case.txt exits 2" test "$rc" -eq 2
check "... naming the file and line" grep -q 'malformed/case.txt:3' <<<"$msg"
check "no case dir: exit 2" bash -c "'$bin/matbench-check'; test \$? -eq 2"
check "unknown option: exit 2" bash -c "'$bin/matbench-check' --frobnicate tests/vectors/000_s000_add_32x10; test \$? -eq 2"
check "--help exits 0" "$bin/matbench-check" --help

check "eval writes the result" "$bin/matbench-eval" tests/vectors/092_e_attention_causal_rect -o "$t/r.npy"
check "eval wrote the weights next to it" test -s "$t/r_weights.npy"
# eval on a user-written case: sub(eval's result, expected.npy) must be ~0
mkdir "$t/diff" && cp "$t/r.npy" "$t/diff/got.npy" && cp tests/vectors/092_e_attention_causal_rect/expected.npy "$t/diff/" &&
    printf 'op sub\ninputs got expected\n' >"$t/diff/case.txt"
"$bin/matbench-eval" "$t/diff" -o "$t/d.npy" >/dev/null 2>&1
check "eval's result matches expected.npy" python3 - "$t/d.npy" <<'PY'
import struct, sys
b = open(sys.argv[1], 'rb').read()
hl = b[8] | b[9] << 8
d = struct.unpack('<%df' % ((len(b) - 10 - hl) // 4), b[10 + hl:])
sys.exit(0 if d and max(abs(x) for x in d) < 3.3e-5 else 1)
PY
msg=$("$bin/matbench-eval" tests/vectors/051_s002_dot_error_3x4x5x2_2x5x3x7 -o "$t/bad.npy" 2>&1); rc=$?
check "eval of invalid input exits 1" test "$rc" -eq 1
check "... with the op's message" grep -q 'dot: dimension mismatch' <<<"$msg"
check "... and writes no file" test ! -e "$t/bad.npy"
# result + weights are both written or neither: a weights path that cannot be written keeps the old result
mkdir -p "$t/keep" "$t/keep/r_weights.npy" && echo old >"$t/keep/r.npy"
"$bin/matbench-eval" tests/vectors/092_e_attention_causal_rect -o "$t/keep/r.npy" >/dev/null 2>&1; rc=$?
check "eval fails when the weights cannot be written" test "$rc" -eq 1
check "... and leaves the previous result untouched" grep -qx old "$t/keep/r.npy"
check "... and no temporary file behind" test -z "$(ls "$t/keep" | grep -v '^r.npy$\|^r_weights.npy$')"

finish
