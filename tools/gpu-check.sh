#!/usr/bin/env bash
# tools/gpu-check.sh — libnccl-net-weft.so under a real NCCL on a GPU host.
#
# Builds the plugin, then runs a two-rank all-reduce through stock NCCL with
# NCCL_NET_PLUGIN=weft and everything but the network path switched off, and
# checks both the numbers and NCCL's log ("Using network weft", "via NET/weft",
# no "via P2P"/"via SHM"). Not part of CI: CI has no GPU; tests/plugin drives
# the plugin without one.
#
# Two ways to run NCCL, first found wins:
#   torch     python3 with a CUDA PyTorch (its bundled NCCL): two processes,
#             one GPU is enough. Both ranks then share GPU 0 and get different
#             NCCL_HOSTID values, so NCCL sees two hosts and must use the net
#             plugin (reference §5.2); with 2+ GPUs rank r uses GPU r.
#   nccl-tests  all_reduce_perf (NCCL_TESTS_DIR or PATH), needs 2+ GPUs: one
#             process, -g 2, NCCL_P2P_DISABLE=1 NCCL_SHM_DISABLE=1 (§5.3).
#
# Usage: tools/gpu-check.sh [--build-dir DIR] [--mode torch|nccl-tests]
# Exit: 0 pass, 1 a check failed, 2 a prerequisite is missing (says which).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build="$repo/build/gpu-check"
mode=auto
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build="$2"; shift 2 ;;
    --mode) mode="$2"; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "gpu-check: unknown argument $1" >&2; exit 2 ;;
  esac
done
logs="$build/logs"

missing() { echo "gpu-check: MISSING PREREQUISITE: $*" >&2; exit 2; }
fail() { echo "gpu-check: FAIL: $*" >&2; exit 1; }
say() { echo "gpu-check: $*"; }

# --- prerequisites -----------------------------------------------------------
command -v nvidia-smi >/dev/null || missing "nvidia-smi not found: this host has no NVIDIA driver (run on a GPU host)"
ngpus=$(nvidia-smi --query-gpu=index --format=csv,noheader 2>/dev/null | wc -l)
[ "$ngpus" -ge 1 ] || missing "nvidia-smi lists no GPU"
say "GPUs: $ngpus ($(nvidia-smi --query-gpu=name --format=csv,noheader | head -1))"
command -v cmake >/dev/null || missing "cmake (apt-get install cmake)"
command -v nm >/dev/null || missing "nm (apt-get install binutils)"

have_torch=0
if command -v python3 >/dev/null &&
   python3 -c 'import torch, torch.distributed as d, sys; sys.exit(0 if torch.cuda.is_available() and d.is_nccl_available() else 1)' 2>/dev/null; then
  have_torch=1
fi
allreduce_perf=""
for d in "${NCCL_TESTS_DIR:-}" "${NCCL_TESTS_DIR:-}/build" ""; do
  if [ -n "$d" ] && [ -x "$d/all_reduce_perf" ]; then allreduce_perf="$d/all_reduce_perf"; break; fi
done
[ -n "$allreduce_perf" ] || allreduce_perf=$(command -v all_reduce_perf || true)

if [ "$mode" = auto ]; then
  if [ "$have_torch" = 1 ]; then mode=torch
  elif [ -n "$allreduce_perf" ] && [ "$ngpus" -ge 2 ]; then mode=nccl-tests
  else
    missing "no way to run NCCL: install a CUDA PyTorch (pip install torch; it bundles NCCL) or build nccl-tests \
(https://github.com/NVIDIA/nccl-tests, set NCCL_TESTS_DIR; needs 2 GPUs)"
  fi
fi
case "$mode" in
  torch) [ "$have_torch" = 1 ] || missing "--mode torch: python3 cannot import a CUDA-enabled torch with NCCL" ;;
  nccl-tests)
    [ -n "$allreduce_perf" ] || missing "--mode nccl-tests: all_reduce_perf not found (set NCCL_TESTS_DIR)"
    [ "$ngpus" -ge 2 ] || missing "--mode nccl-tests needs 2 GPUs (one GPU: use --mode torch)" ;;
  *) echo "gpu-check: unknown mode $mode" >&2; exit 2 ;;
esac

# --- build -------------------------------------------------------------------
say "building the plugin in $build"
gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
cmake -S "$repo" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_BUILD_TESTS=OFF -DWEFT_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" --target nccl-net-weft -j"$(nproc)" >/dev/null
lib="$build/plugin/libnccl-net-weft.so"
[ -f "$lib" ] || fail "build produced no $lib"
nm -D --defined-only "$lib" | grep -q ncclNetPlugin_v6 || fail "$lib exports no ncclNetPlugin_v6"

