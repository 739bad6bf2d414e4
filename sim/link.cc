// sim/link.cc — see link.h.
#include "sim/link.h"

#include <algorithm>

namespace weft::sim {

Nanos Link::serialise(uint32_t len) const {
  if (rate_.count() == 0) return Nanos(0);
  // Rounded up: a link never runs faster than its rate.
  const uint64_t bits = uint64_t{len} * 8 * 1'000'000'000ull;
  return Nanos(static_cast<int64_t>((bits + rate_.count() - 1) / rate_.count()));
}

void Link::send(Nanos now, sw::Slot s, uint32_t len) {
  busy_until_ = std::max(busy_until_, now) + serialise(len);
  q_.push_back({busy_until_ + prop_, s});
  ++frames_;
}

uint64_t Link::backlog(Nanos now) const {
  if (busy_until_ <= now || rate_.count() == 0) return 0;
  return static_cast<uint64_t>((busy_until_ - now).count()) * (rate_.count() / 8) / 1'000'000'000ull;
}

Nanos Link::drains_below(Nanos now, uint64_t bytes) const {
  if (backlog(now) < bytes) return now;
  // backlog(t) = (busy_until - t) * Bps: below `bytes` once t > busy_until - bytes/Bps.
  const Nanos span(static_cast<int64_t>(bytes * 1'000'000'000ull / (rate_.count() / 8)));
  return std::max(now + Nanos(1), busy_until_ - span + Nanos(1));
}

sw::Slot Link::pop_arrived(Nanos now) {
  if (q_.empty() || q_.front().arrive > now) return sw::kNoSlot;
  const sw::Slot s = q_.front().slot;
  q_.pop_front();
  return s;
}

std::deque<sw::Slot> Link::drain() {
  std::deque<sw::Slot> out;
  for (const InFlight& f : q_) out.push_back(f.slot);
  q_.clear();
  return out;
}

}  // namespace weft::sim
