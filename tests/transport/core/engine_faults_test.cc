// The protocol engine under faults, specified by behaviour.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "transport/core/engine_pair.h"

namespace weft::core::testing {
namespace {

bool is_data(const Sent& s) { return s.pkt.h.type == wire::Type::kData; }
bool is_first_tx(const Sent& s) { return is_data(s) && !(s.pkt.h.flags & wire::flag::kRetx); }

// Sends `n` bytes a -> b and waits for both completions; returns received bytes.
std::vector<uint8_t> transfer(EnginePair& w, size_t n, uint32_t seed, Nanos limit = seconds(10)) {
  const auto msg = pattern(n, seed);
  std::vector<uint8_t> got(n);
  auto r = w.b.post_recv(w.now(), w.cb, 1, got.data(), got.size());
  auto s = w.a.post_send(w.now(), w.ca, 1, msg.data(), msg.size());
  EXPECT_TRUE(r.is_ok() && s.is_ok());
  EXPECT_TRUE(w.run_until([&] { return w.find_op(0, *s) && w.find_op(1, *r); }, limit));
  if (w.find_op(1, *r)) EXPECT_TRUE(w.find_op(1, *r)->status.is_ok());
  EXPECT_EQ(got, msg);
  return got;
}

TEST(EngineFaults, RetransmitsOnlyTheHoleAfterSack) {
  EnginePair w;
  w.establish();
  w.filter = [](const Sent& s) { return Fate{.drop = is_first_tx(s) && s.from == 0 && s.pkt.h.psn == 5}; };
  transfer(w, 40 * 1104, 1);
  std::vector<uint64_t> resent;
  for (const auto& s : w.log)
    if (s.from == 0 && is_data(s) && (s.pkt.h.flags & wire::flag::kRetx)) resent.push_back(s.pkt.h.psn);
  EXPECT_EQ(resent, std::vector<uint64_t>{5});
  EXPECT_EQ(w.a.stats(w.now(), w.ca)->rto_count, 0u) << "SACK + RACK, not the timer, should find the hole";
  EXPECT_EQ(w.a.stats(w.now(), w.ca)->rack_losses, 1u);
}

TEST(EngineFaults, NoSpuriousRetransmitUnderReordering) {
  EnginePair w;
  w.establish();
  // Every 5th packet is overtaken by the next few (20 µs late, inside the
  // reordering window).
  w.filter = [](const Sent& s) {
    return Fate{.extra_delay = is_data(s) && s.pkt.h.psn % 5 == 0 ? micros(20) : Nanos(0)};
  };
  transfer(w, 200 * 1104, 2);
  EXPECT_EQ(w.data_sent(0, true), 0u);
  EXPECT_EQ(w.a.stats(w.now(), w.ca)->retransmits, 0u);
}

TEST(EngineFaults, RtoBacksOffExponentiallyAndCaps) {
  EngineParams p = test_params();
  p.dead_peer_timeout = seconds(5);
  EnginePair w(p, p);
  w.establish();
  w.filter = [](const Sent& s) { return Fate{.drop = is_data(s) && s.from == 0}; };
  const auto msg = pattern(100, 3);
  ASSERT_TRUE(w.a.post_send(w.now(), w.ca, 1, msg.data(), msg.size()).is_ok());
  w.run_until([] { return false; }, seconds(2));
  std::vector<Nanos> at;
  for (const auto& s : w.log)
    if (s.from == 0 && is_data(s)) at.push_back(s.at);
  ASSERT_GE(at.size(), 7u);
  std::vector<int64_t> gaps;
  for (size_t i = 1; i < at.size(); ++i) gaps.push_back((at[i] - at[i - 1]).count());
  for (size_t i = 1; i < gaps.size(); ++i) {
    if (gaps[i - 1] * 2 <= p.max_rto.count()) {
      EXPECT_NEAR(static_cast<double>(gaps[i]), 2.0 * gaps[i - 1], 0.01 * gaps[i]) << "gap " << i;
    } else {
      EXPECT_EQ(gaps[i], p.max_rto.count()) << "capped at max_rto, gap " << i;
    }
  }
  EXPECT_EQ(gaps.back(), p.max_rto.count());
  EXPECT_GE(w.a.stats(w.now(), w.ca)->rto_count, 6u);
}

TEST(EngineFaults, DuplicatesAreDeliveredOnce) {
  EnginePair w;
  w.establish();
  w.filter = [](const Sent& s) { return Fate{.copies = is_data(s) ? 3 : 1}; };
  const auto msg = pattern(50 * 1104, 4);
  std::vector<uint8_t> got(msg.size());
  auto r = w.b.post_recv(w.now(), w.cb, 1, got.data(), got.size());
  auto r2 = w.b.post_recv(w.now(), w.cb, 1, got.data(), got.size());  // must stay unfilled
  ASSERT_TRUE(w.a.post_send(w.now(), w.ca, 1, msg.data(), msg.size()).is_ok());
  ASSERT_TRUE(w.run_until([&] { return w.find_op(1, *r) != nullptr; }));
  w.run_until([] { return false; }, millis(50));
  EXPECT_EQ(got, msg);
  EXPECT_EQ(w.find_op(1, *r2), nullptr) << "a duplicate must not complete a second receive";
  const ConnStats st = *w.b.stats(w.now(), w.cb);
  EXPECT_EQ(st.duplicates, 2 * 50u);
  EXPECT_EQ(st.bytes_received, msg.size());
}

TEST(EngineFaults, LostTailIsRecoveredByAProbeNotAnRto) {
  // The last two packets of the message vanish: nothing later arrives, so
  // RACK has nothing to judge by. Two SRTTs of silence send a tail-loss
  // probe; its ACK settles the tail well before the RTO.
  EnginePair w;
  w.establish();
  w.filter = [](const Sent& s) { return Fate{.drop = is_first_tx(s) && s.from == 0 && (s.pkt.h.psn == 18 || s.pkt.h.psn == 19)}; };
  const Nanos t0 = w.now();
  transfer(w, 20 * 1104, 12);
  const auto st = w.a.stats(w.now(), w.ca);
  EXPECT_EQ(st->rto_count, 0u);
  EXPECT_GE(st->tlp_probes, 1u);
  EXPECT_EQ(st->retransmits, 2u) << "only the two lost packets are resent";
  EXPECT_LT(w.now() - t0, test_params().min_rto) << "recovered within one minimum RTO";
}

TEST(EngineFaults, CorruptedPacketIsDroppedCountedAndRecovered) {
  EnginePair w;
  w.establish();
  w.filter = [](const Sent& s) { return Fate{.corrupt = is_first_tx(s) && s.pkt.h.psn == 3}; };
  transfer(w, 20 * 1104, 5);
  // The header was intact, so the drop is charged to its connection; the
  // payload CRC, checked during placement, caught the flip.
  EXPECT_EQ(w.b.stats(w.now(), w.cb)->drops[static_cast<size_t>(DropReason::kBadChecksum)], 1u);
  EXPECT_EQ(w.a.stats(w.now(), w.ca)->retransmits, 1u);
}

TEST(EngineFaults, CorruptedHeaderIsADeviceDropBeforeDemultiplexing) {
  EnginePair w;
  w.establish();
  // An ACK has no payload: its last byte is header (a SACK range or ce_bytes).
  bool done = false;
  w.filter = [&](const Sent& s) { return Fate{.corrupt = !done && s.pkt.h.type == wire::Type::kAck && (done = true)}; };
  transfer(w, 20 * 1104, 9);
  EXPECT_EQ(w.b.device_drops()[static_cast<size_t>(DropReason::kBadChecksum)] +
                w.a.device_drops()[static_cast<size_t>(DropReason::kBadChecksum)],
            1u);
}

TEST(EngineFaults, TrimmedPacketIsResentOnTheReceiversNackWithoutATimeout) {
  EnginePair w;
  w.establish();
  w.filter = [](const Sent& s) { return Fate{.trim = is_first_tx(s) && s.pkt.h.psn == 4}; };
  transfer(w, 20 * 1104, 10);  // verifies every byte
  const auto sb = w.b.stats(w.now(), w.cb);
  const auto sa = w.a.stats(w.now(), w.ca);
  EXPECT_EQ(sb->drops[static_cast<size_t>(DropReason::kTrimmed)], 1u);
  EXPECT_EQ(sa->nacks_received, 1u);
  EXPECT_EQ(sa->retransmits, 1u);
  EXPECT_EQ(sa->rto_count, 0u);
}

TEST(EngineFaults, ForeignConnectionIdOrWrongTagIsRejected) {
  EnginePair w;
  w.establish();
  // A well-formed DATA packet, addressed to a connection that does not exist.
  wire::Packet p;
  p.h.type = wire::Type::kData;
  p.h.dst_conn = 77;
  p.data.msg_len = 4;
  const uint8_t payload[4] = {1, 2, 3, 4};
  std::vector<uint8_t> buf(wire::kDataHeaderSize + 4);
  const size_t hl = wire::encode(p, payload, buf.data());
  std::memcpy(buf.data() + hl, payload, 4);
  w.inject(1, buf, 0);
  EXPECT_EQ(w.b.device_drops()[static_cast<size_t>(DropReason::kUnknownConnection)], 1u);
  // The right connection id with the wrong per-connection tag.
  p.h.dst_conn = w.cb;
  p.h.conn_tag = 0x1234;
  wire::encode(p, payload, buf.data());
  w.inject(1, buf, 0);
  EXPECT_EQ(w.b.stats(w.now(), w.cb)->drops[static_cast<size_t>(DropReason::kWrongToken)], 1u);
  // Not weft at all.
  const std::vector<uint8_t> junk(200, 0xAB);
  w.inject(1, junk, 0);
  EXPECT_EQ(w.b.device_drops()[static_cast<size_t>(DropReason::kForeign)], 1u);
  // Nothing was delivered, and the connection still works.
  EXPECT_EQ(w.b.stats(w.now(), w.cb)->bytes_received, 0u);
  transfer(w, 5000, 6);
}

TEST(EngineFaults, SilentPeerFailsTheConnectionAndEveryPendingOperation) {
  EnginePair w;
  w.establish();
  w.filter = [](const Sent& s) { return Fate{.drop = s.from == 1}; };  // b falls silent
  std::vector<uint8_t> buf(10000);
  auto s = w.a.post_send(w.now(), w.ca, 1, buf.data(), buf.size());
  auto r = w.a.post_recv(w.now(), w.ca, 2, buf.data(), buf.size());
  ASSERT_TRUE(w.run_until([&] { return w.find_op(0, *s) && w.find_op(0, *r); }, seconds(2)));
  for (OpId id : {*s, *r}) {
    const Completion* c = w.find_op(0, id);
    EXPECT_EQ(c->status.code(), Code::kPeerFailed);
    EXPECT_NE(c->status.message().find("node1"), std::string::npos) << c->status.message();
  }
  EXPECT_EQ(w.count_done(0, CompletionType::kConnFailed), 1u);
  auto later = w.a.post_send(w.now(), w.ca, 1, buf.data(), 10);
  ASSERT_FALSE(later.is_ok());
  EXPECT_EQ(later.status().code(), Code::kPeerFailed);
  EXPECT_NE(later.status().message().find("node1"), std::string::npos);
}

TEST(EngineFaults, GoBackNResendsEverythingFromTheHole) {
  EnginePair w;
  w.establish({.recovery = Recovery::kGoBackN});
  w.filter = [](const Sent& s) { return Fate{.drop = is_first_tx(s) && s.from == 0 && s.pkt.h.psn == 3}; };
  transfer(w, 30 * 1104, 7);
  std::vector<uint64_t> resent;
  for (const auto& s : w.log)
    if (s.from == 0 && is_data(s) && (s.pkt.h.flags & wire::flag::kRetx)) resent.push_back(s.pkt.h.psn);
  ASSERT_FALSE(resent.empty());
  EXPECT_EQ(resent.front(), 3u);
  for (size_t i = 1; i < resent.size(); ++i) EXPECT_EQ(resent[i], resent[i - 1] + 1) << "in order from the hole";
  EXPECT_GT(resent.size(), 1u) << "go-back-N resends what followed the hole too";
  EXPECT_GT(w.b.stats(w.now(), w.cb)->drops[static_cast<size_t>(DropReason::kOutOfOrderGbn)], 0u);
  EXPECT_EQ(w.b.stats(w.now(), w.cb)->nacks_sent, 1u) << "one NACK per hole";
  for (const auto& s : w.log)
    if (s.from == 0 && is_data(s)) EXPECT_EQ(s.pkt.h.entropy, 0u) << "go-back-N uses one path";
}

TEST(EngineFaults, SelectiveRepeatBeatsGoBackNOnTheSameLoss) {
  auto resent = [](Recovery mode) {
    EnginePair w;
    w.establish({.recovery = mode});
    w.filter = [](const Sent& s) { return Fate{.drop = is_first_tx(s) && s.from == 0 && s.pkt.h.psn % 50 == 7}; };
    transfer(w, 500 * 1104, 8);
    return w.data_sent(0, true);
  };
  const size_t sr = resent(Recovery::kSelectiveRepeat), gbn = resent(Recovery::kGoBackN);
  EXPECT_EQ(sr, 10u);
  EXPECT_GT(gbn, 5 * sr);
}

TEST(EngineFaults, BadPathIsAvoidedAndTransferCompletes) {
  EnginePair w;
  w.establish({.paths = 4});
  w.filter = [](const Sent& s) { return Fate{.drop = is_data(s) && s.from == 0 && s.pkt.h.entropy == 2}; };
  transfer(w, 3000 * 1104, 9);
  const ConnStats st = *w.a.stats(w.now(), w.ca);
  EXPECT_GT(st.paths_avoided, 0u);
  // Once avoided, path 2 carries only probes: far fewer than a fair quarter.
  size_t on2 = 0, total = 0;
  for (const auto& s : w.log)
    if (s.from == 0 && is_first_tx(s)) {
      ++total;
      on2 += s.pkt.h.entropy == 2 ? 1 : 0;
    }
  EXPECT_LT(on2 * 10, total) << on2 << " of " << total << " first transmissions on the dead path; avoided " << st.paths_avoided << " rack " << st.rack_losses << " rto " << st.rto_count;
  std::set<uint16_t> used;
  for (const auto& s : w.log)
    if (s.from == 0 && is_data(s)) used.insert(s.pkt.h.entropy);
  EXPECT_EQ(used.size(), 4u) << "packets are sprayed over every path";
}

TEST(EngineFaults, ReceiverNotReadyPausesUntilAReceiveIsPosted) {
  EngineParams pb = test_params();
  pb.unexpected_budget = Bytes(1000);  // no room to buffer an unexpected message
  EnginePair w(test_params(), pb);
  w.establish();
  const auto msg = pattern(20000, 10);
  auto s = w.a.post_send(w.now(), w.ca, 4, msg.data(), msg.size());
  w.run_until([] { return false; }, millis(20));
  EXPECT_GT(w.b.stats(w.now(), w.cb)->drops[static_cast<size_t>(DropReason::kNoReceiveBuffer)], 0u);
  EXPECT_EQ(w.find_op(0, *s), nullptr);
  std::vector<uint8_t> got(msg.size());
  auto r = w.b.post_recv(w.now(), w.cb, 4, got.data(), got.size());
  ASSERT_TRUE(w.run_until([&] { return w.find_op(1, *r) && w.find_op(0, *s); }));
  EXPECT_EQ(got, msg);
  EXPECT_EQ(w.count_done(0, CompletionType::kConnFailed), 0u);
}

TEST(EngineFaults, SenderRespectsTheReceiveWindow) {
  EngineParams p = test_params();
  p.window_packets = 64;
  EnginePair w(p, p);
  w.establish();
  uint64_t cum = 0, max_ahead = 0;
  w.filter = [&](const Sent& s) {
    if (s.from == 1 && s.pkt.h.type == wire::Type::kAck) cum = std::max(cum, s.pkt.ack.cum_ack);
    if (s.from == 0 && is_data(s)) max_ahead = std::max(max_ahead, s.pkt.h.psn - std::min(cum, s.pkt.h.psn));
    return Fate{.drop = is_first_tx(s) && s.pkt.h.psn % 97 == 13};
  };
  transfer(w, 2000 * 1104, 11);
  EXPECT_LT(max_ahead, 64u + 1);
  EXPECT_EQ(w.b.stats(w.now(), w.cb)->drops[static_cast<size_t>(DropReason::kBeyondWindow)], 0u);
}

}  // namespace
}  // namespace weft::core::testing

