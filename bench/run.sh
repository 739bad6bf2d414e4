#!/usr/bin/env bash
# bench/run.sh [RESULTS_DIR] [extra Google Benchmark flags...]
#
# Runs every weft benchmark, printing the console table and writing one CSV
# per executable to RESULTS_DIR (default build/bench-results), e.g.
#   bench/run.sh                                   # full runs
#   bench/run.sh /tmp/b --benchmark_min_time=0.2   # quick look
#   bench/run.sh /tmp/b --benchmark_filter=Engine  # some of them
# The executables come from $WEFT_BENCH_BUILD (default build/bench): configure
# and build it first, see bench/README.md.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-build/bench-results}"
shift || true
build="${WEFT_BENCH_BUILD:-build/bench}"
case "$build" in /*) ;; *) build="$root/$build" ;; esac

benches=(weft_crc32c_bench weft_wire_bench weft_engine_bench)
for b in "${benches[@]}"; do
  if [[ ! -x "$build/bench/$b" ]]; then
    echo "run.sh: $build/bench/$b is missing; build it with:" >&2
    echo "  cmake -B $build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_BENCH=ON" >&2
    echo "  ninja -C $build bench" >&2
    exit 1
  fi
done

mkdir -p "$out"
out="$(cd "$out" && pwd)"
for b in "${benches[@]}"; do
  name="${b#weft_}"
  "$build/bench/$b" --benchmark_format=console --benchmark_out="$out/$name.csv" --benchmark_out_format=csv "$@"
  echo
done

echo "CSV results:"
for b in "${benches[@]}"; do echo "  $out/${b#weft_}.csv"; done
