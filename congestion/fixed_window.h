// congestion/fixed_window.h — a constant window and constant pacing rate.
//
// Control law: cwnd(t) = window, rate(t) = rate, whatever the network says.
// It is the reference every adaptive algorithm is compared with, and the
// controller the transport uses until the built-in suite exists. A large
// window on a lossy path shows raw recovery behaviour without CC in the way.
#pragma once

#include "congestion/cc.h"

namespace weft::cc {

class FixedWindow final : public CongestionControl {
 public:
  struct Params {
    Bytes window = Bytes(16u << 20);  // bytes in flight; 16 MiB ≈ BDP of 100 Gb/s × 1.3 ms
    BitsPerSec rate = BitsPerSec(0);  // 0: unpaced
  };
  explicit FixedWindow(Params p) : p_(p) {}

  std::string_view name() const override { return "fixed"; }
  void on_ack(const AckSample&) override {}
  void on_loss(const LossEvent&) override {}
  void on_timeout(const TimeoutEvent&) override {}
  Bytes cwnd() const override { return p_.window; }
  BitsPerSec pacing_rate() const override { return p_.rate; }

 private:
  Params p_;
};

}  // namespace weft::cc
