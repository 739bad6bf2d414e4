// NSCC on a manual clock. Context: 100 Gb/s, network RTT 12 µs, MSS 4096 B,
// no trimming — the UEC reference network, so a = b = 1 and:
//   target = 1 × 12 µs = 12 000 ns, MTU = 4160 B, maxwnd = 1.5 × 150 000 = 225 000 B,
//   α = 4·4096/12 000 ns = 1.36533 B/ns, fi = 5·4096 = 20 480 B, η = 0.15·4096 = 614.4 B,
//   fi_scale = 0.25.
// Most tests start at cwnd = 100 000 B and fulfil on every ACK (fulfil_mtus = 0)
// so one ACK's increase shows at once.
#include "congestion/nscc.h"

#include <gtest/gtest.h>

namespace weft::cc {
namespace {

Context ctx() {
  Context c;
  c.link_rate = gbps(100);
  c.base_rtt = micros(12);
  c.mss = Bytes(4096);
  return c;
}

Nscc::Params params() {
  Nscc::Params p;
  p.fulfil_mtus = 0;
  p.init_cwnd = Bytes(100'000);
  return p;
}

AckSample ack(Nanos now, Nanos rtt, bool ecn = false, uint64_t acked = 4096, uint64_t inflight = 50'000) {
  return {.now = now, .acked_bytes = Bytes(acked), .ecn_bytes = Bytes(ecn ? acked : 0), .rtt = rtt,
          .inflight = Bytes(inflight)};
}

double cwnd(const Nscc& n) { return static_cast<double>(n.cwnd().count()); }

TEST(Nscc, DerivesItsGainsFromTheNetwork) {
  Nscc n({}, ctx());
  EXPECT_DOUBLE_EQ(n.target_ns(), 12'000);
  EXPECT_DOUBLE_EQ(n.maxwnd(), 225'000);
  EXPECT_EQ(n.cwnd(), Bytes(225'000));  // starts at maxwnd
  EXPECT_DOUBLE_EQ(n.fair_increase(), 20'480);
  EXPECT_DOUBLE_EQ(n.eta(), 614.4);
  EXPECT_NEAR(n.alpha(), 4.0 * 4096 / 12'000, 1e-12);
  Context trim = ctx();
  trim.trimming = true;
  EXPECT_DOUBLE_EQ(Nscc({}, trim).target_ns(), 9'000);  // 0.75 × 12 µs with trimming
}

TEST(Nscc, LowDelayWithoutMarksIncreasesInProportionToTheHeadroom) {
  Nscc n(params(), ctx());
  n.on_ack(ack(micros(1), micros(18)));  // delay 6 µs
  // inc = α·4096·(12 000 − 6 000) = 4·4096²/2 = 33 554 432 B²; cwnd += inc/100 000 = 335.544.
  EXPECT_NEAR(cwnd(n), 100'335, 1);
}

TEST(Nscc, IncreaseIsAppliedOnceMoreThanEightMtusWereAcked) {
  Nscc::Params p = params();
  p.fulfil_mtus = 8;  // the default: 8 × 4160 = 33 280 B
  Nscc n(p, ctx());
  for (int i = 1; i <= 8; ++i) n.on_ack(ack(micros(i), micros(18)));  // 32 768 B ACKed: not yet
  EXPECT_NEAR(cwnd(n), 100'000, 1);
  EXPECT_NEAR(n.pending_increase(), 8 * 33'554'432.0, 1);
  n.on_ack(ack(micros(9), micros(18)));  // 36 864 B > 33 280 B: cwnd += 9·33 554 432/100 000
  EXPECT_NEAR(cwnd(n), 103'019.9, 1);
  EXPECT_DOUBLE_EQ(n.pending_increase(), 0);
}

TEST(Nscc, HighDelayWithoutMarksIsFairIncreaseNotDecrease) {
  Nscc n(params(), ctx());
  n.on_ack(ack(micros(1), micros(32)));  // delay 20 µs ≥ target, unmarked
  // inc = fi·4096 = 83 886 080 B²; cwnd += 838.86. The EWMA sees 0.25·12 µs, not 20 µs.
  EXPECT_NEAR(cwnd(n), 100'838, 1);
  EXPECT_DOUBLE_EQ(n.avg_delay_ns(), 0.0125 * 3'000);
}

TEST(Nscc, MarksWithHighDelayCutByTheAverageExcessOncePerBaseRtt) {
  Nscc::Params p = params();
  p.delay_ewma = 1;  // avg_delay = the last sample, to see one step
  Nscc n(p, ctx());
  n.on_ack(ack(micros(1), micros(32), true));
  // avg = 20 µs > 12 µs: cwnd ·= max(1 − 0.8·(20 − 12)/20, 0.5) = 0.68 → 68 000.
  EXPECT_NEAR(cwnd(n), 68'000, 1);
  n.on_ack(ack(micros(2), micros(32), true));  // 1 µs since the cut < base RTT
  EXPECT_NEAR(cwnd(n), 68'000, 1);
  n.on_ack(ack(micros(13), micros(32), true));  // 12 µs since: cut again, 68 000·0.68 = 46 240
  EXPECT_NEAR(cwnd(n), 46'240, 1);
  EXPECT_EQ(n.counters().decreases, 2u);
}

TEST(Nscc, OneMarkDoesNotCutWhileTheAverageDelayIsLow) {
  Nscc n(params(), ctx());
  n.on_ack(ack(micros(1), micros(32), true));  // avg = 0.0125·20 000 = 250 ns < target
  EXPECT_NEAR(cwnd(n), 100'000, 1);
}

TEST(Nscc, MarksWithLowDelayOnlyAskToRepath) {
  Nscc n(params(), ctx());
  n.on_ack(ack(micros(1), micros(14), true));  // delay 2 µs < target, marked
  EXPECT_NEAR(cwnd(n), 100'000, 1);
  EXPECT_EQ(n.counters().repath_hints, 1u);
  EXPECT_EQ(n.counters().decreases, 0u);
}

TEST(Nscc, FastIncreaseAfterAWindowOfNearZeroDelayAcks) {
  Nscc::Params p = params();
  p.prop_mss = 0;  // isolate fast increase
  p.init_cwnd = Bytes(10'000);
  Nscc n(p, ctx());
  n.on_ack(ack(micros(1), micros(12)));  // counted 4 096 ≤ 10 000
  n.on_ack(ack(micros(2), micros(12)));  // 8 192 ≤ 10 000
  EXPECT_NEAR(cwnd(n), 10'000, 1);
  n.on_ack(ack(micros(3), micros(12)));  // 12 288 > 10 000: += 4096·0.25
  EXPECT_NEAR(cwnd(n), 11'024, 1);
  n.on_ack(ack(micros(4), micros(12)));  // and every such ACK after
  EXPECT_NEAR(cwnd(n), 12'048, 1);
  n.on_ack(ack(micros(5), micros(14)));  // delay 2 µs ≥ 1 µs: count reset
  n.on_ack(ack(micros(6), micros(12)));  // counted 4 096 ≤ 12 048: no fast increase
  EXPECT_NEAR(cwnd(n), 12'048, 1);
}

TEST(Nscc, TrimSubtractsAndArmsQuickAdaptWhichCollapsesToTheDelivered) {
  Nscc::Params p = params();
  p.prop_mss = 0;
  Nscc n(p, ctx());
  n.on_trim({.now = micros(1), .trimmed_bytes = Bytes(4096)});  // starts the QA period: ends at 1 + 12 + 12 µs
  EXPECT_NEAR(cwnd(n), 95'904, 1);
  n.on_ack(ack(micros(5), micros(18), false, 8192));  // 8 192 B delivered in the period
  EXPECT_NEAR(cwnd(n), 95'904, 1);
  n.on_ack(ack(micros(25), micros(18), false, 4096, 20'000));
  // Period over, a NACK came and 8 192 < maxwnd/8 = 28 125: cwnd = max(8 192, MTU).
  EXPECT_NEAR(cwnd(n), 8'192, 1);
  // ECN is ignored until the 20 000 B in flight at QA time are ACKed: a marked,
  // high-delay ACK is treated as unmarked → fair increase 20 480·4096/8 192 = 10 240,
  // plus η = 614.4 (25 µs since the last η > network RTT).
  n.on_ack(ack(micros(26), micros(32), true));
  EXPECT_NEAR(cwnd(n), 8'192 + 10'240 + 614.4, 1);
}

TEST(Nscc, QuickAdaptFiresOnExtremeDelayOnlyWhenLittleWasDelivered) {
  Nscc::Params p = params();
  p.fi_mss = 0;   // no fair increase and
  p.eta_mss = 0;  // no probe, so only Quick Adapt can move the window
  Nscc starved(p, ctx()), busy(p, ctx());
  starved.on_ack(ack(micros(0), micros(62)));  // QA period ends at 24 µs
  busy.on_ack(ack(micros(0), micros(62), false, 40'000));
  starved.on_ack(ack(micros(24), micros(62)));  // delay 50 µs > 4·12 µs; 4 096 < 28 125 delivered
  busy.on_ack(ack(micros(24), micros(62)));     // 40 000 ≥ 28 125 delivered: no collapse
  EXPECT_NEAR(cwnd(starved), 4'160, 1);         // max(4 096, MTU)
  EXPECT_NEAR(cwnd(busy), 100'000, 1);
}

TEST(Nscc, LossSubtractsTheLostBytesAndTimeoutOnePacket) {
  Nscc n(params(), ctx());
  n.on_loss({.now = micros(1), .lost_bytes = Bytes(8192)});
  EXPECT_NEAR(cwnd(n), 91'808, 1);
  n.on_timeout({.now = micros(2), .consecutive = 1});  // bytes 0: one MSS
  EXPECT_NEAR(cwnd(n), 87'712, 1);
  n.on_timeout({.now = micros(3), .consecutive = 2, .bytes = Bytes(1000)});
  EXPECT_NEAR(cwnd(n), 86'712, 1);
}

TEST(Nscc, EtaProbeIsAddedOncePerNetworkRtt) {
  Nscc::Params p = params();
  p.prop_mss = 0;
  Nscc n(p, ctx());
  n.on_ack(ack(micros(0), micros(18)));
  n.on_ack(ack(micros(12), micros(18)));  // 12 µs is not more than one RTT
  EXPECT_NEAR(cwnd(n), 100'000, 1);
  n.on_ack(ack(micros(13), micros(18)));
  EXPECT_NEAR(cwnd(n), 100'614.4, 1);
}

TEST(Nscc, SmallerRttLowersBaseRttAndTheWindowCeiling) {
  Nscc n({}, ctx());
  n.on_ack(ack(micros(1), micros(10)));
  // maxwnd = 1.5 × 12.5 B/ns × 10 000 ns = 187 500; cwnd (225 000) is clamped to it.
  EXPECT_DOUBLE_EQ(n.maxwnd(), 187'500);
  EXPECT_NEAR(cwnd(n), 187'500, 1);
}

TEST(Nscc, WindowNeverFallsBelowOneMtu) {
  Nscc n(params(), ctx());
  n.on_trim({.now = micros(1), .trimmed_bytes = Bytes(1'000'000)});
  EXPECT_NEAR(cwnd(n), 4'160, 1);
}

}  // namespace
}  // namespace weft::cc
