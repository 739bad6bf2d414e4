// collectives/algorithms.cc — the schedule builders.
//
// Notation: segments are the N near-equal parts of a vector (the first
// count % N get one extra element); each segment is cut into the same number
// of chunks so sender and receiver agree on chunk boundaries without talking.
// Channels keep phases apart (reduce-scatter vs all-gather, tree 0 vs tree 1)
// so a phase's messages never wait behind another's in posting order.
#include "collectives/algorithms.h"

#include <algorithm>
#include <tuple>
#include <vector>

#include <fmt/format.h>

namespace weft::coll {

bool Shape::operator<(const Shape& o) const {
  return std::tie(kind, dtype, op, count, root, in_place, algo, chunk_bytes, rank, nranks) <
         std::tie(o.kind, o.dtype, o.op, o.count, o.root, o.in_place, o.algo, o.chunk_bytes, o.rank, o.nranks);
}

namespace {

constexpr uint64_t kMaxChunks = 64;  // per segment: bounds schedule size and in-flight operations

int mod(int a, int n) { return ((a % n) + n) % n; }

// Elements [off, off+len).
struct Piece {
  uint64_t off = 0, len = 0;
};
Piece part(uint64_t total, uint64_t parts, uint64_t i) {
  const uint64_t base = total / parts, extra = total % parts;
  return {i * base + std::min(i, extra), base + (i < extra ? 1 : 0)};
}
Piece sub(Piece p, uint64_t parts, uint64_t i) {
  const Piece q = part(p.len, parts, i);
  return {p.off + q.off, q.len};
}
uint64_t chunks_for(uint64_t elems, uint64_t chunk_elems) {
  if (elems == 0) return 1;
  return std::clamp<uint64_t>((elems + chunk_elems - 1) / chunk_elems, 1, kMaxChunks);
}
uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

// Byte ranges of the three buffers, with in-place aliasing folded in: the
// builders always say in(...) / out(...), and when the caller passed one
// buffer for both the ranges land on the same Buf, so hazards are tracked.
struct Bufs {
  uint64_t esz = 1;
  Buf in_buf = Buf::kIn, out_buf = Buf::kOut;
  uint64_t in_base = 0, out_base = 0;  // bytes
  Range in(Piece p) const { return {in_buf, in_base + p.off * esz, p.len * esz}; }
  Range out(Piece p) const { return {out_buf, out_base + p.off * esz, p.len * esz}; }
  Range scratch(uint64_t byte_off, uint64_t elems) const { return {Buf::kScratch, byte_off, elems * esz}; }
};

bool is_avg(const Shape& s) { return s.op == RedOp::kAvg; }

std::string sched_name(const Shape& s) {
  return fmt::format("{}/{} rank {}/{} count {} {} {}{}", coll_name(s.kind), algorithm_name(s.algo), s.rank, s.nranks,
                     s.count, dtype_name(s.dtype), redop_name(s.op), s.in_place ? " in-place" : "");
}

// ---------------------------------------------------------------- ring ----

// All-reduce = reduce-scatter + all-gather around the ring r -> r+1. In the
// reduce-scatter, step s sends segment r-s and folds the arriving segment
// r-s-1 into `out` (taking this rank's own contribution from `in`, so
// out-of-place needs no initial copy); afterwards rank r holds segment r+1
// complete, and the all-gather passes complete segments on.
Schedule ring_allreduce(const Shape& s, const Bufs& b) {
  ScheduleBuilder sb(sched_name(s), s.nranks, s.dtype, s.op);
  const int n = s.nranks, r = s.rank;
  if (n == 1) {
    if (!s.in_place && s.count) sb.copy(b.out({0, s.count}), b.in({0, s.count}));
    return sb.finish();
  }
  const uint64_t max_seg = ceil_div(s.count, n);
  const uint64_t ce = std::max<uint64_t>(1, s.chunk_bytes / b.esz);
  const uint64_t nch = chunks_for(max_seg, ce);
  const uint64_t slot = ceil_div(max_seg, nch) * b.esz;
  sb.need_scratch(2 * nch * slot);
  const int next = mod(r + 1, n), prev = mod(r - 1, n);
  auto chunk = [&](int seg, uint64_t j) { return sub(part(s.count, n, seg), nch, j); };
  for (int st = 0; st < n - 1; ++st) {
    const int ss = mod(r - st, n), rs = mod(r - st - 1, n);
    for (uint64_t j = 0; j < nch; ++j) {
      const Piece sc = chunk(ss, j), rc = chunk(rs, j);
      if (sc.len) sb.send(next, 0, st == 0 ? b.in(sc) : b.out(sc));
      if (rc.len) {
        const Range tmp = b.scratch(((st % 2) * nch + j) * slot, rc.len);
        sb.recv(prev, 0, tmp);
        sb.reduce(b.out(rc), b.in(rc), tmp);
      }
    }
  }
  const int own = mod(r + 1, n);
  if (is_avg(s))
    for (uint64_t j = 0; j < nch; ++j)
      if (chunk(own, j).len) sb.divide(b.out(chunk(own, j)), static_cast<uint32_t>(n));
  for (int t = 0; t < n - 1; ++t) {
    const int ss = mod(r + 1 - t, n), rs = mod(r - t, n);
    for (uint64_t j = 0; j < nch; ++j) {
      const Piece sc = chunk(ss, j), rc = chunk(rs, j);
      if (sc.len) sb.send(next, 1, b.out(sc));
      if (rc.len) sb.recv(prev, 1, b.out(rc));
    }
  }
  return sb.finish();
}

// Reduce-scatter: step s sends segment r-s-1 and folds segment r-s-2; the
// last step folds segment r itself straight into `out`. Partial sums live in
// two scratch accumulators (by step parity) so step s+1 can fill one while
// step s's send of the other is still being acknowledged.
Schedule ring_reduce_scatter(const Shape& s, const Bufs& b) {
  ScheduleBuilder sb(sched_name(s), s.nranks, s.dtype, s.op);
  const int n = s.nranks, r = s.rank;
  const uint64_t c = s.count;
  auto seg = [&](int i) { return Piece{static_cast<uint64_t>(i) * c, c}; };
  if (n == 1) {
    if (!s.in_place && c) sb.copy(b.out({0, c}), b.in(seg(0)));
    return sb.finish();
  }
  const uint64_t ce = std::max<uint64_t>(1, s.chunk_bytes / b.esz);
  const uint64_t nch = chunks_for(c, ce);
  const uint64_t slot = ceil_div(std::max<uint64_t>(c, 1), nch) * b.esz;
  const uint64_t acc_base = 2 * nch * slot;
  sb.need_scratch(4 * nch * slot);
  const int next = mod(r + 1, n), prev = mod(r - 1, n);
  for (int st = 0; st < n - 1; ++st) {
    const int ss = mod(r - st - 1, n), rs = mod(r - st - 2, n);
    for (uint64_t j = 0; j < nch; ++j) {
      const Piece local = sub({0, c}, nch, j);
      if (!local.len) continue;
      const Piece sc{seg(ss).off + local.off, local.len}, rc{seg(rs).off + local.off, local.len};
      const Range prev_acc = b.scratch(acc_base + (((st + 1) % 2) * nch + j) * slot, local.len);
      const Range acc = b.scratch(acc_base + ((st % 2) * nch + j) * slot, local.len);
      sb.send(next, 0, st == 0 ? b.in(sc) : prev_acc);
      const Range tmp = b.scratch(((st % 2) * nch + j) * slot, local.len);
      sb.recv(prev, 0, tmp);
      sb.reduce(st == n - 2 ? b.out(local) : acc, b.in(rc), tmp);
    }
  }
  if (is_avg(s))
    for (uint64_t j = 0; j < nch; ++j)
      if (sub({0, c}, nch, j).len) sb.divide(b.out(sub({0, c}, nch, j)), static_cast<uint32_t>(n));
  return sb.finish();
}

Schedule ring_all_gather(const Shape& s, const Bufs& b) {
  ScheduleBuilder sb(sched_name(s), s.nranks, s.dtype, s.op);
  const int n = s.nranks, r = s.rank;
  const uint64_t c = s.count;
  auto seg = [&](int i) { return Piece{static_cast<uint64_t>(i) * c, c}; };
  const uint64_t ce = std::max<uint64_t>(1, s.chunk_bytes / b.esz);
  const uint64_t nch = chunks_for(c, ce);
  if (!s.in_place && c) sb.copy(b.out(seg(r)), b.in({0, c}));
  const int next = mod(r + 1, n), prev = mod(r - 1, n);
  for (int t = 0; t < n - 1; ++t) {
    const int ss = mod(r - t, n), rs = mod(r - t - 1, n);
    for (uint64_t j = 0; j < nch; ++j) {
      const Piece local = sub({0, c}, nch, j);
      if (!local.len) continue;
      sb.send(next, 0, t == 0 ? b.in(local) : b.out({seg(ss).off + local.off, local.len}));
      sb.recv(prev, 0, b.out({seg(rs).off + local.off, local.len}));
    }
  }
  return sb.finish();
}

// Broadcast as a pipelined chain root -> root+1 -> ...: every chunk moves on
// as soon as it lands, so a long vector costs about one transfer time.
Schedule chain_broadcast(const Shape& s, const Bufs& b) {
  ScheduleBuilder sb(sched_name(s), s.nranks, s.dtype, s.op);
  const int n = s.nranks, r = s.rank, p = mod(r - s.root, n);
  const uint64_t nch = chunks_for(s.count, std::max<uint64_t>(1, s.chunk_bytes / b.esz));
  const int next = mod(r + 1, n), prev = mod(r - 1, n);
  for (uint64_t j = 0; j < nch; ++j) {
    const Piece c = sub({0, s.count}, nch, j);
    if (!c.len) continue;
    if (p == 0) {
      if (!s.in_place) sb.copy(b.out(c), b.in(c));
      if (n > 1) sb.send(next, 0, b.in(c));
    } else {
      sb.recv(prev, 0, b.out(c));
      if (p < n - 1) sb.send(next, 0, b.out(c));
    }
  }
  return sb.finish();
}

// Reduce as a pipelined chain towards the root: position N-1 starts, each
// position adds its own contribution and passes the partial sum on.
Schedule chain_reduce(const Shape& s, const Bufs& b) {
  ScheduleBuilder sb(sched_name(s), s.nranks, s.dtype, s.op);
  const int n = s.nranks, r = s.rank, p = mod(r - s.root, n);
  const uint64_t nch = chunks_for(s.count, std::max<uint64_t>(1, s.chunk_bytes / b.esz));
  const uint64_t slot = ceil_div(std::max<uint64_t>(s.count, 1), nch) * b.esz;
  sb.need_scratch(2 * nch * slot);
  const int next = mod(r + 1, n), prev = mod(r - 1, n);
  for (uint64_t j = 0; j < nch; ++j) {
    const Piece c = sub({0, s.count}, nch, j);
    if (!c.len) continue;
    if (n == 1) {
      if (!s.in_place) sb.copy(b.out(c), b.in(c));
    } else if (p == n - 1) {
      sb.send(prev, 0, b.in(c));
    } else {
      const Range tmp = b.scratch(j * slot, c.len);
      sb.recv(next, 0, tmp);
      if (p == 0) {
        sb.reduce(b.out(c), b.in(c), tmp);
      } else {
        const Range acc = b.scratch((nch + j) * slot, c.len);
        sb.reduce(acc, b.in(c), tmp);
        sb.send(prev, 0, acc);
      }
    }
    if (p == 0 && is_avg(s)) sb.divide(b.out(c), static_cast<uint32_t>(n));
  }
  return sb.finish();
}

// ---------------------------------------------------------------- trees ---

// NCCL's binary tree over ranks (ncclGetBtree): a rank's lowest set bit
// gives its level, odd ranks are leaves, rank 0 is the root with a single
// child. Every interior rank is even, which is what lets the mirrored second
// tree use only odd ranks as interior nodes.
TreeNode btree(int n, int rank) {
  TreeNode t;
  int bit = 1;
  while (bit < n && !(bit & rank)) bit <<= 1;
  if (rank == 0) {
    t.child[0] = n > 1 ? bit >> 1 : -1;
    return t;
  }
  t.parent = (rank ^ bit) | (bit << 1);
  if (t.parent >= n) t.parent = rank ^ bit;
  int low = bit >> 1;
  t.child[0] = low == 0 ? -1 : rank - low;
  int d1 = low == 0 ? -1 : rank + low;
  while (d1 >= n) {
    low >>= 1;
    d1 = low == 0 ? -1 : rank + low;
  }
  t.child[1] = d1;
  return t;
}

// Up the tree into `dst` (root: out; others: an accumulator sent on), then
// down from the root into `out`. `ch` is this tree's first channel.
void tree_allreduce_part(ScheduleBuilder& sb, const Shape& s, const Bufs& b, const TreeNode& me, Piece data,
                         int ch, uint64_t scratch_base, uint64_t& scratch_used) {
  const uint64_t nch = chunks_for(data.len, std::max<uint64_t>(1, s.chunk_bytes / b.esz));
  const uint64_t slot = ceil_div(std::max<uint64_t>(data.len, 1), nch) * b.esz;
  scratch_used = 3 * nch * slot;  // two children's slots + the accumulator
  for (uint64_t j = 0; j < nch; ++j) {
    const Piece c = sub(data, nch, j);
    if (!c.len) continue;
    const bool root = me.parent < 0;
    const bool leaf = me.child[0] < 0 && me.child[1] < 0;
    Range val = b.in(c);
    if (!leaf) {
      const Range acc = root ? b.out(c) : b.scratch(scratch_base + (2 * nch + j) * slot, c.len);
      Range from = b.in(c);
      for (int k = 0; k < 2; ++k) {
        if (me.child[k] < 0) continue;
        const Range tmp = b.scratch(scratch_base + (k * nch + j) * slot, c.len);
        sb.recv(me.child[k], ch, tmp);
        sb.reduce(acc, from, tmp);
        from = acc;
      }
      val = acc;
    } else if (root && !s.in_place) {
      sb.copy(b.out(c), b.in(c));  // a one-rank tree
      val = b.out(c);
    }
    if (!root) sb.send(me.parent, ch, val);
    if (root && is_avg(s)) sb.divide(b.out(c), static_cast<uint32_t>(s.nranks));
  }
  for (uint64_t j = 0; j < nch; ++j) {
    const Piece c = sub(data, nch, j);
    if (!c.len) continue;
    if (me.parent >= 0) sb.recv(me.parent, ch + 1, b.out(c));
    for (int k = 0; k < 2; ++k)
      if (me.child[k] >= 0) sb.send(me.child[k], ch + 1, b.out(c));
  }
}

// Double binary tree (as in NCCL 2.4): the second tree is the first mirrored
// (even N) or shifted by one (odd N), so a rank that is interior in one tree
// is a leaf in the other and every rank sends and receives about the same
// amount. Half the vector goes through each tree.
Schedule dbt_allreduce(const Shape& s, const Bufs& b) {
  ScheduleBuilder sb(sched_name(s), s.nranks, s.dtype, s.op);
  uint64_t used0 = 0, used1 = 0;
  const Piece h0 = part(s.count, 2, 0), h1 = part(s.count, 2, 1);
  tree_allreduce_part(sb, s, b, dbt_node(s.nranks, s.rank, 0), h0, 0, 0, used0);
  tree_allreduce_part(sb, s, b, dbt_node(s.nranks, s.rank, 1), h1, 2, used0, used1);
  sb.need_scratch(used0 + used1);
  return sb.finish();
}

// One binary tree rooted at the root (relabelled so the root is 0; heap
// order: parent (v-1)/2), for broadcast and reduce.
TreeNode heap_node(int n, int rank, int root) {
  const int v = mod(rank - root, n);
  TreeNode t;
  t.parent = v == 0 ? -1 : mod((v - 1) / 2 + root, n);
  for (int k = 0; k < 2; ++k)
    if (2 * v + 1 + k < n) t.child[k] = mod(2 * v + 1 + k + root, n);
  return t;
}

Schedule tree_broadcast(const Shape& s, const Bufs& b) {
  ScheduleBuilder sb(sched_name(s), s.nranks, s.dtype, s.op);
  const TreeNode me = heap_node(s.nranks, s.rank, s.root);
  const uint64_t nch = chunks_for(s.count, std::max<uint64_t>(1, s.chunk_bytes / b.esz));
  for (uint64_t j = 0; j < nch; ++j) {
    const Piece c = sub({0, s.count}, nch, j);
    if (!c.len) continue;
    if (me.parent >= 0) sb.recv(me.parent, 0, b.out(c));
    else if (!s.in_place) sb.copy(b.out(c), b.in(c));
    for (int k = 0; k < 2; ++k)
      if (me.child[k] >= 0) sb.send(me.child[k], 0, me.parent < 0 ? b.in(c) : b.out(c));
  }
  return sb.finish();
}

Schedule tree_reduce(const Shape& s, const Bufs& b) {
  ScheduleBuilder sb(sched_name(s), s.nranks, s.dtype, s.op);
  const TreeNode me = heap_node(s.nranks, s.rank, s.root);
  const uint64_t nch = chunks_for(s.count, std::max<uint64_t>(1, s.chunk_bytes / b.esz));
  const uint64_t slot = ceil_div(std::max<uint64_t>(s.count, 1), nch) * b.esz;
  sb.need_scratch(3 * nch * slot);
  for (uint64_t j = 0; j < nch; ++j) {
    const Piece c = sub({0, s.count}, nch, j);
    if (!c.len) continue;
    const bool root = me.parent < 0;
    Range val = b.in(c);
    const Range acc = root ? b.out(c) : b.scratch((2 * nch + j) * slot, c.len);
    Range from = b.in(c);
    bool reduced = false;
    for (int k = 0; k < 2; ++k) {
      if (me.child[k] < 0) continue;
      const Range tmp = b.scratch((k * nch + j) * slot, c.len);
      sb.recv(me.child[k], 0, tmp);
      sb.reduce(acc, from, tmp);
      from = acc;
      reduced = true;
    }
    if (reduced) val = acc;
    if (!root) sb.send(me.parent, 0, val);
    else if (!reduced && !s.in_place) sb.copy(b.out(c), b.in(c));
    if (root && is_avg(s)) sb.divide(b.out(c), static_cast<uint32_t>(s.nranks));
  }
  return sb.finish();
}

// ------------------------------------------- recursive halving-doubling ---

// Rabenseifner: with P the largest power of two <= N, the first 2(N-P)
// ranks pair up and the even one hands its vector to the odd one and sits
// out. The P remaining ranks reduce-scatter by recursive halving (exchange
// half the current range with the partner across the highest bit left),
// then all-gather by recursive doubling (the same exchanges in reverse);
// finally the odd ranks hand the result back. log2(P) steps each way: the
// algorithm for small and medium vectors.
Schedule rhd_allreduce(const Shape& s, const Bufs& b) {
  ScheduleBuilder sb(sched_name(s), s.nranks, s.dtype, s.op);
  const int n = s.nranks, r = s.rank;
  const uint64_t ce = std::max<uint64_t>(1, s.chunk_bytes / b.esz);
  const Piece all{0, s.count};
  sb.need_scratch(s.count * b.esz);
  auto chunks = [&](Piece p, auto&& fn) {
    const uint64_t nch = chunks_for(p.len, ce);
    for (uint64_t j = 0; j < nch; ++j)
      if (const Piece c = sub(p, nch, j); c.len) fn(c);
  };
  if (!s.in_place) chunks(all, [&](Piece c) { sb.copy(b.out(c), b.in(c)); });
  int pow2 = 1;
  while (pow2 * 2 <= n) pow2 *= 2;
  const int rem = n - pow2;
  int id;  // position among the pow2 working ranks, or -1
  if (r < 2 * rem) {
    if (r % 2 == 0) {
      chunks(all, [&](Piece c) { sb.send(r + 1, 0, b.out(c)); });
      id = -1;
    } else {
      chunks(all, [&](Piece c) {
        sb.recv(r - 1, 0, b.scratch(c.off * b.esz, c.len));
        sb.reduce(b.out(c), b.out(c), b.scratch(c.off * b.esz, c.len));
      });
      id = r / 2;
    }
  } else {
    id = r - rem;
  }
  auto real = [&](int v) { return v < rem ? 2 * v + 1 : v + rem; };
  if (id >= 0) {
    struct Level {
      int partner;
      Piece keep, give;
    };
    std::vector<Level> levels;
    Piece range = all;
    for (int d = pow2 / 2; d >= 1; d /= 2) {
      const int partner = real(id ^ d);
      const Piece lo = part(range.len, 2, 0), hi = part(range.len, 2, 1);
      const Piece lower{range.off + lo.off, lo.len}, upper{range.off + hi.off, hi.len};
      const bool low_side = (id & d) == 0;
      const Piece keep = low_side ? lower : upper, give = low_side ? upper : lower;
      chunks(give, [&](Piece c) { sb.send(partner, 1, b.out(c)); });
      chunks(keep, [&](Piece c) {
        const Range tmp = b.scratch(c.off * b.esz, c.len);
        sb.recv(partner, 1, tmp);
        sb.reduce(b.out(c), b.out(c), tmp);
      });
      levels.push_back({partner, keep, give});
      range = keep;
    }
    if (is_avg(s)) chunks(range, [&](Piece c) { sb.divide(b.out(c), static_cast<uint32_t>(n)); });
    for (auto it = levels.rbegin(); it != levels.rend(); ++it) {
      chunks(it->keep, [&](Piece c) { sb.send(it->partner, 2, b.out(c)); });
      chunks(it->give, [&](Piece c) { sb.recv(it->partner, 2, b.out(c)); });
    }
  }
  if (r < 2 * rem) {
    if (r % 2 == 1) chunks(all, [&](Piece c) { sb.send(r - 1, 3, b.out(c)); });
    else chunks(all, [&](Piece c) { sb.recv(r + 1, 3, b.out(c)); });
  }
  return sb.finish();
}

// --------------------------------------------------------------- direct ---

Schedule direct_all_to_all(const Shape& s, const Bufs& b) {
  ScheduleBuilder sb(sched_name(s), s.nranks, s.dtype, s.op);
  const int n = s.nranks, r = s.rank;
  const uint64_t c = s.count;
  auto blk = [&](int i) { return Piece{static_cast<uint64_t>(i) * c, c}; };
  if (c == 0) return sb.finish();
  // In place, the blocks about to be overwritten are still to be sent:
  // stage the input in scratch first.
  auto src = [&](Piece p) { return s.in_place ? b.scratch(p.off * b.esz, p.len) : b.in(p); };
  if (s.in_place) {
    sb.need_scratch(static_cast<uint64_t>(n) * c * b.esz);
    for (int i = 0; i < n; ++i)
      if (i != r) sb.copy(src(blk(i)), b.in(blk(i)));
  } else {
    sb.copy(b.out(blk(r)), b.in(blk(r)));
  }
  for (int k = 1; k < n; ++k) {
    const int to = mod(r + k, n), from = mod(r - k, n);
    sb.send(to, 0, src(blk(to)));
    sb.recv(from, 0, b.out(blk(from)));
  }
  return sb.finish();
}

// Dissemination barrier: in round k every rank signals rank r + 2^k and
// waits for rank r - 2^k. A round's signal must follow every earlier
// round's arrival, not just the last one's: a one-byte "reduce" folds each
// arrival into a running byte (scratch[32 + k]) that the next signal reads,
// so the hazard tracker orders the rounds as a chain.
Schedule dissemination_barrier(const Shape& s) {
  ScheduleBuilder sb(sched_name(s), s.nranks, DataType::kU8, RedOp::kSum);
  const int n = s.nranks, r = s.rank;
  sb.need_scratch(64);
  auto byte = [](uint64_t i) { return Range{Buf::kScratch, i, 1}; };
  int round = 0;
  for (int k = 1; k < n; k *= 2, ++round) {
    sb.send(mod(r + k, n), 0, byte(round == 0 ? 63 : 32 + round - 1));
    sb.recv(mod(r - k, n), 0, byte(round));
    sb.reduce(byte(32 + round), byte(round == 0 ? 62 : 32 + round - 1), byte(round));
  }
  return sb.finish();
}

}  // namespace

TreeNode dbt_node(int nranks, int rank, int t) {
  if (t == 0) return btree(nranks, rank);
  // Tree 1 relabels tree 0: mirror for even N, shift by one for odd N.
  auto to1 = [&](int v) { return nranks % 2 == 0 ? nranks - 1 - v : mod(v + 1, nranks); };
  auto from1 = [&](int v) { return nranks % 2 == 0 ? nranks - 1 - v : mod(v - 1, nranks); };
  const TreeNode l = btree(nranks, from1(rank));
  TreeNode out;
  out.parent = l.parent < 0 ? -1 : to1(l.parent);
  for (int k = 0; k < 2; ++k) out.child[k] = l.child[k] < 0 ? -1 : to1(l.child[k]);
  return out;
}

Result<Schedule> compile(const Shape& s) {
  Bufs b;
  b.esz = s.kind == CollKind::kBarrier ? 1 : dtype_size(s.dtype);
  if (s.in_place) {
    switch (s.kind) {
      case CollKind::kReduceScatter:  // out is block `rank` of in
        b.out_buf = Buf::kIn;
        b.out_base = static_cast<uint64_t>(s.rank) * s.count * b.esz;
        break;
      case CollKind::kAllGather:  // in is block `rank` of out
        b.in_buf = Buf::kOut;
        b.in_base = static_cast<uint64_t>(s.rank) * s.count * b.esz;
        break;
      default:
        b.in_buf = Buf::kOut;
        break;
    }
  }
  auto unsupported = [&] {
    return Status(Code::kInvalidArgument, fmt::format("algorithm '{}' does not implement {}: use ring or auto",
                                                      algorithm_name(s.algo), coll_name(s.kind)));
  };
  switch (s.kind) {
    case CollKind::kAllReduce:
      if (s.algo == Algorithm::kRing) return ring_allreduce(s, b);
      if (s.algo == Algorithm::kRecursiveHalvingDoubling) return rhd_allreduce(s, b);
      if (s.algo == Algorithm::kDoubleBinaryTree) return dbt_allreduce(s, b);
      return unsupported();
    case CollKind::kReduceScatter:
      if (s.algo == Algorithm::kRing) return ring_reduce_scatter(s, b);
      return unsupported();
    case CollKind::kAllGather:
      if (s.algo == Algorithm::kRing) return ring_all_gather(s, b);
      return unsupported();
    case CollKind::kBroadcast:
      if (s.algo == Algorithm::kRing) return chain_broadcast(s, b);
      if (s.algo == Algorithm::kDoubleBinaryTree) return tree_broadcast(s, b);
      return unsupported();
    case CollKind::kReduce:
      if (s.algo == Algorithm::kRing) return chain_reduce(s, b);
      if (s.algo == Algorithm::kDoubleBinaryTree) return tree_reduce(s, b);
      return unsupported();
    case CollKind::kAllToAll:
      if (s.algo == Algorithm::kDirect || s.algo == Algorithm::kRing) return direct_all_to_all(s, b);
      return unsupported();
    case CollKind::kBarrier:
      return dissemination_barrier(s);
    default:
      return Status(Code::kInvalidArgument, fmt::format("{} has no schedule compiler", coll_name(s.kind)));
  }
}

Schedule compile_all_to_allv(int rank, int nranks, DataType t, std::span<const size_t> send_counts,
                             std::span<const size_t> send_displs, std::span<const size_t> recv_counts,
                             std::span<const size_t> recv_displs) {
  ScheduleBuilder sb(fmt::format("alltoallv/direct rank {}/{}", rank, nranks), nranks, t, RedOp::kSum);
  const uint64_t esz = dtype_size(t);
  auto in = [&](int i) { return Range{Buf::kIn, send_displs[i] * esz, send_counts[i] * esz}; };
  auto out = [&](int i) { return Range{Buf::kOut, recv_displs[i] * esz, recv_counts[i] * esz}; };
  if (send_counts[rank]) sb.copy(out(rank), in(rank));
  for (int k = 1; k < nranks; ++k) {
    const int to = mod(rank + k, nranks), from = mod(rank - k, nranks);
    if (send_counts[to]) sb.send(to, 0, in(to));
    if (recv_counts[from]) sb.recv(from, 0, out(from));
  }
  return sb.finish();
}

// The tuning table, measured over UDP loopback on 2 cores (weft-perf
// allreduce -a NAME): latency-bound sizes want few steps (halving-doubling:
// 2 log2 N), bandwidth-bound sizes want every byte sent ~2(N-1)/N times
// (ring). The trees sit between. Override per call or with CommConfig.
Algorithm auto_select(CollKind k, uint64_t bytes, int nranks) {
  switch (k) {
    case CollKind::kAllReduce:
      if (nranks <= 2) return bytes <= (64u << 10) ? Algorithm::kRecursiveHalvingDoubling : Algorithm::kRing;
      if (bytes <= (64u << 10)) return Algorithm::kRecursiveHalvingDoubling;
      if (bytes <= (1u << 20)) return Algorithm::kDoubleBinaryTree;
      return Algorithm::kRing;
    case CollKind::kBroadcast:
    case CollKind::kReduce:
      return bytes <= (256u << 10) && nranks > 3 ? Algorithm::kDoubleBinaryTree : Algorithm::kRing;
    case CollKind::kAllToAll:
    case CollKind::kAllToAllV:
      return Algorithm::kDirect;
    default:
      return Algorithm::kRing;
  }
}

uint64_t auto_chunk_bytes(CollKind k, uint64_t bytes, int nranks) {
  // Big enough that per-message overheads vanish, small enough that a ring
  // step pipelines over several chunks: 64 MiB over 2 ranks over UDP
  // loopback ran best at 1 MiB (0.28 GB/s busbw vs 0.20 at 4 MiB, 0.16 at
  // 16 MiB; weft-perf allreduce --chunk, 2 loaded cores).
  const uint64_t per_rank = bytes / std::max(1, nranks);
  return std::clamp<uint64_t>(per_rank / 8, 64u << 10, 1u << 20);
}

}  // namespace weft::coll
