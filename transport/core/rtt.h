// transport/core/rtt.h — RTT estimation and the retransmission timeout
// (RFC 6298: srtt, rttvar, rto = srtt + 4·rttvar, clamped), plus a windowed
// minimum (the propagation-delay estimate CC and RACK need).
#pragma once

#include <algorithm>

#include "weft/units.h"

namespace weft::core {

class RttEstimator {
 public:
  RttEstimator(Nanos initial_rto, Nanos min_rto, Nanos max_rto)
      : rto_(initial_rto), min_rto_(min_rto), max_rto_(max_rto) {}

  void sample(Nanos now, Nanos rtt) {
    if (rtt.count() <= 0) rtt = Nanos(1);
    if (!have_sample_) {
      srtt_ = rtt;
      rttvar_ = rtt / 2;
      have_sample_ = true;
    } else {
      const int64_t err = rtt.count() - srtt_.count();
      rttvar_ = Nanos((3 * rttvar_.count() + (err < 0 ? -err : err)) / 4);  // beta = 1/4
      srtt_ = Nanos((7 * srtt_.count() + rtt.count()) / 8);                // alpha = 1/8
    }
    // The minimum expires after 10 s so a route change can raise it.
    if (min_rtt_.count() == 0 || rtt < min_rtt_ || now - min_rtt_stamp_ > seconds(10)) {
      min_rtt_ = rtt;
      min_rtt_stamp_ = now;
    }
    latest_ = rtt;
    backoff_ = 0;
    rto_ = std::clamp(Nanos(srtt_.count() + 4 * rttvar_.count()), min_rto_, max_rto_);
  }

  // Exponential backoff on a timeout, capped at max_rto.
  void back_off() {
    ++backoff_;
    rto_ = std::min(Nanos(rto_.count() * 2), max_rto_);
  }

  bool has_sample() const { return have_sample_; }
  Nanos srtt() const { return srtt_; }
  Nanos rttvar() const { return rttvar_; }
  Nanos min_rtt() const { return min_rtt_; }
  Nanos latest() const { return latest_; }
  Nanos rto() const { return rto_; }
  uint32_t backoff() const { return backoff_; }

 private:
  Nanos srtt_{0}, rttvar_{0}, min_rtt_{0}, min_rtt_stamp_{0}, latest_{0};
  Nanos rto_, min_rto_, max_rto_;
  uint32_t backoff_ = 0;
  bool have_sample_ = false;
};

}  // namespace weft::core
