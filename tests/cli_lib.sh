# cli_lib.sh: what the command-line tests (tests/test_*.sh) share; sourced, not run. Gives $bin (MB_BIN, the
# bin dir), a scratch dir $t removed on exit, check DESCRIPTION COMMAND... (a PASS / FAIL line, counted; the
# command's status decides, its output is dropped) and finish (the closing "N passed, N failed" line, and the
# script's status).
set -u
bin=${MB_BIN:-build/bin}
pass=0 fail=0
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
check() {
    local what=$1
    shift
    if "$@" >/dev/null 2>&1; then echo "PASS $what"; pass=$((pass + 1)); else echo "FAIL $what"; fail=$((fail + 1)); fi
}
finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
