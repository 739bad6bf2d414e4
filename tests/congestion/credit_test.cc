// Receiver-driven credits. Context: 100 Gb/s, 10 µs, MSS 1000 B → BDP 125 000 B.
#include "congestion/credit.h"

#include <gtest/gtest.h>

namespace weft::cc {
namespace {

Context ctx() {
  Context c;
  c.link_rate = gbps(100);
  c.base_rtt = micros(10);
  c.mss = Bytes(1000);
  return c;
}

TEST(Credit, SpeculatesOneBdpThenWaitsForGrantsAfterTheFirstAck) {
  Credit c({}, ctx());
  EXPECT_TRUE(c.speculating());
  EXPECT_EQ(c.cwnd(), Bytes(125'000));  // nothing in flight + 125 000 speculative
  c.on_send({.now = micros(0), .bytes = Bytes(100'000), .inflight = Bytes(100'000)});
  EXPECT_EQ(c.cwnd(), Bytes(125'000));  // 100 000 in flight + 25 000 credit left
  c.on_ack({.now = micros(10), .acked_bytes = Bytes(10'000), .inflight = Bytes(90'000)});
  // The first ACK ends speculation and drops the unused 25 000.
  EXPECT_FALSE(c.speculating());
  EXPECT_EQ(c.credit(), 0);
  EXPECT_EQ(c.cwnd(), Bytes(90'000));  // inflight + MSS > cwnd: the transport may not send
}

TEST(Credit, GrantsOpenTheWindowByExactlyTheGrant) {
  Credit c({}, ctx());
  c.on_ack({.now = micros(0), .acked_bytes = Bytes(0), .inflight = Bytes(0)});
  c.on_credit({.now = micros(1), .credit = Bytes(16'000)});
  EXPECT_EQ(c.cwnd(), Bytes(16'000));
  c.on_send({.now = micros(2), .bytes = Bytes(1000), .inflight = Bytes(1000)});
  EXPECT_EQ(c.credit(), 15'000);
  EXPECT_EQ(c.cwnd(), Bytes(16'000));  // 1 000 in flight + 15 000
}

TEST(Credit, FirstGrantAlsoEndsSpeculationBeforeAddingItself) {
  Credit c({}, ctx());
  c.on_credit({.now = micros(1), .credit = Bytes(4'000)});
  EXPECT_FALSE(c.speculating());
  EXPECT_EQ(c.credit(), 4'000);  // not 125 000 + 4 000
}

TEST(Credit, AnyPositiveCreditLetsOnePacketGo) {
  Credit c({}, ctx());
  c.on_credit({.now = micros(0), .credit = Bytes(500)});
  EXPECT_EQ(c.cwnd(), Bytes(1000));  // 0 in flight + max(500, MSS)
  c.on_send({.now = micros(1), .bytes = Bytes(1000), .inflight = Bytes(1000)});
  EXPECT_EQ(c.credit(), -500);
  EXPECT_EQ(c.cwnd(), Bytes(1000));  // in flight only: wait for more credit
}

TEST(Credit, RequestIsCumulativeAndNetOfCreditHeld) {
  Credit c({}, ctx());
  c.on_credit({.now = micros(0), .credit = Bytes(16'000)});
  c.on_send({.now = micros(1), .bytes = Bytes(1000), .inflight = Bytes(1000)});
  // granted 16 000 + min(50 000, 1.5 × 125 000) − 15 000 held = 51 000.
  EXPECT_EQ(c.credit_request(Bytes(50'000)), Bytes(51'000));
  // Backlog beyond max_request is capped: 16 000 + 187 500 − 15 000.
  EXPECT_EQ(c.credit_request(Bytes(10'000'000)), Bytes(188'500));
  EXPECT_EQ(c.credit_request(Bytes(0)), Bytes(16'000));  // nothing new wanted
}

TEST(Credit, TrimOrLossEndSpeculation) {
  Credit a({}, ctx()), b({}, ctx());
  a.on_trim({.now = micros(1), .trimmed_bytes = Bytes(1000)});
  b.on_loss({.now = micros(1), .lost_bytes = Bytes(1000)});
  EXPECT_EQ(a.credit(), 0);
  EXPECT_EQ(b.credit(), 0);
}

TEST(Credit, TimeoutGrantsItselfOnePacketSoALostGrantCannotStall) {
  Credit c({}, ctx());
  c.on_ack({.now = micros(0), .acked_bytes = Bytes(0), .inflight = Bytes(0)});
  ASSERT_EQ(c.cwnd(), Bytes(0));
  c.on_timeout({.now = millis(1), .consecutive = 1});
  EXPECT_EQ(c.cwnd(), Bytes(1000));
}

TEST(CreditGranter, PacesGrantsAtNinetyNinePercentOfLineRateRoundRobin) {
  CreditGranter g({.link_rate = gbps(100)}, 2);
  g.on_request(0, Bytes(20'000));
  g.on_request(1, Bytes(10'000));
  auto a = g.poll(Nanos(0));
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->sender, 0u);
  EXPECT_EQ(a->credit, Bytes(16'384));  // one grant is at most 4 MSS = 16 KiB
  // Next slot: 16 384 B·8 / (100 Gb/s·0.99) = 1 323.96 ns → 1 324 ns.
  EXPECT_EQ(g.next_slot(), Nanos(1324));
  EXPECT_FALSE(g.poll(Nanos(1000)).has_value());
  auto b = g.poll(Nanos(1324));
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->sender, 1u);
  EXPECT_EQ(b->credit, Bytes(10'000));  // never past the request
  EXPECT_EQ(g.next_slot(), Nanos(1324 + 808));  // 80 000 b / 99 Gb/s = 808.08 ns
  auto c = g.poll(Nanos(2132));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->sender, 0u);
  EXPECT_EQ(c->credit, Bytes(3'616));  // 20 000 − 16 384
  EXPECT_EQ(g.next_slot(), Nanos(2132 + 292));  // 28 928 b / 99 Gb/s = 292.2 ns
  EXPECT_FALSE(g.poll(Nanos(10'000)).has_value());  // nobody waits
}

TEST(CreditGranter, StaleSmallerRequestsAndUnknownSendersAreIgnored) {
  CreditGranter g({.link_rate = gbps(100)}, 1);
  g.on_request(0, Bytes(5'000));
  g.on_request(0, Bytes(3'000));  // reordered older request
  g.on_request(7, Bytes(1'000));  // out of range
  EXPECT_EQ(g.backlog(0), Bytes(5'000));
  auto a = g.poll(Nanos(0));
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->credit, Bytes(5'000));
  EXPECT_EQ(g.backlog(0), Bytes(0));
  // The slot is the grant's wire time (5 000 B ≥ min_slot_bytes): 40 000 b / 99 Gb/s = 404.04 ns.
  EXPECT_EQ(g.next_slot(), Nanos(404));
}

}  // namespace
}  // namespace weft::cc

namespace weft::cc {
namespace {

// Sixteen senders into one 100 Gb/s receiver, each with far more to send than
// the test lasts: the granter must hand out 99 % of the line rate and split it
// evenly.
TEST(CreditGranter, IncastOfSixteenGetsEqualSharesOfNinetyNinePercent) {
  constexpr uint32_t kSenders = 16;
  CreditGranter g({.link_rate = gbps(100)}, kSenders);
  const Bytes backlog(1u << 30);
  std::vector<Credit> senders(kSenders, Credit({}, ctx()));
  std::vector<uint64_t> received(kSenders, 0);
  for (uint32_t s = 0; s < kSenders; ++s) {
    senders[s].on_ack({.now = Nanos(0), .acked_bytes = Bytes(0)});  // speculation over
    g.on_request(s, senders[s].credit_request(backlog));
  }
  uint64_t total = 0;
  const Nanos end = millis(1);
  for (Nanos now{0}; now < end; now = std::max(now + Nanos(1), g.next_slot())) {
    auto grant = g.poll(now);
    if (!grant) continue;
    Credit& c = senders[grant->sender];
    c.on_credit({.now = now, .credit = grant->credit});
    c.on_send({.now = now, .bytes = grant->credit});  // spends it at once...
    g.on_request(grant->sender, c.credit_request(backlog));  // ...and asks again in that packet
    received[grant->sender] += grant->credit.count();
    total += grant->credit.count();
  }
  // 1 ms at 99 Gb/s = 12 375 000 B, within one grant.
  EXPECT_NEAR(static_cast<double>(total), 12'375'000, 16'384);
  double sum = 0, sum_sq = 0;
  for (uint64_t r : received) {
    const double x = static_cast<double>(r);
    sum += x;
    sum_sq += x * x;
  }
  const double jain = sum * sum / (kSenders * sum_sq);
  EXPECT_GT(jain, 0.999);  // round robin: shares differ by at most one grant
}

}  // namespace
}  // namespace weft::cc
