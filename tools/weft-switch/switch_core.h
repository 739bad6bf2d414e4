// tools/weft-switch/switch_core.h — the sans-I/O switch: frames in from host
// ports at `now`, frames out to host ports when their egress lines let them
// go. The I/O layer (afpacket_io) and the unit tests drive the same object;
// tests with a manual clock.
//
// Forwarding is L2 with learning, so ARP and everything else just works:
// the source MAC of a frame from host h teaches "MAC -> h"; a frame to a
// learnt MAC goes to that host; broadcast, multicast and unknown unicast are
// copied to every other host. Between switch nodes a frame follows the
// topology's shortest paths; where several ports are equal, ECMP picks one
// by a hash of the flow, which for a weft v2 packet is (src IP, dst IP,
// entropy): the sender chooses the path, as on a real fabric.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "tools/weft-switch/frame.h"
#include "tools/weft-switch/packet_pool.h"
#include "tools/weft-switch/port.h"
#include "tools/weft-switch/topology.h"
#include "weft/units.h"

namespace weft::sw {

struct SwitchParams {
  PortParams host_port;    // egress towards hosts
  PortParams fabric_port;  // switch-to-switch links
  uint64_t seed = 1;       // ECMP salt and the ports' random streams
};

struct IngressCounters {
  uint64_t rx_pkts = 0;
  uint64_t rx_bytes = 0;
  uint64_t flooded = 0;  // broadcast / multicast / unknown unicast frames
};

struct TxItem {
  uint16_t host;
  Slot slot;
};

class SwitchCore {
 public:
  SwitchCore(Topology topo, const SwitchParams& params, PacketPool& pool, Nanos now);

  // A frame from host `host` (pool slot, meta.len set). Takes ownership.
  void receive(Nanos now, uint16_t host, Slot s);
  // Runs the fabric up to `now`, event by event: each frame leaves its port
  // at its own departure time, so after a late call a backlogged link's
  // frames reach the next switch spaced at its line rate (not as one burst
  // at `now`) and INT records carry their departure times. Frames leaving
  // towards hosts are written to out[0..n) (ownership with them); returns
  // n <= cap. When it returns cap, call again: more may be ready. Call it
  // with a frame's arrival time before receive() of that frame.
  size_t advance(Nanos now, TxItem* out, size_t cap);
  // Earliest time advance() has something to do; Nanos::max() if idle.
  Nanos next_deadline(Nanos now);

  // Which of `n` equal-cost ports a frame takes at switch `node`.
  uint32_t ecmp_index(uint16_t node, const FrameInfo& info, uint32_t n) const;

  const Topology& topology() const { return topo_; }
  const std::vector<EgressPort>& ports() const { return ports_; }
  const IngressCounters& ingress(uint16_t host) const { return ingress_[host]; }
  uint64_t drop_nobuf() const { return drop_nobuf_; }

 private:
  void forward(Nanos now, uint16_t node, Slot s);
  size_t step(Nanos t, TxItem* out, size_t cap);  // everything ready at exactly t
  int find_host(const uint8_t* mac) const;

  Topology topo_;
  PacketPool& pool_;
  uint64_t salt_;
  std::vector<EgressPort> ports_;
  std::vector<IngressCounters> ingress_;
  std::vector<std::array<uint8_t, 6>> mac_;
  std::vector<bool> mac_known_;
  uint64_t drop_nobuf_ = 0;
  Nanos clock_{0};  // how far advance() has run the fabric
};

}  // namespace weft::sw
