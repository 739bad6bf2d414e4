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

#include "weft/status.h"
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
  // Added for Swift; zero means "not measured" and the algorithm falls back
  // to its configured default.
  uint8_t hops = 0;                  // forward hop count of the ACKed packet
  Nanos host_delay = Nanos(0);       // receiver-side (endpoint) part of `rtt`
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
  Bytes bytes = Bytes(0);  // size of the packet that timed out; 0: one MSS
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

// What an algorithm needs from the transport beyond ACKs. The transport
// checks these when it creates a connection (see docs/congestion-control.md).
struct Needs {
  bool int_telemetry = false;  // INT hop records in AckSample::int_hops (HPCC)
  bool rtt_samples = false;    // AckSample::rtt on (nearly) every ACK
  bool ecn = false;            // AckSample::ecn_bytes
  bool receiver_credits = false;  // a CreditGranter at the receiver, on_credit at the sender
  bool trims = false;          // on_trim (works without, better with)
};

// Counters an algorithm exposes for stats; monotonic.
struct Counters {
  uint64_t decreases = 0;        // window/rate reductions applied
  uint64_t repath_hints = 0;     // "congestion looks path-local: change entropy"
  uint64_t invalid_outputs = 0;  // plugin outputs clamped (see plugin_loader.h)
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

  virtual Needs needs() const { return {}; }
  bool requires_int() const { return needs().int_telemetry; }
  // Not ok once the algorithm cannot work on this path (HPCC whose ACKs
  // carry no INT); the transport should fail the connection with this text.
  virtual Status health() const { return Status::ok(); }
  virtual Counters counters() const { return {}; }
  // Receiver-driven schemes: the cumulative number of bytes this sender asks
  // the receiver to grant, given how many bytes wait to be sent (new data
  // plus retransmissions). The transport carries it in data packets to the
  // receiver's CreditGranter. Zero for sender-driven algorithms.
  virtual Bytes credit_request(Bytes backlog) const { return Bytes(0); }
};

}  // namespace weft::cc
