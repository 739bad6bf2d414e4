#!/usr/bin/env bash
# bench/peers/run.sh — one all-reduce sweep (float sum, N local ranks on
# 127.0.0.1), measured in the same run with weft (UDP, selective repeat),
# Gloo (ring-chunked, TCP) and Open MPI (MPI_Allreduce, TCP btl only), then
# printed as one table of busbw with weft's ratio to each.
#
#   bench/peers/run.sh [NP] [extra sweep flags, e.g. -b 8 -e 256M -f 4]
#
# Needs: apt-get install libgloo-dev openmpi-bin libopenmpi-dev, and a build
# with benchmarks (BUILD=build/release by default; targets weft-perf,
# weft_peer_gloo, weft_peer_mpi). Results: build/results/peers-*.csv.
set -euo pipefail
cd "$(dirname "$0")/../.."
NP=${1:-2}
shift || true
SWEEP=(-b 8 -e 64M -f 4 -n 10 -w 2 --seconds 1)
[ $# -gt 0 ] && SWEEP=("$@")
BUILD=${BUILD:-build/release}
if [ ! -f "$BUILD/build.ninja" ] && [ ! -f "$BUILD/Makefile" ]; then
  cmake --preset release -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_BENCH=ON >/dev/null
fi
cmake --build "$BUILD" --target weft-perf weft_peer_gloo weft_peer_mpi
OUT=build/results
mkdir -p "$OUT"
PEERS="$BUILD/bench/collectives/peers"
echo "# weft: weft-perf allreduce -np $NP ${SWEEP[*]}" >&2
"$BUILD/tools/weft-perf" allreduce -np "$NP" "${SWEEP[@]}" -c 0 --no-in-place --csv "$OUT/peers-weft.csv" >&2
echo "# gloo" >&2
"$PEERS/weft_peer_gloo" -np "$NP" "${SWEEP[@]}" > "$OUT/peers-gloo.csv"
echo "# open mpi (tcp)" >&2
mpirun --allow-run-as-root --oversubscribe -np "$NP" --mca btl tcp,self --mca btl_tcp_if_include lo \
  "$PEERS/weft_peer_mpi" "${SWEEP[@]}" > "$OUT/peers-mpi.csv"
python3 - "$OUT" "$NP" <<'PY'
import csv, sys, os
out, np = sys.argv[1], sys.argv[2]
def load(name, size_col, bw_col, t_col):
    rows = {}
    with open(os.path.join(out, name)) as f:
        for r in csv.DictReader(f):
            rows[int(r[size_col])] = (float(r[bw_col]), float(r[t_col]))
    return rows
weft = load("peers-weft.csv", "size", "oop_busbw", "oop_time_us")
gloo = load("peers-gloo.csv", "size", "busbw", "time_us")
mpi = load("peers-mpi.csv", "size", "busbw", "time_us")
load_avg = open("/proc/loadavg").read().split()[0]
print(f"# all-reduce, float sum, {np} ranks on 127.0.0.1, busbw in GB/s (time in us), load {load_avg}")
print(f"# {'size':>10} {'weft':>18} {'gloo':>18} {'open mpi':>18} {'weft/gloo':>10} {'weft/mpi':>9}")
for s in sorted(weft):
    w = weft[s]; g = gloo.get(s); m = mpi.get(s)
    cell = lambda x: f"{x[0]:7.3f} ({x[1]:8.0f})" if x else f"{'-':>18}"
    # Same bytes, so busbw weft / peer = time peer / time weft (exact even where busbw rounds to 0).
    ratio = lambda a, b: f"{b[1] / a[1]:.2f}x" if b and a[1] > 0 else "-"
    print(f"  {s:>10} {cell(w)} {cell(g)} {cell(m)} {ratio(w, g):>10} {ratio(w, m):>9}")
print("# ratios: busbw weft / busbw peer (= peer time / weft time); above 1 weft is faster.")
PY
