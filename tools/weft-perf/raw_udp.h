// The baseline every weft number is divided by: the fastest plain UDP this
// host can move between two processes (sendmmsg + GSO, recvmmsg + GRO), no
// reliability, measured by the same tool in the same run.
#pragma once

#include <cstdint>
#include <string>

#include "weft/status.h"

namespace weft::perf {

struct RawResult {
  double seconds = 0;
  uint64_t bytes_sent = 0, bytes_received = 0;
  double cpu_seconds = 0;  // sender + receiver
};

// Receiver side: binds 127.0.0.1:0 (or `bind`), returns the port, then
// counts bytes until it sees a datagram that starts with the stop byte.
class RawReceiver {
 public:
  static Result<RawReceiver> open(const std::string& bind_ip, uint32_t segment);
  uint16_t port() const { return port_; }
  // Blocks until the sender's stop marker or `timeout_s`; returns bytes seen.
  uint64_t run(double timeout_s);
  void close();

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  uint32_t segment_ = 0;
};

// Sender side: blasts `seconds` worth of `segment`-byte datagrams in GSO
// batches, then sends stop markers. Returns bytes handed to the kernel.
uint64_t raw_send(const std::string& ip, uint16_t port, uint32_t segment, double seconds);

}  // namespace weft::perf
