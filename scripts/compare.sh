#!/bin/sh
# compare.sh A B: compare two matbench runs (JSON from `make bench`, or results directories holding
# matbench.json) with Google Benchmark's tools/compare.py from Debian's libbenchmark-tools.
# Run with Debian's /usr/bin/python3: compare.py needs numpy and scipy, which another python3 on PATH may lack.
set -eu
compare=/usr/share/benchmark/compare.py
py=/usr/bin/python3
usage() {
    echo "usage: scripts/compare.sh A B   (make compare A=old.json B=new.json; a results directory means its matbench.json)" >&2
    exit 2
}
[ $# -eq 2 ] && [ -n "$1" ] && [ -n "$2" ] || usage
resolve() {   # a results directory stands for its matbench.json
    if [ -d "$1" ]; then set -- "$1/matbench.json"; fi
    if [ ! -f "$1" ]; then
        echo "compare.sh: no such file: $1" >&2
        exit 1
    fi
    echo "$1"
}
a=$(resolve "$1")
b=$(resolve "$2")
if [ ! -f "$compare" ] || [ ! -x "$py" ]; then
    echo "compare.sh: needs $compare and $py (Debian: apt-get install libbenchmark-tools python3-numpy python3-scipy)" >&2
    exit 1
fi
exec "$py" "$compare" --no-color benchmarks "$a" "$b"
