// sim/frame.cc — see frame.h.
#include "sim/frame.h"

#include <cstring>

#include "tools/weft-switch/frame.h"

namespace weft::sim {
namespace {

void mac(uint8_t* p, uint16_t h) {
  const uint8_t m[6] = {0x02, 0, 0, 0, static_cast<uint8_t>(h >> 8), static_cast<uint8_t>(h)};
  std::memcpy(p, m, 6);
}
void be16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void be32(uint8_t* p, uint32_t v) {
  be16(p, static_cast<uint16_t>(v >> 16));
  be16(p + 2, static_cast<uint16_t>(v));
}
uint32_t rd32(const uint8_t* p) { return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3]; }

}  // namespace

core::NetAddr host_addr(uint16_t h) {
  core::NetAddr a;
  a.family = kSimFamily;
  a.bytes[0] = static_cast<uint8_t>(h);
  a.bytes[1] = static_cast<uint8_t>(h >> 8);
  return a;
}

int addr_host(const core::NetAddr& a) {
  if (a.family != kSimFamily) return -1;
  return a.bytes[0] | a.bytes[1] << 8;
}

uint32_t host_ip(uint16_t h) { return 0xc6120000u | h; }  // 198.18.0.0/15, RFC 2544 benchmarking space

void build_frame(sw::PacketPool& pool, sw::Slot s, uint16_t src, const core::TxPacket& tx) {
  const int dst = addr_host(tx.peer);
  uint8_t* f = pool.data(s);
  const uint32_t dlen = tx.size();
  mac(f, static_cast<uint16_t>(dst));
  mac(f + 6, src);
  be16(f + 12, sw::kEtherTypeIpv4);
  uint8_t* ip = f + sw::kEthHeader;
  ip[0] = 0x45;
  ip[1] = tx.ecn & 3;
  be16(ip + 2, static_cast<uint16_t>(20 + 8 + dlen));
  be16(ip + 4, 0);
  be16(ip + 6, 0x4000);  // DF
  ip[8] = 64;
  ip[9] = sw::kIpProtoUdp;
  be16(ip + 10, 0);
  be32(ip + 12, host_ip(src));
  be32(ip + 16, host_ip(static_cast<uint16_t>(dst)));
  be16(ip + 10, sw::ipv4_header_checksum(ip, 20));
  uint8_t* udp = ip + 20;
  be16(udp, static_cast<uint16_t>(49152 + (tx.entropy & 0x3fff)));
  be16(udp + 2, kWeftPort);
  be16(udp + 4, static_cast<uint16_t>(8 + dlen));
  be16(udp + 6, 0);  // no UDP checksum (legal for IPv4); weft's CRC32C covers its bytes
  std::memcpy(udp + 8, tx.header, tx.header_len);
  if (tx.payload_len) std::memcpy(udp + 8 + tx.header_len, tx.payload, tx.payload_len);
  pool.meta(s).len = kFrameOverhead + dlen;
}

void build_announce(sw::PacketPool& pool, sw::Slot s, uint16_t src) {
  uint8_t* f = pool.data(s);
  std::memset(f, 0, 60);
  std::memset(f, 0xff, 6);
  mac(f + 6, src);
  be16(f + 12, 0x0806);  // ARP; the payload is never read
  pool.meta(s).len = 60;
}

Delivered open_frame(sw::PacketPool& pool, sw::Slot s, uint16_t self) {
  Delivered d;
  const uint8_t* f = pool.data(s);
  const uint32_t len = pool.meta(s).len;
  uint8_t me[6];
  mac(me, self);
  if (len < kFrameOverhead || std::memcmp(f, me, 6) != 0) return d;
  const sw::FrameInfo info = sw::parse_frame(f, len);
  if (!info.udp || info.dport != kWeftPort || info.ip_total < 28) return d;
  const uint32_t ip = rd32(f + sw::kEthHeader + 12);
  if ((ip & 0xffff0000u) != 0xc6120000u) return d;
  d.ok = true;
  d.src = static_cast<uint16_t>(ip & 0xffff);
  d.ce = info.ecn == sw::kEcnCe;
  d.datagram = {f + info.l4 + 8, static_cast<size_t>(info.ip_total - 20 - 8)};
  return d;
}

}  // namespace weft::sim
