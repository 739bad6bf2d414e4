// tools/weft-switch/frame.cc — see frame.h.
#include "tools/weft-switch/frame.h"

#include <bit>
#include <cstring>

namespace weft::sw {
namespace {

uint16_t rd_be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t rd_be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}
void wr_be16(uint8_t* p, uint16_t v) { p[0] = static_cast<uint8_t>(v >> 8); p[1] = static_cast<uint8_t>(v); }
uint16_t rd_le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }
void wr_le32(uint8_t* p, uint32_t v) { for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i)); }
void wr_le64(uint8_t* p, uint64_t v) { for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i)); }

// One's-complement sum of 16-bit big-endian words (odd byte padded with 0),
// folded to 16 bits. The sum is byte-order independent (RFC 1071 §2(B)):
// add native 32-bit halves of 8-byte loads, fold, swap once at the end.
// This runs on every offloaded frame, so it matters: ~8 bytes per add.
uint32_t sum16(const uint8_t* p, size_t n, uint32_t acc) {
  uint64_t s = 0;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    s += (w & 0xffffffffu) + (w >> 32);
  }
  for (; n >= 2; p += 2, n -= 2) {
    uint16_t w;
    std::memcpy(&w, p, 2);
    s += w;
  }
  if (n) {
    uint16_t w = 0;
    std::memcpy(&w, p, 1);  // the byte at the lower address, zero after it
    s += w;
  }
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  if constexpr (std::endian::native == std::endian::little) s = ((s >> 8) | (s << 8)) & 0xffff;
  s += acc;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint32_t>(s);
}

uint16_t fold(uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(s);
}

void set_ip_total(uint8_t* f, FrameInfo& info, size_t total) {
  uint8_t* ip = f + kEthHeader;
  info.ip_total = static_cast<uint16_t>(total);
  wr_be16(ip + 2, info.ip_total);
  const size_t ihl = (ip[0] & 0x0f) * 4u;
  wr_be16(ip + 10, ipv4_header_checksum(ip, ihl));
  uint8_t* udp = f + info.l4;
  wr_be16(udp + 4, static_cast<uint16_t>(total - ihl));
  wr_be16(udp + 6, 0);  // see frame.h: weft's CRC protects the datagram
}

}  // namespace

FrameInfo parse_frame(const uint8_t* f, size_t len) {
  FrameInfo info;
  if (len < kEthHeader + 20 || rd_be16(f + 12) != kEtherTypeIpv4) return info;
  const uint8_t* ip = f + kEthHeader;
  const size_t ihl = (ip[0] & 0x0f) * 4u;
  const size_t total = rd_be16(ip + 2);
  if ((ip[0] >> 4) != 4 || ihl < 20 || total < ihl || kEthHeader + total > len) return info;
  info.ipv4 = true;
  info.ecn = ip[1] & 3;
  info.ip_total = static_cast<uint16_t>(total);
  info.ip_proto = ip[9];
  info.src_ip = rd_be32(ip + 12);
  info.dst_ip = rd_be32(ip + 16);
  info.l4 = static_cast<uint16_t>(kEthHeader + ihl);
  // A non-first fragment has no L4 header; the first one has a truncated datagram.
  const bool fragment = (rd_be16(ip + 6) & 0x3fff) != 0;
  if (info.ip_proto != kIpProtoUdp || fragment || total < ihl + 8) return info;
  const uint8_t* udp = f + info.l4;
  const size_t udp_len = rd_be16(udp + 4);
  if (udp_len < 8 || udp_len > total - ihl) return info;
  info.udp = true;
  info.sport = rd_be16(udp);
  info.dport = rd_be16(udp + 2);

  const uint8_t* w = udp + 8;
  const size_t dgram = udp_len - 8;
  if (dgram < kWeftCommonHeader || rd_le16(w) != kWeftMagic || w[2] != kWeftVersion) return info;
  const size_t hlen = size_t{w[kWeftOffHlen]} * 8;
  const uint16_t payload_len = rd_le16(w + kWeftOffPayloadLen);
  const uint8_t net_flags = w[kWeftOffNetFlags];
  const uint8_t hops = w[kWeftOffIntHops];
  if (hlen < kWeftCommonHeader || hops > kMaxIntHops) return info;
  const size_t expect = hlen + ((net_flags & kNetFlagTrimmed) ? 0 : payload_len) + hops * kIntRecordSize;
  // A weft packet whose lengths disagree is forwarded as plain UDP: the switch
  // never rewrites bytes it does not understand.
  if (expect != dgram) return info;
  info.weft = true;
  info.weft_type = w[kWeftOffType];
  info.hlen_bytes = static_cast<uint16_t>(hlen);
  info.payload_len = payload_len;
  info.net_flags = net_flags;
  info.int_hops = hops;
  info.entropy = rd_le16(w + kWeftOffEntropy);
  return info;
}

