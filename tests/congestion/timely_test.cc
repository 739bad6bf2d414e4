// TIMELY on a manual clock. Context: 10 Gb/s NIC, so the defaults give
// δ = 10 Mb/s and R_HAI = 50 Mb/s (the HPCC run.py values per 10 Gb/s);
// α = 0.875, β = 0.8, T_low = 50 µs, T_high = 500 µs, minRTT = 20 µs.
#include "congestion/timely.h"

#include <gtest/gtest.h>

namespace weft::cc {
namespace {

Context ctx() {
  Context c;
  c.link_rate = gbps(10);
  c.base_rtt = micros(10);
  c.mss = Bytes(1000);
  return c;
}

AckSample ack(Nanos now, Nanos rtt) { return {.now = now, .acked_bytes = Bytes(1000), .rtt = rtt}; }
double rate(const Timely& t) { return static_cast<double>(t.pacing_rate().count()); }

TEST(Timely, RisingRttCutsByTheNormalisedGradientOncePerRtt) {
  Timely t({}, ctx());
  t.on_ack(ack(micros(0), micros(60)));   // first sample: seeds prev_rtt only
  EXPECT_EQ(rate(t), 10e9);
  t.on_ack(ack(micros(30), micros(70)));  // 30 µs < one RTT (60 µs) since the last update: ignored
  EXPECT_EQ(rate(t), 10e9);
  t.on_ack(ack(micros(60), micros(80)));
  // rtt_diff = 0.875·(80 − 60) µs = 17.5 µs; g = 17.5/20 = 0.875; T_low < 80 µs < T_high:
  // R = 10 G·(1 − 0.8·0.875) = 3 G.
  EXPECT_DOUBLE_EQ(t.rtt_diff_ns(), 17500.0);
  EXPECT_NEAR(rate(t), 3e9, 1.0);
  EXPECT_EQ(t.counters().decreases, 1u);
}

TEST(Timely, FallingRttIncreasesAdditivelyThenHyperActively) {
  Timely t({}, ctx());
  t.on_ack(ack(micros(0), micros(60)));
  t.on_ack(ack(micros(60), micros(80)));  // → 3 G as above
  ASSERT_NEAR(rate(t), 3e9, 1.0);
  t.on_ack(ack(micros(140), micros(70)));
  // rtt_diff = 0.125·17.5 + 0.875·(70 − 80) = 2.1875 − 8.75 = −6.5625 µs; g < 0: R += δ = 3.01 G.
  EXPECT_DOUBLE_EQ(t.rtt_diff_ns(), -6562.5);
  EXPECT_NEAR(rate(t), 3.01e9, 1.0);
  // Flat RTT keeps rtt_diff negative (×0.125 each update): increases 2..5 add δ each.
  Nanos now = micros(140);
  for (int i = 0; i < 4; ++i) t.on_ack(ack(now += micros(70), micros(70)));
  EXPECT_NEAR(rate(t), 3.05e9, 1.0);
  // Five increases in a row: the sixth is hyper-active, R += 50 Mb/s.
  t.on_ack(ack(now += micros(70), micros(70)));
  EXPECT_NEAR(rate(t), 3.10e9, 1.0);
}

TEST(Timely, RttAboveTHighCutsByTheExcessAndBelowTLowAlwaysIncreases) {
  Timely t({}, ctx());
  t.on_ack(ack(micros(0), micros(600)));
  t.on_ack(ack(micros(600), micros(1000)));
  // R = 10 G·(1 − 0.8·(1 − 500/1000)) = 6 G.
  EXPECT_NEAR(rate(t), 6e9, 1.0);
  t.on_ack(ack(micros(1600), micros(40)));  // < T_low: R += δ whatever the gradient
  EXPECT_NEAR(rate(t), 6.01e9, 1.0);
}

TEST(Timely, LossAndTimeoutHalveAtMostOncePerRtt) {
  Timely t({}, ctx());
  t.on_ack(ack(micros(0), micros(60)));
  t.on_loss({.now = micros(100), .lost_bytes = Bytes(1000)});
  EXPECT_EQ(rate(t), 5e9);
  t.on_timeout({.now = micros(120), .consecutive = 1});  // 20 µs later < RTT 60 µs: ignored
  EXPECT_EQ(rate(t), 5e9);
  t.on_timeout({.now = micros(200), .consecutive = 2});
  EXPECT_EQ(rate(t), 2.5e9);
  // cwnd = 2 × 2.5 Gb/s / 8 × 10 µs = 6250 B.
  EXPECT_NEAR(static_cast<double>(t.cwnd().count()), 6250, 1);
}

TEST(Timely, RateStaysWithinFloorAndLineRate) {
  Timely t({.min_rate = BitsPerSec(1'000'000'000)}, ctx());
  t.on_ack(ack(micros(0), micros(30)));
  t.on_ack(ack(micros(30), micros(40)));  // < T_low: +δ but already at line rate
  EXPECT_EQ(rate(t), 10e9);
  t.on_ack(ack(micros(70), micros(400)));  // gradient (0.125·... + 0.875·360 µs)/20 µs ≫ 1: factor floored at 0
  EXPECT_EQ(rate(t), 1e9);
}

}  // namespace
}  // namespace weft::cc