namespace weft::core::testing {
namespace {

// Builds a control packet addressed to `conn` on side `to` of `w`, with that
// connection's tag (read from what the peer last sent it).
std::vector<uint8_t> forge(EnginePair& w, int from, wire::Packet p) {
  uint32_t tag = 0, dst = 0;
  for (const auto& s : w.log)
    if (s.from == from && s.pkt.h.type != wire::Type::kHandshake) {
      tag = s.pkt.h.conn_tag;
      dst = s.pkt.h.dst_conn;
    }
  p.h.conn_tag = tag;
  p.h.dst_conn = dst;
  std::vector<uint8_t> buf(wire::kMaxHeaderSize);
  buf.resize(wire::encode(p, {}, buf.data()));
  return buf;
}

TEST(EngineHardening, AckForPacketsNeverSentIsDroppedAsMalformed) {
  EnginePair w;
  w.establish();
  transfer(w, 5000, 20);
  wire::Packet ack;
  ack.h.type = wire::Type::kAck;
  ack.ack.cum_ack = 1u << 30;  // far beyond anything a sent
  ack.ack.rwnd = 1024;
  w.inject(0, forge(w, 1, ack), 1);
  EXPECT_EQ(w.a.stats(w.now(), w.ca)->drops[static_cast<size_t>(DropReason::kMalformed)], 1u);
  transfer(w, 5000, 21);  // and the connection is unharmed
}

TEST(EngineHardening, AcceptWithUnusableParametersFailsTheConnectionClearly) {
  EnginePair w;
  auto c = w.a.connect(w.now(), node(1), {});
  ASSERT_TRUE(c.is_ok());
  wire::Packet acc;
  acc.h.type = wire::Type::kHandshake;
  acc.h.dst_conn = *c;
  acc.hs.kind = wire::HandshakeKind::kAccept;
  acc.hs.job_token = test_params().job_token;
  acc.hs.src_conn = 5;
  acc.hs.mss = 0;  // would divide by zero when packetizing
  acc.hs.rwnd = 1024;
  acc.hs.max_ops = 8;
  std::vector<uint8_t> buf(wire::kMaxHeaderSize);
  buf.resize(wire::encode(acc, {}, buf.data()));
  w.inject(0, buf, 1);
  ASSERT_TRUE(w.run_until([&] { return w.count_done(0, CompletionType::kConnFailed) == 1; }, millis(10)));
  EXPECT_EQ(w.done[0].back().status.code(), Code::kRejected);
  EXPECT_NE(w.done[0].back().status.message().find("mss 0"), std::string::npos);
}

TEST(EngineHardening, RestartedPeerReusingItsConnectionIdGetsAFreshConnection) {
  EnginePair w;
  w.establish();
  transfer(w, 3000, 22);
  const ConnId old_b = w.cb;
  // A new process at the same address: a fresh engine, whose first
  // connection id is 1 again, with a new nonce.
  Engine restarted(test_params(), 99);
  restarted.set_peer_namer([](const NetAddr&) { return "node1"; });
  auto c2 = restarted.connect(w.now(), node(1), {});
  ASSERT_TRUE(c2.is_ok());
  ASSERT_EQ(*c2, w.ca) << "the test needs the same connection id";
  std::array<TxPacket, 8> tx;
  const size_t n = restarted.poll_transmit(w.now(), tx);
  ASSERT_EQ(n, 1u);
  std::vector<uint8_t> init(tx[0].header, tx[0].header + tx[0].header_len);
  w.inject(1, init, 0);
  w.run_until([&] { return w.count_done(1, CompletionType::kAccepted) == 2; }, millis(10));
  EXPECT_EQ(w.count_done(1, CompletionType::kAccepted), 2u) << "the new incarnation is accepted";
  bool old_failed = false;
  for (const auto& d : w.done[1])
    if (d.type == CompletionType::kConnFailed && d.conn == old_b) {
      old_failed = true;
      EXPECT_NE(d.status.message().find("restarted"), std::string::npos) << d.status.message();
    }
  EXPECT_TRUE(old_failed) << "the old incarnation is failed, naming the restart";
}

}  // namespace
}  // namespace weft::core::testing
