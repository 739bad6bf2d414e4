// tests/collectives/collectives_test.cc — every operation checked element by
// element against the reference, crossed over rank counts {1,2,3,4,5,8}.
//
// The full cross (every datatype x reduction x algorithm x in/out-of-place)
// runs on the awkward small counts 0, 1, 7 and 1023; 1 MiB + 3 elements is
// spot-checked per algorithm and for a few datatypes, which keeps the suite
// within seconds per rank count on 2 cores. FaultyNetwork repeats the suite
// on a loopback network that drops, duplicates and reorders datagrams.
#include <gtest/gtest.h>

#include <atomic>
#include <numeric>

#include "collectives/reference.h"
#include "tests/collectives/world.h"

namespace weft::coll::testing {
namespace {

using namespace weft::coll::reference;

constexpr DataType kAllTypes[] = {DataType::kF32, DataType::kF64, DataType::kF16, DataType::kBF16, DataType::kI8,
                                  DataType::kU8,  DataType::kI32, DataType::kU32, DataType::kI64,  DataType::kU64};
constexpr RedOp kAllOps[] = {RedOp::kSum, RedOp::kProd, RedOp::kMin, RedOp::kMax, RedOp::kAvg};
constexpr Algorithm kAllReduceAlgos[] = {Algorithm::kRing, Algorithm::kRecursiveHalvingDoubling,
                                         Algorithm::kDoubleBinaryTree, Algorithm::kAuto};
constexpr uint64_t kSmallCounts[] = {0, 1, 7, 1023};
constexpr uint64_t kBig = (1u << 20) + 3;

// Per-rank failure report that stops a rank's loop at the first problem, so a
// broken build prints one line per rank instead of thousands.
struct Ctx {
  int r;
  std::atomic<int>* failures;
  bool check(const Status& st, const std::string& what) {
    if (st.is_ok()) return true;
    ADD_FAILURE() << "rank " << r << " " << what << ": " << st.to_string();
    failures->fetch_add(1);
    return false;
  }
  bool check(const std::string& err, const std::string& what) {
    if (err.empty()) return true;
    ADD_FAILURE() << "rank " << r << " " << what << ": " << err;
    failures->fetch_add(1);
    return false;
  }
};

std::string label(std::string_view op, DataType t, RedOp o, Algorithm a, uint64_t count, bool in_place, int root = -1) {
  return fmt::format("{} {} {} {} count {}{}{}", op, dtype_name(t), redop_name(o), algorithm_name(a), count,
                     in_place ? " in-place" : "", root >= 0 ? fmt::format(" root {}", root) : "");
}

bool all_reduce_case(Ctx& c, Communicator& comm, DataType t, RedOp op, Algorithm a, uint64_t count, bool in_place,
                     uint64_t seed) {
  const size_t esz = dtype_size(t);
  std::vector<uint8_t> in(count * esz + 1), out(count * esz + 1, 0xEE);
  fill_input(t, op, comm.rank(), in.data(), count, seed);
  void* dst = in_place ? in.data() : out.data();
  const std::string what = label("allreduce", t, op, a, count, in_place);
  if (!c.check(comm.all_reduce(in.data(), dst, count, t, op, a), what)) return false;
  if (!in_place) {  // the input is untouched, and nothing past the end is written
    std::vector<uint8_t> again(count * esz + 1);
    fill_input(t, op, comm.rank(), again.data(), count, seed);
    if (!c.check(std::memcmp(again.data(), in.data(), count * esz) == 0 ? "" : "input buffer modified", what)) return false;
    if (!c.check(out[count * esz] == 0xEE ? "" : "wrote past the end of the output", what)) return false;
  }
  return c.check(check_reduced(t, op, comm.size(), dst, count, seed), what);
}

class Collectives : public ::testing::TestWithParam<int> {};

void all_reduce_suite(World& w, bool big, bool all_types) {
  std::atomic<int> failures{0};
  w.run([&](int r, Communicator& comm) {
    Ctx c{r, &failures};
    uint64_t seed = 1;
    for (DataType t : kAllTypes) {
      if (!all_types && t != DataType::kF32 && t != DataType::kI32 && t != DataType::kF16) continue;
      for (RedOp op : kAllOps)
        for (Algorithm a : kAllReduceAlgos)
          for (uint64_t n : kSmallCounts)
            for (bool ip : {false, true})
              if (!all_reduce_case(c, comm, t, op, a, n, ip, seed++)) return;
    }
    if (!big) return;
    for (Algorithm a : kAllReduceAlgos)
      if (!all_reduce_case(c, comm, DataType::kF32, RedOp::kSum, a, kBig, a == Algorithm::kRing, seed++)) return;
    for (DataType t : {DataType::kBF16, DataType::kI8, DataType::kF64})
      if (!all_reduce_case(c, comm, t, RedOp::kAvg, Algorithm::kRing, kBig, false, seed++)) return;
  });
  EXPECT_EQ(failures.load(), 0);
}

TEST_P(Collectives, AllReduceMatchesReferenceForEveryTypeOpAlgorithmAndAwkwardCount) {
  World w(GetParam());
  ASSERT_TRUE(w.ok());
  all_reduce_suite(w, /*big=*/true, /*all_types=*/true);
}

TEST_P(Collectives, ReduceScatterAndAllGatherMatchReference) {
  World w(GetParam());
  ASSERT_TRUE(w.ok());
  std::atomic<int> failures{0};
  w.run([&](int r, Communicator& comm) {
    Ctx c{r, &failures};
    const int n = comm.size();
    uint64_t seed = 100;
    for (DataType t : kAllTypes)
      for (RedOp op : kAllOps)
        for (uint64_t count : {uint64_t{0}, uint64_t{1}, uint64_t{7}, uint64_t{1023}})
          for (bool ip : {false, true}) {
            const size_t esz = dtype_size(t);
            // Reduce-scatter: rank r gets block r of the reduced n*count vector.
            std::vector<uint8_t> in(n * count * esz + 1), out(count * esz + 1);
            fill_input(t, op, r, in.data(), n * count, seed);
            void* dst = ip ? in.data() + r * count * esz : out.data();
            const std::string what = label("reducescatter", t, op, Algorithm::kRing, count, ip);
            if (!c.check(comm.reduce_scatter(in.data(), dst, count, t, op), what)) return;
            if (!c.check(check_reduced(t, op, n, dst, count, seed, r * count), what)) return;
            ++seed;
          }
    for (DataType t : kAllTypes)
      for (uint64_t count : {uint64_t{0}, uint64_t{1}, uint64_t{7}, uint64_t{1023}, kBig})
        for (bool ip : {false, true}) {
          if (count == kBig && t != DataType::kF32) continue;
          const size_t esz = dtype_size(t);
          // All-gather: block j of the output is rank j's input; inputs differ per rank.
          std::vector<uint8_t> mine(count * esz + 1), out(n * count * esz + 1, 0xEE);
          fill_input(t, RedOp::kSum, r, mine.data(), count, seed);
          if (ip) std::memcpy(out.data() + r * count * esz, mine.data(), count * esz);
          const void* src = ip ? out.data() + r * count * esz : mine.data();
          const std::string what = label("allgather", t, RedOp::kSum, Algorithm::kRing, count, ip);
          if (!c.check(comm.all_gather(src, out.data(), count, t), what)) return;
          for (int j = 0; j < n; ++j) {
            std::vector<uint8_t> want(count * esz + 1);
            fill_input(t, RedOp::kSum, j, want.data(), count, seed);
            if (!c.check(std::memcmp(want.data(), out.data() + j * count * esz, count * esz) == 0
                             ? ""
                             : fmt::format("block from rank {} differs", j),
                         what))
              return;
          }
          ++seed;
        }
  });
  EXPECT_EQ(failures.load(), 0);
}

TEST_P(Collectives, BroadcastAndReduceFromEveryRootMatchReference) {
  World w(GetParam());
  ASSERT_TRUE(w.ok());
  std::atomic<int> failures{0};
  w.run([&](int r, Communicator& comm) {
    Ctx c{r, &failures};
    const int n = comm.size();
    uint64_t seed = 300;
    for (Algorithm a : {Algorithm::kRing, Algorithm::kDoubleBinaryTree, Algorithm::kAuto})
      for (int root = 0; root < n; ++root)
        for (DataType t : {DataType::kF32, DataType::kBF16, DataType::kI8, DataType::kU64})
          for (uint64_t count : {uint64_t{0}, uint64_t{1}, uint64_t{7}, uint64_t{1023}})
            for (bool ip : {false, true}) {
              const size_t esz = dtype_size(t);
              // Broadcast: everyone ends with the root's input.
              std::vector<uint8_t> in(count * esz + 1), out(count * esz + 1, 0xEE);
              fill_input(t, RedOp::kSum, root, in.data(), count, seed);
              if (r != root) std::fill(in.begin(), in.end(), 0x5A);  // only the root's buffer matters
              void* dst = ip ? in.data() : out.data();
              std::string what = label("broadcast", t, RedOp::kSum, a, count, ip, root);
              if (!c.check(comm.broadcast(in.data(), dst, count, t, root, a), what)) return;
              std::vector<uint8_t> want(count * esz + 1);
              fill_input(t, RedOp::kSum, root, want.data(), count, seed);
              if (!c.check(std::memcmp(want.data(), dst, count * esz) == 0 ? "" : "differs from the root's data", what))
                return;
              // Reduce: the root gets the reduction, every op.
              for (RedOp op : kAllOps) {
                ++seed;
                std::vector<uint8_t> rin(count * esz + 1), rout(count * esz + 1, 0xEE);
                fill_input(t, op, r, rin.data(), count, seed);
                void* rdst = ip ? rin.data() : rout.data();
                what = label("reduce", t, op, a, count, ip, root);
                if (!c.check(comm.reduce(rin.data(), rdst, count, t, op, root, a), what)) return;
                if (r == root && !c.check(check_reduced(t, op, n, rdst, count, seed), what)) return;
              }
              ++seed;
            }
    // One large broadcast and reduce per algorithm.
    for (Algorithm a : {Algorithm::kRing, Algorithm::kDoubleBinaryTree}) {
      const int root = n - 1;
      std::vector<uint8_t> buf(kBig * 4);
      fill_input(DataType::kF32, RedOp::kSum, r, buf.data(), kBig, seed);
      std::vector<uint8_t> out(kBig * 4);
      const std::string what = label("reduce", DataType::kF32, RedOp::kSum, a, kBig, false, root);
      if (!c.check(comm.reduce(buf.data(), out.data(), kBig, DataType::kF32, RedOp::kSum, root, a), what)) return;
      if (r == root && !c.check(check_reduced(DataType::kF32, RedOp::kSum, n, out.data(), kBig, seed), what)) return;
      if (!c.check(comm.broadcast(out.data(), out.data(), kBig, DataType::kF32, root, a), "broadcast big")) return;
      if (!c.check(check_reduced(DataType::kF32, RedOp::kSum, n, out.data(), kBig, seed), "broadcast big")) return;
      ++seed;
    }
  });
  EXPECT_EQ(failures.load(), 0);
}

TEST_P(Collectives, AllToAllAndAllToAllvDeliverEveryBlock) {
  World w(GetParam());
  ASSERT_TRUE(w.ok());
  std::atomic<int> failures{0};
  w.run([&](int r, Communicator& comm) {
    Ctx c{r, &failures};
    const int n = comm.size();
    // Element e of the block from rank s to rank d is s*1e6 + d*1e3 + e (mod 2^32).
    auto val = [](int s, int d, uint64_t e) { return static_cast<uint32_t>(s * 1000003u + d * 1009u + e); };
    for (uint64_t count : {uint64_t{0}, uint64_t{1}, uint64_t{7}, uint64_t{1023}, uint64_t{65539}})
      for (bool ip : {false, true}) {
        std::vector<uint32_t> in(n * count + 1), out(n * count + 1);
        for (int d = 0; d < n; ++d)
          for (uint64_t e = 0; e < count; ++e) in[d * count + e] = val(r, d, e);
        void* dst = ip ? in.data() : out.data();
        const std::string what = label("alltoall", DataType::kU32, RedOp::kSum, Algorithm::kDirect, count, ip);
        if (!c.check(comm.all_to_all(in.data(), dst, count, DataType::kU32), what)) return;
        const uint32_t* got = static_cast<const uint32_t*>(dst);
        for (int s = 0; s < n; ++s)
          for (uint64_t e = 0; e < count; ++e)
            if (got[s * count + e] != val(s, r, e)) {
              c.check(fmt::format("block from rank {} element {} wrong", s, e), what);
              return;
            }
      }
    // v: rank s sends (s + d) % 3 * 5 + d elements to rank d, packed in rank order.
    auto cnt = [](int s, int d) { return static_cast<size_t>((s + d) % 3 * 5 + d); };
    std::vector<size_t> sc(n), sd(n), rc(n), rd(n);
    for (int d = 0; d < n; ++d) {
      sc[d] = cnt(r, d);
      rc[d] = cnt(d, r);
    }
    std::exclusive_scan(sc.begin(), sc.end(), sd.begin(), size_t{0});
    std::exclusive_scan(rc.begin(), rc.end(), rd.begin(), size_t{0});
    std::vector<uint32_t> in(sd[n - 1] + sc[n - 1] + 1), out(rd[n - 1] + rc[n - 1] + 1);
    for (int d = 0; d < n; ++d)
      for (size_t e = 0; e < sc[d]; ++e) in[sd[d] + e] = val(r, d, e);
    auto req = comm.iall_to_allv(in.data(), sc, sd, out.data(), rc, rd, DataType::kU32);
    if (!c.check(req.status(), "alltoallv") || !c.check(req->wait(), "alltoallv")) return;
    for (int s = 0; s < n; ++s)
      for (size_t e = 0; e < rc[s]; ++e)
        if (out[rd[s] + e] != val(s, r, e)) {
          c.check(fmt::format("alltoallv block from rank {} element {} wrong", s, e), "alltoallv");
          return;
        }
  });
  EXPECT_EQ(failures.load(), 0);
}

TEST_P(Collectives, BarrierSendRecvAndNonBlockingRequestsComplete) {
  World w(GetParam());
  ASSERT_TRUE(w.ok());
  std::atomic<int> failures{0};
  std::atomic<int> arrived{0};
  w.run([&](int r, Communicator& comm) {
    Ctx c{r, &failures};
    const int n = comm.size();
    // Barrier: nobody leaves before everyone arrived.
    for (int round = 0; round < 5; ++round) {
      arrived.fetch_add(1);
      if (!c.check(comm.barrier(), "barrier")) return;
      if (arrived.load() < (round + 1) * n) {
        c.check("left the barrier before every rank arrived", "barrier");
        return;
      }
      if (!c.check(comm.barrier(), "barrier")) return;
    }
    // Send/recv around the ring, two tags interleaved.
    if (n > 1) {
      const int next = (r + 1) % n, prev = (r + n - 1) % n;
      std::vector<int64_t> a(1000), b(1000), ra(1000), rb(1000);
      for (int i = 0; i < 1000; ++i) {
        a[i] = r * 100000 + i;
        b[i] = -(r * 100000 + i);
      }
      auto s1 = comm.isend(a.data(), a.size(), DataType::kI64, next, 7);
      auto s2 = comm.isend(b.data(), b.size(), DataType::kI64, next, 9);
      auto q2 = comm.irecv(rb.data(), rb.size(), DataType::kI64, prev, 9);
      auto q1 = comm.irecv(ra.data(), ra.size(), DataType::kI64, prev, 7);
      for (auto* q : {&s1, &s2, &q2, &q1})
        if (!c.check(q->status(), "isend/irecv") || !c.check((*q)->wait(), "isend/irecv")) return;
      for (int i = 0; i < 1000; ++i)
        if (ra[i] != prev * 100000 + i || rb[i] != -(prev * 100000 + i)) {
          c.check("wrong data or tags crossed", "send/recv");
          return;
        }
    }
    // Several collectives in flight at once complete, in order, correctly.
    std::vector<std::vector<float>> bufs(4, std::vector<float>(777));
    std::vector<Request> reqs;
    for (int k = 0; k < 4; ++k) {
      fill_input(DataType::kF32, RedOp::kSum, r, bufs[k].data(), 777, 900 + k);
      auto q = comm.iall_reduce(bufs[k].data(), bufs[k].data(), 777, DataType::kF32, RedOp::kSum);
      if (!c.check(q.status(), "iallreduce")) return;
      reqs.push_back(*q);
    }
    for (int k = 3; k >= 0; --k)
      if (!c.check(reqs[k].wait(), "iallreduce wait")) return;
    for (int k = 0; k < 4; ++k)
      if (!c.check(check_reduced(DataType::kF32, RedOp::kSum, n, bufs[k].data(), 777, 900 + k), "iallreduce")) return;
  });
  EXPECT_EQ(failures.load(), 0);
}

TEST_P(Collectives, SplitMakesIndependentCommunicatorsByColorAndKey) {
  World w(GetParam());
  ASSERT_TRUE(w.ok());
  std::atomic<int> failures{0};
  w.run([&](int r, Communicator& comm) {
    Ctx c{r, &failures};
    const int n = comm.size();
    // Even and odd ranks; key reverses the order inside each group.
    auto sub = comm.split(r % 2, n - r);
    if (!c.check(sub.status(), "split")) return;
    Communicator& s = **sub;
    const int members = (n + 1 - r % 2) / 2;
    if (!c.check(s.size() == members ? "" : fmt::format("size {} want {}", s.size(), members), "split")) return;
    const int want_rank = members - 1 - r / 2;  // keys reverse the order
    if (!c.check(s.rank() == want_rank ? "" : fmt::format("rank {} want {}", s.rank(), want_rank), "split")) return;
    std::vector<int64_t> v(513, r), out(513);
    if (!c.check(s.all_reduce(v.data(), out.data(), v.size(), DataType::kI64, RedOp::kSum), "split allreduce")) return;
    int64_t want = 0;
    for (int q = r % 2; q < n; q += 2) want += q;
    for (int64_t x : out)
      if (x != want) {
        c.check(fmt::format("sum {} want {}", x, want), "split allreduce");
        return;
      }
    // The parent still works after the split.
    if (!c.check(comm.all_reduce(v.data(), out.data(), v.size(), DataType::kI64, RedOp::kMax), "parent after split"))
      return;
    if (out[0] != n - 1) c.check("wrong max", "parent after split");
    // A rank may stay out.
    auto none = comm.split(r == 0 ? -1 : 0, r);
    if (!c.check(none.status(), "split with a rank out")) return;
    if (r == 0 && *none) c.check("color -1 should give no communicator", "split");
    if (r != 0 && !*none) c.check("missing communicator", "split");
    if (r != 0 && *none && (*none)->size() != n - 1) c.check("wrong size", "split");
  });
  EXPECT_EQ(failures.load(), 0);
}

INSTANTIATE_TEST_SUITE_P(Ranks, Collectives, ::testing::Values(1, 2, 3, 4, 5, 8),
                         [](const auto& info) { return fmt::format("N{}", info.param); });

// The same all-reduce cross, on a network that drops 2 %, duplicates 1 % and
// reorders 5 % of datagrams: no wrong element, no hang.
class FaultyNetwork : public ::testing::TestWithParam<int> {};

TEST_P(FaultyNetwork, AllReduceIsExactUnderLossDuplicationAndReordering) {
  WorldOptions o;
  o.faults.drop = 0.02;
  o.faults.duplicate = 0.01;
  o.faults.reorder = 0.05;
  o.faults.reorder_window = micros(200);
  o.seed = 42 + GetParam();
  World w(GetParam(), o);
  ASSERT_TRUE(w.ok());
  all_reduce_suite(w, /*big=*/true, /*all_types=*/false);
  const auto st = w.net()->stats();
  EXPECT_GT(st.dropped, 0u) << "the fault injector never fired: the test proves nothing";
  EXPECT_GT(st.duplicated, 0u);
}

TEST_P(FaultyNetwork, OtherOperationsAreExactUnderLoss) {
  WorldOptions o;
  o.faults.drop = 0.02;
  o.faults.duplicate = 0.01;
  o.faults.reorder = 0.05;
  o.seed = 7 + GetParam();
  World w(GetParam(), o);
  ASSERT_TRUE(w.ok());
  std::atomic<int> failures{0};
  w.run([&](int r, Communicator& comm) {
    Ctx c{r, &failures};
    const int n = comm.size();
    uint64_t seed = 5000;
    for (uint64_t count : {uint64_t{1}, uint64_t{1023}, uint64_t{70001}}) {
      std::vector<float> in(n * count), out(n * count);
      fill_input(DataType::kF32, RedOp::kSum, r, in.data(), n * count, seed);
      if (!c.check(comm.reduce_scatter(in.data(), out.data(), count, DataType::kF32, RedOp::kSum), "reducescatter"))
        return;
      if (!c.check(check_reduced(DataType::kF32, RedOp::kSum, n, out.data(), count, seed, r * count), "reducescatter"))
        return;
      fill_input(DataType::kF32, RedOp::kMax, r, in.data(), count, seed);
      if (!c.check(comm.reduce(in.data(), out.data(), count, DataType::kF32, RedOp::kMax, n / 2), "reduce")) return;
      if (r == n / 2 && !c.check(check_reduced(DataType::kF32, RedOp::kMax, n, out.data(), count, seed), "reduce"))
        return;
      if (!c.check(comm.broadcast(out.data(), out.data(), count, DataType::kF32, n / 2), "broadcast")) return;
      if (!c.check(check_reduced(DataType::kF32, RedOp::kMax, n, out.data(), count, seed), "broadcast")) return;
      ++seed;
    }
  });
  EXPECT_EQ(failures.load(), 0);
}

INSTANTIATE_TEST_SUITE_P(Ranks, FaultyNetwork, ::testing::Values(2, 3, 5, 8),
                         [](const auto& info) { return fmt::format("N{}", info.param); });

// Real sockets: 4 ranks over UDP on 127.0.0.1.
TEST(CollectivesOverUdp, AllReduceOfOneMiBIsExactForEveryAlgorithm) {
  WorldOptions o;
  o.udp = true;
  World w(4, o);
  ASSERT_TRUE(w.ok());
  std::atomic<int> failures{0};
  w.run([&](int r, Communicator& comm) {
    Ctx c{r, &failures};
    uint64_t seed = 77;
    for (Algorithm a : kAllReduceAlgos)
      for (uint64_t count : {uint64_t{7}, kBig})
        if (!all_reduce_case(c, comm, DataType::kF32, RedOp::kSum, a, count, false, seed++)) return;
  });
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace weft::coll::testing
