// tools/weft-switch/frame.h — the bytes a switch reads and rewrites in an
// Ethernet frame: IPv4 (ECN bits, lengths, header checksum), UDP (length,
// checksum) and weft's wire-format-v2 fields that are VARIANT in the network
// (net_flags, int_hops, the INT hop records after the payload).
//
// Pure functions over caller-owned buffers: no allocation, no I/O. Every
// rewrite keeps the frame valid end to end:
//   - the IPv4 header checksum is recomputed whenever a header byte changes;
//   - the UDP checksum is set to 0 ("not computed", legal for IPv4, RFC 768)
//     whenever the datagram changes length, because weft's own CRC32C covers
//     its bytes and bytes 42..47 (what a switch writes) are excluded from it;
//   - an ECN mark touches only the IP header (TOS is not in the UDP
//     pseudo-header), so it keeps the UDP checksum.
#pragma once

#include <cstddef>
#include <cstdint>

namespace weft::sw {

inline constexpr size_t kEthHeader = 14;
inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint8_t kIpProtoUdp = 17;
inline constexpr uint8_t kIpProtoTcp = 6;

// weft wire format v2 (docs/wire-format.md); little-endian.
inline constexpr uint16_t kWeftMagic = 0x4657;  // bytes 57 46
inline constexpr uint8_t kWeftVersion = 2;
inline constexpr size_t kWeftCommonHeader = 48;
inline constexpr uint8_t kWeftTypeData = 1;
inline constexpr size_t kWeftOffType = 3;
inline constexpr size_t kWeftOffHlen = 5;
inline constexpr size_t kWeftOffPayloadLen = 6;
inline constexpr size_t kWeftOffEntropy = 40;
inline constexpr size_t kWeftOffNetFlags = 42;
inline constexpr size_t kWeftOffIntHops = 43;
inline constexpr uint8_t kNetFlagTrimmed = 0x01;
inline constexpr size_t kIntRecordSize = 24;
inline constexpr uint8_t kMaxIntHops = 8;

// ECN codepoints in the low two bits of the IPv4 TOS byte (RFC 3168).
inline constexpr uint8_t kEcnNotEct = 0;
inline constexpr uint8_t kEcnCe = 3;

// What a switch needs to know about a frame; offsets are from the frame start.
struct FrameInfo {
  bool ipv4 = false;
  bool udp = false;
  bool weft = false;  // magic, version 2 and self-consistent lengths
  uint8_t ip_proto = 0;
  uint8_t ecn = 0;
  uint16_t l4 = 0;          // offset of the L4 header
  uint16_t ip_total = 0;    // IPv4 total length (frame may carry padding past it)
  uint32_t src_ip = 0, dst_ip = 0;  // host order
  uint16_t sport = 0, dport = 0;
  // weft only:
  uint8_t weft_type = 0;
  uint8_t net_flags = 0;
  uint8_t int_hops = 0;
  uint16_t hlen_bytes = 0;
  uint16_t payload_len = 0;
  uint16_t entropy = 0;

  uint16_t weft_off() const { return static_cast<uint16_t>(l4 + 8); }
  bool trimmed() const { return net_flags & kNetFlagTrimmed; }
  bool ect() const { return ipv4 && ecn != kEcnNotEct; }
  // A DATA packet that still has payload a switch could cut.
  bool trimmable() const { return weft && weft_type == kWeftTypeData && payload_len > 0 && !trimmed(); }
};

// One INT hop record as stamped at an egress port (24 bytes on the wire).
struct IntRecord {
  uint64_t timestamp_ns = 0;  // switch monotonic clock at dequeue
  uint64_t tx_bytes = 0;      // bytes the port transmitted before this packet
  uint32_t qlen_bytes = 0;    // bytes still queued at the port at dequeue
  uint32_t rate_mbps = 0;     // port line rate
};

FrameInfo parse_frame(const uint8_t* f, size_t len);

// RFC 1071 checksum of an IPv4 header (ihl*4 bytes), with its checksum field
// taken as zero. Returns the value to store (network order in the header).
uint16_t ipv4_header_checksum(const uint8_t* ip, size_t ihl_bytes);
// True when the header's stored checksum verifies.
bool ipv4_header_checksum_ok(const uint8_t* ip);

// Sets CE on an ECT packet and fixes the header checksum. No-op otherwise.
void mark_ce(uint8_t* f, FrameInfo& info);

// Cuts the payload of a trimmable weft DATA packet in place, keeps any INT
// records (moved up behind the header), sets TRIMMED, fixes the IP/UDP
// lengths and checksums. Returns the new frame length.
size_t trim_payload(uint8_t* f, FrameInfo& info);

// Appends one INT record after the datagram's last byte (dropping any
// Ethernet padding), increments int_hops and fixes lengths and checksums.
// Requires info.weft && int_hops < 8 && room for 24 more bytes in `cap`.
// Returns the new frame length, or 0 (frame untouched) if it would not fit.
size_t append_int(uint8_t* f, size_t cap, FrameInfo& info, const IntRecord& rec);

// Completes a TCP/UDP checksum left partial by a sender's checksum offload
// (the field holds the pseudo-header sum; TP_STATUS_CSUMNOTREADY on receive).
void complete_l4_checksum(uint8_t* f, const FrameInfo& info);
// Verifies the L4 checksum of a TCP/UDP packet (UDP checksum 0 verifies).
bool l4_checksum_ok(const uint8_t* f, const FrameInfo& info);

}  // namespace weft::sw
