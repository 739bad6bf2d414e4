// sim/link.h — one direction of a point-to-point cable: frames are serialised
// one after another at `rate` (store-and-forward: a frame is whole at the far
// end `prop` after its last bit left), in FIFO order. Host NICs use one
// towards the switch (their line rate: a sender can never beat it, and the
// NIC's small TX ring is `backlog()`), and each switch port one towards its
// host. Frames are pool slots; ownership travels with them.
#pragma once

#include <cstdint>
#include <deque>

#include "tools/weft-switch/packet_pool.h"
#include "weft/units.h"

namespace weft::sim {

class Link {
 public:
  Link(BitsPerSec rate, Nanos prop) : rate_(rate), prop_(prop) {}

  // Time to put `len` bytes on the wire at this link's rate.
  Nanos serialise(uint32_t len) const;
  // Queues a frame of `len` bytes handed over at `now`.
  void send(Nanos now, sw::Slot s, uint32_t len);
  // Bytes handed over but not yet fully serialised at `now` (the TX ring).
  uint64_t backlog(Nanos now) const;
  // When the ring next drains below `bytes`: the earliest time a full NIC
  // can take another frame.
  Nanos drains_below(Nanos now, uint64_t bytes) const;
  // The next frame whose last bit reached the far end by `now`, or kNoSlot.
  sw::Slot pop_arrived(Nanos now);
  // Arrival time of the next frame; Nanos::max() when nothing is in flight.
  Nanos next_arrival() const { return q_.empty() ? Nanos::max() : q_.front().arrive; }
  uint64_t frames_sent() const { return frames_; }
  // Frames still owned by the link (handed back to the pool by the owner).
  std::deque<sw::Slot> drain();

 private:
  struct InFlight {
    Nanos arrive;
    sw::Slot slot;
  };
  BitsPerSec rate_;
  Nanos prop_;
  Nanos busy_until_{0};
  std::deque<InFlight> q_;
  uint64_t frames_ = 0;
};

}  // namespace weft::sim
