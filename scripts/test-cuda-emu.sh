#!/usr/bin/env bash
# test-cuda-emu.sh: the CUDA kernels checked without a GPU.
#   1. g++ -x c++ -DMB_CUDA_EMU compiles kernels/cuda/*.cu with tests/cuda/cuda_emu.h (a fiber per CUDA thread)
#      and tests/cuda/emu_main.cpp (fp64-reference sweep + emulator self-checks) into $BUILD_CUDA_EMU/emu
#   2. runs it with CUEMU_STRICT=1 in forward and in reverse thread order (reverse exposes a missing barrier
#      before a shared-memory broadcast that forward order hides)
#   3. when nvcc exists: compiles the .cu for the GPU with register spills / local memory as errors (a gate
#      that needs no GPU)
# Ends with `N passed, N failed`; exit 1 on any failure. Not x86-64 or no g++: one SKIP line, `0 passed, 0 failed`.
set -u
cd "$(dirname "$0")/.."
build=${BUILD_CUDA_EMU:-build/cuda-emu}
cxx=${CXX:-g++}
if [ "$(uname -m)" != x86_64 ] || ! command -v "$cxx" >/dev/null 2>&1; then
    echo "SKIP cuda-emu: needs x86-64 and $cxx (the emulator's context switch is x86-64 assembly)"
    echo "0 passed, 0 failed"
    exit 0
fi
mkdir -p "$build"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
pass=0 fail=0

echo "== emulated build ($cxx -x c++ -DMB_CUDA_EMU)"
if ! "$cxx" -std=c++17 -O2 -g -Wall -Wextra -Werror -fno-strict-aliasing -DMB_CUDA_EMU -DMB_HAVE_CUDA=1 \
    -Ikernels -Itests/cuda -x c++ kernels/cuda/*.cu tests/cuda/emu_main.cpp -o "$build/emu" >"$log" 2>&1; then
    head -n 40 "$log"
    echo "FAIL emulated build"
    echo "0 passed, 1 failed"
    exit 1
fi

for order in fwd rev; do
    CUEMU_ORDER=$order CUEMU_STRICT=1 "$build/emu" >"$log" 2>&1
    rc=$?
    grep -E '^FAIL|first bad|cuda_emu:' "$log" | head -n 30
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    p=$(echo "${line:-0 passed, 0 failed}" | awk '{print $1}')
    f=$(echo "${line:-0 passed, 0 failed}" | awk '{print $3}')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL emulated run (CUEMU_ORDER=$order): exit status $rc (crash?)"
        f=1
    fi
    echo "emulated kernels, CUEMU_ORDER=$order: $p passed, $f failed"
    pass=$((pass + p)) fail=$((fail + f))
done

nvcc=${NVCC:-$(command -v nvcc 2>/dev/null)}
if [ -n "$nvcc" ] && [ "${NO_CUDA:-0}" != 1 ]; then
    echo "== nvcc gate (no spills, no local memory)"
    ok=1
    for cu in kernels/cuda/*.cu; do
        if ! "$nvcc" -std=c++17 -O3 -arch=sm_${CUDA_ARCH:-80} -Ikernels -DMB_HAVE_CUDA=1 \
            -Xptxas -warn-spills,-warn-lmem-usage -Werror all-warnings -c "$cu" -o "$build/$(basename "$cu" .cu).o" \
            >"$log" 2>&1; then
            head -n 20 "$log"
            echo "FAIL nvcc $cu"
            ok=0
        fi
    done
    if [ $ok = 1 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
else
    echo "SKIP nvcc gate: no nvcc (or NO_CUDA=1)"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
