#!/usr/bin/env bash
# The main job: install, build, then a 4-rank all-reduce sweep over UDP on
# this machine (4 forked processes on 127.0.0.1), in the nccl-tests format:
# weft's selective repeat beside go-back-N (RoCE v2's recovery), without and
# with 1 % injected packet loss, every element checked against the
# reference. Extra arguments go to `weft-perf allreduce` (e.g. -e 64M, -d half).
# The point-to-point transport demo is `build/release/tools/weft-perf p2p`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cmake --preset release -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_BENCH=OFF >/dev/null
cmake --build --preset release --target weft-perf
mkdir -p build/results
exec build/release/tools/weft-perf allreduce -np 4 -b 1K -e 64M -f 4 -n 10 -w 2 --seconds 1 --no-in-place \
  --loss 0,0.01 --mode sr,gbn \
  --csv build/results/allreduce.csv --json build/results/allreduce.json --svg build/results/allreduce.svg "$@"
