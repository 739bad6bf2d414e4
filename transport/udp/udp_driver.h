// transport/udp/udp_driver.h — weft over Linux UDP.
//
// One listening socket receives everything; N more sockets, each bound to its
// own source port, send: the engine's entropy (path) picks the socket, so
// ECMP in the fabric hashes paths onto different links. Batched I/O with
// sendmmsg/recvmmsg, UDP GSO (UDP_SEGMENT) and GRO (UDP_GRO) where the kernel
// has them, ECN codepoints set per datagram (IP_TOS) and read (IP_RECVTOS).
#pragma once

#include <memory>
#include <string>

#include "transport/transport.h"

namespace weft::udp {

struct UdpParams {
  std::string bind_address = "127.0.0.1";
  uint16_t port = 0;            // 0: any free port
  uint16_t source_ports = 8;    // sockets used for spraying (>= ConnParams::paths)
  bool gso = true;              // use UDP_SEGMENT when the kernel has it
  bool gro = true;              // use UDP_GRO when the kernel has it
  uint32_t socket_buffer = 32u << 20;  // SO_SNDBUF / SO_RCVBUF wanted, bytes
  bool require_buffers = false; // fail (not just warn) if the kernel caps them
};

struct UdpInfo {
  bool gso = false, gro = false;
  int rcvbuf = 0, sndbuf = 0;  // what the kernel granted
  std::string warnings;        // e.g. "raise net.core.rmem_max"
};

class UdpDriver;
Result<std::unique_ptr<Driver>> open_driver(const UdpParams& params, UdpInfo* info = nullptr);

// Convenience: a Device on a UDP driver.
Result<std::unique_ptr<Device>> open_device(const UdpParams& udp, const DeviceParams& dev, UdpInfo* info = nullptr);

}  // namespace weft::udp
