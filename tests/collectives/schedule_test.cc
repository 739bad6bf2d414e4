// tests/collectives/schedule_test.cc — properties of compiled schedules that
// must hold for every algorithm, rank count and size, checked without a
// network: messages pair up (the n-th send a->b on a channel has the length
// of the n-th receive b<-a), every dependency points backwards (so the
// executor can always make progress), and a simulated run of all ranks'
// schedules together completes.
#include <gtest/gtest.h>

#include <map>
#include <tuple>

#include "collectives/algorithms.h"

namespace weft::coll {
namespace {

std::vector<Schedule> compile_all(Shape s) {
  std::vector<Schedule> out;
  for (int r = 0; r < s.nranks; ++r) {
    s.rank = r;
    auto c = compile(s);
    EXPECT_TRUE(c.is_ok()) << c.status().to_string();
    if (c) out.push_back(std::move(*c));
  }
  return out;
}

// Runs every rank's schedule in lock-step: a send completes when posted (the
// transport buffers), a receive when the matching send was posted. Fails if
// some rank can never finish, or if matched lengths differ.
::testing::AssertionResult runs_to_completion(const std::vector<Schedule>& ss) {
  const int n = static_cast<int>(ss.size());
  std::vector<std::vector<uint32_t>> remaining(n);
  std::vector<std::vector<bool>> done(n);
  // (from, to, channel) -> lengths sent so far, and how many were received.
  std::map<std::tuple<int, int, int>, std::vector<uint64_t>> sent;
  std::map<std::tuple<int, int, int>, size_t> taken;
  std::vector<std::vector<uint32_t>> head(n);
  for (int r = 0; r < n; ++r) {
    for (const Step& st : ss[r].steps)
      for (uint32_t k = 0; k < st.dep_count; ++k)
        if (ss[r].deps[st.dep_begin + k] >= &st - ss[r].steps.data())
          return ::testing::AssertionFailure() << "rank " << r << ": a dependency points forward";
    for (const Step& st : ss[r].steps) remaining[r].push_back(st.dep_count);
    done[r].assign(ss[r].steps.size(), false);
    head[r] = ss[r].queue_head;
  }
  bool moved = true;
  while (moved) {
    moved = false;
    for (int r = 0; r < n; ++r)
      for (uint32_t i = 0; i < ss[r].steps.size(); ++i) {
        if (done[r][i] || remaining[r][i] != 0) continue;
        const Step& st = ss[r].steps[i];
        if (st.kind == StepKind::kSend || st.kind == StepKind::kRecv) {
          const uint32_t q = ss[r].queue_id[i];
          if (head[r][q] != i) continue;  // posted strictly in queue order
          if (st.kind == StepKind::kSend) {
            sent[{r, st.peer, st.channel}].push_back(st.src.len);
          } else {
            auto& v = sent[{st.peer, r, st.channel}];
            size_t& k = taken[{st.peer, r, st.channel}];
            if (k >= v.size()) continue;  // not sent yet
            if (v[k] != st.dst.len)
              return ::testing::AssertionFailure() << ss[r].name << ": receive of " << st.dst.len << " bytes from rank "
                                                   << st.peer << " matched a send of " << v[k];
            ++k;
          }
          head[r][q] = ss[r].queue_next[i];
        }
        done[r][i] = true;
        moved = true;
        for (uint32_t d = ss[r].dependents_begin[i]; d < ss[r].dependents_begin[i + 1]; ++d)
          --remaining[r][ss[r].dependents[d]];
      }
  }
  for (int r = 0; r < n; ++r)
    for (uint32_t i = 0; i < ss[r].steps.size(); ++i)
      if (!done[r][i])
        return ::testing::AssertionFailure() << ss[r].name << ": step " << i << " never ran (deadlock)\n"
                                             << ss[r].describe();
  for (auto& [k, v] : sent)
    if (taken[k] != v.size())
      return ::testing::AssertionFailure() << "rank " << std::get<0>(k) << " sent " << v.size() << " messages to rank "
                                           << std::get<1>(k) << " which received " << taken[k];
  return ::testing::AssertionSuccess();
}

TEST(Schedule, EveryAlgorithmPairsMessagesAndCompletesForAnyRankCountAndSize) {
  struct Case {
    CollKind k;
    Algorithm a;
  };
  const Case cases[] = {
      {CollKind::kAllReduce, Algorithm::kRing},      {CollKind::kAllReduce, Algorithm::kRecursiveHalvingDoubling},
      {CollKind::kAllReduce, Algorithm::kDoubleBinaryTree}, {CollKind::kReduceScatter, Algorithm::kRing},
      {CollKind::kAllGather, Algorithm::kRing},      {CollKind::kBroadcast, Algorithm::kRing},
      {CollKind::kBroadcast, Algorithm::kDoubleBinaryTree}, {CollKind::kReduce, Algorithm::kRing},
      {CollKind::kReduce, Algorithm::kDoubleBinaryTree}, {CollKind::kAllToAll, Algorithm::kDirect},
      {CollKind::kBarrier, Algorithm::kRing},
  };
  for (const Case& c : cases)
    for (int n = 1; n <= 13; ++n)
      for (uint64_t count : {0ull, 1ull, 5ull, 1000ull, 100003ull})
        for (bool ip : {false, true}) {
          Shape s;
          s.kind = c.k;
          s.algo = c.a;
          s.count = count;
          s.nranks = n;
          s.root = n / 2;
          s.in_place = ip;
          s.op = RedOp::kAvg;
          s.chunk_bytes = 4096;  // many chunks: exercises the pipelining order
          EXPECT_TRUE(runs_to_completion(compile_all(s)))
              << coll_name(c.k) << "/" << algorithm_name(c.a) << " n=" << n << " count=" << count << " ip=" << ip;
        }
}

TEST(Schedule, DoubleBinaryTreesAreTreesAndSpreadTheInteriorNodes) {
  for (int n = 1; n <= 33; ++n) {
    int interior_in_both = 0;
    for (int t = 0; t < 2; ++t) {
      int roots = 0;
      for (int r = 0; r < n; ++r) {
        const TreeNode me = dbt_node(n, r, t);
        if (me.parent < 0) ++roots;
        else {
          const TreeNode p = dbt_node(n, me.parent, t);
          EXPECT_TRUE(p.child[0] == r || p.child[1] == r) << "n=" << n << " tree " << t << " rank " << r;
        }
        for (int k = 0; k < 2; ++k)
          if (me.child[k] >= 0) {
            EXPECT_EQ(dbt_node(n, me.child[k], t).parent, r);
          }
      }
      EXPECT_EQ(roots, 1) << "n=" << n;
    }
    for (int r = 0; r < n; ++r) {
      const TreeNode a = dbt_node(n, r, 0), b = dbt_node(n, r, 1);
      if ((a.child[0] >= 0 || a.child[1] >= 0) && (b.child[0] >= 0 || b.child[1] >= 0)) ++interior_in_both;
    }
    EXPECT_LE(interior_in_both, 1) << "n=" << n << ": the second tree should make interior ranks leaves";
  }
}

TEST(Schedule, HazardsOrderAReceiveAfterTheSendOfTheSameRange) {
  ScheduleBuilder b("t", 2, DataType::kF32, RedOp::kSum);
  const uint32_t s = b.send(1, 0, {Buf::kOut, 0, 64});
  const uint32_t r = b.recv(1, 0, {Buf::kOut, 32, 64});
  const uint32_t x = b.recv(1, 0, {Buf::kOut, 128, 64});
  Schedule sc = b.finish();
  ASSERT_EQ(sc.steps[r].dep_count, 1u);
  EXPECT_EQ(sc.deps[sc.steps[r].dep_begin], s);
  EXPECT_EQ(sc.steps[x].dep_count, 0u) << "disjoint ranges must not wait for each other";
}

TEST(Schedule, AutoSelectionFollowsTheTuningTable) {
  EXPECT_EQ(auto_select(CollKind::kAllReduce, 8, 4), Algorithm::kRecursiveHalvingDoubling);
  EXPECT_EQ(auto_select(CollKind::kAllReduce, 256u << 20, 4), Algorithm::kRing);
  EXPECT_EQ(auto_select(CollKind::kAllToAll, 1024, 4), Algorithm::kDirect);
  Shape s;
  s.kind = CollKind::kAllGather;
  s.algo = Algorithm::kRecursiveHalvingDoubling;
  s.nranks = 2;
  auto c = compile(s);
  ASSERT_FALSE(c.is_ok());
  EXPECT_NE(c.status().message().find("does not implement"), std::string::npos) << c.status().message();
}

}  // namespace
}  // namespace weft::coll
