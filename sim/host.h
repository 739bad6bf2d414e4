// sim/host.h — one simulated machine: a real core::Engine behind a NIC. The
// NIC's uplink serialises frames at its line rate with a small TX ring (the
// engine is only polled while the ring has room, so a sender can never beat
// its line rate and queues build in the switch, where they belong); its
// downlink is the cable from the switch port. Frames for another MAC
// (flooded unicast) or not weft's UDP port are refused, as a NIC's filter
// and the kernel would.
#pragma once

#include <cstdint>
#include <memory>

#include "sim/link.h"
#include "tools/weft-switch/packet_pool.h"
#include "transport/core/engine.h"

namespace weft::sim {

struct HostCounters {
  uint64_t rx_frames = 0, refused = 0, tx_frames = 0, no_slot = 0;
};

class Host {
 public:
  Host(uint16_t id, const weft::EngineParams& ep, uint64_t seed, BitsPerSec nic_rate, Nanos prop, Bytes tx_ring);

  uint16_t id() const { return id_; }
  core::Engine& engine() { return *engine_; }
  const core::Engine& engine() const { return *engine_; }
  Link& uplink() { return up_; }      // NIC -> switch
  Link& downlink() { return down_; }  // switch port -> NIC

  // Power-on broadcast so the switch learns this host's MAC.
  void announce(Nanos now, sw::PacketPool& pool);
  // Hands every frame that reached the NIC by `now` to the engine.
  void receive(Nanos now, sw::PacketPool& pool);
  // Moves packets from the engine into the TX ring while it has room.
  void transmit(Nanos now, sw::PacketPool& pool);
  // When this host next has something to do (engine timers, a paced packet
  // the ring can take, a frame arriving).
  Nanos next_deadline(Nanos now) const;
  const HostCounters& counters() const { return c_; }

 private:
  bool ring_full(Nanos now) const { return up_.backlog(now) >= ring_.count(); }

  uint16_t id_;
  std::unique_ptr<core::Engine> engine_;
  Link up_, down_;
  Bytes ring_;
  HostCounters c_;
};

}  // namespace weft::sim
