#!/usr/bin/env bash
# deps.sh: install the Debian packages matbench needs that are missing (only those).
# Called by `make` before building. As root: apt-get update, then apt-get install -y of the missing
# ones. Not root: print the exact command and fail. MB_NO_DEPS=1 skips the check entirely.
set -euo pipefail
[ "${MB_NO_DEPS:-0}" = 1 ] && exit 0

# build + test: compiler, BLAS reference, topology, counters, test framework, compare.py (needs
# numpy/scipy from Debian's python3), gnuplot for plots, valgrind for bench-sim, NEON cross toolchain
# + qemu for the aarch64 tests. Peers (BLIS, oneDNN, LIBXSMM) are benchmarked and validated too.
pkgs=(build-essential pkg-config libopenblas-dev libhwloc-dev libpapi-dev libcmocka-dev
      libbenchmark-tools python3 python3-numpy python3-scipy gnuplot-nox valgrind
      gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
      libblis-dev libdnnl-dev libxsmm-dev)

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps.sh: not a Debian system (no dpkg-query); install the equivalents of: ${pkgs[*]}" >&2
    echo "deps.sh: then run make with MB_NO_DEPS=1" >&2
    exit 1
fi

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get update && apt-get install -y ${missing[*]}"
if [ "$(id -u)" != 0 ]; then
    echo "matbench: missing Debian packages: ${missing[*]}" >&2
    echo "matbench: install them as root with:" >&2
    echo "    sudo sh -c '$cmd'" >&2
    echo "matbench: (or run make with MB_NO_DEPS=1 to skip this check)" >&2
    exit 1
fi
echo "matbench: installing missing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
