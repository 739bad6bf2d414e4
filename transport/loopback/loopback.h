// transport/loopback/loopback.h — an in-process network for tests.
//
// Nodes exchange datagrams through a LoopbackNetwork that can drop (random or
// in bursts), duplicate, reorder within a window, corrupt bits, delay with
// jitter and rate-limit into a bounded queue, all from one seed, so a failing
// schedule replays exactly. With a ManualClock the network and the devices
// on it form a deterministic discrete-event simulation: run_until() jumps
// time to the next delivery or engine deadline.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <deque>
#include <queue>
#include <string>
#include <vector>

#include "common/clock.h"
#include "transport/transport.h"

namespace weft::loopback {

struct FaultParams {
  double drop = 0;            // independent loss probability per datagram
  double burst_enter = 0;     // Gilbert-Elliott: P(good -> bad) per datagram
  double burst_exit = 0.3;    //                  P(bad -> good) per datagram
  double burst_drop = 1.0;    //                  loss probability while bad
  double duplicate = 0;       // probability a datagram is delivered twice
  double reorder = 0;         // probability a datagram is held back ...
  Nanos reorder_window = micros(100);  // ... by up to this much
  double corrupt = 0;         // probability one random bit is flipped
  Nanos delay = micros(5);    // one-way propagation delay
  Nanos jitter{0};            // uniform extra delay in [0, jitter)
  BitsPerSec rate{0};         // link rate per sender; 0 = infinite
  Bytes queue = Bytes(1u << 20);  // bytes that may wait behind the rate limit
  std::vector<double> path_drop;  // extra loss by entropy value (path), if set
};

struct NetworkStats {
  uint64_t sent = 0, delivered = 0, dropped = 0, queue_drops = 0, duplicated = 0, reordered = 0, corrupted = 0;
};

class LoopbackNetwork {
 public:
  // `clock` must outlive the network. A ManualClock makes it deterministic.
  LoopbackNetwork(const Clock& clock, FaultParams faults, uint64_t seed);

  // A new node; its Driver is what Device::open takes.
  std::unique_ptr<Driver> add_node();
  void set_faults(const FaultParams& f);
  NetworkStats stats() const;
  // Earliest pending delivery, Nanos::max() if none.
  Nanos next_delivery() const;
  const Clock& clock() const { return clock_; }

  // Internal to the driver.
  struct Datagram {
    Nanos at;
    uint64_t seq;  // FIFO among equal times, for determinism
    uint32_t from;
    bool ce;
    std::vector<uint8_t> bytes;
    bool operator>(const Datagram& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };
  void send(uint32_t from, const core::TxPacket& p);
  size_t receive(uint32_t node, const RxSink& sink);
  void wait(uint32_t node, Nanos deadline);
  void wake(uint32_t node);

 private:
  double uniform();
  struct Node {
    std::priority_queue<Datagram, std::vector<Datagram>, std::greater<>> inbox;
    Nanos link_busy_until{0};
    bool bad = false;  // Gilbert-Elliott state of this node's outgoing link
    bool woken = false;
  };
  const Clock& clock_;
  FaultParams f_;
  uint64_t rng_;
  uint64_t seq_ = 0;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Node> nodes_;  // a deque: adding a node never moves the others
  std::vector<std::vector<uint8_t>> pool_;  // recycled datagram buffers
  NetworkStats stats_;
};

}  // namespace weft::loopback
