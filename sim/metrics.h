// sim/metrics.h — the numbers a scenario is judged by: Jain's fairness index,
// percentiles, per-flow goodput over time windows (from periodic samples of
// the receivers' delivered-byte counters), and one run's summary.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "weft/units.h"

namespace weft::sim {

// Jain's index (sum x)^2 / (n sum x^2): 1 when all equal, 1/n when one takes all.
double jain(const std::vector<double>& x);
// Nearest-rank percentile (p in [0,100]) of `x`; 0 for an empty set.
double percentile(std::vector<double> x, double p);

// Delivered bytes of every flow at regular instants.
class GoodputSeries {
 public:
  void add(Nanos at, std::vector<uint64_t> delivered) {
    at_.push_back(at);
    bytes_.push_back(std::move(delivered));
  }
  // Per-flow goodput in bits/s over [from, to], using the samples nearest
  // inside it. Empty when the window holds fewer than two samples.
  std::vector<double> rates(Nanos from, Nanos to) const;
  size_t samples() const { return at_.size(); }
  Nanos at(size_t i) const { return at_[i]; }
  const std::vector<uint64_t>& delivered(size_t i) const { return bytes_[i]; }

 private:
  std::vector<Nanos> at_;
  std::vector<std::vector<uint64_t>> bytes_;
};

// One run, everything the tests assert and the benchmark prints.
struct RunSummary {
  uint64_t messages = 0, completed = 0, corrupt = 0, failed = 0;
  uint64_t bytes = 0;                 // payload bytes of completed messages
  std::vector<double> mct_us;         // message completion times (post -> receiver has it)
  Nanos first_post{0}, last_done{0};
  double goodput_bps = 0;             // bytes * 8 / (last_done - first_post)
  uint64_t max_queue_bytes = 0;       // over every switch port
  uint64_t marked = 0, trimmed = 0, dropped = 0;
  uint64_t rtos = 0, retransmits = 0;
  double fairness = 0;                // Jain over per-flow mean goodput while active
};

}  // namespace weft::sim
