// bench/transport/engine_bench.cc — CPU cost of the sans-I/O engine
// (transport/core/engine.h), per packet and per ACK.
//
// Two Engines, A (sender) and B (receiver), are joined by hand: the bench
// moves each TxPacket from one engine's poll_transmit() into the other's
// on_receive() on a manual clock, like tests/transport/core/engine_pair.h
// but without gtest, filters or a delivery queue. Nothing is lost unless a
// benchmark drops it on purpose.
//
//   BM_EngineReceive/<payload>    B.on_receive() per DATA packet of an
//                                 established connection: decode + CRC, window,
//                                 placement (memcpy into a posted receive) and
//                                 ACK bookkeeping. Packets are pre-built outside
//                                 the timed region; completed receives are
//                                 polled and re-posted inside it.
//   BM_EngineRoundTrip/<payload>  "round trip per packet": A.poll_transmit +
//                                 B.on_receive + B.poll_transmit (the ACK) +
//                                 A.on_receive(ACK), in rounds of 16 data
//                                 packets and one ACK. Also includes one memcpy
//                                 per datagram (gathering header + payload into
//                                 a contiguous buffer, what the kernel's copy
//                                 does for a real driver).
//   BM_EngineSend/<payload>       the sender's share alone: one timed
//                                 A.poll_transmit of 256 packets, then (timed)
//                                 A.on_receive of the 16 ACKs B sent for them;
//                                 B's work runs untimed in between.
//   BM_SackAck/repeat             A.on_receive() of an ACK carrying 32 SACK
//                                 ranges over 4096 outstanding packets whose
//                                 ranges A has already seen (the steady state
//                                 while holes are being repaired).
//   BM_SackAck/first              the same ACK the first time A sees it: it
//                                 newly acknowledges 4064 packets.
//
// One iteration is one data packet (one ACK for BM_SackAck), so the Time and
// CPU columns read directly as ns/packet (ns/ACK). Benchmarks that work in
// rounds do a whole round every 16th / 256th iteration; the average is the
// same. No custom counters: Google Benchmark 1.7's CSV output needs every
// run of a program to carry the same ones.
//
// Each benchmark checks once, untimed, that data really arrives (a receive
// completes with the right bytes) and skips with an error otherwise.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "transport/core/engine.h"
#include "transport/core/wire.h"
#include "tests/support/pattern.h"

namespace {

using namespace weft;
using namespace weft::core;

constexpr uint64_t kTag = 7;
constexpr uint32_t kWindowPackets = 16384;

NetAddr node(uint8_t n) {
  NetAddr a;
  a.family = 0xFF;  // a loopback-style node number, as the tests use
  a.bytes[0] = n;
  return a;
}
const NetAddr kNodeA = node(0);
const NetAddr kNodeB = node(1);

// mtu = payload + the 96-byte DATA header, so every data packet carries
// exactly `payload` bytes. Timers are pushed far out: no benchmark calls
// on_timer(), and none should depend on it.
EngineParams bench_params(uint32_t payload) {
  EngineParams p;
  p.job_token = 0xBE7C4;
  p.mtu = payload + static_cast<uint32_t>(wire::kDataHeaderSize);
  p.window_packets = kWindowPackets;
  p.cc_window = Bytes(64u << 20);
  p.keepalive_interval = seconds(100);
  p.dead_peer_timeout = seconds(1000);
  p.handshake_timeout = seconds(100);
  return p;
}

using weft::testing::pattern;

// Header + payload into one contiguous datagram, as a socket would deliver it.
void gather(const TxPacket& tx, std::vector<uint8_t>& out) {
  out.resize(tx.size());
  std::memcpy(out.data(), tx.header, tx.header_len);
  if (tx.payload_len) std::memcpy(out.data() + tx.header_len, tx.payload, tx.payload_len);
}

// Two engines and a manual clock. A connects to B.
struct Pair {
  explicit Pair(const EngineParams& p) : a(p, 11), b(p, 22) {}

  Nanos now = seconds(1);
  Engine a, b;
  ConnId ca = 0, cb = 0;
  std::string error;

