// Congestion-control scenarios on the deterministic fabric (sim/): N real
// engines behind 10 Gb/s NICs, one software switch (its real ECN marking,
// INT stamping, trimming and drop-tail), simulated time only. What issue 4
// asks of each algorithm: flows sharing a bottleneck converge to a fair
// share with a bounded queue, a newcomer gets its share within a bounded
// time, and a 16-way incast under credits finishes without a timeout. Every
// message's bytes are checked against its pattern on arrival.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "sim/fabric.h"

namespace weft::sim {
namespace {

constexpr BitsPerSec kRate = gbps(10);
constexpr double kLine = 10e9;

struct Algo {
  std::string name;  // test-name suffix
  std::string spec;  // registry spec
  bool trim = false;       // the switch trims (NSCC and credits are built for it)
  bool int_stamp = false;  // the switch stamps INT (HPCC needs it)
};

FabricParams params_for(const Algo& a, uint16_t hosts) {
  FabricParams p = default_params(hosts, kRate);
  p.engine.cc = a.spec;
  p.port.trim = a.trim;
  p.port.int_stamp = a.int_stamp;
  return p;
}

std::string describe(const std::vector<double>& rates) {
  std::string s;
  char b[32];
  for (double r : rates) {
    std::snprintf(b, sizeof b, " %.2f", r / 1e9);
    s += b;
  }
  return s + " Gb/s";
}

void expect_intact(const Fabric& f) {
  for (const FlowResult& r : f.flows()) {
    EXPECT_EQ(r.corrupt, 0u) << "flow " << r.spec.src << "->" << r.spec.dst;
    EXPECT_EQ(r.failed, 0u) << r.error;
    EXPECT_TRUE(r.error.empty()) << r.error;
  }
}

// `n` backlogged flows into host 0 for `run`; checks the last half.
struct ShareResult {
  double jain = 0, total = 0;
  uint64_t steady_queue = 0;
  std::vector<double> rates;
};

ShareResult share(const Algo& a, uint16_t n, Nanos run) {
  Fabric f(params_for(a, static_cast<uint16_t>(n + 1)));
  // 64 KiB messages, 8 posted at once: always more than a BDP queued.
  const Status st = f.start(long_flows(n, 64u << 10, 100000));
  EXPECT_TRUE(st.is_ok()) << st.to_string();
  if (!st.is_ok()) return {};
  f.run_until(f.t0() + run);
  ShareResult r;
  const Nanos from = f.t0() + run / 2, to = f.t0() + run;
  r.rates = f.goodput().rates(from, to);
  r.jain = jain(r.rates);
  for (double x : r.rates) r.total += x;
  r.steady_queue = f.max_queue_between(from, to);
  f.stop_posting();
  EXPECT_TRUE(f.run_to_completion(millis(50))) << "flows did not drain";
  expect_intact(f);
  const RunSummary s = f.summary();
  std::printf("[%s n=%u] rates%s jain %.3f total %.2f Gb/s steady max queue %lu B; marks %lu trims %lu drops %lu rtos %lu\n",
              a.name.c_str(), n, describe(r.rates).c_str(), r.jain, r.total / 1e9,
              static_cast<unsigned long>(r.steady_queue), static_cast<unsigned long>(s.marked),
              static_cast<unsigned long>(s.trimmed), static_cast<unsigned long>(s.dropped), static_cast<unsigned long>(s.rtos));
  return r;
}

class FairShare : public ::testing::TestWithParam<Algo> {};

TEST_P(FairShare, TwoFlowsConvergeToAFairShareWithABoundedQueue) {
  const ShareResult r = share(GetParam(), 2, millis(20));
  EXPECT_GE(r.jain, 0.95);
  EXPECT_GE(r.total, 0.8 * kLine);
}

TEST_P(FairShare, EightFlowsConvergeToAFairShareWithABoundedQueue) {
  const ShareResult r = share(GetParam(), 8, millis(20));
  EXPECT_GE(r.jain, 0.95);
  EXPECT_GE(r.total, 0.8 * kLine);
}

INSTANTIATE_TEST_SUITE_P(Algorithms, FairShare,
                         ::testing::Values(Algo{"dcqcn", "dcqcn"}, Algo{"timely", "timely"}, Algo{"swift", "swift"},
                                           Algo{"nscc", "nscc", true}, Algo{"hpcc", "hpcc", false, true},
                                           Algo{"credit", "credit", true}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace weft::sim
