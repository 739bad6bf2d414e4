// transport/fault/fault_driver.h — wraps any Driver and drops a chosen
// fraction of outgoing datagrams (seeded), to inject loss on real sockets
// where the kernel here has no netem. Used by weft-perf --loss and tests.
#pragma once

#include <array>
#include <atomic>
#include <memory>

#include "transport/transport.h"

namespace weft::fault {

class LossyDriver final : public Driver {
 public:
  LossyDriver(std::unique_ptr<Driver> inner, double drop, uint64_t seed)
      : inner_(std::move(inner)), rng_(seed * 0x9E3779B97F4A7C15ull | 1) {
    set_drop(drop);
  }
  // Thread-safe: a benchmark changes it between runs while the device runs.
  void set_drop(double p) { threshold_.store(static_cast<uint64_t>(p * 18446744073709551615.0)); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

  std::string name() const override { return inner_->name() + "+loss"; }
  std::string local_address() const override { return inner_->local_address(); }
  Result<core::NetAddr> resolve(std::string_view p) const override { return inner_->resolve(p); }
  std::string format(const core::NetAddr& a) const override { return inner_->format(a); }
  Nanos now() const override { return inner_->now(); }
  size_t receive(const RxSink& sink) override { return inner_->receive(sink); }
  void wait(Nanos d) override { inner_->wait(d); }
  void wake() override { inner_->wake(); }

  size_t send(std::span<const core::TxPacket> pkts) override {
    const uint64_t t = threshold_.load(std::memory_order_relaxed);
    if (t == 0) return inner_->send(pkts);
    // Survivors are copied into one batch (headers are small; payloads stay
    // pointers) so the inner driver still sees whole GSO runs.
    size_t kept = 0;
    for (const auto& p : pkts) {
      if (next() < t) {
        dropped_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      keep_[kept++] = p;
      if (kept == keep_.size()) {
        inner_->send(std::span<const core::TxPacket>(keep_.data(), kept));
        kept = 0;
      }
    }
    if (kept > 0) inner_->send(std::span<const core::TxPacket>(keep_.data(), kept));
    return pkts.size();
  }

 private:
  uint64_t next() {
    rng_ ^= rng_ >> 12;
    rng_ ^= rng_ << 25;
    rng_ ^= rng_ >> 27;
    return rng_ * 0x2545F4914F6CDD1Dull;
  }

  std::unique_ptr<Driver> inner_;
  std::atomic<uint64_t> threshold_{0};
  std::atomic<uint64_t> dropped_{0};
  uint64_t rng_;
  std::array<core::TxPacket, 64> keep_{};
};

}  // namespace weft::fault
