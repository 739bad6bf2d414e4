// The engine and congestion control: choosing an algorithm by name, pacing to
// its rate, and carrying the signals it needs (INT echo, trims).
#include <gtest/gtest.h>

#include "transport/core/engine_pair.h"

namespace weft::core::testing {
namespace {

bool is_data(const Sent& s) { return s.pkt.h.type == wire::Type::kData; }

std::vector<uint8_t> transfer(EnginePair& w, size_t n, uint32_t seed, Nanos limit = seconds(10)) {
  const auto msg = pattern(n, seed);
  std::vector<uint8_t> got(n);
  auto r = w.b.post_recv(w.now(), w.cb, 1, got.data(), got.size());
  auto s = w.a.post_send(w.now(), w.ca, 1, msg.data(), msg.size());
  EXPECT_TRUE(r.is_ok() && s.is_ok());
  EXPECT_TRUE(w.run_until([&] { return w.find_op(0, *s) && w.find_op(1, *r); }, limit));
  EXPECT_EQ(got, msg);
  return got;
}

TEST(EngineCc, UnknownAlgorithmIsRefusedAtConnectNamingTheValidOnes) {
  EnginePair w;
  auto r = w.a.connect(w.now(), node(1), {.cc = "cubicle"});
  ASSERT_FALSE(r.is_ok());
  const std::string m = r.status().message();  // status() is a copy: keep the text
  EXPECT_NE(m.find("cubicle"), std::string::npos) << m;
  for (const char* known : {"dcqcn", "swift", "hpcc", "nscc", "timely"}) EXPECT_NE(m.find(known), std::string::npos) << m;
}

TEST(EngineCc, BadEngineWideSpecIsRefusedWhenTheEngineIsConfigured) {
  EngineParams p = test_params();
  p.cc = "swift:no_such_knob=3";
  const Status st = Engine::validate(p);
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("no_such_knob"), std::string::npos) << st.message();
  p.cc = "swift:target_delay_us=25";
  EXPECT_TRUE(Engine::validate(p).is_ok()) << Engine::validate(p).to_string();
}

TEST(EngineCc, HpccIsRefusedUpFrontWhenTheFabricStampsNoTelemetry) {
  EngineParams p = test_params();
  p.cc = "hpcc";
  const Status st = Engine::validate(p);
  ASSERT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("telemetry"), std::string::npos) << st.message();
  p.int_telemetry = true;
  EXPECT_TRUE(Engine::validate(p).is_ok());
}

TEST(EngineCc, EveryBuiltInAlgorithmDeliversAMessageIntact) {
  for (const char* spec : {"fixed", "dcqcn", "timely", "swift", "nscc"}) {
    SCOPED_TRACE(spec);
    EngineParams p = test_params();
    p.cc = spec;
    EnginePair w(p, p);
    w.establish();
    transfer(w, 300 * 1104 + 17, 3);
  }
}

TEST(EngineCc, IntStampedOnDataIsEchoedInTheAckAndFeedsHpcc) {
  EngineParams p = test_params();
  p.cc = "hpcc";
  p.int_telemetry = true;
  EnginePair w(p, p);
  w.establish();
  w.filter = [](const Sent& s) { return Fate{.int_hops = static_cast<uint8_t>(is_data(s) && s.from == 0 ? 2 : 0)}; };
  transfer(w, 200 * 1104, 4);
  // HPCC saw telemetry on every ACK, so the connection stayed healthy.
  EXPECT_EQ(w.count_done(0, CompletionType::kConnFailed), 0u);
  size_t echoed = 0;
  for (const Sent& s : w.log) {
    if (s.from != 1 || s.pkt.h.type != wire::Type::kAck || s.pkt.ack.int_hops == 0) continue;
    ++echoed;
    ASSERT_EQ(s.pkt.ack.int_hops, 2);
    EXPECT_EQ(s.pkt.ack.int_records[1].tx_bytes, 2000000u);
    EXPECT_EQ(s.pkt.ack.int_records[1].qlen_bytes, 3000u);
    EXPECT_EQ(s.pkt.ack.int_records[0].rate_mbps, 100000u);
  }
  EXPECT_GT(echoed, 0u);
}

TEST(EngineCc, HpccFailsTheConnectionNamingTheCauseWhenNoIntArrives) {
  EngineParams p = test_params();
  p.cc = "hpcc";
  p.int_telemetry = true;  // claimed, but no switch stamps anything
  EnginePair w(p, p);
  w.establish();
  std::vector<uint8_t> buf(400 * 1104);
  auto s = w.a.post_send(w.now(), w.ca, 1, buf.data(), buf.size());
  std::vector<uint8_t> got(buf.size());
  (void)w.b.post_recv(w.now(), w.cb, 1, got.data(), got.size());
  ASSERT_TRUE(w.run_until([&] { return w.find_op(0, *s) != nullptr; }));
  const Completion* c = w.find_op(0, *s);
  EXPECT_FALSE(c->status.is_ok());
  EXPECT_NE(c->status.message().find("INT"), std::string::npos) << c->status.message();
  EXPECT_NE(c->status.message().find("hpcc"), std::string::npos) << c->status.message();
  EXPECT_EQ(w.count_done(0, CompletionType::kConnFailed), 1u);
}

