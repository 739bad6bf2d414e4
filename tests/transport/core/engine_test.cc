// The protocol engine, specified by behaviour: connections, operations,
// matching, placement and bad input. Faults live in engine_faults_test.cc.
#include <gtest/gtest.h>

#include "transport/core/engine_pair.h"

namespace weft::core::testing {
namespace {

TEST(Engine, HandshakeConnectsBothEnds) {
  EnginePair w;
  w.establish();
  EXPECT_EQ(w.count_done(0, CompletionType::kConnected), 1u);
  EXPECT_EQ(w.count_done(1, CompletionType::kAccepted), 1u);
}

TEST(Engine, WrongJobTokenIsRefusedWithTheReason) {
  EngineParams pb = test_params();
  pb.job_token = 0xBAD;
  EnginePair w(test_params(), pb);
  auto c = w.a.connect(w.now(), node(1), {});
  ASSERT_TRUE(c.is_ok());
  ASSERT_TRUE(w.run_until([&] { return w.count_done(0, CompletionType::kConnFailed) == 1; }, millis(100)));
  const Completion& f = w.done[0].back();
  EXPECT_EQ(f.status.code(), Code::kRejected);
  EXPECT_NE(f.status.message().find("job token"), std::string::npos) << f.status.message();
  EXPECT_EQ(w.b.device_drops()[static_cast<size_t>(DropReason::kWrongToken)], 1u);
  EXPECT_EQ(w.count_done(1, CompletionType::kAccepted), 0u);
  // The failed connection stays failed and says why on every later call.
  auto s = w.a.post_send(w.now(), *c, 1, "x", 1);
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.status().code(), Code::kRejected);
}

TEST(Engine, UnansweredHandshakeTimesOutNamingThePeer) {
  EnginePair w;
  w.filter = [](const Sent&) { return Fate{.drop = true}; };
  auto c = w.a.connect(w.now(), node(1), {});
  ASSERT_TRUE(c.is_ok());
  ASSERT_TRUE(w.run_until([&] { return w.count_done(0, CompletionType::kConnFailed) == 1; }, seconds(2)));
  EXPECT_EQ(w.done[0].back().status.code(), Code::kPeerFailed);
  EXPECT_NE(w.done[0].back().status.message().find("node1"), std::string::npos);
}

TEST(Engine, SendLandsIntactInThePostedReceive) {
  EnginePair w;
  w.establish();
  const auto msg = pattern(1 << 20, 1);
  std::vector<uint8_t> got(msg.size());
  auto r = w.b.post_recv(w.now(), w.cb, 42, got.data(), got.size());
  auto s = w.a.post_send(w.now(), w.ca, 42, msg.data(), msg.size());
  ASSERT_TRUE(r.is_ok() && s.is_ok());
  ASSERT_TRUE(w.run_until([&] { return w.find_op(0, *s) && w.find_op(1, *r); }));
  EXPECT_TRUE(w.find_op(0, *s)->status.is_ok());
  const Completion* rc = w.find_op(1, *r);
  EXPECT_TRUE(rc->status.is_ok()) << rc->status.to_string();
  EXPECT_EQ(rc->bytes, msg.size());
  EXPECT_EQ(rc->tag, 42u);
  EXPECT_EQ(got, msg);
}

TEST(Engine, SendPostedWhileConnectingUsesTheSmallerNegotiatedPacketSize) {
  EngineParams pb = test_params();
  pb.mtu = 700;  // the peer takes smaller packets than we would send
  EnginePair w(test_params(), pb);
  auto c = w.a.connect(w.now(), node(1), {});
  ASSERT_TRUE(c.is_ok());
  const auto msg = pattern(10000, 12);
  auto s = w.a.post_send(w.now(), *c, 1, msg.data(), msg.size());  // before the handshake finished
  ASSERT_TRUE(s.is_ok());
  ASSERT_TRUE(w.run_until([&] { return w.cb != 0; }));
  std::vector<uint8_t> got(msg.size());
  auto r = w.b.post_recv(w.now(), w.cb, 1, got.data(), got.size());
  ASSERT_TRUE(w.run_until([&] { return w.find_op(0, *s) && w.find_op(1, *r); }));
  EXPECT_EQ(got, msg);
  for (const auto& p : w.log)
    if (p.from == 0 && p.pkt.h.type == wire::Type::kData) EXPECT_LE(p.pkt.h.payload_len, 700u - wire::kDataHeaderSize);
}

TEST(Engine, SendBeforeReceiveIsBufferedThenDelivered) {
  EnginePair w;
  w.establish();
  const auto msg = pattern(100000, 2);
  auto s = w.a.post_send(w.now(), w.ca, 7, msg.data(), msg.size());
  ASSERT_TRUE(w.run_until([&] { return w.find_op(0, *s) != nullptr; }));
  std::vector<uint8_t> got(msg.size());
  auto r = w.b.post_recv(w.now(), w.cb, 7, got.data(), got.size());
  ASSERT_TRUE(w.run_until([&] { return w.find_op(1, *r) != nullptr; }));
  EXPECT_TRUE(w.find_op(1, *r)->status.is_ok());
  EXPECT_EQ(got, msg);
}

TEST(Engine, SameTagMessagesMatchReceivesInPostingOrder) {
  EnginePair w;
  w.establish();
  // Reverse the order packets arrive in, so message 2's packets land first.
  int k = 0;
  w.filter = [&](const Sent& s) {
    Fate f;
    if (s.pkt.h.type == wire::Type::kData) f.extra_delay = micros(200 - 10 * (k++ % 20));
    return f;
  };
  const auto m1 = pattern(30000, 3), m2 = pattern(20000, 4), m3 = pattern(5000, 5);
  std::vector<uint8_t> g1(m1.size()), g2(m2.size()), g3(m3.size());
  auto r1 = w.b.post_recv(w.now(), w.cb, 5, g1.data(), g1.size());
  auto r3 = w.b.post_recv(w.now(), w.cb, 9, g3.data(), g3.size());
  auto r2 = w.b.post_recv(w.now(), w.cb, 5, g2.data(), g2.size());
  ASSERT_TRUE(w.a.post_send(w.now(), w.ca, 5, m1.data(), m1.size()).is_ok());
  ASSERT_TRUE(w.a.post_send(w.now(), w.ca, 9, m3.data(), m3.size()).is_ok());
  ASSERT_TRUE(w.a.post_send(w.now(), w.ca, 5, m2.data(), m2.size()).is_ok());
  ASSERT_TRUE(w.run_until([&] { return w.find_op(1, *r1) && w.find_op(1, *r2) && w.find_op(1, *r3); }));
  EXPECT_EQ(g1, m1);
  EXPECT_EQ(g2, m2);
  EXPECT_EQ(g3, m3);
}

TEST(Engine, ReceiveLargerThanMessageReportsTheMessageLength) {
  EnginePair w;
  w.establish();
  const auto msg = pattern(3000, 6);
  std::vector<uint8_t> got(10000, 0xEE);
  auto r = w.b.post_recv(w.now(), w.cb, 1, got.data(), got.size());
  ASSERT_TRUE(w.a.post_send(w.now(), w.ca, 1, msg.data(), msg.size()).is_ok());
  ASSERT_TRUE(w.run_until([&] { return w.find_op(1, *r) != nullptr; }));
  EXPECT_TRUE(w.find_op(1, *r)->status.is_ok());
  EXPECT_EQ(w.find_op(1, *r)->bytes, msg.size());
  EXPECT_TRUE(std::equal(msg.begin(), msg.end(), got.begin()));
  EXPECT_EQ(got[msg.size()], 0xEE) << "bytes past the message must be untouched";
}

TEST(Engine, ReceiveSmallerThanMessageFailsAsTruncatedWithoutOverrun) {
  EnginePair w;
  w.establish();
  const auto msg = pattern(5000, 7);
  std::vector<uint8_t> got(4096 + 16, 0xEE);
  auto r = w.b.post_recv(w.now(), w.cb, 1, got.data(), 4096);
  auto s = w.a.post_send(w.now(), w.ca, 1, msg.data(), msg.size());
  ASSERT_TRUE(w.run_until([&] { return w.find_op(1, *r) && w.find_op(0, *s); }));
  EXPECT_EQ(w.find_op(1, *r)->status.code(), Code::kTruncated);
  EXPECT_NE(w.find_op(1, *r)->status.message().find("5000"), std::string::npos);
  EXPECT_TRUE(std::equal(msg.begin(), msg.begin() + 4096, got.begin()));
  EXPECT_EQ(got[4096], 0xEE);
}

TEST(Engine, ZeroLengthMessagesComplete) {
  EnginePair w;
  w.establish();
  auto r = w.b.post_recv(w.now(), w.cb, 3, nullptr, 0);
  auto s = w.a.post_send(w.now(), w.ca, 3, nullptr, 0);
  ASSERT_TRUE(r.is_ok() && s.is_ok());
  ASSERT_TRUE(w.run_until([&] { return w.find_op(1, *r) && w.find_op(0, *s); }));
  EXPECT_TRUE(w.find_op(1, *r)->status.is_ok());
  EXPECT_EQ(w.find_op(1, *r)->bytes, 0u);
}

TEST(Engine, WriteWithImmediatePlacesDataAndNotifiesTarget) {
  EnginePair w;
  w.establish();
  std::vector<uint8_t> region(64 * 1024, 0);
  auto key = w.b.register_memory(region.data(), region.size(), MemAccess::kRemoteWrite);
  ASSERT_TRUE(key.is_ok());
  const auto data = pattern(20000, 8);
  const uint32_t imm = 0xC0FFEE;
  auto op = w.a.post_write(w.now(), w.ca, data.data(), data.size(), *key, 1000, &imm);
  ASSERT_TRUE(op.is_ok());
  ASSERT_TRUE(w.run_until([&] { return w.find_op(0, *op) && w.count_done(1, CompletionType::kWriteImm) == 1; }));
  EXPECT_TRUE(w.find_op(0, *op)->status.is_ok());
  EXPECT_TRUE(std::equal(data.begin(), data.end(), region.begin() + 1000));
  EXPECT_EQ(region[999], 0);
  EXPECT_EQ(region[1000 + data.size()], 0);
  for (const auto& c : w.done[1])
    if (c.type == CompletionType::kWriteImm) {
      EXPECT_EQ(c.imm, imm);
      EXPECT_EQ(c.bytes, data.size());
    }
}

TEST(Engine, RemoteWriteOutsideTheRegionIsRefusedAndTheConnectionSurvives) {
  EnginePair w;
  w.establish();
  std::vector<uint8_t> region(4096, 0);
  auto key = w.b.register_memory(region.data(), region.size(), MemAccess::kRemoteWrite);
  ASSERT_TRUE(key.is_ok());
  const auto data = pattern(3000, 9);
  auto bad = w.a.post_write(w.now(), w.ca, data.data(), data.size(), *key, 2000, nullptr);  // ends at 5000 > 4096
  ASSERT_TRUE(w.run_until([&] { return w.find_op(0, *bad) != nullptr; }));
  EXPECT_EQ(w.find_op(0, *bad)->status.code(), Code::kRemoteAccess);
  EXPECT_TRUE(std::all_of(region.begin(), region.end(), [](uint8_t x) { return x == 0; })) << "nothing may be placed";
  EXPECT_GT(w.b.stats(w.now(), w.cb)->drops[static_cast<size_t>(DropReason::kRemoteAccess)], 0u);
  // A key that names no region is refused the same way.
  auto bogus = w.a.post_write(w.now(), w.ca, data.data(), 10, *key + 7, 0, nullptr);
  ASSERT_TRUE(w.run_until([&] { return w.find_op(0, *bogus) != nullptr; }));
  EXPECT_EQ(w.find_op(0, *bogus)->status.code(), Code::kRemoteAccess);
  // The connection keeps working: a valid write lands.
  auto good = w.a.post_write(w.now(), w.ca, data.data(), 1000, *key, 3000, nullptr);
  ASSERT_TRUE(w.run_until([&] { return w.find_op(0, *good) != nullptr; }));
  EXPECT_TRUE(w.find_op(0, *good)->status.is_ok());
  EXPECT_TRUE(std::equal(data.begin(), data.begin() + 1000, region.begin() + 3000));
}

TEST(Engine, ManyOperationsInFlightAllComplete) {
  EnginePair w;
  w.establish();
  constexpr int kN = 200;
  std::vector<std::vector<uint8_t>> msgs, got;
  std::vector<OpId> recvs;
  for (int i = 0; i < kN; ++i) {
    msgs.push_back(pattern(100 + i * 37, 100 + i));
    got.emplace_back(msgs.back().size());
    recvs.push_back(*w.b.post_recv(w.now(), w.cb, static_cast<uint64_t>(i % 3), got.back().data(), got.back().size()));
  }
  for (int i = 0; i < kN; ++i)
    ASSERT_TRUE(w.a.post_send(w.now(), w.ca, static_cast<uint64_t>(i % 3), msgs[i].data(), msgs[i].size()).is_ok());
  ASSERT_TRUE(w.run_until([&] { return w.count_done(1, CompletionType::kRecv) == kN; }));
  for (int i = 0; i < kN; ++i) EXPECT_EQ(got[i], msgs[i]) << "message " << i;
}

TEST(Engine, TooManyOperationsInFlightIsAClearError) {
  EngineParams p = test_params();
  p.max_ops_per_conn = 4;
  EnginePair w(p, p);
  w.establish();
  char buf[8] = {};
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(w.a.post_send(w.now(), w.ca, 1, buf, 8).is_ok());
  auto r = w.a.post_send(w.now(), w.ca, 1, buf, 8);
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kResourceExhausted);
  EXPECT_NE(r.status().message().find("max_ops_per_conn"), std::string::npos);
}

