// weft-perf allreduce | reducescatter | allgather | broadcast | reduce |
// alltoall: collective benchmarks in the nccl-tests format (same flags, same
// columns, same algbw/busbw definitions), over UDP with weft's recovery or
// go-back-N, under injected loss. `-np N` forks N local ranks on 127.0.0.1;
// under torchrun/mpirun/srun (or WEFT_* variables) each process is one rank
// and meets the others through the bootstrap.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "weft/collectives.h"

namespace weft::perf {

struct CollOptions {
  coll::CollKind kind = coll::CollKind::kAllReduce;
  uint64_t min_bytes = 8, max_bytes = 32u << 20;
  uint64_t step_factor = 2;
  int iters = 20, warmup = 5;
  bool check = true;                      // -c: verify every element once per size
  coll::DataType dtype = coll::DataType::kF32;
  coll::RedOp op = coll::RedOp::kSum;
  int root = 0;
  coll::Algorithm algo = coll::Algorithm::kAuto;
  int np = 0;                             // fork this many local ranks (0: use launcher variables)
  std::vector<double> losses{0};          // injected loss per send, each a separate sweep
  std::vector<std::string> modes{"sr"};   // "sr" (weft), "gbn" (go-back-N), each a separate sweep
  double seconds = 0;                     // cap on timed seconds per size (0: run -n iterations)
  bool in_place = true;                   // also measure in-place (nccl-tests always does)
  std::string csv, json, svg;             // extra outputs
  std::string bind = "127.0.0.1";
  uint32_t window_kib = 8192;
  uint64_t chunk_bytes = 0;
  bool progress_thread = true;
  bool blocking = true;  // -z in nccl-tests; kept for output compatibility
};

int run_coll(const CollOptions& o);

}  // namespace weft::perf
