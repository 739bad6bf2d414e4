// Parsing and rewriting frames: every rewrite leaves IPv4/UDP valid and the
// weft bytes outside net_flags/int_hops/INT untouched.
#include "tools/weft-switch/frame.h"

#include <gtest/gtest.h>

#include "tools/weft_switch/frames.h"

namespace weft::sw {
namespace {

using test::rdle16;
using test::rdle32;
using test::rdle64;
using test::rdbe16;

// Written independently of frame.cc: RFC 1071 straight from the text.
uint16_t ones_sum(const uint8_t* p, size_t n, uint32_t s = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) s += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (n & 1) s += static_cast<uint32_t>(p[n - 1] << 8);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(s);
}
bool ip_ok(const std::vector<uint8_t>& f) { return ones_sum(f.data() + 14, 20) == 0xffff; }
bool udp_ok(const std::vector<uint8_t>& f) {
  const uint8_t* ip = f.data() + 14;
  const uint16_t ulen = rdbe16(ip + 24);
  if (rdbe16(ip + 26) == 0) return true;  // "no checksum" is valid for IPv4
  uint32_t ph = ones_sum(ip + 12, 8) + 17u + ulen;
  return ones_sum(ip + 20, ulen, ph) == 0xffff;
}
size_t ip_total(const std::vector<uint8_t>& f) { return rdbe16(f.data() + 16); }
size_t udp_len(const std::vector<uint8_t>& f) { return rdbe16(f.data() + 38); }

TEST(Frame, ParsesWeftV2DataHeaderFields) {
  test::WeftSpec w;
  w.entropy = 0x1234;
  auto f = test::weft_frame(w);
  FrameInfo i = parse_frame(f.data(), f.size());
  EXPECT_TRUE(i.ipv4 && i.udp && i.weft);
  EXPECT_EQ(i.weft_type, kWeftTypeData);
  EXPECT_EQ(i.hlen_bytes, 96);
  EXPECT_EQ(i.payload_len, 1000);
  EXPECT_EQ(i.entropy, 0x1234);
  EXPECT_EQ(i.ecn, 2);
  EXPECT_TRUE(i.trimmable());
  EXPECT_TRUE(ip_ok(f));
  EXPECT_TRUE(udp_ok(f));
}

TEST(Frame, OtherVersionsAndInconsistentLengthsArePlainUdp) {
  test::WeftSpec v1;
  v1.version = 1;
  auto f = test::weft_frame(v1);
  FrameInfo i = parse_frame(f.data(), f.size());
  EXPECT_TRUE(i.udp);
  EXPECT_FALSE(i.weft);

  auto g = test::udp_frame({}, [] {
    auto d = test::weft_datagram({});
    d.pop_back();  // one byte short of hlen + payload_len
    return d;
  }());
  EXPECT_FALSE(parse_frame(g.data(), g.size()).weft);

  test::WeftSpec hops;
  hops.int_hops = 9;  // more than the 8 allowed
  auto h = test::weft_frame(hops);
  EXPECT_FALSE(parse_frame(h.data(), h.size()).weft);
}

TEST(Frame, NonIpv4IsNeitherIpNorUdp) {
  std::vector<uint8_t> arp(42, 0);
  arp[12] = 0x08;
  arp[13] = 0x06;
  FrameInfo i = parse_frame(arp.data(), arp.size());
  EXPECT_FALSE(i.ipv4);
  EXPECT_FALSE(i.ect());
}

TEST(Frame, MarkCeSetsBothEcnBitsAndKeepsBothChecksumsValid) {
  auto f = test::weft_frame({});
  FrameInfo i = parse_frame(f.data(), f.size());
  mark_ce(f.data(), i);
  EXPECT_EQ(f[15] & 3, 3);
  EXPECT_EQ(parse_frame(f.data(), f.size()).ecn, kEcnCe);
  EXPECT_TRUE(ip_ok(f));
  EXPECT_TRUE(udp_ok(f));  // TOS is not in the UDP pseudo-header
}

TEST(Frame, MarkCeLeavesNotEctAlone) {
  test::UdpSpec u;
  u.tos = 0;
  auto f = test::weft_frame({}, u);
  auto before = f;
  FrameInfo i = parse_frame(f.data(), f.size());
  mark_ce(f.data(), i);
  EXPECT_EQ(f, before);
}

TEST(Frame, TrimCutsPayloadSetsTrimmedAndFixesLengths) {
  auto f = test::weft_frame({});
  auto orig = f;
  FrameInfo i = parse_frame(f.data(), f.size());
  const size_t n = trim_payload(f.data(), i);
  f.resize(n);
  EXPECT_EQ(n, 14u + 20 + 8 + 96);
  EXPECT_EQ(ip_total(f), 20u + 8 + 96);
  EXPECT_EQ(udp_len(f), 8u + 96);
  EXPECT_TRUE(ip_ok(f));
  EXPECT_TRUE(udp_ok(f));
  const uint8_t* w = f.data() + 42;
  EXPECT_EQ(w[42], kNetFlagTrimmed);
  EXPECT_EQ(rdle16(w + 6), 1000) << "payload_len keeps the length as sent";
  // Every other header byte is as the sender wrote it (its CRC still holds).
  for (size_t k = 0; k < 96; ++k) {
    if (k == 42) continue;
    EXPECT_EQ(w[k], orig[42 + k]) << "header byte " << k;
  }
  FrameInfo j = parse_frame(f.data(), f.size());
  EXPECT_TRUE(j.weft);
  EXPECT_TRUE(j.trimmed());
  EXPECT_FALSE(j.trimmable());
}

TEST(Frame, TrimKeepsIntRecordsRecordedUpstream) {
  test::WeftSpec w;
  w.int_hops = 2;
  auto f = test::weft_frame(w);
  FrameInfo i = parse_frame(f.data(), f.size());
  ASSERT_TRUE(i.weft);
  f.resize(trim_payload(f.data(), i));
  EXPECT_EQ(udp_len(f), 8u + 96 + 2 * 24);
  for (size_t k = 0; k < 48; ++k) EXPECT_EQ(f[42 + 96 + k], 0xAB);
  FrameInfo j = parse_frame(f.data(), f.size());
  EXPECT_TRUE(j.weft);
  EXPECT_EQ(j.int_hops, 2);
}

TEST(Frame, TrimRefusesControlPacketsAndEmptyPayloads) {
  test::WeftSpec ack;
  ack.type = 2;
  ack.hlen_words = 9;
  ack.payload_len = 0;
  auto f = test::weft_frame(ack);
  EXPECT_FALSE(parse_frame(f.data(), f.size()).trimmable());
  test::WeftSpec empty;
  empty.payload_len = 0;
  auto g = test::weft_frame(empty);
  EXPECT_FALSE(parse_frame(g.data(), g.size()).trimmable());
}

TEST(Frame, AppendIntWritesLittleEndianRecordAndGrowsLengths) {
  auto f = test::weft_frame({});
  const size_t before = f.size();
  f.resize(before + 64);
  FrameInfo i = parse_frame(f.data(), before);
  const IntRecord rec{0x0102030405060708ull, 0x1122334455667788ull, 0xA0B0C0D0u, 100000u};
  const size_t n = append_int(f.data(), f.size(), i, rec);
  ASSERT_EQ(n, before + 24);
  f.resize(n);
  EXPECT_EQ(ip_total(f), 20u + 8 + 96 + 1000 + 24);
  EXPECT_EQ(udp_len(f), 8u + 96 + 1000 + 24);
  EXPECT_TRUE(ip_ok(f));
  EXPECT_TRUE(udp_ok(f));
  const uint8_t* r = f.data() + before;
  EXPECT_EQ(rdle64(r), rec.timestamp_ns);
  EXPECT_EQ(rdle64(r + 8), rec.tx_bytes);
  EXPECT_EQ(rdle32(r + 16), rec.qlen_bytes);
  EXPECT_EQ(rdle32(r + 20), rec.rate_mbps);
  EXPECT_EQ(f[42 + 43], 1) << "int_hops";
  FrameInfo j = parse_frame(f.data(), f.size());
  EXPECT_TRUE(j.weft);
  EXPECT_EQ(j.int_hops, 1);
  // The payload is untouched.
  for (size_t k = 0; k < 1000; ++k) ASSERT_EQ(f[42 + 96 + k], static_cast<uint8_t>(k * 7));
}

TEST(Frame, AppendIntStopsAtEightHopsAndAtTheSlotEnd) {
  test::WeftSpec w;
  w.int_hops = 8;
  auto f = test::weft_frame(w);
  const size_t len = f.size();
  f.resize(len + 64);
  FrameInfo i = parse_frame(f.data(), len);
  EXPECT_EQ(append_int(f.data(), f.size(), i, {}), 0u);

  auto g = test::weft_frame({});
  FrameInfo k = parse_frame(g.data(), g.size());
  EXPECT_EQ(append_int(g.data(), g.size() + 23, k, {}), 0u) << "23 bytes of room is not enough";
}

TEST(Frame, AppendIntAfterTrimGivesTheDocumentedLength) {
  auto f = test::weft_frame({});
  f.resize(f.size() + 64);
  FrameInfo i = parse_frame(f.data(), f.size() - 64);
  size_t n = trim_payload(f.data(), i);
  n = append_int(f.data(), f.size(), i, {});
  f.resize(n);
  // Datagram = hlen*8 + (TRIMMED ? 0 : payload_len) + int_hops*24.
  EXPECT_EQ(udp_len(f) - 8, 96u + 24);
  EXPECT_TRUE(parse_frame(f.data(), f.size()).weft);
  EXPECT_TRUE(ip_ok(f));
}

TEST(Frame, CompletesAnOffloadedUdpChecksum) {
  auto f = test::weft_frame({});
  ASSERT_TRUE(udp_ok(f));
  const uint16_t good = rdbe16(f.data() + 40);
  // What a sender with checksum offload hands over: the pseudo-header sum.
  const uint8_t* ip = f.data() + 14;
  uint32_t ph = ones_sum(ip + 12, 8) + 17u + udp_len(f);
  while (ph >> 16) ph = (ph & 0xffff) + (ph >> 16);
  f[40] = static_cast<uint8_t>(ph >> 8);
  f[41] = static_cast<uint8_t>(ph);
  EXPECT_FALSE(udp_ok(f));
  complete_l4_checksum(f.data(), parse_frame(f.data(), f.size()));
  EXPECT_EQ(rdbe16(f.data() + 40), good);
  EXPECT_TRUE(l4_checksum_ok(f.data(), parse_frame(f.data(), f.size())));
}

TEST(Frame, CompletedChecksumsVerifyForEveryLengthAndAlignment) {
  // The switch's summing is word-at-a-time; the reference here is not.
  uint32_t x = 12345;
  for (size_t len = 0; len < 80; ++len) {
    std::vector<uint8_t> data(len);
    for (auto& b : data) b = static_cast<uint8_t>((x = x * 1103515245 + 12345) >> 16);
    auto f = test::udp_frame({}, data);  // completed by complete_l4_checksum
    EXPECT_TRUE(udp_ok(f)) << "payload length " << len;
    EXPECT_TRUE(l4_checksum_ok(f.data(), parse_frame(f.data(), f.size()))) << len;
  }
}

TEST(Frame, Ipv4HeaderChecksumMatchesAKnownHeader) {
  // The worked example from Wikipedia's "IPv4 header checksum": B861.
  const uint8_t h[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                         0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  EXPECT_EQ(ipv4_header_checksum(h, 20), 0xb861);
}

}  // namespace
}  // namespace weft::sw
