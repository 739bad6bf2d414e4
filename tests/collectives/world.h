// tests/collectives/world.h — N ranks as threads of this process, each with
// its own Device (loopback network, optionally faulty, or UDP on
// 127.0.0.1), joined by an in-process bootstrap. `World::run(fn)` runs
// fn(rank, comm) on every rank at once and returns when all have returned.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "transport/loopback/loopback.h"
#include "transport/udp/udp_driver.h"
#include "weft/collectives.h"

namespace weft::coll::testing {

inline DeviceParams test_device_params() {
  DeviceParams dp;
  dp.engine.job_token = 0xC011;
  dp.engine.dead_peer_timeout = seconds(3);
  dp.engine.unexpected_budget = Bytes(256u << 20);
  return dp;
}

struct WorldOptions {
  bool udp = false;
  loopback::FaultParams faults{};
  uint64_t seed = 1;
  Nanos timeout = seconds(30);
  ConnParams conn{};
};

class World {
 public:
  World(int n, WorldOptions o = {}) : n_(n), o_(std::move(o)) {
    if (!o_.udp) net_ = std::make_unique<loopback::LoopbackNetwork>(clock_, o_.faults, o_.seed);
    comms_.resize(n);
    auto bs = in_process_bootstraps(n, seconds(30));
    std::vector<Status> st(n);
    std::vector<std::thread> ts;
    for (int r = 0; r < n; ++r)
      ts.emplace_back([&, r] {
        auto c = Communicator::create(config(), *bs[r]);
        if (c) comms_[r] = std::move(*c);
        else st[r] = c.status();
      });
    for (auto& t : ts) t.join();
    for (int r = 0; r < n; ++r) EXPECT_TRUE(st[r].is_ok()) << "rank " << r << ": " << st[r].to_string();
  }

  CommConfig config() {
    CommConfig cfg;
    cfg.timeout = o_.timeout;
    cfg.conn = o_.conn;
    cfg.open_device = [this]() -> Result<std::unique_ptr<Device>> {
      if (o_.udp) {
        udp::UdpParams up;
        up.bind_address = "127.0.0.1";
        up.socket_buffer = 4u << 20;
        return udp::open_device(up, test_device_params());
      }
      return Device::open(net_->add_node(), test_device_params());
    };
    return cfg;
  }

  // Destruction is collective (a final barrier): all ranks at once.
  ~World() {
    std::vector<std::thread> ts;
    for (auto& c : comms_) ts.emplace_back([&c] { c.reset(); });
    for (auto& t : ts) t.join();
  }

  bool ok() const {
    for (auto& c : comms_)
      if (!c) return false;
    return true;
  }
  int size() const { return n_; }
  Communicator& comm(int r) { return *comms_[r]; }
  loopback::LoopbackNetwork* net() { return net_.get(); }

  void run(const std::function<void(int, Communicator&)>& fn) {
    std::vector<std::thread> ts;
    for (int r = 0; r < n_; ++r) ts.emplace_back([&, r] { fn(r, *comms_[r]); });
    for (auto& t : ts) t.join();
  }

 private:
  int n_;
  WorldOptions o_;
  MonotonicClock clock_;  // declared before the network, which refers to it
  std::unique_ptr<loopback::LoopbackNetwork> net_;
  std::vector<std::unique_ptr<Communicator>> comms_;
};

}  // namespace weft::coll::testing
