// tests/tools/weft_switch/frames.h — builds the Ethernet/IPv4/UDP/weft-v2
// frames the switch tests feed in, with correct checksums, so every test
// starts from a frame a real host could have sent.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "tools/weft-switch/frame.h"

namespace weft::sw::test {

struct Mac {
  uint8_t b[6];
};
inline Mac host_mac(int h) { return Mac{{0x02, 0, 0, 0, 0, static_cast<uint8_t>(h + 1)}}; }
inline constexpr Mac kBroadcast{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
inline uint32_t host_ip(int h) { return 0xc6120000u | static_cast<uint32_t>(h + 1); }  // 198.18.0.(h+1)

struct UdpSpec {
  Mac dst = host_mac(1), src = host_mac(0);
  uint32_t src_ip = host_ip(0), dst_ip = host_ip(1);
  uint8_t tos = 0x02;  // ECT(0)
  uint16_t sport = 40000, dport = 7000;
};

inline void put16(uint8_t* p, uint16_t v) { p[0] = static_cast<uint8_t>(v >> 8); p[1] = static_cast<uint8_t>(v); }
inline void put32(uint8_t* p, uint32_t v) { put16(p, static_cast<uint16_t>(v >> 16)); put16(p + 2, static_cast<uint16_t>(v)); }
inline void le16(uint8_t* p, uint16_t v) { p[0] = static_cast<uint8_t>(v); p[1] = static_cast<uint8_t>(v >> 8); }
inline uint16_t rdle16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }
inline uint32_t rdle32(const uint8_t* p) { return rdle16(p) | uint32_t{rdle16(p + 2)} << 16; }
inline uint64_t rdle64(const uint8_t* p) { return rdle32(p) | uint64_t{rdle32(p + 4)} << 32; }
inline uint16_t rdbe16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

// A UDP datagram with `data` as its payload and a correct UDP checksum.
inline std::vector<uint8_t> udp_frame(const UdpSpec& s, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> f(kEthHeader + 20 + 8 + data.size());
  std::memcpy(f.data(), s.dst.b, 6);
  std::memcpy(f.data() + 6, s.src.b, 6);
  put16(f.data() + 12, kEtherTypeIpv4);
  uint8_t* ip = f.data() + kEthHeader;
  ip[0] = 0x45;
  ip[1] = s.tos;
  put16(ip + 2, static_cast<uint16_t>(20 + 8 + data.size()));
  put16(ip + 6, 0x4000);  // DF
  ip[8] = 64;
  ip[9] = kIpProtoUdp;
  put32(ip + 12, s.src_ip);
  put32(ip + 16, s.dst_ip);
  put16(ip + 10, ipv4_header_checksum(ip, 20));
  uint8_t* udp = ip + 20;
  put16(udp, s.sport);
  put16(udp + 2, s.dport);
  put16(udp + 4, static_cast<uint16_t>(8 + data.size()));
  if (!data.empty()) std::memcpy(udp + 8, data.data(), data.size());
  // Pseudo-header sum in the field, then complete it: the same path the
  // switch uses for offloaded checksums, checked independently below.
  uint32_t sum = rdbe16(ip + 12) + rdbe16(ip + 14) + rdbe16(ip + 16) + rdbe16(ip + 18) + kIpProtoUdp + 8 + data.size();
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  put16(udp + 6, static_cast<uint16_t>(sum));
  FrameInfo info = parse_frame(f.data(), f.size());
  complete_l4_checksum(f.data(), info);
  return f;
}

struct WeftSpec {
  uint8_t version = 2;
  uint8_t type = kWeftTypeData;
  uint8_t hlen_words = 12;  // DATA: 96-byte header
  uint16_t payload_len = 1000;
  uint16_t entropy = 7;
  uint8_t net_flags = 0;
  uint8_t int_hops = 0;
};

// A weft v2 packet: header bytes 8.. hold a recognisable pattern, the
// payload bytes are i*7 & 0xff, and any INT records are 0xAB-filled.
inline std::vector<uint8_t> weft_datagram(const WeftSpec& w) {
  const size_t hlen = size_t{w.hlen_words} * 8;
  const size_t pay = (w.net_flags & kNetFlagTrimmed) ? 0 : w.payload_len;
  std::vector<uint8_t> d(hlen + pay + size_t{w.int_hops} * kIntRecordSize, 0xAB);
  for (size_t i = 8; i < hlen; ++i) d[i] = static_cast<uint8_t>(i);
  le16(d.data(), kWeftMagic);
  d[2] = w.version;
  d[3] = w.type;
  d[4] = 0;
  d[5] = w.hlen_words;
  le16(d.data() + 6, w.payload_len);
  le16(d.data() + 40, w.entropy);
  d[42] = w.net_flags;
  d[43] = w.int_hops;
  for (size_t i = 0; i < pay; ++i) d[hlen + i] = static_cast<uint8_t>(i * 7);
  return d;
}

inline std::vector<uint8_t> weft_frame(const WeftSpec& w, const UdpSpec& u = {}) { return udp_frame(u, weft_datagram(w)); }

}  // namespace weft::sw::test
