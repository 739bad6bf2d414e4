// collectives/algorithms.h — compile a collective call into a Schedule.
//
// One function per (operation, algorithm). Every rank compiles its own
// schedule from the same shape; builders walk one global loop so the n-th
// message a rank sends a peer on a channel is the n-th that peer receives.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "collectives/schedule.h"
#include "weft/collectives.h"

namespace weft::coll {

struct Shape {
  CollKind kind = CollKind::kAllReduce;
  DataType dtype = DataType::kF32;
  RedOp op = RedOp::kSum;
  uint64_t count = 0;  // all-reduce/broadcast/reduce: elements; RS/AG/all-to-all: per rank
  int root = 0;
  bool in_place = false;
  Algorithm algo = Algorithm::kRing;  // resolved (never kAuto)
  uint64_t chunk_bytes = 512 << 10;
  int rank = 0, nranks = 1;
  bool operator<(const Shape& o) const;
};

// kInvalidArgument when the algorithm does not implement the operation.
Result<Schedule> compile(const Shape& s);
Schedule compile_all_to_allv(int rank, int nranks, DataType t, std::span<const size_t> send_counts,
                             std::span<const size_t> send_displs, std::span<const size_t> recv_counts,
                             std::span<const size_t> recv_displs);

// The two trees of the double binary tree over n ranks: parent (-1 at the
// root) and up to two children of `rank` in tree `t` (0 or 1).
struct TreeNode {
  int parent = -1;
  int child[2] = {-1, -1};
};
TreeNode dbt_node(int nranks, int rank, int t);

// The tuning table: what kAuto means for this operation, size and rank count.
Algorithm auto_select(CollKind k, uint64_t bytes, int nranks);
uint64_t auto_chunk_bytes(CollKind k, uint64_t bytes, int nranks);

}  // namespace weft::coll
