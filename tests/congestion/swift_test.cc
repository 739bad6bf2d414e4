// Swift on a manual clock. Context: 1000 B MSS, 10 µs base RTT (the initial
// srtt). Most tests set fs_range_us = 0 so the fabric target is just
// base_target + hops·h = 25 µs + hops·1 µs.
#include "congestion/swift.h"

#include <gtest/gtest.h>

#include <cmath>

namespace weft::cc {
namespace {

Context ctx() {
  Context c;
  c.link_rate = gbps(100);
  c.base_rtt = micros(10);
  c.mss = Bytes(1000);
  return c;
}

Swift::Params no_fs(double init) { return {.fs_range = Nanos(0), .init_cwnd = init}; }

AckSample ack(Nanos now, Nanos rtt, uint8_t hops = 0, Nanos host = Nanos(0)) {
  return {.now = now, .acked_bytes = Bytes(1000), .rtt = rtt, .hops = hops, .host_delay = host};
}

TEST(Swift, StartsAtOneBdpInPackets) {
  Swift s({}, ctx());
  // 100 Gb/s / 8 × 10 µs = 125 000 B = 125 packets.
  EXPECT_DOUBLE_EQ(s.fabric_cwnd(), 125.0);
  EXPECT_EQ(s.cwnd(), Bytes(125'000));
  EXPECT_EQ(s.pacing_rate(), BitsPerSec(0));
}

TEST(Swift, BelowTargetAddsAiOverCwndPerPacketAcked) {
  Swift s(no_fs(10), ctx());
  s.on_ack(ack(micros(1), micros(20)));  // delay 20 µs < 25 µs
  EXPECT_DOUBLE_EQ(s.fabric_cwnd(), 10.1);  // 10 + 1·1/10
  EXPECT_EQ(s.cwnd(), Bytes(10'100));
}

TEST(Swift, AboveTargetCutsInProportionToTheExcessOncePerRtt) {
  Swift s(no_fs(10), ctx());
  s.on_ack(ack(micros(0), micros(50)));
  // factor = max(1 − 0.8·(50 − 25)/50, 1 − 0.5) = 0.6 → 6 packets.
  EXPECT_DOUBLE_EQ(s.fabric_cwnd(), 6.0);
  // srtt = (3·10 + 50)/4 = 20 µs, then (3·20 + 50)/4 = 27.5 µs: 1 µs since the cut, no decrease.
  s.on_ack(ack(micros(1), micros(50)));
  EXPECT_DOUBLE_EQ(s.fabric_cwnd(), 6.0);
  // srtt = (3·27.5 + 50)/4 = 33.125 µs ≤ 40 µs since the cut: 6·0.6 = 3.6.
  s.on_ack(ack(micros(40), micros(50)));
  EXPECT_DOUBLE_EQ(s.fabric_cwnd(), 3.6);
  EXPECT_EQ(s.counters().decreases, 2u);
}

TEST(Swift, DecreaseIsCappedByMaxMdf) {
  Swift s(no_fs(10), ctx());
  s.on_ack(ack(micros(0), micros(250)));  // 1 − 0.8·225/250 = 0.28 < 0.5 → factor 0.5
  EXPECT_DOUBLE_EQ(s.fabric_cwnd(), 5.0);
}

TEST(Swift, EachHopRaisesTheTarget) {
  Swift near(no_fs(10), ctx()), far(no_fs(10), ctx());
  EXPECT_EQ(far.fabric_target(10, 5), micros(30));  // 25 µs + 5 hops × 1 µs
  near.on_ack(ack(micros(0), micros(28), 0));
  far.on_ack(ack(micros(0), micros(28), 5));
  // Same 28 µs: above the 0-hop target (25 µs): 10·(1 − 0.8·3/28); below the 5-hop one (30 µs): +0.1.
  EXPECT_DOUBLE_EQ(near.fabric_cwnd(), 10 * (1 - 0.8 * 3.0 / 28.0));
  EXPECT_DOUBLE_EQ(far.fabric_cwnd(), 10.1);
}

TEST(Swift, FlowScalingGivesSmallWindowsALargerTarget) {
  Swift s({}, ctx());
  // α_fs = 100 µs/(1/√0.1 − 1/√256), β_fs = −α_fs/16; fs(w) = α_fs/√w + β_fs.
  const double a = 100'000 / (1 / std::sqrt(0.1) - 1.0 / 16);
  const double b = -a / 16;
  EXPECT_NEAR(s.fabric_target(256, 0).count(), 25'000, 1);           // fs = 0 at fs_max_cwnd
  EXPECT_NEAR(s.fabric_target(0.1, 0).count(), 125'000, 1);          // fs = fs_range at fs_min_cwnd
  EXPECT_NEAR(s.fabric_target(1, 0).count(), 25'000 + a + b, 1);     // ≈ 55.2 µs
  EXPECT_NEAR(s.fabric_target(0.01, 0).count(), 125'000, 1);         // clamped to fs_range
}

TEST(Swift, EndpointWindowLimitsWhenTheReceiverHostIsSlow) {
  Swift s(no_fs(10), ctx());
  s.on_ack(ack(micros(0), micros(40), 0, micros(30)));
  // fabric delay = 40 − 30 = 10 µs < 25 µs: fabric = 10.1;
  // endpoint delay 30 µs > 10 µs target: endpoint = 10·max(1 − 0.8·20/30, 0.5) = 5.
  EXPECT_DOUBLE_EQ(s.fabric_cwnd(), 10.1);
  EXPECT_DOUBLE_EQ(s.endpoint_cwnd(), 5.0);
  EXPECT_EQ(s.cwnd(), Bytes(5000));
}

TEST(Swift, LossCutsByMaxMdfOncePerRtt) {
  Swift s(no_fs(10), ctx());
  s.on_loss({.now = micros(0), .lost_bytes = Bytes(1000)});
  EXPECT_DOUBLE_EQ(s.fabric_cwnd(), 5.0);
  s.on_loss({.now = micros(1), .lost_bytes = Bytes(1000)});  // < srtt (10 µs) since the cut
  EXPECT_DOUBLE_EQ(s.fabric_cwnd(), 5.0);
  s.on_loss({.now = micros(10), .lost_bytes = Bytes(1000)});
  EXPECT_DOUBLE_EQ(s.fabric_cwnd(), 2.5);
}

TEST(Swift, ThirdTimeoutInARowResetsToTheFloorAndPacesBelowOnePacket) {
  Swift s(no_fs(10), ctx());
  s.on_timeout({.now = micros(0), .consecutive = 1});
  EXPECT_DOUBLE_EQ(s.fabric_cwnd(), 5.0);
  s.on_timeout({.now = micros(1), .consecutive = 2});  // cannot decrease yet
  EXPECT_DOUBLE_EQ(s.fabric_cwnd(), 5.0);
  s.on_timeout({.now = micros(2), .consecutive = 3});  // retx = 3 ≥ retx_reset
  EXPECT_DOUBLE_EQ(s.fabric_cwnd(), 0.01);
  EXPECT_EQ(s.cwnd(), Bytes(1000));  // one packet in flight...
  // ...paced at 0.01 × 1000 B × 8 / srtt (10 µs) = 8 Mb/s.
  EXPECT_EQ(s.pacing_rate(), BitsPerSec(8'000'000));
  // Recovery: below one packet, an ACK adds ai·num_acked = 1 packet.
  s.on_ack(ack(micros(20), micros(10)));
  EXPECT_DOUBLE_EQ(s.fabric_cwnd(), 1.01);
}

TEST(Swift, RecoversAboutOnePacketPerWindowOfAcks) {
  Swift s(no_fs(5), ctx());
  Nanos now{0};
  for (int i = 0; i < 5; ++i) s.on_ack(ack(now += micros(2), micros(10)));
  // 5 → 5.2 → 5.392308 → 5.577757 → 5.757041 → 5.930740 (each step +1/cwnd).
  EXPECT_NEAR(s.fabric_cwnd(), 5.930740, 1e-6);
}

TEST(Swift, AckResetsTheTimeoutCount) {
  Swift s(no_fs(10), ctx());
  s.on_timeout({.now = micros(0), .consecutive = 1});   // 5
  s.on_timeout({.now = micros(20), .consecutive = 2});  // 2.5
  s.on_ack(ack(micros(30), micros(10)));                // retx ← 0; 2.5 + 1/2.5 = 2.9
  s.on_timeout({.now = micros(50), .consecutive = 1});  // retx = 1, not 3: halve to 1.45
  EXPECT_DOUBLE_EQ(s.fabric_cwnd(), 1.45);
}

}  // namespace
}  // namespace weft::cc