uint16_t ipv4_header_checksum(const uint8_t* ip, size_t ihl_bytes) {
  uint32_t s = sum16(ip, 10, 0);
  s = sum16(ip + 12, ihl_bytes - 12, s);
  return static_cast<uint16_t>(~fold(s));
}

bool ipv4_header_checksum_ok(const uint8_t* ip) {
  const size_t ihl = (ip[0] & 0x0f) * 4u;
  return fold(sum16(ip, ihl, 0)) == 0xffff;
}

void mark_ce(uint8_t* f, FrameInfo& info) {
  if (!info.ect() || info.ecn == kEcnCe) return;
  uint8_t* ip = f + kEthHeader;
  ip[1] = static_cast<uint8_t>(ip[1] | kEcnCe);
  info.ecn = kEcnCe;
  wr_be16(ip + 10, ipv4_header_checksum(ip, (ip[0] & 0x0f) * 4u));
}

size_t trim_payload(uint8_t* f, FrameInfo& info) {
  const size_t ihl = info.l4 - kEthHeader;
  if (!info.trimmable()) return kEthHeader + info.ip_total;
  uint8_t* w = f + info.weft_off();
  const size_t int_bytes = size_t{info.int_hops} * kIntRecordSize;
  // INT records recorded upstream describe hops this header still crossed.
  std::memmove(w + info.hlen_bytes, w + info.hlen_bytes + info.payload_len, int_bytes);
  w[kWeftOffNetFlags] = static_cast<uint8_t>(w[kWeftOffNetFlags] | kNetFlagTrimmed);
  info.net_flags = w[kWeftOffNetFlags];
  set_ip_total(f, info, ihl + 8 + info.hlen_bytes + int_bytes);
  return kEthHeader + info.ip_total;
}

size_t append_int(uint8_t* f, size_t cap, FrameInfo& info, const IntRecord& rec) {
  const size_t end = kEthHeader + info.ip_total;
  if (!info.weft || info.int_hops >= kMaxIntHops || end + kIntRecordSize > cap ||
      info.ip_total + kIntRecordSize > 0xffff)
    return 0;
  uint8_t* r = f + end;
  wr_le64(r, rec.timestamp_ns);
  wr_le64(r + 8, rec.tx_bytes);
  wr_le32(r + 16, rec.qlen_bytes);
  wr_le32(r + 20, rec.rate_mbps);
  uint8_t* w = f + info.weft_off();
  w[kWeftOffIntHops] = ++info.int_hops;
  set_ip_total(f, info, info.ip_total + kIntRecordSize);
  return end + kIntRecordSize;
}

namespace {
uint32_t pseudo_header_sum(const uint8_t* f, const FrameInfo& info, size_t l4_len) {
  const uint8_t* ip = f + kEthHeader;
  uint32_t s = sum16(ip + 12, 8, 0);
  s += info.ip_proto;
  s += static_cast<uint32_t>(l4_len);
  return fold(s);
}
size_t csum_field(const FrameInfo& info) { return info.ip_proto == kIpProtoUdp ? 6 : 16; }
bool has_l4_checksum(const FrameInfo& info, size_t l4_len) {
  return info.ipv4 && ((info.ip_proto == kIpProtoUdp && l4_len >= 8) || (info.ip_proto == kIpProtoTcp && l4_len >= 20));
}
}  // namespace

void complete_l4_checksum(uint8_t* f, const FrameInfo& info) {
  const size_t l4_len = kEthHeader + info.ip_total - info.l4;
  if (!has_l4_checksum(info, l4_len)) return;
  // The offloading sender left the (uncomplemented) pseudo-header sum in the
  // field; summing the segment over it completes the checksum (what the
  // kernel's skb_checksum_help does).
  uint8_t* l4 = f + info.l4;
  uint16_t c = static_cast<uint16_t>(~fold(sum16(l4, l4_len, 0)));
  if (info.ip_proto == kIpProtoUdp && c == 0) c = 0xffff;
  wr_be16(l4 + csum_field(info), c);
}

bool l4_checksum_ok(const uint8_t* f, const FrameInfo& info) {
  const size_t l4_len = kEthHeader + info.ip_total - info.l4;
  if (!has_l4_checksum(info, l4_len)) return false;
  const uint8_t* l4 = f + info.l4;
  if (info.ip_proto == kIpProtoUdp && rd_be16(l4 + 6) == 0) return true;
  return fold(sum16(l4, l4_len, pseudo_header_sum(f, info, l4_len))) == 0xffff;
}

}  // namespace weft::sw
