// DCQCN on a manual clock. Context: 100 Gb/s NIC, 10 µs base RTT, so the
// defaults give R_AI = 100 Gb/s/1000 = 100 Mb/s and R_HAI = 100 Gb/s/200 = 500 Mb/s.
#include "congestion/dcqcn.h"

#include <gtest/gtest.h>

#include <cmath>

namespace weft::cc {
namespace {

constexpr double kG = 1.0 / 256;

Context ctx() {
  Context c;
  c.link_rate = gbps(100);
  c.base_rtt = micros(10);
  c.mss = Bytes(1000);
  return c;
}

AckSample ack(Nanos now, bool marked) {
  return {.now = now, .acked_bytes = Bytes(1000), .ecn_bytes = Bytes(marked ? 1000 : 0), .rtt = micros(10)};
}

double rate(const Dcqcn& d) { return static_cast<double>(d.pacing_rate().count()); }

TEST(Dcqcn, StartsAtLineRateWithAWindowOfTwoBdp) {
  Dcqcn d({}, ctx());
  EXPECT_EQ(rate(d), 100e9);
  // cwnd = 2 × 100 Gb/s / 8 × 10 µs = 250 000 B.
  EXPECT_NEAR(static_cast<double>(d.cwnd().count()), 250'000, 1);
}

TEST(Dcqcn, MarkedAckCutsRateByHalfAlphaAtMostOncePerCnpInterval) {
  Dcqcn d({}, ctx());
  d.on_ack(ack(micros(0), false));  // starts the timers
  d.on_ack(ack(micros(1), true));
  // α = (1 − g)·1 + g = 1;  RT = 100 G;  RC = 100 G·(1 − 1/2) = 50 G.
  EXPECT_DOUBLE_EQ(d.alpha(), 1.0);
  EXPECT_EQ(rate(d), 50e9);
  EXPECT_EQ(d.target_rate_bps(), 100e9);
  EXPECT_NEAR(static_cast<double>(d.cwnd().count()), 125'000, 1);  // 2 × 50 Gb/s / 8 × 10 µs

  d.on_ack(ack(micros(20), true));  // 19 µs after the CNP < N = 50 µs: ignored
  EXPECT_EQ(rate(d), 50e9);

  d.on_ack(ack(micros(51), true));  // 50 µs after: second CNP. No timer has fired (K = T = 55 µs).
  // α stays 1; RT = 50 G; RC = 25 G.
  EXPECT_EQ(rate(d), 25e9);
  EXPECT_EQ(d.target_rate_bps(), 50e9);
  EXPECT_EQ(d.counters().decreases, 2u);
}

TEST(Dcqcn, AlphaDecaysWithoutMarksAndSetsTheNextCut) {
  Dcqcn d({}, ctx());
  d.on_ack(ack(micros(0), true));  // first event: CNP at t = 0 → α = 1, RC = 50 G, RT = 100 G
  d.on_ack(ack(micros(110), false));
  // Two α periods (K = 55 µs): α = (255/256)².
  const double a2 = std::pow(1 - kG, 2);
  EXPECT_DOUBLE_EQ(d.alpha(), a2);
  // Two increase-timer events, both fast recovery: RC = (100+50)/2 = 75 G, then (100+75)/2 = 87.5 G.
  EXPECT_DOUBLE_EQ(rate(d), 87.5e9);

  d.on_ack(ack(micros(120), true));
  // α = (1 − g)·a2 + g, then RC = 87.5 G·(1 − α/2).
  const double a3 = (1 - kG) * a2 + kG;
  EXPECT_DOUBLE_EQ(d.alpha(), a3);
  EXPECT_NEAR(rate(d), 87.5e9 * (1 - a3 / 2), 1.0);
  EXPECT_NEAR(d.target_rate_bps(), 87.5e9, 1.0);
}

TEST(Dcqcn, FastRecoveryThenAdditiveThenHyperIncrease) {
  Dcqcn d({.byte_counter = Bytes(1'000'000), .fast_recovery_stages = 2}, ctx());
  d.on_ack(ack(micros(0), true));   // RT = 100 G, RC = 50 G
  d.on_ack(ack(micros(50), true));  // α still 1 (K not elapsed): RT = 50 G, RC = 25 G; timers restart at 50 µs
  ASSERT_EQ(rate(d), 25e9);

  // 2 MB sent at 60 µs: two byte-counter events, stage 0 and 1 < F = 2: fast recovery.
  d.on_send({.now = micros(60), .bytes = Bytes(2'000'000)});
  // RC = (50 + 25)/2 = 37.5 G, then (50 + 37.5)/2 = 43.75 G.
  EXPECT_DOUBLE_EQ(rate(d), 43.75e9);

  // Timer event at 105 µs: timer stage 0, byte stage 2 ≥ F → additive:
  // RT = 50.1 G, RC = (50.1 + 43.75)/2 = 46.925 G.
  d.on_ack(ack(micros(105), false));
  EXPECT_DOUBLE_EQ(d.target_rate_bps(), 50.1e9);
  EXPECT_DOUBLE_EQ(rate(d), 46.925e9);

  // 160 µs: timer stage 1 → still additive: RT = 50.2 G, RC = (50.2 + 46.925)/2 = 48.5625 G.
  d.on_ack(ack(micros(160), false));
  EXPECT_NEAR(rate(d), 48.5625e9, 1.0);

  // 215 µs: both stages ≥ 2 → hyper, i = min(2, 2) − 2 + 1 = 1:
  // RT = 50.2 + 0.5 = 50.7 G, RC = (50.7 + 48.5625)/2 = 49.63125 G.
  d.on_ack(ack(micros(215), false));
  EXPECT_NEAR(d.target_rate_bps(), 50.7e9, 1.0);
  EXPECT_NEAR(rate(d), 49.63125e9, 1.0);
}

TEST(Dcqcn, RecoversToLineRateAfterMarksStop) {
  Dcqcn d({}, ctx());
  d.on_ack(ack(micros(0), true));  // RC = 50 G, RT = 100 G
  // 10 ms later: 181 timer events (replay capped at 64). RT = line, so every
  // event halves the gap: RC = 100 G − 50 G/2^64 ≈ 100 G.
  d.on_ack(ack(millis(10), false));
  EXPECT_NEAR(rate(d), 100e9, 1e3);
  EXPECT_NEAR(static_cast<double>(d.cwnd().count()), 250'000, 1);
}

TEST(Dcqcn, LossAndTimeoutCountAsCongestionNotifications) {
  Dcqcn d({}, ctx());
  d.on_loss({.now = micros(0), .lost_bytes = Bytes(1000)});
  EXPECT_EQ(rate(d), 50e9);  // α = 1: RC·(1 − 1/2)
  d.on_timeout({.now = micros(10), .consecutive = 1});
  EXPECT_EQ(rate(d), 50e9);  // within N = 50 µs of the last cut: ignored
  d.on_timeout({.now = micros(60), .consecutive = 2});
  // At 55 µs one α period (α = 255/256) and one fast-recovery step
  // (RC = (100 + 50)/2 = 75 G) passed; then the CNP: α = (255/256)² + 1/256,
  // RC = 75 G·(1 − α/2).
  const double a = (1 - kG) * (1 - kG) + kG;
  EXPECT_NEAR(rate(d), 75e9 * (1 - a / 2), 1.0);
}

TEST(Dcqcn, RateNeverFallsBelowTheFloor) {
  Dcqcn d({.cnp_interval = Nanos(0), .min_rate = BitsPerSec(1'000'000'000)}, ctx());
  for (int i = 0; i < 20; ++i) d.on_ack(ack(Nanos(i), true));
  EXPECT_EQ(rate(d), 1e9);
}

}  // namespace
}  // namespace weft::cc