# --- common NCCL environment (reference §5.2/§5.3) ----------------------------
mkdir -p "$logs"
rm -f "$logs"/*
export LD_LIBRARY_PATH="$build/plugin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export NCCL_NET_PLUGIN=weft           # loads libnccl-net-weft.so from LD_LIBRARY_PATH (every NCCL 2.18+)
export NCCL_NET=weft                  # fail hard instead of falling back to IB/Socket
export NCCL_IB_DISABLE=1
export NCCL_P2P_DISABLE=1
export NCCL_SHM_DISABLE=1
export NCCL_MNNVL_ENABLE=0
export NCCL_SOCKET_IFNAME=lo          # NCCL's bootstrap
export WEFT_IFNAME="=lo"              # the plugin's data path
export NCCL_DEBUG=INFO
export NCCL_DEBUG_SUBSYS=INIT,NET,ENV
export NCCL_NET_PLUGIN_REF_COUNT=1    # NCCL 2.28/2.29 reload bug (#1978); harmless elsewhere

check_log() {  # $1: log file of one rank
  local f="$1"
  grep -q "Using network weft" "$f" || fail "$f: NCCL did not use weft (no 'Using network weft'); see the NET/Plugin lines"
  grep -q "via NET/weft" "$f" || fail "$f: no channel went 'via NET/weft'"
  if grep -Eq "via (P2P|SHM)" "$f"; then fail "$f: some channel bypassed the plugin (via P2P/SHM)"; fi
  if grep -q "WARN NET/weft" "$f"; then
    echo "--- plugin warnings in $f:"; grep "WARN NET/weft" "$f" | head -20
  fi
  say "$(basename "$f"): $(grep -m1 -o 'Using network weft' "$f"), $(grep -c 'via NET/weft' "$f") channel(s) via NET/weft"
}

# --- run ---------------------------------------------------------------------
if [ "$mode" = torch ]; then
  cat >"$logs/allreduce.py" <<'PY'
import os, sys, torch, torch.distributed as dist
rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
gpu = int(os.environ["WEFT_CHECK_GPU"])
torch.cuda.set_device(gpu)
dist.init_process_group("nccl", rank=rank, world_size=world)
print(f"rank {rank}: torch {torch.__version__}, NCCL {'.'.join(map(str, torch.cuda.nccl.version()))}, GPU {gpu}", flush=True)
ok = True
# Sizes cross NCCL's protocols (LL, LL128, Simple) and several steps per slot.
for n in (1, 1000, 1 << 16, 1 << 20, 1 << 24):
    for dtype in (torch.float32, torch.int32):
        x = torch.arange(n, device="cuda", dtype=dtype) % 97 + (rank + 1)
        dist.all_reduce(x)
        want = (torch.arange(n, device="cuda", dtype=dtype) % 97) * world + world * (world + 1) // 2
        if not torch.equal(x, want):
            bad = (x != want).nonzero()[:5].flatten().tolist()
            print(f"rank {rank}: WRONG all_reduce n={n} {dtype}: first bad indices {bad}", flush=True)
            ok = False
torch.cuda.synchronize()
dist.destroy_process_group()
print(f"WEFT_GPU_CHECK {'OK' if ok else 'WRONG'} rank {rank}", flush=True)
sys.exit(0 if ok else 1)
PY
  port=$((29500 + RANDOM % 1000))
  pids=()
  for r in 0 1; do
    gpu=$(( ngpus >= 2 ? r : 0 ))
    ( export RANK=$r WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port
      export CUDA_VISIBLE_DEVICES=$gpu WEFT_CHECK_GPU=0  # the one visible GPU
      # Different host ids: NCCL treats the ranks as two hosts, so neither
      # P2P nor SHM may connect them and the duplicate-GPU check passes.
      export NCCL_HOSTID="weft-gpu-check-host$r"
      exec timeout 300 python3 "$logs/allreduce.py" ) >"$logs/rank$r.log" 2>&1 &
    pids+=($!)
  done
  rc=0
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  for r in 0 1; do
    echo "--- rank $r (last lines):"; tail -5 "$logs/rank$r.log"
  done
  [ "$rc" = 0 ] || fail "a rank failed (logs in $logs)"
  for r in 0 1; do
    grep -q "WEFT_GPU_CHECK OK rank $r" "$logs/rank$r.log" || fail "rank $r did not verify its all-reduce"
    check_log "$logs/rank$r.log"
  done
else
  timeout 300 "$allreduce_perf" -b 8 -e 64M -f 4 -g 2 -c 1 >"$logs/all_reduce_perf.log" 2>&1 ||
    fail "all_reduce_perf failed (log: $logs/all_reduce_perf.log)"
  grep -q "Out of bounds values : 0 OK" "$logs/all_reduce_perf.log" ||
    fail "all_reduce_perf reported wrong results (log: $logs/all_reduce_perf.log)"
  grep -E "^ +[0-9]+ " "$logs/all_reduce_perf.log" | tail -3
  check_log "$logs/all_reduce_perf.log"
fi
say "PASS ($mode): all-reduce correct and carried by NET/weft; logs in $logs"
