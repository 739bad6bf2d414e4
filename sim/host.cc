// sim/host.cc — see host.h.
#include "sim/host.h"

#include <algorithm>
#include <array>

#include "sim/frame.h"

namespace weft::sim {

Host::Host(uint16_t id, const weft::EngineParams& ep, uint64_t seed, BitsPerSec nic_rate, Nanos prop, Bytes tx_ring)
    : id_(id), engine_(std::make_unique<core::Engine>(ep, seed)), up_(nic_rate, prop), down_(nic_rate, prop), ring_(tx_ring) {
  engine_->set_peer_namer([](const core::NetAddr& a) { return "h" + std::to_string(addr_host(a)); });
}

void Host::announce(Nanos now, sw::PacketPool& pool) {
  const sw::Slot s = pool.alloc();
  if (s == sw::kNoSlot) return;
  build_announce(pool, s, id_);
  up_.send(now, s, pool.meta(s).len);
}

void Host::receive(Nanos now, sw::PacketPool& pool) {
  for (sw::Slot s; (s = down_.pop_arrived(now)) != sw::kNoSlot; pool.free(s)) {
    const Delivered d = open_frame(pool, s, id_);
    if (!d.ok) {
      ++c_.refused;
      continue;
    }
    ++c_.rx_frames;
    engine_->on_receive(now, d.datagram, host_addr(d.src), d.ce);
  }
}

void Host::transmit(Nanos now, sw::PacketPool& pool) {
  std::array<core::TxPacket, 8> tx;
  while (!ring_full(now)) {
    // Never take more from the engine than the pool can hold: a packet
    // polled is a packet the engine believes sent.
    const size_t room = std::min<size_t>(tx.size(), pool.available() / 2);
    if (room == 0) {
      ++c_.no_slot;
      return;
    }
    // One at a time while the ring is nearly full, so it overshoots by at
    // most a batch of small packets.
    const size_t want = up_.backlog(now) + 2 * engine_->mss() > ring_.count() ? 1 : room;
    const size_t n = engine_->poll_transmit(now, std::span(tx.data(), want));
    for (size_t i = 0; i < n; ++i) {
      const sw::Slot s = pool.alloc();
      build_frame(pool, s, id_, tx[i]);
      up_.send(now, s, pool.meta(s).len);
      ++c_.tx_frames;
    }
    if (n < want) return;
  }
}

Nanos Host::next_deadline(Nanos now) const {
  Nanos t = std::min(up_.next_arrival(), down_.next_arrival());
  Nanos e = engine_->next_deadline();
  // A full ring holds the engine back until it drains, whatever it wants.
  if (ring_full(now)) e = std::max(e, up_.drains_below(now, ring_.count()));
  return std::min(t, e);
}

}  // namespace weft::sim
