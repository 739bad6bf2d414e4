// The whole switch on a manual clock: L2 learning and flooding, forwarding
// through a dumbbell's bottleneck, ECMP by entropy, leaf-spine routes.
#include "tools/weft-switch/switch_core.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "tools/weft_switch/frames.h"

namespace weft::sw {
namespace {

struct World {
  explicit World(Topology t, SwitchParams p = {}) : core(std::move(t), p, pool, Nanos(0)) {}
  PacketPool pool{8192, 2048};
  SwitchCore core;
  std::vector<TxItem> out;

  void send(uint16_t host, const std::vector<uint8_t>& f, Nanos now = Nanos(0)) {
    const Slot s = pool.alloc();
    std::memcpy(pool.data(s), f.data(), f.size());
    pool.meta(s).len = static_cast<uint32_t>(f.size());
    core.receive(now, host, s);
  }
  // Runs the switch until `until`, stepping 1 us; returns frames per host.
  std::map<uint16_t, std::vector<std::vector<uint8_t>>> run(Nanos until, Nanos from = Nanos(0)) {
    std::map<uint16_t, std::vector<std::vector<uint8_t>>> got;
    TxItem buf[64];
    for (Nanos t = from; t <= until; t += micros(1)) {
      size_t n;
      do {
        n = core.advance(t, buf, 64);
        for (size_t i = 0; i < n; ++i) {
          got[buf[i].host].emplace_back(pool.data(buf[i].slot), pool.data(buf[i].slot) + pool.meta(buf[i].slot).len);
          pool.free(buf[i].slot);
        }
      } while (n == 64);
    }
    return got;
  }
};

std::vector<uint8_t> from_to(int a, int b, uint16_t entropy = 7, bool broadcast = false) {
  test::UdpSpec u;
  u.src = test::host_mac(a);
  u.dst = broadcast ? test::kBroadcast : test::host_mac(b);
  u.src_ip = test::host_ip(a);
  u.dst_ip = test::host_ip(b);
  test::WeftSpec w;
  w.entropy = entropy;
  return test::weft_frame(w, u);
}

TEST(SwitchCore, FloodsUnknownAndBroadcastThenForwardsToTheLearntHost) {
  World w(Topology::star(3));
  w.send(0, from_to(0, 1, 7, /*broadcast=*/true));
  auto got = w.run(Nanos(0));
  EXPECT_EQ(got[1].size(), 1u);
  EXPECT_EQ(got[2].size(), 1u);
  EXPECT_EQ(got[0].size(), 0u) << "never back out of the ingress port";
  // h1 answers h0 (learnt), then h0 can reach h1 (learnt from the answer).
  w.send(1, from_to(1, 0));
  w.send(0, from_to(0, 1));
  got = w.run(Nanos(0));
  EXPECT_EQ(got[0].size(), 1u);
  EXPECT_EQ(got[1].size(), 1u);
  EXPECT_EQ(got[2].size(), 0u);
  EXPECT_EQ(w.core.ingress(0).flooded, 1u);
  EXPECT_EQ(w.pool.available(), w.pool.capacity());
}

TEST(SwitchCore, DumbbellBottleneckPacesAndQueuesAtTheLink) {
  SwitchParams p;
  p.host_port.rate = BitsPerSec(1'000'000'000);
  p.fabric_port = p.host_port;
  p.fabric_port.rate = BitsPerSec(100'000'000);
  p.fabric_port.kmin = Bytes(5000);
  p.fabric_port.kmax = Bytes(20000);
  World w(Topology::dumbbell(2, 1, 1), p);
  w.send(1, from_to(1, 0));  // teach h1's MAC
  w.run(micros(10));
  for (int i = 0; i < 40; ++i) w.send(0, from_to(0, 1));
  auto got = w.run(millis(1), micros(11));
  // 1138-byte frames at 100 Mb/s: ~91 us each; within 1 ms about 11 + burst.
  EXPECT_GE(got[1].size(), 10u);
  EXPECT_LE(got[1].size(), 15u);
  const auto& link = w.core.ports()[2];  // s0>s1.0
  EXPECT_EQ(link.name(), "s0>s1.0");
  EXPECT_GT(link.counters().marked, 0u);
  EXPECT_GE(link.counters().max_queue_bytes, 30u * 1138);
  got = w.run(millis(10), millis(1) + micros(1));
  EXPECT_EQ(link.counters().tx_pkts, 40u);
  EXPECT_EQ(w.core.ports()[1].counters().tx_pkts, 40u) << "all reach h1";
}

TEST(SwitchCore, ALateCallStillSpacesFramesAtTheBottleneckRate) {
  // 1 Gb/s host ports behind a 100 Mb/s link; INT on the link records each
  // frame's departure. One advance() 1 ms after ten frames arrived must give
  // the schedule a wire would have: departures 91.04 us apart, and the
  // downstream port never holding more than one frame.
  SwitchParams p;
  p.host_port.rate = BitsPerSec(1'000'000'000);
  p.fabric_port = p.host_port;
  p.fabric_port.rate = BitsPerSec(100'000'000);
  p.fabric_port.burst = Bytes(1138);
  p.fabric_port.int_stamp = true;
  World w(Topology::dumbbell(2, 1, 1), p);
  w.send(1, from_to(1, 0));
  w.run(Nanos(0));
  for (int i = 0; i < 10; ++i) w.send(0, from_to(0, 1), micros(1));
  TxItem buf[64];
  const size_t n = w.core.advance(micros(1) + millis(1), buf, 64);
  ASSERT_EQ(n, 10u);
  std::vector<uint64_t> stamps;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* f = w.pool.data(buf[i].slot);
    stamps.push_back(test::rdle64(f + 1138));
    w.pool.free(buf[i].slot);
  }
  EXPECT_EQ(stamps[0], 1000u);
  // Each departure waits for the previous frame plus its 24-byte record:
  // 1162 B at 100 Mb/s = 92.96 us.
  for (size_t i = 1; i < stamps.size(); ++i) EXPECT_EQ(stamps[i] - stamps[i - 1], 92960u) << i;
  EXPECT_LE(w.core.ports()[1].counters().max_queue_bytes, 1162u);
}

TEST(SwitchCore, EcmpIsStableForOneEntropyAndSpreadsOverMany) {
  World w(Topology::dumbbell(2, 1, 4));
  const auto f = from_to(0, 1, 1234);
  const FrameInfo one = parse_frame(f.data(), f.size());
  const uint32_t first = w.core.ecmp_index(0, one, 4);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(w.core.ecmp_index(0, one, 4), first);
  std::map<uint32_t, int> hist;
  for (uint16_t e = 0; e < 4000; ++e) {
    const auto g = from_to(0, 1, e);
    ++hist[w.core.ecmp_index(0, parse_frame(g.data(), g.size()), 4)];
  }
  ASSERT_EQ(hist.size(), 4u);
  for (auto [link, n] : hist) EXPECT_NEAR(n, 1000, 150) << "link " << link;
}

TEST(SwitchCore, EcmpSpreadsAFlowsPacketsByEntropyOverParallelLinks) {
  World w(Topology::dumbbell(2, 1, 4));
  w.send(1, from_to(1, 0));
  w.run(Nanos(0));
  for (uint16_t e = 0; e < 400; ++e) w.send(0, from_to(0, 1, e));
  w.run(millis(1));
  for (int l = 0; l < 4; ++l) {
    const auto& port = w.core.ports()[2 + 2 * l];  // s0>s1.l
    EXPECT_EQ(port.name(), "s0>s1." + std::to_string(l));
    EXPECT_NEAR(static_cast<double>(port.counters().tx_pkts), 100, 35) << port.name();
  }
  // The same entropy always takes the same link: 50 packets, one link.
  std::vector<uint64_t> before;
  for (int l = 0; l < 4; ++l) before.push_back(w.core.ports()[2 + 2 * l].counters().tx_pkts);
  for (int i = 0; i < 50; ++i) w.send(0, from_to(0, 1, 99));
  w.run(millis(2), millis(1) + micros(1));
  int links_used = 0;
  for (int l = 0; l < 4; ++l) links_used += w.core.ports()[2 + 2 * l].counters().tx_pkts != before[l];
  EXPECT_EQ(links_used, 1);
}

TEST(SwitchCore, LeafSpineRoutesAcrossEverySpineAndStaysLocalWithinALeaf) {
  const Topology t = Topology::leafspine(4, 2, 3, 1);
  EXPECT_EQ(t.nodes(), 5);
  EXPECT_EQ(t.host_node(0), 0);
  EXPECT_EQ(t.host_node(3), 1);
  EXPECT_EQ(t.next_hops(0, 1).size(), 3u) << "a leaf reaches the other leaf over each spine";
  EXPECT_EQ(t.next_hops(2, 1).size(), 1u) << "a spine has one way down";
  World w(t);
  w.send(3, from_to(3, 0));  // learning: these two are flooded
  w.send(1, from_to(1, 0));
  w.send(0, from_to(0, 3));
  w.run(Nanos(0));
  std::map<std::string, uint64_t> before;
  for (const auto& p : w.core.ports()) before[p.name()] = p.counters().tx_pkts;
  // 200 frames fit the receiver's 256 KiB port queue at once (rates here are unlimited).
  for (uint16_t e = 0; e < 200; ++e) w.send(0, from_to(0, 3, e));
  for (int i = 0; i < 10; ++i) w.send(0, from_to(0, 1));
  auto got = w.run(millis(2));
  EXPECT_EQ(got[3].size(), 200u);
  EXPECT_EQ(got[1].size(), 10u);
  uint64_t up = 0;
  for (const auto& p : w.core.ports())
    if (p.name().rfind("s0>", 0) == 0) {
      const uint64_t n = p.counters().tx_pkts - before[p.name()];
      EXPECT_GT(n, 40u) << p.name();
      up += n;
    }
  EXPECT_EQ(up, 200u) << "intra-leaf traffic never goes up";
}

TEST(SwitchCore, WeftBytesArriveIntactThroughMarkingAndInt) {
  SwitchParams p;
  p.fabric_port.int_stamp = true;
  p.host_port.int_stamp = true;
  World w(Topology::dumbbell(2, 1, 1), p);
  w.send(1, from_to(1, 0));
  w.run(Nanos(0));
  const auto f = from_to(0, 1);
  w.send(0, f);
  auto got = w.run(micros(5));
  ASSERT_EQ(got[1].size(), 1u);
  const auto& g = got[1][0];
  ASSERT_EQ(g.size(), f.size() + 2 * 24) << "stamped by the link and the host port";
  // Everything the end-to-end CRC covers (bytes 0..42 and 48.. of the weft
  // packet, payload included) is unchanged.
  for (size_t k = 0; k < 14; ++k) EXPECT_EQ(g[k], f[k]) << "Ethernet byte " << k;
  for (size_t k = 42; k < 42 + 42; ++k) EXPECT_EQ(g[k], f[k]) << k;
  for (size_t k = 42 + 48; k < f.size(); ++k) ASSERT_EQ(g[k], f[k]) << k;
  EXPECT_EQ(g[42 + 43], 2) << "int_hops";
}

}  // namespace
}  // namespace weft::sw
