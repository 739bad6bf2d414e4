// transport/transport.h — the seam between the protocol engine and the
// world. collectives/ and plugin/ include this and see only weft::Device;
// backends (udp/, loopback/, later dpdk/ and verbs/) implement Driver.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "transport/core/netaddr.h"
#include "weft/status.h"
#include "weft/transport.h"
#include "weft/units.h"

namespace weft {

// Receives one datagram: (time, bytes, source, arrived CE-marked).
using RxSink = std::function<void(Nanos, std::span<const uint8_t>, const core::NetAddr&, bool)>;

// An I/O backend. send() and receive() are called with the device lock held,
// so never concurrently. now(), wait(), wake(), resolve(), format() and
// local_address() are called without it, from any thread, possibly at the
// same time as send()/receive(): they must be thread-safe.
class Driver {
 public:
  virtual ~Driver() = default;
  virtual std::string name() const = 0;  // "udp", "loopback"
  virtual std::string local_address() const = 0;
  virtual Result<core::NetAddr> resolve(std::string_view peer) const = 0;
  virtual std::string format(const core::NetAddr& a) const = 0;
  virtual Nanos now() const = 0;
  // Sends a batch; returns how many were handed to the network. Those not
  // taken (a full socket buffer) count as lost and are recovered by the engine.
  virtual size_t send(std::span<const core::TxPacket> pkts) = 0;
  // Delivers what has arrived (at most one batch) to `sink`; never blocks.
  virtual size_t receive(const RxSink& sink) = 0;
  // Sleeps until input may be ready, `deadline` passes, or wake() is called.
  virtual void wait(Nanos deadline) = 0;
  virtual void wake() = 0;
};

}  // namespace weft
