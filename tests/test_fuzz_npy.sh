#!/usr/bin/env bash
# test_fuzz_npy.sh: build tests/fuzz_npy.c with clang's libFuzzer + ASan + UBSan and fuzz the .npy reader
# for ~20 s (MB_FUZZ_SECONDS), starting from the vectors' .npy files and a few hand-made seeds.
# Without clang/libFuzzer it prints a skip line and `0 passed, 0 failed`.
set -u
secs=${MB_FUZZ_SECONDS:-20}
cc=$(command -v clang || command -v clang-14 || true)
if [ -z "$cc" ]; then
    echo "SKIP fuzz_npy: clang not found"
    echo "0 passed, 0 failed"
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! "$cc" -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -Ikernels -Iops tests/fuzz_npy.c ops/npy.c ops/tensor.c -o "$work/fuzz_npy" 2>"$work/build.log"; then
    if grep -qi 'fuzzer' "$work/build.log" && ! grep -q 'error:.*fuzz_npy.c\|error:.*npy.c' "$work/build.log"; then
        echo "SKIP fuzz_npy: $cc has no libFuzzer runtime"
        echo "0 passed, 0 failed"
        exit 0
    fi
    cat "$work/build.log"
    echo "FAIL fuzz_npy: build"
    echo "0 passed, 1 failed"
    exit 1
fi
mkdir -p "$work/corpus"
i=0
for f in tests/vectors/*/*.npy; do
    [ -f "$f" ] && cp "$f" "$work/corpus/v$i.npy" && i=$((i + 1))
    [ $i -ge 64 ] && break
done
printf '\x93NUMPY\x02\x00\x3c\x00\x00\x00{"descr":"<f4","fortran_order":False,"shape":(1,),}   \n\0\0\0\0' \
    >"$work/corpus/v2.npy"
if "$work/fuzz_npy" -max_total_time="$secs" -rss_limit_mb=1024 -malloc_limit_mb=64 -max_len=4096 \
    -artifact_prefix="$work/" "$work/corpus" >"$work/fuzz.log" 2>&1; then
    echo "PASS fuzz_npy: $(grep -Eo 'Done [0-9]+ runs' "$work/fuzz.log" | tail -n 1) in ${secs} s, no crash"
    echo "1 passed, 0 failed"
else
    tail -n 40 "$work/fuzz.log"
    for a in "$work"/crash-* "$work"/oom-* "$work"/leak-*; do [ -f "$a" ] && echo "artifact: $(basename "$a"): $(xxd -l 256 "$a" | head -n 8)"; done
    echo "FAIL fuzz_npy: crash found (input above)"
    echo "0 passed, 1 failed"
    exit 1
fi
