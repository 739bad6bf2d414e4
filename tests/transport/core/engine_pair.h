// A two-engine world on a manual clock: every packet either engine sends is
// decoded (for assertions), offered to a filter that may drop, delay,
// duplicate or corrupt it, then delivered after `delay`. Time jumps to the
// next delivery or engine deadline, so seconds of protocol time run in
// microseconds and every run is identical.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <queue>
#include <vector>

#include "common/clock.h"
#include "transport/core/engine.h"
#include "transport/core/wire.h"
#include "tests/support/pattern.h"

namespace weft::core::testing {

inline EngineParams test_params() {
  EngineParams p;
  p.job_token = 0x5EED;
  p.mtu = 1200;  // small packets: more packets per test, more to go wrong
  p.window_packets = 1024;
  p.min_rto = millis(2);
  p.initial_rto = millis(5);
  p.max_rto = millis(200);
  p.keepalive_interval = millis(50);
  p.dead_peer_timeout = millis(500);
  p.handshake_timeout = millis(500);
  p.cc_window = Bytes(1u << 20);
  return p;
}

inline NetAddr node(uint8_t n) {
  NetAddr a;
  a.family = 0xFF;
  a.bytes[0] = n;
  return a;
}

// What a filter decides for one packet.
struct Fate {
  bool drop = false;
  Nanos extra_delay{0};
  int copies = 1;
  bool corrupt = false;  // flip one payload (or header) bit
  bool trim = false;     // DATA only: cut the payload as a full switch queue does
  uint8_t int_hops = 0;  // DATA only: append this many INT records, as telemetry switches do
};

// The INT record a test "switch" at hop `h` stamps on the packet sent at `at`.
inline wire::IntRecord test_int_record(uint8_t h, Nanos at) {
  return {.timestamp_ns = static_cast<uint64_t>(at.count()) + h, .tx_bytes = 1000000u * (h + 1),
          .qlen_bytes = 3000u * h, .rate_mbps = 100000};
}

struct Sent {
  int from;  // 0 = a, 1 = b
  Nanos at;
  wire::Packet pkt;  // payload span is not valid after the send
};

class EnginePair {
 public:
  explicit EnginePair(EngineParams pa = test_params(), EngineParams pb = test_params())
      : clock(seconds(1)), a(pa, 11), b(pb, 22) {
    a.set_peer_namer([](const NetAddr& x) { return "node" + std::to_string(x.bytes[0]); });
    b.set_peer_namer([](const NetAddr& x) { return "node" + std::to_string(x.bytes[0]); });
  }

  Engine& side(int i) { return i == 0 ? a : b; }
  Nanos now() const { return clock.now(); }

  // Connects a -> b and runs until both ends are up.
  void establish(ConnParams cp = {}) {
    auto r = a.connect(now(), node(1), cp);
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    ca = *r;
    ASSERT_TRUE(run_until([&] { return connected_a && cb != 0; }, millis(100)));
  }

  // Injects raw bytes into one side as if they arrived from `from_node`.
  void inject(int to, std::span<const uint8_t> bytes, uint8_t from_node) {
    side(to).on_receive(now(), bytes, node(from_node), false);
  }

  bool run_until(const std::function<bool()>& done, Nanos limit = seconds(10)) {
    const Nanos end = now() + limit;
    for (uint64_t steps = 0; steps < 5'000'000; ++steps) {
      deliver_due();
      for (int i = 0; i < 2; ++i) {
        side(i).on_timer(now());
        transmit(i);
      }
      harvest();
      if (done()) return true;
      Nanos t = std::min({next_delivery(), a.next_deadline(), b.next_deadline()});
      if (t <= now()) t = now() + Nanos(1000);
      if (t > end) return done();
      clock.set(t);
    }
    ADD_FAILURE() << "simulation did not settle in 5M steps";
    return false;
  }

  // Completions seen so far, per side (connection events included).
  std::vector<Completion> done[2];
  ConnId ca = 0, cb = 0;
  bool connected_a = false;
  std::vector<Sent> log;
  std::function<Fate(const Sent&)> filter;
  Nanos delay = micros(10);
  ManualClock clock;
  Engine a, b;