TEST(Engine, BadArgumentsAreRefusedWithReasons) {
  EnginePair w;
  w.establish();
  std::vector<uint8_t> mem(4096);
  EXPECT_EQ(w.a.register_memory(nullptr, 10, MemAccess::kLocal).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(w.a.register_memory(mem.data(), 0, MemAccess::kLocal).status().code(), Code::kInvalidArgument);
  auto k = w.a.register_memory(mem.data(), 2048, MemAccess::kLocal);
  ASSERT_TRUE(k.is_ok());
  auto overlap = w.a.register_memory(mem.data() + 1000, 2048, MemAccess::kLocal);
  EXPECT_EQ(overlap.status().code(), Code::kAlreadyExists);
  EXPECT_NE(overlap.status().message().find("overlaps"), std::string::npos);
  EXPECT_TRUE(w.a.register_memory(mem.data() + 2048, 2048, MemAccess::kLocal).is_ok());
  EXPECT_TRUE(w.a.deregister_memory(*k).is_ok());
  EXPECT_EQ(w.a.deregister_memory(*k).code(), Code::kNotFound);
  EXPECT_EQ(w.a.post_send(w.now(), w.ca, 1, nullptr, 5).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(w.a.post_send(w.now(), w.ca, 1, mem.data(), size_t{1} << 41).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(w.a.post_send(w.now(), 999, 1, mem.data(), 5).status().code(), Code::kNotFound);
  EXPECT_EQ(w.a.post_recv(w.now(), w.ca, 1, nullptr, 5).status().code(), Code::kInvalidArgument);
  EngineParams bad = test_params();
  bad.mtu = 50;
  EXPECT_EQ(Engine::validate(bad).code(), Code::kInvalidArgument);
  bad = test_params();
  bad.dead_peer_timeout = bad.keepalive_interval;
  EXPECT_EQ(Engine::validate(bad).code(), Code::kInvalidArgument);
}

TEST(Engine, CloseFailsPendingWorkOnBothEndsAndStaysClosed) {
  EnginePair w;
  w.establish();
  std::vector<uint8_t> buf(100);
  auto r_b = w.b.post_recv(w.now(), w.cb, 1, buf.data(), buf.size());
  auto r_a = w.a.post_recv(w.now(), w.ca, 2, buf.data(), buf.size());
  ASSERT_TRUE(w.a.close(w.now(), w.ca).is_ok());
  ASSERT_TRUE(w.run_until([&] { return w.find_op(0, *r_a) && w.find_op(1, *r_b); }, millis(100)));
  EXPECT_EQ(w.find_op(0, *r_a)->status.code(), Code::kClosed);
  EXPECT_EQ(w.find_op(1, *r_b)->status.code(), Code::kClosed);
  EXPECT_NE(w.find_op(1, *r_b)->status.message().find("closed by the peer"), std::string::npos);
  auto again = w.b.post_send(w.now(), w.cb, 1, buf.data(), 10);
  ASSERT_FALSE(again.is_ok());
  EXPECT_EQ(again.status().code(), Code::kClosed);
  EXPECT_EQ(w.a.post_send(w.now(), w.ca, 1, buf.data(), 10).status().code(), Code::kClosed);
  EXPECT_TRUE(w.a.close(w.now(), w.ca).is_ok()) << "closing twice is harmless";
}

TEST(Engine, IdleConnectionStaysUpOnKeepalives) {
  EnginePair w;
  w.establish();
  ASSERT_FALSE(w.run_until([&] { return w.count_done(0, CompletionType::kConnFailed) > 0; }, seconds(3)));
  size_t keepalives = 0;
  for (const auto& s : w.log) keepalives += s.pkt.h.type == wire::Type::kKeepalive ? 1 : 0;
  EXPECT_GT(keepalives, 10u);
  EXPECT_EQ(w.a.stats(w.now(), w.ca)->drops[static_cast<size_t>(DropReason::kBadState)], 0u);
}

}  // namespace
}  // namespace weft::core::testing
