// One behavioural suite run over every algorithm the registry can build,
// the example plugin included, through the same `make(spec)` path users
// take. Each algorithm's exact law is checked in its own *_test.cc; this
// suite checks what all of them promise: a usable start, backing off under a
// sustained congestion signal, recovering once it clears, never growing on
// loss or timeout, and never emitting an unusable output.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "congestion/registry.h"

namespace weft::cc {
namespace {

struct Case {
  std::string label;
  std::string spec;
  const char* skip_congestion = nullptr;  // reason, for controllers that do not react to signals
  const char* skip_timeout = nullptr;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.label; }

constexpr uint64_t kMss = 4096;
constexpr Nanos kRtt = micros(10);

Context ctx() {
  Context c;
  c.link_rate = gbps(100);
  c.base_rtt = kRtt;
  c.mss = Bytes(kMss);
  c.int_telemetry = true;
  return c;
}

// A one-hop world the algorithms see through ACKs: either clean (base RTT,
// no marks, the hop half used, no queue) or congested (10× base RTT, every
// byte marked, the hop at line rate with a 2-BDP queue).
class World {
 public:
  explicit World(CongestionControl& cc) : cc_(cc) {}

  void run(Nanos duration, bool congested) {
    const Nanos end = now_ + duration;
    while (now_ < end) {
      now_ += micros(1);
      const Bytes inflight = std::min(cc_.cwnd(), Bytes(1u << 24));
      cc_.on_send({.now = now_, .bytes = Bytes(kMss), .inflight = inflight, .path = 0, .retransmit = false});
      hop_.timestamp = now_;
      hop_.tx_bytes += Bytes(congested ? 12'500 : 6'250);  // per µs: 100 or 50 Gb/s
      hop_.queue_len = Bytes(congested ? 250'000 : 0);
      cc_.on_ack({.now = now_,
                  .acked_bytes = Bytes(kMss),
                  .ecn_bytes = Bytes(congested ? kMss : 0),
                  .rtt = congested ? kRtt * 10 : kRtt,
                  .min_rtt = kRtt,
                  .inflight = inflight,
                  .path = 0,
                  .int_hops = {&hop_, 1}});
      cc_.on_credit({.now = now_, .credit = Bytes(kMss)});  // a receiver granting as fast as we ACK
    }
  }
  Nanos now() const { return now_; }

 private:
  CongestionControl& cc_;
  Nanos now_{0};
  IntHop hop_{.queue_len = Bytes(0), .tx_bytes = Bytes(0), .timestamp = Nanos(0), .link_rate = gbps(100)};
};

// What the controller lets through per base RTT, in b/s: the window's worth,
// or the pacing rate where that is lower.
double capacity(const CongestionControl& cc) {
  const double by_window = static_cast<double>(cc.cwnd().count()) * 8 / (static_cast<double>(kRtt.count()) / 1e9);
  const double rate = static_cast<double>(cc.pacing_rate().count());
  return rate > 0 ? std::min(rate, by_window) : by_window;
}

class Conformance : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    auto r = make(GetParam().spec, ctx());
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    cc_ = std::move(*r);
  }
  CcPtr cc_;
};

TEST_P(Conformance, StartsWithAUsableWindowAndRate) {
  EXPECT_FALSE(cc_->name().empty());
  EXPECT_GE(cc_->cwnd().count(), kMss);
  EXPECT_GT(capacity(*cc_), 0);
  EXPECT_TRUE(cc_->health().is_ok());
}

TEST_P(Conformance, BacksOffUnderSustainedCongestion) {
  if (GetParam().skip_congestion) GTEST_SKIP() << GetParam().skip_congestion;
  World w(*cc_);
  w.run(micros(100), false);
  const double before = capacity(*cc_);
  w.run(micros(200), true);  // 20 base RTTs of marks, 10× RTT, a full hop
  EXPECT_LT(capacity(*cc_), 0.7 * before) << "capacity before " << before;
  // Built-ins count their cuts; the C ABI has no counter for them.
  if (GetParam().spec.rfind("plugin:", 0) != 0) {
    EXPECT_GT(cc_->counters().decreases, 0u);
  }
}

TEST_P(Conformance, RecoversOnceCongestionClears) {
  if (GetParam().skip_congestion) GTEST_SKIP() << GetParam().skip_congestion;
  World w(*cc_);
  // Clean first: TIMELY reacts to a rising RTT, not to one that was high from the start.
  w.run(micros(100), false);
  w.run(micros(200), true);
  const double low = capacity(*cc_);
  w.run(millis(5), false);  // 500 clean base RTTs
  EXPECT_GT(capacity(*cc_), 1.5 * low) << "capacity at the bottom " << low;
}

TEST_P(Conformance, LossNeverIncreasesCapacity) {
  World w(*cc_);
  w.run(micros(50), false);
  const double before = capacity(*cc_);
  cc_->on_loss({.now = w.now() + Nanos(1), .lost_bytes = Bytes(kMss), .inflight = cc_->cwnd()});
  EXPECT_LE(capacity(*cc_), before);
}

TEST_P(Conformance, TimeoutNeverIncreasesCapacity) {
  if (GetParam().skip_timeout) GTEST_SKIP() << GetParam().skip_timeout;
  World w(*cc_);
  w.run(micros(50), false);
  const double before = capacity(*cc_);
  cc_->on_timeout({.now = w.now() + millis(1), .consecutive = 1});
  EXPECT_LE(capacity(*cc_), before);
}

TEST_P(Conformance, OutputsStayUsableUnderArbitraryEvents) {
  uint64_t x = 0x9e3779b97f4a7c15ull;  // xorshift: the same sequence on every run
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  IntHop hop{.queue_len = Bytes(0), .tx_bytes = Bytes(0), .timestamp = Nanos(0), .link_rate = gbps(100)};
  Nanos now{0};
  for (int i = 0; i < 20'000; ++i) {
    now += Nanos(static_cast<int64_t>(next() % 20'000));
    const uint64_t r = next();
    const Bytes b(r % 3 == 0 ? 0 : next() % (1u << 20));
    switch (r % 7) {
      case 0: cc_->on_loss({.now = now, .lost_bytes = b, .inflight = b}); break;
      case 1: cc_->on_timeout({.now = now, .consecutive = static_cast<uint32_t>(next() % 8)}); break;
      case 2: cc_->on_trim({.now = now, .trimmed_bytes = b}); break;
      case 3: cc_->on_send({.now = now, .bytes = b, .inflight = b}); break;
      case 4: cc_->on_credit({.now = now, .credit = b}); break;
      default: {
        hop.timestamp = now;
        hop.tx_bytes += Bytes(next() % 200'000);
        hop.queue_len = Bytes(next() % 2'000'000);
        cc_->on_ack({.now = now,
                     .acked_bytes = b,
                     .ecn_bytes = Bytes(next() % 2 ? b.count() : 0),
                     .rtt = Nanos(static_cast<int64_t>(next() % 2'000'000)),  // 0 .. 2 ms, 0 = no sample
                     .min_rtt = kRtt,
                     .inflight = b,
                     .int_hops = {&hop, next() % 4 ? 1u : 0u}});
      }
    }
    const double rate = static_cast<double>(cc_->pacing_rate().count());
    ASSERT_TRUE(std::isfinite(rate)) << "event " << i;
    ASSERT_LE(rate, 1e12) << "event " << i;
    if (GetParam().spec != "credit") {
      ASSERT_GE(cc_->cwnd().count(), 1000u) << "event " << i;
    }
  }
  EXPECT_EQ(cc_->counters().invalid_outputs, 0u);  // the example plugin never needs clamping
}

const Case kCases[] = {
    {"fixed", "fixed", "a fixed window ignores congestion by design", nullptr},
    {"dcqcn", "dcqcn", nullptr, nullptr},
    {"timely", "timely", nullptr, nullptr},
    {"swift", "swift", nullptr, nullptr},
    {"hpcc", "hpcc", nullptr, nullptr},
    {"nscc", "nscc", nullptr, nullptr},
    {"credit", "credit", "the receiver's grants, not the sender, react to congestion (CreditGranter tests)",
     "a timeout grants one packet of credit on purpose, so a lost grant cannot stall the flow"},
    {"plugin_example_aimd", std::string("plugin:") + WEFT_EXAMPLE_PLUGIN, nullptr, nullptr},
};

INSTANTIATE_TEST_SUITE_P(AllAlgorithms, Conformance, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& i) { return i.param.label; });

}  // namespace
}  // namespace weft::cc