  size_t count_done(int s, CompletionType t) const {
    size_t n = 0;
    for (const auto& c : done[s]) n += c.type == t ? 1 : 0;
    return n;
  }
  const Completion* find_op(int s, OpId id) const {
    for (const auto& c : done[s])
      if (c.op == id && c.type != CompletionType::kAccepted && c.type != CompletionType::kConnected) return &c;
    return nullptr;
  }
  size_t data_sent(int from, bool retx_only) const {
    size_t n = 0;
    for (const auto& s : log)
      if (s.from == from && s.pkt.h.type == wire::Type::kData && (!retx_only || (s.pkt.h.flags & wire::flag::kRetx))) ++n;
    return n;
  }

 private:
  struct Flight {
    Nanos at;
    uint64_t seq;
    int to;
    std::vector<uint8_t> bytes;
    bool operator>(const Flight& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };

  void transmit(int from) {
    std::array<TxPacket, 64> tx;
    for (;;) {
      const size_t n = side(from).poll_transmit(now(), tx);
      for (size_t i = 0; i < n; ++i) {
        std::vector<uint8_t> bytes(tx[i].size());
        std::memcpy(bytes.data(), tx[i].header, tx[i].header_len);
        if (tx[i].payload_len) std::memcpy(bytes.data() + tx[i].header_len, tx[i].payload, tx[i].payload_len);
        Sent s{from, now(), {}};
        EXPECT_EQ(wire::decode(bytes, s.pkt), wire::DecodeError::kOk) << "engine emitted an undecodable packet";
        log.push_back(s);
        Fate f = filter ? filter(log.back()) : Fate{};
        if (f.drop) continue;
        if (f.corrupt) bytes[bytes.size() - 1] ^= 0x40;
        if (f.trim && s.pkt.h.type == wire::Type::kData && s.pkt.h.payload_len > 0) {
          bytes.resize(size_t{bytes[5]} * 8);  // the header survives, the payload does not
          bytes[42] |= wire::net_flag::kTrimmed;
        }
        if (f.int_hops > 0 && s.pkt.h.type == wire::Type::kData) {
          for (uint8_t h = 0; h < f.int_hops; ++h) {
            const wire::IntRecord r = test_int_record(h, now());
            uint8_t rec[wire::kIntHopSize];
            std::memcpy(rec, &r.timestamp_ns, 8);
            std::memcpy(rec + 8, &r.tx_bytes, 8);
            std::memcpy(rec + 16, &r.qlen_bytes, 4);
            std::memcpy(rec + 20, &r.rate_mbps, 4);
            bytes.insert(bytes.end(), rec, rec + wire::kIntHopSize);
          }
          bytes[43] = f.int_hops;
        }
        for (int k = 0; k < f.copies; ++k)
          flights_.push(Flight{now() + delay + f.extra_delay + Nanos(k * 1000), seq_++, 1 - from, bytes});
      }
      if (n < tx.size()) break;
    }
  }
  void deliver_due() {
    while (!flights_.empty() && flights_.top().at <= now()) {
      Flight f = flights_.top();
      flights_.pop();
      side(f.to).on_receive(now(), f.bytes, node(static_cast<uint8_t>(1 - f.to)), false);
    }
  }
  void harvest() {
    std::array<Completion, 32> out;
    for (int i = 0; i < 2; ++i) {
      size_t n;
      while ((n = side(i).poll(out)) > 0)
        for (size_t k = 0; k < n; ++k) {
          if (i == 0 && out[k].type == CompletionType::kConnected) connected_a = true;
          if (i == 1 && out[k].type == CompletionType::kAccepted) cb = out[k].conn;
          done[i].push_back(out[k]);
        }
    }
  }
  Nanos next_delivery() const { return flights_.empty() ? Nanos::max() : flights_.top().at; }

  std::priority_queue<Flight, std::vector<Flight>, std::greater<>> flights_;
  uint64_t seq_ = 0;
};

using ::weft::testing::pattern;

}  // namespace weft::core::testing
