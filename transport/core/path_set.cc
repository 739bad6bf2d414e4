#include "transport/core/path_set.h"

#include <algorithm>

namespace weft::core {

namespace {
constexpr double kEwmaGain = 1.0 / 32;  // ~32 packets of memory per path
}

PathSet::PathSet(Params p) : p_(p), paths_(std::max<uint16_t>(p.paths, 1)) {}

uint16_t PathSet::next(Nanos now) {
  if (left_in_run_ > 0 && usable(now, cur_)) {
    --left_in_run_;
    return cur_;
  }
  const uint16_t n = size();
  for (uint16_t i = 1; i <= n; ++i) {
    uint16_t cand = static_cast<uint16_t>((cur_ + i) % n);
    if (usable(now, cand)) {
      cur_ = cand;
      left_in_run_ = static_cast<uint16_t>(p_.run - 1);
      return cur_;
    }
  }
  // Every path is avoided: spraying over all of them beats stalling.
  cur_ = static_cast<uint16_t>((cur_ + 1) % n);
  left_in_run_ = static_cast<uint16_t>(p_.run - 1);
  return cur_;
}

uint16_t PathSet::alternate(Nanos now, uint16_t avoid) {
  const uint16_t n = size();
  if (n == 1) return 0;
  for (uint16_t i = 1; i < n; ++i) {
    uint16_t cand = static_cast<uint16_t>((avoid + i) % n);
    if (usable(now, cand)) return cand;
  }
  return static_cast<uint16_t>((avoid + 1) % n);
}

void PathSet::on_delivered(Nanos now, uint16_t path, Nanos rtt) {
  if (path >= size()) return;
  PathStats& s = paths_[path];
  s.loss_ewma *= (1 - kEwmaGain);
  if (rtt.count() > 0) {
    s.srtt = s.srtt.count() == 0 ? rtt : Nanos((7 * s.srtt.count() + rtt.count()) / 8);
    if (best_srtt_.count() == 0 || s.srtt < best_srtt_) best_srtt_ = s.srtt;
    // Refresh the best-path reference slowly so it can rise again.
    best_srtt_ = Nanos(best_srtt_.count() + (s.srtt.count() - best_srtt_.count()) / 256);
  }
  evaluate(now, path);
}

void PathSet::on_lost(Nanos now, uint16_t path) {
  if (path >= size()) return;
  PathStats& s = paths_[path];
  s.lost++;
  s.loss_ewma = s.loss_ewma * (1 - kEwmaGain) + kEwmaGain;
  evaluate(now, path);
}

void PathSet::penalize(Nanos now, uint16_t path) {
  if (size() == 1 || path >= size() || !usable(now, path)) return;
  paths_[path].avoid_until = now + p_.cool_down;
  ++avoid_events_;
}

void PathSet::evaluate(Nanos now, uint16_t path) {
  if (size() == 1) return;
  PathStats& s = paths_[path];
  if (!usable(now, path)) return;
  const bool lossy = s.loss_ewma > p_.loss_threshold;
  const bool slow = best_srtt_.count() > 0 && s.srtt.count() > 0 &&
                    s.srtt.count() > p_.delay_factor * best_srtt_.count() + p_.delay_slack.count();
  if (lossy || slow) {
    s.avoid_until = now + p_.cool_down;
    // Half the evidence is forgiven, so one probe run can bring it back.
    s.loss_ewma /= 2;
    s.srtt = Nanos(0);
    ++avoid_events_;
  }
}

uint32_t PathSet::in_use(Nanos now) const {
  uint32_t n = 0;
  for (uint16_t i = 0; i < size(); ++i) n += usable(now, i) ? 1 : 0;
  return n;
}

}  // namespace weft::core
