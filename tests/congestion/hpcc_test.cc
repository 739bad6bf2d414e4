// HPCC on a manual clock. Context: 100 Gb/s NIC and hops, T = 10 µs, so
// W_init = 100 Gb/s/8 × 10 µs = 125 000 B and, by default,
// R_AI = 10 Mb/s per 25 Gb/s = 40 Mb/s → W_AI = 40 Mb/s/8 × 10 µs = 50 B; η = 0.95.
#include "congestion/hpcc.h"

#include <gtest/gtest.h>

namespace weft::cc {
namespace {

Context ctx() {
  Context c;
  c.link_rate = gbps(100);
  c.base_rtt = micros(10);
  c.mss = Bytes(1000);
  c.int_telemetry = true;
  return c;
}

// One hop at 100 Gb/s.
struct Path {
  IntHop hop{.queue_len = Bytes(0), .tx_bytes = Bytes(0), .timestamp = Nanos(0), .link_rate = gbps(100)};
  // Advances the hop's clock by `dt`, at `tx_gbps` of transmit rate, with `queue` bytes queued.
  AckSample ack(Nanos now, Nanos dt, double tx_gbps, uint64_t queue) {
    hop.timestamp += dt;
    hop.tx_bytes += Bytes(static_cast<uint64_t>(tx_gbps * 1e9 / 8 * static_cast<double>(dt.count()) / 1e9));
    hop.queue_len = Bytes(queue);
    return {.now = now, .acked_bytes = Bytes(1000), .rtt = micros(10), .int_hops = {&hop, 1}};
  }
};

TEST(Hpcc, StartsAtLineRateWithTheReferenceWindow) {
  Hpcc h({}, ctx());
  EXPECT_EQ(h.cwnd(), Bytes(125'000));
  EXPECT_EQ(h.pacing_rate(), gbps(100));
  EXPECT_TRUE(h.requires_int());
}

TEST(Hpcc, FullLinkWithAStandingQueueCutsTheWindow) {
  Hpcc h({}, ctx());
  Path p;
  h.on_ack(p.ack(micros(0), Nanos(0), 0, 25'000));  // first INT: recorded only
  EXPECT_EQ(h.cwnd(), Bytes(125'000));
  h.on_ack(p.ack(micros(10), micros(10), 100, 25'000));
  // U_j = min(25 000, 25 000)·8/(100 G·10 µs) + 100 G/100 G = 0.2 + 1 = 1.2; τ = T → U = 1.2.
  // W = 125 000/(1.2/0.95) + 50 = 99 008.33 B; rate = W·8/10 µs = 79.2067 Gb/s.
  EXPECT_DOUBLE_EQ(h.utilization(), 1.2);
  EXPECT_EQ(h.cwnd(), Bytes(99'008));
  EXPECT_NEAR(static_cast<double>(h.pacing_rate().count()), 99'008.333 * 8 / 10e-6, 1e3);
}

TEST(Hpcc, AQueueMustPersistAcrossTwoSamplesToCount) {
  Hpcc h({}, ctx());
  Path p;
  h.on_ack(p.ack(micros(0), Nanos(0), 0, 0));
  h.on_ack(p.ack(micros(10), micros(10), 100, 50'000));
  // min(50 000, 0) = 0: U = 1.0 → W = 125 000·0.95 + 50 = 118 800 B.
  EXPECT_EQ(h.cwnd(), Bytes(118'800));
}

TEST(Hpcc, ReactionsWithinOneRttDoNotCompound) {
  Hpcc h({}, ctx());
  Path p;
  h.on_ack(p.ack(micros(0), Nanos(0), 0, 25'000));
  h.on_ack(p.ack(micros(10), micros(10), 100, 25'000));  // commit: W_c = 99 008.33
  h.on_ack(p.ack(micros(15), micros(5), 100, 25'000));
  // U = 1.2·(5/10) + 1.2·(5/10) = 1.2; W = 99 008.33/(1.2/0.95) + 50 = 78 431.6 B, not committed.
  EXPECT_EQ(h.cwnd(), Bytes(78'431));
  EXPECT_NEAR(h.reference_window(), 99'008.33, 0.01);
  h.on_ack(p.ack(micros(17), micros(2), 100, 25'000));
  EXPECT_EQ(h.cwnd(), Bytes(78'431));  // recomputed from the same W_c, not 78 431.6·0.79
  h.on_ack(p.ack(micros(20), micros(3), 100, 25'000));  // T after the last commit: commits
  EXPECT_NEAR(h.reference_window(), 78'431.6, 0.1);
}

TEST(Hpcc, UnderusedLinkRestoresTheWindowInOneRtt) {
  Hpcc h({}, ctx());
  Path p;
  h.on_ack(p.ack(micros(0), Nanos(0), 0, 25'000));
  h.on_ack(p.ack(micros(10), micros(10), 100, 25'000));  // W_c = 99 008.33
  h.on_ack(p.ack(micros(20), micros(10), 50, 0));
  // U = 0.5: W = 99 008.33·0.95/0.5 + 50 = 188 165.8 → capped at W_init.
  EXPECT_DOUBLE_EQ(h.utilization(), 0.5);
  EXPECT_EQ(h.cwnd(), Bytes(125'000));
}

TEST(Hpcc, AdditiveStagesBeforeMultiplicativeWhenMaxStageIsSet) {
  Hpcc h({.max_stage = 3}, ctx());
  Path p;
  h.on_ack(p.ack(micros(0), Nanos(0), 0, 25'000));
  h.on_ack(p.ack(micros(10), micros(10), 100, 25'000));  // U = 1.2 ≥ η: multiplicative, W_c = 99 008.33
  h.on_ack(p.ack(micros(20), micros(10), 50, 0));        // U = 0.5 < η, stage 0 < 3: W = W_c + W_AI
  EXPECT_EQ(h.cwnd(), Bytes(99'058));
}

TEST(Hpcc, TheMostUtilisedHopSetsU) {
  Hpcc h({}, ctx());
  IntHop hops[2] = {
      {.queue_len = Bytes(0), .tx_bytes = Bytes(0), .timestamp = Nanos(0), .link_rate = gbps(100)},
      {.queue_len = Bytes(25'000), .tx_bytes = Bytes(0), .timestamp = Nanos(0), .link_rate = gbps(400)}};
  h.on_ack({.now = micros(0), .acked_bytes = Bytes(1000), .rtt = micros(10), .int_hops = {hops, 2}});
  hops[0].timestamp = hops[1].timestamp = micros(10);
  hops[0].tx_bytes = Bytes(62'500);   // 50 Gb/s on a 100 Gb/s hop, no queue: U_0 = 0.5
  hops[1].tx_bytes = Bytes(500'000);  // 400 Gb/s on a 400 Gb/s hop, 25 kB queued:
  // U_1 = 25 000·8/(400 G·10 µs) + 1 = 0.05 + 1 = 1.05: the larger one wins.
  h.on_ack({.now = micros(10), .acked_bytes = Bytes(1000), .rtt = micros(10), .int_hops = {hops, 2}});
  EXPECT_DOUBLE_EQ(h.utilization(), 1.05);
  // W = 125 000·0.95/1.05 + 50 = 113 145.2 B.
  EXPECT_EQ(h.cwnd(), Bytes(113'145));
}

TEST(Hpcc, LossHalvesTheWindowOncePerRtt) {
  Hpcc h({}, ctx());
  h.on_loss({.now = micros(0), .lost_bytes = Bytes(1000)});
  EXPECT_EQ(h.cwnd(), Bytes(62'500));
  h.on_timeout({.now = micros(5), .consecutive = 1});
  EXPECT_EQ(h.cwnd(), Bytes(62'500));
  h.on_timeout({.now = micros(10), .consecutive = 2});
  EXPECT_EQ(h.cwnd(), Bytes(31'250));
}

TEST(Hpcc, RefusesToStartOnAPathWithoutTelemetry) {
  Context c = ctx();
  c.int_telemetry = false;
  auto cc = make("hpcc", c);
  ASSERT_FALSE(cc.is_ok());
  EXPECT_EQ(cc.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(cc.status().message().find("telemetry"), std::string::npos);
  EXPECT_NE(cc.status().message().find("swift"), std::string::npos);  // names an alternative
}

TEST(Hpcc, FailsHealthWhenAcksStopCarryingTelemetry) {
  Hpcc h({.int_missing_limit = 4}, ctx());
  for (int i = 0; i < 3; ++i) h.on_ack({.now = micros(i), .acked_bytes = Bytes(1000), .rtt = micros(10)});
  EXPECT_TRUE(h.health().is_ok());
  h.on_ack({.now = micros(3), .acked_bytes = Bytes(1000), .rtt = micros(10)});
  EXPECT_EQ(h.health().code(), Code::kFailedPrecondition);
  EXPECT_NE(h.health().message().find("INT"), std::string::npos);
  Path p;
  h.on_ack(p.ack(micros(4), Nanos(0), 0, 0));  // telemetry is back
  EXPECT_TRUE(h.health().is_ok());
}

}  // namespace
}  // namespace weft::cc
