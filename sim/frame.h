// sim/frame.h — what a simulated NIC puts on the wire: one engine TxPacket
// wrapped in Ethernet/IPv4/UDP (the IP ECN bits from TxPacket::ecn), and the
// reverse at the receiving NIC (CE read from the IP header, the UDP payload
// handed to the engine). Host h has MAC 02:00:00:00:hh:hh, IP 198.18.hh.hh
// and, for its engine, the NetAddr {family 0xFE, bytes[0..1] = h}.
#pragma once

#include <cstdint>
#include <span>

#include "tools/weft-switch/packet_pool.h"
#include "transport/core/netaddr.h"

namespace weft::sim {

inline constexpr uint8_t kSimFamily = 0xFE;
inline constexpr uint16_t kWeftPort = 7000;  // UDP destination port of every host
// Ethernet + IPv4 + UDP in front of the datagram.
inline constexpr uint32_t kFrameOverhead = 14 + 20 + 8;

core::NetAddr host_addr(uint16_t h);
// -1 when `a` is not a simulated host's address.
int addr_host(const core::NetAddr& a);
uint32_t host_ip(uint16_t h);

// Writes the frame for `tx` (sent by host `src`) into pool slot `s` and sets
// its length. The source UDP port carries the entropy, as the UDP driver does.
void build_frame(sw::PacketPool& pool, sw::Slot s, uint16_t src, const core::TxPacket& tx);
// A broadcast the host sends at power-on (as a gratuitous ARP would) so the
// switch learns its MAC before the first unicast; never a weft packet.
void build_announce(sw::PacketPool& pool, sw::Slot s, uint16_t src);

struct Delivered {
  bool ok = false;       // a weft datagram for this host
  uint16_t src = 0;      // sending host
  bool ce = false;       // IP ECN = CE
  std::span<const uint8_t> datagram;
};
// What the NIC of host `self` passes up for the frame in slot `s`; frames to
// another MAC (flooded unicast) or that are not UDP to kWeftPort are refused.
Delivered open_frame(sw::PacketPool& pool, sw::Slot s, uint16_t self);

}  // namespace weft::sim