TEST(EngineCc, PacedControllerSendsOneBurstThenSpacesPacketsAtItsRate) {
  // 100 Mb/s with a 4-packet burst: 1200-byte packets should leave one every
  // 96 us once the burst allowance is spent.
  EngineParams p = test_params();
  p.cc = "fixed:window_bytes=10000000,rate_mbps=100";
  p.pacing_burst = Bytes(4 * 1200);
  EnginePair w(p, p);
  w.establish();
  const size_t n = 100 * 1104;
  transfer(w, n, 5);
  std::vector<Nanos> at;
  std::vector<uint64_t> size;
  for (const Sent& s : w.log)
    if (s.from == 0 && is_data(s)) {
      at.push_back(s.at);
      size.push_back(s.pkt.h.payload_len + wire::kDataHeaderSize);
    }
  ASSERT_GE(at.size(), 100u);
  // Token-bucket bound: by the time packet i leaves, at most burst + rate x
  // elapsed bytes may have left (one packet of rounding).
  const double bytes_per_ns = 100e6 / 8 / 1e9;
  uint64_t total = 0;
  for (size_t i = 0; i < at.size(); ++i) {
    total += size[i];
    const double allowed = 4 * 1200 + 1200 + bytes_per_ns * static_cast<double>((at[i] - at[0]).count());
    ASSERT_LE(static_cast<double>(total), allowed) << "packet " << i << " left too early";
  }
  // ... and it is not slower than the rate either: the whole transfer takes
  // about (bytes - burst) / rate.
  const double ideal_ns = (static_cast<double>(total) - 4 * 1200) / bytes_per_ns;
  EXPECT_LT(static_cast<double>((at.back() - at.front()).count()), ideal_ns * 1.05);
}

TEST(EngineCc, CreditSenderSendsOnTheReceiversGrants) {
  EngineParams p = test_params();
  p.cc = "credit";
  p.link_rate = gbps(1);  // grants paced at ~1 Gb/s: slow enough to see
  EnginePair w(p, p);
  w.establish();
  const size_t n = 400 * 1096 + 5;
  const Nanos t0 = w.now();
  transfer(w, n, 8);
  const Nanos took = w.now() - t0;
  size_t grants = 0, requests = 0;
  uint64_t granted = 0;
  for (const Sent& s : w.log) {
    if (s.from == 1 && s.pkt.h.type == wire::Type::kCredit) {
      ++grants;
      granted += s.pkt.credit.credit;
    }
    if (s.from == 0 && is_data(s)) {
      ASSERT_TRUE(s.pkt.h.flags & wire::flag::kCreditReq) << "every DATA of a credit sender carries its request";
      ASSERT_LE(s.pkt.h.payload_len + wire::kDataHeaderSize + wire::kCreditReqSize, 1200u) << "the request fits the MTU";
      ++requests;
    }
  }
  EXPECT_GT(grants, 10u);
  EXPECT_GT(requests, 0u);
  // Grants covered the message, bar the one-BDP speculative start (1.5 kB at
  // 1 Gb/s x 12 us) and a packet the engine lets out when nothing is in flight.
  EXPECT_GE(granted + 4 * 1096, n);
  EXPECT_EQ(w.a.stats(w.now(), w.ca)->rto_count, 0u);
  // Paced by the receiver at about 1 Gb/s: it cannot have been much faster.
  const double min_ns = static_cast<double>(granted) * 8 / 1.0;  // granted bytes at 1 Gb/s
  EXPECT_GE(static_cast<double>(took.count()), 0.9 * min_ns);
}

TEST(EngineCc, TrimsReachTheControllerAsTrimEvents) {
  EngineParams p = test_params();
  p.cc = "nscc";
  EnginePair w(p, p);
  w.establish();
  int trimmed = 0;
  w.filter = [&](const Sent& s) {
    const bool t = is_data(s) && s.from == 0 && !(s.pkt.h.flags & wire::flag::kRetx) && s.pkt.h.psn % 10 == 3;
    trimmed += t;
    return Fate{.trim = t};
  };
  transfer(w, 100 * 1104, 6);
  const auto st = w.a.stats(w.now(), w.ca);
  EXPECT_EQ(st->rto_count, 0u);
  EXPECT_EQ(st->retransmits, static_cast<uint64_t>(trimmed));
  // NSCC cuts its window on trims (quick adapt / multiplicative decrease).
  EXPECT_GT(st->cc_decreases, 0u);
  EXPECT_EQ(w.b.stats(w.now(), w.cb)->drops[static_cast<size_t>(DropReason::kTrimmed)], static_cast<uint64_t>(trimmed));
}

}  // namespace
}  // namespace weft::core::testing
