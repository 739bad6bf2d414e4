// congestion/cc.h — the congestion-control seam (DESIGN.md §4).
//
// The transport measures (RTT, loss, ECN, telemetry) and paces; an algorithm
// only turns events into a congestion window and a pacing rate. Events are
// structs so adding a signal changes one struct, not every algorithm.
// Algorithms are sans-I/O and single-threaded: `now` arrives in every event.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "weft/units.h"

namespace weft::cc {

// One in-band network telemetry record, as a switch that stamps INT writes it.
struct IntHop {
  Bytes queue_len;
  Bytes tx_bytes;      // bytes transmitted by the egress port (wraps)
  Nanos timestamp;
  BitsPerSec link_rate;
};

struct SendEvent {
  Nanos now;
  Bytes bytes;
  Bytes inflight;  // after this send
  uint16_t path;
  bool retransmit;
};

struct AckSample {
  Nanos now;
  Bytes acked_bytes;      // newly acknowledged (cumulative or selective)
  Bytes ecn_bytes;        // of those, how many arrived CE-marked
  Nanos rtt;              // sample from the echoed timestamp; zero if none
  Nanos min_rtt;          // the transport's windowed minimum
  Bytes inflight;         // after this ACK
  uint16_t path;
  std::span<const IntHop> int_hops;  // empty unless the path stamps INT
};

struct LossEvent {
  Nanos now;
  Bytes lost_bytes;
  Bytes inflight;
  uint16_t path;
};

struct TimeoutEvent {
  Nanos now;
  uint32_t consecutive;  // 1 for the first RTO since the last ACK
};

// Receiver-driven schemes (EQDS-style): the receiver granted `credit` bytes.
struct CreditEvent {
  Nanos now;
  Bytes credit;
};

// A switch cut the payload of a packet it could not queue (NDP/UEC trimming).
struct TrimEvent {
  Nanos now;
  Bytes trimmed_bytes;
  uint16_t path;
};

class CongestionControl {
 public:
  virtual ~CongestionControl() = default;
  virtual std::string_view name() const = 0;
  virtual void on_send(const SendEvent&) {}
  virtual void on_ack(const AckSample&) = 0;
  virtual void on_loss(const LossEvent&) = 0;
  virtual void on_timeout(const TimeoutEvent&) = 0;
  virtual void on_credit(const CreditEvent&) {}
  virtual void on_trim(const TrimEvent&) {}
  // Bytes the transport may have in flight.
  virtual Bytes cwnd() const = 0;
  // Pacing rate; zero means "send as fast as the window allows".
  virtual BitsPerSec pacing_rate() const = 0;
};

}  // namespace weft::cc