  // Everything `from` has to send, delivered to `to` at once. Returns how many.
  size_t shuttle(Engine& from, Engine& to, const NetAddr& from_addr) {
    size_t moved = 0;
    for (;;) {
      const size_t n = from.poll_transmit(now, tx_);
      for (size_t i = 0; i < n; ++i) {
        gather(tx_[i], dgram_);
        to.on_receive(now, dgram_, from_addr);
      }
      moved += n;
      if (n < tx_.size()) return moved;
    }
  }

  // INIT A->B, ACCEPT B->A; true when A saw kConnected and B kAccepted.
  bool establish() {
    if (Status s = Engine::validate(a.params()); !s.is_ok()) {
      error = "bad EngineParams: " + s.to_string();
      return false;
    }
    auto r = a.connect(now, kNodeB, ConnParams{});
    if (!r) {
      error = "connect: " + r.status().to_string();
      return false;
    }
    ca = *r;
    bool connected = false;
    for (int step = 0; step < 16 && !(connected && cb != 0); ++step) {
      shuttle(a, b, kNodeA);
      now += micros(5);
      shuttle(b, a, kNodeB);
      now += micros(5);
      std::array<Completion, 8> out;
      for (size_t n = a.poll(out), i = 0; i < n; ++i) connected |= out[i].type == CompletionType::kConnected;
      for (size_t n = b.poll(out), i = 0; i < n; ++i)
        if (out[i].type == CompletionType::kAccepted) cb = out[i].conn;
    }
    if (!connected || cb == 0) error = "handshake did not complete";
    return error.empty();
  }

 private:
  std::array<TxPacket, 64> tx_;
  std::vector<uint8_t> dgram_;
};

uint64_t total_drops(const ConnStats& s) {
  uint64_t n = 0;
  for (uint64_t d : s.drops) n += d;
  return n;
}
uint64_t total_drops(const DropCounters& d) {
  uint64_t n = 0;
  for (uint64_t x : d) n += x;
  return n;
}

// ---------------------------------------------------------------------------
// (a) receive cost per DATA packet

// DATA packets for B, made from a real packet of A (so dst_conn, conn_tag,
// entropy and flags are what A sends) with PSN, message id and offset
// rewritten: an endless in-order stream of `per_msg`-packet messages, tag kTag,
// message m being the m-th send on that tag. A itself never learns of them.
class DataStream {
 public:
  DataStream(const wire::Packet& tmpl, uint32_t payload, uint32_t per_msg, const uint8_t* msg_src)
      : tmpl_(tmpl), payload_(payload), per_msg_(per_msg), src_(msg_src) {}

  uint64_t msg_len() const { return uint64_t{payload_} * per_msg_; }
  uint64_t next_psn() const { return psn_; }

  void build(std::vector<uint8_t>& out, Nanos now) {
    const uint64_t psn = psn_++;
    const uint64_t msg = psn / per_msg_;
    const uint64_t off = (psn % per_msg_) * payload_;
    wire::Packet p = tmpl_;
    p.h.psn = psn;
    p.h.ts_val = static_cast<uint64_t>(now.count()) + 1;
    p.h.flags = 0;
    p.data.msg_id = static_cast<uint32_t>(msg);
    p.data.op = wire::Op::kSend;
    p.data.key = kTag;
    p.data.aux = msg;
    p.data.msg_len = msg_len();
    p.data.offset = off;
    out.resize(wire::kDataHeaderSize + payload_);
    std::memcpy(out.data() + wire::kDataHeaderSize, src_ + off, payload_);
    wire::encode(p, std::span<const uint8_t>(out.data() + wire::kDataHeaderSize, payload_), out.data());
  }

