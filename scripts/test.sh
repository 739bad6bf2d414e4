#!/usr/bin/env bash
# Installs, builds and runs every test: the release build, then the same
# suite under AddressSanitizer + UBSan. Tests that need root or a kernel
# feature skip with the reason. WEFT_SKIP_ASAN=1 runs the release pass only.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
jobs=$(nproc)
cmake --preset release -DWEFT_BUILD_TESTS=ON -DWEFT_BUILD_BENCH=ON >/dev/null
cmake --build --preset release -j "$jobs"
ctest --preset release
if [ "${WEFT_SKIP_ASAN:-0}" != 1 ]; then
  cmake --preset asan >/dev/null
  cmake --build --preset asan -j "$jobs"
  ctest --preset asan
fi
echo "test: all passed"
