// tools/weft-switch/port.h — one egress port of the switch: what a switch ASIC
// does between "this frame leaves through port P" and the wire.
//
//   enqueue:  random loss (a lossy link)                 -> drop_loss
//             ECN: RED-like ramp on the occupancy seen     -> marked (ECT only)
//               p(q) = 0                      q <= Kmin
//                    = Pmax (q-Kmin)/(Kmax-Kmin)  Kmin < q < Kmax
//                    = 1                      q >= Kmax
//               (DCQCN's marking, Zhu et al. SIGCOMM'15 §3; q in bytes)
//             queue full: a weft DATA packet with payload is trimmed to its
//               header and queued at high priority (NDP, Handley et al.
//               SIGCOMM'17; UEC trimming)                 -> trimmed
//             otherwise drop-tail                        -> drop_tail
//   dequeue:  high-priority queue first, then the normal queue, each FIFO;
//             a frame leaves only when the token bucket (line rate) covers it;
//             INT: a hop record is appended to weft DATA packets (HPCC, Li et
//             al. SIGCOMM'19: timestamp, tx bytes, queue length, link rate).
//
// Queue occupancy counts frame bytes (L2 header included, no preamble/FCS),
// which is also what the token bucket charges.
#pragma once

#include <cstdint>
#include <string>

#include "tools/weft-switch/packet_pool.h"
#include "tools/weft-switch/token_bucket.h"
#include "weft/units.h"

namespace weft::sw {

struct PortParams {
  BitsPerSec rate{0};                 // line rate; 0 = unlimited
  Bytes burst{0};                     // token-bucket depth; 0 = auto (see auto_burst)
  Bytes queue_limit{256 * 1024};      // normal queue bound; a shallow-buffer switch port
  Bytes prio_limit{64 * 1024};        // bound of the trimmed-header queue
  bool ecn = true;                    // mark ECT packets (never on an unlimited port)
  Bytes kmin{20 * 1024};              // marking starts above this occupancy
  Bytes kmax{200 * 1024};             // every ECT packet is marked from here on
  double pmax = 0.2;                  // marking probability just below Kmax
  bool int_stamp = false;             // append INT hop records to weft DATA
  bool trim = false;                  // trim weft DATA instead of dropping when full
  double loss = 0.0;                  // probability a frame is lost on this link
};

// 50 us of line rate, at least two full slots: enough for the I/O loop's
// wake-up jitter without letting the port burst much past its rate.
Bytes auto_burst(BitsPerSec rate, uint32_t slot_size);

struct PortCounters {
  uint64_t enqueued = 0;
  uint64_t tx_pkts = 0;
  uint64_t tx_bytes = 0;
  uint64_t marked = 0;
  uint64_t trimmed = 0;
  uint64_t drop_tail = 0;    // normal queue full (and not trimmed)
  uint64_t drop_prio = 0;    // trimmed header found the priority queue full
  uint64_t drop_loss = 0;    // random link loss
  uint64_t int_stamped = 0;
  uint64_t max_queue_bytes = 0;
  uint64_t dropped() const { return drop_tail + drop_prio + drop_loss; }
};

// xorshift64*: a fast, seedable generator; tests reproduce runs exactly.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed ? seed : 0x9e3779b97f4a7c15ull) {}
  uint64_t next() {
    s_ ^= s_ >> 12;
    s_ ^= s_ << 25;
    s_ ^= s_ >> 27;
    return s_ * 2685821657736338717ull;
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0,1)

 private:
  uint64_t s_;
};

class EgressPort {
 public:
  enum class Verdict { kQueued, kTrimmed, kDropped };

  EgressPort(std::string name, const PortParams& p, PacketPool& pool, uint64_t seed, Nanos now);

  // Takes ownership of `s`: queues it (possibly trimmed) or frees it.
  Verdict enqueue(Nanos now, Slot s);
  // The next frame to transmit if the line lets it start at `now`, else
  // kNoSlot. INT is stamped here; the caller owns the returned slot.
  Slot dequeue(Nanos now);
  // When dequeue will next return a frame; Nanos::max() when empty.
  Nanos ready_at(Nanos now);

  bool empty() const { return normal_.empty() && prio_.empty(); }
  uint64_t queue_bytes() const { return normal_bytes_ + prio_bytes_; }
  double mark_probability(uint64_t queue_bytes) const;
  const PortCounters& counters() const { return c_; }
  const PortParams& params() const { return p_; }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  PortParams p_;
  PacketPool& pool_;
  Rng rng_;
  TokenBucket bucket_;
  SlotRing normal_, prio_;
  uint64_t normal_bytes_ = 0, prio_bytes_ = 0;
  uint32_t rate_mbps_ = 0;
  PortCounters c_;
};

}  // namespace weft::sw
