// One egress port on a manual clock: the marking ramp, the queue bound,
// trimming with priority, INT records and the line rate.
#include "tools/weft-switch/port.h"

#include <gtest/gtest.h>

#include <cmath>

#include "tools/weft-switch/frame.h"
#include "tools/weft_switch/frames.h"

namespace weft::sw {
namespace {

using test::rdle32;
using test::rdle64;

struct PortWorld {
  PacketPool pool{4096, 2048};
  Slot put(const std::vector<uint8_t>& f) {
    const Slot s = pool.alloc();
    EXPECT_NE(s, kNoSlot);
    std::memcpy(pool.data(s), f.data(), f.size());
    pool.meta(s).len = static_cast<uint32_t>(f.size());
    return s;
  }
  std::vector<uint8_t> take(Slot s) {
    std::vector<uint8_t> f(pool.data(s), pool.data(s) + pool.meta(s).len);
    pool.free(s);
    return f;
  }
};

// A plain ECT UDP frame of exactly `len` bytes.
std::vector<uint8_t> udp_of(size_t len, uint8_t tos = 0x02) {
  test::UdpSpec u;
  u.tos = tos;
  return test::udp_frame(u, std::vector<uint8_t>(len - 42, 0x5a));
}

TEST(Port, MarkProbabilityRampsFromKminToPmaxThenJumpsToOne) {
  PortWorld w;
  PortParams p;
  p.kmin = Bytes(10000);
  p.kmax = Bytes(30000);
  p.pmax = 0.4;
  p.rate = BitsPerSec(1'000'000'000);
  EgressPort port("p", p, w.pool, 1, Nanos(0));
  EXPECT_EQ(port.mark_probability(0), 0.0);
  EXPECT_EQ(port.mark_probability(10000), 0.0);
  EXPECT_DOUBLE_EQ(port.mark_probability(15000), 0.1);
  EXPECT_DOUBLE_EQ(port.mark_probability(20000), 0.2);
  EXPECT_NEAR(port.mark_probability(29999), 0.4, 1e-4);
  EXPECT_EQ(port.mark_probability(30000), 1.0);
  EXPECT_EQ(port.mark_probability(1 << 20), 1.0);
  p.ecn = false;
  EgressPort off("p", p, w.pool, 1, Nanos(0));
  EXPECT_EQ(off.mark_probability(1 << 20), 0.0);
  p.ecn = true;
  p.rate = BitsPerSec(0);
  EgressPort unlimited("p", p, w.pool, 1, Nanos(0));
  EXPECT_EQ(unlimited.mark_probability(1 << 20), 0.0) << "an unlimited port never congests";
}

// Holds the occupancy at `level` bytes (enqueue one, dequeue one) and
// returns the fraction of ECT frames that came out CE.
double marked_fraction_at(uint64_t level, int n) {
  PortWorld w;
  PortParams p;
  p.kmin = Bytes(10000);
  p.kmax = Bytes(30000);
  p.pmax = 0.4;
  p.rate = BitsPerSec(1'000'000'000);
  p.burst = Bytes(1 << 30);  // never waits: the test holds the occupancy by hand
  EgressPort port("p", p, w.pool, 42, Nanos(0));
  for (uint64_t q = 0; q < level; q += 1000) EXPECT_EQ(port.enqueue(Nanos(0), w.put(udp_of(1000, 0))), EgressPort::Verdict::kQueued);
  int ce = 0, ect = 0;
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(port.queue_bytes(), level);
    port.enqueue(Nanos(0), w.put(udp_of(1000)));
    auto f = w.take(port.dequeue(Nanos(0)));
    ect += (f[15] & 3) != 0;  // the warm-up frames are not ECT
    ce += (f[15] & 3) == 3;
  }
  return static_cast<double>(ce) / ect;
}

TEST(Port, MarkedFractionFollowsTheRamp) {
  // Frames enqueued at occupancy q are marked with p(q); after `level`
  // frames of warm-up every dequeued frame saw exactly `level`.
  EXPECT_EQ(marked_fraction_at(5000, 2000), 0.0);
  EXPECT_NEAR(marked_fraction_at(20000, 20000), 0.2, 0.02);
  EXPECT_EQ(marked_fraction_at(30000, 2000), 1.0);
  EXPECT_EQ(marked_fraction_at(40000, 2000), 1.0);
}

TEST(Port, NotEctFramesAreNeverMarked) {
  PortWorld w;
  PortParams p;
  p.kmin = Bytes(0);
  p.kmax = Bytes(1);
  p.rate = BitsPerSec(1'000'000'000);
  EgressPort port("p", p, w.pool, 1, Nanos(0));
  for (int i = 0; i < 10; ++i) port.enqueue(Nanos(0), w.put(udp_of(500, 0)));
  EXPECT_EQ(port.counters().marked, 0u);
}

TEST(Port, QueueIsBoundedInBytesAndDropsTheTail) {
  PortWorld w;
  PortParams p;
  p.queue_limit = Bytes(10000);
  p.ecn = false;
  EgressPort port("p", p, w.pool, 1, Nanos(0));
  std::vector<EgressPort::Verdict> v;
  for (int i = 0; i < 15; ++i) {
    auto f = udp_of(1000);
    f[50] = static_cast<uint8_t>(i);  // sequence number in the payload
    v.push_back(port.enqueue(Nanos(0), w.put(f)));
  }
  for (int i = 0; i < 10; ++i) EXPECT_EQ(v[i], EgressPort::Verdict::kQueued) << i;
  for (int i = 10; i < 15; ++i) EXPECT_EQ(v[i], EgressPort::Verdict::kDropped) << i;
  EXPECT_EQ(port.queue_bytes(), 10000u);
  EXPECT_EQ(port.counters().drop_tail, 5u);
  EXPECT_EQ(port.counters().max_queue_bytes, 10000u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(w.take(port.dequeue(Nanos(0)))[50], i) << "FIFO";
  EXPECT_EQ(port.dequeue(Nanos(0)), kNoSlot);
  EXPECT_EQ(w.pool.available(), w.pool.capacity()) << "dropped frames went back to the pool";
}

TEST(Port, FullQueueTrimsWeftDataAndServesTheHeaderFirst) {
  PortWorld w;
  PortParams p;
  p.queue_limit = Bytes(3000);
  p.trim = true;
  p.ecn = false;
  EgressPort port("p", p, w.pool, 1, Nanos(0));
  const auto data = test::weft_frame({});  // 14+20+8+96+1000 = 1138 bytes
  ASSERT_EQ(data.size(), 1138u);
  EXPECT_EQ(port.enqueue(Nanos(0), w.put(data)), EgressPort::Verdict::kQueued);
  EXPECT_EQ(port.enqueue(Nanos(0), w.put(data)), EgressPort::Verdict::kQueued);
  EXPECT_EQ(port.enqueue(Nanos(0), w.put(data)), EgressPort::Verdict::kTrimmed);
  // Only weft v2 DATA with payload is trimmed; the rest drops at the tail.
  EXPECT_EQ(port.enqueue(Nanos(0), w.put(udp_of(1138))), EgressPort::Verdict::kDropped);
  test::WeftSpec ack;
  ack.type = 2;
  ack.hlen_words = 9;
  ack.payload_len = 0;
  EXPECT_EQ(port.enqueue(Nanos(0), w.put(test::weft_frame(ack))), EgressPort::Verdict::kQueued) << "small enough to fit";
  EXPECT_EQ(port.counters().trimmed, 1u);
  EXPECT_EQ(port.counters().drop_tail, 1u);

  auto first = w.take(port.dequeue(Nanos(0)));
  EXPECT_EQ(first.size(), 14u + 20 + 8 + 96) << "the trimmed header jumps the queue";
  FrameInfo i = parse_frame(first.data(), first.size());
  EXPECT_TRUE(i.weft && i.trimmed());
  EXPECT_EQ(w.take(port.dequeue(Nanos(0))).size(), 1138u);
}

TEST(Port, TrimmedHeadersHaveTheirOwnBound) {
  PortWorld w;
  PortParams p;
  p.queue_limit = Bytes(1138);
  p.prio_limit = Bytes(2 * 138);
  p.trim = true;
  EgressPort port("p", p, w.pool, 1, Nanos(0));
  const auto data = test::weft_frame({});
  port.enqueue(Nanos(0), w.put(data));
  EXPECT_EQ(port.enqueue(Nanos(0), w.put(data)), EgressPort::Verdict::kTrimmed);
  EXPECT_EQ(port.enqueue(Nanos(0), w.put(data)), EgressPort::Verdict::kTrimmed);
  EXPECT_EQ(port.enqueue(Nanos(0), w.put(data)), EgressPort::Verdict::kDropped);
  EXPECT_EQ(port.counters().drop_prio, 1u);
  EXPECT_EQ(port.counters().dropped(), 1u);
}

TEST(Port, WithoutTrimmingAFullQueueDropsWeftDataToo) {
  PortWorld w;
  PortParams p;
  p.queue_limit = Bytes(1138);
  EgressPort port("p", p, w.pool, 1, Nanos(0));
  port.enqueue(Nanos(0), w.put(test::weft_frame({})));
  EXPECT_EQ(port.enqueue(Nanos(0), w.put(test::weft_frame({}))), EgressPort::Verdict::kDropped);
  EXPECT_EQ(port.counters().trimmed, 0u);
}

TEST(Port, IntRecordCarriesDequeueTimeTxBytesQueueAndRate) {
  PortWorld w;
  PortParams p;
  p.rate = BitsPerSec(1'000'000'000);
  p.burst = Bytes(1138);  // exactly one frame: the second waits its serialization time
  p.int_stamp = true;
  EgressPort port("p", p, w.pool, 1, Nanos(0));
  const Nanos t1(1000);
  for (int i = 0; i < 3; ++i) port.enqueue(t1, w.put(test::weft_frame({})));
  auto a = w.take(port.dequeue(t1));
  ASSERT_EQ(a.size(), 1138u + 24);
  const uint8_t* r = a.data() + 1138;
  EXPECT_EQ(rdle64(r), 1000u);
  EXPECT_EQ(rdle64(r + 8), 0u) << "bytes sent before this packet";
  EXPECT_EQ(rdle32(r + 16), 2u * 1138) << "bytes still queued behind it";
  EXPECT_EQ(rdle32(r + 20), 1000u);
  EXPECT_EQ(parse_frame(a.data(), a.size()).int_hops, 1);
  EXPECT_EQ(port.counters().tx_bytes, 1162u) << "the record is transmitted too";

  // The first frame overdrew the one-frame bucket by its 24-byte record, so
  // the second leaves once 1138+24 bytes have been earned back.
  const Nanos early = t1 + transmit_time(Bytes(1138), p.rate);
  EXPECT_EQ(port.dequeue(early), kNoSlot);
  const Nanos t2 = port.ready_at(early);
  EXPECT_EQ(t2, t1 + Nanos(9296));  // (1162 + 0) bytes at 1 Gb/s, rounded up
  auto b = w.take(port.dequeue(t2));
  EXPECT_EQ(rdle64(b.data() + 1138), static_cast<uint64_t>(t2.count()));
  EXPECT_EQ(rdle64(b.data() + 1138 + 8), 1162u);
  EXPECT_EQ(rdle32(b.data() + 1138 + 16), 1138u);
}

TEST(Port, IntOnlyOnWeftDataAndOnlyWhenEnabled) {
  PortWorld w;
  PortParams p;
  p.int_stamp = true;
  EgressPort port("p", p, w.pool, 1, Nanos(0));
  test::WeftSpec ack;
  ack.type = 2;
  ack.hlen_words = 9;
  ack.payload_len = 0;
  test::WeftSpec full;
  full.int_hops = 8;
  for (const auto& f : {test::weft_frame(ack), udp_of(600), test::weft_frame(full)}) {
    port.enqueue(Nanos(0), w.put(f));
    EXPECT_EQ(w.take(port.dequeue(Nanos(0))), f);
  }
  p.int_stamp = false;
  EgressPort off("q", p, w.pool, 1, Nanos(0));
  const auto d = test::weft_frame({});
  off.enqueue(Nanos(0), w.put(d));
  EXPECT_EQ(w.take(off.dequeue(Nanos(0))), d);
  EXPECT_EQ(port.counters().int_stamped + off.counters().int_stamped, 0u);
}

TEST(Port, LineRateHoldsOverTime) {
  PortWorld w;
  PortParams p;
  p.rate = BitsPerSec(100'000'000);  // 12.5 MB/s
  p.queue_limit = Bytes(4 << 20);
  p.ecn = false;
  EgressPort port("p", p, w.pool, 1, Nanos(0));
  const auto f = udp_of(1250);
  for (int i = 0; i < 2000; ++i) port.enqueue(Nanos(0), w.put(f));
  // Poll every 7 us (not a divisor of the 100 us frame time) for 100 ms.
  uint64_t sent = 0;
  for (Nanos t(0); t <= millis(100); t += micros(7))
    for (Slot s; (s = port.dequeue(t)) != kNoSlot;) {
      sent += w.pool.meta(s).len;
      w.pool.free(s);
    }
  const uint64_t burst = auto_burst(p.rate, 2048).count();
  EXPECT_GE(sent, 1'250'000u + burst - 1250);
  EXPECT_LE(sent, 1'250'000u + burst + 1250);
}

TEST(Port, LatePollsLoseNoCapacityWhileBacklogged) {
  // The I/O loop may come back 1 ms late, 25x the bucket depth at this rate:
  // a backlogged link still sends exactly rate x time.
  PortWorld w;
  PortParams p;
  p.rate = BitsPerSec(100'000'000);
  p.burst = Bytes(4096);
  p.queue_limit = Bytes(4 << 20);
  EgressPort port("p", p, w.pool, 1, Nanos(0));
  for (int i = 0; i < 2000; ++i) port.enqueue(Nanos(0), w.put(udp_of(1250)));
  uint64_t sent = 0;
  for (Nanos t(0); t <= millis(100); t += millis(1))
    for (Slot s; (s = port.dequeue(t)) != kNoSlot;) {
      sent += w.pool.meta(s).len;
      w.pool.free(s);
    }
  EXPECT_GE(sent, 1'250'000u + 4096 - 1250);
  EXPECT_LE(sent, 1'250'000u + 4096 + 1250);
}

TEST(Port, AnIdlePortSavesAtMostOneBurst) {
  PortWorld w;
  PortParams p;
  p.rate = BitsPerSec(100'000'000);
  p.burst = Bytes(4096);
  EgressPort port("p", p, w.pool, 1, Nanos(0));
  // Idle for a second, then 20 frames at once: only the burst leaves now.
  for (int i = 0; i < 20; ++i) port.enqueue(seconds(1), w.put(udp_of(1000)));
  int now = 0;
  for (Slot s; (s = port.dequeue(seconds(1))) != kNoSlot; ++now) w.pool.free(s);
  EXPECT_EQ(now, 4);
  // The fifth waits for the 904 missing bytes: 72.32 us at 100 Mb/s.
  EXPECT_EQ(port.ready_at(seconds(1)), seconds(1) + Nanos(72320));
}

TEST(Port, RandomLossDropsAboutTheConfiguredFraction) {
  PortWorld w;
  PortParams p;
  p.loss = 0.1;
  EgressPort port("p", p, w.pool, 7, Nanos(0));
  for (int i = 0; i < 20000; ++i) {
    port.enqueue(Nanos(0), w.put(udp_of(100)));
    if (Slot s = port.dequeue(Nanos(0)); s != kNoSlot) w.pool.free(s);
  }
  EXPECT_NEAR(port.counters().drop_loss / 20000.0, 0.1, 0.01);
}

}  // namespace
}  // namespace weft::sw
