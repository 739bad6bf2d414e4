#!/usr/bin/env bash
# The main job: install, build, then weft's selective repeat beside go-back-N
# (RoCE v2's recovery) between two processes over UDP on this machine, with
# injected packet loss, against the raw UDP ceiling measured in the same run.
# Extra arguments go to `weft-perf p2p` (e.g. --sizes 8,64K,1M,16M,256M).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cmake --preset release -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_BENCH=OFF >/dev/null
cmake --build --preset release --target weft-perf
mkdir -p build/results
exec build/release/tools/weft-perf p2p --sizes 64K,1M,16M --loss 0,0.001,0.01 --mode sr,gbn --seconds 1 \
  --csv build/results/p2p.csv "$@"