 private:
  wire::Packet tmpl_;
  uint32_t payload_, per_msg_;
  const uint8_t* src_;
  uint64_t psn_ = 0;
};

// A real DATA packet from A on an established pair, decoded. Leaves A with one
// unacknowledged packet, which is harmless: A is not called again.
bool capture_template(Pair& w, uint32_t payload, wire::Packet& tmpl, std::vector<uint8_t>& keep) {
  static const std::vector<uint8_t> one = pattern(1 << 16, 3);
  if (!w.a.post_send(w.now, w.ca, kTag, one.data(), payload)) return false;
  std::array<TxPacket, 8> tx;
  const size_t n = w.a.poll_transmit(w.now, tx);
  for (size_t i = 0; i < n; ++i) {
    if (tx[i].payload_len != payload) continue;
    gather(tx[i], keep);
    return wire::decode(keep, tmpl) == wire::DecodeError::kOk && tmpl.h.type == wire::Type::kData;
  }
  return false;
}

void BM_EngineReceive(benchmark::State& state) {
  const auto payload = static_cast<uint32_t>(state.range(0));
  constexpr uint32_t kPerMsg = 32;  // packets per message
  constexpr uint32_t kPosted = 4;   // receives kept posted
  // ~2 MiB of datagrams per batch: fits L2 like a recvmmsg batch that was
  // just copied in, and makes PauseTiming (once a batch) negligible.
  const size_t batch_len = std::max<size_t>(256, (size_t{2} << 20) / payload);

  Pair w(bench_params(payload));
  wire::Packet tmpl;
  std::vector<uint8_t> keep;
  if (!w.establish() || !capture_template(w, payload, tmpl, keep)) {
    state.SkipWithError(("setup failed: " + w.error).c_str());
    return;
  }
  const std::vector<uint8_t> src = pattern(uint64_t{payload} * kPerMsg, 5);
  DataStream stream(tmpl, payload, kPerMsg, src.data());
  std::vector<std::vector<uint8_t>> rbuf(kPosted, std::vector<uint8_t>(stream.msg_len()));
  uint64_t posted = 0;  // receives posted so far; receive k lands in rbuf[k % kPosted]
  auto post = [&] {
    auto r = w.b.post_recv(w.now, w.cb, kTag, rbuf[posted % kPosted].data(), stream.msg_len());
    ++posted;
    return r.is_ok();
  };
  for (uint32_t i = 0; i < kPosted; ++i) post();

  // Once, untimed: one whole message must complete with the right bytes.
  {
    std::vector<uint8_t> d;
    for (uint32_t i = 0; i < kPerMsg; ++i) {
      stream.build(d, w.now);
      w.b.on_receive(w.now, d, kNodeA);
    }
    std::array<Completion, 4> c;
    const size_t n = w.b.poll(c);
    if (n != 1 || c[0].type != CompletionType::kRecv || !c[0].status.is_ok() || c[0].bytes != stream.msg_len() ||
        rbuf[0] != src) {
      state.SkipWithError("the first message did not arrive intact at B");
      return;
    }
    post();
  }

  std::vector<std::vector<uint8_t>> batch(batch_len);
  auto refill = [&] {
    w.now += micros(1);
    for (auto& d : batch) stream.build(d, w.now);
  };
  refill();
  size_t next = 0;
  uint64_t received_msgs = 0, bad = 0;
  std::array<Completion, 8> cpl;
  for (auto _ : state) {
    if (next == batch.size()) {
      state.PauseTiming();
      refill();
      next = 0;
      state.ResumeTiming();
    }
    w.b.on_receive(w.now, batch[next++], kNodeA);
    if (w.b.pending_completions() != 0) {
      const size_t n = w.b.poll(cpl);
      for (size_t i = 0; i < n; ++i) {
        if (cpl[i].type == CompletionType::kRecv && cpl[i].status.is_ok())
          ++received_msgs;
        else
          ++bad;
        if (!post()) ++bad;
      }
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * payload);
  state.SetLabel("per packet; " + std::to_string(kPerMsg) + "-packet messages, batches of " + std::to_string(batch_len));
  auto st = w.b.stats(w.now, w.cb);
  const uint64_t expect_msgs = state.iterations() / kPerMsg;
  if (bad != 0 || !st || total_drops(*st) != 0 || total_drops(w.b.device_drops()) != 0 || received_msgs + 1 < expect_msgs)
    state.SkipWithError("B dropped packets or receives did not complete");
}

// ---------------------------------------------------------------------------
// (b) round trip per packet: A sends, B receives and ACKs, A takes the ACK

void BM_EngineRoundTrip(benchmark::State& state) {
  const auto payload = static_cast<uint32_t>(state.range(0));
  constexpr uint32_t kPerMsg = 64;    // packets per message
  constexpr uint32_t kOutstanding = 4;  // sends and receives kept posted
  constexpr size_t kBurst = 16;       // data packets per round (= ack_every: one ACK per round)
  const uint64_t msg_len = uint64_t{payload} * kPerMsg;

  EngineParams p = bench_params(payload);
  p.ack_every = kBurst;
  Pair w(p);
  if (!w.establish()) {
    state.SkipWithError(("setup failed: " + w.error).c_str());
    return;
  }
  const std::vector<uint8_t> src = pattern(msg_len, 9);
  std::vector<std::vector<uint8_t>> rbuf(kOutstanding, std::vector<uint8_t>(msg_len));
  uint64_t recvs = 0;
  bool post_failed = false;
  auto post_recv = [&] {
    post_failed |= !w.b.post_recv(w.now, w.cb, kTag, rbuf[recvs++ % kOutstanding].data(), msg_len).is_ok();
  };
  auto post_send = [&] { post_failed |= !w.a.post_send(w.now, w.ca, kTag, src.data(), msg_len).is_ok(); };
  for (uint32_t i = 0; i < kOutstanding; ++i) {
    post_recv();
    post_send();
  }

  std::array<TxPacket, kBurst> txa;
  std::array<TxPacket, 4> txb;
  std::vector<std::vector<uint8_t>> wire_a(kBurst), wire_b(txb.size());
  std::array<Completion, 8> cpl;
  uint64_t data_pkts = 0, acks = 0, sends_done = 0, recvs_done = 0, bad = 0;
  bool first_recv_checked = false, first_recv_ok = false;

  auto round = [&] {
    w.now += micros(1);
    const size_t n = w.a.poll_transmit(w.now, txa);
    for (size_t i = 0; i < n; ++i) {
      gather(txa[i], wire_a[i]);
      data_pkts += txa[i].payload_len != 0;
    }
    w.now += micros(1);
    for (size_t i = 0; i < n; ++i) w.b.on_receive(w.now, wire_a[i], kNodeA);
    const size_t m = w.b.poll_transmit(w.now, txb);
    for (size_t i = 0; i < m; ++i) gather(txb[i], wire_b[i]);
    acks += m;
    w.now += micros(1);
    for (size_t i = 0; i < m; ++i) w.a.on_receive(w.now, wire_b[i], kNodeB);
    if (w.b.pending_completions() != 0)
      for (size_t k = w.b.poll(cpl), i = 0; i < k; ++i) {
        if (cpl[i].type != CompletionType::kRecv || !cpl[i].status.is_ok() || cpl[i].bytes != msg_len) ++bad;
        if (!first_recv_checked) {
          first_recv_checked = true;
          first_recv_ok = rbuf[0] == src;
        }
        ++recvs_done;
        post_recv();
      }
    if (w.a.pending_completions() != 0)
      for (size_t k = w.a.poll(cpl), i = 0; i < k; ++i) {
        if (cpl[i].type != CompletionType::kSend || !cpl[i].status.is_ok()) ++bad;
        ++sends_done;
        post_send();
      }
  };

  // Once, untimed: run until a send and a receive have completed intact.
  for (int i = 0; i < 64 && (sends_done == 0 || recvs_done == 0); ++i) round();
  if (sends_done == 0 || recvs_done == 0 || !first_recv_ok || bad != 0 || post_failed) {
    state.SkipWithError("no intact message went A -> B and was acknowledged");
    return;
  }
  const uint64_t pkts0 = data_pkts, acks0 = acks;

  // One iteration per data packet: a whole round every kBurst iterations.
  uint64_t rounds = 0;
  size_t owed = 0;
  for (auto _ : state) {
    if (owed == 0) {
      round();
      ++rounds;
      owed = kBurst;
    }
    --owed;
  }

  const uint64_t pkts = data_pkts - pkts0;
  state.SetItemsProcessed(static_cast<int64_t>(pkts));
  state.SetBytesProcessed(static_cast<int64_t>(pkts * payload));
  state.SetLabel("round trip per packet; " + std::to_string(pkts / std::max<uint64_t>(1, acks - acks0)) +
                 " packets per ACK");
  auto sa = w.a.stats(w.now, w.ca);
  auto sb = w.b.stats(w.now, w.cb);
  if (bad != 0 || post_failed || !sa || !sb || sa->retransmits != 0 || total_drops(*sa) != 0 || total_drops(*sb) != 0 ||
      pkts != rounds * kBurst)
    state.SkipWithError("short rounds, retransmissions, drops or failed operations during the run");
}

// ---------------------------------------------------------------------------
// (b') sender only: A.poll_transmit + A.on_receive(ACKs), B's work untimed

void BM_EngineSend(benchmark::State& state) {
  const auto payload = static_cast<uint32_t>(state.range(0));
  constexpr uint32_t kPerMsg = 64;      // packets per message
  constexpr uint32_t kOutstanding = 8;  // sends and receives kept posted (512 packets queued)
  constexpr size_t kRound = 256;        // data packets per round: one timed poll_transmit call
  constexpr size_t kAckEvery = 16;      // B acks every 16 packets: 16 ACKs per round
  const uint64_t msg_len = uint64_t{payload} * kPerMsg;

  EngineParams p = bench_params(payload);
  p.ack_every = kAckEvery;
  Pair w(p);
  if (!w.establish()) {
    state.SkipWithError(("setup failed: " + w.error).c_str());
    return;
  }
  const std::vector<uint8_t> src = pattern(msg_len, 17);
  std::vector<std::vector<uint8_t>> rbuf(kOutstanding, std::vector<uint8_t>(msg_len));
  uint64_t recvs = 0;
  bool post_failed = false;
  auto post_recv = [&] {
    post_failed |= !w.b.post_recv(w.now, w.cb, kTag, rbuf[recvs++ % kOutstanding].data(), msg_len).is_ok();
  };
  auto post_send = [&] { post_failed |= !w.a.post_send(w.now, w.ca, kTag, src.data(), msg_len).is_ok(); };
  for (uint32_t i = 0; i < kOutstanding; ++i) {
    post_recv();
    post_send();
  }

  std::vector<TxPacket> txa(kRound);
  std::array<TxPacket, 4> txb;
  std::vector<std::vector<uint8_t>> wire_a(kRound), acks(kRound / kAckEvery + 4);
  std::array<Completion, 16> cpl;
  size_t nacks = 0;
  uint64_t data_pkts = 0, short_rounds = 0, sends_done = 0, recvs_done = 0, bad = 0;
  bool first_recv_ok = false;

  // The receiver's half of a round, untimed: take A's packets, ACK every
  // kAckEvery of them, re-post completed receives.
  auto receiver = [&](size_t n) {
    for (size_t i = 0; i < n; ++i) gather(txa[i], wire_a[i]);
    w.now += micros(1);
    nacks = 0;
    for (size_t i = 0; i < n; ++i) {
      w.b.on_receive(w.now, wire_a[i], kNodeA);
      if ((i + 1) % kAckEvery == 0 || i + 1 == n)
        for (size_t m = w.b.poll_transmit(w.now, txb), k = 0; k < m && nacks < acks.size(); ++k) gather(txb[k], acks[nacks++]);
    }
    for (size_t k = w.b.poll(cpl), i = 0; i < k; ++i) {
      if (cpl[i].type != CompletionType::kRecv || !cpl[i].status.is_ok() || cpl[i].bytes != msg_len) ++bad;
      if (recvs_done++ == 0) first_recv_ok = rbuf[0] == src;
      post_recv();
    }
    w.now += micros(1);
  };
  // The sender's half, timed: produce a round of packets / take the ACKs.
  auto send = [&] {
    const size_t n = w.a.poll_transmit(w.now, txa);
    for (size_t i = 0; i < n; ++i) data_pkts += txa[i].payload_len != 0;
    short_rounds += n != kRound;
    return n;
  };
  auto take_acks = [&] {
    for (size_t i = 0; i < nacks; ++i) w.a.on_receive(w.now, acks[i], kNodeB);
    if (w.a.pending_completions() != 0)
      for (size_t k = w.a.poll(cpl), i = 0; i < k; ++i) {
        if (cpl[i].type != CompletionType::kSend || !cpl[i].status.is_ok()) ++bad;
        ++sends_done;
        post_send();
      }
  };

  // Once, untimed: a few rounds must complete sends and intact receives.
  for (int i = 0; i < 8; ++i) {
    receiver(send());
    take_acks();
  }
  if (sends_done == 0 || recvs_done == 0 || !first_recv_ok || bad != 0 || post_failed || short_rounds != 0) {
    state.SkipWithError("no intact message went A -> B and was acknowledged");
    return;
  }
  const uint64_t pkts0 = data_pkts;

  // One iteration per data packet: a whole round every kRound iterations.
  size_t owed = 0;
  for (auto _ : state) {
    if (owed == 0) {
      const size_t n = send();
      state.PauseTiming();
      receiver(n);
      state.ResumeTiming();
      take_acks();
      owed = kRound;
    }
    --owed;
  }

  const uint64_t pkts = data_pkts - pkts0;
  state.SetItemsProcessed(static_cast<int64_t>(pkts));
  state.SetBytesProcessed(static_cast<int64_t>(pkts * payload));
  state.SetLabel("sender per packet; rounds of 256 packets out, 16 ACKs in");
  auto sa = w.a.stats(w.now, w.ca);
  if (bad != 0 || post_failed || short_rounds != 0 || !sa || sa->retransmits != 0 || total_drops(*sa) != 0)
    state.SkipWithError("A ran dry, retransmitted, dropped or failed operations during the run");
}

// ---------------------------------------------------------------------------
// (c) SACK processing: A.on_receive of an ACK with 32 ranges over 4096 packets

// A window of 4096 packets A -> B of which B misses every 128th (32 holes,
// the first at the window's base), so B's ACK carries cum_ack = base and the
// maximum 32 ranges of 127 packets. The packet that starts the last range
// is delivered last: the ACK's trigger range then is the last range whole.
class SackScenario {
 public:
  static constexpr uint32_t kWindow = 4096;
  static constexpr uint32_t kHoleEvery = 128;
  static constexpr uint32_t kPayload = 1024;  // mtu 1120

  SackScenario() : w_(bench_params(kPayload)), src_(pattern(uint64_t{kWindow} * kPayload, 13)), dst_(src_.size()) {}

  bool setup() { return w_.establish(); }
  Pair& pair() { return w_; }
  const std::string& error() const { return w_.error; }

  // Sends one window; B receives all but the holes and emits the ACK, whose
  // bytes are returned in `ack`. A has not seen it yet.
  bool send_window(std::vector<uint8_t>& ack) {
    Pair& w = w_;
    w.now += millis(1);
    if (!w.b.post_recv(w.now, w.cb, kTag, dst_.data(), dst_.size()) ||
        !w.a.post_send(w.now, w.ca, kTag, src_.data(), src_.size()))
      return fail("post failed");
    holes_.clear();
    uint64_t base = UINT64_MAX;
    std::vector<uint8_t> last;
    size_t sent = 0;
    std::array<TxPacket, 64> tx;
    std::vector<uint8_t> d;
    while (sent < kWindow) {
      const size_t n = w.a.poll_transmit(w.now, tx);
      if (n == 0) return fail("A stopped sending before the window was out");
      for (size_t i = 0; i < n; ++i) {
        if (tx[i].payload_len == 0) continue;
        wire::Packet pk;
        gather(tx[i], d);
        if (wire::decode(d, pk) != wire::DecodeError::kOk) return fail("A sent an undecodable packet");
        if (base == UINT64_MAX) base = pk.h.psn;
        const uint64_t k = pk.h.psn - base;
        ++sent;
        if (k % kHoleEvery == 0)
          holes_.push_back(d);
        else if (k == kWindow - kHoleEvery + 1)
          last = d;  // start of the last range: delivered last
        else
          deliver(d);
      }
    }
    w.now += micros(10);
    deliver(last);
    std::array<TxPacket, 4> txb;
    const size_t m = w.b.poll_transmit(w.now, txb);
    if (m != 1) return fail("B did not emit exactly one ACK");
    gather(txb[0], ack);
    wire::Packet pk;
    if (wire::decode(ack, pk) != wire::DecodeError::kOk || pk.h.type != wire::Type::kAck ||
        pk.ack.nranges != wire::kMaxSackRanges || pk.ack.cum_ack != base)
      return fail("B's ACK does not carry 32 ranges from the window base");
    uint64_t covered = 0;
    for (uint16_t i = 0; i < pk.ack.nranges; ++i) covered += pk.ack.ranges[i].len;
    if (covered != kWindow - kWindow / kHoleEvery) return fail("B's ACK ranges do not cover every received packet");
    w.now += micros(10);
    return true;
  }

  // Delivers the holes; B's ACK then covers the window and A completes it.
  bool finish_window() {
    Pair& w = w_;
    w.now += micros(10);
    for (auto& h : holes_) deliver(h);
    w.now += micros(10);
    w.shuttle(w.b, w.a, kNodeB);
    std::array<Completion, 8> c;
    bool sent = false, received = false;
    for (size_t n = w.a.poll(c), i = 0; i < n; ++i) sent |= c[i].type == CompletionType::kSend && c[i].status.is_ok();
    for (size_t n = w.b.poll(c), i = 0; i < n; ++i)
      received |= c[i].type == CompletionType::kRecv && c[i].status.is_ok() && c[i].bytes == src_.size();
    if (!sent || !received || dst_ != src_) return fail("the window did not complete intact after the holes were filled");
    std::fill(dst_.begin(), dst_.end(), 0);
    return true;
  }

 private:
  void deliver(const std::vector<uint8_t>& d) { w_.b.on_receive(w_.now, d, kNodeA); }
  bool fail(const char* why) {
    w_.error = why;
    return false;
  }

  Pair w_;
  std::vector<uint8_t> src_, dst_;
  std::vector<std::vector<uint8_t>> holes_;
};

void BM_SackAckRepeat(benchmark::State& state) {
  SackScenario s;
  std::vector<uint8_t> ack;
  if (!s.setup() || !s.send_window(ack)) {
    state.SkipWithError(("setup failed: " + s.error()).c_str());
    return;
  }
  Pair& w = s.pair();
  const uint32_t mss = w.a.mss();
  // Untimed: the first copy acknowledges the 4064 ranged packets; a later one,
  // past the reordering window, declares the 32 holes lost. After that every
  // copy is a pure re-scan of ranges A already knows.
  w.a.on_receive(w.now, ack, kNodeB);
  const uint64_t after_first = w.a.stats(w.now, w.ca)->inflight.count();
  w.now += millis(1);
  w.a.on_receive(w.now, ack, kNodeB);
  auto st = w.a.stats(w.now, w.ca);
  if (after_first != uint64_t{32} * mss || !st || st->rack_losses != 32) {
    state.SkipWithError("A did not take the SACK ranges (inflight or RACK losses wrong)");
    return;
  }
  const uint64_t acks0 = st->acks_received;
  for (auto _ : state) w.a.on_receive(w.now, ack, kNodeB);
  st = w.a.stats(w.now, w.ca);
  if (!st || st->acks_received - acks0 != static_cast<uint64_t>(state.iterations()) || total_drops(*st) != 0)
    state.SkipWithError("A refused some of the ACKs");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetLabel("per ACK; 32 known ranges, 4096 outstanding");
  // The window must still complete once the holes arrive.
  if (!s.finish_window()) state.SkipWithError(s.error().c_str());
}

void BM_SackAckFirst(benchmark::State& state) {
  SackScenario s;
  if (!s.setup()) {
    state.SkipWithError(("setup failed: " + s.error()).c_str());
    return;
  }
  Pair& w = s.pair();
  const uint32_t mss = w.a.mss();
  std::vector<uint8_t> ack;
  bool ok = true;
  uint64_t checked = 0;
  for (auto _ : state) {
    state.PauseTiming();
    ok = s.send_window(ack);
    state.ResumeTiming();
    if (!ok) break;
    w.a.on_receive(w.now, ack, kNodeB);
    state.PauseTiming();
    // Untimed: the ACK must have acknowledged every ranged packet, and the
    // window must complete once the holes are delivered.
    if (checked++ == 0 && w.a.stats(w.now, w.ca)->inflight.count() != uint64_t{32} * mss) {
      w.error = "A did not take the SACK ranges";
      ok = false;
    }
    ok = ok && s.finish_window();
    state.ResumeTiming();
    if (!ok) break;
  }
  if (!ok) {
    state.SkipWithError(s.error().c_str());
    return;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetLabel("per ACK; 32 new ranges acking 4064 of 4096 outstanding (divide by 4064 for per packet)");
}

}  // namespace

BENCHMARK(BM_EngineReceive)->Arg(1024)->Arg(8876);
BENCHMARK(BM_EngineRoundTrip)->Arg(1024)->Arg(8876);
BENCHMARK(BM_EngineSend)->Arg(1024)->Arg(8876);
BENCHMARK(BM_SackAckRepeat)->Name("BM_SackAck/repeat");
// Each iteration needs a fresh 4096-packet window (~ms of untimed setup), so
// the count is fixed rather than derived from --benchmark_min_time.
BENCHMARK(BM_SackAckFirst)->Name("BM_SackAck/first")->Iterations(300);
