// transport/core/netaddr.h — what the engine knows of an address: opaque
// bytes a driver filled in. The UDP driver stores IPv4/IPv6 + port; the
// loopback driver stores a node number. The engine only compares and copies.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>

#include "transport/core/wire.h"

namespace weft::core {

struct NetAddr {
  std::array<uint8_t, 16> bytes{};
  uint16_t port = 0;
  uint8_t family = 0;
  bool operator==(const NetAddr&) const = default;
};

struct NetAddrHash {
  size_t operator()(const NetAddr& a) const {
    uint64_t h = 1469598103934665603ull;
    for (uint8_t b : a.bytes) h = (h ^ b) * 1099511628211ull;
    h = (h ^ a.port) * 1099511628211ull;
    return static_cast<size_t>(h ^ a.family);
  }
};

// ECN codepoints in the IP header's low two TOS bits.
inline constexpr uint8_t kEcnNotEct = 0, kEcnEct1 = 1, kEcnEct0 = 2, kEcnCe = 3;

// One packet the engine wants sent. The header lives here; the payload is a
// pointer into user memory (valid until the engine is next called), so the
// driver can gather both with one iovec pair and never copy.
struct TxPacket {
  NetAddr peer;
  uint16_t entropy = 0;  // path: the UDP driver maps it to a source port
  uint8_t ecn = kEcnNotEct;
  uint16_t header_len = 0;
  const uint8_t* payload = nullptr;
  uint32_t payload_len = 0;
  alignas(8) uint8_t header[wire::kMaxHeaderSize];

  uint32_t size() const { return header_len + payload_len; }
};

}  // namespace weft::core
